# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Mailboxes the CRM reads: the company's shared ones (ventas@) and the
users' own, polled by the scheduler over IMAP for their new mail only
(by UID), and used to send replies over SMTP."""
import base64
import datetime as dt
import hashlib
import logging
import os
import smtplib
import ssl
from pathlib import Path

from sql import For

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access

from crm_kit.savepoint import savepoint

from .imap import BATCH, Connection, errors

logger = logging.getLogger(__name__)

SECURITY = [
    ('ssl', "SSL/TLS"),
    ('starttls', "STARTTLS"),
    ('none', "None"),
    ]
# A mail bigger than this is kept without its body and attachments.
DEFAULT_MAX_SIZE = 25 * 1024 * 1024
LOG_KEPT = 200  # lines of a mailbox's log


def _key():
    """The key that encrypts the mailboxes' passwords: [crm_mailbox] key
    of the configuration (shared by the machines of an install), else a
    key file made once beside the SQLite databases"""
    from cryptography.fernet import Fernet
    key = config.get('crm_mailbox', 'key')
    if not key:
        path = Path(config.get('database', 'path')) / 'crm-mailbox.key'
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as file:
                file.write(Fernet.generate_key())
        key = path.read_bytes().strip()
    elif len(key) != 44:
        # Any passphrase: made a Fernet key
        key = base64.urlsafe_b64encode(
            hashlib.sha256(key.encode()).digest())
    return Fernet(key)


def encrypt(text):
    return _key().encrypt(text.encode()).decode()


def decrypt(token):
    from cryptography.fernet import InvalidToken
    try:
        return _key().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


class MailboxError(ValidationError):
    pass


class BigInteger(fields.Integer):
    "An IMAP UID or UIDVALIDITY: up to 2^32 - 1, more than INTEGER holds"
    _sql_type = 'BIGINT'


class Mailbox(DeactivableMixin, ModelSQL, ModelView):
    "Mailbox"
    __name__ = 'crm.mailbox'
    __string__ = "Mailbox"

    name = fields.Char("Name", required=True)
    company = fields.Many2One('company.company', "Company", required=True)
    address = fields.Char(
        "E-mail Address", required=True,
        help="The address of the mailbox: the sender of the replies sent "
        "with it.")
    owner = fields.Many2One(
        'res.user', "Owner", ondelete='CASCADE',
        help="The user whose own mailbox it is. Empty: a shared mailbox "
        "of the company.")
    shared = fields.Boolean(
        "Shared with the Team",
        states={
            'invisible': ~Eval('owner'),
            },
        help="Let the users who see a customer or an opportunity see the "
        "mail of this personal mailbox linked to it. Unticked, only its "
        "owner sees it.")
    private = fields.Boolean("Private", readonly=True)
    imap_host = fields.Char("IMAP Server", required=True)
    imap_port = fields.Integer("IMAP Port", required=True)
    imap_security = fields.Selection(SECURITY, "IMAP Security", required=True)
    login = fields.Char("Login", required=True)
    password = fields.Function(fields.Char(
            "Password",
            help="Stored encrypted; never shown again. "
            "Leave empty to keep the stored one."),
        'get_password', setter='set_password')
    password_encrypted = fields.Char("Encrypted Password", readonly=True)
    password_stored = fields.Function(
        fields.Boolean("Password Stored"), 'get_password_stored')
    folders = fields.Char(
        "Folders", required=True,
        help="The folders read, separated by commas.")
    smtp_host = fields.Char(
        "SMTP Server",
        help="Where replies sent with this mailbox leave from. Empty: the "
        "server of the CRM's configuration.")
    smtp_port = fields.Integer(
        "SMTP Port",
        states={
            'required': Bool(Eval('smtp_host')),
            'invisible': ~Eval('smtp_host'),
            })
    smtp_security = fields.Selection(
        [(None, '')] + SECURITY, "SMTP Security",
        states={
            'required': Bool(Eval('smtp_host')),
            'invisible': ~Eval('smtp_host'),
            })
    max_size = fields.Integer(
        "Largest Mail (MB)", required=True,
        domain=[('max_size', '>', 0)],
        help="A bigger mail is kept without its text and attachments.")
    create_leads = fields.Boolean(
        "Create Leads",
        states={
            'invisible': Bool(Eval('owner')),
            },
        help="A mail from an unknown sender becomes a lead, through the "
        "duplicate policy and the assignment rules. Automatic replies, "
        "bounces and newsletters never do.")
    lead_senders = fields.Text(
        "Senders Giving Leads",
        states={
            'invisible': ~Eval('create_leads'),
            },
        help="One pattern per line, such as *@gmail.com or info@*; a line "
        "starting with ! excludes. Empty: any sender.")
    lead_channel = fields.Many2One(
        'crm.channel', "Lead Channel", ondelete='RESTRICT',
        states={
            'invisible': ~Eval('create_leads'),
            })
    folder_states = fields.One2Many(
        'crm.mailbox.folder', 'mailbox', "Folders Read", readonly=True)
    last_poll = fields.DateTime("Last Read", readonly=True)
    last_error = fields.Text("Last Error", readonly=True)
    idle = fields.Boolean(
        "Server Pushes New Mail", readonly=True,
        help="The server supports IMAP IDLE: the CRM hears of new mail "
        "as it arrives.")
    logs = fields.One2Many(
        'crm.mailbox.log', 'mailbox', "Log", readonly=True,
        order=[('id', 'DESC')])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('address_owner_unique', Unique(t, t.company, t.address, t.owner),
                'crm_kit_email.msg_mailbox_unique'),
            ]
        cls._buttons.update({
                'test_connection': {'icon': 'tryton-refresh'},
                'poll': {'icon': 'tryton-download'},
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_owner(cls):
        # A user connects their own mailbox; an administrator empties the
        # owner for a shared one.
        return Transaction().user or None

    @classmethod
    def default_imap_port(cls):
        return 993

    @classmethod
    def default_imap_security(cls):
        return 'ssl'

    @classmethod
    def default_folders(cls):
        return 'INBOX'

    @classmethod
    def default_max_size(cls):
        return DEFAULT_MAX_SIZE // (1024 * 1024)

    @classmethod
    def default_private(cls):
        return False

    @classmethod
    def default_shared(cls):
        return False

    @fields.depends('imap_security')
    def on_change_imap_security(self):
        self.imap_port = {'ssl': 993}.get(self.imap_security, 143)

    @fields.depends('smtp_security', 'smtp_host')
    def on_change_smtp_security(self):
        if self.smtp_host:
            self.smtp_port = {'ssl': 465, 'starttls': 587}.get(
                self.smtp_security, 25)

    @fields.depends('address', 'login')
    def on_change_address(self):
        if self.address and not self.login:
            self.login = self.address

    def get_password(self, name):
        return None

    def get_password_stored(self, name):
        return bool(self.password_encrypted)

    @classmethod
    def set_password(cls, mailboxes, name, value):
        if not value:
            return
        cls.write(mailboxes, {'password_encrypted': encrypt(value)})

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'address' in values and values['address']:
            values['address'] = values['address'].strip().lower()
        return values

    @classmethod
    def on_modification(cls, mode, mailboxes, field_names=None):
        super().on_modification(mode, mailboxes, field_names=field_names)
        if mode in {'create', 'write'}:
            # Kept on the mailbox for the record rules of its mail
            for mailbox in mailboxes:
                private = bool(mailbox.owner and not mailbox.shared)
                if mailbox.private != private:
                    cls.write([mailbox], {'private': private})

    @classmethod
    def copy(cls, mailboxes, default=None):
        default = default.copy() if default is not None else {}
        for name in ['folder_states', 'logs', 'last_poll', 'last_error',
                'password_encrypted']:
            default.setdefault(name)
        return super().copy(mailboxes, default=default)

    @property
    def folder_names(self):
        return [f.strip() for f in (self.folders or '').split(',')
            if f.strip()]

    def connect(self):
        password = decrypt(self.password_encrypted or '')
        if password is None:
            raise MailboxError(gettext('crm_kit_email.msg_password_unreadable',
                    mailbox=self.rec_name))
        return Connection(self.imap_host, self.imap_port,
            self.imap_security, self.login, password)

    def note(self, message, level='error'):
        pool = Pool()
        Log = pool.get('crm.mailbox.log')
        Log.create([{'mailbox': self.id, 'level': level, 'message': message}])
        logger.log(logging.ERROR if level == 'error' else logging.INFO,
            'mailbox %s: %s', self.id, message)

    @classmethod
    @ModelView.button
    def test_connection(cls, mailboxes):
        "Log in and look at each folder; say what failed"
        for mailbox in mailboxes:
            try:
                with mailbox.connect() as connection:
                    for folder in mailbox.folder_names:
                        connection.status(folder)
                    idle = 'IDLE' in connection.capabilities
            except errors() as exc:
                with without_check_access():
                    cls.write([mailbox], {'last_error': str(exc)})
                raise MailboxError(gettext(
                        'crm_kit_email.msg_connection_failed',
                        mailbox=mailbox.rec_name, error=str(exc))) from exc
            with without_check_access():
                cls.write([mailbox], {'last_error': None, 'idle': idle})

    @classmethod
    @ModelView.button
    def poll(cls, mailboxes):
        "Read the new mail of mailboxes now"
        for mailbox in mailboxes:
            mailbox.read_new_mail()

    @classmethod
    def poll_mailboxes(cls):
        "Scheduler: read the new mail of every active mailbox"
        for mailbox in cls.search([('active', '=', True)]):
            with Transaction().set_context(company=mailbox.company.id):
                mailbox.read_new_mail()

    def read_new_mail(self):
        """Read the mail that came since the last pass into the CRM; what
        fails is logged on the mailbox and the rest goes on.  Each folder
        keeps the UID of the last mail read, saved as each batch is
        stored, so that a mail is read once."""
        pool = Pool()
        Folder = pool.get('crm.mailbox.folder')
        Mailbox = self.__class__
        error = None
        stored = 0
        if not self.claim():
            return 0
        try:
            with self.connect() as connection:
                idle = 'IDLE' in connection.capabilities
                for name in self.folder_names:
                    state = Folder.of(self, name)
                    try:
                        stored += state.read_mail(connection)
                    except errors() as exc:
                        error = gettext('crm_kit_email.msg_folder_failed',
                            folder=name, error=str(exc))
                        self.note(error)
                        break
        except (MailboxError,) + errors() as exc:
            error = gettext('crm_kit_email.msg_connection_failed',
                mailbox=self.rec_name, error=str(exc))
            self.note(error)
            idle = self.idle
        with without_check_access():
            Mailbox.write([self], {
                    'last_poll': dt.datetime.now(),
                    'last_error': error,
                    'idle': idle,
                    })
        return stored

    def claim(self):
        """Whether this transaction may read the mailbox: no other (the
        scheduler's pass, the listener of a worker) is reading it now"""
        if backend.name != 'postgresql':
            # SQLite's writers go one at a time; a mail stored meanwhile
            # by another is known by its UID (crm.email.receive).
            return True
        cursor = Transaction().connection.cursor()
        table = self.__table__()
        try:
            with savepoint():
                cursor.execute(*table.select(table.id,
                        where=table.id == self.id,
                        for_=For('UPDATE', nowait=True)))
        except backend.DatabaseOperationalError:
            logger.info("mailbox %s is being read by another", self.id)
            return False
        return True

    def smtp_server(self):
        "A logged-in SMTP session for replies, None when none is set"
        if not self.smtp_host:
            return None
        password = decrypt(self.password_encrypted or '')
        if self.smtp_security == 'ssl':
            server = smtplib.SMTP_SSL(self.smtp_host, self.smtp_port,
                context=ssl.create_default_context(), timeout=30)
        else:
            server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30)
            if self.smtp_security == 'starttls':
                server.starttls(context=ssl.create_default_context())
        if password and server.has_extn('auth'):
            server.login(self.login, password)
        return server

    @classmethod
    def sending(cls, user=None):
        """The mailboxes user may send with: their own and the shared
        ones"""
        user = user if user is not None else Transaction().user
        return cls.search(['OR',
                ('owner', '=', user),
                ('owner', '=', None),
                ])

    def lead_sender(self, address):
        "Whether mail from address may become a lead in this mailbox"
        from fnmatch import fnmatch
        if not self.create_leads or self.owner:
            return False
        patterns = [p.strip().lower()
            for p in (self.lead_senders or '').splitlines() if p.strip()]
        included = [p for p in patterns if not p.startswith('!')]
        excluded = [p[1:] for p in patterns if p.startswith('!')]
        if any(fnmatch(address, p) for p in excluded):
            return False
        return not included or any(fnmatch(address, p) for p in included)


class MailboxFolder(ModelSQL, ModelView):
    "Mailbox Folder"
    __name__ = 'crm.mailbox.folder'
    __string__ = "Mailbox Folder"

    mailbox = fields.Many2One(
        'crm.mailbox', "Mailbox", required=True, ondelete='CASCADE')
    name = fields.Char("Folder", required=True)
    uidvalidity = BigInteger("UID Validity")
    last_uid = BigInteger("Last UID Read")
    messages = fields.Integer("Mails Read")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('name_unique', Unique(t, t.mailbox, t.name),
                'crm_kit_email.msg_folder_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.mailbox, Index.Equality())))

    @classmethod
    def default_last_uid(cls):
        return 0

    @classmethod
    def default_messages(cls):
        return 0

    @classmethod
    def of(cls, mailbox, name):
        with without_check_access():
            folders = cls.search([
                    ('mailbox', '=', mailbox.id), ('name', '=', name)])
            if folders:
                return folders[0]
            folder, = cls.create([{'mailbox': mailbox.id, 'name': name}])
        return folder

    def read_mail(self, connection):
        """Store the new mail of this folder; return how many.  Nothing
        new costs one STATUS."""
        pool = Pool()
        Email = pool.get('crm.email')
        mailbox = self.mailbox
        validity, uidnext = connection.status(self.name)
        last_uid = self.last_uid or 0
        if self.uidvalidity and validity != self.uidvalidity:
            # The server numbered the folder anew: read it again; the
            # mail already stored is known by its Message-ID.
            mailbox.note(gettext('crm_kit_email.msg_uidvalidity_changed',
                    folder=self.name), level='info')
            last_uid = 0
        if validity == self.uidvalidity and uidnext - 1 <= last_uid:
            return 0
        connection.select(self.name)
        sizes = connection.sizes(last_uid)
        max_size = (mailbox.max_size or 1) * 1024 * 1024
        uids = sorted(sizes)
        stored = 0
        self.__class__.write([self], {'uidvalidity': validity})
        for start in range(0, len(uids), BATCH):
            batch = uids[start:start + BATCH]
            small = [u for u in batch if sizes[u] <= max_size]
            large = [u for u in batch if sizes[u] > max_size]
            fetched = connection.fetch(small) if small else []
            if large:
                for uid, header in connection.fetch(large, headers_only=True):
                    fetched.append((uid, header))
                    mailbox.note(gettext('crm_kit_email.msg_mail_too_large',
                            folder=self.name, uid=uid,
                            size='%.1f' % (sizes[uid] / 1024 / 1024),
                            limit=mailbox.max_size))
                fetched.sort()
            truncated = set(large)
            stored += Email.receive(mailbox, self.name, [
                    (uid, raw, uid in truncated) for uid, raw in fetched])
            # Saved as each batch is stored: a connection lost in the next
            # one leaves this one read.
            self.__class__.write([self], {
                    'last_uid': batch[-1],
                    'messages': (self.messages or 0) + len(batch),
                    })
        if not uids:
            self.__class__.write([self], {'last_uid': max(
                        last_uid, uidnext - 1)})
        return stored


class MailboxLog(ModelSQL, ModelView):
    "Mailbox Log"
    __name__ = 'crm.mailbox.log'
    __string__ = "Mailbox Log"

    mailbox = fields.Many2One(
        'crm.mailbox', "Mailbox", required=True, ondelete='CASCADE')
    level = fields.Selection([
            ('info', "Information"),
            ('error', "Error"),
            ], "Level", required=True)
    message = fields.Text("Message", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.mailbox, Index.Equality())))
        cls._order = [('id', 'DESC')]

    @classmethod
    def create(cls, vlist):
        logs = super().create(vlist)
        # Only the latest lines of each mailbox are kept.
        with without_check_access():
            for mailbox in {l.mailbox.id for l in logs}:
                old = cls.search([('mailbox', '=', mailbox)],
                    offset=LOG_KEPT, order=[('id', 'DESC')])
                if old:
                    cls.delete(old)
        return logs
