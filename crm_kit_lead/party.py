# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import Index, fields
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

from .identity import company_key


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    # Stored so that the duplicate policy compares company names of
    # thousands of imported leads with customers in one indexed query.
    crm_name_key = fields.Char("Name Key", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.crm_name_key, Index.Equality()),
                where=t.crm_name_key != None))  # noqa: E711

    @classmethod
    def __register__(cls, module_name):
        super().__register__(module_name)
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.select(table.id, table.name,
                where=(table.crm_name_key == None)  # noqa: E711
                & (table.name != None)))  # noqa: E711
        for id_, name in cursor.fetchall():
            cursor.execute(*table.update(
                    [table.crm_name_key], [company_key(name)],
                    where=table.id == id_))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'name' in values:
            values['crm_name_key'] = company_key(values['name'])
        return values

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_name_key')
        return super().copy(parties, default=default)
