"""Mailbox import: a mailbox of 10,000 mails read into the CRM for the
first time, on a real IMAP server (Dovecot, as the e-mail tests start it:
crm_kit_email/tests/mailservers.py), compared in the same run with the
lower bound, the same mails fetched with Python's imaplib alone in the
same batches, stored nowhere.

    .venv/bin/python bench/run.py --only email_import

bench/run.py runs it once (ONCE).  It works in a database of its own,
crm_kit_bench_email (or $CRM_KIT_BENCH_DATABASE + '_email'), cloned from
the bench template (crm-kit init: every module, the company, the bench
users), left in place afterwards.

The mails (from random.Random(SEED)) are what a sales mailbox holds: a
third from 500 customers (parties with that e-mail, a third of them with
an open opportunity), the rest from unknown senders; half with a quoted
reply, one in ten HTML with a text part, one in twenty with a 40 kB PDF,
replies threaded on earlier ones.  The mailbox does not create leads (a
first import of a mailbox's history should not).  Each pass counts the
IMAP commands it sends: the first pass's must stay bounded (a few per
batch of 200 mails), a pass with nothing new sends one."""
import os
import random
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402

TITLE = "Mailbox import (IMAP, first read of a mailbox)"
ONCE = True
MAILS = 10_000
CUSTOMERS = 500
SEED = 2727
PASSWORD = 'bench-mailbox'
# The targets
TARGET_RATE = 50
TARGET_NOTHING_NEW = 1


def generate(count, customers, rng):
    "count raw mails to ventas@example.com"
    pdf = b'%PDF-1.4\n' + b'0' * 40_000 + b'\n%%EOF\n'
    ids = []
    for i in range(count):
        msg = EmailMessage()
        if rng.random() < 1 / 3:
            sender = rng.choice(customers)
        else:
            sender = f'contacto{rng.randrange(20_000)}@empresa' \
                f'{rng.randrange(3_000)}.test'
        msg['From'] = sender
        msg['To'] = 'ventas@example.com'
        msg['Subject'] = f"Consulta {i}: presupuesto de la obra"
        msg['Date'] = formatdate(time.time() - (count - i) * 600)
        msg['Message-ID'] = message_id = make_msgid(domain='bench.test')
        if ids and rng.random() < 0.3:
            answered = rng.choice(ids[-200:])
            msg['In-Reply-To'] = answered
            msg['References'] = answered
        ids.append(message_id)
        text = ("Buenos días,\n\nQuería saber el precio de la reforma "
            f"número {i}.\n\nUn saludo\n")
        if rng.random() < 0.5:
            text += "\n> " + "\n> ".join(["Le adjunto el presupuesto."] * 8)
        msg.set_content(text)
        if rng.random() < 0.1:
            msg.add_alternative(f"<p>{text}</p>", subtype='html')
        if rng.random() < 0.05:
            msg.add_attachment(pdf, maintype='application', subtype='pdf',
                filename=f'plano-{i}.pdf')
        yield msg.as_bytes()


def setup(name, servers):
    from crmkit.cli import run_in_transaction

    def create():
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Company = pool.get('company.company')
        Mailbox = pool.get('crm.mailbox')
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        User = pool.get('res.user')
        company, = Company.search([], limit=1)
        owner, = User.search([('login', '=', 'bench_rep')])
        with Transaction().set_context(company=company.id):
            parties = Party.create([{
                        'name': f"Cliente {i}",
                        'contact_mechanisms': [('create', [{
                                        'type': 'email',
                                        'value': f'cliente{i}@clientes.test',
                                        }])],
                        } for i in range(CUSTOMERS)])
            Opportunity.create([{
                        'party': p.id, 'description': "Reforma",
                        'owner': owner.id, 'company': company.id,
                        } for p in parties[::3]])
            mailbox, = Mailbox.create([{
                        'company': company.id, 'name': "Ventas",
                        'address': 'ventas@example.com', 'login': 'ventas',
                        'owner': None, 'password': PASSWORD,
                        'imap_host': servers.host,
                        'imap_port': servers.imap_port,
                        'imap_security': 'none',
                        }])
            return mailbox.id, company.id
    return run_in_transaction(name, create)


def read(name, mailbox, company):
    from crmkit.cli import run_in_transaction

    def run():
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        Mailbox = Pool().get('crm.mailbox')
        with Transaction().set_context(company=company):
            return Mailbox(mailbox).read_new_mail()
    from crm_kit_email.imap import commands_sent
    with commands_sent() as commands:
        start = time.monotonic()
        stored = run_in_transaction(name, run)
        seconds = time.monotonic() - start
    return {'mails': stored, 'seconds': seconds, 'commands': len(commands)}


def raw_fetch(servers):
    "The lower bound: the same fetches with imaplib, stored nowhere"
    from crm_kit_email.imap import BATCH, Connection
    start = time.monotonic()
    commands = 0
    fetched = 0
    with Connection(servers.host, servers.imap_port, 'none', 'ventas',
            PASSWORD) as connection:
        connection.status('INBOX')
        connection.select('INBOX')
        sizes = connection.sizes(0)
        commands += 3
        uids = sorted(sizes)
        for start_ in range(0, len(uids), BATCH):
            fetched += len(connection.fetch(uids[start_:start_ + BATCH]))
            commands += 1
    return {'mails': fetched, 'seconds': time.monotonic() - start,
        'commands': commands}


def measure(name, mails=MAILS, log=print):
    from crm_kit_email.tests.mailservers import MailServers
    data.clone_database(name, log=log)
    rng = random.Random(SEED)
    customers = [f'cliente{i}@clientes.test' for i in range(CUSTOMERS)]
    with MailServers() as servers:
        servers.add_user('ventas', PASSWORD)
        start = time.monotonic()
        size = 0
        for raw in generate(mails, customers, rng):
            servers.deliver('ventas', raw)
            size += len(raw)
        log(f"{mails:,} mails ({size / 1024 / 1024:.0f} MB) delivered in "
            f"{time.monotonic() - start:.1f} s")
        mailbox, company = setup(name, servers)
        lower = raw_fetch(servers)
        log(f"imaplib alone: {lower['seconds']:.1f} s")
        first = read(name, mailbox, company)
        log(f"crm-kit, first pass: {first['mails']:,} mails in "
            f"{first['seconds']:.1f} s, {first['commands']} commands")
        again = read(name, mailbox, company)
        log(f"crm-kit, nothing new: {again['seconds'] * 1000:.0f} ms, "
            f"{again['commands']} commands")
    return {'mails': mails, 'megabytes': size / 1024 / 1024,
        'lower': lower, 'first': first, 'again': again}


def run(ctx):
    "bench/run.py's entry point: one result row"
    return [measure(f'{ctx.database}_email', log=ctx.log)]


def rate(measured):
    return measured['mails'] / measured['seconds']


def tables(rows):
    result = []
    for row in rows:
        lines = []
        for label, key in [
                ("crm-kit, first read (stored, linked)", 'first'),
                ("imaplib alone, same batches (lower bound)", 'lower'),
                ("crm-kit, a pass with nothing new", 'again'),
                ]:
            measured = row[key]
            lines.append([label, f"{measured['mails']:,}",
                    f"{measured['seconds']:.2f}",
                    f"{rate(measured):,.0f}" if measured['mails'] else "–",
                    str(measured['commands'])])
        result.append((
            f"{row['mails']:,} mails ({row['megabytes']:.0f} MB) in one "
            "IMAP folder, one run",
            ["Pass", "Mails", "Seconds", "Mails/s", "IMAP commands"],
            lines))
    return result


def summary(rows):
    parts = []
    for row in rows:
        first, lower, again = row['first'], row['lower'], row['again']
        parts.append(
            f"The first read stores {rate(first):,.0f} mails/s (target "
            f"≥ {TARGET_RATE}: {'met' if rate(first) >= TARGET_RATE else 'missed'}), "
            f"{first['seconds'] / lower['seconds']:.1f}× the time imaplib "
            f"alone takes to fetch them, in {first['commands']} IMAP "
            f"commands for {row['mails']:,} mails. A pass with nothing "
            f"new sends {again['commands']} command (target "
            f"{TARGET_NOTHING_NEW}: "
            f"{'met' if again['commands'] <= TARGET_NOTHING_NEW else 'missed'}).")
    return '\n\n'.join(parts)


if __name__ == '__main__':
    home = data.configure()
    os.environ.setdefault('CRM_KIT_HOME', str(home))
    print(summary([measure(f'{data.DB_NAME}_email')]))
