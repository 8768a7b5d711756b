# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Owners are told before an activity is due and when it is overdue, once."
import datetime as dt
import json
from unittest.mock import patch

import trytond.config as config
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    ActivityTestCase, create_activity, load_spanish, run_queued, setup_crm)

NOW = dt.datetime(2026, 12, 1, 9, 0)


def notifications(user):
    Notification = Pool().get('res.notification')
    return Notification.search(
        [('user', '=', user.id)], order=[('id', 'ASC')])


def email_reminders_to(user):
    "Switch reminder e-mails on and give user an address"
    pool = Pool()
    Configuration = pool.get('crm.activity.configuration')
    User = pool.get('res.user')
    Configuration.write([Configuration(1)], {'reminder_email': True})
    User.write([user], {'email': 'rep@crm.test'})


class ReminderTestCase(ActivityTestCase):

    @with_transaction()
    def test_soon_and_overdue_once_each(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        soon = create_activity(crm, subject="Llamar a Gómez",
            due=NOW + dt.timedelta(minutes=20))
        later = create_activity(crm, due=NOW + dt.timedelta(hours=3))
        late = create_activity(crm, subject="Enviar la oferta",
            due=NOW - dt.timedelta(minutes=5), kind='activity_type_email')
        done = create_activity(crm, due=NOW - dt.timedelta(hours=1),
            outcome="Hecho")
        Activity.done([done])

        Activity.send_reminders(NOW)
        sent = notifications(crm.rep)
        self.assertEqual([(n.label, n.model, json.loads(n.records))
                for n in sent], [
                ('Soon: Call "Llamar a Gómez"', 'crm.activity', [soon.id]),
                ('Overdue: E-mail "Enviar la oferta"', 'crm.activity',
                    [late.id]),
                ])
        self.assertTrue(sent[0].description.startswith("Due 12/01/2026"))
        self.assertIn(crm.customer.rec_name, sent[0].description)
        self.assertEqual(sent[0].icon, 'crm-kit-call')

        # Once: a second pass finds nothing new.
        Activity.send_reminders(NOW + dt.timedelta(minutes=5))
        self.assertEqual(len(notifications(crm.rep)), 2)

        # Moved, it is reminded again; the later one when its time comes;
        # the one reminded before it became overdue is told it is late.
        Activity.write([Activity(soon.id)],
            {'due': NOW + dt.timedelta(minutes=25)})
        Activity.send_reminders(NOW + dt.timedelta(minutes=6))
        self.assertEqual(
            [json.loads(n.records) for n in notifications(crm.rep)[2:]],
            [[soon.id]])
        Activity.send_reminders(NOW + dt.timedelta(hours=2, minutes=45))
        self.assertEqual(
            [(n.label.split(':')[0], json.loads(n.records))
                for n in notifications(crm.rep)[3:]],
            [('Soon', [later.id]), ('Overdue', [soon.id])])

    @with_transaction()
    def test_configuration(self):
        "No reminder before when empty; overdue notices can be off"
        pool = Pool()
        Activity = pool.get('crm.activity')
        Configuration = pool.get('crm.activity.configuration')
        crm = setup_crm()
        Configuration.write([Configuration(1)], {
                'reminder_before': None,
                'remind_overdue': False,
                })
        create_activity(crm, due=NOW + dt.timedelta(minutes=1))
        create_activity(crm, due=NOW - dt.timedelta(minutes=1))
        Activity.send_reminders(NOW)
        self.assertEqual(notifications(crm.rep), [])

        Configuration.write([Configuration(1)], {
                'reminder_before': dt.timedelta(hours=2)})
        create_activity(crm, due=NOW + dt.timedelta(minutes=90))
        Activity.send_reminders(NOW)
        self.assertEqual(len(notifications(crm.rep)), 2)

    @with_transaction()
    def test_in_the_owners_language(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        Lang = pool.get('ir.lang')
        User = pool.get('res.user')
        crm = setup_crm()
        load_spanish('crm_kit_activity')
        spanish, = Lang.search([('code', '=', 'es')])
        User.write([crm.rep2], {'language': spanish.id})
        create_activity(crm, owner=crm.rep2, subject="Visitar la obra",
            due=NOW - dt.timedelta(minutes=1), kind='activity_type_visit')
        create_activity(crm, owner=crm.rep, subject="Call back",
            due=NOW - dt.timedelta(minutes=1))
        Activity.send_reminders(NOW)
        notice, = notifications(crm.rep2)
        self.assertEqual(notice.label, 'Vencida: Visita «Visitar la obra»')
        self.assertTrue(notice.description.startswith("Vence el 01/12/2026"))
        notice, = notifications(crm.rep)
        self.assertEqual(notice.label, 'Overdue: Call "Call back"')

    @with_transaction()
    def test_by_email_when_configured(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        email_reminders_to(crm.rep)
        create_activity(crm, due=NOW - dt.timedelta(minutes=1))
        create_activity(crm, owner=crm.rep2, due=NOW - dt.timedelta(minutes=1))
        with patch('crm_kit.mail.send_message_transactional') as send:
            Activity.send_reminders(NOW)
            run_queued()
        message, = [c.args[0] for c in send.call_args_list]
        self.assertEqual(message['To'], 'rep@crm.test')
        self.assertTrue(message['Subject'].startswith('Overdue: Call'))
        # Without an address, the notification alone.
        self.assertEqual(len(notifications(crm.rep2)), 1)

    @with_transaction()
    def test_mail_server_down_keeps_the_pass(self):
        "An unreachable mail server is logged at commit, nothing rolls back"
        pool = Pool()
        Activity = pool.get('crm.activity')
        Email = pool.get('ir.email')
        transaction = Transaction()
        crm = setup_crm()
        email_reminders_to(crm.rep)
        first = create_activity(crm, due=NOW - dt.timedelta(minutes=2))
        second = create_activity(crm, due=NOW - dt.timedelta(minutes=1))
        Activity.send_reminders(NOW)
        run_queued()

        # What the commit does with the queued e-mails, against a port
        # where nothing listens: logged, not raised.
        manager, = transaction._datamanagers
        uri = config.get('email', 'uri')
        config.set('email', 'uri', 'smtp://127.0.0.1:9')
        self.addCleanup(config.set, 'email', 'uri', uri)
        with self.assertLogs('trytond.sendmail', level='ERROR') as logs:
            manager.tpc_begin(transaction)
            manager.commit(transaction)
            manager.tpc_vote(transaction)
            manager.tpc_finish(transaction)
        self.assertIn('fail to connect', '\n'.join(logs.output))
        self.assertEqual(
            [json.loads(n.records) for n in notifications(crm.rep)],
            [[first.id], [second.id]])
        self.assertTrue(all(a.overdue_sent for a in Activity.browse(
                        [first.id, second.id])))
        # Each e-mail is in the activity's history.
        self.assertEqual(
            sorted(e.resource.id for e in Email.search(
                    [('resource', 'like', 'crm.activity,%')])),
            [first.id, second.id])

    @with_transaction()
    def test_cron_is_scheduled(self):
        pool = Pool()
        Cron = pool.get('ir.cron')
        cron, = Cron.search([('method', '=', 'crm.activity|send_reminders')])
        self.assertEqual((cron.interval_number, cron.interval_type),
            (1, 'minutes'))
        with Transaction().set_context(company=None):
            Cron.run_once([cron])
