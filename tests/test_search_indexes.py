# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""On PostgreSQL, crm-kit init creates pg_trgm before the modules, so the
indexes trytond declares for searches by name are trigram (GIN) indexes,
which a search for "%text%" in the lists uses (docs/performance.md)."""
import psycopg
import pytest

try:
    from server import is_sqlite
except ImportError:
    from tests.server import is_sqlite

pytestmark = pytest.mark.skipif(
    is_sqlite(), reason="PostgreSQL's extensions and index kinds")


def _connect(database):
    import os
    uri = os.environ['TRYTOND_DATABASE__URI'].rstrip('/')
    return psycopg.connect(f'{uri}/{database}')


def test_names_searched_with_trigram_indexes(crm_init):
    with _connect(crm_init.database) as connection:
        extensions = {name for name, in connection.execute(
                "SELECT extname FROM pg_extension")}
        assert 'pg_trgm' in extensions
        indexes = connection.execute(
            "SELECT tablename, indexdef FROM pg_indexes "
            "WHERE tablename IN ('party_party', 'sale_opportunity', "
            "'party_contact_mechanism') "
            "AND indexdef LIKE '%gin_trgm_ops%'").fetchall()
    definitions = '\n'.join(d for _, d in indexes)
    # The party's name and code, its e-mails and phones, the opportunity's
    # number and reference
    assert {t for t, _ in indexes} == {
        'party_party', 'sale_opportunity', 'party_contact_mechanism'}
    for column in ['name', 'code', 'number', 'reference', 'value_compact']:
        assert column in definitions, definitions
