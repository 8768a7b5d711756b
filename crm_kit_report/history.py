# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the reports keep from the stage history as it is written, so that
they do not replay it: when each stay in a stage ended, and how far each
deal went before it was lost or cancelled."""
from sql import Null, Window
from sql.conditionals import Case
from sql.functions import Lead

from trytond import backend
from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.model.fields import SQL_OPERATORS
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

# The states of the sales process in their order: how far a deal went.
FUNNEL = ['lead', 'opportunity', 'converted', 'won']


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    furthest_state = fields.Selection([
            (None, ''),
            ('lead', "Lead"),
            ('opportunity', "Opportunity"),
            ('converted', "Converted"),
            ('won', "Won"),
            ], "Furthest State", readonly=True, sort=False,
        help="The furthest the deal went in the sales process, "
        "kept when it is lost or cancelled.")

    @classmethod
    def __register__(cls, module):
        exists = cls.__table_handler__(module).column_exist('furthest_state')
        super().__register__(module)
        if not exists:
            Pool().get('crm.stage.log')._update_furthest_states()

    @classmethod
    def _bulk_insert_values(cls):
        values = super()._bulk_insert_values()
        # Inserted in bulk as leads, with their creation logged as such.
        values['furthest_state'] = 'lead'
        return values


class StageLog(metaclass=PoolMeta):
    __name__ = 'crm.stage.log'

    left_date = fields.DateTime(
        "Left On", readonly=True,
        help="When the deal moved on from the stage; empty while it stays.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.date, Index.Range()), (t.to_stage, Index.Equality())))

    @classmethod
    def __register__(cls, module):
        exists = cls.__table_handler__(module).column_exist('left_date')
        super().__register__(module)
        if not exists:
            cls._update_stays()

    @classmethod
    def on_modification(cls, mode, logs, field_names=None):
        super().on_modification(mode, logs, field_names=field_names)
        if mode == 'create':
            cls.update_history({l.opportunity.id for l in logs})

    @classmethod
    def update_history(cls, opportunity_ids=None):
        """Set when each stay of the opportunities of opportunity_ids (all
        when None) ended and how far each of them went, from their logs"""
        cls._update_stays(opportunity_ids)
        cls._update_furthest_states(opportunity_ids)

    @classmethod
    def _slices(cls, opportunity_ids):
        "The where clauses on the column of opportunity_ids, by slice"
        if opportunity_ids is None:
            yield lambda column: None
            return
        for sub_ids in grouped_slice(
                sorted(opportunity_ids), backend.MAX_QUERY_PARAMS):
            yield lambda column, sub_ids=list(sub_ids): SQL_OPERATORS['in'](
                column, sub_ids)

    @classmethod
    def _update_stays(cls, opportunity_ids=None):
        cursor = Transaction().connection.cursor()
        for where in cls._slices(opportunity_ids):
            log = cls.__table__()
            updated = cls.__table__()
            # A stay ends with the next move of the deal, in the order of
            # the history.
            stays = log.select(log.id.as_('id'), Lead(log.date,
                    window=Window([log.opportunity],
                        order_by=[log.date.asc, log.id.asc])).as_('until'),
                where=where(log.opportunity))
            cursor.execute(*updated.update(
                    [updated.left_date], [stays.until], from_=[stays],
                    where=updated.id == stays.id))

    @classmethod
    def _update_furthest_states(cls, opportunity_ids=None):
        Opportunity = Pool().get('sale.opportunity')
        cursor = Transaction().connection.cursor()
        for where in cls._slices(opportunity_ids):
            opportunity = Opportunity.__table__()
            log = cls.__table__()
            rank = Case(*((log.to_state == s, i)
                    for i, s in enumerate(FUNNEL)), else_=Null)
            furthest = log.select(log.to_state,
                where=(log.opportunity == opportunity.id)
                & log.to_state.in_(FUNNEL),
                order_by=[rank.desc], limit=1)
            cursor.execute(*opportunity.update(
                    [opportunity.furthest_state], [furthest],
                    where=where(opportunity.id)))
