# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The mail exchanged with customers, kept once and linked to the
customers and opportunities it concerns: by the addresses it carries, by
the thread it answers, or by a user's hand."""
import datetime as dt
import logging
import secrets
from collections import defaultdict
from email.utils import getaddresses

from sql import Null
from sql.functions import Lower

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access

from crm_kit.event import EventSource
from crm_kit.formats import human_size
from crm_kit.pipeline import OPEN_STATES
from crm_kit.savepoint import savepoint

from . import parse
from .mailbox import BigInteger

logger = logging.getLogger(__name__)

DIRECTIONS = [
    ('in', "Received"),
    ('out', "Sent"),
    ]
KINDS = [
    ('personal', "Personal"),
    ('auto_reply', "Automatic Reply"),
    ('bounce', "Bounce"),
    ('newsletter', "Newsletter"),
    ]
SEND_STATES = [
    (None, ''),
    ('sending', "Sending"),
    ('sent', "Sent"),
    ('failed', "Failed"),
    ]


class Email(EventSource, ModelSQL, ModelView):
    "E-mail"
    __name__ = 'crm.email'
    __string__ = "E-mail"
    _rec_name = 'subject'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    mailbox = fields.Many2One(
        'crm.mailbox', "Mailbox", required=True, readonly=True,
        ondelete='RESTRICT')
    folder = fields.Char("Folder", readonly=True)
    uid = BigInteger("UID", readonly=True)
    direction = fields.Selection(
        DIRECTIONS, "Direction", required=True, readonly=True)
    kind = fields.Selection(
        KINDS, "Kind", required=True, readonly=True,
        states={
            'invisible': Eval('kind') == 'personal',
            })
    message_id = fields.Char("Message-ID", readonly=True)
    in_reply_to = fields.Char("In-Reply-To", readonly=True)
    references = fields.Text("References", readonly=True)
    reply_token = fields.Char("Reply Token", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    from_name = fields.Char("From Name", readonly=True)
    from_address = fields.Char("From", readonly=True)
    sender = fields.Function(fields.Char("From"), 'get_sender')
    to = fields.Char("To", readonly=True)
    cc = fields.Char(
        "Cc", readonly=True,
        states={
            'invisible': ~Eval('cc'),
            })
    date = fields.DateTime("Date", readonly=True)
    snippet = fields.Char("Beginning", readonly=True)
    body_text = fields.Text(
        "Text", readonly=True,
        states={
            # The formatted text, when the mail has one, is the mail.
            'invisible': Bool(Eval('body_html')),
            })
    body_html = fields.Text(
        "Formatted Text", readonly=True,
        states={
            'invisible': ~Eval('body_html'),
            })
    size = fields.Integer("Size (bytes)", readonly=True)
    size_label = fields.Function(fields.Char("Size"), 'get_size_label')
    truncated = fields.Boolean(
        "Kept Without Body", readonly=True,
        states={
            'invisible': ~Eval('truncated'),
            },
        help="The mail was bigger than its mailbox's limit: only its "
        "headers are kept.")
    source = fields.Binary(
        "Source", readonly=True, file_id='source_id', filename='source_name')
    source_id = fields.Char("Source ID", readonly=True)
    source_name = fields.Function(fields.Char("Source Name"), 'get_source_name')
    attachments = fields.One2Many(
        'crm.email.attachment', 'email', "Attachments", readonly=True)
    links = fields.One2Many('crm.email.link', 'email', "Linked To")
    opportunities = fields.Many2Many(
        'crm.email.link', 'email', 'opportunity', "Opportunities",
        readonly=True)
    parties = fields.Many2Many(
        'crm.email.link', 'email', 'party', "Customers", readonly=True,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    lead = fields.Many2One(
        'sale.opportunity', "Lead Created", readonly=True,
        ondelete='SET NULL',
        states={
            'invisible': ~Eval('lead'),
            })
    sent_by = fields.Many2One('res.user', "Sent By", readonly=True)
    send_state = fields.Selection(
        SEND_STATES, "Sending", readonly=True,
        states={
            'invisible': Eval('direction') != 'out',
            })
    send_error = fields.Text(
        "Sending Error", readonly=True,
        states={
            'invisible': ~Eval('send_error'),
            })
    icon = fields.Function(fields.Char("Icon"), 'get_icon')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('uid_unique', Unique(t, t.mailbox, t.folder, t.uid),
                'crm_kit_email.msg_email_uid_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.message_id, Index.Equality())),
                Index(t, (t.reply_token, Index.Equality()),
                    where=t.reply_token != Null),
                Index(t, (t.date, Index.Range())),
                })
        cls._order = [('date', 'DESC NULLS LAST'), ('id', 'DESC')]
        cls._buttons.update({
                'reply': {
                    'icon': 'tryton-forward',
                    'invisible': Eval('direction') != 'in',
                    'depends': ['direction'],
                    },
                })

    @classmethod
    def default_kind(cls):
        return 'personal'

    def get_sender(self, name):
        if self.from_name:
            return '%s <%s>' % (self.from_name, self.from_address)
        return self.from_address

    def get_size_label(self, name):
        return human_size(self.size) if self.size else ''

    def get_source_name(self, name):
        return 'mail-%s.eml' % self.id

    def get_icon(self, name):
        return 'tryton-back' if self.direction == 'in' else 'tryton-forward'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('subject', operator, operand, *extra),
            ('from_address', operator, operand, *extra),
            ]

    @classmethod
    @ModelView.button_action('crm_kit_email.wizard_reply')
    def reply(cls, emails):
        pass

    @classmethod
    def write(cls, *args):
        # A user changes what a mail is linked to, never the mail.
        transaction = Transaction()
        if transaction.user and transaction.check_access:
            for values in args[1::2]:
                changed = set(values) - {'links'}
                if changed:
                    raise AccessError(gettext(
                            'crm_kit_email.msg_email_readonly',
                            fields=', '.join(sorted(changed))))
        super().write(*args)

    @classmethod
    def copy(cls, emails, default=None):
        # A copy is no mail of the mailbox.
        default = default.copy() if default is not None else {}
        for name in ['uid', 'folder', 'reply_token', 'lead']:
            default.setdefault(name)
        return super().copy(emails, default=default)

    # The mail arriving from a mailbox

    @classmethod
    def receive(cls, mailbox, folder, messages):
        """Store messages [(uid, raw, truncated)] read from folder of
        mailbox, link them and tell who listens; return how many were
        new.  A mail that can not be stored is logged and skipped."""
        values_list, attachments = [], []
        # Stored meanwhile by another reader of the mailbox
        with without_check_access():
            stored_uids = {e.uid for e in cls.search([
                        ('mailbox', '=', mailbox.id),
                        ('folder', '=', folder),
                        ('uid', 'in', [m[0] for m in messages]),
                        ])} if messages else set()
        messages = [m for m in messages if m[0] not in stored_uids]
        for uid, raw, truncated in messages:
            try:
                values, parts = parse.parse(raw)
            except Exception as exc:
                mailbox.note(gettext('crm_kit_email.msg_mail_unreadable',
                        folder=folder, uid=uid, error=str(exc)))
                continue
            values.update({
                    'company': mailbox.company.id,
                    'mailbox': mailbox.id,
                    'folder': folder,
                    'uid': uid,
                    'direction': ('out' if values['from_address']
                        == mailbox.address else 'in'),
                    'truncated': truncated,
                    'source': raw,
                    })
            # A mail without a (readable) date came when it was read.
            values['date'] = values['date'] or dt.datetime.now()
            if truncated:
                values['body_text'] = values['body_html'] = None
                values['snippet'] = ''
                parts = []
            values_list.append(values)
            attachments.append(parts)
        known = cls._known(mailbox, values_list)
        new, seen = [], set()
        for values, parts in zip(values_list, attachments):
            message_id = values['message_id']
            if message_id and (message_id in known or message_id in seen):
                continue
            seen.add(message_id)
            new.append((values, parts))
        if len(new) < len(values_list):
            cls._shared_again(mailbox, [known[v['message_id']]
                    for v in values_list
                    if v['message_id'] and v['message_id'] in known])
        stored = []
        try:
            with savepoint():
                stored = cls._store(mailbox, new)
        except Exception:
            # One bad mail must not keep its batch out: one by one.
            for item in new:
                try:
                    with savepoint():
                        stored += cls._store(mailbox, [item])
                except Exception as exc:
                    logger.exception('mailbox %s', mailbox.id)
                    mailbox.note(gettext('crm_kit_email.msg_mail_not_stored',
                            folder=folder, uid=item[0]['uid'],
                            error=str(exc)))
        return len(stored)

    @classmethod
    def _known(cls, mailbox, values_list):
        "{message id: mail} of the values' message ids already stored"
        ids = {v['message_id'] for v in values_list if v['message_id']}
        known = {}
        with without_check_access():
            for sub in grouped_slice(list(ids), 500):
                for email in cls.search([
                            ('company', '=', mailbox.company.id),
                            ('message_id', 'in', list(sub)),
                            ]):
                    known.setdefault(email.message_id, email)
        return known

    @classmethod
    def _shared_again(cls, mailbox, emails):
        """A mail of a private mailbox that also came to a shared one is
        the shared one's"""
        if mailbox.private:
            return
        emails = [e for e in emails if e.mailbox.private]
        if emails:
            # Its UID was the personal mailbox's: no mail of the shared one.
            with without_check_access():
                cls.write(emails, {
                        'mailbox': mailbox.id, 'folder': None, 'uid': None})

    @classmethod
    def _store(cls, mailbox, items):
        pool = Pool()
        Attachment = pool.get('crm.email.attachment')
        if not items:
            return []
        with without_check_access():
            emails = cls.create([v for v, _ in items])
            Attachment.create([{
                        'email': e.id, 'part': index, 'name': name[:200],
                        'content_type': ctype[:100], 'size': size,
                        } for e, (_, parts) in zip(emails, items)
                    for index, name, ctype, size in parts])
            cls.link(emails)
            cls.leads_from(mailbox, [e for e in emails if not e.links])
        return emails

    # Linking

    @classmethod
    def link(cls, emails):
        """Link each mail to the records of the thread it answers, and to
        the customers and open opportunities of its addresses"""
        pool = Pool()
        Link = pool.get('crm.email.link')
        Mailbox = pool.get('crm.mailbox')
        own = {m.address for m in Mailbox.search([])} if emails else set()
        threads = cls._threads(emails)
        addresses = {}
        for email in emails:
            addresses[email.id] = {a for a in email.addresses()
                if a not in own}
        every_address = set().union(*addresses.values())
        parties = cls._parties_by_address(every_address)
        deals = cls._open_deals(
            every_address, {p for ps in parties.values() for p in ps})
        deals_of = defaultdict(set)
        for opportunity, party, address in deals:
            if address is None:
                deals_of[party].add(opportunity)
        linked = {}
        for email in emails:
            email_parties, email_deals = set(), set()
            for party, opportunity in threads.get(email.id, []):
                if party:
                    email_parties.add(party)
                if opportunity:
                    email_deals.add(opportunity)
            for address in addresses[email.id]:
                email_parties.update(parties.get(address, []))
            for opportunity, party, address in deals:
                if address is not None and address in addresses[email.id]:
                    email_deals.add(opportunity)
            for party in email_parties:
                # A customer's only open deal is the one the mail is about.
                if len(deals_of[party]) == 1:
                    email_deals.update(deals_of[party])
            linked[email.id] = ({('party', p) for p in email_parties}
                | {('opportunity', o) for o in email_deals})
        # A reply read with the mail it answers (a mailbox's first read)
        # follows it too.
        by_message_id = {e.message_id: e for e in emails if e.message_id}
        for email in emails:
            for message_id in parse.message_ids(' '.join(filter(None,
                            [email.in_reply_to, email.references]))):
                answered = by_message_id.get(message_id)
                if answered is not None and answered is not email:
                    linked[email.id] |= linked[answered.id]
        unique = [{'email': email_id, field: target}
            for email_id, targets in linked.items()
            for field, target in sorted(targets)]
        Link.create(unique)
        cls.told(emails)

    def addresses(self):
        pairs = [(None, self.from_address)]
        for header in (self.to, self.cc):
            if header:
                pairs.extend(getaddresses([header]))
        return {a.strip().lower() for _, a in pairs if a and '@' in a}

    @classmethod
    def _threads(cls, emails):
        """{mail id: [(party, opportunity)]} of the records linked to the
        mails each answers (by Message-ID and by the reply token)"""
        pool = Pool()
        Link = pool.get('crm.email.link')
        wanted = defaultdict(set)
        tokens = defaultdict(set)
        for email in emails:
            for message_id in parse.message_ids(
                    ' '.join(filter(None,
                            [email.in_reply_to, email.references]))):
                wanted[message_id].add(email.id)
            for header in (email.to, email.cc):
                for token in parse.TOKEN.findall(header or ''):
                    tokens[token.lower()].add(email.id)
        result = defaultdict(list)
        if not wanted and not tokens:
            return result
        domain = ['OR']
        if wanted:
            domain.append(('email.message_id', 'in', list(wanted)))
        if tokens:
            domain.append(('email.reply_token', 'in', list(tokens)))
        for link in Link.search(domain):
            targets = wanted.get(link.email.message_id, set()) | tokens.get(
                link.email.reply_token or '', set())
            for email_id in targets:
                result[email_id].append((
                        link.party.id if link.party else None,
                        link.opportunity.id if link.opportunity else None))
        return result

    @classmethod
    def _parties_by_address(cls, addresses):
        "{address: [party ids]} of the customers with these e-mails"
        pool = Pool()
        Mechanism = pool.get('party.contact_mechanism')
        table = Mechanism.__table__()
        cursor = Transaction().connection.cursor()
        result = defaultdict(list)
        for sub in grouped_slice(sorted(addresses), 500):
            cursor.execute(*table.select(
                    Lower(table.value), table.party,
                    where=(table.type == 'email')
                    & (table.active == True)  # noqa: E712
                    & Lower(table.value).in_(list(sub))))
            for address, party in cursor:
                result[address].append(party)
        return result

    @classmethod
    def _open_deals(cls, addresses, parties):
        """[(opportunity, party, address)] of the open opportunities whose
        lead's e-mail is one of addresses (address) or whose customer is
        one of parties (address None)"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        table = Opportunity.__table__()
        cursor = Transaction().connection.cursor()
        result = []
        open_ = table.state.in_(OPEN_STATES)
        for sub in grouped_slice(sorted(addresses), 500):
            cursor.execute(*table.select(
                    table.id, table.party, Lower(table.lead_email),
                    where=open_ & Lower(table.lead_email).in_(list(sub))))
            result.extend(cursor)
        for sub in grouped_slice(sorted(parties), 500):
            cursor.execute(*table.select(
                    table.id, table.party,
                    where=open_ & table.party.in_(list(sub))))
            result.extend((o, p, None) for o, p in cursor)
        return result

    @classmethod
    def leads_from(cls, mailbox, emails):
        """Leads from the mail of unknown senders to a shared mailbox that
        creates leads, through the one lead-intake road"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Link = pool.get('crm.email.link')
        emails = [e for e in emails
            if e.direction == 'in' and e.kind == 'personal'
            and e.from_address and mailbox.lead_sender(e.from_address)]
        if not emails:
            return
        # A sender's later mail of the same batch goes to its first one's
        # lead, as it would have been linked a batch later.
        first = {}
        for email in emails:
            first.setdefault(email.from_address, email)
        senders = list(first.values())
        values_list = []
        for email in senders:
            values = {
                'lead_name': email.from_name or email.from_address,
                'lead_email': email.from_address,
                'description': (email.subject or email.from_address)[:200],
                'comment': (email.body_text or '')[:5000] or None,
                'company': mailbox.company.id,
                }
            if mailbox.lead_channel:
                values['channel'] = mailbox.lead_channel.id
            values_list.append(values)
        captured = dict(zip(
                [e.from_address for e in senders],
                Opportunity.capture_leads(values_list)))
        Link.create([{'email': e.id,
                    'opportunity': captured[e.from_address][1].id}
                for e in emails if captured[e.from_address][1]])
        for email in senders:
            status, lead = captured[email.from_address]
            if lead and status in {'created', 'flagged'}:
                cls.write([email], {'lead': lead.id})
        cls.told(emails)

    @classmethod
    def told(cls, emails):
        """Mail received on an opportunity or from a customer is news for
        them: their last e-mail and last activity move, which automation
        and alert rules and webhooks hear"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        from crm_kit_activity.last_activity import touch_last_activity
        received = defaultdict(set)
        for email in cls.browse(emails):
            if email.kind != 'personal':
                continue
            name = ('last_email_received' if email.direction == 'in'
                else 'last_email_sent')
            for link in email.links:
                if link.opportunity:
                    received[('sale.opportunity', name, email.date
                            or email.create_date)].add(link.opportunity.id)
                    if link.opportunity.party:
                        received[('party.party', name, email.date
                                or email.create_date)].add(
                            link.opportunity.party.id)
                if link.party:
                    received[('party.party', name, email.date
                            or email.create_date)].add(link.party.id)
        activities = []
        for (model, name, date), ids in received.items():
            Model = {'sale.opportunity': Opportunity,
                'party.party': Party}[model]
            records = [r for r in Model.browse(list(ids))
                if not getattr(r, name) or getattr(r, name) < date]
            if records:
                with without_check_access():
                    Model.write(records, {name: date})
            field = 'opportunity' if model == 'sale.opportunity' else 'party'
            activities.extend(_Touched(**{field: r}) for r in records)
        if activities:
            touch_last_activity(activities)


class _Touched:
    "What touch_last_activity reads of an activity"
    __slots__ = ('opportunity', 'party')

    def __init__(self, opportunity=None, party=None):
        self.opportunity = opportunity
        self.party = party


class EmailLink(ModelSQL, ModelView):
    "E-mail Link"
    __name__ = 'crm.email.link'
    __string__ = "E-mail Link"

    email = fields.Many2One(
        'crm.email', "E-mail", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Customer", ondelete='CASCADE',
        states={
            'required': ~Eval('opportunity'),
            })
    opportunity = fields.Many2One(
        'sale.opportunity', "Opportunity", ondelete='CASCADE',
        states={
            'required': ~Eval('party'),
            })

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.email, Index.Equality())),
                Index(t, (t.party, Index.Equality()),
                    where=t.party != Null),
                Index(t, (t.opportunity, Index.Equality()),
                    where=t.opportunity != Null),
                })

    @classmethod
    def validate_fields(cls, links, field_names):
        super().validate_fields(links, field_names)
        for link in links:
            if not link.party and not link.opportunity:
                raise ValidationError(gettext(
                        'crm_kit_email.msg_link_empty'))


class EmailAttachment(ModelSQL, ModelView):
    "E-mail Attachment"
    __name__ = 'crm.email.attachment'
    __string__ = "E-mail Attachment"

    email = fields.Many2One(
        'crm.email', "E-mail", required=True, ondelete='CASCADE',
        readonly=True)
    part = fields.Integer("Part", readonly=True)
    name = fields.Char("Name", readonly=True)
    content_type = fields.Char("Type", readonly=True)
    size = fields.Integer("Size (bytes)", readonly=True)
    size_label = fields.Function(fields.Char("Size"), 'get_size_label')
    data = fields.Function(
        fields.Binary("File", filename='name'), 'get_data')
    document = fields.Many2One(
        'crm.document', "Document", readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.email, Index.Equality())))
        cls._buttons.update({
                'save_document': {
                    'icon': 'tryton-save',
                    'invisible': Eval('document', None) != None,  # noqa: E711
                    'depends': ['document'],
                    },
                })

    def get_size_label(self, name):
        return human_size(self.size or 0)

    @classmethod
    def get_data(cls, attachments, name):
        result = {}
        by_email = defaultdict(list)
        for attachment in attachments:
            by_email[attachment.email].append(attachment)
        for email, parts in by_email.items():
            source = email.source or b''
            for attachment in parts:
                found = parse.attachment(source, attachment.part)
                result[attachment.id] = found[2] if found else None
        return result

    @classmethod
    @ModelView.button
    def save_document(cls, attachments):
        """Keep the attachments in the document library, linked to the
        records of their mail; the library checks their content"""
        pool = Pool()
        Document = pool.get('crm.document')
        for attachment in attachments:
            if attachment.document:
                continue
            email = attachment.email
            links = [{'party': l.party.id} if l.party
                else {'opportunity': l.opportunity.id}
                for l in email.links]
            name = attachment.name.rsplit('.', 1)[0] or attachment.name
            document, = Document.create([{
                        'company': email.company.id,
                        'name': name,
                        'kind': 'file',
                        'data': attachment.data,
                        'file_name': attachment.name,
                        'origin': 'customer',
                        'description': gettext(
                            'crm_kit_email.msg_document_from_email',
                            subject=email.subject or '',
                            sender=email.from_address or '',
                            date=local_time(email.date, email.company)),
                        'links': [('create', links)],
                        }])
            with without_check_access():
                cls.write([attachment], {'document': document.id})


def local_time(date, company):
    "date (UTC) as the user's language writes it, in the company's zone"
    pool = Pool()
    Lang = pool.get('ir.lang')
    if not date:
        return ''
    lang = Lang.get()
    zone = company.timezone if company else None
    date = date.replace(tzinfo=tz.UTC).astimezone(
        tz.get_tzinfo(zone) if zone else tz.UTC)
    return lang.strftime(date, lang.date + ' %H:%M')


def reply_token():
    return secrets.token_hex(8)
