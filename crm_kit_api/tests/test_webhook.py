# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Webhooks: each event reaches the hooks that listen to it, after the
commit, signed; failures are retried with backoff, logged, and switch the
hook off with a notification to the CRM administrators."""
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, check_access
from trytond.worker import run_task

from crm_kit.tests.tools import (
    CrmRouteTestCase, create_opportunity, create_user, set_config, setup_crm,
    stage)


class Receiver:
    "An HTTP server that keeps what it is sent and answers with status"

    def __init__(self):
        self.requests = []
        self.status = 200
        self.answer = b'{"ok": true}'
        self.headers = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                receiver.requests.append((self.headers, body))
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(receiver.answer)

            def do_GET(self):
                # Where a redirect would lead a client that follows it.
                receiver.requests.append((self.headers, b''))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}/hook'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        return [json.loads(body)['event'] for _, body in self.requests]


def verify(secret, headers, body):
    "The receiver's check, as the README shows it"
    timestamp = headers['X-CRM-Kit-Timestamp']
    expected = hmac.new(secret.encode(), timestamp.encode() + b'.' + body,
        hashlib.sha256).hexdigest()
    return hmac.compare_digest(
        headers['X-CRM-Kit-Signature'], 'sha256=' + expected)


class WebhookCase(CrmRouteTestCase):
    "What the webhook tests share: hooks, a receiver and the queue run"
    module = 'crm_kit_api'

    @classmethod
    def setUpDatabase(cls):
        crm = setup_crm()
        crm_admin = create_user('crm_admin', 'group_crm_admin', crm.company)
        cls.ids = {'rep': crm.rep.id, 'rep2': crm.rep2.id,
            'crm_admin': crm_admin.id, 'company': crm.company.id,
            'customer': crm.customer.id, 'product': crm.product.id,
            'root': 0}

    def crm(self, pool):
        "What setup_crm made, as records of the current transaction"
        return SimpleNamespace(
            company=pool.get('company.company')(self.ids['company']),
            rep=pool.get('res.user')(self.ids['rep']),
            customer=pool.get('party.party')(self.ids['customer']),
            product=pool.get('product.product')(self.ids['product']))

    def setUp(self):
        super().setUp()
        # The test receivers listen on the loopback, which a webhook may
        # reach only when the configuration allows it.
        self.enterContext(set_config('webhook', 'private_hosts', '127.0.0.1'))
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)
        self.addCleanup(self.delete_hooks)

    def delete_hooks(self):
        with Transaction().start(DB_NAME, 0) as transaction:
            Webhook = Pool().get('crm.webhook')
            Webhook.delete(Webhook.search([('active', 'in', [True, False])]))
            transaction.commit()

    def hook(self, events, url=None, **values):
        with Transaction().start(DB_NAME, self.ids['crm_admin'],
                context={'company': self.ids['company']}) as transaction:
            with check_access():
                Webhook = Pool().get('crm.webhook')
                hook, = Webhook.create([{
                            'name': "Shop", 'url': url or self.receiver.url,
                            'events': events, **values}])
                result = hook.id, hook.secret
            transaction.commit()
        return result

    def as_user(self, login, func):
        """Run func as login in a transaction that commits, then the queue
        tasks it left, as trytond does after a request"""
        with Transaction().start(DB_NAME, self.ids[login], context={
                    'company': self.ids['company']}) as transaction:
            with check_access():
                result = func(Pool())
            transaction.commit()
            tasks = list(transaction.tasks)
            transaction.tasks.clear()
        for task in tasks:
            run_task(Pool(DB_NAME), task)
        return result

    def deliveries(self, hook_id):
        with Transaction().start(DB_NAME, 0):
            Delivery = Pool().get('crm.webhook.delivery')
            return [(d.event, d.state, d.attempt_count, d.next_attempt,
                    [(a.status_code, a.error) for a in d.attempts])
                for d in Delivery.search(
                    [('webhook', '=', hook_id)], order=[('id', 'ASC')])]


class WebhookTestCase(WebhookCase):
    extras = ['crm_kit_activity', 'crm_kit_document']

    def test_lead_created_is_signed_and_sent_after_commit(self):
        hook_id, secret = self.hook(['lead.created'])

        def create(pool):
            Opportunity = pool.get('sale.opportunity')
            lead, = Opportunity.create([{
                        'description': "Lead from the web",
                        'party': self.ids['customer']}])
            # Nothing leaves before the commit.
            self.assertEqual(self.receiver.requests, [])
            return lead.id
        lead = self.as_user('rep', create)

        (headers, body), = self.receiver.requests
        self.assertTrue(verify(secret, headers, body))
        self.assertFalse(verify('another secret, 16+', headers, body))
        self.assertEqual(headers['X-CRM-Kit-Event'], 'lead.created')
        self.assertEqual(headers['Content-Type'], 'application/json')
        payload = json.loads(body)
        self.assertEqual(payload['event'], 'lead.created')
        self.assertEqual(payload['model'], 'sale.opportunity')
        record = payload['record']
        self.assertEqual(
            (record['id'], record['__name__'], record['description'],
                record['party'], record['owner'], record['state']),
            (lead, 'sale.opportunity', "Lead from the web",
                self.ids['customer'], self.ids['rep'], 'lead'))
        # Encoded as the REST API encodes it.
        self.assertEqual(record['start_date']['__class__'], 'date')

        (delivery,) = self.deliveries(hook_id)
        event, state, count, next_attempt, attempts = delivery
        self.assertEqual((event, state, count, next_attempt),
            ('lead.created', 'delivered', 1, None))
        self.assertEqual(attempts, [(200, None)])

    def test_rolled_back_work_sends_nothing(self):
        hook_id, _ = self.hook(['lead.created'])
        with Transaction().start(DB_NAME, self.ids['rep'], context={
                    'company': self.ids['company']}) as transaction:
            Opportunity = Pool().get('sale.opportunity')
            Opportunity.create([{'description': "Abandoned"}])
            tasks = list(transaction.tasks)
            transaction.rollback()
        # Even if its tasks were run, the queue rolled back with the work.
        for task in tasks:
            run_task(Pool(DB_NAME), task)
        self.assertEqual(self.deliveries(hook_id), [])
        self.assertEqual(self.receiver.requests, [])

    def test_events(self):
        from crm_kit_document.tests.tools import create_document
        all_events = [
            'lead.created', 'lead.assigned', 'opportunity.stage_changed',
            'opportunity.won', 'opportunity.lost', 'activity.created',
            'activity.done', 'document.uploaded', 'customer.created',
            'customer.updated']
        self.hook(all_events)
        self.hook(['opportunity.won'], name="Only won")

        def lead(pool):
            crm = self.crm(pool)
            with Transaction().set_user(0):
                return create_opportunity(crm, owner=crm.rep).id
        won_id = self.as_user('rep', lead)
        lost_id = self.as_user('rep', lead)
        self.assertEqual(self.receiver.events(), ['lead.created'] * 2)
        del self.receiver.requests[:]

        def assign(pool):
            Opportunity = pool.get('sale.opportunity')
            Opportunity.write([Opportunity(won_id)],
                {'owner': self.ids['rep2']})
        self.as_user('crm_admin', assign)
        self.assertEqual(self.receiver.events(), ['lead.assigned'])
        del self.receiver.requests[:]

        def move(pool):
            Opportunity = pool.get('sale.opportunity')
            Opportunity.write([Opportunity(lost_id)],
                {'stage': stage('stage_analysis').id})
        self.as_user('rep', move)
        self.assertEqual(
            self.receiver.events(), ['opportunity.stage_changed'])
        del self.receiver.requests[:]

        def close(pool):
            Opportunity = pool.get('sale.opportunity')
            Sale = pool.get('sale.sale')
            # Won by confirming its quote; lost by its stage.
            won = Opportunity(won_id)
            Opportunity.create_quote([won])
            Sale.confirm(Opportunity(won_id).sales)
            Opportunity.write([Opportunity(lost_id)],
                {'stage': stage('stage_lost').id})
        self.as_user('crm_admin', close)
        events = self.receiver.events()
        # Won: to each of the two hooks that listen to it.
        self.assertEqual(events.count('opportunity.won'), 2)
        self.assertEqual(events.count('opportunity.lost'), 1)
        self.assertGreaterEqual(events.count('opportunity.stage_changed'), 2)
        # (Winning makes the prospect a customer: customer.updated.)
        self.assertLessEqual(set(events), {'opportunity.won',
                'opportunity.lost', 'opportunity.stage_changed',
                'customer.updated'})
        del self.receiver.requests[:]

        def activity(pool):
            from crm_kit_activity.tests.tools import create_activity
            with Transaction().set_user(0):
                call = create_activity(self.crm(pool), subject="Call back")
            Activity = pool.get('crm.activity')
            Activity.write([Activity(call.id)], {'outcome': "Done"})
            Activity.done([Activity(call.id)])
        self.as_user('rep', activity)
        self.assertEqual(
            self.receiver.events(), ['activity.created', 'activity.done'])
        del self.receiver.requests[:]

        def customer(pool):
            Party = pool.get('party.party')
            party, = Party.create([{'name': "Nuevo Cliente S.L."}])
            Party.write([party], {'name': "Nuevo Cliente S.A."})
            return party.id
        self.as_user('rep', customer)
        self.assertEqual(self.receiver.events(),
            ['customer.created', 'customer.updated'])
        self.assertEqual(json.loads(self.receiver.requests[-1][1])[
                'record']['name'], "Nuevo Cliente S.A.")
        del self.receiver.requests[:]

        def document(pool):
            crm = self.crm(pool)
            with Transaction().set_user(0):
                create_document(crm.rep, crm.company)
        self.as_user('rep', document)
        self.assertEqual(self.receiver.events(), ['document.uploaded'])
        record = json.loads(self.receiver.requests[0][1])['record']
        # Files are not sent: the receiver fetches them through the API.
        self.assertNotIn('data', record)
        self.assertEqual(record['file_name'], 'contrato.pdf')

    def test_failures_are_retried_then_switch_the_hook_off(self):
        self.receiver.status = 500
        hook_id, _ = self.hook(['customer.created'], max_failures=3)

        def customer(pool):
            Party = pool.get('party.party')
            Party.create([{'name': "Cliente Caído S.L."}])
        before = dt.datetime.now()
        self.as_user('rep', customer)
        (event, state, count, next_attempt, attempts), = self.deliveries(
            hook_id)
        self.assertEqual((state, count), ('retrying', 1))
        self.assertEqual(attempts, [(500, "HTTP 500 Internal Server Error")])
        self.assertAlmostEqual(
            (next_attempt - before).total_seconds(), 60, delta=30)

        def scheduler(pool):
            Delivery = pool.get('crm.webhook.delivery')
            deliveries = Delivery.search([('webhook', '=', hook_id)])
            # The scheduler leaves what is not due.
            count = deliveries[0].attempt_count
            Delivery.send_due()
            self.assertEqual(Delivery(deliveries[0].id).attempt_count, count)
            Delivery.write(deliveries, {'next_attempt': dt.datetime.now()
                    - dt.timedelta(seconds=1)})
            Delivery.send_due()
        before = dt.datetime.now()
        self.as_user('root', scheduler)
        (_, state, count, next_attempt, attempts), = self.deliveries(hook_id)
        self.assertEqual((state, count), ('retrying', 2))
        # Exponential: 1 minute, then 2, 4…
        self.assertAlmostEqual(
            (next_attempt - before).total_seconds(), 120, delta=30)

        # The receiver is gone: a connection error, and the third failure
        # in a row switches the hook off.
        self.receiver.close()
        self.as_user('root', scheduler)
        (_, state, count, _, attempts), = self.deliveries(hook_id)
        self.assertEqual((state, count), ('retrying', 3))
        self.assertIsNone(attempts[0][0])
        self.assertIn("refused", attempts[0][1].lower())

        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Webhook = pool.get('crm.webhook')
            Notification = pool.get('res.notification')
            hook = Webhook(hook_id)
            self.assertFalse(hook.active)
            self.assertEqual(hook.failures, 3)
            notified = Notification.search([
                    ('model', '=', 'crm.webhook'),
                    ('user', '=', self.ids['crm_admin'])])
            self.assertEqual(len(notified), 1)
            self.assertIn("Shop", notified[0].label)
            self.assertIn("3", notified[0].description)
            # Switched off, it is not retried.
            Delivery = pool.get('crm.webhook.delivery')
            Delivery.write(Delivery.search([]), {
                    'next_attempt': dt.datetime.now()})
            Delivery.send_due()
            self.assertEqual(
                [d.attempt_count for d in Delivery.search([])], [3])
            # Switched on again, the count starts over.
            Webhook.write([hook], {'active': True})
            self.assertEqual(hook.failures, 0)

    def test_send_test_event(self):
        hook_id, secret = self.hook(['lead.created'])

        def send(pool):
            Webhook = pool.get('crm.webhook')
            Webhook.send_test([Webhook(hook_id)])
        self.as_user('crm_admin', send)
        (headers, body), = self.receiver.requests
        self.assertTrue(verify(secret, headers, body))
        self.assertEqual(json.loads(body)['event'], 'webhook.test')
        self.assertEqual(self.deliveries(hook_id)[0][:3],
            ('webhook.test', 'delivered', 1))

        # To a receiver that fails, the failure shows in the log at once.
        self.receiver.status = 404
        self.as_user('crm_admin', send)
        event, state, count, _, attempts = self.deliveries(hook_id)[-1]
        self.assertEqual((event, state, count), ('webhook.test', 'failed', 1))
        self.assertEqual(attempts, [(404, "HTTP 404 Not Found")])

    def test_bad_input(self):
        for values in [
                {'url': 'ftp://example.com/hook'},
                {'url': 'not a url'},
                {'new_secret': 'short'},
                {'max_failures': 0},
                ]:
            with self.subTest(values=values):
                with self.assertRaises(ValidationError):
                    self.hook(['lead.created'], **values)

    def test_local_and_private_targets_are_refused(self):
        for url, address in [
                ('http://127.0.0.1:8000/hook', '127.0.0.1'),
                ('http://localhost/hook', '127.0.0.1'),
                ('http://[::1]/hook', '::1'),
                ('http://0.0.0.0/hook', '0.0.0.0'),
                ('http://2130706433/hook', '127.0.0.1'),
                ('http://0x7f000001/hook', '127.0.0.1'),
                ('http://[::ffff:127.0.0.1]/hook', '::ffff:127.0.0.1'),
                ('http://169.254.169.254/latest/meta-data', '169.254.169.254'),
                ('https://10.1.2.3/hook', '10.1.2.3'),
                ('https://192.168.1.20:8443/hook', '192.168.1.20'),
                ('https://172.16.0.1/hook', '172.16.0.1'),
                ('http://100.64.0.1/hook', '100.64.0.1'),
                ('http://[fe80::1]/hook', 'fe80::1'),
                ('http://[fd00::1]/hook', 'fd00::1'),
                ]:
            with self.subTest(url=url), set_config(
                    'webhook', 'private_hosts', ''):
                with self.assertRaises(ValidationError) as refused:
                    self.hook(['lead.created'], url=url)
                self.assertIn(address, refused.exception.message)
                self.assertIn('private_hosts', refused.exception.message)
        # The configuration file allows hosts by name, address or network.
        for allowed, url in [
                ('erp.internal 127.0.0.1', 'http://localhost:9/hook'),
                ('127.0.0.0/8', 'http://2130706433/hook'),
                ('localhost', 'http://localhost:9/hook'),
                ('[::1]', 'http://[::1]:9/hook'),
                ]:
            with self.subTest(allowed=allowed), set_config(
                    'webhook', 'private_hosts', allowed):
                self.hook(['lead.created'], url=url)
        # A public address, or a name that does not resolve now (the send
        # checks again), is saved.
        with set_config('webhook', 'private_hosts', ''):
            self.hook(['lead.created'], url='https://93.184.215.14/hook')
            self.hook(['lead.created'], url='https://hooks.invalid/crm')

    def test_target_checked_again_when_sent(self):
        hook_id, _ = self.hook(['lead.created'])

        def send(pool):
            Webhook = pool.get('crm.webhook')
            Webhook.send_test([Webhook(hook_id)])
        # Allowed when saved, no longer when sent (as when a name comes to
        # resolve to a private address): nothing leaves, the log says why.
        with set_config('webhook', 'private_hosts', ''):
            self.as_user('crm_admin', send)
        self.assertEqual(self.receiver.requests, [])
        (_, state, _, _, [(status, error)]), = self.deliveries(hook_id)
        self.assertEqual((state, status), ('failed', None))
        self.assertIn("127.0.0.1", error)
        self.assertIn("private", error)

        # A name that does not resolve.
        def move(pool):
            Webhook = pool.get('crm.webhook')
            Webhook.write([Webhook(hook_id)], {
                    'url': 'https://hooks.invalid/crm'})
            Webhook.send_test([Webhook(hook_id)])
        self.as_user('crm_admin', move)
        *_, (_, _, _, _, [(status, error)]) = self.deliveries(hook_id)
        self.assertIn("hooks.invalid", error)
        self.assertIn("unknown", error)

    def test_redirects_not_followed_and_answer_cut(self):
        target = Receiver()
        self.addCleanup(target.close)
        self.receiver.status = 302
        self.receiver.headers = {'Location': target.url}
        self.receiver.answer = b'x' * 5000
        hook_id, _ = self.hook(['lead.created'])

        def send(pool):
            Webhook = pool.get('crm.webhook')
            Webhook.send_test([Webhook(hook_id)])
        self.as_user('crm_admin', send)
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual(target.requests, [])
        with Transaction().start(DB_NAME, 0):
            Attempt = Pool().get('crm.webhook.attempt')
            attempt, = Attempt.search([('delivery.webhook', '=', hook_id)])
            self.assertEqual(attempt.status_code, 302)
            self.assertEqual(attempt.response, 'x' * 200)

    def test_only_crm_administrators_see_hooks(self):
        self.hook(['lead.created'])

        def read(pool):
            Webhook = pool.get('crm.webhook')
            return Webhook.search([])
        with self.assertRaises(AccessError):
            self.as_user('rep', read)
        self.assertEqual(len(self.as_user('crm_admin', read)), 1)


class WebhookLeadTestCase(WebhookCase):
    "Webhooks with crm_kit_lead: every way a lead comes in is an event"
    extras = ['crm_kit_lead']

    def test_imported_leads_are_sent(self):
        """The import's bulk insert tells the hooks, as create does, with
        the owner the assignment rules chose"""
        self.hook(['lead.created', 'lead.assigned'])
        with Transaction().start(DB_NAME, 0) as transaction:
            Rule = Pool().get('crm.assignment.rule')
            Rule.create([{'name': "Importadas", 'method': 'user',
                        'user': self.ids['rep2']}])
            transaction.commit()

        def import_leads(pool):
            LeadImport = pool.get('crm.lead.import')
            data = "Empresa;Correo electrónico\n" + "".join(
                f"Importada {i};imp{i}@import.test\n" for i in range(3))
            lead_import = LeadImport.from_file(data.encode(), 'leads.csv')
            LeadImport.start([lead_import])
            lead_import.import_rows(0)
        self.as_user('rep', import_leads)
        self.assertEqual(self.receiver.events(), ['lead.created'] * 3)
        records = [json.loads(body)['record']
            for _, body in self.receiver.requests]
        self.assertEqual(sorted(r['lead_company'] for r in records),
            ["Importada 0", "Importada 1", "Importada 2"])
        self.assertEqual({r['owner'] for r in records}, {self.ids['rep2']})

    def test_lead_assigned_on_creation_is_one_event(self):
        """The owner an assignment rule gives a new lead is part of its
        creation: lead.created with the owner, no lead.assigned"""
        self.hook(['lead.created', 'lead.assigned'])
        with Transaction().start(DB_NAME, 0) as transaction:
            Rule = Pool().get('crm.assignment.rule')
            Rule.create([{'name': "Todo", 'method': 'user',
                        'user': self.ids['rep2']}])
            transaction.commit()

        def create(pool):
            Opportunity = pool.get('sale.opportunity')
            lead, = Opportunity.create([{'description': "Sin dueño"}])
            return lead.id
        lead = self.as_user('crm_admin', create)
        self.assertEqual(self.receiver.events(), ['lead.created'])
        record = json.loads(self.receiver.requests[0][1])['record']
        self.assertEqual((record['id'], record['owner']),
            (lead, self.ids['rep2']))
