# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A lead's identity: its e-mail, phone and tax identifier, cleaned to the
one form the CRM compares for duplicates, and the message that says why
one is not valid.  The file import cleans what it stores with these rules;
the lead form, the API and the web forms check what is typed with them."""
import re

import phonenumbers
from stdnum.es import nif
from stdnum.eu import vat
from stdnum.util import clean

from trytond.i18n import gettext

from .duplicate import remember_phone

_EMAIL = re.compile(r'^[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+$')


class InvalidIdentity(ValueError):
    "A value that is no e-mail, phone or tax identifier: the message id"

    def __init__(self, message_id):
        super().__init__(message_id)
        self.message_id = message_id


def clean_email(value):
    "The e-mail with its domain in lowercase; ValueError when malformed"
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(value)
    local, domain = value.split('@')
    return '%s@%s' % (local, domain.lower())


def clean_phone(value, region='ES'):
    """The phone number in international format; region is the country
    of numbers written without their prefix"""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exception:
        raise ValueError(value) from exception
    if not phonenumbers.is_possible_number(number):
        raise ValueError(value)
    text = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    remember_phone(text, phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164))
    return text


def clean_tax_identifier(value):
    """The compact NIF, CIF or NIE (without ES), or the compact EU VAT
    number of another country"""
    value = clean(value, ' -./').upper()
    # es.nif checks DNI, NIE and CIF alike, with or without "ES".
    if nif.is_valid(value):
        return nif.compact(value)
    if vat.is_valid(value):
        return vat.compact(value)
    raise ValueError(value)


# The cleaning of the lead's identity and the message when it fails; the
# lead model checks what users type by hand with the same functions.
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
