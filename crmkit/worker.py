"""crm-kit's queue worker: runs the tasks the web server queues (webhook
deliveries, e-mails, large imports), on SQLite as on PostgreSQL.

trytond-worker waits for PostgreSQL's notifications and cannot run on
SQLite (it selects on the database connection, and the query of
``ir.queue``'s pull fails there: "no such table").  This worker takes the
next due task itself (marking it taken only if no other worker did), runs
it with trytond's own ``run_task`` and, when there is none, waits POLL
seconds or until the next scheduled one.

Beside the work, it listens to the mailboxes whose server pushes new mail
(IMAP IDLE, crm_kit_email.listener), so that a customer's mail is in the
CRM as it arrives rather than at the scheduler's next pass."""
import datetime as dt
import logging
import signal
import time

logger = logging.getLogger('crmkit.worker')

# How long an idle worker waits before it looks again, in seconds.
POLL = 1.0


def work(database_name, poll=POLL, stop=None, once=False):
    """Run the queued tasks of database_name until stop() is true (or,
    with once, until none is due); return how many ran"""
    from trytond import backend
    from trytond.worker import run_task

    pool = load_pool(database_name)
    count = 0
    while not (stop and stop()):
        try:
            task_id, wait = take(pool)
        except backend.DatabaseOperationalError:
            # Locked by a writer (SQLite): look again shortly.
            logger.debug("queue busy", exc_info=True)
            task_id, wait = None, None
        if task_id:
            run_task(pool, task_id)
            count += 1
            continue
        if once:
            break
        time.sleep(min(poll, wait) if wait else poll)
    return count


def load_pool(database_name):
    "The pool of database_name, loaded"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    if not Pool._started:
        Pool.start()
    database_list = Pool.database_list()
    pool = Pool(database_name)
    if database_name not in database_list:
        with Transaction().start(database_name, 0, readonly=True):
            pool.init()
    return pool


def take(pool):
    """The id of the next due task, marked as taken, and the seconds until
    the next scheduled one"""
    from sql import Null
    from sql.aggregate import Min
    from trytond.transaction import Transaction

    Queue = pool.get('ir.queue')
    queue = Queue.__table__()
    waiting = queue.dequeued_at == Null
    with Transaction().start(pool.database_name, 0) as transaction:
        cursor = transaction.connection.cursor()
        now = dt.datetime.now()
        task_id = None
        cursor.execute(*queue.select(queue.id,
                where=waiting & (
                    (queue.scheduled_at == Null)
                    | (queue.scheduled_at <= now)),
                order_by=[queue.scheduled_at.nulls_first,
                    queue.expected_at.nulls_first, queue.id.asc],
                limit=1))
        row = cursor.fetchone()
        if row:
            # Taken only if no other worker took it meanwhile.
            cursor.execute(*queue.update([queue.dequeued_at], [now],
                    where=(queue.id == row[0]) & waiting))
            if cursor.rowcount == 1:
                task_id = row[0]
        cursor.execute(*queue.select(Min(queue.scheduled_at),
                where=waiting & (queue.scheduled_at > now)))
        next_at, = cursor.fetchone()
        transaction.commit()
    if isinstance(next_at, str):
        next_at = dt.datetime.fromisoformat(next_at)
    wait = (next_at - now).total_seconds() if next_at else None
    return task_id, wait


def mail_listener(database_name):
    """Listen to the mailboxes whose server pushes new mail (IMAP IDLE),
    beside the work: started once the pool is loaded"""
    try:
        from crm_kit_email.listener import Listener
    except ImportError:
        return None
    load_pool(database_name)
    listener = Listener(database_name)
    listener.start()
    return listener


def main(database_name):
    "Work until SIGTERM or SIGINT"
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("queue worker of %s started", database_name)
    listener = mail_listener(database_name)
    work(database_name, stop=lambda: stopping)
    if listener is not None:
        listener.stop.set()
    logger.info("queue worker of %s stopped", database_name)
