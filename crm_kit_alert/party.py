# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Cast, Literal, Null
from sql.conditionals import Case

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval

from .alert import AlertedMixin, row_visual
from .flag import COLOURS, top_flag_column


class Party(AlertedMixin, metaclass=PoolMeta):
    __name__ = 'party.party'

    crm_flags = fields.Many2Many(
        'crm.customer.flag-party.party', 'party', 'flag', "Flags",
        help="Marks shown with the customer wherever it is listed.")
    crm_flag_icon = fields.Function(
        fields.Selection('list_flag_icons', "Flag"))
    crm_flag_colour = fields.Function(
        fields.Selection(COLOURS, "Flag Colour"))
    crm_flag_summary = fields.Function(
        fields.Char("Flags"), 'get_crm_flag_summary')

    @classmethod
    def list_flag_icons(cls):
        pool = Pool()
        Flag = pool.get('crm.customer.flag')
        return [(None, '')] + Flag.list_icons()

    @classmethod
    def column_crm_flag_icon(cls, tables):
        table, _ = tables[None]
        return top_flag_column(tables, table.id, 'icon')

    @classmethod
    def column_crm_flag_colour(cls, tables):
        table, _ = tables[None]
        return top_flag_column(tables, table.id, 'colour')

    def get_crm_flag_summary(self, name):
        return ' · '.join(f.rec_name for f in self.crm_flags if f.active)

    @classmethod
    def view_attributes(cls):
        # The row colour: the worst alert's, else the flag's (row_visual).
        return super().view_attributes() + [
            ('//label[@name="crm_flag_summary"]', 'states', {
                    'invisible': ~Bool(Eval('crm_flag_summary')),
                    }),
            ('/tree', 'visual', row_visual(Eval('crm_flag_colour', '')),
                ['crm_alert_severity', 'crm_flag_colour']),
            ]

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_flags')
        return super().copy(parties, default=default)


class CustomerHistory(metaclass=PoolMeta):
    "The alerts a customer had, and on what, in their history"
    __name__ = 'crm.customer.history'

    alert = fields.Many2One('crm.alert', "Alert")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('alert', "Alert"))

    @classmethod
    def _history_columns(cls):
        return super()._history_columns() + ['alert']

    @classmethod
    def _history_queries(cls):
        pool = Pool()
        Alert = pool.get('crm.alert')
        alert = Alert.__table__()
        id_type = cls.id.sql_type().base
        queries = super()._history_queries()
        visible = cls._history_visible(alert, 'crm.alert')

        def record_of(model):
            return Case((alert.record_model == model, alert.record_id),
                else_=Cast(Null, id_type))
        queries.append(alert.select(
                alert.id.as_('id'),
                alert.party.as_('party'),
                alert.start.as_('date'),
                Literal('alert').as_('kind'),
                record_of('sale.opportunity').as_('opportunity'),
                record_of('sale.sale').as_('sale'),
                alert.id.as_('alert'),
                where=(alert.party != Null) & visible))
        return queries
