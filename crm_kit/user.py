# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A CRM user: their sales teams; and the login's brute-force protection,
per login and address.

Tryton counts the failed logins of a login from anywhere, so a stranger's
five wrong passwords locked the administrator out of every office.  Here
the failures that refuse a login are those of that login from the same
network ([session] ip_network_4/ip_network_6: the address, or its /56 in
IPv6) within [session] timeout; and a network that fails too often on any
login ([session] max_attempt_ip_network) is refused over a longer window,
[session] ip_network_timeout (an hour by default).

And the cost of a login: hashing a password (argon2) takes about 64 MB
and 120 ms of CPU, so a process hashes at most [password]
concurrent_hashes (1) at a time; simultaneous logins wait their turn
instead of multiplying the memory."""
import datetime as dt
import threading

from sql.aggregate import Count

from trytond import config
from trytond.model import fields
from trytond.exceptions import LoginException, RateLimitException
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


_hashing = []


def _hashing_slot():
    if not _hashing:
        _hashing.append(threading.BoundedSemaphore(max(1, config.getint(
                        'password', 'concurrent_hashes', default=1))))
    return _hashing[0]


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    crm_teams = fields.Many2Many(
        'crm.team-res.user', 'user', 'team', "Sales Teams")
    crm_managed_teams = fields.One2Many(
        'crm.team', 'manager', "Managed Sales Teams", readonly=True)
    crm_role = fields.Function(fields.Selection([
                (None, ""),
                ('rep', "Sales Rep"),
                ('manager', "Sales Manager"),
                ('admin', "CRM Administrator"),
                ], "CRM Role",
            help="What the user may see and do in the CRM: a rep their own "
            "customers and deals, a manager their teams', an administrator "
            "everything and the configuration."),
        'get_crm_role', setter='set_crm_role')

    @property
    def crm_team(self):
        "The team new opportunities of this user belong to"
        if self.crm_teams:
            return self.crm_teams[0]
        if self.crm_managed_teams:
            return self.crm_managed_teams[0]

    @classmethod
    def _crm_role_groups(cls):
        "The CRM's groups by role, the most powerful first"
        ModelData = Pool().get('ir.model.data')
        return [(role, ModelData.get_id('crm_kit', 'group_crm_%s' % role))
            for role in ['admin', 'manager', 'rep']]

    @classmethod
    def get_crm_role(cls, users, name):
        roles = cls._crm_role_groups()
        result = {}
        for user in users:
            groups = {g.id for g in user.groups}
            result[user.id] = next(
                (role for role, group in roles if group in groups), None)
        return result

    @classmethod
    def set_crm_role(cls, users, name, value):
        "Give the role's group instead of the other CRM groups"
        roles = cls._crm_role_groups()
        crm_groups = [group for _, group in roles]
        actions = [('remove', crm_groups)]
        if value:
            actions.append(('add', [dict(roles)[value]]))
        cls.write(list(users), {'groups': actions})

    @classmethod
    def get_login(cls, login, parameters):
        "A login, and a failed one, go to the access log"
        pool = Pool()
        AccessLog = pool.get('crm.access.log')
        try:
            user_id = super().get_login(login, parameters)
        except RateLimitException:
            AccessLog.record('login_failed', login=login)
            raise
        except LoginException as exception:
            # A password (or another factor) is asked: not tried yet.
            if exception.name in parameters:
                AccessLog.record('login_failed', login=login)
            raise
        AccessLog.record(
            'login' if user_id else 'login_failed', login=login,
            user=user_id)
        return user_id

    @classmethod
    def check_password(cls, password, hash_):
        with _hashing_slot():
            return super().check_password(password, hash_)

    @classmethod
    def hash_password(cls, password):
        with _hashing_slot():
            return super().hash_password(password)


def _network():
    "The network of the address the request came from, as stored"
    _, ip_network = Transaction().remote_address()
    return str(ip_network) if ip_network else None


class LoginAttempt(metaclass=PoolMeta):
    __name__ = 'res.user.login.attempt'

    @staticmethod
    def delay_ip_network():
        "Since when the failures of a network count"
        return dt.datetime.now() - dt.timedelta(seconds=max(
                config.getint('session', 'ip_network_timeout', default=3600),
                config.getint('session', 'timeout')))

    @classmethod
    def add(cls, login, device_cookie=None):
        # Kept for the longer window of the network, not Tryton's timeout.
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.delete(
                where=table.create_date < cls.delay_ip_network()))
        ip_address, ip_network = transaction.remote_address()
        cls.create([{
                    'login': login[:cls.login.size],
                    'device_cookie': device_cookie,
                    'ip_address': str(ip_address) if ip_address else None,
                    'ip_network': str(ip_network) if ip_network else None,
                    }])

    @classmethod
    def _of_login(cls, table, login, device_cookie):
        return ((table.login == login[:cls.login.size])
            & (table.device_cookie == device_cookie)
            & (table.ip_network == _network()))

    @classmethod
    def remove(cls, login, device_cookie=None):
        # A success clears its own network's failures, not an attacker's.
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.delete(
                where=cls._of_login(table, login, device_cookie)))

    @classmethod
    def count(cls, login, device_cookie=None):
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.select(Count(),
                where=cls._of_login(table, login, device_cookie)
                & (table.create_date >= cls.delay())))
        return cursor.fetchone()[0]

    @classmethod
    def count_ip(cls):
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.select(Count(),
                where=(table.ip_network == _network())
                & (table.create_date >= cls.delay_ip_network())))
        return cursor.fetchone()[0]
