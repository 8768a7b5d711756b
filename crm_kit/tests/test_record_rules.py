# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"A rep sees their own deals, a manager their team's, an administrator all."
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .tools import CrmTestCase, create_opportunity, setup_crm


class RecordRuleTestCase(CrmTestCase):

    def _visible(self, user, model, company):
        Model = Pool().get(model)
        with Transaction().set_user(user.id), check_access(), \
                Transaction().set_context(company=company.id):
            return set(Model.search([]))

    def _deals(self, crm):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        deals = {
            'rep': create_opportunity(crm, owner=crm.rep),
            'rep2': create_opportunity(crm, owner=crm.rep2),
            'outsider': create_opportunity(crm, owner=crm.outsider),
            'manager': create_opportunity(crm, owner=crm.manager),
            }
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote(list(deals.values()))
        return deals

    @with_transaction()
    def test_opportunities_by_role(self):
        crm = setup_crm()
        deals = self._deals(crm)
        visible = lambda user: self._visible(
            user, 'sale.opportunity', crm.company)
        self.assertEqual(visible(crm.rep), {deals['rep']})
        self.assertEqual(visible(crm.rep2), {deals['rep2']})
        self.assertEqual(
            visible(crm.manager),
            {deals['rep'], deals['rep2'], deals['manager']})
        self.assertEqual(visible(crm.admin), set(deals.values()))

    @with_transaction()
    def test_quotes_by_role(self):
        crm = setup_crm()
        deals = self._deals(crm)
        quote = {k: o.sales[0] for k, o in deals.items()}
        visible = lambda user: self._visible(user, 'sale.sale', crm.company)
        self.assertEqual(visible(crm.rep), {quote['rep']})
        self.assertEqual(
            visible(crm.manager),
            {quote['rep'], quote['rep2'], quote['manager']})
        self.assertEqual(visible(crm.admin), set(quote.values()))

    @with_transaction()
    def test_rep_cannot_edit_another_reps_opportunity(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        other = create_opportunity(crm, owner=crm.rep2)
        with Transaction().set_user(crm.rep.id), check_access(), \
                Transaction().set_context(company=crm.company.id):
            with self.assertRaises(AccessError):
                Opportunity.write(
                    [Opportunity(other.id)], {'description': "Mine now"})
            with self.assertRaises(AccessError):
                Opportunity.read([other.id], ['description'])
            # Giving a deal away to someone else is refused too.
            own = Opportunity.create([{
                        'party': crm.customer.id,
                        'owner': crm.rep.id,
                        }])[0]
            with self.assertRaises(AccessError):
                Opportunity.write([own], {'owner': crm.rep2.id})
        self.assertEqual(Opportunity(other.id).description,
            "CRM para el taller")

    @with_transaction()
    def test_manager_follows_team_changes(self):
        "Who a manager sees follows the team's members at once"
        pool = Pool()
        Team = pool.get('crm.team')
        crm = setup_crm()
        deals = self._deals(crm)
        visible = lambda: self._visible(
            crm.manager, 'sale.opportunity', crm.company)
        self.assertNotIn(deals['outsider'], visible())
        Team.write([crm.team], {'members': [('add', [crm.outsider.id])]})
        self.assertIn(deals['outsider'], visible())

    @with_transaction()
    def test_customers_visible_to_every_crm_user(self):
        pool = Pool()
        Party = pool.get('party.party')
        crm = setup_crm()
        self._deals(crm)
        for user in [crm.rep, crm.rep2, crm.manager, crm.admin]:
            self.assertIn(crm.customer, self._visible(
                    user, 'party.party', crm.company))
        with Transaction().set_user(crm.rep.id), check_access():
            Party.write([crm.customer], {'name': "Talleres Gómez e Hijos"})

    @with_transaction()
    def test_customer_history_respects_rules(self):
        "The customer's history is in time order and shows only what the "
        "user may see"
        pool = Pool()
        History = pool.get('crm.customer.history')
        crm = setup_crm()
        deals = self._deals(crm)

        with Transaction().set_context(company=crm.company.id):
            history = History.search([('party', '=', crm.customer.id)])
        self.assertEqual(
            {h.opportunity for h in history if h.opportunity},
            set(deals.values()))
        self.assertEqual(
            {h.sale for h in history if h.sale},
            {o.sales[0] for o in deals.values()})
        dates = [h.date for h in history]
        self.assertEqual(dates, sorted(dates, reverse=True))
        self.assertEqual(
            {h.kind for h in history}, {'lead', 'quote'})

        with Transaction().set_user(crm.rep.id), check_access(), \
                Transaction().set_context(company=crm.company.id):
            history = History.search([('party', '=', crm.customer.id)])
            self.assertEqual(
                {h.opportunity.id for h in history if h.opportunity},
                {deals['rep'].id})
            self.assertEqual(
                {h.sale.id for h in history if h.sale},
                {deals['rep'].sales[0].id})
