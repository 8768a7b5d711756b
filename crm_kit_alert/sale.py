# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta

from .alert import AlertedMixin, row_visual


class Sale(AlertedMixin, metaclass=PoolMeta):
    __name__ = 'sale.sale'

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', row_visual(''), ['crm_alert_severity']),
            ]
