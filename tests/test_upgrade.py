"""After an upgrade, `crm-kit init` updates the database (as `make run`
does after a pull) and keeps all the data, as `init --update` does: a
database made by the previous release (its `crm-kit init` and `crm-kit demo`, and
tests/data/upgrade/extras.py: an API key, an attachment and a webhook),
saved by `crm-kit backup` in tests/data/upgrade/ (README.md there says how),
is restored and updated by this release's code.

Every table is read with plain SQL before the update (by `crm-kit init`
alone), after it and after a second one (`init --update`).  The rows of the data, the users' and the CRM's alike, must be
all there with the same values (new columns are fine); only the modules'
own definitions may change, and the changes the release brings are
asserted exactly (EXPECTED_CHANGES).  The file store keeps its files.  The
second update changes nothing.  Then `crm-kit serve` serves the updated
database: the demo users log in with their password, a rep reads their own
opportunities and not another rep's, by JSON-RPC with their session and by
REST with the API key made by the previous release.

The commands run in subprocesses with their own CRM_KIT_HOME, once for the
module (module fixture), on the backend of TRYTOND_DATABASE__URI; on
PostgreSQL the database is dropped at the end."""
import base64
import hashlib
import importlib.util
import json
import os
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
    from server import _environ, is_sqlite, start_web, stop_another
except ImportError:
    from tests.server import _environ, is_sqlite, start_web, stop_another

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / 'tests' / 'data' / 'upgrade'
URI = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
RELEASE = '32a12d1'
# What the fixtures were made with (tests/data/upgrade/README.md).
SOURCE_DATABASE = 'crm_kit_upgrade_src'
ADMIN_PASSWORD = f'upgrade-admin-{RELEASE}'
DEMO_USERS = ['manager', 'rep', 'rep2']
DEMO_PASSWORD = 'crm-kit-demo'
TIMEOUT = 600


def _extras():
    "The values tests/data/upgrade/extras.py gave the fixtures"
    spec = importlib.util.spec_from_file_location(
        'upgrade_extras', DATA / 'extras.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXTRAS = _extras()

# Rewritten by every update whatever the release: trytond's cache
# timestamps and SQLite's counters of ids.
IGNORED = {'ir_cache', 'sqlite_sequence'}
# The modules' own definitions: an update writes them again (their write
# date changes) and adds the release's new ones; none is lost or changed.
STAMPS = {'write_date', 'write_uid'}
DEFINITIONS = {
    'ir_action': dict(ignore=STAMPS, new=True),
    'ir_lang': dict(ignore=STAMPS),
    'ir_message': dict(ignore=STAMPS, new=True),
    'ir_model': dict(ignore=STAMPS, new=True),
    'ir_model_field': dict(ignore=STAMPS, new=True),
    'ir_model_data': dict(ignore=STAMPS, new=True),
    'ir_model_button': dict(ignore=STAMPS, new=True),
    'ir_translation': dict(ignore=STAMPS, new=True),
    # crm_kit_quote's actions, views, menu, access and modules.
    'ir_action_act_window': dict(ignore=STAMPS, new=True),
    'ir_action_act_window_view': dict(ignore=STAMPS, new=True),
    'ir_action_keyword': dict(ignore=STAMPS, new=True),
    'ir_action_report': dict(ignore=STAMPS, new=True),
    'ir_model_access': dict(ignore=STAMPS, new=True),
    'ir_module': dict(ignore=STAMPS, new=True),
    'ir_module_dependency': dict(ignore=STAMPS, new=True),
    'ir_ui_menu': dict(ignore=STAMPS, new=True),
    'ir_ui_view': dict(ignore=STAMPS, new=True),
    # crm_kit_desk's pipeline board.
    'ir_action_wizard': dict(ignore=STAMPS, new=True),
    # crm_kit_email's tabs, buttons, access, record rules and scheduler.
    'ir_action_act_window_domain': dict(ignore=STAMPS, new=True),
    'ir_cron': dict(ignore=STAMPS, new=True),
    'ir_cron-company_company': dict(ignore=STAMPS, new=True),
    'ir_model_button-res_group': dict(ignore=STAMPS, new=True),
    'ir_model_field_access': dict(ignore=STAMPS, new=True),
    'ir_rule': dict(ignore=STAMPS, new=True),
    'ir_rule_group': dict(ignore=STAMPS, new=True),
    'ir_rule_group-res_group': dict(ignore=STAMPS, new=True),
    # crm_kit's setup assistant: in the menu, done for a database at work.
    'ir_module_config_wizard_item': dict(ignore=STAMPS, new=True),
    # crm_kit's access log: its menu and export for the administrators.
    'ir_ui_menu-res_group': dict(ignore=STAMPS, new=True),
    'ir_action-res_group': dict(ignore=STAMPS, new=True),
    # The quote e-mail attaches crm_kit_quote's PDF, whose id the database
    # gives (test_release_changes checks it).
    'ir_email_template-ir_action_report': dict(ignore=STAMPS | {'report'}),
    }
class JsonValue:
    """The value of a JSON column as the backend gives it: its text on
    SQLite, decoded on PostgreSQL"""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = json.loads(other)
            except ValueError:
                return False
        return other == self.value

    def __repr__(self):
        return f'JsonValue({self.value!r})'


# What this release changes in a database of RELEASE, exactly:
# {table: {(column, value) naming the row: {column: (before, after)}}}.
OPPORTUNITIES_ORDER = (
    '[["pipeline.sequence", "ASC"], ["stage.sequence", "ASC"], '
    '["start_date", "DESC"], ["id", "DESC"]]',
    '[["stage_order", "ASC"], ["start_date", "DESC"], ["id", "DESC"]]')
# crm_kit_lead: repeated columns join, extra cells are a warning.
MAPPED_TWICE = (
    "Each lead field can take only one column: %(fields)s are chosen more "
    "than once.",
    "Each lead field but the name, street, description and notes can take "
    "only one column: %(fields)s are chosen more than once.")
MAPPED_TWICE_ES = (
    "Cada campo de la iniciativa solo puede recibir una columna: %(fields)s "
    "se han elegido más de una vez.",
    "Cada campo de la iniciativa, salvo el nombre, la calle, la descripción "
    "y las notas, solo puede recibir una columna: %(fields)s se han elegido "
    "más de una vez.")
ROW_TOO_LONG = (
    "Row %(row)s has %(cells)s cells but the header has %(columns)s.",
    "Row %(row)s has %(cells)s cells but the header has %(columns)s: the "
    "cells past the last column are ignored.")
ROW_TOO_LONG_ES = (
    "La fila %(row)s tiene %(cells)s celdas, pero la cabecera tiene "
    "%(columns)s.",
    "La fila %(row)s tiene %(cells)s celdas, pero la cabecera tiene "
    "%(columns)s: se ignoran las celdas que pasan de la última columna.")
# crm_kit_alert: the summary of a pass names the first records.
ALERTS_STARTED = (
    "%(count)s new alerts: open them to see which records.",
    "%(count)s new alerts: %(names)s")
ALERTS_STARTED_ES = (
    "%(count)s alertas nuevas: ábralas para ver qué registros.",
    "%(count)s alertas nuevas: %(names)s")
# crm_kit_alert: the shipped rules' messages name the customer or the deal,
# not its number (AlertRule.reword_shipped_messages), in English and Spanish.
RULE_MESSAGES = [
    (("An activity of {rec_name} is overdue",
            "Overdue activity with {crm_title}"),
        ("Una actividad de {rec_name} está vencida",
            "Actividad vencida con {crm_title}")),
    (("{rec_name} has been in the stage {stage.rec_name} since "
            "{stage_date}",
            "{crm_title} has been in the stage {stage.rec_name} since "
            "{stage_date}"),
        ("{rec_name} lleva en la etapa {stage.rec_name} desde {stage_date}",
            "{crm_title} lleva en la etapa {stage.rec_name} desde "
            "{stage_date}")),
    (("The quote {rec_name} for {party.rec_name} expires on "
            "{quote_valid_until}",
            "The quote for {party.rec_name} expires on {quote_valid_until}"),
        ("El presupuesto {rec_name} para {party.rec_name} caduca el "
            "{quote_valid_until}",
            "El presupuesto para {party.rec_name} caduca el "
            "{quote_valid_until}")),
    (("The lead {rec_name} ({amount}) has had no owner for an hour",
            "The lead of {amount} from {crm_title} has had no owner for an "
            "hour"),
        ("La oportunidad {rec_name} ({amount}) lleva una hora sin "
            "responsable",
            "La oportunidad de {amount} de {crm_title} lleva una hora sin "
            "responsable")),
    ]
DUE_DAYS_HELP = ("The activity is due this many days after the rule acts, "
    "at the same time of day; with 0, at the end of that day.")
EXPECTED_CHANGES = {
    'ir_message': {
        ('text', MAPPED_TWICE[0]): {'text': MAPPED_TWICE},
        ('text', ROW_TOO_LONG[0]): {'text': ROW_TOO_LONG},
        ('text', ALERTS_STARTED[0]): {'text': ALERTS_STARTED},
        },
    'ir_translation': {
        ('value', MAPPED_TWICE[0]): {
            'src': MAPPED_TWICE, 'value': MAPPED_TWICE},
        ('value', MAPPED_TWICE_ES[0]): {
            'src': MAPPED_TWICE, 'value': MAPPED_TWICE_ES},
        ('value', ROW_TOO_LONG[0]): {
            'src': ROW_TOO_LONG, 'value': ROW_TOO_LONG},
        ('value', ROW_TOO_LONG_ES[0]): {
            'src': ROW_TOO_LONG, 'value': ROW_TOO_LONG_ES},
        ('value', ALERTS_STARTED[0]): {
            'src': ALERTS_STARTED, 'value': ALERTS_STARTED},
        ('value', ALERTS_STARTED_ES[0]): {
            'src': ALERTS_STARTED, 'value': ALERTS_STARTED_ES},
        **{('value', english[0]): {'src': english, 'value': english}
            for english, _ in RULE_MESSAGES},
        **{('value', spanish[0]): {'src': english, 'value': spanish}
            for english, spanish in RULE_MESSAGES},
        },
    'crm_alert_rule': {
        ('message', english[0]): {'message': english}
        for english, _ in RULE_MESSAGES},
    # crm_kit_desk: the pipeline board replaces the list of stages in the
    # menu.
    'ir_ui_menu': {('name', 'Pipeline'): {'active': (1, 0)}},
    'ir_model_data': {('fs_id', 'menu_stage_pipeline'): {
            'field_names': (
                JsonValue(['action', 'icon', 'name', 'parent', 'sequence']),
                JsonValue(['action', 'active', 'icon', 'name', 'parent',
                        'sequence']))}},
    # crm_kit_activity/configuration.xml: reminders every minute.
    'ir_cron': {('method', 'crm.activity|send_reminders'): {
            'interval_number': (5, 1)}},
    # crm_kit_activity: what "Due in (Days)" means, 0 being the end of
    # the day.
    'ir_model_field': {('name', 'due_days'): {'help': ('', DUE_DAYS_HELP)}},
    # crm_kit/opportunity.xml: the Opportunities list by the stored stage
    # order.
    'ir_action_act_window': {('order', OPPORTUNITIES_ORDER[0]): {
            'order': OPPORTUNITIES_ORDER}},
    }
# What the demo and extras.py fill, which the comparison must cover.
DATA_TABLES = [
    'sale_opportunity', 'sale_opportunity_line', 'sale_opportunity__history',
    'party_party', 'party_address', 'party_contact_mechanism',
    'party_identifier', 'crm_stage_log', 'crm_activity', 'sale_sale',
    'sale_line', 'account_invoice', 'account_invoice_line', 'crm_document',
    'crm_document_version', 'crm_document_link', 'crm_upload_link',
    'ir_attachment', 'crm_alert', 'crm_alert-res_user', 'crm_customer_flag',
    'crm_customer_flag-party_party', 'res_user', 'res_user-res_group',
    'company_employee', 'res_user_application', 'crm_automation_rule',
    'crm_automation_action', 'crm_assignment_rule', 'crm_team',
    'crm_team-res_user', 'crm_web_form', 'crm_web_form_field',
    'crm_sales_target', 'crm_webhook', 'product_template', 'ir_queue']


def fixture():
    backend = 'sqlite' if is_sqlite() else 'postgresql'
    return DATA / f'release-{RELEASE}-{backend}.crmkit.tar.gz'


def crm_kit(upgrade, *args):
    "Run this release's crm-kit in upgrade's home: the CompletedProcess"
    return subprocess.run(
        [sys.executable, '-m', 'crmkit.cli', *args], env=upgrade.env,
        cwd=upgrade.home, capture_output=True, text=True, timeout=TIMEOUT)


def _connect(upgrade):
    if is_sqlite():
        return closing(sqlite3.connect(
                upgrade.home / 'db' / f'{upgrade.name}.sqlite'))
    import psycopg
    return psycopg.connect(URI.rstrip('/') + '/' + upgrade.name)


def query(upgrade, sql, *params):
    with _connect(upgrade) as connection:
        cursor = connection.cursor()
        cursor.execute(sql.replace('?', '%s') if not is_sqlite() else sql,
            params)
        return [tuple(r) for r in cursor.fetchall()]


def dump(upgrade):
    """Every table of the database: {table: (columns, {id: row})}, the
    rows of a table without id by their content"""
    if is_sqlite():
        tables_sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        tables_sql = ("SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    found = {}
    with _connect(upgrade) as connection:
        cursor = connection.cursor()
        cursor.execute(tables_sql)
        for table in sorted(t for t, in cursor.fetchall()):
            cursor.execute(f'SELECT * FROM "{table}"')
            columns = tuple(c[0] for c in cursor.description)
            key = columns.index('id') if 'id' in columns else None
            rows = {}
            for row in cursor.fetchall():
                row = tuple(bytes(v) if isinstance(v, memoryview) else v
                    for v in row)
                rows[repr(row) if key is None else row[key]] = row
            found[table] = (columns, rows)
    return found


def files(upgrade):
    "The database's file store: {path: SHA-256}"
    store = upgrade.home / 'db' / upgrade.name
    return {str(p.relative_to(store)): hashlib.sha256(
            p.read_bytes()).hexdigest()
        for p in sorted(store.rglob('*')) if p.is_file()}


def compare(before, after, table, ignore=(), new=False):
    """What changed in table from before to after, on the columns it had:
    (columns dropped, gone ids, new ids (unless allowed),
    {id: {column: (old, new)}})"""
    columns, old_rows = before[table]
    if table not in after:
        return [], sorted(old_rows, key=str), [], {}
    after_columns, new_rows = after[table]
    dropped = [c for c in columns if c not in after_columns]
    positions = [(i, after_columns.index(c)) for i, c in enumerate(columns)
        if c in after_columns and c not in ignore]
    changed = {}
    for key in old_rows.keys() & new_rows.keys():
        old, current = old_rows[key], new_rows[key]
        differences = {columns[i]: (old[i], current[j])
            for i, j in positions if old[i] != current[j]}
        if differences:
            changed[key] = differences
    gone = sorted(old_rows.keys() - new_rows.keys(), key=str)
    added = [] if new else sorted(new_rows.keys() - old_rows.keys(), key=str)
    return dropped, gone, added, changed


def expected_changes(before, table):
    "EXPECTED_CHANGES of table by the ids of before's rows"
    columns, rows = before[table]
    expected = {}
    for (column, value), change in EXPECTED_CHANGES.get(table, {}).items():
        ids = [key for key, row in rows.items()
            if row[columns.index(column)] == value]
        assert len(ids) == 1, (table, column, value, ids)
        expected[ids[0]] = change
    return expected


def problems(before, after, expected=True):
    """The differences from before to after that are not allowed, one line
    each; with expected, those of EXPECTED_CHANGES must be there"""
    found = []
    for table in sorted(before.keys() - IGNORED):
        rule = DEFINITIONS.get(table, {})
        ignore = rule.get('ignore', ())
        wanted = {}
        if expected and table in EXPECTED_CHANGES:
            wanted = expected_changes(before, table)
            ignore = STAMPS
        dropped, gone, added, changed = compare(before, after, table,
            ignore=ignore, new=rule.get('new', False))
        if table not in after:
            found.append(f"{table}: the table is gone")
        if dropped:
            found.append(f"{table}: columns dropped {dropped}")
        if gone:
            found.append(f"{table}: {len(gone)} rows gone, ids {gone[:10]}")
        if added:
            found.append(f"{table}: {len(added)} rows added, ids {added[:10]}")
        wrong = [key for key in sorted(changed.keys() | wanted.keys(),
                key=str) if changed.get(key) != wanted.get(key)]
        for key in wrong[:5]:
            found.append(f"{table} id {key}: changed {changed.get(key)}, "
                f"expected {wanted.get(key)}")
        if len(wrong) > 5:
            found.append(f"{table}: {len(wrong) - 5} more rows changed")
    return found


def drop(name):
    if is_sqlite():
        return
    import psycopg
    with psycopg.connect(URI.rstrip('/') + '/postgres',
            autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope='module')
def upgrade(tmp_path_factory):
    """The previous release's database restored, then updated twice by
    this release's `crm-kit init --update`: the commands' results and the
    database and files before, after the first and after the second"""
    home = tmp_path_factory.mktemp('crm-kit-upgrade')
    upgrade = SimpleNamespace(home=home, env=_environ(home),
        name=f'crm_kit_upgrade_test_{os.getpid()}', fixture=fixture())
    try:
        upgrade.restore = crm_kit(
            upgrade, '-d', upgrade.name, 'restore', str(upgrade.fixture))
        assert upgrade.restore.returncode == 0, upgrade.restore.stderr
        upgrade.before, upgrade.files_before = dump(upgrade), files(upgrade)
        # `crm-kit init` alone, as `make run` after a pull: it sees the
        # modules are another release's and updates the database.
        upgrade.update = crm_kit(upgrade, '-d', upgrade.name, 'init')
        upgrade.after, upgrade.files_after = dump(upgrade), files(upgrade)
        upgrade.update_again = crm_kit(
            upgrade, '-d', upgrade.name, 'init', '--update')
        upgrade.again, upgrade.files_again = dump(upgrade), files(upgrade)
        # Up to date: it has nothing to do.
        upgrade.ready = crm_kit(upgrade, '-d', upgrade.name, 'init')
        yield upgrade
    finally:
        drop(upgrade.name)


def rows(snapshot, table):
    "The rows of table in a dump, as dicts"
    columns, found = snapshot[table]
    return [dict(zip(columns, row)) for row in found.values()]


def test_fixture_is_the_previous_releases_demo(upgrade):
    with tarfile.open(upgrade.fixture) as tar:
        manifest = json.load(tar.extractfile('manifest.json'))
    assert manifest['database'] == SOURCE_DATABASE
    assert manifest['backend'] == ('sqlite' if is_sqlite() else 'postgresql')
    before = upgrade.before
    for table in DATA_TABLES:
        assert before[table][1], f"{table} is empty in the fixture"
    assert len(before['sale_opportunity'][1]) == 1000
    assert {r['login'] for r in rows(before, 'res_user')} == {
        'root', 'admin', *DEMO_USERS}
    # The previous release's definitions: what this one changes.
    cron, = [r for r in rows(before, 'ir_cron')
        if r['method'] == 'crm.activity|send_reminders']
    assert cron['interval_number'] == 5
    assert 'msg_configuration_active_types' not in {
        r['fs_id'] for r in rows(before, 'ir_model_data')}
    # extras.py's key, hashed; its attachment and webhook.
    key, = rows(before, 'res_user_application')
    assert key['key'] == 'sha256$' + hashlib.sha256(
        EXTRAS.REP_KEY.encode()).hexdigest()
    attachment, = rows(before, 'ir_attachment')
    assert attachment['name'] == EXTRAS.ATTACHMENT[0]
    webhook, = rows(before, 'crm_webhook')
    assert (webhook['name'], webhook['url'], webhook['secret']) == (
        EXTRAS.WEBHOOK)
    # The documents' versions and the attachment are in the file store.
    assert len(upgrade.files_before) == (
        len(before['crm_document_version'][1]) + 1)


def test_update_succeeds(upgrade):
    for result in [upgrade.update, upgrade.update_again, upgrade.ready]:
        assert result.returncode == 0, result.stderr[-3000:]
        assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    for result in [upgrade.update, upgrade.update_again]:
        assert result.stdout.strip() == (f"Database {upgrade.name!r} "
            "updated to the installed crm-kit (existing data kept)."
            ), result.stdout
    assert upgrade.ready.stdout.strip() == (f"Database {upgrade.name!r} is "
        "ready (existing data kept)."), upgrade.ready.stdout
    # trytond-admin did not run again.
    assert not upgrade.ready.stderr.strip(), upgrade.ready.stderr


def test_every_row_is_kept(upgrade):
    """The rows of every table are all there with the same values, but for
    the modules' definitions and EXPECTED_CHANGES"""
    found = problems(upgrade.before, upgrade.after)
    assert not found, '\n'.join(found[:50])
    # What the comparison went through.
    compared = upgrade.before.keys() - IGNORED - DEFINITIONS.keys()
    assert set(DATA_TABLES) <= compared


def test_release_changes(upgrade):
    "What the update brings, checked by problems(): here, that it is there"
    after = upgrade.after
    cron, = [r for r in rows(after, 'ir_cron')
        if r['method'] == 'crm.activity|send_reminders']
    assert cron['interval_number'] == 1
    assert 'msg_configuration_active_types' in {
        r['fs_id'] for r in rows(after, 'ir_model_data')
        if r['module'] == 'crm_kit_document'}
    # crm_kit_quote: the quote e-mail attaches the PDF.
    pdf, = [r['id'] for r in rows(after, 'ir_action_report')
        if r['report'] == 'crm_kit_quote/quote.html']
    link, = rows(after, 'ir_email_template-ir_action_report')
    assert link['report'] == pdf
    # crm_kit's one event mechanism
    assert 'crm.event' in {r['name'] for r in rows(after, 'ir_model')}
    # crm_kit's setup assistant is there, and waits in the menu: a CRM at
    # work is not interrupted at its administrator's next login.
    assert 'config_wizard_item_setup' in {r['fs_id']
        for r in rows(after, 'ir_model_data') if r['module'] == 'crm_kit'}
    assert {r['state'] for r in rows(after, 'ir_module_config_wizard_item')
        } == {'done'}
    # crm_kit_lead's import can be reverted; the leads of a contact at a
    # company have the key the duplicate policy compares them by.
    assert ('crm.lead.import', 'revert') in {(r['model'], r['name'])
        for r in rows(after, 'ir_model_button')}
    people = [r for r in rows(after, 'sale_opportunity')
        if r['lead_name'] and r['lead_company']]
    assert all(r['person_key'] for r in people)
    # Every opportunity has the stage order of its stage.
    opportunities = rows(after, 'sale_opportunity')
    assert opportunities and all(
        r['stage_order'] is not None for r in opportunities)
    orders = {}
    for row in opportunities:
        orders.setdefault(row['stage'], set()).add(row['stage_order'])
    assert all(len(o) == 1 for o in orders.values())


def test_files_are_kept(upgrade):
    assert upgrade.files_after == upgrade.files_before
    assert upgrade.files_again == upgrade.files_before
    by_id = {Path(p).name: h for p, h in upgrade.files_after.items()}
    # Each version's file is its content: its checksum is its SHA-256.
    versions = rows(upgrade.after, 'crm_document_version')
    for version in versions:
        assert by_id[version['data_id']] == version['checksum'], version
    attachment, = rows(upgrade.after, 'ir_attachment')
    assert by_id[attachment['file_id']] == hashlib.sha256(
        EXTRAS.ATTACHMENT[1]).hexdigest()
    assert len(by_id) == len(versions) + 1


def test_second_update_changes_nothing(upgrade):
    found = problems(upgrade.after, upgrade.again, expected=False)
    # Its definitions are those of the first: none is added.
    for table in DEFINITIONS:
        assert (upgrade.again[table][1].keys()
            == upgrade.after[table][1].keys()), table
    assert not found, '\n'.join(found[:50])


# The updated database, served

@pytest.fixture(scope='module')
def served(upgrade):
    "crm-kit serve of the updated database"
    server = start_web(upgrade.name, upgrade.home, upgrade.env,
        upgrade.home / 'serve.log')
    try:
        yield server
    except BaseException:
        print(server.log_tail(60))
        raise
    finally:
        stop_another(server)


def rpc(server, method, params, session=None):
    "JSON-RPC as sao calls it, session (login, user id, token): the answer"
    headers = {'Content-Type': 'application/json'}
    if session:
        headers['Authorization'] = 'Session ' + base64.b64encode(
            ':'.join(map(str, session)).encode()).decode()
    request = urllib.request.Request(
        f'{server.url}{server.database}/rpc/',
        data=json.dumps({'id': 1, 'method': method, 'params': params}
            ).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def login(server, login, password):
    "The session of login, as sao opens it, and its context"
    answer = rpc(server, 'common.db.login',
        [login, {'password': password}, 'en'])
    assert 'error' not in answer, (login, answer)
    user_id, token = answer['result'][:2]
    session = (login, user_id, token)
    context = call(server, session, 'model.res.user.get_preferences', True)
    return SimpleNamespace(user_id=user_id, session=session, context=context)


def call(server, session, method, *params, context=None):
    answer = rpc(server, method, [*params, context or {}], session)
    assert 'error' not in answer, (method, answer)
    return answer['result']


def user_ids(upgrade):
    return dict(query(upgrade, 'SELECT login, id FROM res_user'))


def owned(upgrade, login):
    "The ids of login's opportunities, by SQL"
    return sorted(i for i, in query(upgrade,
            'SELECT o.id FROM sale_opportunity o '
            'JOIN res_user u ON o.owner = u.id WHERE u.login = ?', login))


def test_users_log_in(upgrade, served):
    ids = user_ids(upgrade)
    for user, password in [(u, DEMO_PASSWORD) for u in DEMO_USERS] + [
            ('admin', ADMIN_PASSWORD)]:
        assert login(served, user, password).user_id == ids[user]
    # A password is checked: a wrong one is refused.
    with pytest.raises(urllib.error.HTTPError) as error:
        rpc(served, 'common.db.login',
            ['rep2', {'password': 'not-the-password'}, 'en'])
    assert error.value.code == 401


def test_rep_reads_their_own_opportunities_only(upgrade, served):
    rep = login(served, 'rep', DEMO_PASSWORD)
    mine, theirs = owned(upgrade, 'rep'), owned(upgrade, 'rep2')
    assert mine and theirs
    found = call(served, rep.session, 'model.sale.opportunity.search',
        [], 0, None, None, context=rep.context)
    assert sorted(found) == mine
    read, = call(served, rep.session, 'model.sale.opportunity.read',
        [mine[0]], ['description', 'owner'], context=rep.context)
    assert read['owner'] == rep.user_id
    assert read['description'] == query(upgrade,
        'SELECT description FROM sale_opportunity WHERE id = ?', mine[0]
        )[0][0]
    answer = rpc(served, 'model.sale.opportunity.read',
        [[theirs[0]], ['description'], rep.context], rep.session)
    assert 'error' in answer, answer


def rest(server, path, key):
    request = urllib.request.Request(
        f'{server.url}{server.database}/rest/model/{path}',
        headers={'Authorization': f'bearer {key}'})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_previous_releases_api_key_works(upgrade, served):
    mine, theirs = owned(upgrade, 'rep'), owned(upgrade, 'rep2')
    found = rest(served, 'sale.opportunity?f=owner', EXTRAS.REP_KEY)
    rep = user_ids(upgrade)['rep']
    assert sorted(r['id'] for r in found) == mine
    assert {r['owner'] for r in found} == {rep}
    with pytest.raises(urllib.error.HTTPError) as error:
        rest(served, f'sale.opportunity/{theirs[0]}', EXTRAS.REP_KEY)
    assert error.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as error:
        rest(served, 'sale.opportunity', 'x' * 43)
    assert error.value.code == 401


def test_restore_tells_to_update(upgrade):
    "The previous release's backup: restore says the update is to run"
    assert "init --update" in upgrade.restore.stdout, upgrade.restore.stdout
