# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A lead is a sale.opportunity in state "lead" that carries who it comes
from (contact, company, e-mail, phone, tax identifier, address) until it
is converted and a customer is created or found for it."""
import datetime as dt
import functools
import hashlib
import json

from sql.conditionals import Coalesce

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.model.fields.field import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from crm_kit.access import visible_ids
from crm_kit.bulk import insert_rows, run_later
from crm_kit.pipeline import OPEN_STATES

from .identity import (
    KEY_SOURCES, KEYS, PERSON_SOURCES, check_email, check_phone,
    check_tax_identifier, identity_keys, normalise, person_key)

# The lead's own data: what an update from a duplicate rewrites, what a
# merge completes, what a converted lead gives its new customer.
LEAD_DATA = [
    'lead_name', 'lead_company', 'lead_email', 'lead_phone',
    'lead_tax_identifier', 'lead_street', 'lead_postal_code', 'lead_city',
    'lead_subdivision', 'lead_country', 'lead_language', 'description',
    'comment', 'amount', 'expected_close_date', 'reference', 'channel',
    'lead_registered_on',
    ]


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    assignment_logs = fields.One2Many(
        'crm.assignment.log', 'opportunity', "Assignments", readonly=True)
    assignment_reason = fields.Function(
        fields.Char("Assignment"), 'get_assignment_reason')

    _lead_states = {
        'readonly': Eval('state').in_(['won', 'lost', 'cancelled']),
        }

    lead_name = fields.Char("Contact Name", states=_lead_states)
    lead_company = fields.Char("Company Name", states=_lead_states)
    lead_email = fields.Char("E-mail", states=_lead_states)
    lead_phone = fields.Char("Phone", states=_lead_states)
    lead_tax_identifier = fields.Char(
        "Tax Identifier", states=_lead_states,
        help="NIF, CIF, NIE or EU VAT number.")
    lead_street = fields.Char("Street", states=_lead_states)
    lead_postal_code = fields.Char("Postal Code", states=_lead_states)
    lead_city = fields.Char("City", states=_lead_states)
    lead_country = fields.Many2One(
        'country.country', "Country", ondelete='SET NULL',
        states=_lead_states)
    lead_subdivision = fields.Many2One(
        'country.subdivision', "Province", ondelete='SET NULL',
        domain=[
            ('country', '=', Eval('lead_country', -1)),
            ],
        states=_lead_states)
    lead_language = fields.Many2One(
        'ir.lang', "Language", ondelete='SET NULL', states=_lead_states)
    lead_registered_on = fields.Date(
        "Registered On", states=_lead_states,
        help="When the lead was first registered, in this CRM or in the "
        "system it was imported from.")

    person_key = fields.Char("Contact Name Key", readonly=True)
    email_key = fields.Char("E-mail Key", readonly=True)
    phone_key = fields.Char("Phone Key", readonly=True)
    tax_key = fields.Char("Tax Identifier Key", readonly=True)
    company_key = fields.Char("Company Name Key", readonly=True)
    import_fingerprint = fields.Char(
        "Import Fingerprint", readonly=True,
        help="Identifies the imported row so that importing the same file "
        "again creates nothing new.")
    lead_import = fields.Many2One(
        'crm.lead.import', "Import", readonly=True, ondelete='SET NULL',
        help="The file import that created the lead.")
    merged_into = fields.Many2One(
        'sale.opportunity', "Merged Into", readonly=True,
        ondelete='SET NULL')
    duplicate_candidates = fields.Function(fields.Many2Many(
            'sale.opportunity', None, None, "Possible Duplicates",
            help="Open leads and opportunities with the same identity, "
            "as the duplicate policy compares them.",
            # An empty list would take a phone's screen for nothing.
            states={
                'invisible': ~Eval('duplicate_candidates'),
                }),
        'get_duplicate_candidates')
    customer_candidates = fields.Function(fields.Many2Many(
            'party.party', None, None, "Matching Customers",
            context={
                'company': Eval('company', -1),
                },
            states={
                'invisible': ~Eval('customer_candidates'),
                },
            depends={'company'}),
        'get_duplicate_candidates')

    consent = fields.Boolean(
        "Consent", readonly=True,
        help="The person agreed to be contacted (GDPR).")
    consent_text = fields.Text("Consent Text", readonly=True)
    consent_date = fields.DateTime("Consent Date", readonly=True)
    web_form = fields.Many2One(
        'crm.web.form', "Web Form", readonly=True, ondelete='SET NULL')

    del _lead_states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (getattr(t, key), Index.Equality()),
                    where=getattr(t, key) != None)  # noqa: E711
                for key in KEYS} | {
                Index(t, (t.import_fingerprint, Index.Equality()),
                    where=t.import_fingerprint != None),  # noqa: E711
                })
        cls._buttons.update({
                'create_customer': {
                    'invisible': Eval('party') | ~Eval('state').in_(
                        ['lead', 'opportunity']),
                    'depends': ['party', 'state'],
                    },
                })

    @classmethod
    def __register__(cls, module_name):
        super().__register__(module_name)
        cls._fill_keys()
        cls.update_person_keys()

    @classmethod
    def _fill_keys(cls):
        "Compute the keys of the leads stored before they existed"
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        sources = [getattr(table, f) for f in KEY_SOURCES.values()]
        keys = [getattr(table, k) for k in KEYS]
        cursor.execute(*table.select(table.id, *sources,
                where=(Coalesce(*sources) != None)  # noqa: E711
                & (Coalesce(*keys) == None)))  # noqa: E711
        rows = cursor.fetchall()
        if not rows:
            return
        Duplicate = Pool().get('crm.lead.duplicate')
        for id_, *values in rows:
            keys = Duplicate.keys(dict(zip(KEY_SOURCES.values(), values)))
            cursor.execute(*table.update(
                    [getattr(table, k) for k in keys],
                    list(keys.values()),
                    where=table.id == id_))

    @classmethod
    def update_person_keys(cls, ids=None):
        """Compute the person key (contact name at company) of the leads
        of ids, or of those that lack it: it depends on two fields, which
        a write may change one at a time"""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        if ids is None:
            where = ((table.person_key == None)  # noqa: E711
                & (table.lead_name != None)  # noqa: E711
                & (table.lead_company != None))  # noqa: E711
            wheres = [where]
        else:
            wheres = [SQL_OPERATORS['in'](table.id, list(sub))
                for sub in grouped_slice(ids, 1000)]
        for where in wheres:
            cursor.execute(*table.select(
                    table.id, table.lead_name, table.lead_company,
                    table.person_key, where=where))
            for id_, name, company, key in cursor.fetchall():
                new = person_key(name, company)
                if new != key:
                    cursor.execute(*table.update(
                            [table.person_key], [new],
                            where=table.id == id_))

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/form/notebook/page[@id="lead"]', 'states', {
                    'invisible': ~Eval('state').in_(OPEN_STATES),
                    }),
            ]

    @fields.depends('lead_country', 'lead_subdivision')
    def on_change_lead_country(self):
        if (self.lead_subdivision
                and self.lead_subdivision.country != self.lead_country):
            self.lead_subdivision = None

    @fields.depends('lead_subdivision', 'lead_country')
    def on_change_lead_subdivision(self):
        if self.lead_subdivision and not self.lead_country:
            self.lead_country = self.lead_subdivision.country

    @classmethod
    def fingerprint(cls, values):
        "A digest of a lead's data: the same row gives the same digest"
        data = {k: str(values[k]) for k in sorted(values)
            if k in LEAD_DATA and values[k] not in (None, '')}
        return hashlib.sha1(
            json.dumps(data, sort_keys=True).encode()).hexdigest()

    @classmethod
    def imported_fingerprints(cls, fingerprints):
        """The fingerprints among these of rows imported before.  In SQL:
        the ORM compares a Char with COALESCE, which the index cannot
        serve."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        known = set()
        for sub in grouped_slice(
                list(fingerprints), backend.MAX_QUERY_PARAMS // 2):
            cursor.execute(*table.select(table.import_fingerprint,
                    where=SQL_OPERATORS['in'](
                        table.import_fingerprint, list(sub))))
            known.update(f for f, in cursor)
        return known

    def get_assignment_reason(self, name):
        if self.assignment_logs:
            return self.assignment_logs[0].reason

    @classmethod
    def fields_to_merge(cls):
        return super().fields_to_merge() + [
            ('crm.assignment.log', 'opportunity'),
            ('crm.web.form.submission', 'lead'),
            ]

    @classmethod
    def get_duplicate_candidates(cls, opportunities, names):
        pool = Pool()
        Duplicate = pool.get('crm.lead.duplicate')
        Party = pool.get('party.party')
        result = {n: {o.id: [] for o in opportunities} for n in names}
        for sub in grouped_slice(opportunities, 1000):
            sub = list(sub)
            keys_list = [{k: getattr(o, k) for k in KEYS} for o in sub]
            found = Duplicate.find(keys_list, exclude=[o.id for o in sub])
            for opportunity, candidates in zip(sub, found):
                # Only what the user may see: the warning says when a
                # hidden lead matches.
                if 'duplicate_candidates' in result:
                    result['duplicate_candidates'][opportunity.id] = (
                        visible_ids(cls, candidates.leads, as_user=True))
                if 'customer_candidates' in result:
                    result['customer_candidates'][opportunity.id] = (
                        visible_ids(Party, candidates.parties, as_user=True))
        return result

    @classmethod
    def validate_fields(cls, opportunities, field_names):
        super().validate_fields(opportunities, field_names)
        cls.check_lead_identity(opportunities, field_names)

    @classmethod
    def check_lead_identity(cls, opportunities, field_names=None):
        "Refuse e-mails, phones and tax identifiers that are malformed"
        checks = [
            ('lead_email', check_email),
            ('lead_phone', check_phone),
            ('lead_tax_identifier', check_tax_identifier),
            ]
        for name, check in checks:
            if field_names and name not in field_names:
                continue
            label = cls.fields_get([name])[name]['string']
            for opportunity in opportunities:
                value = getattr(opportunity, name)
                if value:
                    error = check(value, column=label)
                    if error:
                        raise UserError(error)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Duplicate = pool.get('crm.lead.duplicate')
        values = super().preprocess_values(mode, values)
        if any(f in values for f in KEY_SOURCES.values()):
            # Stored as the import stores them, whatever the entry.
            region = Duplicate.region()
            normalise(values, region)
            keys = identity_keys(values, region)
            for key, source in KEY_SOURCES.items():
                if source in values:
                    values[key] = keys[key]
            if mode == 'write':
                # Of two fields: on_modification computes it from both.
                values.pop('person_key', None)
            if mode == 'create' and not values.get('party'):
                # A lead from somebody who is already a customer.
                candidates, = Duplicate.find([keys])
                if candidates.parties:
                    values['party'] = candidates.parties[0]
        return values

    @classmethod
    def check_modification(
            cls, mode, opportunities, values=None, external=False):
        super().check_modification(
            mode, opportunities, values=values, external=external)
        if (mode == 'create'
                and not Transaction().context.get('_crm_duplicates_checked')):
            cls.check_duplicates(opportunities)

    @classmethod
    def check_duplicates(cls, opportunities):
        """Apply the duplicate policy to leads entered one by one (sao,
        JSON-RPC, REST): warn before saving, or refuse"""
        pool = Pool()
        Duplicate = pool.get('crm.lead.duplicate')
        Warning = pool.get('res.user.warning')
        action = Duplicate.action()
        if action == 'create':
            return
        keys_list = [{k: getattr(o, k) for k in KEYS} for o in opportunities]
        found = Duplicate.find(
            keys_list, exclude=[o.id for o in opportunities])
        for opportunity, keys, candidates in zip(
                opportunities, keys_list, found):
            if not candidates.leads:
                continue
            visible = visible_ids(cls, candidates.leads, as_user=True)
            params = {
                'lead': opportunity.lead_label(),
                'keys': Duplicate.describe(candidates.matched),
                }
            if visible:
                existing = cls(visible[0])
                params['existing'] = ' · '.join(filter(None, [
                            existing.rec_name, existing.lead_label()]))
                params['owner'] = (
                    existing.owner.rec_name if existing.owner else '-')
                warning = 'crm_kit_lead.msg_lead_duplicate_warning'
                error = 'crm_kit_lead.msg_lead_duplicate'
            else:
                # Nothing of a lead the user may not see.
                warning = 'crm_kit_lead.msg_lead_duplicate_hidden_warning'
                error = 'crm_kit_lead.msg_lead_duplicate_hidden'
            if action == 'warn':
                if Transaction().context.get('crm_duplicate_confirmed'):
                    # An integration that cannot answer a warning says
                    # beforehand that it creates the lead anyway.
                    continue
                # The key is the identity, not the new id: the id changes
                # each time the user tries to save again.
                key = 'crm_kit_lead.duplicate.' + hashlib.sha1(json.dumps(
                        [keys[k] for k in candidates.matched]).encode()
                    ).hexdigest()
                if Warning.check(key):
                    raise UserWarning(key, gettext(warning, **params))
            else:
                raise UserError(gettext(error, **params))

    def lead_label(self):
        "How the lead is named in messages: who it is, not its number"
        return (self.lead_company or self.lead_name or self.lead_email
            or self.lead_phone or self.description or self.number or '')

    @classmethod
    def on_modification(cls, mode, opportunities, field_names=None):
        pool = Pool()
        Rule = pool.get('crm.assignment.rule')
        super().on_modification(mode, opportunities, field_names=field_names)
        if mode == 'write' and field_names and (
                set(PERSON_SOURCES) & set(field_names)):
            cls.update_person_keys([o.id for o in opportunities])
        context = Transaction().context
        if mode == 'create' and not context.get('_crm_skip_assignment'):
            leads = [o for o in opportunities if o.state == 'lead']
            if leads:
                Rule.assign_leads(leads)

    @classmethod
    def on_write(cls, opportunities, values):
        pool = Pool()
        Log = pool.get('crm.assignment.log')
        callbacks = super().on_write(opportunities, values)
        if ('owner' in values
                and not Transaction().context.get('_crm_assigning')):
            previous = {o.id: o.owner for o in opportunities}

            def log_reassignment():
                Log.save([Log.manual(o, previous[o.id])
                        for o in cls.browse(previous)
                        if o.owner != previous[o.id]])
            callbacks.append(log_reassignment)
        return callbacks

    @classmethod
    def copy(cls, opportunities, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('assignment_logs')
        default.setdefault('import_fingerprint')
        default.setdefault('lead_import')
        default.setdefault('merged_into')
        default.setdefault('consent')
        default.setdefault('consent_text')
        default.setdefault('consent_date')
        default.setdefault('web_form')
        return super().copy(opportunities, default=default)

    @classmethod
    def capture_leads(cls, values_list):
        """Create leads arriving from outside (web forms, integrations)
        through the one lead-intake road, and return for each its status
        ('created', 'flagged', 'updated' or 'skipped') and lead.

        'flagged' is a lead created although it looks like a duplicate
        (policy "warn"): nobody is there to answer the warning, so it is
        created and shows its candidates."""
        from .intake import LeadIntake
        intake = LeadIntake()
        entries = intake.receive([dict(v) for v in values_list])
        intake.close()
        return [(e.status, cls(e.lead)) for e in entries]

    @classmethod
    def insert_leads(cls, values_list, choices, later=None):
        """Insert imported leads with their product line, stage log and
        assignment log in a few multi-row INSERTs.

        The file import calls this instead of create: create costs about
        3 ms per lead in Python (defaults, validation, one stage log each)
        and an import must reach thousands of rows per second.  The rows
        arrive validated by the import's converter and decided by the
        duplicate policy and the assignment rules, so this only writes
        what create would have written."""
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        Stage = pool.get('crm.stage')
        Company = pool.get('company.company')
        Configuration = pool.get('sale.configuration')
        Line = pool.get('sale.opportunity.line')
        Product = pool.get('product.product')
        StageLog = pool.get('crm.stage.log')
        Log = pool.get('crm.assignment.log')
        Date = pool.get('ir.date')
        transaction = Transaction()
        if not values_list:
            return []
        company = Company(transaction.context['company'])
        now = dt.datetime.now()
        user = transaction.user
        main = Pipeline.main_pipeline()
        sequence = Configuration(1).get_multivalue(
            'sale_opportunity_sequence', company=company.id)
        numbers = sequence_numbers(sequence, len(values_list))
        today = Date.today()
        currency = company.currency.id
        columns = set(cls._fields) - {'product', 'lines'}

        # A few pipelines and owners serve a whole batch: read each once.
        @functools.cache
        def first_stage(pipeline_id):
            stage = Pipeline(pipeline_id).stage_for_state('lead')
            return stage.id, stage.probability

        owner_values = functools.cache(cls.owner_values)

        rows = []
        extra = cls._bulk_insert_values()
        ranks = Stage.list_ranks()
        for values, choice in zip(values_list, choices):
            pipeline_id = values.get('pipeline') or main.id
            stage_id, probability = first_stage(pipeline_id)
            row = {k: v for k, v in values.items() if k in columns}
            row.update({
                    'number': next(numbers),
                    'company': company.id,
                    'currency': currency,
                    'start_date': values.get('start_date') or today,
                    'state': 'lead',
                    'pipeline': pipeline_id,
                    'stage': stage_id,
                    'stage_order': ranks.get(stage_id),
                    'conversion_probability': probability,
                    'stage_date': now,
                    'create_uid': user,
                    'create_date': now,
                    **extra,
                    })
            if choice and choice.user:
                row.update(owner_values(choice.user))
            rows.append(row)
        ids = insert_rows(cls, rows, later=later)
        run_later(later, cls._insert_history, ids)

        products = {p.id: p for p in Product.browse(list({
                        v['product'] for v in values_list
                        if v.get('product')}))}
        lines = [{
                'opportunity': id_,
                'product': v['product'],
                'quantity': 1,
                'unit': products[v['product']].sale_uom.id,
                'create_uid': user,
                'create_date': now,
                } for id_, v in zip(ids, values_list) if v.get('product')]
        if lines:
            run_later(later, Line._insert_history,
                insert_rows(Line, lines, later=later))
        insert_rows(StageLog, [{
                    'opportunity': id_,
                    'pipeline': row['pipeline'],
                    'to_stage': row['stage'],
                    'to_state': 'lead',
                    'user': user,
                    'date': now,
                    'create_uid': user,
                    'create_date': now,
                    } for id_, row in zip(ids, rows)], later=later)
        logs = []
        for id_, choice in zip(ids, choices):
            if choice is None:
                continue
            log = choice.log_values()
            logs.append({
                    'opportunity': id_,
                    'user': _id(log['user']),
                    'rule': _id(log['rule']),
                    'method': log['method'],
                    'fallback': log['fallback'],
                    'position': log['position'],
                    'members': log['members'],
                    'load': log['load'],
                    'date': now,
                    'create_uid': user,
                    'create_date': now,
                    })
        if logs:
            insert_rows(Log, logs, later=later)
        return ids

    @classmethod
    def merge_leads(cls, destination, sources):
        """Merge sources into destination: destination takes the data it
        lacks and everything linked to the sources (lines, quotes, stage
        and assignment history, attachments, notes); the sources are
        cancelled and point to it"""
        from .merge import move_references
        values = {}
        for name in LEAD_DATA + ['party']:
            if getattr(destination, name) not in (None, ''):
                continue
            for source in sources:
                value = getattr(source, name)
                if value not in (None, ''):
                    values[name] = getattr(value, 'id', value)
                    break
        if values:
            cls.write([destination], values)
        for source in sources:
            move_references(source, destination)
        cls.write(sources, {'merged_into': destination.id})
        cls.cancel(sources)

    def update_from(self, values):
        "Write onto this lead the non-empty lead data of values"
        changes = {k: v for k, v in values.items()
            if k in LEAD_DATA and v not in (None, '')}
        if changes:
            self.write([self], changes)

    @classmethod
    @ModelView.button
    def create_customer(cls, opportunities):
        """Create the customer of leads from what they know, or link the
        customer that already has the same identity"""
        pool = Pool()
        Party = pool.get('party.party')
        Duplicate = pool.get('crm.lead.duplicate')
        to_link = {}
        found = Duplicate.find([{k: getattr(o, k) for k in KEYS}
                for o in opportunities])
        for opportunity, candidates in zip(opportunities, found):
            if opportunity.party:
                continue
            if candidates.parties:
                to_link[opportunity] = Party(candidates.parties[0])
            else:
                to_link[opportunity] = opportunity.get_lead_party()
        Party.save([p for p in set(to_link.values()) if p.id is None])
        for opportunity, party in to_link.items():
            opportunity.party = party
            opportunity.on_change_party()
        cls.save(list(to_link))

    def get_lead_party(self):
        "A new customer built from the lead's data"
        pool = Pool()
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        ContactMechanism = pool.get('party.contact_mechanism')
        Identifier = pool.get('party.identifier')
        if not (self.lead_company or self.lead_name):
            raise UserError(gettext(
                    'crm_kit_lead.msg_lead_customer_no_name',
                    lead=self.rec_name))
        party = Party(name=self.lead_company or self.lead_name)
        if self.lead_language:
            party.lang = self.lead_language
        mechanisms = []
        if self.lead_email:
            mechanisms.append(
                ContactMechanism(type='email', value=self.lead_email))
        if self.lead_phone:
            mechanisms.append(
                ContactMechanism(type='phone', value=self.lead_phone))
        party.contact_mechanisms = mechanisms
        if self.lead_tax_identifier:
            code = self.lead_tax_identifier
            if check_tax_identifier(code, column=''):
                # Imported as written with a warning: kept without a type
                # rather than refused by the identifier's check.
                type_ = None
            # A Spanish CIF starts with one letter, an EU VAT number with
            # its two-letter country prefix.
            elif code[:2].isalpha():
                type_ = 'eu_vat'
            else:
                type_ = 'es_vat'
            party.identifiers = [Identifier(type=type_, code=code)]
        if any([self.lead_street, self.lead_postal_code, self.lead_city,
                    self.lead_country]):
            party.addresses = [Address(
                    street=self.lead_street,
                    postal_code=self.lead_postal_code,
                    city=self.lead_city,
                    country=self.lead_country,
                    subdivision=self.lead_subdivision)]
        return party

    @classmethod
    def opportunity(cls, opportunities):
        # Qualifying a lead needs its customer (sale_opportunity requires
        # a party from then on): create it from the lead.
        cls.create_customer([o for o in opportunities
                if o.state == 'lead' and not o.party])
        super().opportunity(opportunities)


def sequence_numbers(sequence, count):
    """The count next numbers of sequence, as its get_many gives them,
    with its prefix and suffix made once for all of them: get_many makes
    them again for each number, a tenth of what storing a lead costs"""
    with without_check_access():
        prefix = sequence._process(sequence.prefix)
        suffix = sequence._process(sequence.suffix)
        return iter([f'{prefix}{value}{suffix}'
                for value in sequence._get_many(n=count)])


def _id(record):
    return record.id if record is not None else None
