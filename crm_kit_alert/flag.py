# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Customer flags: marks a user puts on a customer by hand (VIP, complaint
open, payment issue…), shown where people work: an icon and a row colour
in the customer and opportunity lists, a line at the top of the form."""
from sql import Literal, Null
from sql.conditionals import Coalesce

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool

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
