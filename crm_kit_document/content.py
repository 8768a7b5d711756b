# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What a stored file is: its type read from its content (a name can lie),
a safe file name, its checksum; and the checks every upload goes through,
from sao, REST or a customer's upload link."""
import hashlib
import io
import mimetypes
import os
import re
import unicodedata
import zipfile
import zlib

from trytond.i18n import gettext
from trytond.pool import Pool

from crm_kit.archive import read_start
from crm_kit.formats import human_size

from .exceptions import DocumentFileError

OOXML = {
    'word/': 'application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document',
    'xl/': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'ppt/': 'application/vnd.openxmlformats-officedocument.'
    'presentationml.presentation',
    }
OLE = {
    '.doc': 'application/msword',
    '.xls': 'application/vnd.ms-excel',
    '.ppt': 'application/vnd.ms-powerpoint',
    }
TEXT_TYPES = {
    '.csv': 'text/csv',
    '.txt': 'text/plain',
    '.md': 'text/markdown',
    }
# The types a stored file may have unless the configuration says others.
DEFAULT_ALLOWED_TYPES = [
    'application/pdf',
    'image/png',
    'image/jpeg',
    'image/gif',
    'image/webp',
    'text/plain',
    'text/csv',
    'application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/vnd.openxmlformats-officedocument.'
    'presentationml.presentation',
    'application/vnd.oasis.opendocument.text',
    'application/vnd.oasis.opendocument.spreadsheet',
    'application/msword',
    'application/vnd.ms-excel',
    ]
# Shown to people instead of the MIME type.
TYPE_LABELS = {
    'application/pdf': 'PDF',
    'image/png': 'PNG',
    'image/jpeg': 'JPEG',
    'image/gif': 'GIF',
    'image/webp': 'WebP',
    'text/plain': 'Text',
    'text/csv': 'CSV',
    'text/markdown': 'Markdown',
    'text/html': 'HTML',
    'image/svg+xml': 'SVG',
    'application/xml': 'XML',
    OOXML['word/']: 'Word',
    OOXML['xl/']: 'Excel',
    OOXML['ppt/']: 'PowerPoint',
    'application/vnd.oasis.opendocument.text': 'OpenDocument Text',
    'application/vnd.oasis.opendocument.spreadsheet':
        'OpenDocument Spreadsheet',
    'application/msword': 'Word 97',
    'application/vnd.ms-excel': 'Excel 97',
    'application/vnd.ms-powerpoint': 'PowerPoint 97',
    'application/zip': 'ZIP',
    'application/octet-stream': 'Binary',
    }
MAX_NAME = 120
# What a browser runs scripts from.  Never stored, whatever the
# configuration allows: sao shows and opens a file as the type its name
# says, from its own address, where a script would act as the user.
ACTIVE_TYPES = {
    'text/html', 'application/xhtml+xml', 'image/svg+xml', 'text/xml',
    'application/xml', 'text/javascript', 'application/javascript',
    'application/x-javascript', 'text/ecmascript', 'application/ecmascript',
    }
MARKUP = re.compile(
    rb'\s*(?:<\?xml|<!doctype\s+html|<html|<head|<body|<script|<svg'
    rb'|<iframe|<object|<embed|<!--)', re.IGNORECASE)
# The PDF names of actions that run code: JavaScript and launching a
# program.  (Opening at a page, links and forms stay accepted.)
PDF_ACTIVE = {b'JavaScript', b'JS', b'Launch'}
PDF_NAME = re.compile(rb'/((?:[^\s()<>\[\]{}/%#]|#[0-9A-Fa-f]{2})+)')
PDF_STREAM = re.compile(rb'stream\r?\n')
# Object streams (PDF 1.5) hide dictionaries compressed; what is read of
# them is bounded like any archive.
PDF_OBJECT_STREAM_BYTES = 8 * 1024 * 1024


def detect_type(data, file_name=''):
    "The MIME type of data, read from its first bytes"
    ext = os.path.splitext(file_name or '')[1].lower()
    head = bytes(data[:16])
    if head.startswith(b'%PDF-'):
        return 'application/pdf'
    if head.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'image/png'
    if head.startswith(b'\xff\xd8\xff'):
        return 'image/jpeg'
    if head[:6] in {b'GIF87a', b'GIF89a'}:
        return 'image/gif'
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'image/webp'
    if head.startswith(b'PK\x03\x04'):
        return _zip_type(data)
    if head.startswith(b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'):
        return OLE.get(ext, 'application/x-ole-storage')
    if _is_text(data):
        markup = _markup_type(data)
        if markup:
            return markup
        return TEXT_TYPES.get(ext, 'text/plain')
    return 'application/octet-stream'


def _markup_type(data):
    "The type of a web page, SVG image or XML, by how it starts"
    sample = bytes(data[:4096]).lstrip(b'\xef\xbb\xbf')
    if not MARKUP.match(sample):
        return None
    if b'<svg' in sample.lower():
        return 'image/svg+xml'
    if sample.lstrip().startswith(b'<?xml'):
        return 'application/xml'
    return 'text/html'


def _zip_type(data):
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
            names = archive.namelist()
            if 'mimetype' in names:
                mimetype = read_start(archive, 'mimetype', 100).decode(
                    'ascii', 'replace').strip()
                if mimetype.startswith('application/vnd.oasis.'):
                    return mimetype
            if '[Content_Types].xml' in names:
                for prefix, mimetype in OOXML.items():
                    if any(n.startswith(prefix) for n in names):
                        return mimetype
    except (zipfile.BadZipFile, ValueError, OSError):
        return 'application/octet-stream'
    return 'application/zip'


def _is_text(data):
    sample = bytes(data[:8192])
    if b'\x00' in sample:
        return False
    try:
        sample.decode('utf-8')
    except UnicodeDecodeError as exception:
        # A multi-byte character cut at the end of the sample is fine.
        if exception.start < len(sample) - 4:
            return False
    return True


def active_content(data, file_name, mimetype):
    """The message id saying why a file would run code when opened, or
    None: a web page, SVG or XML (by content or by name), a PDF with
    JavaScript or a launch action, an office document with macros"""
    guessed, _ = mimetypes.guess_type(file_name or '', strict=False)
    if mimetype in ACTIVE_TYPES or guessed in ACTIVE_TYPES:
        return 'crm_kit_document.msg_file_active_markup'
    if mimetype == 'application/pdf' and _pdf_runs_code(data):
        return 'crm_kit_document.msg_file_active_pdf'
    if (mimetype in OOXML.values() or mimetype.startswith(
                'application/vnd.oasis.')) and _has_macros(data):
        return 'crm_kit_document.msg_file_active_macros'
    return None


def _pdf_names(data):
    for match in PDF_NAME.finditer(data):
        yield re.sub(rb'#([0-9A-Fa-f]{2})',
            lambda m: bytes([int(m.group(1), 16)]), match.group(1))


def _pdf_runs_code(data):
    """Whether a PDF names a JavaScript or launch action, outside its
    streams or in its object streams (a heuristic: the data of images and
    fonts is not read, so it does not give false alarms)"""
    data = bytes(data)
    outside, position, budget = [], 0, PDF_OBJECT_STREAM_BYTES
    for match in PDF_STREAM.finditer(data):
        if match.start() < position:
            continue
        head = data[position:match.start()]
        outside.append(head)
        end = data.find(b'endstream', match.end())
        end = len(data) if end < 0 else end
        dictionary = head[head.rfind(b'obj'):]
        names = set(_pdf_names(dictionary))
        if b'ObjStm' in names and budget > 0:
            inflater = zlib.decompressobj()
            try:
                content = inflater.decompress(
                    data[match.end():end], budget)
            except zlib.error:
                content = b''
            budget -= len(content)
            outside.append(content)
        position = end
    outside.append(data[position:])
    return any(name in PDF_ACTIVE
        for part in outside for name in _pdf_names(part))


def _has_macros(data):
    "Whether an OOXML or OpenDocument file holds macros"
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return any(n.lower().endswith('vbaproject.bin')
        or n.startswith(('Basic/', 'Scripts/')) for n in names)


def type_label(mimetype):
    return TYPE_LABELS.get(mimetype, mimetype or '')


def name_agrees(file_name, mimetype):
    """Whether the file name's extension says the type the content has (a
    name without a known extension agrees with anything)"""
    guessed, _ = mimetypes.guess_type(file_name or '', strict=False)
    ext = os.path.splitext(file_name or '')[1].lower()
    guessed = TEXT_TYPES.get(ext) or OLE.get(ext) or guessed
    if not guessed:
        return True
    if guessed == mimetype:
        return True
    if guessed.startswith('text/') and mimetype.startswith('text/'):
        return True
    # .jpg, .jpe and .jpeg are all image/jpeg; zip-based types named .zip
    return guessed == 'application/zip' and mimetype in OOXML.values()


def safe_file_name(name):
    """name without directories, control or shell characters, and not
    longer than MAX_NAME (the extension kept)"""
    name = unicodedata.normalize('NFC', name or '')
    name = re.split(r'[\\/]', name)[-1]
    name = ''.join(c for c in name if unicodedata.category(c)[0] != 'C')
    name = re.sub(r'[^\w.\- ()]+', '_', name).strip(' ._')
    name = re.sub(r'_+', '_', name)
    base, ext = os.path.splitext(name)
    if len(ext) > 10:
        base, ext = name, ''
    base = base[:MAX_NAME - len(ext)].strip(' ._')
    return (base or 'file') + ext.lower()


def checksum(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def check_file(data, file_name):
    """The type of the file if the configuration accepts it, else raise a
    DocumentFileError naming the file and what is wrong"""
    pool = Pool()
    Configuration = pool.get('crm.document.configuration')
    config = Configuration(1)
    max_bytes = config.max_size_bytes
    if max_bytes and len(data) > max_bytes:
        raise DocumentFileError(gettext(
                'crm_kit_document.msg_file_too_large',
                file=file_name, size=human_size(len(data)),
                limit=human_size(max_bytes)))
    if not len(data):
        raise DocumentFileError(gettext(
                'crm_kit_document.msg_file_empty', file=file_name))
    mimetype = detect_type(data, file_name)
    active = active_content(data, file_name, mimetype)
    if active:
        raise DocumentFileError(gettext(active, file=file_name))
    allowed = config.allowed_type_list
    if mimetype not in allowed:
        raise DocumentFileError(gettext(
                'crm_kit_document.msg_file_type_not_allowed',
                file=file_name, type=type_label(mimetype),
                allowed=', '.join(sorted({type_label(t) for t in allowed}))))
    if not name_agrees(file_name, mimetype):
        raise DocumentFileError(gettext(
                'crm_kit_document.msg_file_name_disagrees',
                file=file_name, type=type_label(mimetype)))
    return mimetype

