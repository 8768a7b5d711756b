# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The record rules hold through the REST API, and its context is hardened."
import json

from crmkit.wsgi import PrivateContextFilter

from trytond.pool import Pool
from trytond.protocols.wrappers import Response
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction
from trytond.wsgi import app
from werkzeug.test import Client

from .tools import (
    api_key, b64, CrmRouteTestCase, create_opportunity, setup_crm, stage)


def _context_header(context):
    return b64(context)


class RestTestCase(CrmRouteTestCase):
    module = 'crm_kit'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        Company = pool.get('company.company')
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        cls.own = create_opportunity(crm, owner=crm.rep).id
        cls.other = create_opportunity(crm, owner=crm.rep2).id

        # A second company the admin user is not a member of.
        other_company = Company(
            party=Party(name="Otra Empresa S.A."),
            currency=crm.company.currency)
        other_company.party.save()
        other_company.save()
        with Transaction().set_context(company=other_company.id):
            foreign, = Opportunity.create([{
                        'description': "Another company's secret deal"}])
        cls.foreign = foreign.id
        cls.other_company = other_company.id

        cls.keys = {}
        for user in [crm.rep, crm.admin]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    def request(self, method, path, login='rep', client=None, **kwargs):
        client = client or self.client()
        headers = kwargs.pop('headers', {})
        headers['Authorization'] = f'bearer {self.keys[login]}'
        return getattr(client, method)(
            f'/{DB_NAME}/rest/model/{path}', headers=headers, **kwargs)

    def test_rep_lists_only_own_opportunities(self):
        response = self.request('get', 'sale.opportunity')
        self.assertEqual(response.status_code, 200)
        self.assertEqual({r['id'] for r in response.json}, {self.own})

    def test_rep_cannot_read_or_edit_another_reps_opportunity(self):
        # Another rep's record does not exist for the rep: 404, as for an
        # unknown id, so ids cannot be probed.
        response = self.request('get', f'sale.opportunity/{self.other}')
        self.assertIn(response.status_code, {403, 404})
        response = self.request(
            'put', f'sale.opportunity/{self.other}',
            json={'description': "Taken over"})
        self.assertIn(response.status_code, {403, 404})
        response = self.request(
            'get', f'sale.opportunity/{self.other}', login='admin',
            query_string={'f': 'description'})
        self.assertEqual(response.json['description'], "CRM para el taller")

    def test_rep_moves_own_opportunity_stage(self):
        with Transaction().start(DB_NAME, 0):
            analysis = stage('stage_analysis').id
        response = self.request(
            'put', f'sale.opportunity/{self.own}', json={'stage': analysis})
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request(
            'get', f'sale.opportunity/{self.own}',
            query_string={'f': ['state', 'stage']})
        self.assertEqual(response.json['state'], 'opportunity')
        self.assertEqual(response.json['stage'], analysis)

    def test_invalid_stage_move_is_a_clear_error(self):
        with Transaction().start(DB_NAME, 0):
            won = stage('stage_won').id
        response = self.request(
            'put', f'sale.opportunity/{self.own}', json={'stage': won},
            headers={'Accept-Language': 'en'})
        self.assertEqual(response.status_code, 400)
        self.assertIn('cannot move', response.text)

    def test_private_context_keys_are_stripped(self):
        "A key holder cannot switch to another company with _companies"
        header = {'X-Tryton-Context': _context_header(
                {'_companies': [self.other_company]})}
        hardened = Client(PrivateContextFilter(app), Response)
        response = self.request(
            'get', 'sale.opportunity', login='admin', client=hardened,
            headers=dict(header))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn(self.foreign, {r['id'] for r in response.json})
        self.assertIn(self.own, {r['id'] for r in response.json})

        # The same request on trytond's bare application leaks: this is
        # the hole the filter closes.
        response = self.request(
            'get', 'sale.opportunity', login='admin', headers=dict(header),
            client=Client(app, Response))
        self.assertIn(self.foreign, {r['id'] for r in response.json})

    def test_public_context_keys_are_kept(self):
        header = PrivateContextFilter.clean(_context_header(
                {'language': 'es', '_companies': [1], '_datetime': None}))
        self.assertEqual(
            json.loads(__import__('base64').urlsafe_b64decode(header)),
            {'language': 'es', '_datetime': None})
        self.assertEqual(PrivateContextFilter.clean('not base64!'),
            'not base64!')
