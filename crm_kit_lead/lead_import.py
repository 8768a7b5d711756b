# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Importing a file of leads: the wizard that maps and previews it, the
import record that shows its progress and result, and the batch loop that
validates, de-duplicates, assigns and inserts the rows."""
import datetime as dt
import json
import sys
from collections import OrderedDict
from itertools import islice

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from crm_kit.bulk import insert_rows

from .intake import Entry, LeadIntake
from .lead_file import (
    CREATABLE_FIELDS, JOINED_FIELDS, LEAD_FIELDS, NUMBER_FORMATS,
    UNKNOWN_VALUES,
    LeadRowConverter, check_mapping, error_report, guess_mapping,
    number_formats, read_table)

# Rows validated, de-duplicated and inserted together: large enough for
# multi-row INSERTs and one duplicate query per key, small enough to
# keep memory flat whatever the size of the file.
BATCH = 1000
# Rows processed by one queue task: each task is one transaction, so an
# interrupted import keeps whole tasks and never half a row.
CHUNK = 10000
# The rows of the imports this process is reading, left where the last
# chunk stopped: {(database, import, created, row): (rows, columns)}.  The next
# chunk — the command's next transaction, the queue worker's next task —
# goes on reading instead of reading the file again from its start, which
# costs more for each chunk of a large file.  A chunk takes its reader out
# and puts it back only once done, so a chunk tried again reads the file.
_READERS = OrderedDict()
READERS = 4
# The model of the values a column may create
CREATABLE_MODELS = {'channel': 'crm.channel'}
# How many rows the wizard shows before importing.
PREVIEW = 10

IMPORT_STATES = [
    ('draft', "Draft"),
    ('queued', "Queued"),
    ('running', "Running"),
    ('done', "Done"),
    ('failed', "Failed"),
    ('reverted', "Reverted"),
    ]
# What an import does with a row whose lead exists already
DUPLICATE_ACTIONS = [
    ('skip', "Skip and Report"),
    ('update', "Update the Existing Lead"),
    ('create', "Create Anyway"),
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


def column_settings(table, template=None):
    """The number format and the choice for unknown values of each column
    of table, {index: (format, unknown)}: the template's, else the format
    guessed from the column's cells and unknown values left empty"""
    saved = template.settings_for(table.columns) if template else {}
    formats = number_formats(table)
    result = {}
    for index in range(len(table.columns)):
        number_format, unknown = saved.get(index, (None, None))
        result[index] = (number_format or formats[index], unknown or 'warn')
    return result


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

    def settings_for(self, columns):
        """The number format and the choice for unknown values of a
        file's columns, by their header names: {index: (format, unknown)}"""
        by_name = {c.column.strip().lower(): c for c in self.columns}
        result = {}
        for index, name in enumerate(columns):
            column = by_name.get(name.strip().lower())
            if column:
                result[index] = (column.number_format, column.unknown_values)
        return result


class LeadImportTemplateColumn(ModelSQL, ModelView):
    "Lead Import Template Column"
    __name__ = 'crm.lead.import.template.column'

    template = fields.Many2One(
        'crm.lead.import.template', "Template", required=True,
        ondelete='CASCADE')
    column = fields.Char("Column", required=True)
    field = fields.Selection('get_fields', "Lead Field", required=True)
    number_format = fields.Selection(NUMBER_FORMATS, "Number Format",
        sort=False, help="How the column writes its amounts.")
    unknown_values = fields.Selection(UNKNOWN_VALUES, "Unknown Values",
        sort=False,
        help="What a value of the column that matches no record does.")

    @classmethod
    def default_unknown_values(cls):
        return 'warn'

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
    warnings = fields.Integer("Imported with Warnings", readonly=True)
    duplicate_action = fields.Selection(DUPLICATE_ACTIONS, "Duplicates",
        required=True, sort=False,
        states={
            'readonly': Eval('state') != 'draft',
            },
        help="What the import does with a row whose lead exists already "
        "(same e-mail, phone, tax identifier or company, as the duplicate "
        "policy compares them).")
    leads = fields.One2Many(
        'sale.opportunity', 'lead_import', "Leads", readonly=True)
    revert_note = fields.Text("Reverted", readonly=True,
        states={
            'invisible': ~Eval('revert_note'),
            })
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
            ('done', 'reverted'),
            }
        cls._buttons.update({
                'run': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'revert': {
                    'invisible': Eval('state') != 'done',
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
    default_warnings = default_processed_rows

    @classmethod
    def default_duplicate_action(cls):
        return 'skip'

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
            # The rows to fix and import again: the rows imported with a
            # warning are in the leads already.
            result[lead_import.id] = error_report(columns, (
                    (p.row, json.loads(p.cells), p.reason)
                    for p in sorted(lead_import.problems,
                        key=lambda p: p.row)
                    if p.kind != 'warning'))
        return result

    def get_rec_name(self, name):
        return self.filename or str(self.id)

    def mapping(self):
        return {c.index: c.field for c in self.columns if c.field}

    @classmethod
    def from_file(cls, data, filename, sheet=None, mapping=None,
            template=None, total_rows=None, duplicate_action=None,
            settings=None):
        """A draft import of the file: the mapping given, else the
        template's, else guessed from the header; settings {index:
        (number format, unknown values)}, else the template's, else
        guessed"""
        lead_import = cls(filename=filename, file=data, sheet=sheet,
            duplicate_action=duplicate_action or cls.default_duplicate_action())
        table = lead_import.table()
        if mapping is None:
            mapping = (template.mapping_for(table.columns) if template
                else guess_mapping(table.columns))
        check_mapping(mapping)
        if settings is None:
            settings = column_settings(table, template)
        if total_rows is None:
            total_rows = sum(1 for _ in table.rows())
        lead_import.sheet = table.sheet
        lead_import.total_rows = total_rows
        lead_import.columns = [{
                'index': i,
                'name': name,
                'field': mapping.get(i),
                'number_format': settings.get(i, (None, 'warn'))[0],
                'unknown_values': settings.get(i, (None, 'warn'))[1],
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
    @ModelView.button
    @Workflow.transition('reverted')
    def revert(cls, imports):
        """Delete the leads each import created that nobody has worked on
        since, and say which were kept and why"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        for lead_import in imports:
            # The import's own leads, whoever they were given to: the
            # import is the user's (its record rules), the leads its work.
            with without_check_access():
                leads = Opportunity.search(
                    [('lead_import', '=', lead_import.id)],
                    order=[('id', 'ASC')])
                kept = Opportunity.changed_since_created(leads)
                reverted = [l for l in leads if l.id not in kept]
                Opportunity.delete_created(reverted)
            lines = [gettext('crm_kit_lead.msg_import_reverted',
                    deleted=len(reverted), kept=len(kept))]
            lines += [gettext('crm_kit_lead.msg_import_revert_kept',
                    lead=l.rec_name, reason=kept[l.id])
                for l in leads if l.id in kept]
            lead_import.revert_note = '\n'.join(lines)
        cls.save(imports)

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

    def converter(self, columns):
        "The converter of this import's rows"
        return LeadRowConverter(self.mapping(), columns=columns,
            formats={c.index: c.number_format for c in self.columns},
            unknown={c.index: c.unknown_values for c in self.columns})

    def import_rows(self, start, size=None):
        """Import up to size rows from data row start; return where the
        next chunk starts, or None when the file is done"""
        size = size or CHUNK
        # The database, the import (its creation tells it from an import
        # of the same id in a database created again) and the row.
        reader = (Transaction().database.name, self.id, self.create_date)
        source, columns = _READERS.pop(reader + (start,), (None, None))
        if source is None:
            table = self.table()
            source, columns = islice(table.rows(), start, None), table.columns
        converter = self.converter(columns)
        rows = islice(source, size)
        counts = dict.fromkeys(
            ['created', 'updated', 'skipped', 'rejected', 'warnings'], 0)
        read = 0
        sent = None
        # One road for the chunk: the duplicate policy chosen for this
        # import, the rules read once, the leads inserted in bulk.
        intake = LeadIntake(action=self.duplicate_action, storage='insert',
            fingerprints=True, cleaned=True)
        try:
            while True:
                batch = list(islice(rows, BATCH))
                if not batch:
                    break
                read += len(batch)
                batch_counts, sent = self.import_batch(
                    converter, batch, intake, sent)
                for status, count in batch_counts.items():
                    counts[status] += count
        finally:
            wait(sent)
        # Stored: the leads are created, for whoever listens (automation
        # rules, alerts, webhooks), as those created one by one are.
        intake.close()
        values = {k: (getattr(self, k) or 0) + v for k, v in counts.items()}
        values['processed_rows'] = processed = self.processed_rows + read
        self.write([self], values)
        if read < size or processed >= (self.total_rows or 0):
            self.done([self])
            return None
        _READERS[reader + (start + size,)] = (source, columns)
        while len(_READERS) > READERS:
            _READERS.popitem(last=False)
        return start + size

    def import_batch(self, converter, batch, intake, sent=None):
        """Convert one batch of rows and hand the good ones to the
        intake (duplicates, assignment, insert); return the count of each
        outcome and what send returned.

        sent is what the previous batch sent: its rows are converted while
        the database stores that batch, then waited for."""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Duplicate = pool.get('crm.lead.duplicate')
        Problem = pool.get('crm.lead.import.problem')

        counts = dict.fromkeys(
            ['created', 'updated', 'skipped', 'rejected', 'warnings'], 0)
        problems, entries = [], []
        for number, cells in batch:
            values, errors, warnings = converter.convert(number, cells)
            if errors:
                problems.append(Problem(lead_import=self, row=number,
                        kind='rejected', cells=json.dumps(cells),
                        reason='\n'.join(errors + warnings)))
                counts['rejected'] += 1
                continue
            values['lead_import'] = self.id
            entries.append(Entry(values, data=(number, cells, warnings)))
        # The duplicate search must see the previous batch's leads.
        wait(sent)
        later = [] if backend.name == 'postgresql' else None
        intake.receive(entries, later=later)

        # The existing leads are named in the reasons once the batch is
        # decided: browsing them together reads them in one query.
        duplicates = []
        for entry in entries:
            number, cells, warnings = entry.data
            counts[entry.status if entry.status != 'flagged'
                else 'created'] += 1
            if entry.status == 'skipped':
                problem = Problem(lead_import=self, row=number,
                    kind='skipped', cells=json.dumps(cells))
                if entry.reason == 'known':
                    problem.reason = gettext(
                        'crm_kit_lead.msg_import_already_imported')
                elif entry.reason == 'repeated':
                    problem.reason = gettext(
                        'crm_kit_lead.msg_import_duplicate_row',
                        row=entry.earlier.data[0])
                else:
                    duplicates.append((problem, entry))
                problems.append(problem)
            elif warnings:
                problems.append(Problem(lead_import=self, row=number,
                        kind='warning', cells=json.dumps(cells),
                        reason='\n'.join(warnings)))
                counts['warnings'] += 1
        # By their number, read alone: their record names would read
        # every field of each lead.
        names = {r['id']: r['number'] for r in Opportunity.read(
                list({e.lead for _, e in duplicates}), ['number'])}
        keys = {}
        for problem, entry in duplicates:
            matched = tuple(entry.candidates.matched)
            if matched not in keys:
                keys[matched] = Duplicate.describe(matched)
            problem.reason = gettext(
                'crm_kit_lead.msg_import_duplicate_lead',
                lead=names[entry.lead], keys=keys[matched])
        # Thousands of problems in a file of rejects: stored as the leads
        # are, without a create per row.
        now = dt.datetime.now()
        user = Transaction().user
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


class LeadImportColumn(ModelSQL, ModelView):
    "Lead Import Column"
    __name__ = 'crm.lead.import.column'

    lead_import = fields.Many2One(
        'crm.lead.import', "Import", required=True, ondelete='CASCADE')
    index = fields.Integer("Index", required=True)
    name = fields.Char("Column", readonly=True)
    field = fields.Selection('get_fields', "Lead Field")
    number_format = fields.Selection(NUMBER_FORMATS, "Number Format",
        sort=False, readonly=True)
    unknown_values = fields.Selection(UNKNOWN_VALUES, "Unknown Values",
        sort=False, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('lead_import')
        cls._order.insert(0, ('index', 'ASC'))

    @classmethod
    def default_unknown_values(cls):
        return 'warn'

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
            ('warning', "Imported with Warnings"),
            ], "Kind", readonly=True)
    cells = fields.Text("Cells", readonly=True)
    reason = fields.Text("Reason", readonly=True)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('kind') == 'rejected', 'danger',
                    If(Eval('kind') == 'warning', 'warning', ''))),
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
    duplicate_action = fields.Selection(DUPLICATE_ACTIONS, "Duplicates",
        required=True, sort=False,
        help="What the import does with a row whose lead exists already "
        "(same e-mail, phone, tax identifier or company, as the duplicate "
        "policy compares them).")

    @classmethod
    def default_duplicate_action(cls):
        return 'skip'


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
    number_format = fields.Selection(NUMBER_FORMATS, "Number Format",
        sort=False,
        states={
            'invisible': Eval('field') != 'amount',
            },
        help="How the column writes its amounts: 1.234,56 (Spanish) or "
        "1,234.56 (English).")
    unknown_values = fields.Selection(UNKNOWN_VALUES, "Unknown Values",
        sort=False,
        states={
            'invisible': ~Eval('field').in_(list(CREATABLE_FIELDS)),
            },
        help="A value that matches no record: leave the field empty "
        "(with a warning) or create it.")

    @classmethod
    def get_fields(cls):
        return lead_field_selection()


class ImportLeadsPreview(ModelView):
    "Import Leads"
    __name__ = 'crm.lead.import.wizard.preview'

    total_rows = fields.Integer("Rows", readonly=True)
    ignored_columns = fields.Text("Ignored Columns", readonly=True)
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
            ('warning', "Warning"),
            ('error', "Rejected"),
            ], "Status", readonly=True)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('status') == 'error', 'danger',
                    If(Eval('status') == 'warning', 'warning', ''))),
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
        settings = column_settings(table, self.start.template)
        first = next(iter(table.rows()), (None, []))[1]
        self.mapping.columns = [{
                'index': i,
                'name': name,
                'field': mapping.get(i),
                'sample': first[i] if i < len(first) else '',
                'number_format': settings[i][0],
                'unknown_values': settings[i][1],
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
                    'number_format': c.number_format,
                    'unknown_values': c.unknown_values,
                    } for c in self.mapping.columns],
            'sheets': self.mapping.sheets,
            'template_name': getattr(self.mapping, 'template_name', None),
            }

    def _mapping(self):
        mapping = {c.index: c.field for c in self.mapping.columns if c.field}
        fields = list(mapping.values())
        repeated = {f for f in fields
            if fields.count(f) > 1 and f not in JOINED_FIELDS}
        if repeated:
            labels = dict(lead_field_selection())
            raise ValidationError(gettext(
                    'crm_kit_lead.msg_import_field_mapped_twice',
                    fields=', '.join(sorted(labels[f] for f in repeated))))
        check_mapping(mapping)
        for column in self.mapping.columns:
            if (column.field in CREATABLE_FIELDS
                    and column.unknown_values == 'create'):
                ModelAccess = Pool().get('ir.model.access')
                if not ModelAccess.check(CREATABLE_MODELS[column.field],
                        'create', raise_exception=False):
                    raise ValidationError(gettext(
                            'crm_kit_lead.msg_import_channel_create_denied',
                            column=column.name))
        return mapping

    def _settings(self):
        return {c.index: (c.number_format, c.unknown_values)
            for c in self.mapping.columns}

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
                                        'number_format': c.number_format,
                                        'unknown_values': c.unknown_values,
                                        } for c in self.mapping.columns
                                    if c.field])],
                        }])
        table = self._table()
        settings = self._settings()
        # create=False: the preview says what the import would create.
        converter = LeadRowConverter(mapping, columns=table.columns,
            formats={i: f for i, (f, _) in settings.items()},
            unknown={i: u for i, (_, u) in settings.items()}, create=False)
        rows, total = [], 0
        for number, cells in table.rows():
            total += 1
            if len(rows) < PREVIEW:
                values, errors, warnings = converter.convert(number, cells)
                rows.append({
                        'row': number,
                        'lead': ' · '.join(
                            cells[i] for i in sorted(mapping)
                            if i < len(cells) and cells[i])[:200],
                        'problems': ' '.join(errors + warnings),
                        'status': ('error' if errors
                            else 'warning' if warnings else 'ok'),
                        })
        self.preview.rows = rows
        self.preview.total_rows = total
        ignored = [c.name for c in self.mapping.columns if not c.field]
        self.preview.ignored_columns = (gettext(
                'crm_kit_lead.msg_import_ignored_columns',
                columns=', '.join('"%s"' % c for c in ignored)) if ignored
            else gettext('crm_kit_lead.msg_import_no_ignored_columns'))
        return 'preview'

    def default_preview(self, fields):
        return {
            'total_rows': self.preview.total_rows,
            'ignored_columns': self.preview.ignored_columns,
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
            total_rows=self.preview.total_rows,
            duplicate_action=self.start.duplicate_action,
            settings=self._settings())
        LeadImport.run([lead_import])
        # The action that follows opens what was just created.
        self._lead_import = lead_import
        return 'open_'

    def do_open_(self, action):
        action['res_id'] = [self._lead_import.id]
        action['views'].reverse()
        return action, {}
