# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Automation rules: each trigger, each action, the shipped rules, once per
occurrence, and what a bad rule gets: an error at save, a log line at run
time, never a failed change or a crashed scheduler pass."""
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

from trytond.model.exceptions import ValidationError
from trytond.modules import sale_opportunity
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from crm_kit_activity.rule import add_days, due_after, fill_texts

from .tools import (
    ActivityTestCase, activity_type, create_activity, create_opportunity,
    load_spanish, run_queued, setup_crm, stage)


def shipped_rule(xml_id):
    "A shipped rule, switched on"
    pool = Pool()
    Rule = pool.get('crm.automation.rule')
    ModelData = pool.get('ir.model.data')
    rule = Rule(ModelData.get_id('crm_kit_activity', xml_id))
    Rule.write([rule], {'active': True})
    return Rule(rule.id)


def make_rule(actions, **values):
    pool = Pool()
    Rule = pool.get('crm.automation.rule')
    values.setdefault('name', "Regla de prueba")
    values.setdefault('model', 'sale.opportunity')
    values.setdefault('trigger', 'created')
    rule, = Rule.create([dict(values, actions=[('create', actions)])])
    return rule


def model_field(model, name):
    pool = Pool()
    Field = pool.get('ir.model.field')
    field, = Field.search([('model', '=', model), ('name', '=', name)])
    return field


def activities_of(opportunity):
    Activity = Pool().get('crm.activity')
    return Activity.search(
        [('opportunity', '=', opportunity.id)], order=[('id', 'ASC')])


def logs_of(rule):
    Log = Pool().get('crm.automation.log')
    return Log.search([('rule', '=', rule.id)], order=[('id', 'ASC')])


def notifications(user):
    Notification = Pool().get('res.notification')
    return Notification.search(
        [('user', '=', user.id)], order=[('id', 'ASC')])


def idle_since(moment, *opportunities):
    "Make as if the last activity of opportunities was at moment"
    Opportunity = Pool().get('sale.opportunity')
    table = Opportunity.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update([table.last_activity], [moment],
            where=table.id.in_([o.id for o in opportunities])))
    Transaction().cache.clear()


def call_action(**values):
    values.setdefault('action', 'activity')
    values.setdefault('activity_type', activity_type('activity_type_call').id)
    values.setdefault('subject', "Llamar a {party.name}")
    values.setdefault('due_days', 2)
    values.setdefault('assignee', 'owner')
    return values


class AutomationTestCase(ActivityTestCase):

    # Event triggers

    @with_transaction()
    def test_new_lead_call_within_one_working_day(self):
        "Shipped: a new lead gets a call for its owner, next working day"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        self.assertEqual(activities_of(opportunity), [])  # switched off

        rule = shipped_rule('rule_new_lead_call')
        before = dt.datetime.now().replace(second=0, microsecond=0)
        lead = create_opportunity(crm, owner=crm.rep2)
        after = dt.datetime.now()
        call, = activities_of(lead)
        self.assertEqual(call.owner, crm.rep2)
        self.assertEqual(call.type, activity_type('activity_type_call'))
        self.assertEqual(call.subject, "Call the new lead: %s" % lead.rec_name)
        self.assertEqual(call.party, crm.customer)
        self.assertEqual(call.state, 'planned')
        self.assertGreaterEqual(call.due, add_days(before, 1, True))
        self.assertLessEqual(call.due, add_days(after, 1, True))
        log, = logs_of(rule)
        self.assertEqual(log.state, 'done')
        self.assertEqual(log.record, Opportunity(lead.id))
        self.assertIn("Call the new lead", log.actions)
        self.assertIn(crm.rep2.rec_name, log.actions)

        # The condition: a record created as an opportunity is not a lead.
        later = create_opportunity(crm, state='opportunity',
            stage=stage('stage_analysis'))
        self.assertEqual(activities_of(later), [])

    def test_working_days(self):
        "Friday afternoon plus one working day is Monday, same time"
        friday = dt.datetime(2026, 12, 4, 16, 30)
        self.assertEqual(add_days(friday, 1, True),
            dt.datetime(2026, 12, 7, 16, 30))
        self.assertEqual(add_days(friday, 0, True), friday)
        self.assertEqual(add_days(friday, 6, True),
            dt.datetime(2026, 12, 14, 16, 30))
        saturday = dt.datetime(2026, 12, 5, 10, 0)
        self.assertEqual(add_days(saturday, 1, True),
            dt.datetime(2026, 12, 8, 10, 0))
        self.assertEqual(add_days(saturday, 2), dt.datetime(2026, 12, 7, 10))

    def test_due_today_at_the_end_of_the_day(self):
        """Due in 0 days: the end of the day in the company's time zone,
        not the minute the task is made (it would be overdue at once); in
        more days: the same time"""
        moment = dt.datetime(2026, 12, 4, 16, 30)  # UTC, a Friday
        self.assertEqual(due_after(moment, 0), dt.datetime(2026, 12, 4, 23, 59))
        # 17:30 in Madrid: its day ends at 22:59 UTC.
        self.assertEqual(due_after(moment, 0, zone='Europe/Madrid'),
            dt.datetime(2026, 12, 4, 22, 59))
        # Already Saturday in Tokyo: with working days, Monday's end.
        self.assertEqual(due_after(moment, 0, True, 'Asia/Tokyo'),
            dt.datetime(2026, 12, 7, 14, 59))
        self.assertEqual(due_after(moment, 2, zone='Europe/Madrid'),
            dt.datetime(2026, 12, 6, 16, 30))

    @with_transaction()
    def test_offer_submitted_follow_up(self):
        "Shipped: moving to 'Offer submitted' plans a follow-up in 3 days"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        rule = shipped_rule('rule_offer_follow_up')
        opportunity = create_opportunity(crm)
        Opportunity.write([opportunity], {'stage': stage('stage_analysis')})
        self.assertEqual(activities_of(opportunity), [])
        before = dt.datetime.now()
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
            Opportunity.write([opportunity], {'stage': stage('stage_offer')})
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_offer'))
        follow_up, = activities_of(opportunity)
        self.assertEqual(follow_up.owner, crm.rep)
        self.assertTrue(follow_up.subject.startswith("Follow up on the offer"))
        self.assertEqual(follow_up.notes,
            "Ask %s what they think of the offer." % crm.customer.rec_name)
        self.assertGreaterEqual(follow_up.due,
            (before + dt.timedelta(days=3)).replace(second=0, microsecond=0))
        # Writing the same stage again is no change: nothing more.
        Opportunity.write([opportunity], {'stage': stage('stage_offer')})
        self.assertEqual(len(activities_of(opportunity)), 1)
        self.assertEqual([log.state for log in logs_of(rule)], ['done'])

    @with_transaction()
    def test_field_changed_notifies(self):
        "A field changed: the new owner is told"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        make_rule([{
                    'action': 'notify',
                    'subject': "Now yours: {rec_name}",
                    'message': "Stage {stage.name}, {state}",
                    'assignee': 'owner',
                    }],
            trigger='field', field=model_field('sale.opportunity', 'owner'))
        opportunity = create_opportunity(crm)
        Opportunity.write([opportunity], {'owner': crm.rep.id})  # same
        self.assertEqual(notifications(crm.rep), [])
        Opportunity.write([opportunity], {'owner': crm.rep2.id})
        notice, = notifications(crm.rep2)
        self.assertEqual(notice.label, "Now yours: %s" % opportunity.rec_name)
        # A selection shows its label, a relation its name.
        self.assertEqual(notice.description, "Stage New lead, Lead")
        self.assertEqual(notice.model, 'sale.opportunity')
        self.assertEqual(json.loads(notice.records), [opportunity.id])

    @with_transaction()
    def test_condition_and_team_manager(self):
        "Only big leads, and to the team's manager"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        make_rule([call_action(assignee='team_manager',
                        subject="Revisar {rec_name} ({amount})")],
            condition='[["amount", ">=", 5000]]')
        small = create_opportunity(crm, amount=1000)
        big = create_opportunity(crm, amount=12000)
        self.assertEqual(activities_of(small), [])
        review, = activities_of(Opportunity(big.id))
        self.assertEqual(review.owner, crm.manager)
        self.assertEqual(review.subject,
            "Revisar %s (12,000.00)" % big.rec_name)

    @with_transaction()
    def test_customer_and_quote_rules(self):
        "Rules on customers and on quotes"
        pool = Pool()
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        make_rule([call_action(assignee='user', user=crm.rep2.id,
                        subject="Welcome {name}")],
            model='party.party')
        make_rule([call_action(subject="New quote for {party.name}")],
            model='sale.sale')
        with Transaction().set_context(company=crm.company.id):
            party, = Party.create([{'name': "Nuevo Cliente S.A."}])
        welcome, = Activity.search([('party', '=', party.id)])
        self.assertEqual((welcome.owner, welcome.subject),
            (crm.rep2, "Welcome Nuevo Cliente S.A."))

        opportunity = create_opportunity(crm)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
        sale, = Opportunity(opportunity.id).sales
        quote_call, = activities_of(opportunity)
        self.assertEqual(quote_call.subject,
            "New quote for %s" % crm.customer.name)
        self.assertEqual(quote_call.party, crm.customer)

    # Time triggers

    @with_transaction()
    def test_idle_opportunity_once_per_occurrence(self):
        "Shipped: no activity for 14 days gives the owner a task, once"
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        rule = shipped_rule('rule_idle_opportunity')
        now = dt.datetime.now()
        idle = create_opportunity(crm)
        planned = create_opportunity(crm)
        create_activity(crm, opportunity=planned.id, party=None,
            due=now + dt.timedelta(days=20))
        closed = create_opportunity(crm)
        Opportunity.write([closed], {'state': 'lost'})

        # Idle for 13 days: not yet; two days later, yes.
        idle_since(now - dt.timedelta(days=13), idle, planned, closed)
        Rule.run_scheduled(now=now)
        self.assertEqual(activities_of(idle), [])
        Rule.run_scheduled(now=now + dt.timedelta(days=2))
        task, = activities_of(idle)
        self.assertEqual(task.type, activity_type('activity_type_todo'))
        self.assertEqual(task.owner, crm.rep)
        self.assertEqual(task.subject,
            "No activity for 14 days: %s" % idle.rec_name)
        # A call planned ahead is activity; a lost deal is not watched.
        self.assertEqual(len(activities_of(planned)), 1)
        self.assertEqual(activities_of(closed), [])
        # The task is activity.
        self.assertGreater(Opportunity(idle.id).last_activity,
            now - dt.timedelta(days=1))

        # Once: the same idleness is not acted on again, even when the
        # window since the last pass is forgotten.
        idle_since(now - dt.timedelta(days=13), idle)
        Rule.write([rule], {'last_run': None})
        Rule.run_scheduled(now=now + dt.timedelta(days=2, minutes=1))
        self.assertEqual(len(activities_of(idle)), 1)
        self.assertEqual([log.state for log in logs_of(rule)], ['done'])

        # Done two days later, then idle for 14 days more: a new occurrence.
        Activity.write([task], {'outcome': "Sin respuesta"})
        Activity.done([task])
        idle_since(now + dt.timedelta(days=2), idle)
        Rule.run_scheduled(now=now + dt.timedelta(days=17))
        self.assertEqual(len(activities_of(idle)), 2)
        self.assertEqual(len({log.occurrence for log in logs_of(rule)}), 2)

    @with_transaction()
    def test_idle_customer(self):
        "No contact with a customer for 30 days: their rep is told"
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Party = pool.get('party.party')
        crm = setup_crm()
        rule = make_rule([{
                    'action': 'notify', 'assignee': 'owner',
                    'subject': "No contact with {name} for 30 days",
                    }],
            model='party.party', trigger='inactive', days=30)
        create_opportunity(crm)
        now = dt.datetime.now()
        table = Party.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.crm_last_activity], [now - dt.timedelta(days=31)]))
        Transaction().cache.clear()
        Rule.run_scheduled(now=now)
        notice, = notifications(crm.rep)
        self.assertEqual(notice.label,
            "No contact with %s for 30 days" % crm.customer.name)
        # The company's own party is no customer.
        self.assertEqual(
            [log.record for log in logs_of(rule)], [crm.customer])

    @with_transaction()
    def test_quote_expiring_notifies_owner(self):
        "Shipped: a quote that expires in 3 days is told to its owner once"
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        crm = setup_crm()
        rule = shipped_rule('rule_quote_expiring')
        opportunity = create_opportunity(crm)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            Opportunity.create_quote([opportunity])
        sale, = Opportunity(opportunity.id).sales
        today = dt.date.today()
        Sale.write([sale], {
                'quotation_date': today,
                'quotation_validity': dt.timedelta(days=10),
                })
        now = dt.datetime.combine(today, dt.time(8))
        Rule.run_scheduled(now=now + dt.timedelta(days=6))
        self.assertEqual(notifications(crm.rep), [])
        Rule.run_scheduled(now=now + dt.timedelta(days=7))
        Rule.run_scheduled(now=now + dt.timedelta(days=8))
        notice, = notifications(crm.rep)
        sale = Sale(sale.id)
        self.assertTrue(notice.label.startswith(
                "The quote %s expires on " % sale.rec_name))
        self.assertIn(crm.customer.rec_name, notice.description)
        self.assertEqual(json.loads(notice.records), [sale.id])
        self.assertEqual(logs_of(rule)[0].occurrence,
            (today + dt.timedelta(days=10)).isoformat())
        # A new validity is a new occurrence.
        Sale.write([sale], {'quotation_validity': dt.timedelta(days=12)})
        Rule.run_scheduled(now=now + dt.timedelta(days=9))
        self.assertEqual(len(notifications(crm.rep)), 2)

    @with_transaction()
    def test_expected_closing_date_reached(self):
        "A date on the day (0 days before), with the run button"
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        crm = setup_crm()
        today = dt.date.today()
        rule = make_rule([call_action(subject="Close {rec_name} today",
                        due_days=0)],
            trigger='date', days=0,
            field=model_field('sale.opportunity', 'expected_close_date'))
        due = create_opportunity(crm, expected_close_date=today)
        later = create_opportunity(crm,
            expected_close_date=today + dt.timedelta(days=1))
        past = create_opportunity(crm,
            expected_close_date=today - dt.timedelta(days=1))
        Rule.run([rule])
        call, = activities_of(due)
        # For today: not overdue once made
        self.assertGreater(call.due, dt.datetime.now())
        self.assertEqual(activities_of(later) + activities_of(past), [])
        self.assertIsNotNone(Rule(rule.id).last_run)

    # Actions

    @with_transaction()
    def test_email_and_stage_actions(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Template = pool.get('ir.email.template')
        Model = pool.get('ir.model')
        Email = pool.get('ir.email')
        crm = setup_crm()
        model, = Model.search([('name', '=', 'sale.opportunity')])
        template, = Template.create([{
                    'model': model.id,
                    'name': "Bienvenida",
                    'recipients': model_field('sale.opportunity', 'party').id,
                    'subject': "Gracias, ${record.party.name}",
                    'body': "<p>Le llamaremos pronto.</p>",
                    }])
        rule = make_rule([
                {'action': 'email', 'email_template': template.id},
                {'action': 'stage', 'stage': stage('stage_analysis').id},
                ])
        with patch('crm_kit.mail.send_message_transactional') as send:
            opportunity = create_opportunity(crm)
            # Sent by the queue worker, not in the change that made it.
            self.assertEqual(send.call_args_list, [])
            run_queued()
        message, = [c.args[0] for c in send.call_args_list]
        self.assertIn('<compras@gomez.test>', message['To'])
        self.assertEqual(message['Subject'], "Gracias, Talleres Gómez S.L.")
        email, = Email.search([('resource', '=', str(opportunity))])
        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_analysis'))
        self.assertEqual(opportunity.state, 'opportunity')
        log, = logs_of(rule)
        self.assertEqual(log.actions.splitlines(), [
                'E-mailed "Talleres Gómez S.L." <compras@gomez.test>',
                'Moved to the stage "Under analysis"'])

    # Bad input at save time

    @with_transaction()
    def test_bad_rules_refused_at_save(self):
        pool = Pool()
        User = pool.get('res.user')
        Template = pool.get('ir.email.template')
        Model = pool.get('ir.model')
        crm = setup_crm()
        cases = [
            ("not a field of Leads and Opportunities",
                dict(actions=[call_action(subject="Call {nonexistent}")])),
            ("not a field", dict(actions=[call_action(
                            subject="Call {party.no_such_thing}")])),
            ("invalid placeholder", dict(actions=[call_action(
                            subject="Call {party.name")])),
            ("write a list of conditions",
                dict(condition="amount > 5000", actions=[call_action()])),
            ('there is no field "amont"',
                dict(condition='[["amont", ">", 5000]]',
                    actions=[call_action()])),
            ('there is no field "party.nombre"',
                dict(condition='[["party.nombre", "=", "X"]]',
                    actions=[call_action()])),
            ("start itself again", dict(trigger='stage',
                    stage=stage('stage_analysis').id,
                    actions=[{'action': 'stage',
                            'stage': stage('stage_analysis').id}])),
            ("leads and opportunities only", dict(model='party.party',
                    trigger='stage', stage=stage('stage_offer').id,
                    actions=[call_action(subject="Llamar a {name}")])),
            ("quotes have no activities", dict(model='sale.sale',
                    trigger='inactive', days=10, actions=[call_action()])),
            ('for field "Field"', dict(trigger='date', days=3,
                    field=model_field('sale.opportunity', 'party').id,
                    actions=[call_action()])),
            ("must apply to leads and opportunities", dict(
                    model='party.party', actions=[
                        {'action': 'stage', 'stage': stage('stage_offer').id},
                        ])),
            ]
        for message, values in cases:
            with self.subTest(message=message):
                with self.assertRaises(ValidationError) as cm:
                    make_rule(values.pop('actions'), **values)
                self.assertIn(message, cm.exception.message)

        User.write([crm.rep2], {'active': False})
        with self.assertRaises(ValidationError) as cm:
            make_rule([call_action(assignee='user', user=crm.rep2.id)])
        self.assertIn("no longer an active user", cm.exception.message)

        party_model, = Model.search([('name', '=', 'party.party')])
        template, = Template.create([{
                    'model': party_model.id, 'name': "Cliente"}])
        with self.assertRaises(ValidationError) as cm:
            make_rule([{'action': 'email', 'email_template': template.id}])
        self.assertIn('"Cliente" for field "E-mail Template"',
            cm.exception.message)

    @with_transaction()
    def test_error_in_spanish(self):
        setup_crm()
        load_spanish('crm_kit_activity')
        with Transaction().set_context(language='es'), \
                self.assertRaises(ValidationError) as cm:
            make_rule([call_action(subject="Llamar a {cliente}")])
        self.assertEqual(cm.exception.message,
            'La acción "Crear actividad" de la regla "Regla de prueba" usa '
            'el marcador {cliente}, que no es un campo de Leads y '
            'oportunidades.')

    # Bad input at run time

    @with_transaction()
    def test_failures_logged_change_kept(self):
        """A rule that can't act on a record is logged as failed, the
        others still run and the user's change is saved"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Team = pool.get('crm.team')
        User = pool.get('res.user')
        crm = setup_crm()
        to_manager = make_rule([call_action(assignee='team_manager')])
        to_rep2 = make_rule([call_action(assignee='user', user=crm.rep2.id)],
            name="Para rep2")
        Team.write([crm.team], {'manager': None})
        opportunity = create_opportunity(crm)
        call, = activities_of(opportunity)
        self.assertEqual(call.owner, crm.rep2)
        log, = logs_of(to_manager)
        self.assertEqual(log.state, 'failed')
        self.assertEqual(log.error,
            'Nobody to assign: "%s" has no active Team Manager.'
            % opportunity.rec_name)

        # An assignee who left: the rule is kept, each run logs why.
        User.write([crm.rep2], {'active': False})
        second = create_opportunity(crm)
        self.assertEqual(activities_of(second), [])
        self.assertIn("no longer active", logs_of(to_rep2)[-1].error)
        self.assertTrue(Opportunity.search([('id', '=', second.id)]))

    @with_transaction()
    def test_records_acted_on_together(self):
        """A pass acts on its records at once: one create of their
        activities; a record it cannot act on is logged failed alone"""
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        rule = shipped_rule('rule_idle_opportunity')
        now = dt.datetime.now()
        idle = [create_opportunity(crm) for _ in range(3)]
        ownerless = create_opportunity(crm)
        Opportunity.write([ownerless], {'owner': None})
        idle_since(now - dt.timedelta(days=15), *idle, ownerless)
        creates = []
        create = Activity.create.__func__

        def counted(cls, vlist):
            creates.append(len(vlist))
            return create(cls, vlist)
        with patch.object(Activity, 'create', classmethod(counted)):
            Rule.run_scheduled(rules=[rule], now=now)
        self.assertEqual(creates, [3])
        for opportunity in idle:
            self.assertEqual(len(activities_of(opportunity)), 1)
        self.assertEqual(activities_of(ownerless), [])
        states = {log.record_id: log.state for log in logs_of(rule)}
        self.assertEqual(states, {**{o.id: 'done' for o in idle},
                ownerless.id: 'failed'})

    @with_transaction()
    def test_placeholders_filled_together(self):
        """The placeholders of a batch are read at once: a link's name, a
        path, a selection's label in the reader's language, a date, an
        amount, a list, and a field that is gone shows nothing"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Lang = pool.get('ir.lang')
        crm = setup_crm()
        load_spanish('crm_kit')
        # The deal's states are sale_opportunity's
        Translation = pool.get('ir.translation')
        Translation.translation_import('es', 'sale_opportunity', str(
                Path(sale_opportunity.__file__).parent / 'locale' / 'es.po'))
        deals = [create_opportunity(crm, amount=Decimal('12345.5'))
            for _ in range(2)]
        Opportunity.write(deals[1:], {'reference': 'REF-7'})
        texts = ["{rec_name} · {party} · {party.name} · {state}",
            "{start_date} · {amount} · {lines} · {no_such_field}", None]
        for code, state in [('en', "Lead"), ('es', "Iniciativa")]:
            with Transaction().set_context(language=code):
                lang = Lang.get()
                filled = fill_texts(
                    Opportunity, [d.id for d in deals] * 2, texts)
                deals = Opportunity.browse([d.id for d in deals])
                self.assertEqual(set(filled), {d.id for d in deals})
                for deal in deals:
                    self.assertEqual(filled[deal.id], [
                            "%s · Talleres Gómez S.L. · Talleres Gómez S.L. "
                            "· %s" % (deal.rec_name, state),
                            "%s · %s · %s · " % (
                                lang.strftime(deal.start_date),
                                lang.format('%.2f', deal.amount,
                                    grouping=True),
                                deal.lines[0].rec_name),
                            None])
        self.assertTrue(deals[1].rec_name.endswith('[REF-7]'))

    @with_transaction()
    def test_records_one_by_one_when_together_fails(self):
        """When storing for all the records at once fails, each is acted on
        in its own savepoint: the one that fails alone is logged failed"""
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        rule = shipped_rule('rule_idle_opportunity')
        now = dt.datetime.now()
        idle = [create_opportunity(crm) for _ in range(3)]
        idle_since(now - dt.timedelta(days=15), *idle)
        refused = idle[1]
        create = Activity.create.__func__

        def failing(cls, vlist):
            if any(v.get('opportunity') == refused.id for v in vlist):
                raise ValueError("refused by the test")
            return create(cls, vlist)
        with patch.object(Activity, 'create', classmethod(failing)):
            Rule.run_scheduled(rules=[rule], now=now)
        self.assertEqual(activities_of(refused), [])
        for opportunity in [idle[0], idle[2]]:
            self.assertEqual(len(activities_of(opportunity)), 1)
        states = {log.record_id: log.state for log in logs_of(rule)}
        self.assertEqual(states, {idle[0].id: 'done', refused.id: 'failed',
                idle[2].id: 'done'})

    @with_transaction()
    def test_failed_action_undone_whole(self):
        "An action failing after another: the record gets neither"
        pool = Pool()
        crm = setup_crm()
        rule = make_rule([
                call_action(),
                # Moving a lead straight to "Offer submitted" needs a quote.
                {'action': 'stage', 'stage': stage('stage_offer').id},
                ])
        opportunity = create_opportunity(crm)
        self.assertEqual(activities_of(opportunity), [])
        log, = logs_of(rule)
        self.assertEqual(log.state, 'failed')
        self.assertTrue(log.error)
        self.assertEqual(
            pool.get('sale.opportunity')(opportunity.id).stage,
            stage('stage_new'))

    @with_transaction()
    def test_failed_rule_sends_no_email(self):
        "The e-mail of a rule that then fails is not sent at the commit"
        pool = Pool()
        Template = pool.get('ir.email.template')
        Model = pool.get('ir.model')
        crm = setup_crm()
        model, = Model.search([('name', '=', 'sale.opportunity')])
        template, = Template.create([{
                    'model': model.id,
                    'name': "Bienvenida",
                    'recipients': model_field('sale.opportunity', 'party').id,
                    'subject': "Gracias",
                    }])
        email_first = make_rule([
                {'action': 'email', 'email_template': template.id},
                {'action': 'stage', 'stage': stage('stage_offer').id},
                ])
        create_opportunity(crm)
        self.assertEqual(logs_of(email_first)[0].state, 'failed')
        run_queued()
        queued = [message for manager in Transaction()._datamanagers
            for message in getattr(manager, 'queue', [])]
        self.assertEqual(queued, [])

        # Without the failing action the e-mail is sent at the commit of
        # the queue's task.
        Action = pool.get('crm.automation.action')
        Action.delete([email_first.actions[1]])
        create_opportunity(crm)
        run_queued()
        queued = [message for manager in Transaction()._datamanagers
            for message in getattr(manager, 'queue', [])]
        self.assertEqual(len(queued), 1)

    @with_transaction()
    def test_loop_between_rules_stops(self):
        "Two rules moving each other's stage: each runs once, then skipped"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        first = make_rule(
            [{'action': 'stage', 'stage': stage('stage_new').id}],
            trigger='stage', stage=stage('stage_analysis').id)
        second = make_rule(
            [{'action': 'stage', 'stage': stage('stage_analysis').id}],
            trigger='stage', stage=stage('stage_new').id)
        opportunity = create_opportunity(crm)
        Opportunity.write([opportunity], {'stage': stage('stage_analysis')})
        self.assertEqual(sorted(log.state for log in logs_of(first)),
            ['done', 'skipped'])
        self.assertEqual([log.state for log in logs_of(second)], ['done'])
        skipped, = [log for log in logs_of(first) if log.state == 'skipped']
        self.assertIn("a loop", skipped.error)

    @with_transaction()
    def test_cron_survives_a_failing_rule(self):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Cron = pool.get('ir.cron')
        crm = setup_crm()
        broken = make_rule([call_action(assignee='team_manager')],
            trigger='inactive', days=1, name="Sin jefe")
        working = make_rule([call_action()], trigger='inactive', days=1)
        pool.get('crm.team').write([crm.team], {'manager': None})
        opportunity = create_opportunity(crm)
        Rule.run_scheduled(now=dt.datetime.now() + dt.timedelta(days=2))
        self.assertEqual(logs_of(broken)[0].state, 'failed')
        self.assertEqual(logs_of(working)[0].state, 'done')
        self.assertEqual(len(activities_of(opportunity)), 1)
        cron, = Cron.search(
            [('method', '=', 'crm.automation.rule|run_scheduled')])
        self.assertEqual((cron.interval_number, cron.interval_type),
            (1, 'hours'))

    @with_transaction()
    def test_shipped_rules_off_and_in_spanish(self):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        User = pool.get('res.user')
        Lang = pool.get('ir.lang')
        crm = setup_crm()
        with Transaction().set_context(active_test=False):
            rules = Rule.search([])
        self.assertEqual(len(rules), 4)
        self.assertFalse(any(r.active for r in rules))
        load_spanish('crm_kit_activity')
        spanish, = Lang.search([('code', '=', 'es')])
        User.write([crm.rep], {'language': spanish.id})
        shipped_rule('rule_new_lead_call')
        lead = create_opportunity(crm)
        call, = activities_of(lead)
        self.assertEqual(call.subject,
            "Llamar al nuevo lead: %s" % lead.rec_name)
        with Transaction().set_context(language='es'):
            rule = Rule(rules[0].id)
            self.assertTrue(rule.name)
            self.assertNotEqual(rule.name, rules[0].name)
