# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The OpenAPI document: valid 3.1, written from the models as the calling
user may use them, and true to what the REST API answers."""
import json
from decimal import Decimal
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.tests.tools import (
    api_key, CrmRouteTestCase, create_opportunity, create_user, load_spanish,
    setup_crm)


class OpenAPITestCase(CrmRouteTestCase):
    module = 'crm_kit_api'
    extras = ['crm_kit_activity', 'crm_kit_document']

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        User = pool.get('res.user')
        load_spanish('crm_kit_api')
        load_spanish('crm_kit')
        crm = setup_crm()
        # A user of the company who was given no CRM role.
        nobody = create_user('nobody', 'group_crm_rep', crm.company)
        User.write([nobody], {'groups': [('remove', [
                            g.id for g in nobody.groups])]})
        cls.opportunity = create_opportunity(crm, owner=crm.rep).id
        cls.keys = {}
        for user in [crm.rep, crm.admin, nobody]:
            application = Application(user=user, application='rest')
            application.save()
            cls.keys[user.login] = api_key(application)

    def openapi(self, login='rep', language='en'):
        response = self.client().get(
            f'/{DB_NAME}/rest/openapi.json', headers={
                'Authorization': f'bearer {self.keys[login]}',
                'Accept-Language': language,
                })
        self.assertEqual(response.status_code, 200, response.text)
        # As any client reads it: trytond's decoder would take the
        # schemas' "__class__" keys for encoded values.
        return json.loads(response.text)

    def test_document_is_valid_openapi_3_1(self):
        for login in ['rep', 'admin', 'nobody']:
            with self.subTest(login=login):
                document = self.openapi(login)
                self.assertEqual(document['openapi'], '3.1.0')
                validate(document)

    def test_key_is_required(self):
        response = self.client().get(f'/{DB_NAME}/rest/openapi.json')
        self.assertEqual(response.status_code, 401)
        response = self.client().get(
            f'/{DB_NAME}/rest/openapi.json',
            headers={'Authorization': 'bearer not-a-key'})
        self.assertEqual(response.status_code, 401)

    def test_server_is_this_database(self):
        "The public address, not the Host the client sent"
        document = self.openapi()
        self.assertEqual(document['servers'],
            [{'url': f'http://localhost:8000/{DB_NAME}/rest'}])
        response = self.client().get(f'/{DB_NAME}/rest/openapi.json',
            headers={'Authorization': f'bearer {self.keys["rep"]}',
                'Host': 'evil.example.com'})
        self.assertNotIn('evil', response.text)

    def test_crm_models_of_the_activated_modules(self):
        paths = self.openapi()['paths']
        for model in ['sale.opportunity', 'party.party', 'sale.sale',
                'crm.activity', 'crm.document']:
            with self.subTest(model=model):
                self.assertIn(f'/model/{model}', paths)
                self.assertIn(f'/model/{model}/{{id}}', paths)
        # crm_kit_report is not activated here.
        self.assertNotIn('/model/crm.report.pipeline', paths)

    def test_only_what_the_user_may_access(self):
        rep = self.openapi('rep')
        admin = self.openapi('admin')
        nobody = self.openapi('nobody')
        self.assertNotIn('/model/sale.opportunity', nobody['paths'])
        self.assertNotIn('sale.opportunity', nobody['components']['schemas'])
        # A rep reads the pipelines but only an administrator changes them.
        self.assertEqual(
            set(rep['paths']['/model/crm.pipeline']), {'get'})
        self.assertEqual(
            set(admin['paths']['/model/crm.pipeline']), {'get', 'post'})
        self.assertIn('delete', admin['paths']['/model/crm.pipeline/{id}'])
        self.assertNotIn('delete', rep['paths']['/model/crm.pipeline/{id}'])
        self.assertNotIn('crm.pipeline.values', rep['components']['schemas'])
        # The webhooks (and their secrets) are the administrators'.
        self.assertNotIn('/model/crm.webhook', rep['paths'])
        self.assertIn('/model/crm.webhook', admin['paths'])
        self.assertIn(
            '/model/crm.webhook/{id}/send_test', admin['paths'])
        self.assertEqual(
            set(rep['paths']['/model/sale.opportunity']), {'get', 'post'})

    def test_fields_from_the_model(self):
        schemas = self.openapi()['components']['schemas']
        record = schemas['sale.opportunity']['properties']
        self.assertEqual(record['__name__'], {'const': 'sale.opportunity'})
        self.assertEqual(record['description']['type'], ['string', 'null'])
        self.assertEqual(record['description']['title'], "Description")
        state = record['state']
        self.assertIn('lead', state['enum'])
        self.assertIn('won', state['enum'])
        self.assertTrue(state['readOnly'])
        self.assertEqual(
            record['amount']['anyOf'][0],
            {'$ref': '#/components/schemas/Decimal'})
        self.assertEqual(
            record['start_date']['anyOf'][0],
            {'$ref': '#/components/schemas/Date'})
        self.assertEqual(record['party']['x-tryton-relation'], 'party.party')
        self.assertEqual(
            record['lines']['x-tryton-relation'], 'sale.opportunity.line')

        values = schemas['sale.opportunity.values']
        self.assertFalse(values['additionalProperties'])
        self.assertNotIn('state', values['properties'])
        self.assertNotIn('create_date', values['properties'])
        self.assertNotIn('rec_name', values['properties'])
        self.assertEqual(values['properties']['party']['type'],
            ['integer', 'null'])
        # Required and without a default: the client must send it.
        self.assertIn('quantity', schemas['sale.opportunity.line.values'][
                'required'])
        self.assertNotIn('company', values['required'])

    def test_conventions(self):
        document = self.openapi()
        search = document['paths']['/model/sale.opportunity']['get']
        names = {p['$ref'].rsplit('/', 1)[1] for p in search['parameters']}
        self.assertEqual(names, {
                'fields', 'domain', 'order', 'size', 'page', 'range',
                'context', 'language'})
        self.assertIn('Content-Range', search['responses']['200']['headers'])
        parameters = document['components']['parameters']
        self.assertEqual(
            (parameters['domain']['name'], parameters['order']['name'],
                parameters['range']['in']), ('d', 'o', 'header'))
        self.assertEqual(
            document['components']['securitySchemes']['bearer'],
            dict(document['components']['securitySchemes']['bearer'],
                type='http', scheme='bearer'))

    def test_buttons_and_reports(self):
        rep = self.openapi('rep')['paths']
        nobody = self.openapi('nobody')['paths']
        button = rep['/model/sale.opportunity/{id}/create_quote']['post']
        self.assertEqual(button['operationId'],
            'sale.opportunity.create_quote')
        self.assertIn('/report/sale.sale/{id}', rep)
        self.assertNotIn('/report/sale.sale/{id}', nobody)

    def test_records_match_their_schema(self):
        "What the API answers is what the document describes"
        document = self.openapi()
        response = self.client().get(
            f'/{DB_NAME}/rest/model/sale.opportunity/{self.opportunity}',
            query_string=[('f', f) for f in [
                    'description', 'state', 'amount', 'start_date',
                    'party', 'party.name', 'lines', 'owner', 'company',
                    'create_date', 'rec_name']],
            headers={'Authorization': f'bearer {self.keys["rep"]}'})
        self.assertEqual(response.status_code, 200, response.text)
        validator = Draft202012Validator({
                '$ref': '#/components/schemas/sale.opportunity',
                'components': document['components'],
                })
        record = json.loads(response.text)
        validator.validate(record)
        self.assertFalse(validator.is_valid(dict(record, state='nope')))
        self.assertFalse(validator.is_valid(dict(record, amount=12.5)))

    def test_in_the_users_language(self):
        english = self.openapi(language='en')
        spanish = self.openapi(language='es')
        self.assertEqual(english['info']['title'], "crm-kit REST API")
        self.assertNotEqual(spanish['info']['title'], english['info']['title'])
        self.assertEqual(
            spanish['components']['schemas']['sale.opportunity'][
                'properties']['channel']['title'], "Canal")
        search = spanish['paths']['/model/sale.opportunity']['get']
        self.assertNotEqual(search['summary'],
            english['paths']['/model/sale.opportunity']['get']['summary'])


class DocsPageTestCase(CrmRouteTestCase):
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        load_spanish('crm_kit_api')
        setup_crm()

    def test_page_uses_local_assets(self):
        response = self.client().get(f'/{DB_NAME}/rest/docs')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.mimetype, 'text/html')
        page = response.text
        self.assertIn('src="/api-docs/swagger-ui-bundle.js"', page)
        self.assertIn('href="/api-docs/swagger-ui.css"', page)
        self.assertIn("url: 'openapi.json'", page)
        # Never from a CDN.
        self.assertNotRegex(page, r'(src|href)="(https?:)?//')
        self.assertIn('type="password"', page)

    def test_page_in_spanish(self):
        english = self.client().get(
            f'/{DB_NAME}/rest/docs', headers={'Accept-Language': 'en'}).text
        spanish = self.client().get(
            f'/{DB_NAME}/rest/docs',
            headers={'Accept-Language': 'es-ES,es;q=0.9'}).text
        self.assertIn('<html lang="en">', english)
        self.assertIn('<html lang="es">', spanish)
        self.assertIn("API key", english)
        self.assertIn("Clave de API", spanish)


class ExportTestCase(CrmRouteTestCase):
    "sao's Export of the CRM lists makes formula-like text inert"
    module = 'crm_kit_api'
    extras = ['crm_kit_activity', 'crm_kit_document']

    @classmethod
    def setUpDatabase(cls):
        from crm_kit_activity.tests.tools import create_activity
        load_spanish('crm_kit_api')
        crm = setup_crm()
        opportunity = create_opportunity(crm, owner=crm.rep)
        opportunity.description = '=HYPERLINK("http://x.test")'
        opportunity.amount = Decimal('1500.00')
        opportunity.save()
        crm.customer.name = "@SUM(A1:A9)"
        crm.customer.save()
        cls.opportunity = opportunity.id
        cls.activity = create_activity(
            crm, subject="-2+3", opportunity=opportunity).id
        cls.rep = crm.rep.id

    def export(self, model, ids, fields):
        with Transaction().start(DB_NAME, self.rep, context={
                    '_check_access': True}):
            Model = Pool().get(model)
            return Model.export_data(Model.browse(ids), fields, header=True)

    def test_opportunity_export(self):
        header, row = self.export(
            'sale.opportunity', [self.opportunity],
            ['description', 'party/name', 'amount', 'state'])
        self.assertEqual(header, ["Description", "Party/Name",
                "Amount", "State"])
        self.assertEqual(row[0], '\'=HYPERLINK("http://x.test")')
        self.assertEqual(row[1], "'@SUM(A1:A9)")
        # Numbers stay numbers; plain text is as it is.
        self.assertEqual(row[2], Decimal('1500.00'))
        self.assertEqual(row[3], "lead")

    def test_shipped_exports(self):
        "Each CRM list offers its export with the useful fields, translated"
        exports = {
            'sale.opportunity': ("Opportunities", "Oportunidades"),
            'party.party': ("Customers", "Clientes"),
            'crm.activity': ("Activities", "Actividades"),
            'sale.sale': ("Quotes", "Presupuestos"),
            }
        for model, names in exports.items():
            for language, name in zip(['en', 'es'], names):
                with self.subTest(model=model, language=language), \
                        Transaction().start(DB_NAME, self.rep, context={
                            '_check_access': True, 'language': language}):
                    pool = Pool()
                    Export = pool.get('ir.export')
                    Line = pool.get('ir.export.line')
                    export, = Export.get(model, ['name', 'export_fields'])
                    self.assertEqual(export['name'], name)
                    fields = [line.name for line in Line.browse(
                            export['export_fields'])]
                    Model = pool.get(model)
                    header, *_ = Model.export_data(
                        Model.search([], limit=5), fields, header=True)
                    self.assertEqual(len(header), len(fields))

    def test_activity_export(self):
        _, row = self.export(
            'crm.activity', [self.activity], ['subject'])
        self.assertEqual(row, ["'-2+3"])


class BadRequestTestCase(CrmRouteTestCase):
    "Arguments trytond cannot decode are a 400 with a clear message"
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        load_spanish('crm_kit_api')
        crm = setup_crm()
        create_opportunity(crm, owner=crm.rep)
        application = Application(user=crm.rep, application='rest')
        application.save()
        cls.key = api_key(application)

    def search(self, query_string=None, headers=None, language='en'):
        return self.client().get(
            f'/{DB_NAME}/rest/model/sale.opportunity',
            query_string=query_string, headers={
                'Authorization': f'bearer {self.key}',
                'Accept-Language': language, **(headers or {})})

    def test_bad_arguments(self):
        for query_string, headers, words in [
                ({'d': 'not base64 json!'}, {}, '"d" parameter'),
                ({'d': 'eyJhIjogMX0='}, {}, '"d" parameter'),  # {"a": 1}
                ({'d': 'W10'}, {}, 'padding'),  # [] without its =
                ({'o': '%%%'}, {}, '"o" parameter'),
                ({'s': 'ten'}, {}, '"s" parameter'),
                ({'p': '-1'}, {}, '"p" parameter'),
                ({}, {'Range': 'records'}, 'Range header'),
                ({}, {'Range': 'records=9-3'}, 'Range header'),
                ({}, {'X-Tryton-Context': 'e30'[:2]}, 'X-Tryton-Context'),
                ({}, {'X-Tryton-Context': 'W10='}, 'X-Tryton-Context'),
                ]:
            with self.subTest(query_string=query_string, headers=headers):
                response = self.search(query_string, headers)
                self.assertEqual(response.status_code, 400, response.text)
                self.assertEqual(response.mimetype, 'application/json')
                body = json.loads(response.text)
                self.assertEqual(body['status'], 400)
                self.assertIn(words, body['message'])

    def test_good_arguments_still_work(self):
        for query_string, headers in [
                ({'d': 'W10=', 'o': 'W10=', 's': '10', 'p': '0'}, {}),
                ({}, {'Range': 'records=0-10'}),
                ({}, {'Range': 'records=0-'}),
                ({}, {'X-Tryton-Context': 'e30='}),  # {}
                ]:
            with self.subTest(query_string=query_string, headers=headers):
                response = self.search(query_string, headers)
                self.assertIn(
                    response.status_code, {200, 206}, response.text)

    def test_in_spanish(self):
        response = self.search({'s': 'diez'}, language='es')
        self.assertEqual(response.status_code, 400)
        self.assertIn('debe ser un número entero',
            json.loads(response.text)['message'])

    def test_other_routes(self):
        response = self.client().get(
            f'/{DB_NAME}/rest/model/sale.opportunity/1', headers={
                'Authorization': f'bearer {self.key}',
                'X-Tryton-Context': '!!'})
        self.assertEqual(response.status_code, 400, response.text)
