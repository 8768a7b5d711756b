# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The identity's fast paths give what the libraries give: the common
Spanish phones and NIFs are read without phonenumbers' and stdnum's
parsers, which cost the import a third of its time."""
import random

import phonenumbers
from stdnum.es import nif
from stdnum.eu import vat
from stdnum.util import clean

from crm_kit_lead.identity import clean_tax_identifier, phone_forms

SEED = 3


def library_tax_identifier(value):
    value = clean(value, ' -./').upper()
    if nif.is_valid(value):
        return nif.compact(value)
    if vat.is_valid(value):
        return vat.compact(value)
    raise ValueError(value)


def library_phone(value, region):
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exception:
        raise ValueError(value) from exception
    if not phonenumbers.is_possible_number(number):
        raise ValueError(value)
    return (
        phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164))


def outcome(function, *args):
    try:
        return function(*args)
    except ValueError:
        return 'invalid'


def test_tax_identifiers_as_stdnum_reads_them():
    "DNI, NIE, CIF, with right and wrong check characters, as typed"
    rng = random.Random(SEED)
    checks = 'TRWAGMYFPDXBNJZSQVHLCKE0123456789ABCDEFGHIJ'
    differing = []
    for _ in range(20_000):
        first = rng.choice('0123456789KLMXYZABCDEFGHJNPQRSUVWIO')
        body = ''.join(rng.choice('0123456789') for _ in range(7))
        value = first + body + rng.choice(checks)
        value = rng.choice([value, 'ES' + value, 'es-' + value.lower(),
                value[:3] + ' ' + value[3:], value + '.', value[:-1]])
        if (outcome(clean_tax_identifier, value)
                != outcome(library_tax_identifier, value)):
            differing.append(value)
    assert differing == []


def test_phones_as_phonenumbers_reads_them():
    "Numbers of every length and prefix, read in Spain and elsewhere"
    rng = random.Random(SEED)
    differing = []
    for _ in range(20_000):
        digits = rng.choice('0123456789') + ''.join(
            rng.choice('0123456789') for _ in range(rng.choice([7, 8, 8, 9])))
        value = rng.choice([digits, '+34 ' + digits, '0034' + digits,
                digits[:3] + ' ' + digits[3:], '(+34) ' + digits,
                digits[:3] + '-' + digits[3:6] + '-' + digits[6:],
                '+33 ' + digits])
        region = rng.choice(['ES', 'ES', 'FR', 'US'])
        if (outcome(phone_forms, value, region)
                != outcome(library_phone, value, region)):
            differing.append((value, region))
    assert differing == []
