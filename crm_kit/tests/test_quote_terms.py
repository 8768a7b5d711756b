# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The terms of a quote: its language, its validity, its versions once
sent, and the opportunity's amount that follows it."""
import datetime as dt
from decimal import Decimal

from crm_kit.sale import QuoteExpiredError, QuoteRevisionError

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .test_quote import MailCatcher
from .tools import (
    CrmTestCase, create_customer, create_opportunity, create_product,
    load_spanish, setup_crm)

CUSTOMER_NIF = 'A58818501'


def two_line_quote(crm, lang=None, discount=None):
    """A quote of two lines at 21 % and 10 % IVA (600 € and 1,250 €, the
    first `discount` off) for a customer with a NIF"""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Identifier = pool.get('party.identifier')
    Lang = pool.get('ir.lang')
    customer = create_customer("Construcciones Ibéricas S.A.")
    Identifier(
        party=customer, type='eu_vat', code='ES' + CUSTOMER_NIF).save()
    if lang:
        customer.lang, = Lang.search([('code', '=', lang)])
        customer.save()
    with Transaction().set_context(company=crm.company.id):
        catering = create_product("Catering del evento", Decimal('1250'),
            category="Hospitality and transport")
    opportunity = create_opportunity(crm, party=customer)
    lines = [('create', [{'product': catering.id, 'quantity': 1,
                    'unit': catering.sale_uom.id}])]
    if discount is not None:
        lines.append(('write', [opportunity.lines[0].id],
                {'discount_rate': discount}))
    Opportunity.write([opportunity], {'lines': lines})
    with Transaction().set_user(crm.rep.id), \
            Transaction().set_context(company=crm.company.id):
        Opportunity.create_quote([opportunity])
    sale, = Opportunity(opportunity.id).sales
    return sale


def send_quote(crm, opportunity):
    "Send the opportunity's quote in quotation as its rep, from the quote"
    pool = Pool()
    Sale = pool.get('sale.sale')
    sale, = Sale.search([
            ('origin', '=', str(opportunity)),
            ('state', '=', 'quotation'),
            ])
    with Transaction().set_user(crm.rep.id), check_access(), \
            Transaction().set_context(company=crm.company.id):
        with MailCatcher() as mail:
            Sale.send_quote([Sale(sale.id)])
    return mail.messages


class QuoteTermsTestCase(CrmTestCase):

    @with_transaction()
    def test_quote_language(self):
        "The contact's language, else the customer's, else the company's"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Party = pool.get('party.party')
        ContactMechanism = pool.get('party.contact_mechanism')
        crm = setup_crm()
        es, = Lang.search([('code', '=', 'es')])
        en, = Lang.search([('code', '=', 'en')])
        sale = two_line_quote(crm)
        Party.write([crm.company.party], {'lang': es.id})
        self.assertEqual(sale.quote_language, 'es')
        Party.write([sale.party], {'lang': en.id})
        self.assertEqual(type(sale)(sale.id).quote_language, 'en')
        contact, = sale.party.contact_mechanisms
        ContactMechanism.write([contact], {'language': es.id})
        sale.contact = contact
        sale.save()
        self.assertEqual(type(sale)(sale.id).quote_language, 'es')

    @with_transaction()
    def test_default_validity(self):
        "Every new quote is valid 30 days, a setting of the configuration"
        pool = Pool()
        Configuration = pool.get('sale.configuration')
        crm = setup_crm()
        sale = two_line_quote(crm)
        self.assertEqual(sale.quotation_validity, dt.timedelta(days=30))
        self.assertEqual(sale.quotation_expire,
            sale.quotation_date + dt.timedelta(days=30))

        configuration = Configuration(1)
        configuration.sale_quotation_validity = dt.timedelta(days=15)
        configuration.save()
        sale = two_line_quote(crm)
        self.assertEqual(sale.quotation_validity, dt.timedelta(days=15))

    @with_transaction()
    def test_validity_is_the_administrators(self):
        "A rep reads the quotes' validity, a CRM administrator sets it"
        pool = Pool()
        Configuration = pool.get('sale.configuration')
        crm = setup_crm()
        with Transaction().set_user(crm.rep.id), check_access():
            self.assertEqual(Configuration(1).sale_quotation_validity,
                dt.timedelta(days=30))
            with self.assertRaises(AccessError):
                Configuration.write([Configuration(1)], {
                        'sale_quotation_validity': dt.timedelta(days=90)})
        with Transaction().set_user(crm.admin.id), check_access():
            Configuration.write([Configuration(1)], {
                    'sale_quotation_validity': dt.timedelta(days=90)})
        self.assertEqual(Configuration(1).sale_quotation_validity,
            dt.timedelta(days=90))

    @with_transaction()
    def test_expired_quote_is_not_cancelled(self):
        "Tryton's daily cancel of expired quotations spares the deals'"
        pool = Pool()
        Sale = pool.get('sale.sale')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        sale = two_line_quote(crm)
        Sale.write([sale], {
                'quotation_date': sale.quotation_date - dt.timedelta(days=40)})
        other, = Sale.copy([sale], default={'origin': None})
        with Transaction().set_context(company=crm.company.id):
            Sale.quote([other])
            Sale.write([other], {'quotation_date': sale.quotation_date})
            Sale.cancel_expired_quotation()
        self.assertEqual(Sale(sale.id).state, 'quotation')
        self.assertEqual(Sale(other.id).state, 'cancelled')
        self.assertNotEqual(Opportunity(sale.origin.id).state, 'lost')

    @with_transaction()
    def test_expired_quote_is_not_accepted(self):
        "An expired quote is refused with a clear message, revised it is not"
        pool = Pool()
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        sale = two_line_quote(crm)
        Sale.write([sale], {
                'quotation_date': sale.quotation_date - dt.timedelta(days=40)})
        with Transaction().set_context(company=crm.company.id):
            with self.assertRaisesRegex(QuoteExpiredError, 'expired on'):
                Sale.confirm([sale])
            Sale.write([sale], {'sent_date': dt.datetime.now()})
            revision, = Sale.browse(Sale.revise([sale])['res_id'])
            Sale.quote([revision])
            Sale.confirm([revision])
        self.assertEqual(Sale(revision.id).state, 'confirmed')

    @with_transaction()
    def test_amount_follows_sent_quote(self):
        "The deal's amount is its latest sent quote's, until the user sets it"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        sale = two_line_quote(crm)
        opportunity = Opportunity(sale.origin.id)
        Opportunity.write([opportunity], {'amount': Decimal('2000')})
        opportunity = Opportunity(opportunity.id)
        # An estimate before any quote is sent: the quote will replace it.
        self.assertTrue(opportunity.amount_from_quote)
        self.assertIsNone(opportunity.quoted_amount)

        send_quote(crm, opportunity)
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.amount, Decimal('1850.00'))
        self.assertEqual(opportunity.quoted_amount, Decimal('1850.00'))

        # A revision sent at another price
        with Transaction().set_context(company=crm.company.id):
            action = Sale.revise([Sale(sale.id)])
            revision, = Sale.browse(action['res_id'])
            Sale.write([revision], {'comment': "Precio revisado"})
            revision.lines[1].unit_price = Decimal('1000')
            revision.lines[1].save()
            Sale.quote([revision])
        send_quote(crm, Opportunity(opportunity.id))
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.amount, Decimal('1600.00'))

        # The user takes the amount: quotes leave it alone.
        Opportunity.write([opportunity], {'amount': Decimal('1500')})
        opportunity = Opportunity(opportunity.id)
        self.assertFalse(opportunity.amount_from_quote)
        with Transaction().set_context(company=crm.company.id):
            Opportunity.process([opportunity])
        self.assertEqual(Opportunity(opportunity.id).amount, Decimal('1500'))
        # and gives it back.
        Opportunity.write([opportunity], {'amount_from_quote': True})
        self.assertEqual(Opportunity(opportunity.id).amount, Decimal('1600'))

    @with_transaction()
    def test_amount_on_change_in_the_form(self):
        "In sao, editing the amount unticks the box, ticking it restores"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        sale = two_line_quote(crm)
        send_quote(crm, sale.origin)
        opportunity = Opportunity(sale.origin.id)
        opportunity.amount = Decimal('1000')
        opportunity.on_change_amount()
        self.assertFalse(opportunity.amount_from_quote)
        opportunity.amount_from_quote = True
        opportunity.on_change_amount_from_quote()
        self.assertEqual(opportunity.amount, Decimal('1850.00'))

    @with_transaction()
    def test_revision_of_a_sent_quote(self):
        "A sent quote is revised into version 2, itself kept as sent"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        sale = two_line_quote(crm)
        with Transaction().set_context(company=crm.company.id):
            with self.assertRaisesRegex(QuoteRevisionError, 'Only a sent'):
                Sale.revise([sale])
        send_quote(crm, sale.origin)
        sale = Sale(sale.id)
        self.assertTrue(sale.sent_date)
        with Transaction().set_user(crm.rep.id), check_access(), \
                Transaction().set_context(company=crm.company.id):
            with self.assertRaisesRegex(QuoteRevisionError, 'revise it'):
                Sale.draft([sale])
            action = Sale.revise([sale])
        revision, = Sale.browse(action['res_id'])
        sale = Sale(sale.id)
        self.assertEqual(sale.state, 'cancelled')
        self.assertEqual(revision.state, 'draft')
        self.assertEqual(revision.number, f'{sale.number}-2')
        self.assertEqual(revision.revision, 2)
        self.assertEqual(revision.revised_from, sale)
        self.assertEqual(list(sale.revisions), [revision])
        self.assertEqual(revision.owner, crm.rep)
        self.assertEqual(revision.origin, sale.origin)
        self.assertEqual(len(revision.lines), 2)
        self.assertIsNone(revision.sent_date)
        # The replaced version cannot come back to life.
        with self.assertRaisesRegex(QuoteRevisionError, 'revise it'):
            Sale.draft([sale])
        opportunity = Opportunity(sale.origin.id)
        self.assertEqual(opportunity.state, 'converted')

        with Transaction().set_context(company=crm.company.id):
            Sale.quote([revision])
        send_quote(crm, opportunity)
        with Transaction().set_context(company=crm.company.id):
            third, = Sale.browse(Sale.revise([revision])['res_id'])
        self.assertEqual(third.number, f'{sale.number}-3')

    @with_transaction()
    def test_email_in_english(self):
        crm = setup_crm()
        load_spanish('crm_kit')
        sale = two_line_quote(crm, lang='en')
        message, = send_quote(crm, sale.origin)
        self.assertIn("Your quote", message['Subject'])
        body = message.get_body(('html', 'plain')).get_content()
        self.assertIn("€2,101.00", body)

    @with_transaction()
    def test_email_in_customer_language(self):
        "A Spanish customer reads the e-mail in Spanish, with Spanish figures"
        crm = setup_crm()
        load_spanish('crm_kit')
        sale = two_line_quote(crm, lang='es')
        message, = send_quote(crm, sale.origin)
        self.assertIn("Su presupuesto", message['Subject'])
        body = message.get_body(('html', 'plain')).get_content()
        self.assertIn("2.101,00", body)
