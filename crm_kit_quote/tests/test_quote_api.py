# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The quote through REST and JSON-RPC: its PDF, its discount and its
revision, for the rep who owns it and never for another rep."""
import io
import json

from pypdf import PdfReader

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.tests.tools import (
    api_key, CrmRouteTestCase, create_opportunity, setup_crm)


def decimal(value):
    "A Decimal as the REST API takes it"
    return {'__class__': 'Decimal', 'decimal': value}


class QuoteApiTestCase(CrmRouteTestCase):
    module = 'crm_kit_quote'
    extras = ['crm_kit_api']

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        Opportunity = pool.get('sale.opportunity')
        User = pool.get('res.user')
        crm = setup_crm()
        User.write([crm.rep, crm.rep2], {'password': cls.password})
        own = create_opportunity(crm, owner=crm.rep)
        other = create_opportunity(crm, owner=crm.rep2)
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([own, other])
        cls.company = crm.company.id
        cls.own, = [s.id for s in Opportunity(own.id).sales]
        cls.other, = [s.id for s in Opportunity(other.id).sales]
        cls.own_line = Opportunity(own.id).lines[0].id
        cls.other_line = Opportunity(other.id).lines[0].id
        cls.keys = {}
        for user in [crm.rep, crm.rep2]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    def report(self, sale, login='rep', language='en'):
        return self.client().get(
            f'/{DB_NAME}/rest/report/sale.sale/{sale}',
            headers={
                'Authorization': f'bearer {self.keys[login]}',
                'Accept-Language': language,
                })

    def test_rest_report_is_the_pdf(self):
        response = self.report(self.own)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.mimetype, 'application/pdf')
        self.assertIn('.pdf', response.headers['Content-Disposition'])
        text = ' '.join(
            PdfReader(io.BytesIO(response.data)).pages[0].extract_text().split())
        self.assertIn("Quote", text)
        self.assertIn("Talleres Gómez S.L.", text)

    def test_contract_says_pdf(self):
        "The OpenAPI contract describes the report as the route answers it"
        response = self.client().get(
            f'/{DB_NAME}/rest/openapi.json', headers={
                'Authorization': f'bearer {self.keys["rep"]}'})
        self.assertEqual(response.status_code, 200)
        answer = json.loads(response.text)['paths'][
            '/report/sale.sale/{id}']['get']['responses']['200']
        self.assertEqual(list(answer['content']), ['application/pdf'])

    def test_rest_report_of_another_reps_quote_is_refused(self):
        response = self.report(self.other)
        self.assertIn(response.status_code, {403, 404})
        self.assertNotEqual(response.mimetype, 'application/pdf')
        # Its own rep gets it.
        self.assertEqual(
            self.report(self.other, login='rep2').status_code, 200)

    def test_rpc_report_of_another_reps_quote_is_refused(self):
        result = self.rpc(
            'rep', 'report.sale.sale.execute', [self.other], {},
            company=self.company)
        self.assertEqual(result[0], 'error')
        ext, content, _, name = self.rpc(
            'rep', 'report.sale.sale.execute', [self.own], {},
            company=self.company)
        self.assertEqual(ext, 'pdf')

    def test_rep_reads_own_quote_lines_with_taxes(self):
        "The quote form reads its lines' taxes, in their code-set order"
        lines = self.rpc('rep', 'model.sale.line.search',
            [('sale', '=', self.own)], 0, None, None, company=self.company)
        result = self.rpc('rep', 'model.sale.line.read', lines,
            ['taxes', 'discount_rate', 'base_price'], company=self.company)
        self.assertNotEqual(result[0], 'error', result)
        self.assertEqual(len(result[0]['taxes']), 1)
        # A search ordered through the hidden taxes is still refused.
        result = self.rpc('rep', 'model.sale.line.search',
            [], 0, None, [('taxes.rate', 'ASC')], company=self.company)
        self.assertEqual(result[0], 'error', result)

    def test_discount_of_another_reps_line_is_refused(self):
        response = self.rest(
            'put', f'sale.opportunity.line/{self.other_line}',
            self.keys['rep'], company=self.company,
            json={'discount_rate': decimal('0.15')})
        self.assertIn(response.status_code, {403, 404}, response.text)
        response = self.rest(
            'put', f'sale.opportunity.line/{self.own_line}',
            self.keys['rep'], company=self.company,
            json={'discount_rate': decimal('0.15')})
        self.assertEqual(response.status_code, 200, response.text)
        response = self.rest(
            'put', f'sale.opportunity.line/{self.own_line}',
            self.keys['rep'], company=self.company,
            json={'discount_rate': decimal('3')})
        self.assertEqual(response.status_code, 400, response.text)

    def test_revise_another_reps_quote_is_refused(self):
        response = self.rest(
            'post', f'sale.sale/{self.other}/revise', self.keys['rep'],
            company=self.company)
        self.assertIn(response.status_code, {403, 404})
        # Not sent: the button is refused on the rep's own quote too.
        response = self.rest(
            'post', f'sale.sale/{self.own}/revise', self.keys['rep'],
            company=self.company)
        self.assertIn(response.status_code, {400, 403})

    def test_quoted_amount_of_another_rep_is_not_searchable(self):
        result = self.rpc(
            'rep', 'model.sale.opportunity.search_count',
            [('amount_from_quote', '=', True)], company=self.company)
        self.assertEqual(result, 1)
