# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

from sql import Literal, Window
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Extract, Lead

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    ReportMixin, context_period, filtered, ratio, report_now, visible)


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

        # Every stay: the move into a stage and the next move of the deal.
        stays = log.join(opportunity,
            condition=log.opportunity == opportunity.id
            ).select(
                log.to_stage.as_('stage'),
                log.date.as_('date'),
                Lead(log.date, window=Window([log.opportunity],
                        order_by=[log.date.asc, log.id.asc])).as_('until'),
                # The next move of a stay begun in the period is later:
                # the older history is not needed.
                where=(log.date >= start)
                & (opportunity.company == context.get('company', -1))
                & visible(opportunity, 'sale.opportunity')
                & filtered(opportunity))
        now = Extract('EPOCH', Literal(report_now()))
        days = (Coalesce(Extract('EPOCH', stays.until), now)
            - Extract('EPOCH', stays.date)) / 86400
        has_left = stays.until != None  # noqa: E711
        begun = stays.select(
            stays.stage, days.as_('days'),
            Case((has_left, 1), else_=0).as_('left'),
            where=(stays.date >= start) & (stays.date < end))
        days_left = Sum(Case((begun.left == 1, begun.days), else_=0))
        return stage.join(begun, 'LEFT',
            condition=begun.stage == stage.id
            ).select(
                stage.id.as_('id'),
                stage.pipeline.as_('pipeline'),
                stage.id.as_('stage'),
                stage.sequence.as_('sequence'),
                Count(begun.stage).as_('entries'),
                Coalesce(Sum(begun.left), 0).as_('left'),
                ratio(Sum(begun.days), Count(begun.stage)).as_(
                    'average_days'),
                ratio(days_left, Sum(begun.left)).as_('average_days_left'),
                where=((stage.pipeline == context['pipeline'])
                    if context.get('pipeline') else Literal(True)),
                group_by=[stage.id, stage.pipeline, stage.sequence,
                    stage.active],
                having=(stage.active == Literal(True))
                | (Count(begun.stage) > 0))
