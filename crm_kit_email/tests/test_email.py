# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""E-mail on the record, against real servers (mailservers.py: Dovecot
for IMAP, aiosmtpd for SMTP): mailboxes read once by UID, mail matched
by address and by thread, leads from unknown senders, replies from the
CRM that reach the customer's mailbox and whose answer threads back,
attachments to documents, who sees which mail, and bad input."""
import json
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, check_access

from crm_kit.tests.tools import (
    CrmRouteTestCase, api_key, create_customer, create_opportunity,
    in_transaction, load_spanish, run_queued, setup_crm)
from crm_kit_document.tests.tools import EXE, PDF

from .. import imap
from ..listener import Listener
from .mailservers import mail_servers

PASSWORD = 'clave-del-buzon'


def message(subject, sender, to, body="Hola,\n\n¿Podéis enviarme el "
        "presupuesto?\n", **headers):
    msg = EmailMessage()
    msg['From'] = sender
    msg['To'] = to
    msg['Subject'] = subject
    msg['Message-ID'] = make_msgid(domain='example.com')
    msg['Date'] = formatdate()
    for name, value in headers.items():
        msg[name.replace('_', '-')] = value
    msg.set_content(body)
    return msg


class EmailTestCase(CrmRouteTestCase):
    module = 'crm_kit_email'
    extras = ['crm_kit_api']

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Mailbox = pool.get('crm.mailbox')
        Application = pool.get('res.user.application')
        servers = mail_servers()
        for login in ['ventas', 'comercial', 'cliente', 'prensa']:
            servers.add_user(login, PASSWORD)
        crm = setup_crm()
        load_spanish('crm_kit_email')
        User.write([crm.rep, crm.rep2, crm.manager],
            {'password': cls.password})
        with Transaction().set_context(company=crm.company.id):
            customer = create_customer(
                "Cliente Ejemplo S.L.", email='Cliente@example.com')
            cls.customer = customer.id
            cls.deal = create_opportunity(crm, owner=crm.rep, lines=False,
                party=customer, description="Reforma del taller").id
            cls.other_deal = create_opportunity(crm, owner=crm.rep2,
                lines=False, description="Flota").id
            common = {
                'company': crm.company.id,
                'imap_host': servers.host,
                'imap_port': servers.imap_port,
                'imap_security': 'none',
                'smtp_host': servers.host,
                'smtp_port': servers.smtp_port,
                'smtp_security': 'none',
                'password': PASSWORD,
                }
            shared, personal = Mailbox.create([{
                        'name': "Ventas",
                        'address': 'ventas@example.com',
                        'login': 'ventas',
                        'owner': None,
                        'create_leads': True,
                        'lead_senders': '!*@example.com',
                        **common,
                        }, {
                        'name': "Correo de Rep",
                        'address': 'comercial@example.com',
                        'login': 'comercial',
                        'owner': crm.rep.id,
                        **common,
                        }])
            cls.shared, cls.personal = shared.id, personal.id
        cls.company = crm.company.id
        cls.users = {u.login: u.id for u in [crm.rep, crm.rep2, crm.manager]}
        cls.keys = {}
        for user in [crm.rep, crm.rep2]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    @property
    def servers(self):
        return mail_servers()

    def send(self, msg, to=None):
        "Send msg through the SMTP server, which delivers it"
        with smtplib.SMTP(self.servers.host, self.servers.smtp_port) as smtp:
            smtp.send_message(msg, to_addrs=to)

    def poll(self, mailbox=None):
        "A scheduler pass over the mailboxes, committed; the mail stored"
        def run():
            pool = Pool()
            Mailbox = pool.get('crm.mailbox')
            with Transaction().set_context(company=self.company):
                if mailbox:
                    return Mailbox(mailbox).read_new_mail()
                Mailbox.poll_mailboxes()
        return in_transaction(run, user=0)

    def emails(self, domain):
        def run():
            Email = Pool().get('crm.email')
            return [(e.id, e.subject) for e in Email.search(domain)]
        return in_transaction(run, user=0)

    def test_reply_reaches_the_customer_and_its_answer_threads_back(self):
        "Sent from the deal, read in the customer's mailbox, answered"
        def write():
            pool = Pool()
            Compose = pool.get('crm.email.compose', type='wizard')
            Email = pool.get('crm.email')
            with Transaction().set_user(self.users['rep']), \
                    Transaction().set_context(company=self.company,
                        active_model='sale.opportunity',
                        active_id=self.deal, active_ids=[self.deal]), \
                    check_access():
                session_id, _, _ = Compose.create()
                start = Compose.execute(session_id, {}, 'start')
                values = {k: v for k, v in start['view']['defaults'].items()
                    if '.' not in k}
                self.assertEqual(values['to'], 'Cliente@example.com')
                self.assertEqual(values['opportunities'], [self.deal])
                values.update({
                        'mailbox': self.shared,
                        'subject': "Presupuesto de la reforma",
                        'body': "Le adjunto las condiciones.",
                        })
                Compose.execute(session_id, {'start': values}, 'send')
            run_queued()
            sent, = Email.search([
                    ('subject', '=', "Presupuesto de la reforma")])
            return sent.id, sent.message_id, sent.send_state
        sent, message_id, state = in_transaction(write)
        self.assertEqual(state, 'sent')
        received, = [m for m in self.servers.messages('cliente')
            if b'Presupuesto de la reforma' in m]
        self.assertIn(message_id.encode(), received)

        # The answer comes from an address the CRM does not know: the
        # thread tells which deal it is about.
        answer = message("Re: Presupuesto de la reforma",
            "Ana Gómez <ana.gomez@proveedor.test>", 'ventas@example.com',
            body="De acuerdo, adelante.\n\n> Le adjunto las condiciones.\n",
            In_Reply_To=message_id, References=message_id)
        self.send(answer)
        self.assertEqual(self.poll(self.shared), 1)

        def check():
            pool = Pool()
            Email = pool.get('crm.email')
            Opportunity = pool.get('sale.opportunity')
            History = pool.get('crm.customer.history')
            reply, = Email.search([
                    ('message_id', '=', answer['Message-ID'])])
            self.assertEqual(reply.direction, 'in')
            self.assertEqual(reply.snippet, "De acuerdo, adelante.")
            self.assertEqual(
                [l.opportunity.id for l in reply.links if l.opportunity],
                [self.deal])
            self.assertIsNone(reply.lead)
            deal = Opportunity(self.deal)
            self.assertEqual(deal.last_email_received, reply.date)
            self.assertLessEqual(
                {sent, reply.id}, {e.id for e in deal.crm_emails})
            with Transaction().set_context(company=self.company):
                history = History.search([
                        ('party', '=', self.customer),
                        ('kind', '=', 'email')])
            self.assertLessEqual({sent, reply.id}, {h.email.id for h in history})
        in_transaction(check, user=0)

        # Read once: the next pass finds nothing new.
        self.assertEqual(self.poll(self.shared), 0)
        self.assertEqual(len(self.emails(
                    [('message_id', '=', answer['Message-ID'])])), 1)

    def test_mail_matched_by_address(self):
        "The customer's address links its mail to it and its only deal"
        msg = message("Duda sobre la reforma", 'cliente@example.com',
            'ventas@example.com', Cc='otro@example.com')
        self.send(msg)
        self.poll(self.shared)

        def check():
            Email = Pool().get('crm.email')
            email, = Email.search([('message_id', '=', msg['Message-ID'])])
            self.assertEqual(
                {(l.party and l.party.id, l.opportunity and l.opportunity.id)
                    for l in email.links},
                {(self.customer, None), (None, self.deal)})
            self.assertEqual(email.from_address, 'cliente@example.com')
        in_transaction(check, user=0)

    def test_reply_read_with_the_mail_it_answers(self):
        "Read in the same pass, a reply follows the mail it answers"
        first = message("Cambio de fecha", 'cliente@example.com',
            'ventas@example.com')
        answer = message("Re: Cambio de fecha", 'asistente@gestoria.test',
            'ventas@example.com', In_Reply_To=first['Message-ID'],
            References=first['Message-ID'])
        self.send(first)
        self.send(answer)
        self.assertEqual(self.poll(self.shared), 2)

        def check():
            Email = Pool().get('crm.email')
            email, = Email.search([('message_id', '=', answer['Message-ID'])])
            self.assertIn(self.deal,
                [l.opportunity.id for l in email.links if l.opportunity])
            # Not a lead: it answers a customer's mail.
            self.assertIsNone(email.lead)
        in_transaction(check, user=0)

    def test_lead_from_an_unknown_sender(self):
        "A stranger's mail is a lead, once; robots' mail is not"
        first = message("Quiero un presupuesto", "Luis Pérez <luis@nueva.test>",
            'ventas@example.com', body="Necesitamos un CRM para 5 personas.")
        again = message("Otra pregunta", "Luis Pérez <luis@nueva.test>",
            'ventas@example.com')
        auto = message("Respuesta automática: fuera de la oficina",
            'vacaciones@lejos.test', 'ventas@example.com',
            Auto_Submitted='auto-replied')
        newsletter = message("Novedades de noviembre",
            'boletin@tienda.test', 'ventas@example.com',
            List_Unsubscribe='<mailto:baja@tienda.test>')
        bounce = message("Undelivered Mail Returned to Sender",
            'MAILER-DAEMON@correo.test', 'ventas@example.com')
        colleague = message("Comida el viernes", 'prensa@example.com',
            'ventas@example.com')
        for msg in [first, again, auto, newsletter, bounce, colleague]:
            self.send(msg)
        self.poll(self.shared)

        def check():
            pool = Pool()
            Email = pool.get('crm.email')
            Opportunity = pool.get('sale.opportunity')
            leads = Opportunity.search([('lead_email', '=', 'luis@nueva.test')])
            self.assertEqual(len(leads), 1)
            lead, = leads
            self.assertEqual(lead.lead_name, "Luis Pérez")
            self.assertEqual(lead.description, "Quiero un presupuesto")
            self.assertIn("5 personas", lead.comment)
            kinds = {}
            for msg in [first, again, auto, newsletter, bounce, colleague]:
                email, = Email.search(
                    [('message_id', '=', msg['Message-ID'])])
                kinds[str(msg['Subject'])] = (email.kind,
                    [l.opportunity.id for l in email.links
                        if l.opportunity])
            self.assertEqual(kinds, {
                    "Quiero un presupuesto": ('personal', [lead.id]),
                    "Otra pregunta": ('personal', [lead.id]),
                    "Respuesta automática: fuera de la oficina": (
                        'auto_reply', []),
                    "Novedades de noviembre": ('newsletter', []),
                    "Undelivered Mail Returned to Sender": ('bounce', []),
                    # The rule leaves the company's own senders out.
                    "Comida el viernes": ('personal', []),
                    })
        in_transaction(check, user=0)

    def test_attachment_saved_to_documents(self):
        "An attachment goes to the library through its content checks"
        msg = message("Planos firmados", 'cliente@example.com',
            'ventas@example.com')
        msg.add_attachment(PDF, maintype='application', subtype='pdf',
            filename='planos.pdf')
        msg.add_attachment(EXE, maintype='application',
            subtype='octet-stream', filename='factura.pdf.exe')
        self.send(msg)
        self.poll(self.shared)

        def save():
            pool = Pool()
            Email = pool.get('crm.email')
            Attachment = pool.get('crm.email.attachment')
            email, = Email.search([('message_id', '=', msg['Message-ID'])])
            pdf, exe = sorted(email.attachments, key=lambda a: a.part)
            self.assertEqual((pdf.name, pdf.size), ('planos.pdf', len(PDF)))
            self.assertEqual(pdf.data, PDF)
            with Transaction().set_user(self.users['rep']), \
                    Transaction().set_context(company=self.company), \
                    check_access():
                Attachment.save_document([Attachment(pdf.id)])
                with self.assertRaises(ValidationError):
                    Attachment.save_document([Attachment(exe.id)])
            document = Attachment(pdf.id).document
            self.assertEqual(document.data, PDF)
            self.assertEqual(
                {(l.party and l.party.id, l.opportunity and l.opportunity.id)
                    for l in document.links},
                {(self.customer, None), (None, self.deal)})
        in_transaction(save, user=0)

    def test_who_sees_which_mail(self):
        "Mail follows its records; a personal mailbox stays its owner's"
        to_shared = message("Consulta compartida", 'cliente@example.com',
            'ventas@example.com')
        other = message("Consulta de la flota", 'flota@cliente2.test',
            'ventas@example.com')
        private = message("Solo para Rep", 'cliente@example.com',
            'comercial@example.com')
        self.send(to_shared)
        self.send(other)
        self.send(private)
        self.poll()

        def ids():
            Email = Pool().get('crm.email')
            result = {}
            for msg in [to_shared, other, private]:
                email, = Email.search(
                    [('message_id', '=', msg['Message-ID'])])
                result[str(msg['Subject'])] = email.id
            return result
        ids = in_transaction(ids, user=0)

        def subjects(login):
            result = self.rpc(login, 'model.crm.email.search_read',
                [('id', 'in', list(ids.values()))], 0, None, None,
                ['subject'], company=self.company)
            return {r['subject'] for r in result}
        self.assertEqual(subjects('rep'),
            {"Consulta compartida", "Solo para Rep"})
        # The other rep sees none: not the rep's customer's mail, not the
        # rep's own mailbox.
        self.assertEqual(subjects('rep2'), set())
        # The manager sees the team's mail, not a member's own mailbox.
        self.assertEqual(subjects('manager'), {"Consulta compartida"})
        count = self.rpc('rep2', 'model.crm.email.search_count',
            [('subject', 'ilike', '%Solo para%')], company=self.company)
        self.assertEqual(count, 0)

        # Through REST as well, by id.
        response = self.rest('get', f'crm.email/{ids["Solo para Rep"]}',
            self.keys['rep'], company=self.company,
            query_string={'f': 'subject'})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            json.loads(response.text)['subject'], "Solo para Rep")
        response = self.rest('get', f'crm.email/{ids["Solo para Rep"]}',
            self.keys['rep2'], company=self.company)
        self.assertIn(response.status_code, {403, 404}, response.text)

        # Nobody reads a mailbox's password, encrypted or not.
        result = self.rpc('rep', 'model.crm.mailbox.read', [self.personal],
            ['password_encrypted'], company=self.company)
        self.assertEqual(result[0], 'error')
        result = self.rpc('rep', 'model.crm.mailbox.read', [self.personal],
            ['password', 'password_stored'], company=self.company)
        self.assertEqual(
            (result[0]['password'], result[0]['password_stored']),
            (None, True), result)
        # The other rep may not change the rep's mailbox.
        result = self.rpc('rep2', 'model.crm.mailbox.write', [self.personal],
            {'shared': True}, company=self.company)
        self.assertEqual(result[0], 'error')

        # A mail is kept as it came; the other rep changes nothing of it.
        result = self.rpc('rep', 'model.crm.email.write',
            [ids["Solo para Rep"]], {'subject': "Cambiado"},
            company=self.company)
        self.assertEqual(result[0], 'error')
        self.assertIn("only what it is linked to", result[1])
        result = self.rpc('rep2', 'model.crm.email.write',
            [ids["Solo para Rep"]], {'links': [('create', [
                            {'opportunity': self.other_deal}])]},
            company=self.company)
        self.assertEqual(result[0], 'error')
        response = self.rest('put', f'crm.email/{ids["Solo para Rep"]}',
            self.keys['rep'], company=self.company,
            json={'subject': "Cambiado"})
        self.assertGreaterEqual(response.status_code, 400, response.text)
        self.assertLess(response.status_code, 500, response.text)
        self.assertEqual(self.emails([('subject', '=', "Cambiado")]), [])

        # Unlinked by the rep, the mail leaves the customer's tab and stays.
        links = self.rpc('rep', 'model.crm.email.link.search',
            [('email', '=', ids["Consulta compartida"]),
                ('party', '=', self.customer)], 0, None, None,
            company=self.company)
        self.assertEqual(len(links), 1)
        result = self.rpc('rep', 'model.crm.email.link.delete', links,
            company=self.company)
        self.assertIsNone(result)
        customer_mail = self.rpc('rep', 'model.party.party.read',
            [self.customer], ['crm_emails'], company=self.company)
        self.assertNotIn(ids["Consulta compartida"],
            customer_mail[0]['crm_emails'])
        self.assertTrue(self.emails([('id', '=', ids["Consulta compartida"])]))

    def test_bad_input(self):
        "Broken mail, big mail, lost connection, wrong password: logged"
        servers = self.servers
        servers.add_user('entrada', PASSWORD)

        def mailbox(**values):
            def create():
                Mailbox = Pool().get('crm.mailbox')
                with Transaction().set_context(company=self.company):
                    box, = Mailbox.create([{
                                'name': values.get('login', 'entrada'),
                                'address': 'entrada@example.com',
                                'login': 'entrada',
                                'password': PASSWORD,
                                'imap_host': servers.host,
                                'imap_port': servers.imap_port,
                                'imap_security': 'none',
                                'owner': self.users['rep2'],
                                **values,
                                }])
                    return box.id
            return in_transaction(create, user=0)

        broken = (b'From: cliente@example.com\r\nTo: entrada@example.com\r\n'
            b'Subject: Roto\r\nMessage-ID: <roto@example.com>\r\n'
            b'Content-Type: multipart/mixed; boundary="nunca"\r\n\r\n'
            b'--otra\r\nContent-Type: text/plain; charset=x-desconocido\r\n'
            b'\r\n\xe1rbol sin cerrar\r\n')
        charset = (b'From: cliente@example.com\r\nSubject: =?x-klingon?q?'
            b'Qapla=E9?=\r\nMessage-ID: <charset@example.com>\r\n'
            b'Content-Type: text/plain; charset=x-klingon\r\n\r\n'
            b'nuqneH \xff\xfe\r\n')
        crowd = message("Para todos", 'cliente@example.com', ', '.join(
                f'persona{i}@lista.test' for i in range(500)))
        big = message("Fotos de la obra", 'cliente@example.com',
            'entrada@example.com')
        # 30 MB: over the mailbox's limit (25 MB by default)
        big.add_attachment(b'\0' * (30 * 1024 * 1024), maintype='image',
            subtype='jpeg', filename='obra.jpg')
        for raw in [broken, charset, crowd.as_bytes(), big.as_bytes()]:
            servers.deliver('entrada', raw)

        box = mailbox()
        self.assertEqual(self.poll(box), 4)

        def check():
            pool = Pool()
            Email = pool.get('crm.email')
            Mailbox = pool.get('crm.mailbox')
            emails = {e.subject: e for e in Email.search(
                    [('mailbox', '=', box)])}
            self.assertEqual(set(emails), {"Roto", "Qaplaé",
                    "Para todos", "Fotos de la obra"})
            self.assertIn("sin cerrar", emails["Roto"].body_text)
            self.assertEqual(len(emails["Para todos"].to.split(',')), 500)
            self.assertTrue(emails["Fotos de la obra"].truncated)
            self.assertFalse(emails["Fotos de la obra"].attachments)
            mailbox = Mailbox(box)
            self.assertIsNone(mailbox.last_error)
            self.assertIn("only its headers are kept",
                mailbox.logs[0].message)
        in_transaction(check, user=0)

        # The server drops the connection in the middle of a fetch: what
        # came before is kept, the rest comes at the next pass, once.
        for i in range(6):
            part = message(f"Parte {i}", 'cliente@example.com',
                'entrada@example.com', body='x' * 300_000)
            servers.deliver('entrada', part.as_bytes())
        proxy = servers.drop_after(700_000, drops=1)

        def move(port):
            def run():
                Mailbox = Pool().get('crm.mailbox')
                Mailbox.write([Mailbox(box)], {'imap_port': port})
            in_transaction(run, user=0)
        move(proxy)
        self.poll(box)

        def error():
            Mailbox = Pool().get('crm.mailbox')
            return Mailbox(box).last_error
        self.assertTrue(in_transaction(error, user=0))
        move(servers.imap_port)
        self.poll(box)
        self.assertIsNone(in_transaction(error, user=0))
        parts = self.emails([('mailbox', '=', box),
                ('subject', 'like', 'Parte %')])
        self.assertEqual(sorted(s for _, s in parts),
            [f"Parte {i}" for i in range(6)])
        servers.stop_proxy(proxy)

        # A wrong password: said by the test button and on the mailbox.
        wrong = mailbox(password='mala', address='mala@example.com',
            name="Mala")

        def test_connection():
            Mailbox = Pool().get('crm.mailbox')
            with self.assertRaises(UserError) as cm:
                Mailbox.test_connection([Mailbox(wrong)])
            return str(cm.exception)
        message_ = in_transaction(test_connection, user=0)
        self.assertIn('login', message_.lower())
        self.poll(wrong)
        self.assertIn('login', in_transaction(
                lambda: Pool().get('crm.mailbox')(wrong).last_error,
                user=0).lower())

    def test_bad_reply_input(self):
        "A reply to no address or to a crowd is refused before it is sent"
        def write(to):
            pool = Pool()
            Compose = pool.get('crm.email.compose', type='wizard')
            with Transaction().set_user(self.users['rep']), \
                    Transaction().set_context(company=self.company,
                        active_model='sale.opportunity',
                        active_id=self.deal, active_ids=[self.deal]), \
                    check_access():
                session_id, _, _ = Compose.create()
                values = {k: v for k, v in Compose.execute(
                        session_id, {}, 'start')['view']['defaults'].items()
                    if '.' not in k}
                values.update({'to': to, 'subject': "x", 'body': "x"})
                with self.assertRaises(ValidationError) as cm:
                    Compose.execute(session_id, {'start': values}, 'send')
                return str(cm.exception)
        self.assertIn("not e-mail addresses", in_transaction(
                lambda: write("no es una dirección")))
        self.assertIn("at most 100", in_transaction(
                lambda: write(', '.join(f'p{i}@x.test' for i in range(101)))))

        # The other rep may not open the deal's mail form at all.
        def other():
            pool = Pool()
            Compose = pool.get('crm.email.compose', type='wizard')
            with Transaction().set_user(self.users['rep2']), \
                    Transaction().set_context(company=self.company,
                        active_model='sale.opportunity',
                        active_id=self.deal, active_ids=[self.deal]), \
                    check_access():
                with self.assertRaises(AccessError):
                    session_id, _, _ = Compose.create()
                    Compose.execute(session_id, {}, 'start')
        in_transaction(other)


    def test_customer_reply_is_news_for_rules_and_webhooks(self):
        "A reply on the deal starts a rule on Last E-mail Received, and a hook"
        def setup():
            pool = Pool()
            Rule = pool.get('crm.automation.rule')
            Field = pool.get('ir.model.field')
            Webhook = pool.get('crm.webhook')
            field, = Field.search([('model', '=', 'sale.opportunity'),
                    ('name', '=', 'last_email_received')])
            Rule.create([{
                        'name': "El cliente ha respondido",
                        'model': 'sale.opportunity',
                        'trigger': 'field',
                        'field': field.id,
                        'actions': [('create', [{
                                        'action': 'notify',
                                        'subject': "Respuesta en {rec_name}",
                                        'assignee': 'owner',
                                        }])],
                        }])
            Webhook.create([{
                        'name': "Correo entrante",
                        'url': 'https://hooks.example.com/correo',
                        'events': ['email.received'],
                        }])
        in_transaction(setup, user=0)
        msg = message("¿Cuándo empezáis?", 'cliente@example.com',
            'ventas@example.com')
        self.send(msg)

        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Mailbox = pool.get('crm.mailbox')
            Notification = pool.get('res.notification')
            Email = pool.get('crm.email')
            Queue = pool.get('ir.queue')
            Opportunity = pool.get('sale.opportunity')
            with transaction.set_context(company=self.company):
                Mailbox(self.shared).read_new_mail()
            email, = Email.search([('message_id', '=', msg['Message-ID'])])
            # The hook's delivery is queued for the worker.
            hooks = [t for t in Queue.browse(transaction.tasks)
                if t.data['model'] == 'crm.webhook']
            self.assertEqual(
                [(t.data['args'][0], t.data['args'][1], t.data['args'][2])
                    for t in hooks],
                [('email.received', 'crm.email', [email.id])])
            transaction.tasks[:] = [t for t in transaction.tasks
                if t not in {h.id for h in hooks}]
            run_queued()
            deal = Opportunity(self.deal)
            self.assertEqual(deal.last_email_received, email.date)
            self.assertTrue(Notification.search([
                        ('user', '=', self.users['rep']),
                        ('label', '=', "Respuesta en %s" % deal.rec_name)]))
            transaction.rollback()

    def test_nothing_new_costs_one_round_trip(self):
        "A pass on a mailbox with nothing new sends one STATUS"
        self.poll(self.shared)
        with imap.commands_sent() as commands:
            self.assertEqual(self.poll(self.shared), 0)
        self.assertEqual(commands, [b'STATUS'])

    def test_new_mail_read_as_it_arrives(self):
        "A server that pushes new mail (IDLE): the listener hears it at once"
        heard = []

        def on_mail(database, mailbox_id):
            # The worker reads the mailbox here (listener.read_mailbox);
            # the test's SQLite database is its own thread's.
            heard.append((database, mailbox_id, time.monotonic()))
        listener = Listener(DB_NAME, on_mail=on_mail)
        try:
            listener.refresh()
            thread = listener.threads[self.shared]
            self.assertTrue(thread.idling.wait(15), "not listening")
            self.assertTrue(thread.pushes)
            msg = message("Llega al momento", 'cliente@example.com',
                'ventas@example.com')
            sent = time.monotonic()
            self.send(msg)
            for _ in range(100):
                if any(m == self.shared and t >= sent
                        for _, m, t in heard):
                    break
                time.sleep(0.05)
            else:
                self.fail("the server's news was not heard")
        finally:
            listener.close()
        self.assertEqual(self.poll(self.shared), 1)
        self.assertTrue(self.emails([('message_id', '=', msg['Message-ID'])]))


    def test_template_fills_the_mail(self):
        "An e-mail template of opportunities writes the subject and text"
        def run():
            pool = Pool()
            Template = pool.get('ir.email.template')
            Model = pool.get('ir.model')
            Compose = pool.get('crm.email.compose', type='wizard')
            Start = pool.get('crm.email.compose.start')
            model, = Model.search([('name', '=', 'sale.opportunity')])
            template, = Template.create([{
                        'model': model.id,
                        'name': "Seguimiento",
                        'subject': "Sobre ${record.description}",
                        'body': "<p>Hola ${record.party.name},</p>"
                        "<p>¿Seguimos con la propuesta?</p>",
                        }])
            with Transaction().set_user(self.users['rep']), \
                    Transaction().set_context(company=self.company,
                        active_model='sale.opportunity',
                        active_id=self.deal, active_ids=[self.deal]), \
                    check_access():
                session_id, _, _ = Compose.create()
                values = Compose.execute(
                    session_id, {}, 'start')['view']['defaults']
                start = Start(**{k: v for k, v in values.items()
                        if '.' not in k})
                start.template = template
                start.on_change_template()
                return start.subject, start.body
        subject, body = in_transaction(run)
        self.assertEqual(subject, "Sobre Reforma del taller")
        self.assertIn("Hola Cliente Ejemplo S.L.,", body)
        self.assertIn("¿Seguimos con la propuesta?", body)
        self.assertNotIn("<p>", body)
