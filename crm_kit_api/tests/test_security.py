# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Secrets: an API key is shown once, to whoever makes it, then nobody
reads, searches or guesses it, CRM administrators included; the same for
a webhook's signing secret, which no payload carries."""
import json

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, check_access

from crm_kit.tests.tools import (
    CrmRouteTestCase, b64, create_user, setup_crm)


class SecretTestCase(CrmRouteTestCase):
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Application = pool.get('res.user.application')
        crm = setup_crm()
        crm_admin = create_user('crm_admin', 'group_crm_admin', crm.company)
        cls.company = crm.company.id
        cls.users = {u.login: u.id for u in [crm.rep, crm.admin, crm_admin]}
        User.write([crm.rep, crm.admin, crm_admin],
            {'password': cls.password})
        cls.keys, cls.key_ids = {}, {}
        for login, user in cls.users.items():
            with Transaction().set_user(user), check_access():
                key, = Application.create([{'name': f"{login}'s shop"}])
                cls.keys[login] = key.new_key
                cls.key_ids[login] = key.id

    def test_sessions_and_login_attempts_are_offered_to_nobody(self):
        """Models with nothing in their __rpc__ (the session keys of every
        user, who failed to log in from where) are refused through REST
        and the export as JSON-RPC refuses them"""
        self.session('admin')
        self.client().post(f'/{DB_NAME}/rpc/', json={
                'id': 1, 'method': 'common.db.login',
                'params': ['admin', {'password': 'wrong'}, 'en']})
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Session = pool.get('ir.session')
            Attempt = pool.get('res.user.login.attempt')
            admin_keys = [s.key for s in Session.search(
                    [('create_uid', '=', self.users['admin'])])]
            self.assertTrue(admin_keys)
            self.assertTrue(Attempt.search([('login', '=', 'admin')]))
        for login in ['rep', 'crm_admin']:
            for model, fields in [
                    ('ir.session', ['key', 'create_uid']),
                    ('res.user.login.attempt', ['login', 'ip_address']),
                    ('res.user.device', ['login', 'cookie'])]:
                with self.subTest(login=login, model=model):
                    key = self.keys[login]
                    response = self.rest('get', model, key, self.company,
                        query_string=[('f', f) for f in fields])
                    self.assertEqual(response.status_code, 403,
                        response.text)
                    self.assertIn(model, response.json['message'])
                    response = self.rest('get', f'{model}/1', key,
                        self.company, query_string={'f': fields[0]})
                    self.assertEqual(response.status_code, 403)
                    response = self.rest('post', model, key, self.company,
                        json={fields[0]: 'x'})
                    self.assertEqual(response.status_code, 403)
                    response = self.export(login, model, [], fields)
                    self.assertEqual(response.status_code, 403)
                    result = self.rpc(login, f'model.{model}.search', [],
                        company=self.company)
                    self.assertEqual(result[0], 'error')
                    for text in [response.text, str(result)]:
                        for admin_key in admin_keys:
                            self.assertNotIn(admin_key, text)
        # What clients are offered still answers.
        response = self.rest('get', 'res.user.application',
            self.keys['rep'], self.company)
        self.assertEqual(response.status_code, 200, response.text)

    def test_key_is_stored_hashed_and_works(self):
        key = self.keys['rep']
        self.assertEqual(len(key), 128)
        with Transaction().start(DB_NAME, 0):
            Application = Pool().get('res.user.application')
            stored = Application(self.key_ids['rep'])
            self.assertTrue(stored.key.startswith('sha256$'))
            self.assertNotIn(key, stored.key)
            self.assertIsNone(stored.new_key)
            self.assertEqual(stored.rec_name, "rep's shop")
        response = self.rest('get', 'sale.opportunity', key, self.company)
        self.assertEqual(response.status_code, 200, response.text)
        with Transaction().start(DB_NAME, 0):
            Application = Pool().get('res.user.application')
            self.assertTrue(Application(self.key_ids['rep']).last_use)

    def test_made_through_rest_the_answer_shows_it_once(self):
        response = self.rest('post', 'res.user.application',
            self.keys['rep'], self.company, json={'name': "Zapier"},
            query_string=[('f', 'new_key'), ('f', 'name')])
        self.assertEqual(response.status_code, 200, response.text)
        new_key = response.json['new_key']
        self.assertEqual(len(new_key), 128)
        again = self.rest('get', f'res.user.application/{response.json["id"]}',
            self.keys['rep'], self.company, query_string={'f': 'new_key'})
        self.assertIsNone(again.json['new_key'])
        self.assertEqual(self.rest(
                'get', 'sale.opportunity', new_key, self.company
                ).status_code, 200)

    def test_made_as_sao_makes_it(self):
        "sao shows the default key in the new form and saves it with it"
        defaults = self.rpc('rep', 'model.res.user.application.default_get',
            ['new_key', 'name'])
        key = defaults['new_key']
        key_id, = self.rpc('rep', 'model.res.user.application.create',
            [{'name': "Mailing", 'new_key': key}])
        read, = self.rpc('rep', 'model.res.user.application.read',
            [key_id], ['new_key', 'name'])
        self.assertIsNone(read['new_key'])
        self.assertEqual(self.rest(
                'get', 'sale.opportunity', key, self.company).status_code,
            200)

    def test_nobody_reads_or_searches_a_key(self):
        admin_key = self.keys['admin']
        guess = [('id', '=', self.users['admin']),
            ('applications.key', 'like', admin_key[:3] + '%')]
        for login in ['rep', 'crm_admin', 'admin']:
            with self.subTest(login=login):
                response = self.rest('get', 'res.user', self.keys[login],
                    self.company, query_string={'d': b64(guess)})
                self.assertIn(response.status_code, {400, 403},
                    response.text)
                self.assertNotIn('"Administrator"', response.text)
                result = self.rpc(login, 'model.res.user.search_count',
                    guess)
                self.assertEqual(result[0], 'error')
                response = self.export(login, 'res.user', guess, ['login'])
                self.assertNotIn('admin', response.text)
                # Nor by its hash, nor hidden in a where clause.
                result = self.rpc(login, 'model.res.user.search_count', [
                        ('applications', 'where', [
                                ('key', 'like', 'sha256$%')])])
                self.assertEqual(result[0], 'error')
                result = self.rpc(login,
                    'model.res.user.application.search_read',
                    [], 0, None, None, ['key'])
                self.assertEqual(result[0], 'error')
                # The name is what a key is known by.
                result = self.rpc(login,
                    'model.res.user.application.search_read',
                    [('rec_name', 'ilike', '%shop%')], 0, None, None,
                    ['rec_name', 'user', 'last_use', 'new_key'])
                self.assertNotIn(admin_key, str(result))
                self.assertTrue(all(r['new_key'] is None for r in result))

    def test_crm_administrator_revokes_but_never_reads_keys(self):
        result = self.rpc('crm_admin',
            'model.res.user.application.search_read',
            [('user', '=', self.users['admin'])], 0, None, None,
            ['name', 'user', 'state', 'last_use'])
        self.assertEqual([r['name'] for r in result], ["admin's shop"])
        result = self.rpc('crm_admin', 'model.res.user.application.read',
            [self.key_ids['admin']], ['key'])
        self.assertEqual(result[0], 'error')
        result = self.rpc('crm_admin', 'model.res.user.application.write',
            [self.key_ids['rep']], {'key': 'sha256$chosen'})
        self.assertEqual(result[0], 'error')

    def test_webhook_secret_shown_once_and_never_sent(self):
        from crm_kit_api.webhook import TEST_EVENT
        with Transaction().start(DB_NAME, self.users['crm_admin'], context={
                    'company': self.company}) as transaction, check_access():
            Webhook = Pool().get('crm.webhook')
            Delivery = Pool().get('crm.webhook.delivery')
            hook, = Webhook.create([{'name': "ERP",
                        'url': 'https://erp.example.com/hook',
                        'events': ['lead.created']}])
            secret = hook.new_secret
            self.assertGreaterEqual(len(secret), 32)
            body = Delivery.payload(TEST_EVENT[0], hook)
            self.assertNotIn(secret, body)
            self.assertNotIn('secret', json.loads(body)['record'])
            transaction.commit()
        for login in ['crm_admin', 'admin']:
            with self.subTest(login=login):
                result = self.rpc(login, 'model.crm.webhook.read',
                    [hook.id], ['secret'])
                self.assertEqual(result[0], 'error')
                result = self.rpc(login, 'model.crm.webhook.search_count',
                    [('secret', '=', secret)])
                self.assertEqual(result[0], 'error')
                result, = self.rpc(login, 'model.crm.webhook.read',
                    [hook.id], ['new_secret', 'name'])
                self.assertIsNone(result['new_secret'])

    def test_webhook_to_a_private_address_is_refused(self):
        # A server-side request forgery: the hook would make the server
        # POST to its own network and log the answer.
        hook = {'name': "Metadata", 'url': 'http://169.254.169.254/latest/',
            'events': ['lead.created']}
        result = self.rpc('crm_admin', 'model.crm.webhook.create', [hook])
        self.assertEqual(result[0], 'error')
        self.assertIn("169.254.169.254", result[1])
        response = self.rest('post', 'crm.webhook', self.keys['crm_admin'],
            self.company, json={**hook, 'url': 'http://[::1]:5432/'})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("private network address", response.text)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(Pool().get('crm.webhook').search(
                    [('name', '=', "Metadata")]), [])
