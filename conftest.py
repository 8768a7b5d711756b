"""pytest setup shared by the module tests and the flow tests.

Tryton's test helpers read DB_NAME, DB_CACHE and the backend from the
environment when they are imported, so they are set here, before any test
module imports trytond.

DB_CACHE is where Tryton keeps each activated test database, so that a
test class starts from a copy instead of activating its modules again
(crm_kit.tests.tools.activate_crm keeps the CRM set-up in it too).  The
copies are valid for the sources they were made from: their key is a hash
of those sources, and copies of other keys are removed at the start of a
run.  On SQLite a copy is a file under var/test-cache/KEY; on PostgreSQL a
template database (CREATE DATABASE ... TEMPLATE takes well under a second,
pg_restore of a dump several)."""
import hashlib
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# What an activated test database is made of: the modules, crm-kit's
# company set-up and the tests' builders.
CACHE_SOURCES = [
    'crm_kit*/tryton.cfg', 'crm_kit*/*.py', 'crm_kit*/*.xml',
    'crm_kit*/view/*.xml', 'crm_kit*/locale/*.po', 'crm_kit*/tests/tools.py',
    'crmkit/company_setup.py',
    ]
# The database that says which key the template databases were made for.
PG_CACHE_MARKER = 'crm_kit_test_cache_'


def cache_key():
    digest = hashlib.sha1()
    for pattern in CACHE_SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


os.environ.setdefault('TRYTOND_DATABASE__URI', 'sqlite://')
URI = os.environ['TRYTOND_DATABASE__URI']
SQLITE = URI.startswith('sqlite')
if not SQLITE:
    # One database per process on a server, named after the process.
    os.environ.setdefault('DB_NAME', f'test_crm_kit_{os.getpid()}')
    # A test's commit need not wait for the disk: nothing is kept after
    # the run; and a test's query is too small for JIT compilation to pay
    # back (libpq applies these to every connection of the process and of
    # the servers it starts).
    os.environ.setdefault(
        'PGOPTIONS', '-c synchronous_commit=off -c jit=off')
os.environ.setdefault('TRYTOND_EMAIL__URI', 'smtp://127.0.0.1:1')
CACHE_KEY = cache_key()
if SQLITE:
    os.environ.setdefault(
        'DB_CACHE', str(ROOT / 'var' / 'test-cache' / CACHE_KEY))
else:
    # Tryton keeps them as template databases named test-<hash>.
    os.environ.setdefault('DB_CACHE', 'postgresql://')


def _remove_stale_sqlite_copies(cache):
    cache = Path(cache)
    if cache.parent.is_dir():
        for other in cache.parent.iterdir():
            if other.is_dir() and other != cache:
                shutil.rmtree(other, ignore_errors=True)


def _remove_stale_pg_templates():
    import psycopg
    marker = PG_CACHE_MARKER + CACHE_KEY
    with psycopg.connect(URI.rstrip('/') + '/postgres',
            autocommit=True) as connection:
        names = [n for n, in connection.execute(
                "SELECT datname FROM pg_database "
                "WHERE datname LIKE 'test-%%' OR datname LIKE %s",
                (PG_CACHE_MARKER.replace('_', r'\_') + '%',))]
        if marker in names:
            return
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        try:
            connection.execute(f'CREATE DATABASE "{marker}"')
        except (psycopg.errors.DuplicateDatabase,
                psycopg.errors.UniqueViolation):
            pass  # another run of the same sources, started with this one


def pytest_configure(config):
    if hasattr(config, 'workerinput'):
        return  # a pytest-xdist worker: its controller has done it
    cache = os.environ['DB_CACHE']
    if cache.startswith('postgresql://'):
        _remove_stale_pg_templates()
        _drop_put_aside(alive_only=True)
    elif cache.startswith(str(ROOT / 'var' / 'test-cache')):
        _remove_stale_sqlite_copies(cache)


def _look_up_modules_once():
    """trytond finds a module among every entry point of the environment
    on each call of import_module, and the checks of ModuleTestCase call it
    through isregisteredby some 200,000 times per module (most of their
    time): a module, once imported, is the same module, so look each up
    once."""
    import functools

    import trytond.tools
    from trytond.tools import misc
    cached = functools.cache(misc.import_module)
    misc.import_module = trytond.tools.import_module = cached


_look_up_modules_once()


# What trytond asks information_schema for a table's foreign keys, asked of
# pg_catalog: (name, column, delete rule) of each foreign key of a table.
PG_FOREIGN_KEYS = (
    "SELECT c.conname, a.attname, "
    "CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' "
    "WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' "
    "WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END "
    "FROM pg_constraint AS c "
    "JOIN pg_class AS r ON r.oid = c.conrelid "
    "JOIN pg_namespace AS n ON n.oid = r.relnamespace "
    "JOIN pg_attribute AS a "
    "ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
    "WHERE c.contype = 'f' AND r.relname = %s AND n.nspname = %s")


def _read_foreign_keys_from_the_catalog():
    """trytond's PostgreSQL table handler reads a table's foreign keys from
    information_schema, whose views PostgreSQL evaluates over every
    constraint of the database: up to a second a call while the suites
    run side by side, and activating a test database's modules asks once
    per foreign key it adds.  The tests ask pg_catalog the same question
    (crm_kit/tests/test_catalog.py checks the answers are the same)."""
    from trytond.backend.postgresql.table import TableHandler
    from trytond.transaction import Transaction

    def _fk_deltypes(self):
        cached = self._TableHandler__fk_deltypes
        if cached is None:
            cursor = Transaction().connection.cursor()
            cursor.execute(
                PG_FOREIGN_KEYS, (self.table_name, self.table_schema))
            cached = self._TableHandler__fk_deltypes = {
                r[:2]: r[2] for r in cursor}
        return cached
    TableHandler._fk_deltypes_from_information_schema = (
        TableHandler._fk_deltypes)
    TableHandler._fk_deltypes = property(_fk_deltypes)


if not SQLITE:
    _read_foreign_keys_from_the_catalog()


# The test databases put aside instead of dropped (_put_aside_drops).
PUT_ASIDE = '_put_aside_'


def _put_aside_drops():
    """A test class drops the test database when it ends and restores a
    copy when the next one starts; on PostgreSQL, DROP DATABASE forces a
    checkpoint of the whole server, seconds while the suites run side by
    side.  The test database is renamed aside instead (no checkpoint) and
    those put aside are dropped once, at the end of the run."""
    from psycopg.sql import SQL, Identifier
    from trytond.backend.postgresql.database import Database

    drop = Database.drop.__func__
    name = os.environ['DB_NAME']
    count = iter(range(1, 1_000_000))

    def put_aside(cls, connection, database_name):
        if database_name != name:
            return drop(cls, connection, database_name)
        connection.cursor().execute(SQL('ALTER DATABASE {} RENAME TO {}')
            .format(Identifier(database_name),
                Identifier(f'{database_name}{PUT_ASIDE}{next(count)}')))
        cls.clear_cache()
    Database.drop = classmethod(put_aside)


def _drop_put_aside(alive_only):
    """Drop the databases put aside by this run (alive_only False) or by
    runs whose process is gone (alive_only True)"""
    import psycopg
    with psycopg.connect(URI.rstrip('/') + '/postgres',
            autocommit=True) as connection:
        names = [n for n, in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                ('test\\_crm\\_kit\\_%' + PUT_ASIDE.replace('_', '\\_')
                    + '%',))]
        for database in names:
            pid = int(database[len('test_crm_kit_'):].split('_')[0])
            ours = pid == os.getpid()
            if alive_only and (ours or Path(f'/proc/{pid}').exists()):
                continue
            if not alive_only and not ours:
                continue
            connection.execute(f'DROP DATABASE IF EXISTS "{database}"')


if not SQLITE and os.environ['DB_NAME'] == f'test_crm_kit_{os.getpid()}':
    _put_aside_drops()


def pytest_sessionfinish(session, exitstatus):
    if not SQLITE and not hasattr(session.config, 'workerinput'):
        _drop_put_aside(alive_only=False)
