# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Automation rules: what the CRM does by itself when a lead, customer or
quote is created or changes (told by crm.event, see event.py), or when
time passes (no activity for some days, a date coming near)."""
import datetime as dt
import functools
import json
import logging
from collections import defaultdict

from trytond.cache import Cache
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from crm_kit.bulk import insert_rows
from crm_kit.mail import send_background_email
from crm_kit.savepoint import savepoint
from crm_kit.search import search_ids

from .last_activity import LAST_ACTIVITY
from .rule import (
    MODELS, Batch, condition_domain, date_window, due_after,
    error_message, model_label, no_activity_ahead, open_domain,
    unknown_placeholder)

logger = logging.getLogger(__name__)

TRIGGERS = [
    ('created', "Record Created"),
    ('stage', "Stage Changed To"),
    ('field', "Field Changed"),
    ('inactive', "No Activity For Some Days"),
    ('date', "Date Approaching or Reached"),
    ]
EVENT_TRIGGERS = {'created', 'stage', 'field'}
ACTIONS = [
    ('activity', "Create Activity"),
    ('notify', "Notify"),
    ('email', "Send E-mail"),
    ('stage', "Move to Stage"),
    ]
ASSIGNEES = [
    ('owner', "Owner"),
    ('team_manager', "Team Manager"),
    ('user', "User"),
    ]
CHAIN = '_crm_automation_chain'


class AutomationError(ValidationError):
    pass


class AutomationRunError(UserError):
    "An action that can not be done for one record; logged, not raised"


class AutomationRule(DeactivableMixin, ModelSQL, ModelView):
    "Automation Rule"
    __name__ = 'crm.automation.rule'
    __string__ = "Automation Rule"

    name = fields.Char("Name", required=True, translate=True)
    model = fields.Selection(
        MODELS, "Applies To", required=True, sort=False)
    trigger = fields.Selection(
        TRIGGERS, "Trigger", required=True, sort=False)
    stage = fields.Many2One(
        'crm.stage', "Stage", ondelete='RESTRICT',
        states={
            'invisible': Eval('trigger') != 'stage',
            'required': Eval('trigger') == 'stage',
            })
    field = fields.Many2One(
        'ir.model.field', "Field", ondelete='CASCADE',
        domain=[
            ('model', '=', Eval('model', '')),
            If(Eval('trigger') == 'date',
                ('ttype', 'in', ['date', 'datetime']),
                ('ttype', 'not in', ['one2many', 'many2many'])),
            ],
        states={
            'invisible': ~Eval('trigger').in_(['field', 'date']),
            'required': Eval('trigger').in_(['field', 'date']),
            })
    days = fields.Integer(
        "Days",
        domain=[
            If(Eval('trigger') == 'inactive',
                ('days', '>', 0),
                If(Eval('trigger') == 'date',
                    ('days', '>=', 0),
                    ())),
            ],
        states={
            'invisible': ~Eval('trigger').in_(['inactive', 'date']),
            'required': Eval('trigger').in_(['inactive', 'date']),
            },
        help="No activity: how many days without one.\n"
        "Date: how many days before the date (0: on the day).")
    condition = fields.Char(
        "Condition",
        help="Only the records that match this domain, "
        'for example [["amount", ">=", 5000]]. Empty: all records.')
    actions = fields.One2Many(
        'crm.automation.action', 'rule', "Actions")
    logs = fields.One2Many(
        'crm.automation.log', 'rule', "Log", readonly=True,
        order=[('id', 'DESC')])
    last_run = fields.DateTime(
        "Last Run", readonly=True,
        help="When the scheduler last looked for records for this rule.")

    _event_rules_cache = Cache(
        'crm.automation.rule.event_rules', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))
        cls._buttons.update({
                'run': {
                    'invisible': (Eval('trigger').in_(list(EVENT_TRIGGERS))
                        | ~Eval('active', False)),
                    'depends': ['trigger', 'active'],
                    },
                })

    @classmethod
    def default_model(cls):
        return 'sale.opportunity'

    @classmethod
    def default_trigger(cls):
        return 'created'

    @fields.depends('trigger', 'days')
    def on_change_trigger(self):
        if self.trigger in {'inactive', 'date'} and self.days is None:
            self.days = 14 if self.trigger == 'inactive' else 3

    # Validation at save time

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        cls.check_trigger(rules, field_names)
        cls.check_condition(rules, field_names)

    @classmethod
    def check_trigger(cls, rules, field_names=None):
        if field_names and not (
                {'model', 'trigger', 'stage', 'field'} & field_names):
            return
        pool = Pool()
        for rule in rules:
            Model = pool.get(rule.model)
            if rule.trigger == 'stage' and rule.model != 'sale.opportunity':
                raise AutomationError(gettext(
                        'crm_kit_activity.msg_automation_stage_model',
                        rule=rule.rec_name))
            if rule.trigger == 'inactive' and rule.model not in LAST_ACTIVITY:
                raise AutomationError(gettext(
                        'crm_kit_activity.msg_automation_inactive_model',
                        rule=rule.rec_name))
            if rule.trigger in {'field', 'date'} and rule.field:
                if rule.field.model != rule.model:
                    raise AutomationError(gettext(
                            'crm_kit_activity.msg_automation_field_model',
                            rule=rule.rec_name,
                            field=rule.field.rec_name,
                            model=model_label(rule.model)))
                field = Model._fields.get(rule.field.name)
                # Stored, for the window in SQL on every database.
                if rule.trigger == 'date' and not (
                        field and field._type in {'date', 'datetime'}
                        and not isinstance(field, fields.Function)):
                    raise AutomationError(gettext(
                            'crm_kit_activity.msg_automation_date_field',
                            rule=rule.rec_name,
                            field=rule.field.rec_name))
            rule.check_loop()

    def check_loop(self):
        "Refuse a rule that starts itself again by moving the stage"
        if self.trigger == 'stage':
            started_by = lambda a: a.stage == self.stage  # noqa: E731
        elif self.trigger == 'field' and self.field and self.field.name in {
                'stage', 'state'}:
            started_by = lambda a: True  # noqa: E731
        else:
            return
        for action in self.actions:
            if action.action == 'stage' and action.stage and started_by(
                    action):
                raise AutomationError(gettext(
                        'crm_kit_activity.msg_automation_loop',
                        rule=self.rec_name,
                        stage=action.stage.rec_name))

    @classmethod
    def check_condition(cls, rules, field_names=None):
        if field_names and not ({'condition', 'model'} & field_names):
            return
        for rule in rules:
            if rule.condition:
                rule.get_condition()

    def get_condition(self):
        "The condition as a domain; raise a clear error when it is not one"
        def error(reason):
            return AutomationError(gettext(
                    'crm_kit_activity.msg_automation_invalid_condition',
                    rule=self.rec_name, condition=self.condition,
                    reason=reason))
        return condition_domain(self.model, self.condition, error)

    # Event triggers: run inside the change that starts them

    @classmethod
    def event_rules(cls, model):
        """The active event rules of model as (id, trigger, stage id, field
        name), cached: every save of a lead asks for them"""
        rules = cls._event_rules_cache.get(model)
        if rules is None:
            with without_check_access():
                rules = [(r.id, r.trigger, r.stage.id if r.stage else None,
                        r.field.name if r.field else None)
                    for r in cls.search([
                            ('model', '=', model),
                            ('trigger', 'in', list(EVENT_TRIGGERS)),
                            ], order=[('id', 'ASC')])]
            cls._event_rules_cache.set(model, rules)
        return rules

    @classmethod
    def watched_fields(cls, model):
        "The fields whose change may start a rule on model"
        return {('stage' if trigger == 'stage' else field)
            for _, trigger, _, field in cls.event_rules(model)
            if trigger in {'stage', 'field'}}

    @classmethod
    def on_created(cls, records):
        if not records:
            return
        model = records[0].__name__
        ids = [r for r, trigger, _, _ in cls.event_rules(model)
            if trigger == 'created']
        if ids:
            with without_check_access():
                for rule in cls.browse(ids):
                    rule.apply(records, 'created')

    @classmethod
    def on_changed(cls, change):
        "Run the rules whose stage or field the change moved"
        if not change.records:
            return
        with without_check_access():
            for rule_id, trigger, stage, field in cls.event_rules(
                    change.model):
                if trigger == 'stage':
                    changed = change.moved('stage', to={stage})
                    occurrence = 'stage:%s' % stage
                elif trigger == 'field':
                    changed = change.moved(field)
                    occurrence = 'field:%s' % field
                else:
                    continue
                if changed:
                    cls(rule_id).apply(changed, occurrence)

    # Time triggers: run by the scheduler

    @classmethod
    def run_scheduled(cls, rules=None, now=None):
        "Cron: act on the records that time made match the rules"
        now = now or dt.datetime.now()
        if rules is None:
            with without_check_access():
                rules = cls.search([
                        ('trigger', 'not in', list(EVENT_TRIGGERS)),
                        ], order=[('id', 'ASC')])
        with without_check_access():
            cls._run_scheduled(rules, now)

    @classmethod
    def _run_scheduled(cls, rules, now):
        for rule in rules:
            try:
                with savepoint():
                    records = rule.candidates(now)
            except Exception as exception:
                # A rule that can not even select its records (a condition
                # the database refuses) is logged; the others go on.
                logger.exception("automation rule %d failed", rule.id)
                cls._log_failure(rule, exception)
                continue
            rule.apply(records, now=now)
            rule.last_run = now
        cls.save(rules)

    @classmethod
    @ModelView.button
    def run(cls, rules):
        "Look now for the records a time-based rule acts on"
        cls.run_scheduled(
            [r for r in rules if r.trigger not in EVENT_TRIGGERS])

    def candidates(self, now):
        """The records the rule should act on now and has not yet, selected
        in SQL: the window since its last pass and an index bound them, so
        a pass costs what it finds, not the size of the table"""
        pool = Pool()
        Model = pool.get(self.model)
        domain = self.open_domain()
        if self.trigger == 'inactive':
            name = LAST_ACTIVITY[self.model]
            cutoff = now - dt.timedelta(days=self.days)
            domain.append((name, '<=', cutoff))
            if self.last_run:
                domain.append((name, '>',
                        min(self.last_run, now) - dt.timedelta(days=self.days)))
            domain.extend(no_activity_ahead(self.model, now))
            key = name
        elif self.trigger == 'date':
            domain.extend(date_window(self.field, self.days, now))
            key = self.field.name
        else:
            return []
        domain.extend(self.get_condition())
        # The ids alone: the ORM's search would fetch every column of the
        # records found to fill its cache, and only one is needed below.
        records = Model.browse(
            search_ids(Model, domain, order=[('id', 'ASC')]))
        # Once per occurrence: the date, or the last activity, it is for;
        # that column alone read.
        keys = {}
        for sub in grouped_slice([r.id for r in records], 1000):
            keys.update((row['id'], _occurrence(row[key]))
                for row in Model.read(list(sub), [key]))
        done = self.done_occurrences(records)
        return [(r, keys[r.id]) for r in records
            if (r.id, keys[r.id]) not in done]

    def open_domain(self):
        "The records a time-based rule may act on"
        return open_domain(self.model)

    def done_occurrences(self, records):
        pool = Pool()
        Log = pool.get('crm.automation.log')
        done = set()
        for sub in grouped_slice([r.id for r in records], 1000):
            for log in Log.search([
                        ('rule', '=', self.id),
                        ('record_id', 'in', list(sub)),
                        ('state', '!=', 'failed'),
                        ]):
                done.add((log.record_id, log.occurrence))
        return done

    # Running the actions

    def apply(self, records, occurrence=None, now=None):
        """Run the actions on each record that meets the condition, each in
        a savepoint, and log it.  records may be pairs (record,
        occurrence)."""
        pool = Pool()
        Log = pool.get('crm.automation.log')
        now = now or dt.datetime.now()
        pairs = [r if isinstance(r, tuple) else (r, occurrence)
            for r in records]
        if not pairs:
            return
        if self.condition and self.trigger in EVENT_TRIGGERS:
            try:
                matching = set(self.filter_condition([r for r, _ in pairs]))
            except Exception as exception:
                logger.exception("automation rule %d failed", self.id)
                self._log_failure(self, exception)
                return
            pairs = [(r, o) for r, o in pairs if r.id in matching]
        transaction = Transaction()
        chain = tuple(transaction.context.get(CHAIN) or ())
        batch = Batch(pool.get(self.model), [r.id for r, _ in pairs])
        logs, todo = [], []
        for record, key in pairs:
            # The log lines are written by the rule, never typed: stored in
            # one statement (see crm_kit.bulk)
            log = {
                'rule': self.id, 'record': str(record),
                'record_id': record.id, 'occurrence': key or '',
                'date': now, 'actions': None, 'error': None,
                }
            logs.append(log)
            if '%s:%s' % (self.id, record.id) in chain:
                log['state'] = 'skipped'
                log['error'] = gettext(
                    'crm_kit_activity.msg_automation_looped')
            else:
                todo.append((record, log))
        if len(todo) > 1:
            # All together: an activity create, a notification save… for
            # all the records, not one each (and what they start, alerts
            # and events, once); if that fails, one by one below.
            todo = self._apply_together(todo, now, batch, chain)
        for record, log in todo:
            link = '%s:%s' % (self.id, record.id)
            done = []
            try:
                with transaction.set_context(**{CHAIN: chain + (link,)}), \
                        savepoint():
                    for action in self.actions:
                        done.append(action.execute(record, now, batch))
            except Exception as exception:
                if not isinstance(exception, (UserError, UserWarning)):
                    logger.exception(
                        "automation rule %d failed on %s", self.id, record)
                log['state'] = 'failed'
                log['error'] = error_message(exception)
            else:
                log['state'] = 'done'
                log['actions'] = '\n'.join(done)
        insert_rows(Log, logs)

    def _apply_together(self, todo, now, batch, chain):
        """Run the actions on the records of todo (pairs of record and log
        values)
        at once; return those left to run one by one: all of them when
        storing failed"""
        transaction = Transaction()
        records = [r for r, _ in todo]
        errors = {}
        plans = []
        # Every action planned first: a record that one of them cannot be
        # done for gets none of them, as in its own savepoint.
        for action in self.actions:
            action_plans, action_errors = action.plan(records, now, batch)
            plans.append(action_plans)
            errors.update(action_errors)
        links = tuple('%s:%s' % (self.id, r.id) for r in records)
        try:
            with transaction.set_context(**{CHAIN: chain + links}), \
                    savepoint():
                done = [action.store({i: p for i, p in action_plans.items()
                            if i not in errors})
                    for action, action_plans in zip(self.actions, plans)]
        except Exception:
            logger.info("automation rule %d: acting on the records one by "
                "one", self.id, exc_info=True)
            return todo
        for record, log in todo:
            if record.id in errors:
                log['state'] = 'failed'
                log['error'] = error_message(errors[record.id])
            else:
                log['state'] = 'done'
                log['actions'] = '\n'.join(d[record.id] for d in done)
        return []

    def filter_condition(self, records):
        pool = Pool()
        Model = pool.get(self.model)
        ids = []
        condition = self.get_condition()
        for sub in grouped_slice([r.id for r in records], 1000):
            ids.extend(r.id for r in Model.search(
                    [('id', 'in', list(sub))] + condition))
        return ids

    @classmethod
    def _log_failure(cls, rule, exception):
        pool = Pool()
        Log = pool.get('crm.automation.log')
        Log.save([Log(rule=rule, state='failed', occurrence='',
                    error=error_message(exception))])

    @classmethod
    def on_modification(cls, mode, rules, field_names=None):
        super().on_modification(mode, rules, field_names=field_names)
        cls._event_rules_cache.clear()


def _occurrence(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value or '')


class AutomationAction(sequence_ordered(), ModelSQL, ModelView):
    "Automation Action"
    __name__ = 'crm.automation.action'
    __string__ = "Automation Action"

    rule = fields.Many2One(
        'crm.automation.rule', "Rule", required=True, ondelete='CASCADE')
    rule_model = fields.Function(
        fields.Selection(MODELS, "Applies To"), 'on_change_with_rule_model')
    action = fields.Selection(ACTIONS, "Action", required=True, sort=False)
    activity_type = fields.Many2One(
        'crm.activity.type', "Activity Type", ondelete='RESTRICT',
        states={
            'invisible': Eval('action') != 'activity',
            'required': Eval('action') == 'activity',
            })
    subject = fields.Char(
        "Subject", translate=True,
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            'required': Eval('action').in_(['activity', 'notify']),
            },
        help="Placeholders in braces are filled from the record, "
        "for example {party.name} or {rec_name}.")
    message = fields.Text(
        "Message", translate=True,
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            },
        help="The activity's notes, or the notification's text; "
        "placeholders as in the subject.")
    due_days = fields.Integer(
        "Due in (Days)",
        domain=[
            If(Eval('action') == 'activity',
                ('due_days', '>=', 0),
                ()),
            ],
        states={
            'invisible': Eval('action') != 'activity',
            'required': Eval('action') == 'activity',
            },
        help="The activity is due this many days after the rule acts, at "
        "the same time of day; with 0, at the end of that day.")
    working_days = fields.Boolean(
        "Working Days",
        states={
            'invisible': Eval('action') != 'activity',
            },
        help="Count only Monday to Friday.")
    assignee = fields.Selection(
        ASSIGNEES, "Assignee", sort=False,
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            'required': Eval('action').in_(['activity', 'notify']),
            },
        help="Owner: of the record (of a customer: of their latest "
        "opportunity, else who created the customer).\n"
        "Team Manager: the manager of the record's team.")
    user = fields.Many2One(
        'res.user', "User", ondelete='SET NULL',
        states={
            'invisible': ((Eval('assignee') != 'user')
                | ~Eval('action').in_(['activity', 'notify'])),
            'required': ((Eval('assignee') == 'user')
                & Eval('action').in_(['activity', 'notify'])),
            })
    email_template = fields.Many2One(
        'ir.email.template', "E-mail Template", ondelete='RESTRICT',
        domain=[
            ('model.name', '=', Eval('rule_model', '')),
            ],
        states={
            'invisible': Eval('action') != 'email',
            'required': Eval('action') == 'email',
            })
    stage = fields.Many2One(
        'crm.stage', "Stage", ondelete='RESTRICT',
        states={
            'invisible': Eval('action') != 'stage',
            'required': Eval('action') == 'stage',
            })

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('rule')

    @classmethod
    def default_action(cls):
        return 'activity'

    @classmethod
    def default_due_days(cls):
        return 1

    @classmethod
    def default_assignee(cls):
        return 'owner'

    @fields.depends('rule', '_parent_rule.model')
    def on_change_with_rule_model(self, name=None):
        if self.rule:
            return self.rule.model

    @fields.depends('activity_type', 'subject')
    def on_change_activity_type(self):
        if self.activity_type and not self.subject:
            self.subject = '%s: {rec_name}' % self.activity_type.name

    def get_rec_name(self, name):
        label = dict(self.fields_get(['action'])['action']['selection'])
        return label.get(self.action, self.action or '')

    @classmethod
    def validate_fields(cls, actions, field_names):
        super().validate_fields(actions, field_names)
        for action in actions:
            action.check_action()

    def check_action(self):
        "Refuse what would fail on every record"
        rule = self.rule
        for text in [self.subject, self.message]:
            if self.action in {'activity', 'notify'} and text:
                check_placeholders(text, rule, self)
        if (self.action in {'activity', 'notify'}
                and self.assignee == 'user' and self.user
                and not self.user.active):
            raise AutomationError(gettext(
                    'crm_kit_activity.msg_automation_user_inactive',
                    rule=rule.rec_name, user=self.user.rec_name))
        if (self.action == 'email' and self.email_template
                and self.email_template.model.name != rule.model):
            raise AutomationError(gettext(
                    'crm_kit_activity.msg_automation_template_model',
                    rule=rule.rec_name,
                    template=self.email_template.rec_name,
                    model=model_label(rule.model)))
        if self.action == 'stage' and rule.model != 'sale.opportunity':
            raise AutomationError(gettext(
                    'crm_kit_activity.msg_automation_stage_action_model',
                    rule=rule.rec_name))
        rule.check_loop()

    # Doing it: planned for each record (what cannot be done for one is
    # its error), then stored for all of them at once

    def execute(self, record, now, batch=None):
        """Do the action on record and say what was done; batch holds the
        records acted on together (see Batch)"""
        batch = batch or Batch(record.__class__, [record.id])
        plans, errors = self.plan([record], now, batch)
        if errors:
            raise errors[record.id]
        return self.store(plans)[record.id]

    def plan(self, records, now, batch):
        """What the action will do for each of records: ({record id: plan},
        {record id: the error why it cannot})"""
        plan = getattr(self, '_plan_%s' % self.action)
        plans, errors = {}, {}
        for record in records:
            try:
                plans[record.id] = plan(record, now, batch)
            except AutomationRunError as exception:
                errors[record.id] = exception
        return plans, errors

    def store(self, plans):
        """Do what plans say, for all their records at once; return what
        was done for each record"""
        if not plans:
            return {}
        return getattr(self, '_store_%s' % self.action)(plans)

    def _plan_activity(self, record, now, batch):
        owner = self.get_assignee(record, batch)
        links = batch.links()[record.id]
        due = due_after(now, self.due_days or 0, self.working_days,
            batch.company(record).timezone)
        due = due.replace(second=0, microsecond=0)
        subject, notes = self.texts_for(owner, record, batch)
        values = {
            'company': links['company'],
            'type': self.activity_type.id,
            'owner': owner.id,
            'subject': subject,
            'notes': notes,
            'due': due,
            'duration': self.activity_type.default_duration,
            'opportunity': links['opportunity'],
            'party': links['party'],
            }
        return values, owner

    def _store_activity(self, plans):
        pool = Pool()
        Activity = pool.get('crm.activity')
        Lang = pool.get('ir.lang')
        lang = Lang.get()
        by_company = defaultdict(list)
        for record_id, (values, owner) in plans.items():
            by_company[values['company']].append(record_id)
        done = {}
        # The due dates and owners of a pass are few: each written once
        due_text = functools.cache(
            lambda due: lang.strftime(due, lang.date + ' %H:%M'))
        for company, record_ids in by_company.items():
            with Transaction().set_context(company=company):
                Activity.create([plans[i][0] for i in record_ids])
            for record_id in record_ids:
                values, owner = plans[record_id]
                done[record_id] = gettext(
                    'crm_kit_activity.msg_automation_did_activity',
                    subject=values['subject'], user=owner.rec_name,
                    due=due_text(values['due']))
        return done

    def _plan_notify(self, record, now, batch):
        pool = Pool()
        Notification = pool.get('res.notification')
        user = self.get_assignee(record, batch)
        label, description = self.texts_for(user, record, batch)
        return Notification(
            user=user, label=label, description=description,
            icon='tryton-notification', model=record.__name__,
            records=json.dumps([record.id]))

    def _store_notify(self, plans):
        pool = Pool()
        Notification = pool.get('res.notification')
        Notification.save(list(plans.values()))
        return {record_id: gettext(
                'crm_kit_activity.msg_automation_did_notify',
                user=notification.user.rec_name)
            for record_id, notification in plans.items()}

    def _plan_email(self, record, now, batch):
        template = self.email_template
        values = template.get(record)
        to = values.get('to')
        if not to:
            raise AutomationRunError(gettext(
                    'crm_kit_activity.msg_automation_no_recipient',
                    template=template.rec_name, record=record.rec_name))
        return record, values

    def _store_email(self, plans):
        done = {}
        for record_id, (record, values) in plans.items():
            to = ', '.join(values['to'])
            send_background_email(
                to, values.get('subject', ''), values.get('body', ''),
                (record.__name__, record.id), reports=values.get('reports'))
            done[record_id] = gettext(
                'crm_kit_activity.msg_automation_did_email', to=to)
        return done

    def _plan_stage(self, record, now, batch):
        return record

    def _store_stage(self, plans):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        moved = [r for r in plans.values() if r.stage != self.stage]
        if moved:
            Opportunity.write(moved, {'stage': self.stage.id})
        text = gettext('crm_kit_activity.msg_automation_did_stage',
            stage=self.stage.rec_name)
        return dict.fromkeys(plans, text)

    def texts_for(self, user, record, batch):
        "The subject and message filled for record, in user's language"
        language = user.language.code if user.language else None
        return batch.texts(self, language)[record.id]

    def get_assignee(self, record, batch):
        """The active user the action is for, or a clear error; batch holds
        record (see Batch)"""
        if self.assignee == 'user':
            user = self.user
            if not user or not user.active:
                raise AutomationRunError(gettext(
                        'crm_kit_activity.msg_automation_user_missing',
                        user=user.rec_name if user else '-'))
            return user
        if self.assignee == 'owner':
            user = batch.owner(record)
        else:
            team = batch.team(record)
            user = team.manager if team else None
        if not user or not user.active:
            label = dict(self.fields_get(['assignee'])['assignee']['selection'])
            raise AutomationRunError(gettext(
                    'crm_kit_activity.msg_automation_no_assignee',
                    record=record.rec_name,
                    assignee=label[self.assignee]))
        return user


def check_placeholders(text, rule, action):
    try:
        name = unknown_placeholder(text, rule.model)
    except ValueError:
        raise AutomationError(gettext(
                'crm_kit_activity.msg_automation_bad_template',
                rule=rule.rec_name, text=text))
    if name:
        raise AutomationError(gettext(
                'crm_kit_activity.msg_automation_unknown_placeholder',
                rule=rule.rec_name, action=action.rec_name,
                placeholder=name, model=model_label(rule.model)))


class AutomationLog(ModelSQL, ModelView):
    "Automation Log"
    __name__ = 'crm.automation.log'
    __string__ = "Automation Log"

    rule = fields.Many2One(
        'crm.automation.rule', "Rule", required=True, ondelete='CASCADE',
        readonly=True)
    date = fields.DateTime("Date", readonly=True)
    record = fields.Reference(
        "Record", selection=[(None, '')] + MODELS, readonly=True)
    record_id = fields.Integer("Record ID", readonly=True)
    occurrence = fields.Char(
        "Occurrence", readonly=True,
        help="What the rule ran for: the date or last activity of a "
        "time-based rule, the event otherwise.")
    state = fields.Selection([
            ('done', "Done"),
            ('failed', "Failed"),
            ('skipped', "Skipped"),
            ], "State", readonly=True, sort=False)
    actions = fields.Text("Actions Taken", readonly=True)
    error = fields.Text("Error", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t,
                (t.rule, Index.Range()),
                (t.record_id, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return dt.datetime.now()
