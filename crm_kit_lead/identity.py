# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A lead's identity, in one place: its e-mail, phone and tax identifier
cleaned to the form the CRM stores, the keys duplicates are compared by,
and the message that says why a value is not valid.

Every entry (the lead form, the API, web forms, the file import) stores
what ``clean_*`` gives and compares what ``*_key`` gives.  A phone is
parsed once: ``phone_forms`` gives the stored text and the key together,
and ``identity_keys`` reuses a key a caller already computed."""
import re
import unicodedata

import phonenumbers
from stdnum import eu
from stdnum.es import nif
from stdnum.eu import vat
from stdnum.util import clean

from trytond.i18n import gettext

# The key fields of a lead, in the order a match is explained, and the
# lead field each is computed from.
KEY_SOURCES = {
    'email_key': 'lead_email',
    'phone_key': 'lead_phone',
    'tax_key': 'lead_tax_identifier',
    'company_key': 'lead_company',
    'person_key': 'lead_name',
    }
KEYS = list(KEY_SOURCES)
# The person key is the contact's name at the company: both make it.
PERSON_SOURCES = ('lead_name', 'lead_company')

_EMAIL = re.compile(r'^[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+$')
# Legal forms dropped from company names so that "Gómez S.L." and
# "GOMEZ SL" are the same company.
_LEGAL_FORMS = {
    'sl', 'sa', 'slu', 'sau', 'sll', 'slne', 'scoop', 'scp', 'cb', 'sc',
    'sociedad', 'limitada', 'anonima', 'cooperativa', 'ltd', 'limited',
    'llc', 'inc', 'corp', 'co', 'gmbh', 'sas', 'sarl', 'srl', 'bv', 'plc',
    }


class InvalidIdentity(ValueError):
    "A value that is no e-mail, phone or tax identifier: the message id"

    def __init__(self, message_id):
        super().__init__(message_id)
        self.message_id = message_id


def unaccent(value):
    return ''.join(c for c in unicodedata.normalize('NFKD', value)
        if not unicodedata.combining(c))


# What is stored

def clean_email(value):
    "The e-mail with its domain in lowercase; ValueError when malformed"
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(value)
    local, domain = value.split('@')
    return '%s@%s' % (local, domain.lower())


# Spanish numbers as people write them: 9 digits, maybe with +34 or 0034,
# spaces, dashes, dots or brackets.  Those starting 6, 7, 8 or 9 but 80
# and 90 (numbers with their own grouping) are grouped 3-2-2-2 in
# international format; phonenumbers takes the others.
_SEPARATORS = str.maketrans('', '', ' -./()\t')
_SPANISH_NUMBER = re.compile(r'^(\+34|0034)?([67]\d{8}|[89][1-9]\d{7})$')


def _spanish_phone(value, region):
    "The forms of a common Spanish number, or None for phonenumbers"
    match = _SPANISH_NUMBER.match(value.translate(_SEPARATORS))
    if not match:
        return None
    prefix, digits = match.groups()
    # Without +34 the number is Spanish only when read in Spain; 00 is
    # the international prefix of Spain, not of every country.
    if prefix != '+34' and region != 'ES':
        return None
    return ('+34 %s %s %s %s' % (
            digits[:3], digits[3:5], digits[5:7], digits[7:]),
        '+34' + digits)


def phone_forms(value, region='ES'):
    """The phone number in international format and its key (E.164);
    region is the country of numbers written without their prefix"""
    # The common case without phonenumbers' parser: an import of a
    # hundred thousand rows spends a fifth of its time parsing otherwise.
    forms = _spanish_phone(value, region or 'ES')
    if forms is not None:
        return forms
    try:
        number = phonenumbers.parse(value, region or 'ES')
    except phonenumbers.NumberParseException as exception:
        raise ValueError(value) from exception
    if not phonenumbers.is_possible_number(number):
        raise ValueError(value)
    return (
        phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164))


def clean_phone(value, region='ES'):
    "The phone number in international format"
    return phone_forms(value, region)[0]


_TAX_SEPARATORS = str.maketrans('', '', ' -./')
_NIF_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE'
_SPANISH_NIF = re.compile(
    r'^(?:ES)?([0-9KLMXYZ]\d{7}[A-Z]|[ABCDEFGHJNPQRSUVW]\d{7}[0-9A-J])$')


def _compact(value):
    "The identifier without separators, in uppercase"
    if value.isascii():
        return value.translate(_TAX_SEPARATORS).upper()
    return clean(value, ' -./').upper()


def _luhn_digit(digits):
    "The Luhn check digit of digits, as stdnum.luhn computes it"
    total = 0
    for position, digit in enumerate(reversed(digits)):
        digit = int(digit)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _spanish_nif(value):
    """The valid Spanish NIF (DNI, NIE, CIF) value is, without ES, or None:
    the checks of stdnum.es.nif without its parsing, which costs a tenth
    of the import's time"""
    match = _SPANISH_NIF.match(value)
    if not match:
        return None
    number = match.group(1)
    first, body, check = number[0], number[1:8], number[8]
    if first.isdigit():
        valid = _NIF_LETTERS[int(number[:8]) % 23] == check
    elif first in 'KLM':
        valid = _NIF_LETTERS[int(body) % 23] == check
    elif first in 'XYZ':
        valid = _NIF_LETTERS[int(str('XYZ'.index(first)) + body) % 23] == check
    else:
        digit = _luhn_digit(body)
        valid = check in (digit, 'JABCDEFGHI'[int(digit)])
    return number if valid else None


def clean_tax_identifier(value):
    """The compact NIF, CIF or NIE (without ES), or the compact EU VAT
    number of another country"""
    value = _compact(value)
    spanish = _spanish_nif(value)
    if spanish is not None:
        return spanish
    # es.nif checks DNI, NIE and CIF alike, with or without "ES".
    if nif.is_valid(value):
        return nif.compact(value)
    if vat.is_valid(value):
        return vat.compact(value)
    raise ValueError(value)


# The cleaning of the lead's identity and the message when it fails.
_IDENTITY = {
    'lead_email': (clean_email, 'crm_kit_lead.msg_file_invalid_email'),
    'lead_phone': (clean_phone, 'crm_kit_lead.msg_file_invalid_phone'),
    'lead_tax_identifier': (
        clean_tax_identifier, 'crm_kit_lead.msg_file_invalid_tax_identifier'),
    }


def clean_identity(field, value, *args):
    """The value of field cleaned, or InvalidIdentity with the message that
    says why it cannot be"""
    clean_value, message_id = _IDENTITY[field]
    try:
        return clean_value(value, *args)
    except ValueError:
        raise InvalidIdentity(message_id)


def _check(field, value, column, *args):
    try:
        clean_identity(field, value, *args)
    except InvalidIdentity as invalid:
        return gettext(invalid.message_id, value=value, column=column)


def check_email(value, column):
    "The message saying why the e-mail is malformed, or None"
    return _check('lead_email', value, column)


def check_phone(value, column, region='ES'):
    "The message saying why the phone number is not valid, or None"
    return _check('lead_phone', value, column, region)


def check_tax_identifier(value, column):
    "The message saying why the tax identifier is not valid, or None"
    return _check('lead_tax_identifier', value, column)


def normalise(values, region='ES'):
    """Clean in place the e-mail, phone and tax identifier of a lead's
    values that are valid, as the import stores them, and set the key of
    the phone parsed; invalid values are left as typed for the checks to
    name"""
    for field, clean_value in [
            ('lead_email', clean_email),
            ('lead_tax_identifier', clean_tax_identifier)]:
        if values.get(field):
            try:
                values[field] = clean_value(values[field])
            except ValueError:
                pass
    if values.get('lead_phone'):
        try:
            values['lead_phone'], values['phone_key'] = phone_forms(
                values['lead_phone'], region)
        except ValueError:
            pass
    return values


# What is compared

def email_key(value):
    value = (value or '').strip().lower()
    return value or None


def phone_key(value, region=None):
    "The E.164 form of a phone number, or its digits when it does not parse"
    value = (value or '').strip()
    if not value:
        return None
    try:
        return phone_forms(value, region or 'ES')[1]
    except ValueError:
        digits = re.sub(r'\D', '', value)
        return digits or None


def tax_key(value):
    "The compact tax identifier, without the ES prefix of a Spanish VAT"
    value = _compact(value or '').strip()
    if not value:
        return None
    if value.startswith('ES') and len(value) > 2:
        value = value[2:]
    elif len(value) > 2 and value[:2].isalpha() and value[:2] != 'ES':
        try:
            value = eu.vat.compact(value)
        except Exception:
            pass
    return value


def company_key(value):
    "The company name without accents, punctuation, case or legal form"
    value = unaccent(value or '').lower()
    words = re.sub(r'[^a-z0-9]+', ' ', value.replace('.', '')).split()
    words = [w for w in words if w not in _LEGAL_FORMS]
    return ' '.join(words) or None


def person_key(name, company, company_key_=None):
    """The contact's name at the company, without accents, punctuation or
    case: "Ana López" of "Gómez S.L." is "ana lopez" of "GOMEZ SL"; None
    without both.  company_key_ is the company's key when known."""
    company = company_key_ or company_key(company)
    words = re.sub(r'[^a-z0-9]+', ' ', unaccent(name or '').lower()).split()
    if not company or not words:
        return None
    return '%s|%s' % (company, ' '.join(words))


def identity_keys(values, region='ES'):
    """The duplicate keys of a lead given as a dictionary of its values;
    a key already in values (computed when the value was cleaned) is
    kept"""
    def key(name, function, *args):
        if values.get(name) is not None:
            return values[name]
        return function(values.get(KEY_SOURCES[name]), *args)
    company = key('company_key', company_key)
    return {
        'email_key': key('email_key', email_key),
        'phone_key': key('phone_key', phone_key, region),
        'tax_key': key('tax_key', tax_key),
        'company_key': company,
        'person_key': (values['person_key']
            if values.get('person_key') is not None
            else person_key(values.get('lead_name'), None, company)
            if company else None),
        }
