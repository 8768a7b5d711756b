# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""crm-kit's queue worker (crmkit.worker) runs what a request queued, on
SQLite as on PostgreSQL."""
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import CrmTestCase, set_config, setup_crm


class WorkerTestCase(CrmTestCase):

    def test_queued_work_is_done(self):
        from crmkit.worker import work
        with Transaction().start(DB_NAME, 0) as transaction:
            crm = setup_crm()
            User = Pool().get('res.user')
            with set_config('queue', 'worker', 'True'):
                User.__queue__.write([crm.rep], {'signature': "Queued"})
            rep = crm.rep.id
            transaction.commit()
        with Transaction().start(DB_NAME, 0):
            Queue = Pool().get('ir.queue')
            self.assertEqual(Queue.search_count(
                    [('dequeued_at', '=', None)]), 1)
            self.assertNotEqual(Pool().get('res.user')(rep).signature,
                "Queued")
        self.assertEqual(work(DB_NAME, once=True), 1)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(Pool().get('res.user')(rep).signature, "Queued")
            Queue = Pool().get('ir.queue')
            self.assertEqual(Queue.search_count(
                    [('dequeued_at', '=', None)]), 0)
