"""A running crm-kit server for the tests that need one (browser, HTTP).

The ``crm_server`` fixture (session scope) creates a fresh database with
``crm-kit init`` in a temporary CRM_KIT_HOME, adds a few opportunities owned
by admin, serves it with trytond on a free port of localhost and stops it
at the end of the session (dropping the database on PostgreSQL).  Use it
from a test module with::

    from server import crm_server  # noqa: F401

The database is prepared in a child process (``python tests/server.py
prepare NAME``) so that the pytest process keeps its own trytond
configuration and pool for the module tests.
"""
import json
import os
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


def _environ(home):
    env = dict(os.environ)
    env['CRM_KIT_HOME'] = str(home)
    env['CRM_KIT_SAO'] = str(sao_root().resolve())
    env.pop('TRYTOND_CONFIG', None)
    env.pop('CRM_KIT_DATABASE', None)
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


def start_server(home, name=None):
    """Prepare a database in home, serve it and return a CrmServer; call
    stop_server with it at the end."""
    from crmkit.cli import ADMIN_PASSWORD

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    name = name or f'crm_kit_server_{os.getpid()}'
    port = free_port()
    env = _environ(home)
    log = home / 'server.log'
    _run_helper('prepare', name, env, log)
    opportunities = json.loads((home / 'opportunities.json').read_text())

    # Served as `crm-kit serve` does it (which execs trytond).
    with open(log, 'a') as output:
        process = subprocess.Popen(
            [sys.executable, '-m', 'crmkit.cli', '-d', name, 'serve',
                '--listen', f'localhost:{port}'],
            env=env, stdout=output, stderr=subprocess.STDOUT, cwd=home)
    server = CrmServer(
        url=f'http://localhost:{port}/', database=name, home=home, log=log,
        process=process, admin_password=ADMIN_PASSWORD,
        opportunities=opportunities)
    try:
        _wait_until_up(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server):
    _stop(server.process)
    if not is_sqlite():
        _run_helper('drop', server.database, _environ(server.home), server.log)


try:
    import pytest
except ImportError:  # run as the helper script
    pytest = None
else:
    @pytest.fixture(scope='session')
    def crm_server(tmp_path_factory):
        "A trytond serving a fresh crm-kit database with 5 opportunities"
        server = start_server(tmp_path_factory.mktemp('crm-kit-home'))
        try:
            yield server
        finally:
            stop_server(server)


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


def _prepare(name):
    from crmkit import cli, settings

    _, backend, _, _ = cli._trytond()
    expected = 'sqlite' if is_sqlite() else 'postgresql'
    if backend.name != expected:
        sys.exit(f"trytond uses the {backend.name} backend, "
            f"not {expected} as TRYTOND_DATABASE__URI says")
    if cli.database_exists(name) and not is_sqlite():
        _drop(name)
    cli.init(name)
    opportunities = cli.run_in_transaction(name, _create_opportunities)
    (settings.home() / 'opportunities.json').write_text(
        json.dumps(opportunities, ensure_ascii=False, indent=1))


def _drop(name):
    from crmkit import cli
    cli.drop_database(name)

if __name__ == '__main__':
    command, name = sys.argv[1:3]
    {'prepare': _prepare, 'drop': _drop}[command](name)
