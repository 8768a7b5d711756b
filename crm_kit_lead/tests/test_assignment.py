# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Assignment rules give every new lead an owner and say why."
import datetime as dt
from unittest.mock import patch
from decimal import Decimal

from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    LeadTestCase, configure, create_lead, create_rule, load_spanish,
    setup_crm)


def channel(code):
    Channel = Pool().get('crm.channel')
    record, = Channel.search([('code', '=', code)])
    return record


class AssignmentTestCase(LeadTestCase):

    @with_transaction()
    def test_round_robin_explained(self):
        "Round robin takes the team's members in turn and says so"
        crm = setup_crm()
        configure(duplicate_action='create')
        rule = create_rule("Madrid web leads", method='round_robin',
            team=crm.team.id, channels=[('add', [channel('web').id])])
        members = sorted(crm.team.members, key=lambda u: (u.name, u.id))
        owners = [create_lead(crm, user=crm.manager,
                channel=channel('web').id).owner for _ in range(3)]
        self.assertEqual(owners, [members[0], members[1], members[0]])
        lead = create_lead(crm, user=crm.manager, channel=channel('web').id)
        self.assertEqual(lead.owner, members[1])
        self.assertEqual(lead.team, crm.team)
        self.assertEqual(lead.assignment_reason,
            f'Assigned to {members[1].name} by rule "Madrid web leads" '
            '— round robin, member 2 of 2.')
        log, = lead.assignment_logs
        self.assertEqual(log.rule, rule)

    @with_transaction()
    def test_round_robin_across_import_batches(self):
        "An import spreads its leads in turn from one batch to the next"
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.assignment.rule')
        crm = setup_crm()
        configure(duplicate_action='create')
        rule = create_rule("Import", method='round_robin', team=crm.team.id)
        members = sorted(crm.team.members, key=lambda u: (u.name, u.id))
        data = "Empresa;Correo electrónico\n" + "".join(
            f"Lote {i};lote{i}@batch.test\n" for i in range(5))
        with Transaction().set_context(company=crm.company.id), \
                patch('crm_kit_lead.lead_import.BATCH', 2):
            lead_import = LeadImport.from_file(data.encode(), 'lotes.csv')
            LeadImport.start([lead_import])
            lead_import.import_rows(0)
        leads = Opportunity.search(
            [('lead_email', 'like', 'lote%')], order=[('id', 'ASC')])
        self.assertEqual([l.owner for l in leads],
            [members[0], members[1]] * 2 + [members[0]])
        self.assertEqual(Rule(rule.id).last_user, members[0])

    @with_transaction()
    def test_reason_in_spanish(self):
        "The reason reads in the reader's language"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        load_spanish('crm_kit_lead')
        create_rule("Todo", method='user', user=crm.rep2.id)
        lead = create_lead(crm)
        with Transaction().set_context(language='es'):
            lead = Opportunity(lead.id)
            self.assertIn("Asignada a", lead.assignment_reason)

    @with_transaction()
    def test_conditions(self):
        "Rules are tried in order; conditions decide which one applies"
        pool = Pool()
        Country = pool.get('country.country')
        Subdivision = pool.get('country.subdivision')
        crm = setup_crm()
        configure(duplicate_action='create')
        spain, = Country.search([('code', '=', 'ES')])
        madrid, = Subdivision.search([('code', '=', 'ES-M')])
        create_rule("Big deals", method='user', user=crm.manager.id,
            amount_min=Decimal('10000'))
        create_rule("Madrid", method='user', user=crm.rep.id,
            subdivisions=[('add', [madrid.id])])
        create_rule("Postal 08", method='user', user=crm.rep2.id,
            postal_codes="08, 17")
        create_rule("Domain", method='user', user=crm.outsider.id,
            domain="[('lead_city', '=', 'Soria')]")
        admin = crm.admin
        self.assertEqual(create_lead(crm, user=admin, amount=Decimal(20000),
                lead_subdivision=madrid.id, lead_country=spain.id).owner,
            crm.manager)
        self.assertEqual(create_lead(crm, user=admin,
                lead_subdivision=madrid.id, lead_country=spain.id).owner,
            crm.rep)
        self.assertEqual(create_lead(crm, user=admin,
                lead_postal_code='17001').owner, crm.rep2)
        self.assertEqual(create_lead(crm, user=admin,
                lead_city='Soria').owner, crm.outsider)
        lead = create_lead(crm, user=admin, lead_city='Teruel')
        self.assertEqual(lead.owner, admin)
        self.assertEqual(lead.assignment_reason,
            "No assignment rule could take the lead: the owner was kept.")

    @with_transaction()
    def test_product_category_condition(self):
        "A rule on a product category matches the lead's product lines"
        crm = setup_crm()
        category = crm.product.template.categories_all
        create_rule("Services", method='user', user=crm.rep2.id,
            categories=[('add', [c.id for c in category] or [])])
        create_rule("Products", method='user', user=crm.manager.id,
            products=[('add', [crm.product.id])])
        lead = create_lead(crm, lines=[('create', [{
                            'product': crm.product.id, 'quantity': 1,
                            'unit': crm.product.sale_uom.id}])])
        expected = crm.rep2 if category else crm.manager
        self.assertEqual(lead.owner, expected)

    @with_transaction()
    def test_least_loaded_cap_and_absence(self):
        "Least loaded honours the cap, absences and inactive users"
        pool = Pool()
        User = pool.get('res.user')
        Date = pool.get('ir.date')
        crm = setup_crm()
        configure(duplicate_action='create')
        create_rule("Team", method='least_loaded', team=crm.team.id)
        fallback = create_rule("Fallback", method='user',
            user=crm.manager.id, fallback=True)
        create_lead(crm, user=crm.admin)
        create_lead(crm, user=crm.admin)
        owners = {l.owner for l in pool.get('sale.opportunity').search([])}
        self.assertEqual(owners, {crm.rep, crm.rep2})

        # The company's today, as the assignment reads it: near midnight
        # the server's (UTC) date is another day than Madrid's.
        with Transaction().set_context(company=crm.company.id):
            today = Date.today()
        User.write([crm.rep], {'crm_away_until': today})
        User.write([crm.rep2], {'crm_lead_limit': 1})
        lead = create_lead(crm, user=crm.admin)
        self.assertEqual(lead.owner, crm.manager)
        self.assertEqual(lead.assignment_logs[0].rule, fallback)
        self.assertIn("(fallback)", lead.assignment_reason)

        User.write([crm.rep], {
                'crm_away_until': today - dt.timedelta(days=1)})
        self.assertEqual(create_lead(crm, user=crm.admin).owner, crm.rep)
        User.write([crm.rep], {'active': False})
        self.assertEqual(create_lead(crm, user=crm.admin).owner, crm.manager)

    @with_transaction()
    def test_manual_reassignment_logged(self):
        "Changing the owner by hand is recorded with who did it"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        lead = create_lead(crm)
        with Transaction().set_user(crm.manager.id):
            Opportunity.write([Opportunity(lead.id)], {'owner': crm.rep2.id})
        lead = Opportunity(lead.id)
        self.assertEqual(lead.assignment_reason,
            f"Reassigned from {crm.rep.name} to {crm.rep2.name} "
            f"by {crm.manager.name}.")

    @with_transaction()
    def test_assign_on_demand(self):
        "Selected leads are assigned again by the rules"
        pool = Pool()
        Assign = pool.get('crm.assignment.assign', type='wizard')
        crm = setup_crm()
        lead = create_lead(crm)
        self.assertEqual(lead.owner, crm.rep)
        create_rule("All to rep2", method='user', user=crm.rep2.id)
        with Transaction().set_context(active_model='sale.opportunity',
                active_ids=[lead.id], active_id=lead.id):
            session_id, _, _ = Assign.create()
            Assign.execute(session_id, {}, 'assign')
        lead = pool.get('sale.opportunity')(lead.id)
        self.assertEqual(lead.owner, crm.rep2)

    @with_transaction()
    def test_rep_keeps_seeing_created_lead(self):
        "A rep still sees a lead they entered that a rule gave away"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        create_rule("All to rep2", method='user', user=crm.rep2.id)
        lead = create_lead(crm)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(_check_access=True):
            self.assertEqual(Opportunity.search([('id', '=', lead.id)]),
                [lead])

    @with_transaction()
    def test_invalid_domain(self):
        "A domain that is not one gets a clear error"
        crm = setup_crm()
        with self.assertRaises(ValidationError) as cm:
            create_rule("Bad", method='user', user=crm.rep.id,
                domain="[('no_such_field', '=', 1)]")
        self.assertIn("Bad", cm.exception.message)
