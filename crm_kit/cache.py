# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Records changed in SQL, past the ORM (the last activity, a quote's
validity, the stage order, merged leads), are dropped from the
transaction's cache, so that they are read again as stored."""
from trytond.model.modelstorage import local_cache
from trytond.transaction import Transaction


def forget_cached(Model, ids=None):
    """Drop the transaction's cached values of the records of Model of ids
    (all of them when None); only those: dropping the whole model's cache
    would read the other records again, one batch per record acted on"""
    for cache in Transaction().cache.values():
        if Model.__name__ not in cache:
            continue
        if ids is None:
            cache.pop(Model.__name__, None)
            continue
        records = cache[Model.__name__]
        for id_ in ids:
            records.pop(id_, None)


def browse(Model, ids):
    """Model.browse(ids) for thousands of ids: the same records sharing one
    cache and reading together, without the assertion trytond's browse
    makes in each record over all the ids (a quadratic cost: 26 ms for
    1,000 ids, paid by the lead import for each batch it tells of)"""
    transaction = Transaction()
    ids = list(map(int, ids))
    local = local_cache(Model, transaction)
    cache = transaction.get_cache()
    records = []
    for id_ in ids:
        record = Model(id_, _local_cache=local, _transaction_cache=cache,
            _transaction=transaction)
        record._ids = ids
        records.append(record)
    return records
