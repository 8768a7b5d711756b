# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta

from .document import DocumentsMixin


class Sale(DocumentsMixin, metaclass=PoolMeta):
    __name__ = 'sale.sale'
    _document_link_field = 'sale'
