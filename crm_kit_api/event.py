# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta


# The events of each model's changes: (event, the field that moves, the
# values it moves to or None for any)
CHANGE_EVENTS = {
    'sale.opportunity': [
        ('lead.assigned', 'owner', None),
        ('opportunity.stage_changed', 'stage', None),
        ('opportunity.won', 'state', {'won'}),
        ('opportunity.lost', 'state', {'lost'}),
        ],
    'crm.activity': [
        ('activity.done', 'state', {'done'}),
        ],
    }
CREATE_EVENTS = {
    'sale.opportunity': 'lead.created',
    'party.party': 'customer.created',
    'crm.activity': 'activity.created',
    'crm.document': 'document.uploaded',
    }


class Event(metaclass=PoolMeta):
    "Webhooks tell other programs what happens in the CRM"
    __name__ = 'crm.event'

    @classmethod
    def watched_fields(cls, model):
        pool = Pool()
        Webhook = pool.get('crm.webhook')
        fields = super().watched_fields(model)
        return fields | {field
            for event, field, _ in CHANGE_EVENTS.get(model, [])
            if Webhook.listening(event)}

    @classmethod
    def created(cls, records):
        pool = Pool()
        Webhook = pool.get('crm.webhook')
        super().created(records)
        if not records:
            return
        event = CREATE_EVENTS.get(records[0].__name__)
        # Nobody listening, nothing read: an import tells of thousands.
        if not event or not Webhook.listening(event):
            return
        if event == 'lead.created':
            # An opportunity created as such is no new lead.
            records = [r for r in records if r.state == 'lead']
        Webhook.trigger(event, records)

    @classmethod
    def changed(cls, change):
        pool = Pool()
        Webhook = pool.get('crm.webhook')
        super().changed(change)
        if change.model == 'party.party':
            Webhook.trigger('customer.updated', change.records)
        for event, field, to in CHANGE_EVENTS.get(change.model, []):
            records = change.moved(field, to=to)
            if field == 'owner':
                # Assigned to somebody, not taken away
                records = [r for r in records
                    if change.value_after(r, field)]
            Webhook.trigger(event, records)
