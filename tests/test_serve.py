"""`crm-kit serve` runs the web server, the scheduler and the queue worker
(crmkit.serve): with nothing else started, an overdue activity's owner is
reminded, in the notifications and by a pop-up; a child that dies is started again; SIGTERM stops them all."""
import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path

import pytest

try:
    from server import (is_sqlite, jsonrpc, listen, serving, start_another,
        stop_another)
except ImportError:
    from tests.server import (is_sqlite, jsonrpc, listen, serving,
        start_another, stop_another)

# The reminders' scheduler pass runs every minute.
REMINDER_TIMEOUT = 150


@pytest.fixture(scope='module')
def living_server(crm_init, tmp_path_factory):
    with serving(crm_init, tmp_path_factory.mktemp('crm-kit-serve'),
            name=f'crm_kit_serve_{os.getpid()}', scheduler=True) as server:
        yield server


def children(pid):
    "The command lines of the processes whose parent is pid, by pid"
    found = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (
                    stat.parent / 'cmdline').read_bytes().replace(
                    b'\0', b' ').decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def in_groups(groups):
    "The pids of the processes in the process groups groups"
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
            if int(fields[2]) in groups and fields[0] != 'Z':
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def kind(command):
    for name, word in [('web', 'gunicorn'), ('scheduler', 'trytond-cron'),
            ('worker', ' work')]:
        if word in command:
            return name
    return command


def wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(message)


def test_one_command_runs_everything(living_server):
    kinds = sorted(kind(c) for c in children(
            living_server.process.pid).values())
    assert kinds == ['scheduler', 'web', 'worker'], kinds


def test_overdue_activity_is_reminded(living_server):
    server = living_server
    session = jsonrpc(server, 'common.db.login', [
            server.admin_login, {'password': server.admin_password}, 'en'])[:2]

    def call(method, *params):
        return jsonrpc(server, method, [*params, {}], session=session)
    # sao's pop-up: the scheduler, another process, publishes it on the
    # user's channel (on SQLite too, through crmkit.bus).
    popups = []
    deadline = time.monotonic() + REMINDER_TIMEOUT

    def listen_until_reminded():
        last = None
        while time.monotonic() < deadline:
            message = listen(server, [f'notification:{session[0]}'],
                session, REMINDER_TIMEOUT, last_message=last)
            if message:
                popups.append(message)
                last = message['message_id']
                if any('Call back Talleres' in c
                        for c in message['content']):
                    return
    popup = threading.Thread(target=listen_until_reminded, daemon=True)
    popup.start()
    call_type, = call('model.crm.activity.type.search',
        [('name', '=', 'Call')], 0, None, None)
    company, = call('model.company.company.search', [], 0, None, None)
    yesterday = dt.datetime.utcnow() - dt.timedelta(days=1)
    due = {'__class__': 'datetime', 'year': yesterday.year,
        'month': yesterday.month, 'day': yesterday.day, 'hour': 9,
        'minute': 0, 'second': 0, 'microsecond': 0}
    call('model.crm.activity.create', [{
                'type': call_type, 'subject': "Call back Talleres",
                'owner': session[0], 'company': company,
                'opportunity': server.opportunities[0]['id'], 'due': due}])

    def reminded():
        return call('model.res.notification.search_read',
            [('user', '=', session[0]),
                ('label', 'ilike', 'Overdue: %Call back Talleres%')],
            0, None, None, ['label'])
    wait_for(reminded, REMINDER_TIMEOUT,
        "no reminder within %s s:\n%s" % (
            REMINDER_TIMEOUT, server.log_tail(60)))
    popup.join(30)
    assert popups, "no pop-up"
    message = popups[-1]
    assert message['type'] == 'user-notification', popups
    assert any('Call back Talleres' in c for c in message['content']), (
        popups)


@pytest.mark.skipif(is_sqlite(),
    reason="SQLite is served by one web process (docs/deployment.md)")
def test_caches_are_coherent_between_web_servers(living_server):
    """A record rule made through one web server holds at once through
    another (a second machine behind a load balancer): PostgreSQL tells
    every process to clear its caches"""
    first = living_server
    second = start_another(first)
    try:
        session = jsonrpc(first, 'common.db.login', [
                first.admin_login, {'password': first.admin_password},
                'en'])[:2]

        def channels(server):
            return jsonrpc(server, 'model.crm.channel.search',
                [[], 0, None, None, {}], session=session)
        # The second one has the rules in its cache.
        assert channels(second)
        rule, = jsonrpc(first, 'model.ir.rule.group.create', [[{
                        'name': "Channels of nobody",
                        'model': 'crm.channel', 'global_p': True,
                        'rules': [('create', [
                                    {'domain': '[["id", "=", -1]]'}])],
                        }], {}], session=session)
        try:
            started = time.monotonic()
            while channels(second) and time.monotonic() - started < 2:
                time.sleep(0.05)
            assert channels(second) == [], (
                "the second web server still searches with the old rules")
        finally:
            jsonrpc(first, 'model.ir.rule.group.delete', [[rule], {}],
                session=session)
        assert channels(second)
    finally:
        stop_another(second)


def test_a_child_that_dies_is_started_again(living_server):
    pid = living_server.process.pid
    worker, = [p for p, c in children(pid).items() if kind(c) == 'worker']
    os.kill(worker, signal.SIGKILL)
    new = wait_for(lambda: [p for p, c in children(pid).items()
            if kind(c) == 'worker' and p != worker], 30,
        "the worker was not started again:\n"
        + living_server.log_tail(30))
    assert new
    assert living_server.process.poll() is None
    assert 'worker' in living_server.log_tail(30)


def test_sigterm_stops_them_all(living_server):
    "and what they started (gunicorn's and trytond-cron's processes)"
    process = living_server.process
    running = children(process.pid)
    assert len(running) == 3, running
    assert len(in_groups(set(running))) > 3
    process.terminate()
    assert process.wait(timeout=30) == 0
    assert in_groups(set(running)) == []
