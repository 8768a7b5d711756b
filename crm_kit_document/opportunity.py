# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta

from .document import DocumentsMixin


class SaleOpportunity(DocumentsMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'
    _document_link_field = 'opportunity'

    @classmethod
    def fields_to_merge(cls):
        return super().fields_to_merge() + [
            ('crm.document.link', 'opportunity'),
            ('crm.upload.link', 'opportunity'),
            ]
