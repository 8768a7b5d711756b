# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Undo what a block wrote when it fails, and only that.

An automation rule acting on one record, an alert rule refreshed after a
user's save: when it fails, the change or the scheduler pass that ran it
goes on.  PostgreSQL aborts the whole transaction on a failed statement,
so the block runs in a savepoint of its own; what the block queued for the
commit (its e-mails, in the transaction's SMTP data managers, and its
tasks for the queue) is dropped with its rows."""
import itertools
from contextlib import contextmanager

from trytond.sendmail import SMTPDataManager
from trytond.transaction import Transaction

_savepoints = itertools.count()


@contextmanager
def savepoint():
    "Run the block in a savepoint, rolled back (and re-raised) on failure"
    transaction = Transaction()
    connection = transaction.connection
    cursor = connection.cursor()
    if getattr(connection, 'in_transaction', True) is False:
        # SQLite: an outermost savepoint would commit at its release.
        cursor.execute('BEGIN IMMEDIATE')
    name = 'crm_savepoint_%d' % next(_savepoints)
    cursor.execute('SAVEPOINT %s' % name)
    queued = {id(m): len(m.queue) for m in mail_managers(transaction)}
    tasks = len(transaction.tasks)
    try:
        yield
    except BaseException:
        cursor.execute('ROLLBACK TO SAVEPOINT %s' % name)
        cursor.execute('RELEASE SAVEPOINT %s' % name)
        # The records read in the block may hold what was undone.
        transaction.cache.clear()
        for manager in mail_managers(transaction):
            del manager.queue[queued.get(id(manager), 0):]
        # (Their ir.queue rows are undone with the block's.)
        del transaction.tasks[tasks:]
        raise
    else:
        cursor.execute('RELEASE SAVEPOINT %s' % name)


def mail_managers(transaction):
    "The transaction's SMTP data managers: the e-mails waiting for commit"
    # trytond keeps them in a private list, with no accessor.
    return [m for m in (transaction._datamanagers or [])
        if isinstance(m, SMTPDataManager)]
