# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

from .alert import ALERTED_MODELS

# Planning, doing, cancelling, moving or deleting an activity starts or
# ends the alerts that look at activities (overdue, no activity) on its
# opportunity and customer; the other rules wait for the scheduler: an
# activity is saved often (automation, imports) and each rule checked costs
# a few queries.
ACTIVITY_KINDS = {'overdue_activity', 'no_activity'}
ACTIVITY_FIELDS = {'state', 'due', 'done_date', 'opportunity', 'party'}
# The records an activity links to, by the field that links them
ACTIVITY_LINKS = {'opportunity': 'sale.opportunity', 'party': 'party.party'}


class Event(metaclass=PoolMeta):
    "Alerts start and end as the records they look at change"
    __name__ = 'crm.event'

    @classmethod
    def watched_fields(cls, model):
        fields = super().watched_fields(model)
        if model == 'crm.activity' and _activity_rules():
            fields = fields | ACTIVITY_FIELDS
        return fields

    @classmethod
    def created(cls, records):
        super().created(records)
        if not records:
            return
        model = records[0].__name__
        if model == 'crm.activity':
            # The links alone read: a pass creates hundreds of activities
            Activity = records[0].__class__
            with without_check_access():
                _refresh_links(Activity.read(
                        [r.id for r in records], list(ACTIVITY_LINKS)))
        elif model in ALERTED_MODELS:
            _refresh(model, [r.id for r in records])

    @classmethod
    def changed(cls, change):
        super().changed(change)
        if change.model == 'crm.activity':
            moved = change.moved_any(ACTIVITY_FIELDS)
            # The records it leaves and those it comes to
            _refresh_links(
                [change.before[r.id] for r in moved]
                + [change.after[r.id] for r in moved])
        elif change.model in ALERTED_MODELS:
            _refresh(change.model, [r.id for r in change.records])
            if (change.model == 'sale.opportunity'
                    and 'state' in change.field_names):
                _refresh_deal_links(change.records)

    @classmethod
    def deleted(cls, change):
        pool = Pool()
        Alert = pool.get('crm.alert')
        super().deleted(change)
        if change.model == 'crm.activity':
            _refresh_links(change.before.values())
        elif change.model in ALERTED_MODELS:
            with without_check_access():
                Alert.delete(Alert.search([
                            ('record_model', '=', change.model),
                            ('record_id', 'in',
                                [r.id for r in change.records]),
                            ]))


def _refresh(model, ids, kinds=None):
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    Rule.refresh_records(model, ids, kinds=kinds)


def _refresh_deal_links(opportunities):
    """Refresh the alerts that look at whether the deals opportunities
    are closed: the overdue activities of their customers and their
    quotes"""
    pool = Pool()
    Sale = pool.get('sale.sale')
    _refresh('party.party', {o.party.id for o in opportunities if o.party},
        kinds={'overdue_activity'})
    with without_check_access():
        sales = Sale.search([
                ('origin', 'in', [str(o) for o in opportunities]),
                ], order=[])
    _refresh('sale.sale', [s.id for s in sales])


def _activity_rules():
    "Whether a rule looks at activities"
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    return any(kind in ACTIVITY_KINDS
        for model in set(ACTIVITY_LINKS.values())
        for _, kind in Rule.model_rules(model))


def _refresh_links(links):
    """Refresh the activity alerts of the records links (dicts of
    ACTIVITY_LINKS' fields) name"""
    ids = {model: set() for model in ACTIVITY_LINKS.values()}
    for values in links:
        for field, model in ACTIVITY_LINKS.items():
            if values.get(field):
                ids[model].add(values[field])
    for model, record_ids in ids.items():
        _refresh(model, record_ids, kinds=ACTIVITY_KINDS)
