# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Commercial actions: the calls, meetings, e-mails, visits and to-dos a
rep plans and does for a customer or an opportunity."""
import datetime as dt
import html
import json
from collections import defaultdict

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Workflow, fields,
    sequence_ordered)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from crm_kit.event import EventSource
from crm_kit.mail import send_background_email

from .last_activity import touch_last_activity

STATES = [
    ('planned', "Planned"),
    ('done', "Done"),
    ('cancelled', "Cancelled"),
    ]

# What a done or cancelled activity keeps as it was.
_PLANNED = {'readonly': Eval('state') != 'planned'}


class ActivityType(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Activity Type"
    __name__ = 'crm.activity.type'
    __string__ = "Activity Type"

    name = fields.Char("Name", required=True, translate=True)
    icon = fields.Selection('list_icons', "Icon", translate=False)
    default_duration = fields.TimeDelta(
        "Default Duration",
        domain=['OR',
            ('default_duration', '=', None),
            ('default_duration', '>=', dt.timedelta()),
            ])

    @classmethod
    def list_icons(cls):
        pool = Pool()
        Icon = pool.get('ir.ui.icon')
        return [(None, '')] + sorted(
            (name, name) for _, name in Icon.list_icons())


class Activity(EventSource, Workflow, ModelSQL, ModelView):
    "Activity"
    __name__ = 'crm.activity'
    __string__ = "Activity"
    _rec_name = 'subject'

    company = fields.Many2One(
        'company.company', "Company", required=True, states=_PLANNED)
    type = fields.Many2One(
        'crm.activity.type', "Type", required=True, states=_PLANNED)
    icon = fields.Function(fields.Char("Icon"), 'on_change_with_icon')
    subject = fields.Char("Subject", required=True, states=_PLANNED)
    notes = fields.Text("Notes")
    owner = fields.Many2One(
        'res.user', "Owner", required=True, states=_PLANNED,
        help="Who does the activity and sees it in \"My Activities\".")
    party = fields.Many2One(
        'party.party', "Customer", states=_PLANNED,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    contact = fields.Many2One(
        'party.contact_mechanism', "Contact", states=_PLANNED,
        domain=[
            ('party', '=', Eval('party', -1)),
            ],
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="How to reach the customer for this activity.")
    opportunity = fields.Many2One(
        'sale.opportunity', "Opportunity", states=_PLANNED,
        domain=[
            ('company', '=', Eval('company', -1)),
            If(Bool(Eval('party')),
                ('party', 'in', [None, Eval('party', -1)]),
                ()),
            ])
    due = fields.DateTime(
        "Due", required=True, format='%H:%M', states=_PLANNED)
    duration = fields.TimeDelta(
        "Duration", states=_PLANNED,
        domain=['OR',
            ('duration', '=', None),
            ('duration', '>=', dt.timedelta()),
            ])
    # Stored for the calendar, which searches activities by their end.
    end = fields.DateTime("End", readonly=True)
    state = fields.Selection(
        STATES, "State", readonly=True, required=True, sort=False)
    outcome = fields.Text(
        "Outcome",
        states={
            'invisible': Eval('state') == 'planned',
            'readonly': Eval('state') == 'cancelled',
            },
        help="What came of the activity: said when it is marked done.")
    done_date = fields.DateTime("Done on", readonly=True)
    previous = fields.Many2One(
        'crm.activity', "Follows", readonly=True, ondelete='SET NULL',
        help="The activity after which this one was scheduled.")
    # When the owner was told, so that each reminder goes out once for a
    # due time; moving the activity sends them again.
    reminder_sent = fields.DateTime("Reminder Sent", readonly=True)
    overdue_sent = fields.DateTime("Overdue Notice Sent", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t,
                    (t.owner, Index.Range()),
                    (t.state, Index.Equality(cardinality='low')),
                    (t.due, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.opportunity, Index.Range())),
                # The reminders' candidates: only planned ones are indexed.
                Index(t, (t.due, Index.Range()),
                    where=t.state == 'planned'),
                })
        cls._order = [('due', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('planned', 'done'),
            ('planned', 'cancelled'),
            ('cancelled', 'planned'),
            ('done', 'planned'),
            }
        cls._buttons.update({
                'do': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                # The API's way (sao shows "do"): refused unless planned.
                'done': {
                    'invisible': Eval('state') != 'planned',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'plan': {
                    'invisible': Eval('state') == 'planned',
                    'icon': 'tryton-undo',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_state(cls):
        return 'planned'

    @classmethod
    def default_due(cls):
        # The next round hour: a new activity is rarely due this minute.
        now = dt.datetime.now().replace(minute=0, second=0, microsecond=0)
        return now + dt.timedelta(hours=1)

    @fields.depends('type')
    def on_change_with_icon(self, name=None):
        if self.type:
            return self.type.icon

    @fields.depends('type', 'duration')
    def on_change_type(self):
        if self.type and self.type.default_duration and not self.duration:
            self.duration = self.type.default_duration

    @fields.depends('due', 'duration')
    def on_change_with_end(self, name=None):
        return compute_end(self.due, self.duration)

    @fields.depends('opportunity', 'party', 'contact', 'owner',
        '_parent_opportunity.party', '_parent_opportunity.contact',
        '_parent_opportunity.owner', '_parent_party.id')
    def on_change_opportunity(self):
        if self.opportunity:
            if self.opportunity.party and not self.party:
                self.party = self.opportunity.party
            if self.opportunity.contact and not self.contact:
                self.contact = self.opportunity.contact
            if self.opportunity.owner and not self.owner:
                self.owner = self.opportunity.owner

    @fields.depends('party', 'contact', '_parent_party.id')
    def on_change_party(self):
        if self.contact and self.contact.party != self.party:
            self.contact = None

    @classmethod
    def validate_fields(cls, activities, field_names):
        super().validate_fields(activities, field_names)
        cls.check_link(activities, field_names)
        cls.check_outcome(activities, field_names)

    @classmethod
    def check_link(cls, activities, field_names=None):
        if field_names and not (field_names & {'party', 'opportunity'}):
            return
        for activity in activities:
            if not activity.party and not activity.opportunity:
                raise ValidationError(gettext(
                        'crm_kit_activity.msg_activity_no_link',
                        activity=activity.rec_name))

    @classmethod
    def check_outcome(cls, activities, field_names=None):
        if field_names and not (field_names & {'state', 'outcome'}):
            return
        for activity in activities:
            if activity.state == 'done' and not (
                    activity.outcome or '').strip():
                raise ValidationError(gettext(
                        'crm_kit_activity.msg_activity_outcome_required',
                        activity=activity.rec_name))

    @classmethod
    def check_modification(cls, mode, activities, values=None, external=False):
        super().check_modification(
            mode, activities, values=values, external=external)
        if mode == 'delete':
            for activity in activities:
                if activity.state == 'done':
                    raise AccessError(gettext(
                            'crm_kit_activity.msg_activity_delete_done',
                            activity=activity.rec_name))

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        values = super().preprocess_values(mode, values)
        if values.get('due'):
            # Due to the minute, as shown and as the reminders count.
            values['due'] = values['due'].replace(second=0, microsecond=0)
        if mode == 'create':
            values['end'] = compute_end(
                values.get('due'), values.get('duration'))
            # As the form's on_change does, for the API and the rules: the
            # customer's history then shows the activity.
            if values.get('opportunity') and not values.get('party'):
                opportunity = Opportunity(values['opportunity'])
                if opportunity.party:
                    values['party'] = opportunity.party.id
        elif 'due' in values:
            values.setdefault('reminder_sent', None)
            values.setdefault('overdue_sent', None)
        return values

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        moved = set()
        for activities, values in zip(actions, actions):
            if values.keys() & {'due', 'duration'}:
                moved.update(activities)
        ends = defaultdict(list)
        for activity in cls.browse(list(moved)):
            ends[compute_end(activity.due, activity.duration)].append(
                activity)
        if ends:
            super().write(*(x for end, activities in ends.items()
                    for x in (activities, {'end': end})))

    @classmethod
    def on_modification(cls, mode, activities, field_names=None):
        super().on_modification(mode, activities, field_names=field_names)
        # Planned or done, the customer and the opportunity are not idle.
        if mode == 'create' or (mode == 'write' and 'done_date' in field_names):
            touch_last_activity(activities)

    @classmethod
    def copy(cls, activities, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('state', cls.default_state())
        default.setdefault('outcome')
        default.setdefault('done_date')
        default.setdefault('previous')
        default.setdefault('reminder_sent')
        default.setdefault('overdue_sent')
        return super().copy(activities, default=default)

    @classmethod
    @ModelView.button_action('crm_kit_activity.wizard_activity_done')
    def do(cls, activities):
        "Mark done from sao: the wizard asks the outcome and what is next"
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def done(cls, activities):
        "Mark done; the outcome must be set first (the API's way)"
        cls.write(activities, {'done_date': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, activities):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('planned')
    def plan(cls, activities):
        cls.write(activities, {'done_date': None})

    @classmethod
    def send_reminders(cls, now=None):
        """Cron: tell owners of the activities due soon and of those that
        became overdue, once each.  The candidates come from the index on
        planned activities' due time, so a pass costs what it finds."""
        pool = Pool()
        Configuration = pool.get('crm.activity.configuration')
        config = Configuration(1)
        now = now or dt.datetime.now()
        if config.reminder_before is not None:
            soon = cls.search([
                    ('state', '=', 'planned'),
                    ('reminder_sent', '=', None),
                    ('due', '>=', now),
                    ('due', '<=', now + config.reminder_before),
                    ], order=[('due', 'ASC'), ('id', 'ASC')])
            cls._remind(soon, 'soon', config.reminder_email)
            cls.write(soon, {'reminder_sent': now})
        if config.remind_overdue:
            overdue = cls.search([
                    ('state', '=', 'planned'),
                    ('overdue_sent', '=', None),
                    ('due', '<', now),
                    ], order=[('due', 'ASC'), ('id', 'ASC')])
            cls._remind(overdue, 'overdue', config.reminder_email)
            # What was overdue before its reminder ran needs none now.
            cls.write(overdue, {
                    'overdue_sent': now,
                    'reminder_sent': now,
                    })

    @classmethod
    def _remind(cls, activities, kind, email=False):
        "Notify each owner in their language, and e-mail them if asked"
        pool = Pool()
        Notification = pool.get('res.notification')
        Lang = pool.get('ir.lang')
        by_language = defaultdict(list)
        for activity in activities:
            language = activity.owner.language
            by_language[language.code if language else None].append(
                activity)
        notifications = []
        for code, group in by_language.items():
            with Transaction().set_context(language=code):
                lang = Lang.get(code)
                for sub in grouped_slice(group, 1000):
                    for activity in cls.browse([a.id for a in sub]):
                        label, description = activity._reminder_text(
                            kind, lang)
                        notifications.append(Notification(
                                user=activity.owner,
                                label=label,
                                description=description,
                                icon=activity.icon or 'tryton-calendar',
                                model=cls.__name__,
                                records=json.dumps([activity.id])))
                        if email and activity.owner.email:
                            send_background_email(
                                activity.owner.email, label,
                                html.escape(description),
                                (cls.__name__, activity.id))
        Notification.save(notifications)

    def _reminder_text(self, kind, lang):
        "The label and description of a reminder, in lang"
        zone = self.company.timezone if self.company else None
        due = self.due.replace(tzinfo=tz.UTC).astimezone(
            tz.get_tzinfo(zone) if zone else tz.UTC)
        when = lang.strftime(due, lang.date + ' %H:%M')
        about = ', '.join(r.rec_name for r in [self.party, self.opportunity]
            if r)
        label = gettext(
            'crm_kit_activity.msg_reminder_%s' % kind,
            type=self.type.rec_name, subject=self.subject)
        description = gettext(
            'crm_kit_activity.msg_reminder_description',
            due=when, about=about or '-')
        return label, description


def compute_end(due, duration):
    "When an activity due then and lasting duration ends"
    if due:
        return due + (duration or dt.timedelta())


class ActivityDoneStart(ModelView):
    "Mark Activity Done"
    __name__ = 'crm.activity.done.start'

    outcome = fields.Text("Outcome", required=True)
    schedule_next = fields.Boolean("Schedule the Next Activity")
    next_type = fields.Many2One(
        'crm.activity.type', "Type",
        states={
            'invisible': ~Eval('schedule_next'),
            'required': Bool(Eval('schedule_next')),
            })
    next_subject = fields.Char(
        "Subject",
        states={
            'invisible': ~Eval('schedule_next'),
            'required': Bool(Eval('schedule_next')),
            })
    next_due = fields.DateTime(
        "Due", format='%H:%M',
        states={
            'invisible': ~Eval('schedule_next'),
            'required': Bool(Eval('schedule_next')),
            })


class ActivityDone(Wizard):
    "Mark Activity Done"
    __name__ = 'crm.activity.done'

    start = StateView(
        'crm.activity.done.start',
        'crm_kit_activity.activity_done_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Done", 'done', 'tryton-ok', default=True),
            ])
    done = StateTransition()

    def default_start(self, fields):
        pool = Pool()
        Activity = pool.get('crm.activity')
        activity = self.record
        return {
            'outcome': activity.outcome,
            'schedule_next': False,
            'next_type': activity.type.id,
            'next_subject': gettext(
                'crm_kit_activity.msg_follow_up_subject',
                subject=activity.subject),
            'next_due': Activity.default_due() + dt.timedelta(days=1),
            }

    def transition_done(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        activity = self.record
        if activity.state != 'planned':
            return 'end'
        activity.outcome = self.start.outcome
        activity.save()
        Activity.done([activity])
        if self.start.schedule_next:
            next_activity = Activity(
                company=activity.company,
                type=self.start.next_type,
                subject=self.start.next_subject,
                owner=activity.owner,
                party=activity.party,
                contact=activity.contact,
                opportunity=activity.opportunity,
                due=self.start.next_due,
                duration=self.start.next_type.default_duration,
                previous=activity)
            next_activity.save()
        return 'end'

    def end(self):
        return 'reload'
