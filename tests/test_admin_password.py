# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""crm-kit init gives a new database's admin a random password, printed
once and kept in a file only its owner reads; the served test database
was made so, and its admin logs in with that password (test_browser)."""
import stat

from crmkit import cli


def test_random_admin_password(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('CRM_KIT_HOME', str(tmp_path))
    first = cli.new_admin_password('crm')
    path = tmp_path / f'crm-{cli.ADMIN_PASSWORD_FILE}'
    assert path.read_text() == first + '\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first in capsys.readouterr().out
    assert len(first) >= 16
    # Another database, or the same made again, gets another one.
    assert cli.new_admin_password('crm') != first
    assert 'crm-kit-admin' not in path.read_text()
