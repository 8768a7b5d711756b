# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""No search, count, order or export tells a user about records the rules
hide from them, and nobody links a record to one they may not see: the
rep against another rep's deal, through JSON-RPC, REST and the data
export (crm_kit.access)."""
from decimal import Decimal

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import (
    CrmRouteTestCase, api_key, b64, create_opportunity, setup_crm)

HIDDEN = "Renovación flota (confidencial)"


class SecurityTestCase(CrmRouteTestCase):
    module = 'crm_kit'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        User = pool.get('res.user')
        crm = setup_crm()
        cls.own = create_opportunity(crm, owner=crm.rep).id
        cls.hidden = create_opportunity(
            crm, owner=crm.rep2, lines=False, description=HIDDEN,
            amount=Decimal('48250')).id
        cls.party = crm.customer.id
        cls.company = crm.company.id
        cls.users = {u.login: u.id for u in [crm.rep, crm.rep2, crm.admin]}
        User.write([crm.rep, crm.admin], {'password': cls.password})
        cls.keys = {}
        for user in [crm.rep, crm.admin]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    def call(self, login, method, *params):
        "JSON-RPC as sao calls, in the CRM's company"
        return self.rpc(login, method, *params, company=self.company)

    def count(self, login, domain):
        return self.call(login, 'model.party.party.search_count', domain)

    def rest_search(self, login, model, domain, order=None):
        query = {'d': b64(domain)}
        if order is not None:
            query['o'] = b64(order)
        return self.rest(
            'get', model, self.keys[login], self.company,
            query_string=query)

    # Searching through a relation to records the rules hide.
    def test_customer_history_hides_other_reps_deals(self):
        by_description = [('id', '=', self.party),
            ('crm_history.opportunity.description', '=', HIDDEN)]
        # The administrator sees the deal: the domain does match it.
        response = self.rest_search('admin', 'party.party', by_description)
        self.assertEqual([r['id'] for r in response.json], [self.party])

        response = self.rest_search('rep', 'party.party', by_description)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json, [])
        self.assertEqual(self.count('rep', by_description), 0)
        self.assertEqual(self.count('admin', by_description), 1)
        # The deal's amount cannot be found by bisection either.
        for operator, amount in [('>=', 48000), ('<', 49000), ('=', 48250)]:
            domain = [('id', '=', self.party),
                ('crm_history.opportunity.amount', operator, amount)]
            with self.subTest(operator=operator):
                self.assertEqual(self.count('rep', domain), 0)
                self.assertEqual(self.count('admin', domain), 1)
        # Nor through an explicit where clause, nor by the deal's name.
        for domain in [
                [('id', '=', self.party), ('crm_history', 'where', [
                            ('opportunity.description', '=', HIDDEN)])],
                [('id', '=', self.party),
                    ('crm_history.opportunity', '=', self.hidden)],
                ]:
            with self.subTest(domain=domain):
                self.assertEqual(self.count('rep', domain), 0)
                self.assertEqual(self.count('admin', domain), 1)

    def test_own_deals_still_found_through_relations(self):
        domain = [('id', '=', self.party),
            ('crm_history.opportunity', '=', self.own)]
        self.assertEqual(self.count('rep', domain), 1)
        domain = [('party.crm_history.opportunity.description', '=',
                "CRM para el taller")]
        self.assertEqual(self.call('rep', 'model.sale.opportunity.search',
                domain, 0, None, None), [self.own])

    def test_ordering_through_hidden_records_is_refused(self):
        order = [('opportunity.amount', 'DESC')]
        response = self.rest_search(
            'rep', 'crm.customer.history', [], order=order)
        self.assertIn(response.status_code, {400, 403}, response.text)
        self.assertIn("records you may not see", response.text)
        result = self.call('rep', 'model.crm.customer.history.search',
            [], 0, None, order)
        self.assertEqual(result[0], 'error')
        self.assertIn("records you may not see", result[1])
        # Ordering through records without rules is left as it is.
        response = self.rest_search(
            'rep', 'crm.customer.history', [],
            order=[('stage.sequence', 'ASC')])
        self.assertEqual(response.status_code, 200, response.text)

    def test_password_hash_is_never_searched(self):
        domain = [('password_hash', 'like', '$argon2%')]
        response = self.rest_search('rep', 'res.user', domain)
        self.assertIn(response.status_code, {400, 403}, response.text)
        result = self.call('rep', 'model.res.user.search_count', domain)
        self.assertEqual(result[0], 'error')
        # Not even by the administrator, nor hidden in a where clause.
        result = self.call('admin', 'model.res.user.search_count', domain)
        self.assertEqual(result[0], 'error')
        result = self.call('rep', 'model.company.employee.search_count', [
                ('user', 'where', domain)])
        self.assertEqual(result[0], 'error')
        response = self.export('rep', 'res.user', domain, ['login'])
        self.assertNotEqual(response.status_code, 200)
        self.assertNotIn('admin', response.text)
        result = self.call('admin', 'model.res.user.read',
            [self.users['rep']], ['password_hash'])
        self.assertEqual(result[0], 'error')

    def test_crm_role_changed_by_administrators_only(self):
        "Anyone reads a user's CRM role; an administrator alone sets it"
        rep2 = self.users['rep2']
        result = self.call('rep', 'model.res.user.read',
            [rep2, self.users['admin']], ['crm_role'])
        self.assertEqual([r['crm_role'] for r in result], ['rep', 'admin'])
        for values in [{'crm_role': 'admin'}, {'groups': [('add', [1])]}]:
            result = self.call('rep', 'model.res.user.write', [rep2], values)
            self.assertEqual(result[0], 'error')
            result = self.call('rep', 'model.res.user.write',
                [self.users['rep']], values)
            self.assertEqual(result[0], 'error')
        response = self.rest('put', f'res.user/{self.users["rep"]}',
            self.keys['rep'], self.company, json={'crm_role': 'admin'})
        self.assertIn(response.status_code, {403, 404}, response.text)
        self.call('rep', 'model.res.user.set_preferences',
            {'crm_role': 'admin'})
        result = self.call('rep', 'model.res.user.read',
            [self.users['rep']], ['crm_role'])
        self.assertEqual(result[0]['crm_role'], 'rep')

        self.call('admin', 'model.res.user.write', [rep2],
            {'crm_role': 'manager'})
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            User = pool.get('res.user')
            ModelData = pool.get('ir.model.data')
            groups = {g.id for g in User(rep2).groups}
            self.assertIn(
                ModelData.get_id('crm_kit', 'group_crm_manager'), groups)
            self.assertNotIn(
                ModelData.get_id('crm_kit', 'group_crm_rep'), groups)
            self.assertEqual(User(rep2).crm_role, 'manager')
            User.write([User(rep2)], {'crm_role': 'rep'})

    def test_setup_assistant_for_administrators_only(self):
        "The assistant changes the company and users: a rep may not run it"
        result = self.call('rep', 'wizard.crm.setup.create')
        self.assertEqual(result[0], 'error')
        self.assertIn("crm.setup", str(result))
        result = self.call('admin', 'wizard.crm.setup.create')
        self.assertNotEqual(result[0], 'error')
        # It is no record: REST has no route to it.
        for login in ['rep', 'admin']:
            response = self.rest('post', 'crm.setup.company',
                self.keys[login], self.company, json={'name': "Mine"})
            self.assertIn(response.status_code, {400, 403, 404},
                response.text)

    def test_export_hides_other_reps_deals(self):
        domain = [('crm_history.opportunity.description', '=', HIDDEN)]
        response = self.export('rep', 'party.party', domain, ['name'])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertNotIn("Talleres", response.text)
        # A download a browser opens runs nothing (crmkit.wsgi).
        self.assertTrue(response.headers['Content-Disposition'].startswith(
                'attachment'))
        self.assertEqual(response.headers['X-Content-Type-Options'],
            'nosniff')
        self.assertEqual(response.headers['Content-Security-Policy'],
            "default-src 'none'; sandbox")
        response = self.export('admin', 'party.party', domain, ['name'])
        self.assertIn("Talleres", response.text)

    # Linking to records one cannot read.
    def test_no_link_to_another_reps_deal(self):
        with Transaction().start(DB_NAME, 0):
            product = setup_crm().product
            product, unit = product.id, product.sale_uom.id
        line = {'opportunity': self.hidden, 'product': product,
            'quantity': 1, 'unit': unit}
        response = self.rest('post', 'sale.opportunity.line',
            self.keys['rep'], self.company, json=line)
        self.assertIn(response.status_code, {400, 403, 404}, response.text)
        result = self.call(
            'rep', 'model.sale.opportunity.line.create', [line])
        self.assertEqual(result[0], 'error')
        self.assertIn("may not see", result[1])
        # Their own deal takes the line.
        line['opportunity'] = self.own
        result = self.call(
            'rep', 'model.sale.opportunity.line.create', [line])
        self.assertIsInstance(result[0], int, result)

    # The bus: a user hears their own notifications only.
    def test_bus_carries_own_notifications_only(self):
        """A rep asking sao's bus for the administrator's notifications
        ("notification:<id>", which trytond let anyone signed in listen
        to) listens to their own only"""
        from unittest.mock import patch

        from trytond.bus import LongPollingBus

        from crmkit import bus

        from .tools import set_config
        client, headers = self.session('rep')
        rep, admin = self.users['rep'], self.users['admin']
        with set_config('bus', 'allow_subscribe', 'True'), \
                patch('trytond.bus.Bus', bus.Bus), \
                patch.object(LongPollingBus, 'subscribe',
                    return_value={'message': None, 'channel': None}
                    ) as subscribe:
            response = client.post(f'/{DB_NAME}/bus', headers=headers,
                json={'channels': [f'notification:{admin}',
                        f'notification:{rep}', f'user:{admin}',
                        'client:0c1f'],
                    'last_message': None})
        self.assertEqual(response.status_code, 200, response.text)
        (database, channels, _), _ = subscribe.call_args
        self.assertEqual(database, DB_NAME)
        self.assertEqual(channels, {
                f'notification:{rep}', f'user:{rep}', 'client:0c1f'})
