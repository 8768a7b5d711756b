# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A rule does not alert on won, lost or cancelled deals, nor on the
activities and quotes of those deals, unless it says so (Include Closed
Deals); only the CRM administrators say so."""
import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from crm_kit_activity.tests.tools import create_activity

from .test_alert import alerts, only_rules, rule, set_columns
from .tools import AlertTestCase, create_opportunity, setup_crm


def make_rule(**values):
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    values.setdefault('name', "Regla")
    values.setdefault('message', "{rec_name}")
    rule, = Rule.create([values])
    return rule


class ClosedDealTestCase(AlertTestCase):

    @with_transaction()
    def test_closed_deals_are_left_out(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules()
        big = make_rule(condition='[["amount", ">=", 5000]]')
        self.assertFalse(big.include_closed)
        open_, won, lost, cancelled = [
            create_opportunity(crm, amount=Decimal('8000'))
            for _ in range(4)]
        for opportunity, state in [
                (won, 'won'), (lost, 'lost'), (cancelled, 'cancelled')]:
            Opportunity.write([opportunity], {'state': state})

        Rule.check_alerts()
        self.assertEqual(len(alerts(open_)), 1)
        self.assertEqual(alerts(won) + alerts(lost) + alerts(cancelled), [])

        # Said so: the closed ones too.
        Rule.write([big], {'include_closed': True})
        Rule.check_alerts()
        for opportunity in [open_, won, lost, cancelled]:
            self.assertEqual(len(alerts(opportunity)), 1)

    @with_transaction()
    def test_overdue_activities_of_a_closed_deal(self):
        "A customer's overdue call of a deal lost is no alert"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules()
        overdue = make_rule(model='party.party', kind='overdue_activity')
        opportunity = create_opportunity(crm)
        create_activity(crm, opportunity=opportunity.id,
            due=dt.datetime.now() - dt.timedelta(hours=2))
        self.assertEqual(len(alerts(crm.customer)), 1)

        # The deal is lost: its call no longer alerts, at once.
        Opportunity.write([opportunity], {'state': 'lost'})
        self.assertEqual(alerts(crm.customer), [])
        Rule.check_alerts()
        self.assertEqual(alerts(crm.customer), [])

        # A call of the customer's own still does.
        call = create_activity(crm,
            due=dt.datetime.now() - dt.timedelta(hours=1))
        self.assertEqual(len(alerts(crm.customer)), 1)
        call.delete([call])
        self.assertEqual(alerts(crm.customer), [])

        Rule.write([overdue], {'include_closed': True})
        Rule.check_alerts()
        self.assertEqual(len(alerts(crm.customer)), 1)

    @with_transaction()
    def test_quote_of_a_closed_deal(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        only_rules('rule_quote_expiring')
        opportunity = create_opportunity(crm)
        with Transaction().set_context(company=crm.company.id):
            quote, loose = Sale.create([
                    {'party': crm.customer.id, 'owner': crm.rep.id},
                    {'party': crm.customer.id, 'owner': crm.rep.id},
                    ])
        set_columns(Sale, [quote.id, loose.id], state='quotation',
            quote_valid_until=dt.date.today() + dt.timedelta(days=1))
        set_columns(Sale, [quote.id], origin=str(opportunity))

        Rule.check_alerts()
        self.assertEqual(len(alerts(quote)), 1)
        self.assertEqual(len(alerts(loose)), 1)

        # The deal is lost: its quote is not followed up, at once.
        Opportunity.write([opportunity], {'state': 'lost'})
        self.assertEqual(alerts(quote), [])
        self.assertEqual(len(alerts(loose)), 1)

        Rule.write([rule('rule_quote_expiring')], {'include_closed': True})
        Rule.check_alerts()
        self.assertEqual(len(alerts(quote)), 1)

    @with_transaction()
    def test_only_administrators_include_closed_deals(self):
        "The option follows the rule's access: admins change, reps read"
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        shipped = rule('rule_stuck_in_stage')
        for user in [crm.rep, crm.manager]:
            with Transaction().set_user(user.id), check_access():
                self.assertFalse(Rule(shipped.id).include_closed)
                with self.assertRaises(AccessError):
                    Rule.write([Rule(shipped.id)], {'include_closed': True})
        with Transaction().set_user(crm.admin.id), check_access():
            Rule.write([Rule(shipped.id)], {'include_closed': True})
        self.assertTrue(Rule(shipped.id).include_closed)
