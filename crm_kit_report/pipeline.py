# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Literal
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce
from sql.functions import Extract

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    CompanyCurrencyMixin, ReportMixin, company_amount, filtered, rate_date,
    report_now, visible, zero)

OPEN_STATES = ['lead', 'opportunity', 'converted']


class PipelineReport(CompanyCurrencyMixin, ReportMixin, ModelView):
    "The open opportunities by pipeline and stage"
    __name__ = 'crm.report.pipeline'
    __string__ = "Pipeline by Stage"

    pipeline = fields.Many2One('crm.pipeline', "Pipeline")
    stage = fields.Many2One('crm.stage', "Stage")
    sequence = fields.Integer("Sequence")
    probability = fields.Float("Probability", digits=(1, 4))
    count = fields.Integer("Opportunities")
    amount = fields.Numeric("Amount", digits='currency')
    weighted_amount = fields.Numeric(
        "Weighted Amount", digits='currency',
        help="The amount multiplied by the stage's probability.")
    average_days_in_stage = fields.Float(
        "Average Days in Stage", digits=(16, 1))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('pipeline', 'ASC'), ('sequence', 'ASC'), ('id', 'ASC')]

    @classmethod
    def report_query(cls):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.stage')
        opportunity = Opportunity.__table__()
        stage = Stage.__table__()
        context = Transaction().context
        now = Extract('EPOCH', Literal(report_now()))
        # The sums by stage and by the currency and date of the rate that
        # converts the amounts (one group for the company currency), so
        # that every process of the database can take part; then by stage,
        # converted; then the few stages joined to them.
        row = opportunity.select(
            opportunity.stage.as_('stage'),
            opportunity.currency.as_('currency'),
            rate_date(opportunity, opportunity.start_date).as_('date'),
            opportunity.amount.as_('amount'),
            Extract('EPOCH', opportunity.stage_date).as_('entered'),
            where=opportunity.state.in_(OPEN_STATES)
            & (opportunity.company == context.get('company', -1))
            & visible(opportunity, 'sale.opportunity')
            & filtered(opportunity))
        by_rate = row.select(
            row.stage, row.currency, row.date,
            Count(Literal(1)).as_('count'),
            Sum(row.amount).as_('amount'),
            Sum(row.entered).as_('entered'),
            group_by=[row.stage, row.currency, row.date])
        sums = by_rate.select(
            by_rate.stage.as_('stage'),
            Sum(by_rate.count).as_('count'),
            Sum(zero(company_amount(
                        by_rate, by_rate.amount, by_rate.date))).as_('amount'),
            (Sum(by_rate.entered) / Sum(by_rate.count)).as_('entered'),
            group_by=[by_rate.stage])
        count = Coalesce(sums.count, 0)
        return (stage
            .join(sums, 'LEFT', condition=sums.stage == stage.id)
            .select(
                stage.id.as_('id'),
                stage.pipeline.as_('pipeline'),
                stage.id.as_('stage'),
                stage.sequence.as_('sequence'),
                stage.probability.as_('probability'),
                count.as_('count'),
                zero(sums.amount).as_('amount'),
                zero(sums.amount * stage.probability).as_('weighted_amount'),
                zero((now - sums.entered) / 86400).as_(
                    'average_days_in_stage'),
                where=stage.state.in_(OPEN_STATES)
                & ((stage.pipeline == context['pipeline'])
                    if context.get('pipeline') else Literal(True))
                # A retired stage shows while deals still sit in it.
                & ((stage.active == Literal(True)) | (count > 0))))
