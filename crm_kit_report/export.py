# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"A CRM report as a spreadsheet: the columns of its list, its rows for the "
"filters on screen"
import csv
import datetime as dt
import io
from decimal import Decimal
from xml.etree import ElementTree

from trytond.pool import Pool
from trytond.report import Report

from crm_kit.spreadsheet import neutralise


class ReportExport(Report):
    "Export a CRM report to CSV or XLSX"
    __name__ = 'crm.report.export'

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        IrModel = pool.get('ir.model')
        action = ActionReport(data['action_id'])
        model = data.get('model') or action.model
        Model = pool.get(model)
        ids = list(map(int, ids or []))
        cls.check_access(action, model, ids)
        # Nothing selected: the whole report as the filters show it.
        records = Model.browse(ids) if ids else Model.search([])
        header, rows = cls.table(Model, records)
        if action.extension == 'csv':
            content = cls.csv(header, rows)
        else:
            content = cls.xlsx(IrModel.get_name(model), header, rows)
        return (action.extension, content, False, IrModel.get_name(model))

    @classmethod
    def columns(cls, Model):
        "The names of the fields the model's list shows, in their order"
        view = Model.fields_view_get(view_type='tree')
        names = []
        for node in ElementTree.fromstring(view['arch']).iter('field'):
            name = node.get('name')
            if (node.get('tree_invisible') not in {'1', 'True'}
                    and name not in names and name in view['fields']):
                names.append(name)
        return names, view['fields']

    @classmethod
    def table(cls, Model, records):
        "The header and the rows of the records"
        names, definitions = cls.columns(Model)
        header = [definitions[n]['string'] for n in names]
        read_names = []
        for name in names:
            read_names.append(name)
            if definitions[name]['type'] in {'many2one', 'reference'}:
                read_names.append(name + '.rec_name')
        values = {v['id']: v for v in Model.read(
                [r.id for r in records], read_names)}
        rows = []
        for record in records:
            value = values[record.id]
            row = []
            for name in names:
                definition = definitions[name]
                cell = value[name]
                if definition['type'] in {'many2one', 'reference'}:
                    cell = (value.get(name + '.') or {}).get('rec_name', '')
                elif definition['type'] == 'selection':
                    cell = dict(definition['selection']).get(cell, cell)
                row.append(cell)
            rows.append(row)
        return header, rows

    @classmethod
    def csv(cls, header, rows):
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                ['' if c is None else neutralise(c) for c in row])
        # With a BOM, spreadsheets read the accents right.
        return output.getvalue().encode('utf-8-sig')

    @classmethod
    def xlsx(cls, title, header, rows):
        from openpyxl import Workbook
        from openpyxl.styles import Font
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = title[:31]
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([cls._xlsx_value(c) for c in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    # Text stays text: never a formula.
                    cell.data_type = 's'
        for column, name in zip(sheet.columns, header):
            sheet.column_dimensions[column[0].column_letter].width = max(
                10, min(40, len(name) + 2))
        sheet.freeze_panes = 'A2'
        output = io.BytesIO()
        workbook.save(output)
        return output.getvalue()

    @classmethod
    def _xlsx_value(cls, value):
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        return value
