# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Secrets shown once.  A secret (an API key, a webhook's signing secret)
is readable by nobody once stored, through field access; the transaction
that makes it keeps it here so that the answer to its creation (the REST
create, sao's form) shows it, and then it is gone."""
import weakref

from trytond.cache import Cache
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

_made = weakref.WeakKeyDictionary()
# Cleared with the field accesses: ir.model.field.access's on_modification
# does not know it, so it expires (an hour).
_secret_fields = Cache('crm_kit.secret_fields', context=False, duration=3600)


def show_once(record, value):
    "Let the rest of this transaction show value as record's new secret"
    _made.setdefault(Transaction(), {})[(record.__name__, record.id)] = value


def shown(record):
    "The secret made for record in this transaction, or None"
    return _made.get(Transaction(), {}).get((record.__name__, record.id))


def secret_fields(model_name):
    """The fields of model_name that nobody may read (a field access of
    every group that denies reading): they never leave the database"""
    names = _secret_fields.get(model_name)
    if names is None:
        FieldAccess = Pool().get('ir.model.field.access')
        with without_check_access():
            names = sorted({a.field for a in FieldAccess.search([
                            ('model', '=', model_name),
                            ('group', '=', None),
                            ('perm_read', '=', False),
                            ])})
        _secret_fields.set(model_name, names)
    return set(names)
