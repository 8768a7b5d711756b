# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""crm-kit init takes the company's NIF/CIF, printed on its quotes: from
--nif, else asked when the company is named on a terminal."""
import argparse
import io

import pytest

from crmkit import cli


def options(**values):
    values.setdefault('company', cli.DEFAULT_COMPANY)
    values.setdefault('nif', None)
    return argparse.Namespace(**values)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_nif_option_is_checked_and_compacted():
    assert cli.ask_tax_identifier(options(nif='b-1234567-4')) == 'B12345674'
    with pytest.raises(SystemExit, match='not a valid Spanish NIF'):
        cli.ask_tax_identifier(options(nif='12345678A'))


def test_nif_asked_when_the_company_is_named(monkeypatch, capsys):
    monkeypatch.setattr('sys.stdin', Terminal('12345678Z\n'))
    assert cli.ask_tax_identifier(
        options(company="Ferretería Ruiz S.L.")) == '12345678Z'
    assert 'NIF/CIF of Ferretería Ruiz S.L.' in capsys.readouterr().out
    # Enter leaves it for later.
    monkeypatch.setattr('sys.stdin', Terminal('\n'))
    assert cli.ask_tax_identifier(
        options(company="Ferretería Ruiz S.L.")) is None


def test_nif_not_asked_without_a_terminal_or_a_name(monkeypatch):
    monkeypatch.setattr('sys.stdin', io.StringIO('12345678Z\n'))
    assert cli.ask_tax_identifier(
        options(company="Ferretería Ruiz S.L.")) is None
    monkeypatch.setattr('sys.stdin', Terminal('12345678Z\n'))
    assert cli.ask_tax_identifier(options()) is None
