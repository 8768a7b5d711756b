# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Literal, Null
from sql.conditionals import Coalesce

from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .last_activity import LastActivityMixin


class Party(LastActivityMixin, metaclass=PoolMeta):
    __name__ = 'party.party'

    crm_activities = fields.One2Many(
        'crm.activity', 'party', "Activities")
    crm_last_activity = fields.DateTime(
        "Last Activity", readonly=True,
        help="When an activity was last planned or done for the customer.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.crm_last_activity, Index.Range())))


class CustomerHistory(metaclass=PoolMeta):
    __name__ = 'crm.customer.history'

    activity = fields.Many2One('crm.activity', "Activity")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('activity', "Activity"))

    @classmethod
    def _history_columns(cls):
        return super()._history_columns() + ['activity']

    @classmethod
    def _history_queries(cls):
        pool = Pool()
        Activity = pool.get('crm.activity')
        activity = Activity.__table__()
        queries = super()._history_queries()
        visible = cls._history_visible(activity, 'crm.activity')
        queries.append(activity.select(
                activity.id.as_('id'),
                activity.party.as_('party'),
                # Done ones when they were done, the others when due.
                Coalesce(activity.done_date, activity.due).as_('date'),
                Literal('activity').as_('kind'),
                activity.opportunity.as_('opportunity'),
                activity.owner.as_('user'),
                activity.id.as_('activity'),
                where=(activity.party != Null)
                & (activity.state != 'cancelled')
                & (activity.company
                    == Transaction().context.get('company', -1))
                & visible))
        return queries
