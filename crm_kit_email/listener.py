# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""New mail as it arrives: for each active mailbox whose server pushes
(IMAP IDLE), a thread waits on its first folder and reads the mailbox as
soon as the server says a mail came.  The scheduler's pass every few
minutes stays for the other servers and for what a lost connection
missed.  crm-kit's queue worker runs the listener (crmkit.worker)."""
import logging
import threading
import time

from .imap import errors

logger = logging.getLogger(__name__)

# Seconds an IDLE lasts before it is renewed (servers end it after 30
# minutes), and between two looks at which mailboxes to listen to.
IDLE_RENEW = 25 * 60
REFRESH = 60
# Seconds before listening again after a failure
RETRY = 30


def idle(imap, timeout, stop, idling=None):
    """Wait in IDLE on the selected folder of imap until the server tells
    of new mail (True), timeout seconds pass or stop is set (False);
    idling is set once the server listens"""
    tag = imap._new_tag()
    imap.send(tag + b' IDLE\r\n')
    line = imap.readline()
    if not line.startswith(b'+'):
        raise imap.abort('IDLE refused: %r' % line)
    if idling is not None:
        idling.set()
    sock = imap.sock
    deadline = time.monotonic() + timeout
    new = False
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            sock.settimeout(1)
            try:
                line = imap.readline()
            except TimeoutError:
                continue
            if not line:
                raise imap.abort('connection closed')
            if b'EXISTS' in line or b'RECENT' in line:
                new = True
                break
    finally:
        sock.settimeout(None)
        imap.send(b'DONE\r\n')
        # The rest of the server's answer, up to the IDLE's end
        while True:
            line = imap.readline()
            if not line:
                raise imap.abort('connection closed')
            if line.startswith(tag):
                break
    return new


class MailboxListener(threading.Thread):
    "Listens to one mailbox and reads it when mail comes"

    def __init__(self, database, mailbox_id, settings, stop, on_mail=None):
        super().__init__(name='crm-mailbox-%s' % mailbox_id, daemon=True)
        self.database = database
        # What is done when mail comes: read the mailbox (tests listen)
        self.on_mail = on_mail or read_mailbox
        self.mailbox_id = mailbox_id
        self.settings = settings
        self.stop = stop
        self.done = threading.Event()
        self.idling = threading.Event()
        # False once the server said it does not push: not tried again
        # until the mailbox's settings change.
        self.pushes = None

    def run(self):
        while not (self.stop.is_set() or self.done.is_set()):
            try:
                self.listen()
            except errors() as exc:
                logger.info("mailbox %s: listening stopped: %s",
                    self.mailbox_id, exc)
                self.done.wait(RETRY)
            except Exception:
                logger.exception("mailbox %s", self.mailbox_id)
                self.done.wait(RETRY)

    def listen(self):
        from .imap import Connection
        host, port, security, login, password, folder = self.settings
        with Connection(host, port, security, login, password) as connection:
            self.pushes = 'IDLE' in connection.capabilities
            if not self.pushes:
                self.done.set()
                return
            connection.select(folder)
            # Whatever came while nobody listened
            self.on_mail(self.database, self.mailbox_id)
            while not (self.stop.is_set() or self.done.is_set()):
                if idle(connection.imap, IDLE_RENEW, self.done,
                        self.idling):
                    self.on_mail(self.database, self.mailbox_id)


def read_mailbox(database, mailbox_id):
    "Read the mailbox's new mail in a transaction of its own"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(database, 0) as transaction:
        Mailbox = Pool(database).get('crm.mailbox')
        mailbox = Mailbox(mailbox_id)
        with transaction.set_context(company=mailbox.company.id):
            mailbox.read_new_mail()
        transaction.commit()


class Listener:
    """The listeners of a database's mailboxes, started and stopped as
    mailboxes are added, changed or deactivated"""

    def __init__(self, database, on_mail=None):
        self.database = database
        self.on_mail = on_mail
        self.stop = threading.Event()
        self.threads = {}

    def mailboxes(self):
        "{id: connection settings} of the active mailboxes"
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        from .mailbox import decrypt
        pool = Pool(self.database)
        with Transaction().start(self.database, 0, readonly=True):
            if 'crm.mailbox' not in {n for n, _ in pool.iterobject()}:
                return {}
            Mailbox = pool.get('crm.mailbox')
            result = {}
            for mailbox in Mailbox.search([('active', '=', True)]):
                password = decrypt(mailbox.password_encrypted or '')
                if password is None or not mailbox.folder_names:
                    continue
                result[mailbox.id] = (mailbox.imap_host, mailbox.imap_port,
                    mailbox.imap_security, mailbox.login, password,
                    mailbox.folder_names[0])
            return result

    def refresh(self):
        wanted = self.mailboxes()
        for mailbox_id, thread in list(self.threads.items()):
            if (wanted.get(mailbox_id) != thread.settings
                    or (not thread.is_alive()
                        and thread.pushes is not False)):
                thread.done.set()
                del self.threads[mailbox_id]
        for mailbox_id, settings in wanted.items():
            if mailbox_id not in self.threads:
                thread = MailboxListener(self.database, mailbox_id,
                    settings, self.stop, on_mail=self.on_mail)
                self.threads[mailbox_id] = thread
                thread.start()

    def run(self, refresh=REFRESH):
        "Listen until stop is set, looking at the mailboxes every refresh s"
        while not self.stop.is_set():
            try:
                self.refresh()
            except Exception:
                logger.exception("mail listener of %s", self.database)
            self.stop.wait(refresh)
        for thread in self.threads.values():
            thread.done.set()

    def close(self, timeout=10):
        "Stop listening, and wait for the listeners to end"
        self.stop.set()
        for thread in self.threads.values():
            thread.done.set()
        for thread in self.threads.values():
            thread.join(timeout)

    def start(self, refresh=REFRESH):
        thread = threading.Thread(target=self.run, args=(refresh,),
            name='crm-mail-listener', daemon=True)
        thread.start()
        return thread
