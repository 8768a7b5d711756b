"""crm-kit backup and restore: one archive file holding a database, its
file store and a manifest.

The archive is a gzip-compressed tar file (``tar tzf`` lists it):

    manifest.json     what it holds (FORMAT, VERSION), its first member
    database.dump     PostgreSQL: pg_dump --format=custom
    database.sqlite   SQLite: a copy made with SQLite's backup API
    files/…           the database's file store: the data of the documents,
                      attachments and lead imports, which trytond keeps
                      under [database] path/<database>/

restore reads the whole archive into a temporary database (or file) and a
temporary folder beside the target, checks them, and only then puts them
in its place: a bad archive leaves the existing database as it was."""
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zlib
from contextlib import closing, contextmanager
from pathlib import Path, PurePosixPath

from . import cli, settings

FORMAT = 'crm-kit backup'
VERSION = 1
MANIFEST = 'manifest.json'
DATABASE = {'postgresql': 'database.dump', 'sqlite': 'database.sqlite'}
FILES = 'files'
SUFFIX = '.crmkit.tar.gz'
BACKENDS = {'postgresql': "PostgreSQL", 'sqlite': "SQLite"}
# How long SQLite waits for the server's writers to let go.
SQLITE_TIMEOUT = 60


def _backend():
    _, backend, _, _ = cli._trytond()
    return backend.name


def sqlite_path(name):
    "Where database name is on SQLite (as cli.create_database makes it)"
    config, _, _, _ = cli._trytond()
    return Path(config.get('database', 'path')) / f'{name}.sqlite'


def store_path(name):
    "The folder of database name's files in trytond's file store"
    cli._trytond()
    from trytond.filestore import filestore
    return Path(filestore.path) / name


def _custom_store():
    "Warn that the files are left out when they are not in a folder"
    config, _, _, _ = cli._trytond()
    store = config.get('database', 'class')
    if store:
        print(f"warning: the file store is {store} ([database] class): "
            "its files are not in the archive.", file=sys.stderr)
    return bool(store)


def _reason(exception):
    "The first line of what the exception says"
    return (str(exception).strip().splitlines()
        or [type(exception).__name__])[0]


@contextmanager
def _server_connection():
    "An autocommit connection to the PostgreSQL server, not to a database"
    _, backend, _, _ = cli._trytond()
    database = backend.Database()
    database.connect()
    try:
        connection = database.get_connection(autocommit=True)
    except Exception as exception:
        sys.exit("Cannot connect to the PostgreSQL server of [database] "
            f"uri: {_reason(exception)}")
    try:
        yield connection
    finally:
        database.put_connection(connection)


def _pg_execute(statement, *names, failed="PostgreSQL refused it"):
    """Run a statement on the server, the database names quoted into it;
    exit with the failed message and PostgreSQL's if it is refused"""
    import psycopg
    from psycopg.sql import SQL, Identifier
    with _server_connection() as connection:
        try:
            connection.execute(SQL(statement).format(*map(Identifier, names)))
        except psycopg.Error as exception:
            sys.exit(f"{failed}: {_reason(exception)}")


def exists(name):
    "Whether database name exists, crm-kit's or not"
    if _backend() == 'sqlite':
        return sqlite_path(name).exists()
    with _server_connection() as connection:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return bool(cursor.fetchall())


def _sqlite_copy(source, target):
    """Copy a SQLite database with SQLite's backup API: consistent while
    the server writes to either, unlike a copy of the file without its
    write-ahead log"""
    try:
        with closing(sqlite3.connect(source, timeout=SQLITE_TIMEOUT)) as src, \
                closing(sqlite3.connect(
                        target, timeout=SQLITE_TIMEOUT)) as dst:
            src.backup(dst)
    except sqlite3.Error as exception:
        sys.exit(f"Cannot copy {source} to {target}: {exception}.")


def _pg_tool(name):
    "pg_dump or pg_restore: on PATH, else the newest of Debian's versions"
    found = shutil.which(name)
    if not found:
        versions = sorted(
            Path('/usr/lib/postgresql').glob(f'*/bin/{name}'),
            key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
        found = str(versions[-1]) if versions else None
    if not found:
        sys.exit(f"{name} is not installed: install the PostgreSQL client "
            "programs, of the server's version or newer (Debian and "
            "Ubuntu: apt install postgresql-client).")
    return found


def _pg_database(name):
    """The connection string of database name for the PostgreSQL programs:
    the name and the options of [database] uri (sslmode…); the host, the
    port, the user and the password go in the environment (_pg_run)"""
    config, _, _, _ = cli._trytond()
    uri = urllib.parse.urlsplit(config.get('database', 'uri'))

    def quote(value):
        return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"
    return ' '.join(f'{key}={quote(value)}' for key, value in
        [('dbname', name)] + urllib.parse.parse_qsl(uri.query))


def _pg_run(program, *args, failed=None):
    """Run pg_dump or pg_restore on [database] uri's server and return its
    output; on an error, call failed with its message, then exit"""
    config, _, _, _ = cli._trytond()
    uri = urllib.parse.urlsplit(config.get('database', 'uri'))
    env = dict(os.environ)
    # Not in the arguments: anyone on the machine may read those.
    for key, value in [('PGHOST', uri.hostname), ('PGPORT', uri.port),
            ('PGUSER', uri.username), ('PGPASSWORD', uri.password)]:
        if value:
            env[key] = urllib.parse.unquote(str(value))
    result = subprocess.run(
        [_pg_tool(program), '--no-password', *args],
        env=env, capture_output=True, text=True, errors='replace')
    if result.returncode:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        # The first error says what went wrong; the lines after, where.
        errors = [line for line in lines if 'error:' in line] or lines
        message = errors[0] if errors else f"exit status {result.returncode}"
        # It may quote what it read of a damaged file.
        message = ''.join(c if c.isprintable() else '?' for c in message)
        if failed:
            failed(message)
        sys.exit(f"{program} failed: {message}")
    return result.stdout


def manifest(name, created):
    "What the archive of database name holds"
    import importlib.metadata

    import trytond
    from trytond.modules import get_module_info
    _, backend, _, _ = cli._trytond()
    activated = cli.activated_modules(backend.Database(name).connect())
    try:
        version = importlib.metadata.version('crm-kit')
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        'format': FORMAT,
        'version': VERSION,
        'database': name,
        'backend': backend.name,
        'trytond': trytond.__version__,
        'crm_kit': version,
        'modules': {module: get_module_info(module).get('version')
            for module in settings.MODULES if module in activated},
        # The digest of the modules it was set up with (cli.modules_digest).
        'release': cli._release(name),
        'created': created.isoformat(timespec='seconds'),
        }


def default_file(name, created):
    "The archive's name in the current folder: <database>-<date>-<time>"
    return Path.cwd() / (
        f'{name}-{created.astimezone():%Y%m%d-%H%M%S}{SUFFIX}')


def backup(name, path=None):
    "Write the archive of database name to path (a default name if None)"
    backend = _backend()
    if not exists(name) or not cli.is_initialised(name):
        sys.exit(f"Database {name!r} does not exist or is not a crm-kit "
            "database: nothing to back up.")
    created = dt.datetime.now(dt.timezone.utc)
    path = Path(path or default_file(name, created)).resolve()
    if not path.parent.is_dir():
        sys.exit(f"Cannot write {path}: there is no folder {path.parent}.")
    # Written under another name, then renamed: a file of the final name
    # is a whole archive.
    partial = path.with_name(path.name + '.partial')
    try:
        with tempfile.TemporaryDirectory(
                dir=path.parent, prefix='.crm-kit-backup-') as folder:
            # The database first, then the files it names: trytond
            # deletes a file days after the last record naming it.
            dump = Path(folder, DATABASE[backend])
            if backend == 'sqlite':
                _sqlite_copy(sqlite_path(name), dump)
            else:
                _pg_run('pg_dump', '--format=custom', '--file', str(dump),
                    '--dbname', _pg_database(name))
            content = json.dumps(manifest(name, created), indent=1).encode()
            # The customers' documents and the users' password hashes:
            # for the owner's eyes only.
            partial.unlink(missing_ok=True)
            descriptor = os.open(
                partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, 'wb') as file, tarfile.open(
                    fileobj=file, mode='w:gz', compresslevel=6) as tar:
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = (
                    len(content), created.timestamp(), 0o600)
                tar.addfile(info, io.BytesIO(content))
                tar.add(dump, DATABASE[backend])
                store = store_path(name)
                if store.is_dir() and not _custom_store():
                    tar.add(store, FILES)
        partial.replace(path)
    except OSError as exception:
        sys.exit(f"Cannot write {path}: {exception}.")
    finally:
        partial.unlink(missing_ok=True)
    return path


def _damaged(archive, reason):
    sys.exit(f"{archive} is not a crm-kit backup or is damaged ({reason}); "
        "nothing was changed.")


def read_manifest(archive):
    "The manifest of the archive, checked against this crm-kit's backend"
    if not Path(archive).is_file():
        sys.exit(f"{archive}: no such file.")
    try:
        tar = tarfile.open(archive, 'r:*')
    except (tarfile.ReadError, OSError, EOFError):
        _damaged(archive, "not a tar archive")
    try:
        with tar:
            member = tar.next()
            if member is None or member.name != MANIFEST:
                raise ValueError("no manifest")
            content = json.load(tar.extractfile(member))
    except (tarfile.TarError, OSError, EOFError, zlib.error,
            ValueError) as exception:
        _damaged(archive, exception)
    if not isinstance(content, dict) or content.get('format') != FORMAT:
        _damaged(archive, "no crm-kit manifest")
    if content.get('version') != VERSION:
        sys.exit(f"{archive} is a backup of format {content.get('version')}"
            f", and this crm-kit reads format {VERSION}: restore it with "
            "the crm-kit that made it or a newer one.")
    backend, theirs = _backend(), content.get('backend')
    if theirs != backend:
        sys.exit(f"{archive} is a backup of a "
            f"{BACKENDS.get(theirs, theirs)} database and this crm-kit uses "
            f"{BACKENDS[backend]}: a {BACKENDS.get(theirs, theirs)} backup "
            f"cannot be restored into {BACKENDS[backend]} "
            "(set TRYTOND_DATABASE__URI to the backup's kind).")
    # It names a file and a folder: nothing elsewhere.
    database = content.get('database')
    if (not isinstance(database, str) or database in {'', '.', '..'}
            or set(database) & {'/', '\\', '\0'}):
        _damaged(archive, "no valid database name in the manifest")
    return content


def _extract(archive, folder):
    """Extract the archive into folder, reading it to its end (which checks
    its gzip checksum); return the database file and the files' folder"""
    database = DATABASE[_backend()]
    found = None
    files = Path(folder, FILES)
    try:
        with tarfile.open(archive, 'r:*') as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.name == MANIFEST:
                    continue
                elif member.name == database and member.isfile():
                    target = found = Path(folder, database)
                # Only what a file store holds: no link, nothing outside.
                elif (parts[:1] == (FILES,) and '..' not in parts
                        and (member.isfile() or member.isdir())):
                    target = files.joinpath(*parts[1:])
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                else:
                    raise ValueError(f"unexpected member {member.name!r}")
                with tar.extractfile(member) as source, \
                        open(target, 'wb') as output:
                    shutil.copyfileobj(source, output)
            while tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error,
            ValueError) as exception:
        _damaged(archive, exception)
    if found is None:
        _damaged(archive, f"no {database}")
    return found, files if files.is_dir() else None


def _check_sqlite(archive, path):
    "Refuse a SQLite file that is damaged or not a trytond database"
    try:
        with closing(sqlite3.connect(path)) as connection:
            check, = connection.execute('PRAGMA integrity_check').fetchone()
            tables = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                "AND name = 'ir_module'").fetchall()
    except sqlite3.Error as exception:
        _damaged(archive, exception)
    if check != 'ok':
        _damaged(archive, check)
    if not tables:
        _damaged(archive, "not a Tryton database")


def _pg_restore(archive, dump, name, replace):
    """Restore the dump into a new database, then put it in place of name
    (dropped if replace)"""
    toc = _pg_run('pg_restore', '--list', str(dump),
        failed=lambda message: _damaged(archive, message))
    if not any({'TABLE', 'ir_module'} <= set(line.split())
            for line in toc.splitlines()):
        _damaged(archive, "not a Tryton database")
    # A name of PostgreSQL is 63 bytes at most.
    temporary = f'{name[:40]}_restore_{os.getpid()}'
    unchanged = "; nothing was changed."
    _pg_execute('DROP DATABASE IF EXISTS {} WITH (FORCE)', temporary)
    try:
        cli.create_database(temporary)
    except Exception as exception:
        sys.exit(f"Cannot create the database {temporary!r} to restore into: "
            f"{_reason(exception)}{unchanged}")
    try:
        # Owners and grants are those of the server the backup came from.
        _pg_run('pg_restore', '--no-owner', '--no-privileges',
            '--exit-on-error', '--dbname', _pg_database(temporary), str(dump),
            failed=lambda message: sys.exit(
                f"{archive}: its database could not be restored "
                f"({message}){unchanged}"))
        if replace:
            # The server's connections to it are closed.
            _pg_execute('DROP DATABASE {} WITH (FORCE)', name,
                failed=f"Database {name!r} could not be replaced "
                "(nothing was changed)")
    except BaseException:
        _pg_execute('DROP DATABASE IF EXISTS {} WITH (FORCE)', temporary)
        raise
    _pg_execute('ALTER DATABASE {} RENAME TO {}', temporary, name,
        failed=f"The backup is restored as {temporary!r}, which could not "
        f"be renamed {name!r}")


def restore(archive, name=None, force=False):
    """Restore the archive as database name (the backup's if None),
    replacing an existing one only if force; return the name and the
    manifest"""
    content = read_manifest(archive)
    name = name or content['database']
    existing = exists(name)
    if existing and not force:
        sys.exit(f"Database {name!r} exists: add --force to replace it "
            "with the backup, or restore under another name (-d NAME).")
    store = store_path(name)
    store.parent.mkdir(parents=True, exist_ok=True)
    # Beside the store, so that its folder is renamed into place.
    with tempfile.TemporaryDirectory(
            dir=store.parent, prefix='.crm-kit-restore-') as folder:
        database, files = _extract(archive, folder)
        if _backend() == 'sqlite':
            _check_sqlite(archive, database)
            _sqlite_copy(database, sqlite_path(name))
        else:
            _pg_restore(archive, database, name, existing)
        if not _custom_store():
            if store.exists():
                store.rename(Path(folder, 'replaced'))
            if files:
                files.rename(store)
    return name, content


def other_versions(content):
    "Whether the backup was made with other versions of trytond or crm-kit"
    import trytond
    from trytond.modules import get_module_info
    return content.get('trytond') != trytond.__version__ or (
        content.get('release') != cli.modules_digest()) or any(
        get_module_info(module).get('version') != version
        for module, version in (content.get('modules') or {}).items())
