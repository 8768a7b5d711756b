# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Lead imports are seen as their leads are, and the duplicate check tells
nothing of leads of other companies or of leads the user may not see."""
from trytond.exceptions import UserWarning
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .tools import LeadTestCase, create_lead, setup_crm


class LeadSecurityTestCase(LeadTestCase):

    def as_user(self, user, crm):
        return Transaction().set_user(user.id), check_access(), \
            Transaction().set_context(company=crm.company.id)

    @with_transaction()
    def test_imports_seen_as_their_leads(self):
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        Problem = pool.get('crm.lead.import.problem')
        crm = setup_crm()
        imports = {}
        for user in [crm.rep, crm.rep2, crm.outsider]:
            user_, access, context = self.as_user(user, crm)
            with user_, access, context:
                lead_import, = LeadImport.create([{
                            'filename': f'{user.login}.csv',
                            'file': b'Empresa;Correo\nX;x@x.test\n',
                            'problems': [('create', [{
                                            'row': 2, 'kind': 'rejected',
                                            'reason': "Sin correo"}])],
                            }])
                imports[user.login] = lead_import.id

        def visible(user, Model=LeadImport):
            user_, access, context = self.as_user(user, crm)
            with user_, access, context:
                return {getattr(r, 'lead_import', r).id
                    for r in Model.search([])}
        self.assertEqual(visible(crm.rep), {imports['rep']})
        self.assertEqual(visible(crm.rep, Problem), {imports['rep']})
        self.assertEqual(
            visible(crm.manager), {imports['rep'], imports['rep2']})
        self.assertEqual(visible(crm.admin), set(imports.values()))

        user_, access, context = self.as_user(crm.rep2, crm)
        with user_, access, context:
            for action in [
                    lambda: LeadImport.read([imports['rep']], ['file']),
                    lambda: LeadImport.delete([LeadImport(imports['rep'])]),
                    lambda: Problem.read([p.id for p in Problem.search(
                                [('lead_import', '=', imports['rep'])])
                            ] or [0], ['reason']),
                    ]:
                with self.assertRaises(AccessError):
                    action()

    @with_transaction()
    def test_duplicate_of_a_hidden_lead_says_nothing_of_it(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        hidden = create_lead(crm, lead_company="Ferretería Oculta",
            lead_name="Marta Secreta", lead_email='marta@oculta.test')
        user_, access, context = self.as_user(crm.rep2, crm)
        with user_, access, context:
            with self.assertRaises(UserWarning) as cm:
                Opportunity.create([{'lead_email': 'MARTA@oculta.test'}])
            # Saved anyway, its possible duplicates show nothing hidden.
            with Transaction().set_context(crm_duplicate_confirmed=True):
                lead, = Opportunity.create(
                    [{'lead_email': 'MARTA@oculta.test'}])
            self.assertNotIn(hidden.id,
                Opportunity.read([lead.id], ['duplicate_candidates'])[0][
                    'duplicate_candidates'])
        message = cm.exception.message
        self.assertIn("cannot see", message)
        self.assertIn("ask your manager", message)
        self.assertNotIn("Oculta", message)
        self.assertNotIn("Marta", message)
        self.assertNotIn(crm.rep.rec_name, message)

    @with_transaction()
    def test_duplicates_only_within_the_company(self):
        pool = Pool()
        Company = pool.get('company.company')
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        other = Company(party=Party(name="Otra Empresa S.A."),
            currency=crm.company.currency)
        other.party.save()
        other.save()
        with Transaction().set_context(company=other.id):
            Opportunity.create([{
                        'lead_company': "Cliente de la otra",
                        'lead_email': 'pedro@otra.test'}])
        user_, access, context = self.as_user(crm.rep, crm)
        with user_, access, context:
            # No warning: the other company's lead is not a duplicate.
            lead, = Opportunity.create([{'lead_email': 'pedro@otra.test'}])
            self.assertEqual(lead.duplicate_candidates, ())

    @with_transaction()
    def test_imported_lead_given_to_another_rep(self):
        """The rep a rule gives an imported lead opens it without seeing
        the import; only the rep who imported it reverts it"""
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        user_, access, context = self.as_user(crm.rep, crm)
        with user_, access, context:
            lead_import, = LeadImport.create([{
                        'filename': 'ferias.csv',
                        'file': b'Empresa;Correo\nX;x@x.test\n',
                        'state': 'done',
                        }])
        lead = create_lead(crm, user=crm.rep, lead_company="Importada S.L.",
            owner=crm.rep2.id, lead_import=lead_import.id)
        lead_id, import_id = lead.id, lead_import.id

        user_, access, context = self.as_user(crm.rep2, crm)
        with user_, access, context:
            # Read as sao reads the form (the import is not on it).
            view = Opportunity.fields_view_get(view_type='form')
            self.assertNotIn('lead_import', view['fields'])
            values, = Opportunity.read([lead_id], list(view['fields']))
            self.assertEqual(values['lead_company'], "Importada S.L.")
            # The import itself is the importer's: its name is refused…
            with self.assertRaises(AccessError):
                Opportunity.read([lead_id], ['lead_import.rec_name'])
            # … and a search by it tells nothing.
            try:
                found = Opportunity.search(
                    [('lead_import.filename', '=', 'ferias.csv')])
            except AccessError:
                found = []
            self.assertEqual(found, [])
            with self.assertRaises(AccessError):
                LeadImport.revert([LeadImport(import_id)])

        user_, access, context = self.as_user(crm.rep, crm)
        with user_, access, context:
            LeadImport.revert([LeadImport(import_id)])
            self.assertEqual(LeadImport(import_id).state, 'reverted')
            self.assertIn("1 leads deleted", LeadImport(import_id).revert_note)
        self.assertEqual(Opportunity.search([('id', '=', lead_id)]), [])
