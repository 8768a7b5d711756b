# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Leads created through the REST API meet the same rules as in sao."
import json
from base64 import urlsafe_b64encode

from crmkit.cli import run_in_transaction

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME

from crm_kit.tests.tools import api_key

from .tools import CrmRouteTestCase, configure, create_rule, setup_crm


class LeadRestTestCase(CrmRouteTestCase):
    module = 'crm_kit_lead'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        crm = setup_crm()
        create_rule("API leads", method='user', user=crm.rep2.id)
        application = Application(
            user=crm.rep, application='rest', state='validated')
        application.save()
        cls.key = api_key(application)
        cls.rep2 = crm.rep2.id
        cls.company = crm.company.id

    def request(self, method, path, context=None, **kwargs):
        # As sao does, the client says which company it works in.
        context = dict(context or {}, company=self.company)
        headers = {
            'Authorization': f'bearer {self.key}',
            'Accept-Language': 'en',
            'X-Tryton-Context': urlsafe_b64encode(
                json.dumps(context).encode()).decode(),
            }
        return getattr(self.client(), method)(
            f'/{DB_NAME}/rest/model/{path}', headers=headers, **kwargs)

    def test_rest_lead_assigned_and_duplicates_checked(self):
        response = self.request('post', 'sale.opportunity', json={
                'description': "Desde la API",
                'lead_company': "Api Tech S.L.",
                'lead_email': 'api@tech.test',
                })
        self.assertEqual(response.status_code, 200, response.text)
        lead_id = response.json['id']
        # The rep created it, the rule gave it to rep2: the rep still
        # reads it, with the reason.
        response = self.request('get', f'sale.opportunity/{lead_id}',
            query_string={'f': ['owner', 'assignment_reason']})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json['owner'], self.rep2)
        self.assertIn('"API leads"', response.json['assignment_reason'])

        # Policy warn: the duplicate is answered with the existing lead…
        response = self.request('post', 'sale.opportunity', json={
                'lead_email': 'API@tech.test'})
        self.assertEqual(response.status_code, 400)
        self.assertIn("Api Tech S.L.", response.text)
        # … and created when the integration confirms it beforehand.
        response = self.request('post', 'sale.opportunity', json={
                'lead_email': 'API@tech.test'},
            context={'crm_duplicate_confirmed': True})
        self.assertEqual(response.status_code, 200, response.text)

        run_in_transaction(DB_NAME, configure, duplicate_action='skip')
        try:
            response = self.request('post', 'sale.opportunity', json={
                    'lead_email': 'api@tech.test'},
                context={'crm_duplicate_confirmed': True})
            self.assertEqual(response.status_code, 400)
            self.assertIn("duplicate", response.text)
        finally:
            run_in_transaction(DB_NAME, configure, duplicate_action='warn')

    def test_rest_malformed_email(self):
        response = self.request('post', 'sale.opportunity', json={
                'lead_email': 'api@'})
        self.assertEqual(response.status_code, 400)
        self.assertIn("api@", response.text)

    def test_rest_identity_stored_as_the_import_stores_it(self):
        "A phone, e-mail and NIF typed through REST are stored as imported"
        response = self.request('post', 'sale.opportunity', json={
                'lead_name': "Rosa Vidal",
                'lead_company': "Vidal Hermanos",
                'lead_phone': '612345679',
                'lead_email': 'Rosa@VIDAL.test',
                'lead_tax_identifier': 'b-12345674',
                })
        self.assertEqual(response.status_code, 200, response.text)
        lead_id = response.json['id']
        response = self.request('get', f'sale.opportunity/{lead_id}',
            query_string={'f': [
                    'lead_phone', 'lead_email', 'lead_tax_identifier']})
        self.assertEqual(
            (response.json['lead_phone'], response.json['lead_email'],
                response.json['lead_tax_identifier']),
            ("+34 612 34 56 79", 'Rosa@vidal.test', 'B12345674'))
        # Changed later, the phone is cleaned the same way.
        response = self.request('put', f'sale.opportunity/{lead_id}',
            json={'lead_phone': '0034 699 00 11 22'})
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request('get', f'sale.opportunity/{lead_id}',
            query_string={'f': ['lead_phone']})
        self.assertEqual(response.json['lead_phone'], "+34 699 00 11 22")
        # The same contact at the same company is a duplicate.
        response = self.request('post', 'sale.opportunity', json={
                'lead_name': "ROSA VIDAL", 'lead_company': "Vidal Hermanos SL"})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("Contact Name + Company Name", response.text)
