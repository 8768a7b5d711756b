# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Upload links through real HTTP requests to trytond's WSGI app: the
customer's page, files arriving linked and notified, and every way a link
or a post is refused storing nothing; documents through REST by role."""
import base64
import datetime as dt
import io
from urllib.parse import quote

from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, with_transaction
from trytond.transaction import Transaction

from crm_kit.tests.tools import api_key

from .tools import (
    EXE, HTML, PDF, PNG, SCRIPT_PDF, CrmRouteTestCase, DocumentTestCase, create_document,
    create_opportunity, docx, in_transaction, load_spanish, setup_crm)


def create_link(crm, opportunity=None, party=None, **values):
    pool = Pool()
    UploadLink = pool.get('crm.upload.link')
    with Transaction().set_user(crm.rep.id), \
            Transaction().set_context(company=crm.company.id):
        link = UploadLink(party=party or crm.customer,
            opportunity=opportunity, **values)
        link.on_change_party()
        link.save()
    return link


class UploadLinkTestCase(DocumentTestCase):

    @with_transaction()
    def test_link_defaults_and_email(self):
        pool = Pool()
        UploadLink = pool.get('crm.upload.link')
        Email = pool.get('ir.email')
        Date = pool.get('ir.date')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        with Transaction().set_user(crm.rep.id), Transaction().set_context(
                company=crm.company.id,
                crm_upload_opportunity=opportunity.id):
            self.assertEqual(UploadLink.default_party(), crm.customer.id)
            self.assertEqual(UploadLink.default_email(), crm.customer.email)
        link = create_link(crm, opportunity)
        # The company's today: in Madrid the day starts before it does in
        # UTC.
        with Transaction().set_context(company=crm.company.id):
            today = Date.today()
        self.assertEqual(link.expiry_date, today + dt.timedelta(days=14))
        self.assertEqual(len(link.token), 43)
        self.assertIn(
            f'/{quote(DB_NAME)}/crm/upload/{link.token}', link.url)
        self.assertEqual(link.state, 'active')

        UploadLink.send([link])
        email, = Email.search([])
        self.assertEqual(email.recipients, crm.customer.email)
        self.assertIn(link.token, email.body)
        self.assertEqual(email.resource, opportunity)

        UploadLink.revoke([link])
        self.assertEqual(UploadLink(link.id).state, 'revoked')
        with self.assertRaises(ValidationError):
            UploadLink.send([link])

    @with_transaction()
    def test_link_of_another_customers_opportunity_refused(self):
        pool = Pool()
        Party = pool.get('party.party')
        crm = setup_crm()
        other = Party(name="Otra")
        other.save()
        opportunity = create_opportunity(crm)
        with self.assertRaises(ValidationError) as cm:
            create_link(crm, opportunity, party=other)
        self.assertIn("Opportunity", cm.exception.message)


class UploadPageTestCase(CrmRouteTestCase):
    "The customer's page, as a browser or a script posts to it"
    module = 'crm_kit_document'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        Date = pool.get('ir.date')
        User = pool.get('res.user')
        crm = setup_crm()
        User.write([crm.rep], {'password': cls.password})
        load_spanish('crm_kit_document')
        opportunity = create_opportunity(crm)
        cls.company = crm.company.id
        cls.opportunity = opportunity.id
        cls.rep = crm.rep.id
        link = create_link(crm, opportunity)
        cls.token, cls.token_expiry = link.token, link.expiry_date
        cls.two = create_link(crm, opportunity, max_files=2).token
        cls.expired = create_link(crm, opportunity,
            expiry_date=Date.today() - dt.timedelta(days=1)).token
        revoked = create_link(crm)
        revoked.revoked = True
        revoked.save()
        cls.revoked = revoked.token
        # For REST: one document of the rep, one of another team.
        cls.mine = create_document(crm.rep, crm.company, links=[
                {'opportunity': opportunity.id}]).id
        other = create_opportunity(crm, owner=crm.outsider)
        cls.other_opportunity = other.id
        cls.others = create_document(crm.outsider, crm.company, data=PNG,
            file_name='otro.png', links=[{'opportunity': other.id}]).id
        keys = {}
        for user in [crm.rep, crm.manager, crm.admin]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            keys[user.login] = api_key(application)
        cls.keys = keys
        Transaction().commit()

    def url(self, token, lang=None):
        return f'/{DB_NAME}/crm/upload/{token}' + (
            f'?lang={lang}' if lang else '')

    def upload(self, token, *files, lang='en', **kwargs):
        data = {'files': [(io.BytesIO(d), name) for name, d in files]}
        return self.client().post(self.url(token, lang), data=data,
            content_type='multipart/form-data', **kwargs)

    def documents(self, token):
        "The documents received through the link of token"
        pool = Pool()
        Document = pool.get('crm.document')
        return Document.search([('upload_link.token', '=', token)],
            order=[('id', 'ASC')])

    def test_page_in_both_languages(self):
        response = self.client().get(self.url(self.token, 'en'))
        self.assertEqual(response.status_code, 200)
        self.assertIn('Send your documents to', response.text)
        self.assertIn('type="file"', response.text)
        self.assertIn('width=device-width', response.text)
        self.assertEqual(response.headers['Cache-Control'], 'no-store')
        self.assertEqual(response.headers['Referrer-Policy'], 'same-origin')
        response = self.client().get(self.url(self.token),
            headers={'Accept-Language': 'es-ES,es;q=0.9'})
        self.assertIn('lang="es"', response.text)
        self.assertIn('Enviar', response.text)

    def test_dates_and_sizes_as_people_write_them(self):
        "dd/mm/yyyy and 25 MB in Spanish, not 2026-12-16 and 25.0 MB"
        expiry = self.token_expiry
        response = self.client().get(self.url(self.token, 'es'))
        self.assertEqual(response.status_code, 200)
        self.assertIn(
            'Cada archivo puede ocupar hasta 25 MB. Este enlace funciona '
            'hasta el %s.' % expiry.strftime('%d/%m/%Y'), response.text)
        self.assertNotIn(expiry.isoformat(), response.text)
        response = self.client().get(self.url(self.token, 'en'))
        self.assertIn('Each file may have up to 25 MB. This link works '
            'until %s.' % expiry.strftime('%m/%d/%Y'), response.text)

    def test_upload_stores_links_and_notifies(self):
        # Files of their own (the others' tests link theirs to the same
        # opportunity).
        pdf, png = PDF.replace(b'1.4', b'1.6'), PNG + b'plano'
        # (A browser that hides the referrer posts with "Origin: null".)
        response = self.upload(self.token, ('presupuesto firmado.pdf', pdf),
            ('../../plano.png', png), headers={'Origin': 'null'})
        self.assertEqual(response.status_code, 201, response.text)
        self.assertIn('presupuesto firmado.pdf', response.text)
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Notification = pool.get('res.notification')
            documents = self.documents(self.token)
            self.assertEqual([d.file_name for d in documents],
                ['presupuesto firmado.pdf', 'plano.png'])
            for document in documents:
                self.assertEqual(
                    [l.opportunity.id for l in document.links],
                    [self.opportunity])
                self.assertEqual(document.owner.id, self.rep)
                self.assertEqual(document.upload_link.token, self.token)
            notification, = Notification.search([('user', '=', self.rep)],
                order=[('id', 'DESC')], limit=1)
            self.assertIn('presupuesto firmado.pdf',
                notification.description)

        # The same file again is linked, not stored twice.
        response = self.upload(self.token, ('copia.pdf', pdf))
        self.assertEqual(response.status_code, 201, response.text)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(len(self.documents(self.token)), 2)

    def test_refused_links_store_nothing(self):
        for token, status, text in [
                (self.expired, 410, 'expired'),
                (self.revoked, 410, 'cancelled'),
                ('no-such-token', 404, 'does not exist'),
                ]:
            with self.subTest(token=token):
                response = self.client().get(self.url(token, 'en'))
                self.assertEqual(response.status_code, status)
                self.assertIn(text, response.text)
                response = self.upload(token, ('a.pdf', PDF))
                self.assertEqual(response.status_code, status)
        response = self.client().get(self.url(self.expired, 'es'))
        self.assertIn('caducado', response.text)
        with Transaction().start(DB_NAME, 0):
            for token in [self.expired, self.revoked]:
                self.assertEqual(self.documents(token), [])

    def test_refused_files_store_nothing(self):
        # One bad file refuses the whole post.
        response = self.upload(self.two, ('ok.pdf', PDF),
            ('factura.pdf', EXE))
        self.assertEqual(response.status_code, 415)
        self.assertIn('factura.pdf', response.text)
        response = self.upload(self.two, ('foto.pdf', PNG))
        self.assertEqual(response.status_code, 415)
        response = self.upload(self.two)
        self.assertEqual(response.status_code, 400)
        # Over the link's limit.
        response = self.upload(self.two, ('a.pdf', PDF), ('b.png', PNG),
            ('c.docx', docx()))
        self.assertEqual(response.status_code, 409)
        # An interrupted post (the body shorter than announced).
        body = (b'--x\r\nContent-Disposition: form-data; name="files"; '
            b'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            + PDF[:20])
        response = self.client().post(self.url(self.two, 'en'), data=body,
            content_type='multipart/form-data; boundary=x',
            headers={'Content-Length': str(len(body) + 5000)})
        self.assertIn(response.status_code, {400, 413})
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.documents(self.two), [])

        # Within the limit, and then the link is full.
        response = self.upload(self.two,
            ('a.pdf', PDF.replace(b'1.4', b'1.5')), ('b.png', PNG))
        self.assertEqual(response.status_code, 201, response.text)
        response = self.client().get(self.url(self.two, 'en'))
        self.assertEqual(response.status_code, 409)
        self.assertIn('All the files', response.text)

    def test_active_content_refused(self):
        "A web page or a PDF with JavaScript, through every door"
        for name, data in [('oferta.html', HTML), ('oferta.pdf', SCRIPT_PDF)]:
            with self.subTest(name=name):
                response = self.upload(self.token, (name, data), lang='es')
                self.assertEqual(response.status_code, 415, response.text)
                self.assertIn(name, response.text)
                self.assertIn('no se aceptan', response.text)
                response = self.rest('post', 'crm.document',
                    self.keys['rep'], self.company, json={
                        'name': "Oferta", 'file_name': name,
                        'data': {'__class__': 'bytes',
                            'base64': base64.b64encode(data).decode()},
                        'links': [['create', [
                                    {'opportunity': self.opportunity}]]],
                        })
                self.assertEqual(response.status_code, 400, response.text)
                self.assertIn(name, response.json['message'])
                result = self.rpc('rep', 'model.ir.attachment.create', [{
                            'name': name, 'resource':
                            f'sale.opportunity,{self.opportunity}',
                            'data': {'__class__': 'bytes',
                                'base64': base64.b64encode(data).decode()},
                            }], company=self.company)
                self.assertEqual(result[0], 'error')
                self.assertIn(name, result[1])
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(self.documents(self.token), [])
            Document = Pool().get('crm.document')
            Attachment = Pool().get('ir.attachment')
            self.assertFalse(Document.search(
                    [('file_name', 'like', 'oferta.%')]))
            self.assertFalse(Attachment.search(
                    [('name', 'like', 'oferta.%')]))

    def set_max_size(self, size):
        def write():
            Configuration = Pool().get('crm.document.configuration')
            Configuration.write([Configuration(1)], {'max_size': size})
        in_transaction(write, user=0)

    def test_too_large(self):
        self.set_max_size(1)
        try:
            big = PDF + b'0' * (1024 * 1024 + 10)
            response = self.upload(self.token, ('big.pdf', big))
            self.assertEqual(response.status_code, 413)
            self.assertIn('1 MB', response.text)
        finally:
            self.set_max_size(25)

    def test_too_large_while_streaming(self):
        "A chunked post has no length: its size is counted as it streams"
        self.set_max_size(1)
        try:
            body = (b'--x\r\nContent-Disposition: form-data; name="files"; '
                b'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
                + PDF + b'0' * (3 * 1024 * 1024) + b'\r\n--x--\r\n')
            read = []

            class Stream(io.BytesIO):
                def read(self, *args):
                    data = super().read(*args)
                    read.append(len(data))
                    return data

                def readinto(self, buffer):
                    count = super().readinto(buffer)
                    read.append(count)
                    return count
            # A link of 2 files of at most 1 MB.
            token = in_transaction(
                lambda: create_link(setup_crm(), max_files=2).token)
            response = self.client().post(self.url(token, 'en'),
                input_stream=Stream(body),
                content_type='multipart/form-data; boundary=x',
                headers={'Transfer-Encoding': 'chunked'},
                environ_overrides={'wsgi.input_terminated': True})
            self.assertEqual(response.status_code, 413, response.text)
            self.assertIn('1 MB', response.text)
            self.assertLess(sum(read), 2.5 * 1024 * 1024)
            with Transaction().start(DB_NAME, 0):
                self.assertEqual(self.documents(token), [])
        finally:
            self.set_max_size(25)

    def test_documents_through_rest(self):
        def ids(login):
            response = self.rest('get', 'crm.document', self.keys[login],
                self.company, query_string={'f': ['name', 'type_label']})
            self.assertEqual(response.status_code, 200, response.text)
            return {r['id'] for r in response.json}
        self.assertIn(self.mine, ids('rep'))
        self.assertNotIn(self.others, ids('rep'))
        self.assertNotIn(self.others, ids('manager'))
        self.assertTrue({self.mine, self.others} <= ids('admin'))
        response = self.rest('get', f'crm.document/{self.others}',
            self.keys['rep'], self.company, query_string={'f': ['name']})
        self.assertGreaterEqual(response.status_code, 400)
        self.assertLess(response.status_code, 500)

        # An integrator stores a file on the rep's opportunity.
        pdf = PDF.replace(b'1.4', b'1.3')
        response = self.rest('post', 'crm.document', self.keys['rep'],
            self.company, json={
                'name': "Pedido", 'file_name': 'pedido.pdf',
                'data': {'__class__': 'bytes',
                    'base64': base64.b64encode(pdf).decode()},
                'links': [['create', [{'opportunity': self.opportunity}]]],
                }, query_string={'f': ['file_type', 'size', 'customers']})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json['file_type'], 'application/pdf')
        self.assertEqual(response.json['size'], len(pdf))
        # A file of a type not allowed: a clear 4xx.
        response = self.rest('post', 'crm.document', self.keys['rep'],
            self.company, json={
                'name': "Programa", 'file_name': 'programa.pdf',
                'data': {'__class__': 'bytes',
                    'base64': base64.b64encode(EXE).decode()},
                })
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn('programa.pdf', response.text)

    def test_no_link_to_another_reps_deal(self):
        "Documents and upload links go on deals the user may read alone"
        with Transaction().start(DB_NAME, 0):
            customer = setup_crm().customer.id
        for opportunity, status in [
                (self.other_opportunity, 403), (self.opportunity, 200)]:
            with self.subTest(opportunity=opportunity):
                response = self.rest('post', 'crm.document',
                    self.keys['rep'], self.company, json={
                        'name': "Nota", 'file_name': 'nota.pdf',
                        'data': {'__class__': 'bytes',
                            'base64': base64.b64encode(PDF.replace(
                                        b'1.4', b'1.2')).decode()},
                        'links': [['create', [
                                    {'opportunity': opportunity}]]],
                        })
                self.assertEqual(response.status_code, status, response.text)
                response = self.rest('post', 'crm.upload.link',
                    self.keys['rep'], self.company, json={
                        'party': customer, 'opportunity': opportunity,
                        'owner': self.rep, 'company': self.company,
                        })
                self.assertEqual(response.status_code, status, response.text)
        response = self.rest('post', 'crm.upload.link',
            self.keys['rep'], self.company, json={
                'party': customer, 'opportunity': self.other_opportunity,
                'owner': self.rep, 'company': self.company})
        self.assertIn("may not see", response.text)
