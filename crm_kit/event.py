# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""One way to hear what happens to the CRM's records.

A CRM record created, changed or deleted is an event.  The models that
include EventSource (leads and opportunities, customers and quotes here,
activities and documents in their modules) tell ``crm.event`` once their
create, write or delete is done, and so does whatever stores records
another way (the lead import's bulk insert calls ``Event.created``).
Automation rules, alert rules and webhooks listen by extending
``crm.event`` in their modules: ``watched_fields`` says which values they
compare, ``created``, ``changed`` and ``deleted`` are told, each
extension calling super() first.

A write made while the same records are being created or written (the
state that follows a stage, the owner an assignment rule gives a new lead)
is part of that create or write: one event, with the values before and
after it all.  What a listener writes once told is an event of its own."""
import threading
from contextlib import contextmanager

from trytond.model import Model
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

_local = threading.local()


class Change:
    """What one write or delete did to records of a model: the fields it
    was given, and the watched fields' values before and after (as read
    gives them: a record by its id)"""
    __slots__ = ('model', 'records', 'field_names', 'before', 'after')

    def __init__(self, model, records, field_names, before, after=None):
        self.model = model
        self.records = records
        self.field_names = field_names
        self.before = before
        self.after = after or {}

    def value_after(self, record, name):
        return self.after.get(record.id, {}).get(name)

    def moved(self, name, to=None):
        """The records whose value of name changed (to one of to), among
        the watched fields"""
        result = []
        for record in self.records:
            before = self.before.get(record.id, {})
            if name not in before:
                continue
            after = self.value_after(record, name)
            if before[name] != after and (to is None or after in to):
                result.append(record)
        return result

    def moved_any(self, names):
        "The records of which any of names changed"
        moved = set()
        for name in names:
            moved.update(r.id for r in self.moved(name))
        return [r for r in self.records if r.id in moved]


class Event(Model):
    "CRM Event"
    __name__ = 'crm.event'
    __string__ = "CRM Event"

    @classmethod
    def watched_fields(cls, model):
        """The fields of model whose values the listeners compare before
        and after a write, or are given of a deleted record"""
        return set()

    @classmethod
    def created(cls, records):
        "records (of one model) were created"
        pass

    @classmethod
    def changed(cls, change):
        "change's records were written"
        pass

    @classmethod
    def deleted(cls, change):
        "change's records were deleted: change.before holds what they were"
        pass

    @staticmethod
    def values(Model, records, names):
        "{id: {name: value}} of names of records, as stored now"
        if not records or not names:
            return {}
        result = {}
        names = sorted(names)
        with without_check_access(), \
                Transaction().set_context(active_test=False):
            for sub in grouped_slice([r.id for r in records], 1000):
                for row in Model.read(list(sub), names):
                    result[row['id']] = {n: row[n] for n in names}
        return result


class _Capture:
    "A create or write of a model under way, and the records it holds"
    __slots__ = ('transaction', 'model', 'ids')

    def __init__(self, model, ids=None):
        self.transaction = Transaction()
        self.model = model
        self.ids = set(ids or [])


def _captures():
    captures = getattr(_local, 'captures', None)
    if captures is None:
        captures = _local.captures = []
    return captures


def _enclosing(model, ids):
    "Whether a create or write under way holds all ids of model"
    transaction = Transaction()
    ids = set(ids)
    return any(c.transaction is transaction and c.model == model
        and ids <= c.ids for c in _captures())


@contextmanager
def _capturing(model, ids=None):
    capture = _Capture(model, ids)
    captures = _captures()
    captures.append(capture)
    try:
        yield capture
    finally:
        captures.remove(capture)


def _innermost(model):
    """The innermost create or write of model under way in this
    transaction: in _after_create, the create's own"""
    transaction = Transaction()
    for capture in reversed(_captures()):
        if capture.transaction is transaction and capture.model == model:
            return capture
    return None


class EventSource:
    "A CRM model whose creates, writes and deletes are events (crm.event)"
    __slots__ = ()

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Event = pool.get('crm.event')
        with _capturing(cls.__name__):
            records = super().create(vlist)
        Event.created(records)
        return records

    @classmethod
    def _after_create(cls, ids):
        # The writes the creation makes (computed fields, on_modification:
        # an assignment rule giving the lead its owner) are part of it.
        capture = _innermost(cls.__name__)
        if capture is not None:
            capture.ids.update(ids)
        return super()._after_create(ids)

    @classmethod
    def write(cls, *args):
        pool = Pool()
        Event = pool.get('crm.event')
        records = list(dict.fromkeys(sum(args[::2], [])))
        if not records or _enclosing(cls.__name__, (r.id for r in records)):
            super().write(*args)
            return
        field_names = set()
        for values in args[1::2]:
            field_names.update(values)
        watched = Event.watched_fields(cls.__name__)
        before = Event.values(cls, records, watched)
        with _capturing(cls.__name__, (r.id for r in records)):
            super().write(*args)
        after = Event.values(cls, records, watched)
        Event.changed(Change(
                cls.__name__, cls.browse(records), field_names, before,
                after))

    @classmethod
    def delete(cls, records):
        pool = Pool()
        Event = pool.get('crm.event')
        records = list(dict.fromkeys(records))
        if not records:
            super().delete(records)
            return
        before = Event.values(
            cls, records, Event.watched_fields(cls.__name__))
        ids = [r.id for r in records]
        super().delete(records)
        Event.deleted(Change(cls.__name__, cls.browse(ids), set(), before))
