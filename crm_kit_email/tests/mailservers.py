# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Real mail servers for the e-mail tests: Dovecot for IMAP, aiosmtpd for
SMTP, both on 127.0.0.1, in a temporary directory of their own.

    with MailServers() as servers:
        servers.add_user('alice', 'secret')     # alice@example.com
        servers.deliver('alice', raw_bytes)     # as a delivery agent does
        imaplib.IMAP4(servers.host, servers.imap_port).login(...)
        smtplib.SMTP(servers.host, servers.smtp_port).sendmail(...)
        servers.messages('alice')               # what the INBOX holds

mail_servers() gives one instance shared by the test run (started on first
use, stopped at exit): its users, mailboxes, `sent` and `outbound` outlive
each test, so a test takes logins of its own.

A message sent over SMTP to a user of example.com is in the user's INBOX
once smtplib returns (the SMTP server delivers before it answers DATA); to
an unknown user of example.com it is refused at RCPT (550), as a real
server does; to other domains it is kept in `outbound`.
"""
import atexit
import collections
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from email.utils import formatdate
from string import Template

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DOVECOT = '/usr/sbin/dovecot'
HOST = '127.0.0.1'
DOMAIN = 'example.com'
START_TIMEOUT = 10

# Only what the tests need, nothing from /etc/dovecot: base_dir and
# state_dir in the temporary directory keep two instances (and a system
# Dovecot) apart.
DOVECOT_CONF = Template(r'''# crm-kit e-mail tests: a throwaway IMAP server
protocols = imap
listen = $host
base_dir = $dir/run
state_dir = $dir/state
instance_name = crm-kit-test-$token
log_path = $dir/dovecot.log
# How start() knows it reached this instance and not another one that
# took the port meanwhile.
login_greeting = crm-kit test IMAP $token
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A failed login answers after 0.5 s (Dovecot's shortest) instead of 2 s.
auth_failure_delay = 0
# Dovecot refuses mail processes of uids below it (500 by default).
first_valid_uid = $uid
default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user
mail_location = maildir:~/Maildir
mail_fsync = never
# Clients under test may keep several connections (IDLE and others).
mail_max_userip_connections = 100

# A file per user: Dovecot looks at a passwd file at most once a second,
# but reads a file it has not seen at once, so a user added now logs in now.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd/%u
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%u
}
namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
}
service imap-login {
  $chroot
  inet_listener imap {
    address = $host
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
# No anvil-auth-penalty socket: the auth process then finds none and adds
# no penalty (up to 15 s a login from 127.0.0.1) after failed logins.
service anvil {
  $chroot
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
''')


class Envelope(collections.namedtuple(
            'Envelope', ['mail_from', 'rcpt_tos', 'data'])):
    """A message accepted over SMTP, as the client sent it; unpacks as
    (mail_from, rcpt_tos, data), and `login` is the user who authenticated
    (None without AUTH)."""

    def __new__(cls, mail_from, rcpt_tos, data, login=None):
        self = super().__new__(cls, mail_from, rcpt_tos, data)
        self.login = login
        return self


class MailServers:
    "Dovecot (IMAP) and aiosmtpd (SMTP) on 127.0.0.1, for one test run"
    host = HOST
    domain = DOMAIN

    def __init__(self):
        self.imap_port = self.smtp_port = None
        self.sent = []  # Envelope of every message accepted over SMTP
        self.outbound = []  # Envelope for the recipients of other domains
        self.directory = None
        self._users = {}  # login: password
        self._dovecot = None
        self._smtp = None
        self._proxies = {}
        self._names = itertools.count()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        if not os.path.exists(DOVECOT):
            raise RuntimeError(
                f'The e-mail tests need Dovecot ({DOVECOT}) for their IMAP '
                'server: apt-get install dovecot-imapd (or make mail-server)')
        if os.geteuid() == 0:
            # Dovecot refuses root for mail processes: they run as its own
            # user, which owns the mail files.
            user = pwd.getpwnam('dovecot')
            self._uid, self._gid = user.pw_uid, user.pw_gid
        else:
            self._uid, self._gid = os.getuid(), os.getgid()
        self.directory = tempfile.mkdtemp(prefix='crm-kit-mail-')
        try:
            for name in ['run', 'state', 'mail', 'passwd']:
                os.mkdir(os.path.join(self.directory, name))
            self._own('.', 'state', 'mail', 'passwd')
            self._start_dovecot()
            self._start_smtp()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for port in list(self._proxies):
            self.stop_proxy(port)
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._dovecot is not None:
            # All its processes at once: SIGTERM makes Dovecot's master
            # wait a second for its children, and nothing here is kept.
            try:
                os.killpg(self._dovecot.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._dovecot.wait()
            self._dovecot = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    # Users and their mailboxes

    def address(self, login):
        return login if '@' in login else f'{login}@{self.domain}'

    def add_user(self, login, password):
        """Create a user, with an empty INBOX, or give one a new password
        (which takes up to a second: Dovecot's)"""
        if (set(':/\n') & set(login) or login.startswith('.')
                or set(':\n') & set(password)):
            raise ValueError(f'Invalid login or password: {login!r}')
        path = os.path.join(self.directory, 'passwd', login)
        new = os.path.join(self.directory, 'passwd', f'.{login}.new')
        changed = self._users.get(login, password) != password
        with open(new, 'w') as file:
            file.write(f'{login}:{{PLAIN}}{password}\n')
        self._own(new)
        os.replace(new, path)
        self._users[login] = password
        if changed:
            # Dovecot reads the file again when it sees another mtime (in
            # seconds) or size, on the first lookup of a second: wait for
            # the next second, and make sure mtime moves.
            now = time.time()
            os.utime(path, (int(now) + 1, int(now) + 1))
            time.sleep(int(now) + 1 - now)
        maildir = self._maildir(login)
        for path in [os.path.dirname(maildir), maildir] + [
                os.path.join(maildir, d) for d in ['cur', 'new', 'tmp']]:
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
                self._own(path)

    def deliver(self, login, raw):
        """Put a message in the INBOX of login as a delivery agent does:
        written in tmp/, then moved into new/; returns its file name"""
        maildir = self._maildir(login)
        # Maildir's unique name: time, microseconds, process and counter.
        now = time.time()
        name = (f'{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}'
            f'Q{next(self._names)}.crm-kit-test')
        path = os.path.join(maildir, 'tmp', name)
        with open(path, 'wb') as file:
            file.write(raw)
        self._own(path)
        os.rename(path, os.path.join(maildir, 'new', name))
        return name

    def imap(self, login, port=None):
        """An IMAP connection logged in as login (a context manager that
        logs out); port: another port than Dovecot's, a proxy's"""
        imap = imaplib.IMAP4(self.host, port or self.imap_port, timeout=10)
        try:
            imap.login(login, self._users[login])
        except BaseException:
            imap.shutdown()
            raise
        return imap

    def append(self, login, raw, folder='INBOX', flags=''):
        """Add a message to folder (created if missing) through IMAP APPEND
        as login; returns its UID"""
        with self.imap(login) as imap:
            if folder.upper() != 'INBOX':
                imap.create(_quote(folder))  # NO if it exists: fine
            typ, data = imap.append(_quote(folder), flags, None, raw)
            _check(typ, data, 'APPEND')
        match = re.search(rb'APPENDUID \d+ (\d+)', data[0])
        return int(match.group(1)) if match else None

    def messages(self, login, folder='INBOX'):
        "The raw messages of folder, oldest first, read through IMAP as login"
        with self.imap(login) as imap:
            typ, data = imap.select(_quote(folder), readonly=True)
            _check(typ, data, 'SELECT')
            if not int(data[0]):
                return []
            typ, data = imap.fetch('1:*', '(BODY.PEEK[])')
            _check(typ, data, 'FETCH')
        return [item[1] for item in data if isinstance(item, tuple)]

    def _maildir(self, login):
        if login not in self._users:
            raise KeyError(f'No mail user {login!r}: add_user() first')
        return os.path.join(self.directory, 'mail', login, 'Maildir')

    def _own(self, *paths):
        "Give paths (relative to the directory) to the mail processes' user"
        if os.geteuid() == 0:
            for path in paths:
                os.chown(os.path.join(self.directory, path),
                    self._uid, self._gid)

    # Dovecot

    def _start_dovecot(self):
        # The free port may be taken before Dovecot binds it (another
        # test process): then try another one.
        for attempt in range(5):
            seen = len(self._dovecot_log())
            self.imap_port = _free_port()
            token = f'{os.getpid()}-{self.imap_port}'
            conf = os.path.join(self.directory, 'dovecot.conf')
            with open(conf, 'w') as file:
                file.write(self._dovecot_conf(token))
            self._dovecot = self._spawn(
                [DOVECOT, '-F', '-c', conf],
                os.path.join(self.directory, 'dovecot.out'))
            if self._wait_dovecot(token):
                return
            self._dovecot = None
            if 'Address already in use' not in self._dovecot_log()[seen:]:
                break
        raise RuntimeError(
            'Dovecot did not start:\n' + self._dovecot_log()[-3000:])

    def _dovecot_conf(self, token):
        if os.geteuid() == 0:
            internal_user, login_user = 'dovecot', 'dovenull'
            internal_group, chroot = 'dovecot', ''
        else:
            # Without root everything runs as this user, without chroot.
            internal_user = login_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
            chroot = 'chroot ='
        return DOVECOT_CONF.substitute(
            host=self.host, port=self.imap_port, dir=self.directory,
            token=token, uid=self._uid, gid=self._gid,
            internal_user=internal_user, internal_group=internal_group,
            login_user=login_user, chroot=chroot)

    def _spawn(self, args, output):
        """Start args from a thread that waits for it to end: with setpriv's
        parent-death signal, Dovecot ends with the test process even when
        it is killed; the signal follows the thread that started it, hence
        a thread alive as long as Dovecot."""
        if shutil.which('setpriv'):
            args = ['setpriv', '--pdeathsig', 'TERM', '--'] + args
        started = threading.Event()
        result = []

        def run():
            try:
                with open(output, 'ab') as out:
                    result.append(subprocess.Popen(args,
                            stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True))  # for stop()
            except BaseException as exception:
                result.append(exception)
                return
            finally:
                started.set()
            result[0].wait()
        threading.Thread(target=run, daemon=True, name='dovecot').start()
        started.wait()
        if isinstance(result[0], BaseException):
            raise result[0]
        return result[0]

    def _wait_dovecot(self, token):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._dovecot.poll() is not None:
                return False
            try:
                with socket.create_connection(
                        (self.host, self.imap_port), timeout=1) as sock:
                    if token.encode() in sock.recv(1024):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        os.killpg(self._dovecot.pid, signal.SIGKILL)
        self._dovecot.wait()
        return False

    def _dovecot_log(self):
        text = ''
        for name in ['dovecot.out', 'dovecot.log']:
            try:
                with open(os.path.join(self.directory, name)) as file:
                    text += file.read()
            except FileNotFoundError:
                pass
        return text

    # SMTP

    def _start_smtp(self):
        # server_hostname: else aiosmtpd asks socket.getfqdn() on each
        # connection, slow without DNS.
        smtp = _Controller(_Handler(self), server_hostname='localhost',
            authenticator=self._authenticate, auth_require_tls=False)
        try:
            smtp.start()
        except BaseException:
            smtp.stop(no_assert=True)
            raise
        self._smtp, self.smtp_port = smtp, smtp.port

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode('utf-8', 'replace')
            password = auth_data.password.decode('utf-8', 'replace')
            if login in self._users and self._users[login] == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def _login(self, address):
        "The login of the user of address, or None"
        address = address.lower()
        for login in self._users:
            if self.address(login).lower() == address:
                return login

    def _receive(self, session, envelope):
        mail_from, data = envelope.mail_from, envelope.original_content
        login = session.auth_data if session.authenticated else None
        self.sent.append(
            Envelope(mail_from, list(envelope.rcpt_tos), data, login))
        outside = []
        for rcpt in envelope.rcpt_tos:
            user = self._login(rcpt)
            if user is None:
                outside.append(rcpt)
                continue
            # As a final delivery: where it came from, and by which route.
            trace = (f'Return-Path: <{mail_from}>\r\n'
                f'Received: from {session.host_name} ({session.peer[0]})\r\n'
                f'\tby localhost (crm-kit test SMTP) with '
                f'{"ESMTPA" if login else "ESMTP"}\r\n'
                f'\tfor <{rcpt}>; {formatdate()}\r\n')
            self.deliver(user, trace.encode() + data)
        if outside:
            self.outbound.append(Envelope(mail_from, outside, data, login))

    # A proxy that breaks connections

    def drop_after(self, nbytes, drops=None):
        """A TCP proxy in front of Dovecot's IMAP port that closes a
        connection once it has forwarded nbytes from server to client (the
        greeting and login's answers count); drops: how many connections
        it breaks (None: all), those after pass whole.  Returns its port,
        for imap(login, port) or any client; stop_proxy(port) ends it."""
        proxy = _DropProxy((self.host, self.imap_port), nbytes, drops)
        self._proxies[proxy.port] = proxy
        return proxy.port

    def stop_proxy(self, port):
        self._proxies.pop(port).close()


def mail_servers():
    "The MailServers of this test run: started once, stopped at exit"
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MailServers().start()
            atexit.register(_shared.stop)
        return _shared


_shared = None
_shared_lock = threading.Lock()


class _Controller(Controller):
    "aiosmtpd's Controller on a socket bound first, on a free port"

    def __init__(self, handler, **kwargs):
        self._socket = socket.create_server((HOST, 0))
        super().__init__(handler, hostname=HOST,
            port=self._socket.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(
            self._factory_invoker, sock=self._socket)

    def stop(self, *args, **kwargs):
        super().stop(*args, **kwargs)
        self._socket.close()


class _Handler:
    def __init__(self, servers):
        self.servers = servers

    async def handle_RCPT(self, server, session, envelope, address,
            rcpt_options):
        domain = address.rpartition('@')[2].lower()
        if (domain == self.servers.domain
                and self.servers._login(address) is None):
            return f'550 5.1.1 <{address}>: Recipient address rejected: ' \
                'User unknown'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.servers._receive(session, envelope)
        return '250 OK: delivered'


class _DropProxy:
    def __init__(self, target, nbytes, drops):
        self.target, self.nbytes, self.drops = target, nbytes, drops
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.sockets = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        # shutdown() wakes the threads blocked in accept() and recv(),
        # which close() alone does not.
        for sock in [self.listener] + list(self.sockets):
            _close(sock)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            budget = None
            if self.drops is None or self.drops > 0:
                budget = [self.nbytes]
                if self.drops:
                    self.drops -= 1
            pair = (client, server)
            self.sockets.update(pair)
            for args in [(server, client, budget), (client, server, None)]:
                threading.Thread(target=self._pump, args=args + (pair,),
                    daemon=True).start()

    def _pump(self, source, destination, budget, pair):
        try:
            while budget is None or budget[0] > 0:
                data = source.recv(65536)
                if not data:
                    break
                if budget is not None:
                    data = data[:budget[0]]
                    budget[0] -= len(data)
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for sock in pair:
                _close(sock)
                self.sockets.discard(sock)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _quote(mailbox):
    "mailbox as an IMAP quoted string (imaplib sends arguments as given)"
    return '"%s"' % mailbox.replace('\\', '\\\\').replace('"', '\\"')


def _check(typ, data, command):
    if typ != 'OK':
        raise imaplib.IMAP4.error(f'{command}: {typ} {data!r}')
