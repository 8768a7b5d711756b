# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

from sql import Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    ReportMixin, context_period, filtered, ratio, report_now, sum_days,
    visible)


class StageTimeReport(ReportMixin, ModelView):
    """How long deals stay in each stage, from the stage history: the stays
    that began in the period"""
    __name__ = 'crm.report.stage_time'
    __string__ = "Time in Stage"

    pipeline = fields.Many2One('crm.pipeline', "Pipeline")
    stage = fields.Many2One('crm.stage', "Stage")
    sequence = fields.Integer("Sequence")
    entries = fields.Integer(
        "Entries", help="The deals that entered the stage in the period.")
    left = fields.Integer(
        "Moved On", help="Of those, the deals that have left the stage.")
    average_days = fields.Float(
        "Average Days in Stage", digits=(16, 1),
        help="Until the deal left the stage, or until now while it stays.")
    average_days_left = fields.Float(
        "Average Days Before Moving On", digits=(16, 1))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('pipeline', 'ASC'), ('sequence', 'ASC'), ('id', 'ASC')]

    @classmethod
    def report_query(cls):
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.stage')
        log = StageLog.__table__()
        opportunity = Opportunity.__table__()
        stage = Stage.__table__()
        context = Transaction().context
        (start, end), _ = context_period()
        start = dt.datetime.combine(start, dt.time())
        end = dt.datetime.combine(end, dt.time())

        # The stays begun in the period, each until its end if it ended.
        until = Coalesce(log.left_date, report_now())
        has_left = log.left_date != Null
        # Summed by stage before the stages are joined: one pass.
        sums = log.join(opportunity,
            condition=log.opportunity == opportunity.id
            ).select(
                log.to_stage.as_('stage'),
                Count(log.id).as_('entries'),
                Sum(Case((has_left, 1), else_=0)).as_('left'),
                sum_days(until, log.date).as_('days'),
                sum_days(until, log.date, has_left).as_('days_left'),
                where=(log.date >= start) & (log.date < end)
                & (opportunity.company == context.get('company', -1))
                & visible(opportunity, 'sale.opportunity')
                & filtered(opportunity),
                group_by=[log.to_stage])
        entries = Coalesce(sums.entries, 0)
        return stage.join(sums, 'LEFT',
            condition=sums.stage == stage.id
            ).select(
                stage.id.as_('id'),
                stage.pipeline.as_('pipeline'),
                stage.id.as_('stage'),
                stage.sequence.as_('sequence'),
                entries.as_('entries'),
                Coalesce(sums.left, 0).as_('left'),
                ratio(sums.days, sums.entries).as_('average_days'),
                ratio(sums.days_left, sums.left).as_('average_days_left'),
                where=((stage.pipeline == context['pipeline'])
                    if context.get('pipeline') else Literal(True))
                & ((stage.active == Literal(True)) | (entries > 0)))
