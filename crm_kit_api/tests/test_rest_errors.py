# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Bad REST input gets a clear JSON 4xx in the caller's language and
changes nothing stored; a stale write is refused with 412 (ETag and
If-Match); a link to a record that does not exist is refused on every
backend (crm_kit_api.rest, crm_kit.access)."""
import json

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.tests.tools import (
    CUSTOMER, CrmRouteTestCase, api_key, b64, create_opportunity, load_spanish,
    set_config, setup_crm)

BIG = 2 ** 64


class RestErrorTestCase(CrmRouteTestCase):
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        User = pool.get('res.user')
        load_spanish('crm_kit_api')
        crm = setup_crm()
        cls.opportunity = create_opportunity(crm, owner=crm.rep).id
        cls.party = crm.customer.id
        cls.company = crm.company.id
        User.write([crm.rep], {'password': cls.password})
        cls.keys = {}
        for user in [crm.rep, crm.manager, crm.admin]:
            application = Application(user=user, application='rest')
            application.save()
            cls.keys[user.login] = api_key(application)

    def call(self, method, path, login='rep', language='en', **kwargs):
        response = self.rest(method, path, self.keys[login], self.company,
            headers={'Accept-Language': language,
                **kwargs.pop('headers', {})}, **kwargs)
        return response

    def assertError(self, response, status, words=None):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.mimetype, 'application/json',
            response.text)
        body = json.loads(response.text)
        self.assertEqual(body['status'], status)
        self.assertTrue(body['message'])
        if words:
            self.assertIn(words, body['message'])
        return body

    def opportunities(self):
        with Transaction().start(DB_NAME, 0):
            Opportunity = Pool().get('sale.opportunity')
            return sorted((o.id, o.description, o.party.id if o.party
                    else None) for o in Opportunity.search([]))

    def test_bad_arguments_are_400(self):
        opportunity = f'sale.opportunity/{self.opportunity}'
        for method, path, kwargs, status, words in [
                ('get', 'crm.channel/1', {'query_string': 'f='}, 400,
                    '"" in f'),
                ('get', opportunity, {'query_string': 'f=nothing'}, 400,
                    '"nothing" in f'),
                ('get', opportunity, {'query_string': 'f=party.nothing'},
                    400, 'party.nothing'),
                ('get', 'no.such.model', {}, 404, 'no.such.model'),
                ('get', 'sale.opportunity', {'query_string': {
                            'd': b64([['nothing', '=', 1]])}}, 400,
                    'nothing'),
                ('get', 'sale.opportunity', {'query_string': {
                            'd': b64([['id', 'op', 1]])}}, 400, '"op"'),
                ('get', 'sale.opportunity', {'query_string': {
                            'd': b64([['id', 'in', 'abc']])}}, 400,
                    'list of values'),
                ('get', 'sale.opportunity', {'query_string': {
                            'd': b64([['id', '=', BIG]])}}, 400,
                    'too large'),
                ('get', 'sale.opportunity', {'query_string': {
                            'o': b64([['nothing', 'ASC']])}}, 400,
                    'nothing'),
                ('get', 'sale.opportunity', {'query_string': {
                            'o': b64([['id', 'SIDEWAYS']])}}, 400, '"o"'),
                ('get', 'sale.opportunity', {'query_string': {
                            's': str(BIG)}}, 400, '"s"'),
                ('get', 'sale.opportunity', {'query_string': {
                            'p': str(BIG)}}, 400, '"p"'),
                ('get', 'sale.opportunity', {'headers': {
                            'Range': f'records=0-{BIG}'}}, 400, 'Range'),
                ('get', f'sale.opportunity/{BIG}', {}, 404, None),
                ('post', 'sale.opportunity', {'data': 'hello',
                        'content_type': 'text/plain'}, 415, 'text/plain'),
                ('post', 'sale.opportunity', {'data': '{"a":',
                        'content_type': 'application/json'}, 400,
                    'JSON object'),
                ('post', 'sale.opportunity', {'json': [1, 2]}, 400,
                    'JSON object'),
                ('post', 'sale.opportunity', {'json': {'nothing': 1}},
                    400, '"nothing" in body'),
                ('post', 'sale.opportunity', {'json': {
                            'description': 'a\x00b'}}, 400, 'NUL'),
                ('post', 'crm.channel', {'json': {'name': "Feria"}}, 403,
                    None),
                # PostgreSQL refuses a boolean for an integer column.
                ('put', opportunity, {'json': {
                            'conversion_probability': True}}, 400,
                    '"conversion_probability"'),
                ('post', f'{opportunity}/no_such_button', {}, 403, None),
                ]:
            with self.subTest(method=method, path=path, kwargs=kwargs):
                before = self.opportunities()
                self.assertError(
                    self.call(method, path, **kwargs), status, words)
                self.assertEqual(self.opportunities(), before)

    def test_in_spanish(self):
        body = self.assertError(self.call('get', 'sale.opportunity',
                language='es', query_string={
                    'd': b64([['nada', '=', 1]])}), 400)
        self.assertIn("no es un campo", body['message'])
        body = self.assertError(
            self.call('get', 'no.such.model', language='es'), 404)
        self.assertIn("No existe el modelo", body['message'])

    def test_broken_language_header_is_ignored(self):
        for header in ['KA;', 'es;q=abc', ';;,', 'es-ES;q=2']:
            with self.subTest(header=header):
                response = self.call('get', 'sale.opportunity',
                    headers={'Accept-Language': header})
                self.assertEqual(response.status_code, 200, response.text)

    def test_another_origin_is_a_json_403(self):
        response = self.call('get', 'sale.opportunity',
            headers={'Origin': 'https://evil.example'})
        self.assertError(response, 403, 'evil.example')

    def test_body_size_limits(self):
        """A valid key may send what a signed-in user may (trytond gives
        REST the anonymous limit); beyond, a JSON 413 before the body is
        read"""
        from crmkit.settings import environment_defaults
        self.assertEqual(int(environment_defaults()[
                    'TRYTOND_REQUEST__MAX_SIZE_AUTHENTICATED']),
            100 * 1024 * 1024)
        before = self.opportunities()
        with set_config('request', 'max_size', '4096'), \
                set_config('request', 'max_size_authenticated', '20000'):
            response = self.call('post', 'sale.opportunity', json={
                    'party': self.party, 'description': 'x' * 30000})
            self.assertError(response, 413)
            response = self.client().post(
                f'/{DB_NAME}/rest/model/sale.opportunity',
                headers={'Authorization': 'bearer not-a-key'},
                json={'party': self.party, 'description': 'x' * 5000})
            self.assertError(response, 413)
            self.assertEqual(self.opportunities(), before)
            response = self.call('post', 'sale.opportunity', json={
                    'party': self.party, 'description': 'x' * 5000})
            self.assertEqual(response.status_code, 200, response.text)

    def test_link_to_a_record_that_does_not_exist(self):
        # On SQLite, which has no foreign keys in trytond's tables, the
        # opportunity was stored and the list failed for everyone after.
        before = self.opportunities()
        response = self.call('post', 'sale.opportunity', json={
                'party': 303597, 'description': "Sin cliente"})
        self.assertError(response, 403, '303597')
        response = self.call('put', f'sale.opportunity/{self.opportunity}',
            json={'party': 303597})
        self.assertError(response, 403, '303597')
        result = self.rpc('rep', 'model.sale.opportunity.create',
            [{'party': 303597, 'description': "Sin cliente"}],
            company=self.company)
        self.assertEqual(result[0], 'error')
        self.assertIn('303597', result[1])
        # sao's import (trytond's import_data): a relation by its name, a
        # record to update by its id.
        for fields_names, row in [
                (['description', 'party'], ["Sin cliente", '303597']),
                (['id', 'description'], ['303597', "Sin cliente"]),
                (['description', 'party', 'lines/product'],
                    ["Sin cliente", CUSTOMER, '303597']),
                ]:
            with self.subTest(fields=fields_names):
                result = self.rpc('rep', 'model.sale.opportunity.import_data',
                    fields_names, [row], company=self.company)
                self.assertEqual(result[0], 'error', result)
                self.assertIn('303597', result[1])
        self.assertEqual(self.opportunities(), before)

    def test_stale_write_is_refused(self):
        path = f'sale.opportunity/{self.opportunity}'
        read = self.call('get', path)
        self.assertEqual(read.status_code, 200)
        etag = read.headers['ETag']
        # The manager changes the deal meanwhile.
        changed = self.call('put', path, login='manager',
            json={'description': "Changed by the manager"})
        self.assertEqual(changed.status_code, 200, changed.text)
        self.assertNotEqual(changed.headers['ETag'], etag)
        stale = self.call('put', path, json={'description': "Mine"},
            headers={'If-Match': etag})
        self.assertError(stale, 412, 'changed by someone else')
        # As with the _timestamp of X-Tryton-Context.
        context = b64({'company': self.company, '_timestamp': {
                    f'sale.opportunity,{self.opportunity}': etag.strip('"')}})
        stale = self.call('put', path, json={'description': "Mine"},
            headers={'X-Tryton-Context': context})
        self.assertError(stale, 412)
        # A button too.
        self.assertError(self.call('post', f'{path}/cancel',
                headers={'If-Match': etag}), 412)
        self.assertIn((self.opportunity, "Changed by the manager",
                self.party), self.opportunities())
        # With the record's current ETag, the write goes through.
        fresh = self.call('put', path, json={'description': "Mine"},
            headers={'If-Match': changed.headers['ETag']})
        self.assertEqual(fresh.status_code, 200, fresh.text)

    def test_nul_text_refused_through_json_rpc(self):
        before = self.opportunities()
        result = self.rpc('rep', 'model.sale.opportunity.write',
            [self.opportunity], {'description': "Sin\x00fin"},
            company=self.company)
        self.assertEqual(result[0], 'error')
        self.assertIn('NUL', result[1])
        self.assertEqual(self.opportunities(), before)
