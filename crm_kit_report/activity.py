# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

from sql.aggregate import Min, Sum
from sql.conditionals import Case

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    ReportMixin, context_period, ratio, report_now, visible)


class ActivityReport(ReportMixin, ModelView):
    """The commercial activity of each rep by type: the activities due in the
    period, done, cancelled, still planned and overdue"""
    __name__ = 'crm.report.activity'
    __string__ = "Commercial Activity"

    owner = fields.Many2One('res.user', "Sales Rep")
    type = fields.Many2One('crm.activity.type', "Type")
    total = fields.Integer("Activities")
    done = fields.Integer("Done")
    cancelled = fields.Integer("Cancelled")
    planned = fields.Integer("Planned")
    overdue = fields.Integer(
        "Overdue", help="Still planned after their due date.")
    done_rate = fields.Float("Done (%)", digits=(16, 1))
    done_previous = fields.Integer(
        "Done Last Year", help="Done in the same period of the year before.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('owner', 'ASC'), ('type', 'ASC'), ('id', 'ASC')]

    @classmethod
    def report_query(cls):
        pool = Pool()
        Activity = pool.get('crm.activity')
        Team = pool.get('crm.team')
        Member = pool.get('crm.team-res.user')
        activity = Activity.__table__()
        context = Transaction().context
        (start, end), (start_before, end_before) = context_period()

        def moment(date):
            return dt.datetime.combine(date, dt.time())

        def due_in(start, end):
            return ((activity.due >= moment(start))
                & (activity.due < moment(end)))
        current, before = due_in(start, end), due_in(start_before, end_before)

        def count(condition):
            return Sum(Case((condition, 1), else_=0))
        total = count(current)
        done = count(current & (activity.state == 'done'))
        where = ((activity.company == context.get('company', -1))
            & visible(activity, 'crm.activity')
            & (current | before))
        if context.get('owner') is not None:
            where &= activity.owner == context['owner']
        if context.get('team') is not None:
            team, member = Team.__table__(), Member.__table__()
            where &= (activity.owner.in_(member.select(
                        member.user, where=member.team == context['team']))
                | activity.owner.in_(team.select(
                        team.manager, where=team.id == context['team'])))
        return activity.select(
            Min(activity.id).as_('id'),
            activity.owner.as_('owner'),
            activity.type.as_('type'),
            total.as_('total'),
            done.as_('done'),
            count(current & (activity.state == 'cancelled')).as_('cancelled'),
            count(current & (activity.state == 'planned')).as_('planned'),
            count(current & (activity.state == 'planned')
                & (activity.due < report_now())).as_('overdue'),
            ratio(done, total, 100).as_('done_rate'),
            count(before & (activity.state == 'done')).as_('done_previous'),
            where=where,
            group_by=[activity.owner, activity.type])
