# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The talk with an IMAP server: log in, see whether a folder has new
mail (one STATUS), and read the new mail by UID in a few batches, each a
single round-trip."""
import imaplib
import re
import socket
import ssl
from contextlib import contextmanager

TIMEOUT = 30  # seconds the server has to answer
BATCH = 200  # mails read in one round-trip


class MailboxError(Exception):
    "What went wrong talking to the server, said for the mailbox's log"


def quote(folder):
    return '"%s"' % folder.replace('\\', '\\\\').replace('"', '\\"')


def _check(result, what):
    typ, data = result
    if typ != 'OK':
        detail = b' '.join(d for d in data if isinstance(d, bytes))
        raise MailboxError('%s: %s' % (what, detail.decode('utf-8', 'replace')))
    return data


def uid_set(uids):
    "The IMAP sequence set of uids: 1:5,9,12:14"
    parts = []
    uids = sorted(uids)
    start = previous = None
    for uid in uids:
        if start is None:
            start = previous = uid
        elif uid == previous + 1:
            previous = uid
        else:
            parts.append((start, previous))
            start = previous = uid
    if start is not None:
        parts.append((start, previous))
    return ','.join(str(a) if a == b else '%s:%s' % (a, b) for a, b in parts)


class Connection:
    "One logged-in session with an IMAP server"

    def __init__(self, host, port, security, login, password,
            timeout=TIMEOUT):
        self.host, self.port, self.security = host, port, security
        self.login, self.password = login, password
        self.timeout = timeout
        self.imap = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        try:
            if self.security == 'ssl':
                self.imap = imaplib.IMAP4_SSL(self.host, self.port,
                    ssl_context=ssl.create_default_context(),
                    timeout=self.timeout)
            else:
                self.imap = imaplib.IMAP4(
                    self.host, self.port, timeout=self.timeout)
                if self.security == 'starttls':
                    self.imap.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise MailboxError('connect %s:%s: %s' % (
                    self.host, self.port, exc)) from exc
        try:
            self.imap.login(self.login, self.password)
        except imaplib.IMAP4.error as exc:
            self.close()
            raise MailboxError('login: %s' % exc) from exc

    def close(self):
        if self.imap is None:
            return
        try:
            self.imap.logout()
        except Exception:
            try:
                self.imap.shutdown()
            except Exception:
                pass
        self.imap = None

    @property
    def capabilities(self):
        return set(self.imap.capabilities)

    def status(self, folder):
        "(UIDVALIDITY, UIDNEXT) of folder: one round-trip"
        data = _check(self.imap.status(quote(folder), '(UIDVALIDITY UIDNEXT)'),
            'STATUS %s' % folder)
        text = b' '.join(d for d in data if isinstance(d, bytes)).decode()
        validity = re.search(r'UIDVALIDITY (\d+)', text)
        uidnext = re.search(r'UIDNEXT (\d+)', text)
        if not validity or not uidnext:
            raise MailboxError('STATUS %s: %s' % (folder, text))
        return int(validity.group(1)), int(uidnext.group(1))

    def select(self, folder):
        _check(self.imap.select(quote(folder), readonly=True),
            'SELECT %s' % folder)

    def sizes(self, after):
        "{uid: size} of the selected folder's mails after uid after"
        data = _check(self.imap.uid('FETCH', '%d:*' % (after + 1),
                '(RFC822.SIZE)'), 'FETCH')
        sizes = {}
        for item in data:
            if isinstance(item, tuple):
                item = item[0]
            if not item:
                continue
            match = re.search(rb'UID (\d+)', item)
            size = re.search(rb'RFC822\.SIZE (\d+)', item)
            if match and size and int(match.group(1)) > after:
                sizes[int(match.group(1))] = int(size.group(1))
        return sizes

    def fetch(self, uids, headers_only=False):
        """[(uid, bytes)] of the mails uids of the selected folder, in one
        round-trip; only their header when headers_only"""
        part = 'BODY.PEEK[HEADER]' if headers_only else 'BODY.PEEK[]'
        data = _check(self.imap.uid('FETCH', uid_set(uids),
                '(UID %s)' % part), 'FETCH')
        result = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            match = re.search(rb'UID (\d+)', item[0])
            if match:
                result.append((int(match.group(1)), item[1]))
        result.sort()
        return result

    def append(self, folder, raw):
        _check(self.imap.append(quote(folder), '(\\Seen)', None, raw),
            'APPEND %s' % folder)


def errors():
    "The exceptions that say the server or the network failed"
    return (MailboxError, OSError, socket.timeout, ssl.SSLError,
        imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError)


@contextmanager
def commands_sent():
    """The list of the commands every connection opened in the block sends
    (but LOGIN and LOGOUT): what a pass costs in round-trips"""
    commands = []
    original = Connection.open

    def open_(connection):
        original(connection)
        send = connection.imap.send

        def counted(data):
            command = data.split(b' ', 2)[1].strip()
            if command not in {b'LOGIN', b'LOGOUT'}:
                commands.append(command)
            return send(data)
        connection.imap.send = counted
    Connection.open = open_
    try:
        yield commands
    finally:
        Connection.open = original
