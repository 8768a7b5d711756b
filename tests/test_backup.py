"""`crm-kit backup` and `crm-kit restore` (crmkit.backup): documents with
their files, API keys and the history of opportunities survive a backup,
changes and a restore; a restore over a database without --force, a damaged
archive and one of the other backend are refused, and leave the database as
it was.

The tests share one database (module fixture): a copy of the session's
``crm-kit init`` (crm_init) in a temporary CRM_KIT_HOME, with records added
by this file run as a script (``python tests/test_backup.py seed NAME``).
The commands run in subprocesses, as a user runs them; the tests read the
databases with plain SQL.  On PostgreSQL
(TRYTOND_DATABASE__URI=postgresql://…) the databases are dropped at the end."""
import base64
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest

try:
    from server import (
        Initialised, _create_opportunities, _environ, copy_initialised,
        is_sqlite, start_web, stop_another)
except ImportError:
    from tests.server import (
        Initialised, _create_opportunities, _environ, copy_initialised,
        is_sqlite, start_web, stop_another)

ROOT = Path(__file__).resolve().parent.parent
URI = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
PDF = (b'%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n'
    b'trailer<</Root 1 0 R>>\n%%EOF\n')
PDF_V2 = PDF.replace(b'1.4', b'1.7')
NOTES = "Llamó el 3 de marzo: quiere la demo.\n".encode()

# What must come back, read with plain SQL (ordered, comparable).
SNAPSHOT = {
    'opportunities': 'SELECT id, description, state, stage, owner '
    'FROM sale_opportunity ORDER BY id',
    'stage_logs': 'SELECT id, opportunity, from_stage, to_stage, to_state '
    'FROM crm_stage_log ORDER BY id',
    'activities': 'SELECT id, opportunity, subject, state '
    'FROM crm_activity ORDER BY id',
    'keys': 'SELECT id, "user", key, name FROM res_user_application '
    'ORDER BY id',
    'document_versions': 'SELECT id, document, number, data_id, checksum '
    'FROM crm_document_version ORDER BY id',
    'attachments': 'SELECT id, resource, name, file_id FROM ir_attachment '
    'ORDER BY id',
    }


def crm_kit(seeded, *args, cwd=None):
    "Run crm-kit in seeded's home: the CompletedProcess"
    return subprocess.run(
        [sys.executable, '-m', 'crmkit.cli', *args], env=seeded.env,
        cwd=cwd or seeded.home, capture_output=True, text=True, timeout=300)


def refused(result):
    "The one-line message of a command that failed as expected"
    assert result.returncode != 0, result.stdout
    assert 'Traceback' not in result.stderr, result.stderr
    message, = result.stderr.strip().splitlines()
    return message


def query(seeded, name, sql):
    if is_sqlite():
        path = seeded.home / 'db' / f'{name}.sqlite'
        with closing(sqlite3.connect(path)) as connection:
            return [list(r) for r in connection.execute(sql)]
    import psycopg
    with psycopg.connect(URI.rstrip('/') + '/' + name) as connection:
        return [list(r) for r in connection.execute(sql)]


def execute(seeded, name, *statements):
    if is_sqlite():
        path = seeded.home / 'db' / f'{name}.sqlite'
        with closing(sqlite3.connect(path)) as connection, connection:
            for statement in statements:
                connection.execute(statement)
        return
    import psycopg
    with psycopg.connect(URI.rstrip('/') + '/' + name) as connection:
        for statement in statements:
            connection.execute(statement)


def files(seeded, name):
    "The files of database name's file store: {path: SHA-256}"
    store = seeded.home / 'db' / name
    return {str(p.relative_to(store)): hashlib.sha256(
            p.read_bytes()).hexdigest()
        for p in sorted(store.rglob('*')) if p.is_file()}


def snapshot(seeded, name):
    "The records and files that a restore must give back"
    found = {key: query(seeded, name, sql) for key, sql in SNAPSHOT.items()}
    found['files'] = files(seeded, name)
    return json.loads(json.dumps(found, default=str))


def drop(names):
    if is_sqlite():
        return
    import psycopg
    with psycopg.connect(URI.rstrip('/') + '/postgres',
            autocommit=True) as connection:
        for name in names:
            connection.execute(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope='module')
def seeded(crm_init, tmp_path_factory):
    """A copy of crm-kit init's database with an opportunity moved along the
    pipeline, its activity, a document of two versions, an attachment and
    an API key; and its snapshot"""
    home = tmp_path_factory.mktemp('crm-kit-backup')
    name = f'crm_kit_backup_test_{os.getpid()}'
    env = _environ(home)
    env['CRM_KIT_TEST_INITIALISED'] = json.dumps(
        [str(crm_init.home), crm_init.database])
    seeded = SimpleNamespace(home=home, name=name, env=env,
        other=f'{name}_other')
    try:
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), 'seed', name],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
            timeout=300)
    except subprocess.CalledProcessError as error:
        drop([name])
        pytest.fail(f"seeding failed:\n{error.stderr[-3000:]}")
    try:
        seeded.records = json.loads((home / 'seed.json').read_text())
        seeded.before = snapshot(seeded, name)
        yield seeded
    finally:
        drop([name, seeded.other])


@pytest.fixture(scope='module')
def archive(seeded):
    "The backup of the seeded database, by crm-kit backup without a FILE"
    folder = seeded.home / 'backups'
    folder.mkdir()
    result = crm_kit(seeded, '-d', seeded.name, 'backup', cwd=folder)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def test_seeded_records_are_all_there(seeded):
    before = seeded.before
    assert len(before['stage_logs']) >= 2
    assert before['activities'] and before['keys'] and before['attachments']
    assert len(before['document_versions']) == 2
    # The documents' and attachments' data are in the file store.
    assert len(before['files']) == 3


def test_backup_is_one_archive(seeded, archive):
    assert archive.parent == seeded.home / 'backups'
    assert re.fullmatch(
        re.escape(seeded.name) + r'-\d{8}-\d{6}\.crmkit\.tar\.gz',
        archive.name), archive.name
    assert archive.stat().st_mode & 0o777 == 0o600
    assert list(archive.parent.iterdir()) == [archive]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile('manifest.json'))
    database = 'database.sqlite' if is_sqlite() else 'database.dump'
    assert names[:2] == ['manifest.json', database]
    assert {n.rsplit('/', 1)[-1] for n in names if n.count('/') == 3} == {
        p.rsplit('/', 1)[-1] for p in seeded.before['files']}
    assert manifest['format'] == 'crm-kit backup'
    assert manifest['version'] == 1
    assert manifest['database'] == seeded.name
    assert manifest['backend'] == ('sqlite' if is_sqlite() else 'postgresql')
    assert manifest['trytond'].startswith('8.0.')
    assert set(manifest['modules']) >= {'crm_kit', 'crm_kit_document',
        'crm_kit_api', 'crm_kit_activity'}
    assert manifest['created']


def changed(seeded):
    """Change the database after the backup (once): a refused restore must
    keep the change; return the database's snapshot"""
    execute(seeded, seeded.name, "UPDATE sale_opportunity "
        "SET description = 'Changed after the backup' "
        f"WHERE id = {seeded.records['opportunity']}")
    current = snapshot(seeded, seeded.name)
    assert current != seeded.before
    return current


def test_restore_over_a_database_needs_force(seeded, archive):
    current = changed(seeded)
    message = refused(crm_kit(seeded, 'restore', str(archive)))
    assert f"Database '{seeded.name}' exists" in message
    assert '--force' in message
    assert snapshot(seeded, seeded.name) == current


def _damaged_archives(seeded, archive):
    """A file that is no archive, a truncated one, one with a bad database
    (and on PostgreSQL one whose dump is damaged after its table of
    contents, which only restoring it finds)"""
    folder = seeded.home / 'damaged'
    folder.mkdir(exist_ok=True)
    garbage = folder / 'garbage.crmkit.tar.gz'
    garbage.write_bytes(os.urandom(4096))
    truncated = folder / 'truncated.crmkit.tar.gz'
    data = archive.read_bytes()
    truncated.write_bytes(data[:len(data) * 2 // 3])
    damaged = [garbage, truncated]
    # The size and the start of the database are right, the rest is not.
    for kept in [100] + ([9 / 10] if not is_sqlite() else []):
        path = folder / f'bad-database-{kept}.crmkit.tar.gz'
        with tarfile.open(archive) as source, \
                tarfile.open(path, 'w:gz') as target:
            for member in source:
                content = (source.extractfile(member) if member.isfile()
                    else None)
                if member.name.startswith('database.'):
                    good = content.read()
                    start = kept if kept > 1 else int(len(good) * kept)
                    content = io.BytesIO(
                        good[:start] + os.urandom(len(good) - start))
                target.addfile(member, content)
        damaged.append(path)
    return damaged


def test_damaged_archive_is_refused(seeded, archive):
    current = changed(seeded)
    for damaged in _damaged_archives(seeded, archive):
        message = refused(
            crm_kit(seeded, 'restore', str(damaged), '--force'))
        # Damaged, or a database that pg_restore could not restore.
        assert message.startswith(str(damaged)), message
        assert re.search('damaged|could not be restored', message), message
        assert message.endswith("nothing was changed."), message
        assert snapshot(seeded, seeded.name) == current, damaged


def test_backup_of_the_other_backend_is_refused(seeded, archive):
    other = 'postgresql' if is_sqlite() else 'sqlite'
    manifest = {'format': 'crm-kit backup', 'version': 1,
        'database': seeded.name, 'backend': other}
    content = json.dumps(manifest).encode()
    path = seeded.home / f'{other}.crmkit.tar.gz'
    with tarfile.open(path, 'w:gz') as tar:
        info = tarfile.TarInfo('manifest.json')
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    current = changed(seeded)
    message = refused(crm_kit(seeded, 'restore', str(path), '--force'))
    names = {'sqlite': "SQLite", 'postgresql': "PostgreSQL"}
    theirs = names[other]
    ours = names['sqlite' if is_sqlite() else 'postgresql']
    assert f"a {theirs} backup cannot be restored into {ours}" in message
    assert snapshot(seeded, seeded.name) == current


def test_round_trip(seeded, archive):
    """What is deleted or changed after the backup comes back with restore
    --force (under the backup's name) and with -d under a new name, which
    crm-kit serve then serves: the key is accepted, the files are read"""
    name = seeded.name
    execute(seeded, name,
        "UPDATE sale_opportunity SET description = 'Changed'",
        'DELETE FROM crm_activity',
        'DELETE FROM crm_stage_log',
        'DELETE FROM res_user_application',
        'DELETE FROM ir_attachment')
    for path in (seeded.home / 'db' / name).rglob('*'):
        if path.is_file():
            path.unlink()
    assert snapshot(seeded, name) != seeded.before

    result = crm_kit(seeded, 'restore', str(archive), '--force')
    assert result.returncode == 0, result.stderr
    assert f"Database '{name}' restored from {archive}" in result.stdout
    assert snapshot(seeded, name) == seeded.before

    other = seeded.other
    result = crm_kit(seeded, '-d', other, 'restore', str(archive))
    assert result.returncode == 0, result.stderr
    assert f"Database '{other}' restored" in result.stdout
    assert snapshot(seeded, other) == seeded.before
    _check_served(seeded, other)


def _check_served(seeded, name):
    "crm-kit serve serves the restored database name; its key works"
    server = start_web(name, seeded.home, seeded.env,
        seeded.home / 'serve.log')
    records = seeded.records
    try:

        def get(path, key=records['key']):
            request = urllib.request.Request(
                f'{server.url}{name}/rest/model/{path}',
                headers={'Authorization': f'bearer {key}'})
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        opportunity = get(f"sale.opportunity/{records['opportunity']}"
            '?f=description&f=stage_logs&f=activities')
        assert opportunity['description'] == records['description']
        assert len(opportunity['stage_logs']) >= 2
        assert len(opportunity['activities']) == 1
        document = get(f"crm.document/{records['document']}?f=data&f=version")
        assert document['version'] == 2
        assert base64.b64decode(document['data']['base64']) == PDF_V2
        attachment = get(f"ir.attachment/{records['attachment']}?f=data")
        assert base64.b64decode(attachment['data']['base64']) == NOTES
        with pytest.raises(urllib.error.HTTPError) as error:
            get('sale.opportunity', key='x' * 43)
        assert error.value.code == 401
    except BaseException:
        print(server.log_tail(60))
        raise
    finally:
        stop_another(server)


# What runs in the child process (python tests/test_backup.py seed NAME)

def _create_records():
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Activity = pool.get('crm.activity')
    Application = pool.get('res.user.application')
    Attachment = pool.get('ir.attachment')
    Document = pool.get('crm.document')
    ModelData = pool.get('ir.model.data')
    Opportunity = pool.get('sale.opportunity')
    Stage = pool.get('crm.stage')
    # The crm_server fixture's opportunities, owned by admin.
    created = Opportunity(_create_opportunities()[0]['id'])
    admin, company = created.owner, created.company
    with Transaction().set_user(admin.id), \
            Transaction().set_context(company=company.id):
        opportunity = Opportunity(created.id)
        # Its history: its creation and its move are logged.
        opportunity.stage = Stage(
            ModelData.get_id('crm_kit', 'stage_analysis'))
        opportunity.save()
        Activity.create([{
                    'type': ModelData.get_id(
                        'crm_kit_activity', 'activity_type_call'),
                    'subject': "Llamar para la demo", 'owner': admin.id,
                    'company': company.id, 'party': opportunity.party.id,
                    'opportunity': opportunity.id,
                    'due': Activity.default_due(),
                    }])
        document, = Document.create([{
                    'name': "Contrato", 'data': PDF,
                    'file_name': 'contrato.pdf',
                    'links': [('create', [{'opportunity': opportunity.id}])],
                    }])
        # A second version: both files stay in the store.
        Document.write([document], {'data': PDF_V2})
        attachment, = Attachment.create([{
                    'resource': str(opportunity), 'name': 'notas.txt',
                    'data': NOTES}])
        key, = Application.create([{'name': "Web site"}])
        return {'opportunity': opportunity.id,
            'description': opportunity.description,
            'document': document.id, 'attachment': attachment.id,
            'key': key.new_key}


def _seed(name):
    from crmkit import cli, settings
    home, database = json.loads(os.environ['CRM_KIT_TEST_INITIALISED'])
    copy_initialised(Initialised(Path(home), database), name)
    records = cli.run_in_transaction(name, _create_records)
    (settings.home() / 'seed.json').write_text(json.dumps(records))


if __name__ == '__main__':
    command, name = sys.argv[1:3]
    {'seed': _seed}[command](name)
