# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Web-to-lead: the form an administrator designs and its public endpoint."
from decimal import Decimal
from urllib.parse import quote

from crmkit.cli import run_in_transaction

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, with_transaction
from trytond.transaction import Transaction

from .tools import (
    CrmRouteTestCase, LeadTestCase, configure, set_config, setup_crm)

THANKS = 'https://www.pruebas.test/gracias?from=crm'


def in_transaction(func, *args, **kwargs):
    "Run func in its own committed transaction, retried for table locks"
    return run_in_transaction(DB_NAME, func, *args, **kwargs)


def create_form(name="Contacto web", lines=None, **values):
    pool = Pool()
    Form = pool.get('crm.web.form')
    if lines is None:
        lines = [
            ('lead_name', True),
            ('lead_email', True),
            ('lead_phone', False),
            ('lead_company', False),
            ('lead_country', False),
            ('amount', False),
            ]
    values.setdefault('thank_you_url', THANKS)
    if 'company' not in values:
        company, = Pool().get('company.company').search(
            [], order=[('id', 'ASC')], limit=1)
        values['company'] = company.id
    form, = Form.create([dict(name=name, lines=[('create', [{
                            'name': n, 'required': r, 'sequence': i,
                            } for i, (n, r) in enumerate(lines, 1)])],
                **values)])
    return form


class WebFormTestCase(LeadTestCase):
    "The web form as the administrator sees it in sao"

    @with_transaction()
    def test_defaults(self):
        "A new form goes to the main pipeline, channel web, with a token"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        setup_crm()
        form = create_form()
        self.assertEqual(form.pipeline, Pipeline.main_pipeline())
        self.assertEqual(form.channel.code, 'web')
        self.assertTrue(form.consent_text)
        self.assertGreaterEqual(len(form.token), 32)
        # The labels default to the lead field names.
        self.assertEqual(
            [l.label for l in form.lines][:2], ["Contact Name", "E-mail"])

    @with_transaction()
    def test_snippet(self):
        "The snippet posts every field, the consent and the honeypot"
        pool = Pool()
        Form = pool.get('crm.web.form')
        Field = pool.get('crm.web.form.field')
        setup_crm()
        names = [n for n, _ in Field.get_lead_fields()]
        form = create_form(
            lines=[(n, n == 'lead_email') for n in names],
            consent_text='Acepto <la política> de "privacidad" & más')
        form = Form(form.id)
        snippet = form.snippet

        self.assertIn(
            'action="http://localhost:8000/%s/crm/web-form/%s"' % (
                quote(DB_NAME), form.token), snippet)
        self.assertIn('method="post"', snippet)
        for name in names:
            self.assertIn('name="%s"' % name, snippet)
        self.assertIn(
            '<input type="email" id="crm-web-form-lead_email" '
            'name="lead_email" autocomplete="email" required>', snippet)
        self.assertIn('type="tel"', snippet)
        self.assertIn('type="number"', snippet)
        self.assertIn('<textarea id="crm-web-form-description"', snippet)
        self.assertEqual(snippet.count(' required'), 2)  # e-mail, consent
        self.assertRegex(
            snippet, r'<input type="text" name="website_url" value="" '
            r'tabindex="-1" autocomplete="off">')
        self.assertIn('position:absolute;left:-10000px', snippet)
        self.assertIn('<input type="checkbox" name="consent" value="1" '
            'required> Acepto &lt;la política&gt; de &quot;privacidad&quot; '
            '&amp; más</label>', snippet)
        self.assertIn('<button type="submit">Send</button>', snippet)
        self.assertNotIn('<la política>', snippet)

        # Labels are escaped too.
        form.lines[0].label = '<script>alert(1)</script>'
        form.lines[0].save()
        self.assertIn('&lt;script&gt;', Form(form.id).snippet)
        self.assertNotIn('<script>', Form(form.id).snippet)

    @with_transaction()
    def test_snippet_uses_hostname(self):
        pool = Pool()
        Form = pool.get('crm.web.form')
        setup_crm()
        form = create_form()
        with set_config('web', 'hostname', 'crm.pruebas.test'):
            self.assertIn('action="https://crm.pruebas.test/%s/crm/web-form/'
                % quote(DB_NAME), Form(form.id).snippet)

    @with_transaction()
    def test_token_unique_and_regenerated(self):
        pool = Pool()
        Form = pool.get('crm.web.form')
        setup_crm()
        form1 = create_form("Uno")
        form2 = create_form("Dos")
        self.assertNotEqual(form1.token, form2.token)

        token = form1.token
        Form.regenerate_token([form1])
        self.assertNotEqual(Form(form1.id).token, token)
        self.assertIsNone(Form.get_active(token))
        self.assertEqual(Form.get_active(Form(form1.id).token), form1)

        copy, = Form.copy([form2])
        self.assertNotEqual(copy.token, form2.token)
        self.assertEqual(len(copy.lines), len(form2.lines))

        with self.assertRaises(UserError):
            Form.write([copy], {'token': form2.token})

    @with_transaction()
    def test_inactive_form_is_not_found(self):
        pool = Pool()
        Form = pool.get('crm.web.form')
        setup_crm()
        form = create_form()
        form.active = False
        form.save()
        self.assertIsNone(Form.get_active(form.token))

    @with_transaction()
    def test_thank_you_url_validated(self):
        setup_crm()
        for url in ['https://www.pruebas.test/gracias', 'http://a.test']:
            create_form(url, thank_you_url=url)
        create_form("No URL", thank_you_url=None)
        for url in ['javascript:alert(1)', 'ftp://pruebas.test/',
                'www.pruebas.test', 'https:///gracias',
                'https://pruebas .test/']:
            with self.subTest(url=url), self.assertRaises(UserError):
                create_form(url, thank_you_url=url)

    @with_transaction()
    def test_field_asked_once(self):
        setup_crm()
        with self.assertRaises(UserError):
            create_form(lines=[('lead_email', True), ('lead_email', False)])

    @with_transaction()
    def test_rep_reads_lead_form(self):
        "A rep reads which form a lead came from, and cannot edit forms"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Form = pool.get('crm.web.form')
        crm = setup_crm()
        form = create_form()
        with Transaction().set_context(company=crm.company.id):
            (_, lead), = Opportunity.capture_leads([{
                        'lead_email': 'ana@rep.test', 'web_form': form.id}])
            Opportunity.write([lead], {'owner': crm.rep.id})
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(
                    company=crm.company.id, _check_access=True):
            values, = Opportunity.read(
                [lead.id], ['web_form', 'web_form.rec_name'])
            self.assertEqual(values['web_form.']['rec_name'], "Contacto web")
            with self.assertRaises(UserError):
                Form.write([Form(form.id)], {'name': "Hacked"})


class WebFormRouteTestCase(CrmRouteTestCase):
    "The public endpoint a website posts to"
    module = 'crm_kit_lead'

    @classmethod
    def setUpDatabase(cls):
        crm = setup_crm()
        cls.company = crm.company.id
        form = create_form()
        cls.form, cls.token = form.id, form.token
        bare = create_form("Sin página", thank_you_url=None, lines=[
                ('lead_email', True), ('description', False)])
        cls.bare_token = bare.token
        # A second company with a form of its own.
        pool = Pool()
        Company = pool.get('company.company')
        Party = pool.get('party.party')
        other = Company(party=Party(name="Segunda Empresa S.L."),
            currency=crm.company.currency)
        other.party.save()
        other.save()
        cls.other_company = other.id
        cls.other_token = create_form(
            "Contacto segunda", company=other.id).token
        Transaction().commit()

    def url(self, token=None):
        return f'/{DB_NAME}/crm/web-form/{token or self.token}'

    def post(self, data=None, token=None, ip=None, **kwargs):
        "Post from an address of this test alone (the limit is per address)"
        ip = ip or '10.1.%s.%s' % divmod(
            sum(map(ord, self.id())) % 65000, 250)
        return self.client().post(
            self.url(token), data=data,
            environ_base={'REMOTE_ADDR': ip}, **kwargs)

    def visitor(self, email, **values):
        data = {
            'lead_name': "Ana Gómez",
            'lead_email': email,
            'consent': 'on',
            'website_url': '',
            }
        data.update(values)
        return {k: v for k, v in data.items() if v is not None}

    def leads(self, email):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        return Opportunity.search([('lead_email', '=', email)])

    def submissions(self, **domain):
        pool = Pool()
        Submission = pool.get('crm.web.form.submission')
        return Submission.search(
            [(k, '=', v) for k, v in domain.items()])

    def test_form_post_creates_lead_and_redirects(self):
        response = self.post(self.visitor(
                'ana@form.test', lead_country='ES', amount='1500,50',
                lead_phone='+34 699 11 22 33'))
        self.assertEqual(response.status_code, 303, response.text)
        self.assertEqual(response.headers['Location'], THANKS)
        with Transaction().start(DB_NAME, 0):
            lead, = self.leads('ana@form.test')
            self.assertEqual(lead.state, 'lead')
            self.assertEqual(lead.lead_name, "Ana Gómez")
            self.assertEqual(lead.lead_country.code, 'ES')
            self.assertEqual(lead.phone_key, '+34699112233')
            self.assertEqual(lead.amount, Decimal('1500.50'))
            self.assertEqual(lead.web_form.id, self.form)
            self.assertEqual(lead.channel.code, 'web')
            self.assertEqual(lead.pipeline, lead.web_form.pipeline)
            self.assertEqual(lead.company.id, self.company)
            self.assertTrue(lead.consent)
            self.assertEqual(lead.consent_text, lead.web_form.consent_text)
            self.assertTrue(lead.consent_date)
            self.assertEqual(lead.description, "Web form: Contacto web")
            submission, = self.submissions(lead=lead.id)
            self.assertEqual(submission.status, 'accepted')
            self.assertEqual(submission.result, 'created')
            self.assertEqual(len(submission.ip_hash), 64)

    def test_form_of_another_company(self):
        "A form's leads go to its company, not to the first one"
        response = self.post(
            self.visitor('ana@segunda.test'), token=self.other_token)
        self.assertEqual(response.status_code, 303, response.text)
        with Transaction().start(DB_NAME, 0):
            lead, = self.leads('ana@segunda.test')
            self.assertEqual(lead.company.id, self.other_company)
            self.assertEqual(lead.web_form.company.id, self.other_company)

    def test_multipart_post(self):
        response = self.post(
            self.visitor('ana@multipart.test'),
            content_type='multipart/form-data')
        self.assertEqual(response.status_code, 303, response.text)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(len(self.leads('ana@multipart.test')), 1)

    def test_json_post(self):
        response = self.post(json=self.visitor(
                'ana@json.test', consent=True, amount=250))
        self.assertEqual(response.status_code, 201, response.text)
        self.assertEqual(response.json['status'], 'created')
        self.assertEqual(
            response.headers['Access-Control-Allow-Origin'], '*')
        with Transaction().start(DB_NAME, 0):
            lead, = self.leads('ana@json.test')
            self.assertEqual(response.json['id'], lead.id)
            self.assertEqual(lead.amount, Decimal('250'))

    def test_without_thank_you_url(self):
        "Without a thank-you URL the visitor reads a thank-you page"
        response = self.post(
            {'lead_email': 'ana@bare.test', 'consent': '1',
                'description': "Quiero una demo"}, token=self.bare_token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn("Thank you", response.text)
        with Transaction().start(DB_NAME, 0):
            lead, = self.leads('ana@bare.test')
            self.assertEqual(lead.description, "Quiero una demo")

    def test_honeypot(self):
        "A bot filling the hidden field is told yes and nothing is created"
        response = self.post(self.visitor(
                'bot@spam.test', website_url='http://spam.test'))
        self.assertEqual(response.status_code, 303)
        self.assertEqual(response.headers['Location'], THANKS)
        response = self.post(json=self.visitor(
                'bot@spam.test', website_url='http://spam.test'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json, {'status': 'received'})
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.leads('bot@spam.test'), [])
            self.assertEqual(len(self.submissions(
                        form=self.form, status='spam')), 2)

    def test_rate_limit(self):
        in_transaction(configure, web_form_rate_limit=3)
        try:
            for i in range(3):
                response = self.post(
                    self.visitor(f'ana{i}@limit.test'), ip='10.9.9.9')
                self.assertEqual(response.status_code, 303, response.text)
            response = self.post(
                json=self.visitor('ana3@limit.test'), ip='10.9.9.9')
            self.assertEqual(response.status_code, 429)
            self.assertIn("Too many", response.json['message'])
            self.assertEqual(response.headers['Retry-After'], '3600')
            # Another address is not limited.
            response = self.post(
                self.visitor('ana3@limit.test'), ip='10.9.9.8')
            self.assertEqual(response.status_code, 303, response.text)
        finally:
            in_transaction(configure, web_form_rate_limit=20)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(len(self.leads('ana3@limit.test')), 1)

    def test_rate_limit_counts_the_honeypot(self):
        "A bot filling the honeypot is limited as anyone: 3 rows, not 30"
        with Transaction().start(DB_NAME, 0):
            before = len(self.submissions(form=self.form, status='spam'))
        in_transaction(configure, web_form_rate_limit=3)
        try:
            statuses = [self.post(json=self.visitor(
                        'bot@limit.test', website_url='http://spam.test'),
                    ip='10.9.9.7').status_code for _ in range(30)]
        finally:
            in_transaction(configure, web_form_rate_limit=20)
        self.assertEqual(statuses, [200] * 3 + [429] * 27)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(len(self.submissions(
                        form=self.form, status='spam')), before + 3)

    def test_missing_consent_and_fields(self):
        response = self.post(json=self.visitor(
                'ana@consent.test', consent=None, lead_name=''))
        self.assertEqual(response.status_code, 400)
        errors = response.json['errors']
        self.assertIn("accept the privacy terms", errors[0])
        self.assertEqual(errors[1], "Please fill in: Contact Name.")

        response = self.post(self.visitor('ana@consent.test', consent='no'))
        self.assertEqual(response.status_code, 400)
        self.assertIn('text/html', response.headers['Content-Type'])
        self.assertIn("accept the privacy terms", response.text)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.leads('ana@consent.test'), [])
            self.assertEqual(len(self.submissions(
                        form=self.form, status='rejected',
                        reason=errors[0] + ' ' + errors[1])), 1)

    def test_malformed_values(self):
        "The lead model's own checks answer a malformed e-mail"
        response = self.post(json=self.visitor('ana(at)malformed.test'))
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("ana(at)malformed.test", response.json['message'])

        response = self.post(json=self.visitor(
                'ana@malformed.test', lead_phone="12"))
        self.assertEqual(response.status_code, 400, response.text)

        response = self.post(json=self.visitor(
                'ana@malformed.test', amount="mucho", lead_country="Atlantis"))
        self.assertEqual(response.status_code, 400, response.text)
        self.assertEqual(len(response.json['errors']), 2)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.leads('ana(at)malformed.test'), [])
            self.assertEqual(self.leads('ana@malformed.test'), [])

    def test_duplicate_policies(self):
        "The duplicate policy applies; another lead's id is never shown"
        email = 'ana@duplicate.test'
        response = self.post(json=self.visitor(email))
        self.assertEqual(response.status_code, 201, response.text)
        first = response.json['id']

        # Policy warn: created and flagged, told as created.
        response = self.post(json=self.visitor(email.upper()))
        self.assertEqual(response.status_code, 201, response.text)
        self.assertEqual(response.json['status'], 'created')
        self.assertNotEqual(response.json['id'], first)

        for policy in ['skip', 'update']:
            in_transaction(configure, duplicate_action=policy)
            try:
                response = self.post(json=self.visitor(
                        email, lead_company="Gómez S.L."))
            finally:
                in_transaction(configure, duplicate_action='warn')
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json, {'status': 'received'})
        with Transaction().start(DB_NAME, 0):
            # Stored as every entry stores e-mails: the domain lowercase.
            leads = self.leads(email) + self.leads('ANA@duplicate.test')
            self.assertEqual(len(leads), 2)
            results = [s.result for s in self.submissions(
                    form=self.form, status='accepted')
                if s.lead in leads]
            self.assertEqual(
                sorted(results), ['created', 'flagged', 'skipped', 'updated'])

    def test_unknown_token(self):
        response = self.post(self.visitor('ana@unknown.test'), token='nope')
        self.assertEqual(response.status_code, 404)
        self.assertIn("does not exist", response.text)
        response = self.post(
            json=self.visitor('ana@unknown.test'), token='nope')
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json['status'], 404)

    def test_preflight(self):
        "A website's fetch() may post JSON from another origin"
        response = self.client().options(self.url(), headers={
                'Access-Control-Request-Method': 'POST',
                'Access-Control-Request-Headers': 'content-type',
                })
        self.assertEqual(response.status_code, 204)
        self.assertEqual(
            response.headers['Access-Control-Allow-Origin'], '*')
        self.assertIn('POST', response.headers['Access-Control-Allow-Methods'])
        self.assertIn(
            'Content-Type', response.headers['Access-Control-Allow-Headers'])

        # crm-kit's WSGI setup lets any website post to a form, listed in
        # [web] cors or not (bare trytond refuses the unlisted ones before
        # any route runs).
        origin = 'https://www.pruebas.test'
        response = self.client().options(self.url(), headers={
                'Origin': origin,
                'Access-Control-Request-Method': 'POST',
                'Access-Control-Request-Headers': 'content-type',
                })
        self.assertEqual(response.status_code, 204)
        self.assertEqual(
            response.headers['Access-Control-Allow-Origin'], '*')
        response = self.post(
            json=self.visitor('ana@cors.test'), headers={'Origin': origin})
        self.assertEqual(response.status_code, 201, response.text)

    def test_body_too_large(self):
        response = self.post(self.visitor(
                'ana@large.test', description='x' * (65 * 1024)))
        self.assertEqual(response.status_code, 413)
        response = self.post(json=self.visitor(
                'ana@large.test', description='x' * (65 * 1024)))
        self.assertEqual(response.status_code, 413)
        self.assertIn("too large", response.json['message'])
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.leads('ana@large.test'), [])

    def test_bad_body(self):
        response = self.post(
            data='{not json', content_type='application/json')
        self.assertEqual(response.status_code, 400)
        response = self.post(data='hello', content_type='text/plain')
        self.assertEqual(response.status_code, 400)

    def test_language(self):
        "The consent is stored in the language posted"
        def set_spanish(translatable):
            pool = Pool()
            Form = pool.get('crm.web.form')
            Lang = pool.get('ir.lang')
            spanish, = Lang.search([('code', '=', 'es')])
            Lang.write([spanish], {'translatable': translatable})
            if translatable:
                with Transaction().set_context(language='es'):
                    Form.write([Form(self.form)], {
                            'consent_text':
                            "Acepto la política de privacidad.",
                            })
        in_transaction(set_spanish, True)
        self.addCleanup(in_transaction, set_spanish, False)
        response = self.post(self.visitor('ana@lang.test', lang='es'))
        self.assertEqual(response.status_code, 303, response.text)
        response = self.post(
            self.visitor('ana@lang-en.test', consent=None),
            headers={'Accept-Language': 'es-ES,es;q=0.9'})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn('lang="es"', response.text)
        with Transaction().start(DB_NAME, 0):
            lead, = self.leads('ana@lang.test')
            self.assertEqual(
                lead.consent_text, "Acepto la política de privacidad.")
            self.assertEqual(lead.lead_language.code, 'es')


