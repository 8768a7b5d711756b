# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""API keys in the CRM: a user creates, names and revokes their own; a CRM
administrator sees and revokes anyone's; a revoked key opens nothing."""
from pathlib import Path

import trytond.ir
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.tests.tools import (
    CrmRouteTestCase, create_user, load_spanish, setup_crm)


class ApiKeyTestCase(CrmRouteTestCase):
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        crm = setup_crm()
        crm_admin = create_user(
            'crm_admin', 'group_crm_admin', crm.company)
        cls.users = {u.login: u.id for u in [
                crm.rep, crm.rep2, crm_admin]}
        cls.company = crm.company.id

    def as_user(self, login):
        return Transaction().start(
            DB_NAME, self.users[login], context={'_check_access': True})

    def create_key(self, login, name):
        with self.as_user(login) as transaction:
            Application = Pool().get('res.user.application')
            key, = Application.create([{'name': name}])
            values = (key.id, key.new_key, key.user.id, key.state,
                key.application)
            transaction.commit()
        return values

    def openapi_status(self, key):
        return self.client().get(
            f'/{DB_NAME}/rest/openapi.json',
            headers={'Authorization': f'bearer {key}'}).status_code

    def test_own_keys(self):
        id_, key, user, state, application = self.create_key(
            'rep', "Web form")
        self.assertEqual(
            (user, state, application),
            (self.users['rep'], 'validated', 'rest'))
        self.assertEqual(len(key), 128)
        self.assertEqual(self.openapi_status(key), 200)

        other_id, *_ = self.create_key('rep2', "Mailing tool")
        with self.as_user('rep'):
            Application = Pool().get('res.user.application')
            self.assertIn(id_, [a.id for a in Application.search([])])
            self.assertNotIn(
                other_id, [a.id for a in Application.search([])])
            # Nor can a key be made for somebody else.
            with self.assertRaises(AccessError):
                Application.create([{
                            'name': "Not mine",
                            'user': self.users['rep2']}])

    def test_revoke(self):
        id_, key, *_ = self.create_key('rep', "Old integration")
        with self.as_user('rep') as transaction:
            Application = Pool().get('res.user.application')
            Application.cancel([Application(id_)])
            transaction.commit()
        self.assertEqual(self.openapi_status(key), 401)

    def test_crm_admin_sees_and_revokes_any_key(self):
        id_, key, *_ = self.create_key('rep2', "Shop")
        with self.as_user('crm_admin') as transaction:
            Application = Pool().get('res.user.application')
            keys = Application.search([('user', '=', self.users['rep2'])])
            self.assertIn(id_, [k.id for k in keys])
            Application.cancel([Application(id_)])
            transaction.commit()
        self.assertEqual(self.openapi_status(key), 401)

    def test_key_works_in_its_users_company_and_language(self):
        "A new lead gets the user's company, as in sao, with no context sent"
        _, key, *_ = self.create_key('rep', "Website")
        response = self.client().post(
            f'/{DB_NAME}/rest/model/sale.opportunity',
            query_string=[('f', 'company'), ('f', 'owner')],
            json={'description': "From the website"},
            headers={'Authorization': f'bearer {key}'})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json['company'], self.company)
        self.assertEqual(response.json['owner'], self.users['rep'])

        # Errors in the user's language unless the client asks for another.
        with Transaction().start(DB_NAME, 0) as transaction:
            load_spanish('crm_kit')
            # The validation messages are trytond's own.
            Pool().get('ir.translation').translation_import(
                'es', 'ir', str(Path(trytond.ir.__file__).parent
                    / 'locale' / 'es.po'))
            User = Pool().get('res.user')
            Lang = Pool().get('ir.lang')
            spanish, = Lang.search([('code', '=', 'es')])
            User.write([User(self.users['rep'])], {'language': spanish.id})
            transaction.commit()
        try:
            # Out of its domain (0 to 1): a message of trytond's own.
            bad = {'description': "Sure thing", 'conversion_probability': 5}
            spanish = self.client().post(
                f'/{DB_NAME}/rest/model/sale.opportunity', json=bad,
                headers={'Authorization': f'bearer {key}'})
            english = self.client().post(
                f'/{DB_NAME}/rest/model/sale.opportunity', json=bad,
                headers={'Authorization': f'bearer {key}',
                    'Accept-Language': 'en'})
            self.assertEqual(spanish.status_code, 400, spanish.text)
            self.assertEqual(english.status_code, 400, english.text)
            self.assertIn("not valid", english.json['message'])
            self.assertNotIn("not valid", spanish.json['message'])
            self.assertIn("no es correcto", spanish.json['message'])
            listed = self.client().get(
                f'/{DB_NAME}/rest/model/sale.opportunity',
                headers={'Authorization': f'bearer {key}'})
            self.assertEqual(listed.headers['Content-Language'], 'es')
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                User = Pool().get('res.user')
                User.write([User(self.users['rep'])], {'language': None})
                transaction.commit()
