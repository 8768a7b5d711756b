# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The one duplicate policy: which existing leads and customers share a
lead's identity keys (identity.py computes them).

Manual entry, file import, REST and web forms all call
``crm.lead.duplicate``; none of them compares e-mails or phones itself."""
from collections import namedtuple

from trytond import backend
from trytond.model import Model
from trytond.model.fields.field import SQL_OPERATORS
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from crm_kit.pipeline import OPEN_STATES

from .identity import (
    KEY_SOURCES, PERSON_SOURCES, email_key, identity_keys, tax_key)

# Only open deals (OPEN_STATES) are duplicates: a won, lost or cancelled
# deal is history, and a new lead from the same person is new business.

Candidates = namedtuple('Candidates', ['leads', 'parties', 'matched'])


def _in(column, values):
    # As Tryton's "in" operator: one array parameter on PostgreSQL, where
    # thousands of placeholders cost more to parse than the query to run.
    return SQL_OPERATORS['in'](column, list(values))


class LeadDuplicate(Model):
    "Lead Duplicate Policy"
    __name__ = 'crm.lead.duplicate'

    @classmethod
    def region(cls):
        "The country code phone numbers without prefix are read in"
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        if company_id:
            company = Company(company_id)
            address = company.party.address_get()
            if address and address.country:
                return address.country.code
        return 'ES'

    @classmethod
    def keys(cls, values, region=None):
        "The normalised keys of a lead given as a dictionary of its values"
        return identity_keys(values, region or cls.region())

    @classmethod
    def matched_keys(cls):
        "The keys the administrator chose to compare"
        pool = Pool()
        Configuration = pool.get('crm.lead.configuration')
        config = Configuration(1)
        return [k for k, on in [
                    ('email_key', config.duplicate_email),
                    ('phone_key', config.duplicate_phone),
                    ('tax_key', config.duplicate_tax_identifier),
                    ('company_key', config.duplicate_company_name),
                    ('person_key', config.duplicate_contact_name),
                    ] if on]

    @classmethod
    def action(cls):
        "What happens to a duplicate: warn, skip, update or create"
        pool = Pool()
        Configuration = pool.get('crm.lead.configuration')
        return Configuration(1).duplicate_action

    @classmethod
    def decide(cls, candidates, action):
        """What an entry point without a user to ask does with a lead:
        'created', 'flagged' (created, looks like a duplicate), 'skipped'
        or 'updated' (the first candidate)"""
        if action == 'create' or not candidates or not candidates.leads:
            return 'created'
        return {
            'warn': 'flagged',
            'skip': 'skipped',
            'update': 'updated',
            }[action]

    @classmethod
    def find(cls, keys_list, exclude=None):
        """Return for each dictionary of keys the Candidates: the open
        leads and the customers sharing one of the matched keys, and which
        keys matched.  One query per key and batch, whatever the number of
        entries, so an import of thousands of rows stays fast."""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        ContactMechanism = pool.get('party.contact_mechanism')
        Identifier = pool.get('party.identifier')
        cursor = Transaction().connection.cursor()
        exclude = set(exclude or [])
        matched = cls.matched_keys()
        # Leads of the company worked in only; customers are shared by the
        # companies, as Tryton's parties are.
        company = Transaction().context.get('company')

        lead_index = {k: {} for k in matched}
        party_index = {k: {} for k in matched}
        opportunity = Opportunity.__table__()
        party = Party.__table__()
        mechanism = ContactMechanism.__table__()
        identifier = Identifier.__table__()
        for key in matched:
            values = {e[key] for e in keys_list if e.get(key)}
            # One query for the whole batch: grouped_slice's default size
            # is one value at a time.
            for sub_values in grouped_slice(
                    values, backend.MAX_QUERY_PARAMS // 2):
                sub_values = list(sub_values)
                column = getattr(opportunity, key)
                # The state and the company are tested here: in the query
                # PostgreSQL would also scan the state's index, the
                # larger part of the time at a hundred thousand leads.
                cursor.execute(*opportunity.select(
                        opportunity.id, column, opportunity.state,
                        opportunity.company,
                        where=_in(column, sub_values),
                        order_by=[opportunity.id]))
                for id_, value, state, company_id in cursor:
                    if (id_ not in exclude and state in OPEN_STATES
                            and (not company or company_id == company)):
                        lead_index[key].setdefault(value, []).append(id_)
                # The same keys on customers, from what party already
                # stores in normalised form.
                if key == 'email_key':
                    query = mechanism.select(
                        mechanism.party, mechanism.value,
                        where=(mechanism.type == 'email')
                        & mechanism.active
                        & _in(mechanism.value, sub_values))
                elif key == 'phone_key':
                    query = mechanism.select(
                        mechanism.party, mechanism.value_compact,
                        where=mechanism.type.in_(['phone', 'mobile'])
                        & mechanism.active
                        & _in(mechanism.value_compact, sub_values))
                elif key == 'tax_key':
                    query = identifier.select(
                        identifier.party, identifier.code,
                        where=_in(identifier.code, sub_values + [
                                'ES' + v for v in sub_values]))
                elif key == 'company_key':
                    query = party.select(
                        party.id, party.crm_name_key,
                        where=_in(party.crm_name_key, sub_values)
                        & party.active)
                else:
                    # A customer is a company or a person, not both.
                    continue
                cursor.execute(*query)
                for id_, value in cursor:
                    if key == 'tax_key':
                        value = tax_key(value)
                    elif key == 'email_key':
                        value = email_key(value)
                    party_index[key].setdefault(value, []).append(id_)

        result = []
        for entry in keys_list:
            leads, parties, keys = [], [], []
            for key in matched:
                value = entry.get(key)
                if not value:
                    continue
                found = lead_index[key].get(value, [])
                found_parties = party_index[key].get(value, [])
                if found or found_parties:
                    keys.append(key)
                leads.extend(i for i in found if i not in leads)
                parties.extend(i for i in found_parties if i not in parties)
            result.append(Candidates(leads, parties, keys))
        return result

    @classmethod
    def describe(cls, keys):
        "The matched keys in the user's words, e.g. 'e-mail, phone'"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        names = Opportunity.fields_get(
            list(KEY_SOURCES.values()) + list(PERSON_SOURCES))

        def name(key):
            if key == 'person_key':
                return ' + '.join(
                    names[f]['string'] for f in PERSON_SOURCES)
            return names[KEY_SOURCES[key]]['string']
        return ', '.join(name(k) for k in keys)
