# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The test mail servers (mailservers.py) do what the e-mail tests rely on."
import imaplib
import os
import smtplib
import socket
import time
from email.message import EmailMessage

import pytest

from . import mailservers
from .mailservers import MailServers, mail_servers


@pytest.fixture(scope='module')
def servers():
    with MailServers() as servers:
        servers.add_user('alice', 'alice-pw')
        servers.add_user('bob', 'bob-pw')
        yield servers


def message(subject, to='bob@example.com', body='Hello\n'):
    msg = EmailMessage()
    msg['From'] = 'alice@example.com'
    msg['To'] = to
    msg['Subject'] = subject
    msg.set_content(body)
    return msg


def subjects(messages):
    return [m.split(b'Subject: ', 1)[1].split(b'\r\n', 1)[0]
        for m in messages]


def test_deliver(servers):
    raw = message('Delivered').as_bytes()  # \n line ends, as in a Maildir
    servers.deliver('alice', raw)
    fetched, = [m for m in servers.messages('alice')
        if b'Subject: Delivered' in m]
    assert fetched.replace(b'\r\n', b'\n') == raw


def test_users_added_while_running(servers):
    # Two in the same second: Dovecot must see the passwd file change.
    servers.add_user('carol', 'carol-pw')
    servers.add_user('dan', 'dan-pw')
    for login in ['carol', 'dan']:
        with servers.imap(login) as imap:
            assert imap.select('INBOX') == ('OK', [b'0'])
    servers.add_user('carol', 'carol-new-pw')
    with servers.imap('carol'):
        pass
    with pytest.raises(imaplib.IMAP4.error):
        imaplib.IMAP4(servers.host, servers.imap_port).login(
            'carol', 'carol-pw')


def test_wrong_password_no_penalty(servers):
    start = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error):
        imaplib.IMAP4(servers.host, servers.imap_port).login('bob', 'wrong')
    # Dovecot's penalty would delay this one by 2 s.
    with servers.imap('bob'):
        pass
    assert time.monotonic() - start < 1.5


def test_append_other_folder(servers):
    uid = servers.append('alice', message('Archived').as_bytes(), 'Archive')
    assert uid == 1
    assert subjects(servers.messages('alice', 'Archive')) == [b'Archived']


def test_smtp_to_local_user(servers):
    outbound = len(servers.outbound)
    with smtplib.SMTP(servers.host, servers.smtp_port) as smtp:
        smtp.login('alice', 'alice-pw')
        smtp.send_message(message('Over SMTP'))
    received, = [m for m in servers.messages('bob')
        if b'Subject: Over SMTP' in m]
    assert received.startswith(b'Return-Path: <alice@example.com>\r\n')
    envelope = servers.sent[-1]
    assert envelope.rcpt_tos == ['bob@example.com']
    assert envelope.login == 'alice'
    assert b'Subject: Over SMTP' in envelope.data
    assert len(servers.outbound) == outbound


def test_smtp_outbound(servers):
    with smtplib.SMTP(servers.host, servers.smtp_port) as smtp:
        smtp.sendmail('alice@example.com',
            ['someone@elsewhere.test', 'bob@example.com'],
            message('Out', to='someone@elsewhere.test').as_bytes())
    mail_from, rcpt_tos, data = servers.outbound[-1]
    assert (mail_from, rcpt_tos) == (
        'alice@example.com', ['someone@elsewhere.test'])
    assert b'Subject: Out' in data
    assert servers.outbound[-1].login is None
    assert servers.sent[-1].rcpt_tos == [
        'someone@elsewhere.test', 'bob@example.com']
    assert b'Out' in subjects(servers.messages('bob'))


def test_smtp_refusals(servers):
    with smtplib.SMTP(servers.host, servers.smtp_port) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login('alice', 'wrong')
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail('alice@example.com', ['nobody@example.com'], b'x')


def test_idle(servers):
    with servers.imap('alice') as imap:
        assert b'IDLE' in imap.capability()[1][0].split()
        imap.select('INBOX')
        imap.send(b'idle1 IDLE\r\n')
        assert imap.readline().startswith(b'+')
        servers.deliver('alice', message('While idling').as_bytes())
        while not imap.readline().endswith(b'EXISTS\r\n'):
            pass  # Dovecot may say other things first
        imap.send(b'DONE\r\n')
        while not (line := imap.readline()).startswith(b'idle1 '):
            pass
        assert line.startswith(b'idle1 OK')


def test_drop_after(servers):
    line = b'x' * 76 + b'\r\n'
    big = message('Big').as_bytes().replace(b'\n', b'\r\n') + line * 13500
    assert len(big) > 1_000_000
    servers.append('alice', big, 'Big')
    port = servers.drop_after(300_000, drops=1)
    with pytest.raises(imaplib.IMAP4.abort):
        with servers.imap('alice', port) as imap:
            imap.select('Big')
            imap.fetch('1', '(BODY.PEEK[])')
    # The connections after the dropped ones pass whole.
    with servers.imap('alice', port) as imap:
        imap.select('Big')
        typ, data = imap.fetch('1', '(BODY.PEEK[])')
        assert data[0][1] == big
    servers.stop_proxy(port)
    with pytest.raises(OSError):
        socket.create_connection((servers.host, port), timeout=1)


def test_two_instances(servers):
    with MailServers() as other:
        assert {other.imap_port, other.smtp_port}.isdisjoint(
            {servers.imap_port, servers.smtp_port})
        other.add_user('alice', 'other-pw')
        other.deliver('alice', message('Other').as_bytes())
        assert subjects(other.messages('alice')) == [b'Other']
        assert b'Other' not in subjects(servers.messages('alice'))
        directory, port = other.directory, other.imap_port
    assert not os.path.exists(directory)
    with pytest.raises(OSError):
        socket.create_connection((servers.host, port), timeout=1)
    with servers.imap('alice'):
        pass  # still running


def test_shared_instance():
    assert mail_servers() is mail_servers()


def test_without_dovecot(monkeypatch):
    monkeypatch.setattr(mailservers, 'DOVECOT', '/nonexistent/dovecot')
    with pytest.raises(RuntimeError, match='apt-get install dovecot-imapd'):
        MailServers().start()
