"""A running crm-kit server for the tests that need one (browser, HTTP).

The ``crm_init`` fixture (session scope) runs ``crm-kit init`` once in a
temporary CRM_KIT_HOME: activating every module takes minutes, so the
tests that need an initialised database start from a copy of it
(``copy_initialised``).  The ``crm_server`` fixture (session scope) makes
such a copy, adds a few opportunities owned by admin, serves it with
trytond on a free port of localhost and stops it at the end of the session
(dropping the database on PostgreSQL).  They are in tests/conftest.py.

The databases are prepared in child processes (``python tests/server.py
init|prepare NAME``) so that the pytest process keeps its own trytond
configuration and pool for the module tests.
"""
import base64
import json
from contextlib import contextmanager
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60
ADMIN_LOGIN = 'admin'

# (party, description) of the opportunities the fixture creates.
OPPORTUNITIES = [
    ("Talleres Gómez S.L.", "CRM para el taller"),
    ("Panadería Ruiz", "Pedidos en línea"),
    ("Clínica Dental Sonrisa", "Agenda y recordatorios"),
    ("Transportes Levante S.A.", "Seguimiento de flota"),
    ("Librería El Quijote", "Tienda online"),
    ]


def sao_root():
    "Where sao is installed: $CRM_KIT_SAO or var/sao of the repository"
    return Path(os.environ.get('CRM_KIT_SAO') or ROOT / 'var' / 'sao')


def sao_installed():
    return (sao_root() / 'index.html').exists()


def is_sqlite():
    uri = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
    return uri.startswith('sqlite')


@dataclass
class CrmServer:
    url: str
    database: str
    home: Path
    log: Path
    process: subprocess.Popen = field(repr=False)
    admin_login: str = ADMIN_LOGIN
    admin_password: str = ''
    # dicts with id, number, party and description
    opportunities: list = field(default_factory=list)

    def log_tail(self, lines=40):
        try:
            text = self.log.read_text(errors='replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@dataclass
class Initialised:
    "A database made by crm-kit init in home, to copy"
    home: Path
    database: str


def _environ(home):
    env = dict(os.environ)
    env['CRM_KIT_HOME'] = str(home)
    env['CRM_KIT_SAO'] = str(sao_root().resolve())
    env.pop('TRYTOND_CONFIG', None)
    env.pop('CRM_KIT_DATABASE', None)
    # The databases of home are in home (crm-kit may have set another
    # home's in this process).
    env.pop('TRYTOND_DATABASE__PATH', None)
    env.setdefault('TRYTOND_DATABASE__URI', 'sqlite://')
    env.setdefault('TRYTOND_EMAIL__URI', 'smtp://127.0.0.1:1')
    return env


def _run_helper(command, name, env, log):
    with open(log, 'a') as output:
        result = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), command, name],
            env=env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
    if result.returncode:
        tail = '\n'.join(
            Path(log).read_text(errors='replace').splitlines()[-40:])
        raise RuntimeError(
            f"'server.py {command} {name}' failed "
            f"({result.returncode}):\n{tail}")


def _wait_until_up(server, timeout=STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"trytond exited with {server.process.returncode}:\n"
                + server.log_tail())
        try:
            with urllib.request.urlopen(server.url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"trytond did not answer on {server.url} within {timeout}s:\n"
        + server.log_tail())


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def post_json(server, path, data, session=None, timeout=60):
    "POST data as JSON to the database's path as sao does; the answer"
    headers = {'Content-Type': 'application/json'}
    if session:
        user_id, token = session
        credentials = f'{server.admin_login}:{user_id}:{token}'
        headers['Authorization'] = 'Session ' + base64.b64encode(
            credentials.encode()).decode()
    request = urllib.request.Request(
        f"{server.url.rstrip('/')}/{server.database}/{path}",
        data=json.dumps(data).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def jsonrpc(server, method, params, session=None):
    "Call the server's JSON-RPC as sao does"
    answer = post_json(server, 'rpc/',
        {'id': 1, 'method': method, 'params': params}, session=session)
    assert 'error' not in answer, answer
    return answer['result']


def listen(server, channels, session, timeout, last_message=None):
    """Wait on the bus as sao does: the first message of channels after
    last_message (its message_id), or None after the server's long-polling
    timeout"""
    answer = post_json(server, 'bus',
        {'channels': channels, 'last_message': last_message},
        session=session, timeout=timeout)
    return answer['message']


def initialise(home):
    "Run crm-kit init in home; return the Initialised database"
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    name = f'crm_kit_init_{os.getpid()}'
    _run_helper('init', name, _environ(home), home / 'init.log')
    return Initialised(home, name)


def drop_initialised(initialised):
    if not is_sqlite():
        _run_helper('drop', initialised.database,
            _environ(initialised.home), initialised.home / 'init.log')


def copy_initialised(initialised, name):
    """Make database name (of the current CRM_KIT_HOME) a copy of the
    initialised one, as crm-kit init would have made it (the copy is a file
    on SQLite, a database made from it as template on a server)"""
    from crmkit import cli
    config, backend, _, _ = cli._trytond()
    if backend.name == 'sqlite':
        # where crm-kit init would have made it (cli.create_database)
        target = Path(config.get('database', 'path')) / f'{name}.sqlite'
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(initialised.home / 'db' / f'{initialised.database}'
            '.sqlite', target)
        return
    database = backend.Database()
    database.connect()
    connection = database.get_connection(autocommit=True)
    try:
        database.create(connection, name, initialised.database)
    finally:
        database.put_connection(connection)


def start_server(initialised, home, name=None, scheduler=False,
        setup_assistant=False):
    """Prepare a copy of the initialised database in home, serve it and
    return a CrmServer; call stop_server with it at the end.  Without
    scheduler, nothing happens by itself while the tests run; without
    setup_assistant, the administrator's first login opens the desk, not
    the setup assistant."""
    from crmkit.cli import ADMIN_PASSWORD_FILE

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    name = name or f'crm_kit_server_{os.getpid()}'
    port = free_port()
    env = _served_environ(home, port)
    env['CRM_KIT_TEST_INITIALISED'] = json.dumps(
        [str(initialised.home), initialised.database])
    if setup_assistant:
        env['CRM_KIT_TEST_SETUP_ASSISTANT'] = '1'
    log = home / 'server.log'
    _run_helper('prepare', name, env, log)
    opportunities = json.loads((home / 'opportunities.json').read_text())
    server = CrmServer(
        url=f'http://localhost:{port}/', database=name, home=home, log=log,
        process=_serve(name, port, env, log,
            [] if scheduler else ['--no-scheduler']),
        # crm-kit init chose it at random and kept it for the user alone.
        admin_password=(initialised.home
            / f'{initialised.database}-{ADMIN_PASSWORD_FILE}'
            ).read_text().strip(),
        opportunities=opportunities)
    try:
        _wait_until_up(server)
    except BaseException:
        stop_server(server)
        raise
    return server


@contextmanager
def serving(initialised, home, **options):
    "start_server's CrmServer, stopped at the end"
    server = start_server(initialised, home, **options)
    try:
        yield server
    finally:
        stop_server(server)


def _served_environ(home, port):
    env = _environ(home)
    # Its public address: the links it writes point at it.
    env['TRYTOND_WEB__HOSTNAME'] = f'http://localhost:{port}'
    # The browser tests' webhook receiver listens on the loopback.
    env['TRYTOND_WEBHOOK__PRIVATE_HOSTS'] = '127.0.0.1'
    return env


def _serve(name, port, env, log, options):
    "Serve database name by `crm-kit serve`, as users serve it"
    with open(log, 'a') as output:
        return subprocess.Popen(
            [sys.executable, '-m', 'crmkit.cli', '-d', name, 'serve',
                '--listen', f'localhost:{port}'] + options,
            env=env, stdout=output, stderr=subprocess.STDOUT,
            cwd=env['CRM_KIT_HOME'])


def start_web(name, home, env, log):
    """Serve database name by `crm-kit serve` on a free port, its web
    server alone (no scheduler nor worker of its own, one process); a
    CrmServer, stopped by stop_another"""
    port = free_port()
    env = dict(env, TRYTOND_WEB__HOSTNAME=f'http://localhost:{port}')
    server = CrmServer(
        url=f'http://localhost:{port}/', database=name, home=Path(home),
        log=log, process=_serve(name, port, env, log,
            ['--no-scheduler', '--no-worker', '--workers', '1']))
    try:
        _wait_until_up(server)
    except BaseException:
        _stop(server.process)
        raise
    return server


def start_another(server):
    """One more web server of server's database, as a second machine
    behind a load balancer; stop it with stop_another"""
    another = start_web(server.database, server.home,
        _environ(server.home), server.home / 'server-another.log')
    another.admin_password = server.admin_password
    another.opportunities = server.opportunities
    return another


def stop_another(server):
    _stop(server.process)


def stop_server(server):
    _stop(server.process)
    if not is_sqlite():
        _run_helper('drop', server.database, _environ(server.home), server.log)


@contextmanager
def kept_trytond_config():
    """Give the environment and the trytond configuration of this process
    back at the end (crm-kit sets TRYTOND_* defaults for its home)"""
    import trytond.config as config
    parser = config._config
    saved = {s: dict(parser.items(s, raw=True)) for s in parser.sections()}
    environ = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        for section in parser.sections():
            parser.remove_section(section)
        for section, values in saved.items():
            parser.add_section(section)
            for option, value in values.items():
                parser.set(section, option, value)
        config._cache_clear()


@contextmanager
def root_transaction(name):
    "A read-only transaction as root in the company"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(name, 0, readonly=True):
        Company = Pool().get('company.company')
        company, = Company.search([])
        with Transaction().set_context(company=company.id):
            yield Pool()


try:
    import pytest
except ImportError:  # run as the helper script
    pytest = None
else:
    @pytest.fixture(scope='session')
    def crm_init(tmp_path_factory):
        "A database made by crm-kit init, to copy (copy_initialised)"
        initialised = initialise(tmp_path_factory.mktemp('crm-kit-init'))
        try:
            yield initialised
        finally:
            drop_initialised(initialised)

    @pytest.fixture(scope='session')
    def crm_server(crm_init, tmp_path_factory):
        "A trytond serving a fresh crm-kit database with 5 opportunities"
        with serving(crm_init, tmp_path_factory.mktemp('crm-kit-home')
                ) as server:
            yield server


# What runs in the child process

def _create_opportunities():
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool()
    Company = pool.get('company.company')
    Opportunity = pool.get('sale.opportunity')
    Party = pool.get('party.party')
    User = pool.get('res.user')
    admin, = User.search([('login', '=', ADMIN_LOGIN)])
    company, = Company.search([], limit=1)
    created = []
    with Transaction().set_user(admin.id), \
            Transaction().set_context(company=company.id):
        for party_name, description in OPPORTUNITIES:
            party = Party(name=party_name)
            party.save()
            opportunity = Opportunity(party=party, description=description)
            opportunity.on_change_party()
            opportunity.owner = admin
            opportunity.on_change_owner()
            opportunity.save()
            created.append(opportunity)
    return [{
            'id': o.id,
            'number': o.number,
            'party': o.party.rec_name,
            'description': o.description,
            } for o in created]


def _check_backend():
    from crmkit import cli
    _, backend, _, _ = cli._trytond()
    expected = 'sqlite' if is_sqlite() else 'postgresql'
    if backend.name != expected:
        sys.exit(f"trytond uses the {backend.name} backend, "
            f"not {expected} as TRYTOND_DATABASE__URI says")


def _prepare(name):
    from crmkit import cli, settings
    _check_backend()
    if cli.database_exists(name) and not is_sqlite():
        _drop(name)
    home, database = json.loads(os.environ['CRM_KIT_TEST_INITIALISED'])
    copy_initialised(Initialised(Path(home), database), name)
    # What crm-kit init has left to do on a copy: nothing but checking.
    cli.init(name)
    opportunities = cli.run_in_transaction(name, _create_opportunities)
    if not os.environ.get('CRM_KIT_TEST_SETUP_ASSISTANT'):
        # A CRM at work: the admin's login opens the desk, not the assistant.
        cli.run_in_transaction(name, cli._close_setup_assistant)
    (settings.home() / 'opportunities.json').write_text(
        json.dumps(opportunities, ensure_ascii=False, indent=1))


def _init(name):
    from crmkit import cli
    _check_backend()
    if cli.database_exists(name) and not is_sqlite():
        _drop(name)
    cli.init(name)


# The users the API is fuzzed as (tests/test_api_fuzz.py): of their own,
# each with a record of its own, in the served copy.
FUZZ_USERS = [('fuzz_rep', 'group_crm_rep'), ('fuzz_admin', 'group_crm_admin')]


def _fuzz_users(name):
    from crmkit import cli, settings

    def create():
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Application = pool.get('res.user.application')
        Company = pool.get('company.company')
        Employee = pool.get('company.employee')
        ModelData = pool.get('ir.model.data')
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        User = pool.get('res.user')
        company, = Company.search([], limit=1)
        keys = {}
        for login, group in FUZZ_USERS:
            party = Party(name=login)
            party.save()
            employee = Employee(party=party, company=company)
            employee.save()
            user, = User.create([{
                        'name': login, 'login': login,
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'employees': [('add', [employee.id])],
                        'employee': employee.id,
                        'groups': [('add', [
                                    ModelData.get_id('crm_kit', group)])],
                        }])
            with Transaction().set_user(user.id), \
                    Transaction().set_context(company=company.id):
                key, = Application.create([{'name': "Fuzzing"}])
                keys[login] = key.new_key
                customer = Party(name=f"Cliente de {login}")
                customer.save()
                opportunity = Opportunity(
                    party=customer, description=f"Deal of {login}")
                opportunity.on_change_party()
                opportunity.owner = user
                opportunity.on_change_owner()
                opportunity.save()
        return keys
    keys = cli.run_in_transaction(name, create)
    (settings.home() / 'fuzz-keys.json').write_text(json.dumps(keys))


def _drop(name):
    from crmkit import cli
    cli.drop_database(name)

if __name__ == '__main__':
    command, name = sys.argv[1:3]
    {'init': _init, 'prepare': _prepare, 'drop': _drop,
        'fuzz-users': _fuzz_users}[command](name)
