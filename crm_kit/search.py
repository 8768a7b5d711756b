# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A list's search answers ids without fetching the rows.

trytond's search fetches every eager column of the rows it finds, to fill
the transaction's cache for the code that reads them next.  A search
called through JSON-RPC (sao opening a list's page) ends its transaction
with the ids: those columns are fetched for nothing, and on a deal (about
sixty of them) that is most of the call's time.  The RPC search of a model
with SearchIds runs with IDS_ONLY in its context, and then asks the
database for the ids alone; searches made by the server's own code are
left as they are."""
import copy
import functools

from trytond.transaction import Transaction

# Private (a client's context can not set it: trytond drops the keys that
# start with "_")
IDS_ONLY = '_crm_search_ids_only'


def _ids_only(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with Transaction().set_context(**{IDS_ONLY: True}):
            return func(*args, **kwargs)
    return wrapper


def search_ids(Model, domain, offset=0, limit=None, order=None):
    "The ids of the records of Model that domain finds, and nothing else"
    cursor = Transaction().connection.cursor()
    cursor.execute(*Model.search(domain, offset=offset, limit=limit,
            order=order, query=True))
    return [i for i, in cursor]


class SearchIds:
    "A model whose RPC search fetches only the ids of the rows it finds"
    __slots__ = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        rpc = copy.copy(cls.__rpc__['search'])
        decorator = rpc.decorator
        rpc.decorator = (_ids_only if decorator is None
            else lambda func: _ids_only(decorator(func)))
        cls.__rpc__['search'] = rpc

    @classmethod
    def search(cls, domain, offset=0, limit=None, order=None, count=False,
            query=False):
        if count or query or not Transaction().context.get(IDS_ONLY):
            return super().search(domain, offset=offset, limit=limit,
                order=order, count=count, query=query)
        return cls.browse(search_ids(super(), domain, offset=offset,
                limit=limit, order=order))
