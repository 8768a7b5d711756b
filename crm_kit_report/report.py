# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"What every CRM report shares: the business year, the filters a user picks "
"and the record rules that decide whose figures count."
import datetime as dt
import weakref

from dateutil.relativedelta import relativedelta
from sql import Cast, Column, Literal, Null, Select, Values
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Extract

from trytond import backend
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

# The report filters: a context key and the opportunity column it filters.
FILTERS = ['owner', 'team', 'channel', 'pipeline']


def business_year(company_id, date):
    """The first day of the business year holding date and the first day
    after it: the company's fiscal year where one is defined, else the
    calendar year"""
    FiscalYear = Pool().get('account.fiscalyear')
    with without_check_access():
        years = FiscalYear.search([
                ('company', '=', company_id),
                ('start_date', '<=', date),
                ('end_date', '>=', date),
                ], limit=1)
    if years:
        year, = years
        return year.start_date, year.end_date + dt.timedelta(days=1)
    return dt.date(date.year, 1, 1), dt.date(date.year + 1, 1, 1)


def business_months(company_id, date):
    """The months of the business year holding date, each as (start, end)
    with end excluded, and the same months of the year before"""
    start, end = business_year(company_id, date)
    months = []
    while start < end:
        next_ = min(start + relativedelta(months=1), end)
        months.append((start, next_))
        start = next_
    year_before = relativedelta(years=1)
    # relativedelta takes 29 February back to 28 February.
    previous = [(s - year_before, e - year_before) for s, e in months]
    return months, previous


def bucket(column, months, previous):
    """The index of the month holding column's date: 0 for the first month
    of months, -len(months) for the first of previous; meaningless outside
    them"""
    first = months[0][0]
    if len(months) == 12 and all(
            s.day == 1 and e == s + relativedelta(months=1)
            for s, e in months):
        # Calendar months: counted, not searched.
        return ((Extract('YEAR', column) - first.year) * 12
            + Extract('MONTH', column) - first.month)
    size = len(months)
    return Case(*(((column >= s) & (column < e), i)
            for i, (s, e) in [*enumerate(months),
                *enumerate(previous, -size)]), else_=Null)


def visible(table, model, column=None):
    """The condition that a row of table (or the record of model its column
    points at) is one the user's record rules show"""
    pool = Pool()
    Rule = pool.get('ir.rule')
    Model = pool.get(model)
    if column is None:
        # The rules as a condition on the row itself, as a search applies
        # them: a subquery on the same table would read it twice.
        domain = Rule.domain_get(model, mode='read')
        if not domain:
            return Literal(True)
        tables, condition = Model.search_domain(
            domain, active_test=False, tables={None: (table, None)})
        if len(tables) == 1:
            return condition
        column = table.id
    query = Rule.query_get(model)
    return column.in_(query) if query is not None else Literal(True)


def filtered(table, columns=FILTERS):
    "The condition that a row of table passes the filters of the context"
    context = Transaction().context
    condition = Literal(True)
    for name in columns:
        if context.get(name) is not None:
            condition &= getattr(table, name) == context[name]
    return condition


def company_currency():
    "The id of the currency of the context's company, None without one"
    Company = Pool().get('company.company')
    if (company := Transaction().context.get('company')) is not None:
        return Company(company).currency.id


def company_amount(table, amount, date):
    """amount of table in the company currency: as is when the row is in
    the company currency, else converted at the rate of the row's date.

    The rates are subqueries, which keep PostgreSQL from sharing the work
    between processes: convert sums grouped by currency and date, not every
    row."""
    Rate = Pool().get('currency.currency.rate')
    currency = company_currency()
    if currency is None:  # no company, no rows
        return amount

    def rate(currency):
        table = Rate.__table__()
        return table.select(table.rate,
            where=(table.currency == currency) & (table.date <= date),
            order_by=[table.date.desc], limit=1)
    # Reports never wait for rates that a one-currency business never sets.
    return Case(
        (table.currency == currency, amount),
        else_=amount * rate(currency) / rate(table.currency))


def rate_date(table, date):
    """The date of the rate that converts the amounts of table's row: none
    for the rows in the company currency, so that they are summed as one"""
    return Case((table.currency != company_currency(), date))


def sum_days(end, start, condition=None):
    """The sum of the days from start to end, two timestamp expressions, on
    the rows meeting condition: NULL without any"""
    if backend.name == 'postgresql':
        # Intervals add up without a decimal number for every row.
        interval = end - start
        if condition is not None:
            interval = Case((condition, interval))
        return Extract('EPOCH', Sum(interval)) / 86400
    days = (Extract('EPOCH', end) - Extract('EPOCH', start)) / 86400
    if condition is not None:
        days = Case((condition, days))
    return Sum(days)


def ratio(numerator, denominator, factor=1):
    "numerator / denominator as a decimal number, NULL when it is zero"
    return Case(
        (denominator != 0, numerator * Literal(float(factor)) / denominator),
        else_=Null)


def zero(expression):
    return Coalesce(expression, 0)


class ReportContext(ModelView):
    "The business year and the filters of the CRM reports"
    __name__ = 'crm.report.context'
    __string__ = "Report Filters"

    company = fields.Many2One('company.company', "Company", required=True)
    date = fields.Date(
        "Business Year of", required=True,
        help="The reports show the business year holding this date "
        "and compare it with the year before.")
    period = fields.Selection([
            ('ytd', "Year to Date"),
            ('month', "Month"),
            ('year', "Whole Year"),
            ], "Period", required=True,
        help="What the reports by rep, team, channel and customer category "
        "count: the business year up to the date, the month of the date or "
        "the whole business year; each beside the same period of the year "
        "before.")
    owner = fields.Many2One('res.user', "Sales Rep")
    team = fields.Many2One('crm.team', "Team")
    channel = fields.Many2One('crm.channel', "Channel")
    pipeline = fields.Many2One('crm.pipeline', "Pipeline")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_period(cls):
        return Transaction().context.get('period', 'ytd')

    @classmethod
    def default_owner(cls):
        return Transaction().context.get('owner')

    @classmethod
    def default_team(cls):
        return Transaction().context.get('team')

    @classmethod
    def default_channel(cls):
        return Transaction().context.get('channel')

    @classmethod
    def default_pipeline(cls):
        return Transaction().context.get('pipeline')


def context_date():
    "The date the report's business year holds"
    date = Transaction().context.get('date')
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return date or Pool().get('ir.date').today()


def context_period():
    """The period the context asks for, (start, end) with end excluded, and
    the same period of the year before"""
    context = Transaction().context
    date = context_date()
    period = context.get('period') or 'ytd'
    months, previous = business_months(context.get('company', -1), date)
    if period == 'year':
        current = (months[0][0], months[-1][1])
        before = (previous[0][0], previous[-1][1])
    else:
        index = next(
            (i for i, (s, e) in enumerate(months) if s <= date < e), 0)
        end, end_before = months[index][1], previous[index][1]
        if period == 'month':
            current = (months[index][0], end)
            before = (previous[index][0], end_before)
        else:
            # Up to the date included, against the same days a year before.
            day = dt.timedelta(days=1)
            current = (months[0][0], date + day)
            before = (
                previous[0][0], date - relativedelta(years=1) + day)
    return current, before


# The rows each transaction computed, by report query: a search then a
# read of the same report (search_read, REST) compute it once.
_computed = weakref.WeakKeyDictionary()
_now = weakref.WeakKeyDictionary()


def report_now():
    """The time the reports of the transaction count ages to: one time,
    so that the same report gives the same query"""
    return _now.setdefault(Transaction(), dt.datetime.now())


# Above this, a report stays a query: its rows would be too many parameters.
MAX_COMPUTED_ROWS = 500


class CompanyCurrencyMixin:
    "The currency of the report's amounts: the company's"
    __slots__ = ()

    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"), 'get_currency')

    def get_currency(self, name):
        Company = Pool().get('company.company')
        if company := Transaction().context.get('company'):
            return Company(company).currency.id


class ReportMixin(ModelSQL):
    "A report: the rows of a query computed once per transaction"

    @classmethod
    def report_query(cls):
        "The query of the report's rows, for the context"
        raise NotImplementedError

    @classmethod
    def table_query(cls):
        transaction = Transaction()
        query = cls.report_query()
        sql, params = tuple(query)
        # A write in the transaction may change the figures.
        key = (cls.__name__, sql, repr(params), transaction.counter)
        computed = _computed.setdefault(transaction, {})
        if key not in computed:
            cursor = transaction.connection.cursor()
            if backend.name == 'postgresql':
                # Compiling these queries costs more than running them.
                cursor.execute('SET LOCAL jit = off')
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            computed.clear()
            computed[key] = rows if len(rows) <= MAX_COMPUTED_ROWS else None
        if computed[key] is None:
            return query
        names = [c.output_name for c in query.columns]
        return cls._rows_query(names, computed[key])

    @classmethod
    def _rows_query(cls, names, rows):
        "A query giving rows as the columns names"
        def typed(name, expression):
            field = cls._fields.get(name)
            if backend.name == 'sqlite' or not field:
                # SQLite reads the types from the column names.
                return expression
            return Cast(expression, field.sql_type().base)
        if not rows:
            return Select([typed(n, Literal(None)).as_(n) for n in names],
                where=Literal(False))
        values = Values([list(r) for r in rows])
        return values.select(*(
                typed(n, Column(values, 'column%d' % i)).as_(n)
                for i, n in enumerate(names, 1)))
