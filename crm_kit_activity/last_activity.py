# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""When an activity was last planned or done for an opportunity or a
customer, kept on them for "no activity for N days" (automation and alert
rules) and its index."""
import datetime as dt

from sql import Null
from sql.aggregate import Max
from sql.conditionals import Coalesce

from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from crm_kit.cache import forget_cached

# The field that keeps the last activity of each model, the field of
# crm.activity that links to it and the activities of a record
LAST_ACTIVITY = {
    'sale.opportunity': 'last_activity',
    'party.party': 'crm_last_activity',
    }
ACTIVITY_LINK = {
    'sale.opportunity': 'opportunity',
    'party.party': 'party',
    }
ACTIVITIES = {
    'sale.opportunity': 'activities',
    'party.party': 'crm_activities',
    }


class LastActivityMixin:
    """Keep when an activity was last planned or done (LAST_ACTIVITY), for
    "no activity for N days"; a new record counts from its creation"""
    __slots__ = ()

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        fill_last_activity(cls, LAST_ACTIVITY[cls.__name__],
            ACTIVITY_LINK[cls.__name__])

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values.setdefault(LAST_ACTIVITY[cls.__name__], dt.datetime.now())
        return values

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault(LAST_ACTIVITY[cls.__name__])
        return super().copy(records, default=default)


def fill_last_activity(Target, name, link):
    """Give the records that have none their latest activity, else their
    creation, so that "no activity for N days" counts from there"""
    pool = Pool()
    Activity = pool.get('crm.activity')
    table = Target.__table__()
    activity = Activity.__table__()
    cursor = Transaction().connection.cursor()
    column = getattr(table, name)
    latest = activity.select(
        Max(Coalesce(activity.done_date, activity.create_date)),
        where=getattr(activity, link) == table.id)
    cursor.execute(*table.update(
            [column], [Coalesce(latest, table.create_date)],
            where=column == Null))


def touch_last_activity(activities, now=None):
    "Record on their opportunities and customers that activities happened"
    pool = Pool()
    now = now or dt.datetime.now()
    cursor = Transaction().connection.cursor()
    for model, name in LAST_ACTIVITY.items():
        Target = pool.get(model)
        link = ACTIVITY_LINK[model]
        ids = list({getattr(a, link).id for a in activities
                if getattr(a, link)})
        table = Target.__table__()
        column = getattr(table, name)
        for sub in grouped_slice(ids, 1000):
            cursor.execute(*table.update(
                    [column], [now],
                    where=table.id.in_(list(sub))
                    & ((column == Null) | (column < now))))
        forget_cached(Target, ids)
