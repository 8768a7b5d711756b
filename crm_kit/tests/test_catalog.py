# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""On PostgreSQL the tests read a table's foreign keys from pg_catalog
instead of information_schema (conftest.py, for speed): both give the same
keys, columns and delete rules for every table of a CRM database."""
import unittest

from trytond import backend
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import CrmTestCase

# trytond's question of information_schema, for every table at once.
INFORMATION_SCHEMA = (
    "SELECT k.table_name, k.constraint_name, k.column_name, r.delete_rule "
    "FROM information_schema.key_column_usage AS k "
    "JOIN information_schema.referential_constraints AS r "
    "ON r.constraint_schema = k.constraint_schema "
    "AND r.constraint_name = k.constraint_name "
    "WHERE k.table_schema = 'public'")


@unittest.skipIf(backend.name != 'postgresql', "PostgreSQL's catalog")
class ForeignKeysTestCase(CrmTestCase):

    def test_catalog_gives_what_information_schema_gives(self):
        from trytond.backend.postgresql.table import TableHandler

        from conftest import PG_FOREIGN_KEYS
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(INFORMATION_SCHEMA)
            expected = {}
            for table, *key in cursor:
                expected.setdefault(table, set()).add(tuple(key))
            self.assertGreater(sum(map(len, expected.values())), 500)
            for table, keys in expected.items():
                cursor.execute(PG_FOREIGN_KEYS, (table, 'public'))
                self.assertEqual(set(map(tuple, cursor)), keys, table)

            # The table handler asks the catalog, with the same answer.
            for table in ['sale_opportunity', 'sale_sale', 'party_party']:
                handler = object.__new__(TableHandler)
                handler.table_name, handler.table_schema = table, 'public'
                handler._TableHandler__fk_deltypes = None
                catalog = handler._fk_deltypes
                handler._TableHandler__fk_deltypes = None
                self.assertEqual(catalog,
                    handler._fk_deltypes_from_information_schema, table)
                self.assertEqual(catalog,
                    {k[:2]: k[2] for k in expected[table]})
