# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Activities through the REST API: the same rules and the same lifecycle."
import datetime as dt

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.tests.tools import api_key

from .tools import (
    CrmRouteTestCase, activity_type, create_activity, setup_crm)


class ActivityRestTestCase(CrmRouteTestCase):
    module = 'crm_kit_activity'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        crm = setup_crm()
        cls.company = crm.company.id
        cls.customer = crm.customer.id
        cls.call = activity_type('activity_type_call').id
        cls.own = create_activity(crm, owner=crm.rep).id
        cls.other = create_activity(crm, owner=crm.rep2).id
        cls.keys = {}
        for user in [crm.rep, crm.manager, crm.admin]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    def request(self, method, path, login='rep', **kwargs):
        return self.rest(
            method, path, self.keys[login], self.company, **kwargs)

    def test_rep_lists_only_own(self):
        response = self.request('get', 'crm.activity')
        self.assertEqual(response.status_code, 200, response.text)
        ids = {r['id'] for r in response.json}
        self.assertIn(self.own, ids)
        self.assertNotIn(self.other, ids)
        response = self.request('get', 'crm.activity', login='manager')
        self.assertLessEqual(
            {self.own, self.other}, {r['id'] for r in response.json})
        response = self.request('get', f'crm.activity/{self.other}')
        self.assertIn(response.status_code, {403, 404})

    def test_create_and_mark_done(self):
        due = (dt.datetime.now() + dt.timedelta(days=2)).replace(
            microsecond=0)
        response = self.request('post', 'crm.activity', json={
                'type': self.call,
                'subject': "Llamada de seguimiento",
                'party': self.customer,
                'company': self.company,
                'due': {'__class__': 'datetime', 'year': due.year,
                    'month': due.month, 'day': due.day, 'hour': due.hour,
                    'minute': due.minute, 'second': 0, 'microsecond': 0},
                })
        self.assertEqual(response.status_code, 200, response.text)
        activity_id = response.json['id']

        # Done without an outcome: a clear 400, the activity stays planned.
        response = self.request('post', f'crm.activity/{activity_id}/done')
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("enter its outcome", response.text)

        response = self.request('put', f'crm.activity/{activity_id}',
            json={'outcome': "Firmará la semana que viene"})
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request('post', f'crm.activity/{activity_id}/done')
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request('get', f'crm.activity/{activity_id}',
            query_string={'f': ['state', 'owner', 'outcome']})
        self.assertEqual(response.json['state'], 'done')
        with Transaction().start(DB_NAME, 0):
            User = Pool().get('res.user')
            rep, = User.search([('login', '=', 'rep')])
            self.assertEqual(response.json['owner'], rep.id)

    def test_missing_link_is_a_clear_error(self):
        response = self.request('post', 'crm.activity', json={
                'type': self.call,
                'subject': "Sin cliente",
                'company': self.company,
                'due': {'__class__': 'datetime', 'year': 2026, 'month': 12,
                    'day': 1, 'hour': 9, 'minute': 0, 'second': 0,
                    'microsecond': 0},
                })
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("needs a customer or an opportunity", response.text)

    def test_rule_plans_a_call_for_a_lead_from_the_api(self):
        "A rule acts on what the API creates; the rep sees its result"
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Rule = pool.get('crm.automation.rule')
            ModelData = pool.get('ir.model.data')
            rule = Rule(ModelData.get_id(
                    'crm_kit_activity', 'rule_new_lead_call'))
            Rule.write([rule], {'active': True})
            transaction.commit()
        try:
            response = self.request('post', 'sale.opportunity', json={
                    'description': "Lead desde la API",
                    'party': self.customer,
                    })
            self.assertEqual(response.status_code, 200, response.text)
            lead = response.json['id']
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                Rule = Pool().get('crm.automation.rule')
                Rule.write([Rule(rule.id)], {'active': False})
                transaction.commit()
        response = self.request('get', 'crm.activity',
            query_string={'f': ['opportunity', 'subject', 'state']})
        self.assertEqual(response.status_code, 200, response.text)
        call, = [a for a in response.json if a['opportunity'] == lead]
        self.assertTrue(call['subject'].startswith("Call the new lead"))
        self.assertEqual(call['state'], 'planned')

    def test_rules_are_for_administrators(self):
        response = self.request('get', 'crm.automation.rule')
        self.assertEqual(response.status_code, 403, response.text)
        self.assertIn('not allowed to access "Automation Rule"',
            response.json['message'])
        response = self.request('get', 'crm.automation.rule', login='admin')
        self.assertEqual(response.status_code, 200, response.text)

        # A bad rule through the API: a clear 400, nothing stored.
        response = self.request('post', 'crm.automation.rule', login='admin',
            json={
                'name': "Regla por API",
                'model': 'sale.opportunity',
                'trigger': 'created',
                'condition': '[["importe", ">", 10]]',
                })
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn('there is no field "importe"', response.json['message'])
        response = self.request('post', 'crm.automation.rule', login='admin',
            json={
                'name': "Regla por API",
                'model': 'sale.opportunity',
                'trigger': 'created',
                'active': False,
                'condition': '[["amount", ">", 10]]',
                })
        self.assertEqual(response.status_code, 200, response.text)

    def test_no_activity_on_another_reps_deal(self):
        "An activity is linked to a deal only by someone who may read it"
        with Transaction().start(DB_NAME, 0):
            from crm_kit.tests.tools import create_opportunity
            crm = setup_crm()
            hidden = create_opportunity(crm, owner=crm.rep2).id
            own = create_opportunity(crm, owner=crm.rep).id
            Transaction().commit()
        for opportunity, status in [(hidden, 403), (own, 200)]:
            with self.subTest(opportunity=opportunity):
                response = self.request('post', 'crm.activity', json={
                        'type': self.call, 'subject': "Llamada",
                        'party': self.customer, 'company': self.company,
                        'opportunity': opportunity})
                self.assertEqual(response.status_code, status, response.text)
        self.assertIn("may not see", self.request(
                'post', 'crm.activity', json={
                    'type': self.call, 'subject': "Llamada",
                    'party': self.customer, 'company': self.company,
                    'opportunity': hidden}).text)
        # Nor moved onto it.
        response = self.request('put', f'crm.activity/{self.own}',
            json={'opportunity': hidden})
        self.assertEqual(response.status_code, 403, response.text)
