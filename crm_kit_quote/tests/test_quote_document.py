# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The quote the customer receives: a PDF with the company's identity, the
lines with their discounts, the IVA breakdown and the validity, in the
customer's language; the discounts themselves."""
import datetime as dt
import io
import os
from decimal import Decimal

from pypdf import PdfReader

from crm_kit_quote.sale import format_percent

from crm_kit.tests.test_quote_terms import send_quote, two_line_quote
from crm_kit.tests.tools import (
    CrmTestCase, create_opportunity, load_spanish, setup_crm)

from trytond.model.exceptions import DomainValidationError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

COMPANY_NIF = 'B12345674'
CUSTOMER_NIF = 'A58818501'


def pdf_text(content):
    "The text of a PDF: its pages joined, one plain space between words"
    reader = PdfReader(io.BytesIO(content))
    text = ' '.join(page.extract_text() for page in reader.pages)
    return ' '.join(text.split()), len(reader.pages)


def company_identity(company):
    "What the quote prints of the company: NIF, address, phone, logo"
    pool = Pool()
    Identifier = pool.get('party.identifier')
    ContactMechanism = pool.get('party.contact_mechanism')
    Company = pool.get('company.company')
    party = company.party
    if not party.tax_identifier:
        Identifier(party=party, type='eu_vat', code='ES' + COMPANY_NIF).save()
    address, = party.addresses
    address.street = "Calle de Alcalá 100"
    address.postal_code = '28009'
    address.save()
    ContactMechanism.create([
            {'party': party.id, 'type': 'phone', 'value': '+34915550100'},
            {'party': party.id, 'type': 'email', 'value': 'ventas@pruebas.test'},
            {'party': party.id, 'type': 'website',
                'value': 'https://pruebas.test'},
            ])
    Company.write([company], {'logo': logo_png()})


def logo_png():
    from PIL import Image
    image = Image.new('RGB', (240, 80), (29, 78, 216))
    content = io.BytesIO()
    image.save(content, 'PNG')
    return content.getvalue()


class QuoteDocumentTestCase(CrmTestCase):
    # One set of modules for all of crm_kit_quote's tests: one database
    # to activate per backend.
    modules = ['crm_kit_quote', 'crm_kit_api']

    def quote(self, crm, lang=None):
        """The two-line quote of the company with its identity, the first
        line 10 % off"""
        company_identity(crm.company)
        return two_line_quote(crm, lang=lang, discount=Decimal('0.1'))

    def render(self, sale):
        pool = Pool()
        Report = pool.get('sale.sale', type='report')
        ext, content, _, name = Report.execute([sale.id], {})
        self.assertEqual(ext, 'pdf')
        return pdf_text(content), name, content

    def assert_document(self, text, expected):
        for value in expected:
            self.assertIn(value, text)

    @with_transaction()
    def test_pdf_in_english(self):
        "The PDF in English: the company's identity, discount, IVA, totals"
        crm = setup_crm()
        sale = self.quote(crm, lang='en')
        (text, pages), name, content = self.render(sale)
        save_pdf(content, 'en')
        expire = sale.quotation_date + dt.timedelta(days=30)
        self.assert_document(text, [
                "Quote", "Pruebas CRM S.L.", f"Tax ID: {COMPANY_NIF}",
                "Calle de Alcalá 100", "+34 915 55 01 00",
                "ventas@pruebas.test", "https://pruebas.test",
                "Construcciones Ibéricas S.A.", f"Tax ID: {CUSTOMER_NIF}",
                f"Quote number {sale.number}",
                f"Valid until {expire.strftime('%m/%d/%Y')}",
                # 10 hours at 60 €, 10 % off; the catering at 1,250 €
                "Consultoría CRM (hora) 10 u €60.00 10 % €540.00",
                "Catering del evento 1 u €1,250.00 €1,250.00",
                "IVA 21% €540.00 21 % €113.40",
                "IVA 10% €1,250.00 10 % €125.00",
                "Untaxed Amount €1,790.00", "Taxes €238.40",
                "Total €2,028.40", "Immediate payment",
                "Page 1 / 1",
                ])
        # Never the four decimals of the unit price.
        self.assertNotIn("60.0000", text)
        self.assertEqual(pages, 1)
        self.assertTrue(name.startswith("Quote"))

    @with_transaction()
    def test_pdf_in_spanish(self):
        "A Spanish customer's PDF: Spanish texts, 1.234,56 € and dd/mm/yyyy"
        pool = Pool()
        crm = setup_crm()
        load_spanish('crm_kit')
        load_spanish('crm_kit_quote')
        sale = self.quote(crm, lang='es')
        self.assertEqual(sale.quote_language, 'es')
        (text, pages), name, content = self.render(sale)
        save_pdf(content, 'es')
        expire = sale.quotation_date + dt.timedelta(days=30)
        self.assert_document(text, [
                "Presupuesto", f"NIF: {COMPANY_NIF}", f"NIF: {CUSTOMER_NIF}",
                f"Válido hasta {expire.strftime('%d/%m/%Y')}",
                "Consultoría CRM (hora) 10 u 60,00 € 10 % 540,00 €",
                "Catering del evento 1 u 1.250,00 € 1.250,00 €",
                "IVA 21% 540,00 € 21 % 113,40 €",
                "IVA 10% 1.250,00 € 10 % 125,00 €",
                "Base imponible 1.790,00 €", "Total 2.028,40 €",
                "Página 1 / 1",
                ])
        self.assertNotIn("Unit Price", text)
        ActionReport = pool.get('ir.action.report')
        self.assertTrue(name.startswith(ActionReport(
                    Pool().get('ir.model.data').get_id(
                        'crm_kit_quote', 'report_quote')).name))

    @with_transaction()
    def test_discount_from_opportunity_line(self):
        "The opportunity line's discount is the quote line's, off the list"
        crm = setup_crm()
        sale = self.quote(crm)
        line = sale.lines[0]
        self.assertEqual(line.base_price, Decimal('60'))
        self.assertEqual(line.discount_rate, Decimal('0.1'))
        self.assertEqual(line.unit_price, Decimal('54'))
        self.assertEqual(sale.untaxed_amount, Decimal('1790.00'))

    @with_transaction()
    def test_discount_column_shown(self):
        "The quote's lines show their discount, not as an optional column"
        from lxml import etree
        pool = Pool()
        SaleLine = pool.get('sale.line')
        arch = etree.fromstring(
            SaleLine.fields_view_get(view_type='tree')['arch'])
        field, = arch.xpath('//field[@name="discount_rate"]')
        self.assertEqual(field.get('optional'), '0')

    @with_transaction()
    def test_discount_written_through_the_api(self):
        "A discount written alone (REST, JSON-RPC) sets the unit price"
        pool = Pool()
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        crm = setup_crm()
        sale = self.quote(crm)
        with Transaction().set_user(crm.rep.id), check_access(), \
                Transaction().set_context(company=crm.company.id):
            Sale.draft([sale])
            line = SaleLine(sale.lines[1].id)
            SaleLine.write([line], {'discount_rate': Decimal('0.2')})
            self.assertEqual(SaleLine(line.id).unit_price, Decimal('1000'))
            SaleLine.write([line], {'discount_amount': Decimal('50')})
            self.assertEqual(SaleLine(line.id).unit_price, Decimal('1200'))
            with self.assertRaisesRegex(
                    ValidationError, 'between 0 % and 100 %'):
                SaleLine.write([line], {'discount_rate': Decimal('1.5')})
        self.assertEqual(Sale(sale.id).untaxed_amount, Decimal('1740.00'))

    @with_transaction()
    def test_opportunity_discount_out_of_range(self):
        pool = Pool()
        Line = pool.get('sale.opportunity.line')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        with self.assertRaises(DomainValidationError):
            Line.write(list(opportunity.lines), {'discount_rate': Decimal('2')})

    @with_transaction()
    def test_email_in_customer_language_with_pdf(self):
        "A Spanish customer gets the e-mail in Spanish, with the PDF"
        crm = setup_crm()
        load_spanish('crm_kit')
        load_spanish('crm_kit_quote')
        sale = self.quote(crm, lang='es')
        message, = send_quote(crm, sale.origin)
        self.assertIn("Su presupuesto", message['Subject'])
        body = message.get_body(('html', 'plain')).get_content()
        self.assertIn("2.028,40", body)
        attachment, = message.iter_attachments()
        self.assertEqual(attachment.get_content_type(), 'application/pdf')
        self.assertTrue(attachment.get_filename().endswith('.pdf'))
        text, _ = pdf_text(attachment.get_payload(decode=True))
        self.assertIn("Presupuesto", text)

    @with_transaction()
    def test_long_quote_pages(self):
        "A quote of many lines runs over pages, numbered, headed again"
        pool = Pool()
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        crm = setup_crm()
        sale = self.quote(crm, lang='en')
        with Transaction().set_context(company=crm.company.id):
            Sale.draft([sale])
            SaleLine.copy(list(sale.lines) * 20, default={'sale': sale.id})
            Sale.quote([sale])
        (text, pages), _, _ = self.render(Sale(sale.id))
        self.assertGreater(pages, 1)
        self.assertIn(f"Page {pages} / {pages}", text)
        # The lines' header is repeated on the pages the lines go on.
        self.assertGreaterEqual(text.count("Description Quantity Unit"), 2)

    @with_transaction()
    def test_percentages(self):
        "Rates print with the decimals they have, an exempt tax as 0 %"
        pool = Pool()
        Lang = pool.get('ir.lang')
        es = Lang.get('es')
        for rate, text in [(Decimal('0.21'), '21\u00a0%'), (Decimal(0), '0\u00a0%'),
                (0, '0\u00a0%'), (Decimal('0.125'), '12,5\u00a0%'),
                (Decimal('0.0825'), '8,25\u00a0%')]:
            with self.subTest(rate=rate):
                self.assertEqual(format_percent(rate, es), text)

    @with_transaction()
    def test_odt_still_available(self):
        "The OpenDocument version stays for those who edit it"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Report = pool.get('sale.sale', type='report')
        crm = setup_crm()
        # Without the logo this test would write: Tryton's ODT caches the
        # resized logo in a transaction of its own, which waits for this
        # one on PostgreSQL.
        sale = two_line_quote(crm)
        ext, content, _, _ = Report.execute([sale.id], {
                'action_id': ModelData.get_id('sale', 'report_sale')})
        self.assertEqual(ext, 'odt')

    @with_transaction()
    def test_revision_printed_with_its_version(self):
        pool = Pool()
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        sale = self.quote(crm)
        send_quote(crm, sale.origin)
        with Transaction().set_context(company=crm.company.id):
            revision, = Sale.browse(Sale.revise([Sale(sale.id)])['res_id'])
        (text, _), _, _ = self.render(revision)
        self.assertIn(f"Quote number {sale.number}-2", text)
        self.assertIn("Version 2", text)
def save_pdf(content, lang):
    "Keep the PDF for a look (CRM_KIT_QUOTE_PDF=<path prefix>)"
    if path := os.environ.get('CRM_KIT_QUOTE_PDF'):
        with open(f'{path}-{lang}.pdf', 'wb') as file:
            file.write(content)
