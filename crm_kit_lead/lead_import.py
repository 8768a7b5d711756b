# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Importing a file of leads: the wizard that maps and previews it, the
import record that shows its progress and result, and the batch loop that
validates, de-duplicates, assigns and inserts the rows."""
import datetime as dt
import json
import sys
from itertools import islice

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from .assignment import LeadAssigner
from .opportunity import LEAD_DATA, insert_rows
from .lead_file import (
    LEAD_FIELDS, LeadRowConverter, check_mapping, error_report,
    guess_mapping, read_table)

# Rows validated, de-duplicated and inserted together: large enough for
# multi-row INSERTs and one duplicate query per key, small enough to
# keep memory flat whatever the size of the file.
BATCH = 1000
# Rows processed by one queue task: each task is one transaction, so an
# interrupted import keeps whole tasks and never half a row.
CHUNK = 10000
# How many rows the wizard shows before importing.
PREVIEW = 10

IMPORT_STATES = [
    ('draft', "Draft"),
    ('queued', "Queued"),
    ('running', "Running"),
    ('done', "Done"),
    ('failed', "Failed"),
    ]


def lead_field_selection():
    "The lead fields a column can go to, as the user reads them"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    names = [f for f in LEAD_FIELDS if f in Opportunity._fields]
    strings = Opportunity.fields_get(names)
    selection = [(None, '')]
    for name in LEAD_FIELDS:
        if name == 'product':
            selection.append((name, gettext('crm_kit_lead.msg_field_product')))
        elif name in strings:
            selection.append((name, strings[name]['string']))
    return selection


class LeadImportTemplate(ModelSQL, ModelView):
    "Lead Import Template"
    __name__ = 'crm.lead.import.template'

    name = fields.Char("Name", required=True)
    columns = fields.One2Many(
        'crm.lead.import.template.column', 'template', "Columns")

    def mapping_for(self, columns):
        "The mapping of a file's columns by their header names"
        by_name = {c.column.strip().lower(): c.field for c in self.columns}
        return {i: by_name[c.strip().lower()] for i, c in enumerate(columns)
            if by_name.get(c.strip().lower())}


class LeadImportTemplateColumn(ModelSQL, ModelView):
    "Lead Import Template Column"
    __name__ = 'crm.lead.import.template.column'

    template = fields.Many2One(
        'crm.lead.import.template', "Template", required=True,
        ondelete='CASCADE')
    column = fields.Char("Column", required=True)
    field = fields.Selection('get_fields', "Lead Field", required=True)

    @classmethod
    def get_fields(cls):
        return lead_field_selection()


class LeadImport(Workflow, ModelSQL, ModelView):
    "Lead Import"
    __name__ = 'crm.lead.import'

    filename = fields.Char("File Name", readonly=True)
    file = fields.Binary(
        "File", filename='filename', file_id='file_id', readonly=True)
    file_id = fields.Char("File ID", readonly=True)
    sheet = fields.Char("Sheet", readonly=True)
    columns = fields.One2Many(
        'crm.lead.import.column', 'lead_import', "Columns", readonly=True)
    state = fields.Selection(IMPORT_STATES, "State", readonly=True,
        required=True, sort=False)
    total_rows = fields.Integer("Rows", readonly=True)
    processed_rows = fields.Integer("Processed", readonly=True)
    created = fields.Integer("Created", readonly=True)
    updated = fields.Integer("Updated", readonly=True)
    skipped = fields.Integer("Skipped as Duplicate", readonly=True)
    rejected = fields.Integer("Rejected", readonly=True)
    progress = fields.Function(
        fields.Float("Progress", digits=(1, 4)), 'get_progress')
    problems = fields.One2Many(
        'crm.lead.import.problem', 'lead_import', "Problems", readonly=True)
    error_report = fields.Function(fields.Binary(
            "Error Report", filename='error_report_name'),
        'get_error_report')
    error_report_name = fields.Function(
        fields.Char("Error Report Name"), 'get_error_report_name')
    failure = fields.Text("Failure", readonly=True,
        states={
            'invisible': ~Eval('failure'),
            })

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('create_date', 'DESC'))
        cls._order.insert(1, ('id', 'DESC'))
        cls._transitions |= {
            ('draft', 'queued'),
            ('draft', 'running'),
            ('queued', 'running'),
            ('running', 'done'),
            ('running', 'failed'),
            ('queued', 'failed'),
            }
        cls._buttons.update({
                'run': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_processed_rows(cls):
        return 0

    default_created = default_updated = default_processed_rows
    default_skipped = default_rejected = default_processed_rows

    def get_progress(self, name):
        if self.state == 'done':
            return 1.0
        if not self.total_rows:
            return 0.0
        return min(1.0, (self.processed_rows or 0) / self.total_rows)

    def get_error_report_name(self, name):
        if self.problems:
            stem = (self.filename or 'leads').rsplit('.', 1)[0]
            return gettext('crm_kit_lead.msg_import_error_report_name',
                name=stem)

    @classmethod
    def get_error_report(cls, imports, name):
        result = {}
        for lead_import in imports:
            if not lead_import.problems:
                result[lead_import.id] = None
                continue
            columns = [c.name for c in lead_import.columns]
            result[lead_import.id] = error_report(columns, (
                    (p.row, json.loads(p.cells), p.reason)
                    for p in sorted(lead_import.problems,
                        key=lambda p: p.row)))
        return result

    def get_rec_name(self, name):
        return self.filename or str(self.id)

    def mapping(self):
        return {c.index: c.field for c in self.columns if c.field}

    @classmethod
    def from_file(cls, data, filename, sheet=None, mapping=None,
            template=None, total_rows=None):
        """A draft import of the file: the mapping given, else the
        template's, else guessed from the header"""
        lead_import = cls(filename=filename, file=data, sheet=sheet)
        table = lead_import.table()
        if mapping is None:
            mapping = (template.mapping_for(table.columns) if template
                else guess_mapping(table.columns))
        check_mapping(mapping)
        if total_rows is None:
            total_rows = sum(1 for _ in table.rows())
        lead_import.sheet = table.sheet
        lead_import.total_rows = total_rows
        lead_import.columns = [{
                'index': i,
                'name': name,
                'field': mapping.get(i),
                } for i, name in enumerate(table.columns)]
        lead_import.save()
        return lead_import

    def table(self):
        pool = Pool()
        Configuration = pool.get('crm.lead.configuration')
        max_size = Configuration(1).import_max_size * 1024 * 1024
        return read_table(
            self.file, self.filename, sheet=self.sheet, max_size=max_size)

    @classmethod
    @ModelView.button
    def run(cls, imports):
        """Import now when the file is small, else in the background: the
        import record shows the progress"""
        pool = Pool()
        Configuration = pool.get('crm.lead.configuration')
        background = Configuration(1).import_background_rows
        now, later = [], []
        for lead_import in imports:
            (later if lead_import.total_rows > background
                else now).append(lead_import)
        if later:
            cls.queue(later)
            for lead_import in later:
                cls.__queue__.process_chunk([lead_import], 0)
        if now:
            cls.start(now)
            for lead_import in now:
                start = 0
                while start is not None:
                    start = lead_import.import_rows(start)

    @classmethod
    @Workflow.transition('queued')
    def queue(cls, imports):
        pass

    @classmethod
    @Workflow.transition('running')
    def start(cls, imports):
        pass

    @classmethod
    @Workflow.transition('done')
    def done(cls, imports):
        pass

    @classmethod
    def process_chunk(cls, imports, start):
        "Queue task: import one chunk, then queue the next one"
        for lead_import in imports:
            if lead_import.state == 'queued':
                cls.start([lead_import])
            if lead_import.state != 'running':
                continue
            try:
                with Transaction().set_context(
                        company=lead_import.company_id()):
                    following = lead_import.import_rows(start)
            except Exception as exception:
                # The chunk is rolled back, now: the failure is written in
                # a transaction of its own so that the user sees it, and
                # the row of the import this one wrote would block it.
                Transaction().rollback()
                cls.fail(lead_import.id, str(exception))
                raise
            if following is not None:
                cls.__queue__.process_chunk([lead_import], following)

    def company_id(self):
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        if not company_id:
            company, = Company.search([], limit=1)
            company_id = company.id
        return company_id

    @classmethod
    def fail(cls, import_id, message):
        with Transaction().new_transaction() as transaction:
            lead_import = cls(import_id)
            cls.write([lead_import], {
                    'state': 'failed',
                    'failure': message,
                    })
            transaction.commit()

    def import_rows(self, start, size=None):
        """Import up to size rows from data row start; return where the
        next chunk starts, or None when the file is done"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Event = pool.get('crm.event')
        size = size or CHUNK
        table = self.table()
        converter = LeadRowConverter(self.mapping(), columns=table.columns)
        rows = islice(table.rows(), start, start + size)
        counts = dict.fromkeys(
            ['created', 'updated', 'skipped', 'rejected'], 0)
        read = 0
        sent = None
        inserted = []
        # One assigner for the chunk: the rules are read once and the open
        # leads counted once, then followed as leads are given out.
        assigner = LeadAssigner()
        try:
            while True:
                batch = list(islice(rows, BATCH))
                if not batch:
                    break
                read += len(batch)
                batch_counts, sent = self.import_batch(
                    converter, batch, assigner, sent, inserted)
                for status, count in batch_counts.items():
                    counts[status] += count
        finally:
            wait(sent)
        assigner.save()
        # Stored: the leads are created, for whoever listens (automation
        # rules, alerts, webhooks), as those created one by one are.
        for sub in grouped_slice(inserted, 1000):
            Event.created(Opportunity.browse(list(sub)))
        values = {k: getattr(self, k) + v for k, v in counts.items()}
        values['processed_rows'] = processed = self.processed_rows + read
        self.write([self], values)
        if read < size or processed >= (self.total_rows or 0):
            self.done([self])
            return None
        return start + size

    def import_batch(
            self, converter, batch, assigner, sent=None, inserted=None):
        """Validate, de-duplicate, assign and insert one batch of rows;
        return the count of each outcome and what send returned.

        sent is what the previous batch sent: its rows are checked while
        the database stores that batch, then waited for.  assigner is the
        chunk's LeadAssigner, which the caller saves; the ids of the new
        leads are added to inserted."""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Duplicate = pool.get('crm.lead.duplicate')
        Problem = pool.get('crm.lead.import.problem')
        from .assignment import Choice

        counts = dict.fromkeys(
            ['created', 'updated', 'skipped', 'rejected'], 0)
        problems, valid = [], []
        for number, cells in batch:
            values, errors = converter.convert(number, cells)
            if errors:
                problems.append(Problem(lead_import=self, row=number,
                        kind='rejected', cells=json.dumps(cells),
                        reason='\n'.join(errors)))
                counts['rejected'] += 1
            else:
                values['import_fingerprint'] = Opportunity.fingerprint(
                    values)
                valid.append((number, cells, values))
        region = Duplicate.region()
        keys_list = [Duplicate.keys(v, region) for _, _, v in valid]
        # The duplicate search must see the previous batch's leads.
        wait(sent)

        # The same row imported before, in this file or an earlier run.
        fingerprints = {v['import_fingerprint'] for _, _, v in valid}
        known = Opportunity.imported_fingerprints(fingerprints)
        action = Duplicate.action()
        matched = Duplicate.matched_keys()
        found = (Duplicate.find(keys_list) if action != 'create'
            else [None] * len(valid))
        seen = {}
        to_insert, to_update = [], []
        # The existing leads are named in the reasons once the batch is
        # read: browsing them together reads them in one query.
        duplicates = []
        for (number, cells, values), keys, candidates in zip(
                valid, keys_list, found):
            values.update(keys)
            if values['import_fingerprint'] in known:
                problems.append(Problem(lead_import=self, row=number,
                        kind='skipped', cells=json.dumps(cells),
                        reason=gettext(
                            'crm_kit_lead.msg_import_already_imported')))
                counts['skipped'] += 1
                continue
            known.add(values['import_fingerprint'])
            if candidates and candidates.parties:
                values.setdefault('party', candidates.parties[0])
            # A row of this batch with the same identity is not stored
            # yet: the policy applies to it as to a stored lead.
            earlier = next((seen[(k, keys[k])] for k in matched
                    if keys.get(k) and (k, keys[k]) in seen), None)
            if earlier is not None and action in {'skip', 'update'}:
                earlier_row, index = earlier
                if action == 'update':
                    to_insert[index].update({k: v for k, v in values.items()
                            if k in LEAD_DATA and v not in (None, '')})
                    counts['updated'] += 1
                else:
                    problems.append(Problem(lead_import=self, row=number,
                            kind='skipped', cells=json.dumps(cells),
                            reason=gettext(
                                'crm_kit_lead.msg_import_duplicate_row',
                                row=earlier_row)))
                    counts['skipped'] += 1
                continue
            status = Duplicate.decide(candidates, action)
            if status == 'skipped':
                problem = Problem(lead_import=self, row=number,
                    kind='skipped', cells=json.dumps(cells))
                problems.append(problem)
                duplicates.append(
                    (problem, candidates.leads[0], candidates.matched))
                counts['skipped'] += 1
            elif status == 'updated':
                to_update.append((candidates.leads[0], values))
                counts['updated'] += 1
            else:
                for k in matched:
                    if keys.get(k):
                        seen.setdefault((k, keys[k]), (number, len(to_insert)))
                to_insert.append(values)
                counts['created'] += 1

        User = pool.get('res.user')
        user = Transaction().user
        importer = User(user) if user else None
        choices = [None] * len(to_insert)
        auto = [i for i, v in enumerate(to_insert) if not v.get('owner')]
        if assigner.rules:
            for i, choice in zip(auto, assigner.choose_many([
                            import_facts(to_insert[i]) for i in auto])):
                choices[i] = choice
        for i, values in enumerate(to_insert):
            if values.get('owner'):
                # An owner given in the file is the importer's choice.
                choices[i] = Choice(user=User(values['owner']),
                    method='manual')
            elif choices[i] is None or choices[i].user is None:
                # As a lead entered by hand, one no rule takes stays with
                # the user who imported it.
                if choices[i] is None and importer:
                    choices[i] = Choice(user=importer, method='manual')
                elif choices[i] is not None:
                    choices[i].user = importer
        later = [] if backend.name == 'postgresql' else None
        ids = Opportunity.insert_leads(to_insert, choices, later=later)
        if inserted is not None:
            inserted.extend(ids)
        for lead_id, values in to_update:
            values = {k: v for k, v in values.items()
                if k not in {'import_fingerprint', 'owner', 'party'}}
            Opportunity(lead_id).update_from(values)
        names = {o.id: o.rec_name for o in Opportunity.browse(
                list({lead_id for _, lead_id, _ in duplicates}))}
        for problem, lead_id, matched in duplicates:
            problem.reason = gettext(
                'crm_kit_lead.msg_import_duplicate_lead',
                lead=names[lead_id], keys=Duplicate.describe(matched))
        # Thousands of problems in a file of rejects: stored as the leads
        # are, without a create per row.
        now = dt.datetime.now()
        insert_rows(Problem, [{
                    'lead_import': self.id,
                    'row': p.row,
                    'kind': p.kind,
                    'cells': p.cells,
                    'reason': p.reason,
                    'create_uid': user,
                    'create_date': now,
                    } for p in problems], later=later)
        return counts, send(later)


def send(statements):
    """Send the INSERTs of a batch to PostgreSQL without waiting for them
    to be done: the connection stays in pipeline mode until wait.  Storing
    a batch (foreign keys, indexes) costs the database about as long as
    checking the next one costs Python: on two cores they overlap."""
    if not statements:
        return None
    pipeline = Transaction().connection.pipeline()
    pipeline.__enter__()
    try:
        for statement in statements:
            statement()
    except BaseException:
        pipeline.__exit__(*sys.exc_info())
        raise
    return pipeline


def wait(sent):
    "Wait until the statements send sent are done; raise their error"
    if sent is not None and not getattr(sent, 'closed', False):
        sent.closed = True
        sent.__exit__(None, None, None)


def import_facts(values):
    "What assignment rules look at, from an imported row"
    from .assignment import FACTS
    facts = {name: values.get(name) for name in FACTS}
    facts['products'] = [values['product']] if values.get('product') else []
    return facts


class LeadImportColumn(ModelSQL, ModelView):
    "Lead Import Column"
    __name__ = 'crm.lead.import.column'

    lead_import = fields.Many2One(
        'crm.lead.import', "Import", required=True, ondelete='CASCADE')
    index = fields.Integer("Index", required=True)
    name = fields.Char("Column", readonly=True)
    field = fields.Selection('get_fields', "Lead Field")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('lead_import')
        cls._order.insert(0, ('index', 'ASC'))

    @classmethod
    def get_fields(cls):
        return lead_field_selection()


class LeadImportProblem(ModelSQL, ModelView):
    "Lead Import Problem"
    __name__ = 'crm.lead.import.problem'

    lead_import = fields.Many2One(
        'crm.lead.import', "Import", required=True, ondelete='CASCADE')
    row = fields.Integer("Row", readonly=True)
    kind = fields.Selection([
            ('rejected', "Rejected"),
            ('skipped', "Skipped as Duplicate"),
            ], "Kind", readonly=True)
    cells = fields.Text("Cells", readonly=True)
    reason = fields.Text("Reason", readonly=True)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('kind') == 'rejected', 'danger', '')),
            ]

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('lead_import')
        cls._order.insert(0, ('row', 'ASC'))


class ImportLeadsStart(ModelView):
    "Import Leads"
    __name__ = 'crm.lead.import.wizard.start'

    file = fields.Binary("File", filename='filename', required=True,
        help="A CSV (comma, semicolon or tab separated) or XLSX file "
        "with a header row.")
    filename = fields.Char("File Name")
    sheet = fields.Char(
        "Sheet", help="The sheet of an XLSX file; empty for the first one.")
    template = fields.Many2One(
        'crm.lead.import.template', "Template",
        help="A saved mapping of columns to lead fields.")


class ImportLeadsMapping(ModelView):
    "Import Leads"
    __name__ = 'crm.lead.import.wizard.mapping'

    columns = fields.One2Many(
        'crm.lead.import.wizard.column', None, "Columns")
    sheets = fields.Char("Sheets", readonly=True)
    template_name = fields.Char(
        "Save as Template",
        help="Give a name to reuse this mapping for the next files.")


class ImportLeadsColumn(ModelView):
    "Import Leads Column"
    __name__ = 'crm.lead.import.wizard.column'

    index = fields.Integer("Index", readonly=True)
    name = fields.Char("Column", readonly=True)
    field = fields.Selection('get_fields', "Lead Field")
    sample = fields.Char("Example", readonly=True)

    @classmethod
    def get_fields(cls):
        return lead_field_selection()


class ImportLeadsPreview(ModelView):
    "Import Leads"
    __name__ = 'crm.lead.import.wizard.preview'

    total_rows = fields.Integer("Rows", readonly=True)
    rows = fields.One2Many(
        'crm.lead.import.wizard.row', None, "First Rows", readonly=True)


class ImportLeadsRow(ModelView):
    "Import Leads Row"
    __name__ = 'crm.lead.import.wizard.row'

    row = fields.Integer("Row", readonly=True)
    lead = fields.Char("Lead", readonly=True)
    problems = fields.Char("Problems", readonly=True)
    status = fields.Selection([
            ('ok', "OK"),
            ('error', "Rejected"),
            ], "Status", readonly=True)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('status') == 'error', 'danger', '')),
            ]


class ImportLeads(Wizard):
    "Import Leads"
    __name__ = 'crm.lead.import.wizard'

    start = StateView('crm.lead.import.wizard.start',
        'crm_kit_lead.import_leads_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Next", 'read_file', 'tryton-forward', default=True),
            ])
    read_file = StateTransition()
    mapping = StateView('crm.lead.import.wizard.mapping',
        'crm_kit_lead.import_leads_mapping_view_form', [
            Button("Back", 'start', 'tryton-back'),
            Button("Preview", 'check', 'tryton-forward', default=True),
            ])
    check = StateTransition()
    preview = StateView('crm.lead.import.wizard.preview',
        'crm_kit_lead.import_leads_preview_view_form', [
            Button("Back", 'mapping', 'tryton-back'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()
    open_ = StateAction('crm_kit_lead.act_lead_import_form')

    def _table(self):
        pool = Pool()
        Configuration = pool.get('crm.lead.configuration')
        max_size = Configuration(1).import_max_size * 1024 * 1024
        return read_table(self.start.file, self.start.filename or '',
            sheet=self.start.sheet or None, max_size=max_size)

    def transition_read_file(self):
        table = self._table()
        if self.start.template:
            mapping = self.start.template.mapping_for(table.columns)
        else:
            mapping = guess_mapping(table.columns)
        first = next(iter(table.rows()), (None, []))[1]
        self.mapping.columns = [{
                'index': i,
                'name': name,
                'field': mapping.get(i),
                'sample': first[i] if i < len(first) else '',
                } for i, name in enumerate(table.columns)]
        self.mapping.sheets = ', '.join(table.sheets)
        return 'mapping'

    def default_mapping(self, fields):
        return {
            'columns': [{
                    'index': c.index,
                    'name': c.name,
                    'field': c.field,
                    'sample': c.sample,
                    } for c in self.mapping.columns],
            'sheets': self.mapping.sheets,
            'template_name': getattr(self.mapping, 'template_name', None),
            }

    def _mapping(self):
        mapping = {c.index: c.field for c in self.mapping.columns if c.field}
        fields = list(mapping.values())
        repeated = {f for f in fields if fields.count(f) > 1}
        if repeated:
            labels = dict(lead_field_selection())
            raise ValidationError(gettext(
                    'crm_kit_lead.msg_import_field_mapped_twice',
                    fields=', '.join(sorted(labels[f] for f in repeated))))
        check_mapping(mapping)
        return mapping

    def transition_check(self):
        pool = Pool()
        Template = pool.get('crm.lead.import.template')
        mapping = self._mapping()
        if self.mapping.template_name:
            Template.create([{
                        'name': self.mapping.template_name,
                        'columns': [('create', [{
                                        'column': c.name,
                                        'field': c.field,
                                        } for c in self.mapping.columns
                                    if c.field])],
                        }])
        table = self._table()
        converter = LeadRowConverter(mapping, columns=table.columns)
        rows, total = [], 0
        for number, cells in table.rows():
            total += 1
            if len(rows) < PREVIEW:
                values, errors = converter.convert(number, cells)
                rows.append({
                        'row': number,
                        'lead': ' · '.join(
                            cells[i] for i in sorted(mapping)
                            if i < len(cells) and cells[i])[:200],
                        'problems': ' '.join(errors),
                        'status': 'error' if errors else 'ok',
                        })
        self.preview.rows = rows
        self.preview.total_rows = total
        return 'preview'

    def default_preview(self, fields):
        return {
            'total_rows': self.preview.total_rows,
            'rows': [{
                    'row': r.row,
                    'lead': r.lead,
                    'problems': r.problems,
                    'status': r.status,
                    } for r in self.preview.rows],
            }

    def transition_import_(self):
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        lead_import = LeadImport.from_file(
            self.start.file, self.start.filename or '',
            sheet=self.start.sheet or None, mapping=self._mapping(),
            total_rows=self.preview.total_rows)
        LeadImport.run([lead_import])
        # The action that follows opens what was just created.
        self._lead_import = lead_import
        return 'open_'

    def do_open_(self, action):
        action['res_id'] = [self._lead_import.id]
        action['views'].reverse()
        return action, {}
