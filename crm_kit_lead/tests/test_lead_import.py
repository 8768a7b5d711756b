# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Importing a file of leads: wizard (through proteus), result, re-import."
import csv
import io
import unittest
from unittest.mock import patch

import openpyxl

from proteus import Model, Wizard
from proteus import config as pconfig

from trytond.tests.test_tryton import DB_NAME, drop_db
from trytond.tests.tools import set_user

from .tools import activate

HEADER = ["Empresa", "Nombre", "Correo electrónico", "Teléfono", "NIF/CIF",
    "Provincia", "Canal", "Importe"]
ROWS = [
    ["Talleres Gómez S.L.", "Ana López", "ana@gomez.test", "612345678",
        "B12345674", "Madrid", "web", "1.200,50"],
    ["Panadería Peña", "Luis Peña", "luis@pena.test", "+34 699 111 222",
        "", "Cádiz", "phone", ""],
    ["=HYPERLINK(\"http://x\")", "Eva", "eva@", "", "", "", "", ""],
    ["Talleres Gomez SL", "Ana", "ANA@gomez.test", "", "", "", "", ""],
    ]


def setup_company():
    "The company as crm-kit init sets it up: Spain, its provinces, IVA"
    from crmkit.company_setup import setup_company
    setup_company("Pruebas CRM S.L.")


def csv_bytes(rows, header=HEADER, delimiter=';', encoding='utf-8-sig'):
    output = io.StringIO()
    writer = csv.writer(output, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return output.getvalue().encode(encoding)


class ImportLeadsScenario(unittest.TestCase):
    "A sales manager imports a CSV of leads from sao"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate('crm_kit_lead', setup_company, user=0)
        cls.config = pconfig.set_trytond()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def setUp(self):
        set_user(1, self.config)

    def run_wizard(self, data, filename='leads.csv', template=None,
            template_name=None):
        wizard = Wizard('crm.lead.import.wizard')
        wizard.form.file = data
        wizard.form.filename = filename
        if template:
            wizard.form.template = template
        wizard.execute('read_file')
        if template_name:
            wizard.form.template_name = template_name
        mapping = {c.name: c.field for c in wizard.form.columns}
        wizard.execute('check')
        preview = [(r.row, r.status, r.problems) for r in wizard.form.rows]
        wizard.execute('import_')
        LeadImport = Model.get('crm.lead.import')
        lead_import, = LeadImport.find([], order=[('id', 'DESC')], limit=1)
        return mapping, preview, lead_import

    def test_import_maps_previews_and_reports(self):
        Opportunity = Model.get('sale.opportunity')
        mapping, preview, lead_import = self.run_wizard(
            csv_bytes(ROWS), template_name="Feria")
        self.assertEqual(mapping["Correo electrónico"], 'lead_email')
        self.assertEqual(mapping["NIF/CIF"], 'lead_tax_identifier')
        self.assertEqual(mapping["Provincia"], 'lead_subdivision')
        self.assertEqual([s for _, s, _ in preview],
            ['ok', 'ok', 'error', 'ok'], preview)
        self.assertIn("eva@", preview[2][2])

        self.assertEqual(lead_import.state, 'done')
        self.assertEqual(
            (lead_import.created, lead_import.updated, lead_import.skipped,
                lead_import.rejected), (2, 0, 1, 1))
        # The import skips duplicates and says of what, by default.
        self.assertEqual(lead_import.duplicate_action, 'skip')
        skipped, = [p for p in lead_import.problems if p.kind == 'skipped']
        self.assertEqual(
            (skipped.row, skipped.reason), (5, "Duplicate of row 2 of this file."))
        self.assertEqual(lead_import.progress, 1.0)
        report = lead_import.error_report.decode('utf-8-sig')
        self.assertIn("eva@", report)
        # The formula-looking cell comes back as text in the report.
        self.assertIn("'=HYPERLINK", report)
        self.assertIn('eva@;;;;;;4;', report)
        self.assertIn('"Correo electrónico"', report)

        lead, = Opportunity.find([('lead_email', '=', 'ana@gomez.test')])
        self.assertEqual(lead.state, 'lead')
        self.assertEqual(lead.lead_company, "Talleres Gómez S.L.")
        self.assertEqual(str(lead.amount), '1200.50')
        self.assertEqual(lead.lead_subdivision.code, 'ES-M')
        self.assertEqual(lead.channel.code, 'web')
        self.assertEqual(lead.stage.state, 'lead')
        self.assertEqual(len(lead.stage_logs), 1)

        # Importing the same file again creates nothing new.
        count = len(Opportunity.find([]))
        _, _, again = self.run_wizard(csv_bytes(ROWS))
        self.assertEqual(again.created, 0)
        self.assertEqual(len(Opportunity.find([])), count)

        # The saved template maps the next file.
        Template = Model.get('crm.lead.import.template')
        template, = Template.find([('name', '=', "Feria")])
        mapping, _, _ = self.run_wizard(csv_bytes(
                [["Otra S.A.", "Pepe", "pepe@otra.test", "", "", "", "", ""]]),
            template=template)
        self.assertEqual(mapping["Empresa"], 'lead_company')

    def test_import_assigns_by_rules(self):
        User = Model.get('res.user')
        Rule = Model.get('crm.assignment.rule')
        Opportunity = Model.get('sale.opportunity')
        admin = User(1)
        rule = Rule(name="Todo al admin", method='user', user=admin)
        rule.save()
        _, _, lead_import = self.run_wizard(csv_bytes([
                    ["Rules S.L.", "Rita", "rita@rules.test", "", "", "",
                        "", ""]]))
        lead, = Opportunity.find([('lead_email', '=', 'rita@rules.test')])
        self.assertEqual(lead.owner, admin)
        self.assertIn('Todo al admin', lead.assignment_reason)
        rule.active = False
        rule.save()

    def configure(self, **values):
        Configuration = Model.get('crm.lead.configuration')
        config = Configuration(1)
        for name, value in values.items():
            setattr(config, name, value)
        config.save()

    def people(self, prefix, count):
        return [[f"{prefix} {i} S.L.", f"Persona {i}", f"{prefix}{i}@x.test",
                "", "", "", "", ""] for i in range(count)]

    def test_large_file_in_background(self):
        "A large file goes to the queue and is imported chunk by chunk"
        Opportunity = Model.get('sale.opportunity')
        self.configure(import_background_rows=3)
        try:
            with patch('crm_kit_lead.lead_import.CHUNK', 2):
                _, _, lead_import = self.run_wizard(
                    csv_bytes(self.people('bg', 5)))
        finally:
            self.configure(import_background_rows=2000)
        lead_import.reload()
        self.assertEqual(lead_import.state, 'done')
        self.assertEqual(
            (lead_import.processed_rows, lead_import.created), (5, 5))
        self.assertEqual(
            len(Opportunity.find([('lead_email', 'like', 'bg%')])), 5)

    def test_command_reads_the_file_once_for_all_chunks(self):
        "Each chunk goes on where the last one stopped"
        import tempfile
        from crmkit.cli import import_leads
        from crm_kit_lead.lead_import import LeadImport
        Opportunity = Model.get('sale.opportunity')
        original = LeadImport.table
        reads = []

        def table(self):
            reads.append(self.id)
            return original(self)
        with tempfile.NamedTemporaryFile(suffix='.csv') as file:
            file.write(csv_bytes(self.people('once', 5)))
            file.flush()
            with patch('crm_kit_lead.lead_import.CHUNK', 2), \
                    patch.object(LeadImport, 'table', table):
                _, counts = import_leads(
                    DB_NAME, file.name, log=lambda m: None)
        self.assertEqual(counts['created'], 5)
        # Once to count the rows, once for the three chunks.
        self.assertEqual(len(reads), 2)
        self.assertEqual(
            len(Opportunity.find([('lead_email', 'like', 'once%')])), 5)

    def test_failure_keeps_whole_chunks(self):
        "A failure mid-way keeps the chunks done and no half row"
        Opportunity = Model.get('sale.opportunity')
        from crm_kit_lead.opportunity import SaleOpportunity
        original = SaleOpportunity.insert_leads.__func__
        calls = []

        def failing(cls, values_list, choices, later=None):
            calls.append(len(values_list))
            if len(calls) == 2:
                raise RuntimeError("disk full")
            return original(cls, values_list, choices, later=later)

        self.configure(import_background_rows=3)
        try:
            with patch('crm_kit_lead.lead_import.CHUNK', 2), \
                    patch.object(SaleOpportunity, 'insert_leads',
                        classmethod(failing)):
                _, _, lead_import = self.run_wizard(
                    csv_bytes(self.people('fail', 5)))
        finally:
            self.configure(import_background_rows=2000)
        lead_import.reload()
        self.assertEqual(lead_import.state, 'failed')
        self.assertIn("disk full", lead_import.failure)
        self.assertEqual(lead_import.processed_rows, 2)
        self.assertEqual(
            len(Opportunity.find([('lead_email', 'like', 'fail%')])), 2)

    def test_failure_in_first_chunk(self):
        "A failure in the chunk that started the import is shown too"
        Opportunity = Model.get('sale.opportunity')
        from crm_kit_lead.opportunity import SaleOpportunity

        def failing(cls, values_list, choices, later=None):
            raise RuntimeError("disk full")

        self.configure(import_background_rows=3)
        try:
            with patch.object(SaleOpportunity, 'insert_leads',
                    classmethod(failing)):
                _, _, lead_import = self.run_wizard(
                    csv_bytes(self.people('first', 5)))
        finally:
            self.configure(import_background_rows=2000)
        lead_import.reload()
        self.assertEqual(lead_import.state, 'failed')
        self.assertIn("disk full", lead_import.failure)
        self.assertEqual(lead_import.processed_rows, 0)
        self.assertEqual(
            len(Opportunity.find([('lead_email', 'like', 'first%')])), 0)

    def test_command_failure_marks_import_failed(self):
        "crm-kit import-leads leaves a failed import failed, not running"
        import tempfile
        from crmkit.cli import import_leads
        from crm_kit_lead.opportunity import SaleOpportunity
        Opportunity = Model.get('sale.opportunity')
        LeadImport = Model.get('crm.lead.import')

        def failing(cls, values_list, choices, later=None):
            raise RuntimeError("disk full")

        with tempfile.NamedTemporaryFile(suffix='.csv') as file:
            file.write(csv_bytes(self.people('cli', 3)))
            file.flush()
            with patch.object(SaleOpportunity, 'insert_leads',
                    classmethod(failing)):
                with self.assertRaises(RuntimeError):
                    import_leads(DB_NAME, file.name, log=lambda m: None)
        lead_import, = LeadImport.find([], order=[('id', 'DESC')], limit=1)
        self.assertEqual(lead_import.state, 'failed')
        self.assertIn("disk full", lead_import.failure)
        self.assertEqual(
            len(Opportunity.find([('lead_email', 'like', 'cli%')])), 0)

    def test_skip_policy_and_xlsx_sheet(self):
        "An XLSX sheet is chosen; duplicates are skipped with their reason"
        self.configure(duplicate_action='skip')
        workbook = openpyxl.Workbook()
        workbook.active.title = "Notas"
        workbook.active.append(["nada"])
        sheet = workbook.create_sheet("Contactos")
        sheet.append(["Company", "E-mail", "Expected close date"])
        sheet.append(["Hierros Ruiz", "ruiz@hierros.test", "31/12/2026"])
        sheet.append(["Hierros Ruiz SA", "RUIZ@hierros.test", "2026-12-31"])
        output = io.BytesIO()
        workbook.save(output)
        try:
            wizard = Wizard('crm.lead.import.wizard')
            wizard.form.file = output.getvalue()
            wizard.form.filename = 'contactos.xlsx'
            wizard.form.sheet = "Contactos"
            wizard.execute('read_file')
            self.assertEqual(wizard.form.sheets, "Notas, Contactos")
            wizard.execute('check')
            wizard.execute('import_')
        finally:
            self.configure(duplicate_action='warn')
        LeadImport = Model.get('crm.lead.import')
        lead_import, = LeadImport.find([], order=[('id', 'DESC')], limit=1)
        self.assertEqual((lead_import.created, lead_import.skipped), (1, 1))
        problem, = lead_import.problems
        self.assertEqual(problem.row, 3)
        self.assertEqual(problem.reason, "Duplicate of row 2 of this file.")
        Opportunity = Model.get('sale.opportunity')
        lead, = Opportunity.find([('lead_email', '=', 'ruiz@hierros.test')])
        self.assertEqual(str(lead.expected_close_date), '2026-12-31')

    def test_spanish_spreadsheet_keeps_every_good_row(self):
        """A cp1252 semicolon CSV as Excel saves it in Spain, then an XLSX
        of the same people with other headers, then the import undone"""
        Opportunity = Model.get('sale.opportunity')
        Channel = Model.get('crm.channel')
        header = ["Nombre", "Apellidos", "Empresa", "Email", "Móvil",
            "Provincia", "Origen", "Importe estimado", "Fecha alta",
            "Notas internas"]
        rows = [
            ["Ana", "López García", "Talleres Gómez S.L.",
                "ana@spanish.test", "612345679", "Guipúzcoa", "Feria",
                "1.500,00", "15/01/2025", "cliente VIP"],
            # The same person: a duplicate of the row above, not a reject.
            ["Ana", "López", "Talleres Gomez SL", "ANA@spanish.test", "",
                "Gipuzkoa", "web", "750,5", "", ""],
            # A cell past the header, a co-official province name.
            ["Luis", "Ibarra", "Panadería Ibarra", "luis@spanish.test",
                "699 111 223", "Orense", "web", "12.000", "", "", "extra"],
            ["Eva", "Ruiz", "", "eva@spanish.test", "", "Vizcaya", "", "",
                "", ""],
            # An invalid NIF would be a warning; here: an unknown province.
            ["Iker", "", "Hierros Iker", "", "944 000 001", "Narnia", "",
                "", "", ""],
            ]
        data = '\r\n'.join(';'.join(r) for r in [header] + rows).encode(
            'cp1252')
        wizard = Wizard('crm.lead.import.wizard')
        wizard.form.file = data
        wizard.form.filename = 'ferias.csv'
        self.assertEqual(wizard.form.duplicate_action, 'skip')
        wizard.execute('read_file')
        columns = {c.name: c for c in wizard.form.columns}
        self.assertEqual(columns["Nombre"].field, 'lead_name')
        self.assertEqual(columns["Apellidos"].field, 'lead_name')
        self.assertEqual(columns["Importe estimado"].field, 'amount')
        self.assertEqual(columns["Importe estimado"].number_format, 'es')
        self.assertEqual(columns["Fecha alta"].field, 'lead_registered_on')
        self.assertEqual(columns["Notas internas"].field, None)
        wizard.execute('check')
        self.assertIn('"Notas internas"', wizard.form.ignored_columns)
        self.assertIn("will be ignored", wizard.form.ignored_columns)
        preview = {r.row: r for r in wizard.form.rows}
        self.assertEqual(preview[2].status, 'warning')
        self.assertIn('The channel "Feria"', preview[2].problems)
        self.assertEqual(preview[4].status, 'warning')
        self.assertIn("cells past the last column", preview[4].problems)
        self.assertEqual(preview[6].status, 'warning')
        wizard.execute('import_')
        LeadImport = Model.get('crm.lead.import')
        lead_import, = LeadImport.find([], order=[('id', 'DESC')], limit=1)
        self.assertEqual(
            (lead_import.created, lead_import.skipped, lead_import.rejected,
                lead_import.warnings), (4, 1, 0, 3))
        ana, = Opportunity.find([('lead_email', '=', 'ana@spanish.test')])
        self.assertEqual(ana.lead_name, "Ana López García")
        self.assertEqual(str(ana.amount), '1500.00')
        self.assertEqual(str(ana.lead_registered_on), '2025-01-15')
        self.assertEqual(ana.lead_subdivision.code, 'ES-SS')
        self.assertEqual(ana.channel, None)
        self.assertEqual(ana.lead_import, lead_import)
        luis, = Opportunity.find([('lead_email', '=', 'luis@spanish.test')])
        self.assertEqual(str(luis.amount), '12000.00')
        self.assertEqual(luis.lead_subdivision.code, 'ES-OR')
        eva, = Opportunity.find([('lead_email', '=', 'eva@spanish.test')])
        self.assertEqual(eva.lead_subdivision.code, 'ES-BI')
        iker, = Opportunity.find([('lead_company', '=', 'Hierros Iker')])
        self.assertEqual(iker.lead_subdivision, None)
        warned = {p.row: p.reason for p in lead_import.problems
            if p.kind == 'warning'}
        self.assertIn('The province "Narnia"', warned[6])
        self.assertIn("left empty", warned[6])
        skipped, = [p for p in lead_import.problems if p.kind == 'skipped']
        self.assertEqual(skipped.reason, "Duplicate of row 2 of this file.")
        # The report lists what to fix and import again, not the warnings.
        report = lead_import.error_report.decode('utf-8-sig')
        self.assertIn("ANA@spanish.test", report)
        self.assertNotIn("Narnia", report)

        # The same people in a workbook, other headers and order: they
        # are known by their identity, not by their row.
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(["E-mail", "Contact", "Company", "Phone", "Amount"])
        sheet.append(["ana@spanish.test", "Ana", "Talleres Gómez", "", 1500])
        sheet.append(["", "Luis Ibarra", "", "+34 699111223", 12000.5])
        sheet.append(["", "Iker", "Hierros Iker S.L.", "", None])
        output = io.BytesIO()
        workbook.save(output)
        count = len(Opportunity.find([]))
        _, preview, again = self.run_wizard(
            output.getvalue(), filename='ferias.xlsx')
        self.assertEqual(
            (again.created, again.skipped, again.rejected), (0, 3, 0))
        self.assertEqual(len(Opportunity.find([])), count)

        # Undo: the leads nobody touched go, the one worked on stays.
        luis.description = "Llamado: quiere presupuesto"
        luis.save()
        lead_import.click('revert')
        lead_import.reload()
        self.assertEqual(lead_import.state, 'reverted')
        self.assertEqual(Opportunity.find(
                [('lead_import', '=', lead_import.id)]), [luis])
        self.assertIn("3 leads deleted, 1 kept", lead_import.revert_note)
        self.assertIn(luis.rec_name, lead_import.revert_note)
        self.assertIn("changed on", lead_import.revert_note)
        self.assertEqual(Opportunity.find(
                [('lead_email', '=', 'ana@spanish.test')]), [])
        self.assertFalse(Channel.find([('name', '=', "Feria")]))

    def test_unknown_channel_created_when_the_column_says(self):
        Opportunity = Model.get('sale.opportunity')
        Channel = Model.get('crm.channel')
        wizard = Wizard('crm.lead.import.wizard')
        wizard.form.file = csv_bytes([
                ["Ferias S.L.", "Fermín", "fermin@ferias.test", "", "", "",
                    "Feria de Muestras", ""],
                ["Ferias 2 S.L.", "Fina", "fina@ferias.test", "", "", "",
                    "feria de muestras", ""]])
        wizard.form.filename = 'ferias.csv'
        wizard.execute('read_file')
        column, = [c for c in wizard.form.columns if c.name == "Canal"]
        column.unknown_values = 'create'
        wizard.execute('check')
        self.assertIn("will be created", wizard.form.rows[0].problems)
        # The preview creates nothing.
        self.assertFalse(Channel.find([('name', '=', "Feria de Muestras")]))
        wizard.execute('import_')
        channel, = Channel.find([('name', '=', "Feria de Muestras")])
        leads = Opportunity.find([('lead_email', 'like', '%@ferias.test')])
        self.assertEqual([l.channel for l in leads], [channel, channel])

    def test_required_column_missing(self):
        wizard = Wizard('crm.lead.import.wizard')
        wizard.form.file = csv_bytes([["x", "y"]], header=["Canal", "Importe"])
        wizard.form.filename = 'leads.csv'
        wizard.execute('read_file')
        with self.assertRaises(Exception) as cm:
            wizard.execute('check')
        self.assertIn("column", str(cm.exception).lower())

    def test_empty_file(self):
        wizard = Wizard('crm.lead.import.wizard')
        wizard.form.file = b'  '
        wizard.form.filename = 'leads.csv'
        with self.assertRaises(Exception) as cm:
            wizard.execute('read_file')
        self.assertIn("empty", str(cm.exception).lower())


