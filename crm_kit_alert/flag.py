# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Customer flags: marks a user puts on a customer by hand (VIP, complaint
open, payment issue…), shown where people work: an icon and a row colour
in the customer and opportunity lists, a line at the top of the form."""
from sql import Literal, Null
from sql.conditionals import Coalesce

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval

# The colours sao draws a list row or cell in (tree "visual"), by the
# urgency they say.
COLOURS = [
    (None, ""),
    ('success', "Green"),
    ('warning', "Orange"),
    ('danger', "Red"),
    ('muted', "Grey"),
    ]


class CustomerFlag(
        DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Customer Flag"
    __name__ = 'crm.customer.flag'
    __string__ = "Customer Flag"

    name = fields.Char("Name", required=True, translate=True)
    icon = fields.Selection('list_icons', "Icon", required=True)
    colour = fields.Selection(
        COLOURS, "Colour",
        help="The colour of the customer's row in the lists.")
    description = fields.Text("Description", translate=True)

    @classmethod
    def default_icon(cls):
        return 'tryton-info'

    @classmethod
    def list_icons(cls):
        "The icons sao draws: its own and those the modules register"
        pool = Pool()
        Menu = pool.get('ir.ui.menu')
        return Menu.list_icons()


class PartyFlag(ModelSQL):
    "Customer Flag of a Party"
    __name__ = 'crm.customer.flag-party.party'
    __string__ = "Customer Flag of a Party"

    flag = fields.Many2One(
        'crm.customer.flag', "Flag", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')


def top_flag_column(tables, party_column, name):
    """The SQL value of the party's first active flag (by sequence) for
    column name: read with the list's own query, not record by record"""
    pool = Pool()
    Flag = pool.get('crm.customer.flag')
    PartyFlag = pool.get('crm.customer.flag-party.party')
    flag = Flag.__table__()
    party_flag = PartyFlag.__table__()
    first = party_flag.join(flag,
        condition=party_flag.flag == flag.id
        ).select(getattr(flag, name),
            where=(party_flag.party == party_column)
            & (flag.active == Literal(True)),
            order_by=[flag.sequence.asc.nulls_last, flag.id.asc],
            limit=1)
    # In a function, the sub-select keeps its parentheses when the
    # domain compares it ("IS NOT NULL" went inside them otherwise).
    return Coalesce(first, Null)


class Party(metaclass=PoolMeta):
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
        # The row colour: see alert.row_visual.
        return super().view_attributes() + [
            ('//label[@name="crm_flag_summary"]', 'states', {
                    'invisible': ~Bool(Eval('crm_flag_summary')),
                    }),
            ]

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_flags')
        return super().copy(parties, default=default)


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    party_flag_icon = fields.Function(
        fields.Selection('list_flag_icons', "Customer Flag"))
    party_flag_colour = fields.Function(
        fields.Selection(COLOURS, "Customer Flag Colour"))
    party_flag_summary = fields.Function(
        fields.Char("Customer Flags"), 'get_party_flag_summary')

    @classmethod
    def list_flag_icons(cls):
        pool = Pool()
        Party = pool.get('party.party')
        return Party.list_flag_icons()

    @classmethod
    def column_party_flag_icon(cls, tables):
        table, _ = tables[None]
        return top_flag_column(tables, table.party, 'icon')

    @classmethod
    def column_party_flag_colour(cls, tables):
        table, _ = tables[None]
        return top_flag_column(tables, table.party, 'colour')

    def get_party_flag_summary(self, name):
        return self.party.crm_flag_summary if self.party else None

    @classmethod
    def view_attributes(cls):
        # The row colour: see alert.row_visual.
        return super().view_attributes() + [
            ('//label[@name="party_flag_summary"]', 'states', {
                    'invisible': ~Bool(Eval('party_flag_summary')),
                    }),
            ]
