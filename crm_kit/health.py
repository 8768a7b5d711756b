# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The health of a database's server, for a load balancer or a monitor:

    GET /<database>/crm/health

200 while the database answers, else 503.  The body says whether the
scheduler has run lately and how much work waits in the queue:
"degraded" when the scheduler is late or the oldest waiting task is.  It
needs no login and tells nothing of the records."""
import datetime as dt
import json

from trytond import backend
from trytond.protocols.wrappers import (
    HTTPStatus, Response, with_pool, with_transaction)
from trytond.wsgi import app

# The scheduler runs the reminders every minute: it is late after this.
SCHEDULER_LATE = dt.timedelta(minutes=5)
# A task waiting longer than this means no worker takes them.
QUEUE_LATE = dt.timedelta(minutes=5)


@app.route('/<database_name>/crm/health', methods={'GET'})
def health(request, database_name):
    try:
        body = _health(request, database_name)
    except backend.DatabaseOperationalError:
        return _answer({'status': 'unavailable', 'database': 'unreachable'},
            HTTPStatus.SERVICE_UNAVAILABLE)
    return _answer(body, HTTPStatus.OK)


@with_pool
@with_transaction(readonly=True)
def _health(request, pool):
    Log = pool.get('ir.cron.log')
    Queue = pool.get('ir.queue')
    now = dt.datetime.now()
    last = Log.search([], order=[('started', 'DESC')], limit=1)
    last_run = last[0].started if last else None
    waiting = [('dequeued_at', '=', None)]
    first = Queue.search(waiting, order=[('enqueued_at', 'ASC')], limit=1)
    oldest = (now - first[0].enqueued_at) if first else None
    scheduler_alive = bool(last_run and now - last_run <= SCHEDULER_LATE)
    late = oldest is not None and oldest > QUEUE_LATE
    return {
        'status': 'ok' if scheduler_alive and not late else 'degraded',
        'database': 'ok',
        'scheduler': {
            'alive': scheduler_alive,
            'last_run': last_run.isoformat() if last_run else None,
            },
        'queue': {
            'waiting': Queue.search_count(waiting),
            'oldest_seconds': (
                int(oldest.total_seconds()) if oldest is not None else None),
            },
        }


def _answer(body, status):
    return Response(json.dumps(body), status=status,
        content_type='application/json',
        headers={'Cache-Control': 'no-store'})
