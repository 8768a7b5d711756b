# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Reading a file of leads: formats, encodings and delimiters found
without asking, errors a user understands, columns guessed from their
names, rows converted into leads, rejected rows reported safely.

The file tests need no database; the conversion tests look records up
and run in a database with crm_kit_lead activated."""
import csv
import datetime as dt
import io
import tracemalloc
from decimal import Decimal

import openpyxl
import pytest
from stdnum.es import cif, dni, nie

from crm_kit_lead.identity import (
    clean_email, clean_phone, clean_tax_identifier)
from crm_kit_lead.lead_file import (
    HEADER_SYNONYMS, LEAD_FIELDS, REQUIRED_ANY, FormulaWithoutValue,
    LeadFileError, LeadRowConverter, NumberText, check_mapping,
    error_report, guess_mapping, guess_number_format, neutralise_cell,
    parse_amount, parse_date, read_table)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import LeadTestCase, create_product, setup_crm, zip_bomb

HEADER = ["Empresa", "Nombre", "Provincia"]
ROWS = [
    ["Panadería Peña", "Luis Peña", "Cádiz"],
    ["Talleres Gómez S.L.", "Ana López", "Madrid"],
    ]
# Check digits computed, not copied: the identifiers are valid.
VALID_DNI = '12345678' + dni.calc_check_digit('12345678')
VALID_NIE = 'X1234567' + nie.calc_check_digit('X1234567')
VALID_CIF = 'B1234567' + cif.calc_check_digits('B1234567')[0]


def csv_bytes(rows, header=HEADER, delimiter=',', encoding='utf-8'):
    output = io.StringIO()
    writer = csv.writer(output, delimiter=delimiter, lineterminator='\r\n')
    writer.writerow(header)
    writer.writerows(rows)
    return output.getvalue().encode(encoding)


def xlsx_bytes(sheets):
    "A workbook with a sheet of rows for each name of sheets"
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def file_error(data, filename='leads.csv', **kwargs):
    with pytest.raises(LeadFileError) as info:
        read_table(data, filename, **kwargs)
    return info.value


# Encodings

@pytest.mark.parametrize('encoding, found', [
        ('utf-8', 'utf-8'),
        ('utf-8-sig', 'utf-8-sig'),
        ('cp1252', 'cp1252'),
        ])
def test_csv_encoding_is_detected(encoding, found):
    table = read_table(csv_bytes(ROWS, encoding=encoding), 'leads.csv')
    assert table.encoding == found
    assert table.columns == HEADER
    assert [cells for _, cells in table.rows()] == ROWS


def test_csv_with_bytes_undefined_in_windows_1252_is_latin_1():
    data = "Ciudad\nCádiz\n".encode('latin-1') + b'\x81\n'
    table = read_table(data, 'leads.csv')
    assert table.encoding == 'latin-1'
    assert next(table.rows()) == (2, ["Cádiz"])


# Delimiters

@pytest.mark.parametrize('delimiter', [',', ';', '\t'])
def test_csv_delimiter_is_detected(delimiter):
    # The other delimiters inside a quoted header do not count.
    header = ["Empresa", "Nombre, apellidos; alias\tapodo", "Provincia"]
    table = read_table(
        csv_bytes(ROWS, header=header, delimiter=delimiter), 'leads.csv')
    assert table.delimiter == delimiter
    assert table.columns == header
    assert [cells for _, cells in table.rows()] == ROWS
    assert table.sheets == [] and table.sheet is None


def test_csv_quoting_and_row_numbers_as_a_spreadsheet_shows_them():
    data = (b'\r\nEmpresa;Notas\r\n'
        b'"Gomez; S.L.";"line 1\nline 2"\r\n'
        b';\r\n'
        b'"Say ""hi""";x\r\n')
    table = read_table(data, 'leads.csv')
    assert table.columns == ["Empresa", "Notas"]
    assert list(table.rows()) == [
        (3, ["Gomez; S.L.", "line 1\nline 2"]),
        (5, ['Say "hi"', "x"]),
        ]


def test_rows_can_be_read_again():
    table = read_table(csv_bytes(ROWS), 'leads.csv')
    assert list(table.rows()) == list(table.rows())


# Workbooks

def test_xlsx_reads_first_sheet_with_values_as_text():
    data = xlsx_bytes({
            "Leads": [
                ["Empresa", "Teléfono", "Importe", "Cierre", "Alta", "Notas"],
                [None, None, None, None, None, None],
                ["Peña", 612345678, 1200.5, dt.datetime(2024, 3, 1),
                    dt.datetime(2024, 3, 1, 9, 30), None],
                ],
            "Otra": [["Nombre"], ["Eva"]],
            })
    table = read_table(data, 'leads.xlsx')
    assert table.sheets == ["Leads", "Otra"]
    assert table.sheet == "Leads"
    assert table.delimiter is None
    assert table.columns == [
        "Empresa", "Teléfono", "Importe", "Cierre", "Alta", "Notas"]
    assert list(table.rows()) == [(3, [
                "Peña", "612345678", "1200.5", "2024-03-01",
                "2024-03-01 09:30:00", ""])]


def test_xlsx_reads_chosen_sheet():
    data = xlsx_bytes({"Leads": [["Empresa"], ["A"]],
            "Feria": [["Nombre"], ["Eva"], ["Luis"]]})
    table = read_table(data, 'leads.xlsx', sheet="feria ")
    assert table.sheet == "Feria"
    assert table.columns == ["Nombre"]
    assert list(table.rows()) == [(2, ["Eva"]), (3, ["Luis"])]


def test_xlsx_missing_sheet_names_the_sheets():
    data = xlsx_bytes({"Leads": [["Empresa"], ["A"]], "Feria": [["N"], ["E"]]})
    error = file_error(data, 'leads.xlsx', sheet="Hoja1")
    assert error.message_id == 'crm_kit_lead.msg_file_sheet_missing'
    assert error.params['sheet'] == "Hoja1"
    assert error.params['sheets'] == '"Leads", "Feria"'


def test_xlsx_is_recognised_by_its_content_whatever_its_name():
    data = xlsx_bytes({"Leads": [["Empresa"], ["A"]]})
    table = read_table(data, 'leads.csv')
    assert table.sheets == ["Leads"]


@pytest.mark.parametrize('data', [
        b'not a workbook at all',
        b'PK\x03\x04' + b'\x00' * 100,
        ])
def test_corrupt_xlsx_is_refused(data):
    error = file_error(data, 'leads.xlsx')
    assert error.message_id == 'crm_kit_lead.msg_file_xlsx_corrupt'


def test_truncated_xlsx_is_refused():
    data = xlsx_bytes({"Leads": [["Empresa"], ["A"]]})
    error = file_error(data[:len(data) // 2], 'leads.xlsx')
    assert error.message_id == 'crm_kit_lead.msg_file_xlsx_corrupt'


def test_xlsx_zip_bomb_is_refused_unread():
    data = zip_bomb('xl/worksheets/sheet1.xml', 64)
    assert len(data) < 200 * 1024
    tracemalloc.start()
    try:
        error = file_error(data, 'leads.xlsx')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.message_id == 'crm_kit_lead.msg_file_xlsx_too_large'
    assert peak < 8 * 1024 * 1024


# Files that cannot be imported

@pytest.mark.parametrize('data', [
        b'', b'  \r\n', b'\xef\xbb\xbf\n', b';;\n;\n'])
def test_empty_file_is_refused(data):
    error = file_error(data)
    assert error.message_id == 'crm_kit_lead.msg_file_empty'
    assert error.params == {'filename': 'leads.csv'}


def test_empty_workbook_is_refused():
    error = file_error(xlsx_bytes({"Leads": []}), 'leads.xlsx')
    assert error.message_id == 'crm_kit_lead.msg_file_empty'


@pytest.mark.parametrize('data', [
        b'Empresa;Nombre\r\n',
        b'Empresa;Nombre\r\n;\r\n\r\n',
        ])
def test_file_with_only_a_header_is_refused(data):
    error = file_error(data)
    assert error.message_id == 'crm_kit_lead.msg_file_no_rows'


def test_workbook_with_only_a_header_is_refused():
    error = file_error(xlsx_bytes({"Leads": [["Empresa"]]}), 'leads.xlsx')
    assert error.message_id == 'crm_kit_lead.msg_file_no_rows'


@pytest.mark.parametrize('data', [
        b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(range(256)) * 8,
        b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\x00' * 512,  # Excel 97
        bytes(range(1, 9)) * 100,
        ])
def test_binary_file_named_csv_is_refused(data):
    error = file_error(data)
    assert error.message_id == 'crm_kit_lead.msg_file_binary'
    assert error.params == {'filename': 'leads.csv'}


def test_file_over_size_limit_is_refused_with_sizes_in_mb():
    data = b'Empresa\r\n' + (b'x' * 1022 + b'\r\n') * 1536
    error = file_error(data, max_size=2 ** 20)
    assert error.message_id == 'crm_kit_lead.msg_file_too_large'
    # 1 MB, as people write it, not 1.0 MB.
    assert (error.params['size'], error.params['limit']) == ('1.5', '1')
    assert read_table(data, 'leads.csv', max_size=2 * 2 ** 20).columns


def test_repeated_header_names_are_named():
    error = file_error(csv_bytes(
            [["a", "b", "c", "d"]],
            header=["Email", "Nombre", "email", "Nombre"]))
    assert error.message_id == 'crm_kit_lead.msg_file_header_repeated'
    assert error.params['columns'] == '"email", "Nombre"'


def test_empty_header_cell_is_refused_with_its_column_letter():
    error = file_error(b'Empresa;;Nombre\r\na;b;c\r\n')
    assert error.message_id == 'crm_kit_lead.msg_file_header_empty'
    assert error.params['column'] == 'B'


def test_trailing_empty_header_cells_are_ignored():
    table = read_table(b'Empresa;Nombre;;\r\na;b;;\r\n', 'leads.csv')
    assert table.columns == ["Empresa", "Nombre"]
    assert list(table.rows()) == [(2, ["a", "b"])]


def test_row_with_more_cells_than_header_is_still_read():
    table = read_table(b'Empresa;Nombre\r\na;b;extra\r\nc\r\n', 'leads.csv')
    assert list(table.rows()) == [(2, ["a", "b", "extra"]), (3, ["c", ""])]


def test_formula_looking_cells_are_read_as_text():
    formulas = ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)']
    table = read_table(csv_bytes([formulas], header=list("ABCD")), 'x.csv')
    assert next(table.rows()) == (2, formulas)


def test_xlsx_formula_without_saved_result_is_told_apart():
    """A formula whose result the file does not hold (openpyxl, like some
    exports, writes none) is not an empty cell: the converter warns"""
    data = xlsx_bytes({"Leads": [
                ["Nombre", "Apellidos", "Contacto", "Email"],
                ["Ana", "López", '=A2&" "&B2', "ana@x.test"],
                ["Luis", "Peña", "", "luis@x.test"],
                ]})
    _, first, second = [c for _, c in [(0, None)] + [
            r for r in read_table(data, 'x.xlsx').rows()]]
    assert isinstance(first[2], FormulaWithoutValue) and first[2] == ''
    assert not isinstance(second[2], FormulaWithoutValue)
    # A workbook without formulas is read once.
    plain = xlsx_bytes({"Leads": [["Nombre"], ["Ana"]]})
    assert list(read_table(plain, 'x.xlsx').rows()) == [(2, ["Ana"])]


def test_reading_100000_rows_streams():
    "rows() keeps memory flat whatever the size of the file"
    line = ('Talleres Gómez S.L.;Ana López;ana{0}@gomez.test;'
        '+34 612 345 678;B12345674;Madrid;web;1.200,50\r\n')
    data = ('Empresa;Nombre;Email;Teléfono;NIF;Provincia;Canal;Importe\r\n'
        + ''.join(line.format(i) for i in range(100000))).encode('utf-8')
    assert len(data) > 9 * 2 ** 20
    tracemalloc.start()
    try:
        table = read_table(data, 'leads.csv')
        count = sum(1 for _ in table.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100000
    # Holding the rows would take 70 MB; streaming them takes 3.
    assert peak < 20 * 2 ** 20


# Mapping

def test_header_guessing_from_spanish():
    columns = ["Nombre y apellidos", "Razón social", "Correo electrónico",
        "Móvil", "NIF/CIF", "Dirección", "C.P.", "Población", "Provincia",
        "País", "Idioma", "Asunto", "Observaciones", "Importe", "Origen",
        "Fecha de cierre", "Fecha alta", "Producto", "Comercial",
        "Referencia", "Otra"]
    assert guess_mapping(columns) == dict(enumerate(LEAD_FIELDS))


def test_header_guessing_from_english():
    columns = ["Full Name", "Company", "E-mail", "Phone", "VAT number",
        "Address", "ZIP code", "City", "State", "Country", "Language",
        "Subject", "Notes", "Budget", "Lead Source", "Close date",
        "Registered on", "Product interest", "Assigned to", "External ID"]
    assert guess_mapping(columns) == dict(enumerate(LEAD_FIELDS))


@pytest.mark.parametrize('column', [
        "Correo electrónico", "CORREO ELECTRONICO", "E-mail", "email",
        " mail ", "e_mail"])
def test_header_guessing_ignores_case_accents_spaces_punctuation(column):
    assert guess_mapping(["Otra", column]) == {1: 'lead_email'}


def test_header_guessing_maps_a_field_once():
    assert guess_mapping(["Email", "Correo", "Teléfono"]) == {
        0: 'lead_email', 2: 'lead_phone'}


def test_header_guessing_of_a_spanish_spreadsheet_loses_nothing():
    "The name and the surnames both make the contact name"
    columns = ["Nombre", "Apellidos", "Empresa", "Importe estimado",
        "Fecha alta", "Origen", "Provincia", "CP", "Móvil"]
    assert guess_mapping(columns) == {
        0: 'lead_name', 1: 'lead_name', 2: 'lead_company', 3: 'amount',
        4: 'lead_registered_on', 5: 'channel', 6: 'lead_subdivision',
        7: 'lead_postal_code', 8: 'lead_phone'}


@pytest.mark.parametrize('samples, delimiter, language, number_format', [
        (["1.500,00", "750,5"], ',', 'en', 'es'),
        (["1,500.00", "12"], ';', 'es', 'en'),
        (["12.000", "3.500"], ';', 'en', 'es'),
        (["12.000"], ',', 'es', 'en'),
        (["12000"], None, 'es', 'es'),
        (["12000"], None, 'en', 'en'),
        ])
def test_number_format_of_a_column_is_guessed(
        samples, delimiter, language, number_format):
    assert guess_number_format(
        samples, delimiter, language) == number_format


@pytest.mark.parametrize('value, number_format, amount', [
        ("1.500,00", 'es', Decimal('1500.00')),
        ("12.000", 'es', Decimal('12000')),
        ("750,5", 'es', Decimal('750.5')),
        ("1,500.00", 'en', Decimal('1500.00')),
        ("12.000", 'en', Decimal('12.000')),
        ("1,500", 'en', Decimal('1500')),
        ("1.5", 'es', None),
        ("750,5", 'en', None),
        ])
def test_amounts_are_read_as_the_column_says(value, number_format, amount):
    if amount is None:
        with pytest.raises(ValueError):
            parse_amount(value, number_format)
    else:
        assert parse_amount(value, number_format) == amount


def test_workbook_numbers_ignore_the_column_format():
    assert parse_amount(NumberText(1500.5), 'es') == Decimal('1500.5')


def test_every_synonym_names_one_field():
    assert list(HEADER_SYNONYMS) == LEAD_FIELDS
    mapped = [guess_mapping([s]) for f in LEAD_FIELDS
        for s in HEADER_SYNONYMS[f]]
    expected = [{0: f} for f in LEAD_FIELDS for _ in HEADER_SYNONYMS[f]]
    assert mapped == expected


def test_required_column_missing_is_refused():
    with pytest.raises(LeadFileError) as info:
        check_mapping({0: 'channel', 1: 'amount'})
    assert info.value.message_id == 'crm_kit_lead.msg_file_required_column'
    assert info.value.params['fields'] == ', '.join(REQUIRED_ANY)


@pytest.mark.parametrize('field', REQUIRED_ANY)
def test_any_way_to_reach_the_lead_is_enough(field):
    check_mapping({3: field, 4: 'amount'})


# Values

@pytest.mark.parametrize('value, amount', [
        ("1234.5", Decimal('1234.5')),
        ("1234,5", Decimal('1234.5')),
        ("1.234,50", Decimal('1234.50')),
        ("1,234.50", Decimal('1234.50')),
        ("1.234.567", Decimal('1234567')),
        ("1.234.567,89 €", Decimal('1234567.89')),
        ("€ 1 200", Decimal('1200')),
        ("1\u00a0200,00€", Decimal('1200.00')),
        ("-15,5", Decimal('-15.5')),
        ("0", Decimal('0')),
        ])
def test_amounts_are_parsed_spanish_or_english(value, amount):
    assert parse_amount(value) == amount


@pytest.mark.parametrize('value', [
        "abc", "12a", "1.2.3,4", "1,2,3", "1.23.456,7", "--5", "=1+1", "€",
        "1e5"])
def test_malformed_amounts_are_refused(value):
    with pytest.raises(ValueError):
        parse_amount(value)


@pytest.mark.parametrize('value', [
        "31/01/2024", "31-01-2024", "31.01.2024", "2024-01-31",
        "2024-01-31 10:30:00", "2024-01-31T10:30:00"])
def test_dates_day_first_and_iso(value):
    assert parse_date(value) == dt.date(2024, 1, 31)


@pytest.mark.parametrize('value', [
        "31/02/2024", "2024/01/31", "31/01/24", "31/01-2024", "mañana",
        "45321", "2024-1-31"])
def test_malformed_dates_are_refused(value):
    with pytest.raises(ValueError):
        parse_date(value)


def test_email_domain_is_lowercased():
    assert clean_email(" Ana.Lopez@GOMEZ.Test ") == "Ana.Lopez@gomez.test"


@pytest.mark.parametrize('value', [
        "eva@", "@gomez.test", "ana@gomez", "ana gomez@x.es", "a@b@c.es",
        "ana@gomez..es", "ana.gomez.test"])
def test_malformed_emails_are_refused(value):
    with pytest.raises(ValueError):
        clean_email(value)


@pytest.mark.parametrize('value, region, phone', [
        ("612345678", 'ES', "+34 612 34 56 78"),
        ("+34 612-345-678", 'ES', "+34 612 34 56 78"),
        ("0034 912 345 678", 'ES', "+34 912 34 56 78"),
        ("01 42 68 53 00", 'FR', "+33 1 42 68 53 00"),
        ])
def test_phones_are_stored_international(value, region, phone):
    assert clean_phone(value, region) == phone


@pytest.mark.parametrize('value', [
        "12", "call me", "+34 612", "6123456789012"])
def test_malformed_phones_are_refused(value):
    with pytest.raises(ValueError):
        clean_phone(value)


@pytest.mark.parametrize('value, compact', [
        (VALID_DNI, VALID_DNI),
        (VALID_NIE.lower(), VALID_NIE),
        (VALID_CIF[0] + '-' + VALID_CIF[1:], VALID_CIF),
        ('ES ' + VALID_CIF, VALID_CIF),
        ("FR 40 303 265 045", "FR40303265045"),
        ])
def test_valid_tax_identifiers_are_stored_compact(value, compact):
    assert clean_tax_identifier(value) == compact


@pytest.mark.parametrize('value', [
        VALID_DNI[:-1] + ('A' if VALID_DNI[-1] != 'A' else 'B'),
        VALID_CIF[:-1] + str((int(VALID_CIF[-1]) + 1) % 10),
        "X1234567A", "FR40303265046", "12345", "ZZ123456789"])
def test_invalid_tax_identifiers_are_refused(value):
    with pytest.raises(ValueError):
        clean_tax_identifier(value)


# Error report

@pytest.mark.parametrize('value', [
        '=1+1', '+34 612', '-2', '@SUM(A1)', '\t=1', '\r=1'])
def test_formula_looking_cells_are_neutralised(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize('value, neutral', [
        ("Peña", "Peña"), ("a=b", "a=b"), ("", ""), (None, ""), (3, "3")])
def test_other_cells_are_left_alone(value, neutral):
    assert neutralise_cell(value) == neutral


def read_report(report):
    assert report.startswith(b'\xef\xbb\xbf')
    return list(csv.reader(
            io.StringIO(report.decode('utf-8-sig'), newline=''),
            delimiter=';'))


def test_error_report_gives_original_cells_row_and_reason():
    report = error_report(["Empresa", "=Nombre"], [
            (3, ['=HYPERLINK("http://x")', "Eva"],
                ["Bad e-mail", "Bad phone"]),
            (5, ["Peña"], "Too short"),
            (7, ["a", "b", "extra"], "Too long"),
            ])
    header, *lines = read_report(report)
    assert header[:2] == ["Empresa", "'=Nombre"]
    assert len(header) == 4
    assert lines == [
        ["'=HYPERLINK(\"http://x\")", "Eva", "3", "Bad e-mail\nBad phone"],
        ["Peña", "", "5", "Too short"],
        # The row and reason stay under their columns.
        ["a", "b", "7", "Too long", "extra"],
        ]


def test_error_report_of_no_rows_is_its_header():
    header, = read_report(error_report(["Empresa"], iter([])))
    assert header[0] == "Empresa"


# Conversion of rows into leads

CONVERTED_HEADER = [
    "Nombre", "Empresa", "Email", "Teléfono", "NIF", "Calle", "CP", "Ciudad",
    "Provincia", "País", "Idioma", "Asunto", "Notas", "Importe", "Canal",
    "Cierre", "Alta", "Producto", "Comercial", "Ref"]


class LeadRowConverterTestCase(LeadTestCase):
    "Rows become lead values, or the reasons they cannot"

    def setup_places(self):
        pool = Pool()
        Country = pool.get('country.country')
        Subdivision = pool.get('country.subdivision')
        Lang = pool.get('ir.lang')
        spain, = Country.search([('code', '=', 'ES')])
        france, = Country.create([{
                    'name': "France", 'code': 'FR', 'code3': 'FRA'}])

        def subdivision(code, name, type_, parent=None):
            "The subdivision as the ISO lists name it, created if missing"
            found = Subdivision.search([('code', '=', code)])
            if found:
                record, = found
            else:
                record = Subdivision(code=code, country=spain, type=type_,
                    parent=parent)
            record.name = name
            record.save()
            return record

        # Provinces below their autonomous communities, as
        # trytond_import_countries loads them.
        community = 'autonomous community'
        madrid = subdivision('ES-M', "Madrid", 'province',
            subdivision('ES-MD', "Madrid, Comunidad de", community))
        coruna = subdivision('ES-C', "Coruña, A", 'province',
            subdivision('ES-GA', "Galicia", community))
        cadiz = subdivision('ES-CA', "Cádiz", 'province',
            subdivision('ES-AN', "Andalucía", community))
        cantabria = subdivision('ES-S', "Cantabria", 'province',
            subdivision('ES-CB', "Cantabria", community))
        alicante = subdivision('ES-A', "Alicante [Alacant]", 'province',
            subdivision('ES-VC', "Valenciana, Comunitat", community))
        paris, = Subdivision.create([{'name': "Paris", 'code': 'FR-75',
                    'type': 'metropolitan department', 'country': france.id}])
        # Spanish set up as crm-kit init does, with its names of languages.
        Lang.write(Lang.search([('code', '=', 'es')]), {'translatable': True})
        en, = Lang.search([('code', '=', 'en')])
        with Transaction().set_context(language='es'):
            Lang.write([en], {'name': "Inglés"})
            Lang.write(Lang.search([('code', '=', 'es')]),
                {'name': "Español"})
        return {
            'spain': spain.id, 'france': france.id, 'madrid': madrid.id,
            'coruna': coruna.id, 'cadiz': cadiz.id, 'cantabria': cantabria.id,
            'alicante': alicante.id, 'paris': paris.id}

    def setup_data(self):
        return setup_crm(), self.setup_places()

    def converter(self, crm, *fields):
        "A converter of one column per field, named after its field"
        return LeadRowConverter(dict(enumerate(fields)), company=crm.company,
            columns=list(fields))

    def convert(self, converter, *cells, row=2):
        "The values and the reasons, rejecting or warning"
        values, errors, warnings = converter.convert(row, list(cells))
        return values, errors + warnings

    def lookup(self, model, **domain):
        record, = Pool().get(model).search(
            [(k, '=', v) for k, v in domain.items()])
        return record.id

    @with_transaction()
    def test_full_row(self):
        "A full row gives every lead field its type"
        crm, places = self.setup_data()
        converter = LeadRowConverter(dict(enumerate(LEAD_FIELDS)),
            company=crm.company, columns=CONVERTED_HEADER)
        values, errors, warnings = converter.convert(2, [
                " Ana López ", "Talleres Gómez S.L.", "Ana@GOMEZ.test",
                "612 345 678", 'es' + VALID_CIF, "Calle Mayor 1", "28013",
                "Madrid", "Madrid", "España", "es_ES", "CRM para el taller",
                "Llamar por la tarde", "1.200,50 €", "web", "31/12/2025",
                "15/01/2025", crm.product.name.upper(), "rep", "EXT-1"])
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(values, {
                'lead_name': "Ana López",
                'lead_company': "Talleres Gómez S.L.",
                'lead_email': "Ana@gomez.test",
                'lead_phone': "+34 612 34 56 78",
                'phone_key': "+34612345678",
                'lead_tax_identifier': VALID_CIF,
                'tax_key': VALID_CIF,
                'lead_street': "Calle Mayor 1",
                'lead_postal_code': "28013",
                'lead_city': "Madrid",
                'lead_subdivision': places['madrid'],
                'lead_country': places['spain'],
                'lead_language': self.lookup('ir.lang', code='es'),
                'description': "CRM para el taller",
                'comment': "Llamar por la tarde",
                'amount': Decimal('1200.50'),
                'channel': self.lookup('crm.channel', code='web'),
                'expected_close_date': dt.date(2025, 12, 31),
                'lead_registered_on': dt.date(2025, 1, 15),
                'product': crm.product.id,
                'owner': crm.rep.id,
                'reference': "EXT-1",
                })

    @with_transaction()
    def test_countries_by_code_and_name_in_english_and_spanish(self):
        crm, places = self.setup_data()
        converter = self.converter(crm, 'lead_name', 'lead_country')
        for value in ["ES", "esp", "España", "ESPAÑA", "spain", "Espana"]:
            values, errors = self.convert(converter, "Ana", value)
            self.assertEqual(
                (values.get('lead_country'), errors), (places['spain'], []),
                value)
        values, errors, warnings = converter.convert(2, ["Ana", "Narnia"])
        self.assertEqual((values, errors, warnings), ({'lead_name': "Ana"},
                [], ['The country "Narnia" in column "lead_country" is '
                    'unknown. The field is left empty.']))

    @with_transaction()
    def test_provinces_by_code_and_name(self):
        """Provinces are found however they are written, in the company's
        country by default"""
        crm, places = self.setup_data()
        converter = self.converter(crm, 'lead_name', 'lead_subdivision')
        for value, place in [
                ("Madrid", 'madrid'), ("ES-M", 'madrid'), ("m", 'madrid'),
                ("A Coruña", 'coruna'), ("La Coruña", 'coruna'),
                ("coruna", 'coruna'), ("CADIZ", 'cadiz'),
                ("Cantabria", 'cantabria'), ("Alicante", 'alicante'),
                ("Alacant", 'alicante')]:
            values, errors = self.convert(converter, "Ana", value)
            self.assertEqual(errors, [], value)
            self.assertEqual(values['lead_subdivision'], places[place], value)
            self.assertEqual(values['lead_country'], places['spain'], value)

    @with_transaction()
    def test_provinces_of_the_row_country(self):
        crm, places = self.setup_data()
        converter = self.converter(
            crm, 'lead_name', 'lead_country', 'lead_subdivision')
        values, errors = self.convert(converter, "Ana", "France", "Paris")
        self.assertEqual(errors, [])
        self.assertEqual(values['lead_subdivision'], places['paris'])
        _, errors = self.convert(converter, "Ana", "France", "Madrid")
        self.assertEqual(errors, ['The province "Madrid" in column '
                '"lead_subdivision" is not one of the country of the lead. '
                'The field is left empty.'])
        _, errors = self.convert(converter, "Ana", "", "Paris")
        self.assertEqual(len(errors), 1)

    @with_transaction()
    def test_languages_by_code_and_name(self):
        crm, _ = self.setup_data()
        converter = self.converter(crm, 'lead_name', 'lead_language')
        es = self.lookup('ir.lang', code='es')
        en = self.lookup('ir.lang', code='en')
        for value, lang in [
                ("es", es), ("es_ES", es), ("ES-es", es), ("Spanish", es),
                ("Español", es), ("espanol", es), ("en", en), ("en_US", en),
                ("English", en), ("Inglés", en)]:
            values, errors = self.convert(converter, "Ana", value)
            self.assertEqual((values.get('lead_language'), errors),
                (lang, []), value)
        _, errors = self.convert(converter, "Ana", "Klingon")
        self.assertEqual(errors, ['The language "Klingon" in column '
                '"lead_language" is unknown. The field is left empty.'])

    @with_transaction()
    def test_channels_products_and_owners(self):
        "Channels, products and owners by code or name, in any case"
        crm, _ = self.setup_data()
        pool = Pool()
        Channel = pool.get('crm.channel')
        web = self.lookup('crm.channel', code='web')
        product = crm.product
        product.suffix_code = 'CONS-H'
        product.save()
        converter = self.converter(
            crm, 'lead_name', 'channel', 'product', 'owner')
        for cells in [
                ["WEB", "cons-h", "REP"],
                [Channel(web).name.upper(), product.name.lower(), "Rep"],
                ]:
            values, errors = self.convert(converter, "Ana", *cells)
            self.assertEqual(errors, [], cells)
            self.assertEqual(
                (values['channel'], values['product'], values['owner']),
                (web, product.id, crm.rep.id))
        values, errors, warnings = converter.convert(
            2, ["Ana", "foo", "bar", "nadie"])
        self.assertEqual((values, errors), ({'lead_name': "Ana"}, []))
        self.assertEqual(warnings, [
                'The channel "foo" in column "channel" is unknown. '
                'The field is left empty.',
                'The product "bar" in column "product" is unknown or not '
                'for sale. The field is left empty.',
                'The user "nadie" in column "owner" is unknown. '
                'The field is left empty.'])

    @with_transaction()
    def test_lookups_are_read_once(self):
        "Converting rows queries nothing: what is created after is unknown"
        crm, _ = self.setup_data()
        Channel = Pool().get('crm.channel')
        converter = self.converter(crm, 'lead_name', 'channel')
        Channel.create([{'name': "Feria", 'code': 'fair'}])
        _, errors = self.convert(converter, "Ana", "fair")
        self.assertEqual(len(errors), 1)
        values, errors = self.convert(
            self.converter(crm, 'lead_name', 'channel'), "Ana", "Feria")
        self.assertEqual(errors, [])

    @with_transaction()
    def test_products_not_for_sale_or_shared_names(self):
        crm, _ = self.setup_data()
        Template = Pool().get('product.template')
        with Transaction().set_context(company=crm.company.id):
            other = create_product(name=crm.product.name)
            hidden = create_product(name="Interno")
        Template.write([hidden.template], {'salable': False})
        converter = self.converter(crm, 'lead_name', 'product')
        _, errors = self.convert(converter, "Ana", "interno")
        self.assertEqual(len(errors), 1)
        self.assertIn('"interno"', errors[0])
        _, errors = self.convert(converter, "Ana", crm.product.name)
        self.assertEqual(errors, ['The value "%s" in column "product" matches '
                'several records: write its code (or login) instead. '
                'The field is left empty.' % crm.product.name])
        self.assertNotEqual(other, crm.product)

    @with_transaction()
    def test_malformed_identity_names_value_and_column(self):
        crm, _ = self.setup_data()
        converter = LeadRowConverter(
            {0: 'lead_email', 1: 'lead_phone', 2: 'lead_tax_identifier'},
            company=crm.company, columns=["Correo", "Móvil", "NIF/CIF"])
        _, errors, warnings = converter.convert(
            4, ["eva@", "12", VALID_CIF[:-1] + 'X'])
        self.assertEqual(errors, [
                'The e-mail "eva@" in column "Correo" is not valid.',
                'The phone number "12" in column "Móvil" is not valid.',
                ])
        # An invalid tax identifier does not reject the lead.
        self.assertEqual(warnings, [
                'The tax identifier "%s" in column "NIF/CIF" is not a valid '
                'NIF/CIF/NIE or EU VAT number. The lead keeps it as written.'
                % (VALID_CIF[:-1] + 'X'),
                ])
        values, errors, warnings = converter.convert(
            5, ["eva@example.com", "", VALID_CIF[:-1] + 'X'])
        self.assertEqual((values['lead_tax_identifier'], errors),
            (VALID_CIF[:-1] + 'X', []))

    @with_transaction()
    def test_valid_nif_cif_nie(self):
        crm, _ = self.setup_data()
        converter = self.converter(crm, 'lead_name', 'lead_tax_identifier')
        for value, compact in [
                (VALID_DNI, VALID_DNI), (VALID_NIE, VALID_NIE),
                (VALID_CIF, VALID_CIF), ('ES-' + VALID_CIF, VALID_CIF)]:
            self.assertEqual(self.convert(converter, "Ana", value),
                ({'lead_name': "Ana", 'lead_tax_identifier': compact,
                        'tax_key': compact}, []))

    @with_transaction()
    def test_phone_of_the_row_country(self):
        "Numbers without prefix are of the lead's country, else the company's"
        crm, _ = self.setup_data()
        converter = self.converter(crm, 'lead_phone', 'lead_country')
        self.assertEqual(self.convert(converter, "01 42 68 53 00", "FR")[0]
            ['lead_phone'], "+33 1 42 68 53 00")
        self.assertEqual(self.convert(converter, "912 345 678", "")[0],
            {'lead_phone': "+34 912 34 56 78", 'phone_key': "+34912345678"})

    @with_transaction()
    def test_formula_looking_text_is_kept_exactly(self):
        crm, _ = self.setup_data()
        converter = self.converter(
            crm, 'lead_company', 'lead_name', 'comment', 'lead_phone',
            'amount')
        values, errors = self.convert(converter,
            '=HYPERLINK("http://x")', '@SUM(A1) ', '\t-1', "+34 612345678",
            "0")
        self.assertEqual(errors, [])
        self.assertEqual(values['lead_company'], '=HYPERLINK("http://x")')
        self.assertEqual(values['lead_name'], '@SUM(A1) ')
        self.assertEqual(values['comment'], '\t-1')
        self.assertEqual(values['lead_phone'], "+34 612 34 56 78")
        _, errors = self.convert(converter, "Gómez", "", "", "", "-5")
        self.assertEqual(errors, [
                'The amount "-5" in column "amount" is negative.'])
        _, errors = self.convert(converter, "Gómez", "", "", "", "=1+1")
        self.assertEqual(errors, [
                'The amount "=1+1" in column "amount" is not a number.'])

    @with_transaction()
    def test_amounts_and_dates(self):
        crm, _ = self.setup_data()
        converter = self.converter(
            crm, 'lead_name', 'amount', 'expected_close_date')
        for amount, date in [
                ("1.234,50", "31/12/2025"), ("1,234.5", "2025-12-31"),
                ("1234,5", "31.12.2025"), ("1234.50", "2025-12-31 00:00:00")]:
            values, errors = self.convert(converter, "Ana", amount, date)
            self.assertEqual(errors, [])
            self.assertEqual(values['amount'], Decimal('1234.50'))
            self.assertEqual(
                values['expected_close_date'], dt.date(2025, 12, 31))
        _, errors = self.convert(converter, "Ana", "1.234", "12/31/2025")
        self.assertEqual(errors, [
                'The amount "1.234" in column "amount" has more than 2 '
                'decimals.',
                'The date "12/31/2025" in column "expected_close_date" is not '
                'valid: write it as dd/mm/yyyy or yyyy-mm-dd.'])

    @with_transaction()
    def test_row_errors(self):
        "Rows too long, empty or with values too long are refused"
        crm, _ = self.setup_data()
        converter = LeadRowConverter({0: 'lead_name', 2: 'comment'},
            company=crm.company, columns=["Nombre", "Otra", "Notas"])
        # An extra cell is a warning: the row is kept.
        self.assertEqual(converter.convert(7, ["a", "b", "c", "extra"]), (
                {'lead_name': "a", 'comment': "c"}, [],
                ["Row 7 has 4 cells but the header has 3: the cells past "
                    "the last column are ignored."]))
        self.assertEqual(converter.convert(8, [" ", "b", ""]), ({}, [
                    "Row 8 has nothing in the columns to import."], []))
        self.assertEqual(converter.convert(9, ["a" * 501, "", "c" * 10000]),
            ({}, ['The value in column "Nombre" has 501 characters; the '
                    'limit is 500.'], []))
        self.assertEqual(converter.convert(10, ["Ana"]),
            ({'lead_name': "Ana"}, [], []))
        self.assertEqual(converter.convert(11, ["", "", "Solo notas"]),
            ({}, ["Row 11 has no contact name, company, e-mail or phone "
                    "left: nothing identifies the lead."], []))

    @with_transaction()
    def test_formula_without_result_is_a_warning(self):
        crm, _ = self.setup_data()
        converter = LeadRowConverter({0: 'lead_name', 1: 'lead_email'},
            company=crm.company, columns=["Contacto", "Email"])
        values, errors, warnings = converter.convert(
            2, [FormulaWithoutValue(), "ana@x.test"])
        self.assertEqual((values, errors), ({'lead_email': "ana@x.test"}, []))
        self.assertEqual(warnings, ['The cell of column "Contacto" is a '
                'formula whose result is not saved in the file (open and '
                'save the file in Excel or LibreOffice to compute it): it is '
                'left empty.'])
        # Nothing else identifies it: rejected, saying why.
        _, errors, _ = converter.convert(3, [FormulaWithoutValue(), ""])
        self.assertEqual(len(errors), 1)

    @with_transaction()
    def test_co_official_and_common_province_names(self):
        crm, places = self.setup_data()
        Subdivision = Pool().get('country.subdivision')
        spain = places['spain']
        codes = {}
        for code, name in [('ES-SS', "Gipuzkoa"), ('ES-BI', "Bizkaia"),
                ('ES-VI', "Álava"), ('ES-OR', "Ourense [Orense]"),
                ('ES-GI', "Girona [Gerona]"), ('ES-L', "Lleida [Lérida]"),
                ('ES-PM', "Illes Balears [Islas Baleares]")]:
            # As trytond_import_countries names them, when not loaded.
            found = Subdivision.search([('code', '=', code)])
            if not found:
                found = Subdivision.create([{'code': code, 'name': name,
                            'type': 'province', 'country': spain}])
            codes[code] = found[0].id
        converter = self.converter(crm, 'lead_name', 'lead_subdivision')
        for value, code in [
                ("Guipúzcoa", 'ES-SS'), ("guipuzcoa", 'ES-SS'),
                ("Gipuzkoa", 'ES-SS'), ("Vizcaya", 'ES-BI'),
                ("Bizkaia", 'ES-BI'), ("Araba", 'ES-VI'),
                ("Álava", 'ES-VI'), ("Orense", 'ES-OR'),
                ("Gerona", 'ES-GI'), ("Lérida", 'ES-L'), ("Lleida", 'ES-L'),
                ("Baleares", 'ES-PM'), ("Illes Balears", 'ES-PM'),
                ("La Coruña", None), ("Alacant", None)]:
            values, errors = self.convert(converter, "Ana", value)
            self.assertEqual(errors, [], value)
            if code:
                self.assertEqual(
                    values['lead_subdivision'], codes[code], value)

    @with_transaction()
    def test_columns_named_by_letter_without_header(self):
        crm, _ = self.setup_data()
        converter = LeadRowConverter(
            {0: 'lead_name', 2: 'lead_email'}, company=crm.company)
        _, errors, _ = converter.convert(2, ["Ana", "", "eva@"])
        self.assertEqual(errors, [
                'The e-mail "eva@" in column "C" is not valid.'])

    @with_transaction()
    def test_messages_in_the_users_words(self):
        "Errors read as text, in the user's language"
        self.setup_data()
        with self.assertRaises(LeadFileError) as cm:
            check_mapping({0: 'amount'})
        self.assertEqual(cm.exception.message,
            'Choose a column for at least one of Contact Name, Company Name, '
            'E-mail, Phone: without them nobody could contact the leads.')
        with self.assertRaises(LeadFileError) as cm:
            read_table(b'', 'leads.csv')
        self.assertEqual(cm.exception.message,
            'The file "leads.csv" is empty.')
        header = read_report(error_report(["Empresa"], []))[0]
        self.assertEqual(header, ["Empresa", "Row", "Reason"])
