# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Alert rules: each shipped rule starts and ends its alerts, the users told
get a pop-up and a notification, the lists read the alerts in SQL, each
user acknowledges or snoozes them for themselves, and bad rules are
refused or skipped."""
import datetime as dt
import json
from decimal import Decimal
from unittest.mock import patch

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from crm_kit_activity.tests.tools import create_activity

from crm_kit.tests.tools import api_key, run_queued
from crm_kit_alert.alert import NUMBERED_MESSAGES

from .tools import (
    AlertTestCase, CrmRouteTestCase, create_opportunity, load_spanish,
    setup_crm)


def rule(xml_id):
    "A shipped alert rule"
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    ModelData = pool.get('ir.model.data')
    return Rule(ModelData.get_id('crm_kit_alert', xml_id))


def only_rules(*xml_ids):
    "Switch off the shipped rules but these"
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    keep = [rule(x) for x in xml_ids]
    Rule.write([r for r in Rule.search([]) if r not in keep],
        {'active': False})


def set_columns(Model, ids, **values):
    "Set stored values as time would have: in SQL, past the ORM"
    table = Model.__table__()
    cursor = Transaction().connection.cursor()
    columns = [getattr(table, n) for n in values]
    cursor.execute(*table.update(columns, list(values.values()),
            where=table.id.in_(list(ids))))


def alerts(record, state='active'):
    pool = Pool()
    Alert = pool.get('crm.alert')
    return Alert.search([
            ('record_model', '=', record.__name__),
            ('record_id', '=', record.id),
            ('state', '=', state),
            ], order=[('id', 'ASC')])


def notifications(user):
    "What user was told, once the queue worker ran"
    pool = Pool()
    Notification = pool.get('res.notification')
    run_queued()
    return Notification.search(
        [('user', '=', user.id)], order=[('id', 'ASC')])


def row(record, user):
    "The alert columns of record's list row as user reads them"
    with Transaction().set_user(user.id):
        values, = record.__class__.read([record.id], [
                'crm_alert_icon', 'crm_alert_severity', 'crm_alert_count',
                'crm_alert_summary'])
    return (values['crm_alert_icon'], values['crm_alert_severity'],
        values['crm_alert_count'], values['crm_alert_summary'])


class AlertRuleTestCase(AlertTestCase):

    @with_transaction()
    def test_shipped_rules(self):
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        self.assertEqual(
            [(r.name, r.model, r.kind, r.severity, bool(r.active))
                for r in Rule.search([], order=[('sequence', 'ASC')])], [
                ("Overdue activity", 'sale.opportunity', 'overdue_activity',
                    'danger', True),
                ("No contact for 30 days", 'party.party', 'no_activity',
                    'warning', True),
                ("Stuck in a stage for 21 days", 'sale.opportunity',
                    'stage_age', 'warning', True),
                ("Quote expiring in 3 days", 'sale.sale', 'date',
                    'warning', True),
                ("High-value lead unassigned for 1 hour", 'sale.opportunity',
                    'unassigned', 'danger', True),
                ])

    @with_transaction()
    def test_update_rewords_numbered_messages(self):
        "Shipped messages that showed a number are reworded, edited kept"
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        Translation = pool.get('ir.translation')
        load_spanish('crm_kit_alert')
        table = Rule.__table__()
        translation = Translation.__table__()
        cursor = Transaction().connection.cursor()
        # As a database of the previous release has them
        for xml_id, (old, old_es) in NUMBERED_MESSAGES.items():
            id_ = rule(xml_id).id
            cursor.execute(*table.update([table.message], [old],
                    where=table.id == id_))
            for lang, value in [('en', old), ('es', old_es)]:
                cursor.execute(*translation.update(
                        [translation.src, translation.value], [old, value],
                        where=(translation.name == 'crm.alert.rule,message')
                        & (translation.res_id == id_)
                        & (translation.lang == lang)))
        # Edited by the administrator
        edited = rule('rule_stuck_in_stage').id
        cursor.execute(*table.update([table.message], ["Parada: {rec_name}"],
                where=table.id == edited))
        cursor.execute(*translation.update(
                [translation.src, translation.value],
                ["Parada: {rec_name}", "Parada: {rec_name}"],
                where=(translation.name == 'crm.alert.rule,message')
                & (translation.res_id == edited)
                & (translation.lang == 'en')))

        Rule.reword_shipped_messages('crm_kit_alert')
        Rule.reword_shipped_messages('crm_kit_alert')  # the next update
        Translation._translation_cache.clear()

        overdue = rule('rule_overdue_activity').id
        self.assertEqual(Rule(overdue).message,
            "Overdue activity with {crm_title}")
        with Transaction().set_context(language='es'):
            self.assertEqual(Rule(overdue).message,
                "Actividad vencida con {crm_title}")
            self.assertEqual(
                Rule(rule('rule_quote_expiring').id).message,
                "El presupuesto para {party.rec_name} caduca el "
                "{quote_valid_until}")
        self.assertEqual(Rule(edited).message, "Parada: {rec_name}")
        self.assertEqual(Rule(rule('rule_customer_no_contact').id).message,
            "No contact with {rec_name} since {crm_last_activity}")

    @with_transaction()
    def test_overdue_activity(self):
        "Starts when an activity is late, ends when it is done"
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        only_rules('rule_overdue_activity')
        opportunity = create_opportunity(crm)
        activity = create_activity(crm, opportunity=opportunity.id,
            due=dt.datetime.now() - dt.timedelta(hours=2))

        alert, = alerts(opportunity)
        self.assertEqual(alert.rule, rule('rule_overdue_activity'))
        self.assertEqual(alert.party, crm.customer)
        self.assertEqual(list(alert.recipients), [crm.rep])
        self.assertEqual(alert.message,
            "Overdue activity with Talleres Gómez S.L. (CRM para el taller)")
        self.assertEqual(row(opportunity, crm.rep),
            ('tryton-date', 'danger', 1, alert.message))
        # A colleague's activity on time does not start another one.
        create_activity(crm, opportunity=opportunity.id)
        self.assertEqual(len(alerts(opportunity)), 1)
        # It is part of the customer's history.
        History = pool.get('crm.customer.history')
        with Transaction().set_context(company=crm.company.id):
            event, = History.search([
                    ('party', '=', crm.customer.id), ('kind', '=', 'alert')])
            self.assertEqual(
                (event.alert, event.opportunity), (alert, opportunity))

        activity.outcome = "Hablado: quiere la demo el lunes"
        activity.save()
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            Activity.done([Activity(activity.id)])
        self.assertEqual(alerts(opportunity), [])
        ended, = alerts(opportunity, 'ended')
        self.assertTrue(ended.end)
        self.assertEqual(row(opportunity, crm.rep), (None, None, None, ''))

    @with_transaction()
    def test_no_contact_for_30_days(self):
        pool = Pool()
        Party = pool.get('party.party')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_customer_no_contact')
        prospect = Party(name="Solo interesado S.L.")
        prospect.save()
        quiet = dt.datetime.now() - dt.timedelta(days=31)
        Party.write([crm.customer], {'crm_lifecycle': 'customer'})
        set_columns(Party, [crm.customer.id, prospect.id],
            crm_last_activity=quiet)

        Rule.check_alerts()
        alert, = alerts(crm.customer)
        self.assertEqual(alerts(prospect), [])  # not a customer yet
        self.assertIn("No contact with %s since" % crm.customer.name,
            alert.message)
        # Nobody sold them anything: told to who created them.
        self.assertEqual(list(alert.recipients), [crm.admin])

        # A call planned ends it.
        create_activity(crm)
        self.assertEqual(alerts(crm.customer), [])

    @with_transaction()
    def test_stuck_in_stage(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        stuck = create_opportunity(crm)
        moving = create_opportunity(crm, owner=crm.rep2)
        set_columns(Opportunity, [stuck.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=22))
        set_columns(Opportunity, [moving.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=20))

        Rule.check_alerts()
        alert, = alerts(stuck)
        self.assertEqual(alerts(moving), [])
        # Told to the owner and to the team's manager.
        self.assertEqual(sorted(u.id for u in alert.recipients),
            sorted([crm.rep.id, crm.manager.id]))
        self.assertEqual(len(notifications(crm.manager)), 1)
        # The next pass finds it started: nobody is told twice.
        Rule.check_alerts()
        self.assertEqual(len(alerts(stuck)), 1)
        self.assertEqual(len(notifications(crm.manager)), 1)

        # Won: no longer stuck.
        Opportunity.write([stuck], {'state': 'won'})
        self.assertEqual(alerts(stuck), [])

    @with_transaction()
    def test_messages_name_the_records(self):
        "A placeholder of a record shows its name; a deal, its customer"
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules()
        Rule.create([{
                'name': "Grande",
                'model': 'sale.opportunity',
                'condition': '[["amount", ">=", 5000]]',
                'message': "{party} / {owner} / {stage} / {crm_title}",
                }])
        deal = create_opportunity(crm, amount=Decimal('9000'))
        lead = create_opportunity(crm, party=None, amount=Decimal('9000'),
            description="Tienda online para la quesería")
        bare = create_opportunity(crm, party=None, amount=Decimal('9000'),
            description=None)

        alert, = alerts(deal)
        self.assertEqual(alert.message,
            "Talleres Gómez S.L. / %s / %s / "
            "Talleres Gómez S.L. (CRM para el taller)"
            % (crm.rep.name, deal.stage.name))
        # A lead without a customer yet: what it is about.
        alert, = alerts(lead)
        self.assertEqual(alert.message.split(' / ')[-1],
            "Tienda online para la quesería")
        # Nothing else to call it by: its number.
        alert, = alerts(bare)
        self.assertEqual(alert.message.split(' / ')[-1], bare.number)

    @with_transaction()
    def test_quote_expiring(self):
        pool = Pool()
        Sale = pool.get('sale.sale')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_quote_expiring')
        with Transaction().set_context(company=crm.company.id):
            quotes = Sale.create([
                    {'party': crm.customer.id, 'owner': crm.rep.id},
                    {'party': crm.customer.id, 'owner': crm.rep.id},
                    ])
        today = dt.date.today()
        set_columns(Sale, [q.id for q in quotes], state='quotation')
        set_columns(Sale, [quotes[0].id],
            quote_valid_until=today + dt.timedelta(days=2))
        set_columns(Sale, [quotes[1].id],
            quote_valid_until=today + dt.timedelta(days=10))

        Rule.check_alerts()
        alert, = alerts(quotes[0])
        self.assertEqual(alerts(quotes[1]), [])
        self.assertEqual(list(alert.recipients), [crm.rep])
        self.assertEqual(alert.message,
            "The quote for %s expires on %s" % (crm.customer.rec_name,
                (today + dt.timedelta(days=2)).strftime('%m/%d/%Y')))
        self.assertEqual(row(Sale(quotes[0].id), crm.rep)[1], 'warning')

    @with_transaction()
    def test_high_value_lead_unassigned(self):
        "Told to the sales managers, not to an owner it does not have"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_high_value_unassigned')
        big = create_opportunity(crm, amount=Decimal('25000'))
        small = create_opportunity(crm, amount=Decimal('900'))
        recent = create_opportunity(crm, amount=Decimal('30000'))
        Opportunity.write([big, small, recent], {'owner': None})
        two_hours_ago = dt.datetime.now() - dt.timedelta(hours=2)
        set_columns(Opportunity, [big.id, small.id],
            create_date=two_hours_ago)

        Rule.check_alerts()
        alert, = alerts(big)
        self.assertEqual(alerts(small) + alerts(recent), [])
        self.assertEqual(list(alert.recipients), [crm.manager])
        notification, = notifications(crm.manager)
        self.assertEqual(notification.label,
            "High-value lead unassigned for 1 hour")
        self.assertEqual(json.loads(notification.records), [big.id])
        self.assertEqual(notification.model, 'sale.opportunity')

        # Assigned: the alert ends at once.
        Opportunity.write([Opportunity(big.id)], {'owner': crm.rep.id})
        self.assertEqual(alerts(big), [])

    @with_transaction()
    def test_popup_is_sent_on_the_bus(self):
        "The notification publishes the pop-up on the user's channel"
        crm = setup_crm()
        only_rules('rule_overdue_activity')
        opportunity = create_opportunity(crm)
        channel = 'notification:%s' % crm.rep.id
        with patch('trytond.res.notification.Bus.publish') as publish:
            create_activity(crm, opportunity=opportunity.id,
                due=dt.datetime.now() - dt.timedelta(days=1))
            # Not in the save that started the alert: the queue tells.
            self.assertEqual([c for c in publish.call_args_list
                    if c.args[0] == channel], [])
            run_queued()
        messages = [c.args for c in publish.call_args_list
            if c.args[0] == channel]
        self.assertEqual(len(messages), 1)
        _, message = messages[0]
        self.assertEqual(message['type'], 'user-notification')
        self.assertEqual(message['count'], 1)
        self.assertIn(
            "Overdue activity with %s" % opportunity.crm_title,
            message['content'][0])

    @with_transaction()
    def test_many_alerts_make_one_notification(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        opportunities = [create_opportunity(crm) for _ in range(5)]
        set_columns(Opportunity, [o.id for o in opportunities],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        Rule.write([rule('rule_stuck_in_stage')],
            {'notify_team_manager': False})

        Rule.check_alerts()
        notification, = notifications(crm.rep)
        self.assertEqual(notification.label, "Stuck in a stage for 21 days")
        # The same customer five times: named once.
        self.assertEqual(notification.description,
            "5 new alerts: %s" % crm.customer.name)
        # All of one kind of record: they open as such, with their icons.
        self.assertEqual(notification.model, 'sale.opportunity')
        self.assertEqual(sorted(json.loads(notification.records)),
            sorted(o.id for o in opportunities))

    @with_transaction()
    def test_one_notification_per_pass(self):
        "Many new alerts of several rules for one user: told once, by name"
        pool = Pool()
        Activity = pool.get('crm.activity')
        Alert = pool.get('crm.alert')
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_overdue_activity', 'rule_customer_no_contact',
            'rule_stuck_in_stage')
        Rule.write([rule('rule_stuck_in_stage')],
            {'notify_team_manager': False})
        names = ["Quesos Ribera", "Frutas Sol", "Vinos Duero", "Aceites Sur"]
        customers = Party.create([{'name': n} for n in names])
        opportunities = [create_opportunity(crm, party=c) for c in customers]
        set_columns(Opportunity, [o.id for o in opportunities],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        call = create_activity(crm, opportunity=opportunities[0].id,
            party=customers[0].id)
        set_columns(Activity, [call.id],
            due=dt.datetime.now() - dt.timedelta(hours=3))
        Party.write([customers[1]], {'crm_lifecycle': 'customer'})
        set_columns(Party, [customers[1].id],
            crm_last_activity=dt.datetime.now() - dt.timedelta(days=31))

        Rule.check_alerts()
        started = Alert.search([('state', '=', 'active')])
        self.assertEqual(len(started), 6)
        notification, = notifications(crm.rep)
        self.assertEqual(notification.label, "New alerts")
        self.assertEqual(notification.description,
            "6 new alerts: Quesos Ribera, Frutas Sol, Vinos Duero…")
        # The worst rule's icon; the alerts to open: of deals and
        # customers, so the alerts themselves.
        self.assertEqual(notification.icon, 'tryton-date')
        self.assertEqual(notification.model, 'crm.alert')
        self.assertEqual(sorted(json.loads(notification.records)),
            sorted(a.id for a in started))
        # The next pass starts nothing: nobody is told again.
        Rule.check_alerts()
        self.assertEqual(len(notifications(crm.rep)), 1)

    @with_transaction()
    def test_spanish_summary(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        Rule = pool.get('crm.alert.rule')
        User = pool.get('res.user')
        Lang = pool.get('ir.lang')
        load_spanish('crm_kit_alert')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage', 'rule_high_value_unassigned')
        Rule.write([rule('rule_high_value_unassigned')],
            {'notify_owner': True})
        spanish, = Lang.search([('code', '=', 'es')])
        User.write([crm.manager], {'language': spanish.id})
        customer = Party(name="Quesos Ribera")
        customer.save()
        stuck = create_opportunity(crm, party=customer)
        set_columns(Opportunity, [stuck.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        big = create_opportunity(crm, amount=Decimal('25000'))
        Opportunity.write([big], {'owner': None})
        set_columns(Opportunity, [big.id],
            create_date=dt.datetime.now() - dt.timedelta(hours=2))

        Rule.check_alerts()
        notification, = notifications(crm.manager)
        self.assertEqual(notification.label, "Alertas nuevas")
        self.assertEqual(notification.description,
            "2 alertas nuevas: Quesos Ribera, Talleres Gómez S.L.")
        # The rep, owner of one: told of it alone, in English.
        told, = notifications(crm.rep)
        self.assertEqual(told.label, "Stuck in a stage for 21 days")
        self.assertTrue(told.description.startswith(
                "Quesos Ribera (CRM para el taller) has been in the stage"),
            told.description)

    @with_transaction()
    def test_audience(self):
        "Owner, team manager and a group, each told once, active only"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        Group = pool.get('res.group')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        reps = Group(ModelData.get_id('crm_kit', 'group_crm_rep'))
        Rule.write([rule('rule_stuck_in_stage')], {
                'notify_owner': True,
                'notify_team_manager': True,
                'notify_group': reps.id,
                })
        User.write([crm.outsider], {'active': False})
        opportunity = create_opportunity(crm)
        set_columns(Opportunity, [opportunity.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))

        Rule.check_alerts()
        alert, = alerts(opportunity)
        self.assertEqual(sorted(u.login for u in alert.recipients),
            ['manager', 'rep', 'rep2'])

    @with_transaction()
    def test_spanish_notification(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        User = pool.get('res.user')
        Lang = pool.get('ir.lang')
        load_spanish('crm_kit_alert')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        spanish, = Lang.search([('code', '=', 'es')])
        User.write([crm.rep], {'language': spanish.id})
        opportunity = create_opportunity(crm)
        set_columns(Opportunity, [opportunity.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))

        Rule.check_alerts()
        notification, = notifications(crm.rep)
        self.assertEqual(notification.label,
            "Atascada en una etapa 21 días")
        self.assertTrue(notification.description.startswith(
                "Talleres Gómez S.L. (CRM para el taller) lleva en la etapa"),
            notification.description)
        manager, = notifications(crm.manager)
        self.assertEqual(manager.label, "Stuck in a stage for 21 days")


class DismissalTestCase(AlertTestCase):

    def overdue(self, crm):
        only_rules('rule_overdue_activity')
        opportunity = create_opportunity(crm)
        activity = create_activity(crm, opportunity=opportunity.id,
            due=dt.datetime.now() - dt.timedelta(hours=1))
        return opportunity, activity

    @with_transaction()
    def test_acknowledge(self):
        "Hidden for who acknowledged it, until it starts again"
        pool = Pool()
        Alert = pool.get('crm.alert')
        Rule = pool.get('crm.alert.rule')
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        Rule.write([rule('rule_overdue_activity')],
            {'notify_team_manager': True})
        opportunity, activity = self.overdue(crm)
        alert, = alerts(opportunity)

        with Transaction().set_user(crm.rep.id), check_access():
            Alert.acknowledge([Alert(alert.id)])
            self.assertEqual(
                Alert.search([('dismissed', '=', False)]), [])
            self.assertEqual(Alert(alert.id).snoozed_until, None)
        self.assertEqual(row(opportunity, crm.rep), (None, None, None, ''))
        # Only for the rep: the manager still sees it.
        self.assertEqual(row(opportunity, crm.manager)[:3],
            ('tryton-date', 'danger', 1))

        # Back on time, then late again: a new alert, shown again.
        Activity.write([activity],
            {'due': dt.datetime.now() + dt.timedelta(hours=1)})
        self.assertEqual(alerts(opportunity), [])
        Activity.write([activity],
            {'due': dt.datetime.now() - dt.timedelta(minutes=5)})
        self.assertEqual(row(opportunity, crm.rep)[:3],
            ('tryton-date', 'danger', 1))

    @with_transaction()
    def test_snooze(self):
        "Hidden until the snooze ends; the user is told it is back"
        pool = Pool()
        Alert = pool.get('crm.alert')
        Rule = pool.get('crm.alert.rule')
        Dismissal = pool.get('crm.alert.dismissal')
        Snooze = pool.get('crm.alert.snooze', type='wizard')
        crm = setup_crm()
        opportunity, _ = self.overdue(crm)
        alert, = alerts(opportunity)
        told = len(notifications(crm.rep))

        with Transaction().set_user(crm.rep.id), check_access():
            session_id, _, _ = Snooze.create()
            with Transaction().set_context(active_model='crm.alert',
                    active_id=alert.id, active_ids=[alert.id]):
                snooze = Snooze(session_id)
                self.assertEqual(snooze.start.default_until().hour, 8)
                snooze.start.until = dt.datetime.now() + dt.timedelta(days=1)
                snooze.transition_snooze()
            self.assertTrue(Alert(alert.id).snoozed_until)
        self.assertEqual(row(opportunity, crm.rep), (None, None, None, ''))

        # The snooze ends.
        dismissal, = Dismissal.search([])
        set_columns(Dismissal, [dismissal.id],
            until=dt.datetime.now() - dt.timedelta(minutes=1))
        Rule.check_alerts()
        self.assertEqual(row(opportunity, crm.rep)[:3],
            ('tryton-date', 'danger', 1))
        back = notifications(crm.rep)[told:]
        self.assertEqual([n.label for n in back], ["Overdue activity"])
        Rule.check_alerts()
        self.assertEqual(len(notifications(crm.rep)), told + 1)

    @with_transaction()
    def test_snooze_in_the_past_is_refused(self):
        pool = Pool()
        Alert = pool.get('crm.alert')
        Dismissal = pool.get('crm.alert.dismissal')
        crm = setup_crm()
        opportunity, _ = self.overdue(crm)
        alert, = alerts(opportunity)
        with Transaction().set_user(crm.rep.id), check_access():
            with self.assertRaisesRegex(Exception,
                    'Snooze the alert "Overdue activity" until a moment'):
                Dismissal.dismiss([Alert(alert.id)],
                    dt.datetime.now() - dt.timedelta(hours=1))

    @with_transaction()
    def test_restore_and_only_own_dismissals(self):
        pool = Pool()
        Alert = pool.get('crm.alert')
        Dismissal = pool.get('crm.alert.dismissal')
        crm = setup_crm()
        opportunity, _ = self.overdue(crm)
        alert, = alerts(opportunity)
        with Transaction().set_user(crm.rep.id), check_access():
            Alert.acknowledge([Alert(alert.id)])
        with Transaction().set_user(crm.manager.id), check_access():
            self.assertEqual(Dismissal.search([]), [])
        with Transaction().set_user(crm.rep.id), check_access():
            Alert.restore([Alert(alert.id)])
            self.assertEqual(Dismissal.search([]), [])
        self.assertEqual(row(opportunity, crm.rep)[2], 1)


class AlertAccessTestCase(AlertTestCase):

    @with_transaction()
    def test_record_rules(self):
        "A rep sees the alerts told to them, a manager their team's"
        pool = Pool()
        Alert = pool.get('crm.alert')
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        Rule.write([rule('rule_stuck_in_stage')],
            {'notify_team_manager': False})
        mine = create_opportunity(crm)
        theirs = create_opportunity(crm, owner=crm.rep2)
        other = create_opportunity(crm, owner=crm.outsider)
        set_columns(Opportunity, [mine.id, theirs.id, other.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        Rule.check_alerts()

        def visible(user):
            with Transaction().set_user(user.id), check_access():
                return sorted(a.record_id for a in Alert.search([]))
        self.assertEqual(visible(crm.rep), [mine.id])
        self.assertEqual(visible(crm.manager), sorted([mine.id, theirs.id]))
        self.assertEqual(visible(crm.admin),
            sorted([mine.id, theirs.id, other.id]))
        alert, = alerts(theirs)
        with Transaction().set_user(crm.rep.id), check_access():
            with self.assertRaises(AccessError):
                Alert.acknowledge([Alert(alert.id)])
            # Alerts are started by the rules, not by hand.
            with self.assertRaises(AccessError):
                Alert.create([{'rule': rule('rule_stuck_in_stage').id,
                            'record_model': 'sale.opportunity',
                            'record_id': mine.id,
                            'start': dt.datetime.now()}])
            with self.assertRaises(AccessError):
                Rule.write([rule('rule_stuck_in_stage')], {'days': 1})


class BadRuleTestCase(AlertTestCase):

    def make(self, **values):
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        values.setdefault('name', "Regla")
        values.setdefault('message', "{rec_name}")
        rule, = Rule.create([values])
        return rule

    @with_transaction()
    def test_refused_at_save(self):
        setup_crm()
        for values, error in [
                ({'condition': '[["amount", ">="'},
                    'The condition .* is not valid'),
                ({'condition': '[["no_such_field", "=", 1]]'},
                    'no_such_field'),
                ({'message': "Para {party.no_such_field}"},
                    r'uses \{party.no_such_field\}, which is no field'),
                ({'message': "Para {party"},
                    'The message of the alert rule "Regla" is not valid'),
                ({'model': 'sale.sale', 'kind': 'stage_age', 'days': 3},
                    'cannot use "In the Same Stage For Some Days" on Quotes'),
                ({'notify_owner': False},
                    'Choose who the alert rule "Regla" tells'),
                ]:
            with self.subTest(values=values):
                with self.assertRaisesRegex(Exception, error):
                    with Transaction().new_transaction() as transaction:
                        try:
                            self.make(**values)
                        finally:
                            transaction.rollback()

    @with_transaction()
    def test_failing_rule_is_logged_and_skipped(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        broken = self.make(kind='stage_age', days=1)
        opportunity = create_opportunity(crm)
        set_columns(Opportunity, [opportunity.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        get_domain = Rule.get_domain

        def failing(self, now):
            if self.id == broken.id:
                raise RuntimeError("the database refused it")
            return get_domain(self, now)
        with patch.object(Rule, 'get_domain', failing):
            Rule.check_alerts()
        self.assertIn("the database refused it", Rule(broken.id).last_error)
        self.assertEqual([a.rule for a in alerts(opportunity)],
            [rule('rule_stuck_in_stage')])
        self.assertEqual(rule('rule_stuck_in_stage').last_error, None)
        # The users' saves go on as well.
        with patch.object(Rule, 'get_domain', failing):
            Opportunity.write([opportunity], {'description': "Sigue"})

    @with_transaction()
    def test_editing_a_rule_restarts_its_alerts(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        opportunity = create_opportunity(crm)
        set_columns(Opportunity, [opportunity.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=25))
        Rule.check_alerts()
        self.assertEqual(len(alerts(opportunity)), 1)
        Rule.write([rule('rule_stuck_in_stage')], {'days': 30})
        Rule.check([rule('rule_stuck_in_stage')])
        self.assertEqual(alerts(opportunity), [])


class AlertRouteTestCase(CrmRouteTestCase):
    "Integrators read and acknowledge alerts through REST"
    module = 'crm_kit_alert'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        Opportunity = pool.get('sale.opportunity')
        Rule = pool.get('crm.alert.rule')
        crm = setup_crm()
        only_rules('rule_stuck_in_stage')
        mine = create_opportunity(crm)
        other = create_opportunity(crm, owner=crm.outsider)
        set_columns(Opportunity, [mine.id, other.id],
            stage_date=dt.datetime.now() - dt.timedelta(days=30))
        Rule.check_alerts()
        alert, = alerts(mine)
        cls.alert = alert.id
        cls.opportunity = mine.id
        cls.company = crm.company.id
        application = Application(
            user=crm.rep, application='rest', state='validated')
        application.save()
        cls.key = api_key(application)

    def request(self, method, path, **kwargs):
        return self.rest(method, path, self.key, self.company, **kwargs)

    def test_alerts_through_rest(self):
        response = self.request('get', 'crm.alert',
            query_string={'f': ['record_id', 'message', 'severity']})
        self.assertEqual(response.status_code, 200, response.text)
        rows = response.json
        self.assertEqual([r['record_id'] for r in rows], [self.opportunity])
        self.assertEqual(rows[0]['severity'], 'warning')

        path = f'sale.opportunity/{self.opportunity}'
        response = self.request('get', path,
            query_string={'f': ['crm_alert_count', 'crm_alert_severity']})
        self.assertEqual(response.json['crm_alert_count'], 1)
        self.assertEqual(response.json['crm_alert_severity'], 'warning')

        response = self.request('post', f'crm.alert/{self.alert}/acknowledge')
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request('get', path,
            query_string={'f': ['crm_alert_count']})
        self.assertEqual(response.json['crm_alert_count'], None)

        # A snooze is a dismissal of one's own, with its end.
        response = self.request('post', 'crm.alert.dismissal', json={
                'alert': self.alert, 'until': {
                    '__class__': 'datetime', 'year': 2000, 'month': 1,
                    'day': 1, 'hour': 8, 'minute': 0, 'second': 0,
                    'microsecond': 0}})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("until a moment to come", response.text)

