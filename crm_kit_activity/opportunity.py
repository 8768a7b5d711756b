# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice

from crm_kit.pipeline import OPEN_STATES

from .last_activity import LastActivityMixin


class SaleOpportunity(LastActivityMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    activities = fields.One2Many(
        'crm.activity', 'opportunity', "Activities",
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    last_activity = fields.DateTime(
        "Last Activity", readonly=True,
        help="When an activity was last planned or done for it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.last_activity, Index.Range()),
                    where=t.state.in_(OPEN_STATES)),
                # Leads seldom have one: no entry for them (each index
                # entry costs the lead import).
                Index(t, (t.expected_close_date, Index.Range()),
                    where=t.state.in_(OPEN_STATES)
                    & (t.expected_close_date != Null)),
                })

    @classmethod
    def changed_since_created(cls, opportunities):
        pool = Pool()
        Activity = pool.get('crm.activity')
        result = super().changed_since_created(opportunities)
        ids = [o.id for o in opportunities if o.id not in result]
        for sub in grouped_slice(ids, 1000):
            for activity in Activity.search([
                        ('opportunity', 'in', list(sub)),
                        ('state', '=', 'done'),
                        ]):
                result.setdefault(activity.opportunity.id, gettext(
                        'crm_kit_activity.msg_opportunity_activity_done',
                        activity=activity.rec_name))
        return result

    @classmethod
    def delete_created(cls, opportunities):
        pool = Pool()
        Activity = pool.get('crm.activity')
        # What was planned for them (the automation's follow-ups) has no
        # purpose without them.
        ids = [o.id for o in opportunities]
        for sub in grouped_slice(ids, 1000):
            Activity.delete(Activity.search([
                        ('opportunity', 'in', list(sub)),
                        ('state', '!=', 'done'),
                        ]))
        super().delete_created(opportunities)

    @classmethod
    def fields_to_merge(cls):
        return super().fields_to_merge() + [
            ('crm.activity', 'opportunity'),
            ('crm.automation.log', 'record'),
            ]

    @classmethod
    def _bulk_insert_values(cls):
        values = super()._bulk_insert_values()
        values['last_activity'] = dt.datetime.now()
        return values
