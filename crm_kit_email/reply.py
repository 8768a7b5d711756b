# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Mail written in the CRM: a reply to a customer's mail, or a new mail
from an opportunity or a customer, sent with the user's mailbox or a
shared one by the queue worker, and kept on the records like the mail
received."""
import datetime as dt
import logging
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.sendmail import get_smtp_server
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import parse
from .email_ import local_time, reply_token

logger = logging.getLogger(__name__)
MAX_RECIPIENTS = 100


class EmailSend(metaclass=PoolMeta):
    "Sending the mail written in the CRM"
    __name__ = 'crm.email'

    @classmethod
    def compose(cls, mailbox, to, cc, subject, body, parties=(),
            opportunities=(), answered=None):
        """Store the mail as sent by the user with mailbox, linked to
        parties and opportunities (and to what answered is linked to), and
        queue it for the worker"""
        pool = Pool()
        Link = pool.get('crm.email.link')
        token = reply_token()
        domain = mailbox.address.rsplit('@', 1)[-1]
        msg = EmailMessage()
        msg['From'] = formataddr((mailbox.name, mailbox.address))
        msg['To'] = to
        if cc:
            msg['Cc'] = cc
        msg['Subject'] = subject
        msg['Date'] = format_datetime(dt.datetime.now(dt.timezone.utc))
        msg['Message-ID'] = '<crm-%s@%s>' % (token, domain)
        if answered and answered.message_id:
            msg['In-Reply-To'] = answered.message_id
            references = parse.message_ids(answered.references or '')
            msg['References'] = ' '.join(
                (references + [answered.message_id])[-20:])
        msg.set_content(body or '')
        raw = msg.as_bytes()
        values, _ = parse.parse(raw)
        values.update({
                'company': mailbox.company.id,
                'mailbox': mailbox.id,
                'direction': 'out',
                'reply_token': token,
                'sent_by': Transaction().user,
                'send_state': 'sending',
                'source': raw,
                'date': dt.datetime.now(),
                })
        with without_check_access():
            email, = cls.create([values])
            links = {('party', p) for p in parties}
            links |= {('opportunity', o) for o in opportunities}
            if answered:
                links |= {('party', l.party.id) for l in answered.links
                    if l.party}
                links |= {('opportunity', l.opportunity.id)
                    for l in answered.links if l.opportunity}
            Link.create([{'email': email.id, field: id_}
                    for field, id_ in sorted(links)])
        cls.told([email])
        cls.__queue__.send_composed([email])
        return email

    @classmethod
    def send_composed(cls, emails):
        "Queue task: send the mail composed, say on it whether it left"
        for email in cls.browse(emails):
            if email.send_state != 'sending':
                continue
            msg = email.source
            recipients = [a for _, a in getaddresses(
                    [h for h in (email.to, email.cc) if h]) if a]
            try:
                server = email.mailbox.smtp_server() or get_smtp_server(
                    strict=True)
                try:
                    server.sendmail(email.mailbox.address, recipients, msg)
                finally:
                    try:
                        server.quit()
                    except Exception:
                        pass
            except Exception as exc:
                logger.warning('mail %s not sent', email.id, exc_info=True)
                cls.write([email], {
                        'send_state': 'failed',
                        'send_error': str(exc) or exc.__class__.__name__,
                        })
                continue
            cls.write([email], {'send_state': 'sent', 'send_error': None})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'send_again': {
                    'icon': 'tryton-refresh',
                    'invisible': Eval('send_state') != 'failed',
                    'depends': ['send_state'],
                    },
                })

    @classmethod
    @ModelView.button
    def send_again(cls, emails):
        emails = [e for e in emails if e.send_state == 'failed']
        if emails:
            with without_check_access():
                cls.write(emails, {'send_state': 'sending'})
            cls.__queue__.send_composed(emails)


class ComposeStart(ModelView):
    "Write E-mail"
    __name__ = 'crm.email.compose.start'

    mailbox = fields.Many2One(
        'crm.mailbox', "From", required=True,
        domain=[('id', 'in', Eval('mailboxes', []))])
    mailboxes = fields.Many2Many(
        'crm.mailbox', None, None, "Mailboxes", readonly=True)
    to = fields.Char("To", required=True)
    cc = fields.Char("Cc")
    subject = fields.Char("Subject", required=True)
    template = fields.Many2One(
        'ir.email.template', "Template",
        domain=[('model.name', '=', Eval('model_name', ''))])
    model_name = fields.Char("Model", readonly=True)
    body = fields.Text("Message", required=True)
    answered = fields.Many2One('crm.email', "Answering", readonly=True)
    parties = fields.Many2Many(
        'party.party', None, None, "Customers", readonly=True)
    opportunities = fields.Many2Many(
        'sale.opportunity', None, None, "Opportunities", readonly=True)

    @fields.depends('template', 'opportunities', 'parties', 'subject',
        'body', 'to', 'model_name')
    def on_change_template(self):
        if not self.template:
            return
        record = None
        if self.model_name == 'sale.opportunity' and self.opportunities:
            record = self.opportunities[0]
        elif self.model_name == 'party.party' and self.parties:
            record = self.parties[0]
        if record is None:
            return
        values = self.template.get(record)
        if values.get('subject'):
            self.subject = values['subject']
        if values.get('body'):
            self.body = parse.html_to_text(values['body'])
        if values.get('to') and not self.to:
            self.to = ', '.join(values['to'])


class Compose(Wizard):
    "Write E-mail"
    __name__ = 'crm.email.compose'
    start = StateView('crm.email.compose.start',
        'crm_kit_email.compose_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-ok', default=True),
            ])
    send = StateTransition()

    def default_start(self, fields):
        pool = Pool()
        Mailbox = pool.get('crm.mailbox')
        mailboxes = Mailbox.sending()
        if not mailboxes:
            raise ValidationError(gettext('crm_kit_email.msg_no_mailbox'))
        own = [m for m in mailboxes if m.owner]
        values = {
            'mailboxes': [m.id for m in mailboxes],
            'mailbox': (own or mailboxes)[0].id,
            'model_name': self.model.__name__,
            'parties': [],
            'opportunities': [],
            }
        record = self.record
        values['parties'], values['opportunities'], answered = (
            self.targets())
        if self.model.__name__ == 'crm.email':
            values['answered'] = record.id
            values['to'] = record.from_address
            subject = record.subject or ''
            if not subject.lower().startswith(('re:', 'res:')):
                subject = 'Re: ' + subject
            values['subject'] = subject
            quoted = '\n'.join('> ' + l
                for l in (record.body_text or '').splitlines()[:200])
            values['body'] = '\n\n%s\n%s' % (gettext(
                    'crm_kit_email.msg_reply_quote',
                    sender=record.from_address or '',
                    date=local_time(record.date, record.company)), quoted)
            if record.mailbox in mailboxes:
                values['mailbox'] = record.mailbox.id
        elif self.model.__name__ == 'sale.opportunity':
            values['to'] = record.lead_email or (
                record.party.email if record.party else None)
            values['subject'] = record.description or ''
        elif self.model.__name__ == 'party.party':
            values['to'] = record.email
        return values

    def transition_send(self):
        pool = Pool()
        Email = pool.get('crm.email')
        Mailbox = pool.get('crm.mailbox')
        start = self.start
        # Each header on its own: a list with an empty one fails to parse.
        addresses = [a for _, a in getaddresses(
                [h for h in (start.to, start.cc) if h]) if a]
        bad = [a for a in addresses if '@' not in a or ' ' in a]
        if bad or not addresses:
            raise ValidationError(gettext(
                    'crm_kit_email.msg_bad_address',
                    address=', '.join(bad) or start.to or ''))
        if len(addresses) > MAX_RECIPIENTS:
            raise ValidationError(gettext(
                    'crm_kit_email.msg_too_many_recipients',
                    count=len(addresses), limit=MAX_RECIPIENTS))
        # What the form sent back is not trusted: the mailbox must be one
        # the user may send with, and the mail is linked to the records
        # the wizard was opened on.
        if start.mailbox not in Mailbox.sending():
            raise ValidationError(gettext('crm_kit_email.msg_no_mailbox'))
        parties, opportunities, answered = self.targets()
        Email.compose(start.mailbox, start.to, start.cc, start.subject,
            start.body, parties=parties, opportunities=opportunities,
            answered=answered)
        return 'end'

    def targets(self):
        "(party ids, opportunity ids, mail answered) of the wizard's record"
        record = self.record
        name = self.model.__name__
        if name == 'crm.email':
            return ([l.party.id for l in record.links if l.party],
                [l.opportunity.id for l in record.links if l.opportunity],
                record)
        elif name == 'sale.opportunity':
            return ([record.party.id] if record.party else [], [record.id],
                None)
        elif name == 'party.party':
            return [record.id], [], None
        return [], [], None
