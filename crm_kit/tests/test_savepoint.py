# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A failing block undoes what it wrote and queued, and only that, on the
backend the suite runs on (SQLite and PostgreSQL in CI): the rest of the
transaction goes on and commits (crm_kit.savepoint)."""
from email.message import EmailMessage

from trytond.pool import Pool
from trytond.sendmail import send_message_transactional
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from crm_kit.savepoint import mail_managers, savepoint

from .tools import CrmTestCase


def _mail(subject):
    msg = EmailMessage()
    msg['From'] = 'crm@example.com'
    msg['To'] = 'ana@example.com'
    msg['Subject'] = subject
    msg.set_content(subject)
    send_message_transactional(msg, strict=False)


def _queued(transaction):
    return [msg['Subject'] for manager in mail_managers(transaction)
        for _, _, msg in manager.queue]


class SavepointTestCase(CrmTestCase):

    def test_failed_block_is_undone_alone(self):
        with Transaction().start(DB_NAME, 0) as transaction:
            Channel = Pool().get('crm.channel')
            Channel.create([{'name': "Before", 'code': 'sp_before'}])
            _mail("before")
            with self.assertRaises(ZeroDivisionError):
                with savepoint():
                    Channel.create([{'name': "Failed", 'code': 'sp_failed'}])
                    _mail("failed")
                    1 / 0
            with savepoint():
                Channel.create([{'name': "After", 'code': 'sp_after'}])
                _mail("after")
            self.assertEqual(_queued(transaction), ["before", "after"])
            transaction.commit()
        with Transaction().start(DB_NAME, 0) as transaction:
            Channel = Pool().get('crm.channel')
            self.assertEqual(
                sorted(c.code for c in Channel.search(
                        [('code', 'like', 'sp_%')])),
                ['sp_after', 'sp_before'])

    def test_nested_blocks(self):
        "An inner failure leaves the outer block's work"
        with Transaction().start(DB_NAME, 0) as transaction:
            Channel = Pool().get('crm.channel')
            with savepoint():
                Channel.create([{'name': "Outer", 'code': 'nest_outer'}])
                with self.assertRaises(ValueError):
                    with savepoint():
                        Channel.create(
                            [{'name': "Inner", 'code': 'nest_inner'}])
                        raise ValueError
            self.assertEqual(
                [c.code for c in Channel.search(
                        [('code', 'like', 'nest_%')])],
                ['nest_outer'])
            transaction.rollback()

    def test_database_error_leaves_the_transaction_usable(self):
        """A statement the database refuses (PostgreSQL aborts the whole
        transaction on one) is undone and the transaction goes on"""
        with Transaction().start(DB_NAME, 0) as transaction:
            Channel = Pool().get('crm.channel')
            cursor = transaction.connection.cursor()
            with self.assertRaises(Exception):
                with savepoint():
                    cursor.execute('SELECT * FROM no_such_table')
            Channel.create([{'name': "Still", 'code': 'db_still'}])
            self.assertEqual(
                len(Channel.search([('code', '=', 'db_still')])), 1)
            transaction.rollback()
