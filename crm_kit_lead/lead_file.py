# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Reading a file of leads for import: the CSV or XLSX table, the mapping
of its columns to lead fields, the conversion of each row into the values
of a lead (its identity cleaned by identity.py), and the report of the
rows that were rejected.

Nothing here asks the user how the file is made: the encoding, the
delimiter and the columns are guessed, and what cannot be read is
explained in the user's words.  The rows are streamed so that a file of a
hundred thousand leads never sits in memory as a whole."""
import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from decimal import Decimal

import openpyxl
from openpyxl.utils import get_column_letter

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.transaction import Transaction

from crm_kit import archive
from crm_kit.formats import plain_number
from crm_kit.spreadsheet import FORMULA_STARTS, neutralise

from .identity import (
    InvalidIdentity, clean_identity, phone_forms, unaccent)

# The lead fields of sale.opportunity a column can be imported into, in
# the order the mapping screen lists them.
LEAD_FIELDS = [
    'lead_name', 'lead_company', 'lead_email', 'lead_phone',
    'lead_tax_identifier', 'lead_street', 'lead_postal_code', 'lead_city',
    'lead_subdivision', 'lead_country', 'lead_language', 'description',
    'comment', 'amount', 'channel', 'expected_close_date',
    'lead_registered_on', 'product', 'owner', 'reference',
    ]
# Fields several columns may go to, joined in the order of the columns:
# "Nombre" and "Apellidos" make the contact name.
JOINED_FIELDS = {
    'lead_name': ' ', 'lead_street': ' ', 'description': ' ',
    'comment': '\n',
    }
# The fields whose unknown values may be created instead of left empty.
CREATABLE_FIELDS = {'channel'}
# How a column's amounts are written: the decimal separator
NUMBER_FORMATS = [
    (None, "Automatic"),
    ('es', "1.234,56"),
    ('en', "1,234.56"),
    ]
UNKNOWN_VALUES = [
    ('warn', "Leave Empty"),
    ('create', "Create"),
    ]
# A lead nobody can reach is no lead: one of these must be imported.
REQUIRED_ANY = ('lead_name', 'lead_company', 'lead_email', 'lead_phone')

# How spreadsheets exported from other CRMs, web forms and trade fairs
# name their columns, in Spanish and English.  They are compared without
# case, accents, spaces or punctuation.
HEADER_SYNONYMS = {
    'lead_name': [
        "name", "full name", "contact", "contact name", "first name",
        "last name", "surname", "surnames", "nombre", "nombre y apellidos",
        "nombre completo", "contacto", "persona de contacto", "apellidos",
        "apellido", "primer apellido", "segundo apellido"],
    'lead_company': [
        "company", "company name", "organization", "organisation",
        "account", "empresa", "compañía", "razón social", "organización",
        "cuenta", "nombre de la empresa"],
    'lead_email': [
        "email", "e-mail", "mail", "email address", "correo",
        "correo electrónico"],
    'lead_phone': [
        "phone", "telephone", "phone number", "mobile", "mobile phone",
        "teléfono", "móvil", "teléfono móvil", "tel", "tlf", "telf",
        "celular"],
    'lead_tax_identifier': [
        "vat", "vat number", "tax id", "tax identifier", "nif", "cif",
        "nif/cif", "dni", "nie"],
    'lead_street': [
        "street", "address", "dirección", "domicilio", "calle"],
    'lead_postal_code': [
        "postal code", "zip", "zip code", "postcode", "código postal", "cp",
        "c.p."],
    'lead_city': [
        "city", "town", "ciudad", "población", "localidad", "municipio"],
    'lead_subdivision': [
        "province", "state", "region", "provincia", "región", "comunidad"],
    'lead_country': ["country", "país"],
    'lead_language': ["language", "idioma", "lengua"],
    'description': [
        "description", "subject", "title", "descripción", "asunto", "título",
        "oportunidad"],
    'comment': [
        "notes", "note", "comment", "comments", "notas", "comentarios",
        "observaciones"],
    'amount': [
        "amount", "value", "budget", "estimated amount", "expected revenue",
        "deal value", "importe", "importe estimado", "valor",
        "valor estimado", "presupuesto", "ingresos previstos"],
    'channel': [
        "channel", "source", "lead source", "canal", "origen", "fuente"],
    'expected_close_date': [
        "expected close date", "close date", "fecha de cierre",
        "fecha prevista", "cierre previsto"],
    'lead_registered_on': [
        "registered on", "registration date", "created on", "date created",
        "creation date", "fecha alta", "fecha de alta", "alta",
        "fecha de registro", "fecha registro", "fecha de creación",
        "fecha creación"],
    'product': [
        "product", "product interest", "producto", "interés", "servicio"],
    'owner': [
        "owner", "assigned to", "salesperson", "responsable", "comercial",
        "asignado a"],
    'reference': [
        "reference", "ref", "referencia", "id externo", "external id"],
    }

# Fields whose value is stored as the text the file gives.
TEXT_FIELDS = {
    'lead_name', 'lead_company', 'lead_street', 'lead_postal_code',
    'lead_city', 'description', 'comment', 'reference'}
# Longer values are a column mapped to the wrong field or a broken file,
# not data anyone typed.
MAX_LENGTH = 500
MAX_TEXT_LENGTH = {'comment': 10000}

# Semicolons come from Excel in Spanish locales, tabs from copying a
# sheet into a text file.  A tie goes to the first.
DELIMITERS = (',', ';', '\t')
# Enough of the file to see its header line and whether it is text.
SAMPLE_SIZE = 8 * 1024
HEADER_SAMPLE_SIZE = 64 * 1024
# Decoding in chunks checks the encoding without holding the text.
DECODE_CHUNK = 1024 * 1024
# Bytes that text files do not contain; a few may slip into a cell.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b'\t\n\r\f') + b'\x7f'
_BINARY_RATIO = 0.02
# Windows-1252 leaves these bytes undefined: a file with them is Latin-1.
_CP1252_UNDEFINED = re.compile(rb'[\x81\x8d\x8f\x90\x9d]')
_ZIP_MAGIC = b'PK\x03\x04'
# Scanned in place: stripping a copy of a large file would double it.
_BLANK = re.compile(rb'(?:\xef\xbb\xbf)?\s*\Z')
_DAY_FIRST = re.compile(r'^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$')
_ISO_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}(?:[ T].*)?$')
_GROUPED = {
    '.': re.compile(r'^\d{1,3}(?:\.\d{3})+$'),
    ',': re.compile(r'^\d{1,3}(?:,\d{3})+$'),
    }
# Spanish provinces have co-official names that differ by their article
# ("A Coruña", "La Coruña") and ISO lists invert it ("Coruña, A").
_ARTICLES = re.compile(r"^(?:(?:a|la|el|las|los|les)\s+|l')", re.IGNORECASE)
# What people type for Spanish provinces besides the ISO names: the other
# co-official name, the old spelling, the capital or the island.
PROVINCE_NAMES = {
    'ES-SS': ["Guipúzcoa", "Guipuzkoa", "Gipuzcoa"],
    'ES-BI': ["Vizcaya", "Biscay", "Bizcaia"],
    'ES-VI': ["Araba", "Araba/Álava", "Álava/Araba", "Vitoria"],
    'ES-A': ["Alacant", "Alicante/Alacant"],
    'ES-CS': ["Castelló", "Castellón/Castelló", "Castellón de la Plana",
        "Castelló de la Plana"],
    'ES-V': ["València", "Valencia/València"],
    'ES-PM': ["Baleares", "Balears", "Islas Baleares", "Balearic Islands",
        "Mallorca"],
    'ES-GC': ["Palmas", "Gran Canaria", "Las Palmas de Gran Canaria"],
    'ES-TF': ["Tenerife", "S.C. Tenerife", "Santa Cruz Tenerife"],
    'ES-NA': ["Nafarroa", "Navarre"],
    'ES-O': ["Principado de Asturias", "Oviedo"],
    'ES-C': ["Coruña", "Corunna", "A Coruña/La Coruña"],
    'ES-OR': ["Orense", "Ourense/Orense"],
    'ES-GI': ["Gerona", "Girona/Gerona"],
    'ES-L': ["Lérida", "Lleida/Lérida"],
    'ES-MU': ["Región de Murcia"],
    'ES-M': ["Comunidad de Madrid"],
    'ES-LO': ["Rioja"],
    'ES-S': ["Santander"],
    }


class FormulaWithoutValue(str):
    """The empty text of a workbook cell whose formula has no result saved
    in the file (it was written by a program that does not compute)"""


class NumberText(str):
    """The text of a workbook's number cell: its decimal point is a dot
    whatever the column's format"""


class LeadFileError(UserError):
    """A file of leads that cannot be read, or a mapping that cannot
    import it.

    message_id and params keep what the message says so that code and
    tests can tell errors apart without reading translated text."""

    def __init__(self, message_id, **params):
        super().__init__(gettext(message_id, **params))
        self.message_id = message_id
        self.params = params


class _Created(Exception):
    "A value created for a cell (or to be created): its id and message"

    def __init__(self, id_, message_id):
        super().__init__(message_id)
        self.id = id_
        self.message_id = message_id


class _Invalid(Exception):
    "A cell the converter refuses: the message that says why"

    def __init__(self, message_id, **params):
        super().__init__(message_id)
        self.message_id = message_id
        self.params = params


# Unknown values leave their field empty; an invalid tax identifier is
# kept as written (the customer can fix it later): both are warnings.
_LEFT_EMPTY = {
    'crm_kit_lead.msg_file_unknown_country',
    'crm_kit_lead.msg_file_unknown_subdivision',
    'crm_kit_lead.msg_file_unknown_language',
    'crm_kit_lead.msg_file_unknown_channel',
    'crm_kit_lead.msg_file_unknown_product',
    'crm_kit_lead.msg_file_unknown_user',
    'crm_kit_lead.msg_file_ambiguous',
    }
_KEPT_AS_WRITTEN = {'crm_kit_lead.msg_file_invalid_tax_identifier'}


def _identity(field, value, *args):
    "The value of field cleaned, or the message that says why it cannot be"
    try:
        return clean_identity(field, value, *args)
    except InvalidIdentity as invalid:
        raise _Invalid(invalid.message_id)


def _one(found, unknown):
    "The id found, or why there is none to use"
    if not found:
        raise _Invalid(unknown)
    if len(found) > 1:
        raise _Invalid('crm_kit_lead.msg_file_ambiguous')
    id_, = found
    return id_


def _key(value):
    "The value without case, accents, spaces or punctuation"
    value = unicodedata.normalize('NFKD', str(value)).casefold()
    return ''.join(c for c in value if c.isalnum())


def _mb(size):
    return plain_number(size / 1024 / 1024)


def neutralise_cell(value):
    """The value as text that no spreadsheet will run as a formula when
    the file is opened"""
    return neutralise('' if value is None else str(value))


class LeadTable:
    """The header and the rows of a file of leads.

    rows() reads the file again at each call and yields one row at a time,
    so that the file is never held as a list of rows."""

    def __init__(self, records, filename, sheets=None, sheet=None,
            encoding=None, delimiter=None):
        # records returns a new iterator of the file's rows as lists of
        # strings, one per row a spreadsheet shows, blank ones included.
        self._records = records
        self.filename = filename
        self.sheets = sheets or []
        self.sheet = sheet
        self.encoding = encoding
        self.delimiter = delimiter
        self.columns, self._header_row = self._read_header()

    def _read_header(self):
        records = self._records()
        try:
            for number, cells in enumerate(records, 1):
                if any(c.strip() for c in cells):
                    break
            else:
                raise LeadFileError(
                    'crm_kit_lead.msg_file_empty', filename=self.filename)
            columns = [c.strip() for c in cells]
            # Spreadsheets pad rows to the widest row ever used.
            while not columns[-1]:
                columns.pop()
            self._check_header(columns)
            # An empty import is refused now rather than after the user
            # has mapped its columns.
            if not any(any(c.strip() for c in cells) for cells in records):
                raise LeadFileError(
                    'crm_kit_lead.msg_file_no_rows', filename=self.filename)
        finally:
            records.close()
        return columns, number

    def _check_header(self, columns):
        for index, column in enumerate(columns):
            if not column:
                raise LeadFileError('crm_kit_lead.msg_file_header_empty',
                    filename=self.filename,
                    column=get_column_letter(index + 1))
        seen, repeated = set(), []
        for column in columns:
            key = column.casefold()
            if key in seen and column not in repeated:
                repeated.append(column)
            seen.add(key)
        if repeated:
            raise LeadFileError('crm_kit_lead.msg_file_header_repeated',
                filename=self.filename,
                columns=', '.join('"%s"' % c for c in repeated))

    def rows(self):
        """Yield (row number, cells) for each row that is not empty; the
        number is the one a spreadsheet shows, the header being 1"""
        width = len(self.columns)
        for number, cells in enumerate(self._records(), 1):
            if number <= self._header_row:
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > width and not any(
                    c.strip() for c in cells[width:]):
                cells = cells[:width]
            elif len(cells) < width:
                cells = cells + [''] * (width - len(cells))
            yield number, cells


def read_table(data, filename, sheet=None, max_size=None):
    """The table of leads in data, a CSV or XLSX file: its format, encoding
    and delimiter are found, not asked"""
    data = data or b''
    filename = filename or ''
    if max_size and len(data) > max_size:
        raise LeadFileError('crm_kit_lead.msg_file_too_large',
            filename=filename, size=_mb(len(data)), limit=_mb(max_size))
    if _BLANK.match(data):
        raise LeadFileError('crm_kit_lead.msg_file_empty', filename=filename)
    if data.startswith(_ZIP_MAGIC) or filename.lower().endswith('.xlsx'):
        return _read_xlsx(data, filename, sheet)
    return _read_csv(data, filename)


def _read_csv(data, filename):
    sample = data[:SAMPLE_SIZE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b'\x00' in sample or controls > len(sample) * _BINARY_RATIO:
        raise LeadFileError('crm_kit_lead.msg_file_binary', filename=filename)
    encoding = _csv_encoding(data)
    header = data[:HEADER_SAMPLE_SIZE].decode(encoding, errors='ignore')
    delimiter = _csv_delimiter(header)

    def records():
        # BytesIO shares the bytes instead of copying them.
        text = io.TextIOWrapper(
            io.BytesIO(data), encoding=encoding, newline='')
        reader = csv.reader(text, delimiter=delimiter)
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exception:
                raise LeadFileError('crm_kit_lead.msg_file_unreadable_row',
                    filename=filename, row=number + 1,
                    error=str(exception)) from exception
            number += 1
            yield cells

    return LeadTable(records, filename, encoding=encoding,
        delimiter=delimiter)


def _csv_encoding(data):
    """UTF-8 (with or without its BOM) when the file decodes as such, else
    Windows-1252 as Excel writes it in Spain, else Latin-1"""
    decoder = codecs.getincrementaldecoder('utf-8')()
    try:
        for start in range(0, len(data), DECODE_CHUNK):
            decoder.decode(data[start:start + DECODE_CHUNK])
        decoder.decode(b'', final=True)
    except UnicodeDecodeError:
        if _CP1252_UNDEFINED.search(data):
            return 'latin-1'
        return 'cp1252'
    return 'utf-8-sig' if data.startswith(codecs.BOM_UTF8) else 'utf-8'


def _csv_delimiter(text):
    """The delimiter found most often in the header line outside quotes:
    csv.Sniffer guesses wrong on short headers"""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = started = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in '\r\n':
            if started:
                break
        elif char in counts:
            counts[char] += 1
        if not char.isspace():
            started = True
    return max(DELIMITERS, key=counts.get)


def _read_xlsx(data, filename, sheet):
    workbook = _open_workbook(data, filename)
    try:
        sheets = [s.title for s in workbook.worksheets]
    finally:
        workbook.close()
    if not sheets:
        raise LeadFileError('crm_kit_lead.msg_file_empty', filename=filename)
    if sheet is None:
        sheet = sheets[0]
    elif sheet not in sheets:
        # The user types the name of the sheet: ignore case and spaces.
        matching = [s for s in sheets
            if s.strip().casefold() == sheet.strip().casefold()]
        if not matching:
            raise LeadFileError('crm_kit_lead.msg_file_sheet_missing',
                filename=filename, sheet=sheet,
                sheets=', '.join('"%s"' % s for s in sheets))
        sheet = matching[0]

    formulas = _has_formulas(data)

    def records():
        workbooks = [_open_workbook(data, filename)]
        if formulas:
            # The formulas themselves, beside their results, to tell an
            # empty cell from a formula whose result was never saved.
            workbooks.append(_open_workbook(data, filename, data_only=False))
        try:
            iterators = []
            for workbook in workbooks:
                worksheet = workbook[sheet]
                # Some programs write a wrong size into the sheet;
                # openpyxl would silently stop reading at it.
                worksheet.reset_dimensions()
                iterators.append(
                    worksheet.iter_rows(min_row=1, values_only=True))
            if not formulas:
                for values in iterators[0]:
                    yield [_xlsx_text(v) for v in values]
                return
            for values, sources in zip(*iterators):
                yield [FormulaWithoutValue() if v is None
                    and isinstance(f, str) and f.startswith('=')
                    else _xlsx_text(v)
                    for v, f in zip(values, sources)]
        except Exception as exception:
            raise LeadFileError('crm_kit_lead.msg_file_xlsx_corrupt',
                filename=filename) from exception
        finally:
            for workbook in workbooks:
                workbook.close()

    return LeadTable(records, filename, sheets=sheets, sheet=sheet)


_FORMULA_TAG = re.compile(rb'<(?:\w+:)?f[\s>/]')


def _has_formulas(data):
    "Whether a sheet of the workbook has a formula, read in chunks"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive_:
            for name in archive_.namelist():
                if not (name.startswith('xl/worksheets/')
                        and name.endswith('.xml')):
                    continue
                with archive_.open(name) as part:
                    tail = b''
                    while chunk := part.read(DECODE_CHUNK):
                        if _FORMULA_TAG.search(tail + chunk):
                            return True
                        tail = chunk[-16:]
    except Exception:
        # Refused with the reason when the workbook is opened.
        return False
    return False


def _open_workbook(data, filename, data_only=True):
    try:
        archive.check(data)
    except archive.ArchiveTooLarge:
        raise LeadFileError('crm_kit_lead.msg_file_xlsx_too_large',
            filename=filename)
    except Exception as exception:
        raise LeadFileError('crm_kit_lead.msg_file_xlsx_corrupt',
            filename=filename) from exception
    try:
        # read_only streams the rows; data_only gives the values that
        # formulas computed, never the formulas.
        return openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=data_only)
    # A damaged archive fails in zipfile, XML or openpyxl itself, each
    # with its own exception.
    except Exception as exception:
        raise LeadFileError('crm_kit_lead.msg_file_xlsx_corrupt',
            filename=filename) from exception


def _xlsx_text(value):
    "A cell of a workbook as the text the user sees in it"
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'TRUE' if value else 'FALSE'
    if isinstance(value, float) and value.is_integer():
        # Phones and postal codes typed as numbers come back as floats.
        return NumberText(int(value))
    if isinstance(value, (int, float, Decimal)):
        return NumberText(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=' ')
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


_SYNONYM_FIELDS = {_key(s): f
    for f, spellings in HEADER_SYNONYMS.items() for s in spellings}


def guess_mapping(columns):
    """The lead field of each column whose header names one: {index:
    field}; a field goes to its first column only, but those that join
    several columns (the name and the surnames)"""
    mapping = {}
    for index, column in enumerate(columns):
        field = _SYNONYM_FIELDS.get(_key(column))
        if field and (field in JOINED_FIELDS
                or field not in mapping.values()):
            mapping[index] = field
    return mapping


_DECIMAL_COMMA = re.compile(r'(?:^|[\d.\s])\d*,\d{1,2}\s*€?$')
_DECIMAL_POINT = re.compile(r'(?:^|[\d,\s])\d*\.\d{1,2}\s*€?$')


def guess_number_format(samples, delimiter=None, language=None):
    """How a column writes its amounts ('es': 1.234,56, 'en': 1,234.56),
    from its cells: a decimal part after a comma or a dot tells; else a
    file separated by semicolons is Spanish, else the user's language"""
    for sample in samples:
        if isinstance(sample, NumberText):
            continue
        sample = sample.strip()
        if _DECIMAL_COMMA.search(sample):
            return 'es'
        if _DECIMAL_POINT.search(sample):
            return 'en'
    if delimiter == ';':
        return 'es'
    if delimiter == ',':
        return 'en'
    return 'es' if (language or '').startswith('es') else 'en'


def number_formats(table, samples=100):
    """The number format of each column of table guessed from its first
    rows: {index: format}"""
    cells = {i: [] for i in range(len(table.columns))}
    for count, (_, row) in enumerate(table.rows()):
        if count >= samples:
            break
        for index, cell in enumerate(row[:len(cells)]):
            if cell:
                cells[index].append(cell)
    language = Transaction().language if Transaction().database else None
    return {i: guess_number_format(c, table.delimiter, language)
        for i, c in cells.items()}


def check_mapping(mapping):
    "Refuse a mapping that imports no way to reach the leads"
    if not set(REQUIRED_ANY) & set(mapping.values()):
        raise LeadFileError('crm_kit_lead.msg_file_required_column',
            fields=', '.join(_field_labels(REQUIRED_ANY)))


def _field_labels(names):
    "The fields as the mapping screen names them, in the user's language"
    if Transaction().database is None:
        return list(names)
    Opportunity = Pool().get('sale.opportunity')
    strings = Opportunity.fields_get(list(names))
    return [strings[n]['string'] if n in strings else n for n in names]


def parse_date(value):
    "A date written dd/mm/yyyy (or with - or .) or yyyy-mm-dd"
    value = value.strip()
    match = _DAY_FIRST.match(value)
    if match:
        day, _, month, year = match.groups()
        return dt.date(int(year), int(month), int(day))
    if _ISO_DATE.match(value):
        # A workbook date with its time comes as an ISO date time.
        return dt.datetime.fromisoformat(value).date()
    raise ValueError(value)


def parse_amount(value, number_format=None):
    """The amount written the Spanish (1.234,50) or English (1,234.50)
    way, with or without a euro sign.

    With both separators, the last one is the decimal one.  With one,
    number_format says which it is: 'es' reads "12.000" as twelve
    thousand and "750,5" as 750.50, 'en' "1,500" as fifteen hundred.
    Without a format a single separator is the decimal one (1234,5 or
    1234.5), as numbers come out of workbooks."""
    text = re.sub(r'\s', '', value).replace('€', '')
    if isinstance(value, NumberText):
        number_format = 'en'
    thousands_only = {'es': '.', 'en': ','}.get(number_format)
    if (thousands_only and thousands_only in text
            and ('.' in text) != (',' in text)):
        if not _GROUPED[thousands_only].match(text.lstrip('-')):
            raise ValueError(value)
        text = text.replace(thousands_only, '')
    negative = text.startswith('-')
    if negative:
        text = text[1:]
    if '.' in text and ',' in text:
        decimal_point = '.' if text.rfind('.') > text.rfind(',') else ','
        thousands = ',' if decimal_point == '.' else '.'
        whole, _, fraction = text.rpartition(decimal_point)
        if not _GROUPED[thousands].match(whole):
            raise ValueError(value)
        text = whole.replace(thousands, '') + '.' + fraction
    else:
        for separator in ',.':
            if text.count(separator) > 1:
                if not _GROUPED[separator].match(text):
                    raise ValueError(value)
                text = text.replace(separator, '')
        text = text.replace(',', '.')
    if not re.fullmatch(r'\d+(?:\.\d+)?|\.\d+', text):
        raise ValueError(value)
    amount = Decimal(text)
    return -amount if negative else amount


class _Index:
    """Records found by code or by name, written any case or accent;
    a name shared by several records finds them all"""

    def __init__(self):
        self.codes = {}
        self.names = {}

    def add(self, id_, codes=(), names=()):
        for code in codes:
            if code:
                self.codes.setdefault(code.strip().casefold(), set()).add(id_)
        for name in names:
            if name:
                self.names.setdefault(_key(name), set()).add(id_)

    def find(self, value):
        return (self.codes.get(value.strip().casefold())
            or self.names.get(_key(value)) or set())


def _languages():
    "The languages users may write names in: theirs and the translated ones"
    Lang = Pool().get('ir.lang')
    languages = [Transaction().language]
    languages += [c for c in Lang.get_translatable_languages()
        if c not in languages]
    return languages


def _translated(Model, rows, field='name'):
    """The values of field of each row ({'id': …}) in every language
    users may write it in: {id: [value, …]}"""
    values = {r['id']: [r[field]] for r in rows}
    ids = list(values)
    for language in _languages()[1:]:
        with Transaction().set_context(language=language):
            for row in Model.read(ids, [field]):
                values[row['id']].append(row[field])
    return values


def _subdivision_names(name):
    """The spellings of a subdivision's name: each of its co-official
    names ("Alicante [Alacant]", "Araba/Álava"), as it is and inverted
    around its comma ("Coruña, A")"""
    names = []
    for part in re.split(r'[/\[\]]', name):
        part = part.strip()
        if part:
            names.append(part)
            if ', ' in part:
                before, after = part.rsplit(', ', 1)
                names.append('%s %s' % (after, before))
    return names


def _without_article(name):
    return _ARTICLES.sub('', name.strip())


class LeadRowConverter:
    """Turn the cells of a row into the values of a lead, with the reasons
    the row cannot be imported and the warnings of what was left out.

    A row is rejected only when nothing identifies the lead or a mapped
    cell holds an impossible value (a malformed e-mail, phone, amount or
    date); an unknown country, province, language, channel, product or
    user leaves the field empty with a warning (or, for a channel whose
    column says so, creates it).

    The countries, provinces, languages, channels, products and users are
    read once when the converter is made: a row costs no query."""

    def __init__(self, mapping, company=None, columns=None, formats=None,
            unknown=None, create=True):
        """mapping is {column index: lead field}; columns is the header,
        to name the columns in messages; formats {column index: number
        format} of the amount columns; unknown {column index: 'warn' or
        'create'}; create False only says what would be created (the
        preview)"""
        pool = Pool()
        Company = pool.get('company.company')
        self.mapping = dict(mapping)
        self.columns = list(columns) if columns is not None else None
        self.formats = {self.mapping[i]: f
            for i, f in (formats or {}).items() if i in self.mapping and f}
        self.creatable = {self.mapping[i]
            for i, choice in (unknown or {}).items()
            if choice == 'create' and self.mapping.get(i) in CREATABLE_FIELDS}
        self.create = create
        self.created = {}
        if company is None:
            company = Transaction().context.get('company')
        if isinstance(company, int):
            company = Company(company)
        self.digits = company.currency.digits if company else 2
        self._load_countries()
        self._load_subdivisions()
        self._load_languages()
        self._load_channels()
        self._load_products()
        self._load_users()
        self.country = self._company_country(company)

    def _load_countries(self):
        Country = Pool().get('country.country')
        rows = Country.search_read([], fields_names=['code', 'code3', 'name'])
        names = _translated(Country, rows)
        self.countries = _Index()
        self.country_codes = {}
        for row in rows:
            self.countries.add(
                row['id'], codes=[row['code'], row['code3']],
                names=names[row['id']])
            self.country_codes[row['id']] = row['code']

    def _load_subdivisions(self):
        Subdivision = Pool().get('country.subdivision')
        rows = Subdivision.search_read([],
            fields_names=['country', 'code', 'name', 'parent'])
        names = _translated(Subdivision, rows)
        # By country: the same name is a province in one country and
        # something else in another.
        self.subdivisions = {}
        self.subdivisions_short = {}
        self.subdivision_parent = {}
        self.subdivision_country = {}
        for row in rows:
            country = row['country']
            codes = [row['code']]
            if row['code'] and '-' in row['code']:
                # "M" for Madrid, as it is written after ES-.
                codes.append(row['code'].split('-', 1)[1])
            spellings = [s for n in names[row['id']] if n
                for s in _subdivision_names(n)]
            spellings += [s for n in PROVINCE_NAMES.get(row['code'], [])
                for s in _subdivision_names(n)]
            self.subdivisions.setdefault(country, _Index()).add(
                row['id'], codes=codes, names=spellings)
            self.subdivisions_short.setdefault(country, _Index()).add(
                row['id'], names=[_without_article(s) for s in spellings])
            self.subdivision_parent[row['id']] = row['parent']
            self.subdivision_country[row['id']] = country

    def _load_languages(self):
        Lang = Pool().get('ir.lang')
        # A lead may speak a language the database is not set up in.
        with Transaction().set_context(active_test=False):
            rows = Lang.search_read([], fields_names=['code', 'name'])
            names = _translated(Lang, rows)
        self.languages = _Index()
        for row in rows:
            code = row['code'].casefold()
            self.languages.add(row['id'],
                codes=[code, code.replace('_', '-')], names=names[row['id']])

    def _load_channels(self):
        Channel = Pool().get('crm.channel')
        rows = Channel.search_read([], fields_names=['code', 'name'])
        names = _translated(Channel, rows)
        self.channels = _Index()
        for row in rows:
            self.channels.add(
                row['id'], codes=[row['code']], names=names[row['id']])

    def _load_products(self):
        Product = Pool().get('product.product')
        rows = Product.search_read([('salable', '=', True)],
            fields_names=['code', 'name'])
        names = _translated(Product, rows)
        self.products = _Index()
        for row in rows:
            self.products.add(
                row['id'], codes=[row['code']], names=names[row['id']])

    def _load_users(self):
        User = Pool().get('res.user')
        rows = User.search_read([], fields_names=['login', 'name'])
        self.users = _Index()
        for row in rows:
            self.users.add(
                row['id'], codes=[row['login']], names=[row['name']])

    def _company_country(self, company):
        "The country of addresses and phones that do not say theirs"
        if company:
            address = company.party.address_get()
            if address and address.country:
                return address.country.id
        spain = self.countries.find('ES')
        return next(iter(spain)) if len(spain) == 1 else None

    def column(self, index):
        "The column as the user sees it: its header, else its letter"
        if self.columns is not None and index < len(self.columns):
            return self.columns[index]
        return get_column_letter(index + 1)

    def convert(self, row_number, cells):
        """The values of the lead of row_number, the reasons it cannot be
        imported and the warnings of what is left out of it"""
        warnings = []
        if self.columns is not None and len(cells) > len(self.columns):
            warnings.append(gettext('crm_kit_lead.msg_file_row_too_long',
                    row=row_number, cells=len(cells),
                    columns=len(self.columns)))
        text, column = {}, {}
        for index, field in sorted(self.mapping.items()):
            cell = cells[index] if index < len(cells) else ''
            if isinstance(cell, FormulaWithoutValue):
                warnings.append(gettext(
                        'crm_kit_lead.msg_file_formula_without_value',
                        column=self.column(index)))
                continue
            if not cell.strip():
                continue
            # Text that looks like a formula is kept as it is: it is never
            # evaluated here, and exports neutralise it.
            if not (field in TEXT_FIELDS
                    and cell.startswith(FORMULA_STARTS)):
                cell = type(cell)(cell.strip())
            if field in text and field in JOINED_FIELDS:
                text[field] += JOINED_FIELDS[field] + cell
                column[field] += ', ' + self.column(index)
            elif field not in text:
                text[field] = cell
                column[field] = self.column(index)
        if not text:
            return {}, [gettext(
                    'crm_kit_lead.msg_file_row_empty', row=row_number)], []

        errors = []
        for field, value in text.items():
            limit = MAX_TEXT_LENGTH.get(field, MAX_LENGTH)
            if len(value) > limit:
                errors.append(gettext('crm_kit_lead.msg_file_value_too_long',
                        column=column[field], length=len(value), limit=limit))
        if errors:
            return {}, errors, warnings

        values = {f: v for f, v in text.items() if f in TEXT_FIELDS}
        # The country first: the province and the phone depend on it.
        for field, convert in [
                ('lead_country', self._country),
                ('lead_subdivision', self._subdivision),
                ('lead_email', self._email),
                ('lead_phone', self._phone),
                ('lead_tax_identifier', self._tax_identifier),
                ('amount', self._amount),
                ('expected_close_date', self._date),
                ('lead_registered_on', self._date),
                ('lead_language', self._language),
                ('channel', self._channel),
                ('product', self._product),
                ('owner', self._owner),
                ]:
            if field not in text:
                continue
            try:
                values[field] = convert(text[field], values)
            except _Invalid as invalid:
                message = gettext(invalid.message_id,
                    value=text[field], column=column[field],
                    **invalid.params)
                if invalid.message_id in _LEFT_EMPTY:
                    warnings.append(message + ' ' + gettext(
                            'crm_kit_lead.msg_file_left_empty'))
                elif invalid.message_id in _KEPT_AS_WRITTEN:
                    values[field] = text[field]
                    warnings.append(message + ' ' + gettext(
                            'crm_kit_lead.msg_file_kept_as_written'))
                else:
                    errors.append(message)
            except _Created as created:
                values[field] = created.id
                warnings.append(gettext(created.message_id,
                        value=text[field], column=column[field]))
        if 'lead_subdivision' in values:
            values.setdefault('lead_country',
                self.subdivision_country[values['lead_subdivision']])
        if not errors and not any(values.get(f) for f in REQUIRED_ANY):
            errors.append(gettext('crm_kit_lead.msg_file_row_unidentified',
                    row=row_number))
        if errors:
            return {}, errors, warnings
        return values, errors, warnings

    def _country(self, value, values):
        return _one(self.countries.find(value),
            'crm_kit_lead.msg_file_unknown_country')

    def _subdivision(self, value, values):
        "The province in the lead's country, else in the company's"
        country = values.get('lead_country', self.country)
        found = self.subdivisions.get(country, _Index()).find(value)
        if not found:
            found = self.subdivisions_short.get(
                country, _Index()).find(_without_article(value))
        if len(found) > 1:
            # A province and its region of the same name (Cantabria, La
            # Rioja): the column is for provinces.
            found = {s for s in found if self.subdivision_parent[s]} or found
        return _one(found, 'crm_kit_lead.msg_file_unknown_subdivision')

    def _region(self, values):
        "The country whose numbers may be written without their prefix"
        country = values.get('lead_country', self.country)
        return self.country_codes.get(country) or 'ES'

    def _email(self, value, values):
        return _identity('lead_email', value)

    def _tax_identifier(self, value, values):
        # Cleaned, the identifier is its own key: kept for the duplicate
        # search.
        values['tax_key'] = _identity('lead_tax_identifier', value)
        return values['tax_key']

    def _phone(self, value, values):
        """The phone in international format; its key is kept with it so
        that the number is not parsed again for the duplicate search"""
        try:
            values['lead_phone'], values['phone_key'] = phone_forms(
                value, self._region(values))
        except ValueError:
            raise _Invalid('crm_kit_lead.msg_file_invalid_phone')
        return values['lead_phone']

    def _amount(self, value, values):
        try:
            amount = parse_amount(value, self.formats.get('amount'))
        except ValueError:
            raise _Invalid('crm_kit_lead.msg_file_invalid_amount')
        if amount < 0:
            raise _Invalid('crm_kit_lead.msg_file_negative_amount')
        rounded = amount.quantize(Decimal(1).scaleb(-self.digits))
        if rounded != amount:
            raise _Invalid('crm_kit_lead.msg_file_amount_digits',
                digits=self.digits)
        return rounded

    def _date(self, value, values):
        try:
            return parse_date(value)
        except ValueError:
            raise _Invalid('crm_kit_lead.msg_file_invalid_date')

    def _language(self, value, values):
        found = self.languages.find(value)
        if not found and re.match(r'^[a-z]{2,3}[_-]', value, re.IGNORECASE):
            # es_ES, en-GB: the language without its region.
            found = self.languages.find(re.split('[_-]', value)[0])
        return _one(found, 'crm_kit_lead.msg_file_unknown_language')

    def _channel(self, value, values):
        found = self.channels.find(value)
        if not found and 'channel' in self.creatable:
            raise _Created(self._create_channel(value),
                'crm_kit_lead.msg_file_channel_created' if self.create
                else 'crm_kit_lead.msg_file_channel_to_create')
        return _one(found, 'crm_kit_lead.msg_file_unknown_channel')

    def _create_channel(self, value):
        "A new channel named value, once per import (None in the preview)"
        pool = Pool()
        Channel = pool.get('crm.channel')
        key = _key(value)
        if key not in self.created:
            channel_id = None
            if self.create:
                # A code from the name, as an administrator would write it.
                stem = re.sub(r'[^a-z0-9]+', '-', unaccent(
                        value.casefold())).strip('-')[:30] or 'channel'
                code, number = stem, 1
                while self.channels.codes.get(code):
                    number += 1
                    code = '%s-%s' % (stem, number)
                channel, = Channel.create([{'name': value, 'code': code}])
                channel_id = channel.id
                self.channels.add(channel_id, codes=[code], names=[value])
            self.created[key] = channel_id
        return self.created[key]

    def _product(self, value, values):
        return _one(self.products.find(value),
            'crm_kit_lead.msg_file_unknown_product')

    def _owner(self, value, values):
        return _one(self.users.find(value),
            'crm_kit_lead.msg_file_unknown_user')


def error_report(columns, rejected):
    """A CSV of the rejected rows, (row number, cells, reasons), as the
    file gave them with their row and reason at the end: the user fixes
    it and imports it again.

    It is UTF-8 with a BOM and semicolons so that Excel opens it in
    Spanish locales; no cell can run as a formula."""
    output = io.BytesIO()
    text = io.TextIOWrapper(output, encoding='utf-8-sig', newline='')
    writer = csv.writer(text, delimiter=';', lineterminator='\r\n')
    width = len(columns)
    writer.writerow([neutralise_cell(c) for c in columns] + [
            gettext('crm_kit_lead.msg_file_report_row'),
            gettext('crm_kit_lead.msg_file_report_reason')])
    for number, cells, reasons in rejected:
        if not isinstance(reasons, str):
            reasons = '\n'.join(reasons)
        cells = list(cells)
        cells += [''] * (width - len(cells))
        # The cells past the header go after the reason so that the row
        # and the reason stay under their own columns.
        line = cells[:width] + [str(number), reasons] + cells[width:]
        writer.writerow([neutralise_cell(c) for c in line])
    text.flush()
    return output.getvalue()
