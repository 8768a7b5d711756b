# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Rows the CRM writes by itself in numbers (imported leads, automation
logs, alerts) stored in one statement: their values are made by the code,
not typed, so the ORM's check of each value and its read back after the
create are skipped.  Like the ORM's create, insert_rows gives them ids
from the table's sequence, and create_uid and create_date when a row has
none."""
import datetime as dt
import functools
import json

from trytond import backend
from trytond.tools import grouped_slice
from trytond.transaction import Transaction


def run_later(later, function, *args):
    "Call function now, or append it to later"
    if later is None:
        function(*args)
    else:
        later.append(functools.partial(function, *args))


def insert_rows(Model, rows, later=None):
    """Insert rows (dictionaries of column values) into the table of Model
    and return their ids, in order, with ids taken in advance from the
    table's sequence as ModelSQL.create does: one INSERT of a JSON
    parameter on PostgreSQL, multi-row INSERTs elsewhere.  On PostgreSQL,
    with later a list, the INSERT is appended to it instead of being run
    (see LeadImport.send)."""
    if not rows:
        return []
    transaction = Transaction()
    now = dt.datetime.now()
    rows = [{'create_uid': transaction.user, 'create_date': now, **row}
        for row in rows]
    database = transaction.database
    cursor = transaction.connection.cursor()
    table = Model.__table__()
    columns = sorted({k for row in rows for k in row})
    if backend.name == 'postgresql':
        # One statement whose rows come as a single JSON parameter: the
        # JSON is written in C, where a COPY or a parameter per value or
        # an array per column cost a Python call per value.
        ids = database.nextid(
            transaction.connection, Model._table, count=len(rows))
        if len(rows) == 1:
            ids = [ids]
        names = ', '.join('"%s"' % c for c in columns + ['id'])
        run_later(later, cursor.execute,
            'INSERT INTO "%s" (%s) SELECT %s '
            'FROM json_populate_recordset(NULL::"%s", %%s)' % (
                Model._table, names, names, Model._table),
            [json.dumps([dict(row, id=id_) for row, id_ in zip(rows, ids)],
                    default=str, separators=(',', ':'))])
        return ids
    sql_columns = [getattr(table, c) for c in columns]
    ids = []
    if database.has_multirow_insert():
        size = max(1, 2000 // (len(columns) + 1))
        for sub in grouped_slice(rows, size):
            sub = list(sub)
            sub_ids = database.nextid(
                transaction.connection, Model._table, count=len(sub))
            if sub_ids is None:
                break
            if len(sub) == 1:
                sub_ids = [sub_ids]
            cursor.execute(*table.insert(
                    sql_columns + [table.id],
                    [[row.get(c) for c in columns] + [id_]
                        for row, id_ in zip(sub, sub_ids)]))
            ids.extend(sub_ids)
        else:
            return ids
    for row in rows[len(ids):]:
        values = [row.get(c) for c in columns]
        if database.has_returning():
            cursor.execute(*table.insert(
                    sql_columns, [values], [table.id]))
            ids.append(cursor.fetchone()[0])
        else:
            cursor.execute(*table.insert(sql_columns, [values]))
            ids.append(database.lastid(cursor))
    return ids
