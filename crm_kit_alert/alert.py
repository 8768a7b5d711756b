# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Customer alerts: rules an administrator defines ("overdue activity",
"no contact for 30 days"…) that raise an alert on each customer, lead,
opportunity or quote they match, shown where people work (an icon, a
count and a row colour in the lists, a line on the form) and told to the
responsible users as a pop-up and a notification.

The alerts are kept in a table, started and ended by the scheduler and by
the changes of the records, so that the lists read them in their own
query."""
import datetime as dt
import json
import logging
from collections import defaultdict
from pathlib import Path

import polib

from sql import Literal, Null
from sql.aggregate import Count
from sql.conditionals import Case, Coalesce, NullIf
from sql.operators import Exists

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from crm_kit.bulk import insert_rows
from crm_kit.pipeline import OPEN_STATES
from crm_kit.savepoint import savepoint
from crm_kit.search import search_ids
from crm_kit_activity.last_activity import ACTIVITIES, LAST_ACTIVITY
from crm_kit_activity.rule import (
    MODELS, Batch, condition_domain, date_window, error_message,
    fill_texts, model_label, no_activity_ahead, open_domain,
    unknown_placeholder)

logger = logging.getLogger(__name__)

SEVERITIES = [
    ('info', "Information"),
    ('warning', "Warning"),
    ('danger', "Danger"),
    ]
# What a rule looks at besides its condition
KINDS = [
    ('condition', "Condition Only"),
    ('overdue_activity', "Overdue Activity"),
    ('no_activity', "No Activity For Some Days"),
    ('stage_age', "In the Same Stage For Some Days"),
    ('date', "Date Approaching"),
    ('unassigned', "Unassigned For Some Hours"),
    ]
# The models each kind applies to (all when not listed)
KIND_MODELS = {
    'overdue_activity': {'sale.opportunity', 'party.party'},
    'no_activity': {'sale.opportunity', 'party.party'},
    'stage_age': {'sale.opportunity'},
    'unassigned': {'sale.opportunity'},
    }
# The models whose records have alerts
ALERTED_MODELS = {model for model, _ in MODELS}
# The worst first
SEVERITY_LEVELS = {'danger': 0, 'warning': 1, 'info': 2}
# How many records a summary of new alerts names
SUMMARY_NAMES = 3
# The messages of the shipped rules that named a deal or a quote by its
# number, in English and Spanish, by XML id: an update rewords those still
# unchanged (see reword_shipped_messages)
NUMBERED_MESSAGES = {
    'rule_overdue_activity': (
        "An activity of {rec_name} is overdue",
        "Una actividad de {rec_name} está vencida"),
    'rule_stuck_in_stage': (
        "{rec_name} has been in the stage {stage.rec_name} since "
        "{stage_date}",
        "{rec_name} lleva en la etapa {stage.rec_name} desde {stage_date}"),
    'rule_quote_expiring': (
        "The quote {rec_name} for {party.rec_name} expires on "
        "{quote_valid_until}",
        "El presupuesto {rec_name} para {party.rec_name} caduca el "
        "{quote_valid_until}"),
    'rule_high_value_unassigned': (
        "The lead {rec_name} ({amount}) has had no owner for an hour",
        "La oportunidad {rec_name} ({amount}) lleva una hora sin "
        "responsable"),
    }


class AlertError(ValidationError):
    pass


class AlertRule(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Alert Rule"
    __name__ = 'crm.alert.rule'
    __string__ = "Alert Rule"

    name = fields.Char("Name", required=True, translate=True)
    model = fields.Selection(
        MODELS, "Applies To", required=True, sort=False)
    kind = fields.Selection(
        KINDS, "When", required=True, sort=False,
        help="What the records must show, besides the condition, "
        "to raise the alert.")
    days = fields.Integer(
        "Days",
        domain=[If(Eval('kind').in_(['no_activity', 'stage_age', 'date']),
                ('days', '>=', 0), ())],
        states={
            'invisible': ~Eval('kind').in_(
                ['no_activity', 'stage_age', 'date']),
            'required': Eval('kind').in_(
                ['no_activity', 'stage_age', 'date']),
            },
        help="No activity or same stage: for how many days.\n"
        "Date: how many days before the date (0: on the day).")
    hours = fields.Integer(
        "Hours",
        domain=[If(Eval('kind') == 'unassigned', ('hours', '>=', 0), ())],
        states={
            'invisible': Eval('kind') != 'unassigned',
            'required': Eval('kind') == 'unassigned',
            },
        help="For how many hours since its creation it has had no owner.")
    field = fields.Many2One(
        'ir.model.field', "Date Field", ondelete='CASCADE',
        domain=[
            ('model', '=', Eval('model', '')),
            ('ttype', 'in', ['date', 'datetime']),
            ],
        states={
            'invisible': Eval('kind') != 'date',
            'required': Eval('kind') == 'date',
            })
    condition = fields.Char(
        "Condition",
        help="Only the records that match this domain, "
        'for example [["amount", ">=", 5000]]. Empty: all records.')
    severity = fields.Selection(
        SEVERITIES, "Severity", required=True, sort=False,
        help="Danger and warning colour the record's row red or orange.")
    icon = fields.Selection('list_icons', "Icon", required=True)
    message = fields.Text(
        "Message", required=True, translate=True,
        help="Shown on the record and in the notification; "
        "{field} or {field.subfield} is replaced by the record's value, "
        "for example {party.name}.")
    include_closed = fields.Boolean(
        "Include Closed Deals",
        states={
            'invisible': ((Eval('model') == 'party.party')
                & (Eval('kind') != 'overdue_activity')),
            },
        help="Also alert on won, lost and cancelled deals, "
        "and on the activities and quotes of those deals.")
    notify_owner = fields.Boolean(
        "Owner", help="Tell the owner of the record.")
    notify_team_manager = fields.Boolean(
        "Team Manager", help="Tell the manager of the record's team.")
    notify_group = fields.Many2One(
        'res.group', "Group", ondelete='SET NULL',
        help="Tell every user of this group.")
    alerts = fields.One2Many(
        'crm.alert', 'rule', "Alerts", readonly=True,
        order=[('start', 'DESC'), ('id', 'DESC')])
    last_check = fields.DateTime("Last Check", readonly=True)
    last_error = fields.Text(
        "Last Error", readonly=True,
        states={
            'invisible': ~Eval('last_error'),
            })

    _model_rules_cache = Cache('crm.alert.rule.model_rules', context=False)

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        cls.reword_shipped_messages(module)

    @classmethod
    def reword_shipped_messages(cls, module):
        """Give the shipped rules whose message still names the record by
        its number (NUMBERED_MESSAGES) the message of this release, in
        English and Spanish: the rules are data the administrators may
        edit (noupdate), which an update leaves alone, so the messages
        they changed are kept"""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Translation = pool.get('ir.translation')
        cursor = Transaction().connection.cursor()
        data = ModelData.__table__()
        table = cls.__table__()
        translation = Translation.__table__()
        cursor.execute(*data.select(data.fs_id, data.db_id,
                where=(data.module == module)
                & (data.model == cls.__name__)
                & data.fs_id.in_(list(NUMBERED_MESSAGES))))
        rows = cursor.fetchall()
        if not rows:
            return
        # This release's messages: the source strings of its es.po
        po = polib.pofile(str(Path(__file__).parent / 'locale' / 'es.po'))
        context = 'model:%s,message:' % cls.__name__
        messages = {e.msgctxt[len(context):]: (e.msgid, e.msgstr)
            for e in po if (e.msgctxt or '').startswith(context)}
        name = '%s,message' % cls.__name__
        for fs_id, db_id in rows:
            old, old_es = NUMBERED_MESSAGES[fs_id]
            new, new_es = messages[fs_id]
            cursor.execute(*table.select(table.id,
                    where=(table.id == db_id) & (table.message == old)))
            if not cursor.fetchall():
                continue
            cursor.execute(*table.update([table.message], [new],
                    where=table.id == db_id))
            where = ((translation.name == name)
                & (translation.res_id == db_id)
                & (translation.type == 'model'))
            cursor.execute(*translation.update(
                    [translation.src, translation.value], [new, new],
                    where=where & (translation.lang == 'en')
                    & (translation.value == old)))
            cursor.execute(*translation.update(
                    [translation.src, translation.value], [new, new_es],
                    where=where & (translation.lang == 'es')
                    & (translation.value == old_es)))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'check': {
                    'invisible': ~Eval('active', False),
                    'depends': ['active'],
                    },
                })

    @classmethod
    def default_model(cls):
        return 'sale.opportunity'

    @classmethod
    def default_kind(cls):
        return 'condition'

    @classmethod
    def default_severity(cls):
        return 'warning'

    @classmethod
    def default_icon(cls):
        return 'tryton-warning'

    @classmethod
    def default_include_closed(cls):
        return False

    @classmethod
    def default_notify_owner(cls):
        return True

    @classmethod
    def default_notify_team_manager(cls):
        return False

    @classmethod
    def list_icons(cls):
        pool = Pool()
        Flag = pool.get('crm.customer.flag')
        return Flag.list_icons()

    @fields.depends('kind', 'model', 'field')
    def on_change_model(self):
        if self.field and self.field.model != self.model:
            self.field = None

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        for rule in rules:
            rule.check_kind()
            rule.get_condition()
            rule.check_message()
            rule.check_audience()

    def check_kind(self):
        models = KIND_MODELS.get(self.kind)
        if models and self.model not in models:
            kinds = dict(self.fields_get(['kind'])['kind']['selection'])
            raise AlertError(gettext('crm_kit_alert.msg_alert_kind_model',
                    rule=self.rec_name, kind=kinds[self.kind],
                    model=model_label(self.model)))
        if (self.kind == 'date' and self.field
                and self.field.model != self.model):
            raise AlertError(gettext('crm_kit_alert.msg_alert_field_model',
                    rule=self.rec_name, field=self.field.field_description,
                    model=model_label(self.model)))

    def get_condition(self):
        "The condition as a domain; raise a clear error when it is not one"
        def error(reason):
            return AlertError(gettext(
                    'crm_kit_alert.msg_alert_invalid_condition',
                    rule=self.rec_name, condition=self.condition,
                    reason=reason))
        return condition_domain(self.model, self.condition, error)

    def check_message(self):
        try:
            name = unknown_placeholder(self.message or '', self.model)
        except ValueError:
            raise AlertError(gettext('crm_kit_alert.msg_alert_bad_message',
                    rule=self.rec_name, message=self.message))
        if name:
            raise AlertError(gettext(
                    'crm_kit_alert.msg_alert_unknown_placeholder',
                    rule=self.rec_name, placeholder=name,
                    model=model_label(self.model)))

    def check_audience(self):
        if not (self.notify_owner or self.notify_team_manager
                or self.notify_group):
            raise AlertError(gettext('crm_kit_alert.msg_alert_no_audience',
                    rule=self.rec_name))

    def get_domain(self, now):
        "The records that must have this rule's alert at now"
        if self.model == 'sale.opportunity' and self.include_closed:
            domain = []
        else:
            domain = open_domain(self.model)
        if self.kind == 'overdue_activity':
            overdue = [
                ('state', '=', 'planned'),
                ('due', '<', now),
                ]
            if self.model != 'sale.opportunity' and not self.include_closed:
                # The calls still planned of a deal won or lost are
                # nobody's work any more.
                overdue.append(['OR',
                        ('opportunity', '=', None),
                        ('opportunity.state', 'in', OPEN_STATES),
                        ])
            domain.append((ACTIVITIES[self.model], 'where', overdue))
        elif self.kind == 'no_activity':
            domain.append((LAST_ACTIVITY[self.model], '<=',
                    now - dt.timedelta(days=self.days)))
            domain.extend(no_activity_ahead(self.model, now))
        elif self.kind == 'stage_age':
            domain.append(
                ('stage_date', '<=', now - dt.timedelta(days=self.days)))
        elif self.kind == 'date':
            domain.extend(date_window(self.field, self.days, now))
        elif self.kind == 'unassigned':
            domain.extend([
                    ('owner', '=', None),
                    ('create_date', '<=',
                        now - dt.timedelta(hours=self.hours)),
                    ])
        if self.model == 'sale.sale' and not self.include_closed:
            # A quote left open on a deal won or lost is not followed up.
            domain.append(['OR',
                    ('origin', '=', None),
                    ('origin', 'not like', 'sale.opportunity,%'),
                    ('origin.state', 'in', OPEN_STATES, 'sale.opportunity'),
                    ])
        domain.extend(self.get_condition())
        return domain

    def matching(self, now, ids=None):
        "The ids of the records (among ids) that match the rule at now"
        pool = Pool()
        Model = pool.get(self.model)
        domain = self.get_domain(now)
        if ids is None:
            return set(search_ids(Model, domain, order=[]))
        result = set()
        for sub in grouped_slice(ids, 1000):
            result.update(search_ids(
                    Model, domain + [('id', 'in', list(sub))], order=[]))
        return result

    # Starting and ending the alerts

    @classmethod
    def check_alerts(cls, rules=None, now=None):
        """Cron: start the alerts of the records that now match a rule, end
        those that no longer do and bring back the snoozed ones"""
        pool = Pool()
        Dismissal = pool.get('crm.alert.dismissal')
        now = now or dt.datetime.now()
        started = []
        with without_check_access():
            if rules is None:
                rules = cls.search([], order=[('sequence', 'ASC')])
            for rule in rules:
                rule.last_check = now
                try:
                    with savepoint():
                        started.extend(rule.refresh(now=now))
                except Exception as exception:
                    # A rule that fails is told on its form and skipped:
                    # the other rules go on.
                    logger.exception("alert rule %d failed", rule.id)
                    rule.last_error = error_message(exception)
                else:
                    rule.last_error = None
            cls.save(rules)
            cls.queue_tell(started)
            Dismissal.bring_back(now)

    @classmethod
    @ModelView.button
    def check(cls, rules):
        "Look now for the records of the rules, as the scheduler does"
        cls.check_alerts([r for r in rules if r.active])

    @classmethod
    def model_rules(cls, model):
        """The (id, kind) of the active rules on model, cached: every save
        asks"""
        rules = cls._model_rules_cache.get(model)
        if rules is None:
            with without_check_access():
                rules = [(r.id, r.kind) for r in cls.search(
                        [('model', '=', model)],
                        order=[('sequence', 'ASC'), ('id', 'ASC')])]
            cls._model_rules_cache.set(model, rules)
        return rules

    @classmethod
    def refresh_records(cls, model, ids, kinds=None):
        """Start and end the alerts of these records after they changed,
        for the rules of kinds (all when None)"""
        ids = list(ids)
        rule_ids = [r for r, kind in cls.model_rules(model)
            if kinds is None or kind in kinds]
        if not ids or not rule_ids:
            return
        now = dt.datetime.now()
        started = []
        with without_check_access():
            for rule in cls.browse(rule_ids):
                try:
                    with savepoint():
                        started.extend(rule.refresh(ids=ids, now=now))
                except Exception:
                    # The user's save goes on; the scheduler's pass tells
                    # the failure on the rule.
                    logger.exception("alert rule %d failed", rule.id)
            cls.queue_tell(started)

    def refresh(self, ids=None, now=None):
        """Start the alerts of the records (among ids) that match the rule
        and have none, end the active ones of those that no longer match;
        return the alerts started"""
        pool = Pool()
        Alert = pool.get('crm.alert')
        now = now or dt.datetime.now()
        matching = self.matching(now, ids)
        domain = [('rule', '=', self.id), ('state', '=', 'active')]
        active = {}
        if ids is None:
            for alert in Alert.search(domain):
                active[alert.record_id] = alert
        else:
            for sub in grouped_slice(ids, 1000):
                for alert in Alert.search(
                        domain + [('record_id', 'in', list(sub))]):
                    active[alert.record_id] = alert
        ended = [a for i, a in active.items() if i not in matching]
        if ended:
            Alert.write(ended, {'state': 'ended', 'end': now})
        started = sorted(matching - active.keys())
        alerts = []
        for sub in grouped_slice(started, 1000):
            alerts.extend(self.start(list(sub), now))
        return alerts

    def start(self, ids, now):
        "Create and return the alerts of the records ids, shown at once"
        pool = Pool()
        Alert = pool.get('crm.alert')
        Recipient = pool.get('crm.alert-res.user')
        Model = pool.get(self.model)
        records = Model.browse(ids)
        batch = Batch(Model, ids)
        # Written by the rule, never typed, and a pass may start thousands:
        # stored in one statement each (see crm_kit.bulk).
        alert_ids = insert_rows(Alert, [{
                    'rule': self.id,
                    'record_model': self.model,
                    'record_id': r.id,
                    'party': batch.links()[r.id]['party'],
                    'start': now,
                    'state': 'active',
                    } for r in records])
        insert_rows(Recipient, [{'alert': alert_id, 'user': user.id}
                for alert_id, record in zip(alert_ids, records)
                for user in self.get_audience(record, batch)])
        return Alert.browse(alert_ids)

    @classmethod
    def queue_tell(cls, alerts):
        """Have the queue worker tell the audience of alerts, once the
        change or the pass that started them is committed: one task for
        them all, so that each user is told once (see notify)"""
        pool = Pool()
        Alert = pool.get('crm.alert')
        if alerts:
            # Their rule alone read: the alerts were just stored
            rule_ids = {a['rule'] for a in Alert.read(
                        [a.id for a in alerts], ['rule'])}
            cls.__queue__.tell_started(
                cls.browse(sorted(rule_ids)), [a.id for a in alerts])

    @classmethod
    def tell_started(cls, rules, alert_ids):
        """Queue task: tell the audience of the alerts of alert_ids that
        are still active (see notify)"""
        pool = Pool()
        Alert = pool.get('crm.alert')
        with without_check_access():
            alerts = Alert.search([
                    ('id', 'in', alert_ids),
                    ('state', '=', 'active'),
                    ], order=[('id', 'ASC')])
            if alerts:
                cls.notify(alerts)

    def get_audience(self, record, batch):
        """The active users this rule tells about record; batch holds
        record (see Batch)"""
        users = set()
        if self.notify_owner:
            users.add(batch.owner(record))
        if self.notify_team_manager:
            team = batch.team(record)
            users.add(team.manager if team else None)
        if self.notify_group:
            users.update(self.notify_group.users)
        return sorted((u for u in users if u and u.active),
            key=lambda u: u.id)

    @classmethod
    def notify(cls, alerts):
        """Tell each recipient, in their language, with a pop-up and an
        entry in their notifications: the rule and its message for one
        alert, a summary naming the first records when a pass or a change
        starts several for them"""
        pool = Pool()
        Notification = pool.get('res.notification')
        by_user = defaultdict(list)
        for alert in alerts:
            for user in alert.recipients:
                by_user[user].append(alert)
        # The texts of each rule, filled at once for the records of the
        # alerts told alone
        alone = defaultdict(list)
        for user_alerts in by_user.values():
            if len(user_alerts) == 1:
                alert, = user_alerts
                alone[alert.rule].append(alert.record_id)
        batches = {rule: Batch(pool.get(rule.model), ids)
            for rule, ids in alone.items()}
        notifications = []
        for user, user_alerts in sorted(
                by_user.items(), key=lambda i: i[0].id):
            language = user.language.code if user.language else None
            if len(user_alerts) == 1:
                alert, = user_alerts
                rule = alert.rule
                label, description = batches[rule].texts(
                    rule, language, names=('name', 'message'))[
                    alert.record_id]
                notifications.append(Notification(
                        user=user, label=label,
                        description=description[:250],
                        icon=rule.icon, model=alert.record_model,
                        records=json.dumps([alert.record_id])))
            else:
                notifications.append(
                    cls._summary(user, user_alerts, language))
        Notification.save(notifications)

    @classmethod
    def _summary(cls, user, alerts, language):
        """The one notification that tells user of alerts: how many, the
        names of the first records, and all of them to open"""
        pool = Pool()
        Lang = pool.get('ir.lang')
        Notification = pool.get('res.notification')
        rules = sorted({a.rule for a in alerts},
            key=lambda r: (SEVERITY_LEVELS[r.severity], r.sequence or 0,
                r.id))
        models = {a.record_model for a in alerts}
        names = []
        with Transaction().set_context(language=language):
            for alert in alerts:
                record = pool.get(alert.record_model)(alert.record_id)
                name = record_name(record)
                if name not in names:
                    names.append(name)
                if len(names) > SUMMARY_NAMES:
                    break
            names = ', '.join(names[:SUMMARY_NAMES]) + (
                '…' if len(names) > SUMMARY_NAMES else '')
            if len(rules) == 1:
                label = rules[0].__class__(rules[0].id).rec_name
            else:
                label = gettext('crm_kit_alert.msg_alert_new_alerts')
            description = gettext('crm_kit_alert.msg_alert_started_many',
                count=Lang.get().format('%d', len(alerts), grouping=True),
                names=names)
        if len(models) == 1:
            # The records themselves, with their alerts' icons
            model, = models
            records = list(dict.fromkeys(a.record_id for a in alerts))
        else:
            model, records = 'crm.alert', [a.id for a in alerts]
        return Notification(
            user=user, label=label, description=description[:250],
            icon=rules[0].icon, model=model, records=json.dumps(records))

    @classmethod
    def on_modification(cls, mode, rules, field_names=None):
        pool = Pool()
        Alert = pool.get('crm.alert')
        super().on_modification(mode, rules, field_names=field_names)
        cls._model_rules_cache.clear()
        if mode == 'write':
            # What the rule looks at has changed: its alerts start afresh
            # at the next pass.
            changed = {'model', 'kind', 'days', 'hours', 'field', 'condition',
                'include_closed', 'active'}
            if field_names is None or changed & set(field_names):
                with without_check_access():
                    Alert.write(Alert.search([
                                ('rule', 'in', [r.id for r in rules]),
                                ('state', '=', 'active'),
                                ]), {
                            'state': 'ended',
                            'end': dt.datetime.now(),
                            })

    @classmethod
    def copy(cls, rules, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('alerts')
        default.setdefault('last_check')
        default.setdefault('last_error')
        return super().copy(rules, default=default)


def record_name(record):
    """How people call the record an alert is about: its customer (before
    there is one, the lead's company or contact, else what the deal is
    about), not its number"""
    if record.__name__ == 'party.party':
        return record.rec_name
    if record.party:
        return record.party.rec_name
    # lead_company and lead_name: crm_kit_lead's, when it is activated
    for name in ['lead_company', 'lead_name', 'description']:
        value = getattr(record, name, None)
        if value:
            return value
    return record.rec_name


class Alert(ModelSQL, ModelView):
    "Alert"
    __name__ = 'crm.alert'
    __string__ = "Alert"

    rule = fields.Many2One(
        'crm.alert.rule', "Rule", required=True, readonly=True,
        ondelete='CASCADE')
    record_model = fields.Selection(
        MODELS, "Applies To", required=True, readonly=True)
    record_id = fields.Integer("Record ID", required=True, readonly=True)
    record = fields.Function(
        fields.Reference("Record", selection=MODELS), 'get_record',
        searcher='search_record')
    party = fields.Many2One(
        'party.party', "Customer", readonly=True, ondelete='CASCADE')
    severity = fields.Function(
        fields.Selection(SEVERITIES, "Severity"), 'get_rule_field',
        searcher='search_rule_field')
    icon = fields.Function(
        fields.Selection('list_icons', "Icon"), 'get_rule_field')
    message = fields.Function(fields.Text("Message"), 'get_message')
    start = fields.DateTime("Since", required=True, readonly=True)
    end = fields.DateTime("Ended", readonly=True)
    state = fields.Selection([
            ('active', "Active"),
            ('ended', "Ended"),
            ], "State", required=True, readonly=True, sort=False)
    recipients = fields.Many2Many(
        'crm.alert-res.user', 'alert', 'user', "Told", readonly=True)
    dismissals = fields.One2Many(
        'crm.alert.dismissal', 'alert', "Dismissals", readonly=True)
    mine = fields.Function(
        fields.Boolean("For Me"), 'get_mine', searcher='search_mine')
    dismissed = fields.Function(
        fields.Boolean(
            "Dismissed",
            help="Acknowledged or snoozed by the current user."),
        'get_dismissed', searcher='search_dismissed')
    snoozed_until = fields.Function(
        fields.DateTime("Snoozed Until"), 'get_snoozed_until')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                # The lists read the active alerts of their rows.
                Index(t, (t.record_model, Index.Equality()),
                    (t.record_id, Index.Range()),
                    where=t.state == 'active'),
                Index(t, (t.rule, Index.Range()), (t.state, Index.Equality())),
                Index(t, (t.party, Index.Range())),
                })
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'acknowledge': {
                    'invisible': ((Eval('state') != 'active')
                        | (Bool(Eval('dismissed'))
                            & ~Eval('snoozed_until'))),
                    'depends': ['state', 'dismissed', 'snoozed_until'],
                    },
                'snooze': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                'restore': {
                    'invisible': ~Eval('dismissed'),
                    'depends': ['dismissed'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'active'

    @classmethod
    def list_icons(cls):
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        return Rule.list_icons()

    def get_rec_name(self, name):
        return self.rule.rec_name

    def get_record(self, name):
        pool = Pool()
        Model = pool.get(self.record_model)
        with without_check_access():
            if Model.search([('id', '=', self.record_id)],
                    count=True, limit=1):
                return '%s,%s' % (self.record_model, self.record_id)

    @classmethod
    def search_record(cls, name, clause):
        "record = 'model,id' or ('model', id)"
        _, operator, value = clause[:3]
        if not value:
            # Every alert has its record (deleted with it).
            return [('id', '=' if operator == '=' else '!=', None)]
        if isinstance(value, str):
            model, _, id_ = value.partition(',')
            value = (model, int(id_) if id_.isdigit() else -1)
        domain = [
            ('record_model', '=', value[0]),
            ('record_id', '=', value[1]),
            ]
        return domain if operator == '=' else ['NOT', domain]

    def get_rule_field(self, name):
        return getattr(self.rule, name)

    @classmethod
    def search_rule_field(cls, name, clause):
        return [('rule.' + clause[0],) + tuple(clause[1:])]

    @classmethod
    def get_message(cls, alerts, name):
        "The rule's message for the record, in the reader's language"
        pool = Pool()
        messages = {}
        by_model = defaultdict(list)
        for alert in alerts:
            by_model[alert.record_model].append(alert)
        with without_check_access():
            for model, model_alerts in by_model.items():
                Model = pool.get(model)
                # The ids alone: a search would fetch every column
                existing = set(search_ids(Model, [
                            ('id', 'in', [a.record_id for a in model_alerts]),
                            ], order=[]))
                # Each message filled for all its records at once
                by_message = defaultdict(list)
                for alert in model_alerts:
                    if alert.record_id in existing:
                        by_message[alert.rule.message].append(alert)
                    else:
                        messages[alert.id] = alert.rule.message
                for message, message_alerts in by_message.items():
                    filled = fill_texts(
                        Model, [a.record_id for a in message_alerts],
                        [message])
                    for alert in message_alerts:
                        messages[alert.id] = filled[alert.record_id][0]
        return messages

    @classmethod
    def get_mine(cls, alerts, name):
        user = Transaction().user
        return {a.id: user in {u.id for u in a.recipients} for a in alerts}

    @classmethod
    def search_mine(cls, name, clause):
        _, operator, value = clause[:3]
        mine = (operator == '=') == bool(value)
        user = Transaction().user
        return [('recipients', '=' if mine else '!=', user)]

    @classmethod
    def _my_dismissals(cls, alerts):
        pool = Pool()
        Dismissal = pool.get('crm.alert.dismissal')
        result = {}
        with without_check_access():
            for sub in grouped_slice([a.id for a in alerts], 1000):
                for dismissal in Dismissal.search([
                            ('alert', 'in', list(sub)),
                            ('user', '=', Transaction().user),
                            ]):
                    if dismissal.in_force():
                        result[dismissal.alert.id] = dismissal
        return result

    @classmethod
    def get_dismissed(cls, alerts, name):
        dismissals = cls._my_dismissals(alerts)
        return {a.id: a.id in dismissals for a in alerts}

    @classmethod
    def get_snoozed_until(cls, alerts, name):
        dismissals = cls._my_dismissals(alerts)
        return {a.id: dismissals[a.id].until if a.id in dismissals else None
            for a in alerts}

    @classmethod
    def search_dismissed(cls, name, clause):
        _, operator, value = clause[:3]
        dismissed = (operator == '=') == bool(value)
        table = cls.__table__()
        query = table.select(table.id,
            where=dismissed_by(table.id, Transaction().user))
        return [('id', 'in' if dismissed else 'not in', query)]

    @classmethod
    @ModelView.button
    def acknowledge(cls, alerts):
        "Hide the alerts for the current user until they start again"
        pool = Pool()
        Dismissal = pool.get('crm.alert.dismissal')
        Dismissal.dismiss(alerts, None)

    @classmethod
    @ModelView.button_action('crm_kit_alert.wizard_alert_snooze')
    def snooze(cls, alerts):
        pass

    @classmethod
    @ModelView.button
    def restore(cls, alerts):
        "Show again the alerts the current user dismissed"
        pool = Pool()
        Dismissal = pool.get('crm.alert.dismissal')
        with without_check_access():
            Dismissal.delete(Dismissal.search([
                        ('alert', 'in', [a.id for a in alerts]),
                        ('user', '=', Transaction().user),
                        ]))


def dismissed_by(alert_column, user, now=None):
    "SQL: the alert is acknowledged or snoozed by user at now"
    pool = Pool()
    Dismissal = pool.get('crm.alert.dismissal')
    dismissal = Dismissal.__table__()
    now = now or dt.datetime.now()
    return Exists(dismissal.select(dismissal.id,
            where=(dismissal.alert == alert_column)
            & (dismissal.user == user)
            & ((dismissal.until == Null) | (dismissal.until > now))))


class AlertRecipient(ModelSQL):
    "Alert Recipient"
    __name__ = 'crm.alert-res.user'
    __string__ = "Alert Recipient"

    alert = fields.Many2One(
        'crm.alert', "Alert", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.user, Index.Range()), (t.alert, Index.Range())))


class AlertDismissal(ModelSQL, ModelView):
    "Alert Dismissal"
    __name__ = 'crm.alert.dismissal'
    __string__ = "Alert Dismissal"

    alert = fields.Many2One(
        'crm.alert', "Alert", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE',
        readonly=True)
    until = fields.DateTime(
        "Snoozed Until",
        help="Empty: acknowledged, hidden until the alert starts again.")
    brought_back = fields.Boolean("Brought Back", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.alert, Index.Range()), (t.user, Index.Range())),
                Index(t, (t.until, Index.Range()),
                    where=t.brought_back == Literal(False)),
                })

    @classmethod
    def default_user(cls):
        return Transaction().user

    @classmethod
    def default_brought_back(cls):
        return False

    def in_force(self, now=None):
        now = now or dt.datetime.now()
        return self.until is None or self.until > now

    @classmethod
    def validate_fields(cls, dismissals, field_names):
        super().validate_fields(dismissals, field_names)
        if field_names and 'until' not in field_names:
            return
        now = dt.datetime.now()
        for dismissal in dismissals:
            if dismissal.until and dismissal.until <= now \
                    and not dismissal.brought_back:
                raise AlertError(gettext('crm_kit_alert.msg_alert_snooze_past',
                        alert=dismissal.alert.rec_name))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # One's own: acknowledged or snoozed for oneself only.
            values['user'] = Transaction().user
        return values

    @classmethod
    def on_modification(cls, mode, dismissals, field_names=None):
        super().on_modification(mode, dismissals, field_names=field_names)
        if mode == 'create':
            # The last word counts: a snooze replaces an acknowledgement.
            with without_check_access():
                older = cls.search([
                        ('alert', 'in', [d.alert.id for d in dismissals]),
                        ('user', 'in', [d.user.id for d in dismissals]),
                        ('id', 'not in', [d.id for d in dismissals]),
                        ])
                cls.delete([d for d in older
                        if any(d.alert == n.alert and d.user == n.user
                            for n in dismissals)])

    @classmethod
    def dismiss(cls, alerts, until):
        "Acknowledge (until None) or snooze alerts for the current user"
        cls.create([{'alert': a.id, 'until': until} for a in alerts])

    @classmethod
    def bring_back(cls, now):
        """Tell the users whose snooze of an alert still active has ended:
        the alert is back"""
        pool = Pool()
        Notification = pool.get('res.notification')
        ended = cls.search([
                ('until', '<=', now),
                ('brought_back', '=', False),
                ])
        notifications = []
        for dismissal in ended:
            alert = dismissal.alert
            if alert.state != 'active':
                continue
            user = dismissal.user
            language = user.language.code if user.language else None
            with Transaction().set_context(language=language):
                alert = alert.__class__(alert.id)
                notifications.append(Notification(
                        user=user, label=alert.rule.rec_name,
                        description=(alert.message or '')[:250],
                        icon=alert.rule.icon, model=alert.record_model,
                        records=json.dumps([alert.record_id])))
        Notification.save(notifications)
        cls.write(ended, {'brought_back': True})


class AlertSnoozeStart(ModelView):
    "Snooze Alert"
    __name__ = 'crm.alert.snooze.start'
    __string__ = "Snooze Alert"

    until = fields.DateTime(
        "Until", required=True,
        help="The alert is hidden for you until then.")

    @classmethod
    def default_until(cls):
        # Tomorrow morning, when the day's work starts again.
        tomorrow = dt.date.today() + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, dt.time(8, 0))


class AlertSnooze(Wizard):
    "Snooze Alert"
    __name__ = 'crm.alert.snooze'
    start = StateView('crm.alert.snooze.start',
        'crm_kit_alert.alert_snooze_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Snooze", 'snooze', 'tryton-ok', default=True),
            ])
    snooze = StateTransition()

    def transition_snooze(self):
        pool = Pool()
        Dismissal = pool.get('crm.alert.dismissal')
        Dismissal.dismiss(
            [r for r in self.records if r.state == 'active'],
            self.start.until)
        return 'end'


def alert_column(table, model, name):
    """The SQL value, for the list row of record table.id of model, of the
    active alerts the current user has not dismissed: the icon or the
    severity of the most severe one, or their number"""
    pool = Pool()
    Alert = pool.get('crm.alert')
    Rule = pool.get('crm.alert.rule')
    alert = Alert.__table__()
    rule = Rule.__table__()
    where = ((alert.record_model == model)
        & (alert.record_id == table.id)
        & (alert.state == 'active')
        & ~dismissed_by(alert.id, Transaction().user))
    if name == 'count':
        query = alert.select(Count(alert.id), where=where)
        return NullIf(query, 0)
    level = Case(
        (rule.severity == 'danger', 3),
        (rule.severity == 'warning', 2),
        else_=1)
    query = alert.join(rule, condition=alert.rule == rule.id).select(
        getattr(rule, name), where=where,
        order_by=[level.desc, rule.sequence.asc.nulls_last, alert.id.asc],
        limit=1)
    # Parenthesised when a domain compares it (see top_flag_column).
    return Coalesce(query, Null)


def alert_summary(record):
    "The messages of the record's alerts the user has not dismissed"
    pool = Pool()
    Alert = pool.get('crm.alert')
    with without_check_access():
        alerts = Alert.search([
                ('record_model', '=', record.__name__),
                ('record_id', '=', record.id),
                ('state', '=', 'active'),
                ('dismissed', '=', False),
                ])
        alerts.sort(key=lambda a: (SEVERITY_LEVELS[a.rule.severity],
                a.rule.sequence or 0, a.id))
        return ' · '.join(a.message for a in alerts)


def row_visual(flag_colour):
    "The colour of a list row: the worst alert's, else the customer flag's"
    severity = Eval('crm_alert_severity', '')
    return If(severity == 'danger', 'danger',
        If(severity == 'warning', 'warning', flag_colour))


class AlertedMixin:
    "The alerts of a record, for its list row and its form"
    __slots__ = ()

    crm_alert_icon = fields.Function(
        fields.Selection('list_alert_icons', "Alert Icon"))
    crm_alert_severity = fields.Function(
        fields.Selection([(None, '')] + SEVERITIES, "Alert Severity"))
    crm_alert_count = fields.Function(
        fields.Integer(
            "Alerts", help="The active alerts you have not dismissed."))
    crm_alert_summary = fields.Function(
        fields.Char("Alerts"), 'get_crm_alert_summary')

    @classmethod
    def list_alert_icons(cls):
        pool = Pool()
        Rule = pool.get('crm.alert.rule')
        return [(None, '')] + Rule.list_icons()

    @classmethod
    def column_crm_alert_icon(cls, tables):
        table, _ = tables[None]
        return alert_column(table, cls.__name__, 'icon')

    @classmethod
    def column_crm_alert_severity(cls, tables):
        table, _ = tables[None]
        return alert_column(table, cls.__name__, 'severity')

    @classmethod
    def column_crm_alert_count(cls, tables):
        table, _ = tables[None]
        return alert_column(table, cls.__name__, 'count')

    def get_crm_alert_summary(self, name):
        return alert_summary(self)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('//group[@id="crm_alerts"]', 'states', {
                    'invisible': ~Eval('crm_alert_summary'),
                    }),
            ]
