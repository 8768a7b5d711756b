# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The document library: versions, links to several records, the
customer's documents in one place, files checked by content, the same file
detected, access by role, expiry notices."""
import datetime as dt
import io
import zipfile

from trytond.exceptions import UserWarning
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from crm_kit_activity.tests.tools import create_activity

from ..content import active_content, detect_type, safe_file_name
from .tools import (
    EXE, HTML, PDF, PNG, SCRIPT_PDF, DocumentTestCase, create_document,
    create_opportunity, docx, load_spanish, setup_crm)


class LibraryTestCase(DocumentTestCase):

    @with_transaction()
    def test_new_file_keeps_previous_version(self):
        pool = Pool()
        Document = pool.get('crm.document')
        crm = setup_crm()
        document = create_document(crm.rep, crm.company)
        self.assertEqual(document.version, 1)
        self.assertEqual(document.file_type, 'application/pdf')
        self.assertEqual(document.size, len(PDF))

        second = PDF.replace(b'1.4', b'1.7')
        with Transaction().set_user(crm.rep.id):
            Document.write([document], {
                    'data': second, 'file_name': 'contrato v2.pdf'})
        document = Document(document.id)
        self.assertEqual(document.version, 2)
        self.assertEqual(document.data, second)
        self.assertEqual([(v.number, v.file_name, v.data)
                for v in document.versions], [
                (2, 'contrato v2.pdf', second),
                (1, 'contrato.pdf', PDF)])

        # The same file again is no new version.
        with Transaction().set_user(crm.rep.id):
            Document.write([document], {'data': second})
        self.assertEqual(Document(document.id).version, 2)

        # A copy starts from the current file.
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(_skip_warnings=True):
            copy, = Document.copy([document])
        self.assertEqual((copy.version, copy.data, len(copy.versions)),
            (1, second, 1))

        # A file document keeps a file.
        with self.assertRaises(ValidationError):
            Document.write([document], {'data': None})

    @with_transaction()
    def test_one_document_on_several_records(self):
        pool = Pool()
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        Document = pool.get('crm.document')
        History = pool.get('crm.customer.history')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        activity = create_activity(crm, opportunity=opportunity)
        contract = create_document(crm.rep, crm.company, links=[
                {'opportunity': opportunity.id},
                {'activity': activity.id},
                ])
        offer = create_document(crm.rep, crm.company, data=PNG,
            file_name='plano.png', links=[{'party': crm.customer.id}])
        other = Party(name="Otro cliente")
        other.save()
        create_document(crm.rep, crm.company, data=docx(),
            file_name='otro.docx', links=[{'party': other.id}])

        self.assertEqual(Opportunity(opportunity.id).crm_documents,
            (contract,))
        self.assertEqual(Party(crm.customer.id).crm_documents, (offer,))
        # The customer's tab has its documents and its records' ones.
        self.assertEqual(
            sorted(d.id for d in Party(crm.customer.id).crm_all_documents),
            sorted([contract.id, offer.id]))
        self.assertEqual(Document(contract.id).customers, (crm.customer,))
        self.assertEqual(Document(contract.id).customer_names,
            crm.customer.rec_name)
        self.assertEqual(Document.search(
                [('customer_names', 'ilike', '%otro cliente%')]),
            Document.search([('file_name', '=', 'otro.docx')]))
        self.assertEqual(Document.search(
                [('customers', '=', crm.customer.id)], order=[('id', 'ASC')]),
            [contract, offer])
        self.assertEqual(
            Document.search([('file_type', '=', 'image/png')]), [offer])
        self.assertEqual(
            Document.search([('type_label', 'ilike', '%png%')]), [offer])
        self.assertEqual(
            Document.search([('type_label', '=', 'Word')]),
            Document.search([('file_name', '=', 'otro.docx')]))
        self.assertEqual(Party(crm.customer.id).crm_document_count, 1)

        # The customer's history shows each document once.
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            events = History.search([
                    ('party', '=', crm.customer.id),
                    ('kind', '=', 'document')])
            self.assertEqual(sorted(e.document.id for e in events),
                sorted([contract.id, offer.id]))

        # A link names exactly one record (last: a refused write rolls the
        # transaction back).
        with self.assertRaises(ValidationError):
            Document.write([offer], {'links': [('create', [{
                                'party': crm.customer.id,
                                'opportunity': opportunity.id}])]})

    @with_transaction()
    def test_type_read_from_content(self):
        self.assertEqual(detect_type(PDF, 'a.pdf'), 'application/pdf')
        self.assertEqual(detect_type(PNG, 'a.pdf'), 'image/png')
        self.assertEqual(detect_type(docx(), 'a.docx'),
            'application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document')
        self.assertEqual(detect_type(b'name;email\nA;a@b.es\n', 'x.csv'),
            'text/csv')
        self.assertEqual(detect_type(EXE, 'x.pdf'),
            'application/octet-stream')

    def test_active_content_detected(self):
        "What runs code when opened, by its content or by its name"
        import zlib
        active = lambda data, name: active_content(
            data, name, detect_type(data, name))
        self.assertEqual(detect_type(HTML, 'a.txt'), 'text/html')
        self.assertEqual(detect_type(
                b'\xef\xbb\xbf <?xml version="1.0"?><svg onload="x()"/>',
                'plano.png'), 'image/svg+xml')
        self.assertEqual(detect_type(b'<?xml version="1.0"?><a/>', 'a.txt'),
            'application/xml')
        self.assertEqual(detect_type(b'Hola <b>Ana</b>', 'a.txt'),
            'text/plain')
        for data, name in [
                (HTML, 'nota.txt'),
                # Text that sao would open as a web page, by its name.
                (b'hola', 'nota.html'), (b'hola', 'plano.svg'),
                (b'alert(1)', 'a.js')]:
            with self.subTest(name=name):
                self.assertEqual(active(data, name),
                    'crm_kit_document.msg_file_active_markup')
        self.assertEqual(active(SCRIPT_PDF, 'a.pdf'),
            'crm_kit_document.msg_file_active_pdf')
        # A name written with #xx escapes, and in a compressed object
        # stream.
        self.assertEqual(active(SCRIPT_PDF.replace(
                    b'/JavaScript/JS', b'/J#61vaScript/J#53'), 'a.pdf'),
            'crm_kit_document.msg_file_active_pdf')
        hidden = zlib.compress(b'4 0 <</S/Launch/F(cmd.exe)>>')
        object_stream = (PDF.replace(b'%%EOF', b'')
            + b'3 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode'
            b'/Length %d>>stream\n' % len(hidden) + hidden
            + b'\nendstream\nendobj\n%%EOF\n')
        self.assertEqual(active(object_stream, 'a.pdf'),
            'crm_kit_document.msg_file_active_pdf')
        # Opening at a page is fine, and so is "/JS" inside an image's
        # data.
        image = b'\x00\x01/JS \xff' * 10
        benign = (PDF.replace(b'/Pages 2 0 R>>', b'/Pages 2 0 R'
                b'/OpenAction[2 0 R/Fit]>>').replace(b'%%EOF', b'')
            + b'4 0 obj<</Type/XObject/Subtype/Image/Length %d>>stream\n'
            % len(image) + image + b'\nendstream\nendobj\n%%EOF\n')
        self.assertIsNone(active(benign, 'a.pdf'))
        self.assertIsNone(active(PDF, 'a.pdf'))
        self.assertIsNone(active(docx(), 'a.docx'))
        # Macros in Word and in an OpenDocument.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('[Content_Types].xml', '<Types/>')
            archive.writestr('word/document.xml', '<w:document/>')
            archive.writestr('word/vbaProject.bin', b'\xd0\xcf')
        self.assertEqual(active(buffer.getvalue(), 'a.docx'),
            'crm_kit_document.msg_file_active_macros')
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('mimetype',
                'application/vnd.oasis.opendocument.text')
            archive.writestr('Basic/Standard/Module1.xml', '<module/>')
        self.assertEqual(active(buffer.getvalue(), 'a.odt'),
            'crm_kit_document.msg_file_active_macros')

    @with_transaction()
    def test_active_content_refused(self):
        "In documents and attachments, whatever the configuration"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Configuration = pool.get('crm.document.configuration')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        for data, name in [(HTML, 'oferta.html'), (SCRIPT_PDF, 'oferta.pdf'),
                (HTML, 'oferta.txt')]:
            with self.subTest(name=name):
                with self.assertRaises(ValidationError) as cm:
                    create_document(crm.rep, crm.company, data=data,
                        file_name=name)
                self.assertIn(name, cm.exception.message)
                with Transaction().set_user(crm.rep.id), check_access(), \
                        self.assertRaises(ValidationError):
                    Attachment.create([{'name': name, 'data': data,
                                'resource': str(opportunity)}])
        # Renaming an attachment to a web page.
        with Transaction().set_user(crm.rep.id), check_access():
            attachment, = Attachment.create([{'name': 'nota.txt',
                        'data': b'<b>hola</b>',
                        'resource': str(opportunity)}])
            with self.assertRaises(ValidationError):
                Attachment.write([attachment], {'name': 'nota.html'})
        # The server itself may store what it needs.
        Attachment.create([{'name': 'correo.html', 'data': HTML,
                    'resource': str(opportunity)}])
        with self.assertRaises(ValidationError) as cm:
            Configuration.write([Configuration(1)], {
                    'allowed_types': 'application/pdf\ntext/html'})
        self.assertIn('text/html', cm.exception.message)

    @with_transaction()
    def test_zip_bomb_is_detected_unread(self):
        "An .odt whose mimetype member expands to 64 MB: 100 bytes read"
        import tracemalloc
        from crm_kit.tests.tools import zip_bomb
        data = zip_bomb('mimetype', 64)
        tracemalloc.start()
        try:
            mimetype = detect_type(data, 'offer.odt')
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(mimetype, 'application/zip')
        self.assertLess(peak, 8 * 1024 * 1024)
        self.assertEqual(safe_file_name('../../etc/pass wd;rm -rf.PDF'),
            'pass wd_rm -rf.pdf')
        self.assertEqual(safe_file_name('C:\\Users\\ana\\DNI\x00.jpg'),
            'DNI.jpg')
        self.assertEqual(safe_file_name('...'), 'file')

        crm = setup_crm()
        # An executable renamed .pdf, a PNG named .pdf, and too large.
        for data, name in [(EXE, 'factura.pdf'), (PNG, 'factura.pdf')]:
            with self.assertRaises(ValidationError) as cm:
                create_document(crm.rep, crm.company, data=data,
                    file_name=name)
            self.assertIn('factura.pdf', cm.exception.message)
        Configuration = Pool().get('crm.document.configuration')
        Configuration.write([Configuration(1)], {'max_size': 1})
        with self.assertRaises(ValidationError) as cm:
            create_document(crm.rep, crm.company,
                data=PDF + b'0' * (1024 * 1024), file_name='big.pdf')
        self.assertIn('1 MB', cm.exception.message)

        # Names are made safe.
        document = create_document(crm.rep, crm.company,
            file_name='../secreto<1>.pdf', name="Secreto")
        self.assertEqual(document.file_name, 'secreto_1.pdf')

        # (Last: a refused write is rolled back by the request, not here.)
        with self.assertRaises(ValidationError):
            Configuration.write([Configuration(1)],
                {'allowed_types': 'pdf files'})

    @with_transaction()
    def test_web_link(self):
        pool = Pool()
        Document = pool.get('crm.document')
        crm = setup_crm()
        with Transaction().set_context(company=crm.company.id):
            document, = Document.create([{
                        'name': "Ficha técnica", 'kind': 'url',
                        'url': 'https://example.com/ficha.pdf'}])
            self.assertEqual(document.type_label, "Web link")
            with self.assertRaises(ValidationError):
                Document.create([{'name': "Mal", 'kind': 'url',
                            'url': 'javascript:alert(1)'}])
            with self.assertRaises(ValidationError):
                Document.create([{'name': "Sin fichero", 'kind': 'file'}])

    @with_transaction()
    def test_same_file_is_offered_as_link(self):
        pool = Pool()
        Document = pool.get('crm.document')
        crm = setup_crm()
        first = create_document(crm.rep, crm.company)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            self.assertEqual(
                Document(data=PDF).on_change_with_duplicate_of(), first.id)
            self.assertIsNone(
                Document(data=PNG).on_change_with_duplicate_of())
        with self.assertRaises(UserWarning) as cm:
            create_document(crm.rep, crm.company, name="Copia")
        self.assertIn(first.name, cm.exception.message)

    @with_transaction()
    def test_access_follows_linked_records(self):
        pool = Pool()
        Document = pool.get('crm.document')
        Version = pool.get('crm.document.version')
        crm = setup_crm()
        mine = create_opportunity(crm)
        others = create_opportunity(crm, owner=crm.outsider)
        on_mine = create_document(crm.rep, crm.company, links=[
                {'opportunity': mine.id}])
        on_others = create_document(crm.outsider, crm.company, data=PNG,
            file_name='b.png', links=[{'opportunity': others.id}])
        # Owned by the outsider, linked to the rep's opportunity: seen by
        # the rep.
        shared = create_document(crm.outsider, crm.company, data=docx(),
            file_name='c.docx')
        Document.write([shared], {'links': [('create', [
                            {'opportunity': mine.id}])]})

        def visible(user):
            with Transaction().set_user(user.id), \
                    Transaction().set_context(company=crm.company.id), \
                    check_access():
                return {d.id for d in Document.search([])}
        self.assertEqual(visible(crm.rep), {on_mine.id, shared.id})
        self.assertEqual(visible(crm.outsider), {on_others.id, shared.id})
        self.assertEqual(visible(crm.manager), {on_mine.id, shared.id})
        self.assertEqual(visible(crm.admin),
            {on_mine.id, on_others.id, shared.id})
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id), \
                check_access():
            with self.assertRaises(AccessError):
                Document.read([on_others.id], ['name'])
            self.assertEqual(
                {v.document.id for v in Version.search([])},
                {on_mine.id, shared.id})

    @with_transaction()
    def test_expiring_document_notifies_owner(self):
        pool = Pool()
        Document = pool.get('crm.document')
        Notification = pool.get('res.notification')
        Date = pool.get('ir.date')
        crm = setup_crm()
        soon = create_document(crm.rep, crm.company,
            expiry_date=Date.today() + dt.timedelta(days=10))
        create_document(crm.rep, crm.company, data=PNG, file_name='x.png',
            expiry_date=Date.today() + dt.timedelta(days=90))
        self.assertEqual(Document.notify_expiring(), [soon])
        notification, = Notification.search([('user', '=', crm.rep.id)])
        self.assertIn(soon.name, notification.label)
        self.assertIn('10', notification.description)
        # Once per expiry date.
        self.assertEqual(Document.notify_expiring(), [])
        Document.write([soon], {
                'expiry_date': Date.today() + dt.timedelta(days=5)})
        self.assertEqual(Document.notify_expiring(), [soon])

    @with_transaction()
    def test_sizes_and_dates_as_people_write_them(self):
        "25 MB, not 25.0 MB; with the language's decimal point and dates"
        from crm_kit.formats import format_date, human_size
        for size, lang, text in [
                (25 * 2 ** 20, 'es', '25 MB'),
                (25 * 2 ** 20, 'en', '25 MB'),
                (int(1.5 * 2 ** 20), 'es', '1,5 MB'),
                (int(1.5 * 2 ** 20), 'en', '1.5 MB'),
                (2 ** 20 - 20, 'en', '1 MB'),
                (512, 'es', '512 B'),
                (2048, 'es', '2 KB'),
                ]:
            self.assertEqual(human_size(size, lang), text, (size, lang))
        self.assertEqual(
            format_date(dt.date(2026, 12, 16), 'es'), '16/12/2026')

    @with_transaction()
    def test_errors_in_spanish(self):
        crm = setup_crm()
        load_spanish('crm_kit_document')
        with Transaction().set_context(language='es'):
            with self.assertRaises(ValidationError) as cm:
                create_document(crm.rep, crm.company, data=EXE,
                    file_name='virus.pdf')
        self.assertIn('no se acepta', cm.exception.message)
