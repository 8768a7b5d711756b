# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"A CRM report as a spreadsheet: the columns of its list, its rows for the "
"filters on screen"
import csv
import datetime as dt
import io
from collections import namedtuple
from decimal import Decimal
from xml.etree import ElementTree

from trytond.pool import Pool
from trytond.report import Report

from crm_kit.spreadsheet import neutralise

# The digits of a number whose field does not say (an amount without its
# currency): as many as an amount has.
DEFAULT_DIGITS = 2
# The widgets that show a fraction as a percentage.
PERCENT_WIDGETS = {'progressbar', 'percentage'}


class Figure(namedtuple('Figure', ['value', 'digits', 'percent'])):
    """A number of a report as its list shows it: value rounded to digits,
    or a fraction shown as a percentage with digits"""
    __slots__ = ()

    @property
    def text(self):
        "As a CSV cell: 34.4, 1000.00, 25%"
        if self.percent:
            return '%.*f%%' % (self.digits, self.value * 100)
        if isinstance(self.value, Decimal):
            return str(self.value)  # quantized: exact
        return '%.*f' % (self.digits, self.value)

    @property
    def xlsx_format(self):
        "The spreadsheet's number format: its own separators, these digits"
        decimals = '.' + '0' * self.digits if self.digits else ''
        if self.percent:
            return '0%s%%' % decimals
        return '#,##0' + decimals


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
        """The names of the fields the model's list shows, in their order,
        their definitions and their widgets"""
        view = Model.fields_view_get(view_type='tree')
        names, widgets = [], {}
        for node in ElementTree.fromstring(view['arch']).iter('field'):
            name = node.get('name')
            if (node.get('tree_invisible') not in {'1', 'True'}
                    and name not in names and name in view['fields']):
                names.append(name)
                widgets[name] = node.get('widget')
        return names, view['fields'], widgets

    @classmethod
    def table(cls, Model, records):
        """The header and the rows of the records: the numbers rounded to
        what they mean, as the list shows them"""
        names, definitions, widgets = cls.columns(Model)
        header = [definitions[n]['string'] for n in names]
        read_names = []
        for name in names:
            read_names.append(name)
            if definitions[name]['type'] in {'many2one', 'reference'}:
                read_names.append(name + '.rec_name')
            digits = getattr(Model._fields[name], 'digits', None)
            if isinstance(digits, str):
                # The field of the currency whose digits the amount has.
                read_names.append(digits + '.digits')
        values = {v['id']: v for v in Model.read(
                [r.id for r in records], list(dict.fromkeys(read_names)))}
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
                elif definition['type'] in {'float', 'numeric'}:
                    cell = cls.figure(
                        cell, Model._fields[name], widgets[name], value)
                row.append(cell)
            rows.append(row)
        return header, rows

    @classmethod
    def figure(cls, value, field, widget, values):
        """value of field as a Figure: rounded to the field's digits (an
        amount to its currency's), a fraction shown as a percentage kept
        to the digits it has"""
        if value is None:
            return None
        digits = getattr(field, 'digits', None)
        if isinstance(digits, str):
            digits = (values.get(digits + '.') or {}).get('digits')
            if digits is None:
                digits = DEFAULT_DIGITS
        elif isinstance(digits, tuple):
            digits = digits[1]
        else:
            # No digits: as many as a person reads.
            digits = DEFAULT_DIGITS
        if widget in PERCENT_WIDGETS:
            # 0.25 is 25 %: only the digits left once multiplied by 100.
            percent = round(float(value) * 100, max(digits - 2, 0))
            digits = 0 if percent == int(percent) else max(digits - 2, 0)
            return Figure(round(percent / 100, digits + 2), digits, True)
        if isinstance(value, Decimal):
            return Figure(value.quantize(Decimal(1).scaleb(-digits)),
                digits, False)
        return Figure(round(value, digits), digits, False)

    @classmethod
    def csv(cls, header, rows):
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow(header)
        for row in rows:
            writer.writerow([cls._csv_value(c) for c in row])
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
            for cell, value in zip(sheet[sheet.max_row], row):
                if isinstance(cell.value, str):
                    # Text stays text: never a formula.
                    cell.data_type = 's'
                elif isinstance(value, Figure):
                    cell.number_format = value.xlsx_format
        for column, name in zip(sheet.columns, header):
            sheet.column_dimensions[column[0].column_letter].width = max(
                10, min(40, len(name) + 2))
        sheet.freeze_panes = 'A2'
        output = io.BytesIO()
        workbook.save(output)
        return output.getvalue()

    @classmethod
    def _csv_value(cls, value):
        if value is None:
            return ''
        if isinstance(value, Figure):
            # A number, never a formula: -12.5 stays -12.5.
            return value.text
        return neutralise(value)

    @classmethod
    def _xlsx_value(cls, value):
        if isinstance(value, Figure):
            return float(value.value)
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        return value
