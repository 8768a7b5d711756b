# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval


class SaleOpportunityLine(metaclass=PoolMeta):
    __name__ = 'sale.opportunity.line'

    discount_rate = fields.Numeric(
        "Discount", digits=(None, 4),
        domain=['OR',
            ('discount_rate', '=', None),
            [('discount_rate', '>=', 0), ('discount_rate', '<=', 1)],
            ],
        states={
            'readonly': Eval('opportunity_state').in_(
                ['converted', 'won', 'lost', 'cancelled']),
            },
        help="The discount off the list price the quote line gets.")

    def get_sale_line(self, sale):
        line = super().get_sale_line(sale)
        if self.discount_rate and line.base_price is not None:
            line.discount_rate = self.discount_rate
            line.on_change_discount_rate()
        return line
