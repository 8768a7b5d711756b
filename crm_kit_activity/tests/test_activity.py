# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Activities: planned, done with an outcome, followed by the next one."
import datetime as dt

from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    ActivityTestCase, activity_type, create_activity, create_opportunity,
    load_spanish, setup_crm)


class ActivityLifecycleTestCase(ActivityTestCase):

    @with_transaction()
    def test_done_needs_outcome_and_stays_in_history(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        activity = create_activity(crm)
        self.assertEqual(activity.state, 'planned')
        self.assertEqual(activity.icon, 'crm-kit-call')

        with self.assertRaises(ValidationError) as cm:
            Activity.done([activity])
        self.assertIn("enter its outcome", cm.exception.message)

        Activity.write([activity], {'outcome': "Quiere la demo el lunes"})
        Activity.done([activity])
        activity = Activity(activity.id)
        self.assertEqual(activity.state, 'done')
        self.assertTrue(activity.done_date)

        with self.assertRaises(AccessError) as cm:
            Activity.delete([activity])
        self.assertIn("it is done", cm.exception.message)

        Activity.plan([activity])
        self.assertEqual(
            (activity.state, activity.done_date), ('planned', None))
        Activity.cancel([activity])
        self.assertEqual(activity.state, 'cancelled')
        Activity.delete([activity])

    @with_transaction()
    def test_needs_customer_or_opportunity(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        with self.assertRaises(ValidationError) as cm:
            create_activity(crm, party=None)
        self.assertIn("needs a customer or an opportunity",
            cm.exception.message)

        # A lead has no customer yet: its opportunity is enough.
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            lead, = Opportunity.create([{'description': "Web lead"}])
        activity = create_activity(crm, party=None, opportunity=lead.id)
        self.assertEqual(activity.opportunity, lead)
        self.assertIsNone(activity.party)

        # The opportunity's customer, when it has one, is the activity's.
        opportunity = create_opportunity(crm)
        activity = create_activity(
            crm, party=None, opportunity=opportunity.id)
        self.assertEqual(activity.party, crm.customer)

    @with_transaction()
    def test_on_changes(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        opportunity = create_opportunity(crm, owner=crm.rep2)
        with Transaction().set_context(company=crm.company.id):
            activity = Activity(opportunity=opportunity, owner=None)
            activity.on_change_opportunity()
            self.assertEqual(activity.party, crm.customer)
            self.assertEqual(activity.owner, crm.rep2)

            activity.type = activity_type('activity_type_meeting')
            activity.on_change_type()
            self.assertEqual(activity.duration, dt.timedelta(hours=1))
            activity.due = dt.datetime(2026, 12, 1, 10, 0)
            self.assertEqual(activity.on_change_with_end(),
                dt.datetime(2026, 12, 1, 11, 0))

    @with_transaction()
    def test_end_kept_for_the_calendar(self):
        "The calendar finds activities by their end, kept on every change"
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        due = dt.datetime(2026, 12, 1, 10, 0)
        activity = create_activity(crm, due=due,
            duration=dt.timedelta(minutes=30))
        self.assertEqual(activity.end, dt.datetime(2026, 12, 1, 10, 30))
        Activity.write([activity], {'duration': dt.timedelta(hours=2)})
        self.assertEqual(Activity(activity.id).end,
            dt.datetime(2026, 12, 1, 12, 0))
        Activity.write([activity], {'due': due + dt.timedelta(days=1)})
        self.assertEqual(Activity(activity.id).end,
            dt.datetime(2026, 12, 2, 12, 0))
        # As sao's calendar asks for a week.
        self.assertEqual(Activity.search([
                    ('due', '<=', dt.datetime(2026, 12, 7)),
                    ('end', '>=', dt.datetime(2026, 12, 2, 11, 0)),
                    ]), [activity])

    @with_transaction()
    def test_negative_duration_refused(self):
        crm = setup_crm()
        with self.assertRaises(ValidationError):
            create_activity(crm, duration=dt.timedelta(minutes=-5))

    @with_transaction()
    def test_mark_done_and_schedule_next(self):
        "The wizard asks the outcome and plans the follow-up"
        pool = Pool()
        Activity = pool.get('crm.activity')
        Done = pool.get('crm.activity.done', type='wizard')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        activity = create_activity(crm, opportunity=opportunity.id)
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id,
                    active_model='crm.activity', active_id=activity.id,
                    active_ids=[activity.id]):
            session_id, _, _ = Done.create()
            done = Done(session_id)
            defaults = done.default_start(None)
            self.assertEqual(defaults['next_subject'],
                "Follow-up: Llamar para la demo")
            self.assertGreater(defaults['next_due'], dt.datetime.now())
            done.start.outcome = "Pide presupuesto"
            done.start.schedule_next = True
            done.start.next_type = activity_type('activity_type_email')
            done.start.next_subject = "Enviar presupuesto"
            # After the first one, whatever day the test runs.
            done.start.next_due = activity.due + dt.timedelta(hours=1)
            self.assertEqual(done.transition_done(), 'end')
        activity = Activity(activity.id)
        self.assertEqual(
            (activity.state, activity.outcome), ('done', "Pide presupuesto"))
        following, = Activity.search([('previous', '=', activity.id)])
        self.assertEqual(following.subject, "Enviar presupuesto")
        self.assertEqual(following.state, 'planned')
        self.assertEqual(following.owner, crm.rep)
        self.assertEqual(following.opportunity, opportunity)
        self.assertEqual(following.party, crm.customer)
        self.assertEqual(
            [a.id for a in Pool().get('sale.opportunity')(
                    opportunity.id).activities],
            [activity.id, following.id])

    @with_transaction()
    def test_error_in_spanish(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        load_spanish('crm_kit_activity')
        activity = create_activity(crm)
        with Transaction().set_context(language='es'):
            with self.assertRaises(ValidationError) as cm:
                Activity.done([activity])
            self.assertIn("indique su resultado", cm.exception.message)


class MyActivitiesTestCase(ActivityTestCase):

    @with_transaction()
    def test_tabs_split_by_day(self):
        "Overdue, Today, Upcoming and Done as the menu's tabs define them"
        pool = Pool()
        Activity = pool.get('crm.activity')
        ActionDomain = pool.get('ir.action.act_window.domain')
        ModelData = pool.get('ir.model.data')
        crm = setup_crm()
        now = dt.datetime.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = create_activity(
            crm, due=midnight - dt.timedelta(hours=1))
        today = create_activity(crm, due=midnight + dt.timedelta(hours=1))
        tomorrow = create_activity(crm, due=midnight + dt.timedelta(days=1))
        done = create_activity(crm, due=midnight + dt.timedelta(hours=2),
            outcome="Hecho")
        Activity.done([done])
        create_activity(crm, owner=crm.rep2, due=midnight)

        def tab(xml_id):
            domain = ActionDomain(ModelData.get_id(
                    'crm_kit_activity', xml_id))
            action_domain = domain.act_window.domain
            context = {'_user': crm.rep.id}
            with Transaction().set_user(crm.rep.id):
                return Activity.search([
                        PYSONDecoder(context).decode(action_domain),
                        PYSONDecoder(context).decode(domain.domain),
                        ])
        self.assertEqual(tab('act_my_activity_form_domain_overdue'),
            [yesterday])
        self.assertEqual(tab('act_my_activity_form_domain_today'), [today])
        self.assertEqual(tab('act_my_activity_form_domain_upcoming'),
            [tomorrow])
        self.assertEqual(tab('act_my_activity_form_domain_done'), [done])

    @with_transaction()
    def test_record_rules(self):
        "A rep sees their own, a manager their team's, the admin all"
        pool = Pool()
        Activity = pool.get('crm.activity')
        crm = setup_crm()
        own = create_activity(crm, owner=crm.rep)
        colleague = create_activity(crm, owner=crm.rep2)
        outsider = create_activity(crm, owner=crm.outsider)

        def visible(user):
            with Transaction().set_user(user.id), \
                    Transaction().set_context(
                        _check_access=True, company=crm.company.id):
                return set(Activity.search([]))
        self.assertEqual(visible(crm.rep), {own})
        self.assertEqual(visible(crm.rep2), {colleague})
        self.assertEqual(visible(crm.manager), {own, colleague})
        self.assertEqual(visible(crm.outsider), {outsider})
        self.assertEqual(visible(crm.admin), {own, colleague, outsider})

        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(
                    _check_access=True, company=crm.company.id):
            with self.assertRaises(AccessError):
                Activity.write([Activity(colleague.id)],
                    {'subject': "Mine now"})

    @with_transaction()
    def test_customer_history(self):
        "Planned and done activities show in the customer's history"
        pool = Pool()
        Activity = pool.get('crm.activity')
        History = pool.get('crm.customer.history')
        crm = setup_crm()
        planned = create_activity(crm, subject="Visita a la fábrica",
            kind='activity_type_visit')
        cancelled = create_activity(crm, subject="Anulada")
        Activity.cancel([cancelled])
        with Transaction().set_context(company=crm.company.id):
            events = History.search([
                    ('party', '=', crm.customer.id),
                    ('kind', '=', 'activity'),
                    ])
        self.assertEqual([e.activity for e in events], [planned])
        self.assertEqual(events[0].date, planned.due)
        self.assertEqual(events[0].user, crm.rep)
        self.assertEqual(
            Pool().get('party.party')(crm.customer.id).crm_activities,
            (planned, cancelled))
