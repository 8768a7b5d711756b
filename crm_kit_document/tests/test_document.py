# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The document library: versions, links to several records, the
customer's documents in one place, files checked by content, the same file
detected, access by role, expiry notices."""
import datetime as dt

from trytond.exceptions import UserWarning
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from crm_kit_activity.tests.tools import create_activity

from ..content import detect_type, safe_file_name
from .tools import (
    EXE, PDF, PNG, DocumentTestCase, create_document, create_opportunity,
    docx, load_spanish, setup_crm)


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
        self.assertIn('1.0 MB', cm.exception.message)

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
    def test_errors_in_spanish(self):
        crm = setup_crm()
        load_spanish('crm_kit_document')
        with Transaction().set_context(language='es'):
            with self.assertRaises(ValidationError) as cm:
                create_document(crm.rep, crm.company, data=EXE,
                    file_name='virus.pdf')
        self.assertIn('no se acepta', cm.exception.message)
