# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Quotes (offers and budgets) are created from an opportunity and e-mailed."
from decimal import Decimal
from unittest.mock import patch

from crm_kit.opportunity import QuoteError
from crm_kit.sale import SMTPUnavailableError

from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .tools import (
    CrmTestCase, create_customer, create_opportunity, setup_crm, stage)


class MailCatcher:
    "Stands for the SMTP server: keeps the messages instead of sending"

    def __init__(self):
        self.messages = []
        self.patches = [
            patch('trytond.ir.email_.send_message_transactional',
                side_effect=self.send),
            patch('crm_kit.sale.check_smtp_server'),
            ]

    def send(self, msg, *args, **kwargs):
        self.messages.append(msg)

    def __enter__(self):
        for p in self.patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in self.patches:
            p.stop()


class QuoteTestCase(CrmTestCase):

    @with_transaction()
    def test_create_quote_priced_with_taxes(self):
        "The quote is a sale in quotation with products, prices and IVA"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        Opportunity.write([opportunity], {'stage': stage('stage_analysis')})

        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            action = Opportunity.create_quote([opportunity])

        sale, = opportunity.sales
        self.assertEqual(action['res_id'], [sale.id])
        self.assertEqual(sale.state, 'quotation')
        self.assertEqual(sale.party, crm.customer)
        self.assertEqual(sale.owner, crm.rep)
        self.assertEqual(sale.team, crm.team)
        line, = sale.lines
        self.assertEqual(line.quantity, 10)
        self.assertEqual(line.unit_price, Decimal('60'))
        self.assertEqual([t.name for t in line.taxes], ['IVA 21%'])
        self.assertEqual(sale.untaxed_amount, Decimal('600.00'))
        self.assertEqual(sale.tax_amount, Decimal('126.00'))
        self.assertEqual(sale.total_amount, Decimal('726.00'))
        # Prepared, not sent yet: the offer is submitted by sending it.
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_analysis'))

    @with_transaction()
    def test_discount_applies_to_quote(self):
        "A discounted unit price on the quote line is kept and taxed"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            sale, = opportunity.sales
            Sale.draft([sale])
            SaleLine.write(list(sale.lines), {'unit_price': Decimal('54')})
            sale = Sale(sale.id)
        self.assertEqual(sale.untaxed_amount, Decimal('540.00'))
        self.assertEqual(sale.total_amount, Decimal('653.40'))

    @with_transaction()
    def test_quote_needs_customer_and_lines(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        without_lines = create_opportunity(crm, lines=False)
        with self.assertRaisesRegex(QuoteError, 'add at least one line'):
            Opportunity.create_quote([without_lines])

        without_customer = create_opportunity(crm)
        Opportunity.write([without_customer], {'party': None})
        with self.assertRaisesRegex(QuoteError, 'set its customer'):
            Opportunity.create_quote([without_customer])

        no_address = create_opportunity(crm)
        no_address.party = create_customer("Sin Dirección S.A.")
        no_address.party.addresses = []
        no_address.party.save()
        Opportunity.write([no_address], {'party': no_address.party.id})
        with self.assertRaisesRegex(QuoteError, 'needs an address'):
            with Transaction().set_context(company=crm.company.id):
                Opportunity.create_quote([no_address])
        self.assertEqual(Sale.search([]), [])

    @with_transaction()
    def test_send_quote_emails_report_and_submits_offer(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Email = pool.get('ir.email')
        StageLog = pool.get('crm.stage.log')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        Opportunity.write([opportunity], {'stage': stage('stage_analysis')})
        # As the rep would in sao: their access rights and record rules.
        with Transaction().set_user(crm.rep.id), check_access(), \
                Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            with MailCatcher() as mail:
                Opportunity.send_quote([opportunity])

        message, = mail.messages
        sale, = opportunity.sales
        self.assertIn('compras@gomez.test', message['To'])
        self.assertIn(sale.number, message['Subject'])
        attachments = list(message.iter_attachments())
        self.assertEqual(len(attachments), 1)
        self.assertTrue(attachments[0].get_filename().startswith('Sale'))
        self.assertGreater(len(attachments[0].get_payload(decode=True)), 0)
        body = message.get_body(('html', 'plain')).get_content()
        self.assertIn('726', body)
        email, = Email.search([('resource', '=', str(sale))])

        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_offer'))
        self.assertEqual(opportunity.state, 'converted')
        last, = StageLog.search(
            [('opportunity', '=', opportunity.id)], limit=1)
        self.assertEqual(last.to_stage, stage('stage_offer'))

    @with_transaction()
    def test_send_quote_without_email_address(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        opportunity.party = create_customer("Sin Correo S.L.", email=None)
        opportunity.save()
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            with MailCatcher() as mail, \
                    self.assertRaisesRegex(ValidationError, 'no e-mail'):
                Opportunity.send_quote([opportunity])
        self.assertEqual(mail.messages, [])

    @with_transaction()
    def test_send_quote_without_smtp_server(self):
        "No mail server: a clear error before anything is changed"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            with patch('trytond.config.get', side_effect=_smtp_uri(
                        'smtp://127.0.0.1:1')), \
                    self.assertRaisesRegex(
                        SMTPUnavailableError, 'mail server'):
                Opportunity.send_quote([opportunity])
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_new'))

    @with_transaction()
    def test_send_quote_from_opportunity_without_quote(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        with self.assertRaisesRegex(QuoteError, 'no quote to send'):
            Opportunity.send_quote([opportunity])

    @with_transaction()
    def test_won_quote_wins_opportunity_and_customer(self):
        "Confirming the quote wins the deal and the prospect is a customer"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        self.assertEqual(crm.customer.crm_lifecycle, 'prospect')
        opportunity = create_opportunity(crm)
        with Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            sale, = opportunity.sales
            Sale.confirm([sale])
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.state, 'won')
        self.assertEqual(opportunity.stage, stage('stage_won'))
        self.assertEqual(opportunity.party.crm_lifecycle, 'customer')


def _smtp_uri(uri):
    import trytond.config as config
    original = config.get

    def get(section, option, *args, **kwargs):
        if (section, option) == ('email', 'uri'):
            return uri
        return original(section, option, *args, **kwargs)
    return get
