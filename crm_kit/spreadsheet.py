# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Text that a spreadsheet would run as a formula when a file is opened.

Every file the CRM writes for a spreadsheet (sao's exports of the lists,
the reports' CSV and XLSX, the lead import's error file) passes its cells
through neutralise."""

# What makes a spreadsheet take a cell for a formula (some strip the tab
# and the carriage return before they look at the rest).
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def neutralise(value):
    """value, made inert when a spreadsheet would take it for a formula: a
    leading ' makes it text; numbers and dates are left alone"""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class FormulaSafeExport:
    """Exports of the model's lists (sao's Export, the /data/ URLs) have
    their formula-like text made inert"""
    __slots__ = ()

    @classmethod
    def export_data(cls, records, fields_names, header=False):
        return [[neutralise(v) for v in row]
            for row in super().export_data(
                records, fields_names, header=header)]
