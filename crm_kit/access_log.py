# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Who came into the CRM, when, from where and with what: every login
(and failed one) and logout, through sao or JSON-RPC, and the use of each
API key (its first and last use of the day, and how many requests), kept
at least 13 months.  The Kit Digital justification asks for this file."""
import csv
import datetime as dt
import io
import logging
import threading
import time

from trytond import config
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

from .spreadsheet import neutralise

logger = logging.getLogger(__name__)

EVENTS = [
    ('login', "Login"),
    ('login_failed', "Failed Login"),
    ('logout', "Logout"),
    ('api_key', "API Key Use"),
    ]
# Kept this long at least: 13 months and a margin
KEPT_DAYS = 400
CLIENT_SIZE = 200

# The client (User-Agent) of the request being served, set by crm-kit's
# WSGI filter (crmkit.wsgi): trytond gives the models no request header.
_request = threading.local()


def set_client(user_agent, address=None):
    _request.client = (user_agent or '')[:CLIENT_SIZE] or None
    _request.address = address


def current_client():
    return getattr(_request, 'client', None)


def current_address():
    "The address of the request's client, as trytond knows it or the WSGI"
    address, _ = Transaction().remote_address()
    if address:
        return str(address)
    return getattr(_request, 'address', None)


# The API keys' uses counted in this process and not yet written:
# {(database, key id, day): [user, first, last, count, address, client]}.
# Written at most every [crm_kit] access_log_flush seconds (60), not at
# each request.
_key_uses = {}
_key_uses_lock = threading.Lock()
_flushed = [time.monotonic()]


class AccessLog(ModelSQL, ModelView):
    "Access Log"
    __name__ = 'crm.access.log'
    __string__ = "Access Log"

    date = fields.DateTime("Date", readonly=True)
    event = fields.Selection(EVENTS, "Event", readonly=True, sort=False)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='SET NULL')
    login = fields.Char("Login", readonly=True)
    address = fields.Char("Address", readonly=True)
    client = fields.Char("Client", readonly=True)
    key = fields.Integer("API Key", readonly=True,
        states={
            'invisible': Eval('event') != 'api_key',
            })
    last = fields.DateTime(
        "Last Use", readonly=True,
        states={
            'invisible': Eval('event') != 'api_key',
            },
        help="The key's last use that day.")
    count = fields.Integer(
        "Uses", readonly=True,
        states={
            'invisible': Eval('event') != 'api_key',
            },
        help="How many requests the key made that day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.date, Index.Range())),
                Index(t, (t.key, Index.Equality()), (t.date, Index.Range()),
                    where=t.key != None),  # noqa: E711
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def record(cls, event, login=None, user=None):
        "Log event of the current request, in the current transaction"
        address = current_address()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.insert(
                [table.date, table.event, table.user, table.login,
                    table.address, table.client, table.create_date,
                    table.create_uid],
                [[dt.datetime.now(), event, user or None,
                        (login or '')[:100] or None, address,
                        current_client(), dt.datetime.now(), 0]]))

    @classmethod
    def key_used(cls, key):
        """Count a use of the API key (res.user.application) now; written
        with the others of the process now and then"""
        address = current_address()
        now = dt.datetime.now()
        database = Transaction().database.name
        entry = (database, key.id, now.date())
        with _key_uses_lock:
            use = _key_uses.get(entry)
            if use is None:
                _key_uses[entry] = [key.user.id if key.user else None, now,
                    now, 1, address, current_client()]
            else:
                use[2] = now
                use[3] += 1
        if (time.monotonic() - _flushed[0]
                >= config.getfloat('crm_kit', 'access_log_flush',
                    default=60)):
            try:
                cls.flush_key_uses()
            except Exception:
                # The log must not fail the request it counts.
                logger.exception("API key uses not logged")

    @classmethod
    def flush_key_uses(cls):
        "Write the API keys' uses counted in this process, in their own transaction"
        from trytond import backend
        database = Transaction().database.name
        with _key_uses_lock:
            entries = {k: v for k, v in _key_uses.items()
                if k[0] == database}
            for entry in entries:
                del _key_uses[entry]
            _flushed[0] = time.monotonic()
        if not entries:
            return
        table = cls.__table__()
        try:
            with Transaction().new_transaction() as transaction:
                cursor = transaction.connection.cursor()
                for (_, key, day), (user, first, last, count, address,
                        client) in entries.items():
                    start = dt.datetime.combine(day, dt.time())
                    cursor.execute(*table.select(table.id,
                            where=(table.key == key)
                            & (table.event == 'api_key')
                            & (table.date >= start)
                            & (table.date < start + dt.timedelta(days=1)),
                            limit=1))
                    row = cursor.fetchone()
                    if row:
                        cursor.execute(*table.update(
                                [table.last, table.count],
                                [last, table.count + count],
                                where=table.id == row[0]))
                    else:
                        cursor.execute(*table.insert(
                                [table.date, table.last, table.count,
                                    table.event, table.key, table.user,
                                    table.address, table.client,
                                    table.create_date, table.create_uid],
                                [[first, last, count, 'api_key', key, user,
                                        address, client, first, 0]]))
                transaction.commit()
        except backend.DatabaseIntegrityError:
            # A key or user gone meanwhile (a database restored under the
            # same name): those counts have nowhere to go.
            logger.warning("API key uses not logged", exc_info=True)
        except backend.DatabaseOperationalError:
            # Busy (SQLite): counted again with the next ones.
            with _key_uses_lock:
                for entry, use in entries.items():
                    current = _key_uses.get(entry)
                    if current is None:
                        _key_uses[entry] = use
                    else:
                        current[1] = min(current[1], use[1])
                        current[3] += use[3]

    @classmethod
    def clean(cls):
        "Scheduler: forget what is older than KEPT_DAYS"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.date
                < dt.datetime.now() - dt.timedelta(days=KEPT_DAYS)))

    @classmethod
    def rows(cls, start=None, end=None):
        """The log from the day start to the day end (included), oldest
        first, as the exports write it"""
        pool = Pool()
        Application = pool.get('res.user.application')
        cls.flush_key_uses()
        domain = []
        if start:
            domain.append(('date', '>=', dt.datetime.combine(start, dt.time())))
        if end:
            domain.append(('date', '<', dt.datetime.combine(
                        end + dt.timedelta(days=1), dt.time())))
        labels = dict(cls.fields_get(['event'])['event']['selection'])
        keys = {}
        result = []
        for log in cls.search(domain, order=[('date', 'ASC'), ('id', 'ASC')]):
            key = ''
            if log.key:
                if log.key not in keys:
                    with without_check_access():
                        found = Application.search([('id', '=', log.key)])
                    keys[log.key] = (
                        getattr(found[0], 'name', None) or str(log.key)
                        if found else str(log.key))
                key = keys[log.key]
            result.append([
                    log.date.isoformat(sep=' ', timespec='seconds'),
                    labels.get(log.event, log.event),
                    log.user.login if log.user else (log.login or ''),
                    log.user.name if log.user else '',
                    log.address or '',
                    log.client or '',
                    key,
                    log.last.isoformat(sep=' ', timespec='seconds')
                    if log.last else '',
                    log.count or '',
                    ])
        return result

    @classmethod
    def header(cls):
        return [cls.fields_get([name])[name]['string'] for name in [
                'date', 'event', 'login', 'user', 'address', 'client', 'key',
                'last', 'count']]

    @classmethod
    def export(cls, start=None, end=None, format='csv', rows=None):
        """The log of the days as a CSV or XLSX file (bytes); rows, when
        given, are those of rows(start, end) the caller read already"""
        if rows is None:
            rows = cls.rows(start, end)
        rows = [cls.header()] + [[neutralise(v) if isinstance(v, str) else v
                for v in row] for row in rows]
        if format == 'xlsx':
            from openpyxl import Workbook
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet(cls.__string__[:31])
            for row in rows:
                sheet.append(row)
            output = io.BytesIO()
            workbook.save(output)
            return output.getvalue()
        output = io.StringIO()
        csv.writer(output).writerows(rows)
        return output.getvalue().encode('utf-8')


class AccessLogExportStart(ModelView):
    "Export Access Log"
    __name__ = 'crm.access.log.export.start'
    __string__ = "Export Access Log"

    from_date = fields.Date("From", required=True)
    to_date = fields.Date(
        "To", required=True,
        domain=[('to_date', '>=', Eval('from_date'))])
    format = fields.Selection([
            ('csv', "CSV"),
            ('xlsx', "Excel (XLSX)"),
            ], "Format", required=True)

    @classmethod
    def default_from_date(cls):
        return Pool().get('ir.date').today() - dt.timedelta(days=30)

    @classmethod
    def default_to_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_format(cls):
        return 'csv'


class AccessLogExportResult(ModelView):
    "Export Access Log"
    __name__ = 'crm.access.log.export.result'
    __string__ = "Exported Access Log"

    file = fields.Binary("File", filename='file_name', readonly=True)
    file_name = fields.Char("File Name", readonly=True)


class AccessLogExport(Wizard):
    "Export Access Log"
    __name__ = 'crm.access.log.export'
    start = StateView('crm.access.log.export.start',
        'crm_kit.access_log_export_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Export", 'result', 'tryton-ok', default=True),
            ])
    result = StateView('crm.access.log.export.result',
        'crm_kit.access_log_export_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_result(self, fields):
        pool = Pool()
        AccessLog = pool.get('crm.access.log')
        start = self.start
        return {
            'file': AccessLog.export(
                start.from_date, start.to_date, start.format),
            'file_name': 'access-log-%s-%s.%s' % (
                start.from_date, start.to_date, start.format),
            }
