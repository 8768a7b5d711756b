"""The crm-kit command: init, demo and serve.

    crm-kit init    create the database (SQLite under var/ unless
                    TRYTOND_DATABASE__URI says otherwise), activate the CRM
                    modules with Spanish and English, set up the company
    crm-kit demo    load the demo dataset (once)
    crm-kit serve   serve sao and the REST API on http://localhost:8000,
                    with the scheduler and the queue worker
    crm-kit backup  write the database and its files to one archive
    crm-kit restore restore an archive of crm-kit backup
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import settings

# A new database's admin password, when none is given, is random: it is
# printed once and kept in this file of CRM_KIT_HOME, readable by its owner
# alone (a fixed, published password was anyone's way in).
ADMIN_PASSWORD_FILE = 'admin-password.txt'
DEFAULT_COMPANY = "My Company"


def _bin(name):
    return str(Path(sys.executable).parent / name)


def _trytond():
    "Import trytond once the configuration is in place"
    settings.ensure_config()
    import trytond.config as config
    # trytond may have read its configuration before the defaults were
    # set: read the environment again, then the file, as trytond does.
    config._config.update_environ()
    config.update_etc(str(settings.config_path()))
    from trytond import backend
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    return config, backend, Pool, Transaction


def database_exists(name):
    _, backend, _, _ = _trytond()
    database = backend.Database()
    database.connect()
    return name in database.list()


def create_database(name):
    config, backend, _, _ = _trytond()
    if backend.name == 'sqlite':
        path = Path(config.get('database', 'path')) / f'{name}.sqlite'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return
    database = backend.Database()
    database.connect()
    connection = database.get_connection(autocommit=True)
    try:
        database.create(connection, name)
    finally:
        database.put_connection(connection)


# PostgreSQL extensions crm-kit's indexes use: with pg_trgm, trytond builds
# the indexes it declares for searches by name (Index.Similarity: a
# party's name and code, an opportunity's number and reference) as trigram
# indexes, which a search for "%text%" uses; without it, as b-tree indexes,
# which it does not.
EXTENSIONS = ['pg_trgm']


def create_extensions(name):
    """Create EXTENSIONS in database name (PostgreSQL), as its owner may
    (they are trusted extensions); warn, and go on without, when refused"""
    _, backend, _, _ = _trytond()
    if backend.name != 'postgresql':
        return
    database = backend.Database(name).connect()
    connection = database.get_connection(autocommit=True)
    try:
        cursor = connection.cursor()
        for extension in EXTENSIONS:
            try:
                cursor.execute(
                    f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
            except Exception as exception:
                # (Insufficient privilege, or not installed on the server)
                print(f"warning: the PostgreSQL extension {extension} could "
                    f"not be created in {name!r} ({exception}): searches by "
                    "name will read whole tables. Ask the database's "
                    f"administrator to run: CREATE EXTENSION {extension};",
                    file=sys.stderr)
    finally:
        database.put_connection(connection)


def drop_database(name):
    "Drop a server database and forget its pool (SQLite files stay)"
    _, backend, Pool, _ = _trytond()
    from trytond.cache import Cache
    Pool.stop(name)
    Cache.drop(name)
    backend.Database(name).close()
    if backend.name == 'sqlite':
        return
    database = backend.Database()
    database.connect()
    connection = database.get_connection(autocommit=True)
    try:
        if name in database.list():
            database.drop(connection, name)
    finally:
        database.put_connection(connection)


def activated_modules(database):
    "The names of the modules activated in a connected trytond Database"
    connection = database.get_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT name FROM ir_module WHERE state = 'activated'")
        return frozenset(name for name, in cursor)
    finally:
        # Its transaction ended (psycopg's pool warns of one left open).
        connection.rollback()
        database.put_connection(connection)


# What `crm-kit init --update` reads of a module: another digest of them is
# another release of crm-kit, which the database is updated to.
MODULE_SOURCES = [
    'tryton.cfg', '*.py', '*.xml', '*.html', 'view/*.xml', 'locale/*.po']
# The digest of the modules a database was last set up with.
RELEASE_TABLE = 'crm_kit_release'


def modules_digest():
    "The digest of the installed crm-kit modules' sources"
    import hashlib
    from importlib.util import find_spec
    digest = hashlib.sha256()
    for module in settings.MODULES:
        root = Path(find_spec(module).submodule_search_locations[0])
        for pattern in MODULE_SOURCES:
            for path in sorted(root.glob(pattern)):
                digest.update(f'{module}/{path.relative_to(root)}'.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _release(name, digest=None):
    """The modules' digest database name was last set up with (None when
    set up by a release that kept none); with digest, keep it instead"""
    from sql import Table
    _, backend, _, _ = _trytond()
    database = backend.Database(name).connect()
    connection = database.get_connection()
    table = Table(RELEASE_TABLE)
    try:
        cursor = connection.cursor()
        cursor.execute(f'CREATE TABLE IF NOT EXISTS "{RELEASE_TABLE}" '
            '(digest VARCHAR(64) NOT NULL)')
        if digest:
            cursor.execute(*table.delete())
            cursor.execute(*table.insert([table.digest], [[digest]]))
        else:
            cursor.execute(*table.select(table.digest))
            row = cursor.fetchone()
            digest = row[0] if row else None
        connection.commit()
        return digest
    finally:
        database.put_connection(connection)


def is_initialised(name):
    "Whether every crm-kit module is activated in the database"
    _, backend, _, _ = _trytond()
    database = backend.Database(name).connect()
    if not database.test():
        return False
    return set(settings.MODULES) <= activated_modules(database)


def is_set_up(name):
    "Whether crm-kit was set up in the database, by any release"
    _, backend, _, _ = _trytond()
    database = backend.Database(name).connect()
    return bool(database.test()
        and 'crm_kit' in activated_modules(database))


def run_admin(name, update=False, password=None):
    "Activate (or update) the CRM modules with trytond-admin"
    env = dict(os.environ)
    args = [_bin('trytond-admin'), '-c', str(settings.config_path()),
        '-d', name, '--activate-dependencies']
    for language in settings.LANGUAGES:
        args += ['-l', language]
    if update or not is_initialised(name):
        args += ['-u', *settings.MODULES]
    if password:
        passfile = settings.home() / '.admin-password'
        passfile.write_text(password + '\n')
        passfile.chmod(0o600)
        env['TRYTONPASSFILE'] = str(passfile)
        args += ['--email', 'admin@example.com']
    try:
        subprocess.run(args, check=True, env=env)
    finally:
        if password:
            passfile.unlink(missing_ok=True)


def admin_password_file(name):
    return settings.home() / f'{name}-{ADMIN_PASSWORD_FILE}'


def new_admin_password(name):
    """A random password for the admin user of database name, written to
    its file (mode 600) and printed once"""
    import secrets
    password = secrets.token_urlsafe(12)
    path = admin_password_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, 'w') as file:
        file.write(password + '\n')
    print(f"The password of admin is {password} (kept in {path}, "
        "readable by you alone; change it in sao's preferences).")
    return password


def init(name, company_name=DEFAULT_COMPANY, update=False, password=None,
        tax_identifier=None, currency='EUR'):
    """Create the database if needed and set it up, updating it to the
    installed modules when they are another release's than those it was
    set up with; return 'created', 'updated' or 'ready'"""
    _trytond()
    created = False
    if not database_exists(name):
        create_database(name)
        created = True
    digest = modules_digest()
    initialised = not created and is_initialised(name)
    if ((initialised and _release(name) != digest)
            or (not created and not initialised and is_set_up(name))):
        # crm-kit was upgraded (`make run` after a pull runs init alone),
        # maybe with a new module.
        update = True
    if update or not initialised:
        if created and not password:
            password = new_admin_password(name)
        # Before the modules, whose update builds the indexes.
        create_extensions(name)
        run_admin(
            name, update=update, password=password if created else None)
        # trytond-admin changed the modules: reload a pool loaded before.
        load_pool(name, reload=True)
    from .company_setup import setup_company
    run_in_transaction(name, setup_company, company_name, tax_identifier,
        currency)
    if update and not created:
        # A CRM at work, upgraded: the new setup assistant waits in the
        # menu rather than opening at the administrator's next login.
        run_in_transaction(name, _close_setup_assistant)
    _release(name, digest)
    if created:
        return 'created'
    return 'updated' if update else 'ready'


def _close_setup_assistant():
    from trytond.pool import Pool
    Pool().get('crm.setup', type='wizard').mark_done()


def load_pool(name, reload=False):
    """Load the pool of the database once per process: loading it takes
    seconds, and import-leads runs one transaction per chunk"""
    _, _, Pool, _ = _trytond()
    if reload or name not in Pool.database_list():
        Pool(name).init()


def run_in_transaction(name, func, *args, **kwargs):
    """Run func as root in one transaction of the database and commit;
    retry as trytond-admin does when a table lock is needed."""
    _, _, _, Transaction = _trytond()
    from trytond.transaction import TransactionError
    load_pool(name)
    extras = {}
    while True:
        with Transaction().start(name, 0, **extras) as transaction:
            try:
                result = func(*args, **kwargs)
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            transaction.commit()
            return result


def load_demo(name):
    from .demo import load_demo as load
    return run_in_transaction(name, load)


def import_leads(name, path, sheet=None, template=None, duplicates=None,
        log=print):
    """Import a file of leads: one transaction per chunk of rows, so an
    interruption keeps whole chunks; return the import's counts"""
    data = Path(path).read_bytes()

    def start():
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        LeadImport = pool.get('crm.lead.import')
        Template = pool.get('crm.lead.import.template')
        Company = pool.get('company.company')
        company, = Company.search([], limit=1)
        with Transaction().set_context(company=company.id):
            templates = []
            if template:
                templates = Template.search([('name', '=', template)])
                if not templates:
                    sys.exit(f"No import template named {template!r}.")
            lead_import = LeadImport.from_file(
                data, Path(path).name, sheet=sheet,
                template=templates[0] if templates else None,
                duplicate_action=duplicates)
            LeadImport.start([lead_import])
            return lead_import.id, lead_import.total_rows

    def chunk(import_id, row):
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        LeadImport = Pool().get('crm.lead.import')
        lead_import = LeadImport(import_id)
        with Transaction().set_context(company=lead_import.company_id()):
            return lead_import.import_rows(row)

    def counts(import_id):
        from trytond.pool import Pool
        lead_import = Pool().get('crm.lead.import')(import_id)
        return {k: getattr(lead_import, k) for k in [
                'total_rows', 'created', 'updated', 'skipped', 'rejected',
                'warnings']}

    def fail(import_id, message):
        from trytond.pool import Pool
        Pool().get('crm.lead.import').fail(import_id, message)

    import_id, total = run_in_transaction(name, start)
    row = 0
    while row is not None:
        try:
            row = run_in_transaction(name, chunk, import_id, row)
        except Exception as exception:
            # The chunk is rolled back; the import says so instead of
            # staying "running" for ever.
            run_in_transaction(name, fail, import_id,
                str(getattr(exception, 'message', exception)))
            raise
        if row is not None:
            log(f"{row} of {total} rows imported…")
    return import_id, run_in_transaction(name, counts, import_id)


def cmd_import_leads(options):
    from trytond.exceptions import UserError
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    try:
        import_id, counts = import_leads(
            options.database, options.file, sheet=options.sheet,
            template=options.template, duplicates=options.duplicates)
    except UserError as exception:
        sys.exit(f"{options.file}: {exception.message}")
    except OSError as exception:
        sys.exit(str(exception))
    report_import(options.file, import_id, counts)


def report_import(path, import_id, counts):
    print(f"{path}: {counts['total_rows']} rows, "
        f"{counts['created']} created, {counts['updated']} updated, "
        f"{counts['skipped']} skipped as duplicate, "
        f"{counts['rejected']} rejected, "
        f"{counts['warnings']} imported with warnings "
        f"(the error report and the warnings is on import {import_id} in sao: "
        "CRM › Leads › Lead Imports).")


def ask_tax_identifier(options):
    """The company's NIF/CIF, printed on its quotes: --nif, else asked when
    the company is named on a terminal"""
    code = options.nif
    if (code is None and options.company != DEFAULT_COMPANY
            and sys.stdin.isatty()):
        code = input(
            f"NIF/CIF of {options.company} (printed on its quotes; "
            "Enter to set it later in sao): ")
    if not code or not code.strip():
        return None
    _trytond()
    from crm_kit.setup import compact_nif
    try:
        return compact_nif(code)
    except ValueError as exception:
        raise SystemExit(f"{exception}.")


def check_currency(options):
    "The ISO 4217 code of --currency, upper case, or exit naming it wrong"
    _trytond()
    from crm_kit.setup import currency_code
    try:
        return currency_code(options.currency)
    except ValueError as exception:
        sys.exit(f"--currency: {exception}.")


def cmd_init(options):
    tax_identifier = ask_tax_identifier(options)
    done = init(
        options.database, company_name=options.company,
        update=options.update, password=options.admin_password,
        tax_identifier=tax_identifier, currency=check_currency(options))
    print(f"Database {options.database!r} " + {
            'created': "created.",
            'updated': "updated to the installed crm-kit (existing data "
            "kept).",
            'ready': "is ready (existing data kept).",
            }[done])


def cmd_demo(options):
    if not is_initialised(options.database):
        init(options.database)
    if load_demo(options.database):
        print("Demo data loaded.")
    else:
        print("Demo data is already loaded: nothing changed.")


def cmd_serve(options):
    config, _, _, _ = _trytond()
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    if options.listen:
        os.environ['TRYTOND_WEB__LISTEN'] = options.listen
    listen = options.listen or config.get('web', 'listen')
    host, port = listen.rsplit(':', 1)
    root = config.get('web', 'root')
    if not root or not Path(root, 'index.html').exists():
        print(f"warning: sao is not installed in {root}: run 'make sao' "
            "(the REST API works without it).", file=sys.stderr)
    print(f"crm-kit is served on http://{host}:{port}/  "
        f"(database {options.database!r})")
    passfile = admin_password_file(options.database)
    print("Log in as admin with the password crm-kit init printed"
        + (f" (kept in {passfile})" if passfile.exists() else "")
        + "; with the demo, as manager, rep or rep2 / crm-kit-demo.")
    sys.stdout.flush()
    from . import serve
    _log_to_stderr()
    commands = serve.children(options.database, f'{host}:{port}',
        settings.config_path(), workers=options.workers,
        threads=options.threads or serve.THREADS,
        scheduler=options.scheduler,
        worker=options.worker)
    print("Running: " + ', '.join(name for name, _ in commands)
        + " (Ctrl-C stops them all)")
    sys.stdout.flush()
    sys.exit(serve.supervise(commands, serve.environment(
                settings.config_path(), options.database,
                worker=options.worker)))


def cmd_work(options):
    _trytond()
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    from . import worker
    _log_to_stderr()
    worker.main(options.database)


def export_access_log(name, start, end, path):
    """Write the access log of the days start to end (dates, included) to
    path: XLSX when its name ends with .xlsx, else CSV; return how many
    lines"""
    _trytond()

    def export():
        from trytond.pool import Pool
        AccessLog = Pool().get('crm.access.log')
        format = 'xlsx' if str(path).lower().endswith('.xlsx') else 'csv'
        rows = AccessLog.rows(start, end)
        Path(path).write_bytes(AccessLog.export(format=format, rows=rows))
        return len(rows)
    return run_in_transaction(name, export)


def cmd_access_log(options):
    import datetime as dt
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    try:
        start = dt.date.fromisoformat(options.from_date)
        end = dt.date.fromisoformat(options.to_date)
    except ValueError as exception:
        sys.exit(f"Dates are written YYYY-MM-DD: {exception}")
    if end < start:
        sys.exit("--to comes before --from.")
    count = export_access_log(options.database, start, end, options.out)
    print(f"{count} lines of the access log from {start} to {end} written "
        f"to {options.out}.")


def cmd_setup(options):
    from . import scripted_setup
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    _trytond()
    try:
        setup = scripted_setup.read(options.file)
    except scripted_setup.SetupError as exception:
        sys.exit(f"{options.file}: {exception}")
    from trytond.exceptions import UserError
    try:
        passwords = run_in_transaction(
            options.database, scripted_setup.apply, setup)
    except UserError as exception:
        sys.exit(f"{options.file}: nothing was changed: {exception.message}")
    print(f"Database {options.database!r} set up from {options.file}.")
    for login, password in passwords.items():
        print(f"New user {login}, password {password} (to change at the "
            "first login, in their preferences).")
    for path in setup['leads']:
        try:
            import_id, counts = import_leads(
                options.database, str(path), duplicates='skip')
        except UserError as exception:
            sys.exit(f"{path}: {exception.message}")
        report_import(path, import_id, counts)


def cmd_evidence(options):
    import datetime as dt
    if not is_initialised(options.database):
        sys.exit(f"Database {options.database!r} is not initialised: "
            "run 'crm-kit init' first.")
    try:
        from . import evidence
        import playwright  # noqa: F401
    except ImportError:
        sys.exit("The evidence needs Playwright: pip install "
            "'crm-kit[evidence]' (and apt-get install chromium).")
    start = None
    if options.from_date:
        try:
            start = dt.date.fromisoformat(options.from_date)
        except ValueError as exception:
            sys.exit(f"Dates are written YYYY-MM-DD: {exception}")
    if options.hours is not None and options.hours <= 0:
        sys.exit("--hours is a number of hours above 0.")
    _trytond()
    try:
        paths = evidence.make(options.database, options.out,
            beneficiary=options.beneficiary, lang=options.lang,
            agent=options.agent, hours=options.hours, url=options.url,
            start=start)
    except evidence.EvidenceError as exception:
        sys.exit(str(exception))
    for path in paths:
        print(f"Written: {path}")


def cmd_backup(options):
    from . import backup
    print(backup.backup(options.database, options.file))


def cmd_restore(options):
    from . import backup
    name, manifest = backup.restore(options.file,
        name=options.database if options.database_given else None,
        force=options.force)
    print(f"Database {name!r} restored from {options.file} (the backup of "
        f"{manifest['database']!r} made {manifest['created']}).")
    if backup.other_versions(manifest):
        print("It was made with other versions of trytond or crm-kit's "
            f"modules: run 'crm-kit -d {name} init --update'.")


def _log_to_stderr():
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
        format='%(asctime)s %(process)d %(levelname)s %(name)s %(message)s')
    logging.getLogger('crmkit').setLevel(logging.INFO)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='crm-kit', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '-d', '--database',
        help=f"database name (default: {settings.database_name()}, or "
        "$CRM_KIT_DATABASE; for restore, the backup's)")
    commands = parser.add_subparsers(dest='command', required=True)

    init_parser = commands.add_parser(
        'init', help="create and set up the database (keeps existing data)")
    init_parser.add_argument(
        '--company', default=DEFAULT_COMPANY, help="the company's name")
    init_parser.add_argument(
        '--nif', help="the company's NIF/CIF, printed on its quotes (asked "
        "when --company is given on a terminal)")
    init_parser.add_argument(
        '--currency', default='EUR', help="the company's currency, an ISO "
        "4217 code (default: EUR); set when the database is created")
    init_parser.add_argument(
        '--update', action='store_true',
        help="update the modules of an existing database")
    init_parser.add_argument(
        '--admin-password', default=os.environ.get('CRM_KIT_ADMIN_PASSWORD'),
        help="password of the admin user of a new database (default: "
        "$CRM_KIT_ADMIN_PASSWORD, or a random one, printed and kept in "
        f"CRM_KIT_HOME/<database>-{ADMIN_PASSWORD_FILE})")
    init_parser.set_defaults(func=cmd_init)

    demo_parser = commands.add_parser(
        'demo', help="load the demo dataset (once)")
    demo_parser.set_defaults(func=cmd_demo)

    import_parser = commands.add_parser(
        'import-leads', help="import a CSV or XLSX file of leads")
    import_parser.add_argument('file', help="the CSV or XLSX file")
    import_parser.add_argument(
        '--sheet', help="the sheet of an XLSX file (default: the first)")
    import_parser.add_argument(
        '--template',
        help="the name of a saved import template for the column mapping "
        "(default: guessed from the header, in Spanish or English)")
    import_parser.add_argument(
        '--duplicates', choices=['skip', 'update', 'create'],
        default='skip',
        help="a row whose lead exists already: skip it and report it "
        "(default), update the existing lead, or create it anyway")
    import_parser.set_defaults(func=cmd_import_leads)

    serve_parser = commands.add_parser(
        'serve', help="serve sao and the REST API")
    serve_parser.add_argument(
        '--listen', help="host:port (default: the [web] listen setting)")
    serve_parser.add_argument(
        '--workers', type=int, default=None,
        help="web server processes (default: one per core, up to 4)")
    serve_parser.add_argument(
        '--threads', type=int, default=None,
        help="threads of each web server process (default: 24; each open "
        "sao window holds one for its pop-ups)")
    serve_parser.add_argument(
        '--no-scheduler', dest='scheduler', action='store_false',
        help="do not run the scheduler (another machine runs it: run one "
        "for a database)")
    serve_parser.add_argument(
        '--no-worker', dest='worker', action='store_false',
        help="do not run a queue worker (requests then do their background "
        "work themselves once they are committed)")
    serve_parser.set_defaults(func=cmd_serve)

    work_parser = commands.add_parser(
        'work', help="run the queue worker alone (crm-kit serve runs one)")
    work_parser.set_defaults(func=cmd_work)

    access_parser = commands.add_parser(
        'access-log', help="write the access log of some days to a CSV or "
        "XLSX file (logins, failed logins, logouts, API keys' use)")
    access_parser.add_argument(
        '--from', dest='from_date', required=True,
        help="the first day, YYYY-MM-DD")
    access_parser.add_argument(
        '--to', dest='to_date', required=True,
        help="the last day, YYYY-MM-DD")
    access_parser.add_argument(
        '--out', required=True,
        help="the file to write: .xlsx for Excel, else CSV")
    access_parser.set_defaults(func=cmd_access_log)

    setup_parser = commands.add_parser(
        'setup', help="set the company, users and roles, stages, channels "
        "up and import leads from one TOML file (see crmkit/scripted_setup"
        ".py or the README; run again to update)")
    setup_parser.add_argument('file', help="the TOML file")
    setup_parser.set_defaults(func=cmd_setup)

    evidence_parser = commands.add_parser(
        'evidence', help="write the Kit Digital justification pack: a PDF "
        "of screenshots of each required function taken in a browser, the "
        "access log and the parameterisation done (changes no business "
        "data)")
    evidence_parser.add_argument(
        '--out', required=True, help="the PDF to write (the CSV files go "
        "beside it)")
    evidence_parser.add_argument(
        '--beneficiary', help="the beneficiary's name, checked against the "
        "company's (default: the company's)")
    evidence_parser.add_argument(
        '--lang', choices=['es', 'en'], default='es',
        help="the language of the pack and of the screenshots (default: es)")
    evidence_parser.add_argument(
        '--agent', help="the digitalising agent, for the cover")
    evidence_parser.add_argument(
        '--hours', type=int, help="the parameterisation hours declared "
        "(default: 30, or 40 with 3 users or more)")
    evidence_parser.add_argument(
        '--from', dest='from_date', help="the first day of the access log, "
        "YYYY-MM-DD (default: its first line)")
    evidence_parser.add_argument(
        '--url', help="a running crm-kit of this database to photograph "
        "(default: one started for the run on the loopback)")
    evidence_parser.set_defaults(func=cmd_evidence)

    backup_parser = commands.add_parser(
        'backup', help="write the database and its files to one archive")
    backup_parser.add_argument(
        'file', nargs='?', help="the archive to write (default: "
        "<database>-<date>-<time>.crmkit.tar.gz in the current folder)")
    backup_parser.set_defaults(func=cmd_backup)

    restore_parser = commands.add_parser(
        'restore', help="restore an archive of crm-kit backup")
    restore_parser.add_argument('file', help="the archive")
    restore_parser.add_argument(
        '--force', action='store_true',
        help="replace the database if it exists")
    restore_parser.set_defaults(func=cmd_restore)

    options = parser.parse_args(argv)
    # restore tells a name given from the default.
    options.database_given = bool(
        options.database or os.environ.get('CRM_KIT_DATABASE'))
    options.database = options.database or settings.database_name()
    options.func(options)


if __name__ == '__main__':
    main()
