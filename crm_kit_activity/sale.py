# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from collections import defaultdict

from sql import Null

from trytond.model import Index, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from crm_kit.cache import forget_cached


class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'

    # sale's quotation_expire is computed and its SQL search does not work
    # on SQLite (a date plus an interval); stored, rules and their index
    # can use it on both databases.
    quote_valid_until = fields.Date(
        "Quote Valid Until", readonly=True,
        states={
            'invisible': ~Eval('state').in_(['draft', 'quotation']),
            },
        help="The last day the quotation is valid, kept from its date and "
        "validity.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.quote_valid_until, Index.Range()),
                where=t.state.in_(['draft', 'quotation'])))

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=(table.quote_valid_until == Null)
                & (table.quotation_validity != Null)
                & table.state.in_(['draft', 'quotation'])))
        cls._store_quote_valid_until(cls.browse([i for i, in cursor]))

    @classmethod
    def on_modification(cls, mode, sales, field_names=None):
        if mode == 'create' or (mode == 'write' and {
                    'quotation_date', 'quotation_validity', 'company',
                    } & field_names):
            cls._store_quote_valid_until(sales)
        super().on_modification(mode, sales, field_names=field_names)

    @classmethod
    def _store_quote_valid_until(cls, sales):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        by_date = defaultdict(list)
        for sale in cls.browse(sales):
            by_date[sale.on_change_with_quotation_expire()].append(sale.id)
        for date, ids in by_date.items():
            for sub in grouped_slice(ids, 1000):
                cursor.execute(*table.update(
                        [table.quote_valid_until], [date],
                        where=table.id.in_(list(sub))))
        forget_cached(cls, [s.id for s in sales])

    @classmethod
    def copy(cls, sales, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('quote_valid_until')
        return super().copy(sales, default=default)
