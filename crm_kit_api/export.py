# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The CRM's lists, exported from sao, keep formula-like text inert."
from trytond.pool import PoolMeta

from crm_kit.spreadsheet import FormulaSafeExport


class Party(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'party.party'


class Address(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'party.address'


class ContactMechanism(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'


class Opportunity(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'


class OpportunityLine(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'sale.opportunity.line'


class Sale(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'sale.sale'


class SaleLine(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'sale.line'


class StageLog(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'crm.stage.log'


class CustomerHistory(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'crm.customer.history'


class Activity(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'crm.activity'


class Document(FormulaSafeExport, metaclass=PoolMeta):
    __name__ = 'crm.document'


class IrExport(metaclass=PoolMeta):
    __name__ = 'ir.export'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # The exports crm-kit ships are named in each user's language.
        cls.name.translate = True
