# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"One duplicate policy for every entry point, and merging duplicates."
from crm_kit_lead.identity import company_key, email_key, phone_key, tax_key

from trytond.exceptions import UserError, UserWarning
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import LeadTestCase, configure, create_lead, setup_crm


class NormalisationTestCase(LeadTestCase):

    def test_keys(self):
        "E-mail, phone, tax identifier and company name compare normalised"
        self.assertEqual(email_key(" Ana@Gomez.ES "), 'ana@gomez.es')
        self.assertEqual(phone_key("612 34 56 78", 'ES'), '+34612345678')
        self.assertEqual(phone_key("+34 612-345-678", 'ES'), '+34612345678')
        self.assertEqual(phone_key("0034612345678", 'ES'), '+34612345678')
        self.assertEqual(tax_key("es-b12345674"), 'B12345674')
        self.assertEqual(tax_key("B 1234567-4"), 'B12345674')
        self.assertEqual(
            company_key("Talleres Gómez, S.L."), company_key("TALLERES GOMEZ SL"))
        self.assertNotEqual(
            company_key("Talleres Gómez"), company_key("Talleres López"))


class DuplicatePolicyTestCase(LeadTestCase):

    @with_transaction()
    def test_manual_entry_warns(self):
        """Policy warn: saving a lead with a known e-mail asks first (a
        lead the user may see: see test_security for one they may not)"""
        pool = Pool()
        Warning = pool.get('res.user.warning')
        crm = setup_crm()
        create_lead(crm, lead_company="Talleres Gómez", lead_email='ana@gomez.test')
        with self.assertRaises(UserWarning) as cm:
            create_lead(crm, user=crm.manager, lead_email='ANA@gomez.test ')
        self.assertIn("Talleres Gómez", cm.exception.message)
        self.assertIn("E-mail", cm.exception.message)
        # Answering "yes" saves it.
        with Transaction().set_user(crm.manager.id):
            Warning.create(
                [{'user': crm.manager.id, 'name': cm.exception.name}])
        lead = create_lead(crm, user=crm.manager, lead_email='ANA@gomez.test ')
        self.assertEqual(lead.email_key, 'ana@gomez.test')

    @with_transaction()
    def test_manual_entry_skip_refuses(self):
        "Policy skip: a duplicate entered by hand is refused"
        crm = setup_crm()
        configure(duplicate_action='skip')
        create_lead(crm, lead_phone='612 34 56 78')
        # The error rolls back the request: nothing is stored.
        with self.assertRaises(UserError) as cm:
            create_lead(crm, lead_phone='+34 612345678')
        self.assertIn("Phone", cm.exception.message)

    @with_transaction()
    def test_matched_keys_are_configurable(self):
        "Only the keys the administrator chose count"
        crm = setup_crm()
        configure(duplicate_action='skip', duplicate_email=False,
            duplicate_company_name=True)
        create_lead(crm, lead_company="Gómez S.L.", lead_email='a@x.test')
        create_lead(crm, lead_company="Otra", lead_email='a@x.test')
        with self.assertRaises(UserError):
            create_lead(crm, lead_company="GOMEZ SL")

    @with_transaction()
    def test_closed_deals_are_not_duplicates(self):
        "A lost deal's e-mail does not block a new lead"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        configure(duplicate_action='skip')
        lead = create_lead(crm, lead_email='old@x.test')
        Opportunity.cancel([lead])
        create_lead(crm, lead_email='old@x.test')

    @with_transaction()
    def test_create_anyway(self):
        "Policy create: no check"
        crm = setup_crm()
        configure(duplicate_action='create')
        create_lead(crm, lead_email='a@x.test')
        create_lead(crm, lead_email='a@x.test')

    @with_transaction()
    def test_candidates_shown(self):
        "The form lists the possible duplicates and the matching customer"
        crm = setup_crm()
        configure(duplicate_action='create')
        first = create_lead(crm, lead_email='compras@gomez.test')
        second = create_lead(crm, lead_email='compras@gomez.test')
        self.assertEqual(list(second.duplicate_candidates), [first])
        # The demo customer has this e-mail: the lead is linked to it.
        self.assertEqual(list(second.customer_candidates), [crm.customer])
        self.assertEqual(second.party, crm.customer)

    @with_transaction()
    def test_capture_leads_policy(self):
        "Entry points without a user (web, integrations) get a status"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        with Transaction().set_context(company=crm.company.id):
            (status, lead), = Opportunity.capture_leads(
                [{'lead_email': 'new@x.test', 'lead_name': "Ana"}])
            self.assertEqual(status, 'created')
            (status, other), = Opportunity.capture_leads(
                [{'lead_email': 'new@x.test'}])
            self.assertEqual(status, 'flagged')
            configure(duplicate_action='update')
            (status, updated), = Opportunity.capture_leads(
                [{'lead_email': 'new@x.test', 'lead_city': "Soria"}])
            self.assertEqual(status, 'updated')
            self.assertEqual(updated, lead)
            self.assertEqual(updated.lead_city, "Soria")
            configure(duplicate_action='skip')
            (status, skipped), = Opportunity.capture_leads(
                [{'lead_email': 'new@x.test'}])
            self.assertEqual(status, 'skipped')

    @with_transaction()
    def test_malformed_identity_refused(self):
        "Malformed e-mail, phone and NIF are refused with a clear message"
        crm = setup_crm()
        for values in [{'lead_email': 'ana@'}, {'lead_phone': '12'},
                {'lead_tax_identifier': 'B12345678'}]:
            with self.subTest(values=values):
                with self.assertRaises(UserError) as cm:
                    create_lead(crm, **values)
                self.assertIn(list(values.values())[0], cm.exception.message)


class MergeTestCase(LeadTestCase):

    @with_transaction()
    def test_merge_leads_keeps_both_histories(self):
        "Merging keeps one lead with the data and history of both"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        StageLog = pool.get('crm.stage.log')
        Merge = pool.get('crm.lead.merge', type='wizard')
        crm = setup_crm()
        configure(duplicate_action='create')
        first = create_lead(crm, lead_email='a@x.test', lead_name="Ana")
        second = create_lead(crm, lead_email='a@x.test', lead_city="Soria",
            lines=[('create', [{'product': crm.product.id, 'quantity': 2,
                            'unit': crm.product.sale_uom.id}])])
        logs = StageLog.search([('opportunity', 'in', [first.id, second.id])])

        with Transaction().set_context(
                active_model='sale.opportunity',
                active_ids=[first.id, second.id], active_id=first.id):
            session_id, _, _ = Merge.create()
            merge = Merge(session_id)
            defaults = merge.default_ask(None)
            self.assertEqual(defaults['destination'], first.id)
            merge.ask.destination = first
            merge.ask.leads = [first, second]
            merge.transition_merge()

        first, second = Opportunity.browse([first.id, second.id])
        self.assertEqual(first.lead_city, "Soria")
        self.assertEqual(first.lead_name, "Ana")
        self.assertEqual(len(first.lines), 1)
        self.assertEqual(second.state, 'cancelled')
        self.assertEqual(second.merged_into, first)
        moved = StageLog.browse([l.id for l in logs])
        self.assertEqual([l.opportunity for l in moved], [first] * len(moved))


class LeadNumbersTestCase(LeadTestCase):

    @with_transaction()
    def test_imported_leads_numbered_as_the_sequence_numbers(self):
        "insert_leads's numbers are those get_many would give, in turn"
        from crm_kit_lead.opportunity import sequence_numbers
        pool = Pool()
        Configuration = pool.get('sale.configuration')
        crm = setup_crm()
        sequence = Configuration(1).get_multivalue(
            'sale_opportunity_sequence', company=crm.company.id)
        sequence.prefix = 'L-${date_y}-'
        sequence.save()
        first = list(sequence_numbers(sequence, 3))
        following = list(sequence.get_many(2))
        numbers = first + following
        year = Pool().get('ir.date').today().strftime('%y')
        self.assertTrue(all(n.startswith(f'L-{year}-') for n in numbers))
        values = [int(n.rsplit('-', 1)[1]) for n in numbers]
        self.assertEqual(values, list(range(values[0], values[0] + 5)))
