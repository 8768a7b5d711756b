# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""GET /<database>/crm/health: the database answers, whether the
scheduler ran lately, what waits in the queue (crm_kit.health)."""
import datetime as dt

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import CrmRouteTestCase


class HealthTestCase(CrmRouteTestCase):
    module = 'crm_kit'

    @classmethod
    def setUpDatabase(cls):
        pass

    def health(self, database=DB_NAME):
        return self.client().get(f'/{database}/crm/health')

    def test_health(self):
        response = self.health()
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json['database'], 'ok')
        self.assertEqual(response.json['queue']['waiting'], 0)
        self.assertFalse(response.json['scheduler']['alive'])
        self.assertEqual(response.json['status'], 'degraded')

        # The scheduler ran a minute ago; a task waits since 10 minutes.
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Cron = pool.get('ir.cron')
            Log = pool.get('ir.cron.log')
            Queue = pool.get('ir.queue')
            now = dt.datetime.now()
            cron, = Cron.search([], limit=1)
            Log.create([{'cron': cron.id,
                        'started': now - dt.timedelta(minutes=1),
                        'ended': now}])
            task, = Queue.create([{'name': 'crm.test', 'data': {}}])
            table = Queue.__table__()
            transaction.connection.cursor().execute(*table.update(
                    [table.enqueued_at],
                    [now - dt.timedelta(minutes=10)],
                    where=table.id == task.id))
            transaction.commit()
        try:
            body = self.health().json
            self.assertTrue(body['scheduler']['alive'])
            self.assertEqual(body['queue']['waiting'], 1)
            self.assertGreaterEqual(body['queue']['oldest_seconds'], 590)
            self.assertEqual(body['status'], 'degraded')
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                Queue = Pool().get('ir.queue')
                Queue.delete(Queue.search([]))
                transaction.commit()
        self.assertEqual(self.health().json['status'], 'ok')
        self.assertEqual(self.health('no_such_database').status_code, 404)

    def test_bus_refused_at_once_when_not_carried(self):
        """Without crmkit.bus as [bus] class, SQLite has no bus: sao's bus
        request is a 501 at once, not a held thread"""
        from crmkit.bus import carried
        if carried():
            self.skipTest("the bus is carried")
        import time
        started = time.monotonic()
        response = self.client().post(f'/{DB_NAME}/bus',
            json={'channels': [], 'last_message': None})
        self.assertEqual(response.status_code, 501)
        self.assertLess(time.monotonic() - started, 5)
