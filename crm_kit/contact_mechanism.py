# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql.conditionals import Coalesce

from trytond.model import Index
from trytond.pool import PoolMeta


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # A customer searched by name is also searched by its e-mails and
        # phones: "%text%" on the expressions trytond compares (its own
        # index is on the bare value_compact), trigram with pg_trgm.
        cls._sql_indexes.update({
                Index(t, (Coalesce(t.value, ''), Index.Similarity())),
                Index(t, (Coalesce(t.value_compact, ''), Index.Similarity())),
                })
