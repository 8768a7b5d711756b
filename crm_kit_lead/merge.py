# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Merging duplicate leads: one lead survives with the history of all.

Customers are merged with Tryton's own "Replace" wizard (party.replace),
which moves their opportunities, quotes and contact data the same way."""
from sql import Column

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

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


def fields_to_move():
    """Every stored reference to a lead in the activated modules: lines,
    quotes, stage and assignment logs, and whatever later modules link
    to leads (activities, documents…)"""
    pool = Pool()
    result = []
    for model_name, Model in pool.iterobject():
        if (not issubclass(Model, ModelSQL) or Model._is_table_query()):
            continue
        for field_name, field in Model._fields.items():
            if isinstance(field, fields.Function) or not field.sql_type():
                continue
            if (field._type == 'many2one'
                    and field.model_name == 'sale.opportunity'
                    and field_name != 'merged_into'):
                result.append((Model, field_name, False))
            elif field._type == 'reference':
                # Quotes (sale origin), attachments, notes…
                result.append((Model, field_name, True))
    return result


def move_references(source, destination):
    "Point every reference of source to destination"
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    changed = []
    for Model, field_name, reference in fields_to_move():
        table = Model.__table__()
        column = Column(table, field_name)
        if reference:
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
        changed.append((Model, field_name, ids))
    # The records read before the SQL updates must be read again.
    transaction.counter += 1
    for Model, field_name, ids in changed:
        for cache in transaction.cache.values():
            for id_ in ids:
                cache.get(Model.__name__, {}).pop(id_, None)
    for Model, field_name, ids in changed:
        Model.on_modification('write', Model.browse(ids), {field_name})

