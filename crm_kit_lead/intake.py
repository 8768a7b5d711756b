# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The one lead-intake road: every lead arriving without a user to answer
questions — a web form, an integration, a file import (and, later, an
e-mail) — goes through LeadIntake in batches:

    normalise → duplicate decision → assignment → store → events

normalise cleans the identity with identity.py and computes its keys;
the decision applies the duplicate policy (``crm.lead.duplicate``) to the
stored leads and to the earlier entries of the same batch; assignment
chooses owners with the assignment rules before the leads are stored, so
the "created" event already sees the owner; storing is ``create`` or,
for the import, the bulk INSERT of ``insert_leads``, which tells
``crm.event`` the same.

A lead typed in sao or posted to the REST model goes through the same
steps inside ``create`` (preprocess_values normalises, check_duplicates
decides with a warning, on_modification assigns)."""
import functools

from trytond.pool import Pool
from trytond.transaction import Transaction

from crm_kit.cache import browse

from .assignment import FACTS, Choice, LeadAssigner
from .identity import KEYS, identity_keys, normalise
from .opportunity import LEAD_DATA

class Entry:
    "A lead arriving: its values and what the road decided for it"
    __slots__ = ('values', 'status', 'lead', 'candidates', 'earlier',
        'choice', 'reason', 'data')

    def __init__(self, values, data=None):
        self.values = values
        # What the caller keeps beside it (e.g. the row of a file)
        self.data = data
        self.status = None
        # The lead created, updated or kept (an id)
        self.lead = None
        self.candidates = None
        # The entry of the same batch it repeats
        self.earlier = None
        self.choice = None
        # 'known' (the same row imported before), 'repeated' (an earlier
        # entry of the batch) or 'duplicate' (a stored lead)
        self.reason = None


class LeadIntake:
    """Leads in, decided and stored by batch.

    action is the duplicate policy of this intake ('skip', 'update',
    'create' or 'warn': created and flagged), the configuration's when
    None.  storage 'insert' stores with insert_leads (the file import);
    'create' with create.  Call close() once all batches are in: it saves
    the round-robin pointers and tells who listens of the inserted
    leads.

    cleaned says the entries' identity is cleaned already (the import's
    converter cleans it with identity.py as it checks the cells): only
    the keys are computed."""

    def __init__(self, action=None, storage='create', fingerprints=False,
            cleaned=False):
        pool = Pool()
        Duplicate = pool.get('crm.lead.duplicate')
        User = pool.get('res.user')
        self.action = action or Duplicate.action()
        self.storage = storage
        self.fingerprints = fingerprints
        self.cleaned = cleaned
        self.region = Duplicate.region()
        self.matched = Duplicate.matched_keys()
        # Read once for all batches: the rules, then the open leads
        # counted once and followed as leads are given out.
        self.assigner = LeadAssigner()
        user = Transaction().user
        self.user = User(user) if user else None
        self.inserted = []

    def normalise(self, values):
        "Clean the identity of values and add its keys"
        if not self.cleaned:
            normalise(values, self.region)
        values.update(identity_keys(values, self.region))
        return values

    def receive(self, entries, later=None):
        """Take a batch of Entry (or dictionaries of values) through the
        road; return the entries with their status and lead"""
        entries = [e if isinstance(e, Entry) else Entry(e) for e in entries]
        for entry in entries:
            self.normalise(entry.values)
        self.decide(entries)
        new = [e for e in entries if e.status in {'created', 'flagged'}]
        self.assign(new)
        self.store(new, later=later)
        self.update([e for e in entries
                if e.status == 'updated' and e.earlier is None])
        for entry in entries:
            if entry.earlier is not None:
                entry.lead = entry.earlier.lead
        return entries

    def decide(self, entries):
        "Apply the duplicate policy to each entry"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Duplicate = pool.get('crm.lead.duplicate')
        known = set()
        if self.fingerprints:
            for entry in entries:
                entry.values['import_fingerprint'] = (
                    Opportunity.fingerprint(entry.values))
            known = Opportunity.imported_fingerprints(
                {e.values['import_fingerprint'] for e in entries})
        if self.action == 'create':
            found = [None] * len(entries)
        else:
            found = Duplicate.find(
                [{k: e.values.get(k) for k in KEYS} for e in entries])
        seen = {}
        for entry, candidates in zip(entries, found):
            values = entry.values
            entry.candidates = candidates
            if self.fingerprints:
                if values['import_fingerprint'] in known:
                    entry.status, entry.reason = 'skipped', 'known'
                    continue
                known.add(values['import_fingerprint'])
            if candidates and candidates.parties:
                # A lead from somebody who is already a customer.
                values.setdefault('party', candidates.parties[0])
            # An entry of this batch with the same identity is not stored
            # yet: the policy applies to it as to a stored lead.
            earlier = next((seen[(k, values[k])] for k in self.matched
                    if values.get(k) and (k, values[k]) in seen), None)
            if earlier is not None and self.action in {'skip', 'update'}:
                entry.earlier, entry.reason = earlier, 'repeated'
                if self.action == 'update':
                    earlier.values.update({k: v for k, v in values.items()
                            if k in LEAD_DATA and v not in (None, '')})
                    entry.status = 'updated'
                else:
                    entry.status = 'skipped'
                continue
            entry.status = Duplicate.decide(candidates, self.action)
            if entry.status in {'skipped', 'updated'}:
                entry.lead = candidates.leads[0]
                entry.reason = 'duplicate'
            else:
                if entry.status == 'flagged':
                    entry.reason = 'duplicate'
                for k in self.matched:
                    if values.get(k):
                        seen.setdefault((k, values[k]), entry)
        return entries

    def assign(self, entries):
        """Choose the owner of each new entry: the one given, else the
        assignment rules', else the user who enters it"""
        auto = [e for e in entries if not e.values.get('owner')]
        if self.assigner.rules and auto:
            for entry, choice in zip(auto, self.assigner.choose_many(
                        [self.facts(e.values) for e in auto])):
                entry.choice = choice
        for entry in entries:
            owner = entry.values.get('owner')
            if owner:
                # An owner given with the lead is the sender's choice.
                entry.choice = Choice(
                    user=Pool().get('res.user')(owner), method='manual')
            elif entry.choice is None:
                if self.user:
                    entry.choice = Choice(user=self.user, method='manual')
            elif entry.choice.user is None:
                # As a lead entered by hand, one no rule takes stays with
                # the user who entered it; the log says no rule took it.
                entry.choice.user = self.user

    @staticmethod
    def facts(values):
        "What assignment rules look at, from a lead's values"
        facts = {name: values.get(name) for name in FACTS}
        facts['products'] = (
            [values['product']] if values.get('product') else [])
        return facts

    def store(self, entries, later=None):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        if not entries:
            return
        if self.storage == 'insert':
            ids = Opportunity.insert_leads(
                [e.values for e in entries], [e.choice for e in entries],
                later=later)
            self.inserted.extend(ids)
        else:
            ids = self._create(entries)
        for entry, id_ in zip(entries, ids):
            entry.lead = id_

    def _create(self, entries):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Log = pool.get('crm.assignment.log')
        Product = pool.get('product.product')
        owner_values = functools.cache(Opportunity.owner_values)
        values_list = []
        for entry in entries:
            values = {k: v for k, v in entry.values.items()
                if k in Opportunity._fields and k != 'product'}
            if entry.choice and entry.choice.user:
                values.update(owner_values(entry.choice.user))
            if entry.values.get('product'):
                product = Product(entry.values['product'])
                values['lines'] = [('create', [{
                                'product': product.id,
                                'quantity': 1,
                                'unit': product.sale_uom.id,
                                }])]
            values_list.append(values)
        # Decided and assigned here: create neither asks nor assigns
        # again.
        with Transaction().set_context(
                _crm_duplicates_checked=True, _crm_skip_assignment=True):
            leads = Opportunity.create(values_list)
        # Logged as assign_leads logs: each lead when there are rules,
        # and an owner given with the lead.
        Log.save([Log(opportunity=lead, **entry.choice.log_values())
                for entry, lead in zip(entries, leads)
                if entry.choice is not None
                and (self.assigner.rules or entry.values.get('owner'))])
        return [l.id for l in leads]

    def update(self, entries):
        "Write the entries' data onto the stored leads they duplicate"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        for entry in entries:
            values = {k: v for k, v in entry.values.items()
                if k not in {'import_fingerprint', 'owner', 'party',
                    'lead_import'}}
            Opportunity(entry.lead).update_from(values)

    def close(self):
        """Save the round-robin pointers and tell who listens (automation,
        alerts, webhooks) of the leads inserted, as create does"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Event = pool.get('crm.event')
        self.assigner.save()
        inserted, self.inserted = self.inserted, []
        for start in range(0, len(inserted), 1000):
            Event.created(browse(Opportunity, inserted[start:start + 1000]))
