"""What `crm-kit serve` runs and watches over, each in a process of its
own: the web server (gunicorn serving crmkit.wsgi:app: sao, JSON-RPC,
REST), the scheduler (trytond-cron: reminders, time-based rules, alert
checks, webhook retries, expiry notices) and the queue worker
(crmkit.worker: webhook deliveries and the other work queued by a request,
which then returns at once).

A child that dies is logged and started again, after a delay that grows
while it keeps dying; SIGINT (Ctrl-C) or SIGTERM stops them all."""
import logging
import os
import signal
import subprocess
import sys
import time

from .cli import _bin

logger = logging.getLogger('crmkit.serve')

# Seconds before a dead child is started again, while it keeps dying; one
# that ran for STABLE seconds starts the delays over.
RESTART_DELAYS = [1, 2, 5, 10, 30]
STABLE = 60
# Seconds the children have to stop before they are killed.
STOP_TIMEOUT = 10
# Threads of each web process: each sao window holds one, waiting for its
# pop-ups (the bus' long polling), besides the requests being served.
THREADS = 24
# A request may take this long (a large report, an export) before
# gunicorn replaces its worker.
REQUEST_TIMEOUT = 300


def default_workers():
    """One web process per core, up to 4 (each holds the whole pool); one
    on SQLite, whose writes go one at a time and whose caches are not
    told of another process' changes"""
    from trytond import backend
    if backend.name == 'sqlite':
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def children(database, listen, config_path, workers=None, threads=THREADS,
        scheduler=True, worker=True):
    "The (name, command) of each process to run"
    result = [('web', [_bin('gunicorn'),
                '--bind', listen,
                '--workers', str(workers or default_workers()),
                '--threads', str(threads),
                '--worker-class', 'gthread',
                '--timeout', str(REQUEST_TIMEOUT),
                '--graceful-timeout', '10',
                # A kept-alive connection stays with the worker that took
                # it: 4 clients landed 3+1 on 2 workers and scaled 1.31x;
                # closed after each answer, 1.86x (bench/server.py).
                '--keep-alive', '0',
                '--name', f'crm-kit-web-{database}',
                # Its control socket would be one per user, for all servers.
                '--no-control-socket',
                'crmkit.wsgi:app'])]
    if scheduler:
        result.append(('scheduler', [_bin('trytond-cron'),
                    '-c', str(config_path), '-d', database, '-n', '1']))
    if worker:
        result.append(('worker', [sys.executable, '-m', 'crmkit.cli',
                    '-d', database, 'work']))
    return result


def environment(config_path, database, worker=True):
    "The environment of the children"
    env = dict(os.environ)
    env['TRYTOND_CONFIG'] = str(config_path)
    # Each web process loads the database's pool before it serves (loaded
    # by the first request instead, trytond 8.0 answered it "'res.user'").
    env['TRYTOND_DATABASE_NAMES'] = database
    from trytond import backend
    if backend.name == 'postgresql':
        # The web processes, the scheduler and the worker see at once what
        # another changed (a hook, a stage, an access rule): PostgreSQL
        # notifies them.  trytond's default let a cache lag up to 5
        # minutes behind another process.
        env.setdefault('TRYTOND_CACHE__CLEAN_TIMEOUT', '0')
    # A request queues its background work for the worker, instead of
    # running it once its transaction is committed.
    if worker:
        env['TRYTOND_QUEUE__WORKER'] = 'True'
    return env


class Child:

    def __init__(self, name, command, env):
        self.name = name
        self.command = command
        self.env = env
        self.process = None
        self.started = None
        self.failures = 0
        self.restart_at = None

    def start(self):
        # A group of its own: what it starts (gunicorn's and trytond-cron's
        # worker processes) is stopped with it, by the supervisor alone.
        self.process = subprocess.Popen(
            self.command, env=self.env, start_new_session=True)
        self.started = time.monotonic()
        self.restart_at = None
        logger.info("%s started (pid %s)", self.name, self.process.pid)

    def check(self, now):
        "Start the child again when it died and its delay is over"
        if self.process is None:
            return
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        # What it started dies with it.
        self._signal_group(signal.SIGKILL)
        if now - self.started >= STABLE:
            self.failures = 0
        delay = RESTART_DELAYS[min(self.failures, len(RESTART_DELAYS) - 1)]
        self.failures += 1
        logger.warning("%s (pid %s) exited with %s: starting it again in "
            "%s s", self.name, self.process.pid, code, delay)
        self.restart_at = now + delay

    def _signal_group(self, signum):
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def terminate(self):
        if self.process:
            self._signal_group(signal.SIGTERM)

    def wait(self, deadline):
        "Wait for the child and its group until deadline, then kill them"
        if not self.process:
            return
        try:
            self.process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            logger.warning("%s (pid %s) did not stop: killed", self.name,
                self.process.pid)
        while time.monotonic() < deadline and self._signal_group(0):
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)
        self.process.wait()


def supervise(commands, env, tick=0.5):
    "Run commands until SIGINT or SIGTERM, starting again those that die"
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
    previous = {s: signal.signal(s, stop)
        for s in [signal.SIGINT, signal.SIGTERM]}
    running = [Child(name, command, env) for name, command in commands]
    try:
        for child in running:
            child.start()
        while not stopping:
            now = time.monotonic()
            for child in running:
                child.check(now)
            time.sleep(tick)
    finally:
        logger.info("stopping %s", ', '.join(c.name for c in running))
        for child in running:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            child.wait(deadline)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
