# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Numbers, dates, months and sizes as people write them, in a language's
formats (ir.lang): what the pages, e-mails, messages and exports show a
person, never what a program reads.

lang is an ir.lang code; without one, the transaction's language."""
from trytond.i18n import gettext
from trytond.pool import Pool

NO_BREAKING_SPACE = '\xa0'
SIZE_UNITS = ['B', 'KB', 'MB', 'GB']


def _lang(lang=None):
    return Pool().get('ir.lang').get(lang)


def format_date(date, lang=None):
    "date as the language writes it: 16/12/2026 in Spanish"
    if not date:
        return ''
    return _lang(lang).strftime(date)


def format_month(date, lang=None):
    """The month starting on date as the language names it: enero 2026,
    January 2026; the date itself for a month that starts on another day
    (a business year from 15 July)"""
    if not date:
        return ''
    lang = _lang(lang)
    if date.day != 1:
        return lang.strftime(date)
    name = lang.strftime(date, '%B')
    # The translation chooses the case: Spanish writes its months in lower
    # case, ir.calendar.month capitalises them.
    return gettext('crm_kit.msg_month_label', lang.code,
        Month=name, month=name.lower(), year=lang.strftime(date, '%Y'))


def _rounded(value, digits):
    "value rounded to digits, and the digits a person would write of it"
    value = round(float(value or 0), digits)
    return value, 0 if value == int(value) else digits


def format_number(value, digits=1, lang=None):
    """value rounded to digits, without the zeros a person would not
    write: 25, 1,5 in Spanish, 1.5 in English"""
    value, digits = _rounded(value, digits)
    return _lang(lang).format_number(value, digits).replace(
        NO_BREAKING_SPACE, ' ')


def plain_number(value, digits=1):
    """format_number before a language is known (the parameters of an
    error raised outside a transaction): 25, 1.5"""
    return '%.*f' % _rounded(value, digits)[::-1]


def human_size(size, lang=None):
    "A size in bytes as a person reads it: 25 MB, 1,5 KB in Spanish"
    size = float(size or 0)
    for unit in SIZE_UNITS:
        if size < 1024 or unit == SIZE_UNITS[-1]:
            break
        size /= 1024
    if round(size, 1) >= 1024 and unit != SIZE_UNITS[-1]:
        # 1023.96 KB is 1 MB, not 1024 KB.
        size, unit = size / 1024, SIZE_UNITS[SIZE_UNITS.index(unit) + 1]
    return '%s %s' % (
        format_number(size, 0 if unit == 'B' else 1, lang=lang), unit)
