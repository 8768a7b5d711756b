# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Column, Literal, Null, Select, Union, Window
from sql.aggregate import Count, Sum
from sql.conditionals import Case
from sql.functions import Extract

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from crm_kit.formats import format_month

from .report import (
    CompanyCurrencyMixin, ReportMixin, bucket, business_months,
    company_amount, context_date, filtered, ratio, visible, zero)


class MonthlyReport(CompanyCurrencyMixin, ReportMixin, ModelView):
    """The months of the business year: new leads, won and lost deals,
    accumulated to date, beside the same months of the year before and the
    sales targets"""
    __name__ = 'crm.report.month'
    __string__ = "Monthly Sales"

    month = fields.Date("Month")
    month_name = fields.Function(fields.Char(
            "Month", help="The month as the user's language names it."),
        'get_month_name')
    leads = fields.Integer("New Leads")
    leads_previous = fields.Integer("New Leads Last Year")
    won = fields.Integer("Won Deals")
    won_previous = fields.Integer("Won Deals Last Year")
    lost = fields.Integer("Lost Deals")
    won_amount = fields.Numeric("Won Amount", digits='currency')
    won_amount_previous = fields.Numeric(
        "Won Amount Last Year", digits='currency')
    won_amount_change = fields.Float(
        "Change (%)", digits=(16, 1),
        help="The won amount against the same month of the year before.")
    won_ytd = fields.Integer("Won Deals YTD")
    won_amount_ytd = fields.Numeric(
        "Won Amount YTD", digits='currency',
        help="Accumulated from the start of the business year.")
    won_amount_ytd_previous = fields.Numeric(
        "Won Amount YTD Last Year", digits='currency')
    won_amount_ytd_change = fields.Float("YTD Change (%)", digits=(16, 1))
    win_rate = fields.Float(
        "Win Rate (%)", digits=(16, 1),
        help="Won deals out of the deals closed (won or lost) in the month.")
    average_deal = fields.Numeric("Average Deal", digits='currency')
    average_cycle = fields.Float(
        "Average Sales Cycle (Days)", digits=(16, 1),
        help="From the start of the won deals to their winning.")
    target_amount = fields.Numeric("Target Amount", digits='currency')
    target_deals = fields.Integer("Target Deals")
    attainment = fields.Float(
        "Attainment (%)", digits=(16, 1),
        help="The won amount out of the target amount.")
    target_amount_ytd = fields.Numeric("Target Amount YTD", digits='currency')
    attainment_ytd = fields.Float("Attainment YTD (%)", digits=(16, 1))
    deals_attainment_ytd = fields.Float(
        "Deals Attainment YTD (%)", digits=(16, 1),
        help="The won deals out of the target deals, year to date.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'ASC'), ('id', 'ASC')]

    def get_month_name(self, name):
        # The date stays the field to sort and search by.
        return format_month(self.month)

    @classmethod
    def order_month_name(cls, tables):
        table, _ = tables[None]
        return [table.month]

    @classmethod
    def report_query(cls):
        context = Transaction().context
        months, previous = business_months(
            context.get('company', -1), context_date())
        periods = months, previous
        calendar = Union(*(
                Select([Literal(i).as_('index'),
                        cls._fields['month'].sql_cast(Literal(s)).as_(
                            'month')])
                for i, (s, _) in enumerate(months)), all_=True)
        # Each month beside the same month of the year before, from one
        # pass over the leads and one over the closed deals.
        leads = cls._leads_query(periods)
        closed = cls._closed_query(periods)
        targets = cls._targets_query(months)

        year = Window([], order_by=[calendar.index])
        won = zero(closed.won)
        won_previous = zero(closed.won_previous)
        won_amount = zero(closed.won_amount)
        won_amount_previous = zero(closed.won_amount_previous)
        won_ytd = Sum(won, window=year)
        won_amount_ytd = Sum(won_amount, window=year)
        won_amount_ytd_previous = Sum(won_amount_previous, window=year)
        target_amount = zero(targets.amount)
        target_deals = zero(targets.deals)
        target_amount_ytd = Sum(target_amount, window=year)
        target_deals_ytd = Sum(target_deals, window=year)
        return (calendar
            .join(leads, 'LEFT', condition=leads.index == calendar.index)
            .join(closed, 'LEFT', condition=closed.index == calendar.index)
            .join(targets, 'LEFT',
                condition=targets.bucket == calendar.index)
            .select(
                (calendar.index + 1).as_('id'),
                calendar.month.as_('month'),
                zero(leads.leads).as_('leads'),
                zero(leads.leads_previous).as_('leads_previous'),
                won.as_('won'),
                won_previous.as_('won_previous'),
                zero(closed.lost).as_('lost'),
                won_amount.as_('won_amount'),
                won_amount_previous.as_('won_amount_previous'),
                ratio(won_amount - won_amount_previous, won_amount_previous,
                    100).as_('won_amount_change'),
                won_ytd.as_('won_ytd'),
                won_amount_ytd.as_('won_amount_ytd'),
                won_amount_ytd_previous.as_('won_amount_ytd_previous'),
                ratio(won_amount_ytd - won_amount_ytd_previous,
                    won_amount_ytd_previous, 100).as_(
                    'won_amount_ytd_change'),
                ratio(won, won + zero(closed.lost), 100).as_('win_rate'),
                ratio(won_amount, won).as_('average_deal'),
                ratio(zero(closed.cycle_days), won).as_('average_cycle'),
                target_amount.as_('target_amount'),
                target_deals.as_('target_deals'),
                ratio(won_amount, target_amount, 100).as_('attainment'),
                target_amount_ytd.as_('target_amount_ytd'),
                ratio(won_amount_ytd, target_amount_ytd, 100).as_(
                    'attainment_ytd'),
                ratio(won_ytd, target_deals_ytd, 100).as_(
                    'deals_attainment_ytd'),
                ))

    @classmethod
    def _opportunities(cls):
        "The opportunities the user may see that pass the report's filters"
        Opportunity = Pool().get('sale.opportunity')
        opportunity = Opportunity.__table__()
        company = Transaction().context.get('company', -1)
        return opportunity, (
            (opportunity.company == company)
            & visible(opportunity, 'sale.opportunity')
            & filtered(opportunity))

    @staticmethod
    def _first(periods):
        return min(s for s, _ in periods[0] + periods[1])

    @staticmethod
    def _last(periods):
        return max(e for _, e in periods[0] + periods[1])

    @staticmethod
    def _by_month(dated, periods):
        """dated with the index of the month in the business year of its
        bucket and whether it is in the year (1) or the year before (0)"""
        size = len(periods[0])
        return dated.select(*(Column(dated, c.output_name)
                for c in dated.columns if c.output_name != 'bucket'),
            Case((dated.bucket < 0, dated.bucket + size),
                else_=dated.bucket).as_('index'),
            Case((dated.bucket >= 0, 1), else_=0).as_('current'))

    @classmethod
    def _leads_query(cls, periods):
        """The new leads by month and by the same month of the year before:
        periods are the months and those before"""
        opportunity, where = cls._opportunities()
        # Counted by day first: the month of a few hundred days is cheap,
        # that of every row is not.
        daily = opportunity.select(
            opportunity.start_date.as_('date'),
            Count(opportunity.id).as_('leads'),
            where=where
            & (opportunity.start_date >= cls._first(periods))
            & (opportunity.start_date < cls._last(periods)),
            group_by=[opportunity.start_date])
        dated = cls._by_month(daily.select(
                bucket(daily.date, *periods).as_('bucket'),
                daily.leads.as_('leads')),
            periods)
        current = dated.current == 1
        return dated.select(
            dated.index.as_('index'),
            Sum(Case((current, dated.leads), else_=0)).as_('leads'),
            Sum(Case((~current, dated.leads), else_=0)).as_(
                'leads_previous'),
            group_by=[dated.index])

    @classmethod
    def _closed_query(cls, periods):
        """The won and lost deals by the month they were closed in and the
        won ones by the same month of the year before"""
        opportunity, where = cls._opportunities()
        days = (Extract('EPOCH', opportunity.end_date)
            - Extract('EPOCH', opportunity.start_date)) / 86400
        daily = opportunity.select(
            opportunity.end_date.as_('date'),
            opportunity.state.as_('state'),
            Count(opportunity.id).as_('deals'),
            opportunity.currency.as_('currency'),
            Sum(opportunity.amount).as_('amount'),
            Sum(days).as_('days'),
            where=where
            & opportunity.state.in_(['won', 'lost'])
            & (opportunity.end_date >= cls._first(periods))
            & (opportunity.end_date < cls._last(periods)),
            group_by=[opportunity.end_date, opportunity.state,
                opportunity.currency])
        # Converted by day: the rates are subqueries, which keep the
        # database from sharing the work of every row between processes.
        dated = cls._by_month(daily.select(
                bucket(daily.date, *periods).as_('bucket'),
                daily.state.as_('state'),
                daily.deals.as_('deals'),
                zero(company_amount(daily, daily.amount, daily.date)).as_(
                    'amount'),
                daily.days.as_('days')),
            periods)
        current = dated.current == 1
        won = current & (dated.state == 'won')
        won_before = ~current & (dated.state == 'won')
        return dated.select(
            dated.index.as_('index'),
            Sum(Case((won, dated.deals), else_=0)).as_('won'),
            Sum(Case((won, dated.amount), else_=0)).as_('won_amount'),
            Sum(Case((current & (dated.state == 'lost'), dated.deals),
                    else_=0)).as_('lost'),
            Sum(Case((won, dated.days), else_=0)).as_('cycle_days'),
            Sum(Case((won_before, dated.deals), else_=0)).as_(
                'won_previous'),
            Sum(Case((won_before, dated.amount), else_=0)).as_(
                'won_amount_previous'),
            group_by=[dated.index])

    @classmethod
    def _targets_query(cls, months):
        "The sales targets by month"
        pool = Pool()
        Target = pool.get('crm.sales.target')
        target = Target.__table__()
        context = Transaction().context
        where = ((target.company == context.get('company', -1))
            & visible(target, 'crm.sales.target'))
        if context.get('owner') is not None:
            where &= target.user == context['owner']
        if context.get('team') is not None:
            where &= target.team == context['team']
        if context.get('channel') or context.get('pipeline'):
            # Targets are set per rep, not per channel or pipeline.
            where &= Literal(False)
        index = Case(*(
                ((target.year == s.year) & (target.month == str(s.month)), i)
                for i, (s, _) in enumerate(months)),
            else_=Null)
        dated = target.select(
            index.as_('bucket'), target.amount, target.deals, where=where)
        return dated.select(
            dated.bucket.as_('bucket'),
            Sum(dated.amount).as_('amount'),
            Sum(dated.deals).as_('deals'),
            group_by=[dated.bucket])
