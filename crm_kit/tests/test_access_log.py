# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The access log: logins, failed logins and logouts through JSON-RPC
(as sao makes them), the API keys' use counted per day, read by the CRM
administrators alone, exported for a range of days."""
import csv
import datetime as dt
import io

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME

from .tools import (
    CrmRouteTestCase, api_key, in_transaction, set_config, setup_crm)

AGENT = 'Mozilla/5.0 (Prueba de acceso)'
# The client's address (TEST-NET-1)
ADDRESS = '192.0.2.10'
ENVIRON = {'REMOTE_ADDR': ADDRESS}


class AccessLogTestCase(CrmRouteTestCase):
    module = 'crm_kit'
    extras = ['crm_kit_api']

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Application = pool.get('res.user.application')
        crm = setup_crm()
        User.write([crm.rep, crm.rep2, crm.admin],
            {'password': cls.password})
        cls.company = crm.company.id
        cls.users = {u.login: u.id for u in [crm.rep, crm.rep2, crm.admin]}
        application = Application(
            user=crm.rep, application='rest', state='validated')
        application.save()
        cls.key = api_key(application)
        cls.key_id = application.id

    def logs(self, domain):
        def read():
            AccessLog = Pool().get('crm.access.log')
            AccessLog.flush_key_uses()
            return [(l.event, l.login, l.user and l.user.login, l.address,
                    l.client, l.count)
                for l in AccessLog.search(domain, order=[('id', 'ASC')])]
        return in_transaction(read, user=0)

    def login(self, login, password):
        client = self.client()
        response = client.post(f'/{DB_NAME}/rpc/', json={
                'id': 1, 'method': 'common.db.login',
                'params': [login, {'password': password}, 'en']},
            headers={'User-Agent': AGENT}, environ_base=ENVIRON)
        return client, response.json or {'error': response.status_code}

    def test_logins_failures_and_logouts(self):
        "Each is logged with the user, the address and the client"
        before = self.logs([])
        client, answer = self.login('rep2', self.password)
        user_id, token = answer['result'][:2]
        _, failed = self.login('rep2', 'no-es-la-clave')
        self.assertIn('error', failed)
        _, unknown = self.login('nadie', 'clave')
        self.assertIn('error', unknown)
        from base64 import b64encode
        credentials = b64encode(
            f'rep2:{user_id}:{token}'.encode()).decode()
        client.post(f'/{DB_NAME}/rpc/', json={
                'id': 2, 'method': 'common.db.logout', 'params': []},
            headers={'Authorization': f'Session {credentials}',
                'User-Agent': AGENT}, environ_base=ENVIRON)
        logs = self.logs([])[len(before):]
        self.assertEqual(logs, [
                ('login', 'rep2', 'rep2', ADDRESS, AGENT, None),
                ('login_failed', 'rep2', None, ADDRESS, AGENT, None),
                ('login_failed', 'nadie', None, ADDRESS, AGENT, None),
                ('logout', 'rep2', 'rep2', ADDRESS, AGENT, None),
                ])

    def test_api_key_uses_counted_per_day(self):
        "An API key's day: one line, its first and last use and how many"
        with set_config('crm_kit', 'access_log_flush', '0'):
            for _ in range(3):
                response = self.rest('get', 'sale.opportunity', self.key,
                    company=self.company,
                    headers={'User-Agent': 'integracion/2.1'},
                    environ_base=ENVIRON)
                self.assertEqual(response.status_code, 200, response.text)
        logs = self.logs([('event', '=', 'api_key'),
                ('key', '=', self.key_id)])
        self.assertEqual(len(logs), 1)
        event, _, user, address, client, count = logs[0]
        self.assertEqual((event, user, address, client),
            ('api_key', 'rep', ADDRESS, 'integracion/2.1'))
        self.assertGreaterEqual(count, 3)

    def test_only_administrators_read_it(self):
        "A rep reads no line, through JSON-RPC nor REST; an administrator does"
        self.login('rep', self.password)
        for login in ['rep', 'rep2']:
            result = self.rpc(login, 'model.crm.access.log.search_count',
                [], company=self.company)
            self.assertEqual(result[0], 'error')
            result = self.rpc(login, 'model.crm.access.log.search_read',
                [('login', '=', 'rep')], 0, None, None, ['address'],
                company=self.company)
            self.assertEqual(result[0], 'error')
        response = self.rest('get', 'crm.access.log', self.key,
            company=self.company)
        self.assertEqual(response.status_code, 403, response.text)
        count = self.rpc('admin', 'model.crm.access.log.search_count',
            [('login', '=', 'rep')], company=self.company)
        self.assertGreaterEqual(count, 1)
        # Nobody writes it, not even an administrator.
        ids = self.rpc('admin', 'model.crm.access.log.search', [], 0, 1,
            None, company=self.company)
        result = self.rpc('admin', 'model.crm.access.log.write', ids,
            {'login': 'otro'}, company=self.company)
        self.assertEqual(result[0], 'error')

    def test_export_of_a_range_of_days(self):
        "CSV and XLSX of the days asked, the logins made in them"
        self.login('rep2', self.password)
        today = dt.date.today()

        def export():
            AccessLog = Pool().get('crm.access.log')
            return (AccessLog.export(today, today, 'csv'),
                AccessLog.export(today, today, 'xlsx'),
                AccessLog.export(today - dt.timedelta(days=3),
                    today - dt.timedelta(days=2), 'csv'))
        text, xlsx, before = in_transaction(export, user=0)
        rows = list(csv.reader(io.StringIO(text.decode('utf-8'))))
        self.assertEqual(rows[0][:4], ["Date", "Event", "Login", "User"])
        self.assertIn(["Login", "rep2"], [r[1:3] for r in rows[1:]])
        self.assertTrue(all(r[0].startswith(today.isoformat())
                for r in rows[1:]))
        self.assertEqual(
            list(csv.reader(io.StringIO(before.decode('utf-8')))),
            rows[:1])
        from openpyxl import load_workbook
        sheet = load_workbook(io.BytesIO(xlsx)).active
        self.assertEqual(
            [[c.value for c in r] for r in sheet.iter_rows()][1:],
            [[v if v != '' else None for v in r[:8]] + [
                    int(r[8]) if r[8] else None] for r in rows[1:]])

        # crm-kit access-log writes the same file.
        import tempfile
        from pathlib import Path

        from crmkit import cli
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / 'accesos.csv'
            count = cli.export_access_log(DB_NAME, today, today, path)
            written = list(csv.reader(io.StringIO(path.read_text())))
        self.assertEqual(count, len(written) - 1)
        self.assertIn(["Login", "rep2"], [r[1:3] for r in written[1:]])
