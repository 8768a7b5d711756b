# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Merging duplicate leads: one lead survives with the history of all.

Customers are merged with Tryton's own "Replace" wizard (party.replace),
which moves their opportunities, quotes and contact data the same way."""
from sql import Column

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from crm_kit.cache import forget_cached
from crm_kit.event import Change

# A converted, won or lost deal is history: only open ones merge.
MERGEABLE_STATES = {'lead', 'opportunity'}


class MergeLeadsAsk(ModelView):
    "Merge Leads"
    __name__ = 'crm.lead.merge.ask'

    leads = fields.Many2Many(
        'sale.opportunity', None, None, "Leads", readonly=True)
    destination = fields.Many2One(
        'sale.opportunity', "Keep", required=True,
        domain=[('id', 'in', Eval('leads', []))],
        help="The lead that stays; the others are merged into it and "
        "cancelled.")


class MergeLeads(Wizard):
    "Merge Leads"
    __name__ = 'crm.lead.merge'
    start_state = 'ask'
    ask = StateView('crm.lead.merge.ask',
        'crm_kit_lead.lead_merge_ask_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Merge", 'merge', 'tryton-launch', default=True),
            ])
    merge = StateTransition()

    def default_ask(self, fields):
        leads = sorted(self.records, key=lambda r: r.id)
        if len(leads) < 2:
            raise ValidationError(gettext('crm_kit_lead.msg_merge_two_leads'))
        for lead in leads:
            if lead.state not in MERGEABLE_STATES:
                raise ValidationError(gettext(
                        'crm_kit_lead.msg_merge_lead_state',
                        lead=lead.rec_name, state=lead.state_label()))
        return {
            'leads': [r.id for r in leads],
            'destination': leads[0].id,
            }

    def transition_merge(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        destination = self.ask.destination
        sources = [r for r in self.ask.leads if r != destination]
        Opportunity.merge_leads(destination, sources)
        return 'end'


def move_references(source, destination):
    """Point the records that belong to source (fields_to_merge) to
    destination"""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Event = pool.get('crm.event')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    changed = []
    for model, field_name in Opportunity.fields_to_merge():
        Model = pool.get(model)
        table = Model.__table__()
        column = Column(table, field_name)
        if Model._fields[field_name]._type == 'reference':
            source_value, destination_value = str(source), str(destination)
        else:
            source_value, destination_value = source.id, destination.id
        where = column == source_value
        cursor.execute(*table.select(table.id, where=where))
        ids = [i for i, in cursor]
        if not ids:
            continue
        cursor.execute(*table.update(
                [column], [destination_value], where=where))
        Model._insert_history(ids)
        changed.append((Model, field_name, ids, source_value,
                destination_value))
    # The records read before the SQL updates must be read again.
    transaction.counter += 1
    for Model, field_name, ids, _, _ in changed:
        forget_cached(Model, ids)
    for Model, field_name, ids, before, after in changed:
        Model.on_modification('write', Model.browse(ids), {field_name})
        # Moved in SQL: told as a write would be (alerts, automation…).
        Event.changed(Change(Model.__name__, Model.browse(ids), {field_name},
                {i: {field_name: before} for i in ids},
                {i: {field_name: after} for i in ids}))

