# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Brute force on the login is stopped where it comes from: a stranger's
wrong passwords do not lock a user out from their own address
(crm_kit.user)."""
import datetime as dt
from unittest.mock import patch

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import CrmRouteTestCase, set_config, setup_crm

ATTACKER = '203.0.113.66'
OFFICE = '198.51.100.4'


class LoginTestCase(CrmRouteTestCase):
    module = 'crm_kit'

    @classmethod
    def setUpDatabase(cls):
        crm = setup_crm()
        Pool().get('res.user').write(
            [crm.admin, crm.rep], {'password': cls.password})

    def setUp(self):
        super().setUp()
        # The login waits up to 2^failures seconds; not in a test.
        self.enterContext(patch('trytond.res.user.time.sleep'))
        self.addCleanup(self.forget_attempts)

    def forget_attempts(self):
        with Transaction().start(DB_NAME, 0) as transaction:
            Attempt = Pool().get('res.user.login.attempt')
            Attempt.delete(Attempt.search([]))
            transaction.commit()

    def login(self, login, password, address):
        "The HTTP status of a JSON-RPC login from address"
        response = self.client().post(f'/{DB_NAME}/rpc/', json={
                'id': 1, 'method': 'common.db.login',
                'params': [login, {'password': password}, 'en']},
            environ_base={'REMOTE_ADDR': address})
        if response.status_code == 200 and response.json.get('error'):
            return 401
        return response.status_code

    def age_attempts(self, minutes):
        with Transaction().start(DB_NAME, 0) as transaction:
            Attempt = Pool().get('res.user.login.attempt')
            table = Attempt.__table__()
            transaction.connection.cursor().execute(*table.update(
                    [table.create_date],
                    [dt.datetime.now() - dt.timedelta(minutes=minutes)]))
            transaction.commit()

    def test_a_stranger_does_not_lock_the_administrator_out(self):
        statuses = [self.login('admin', 'guess-%s' % i, ATTACKER)
            for i in range(8)]
        self.assertEqual(statuses[:6], [401] * 6)
        self.assertEqual(statuses[-1], 429)
        # From the attacker's address even the right password is refused.
        self.assertEqual(self.login('admin', self.password, ATTACKER), 429)
        # From the office the administrator logs in.
        self.assertEqual(self.login('admin', self.password, OFFICE), 200)
        # And that success does not clear the attacker's failures.
        self.assertEqual(self.login('admin', self.password, ATTACKER), 429)

    def test_passwords_are_hashed_one_at_a_time(self):
        "8 logins at once hash one after the other (memory stays bounded)"
        import threading
        import time
        running, peak = [], []
        lock = threading.Lock()

        def verify(password, hash_):
            with lock:
                running.append(1)
                peak.append(len(running))
            time.sleep(0.05)
            with lock:
                running.pop()
            return False, None
        with Transaction().start(DB_NAME, 0):
            User = Pool().get('res.user')
            with patch('trytond.res.user.PASSWORD_HASH.verify_and_update',
                    verify):
                threads = [threading.Thread(target=User.check_password,
                        args=('secret', 'hash')) for _ in range(8)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        self.assertEqual(len(peak), 8)
        self.assertEqual(max(peak), 1)

    def test_an_address_that_fails_too_often_is_refused_longer(self):
        with set_config('session', 'max_attempt_ip_network', '8'):
            for i in range(6):
                self.assertEqual(
                    self.login('admin', 'guess-%s' % i, ATTACKER), 401)
            # Past the login's window (5 minutes) the login is free again,
            self.age_attempts(minutes=10)
            self.assertEqual(self.login('admin', self.password, OFFICE), 200)
            # but within the address's window (an hour) its failures on
            # any login still count.
            for i in range(3):
                self.login('rep', 'guess-%s' % i, ATTACKER)
            self.assertEqual(self.login('rep', self.password, ATTACKER), 429)
            self.assertEqual(self.login('rep', self.password, OFFICE), 200)
            self.age_attempts(minutes=61)
            self.assertEqual(self.login('rep', self.password, ATTACKER), 200)
