# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The REST API fuzzed from its own OpenAPI contract with schemathesis (the
version pinned in the Makefile), as a CRM Sales Rep and as a CRM
Administrator of their own, on a copy of its own: no answer is a 5xx,
breaks its schema or has a status or a content type the contract does not
list."""
import json
import os
import subprocess
from pathlib import Path

import pytest

try:
    from server import ROOT, _environ, _run_helper, start_server, stop_server
except ImportError:
    from tests.server import (
        ROOT, _environ, _run_helper, start_server, stop_server)

SCHEMATHESIS = Path(os.environ.get(
        'CRM_KIT_SCHEMATHESIS', ROOT / 'var' / 'fuzz' / 'bin' / 'st'))
SEED = 20261203
# Test cases per operation; with the examples of the contract, the two runs
# take about a minute and a half each on two cores.
EXAMPLES = 8
PHASES = 'examples,fuzzing'
LOGINS = ['fuzz_rep', 'fuzz_admin']
TIMEOUT = 900

CHECKS = ','.join([
        'not_a_server_error', 'status_code_conformance',
        'content_type_conformance', 'response_schema_conformance'])


@pytest.fixture(scope='module')
def fuzz_server(crm_init, tmp_path_factory):
    home = tmp_path_factory.mktemp('crm-kit-fuzz')
    server = start_server(crm_init, home, name=f'crm_kit_fuzz_{os.getpid()}')
    try:
        _run_helper('fuzz-users', server.database, _environ(home),
            home / 'fuzz.log')
        keys = json.loads((home / 'fuzz-keys.json').read_text())
        yield server, keys, home
    finally:
        stop_server(server)


@pytest.fixture(scope='module')
def fuzz_runs(fuzz_server):
    """Both roles' runs started at once, each in a process of its own with
    one worker: schemathesis' workers are threads, and CPython 3.11's
    ast.parse, which hypothesis calls to describe its strategies, is not
    thread-safe ("AST constructor recursion depth mismatch")."""
    server, keys, home = fuzz_server
    assert SCHEMATHESIS.exists(), "run make install-fuzz"
    runs = {}
    for login in LOGINS:
        folder = home / login
        folder.mkdir()
        output = open(folder / 'output.txt', 'w')
        process = subprocess.Popen([
                str(SCHEMATHESIS), 'run',
                f'{server.url}{server.database}/rest/openapi.json',
                '--header', f'Authorization: Bearer {keys[login]}',
                '--phases', PHASES, '--max-examples', str(EXAMPLES),
                '--seed', str(SEED),
                '--checks', CHECKS, '--workers', '1', '--no-shrink',
                '--no-color', '--generation-database', 'none',
                '--report', 'junit', '--report-dir', str(folder),
                ], stdout=output, stderr=subprocess.STDOUT, text=True,
            cwd=folder)
        runs[login] = process, output, folder / 'output.txt'
    try:
        yield server, runs
    finally:
        for process, output, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            output.close()


@pytest.mark.parametrize('login', LOGINS)
def test_contract_holds_under_fuzzing(fuzz_runs, login):
    server, runs = fuzz_runs
    process, output, path = runs[login]
    try:
        returncode = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        returncode = process.wait()
    output.flush()
    text = path.read_text()
    assert returncode == 0, (
        text[-12000:] + '\n--- server log ---\n' + server.log_tail(80))
