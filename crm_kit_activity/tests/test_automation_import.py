# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Imported leads, which the lead import stores without create, start the
automation rules and count their inactivity as leads entered by hand."""
import datetime as dt

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_automation import shipped_rule
from .tools import CrmTestCase, setup_crm


class AutomationImportTestCase(CrmTestCase):
    "crm_kit_activity with crm_kit_lead: the file import"
    modules = ['crm_kit_activity', 'crm_kit_lead']

    @with_transaction()
    def test_imported_leads_get_their_call(self):
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        rule = shipped_rule('rule_new_lead_call')
        data = "Empresa;Correo electrónico\n" + "".join(
            f"Importada {i};imp{i}@import.test\n" for i in range(3))
        before = dt.datetime.now() - dt.timedelta(seconds=1)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            lead_import = LeadImport.from_file(data.encode(), 'leads.csv')
            LeadImport.start([lead_import])
            lead_import.import_rows(0)
        leads = Opportunity.search(
            [('lead_email', 'like', 'imp%@import.test')],
            order=[('id', 'ASC')])
        self.assertEqual(len(leads), 3)
        self.assertTrue(all(l.last_activity >= before for l in leads))
        calls = Activity.search([('opportunity', 'in', [l.id for l in leads])])
        self.assertEqual(
            sorted((c.opportunity.id, c.owner) for c in calls),
            [(l.id, crm.rep) for l in leads])
        self.assertTrue(all(c.subject.startswith("Call the new lead")
                for c in calls))
        Log = pool.get('crm.automation.log')
        self.assertEqual(
            len(Log.search([('rule', '=', rule.id), ('state', '=', 'done')])),
            3)

    def setup_everything_to_rep2(self):
        "The shipped new-lead call, and a rule giving every lead to rep2"
        AssignmentRule = Pool().get('crm.assignment.rule')
        crm = setup_crm()
        shipped_rule('rule_new_lead_call')
        AssignmentRule.create([{
                    'name': "Todo", 'method': 'user', 'user': crm.rep2.id}])
        return crm

    @with_transaction()
    def test_new_lead_call_goes_to_the_owner_assigned(self):
        """The "new lead" call goes to the owner the assignment rule chose,
        not to who entered the lead"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        crm = self.setup_everything_to_rep2()
        with Transaction().set_user(crm.manager.id), \
                Transaction().set_context(company=crm.company.id):
            lead, = Opportunity.create([{'description': "Sin dueño"}])
        lead = Opportunity(lead.id)
        self.assertEqual(lead.owner, crm.rep2)
        call, = Activity.search([('opportunity', '=', lead.id)])
        self.assertEqual(call.owner, crm.rep2)

    @with_transaction()
    def test_captured_lead_call_goes_to_the_owner_assigned(self):
        """A lead from a web form or an integration (the intake road) is
        created with the owner the rule chose: the call is theirs"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        crm = self.setup_everything_to_rep2()
        with Transaction().set_user(crm.manager.id), \
                Transaction().set_context(company=crm.company.id):
            (status, lead), = Opportunity.capture_leads([{
                        'lead_name': "Web", 'lead_email': 'web@form.test'}])
        self.assertEqual(status, 'created')
        lead = Opportunity(lead.id)
        self.assertEqual(lead.owner, crm.rep2)
        self.assertIn('"Todo"', lead.assignment_reason)
        call, = Activity.search([('opportunity', '=', lead.id)])
        self.assertEqual(call.owner, crm.rep2)
