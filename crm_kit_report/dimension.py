# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The sales figures of a period by one dimension (rep, team, channel, "
"customer category), beside the same period of the year before"
from sql import Column
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Extract

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    CompanyCurrencyMixin, ReportMixin, company_amount, context_period,
    filtered, rate_date, ratio, visible, zero)

# The states a deal is in, or went through, once qualified and once offered.
QUALIFIED = ['opportunity', 'converted', 'won']
OFFERED = ['converted', 'won']


class DimensionReportMixin(CompanyCurrencyMixin, ReportMixin, ModelView):
    "Sales figures by a dimension: its Many2One field is called dimension"

    leads = fields.Integer("New Leads")
    qualified = fields.Integer(
        "Qualified", help="New leads that became opportunities.")
    offered = fields.Integer(
        "Offered", help="New leads that were sent an offer.")
    lead_to_opportunity = fields.Float(
        "Lead → Opportunity (%)", digits=(16, 1))
    opportunity_to_offer = fields.Float(
        "Opportunity → Offer (%)", digits=(16, 1))
    offer_to_won = fields.Float(
        "Offer → Won (%)", digits=(16, 1),
        help="The offered new leads that were won.")
    won = fields.Integer("Won Deals")
    lost = fields.Integer("Lost Deals")
    won_amount = fields.Numeric("Won Amount", digits='currency')
    win_rate = fields.Float(
        "Win Rate (%)", digits=(16, 1),
        help="Won deals out of the deals closed (won or lost).")
    average_deal = fields.Numeric("Average Deal", digits='currency')
    average_cycle = fields.Float(
        "Average Sales Cycle (Days)", digits=(16, 1))
    leads_previous = fields.Integer("New Leads Last Year")
    won_previous = fields.Integer("Won Deals Last Year")
    won_amount_previous = fields.Numeric(
        "Won Amount Last Year", digits='currency')
    won_amount_change = fields.Float(
        "Change (%)", digits=(16, 1),
        help="The won amount against the same period of the year before.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('won_amount', 'DESC'), ('id', 'ASC')]

    @classmethod
    def _dimension(cls, opportunity):
        """The from item joining opportunity to the dimension and the
        dimension's column"""
        raise NotImplementedError

    @classmethod
    def report_query(cls):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        opportunity = Opportunity.__table__()
        context = Transaction().context
        (start, end), (start_before, end_before) = context_period()
        from_item, dimension = cls._dimension(opportunity)

        def new_and_reached(states):
            "1 for a new lead that is or went through one of states"
            return Case((new & (opportunity.state.in_(states)
                        | (opportunity.state.in_(['lost', 'cancelled'])
                            & opportunity.furthest_state.in_(states))), 1),
                else_=0)

        def during(column, start, end):
            return (column >= start) & (column < end)
        new = during(opportunity.start_date, start, end)
        new_before = during(opportunity.start_date, start_before, end_before)
        closed = during(opportunity.end_date, start, end)
        closed_before = during(
            opportunity.end_date, start_before, end_before)
        won = opportunity.state == 'won'
        lost = opportunity.state == 'lost'
        amount = opportunity.amount
        days = (Extract('EPOCH', opportunity.end_date)
            - Extract('EPOCH', opportunity.start_date)) / 86400

        def count(condition):
            return Case((condition, 1), else_=0)

        # The sums in one pass, grouped by dimension and by the currency and
        # date of the rate that converts the amounts (one group for the
        # company currency): every process of the database can take part.
        row = from_item.select(
            dimension.as_('dimension'),
            opportunity.currency.as_('currency'),
            rate_date(opportunity, opportunity.end_date).as_('date'),
            count(new).as_('leads'),
            new_and_reached(QUALIFIED).as_('qualified'),
            new_and_reached(OFFERED).as_('offered'),
            count(new & won).as_('new_won'),
            count(closed & won).as_('won'),
            count(closed & lost).as_('lost'),
            Case((closed & won, amount), else_=0).as_('won_amount'),
            Case((closed & won, days), else_=0).as_('days'),
            count(new_before).as_('leads_previous'),
            count(closed_before & won).as_('won_previous'),
            Case((closed_before & won, amount), else_=0).as_(
                'won_amount_previous'),
            where=(opportunity.company == context.get('company', -1))
            & visible(opportunity, 'sale.opportunity')
            & filtered(opportunity)
            & (during(opportunity.start_date, start_before, end)
                | during(opportunity.end_date, start_before, end)))
        by_rate = row.select(
            row.dimension, row.currency, row.date,
            *(Sum(Column(row, c.output_name)).as_(c.output_name)
                for c in row.columns[3:]),
            group_by=[row.dimension, row.currency, row.date])
        # Then by dimension, the amounts converted: the ratios over these
        # sums, outside, so that each sum is computed once.
        sums = by_rate.select(
            by_rate.dimension.as_('dimension'),
            *(Sum(Column(by_rate, n)).as_(n) for n in [
                    'leads', 'qualified', 'offered', 'new_won', 'won',
                    'lost', 'days', 'leads_previous', 'won_previous']),
            *(Sum(zero(company_amount(
                            by_rate, Column(by_rate, n), by_rate.date))).as_(n)
                for n in ['won_amount', 'won_amount_previous']),
            group_by=[by_rate.dimension])
        return sums.select(
            # Ids are positive: the rows of no rep or channel get 1.
            (Coalesce(sums.dimension, 0) + 1).as_('id'),
            sums.dimension.as_('dimension'),
            sums.leads.as_('leads'),
            sums.qualified.as_('qualified'),
            sums.offered.as_('offered'),
            ratio(sums.qualified, sums.leads, 100).as_('lead_to_opportunity'),
            ratio(sums.offered, sums.qualified, 100).as_(
                'opportunity_to_offer'),
            ratio(sums.new_won, sums.offered, 100).as_('offer_to_won'),
            sums.won.as_('won'),
            sums.lost.as_('lost'),
            sums.won_amount.as_('won_amount'),
            ratio(sums.won, sums.won + sums.lost, 100).as_('win_rate'),
            ratio(sums.won_amount, sums.won).as_('average_deal'),
            ratio(sums.days, sums.won).as_('average_cycle'),
            sums.leads_previous.as_('leads_previous'),
            sums.won_previous.as_('won_previous'),
            sums.won_amount_previous.as_('won_amount_previous'),
            ratio(sums.won_amount - sums.won_amount_previous,
                sums.won_amount_previous, 100).as_('won_amount_change'))


class RepReport(DimensionReportMixin):
    "Sales by rep"
    __name__ = 'crm.report.rep'
    __string__ = "Sales by Rep"

    dimension = fields.Many2One('res.user', "Sales Rep")

    @classmethod
    def _dimension(cls, opportunity):
        return opportunity, opportunity.owner


class TeamReport(DimensionReportMixin):
    "Sales by team"
    __name__ = 'crm.report.team'
    __string__ = "Sales by Team"

    dimension = fields.Many2One('crm.team', "Team")

    @classmethod
    def _dimension(cls, opportunity):
        return opportunity, opportunity.team


class ChannelReport(DimensionReportMixin):
    "Sales by channel: where the leads that win come from"
    __name__ = 'crm.report.channel'
    __string__ = "Sales by Channel"

    dimension = fields.Many2One('crm.channel', "Channel")

    @classmethod
    def _dimension(cls, opportunity):
        return opportunity, opportunity.channel


class CustomerCategoryReport(DimensionReportMixin):
    """Sales by customer category: a deal counts in each category of its
    customer"""
    __name__ = 'crm.report.customer_category'
    __string__ = "Sales by Customer Category"

    dimension = fields.Many2One('party.category', "Customer Category")

    @classmethod
    def _dimension(cls, opportunity):
        pool = Pool()
        PartyCategory = pool.get('party.party-party.category')
        link = PartyCategory.__table__()
        return (opportunity.join(link, 'LEFT',
                condition=link.party == opportunity.party),
            link.category)
