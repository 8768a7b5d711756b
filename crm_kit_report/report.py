# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"What every CRM report shares: the business year, the filters a user picks "
"and the record rules that decide whose figures count."
import datetime as dt

from dateutil.relativedelta import relativedelta
from sql import Literal, Null
from sql.conditionals import Case, Coalesce

from trytond.model import ModelView, fields
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


def bucket(column, periods):
    "The index of the period (start, end) holding column's date, or NULL"
    return Case(*(((column >= s) & (column < e), i)
            for i, (s, e) in enumerate(periods)), else_=Null)


def visible(table, model, column=None):
    """The condition that a row of table (or the record of model its column
    points at) is one the user's record rules show"""
    Rule = Pool().get('ir.rule')
    query = Rule.query_get(model)
    if column is None:
        column = table.id
    return column.in_(query) if query is not None else Literal(True)


def filtered(table, columns=FILTERS):
    "The condition that a row of table passes the filters of the context"
    context = Transaction().context
    condition = Literal(True)
    for name in columns:
        if context.get(name) is not None:
            condition &= getattr(table, name) == context[name]
    return condition


def company_amount(table, amount, date):
    """amount of table in the company currency: as is when the row is in
    the company currency, else converted at the rate of the row's date"""
    pool = Pool()
    Company = pool.get('company.company')
    Rate = pool.get('currency.currency.rate')
    company = Transaction().context.get('company')
    if company is None:  # no company, no rows
        return amount
    currency = Company(company).currency.id

    def rate(currency):
        table = Rate.__table__()
        return table.select(table.rate,
            where=(table.currency == currency) & (table.date <= date),
            order_by=[table.date.desc], limit=1)
    # Reports never wait for rates that a one-currency business never sets.
    return Case(
        (table.currency == currency, amount),
        else_=amount * rate(currency) / rate(table.currency))


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
