# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If

from .alert import AlertedMixin, record_name, row_visual
from .flag import COLOURS, top_flag_column


class SaleOpportunity(AlertedMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    party_flag_icon = fields.Function(
        fields.Selection('list_flag_icons', "Customer Flag"))
    party_flag_colour = fields.Function(
        fields.Selection(COLOURS, "Customer Flag Colour"))
    party_flag_summary = fields.Function(
        fields.Char("Customer Flags"), 'get_party_flag_summary')
    crm_title = fields.Function(
        fields.Char(
            "Title",
            help="The customer and what the deal is about, "
            "as alert messages name it: {crm_title}."),
        'get_crm_title')

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

    def get_crm_title(self, name):
        title = record_name(self)
        if self.description and self.description != title:
            title = '%s (%s)' % (title, self.description)
        return title

    @classmethod
    def view_attributes(cls):
        # sale_opportunity greys the cancelled rows: keep that first; then
        # the worst alert's colour, else the customer's flag's.
        return super().view_attributes() + [
            ('//label[@name="party_flag_summary"]', 'states', {
                    'invisible': ~Bool(Eval('party_flag_summary')),
                    }),
            ('/tree', 'visual', If(Eval('state') == 'cancelled', 'muted',
                    row_visual(Eval('party_flag_colour', ''))),
                ['state', 'crm_alert_severity', 'party_flag_colour']),
            ]
