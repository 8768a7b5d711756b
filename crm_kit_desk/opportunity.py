# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import Index
from trytond.pool import PoolMeta


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The board's columns: the first cards of a stage, in the board's
        # order, without sorting every deal of the stage.
        cls._sql_indexes.add(
            Index(t,
                (t.stage, Index.Equality()),
                (t.expected_close_date,
                    Index.Range(order='ASC NULLS LAST')),
                (t.id, Index.Range(order='DESC'))))
