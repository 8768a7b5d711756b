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
