# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Webhooks: the CRM tells other programs what happens in it.

An event (a lead created, a deal won…, told by crm.event: see event.py)
is one task of Tryton's queue, queued in the transaction that made it: the
queue worker runs it once that transaction is committed (nothing is sent
for work that is rolled back), and the user's request does not wait for
it.  The task makes one delivery per active hook that listens to the
event and record, with the record as the REST API returns it, signed with
HMAC-SHA256; a delivery that fails is retried with exponential backoff by
the scheduler.  Each
attempt is logged; a hook that keeps failing is switched off and the CRM
administrators are told."""
import datetime as dt
import hashlib
import hmac
import http.client
import json
import secrets
import time
from collections import defaultdict

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Workflow, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONEncoder
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from crm_kit import outbound
from crm_kit.public import is_web_url
from crm_kit.secret import secret_fields, show_once, shown

EVENTS = [
    ('lead.created', "Lead created"),
    ('lead.assigned', "Lead assigned"),
    ('opportunity.stage_changed', "Opportunity stage changed"),
    ('opportunity.won', "Opportunity won"),
    ('opportunity.lost', "Opportunity lost"),
    ('activity.created', "Activity created"),
    ('activity.done', "Activity done"),
    ('document.uploaded', "Document uploaded"),
    ('customer.created', "Customer created"),
    ('customer.updated', "Customer updated"),
    ]
TEST_EVENT = ('webhook.test', "Test event")

# The headers of a delivery (documented in the README).
SIGNATURE_HEADER = 'X-CRM-Kit-Signature'
TIMESTAMP_HEADER = 'X-CRM-Kit-Timestamp'
EVENT_HEADER = 'X-CRM-Kit-Event'
DELIVERY_HEADER = 'X-CRM-Kit-Delivery'

TIMEOUT = 10  # seconds a receiver has to answer
FIRST_RETRY = dt.timedelta(minutes=1)  # then 2, 4, 8… minutes
MAX_ATTEMPTS = 8  # of one delivery, about four hours of retries
# Kept of the answer's body in the log, for the receiver's error message;
# no more, as the log is no place for what a receiver answers.
RESPONSE_EXCERPT = 200


def sign(secret, timestamp, body):
    "The signature of body sent at timestamp: hex HMAC-SHA256"
    message = str(timestamp).encode() + b'.' + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Webhook(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'crm.webhook'
    __string__ = "Webhook"

    name = fields.Char("Name", required=True)
    url = fields.Char(
        "URL", required=True,
        help="Where the events are sent, by POST, as JSON.")
    events = fields.MultiSelection(
        EVENTS, "Events", help="What the hook is told about.")
    # Nobody reads it once stored (field access): new_secret shows it once.
    secret = fields.Char("Secret", required=True, strip=False)
    new_secret = fields.Function(fields.Char(
            "Secret", strip=False,
            help="Signs each delivery (header %s); the receiver checks "
            "the signature with it. Copy it now: once saved it is never "
            "shown again. Type a new one to replace it." % SIGNATURE_HEADER),
        'get_new_secret', setter='set_new_secret')
    max_failures = fields.Integer(
        "Failures Before Switching Off", required=True,
        domain=[('max_failures', '>=', 1)],
        help="After this many failed attempts in a row the hook is "
        "switched off and the CRM administrators are told.")
    failures = fields.Integer(
        "Failures in a Row", readonly=True,
        help="Failed attempts since the last delivered one.")
    deliveries = fields.One2Many(
        'crm.webhook.delivery', 'webhook', "Deliveries", readonly=True)

    _active_hooks = Cache('crm.webhook.active_hooks', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'send_test': {
                    'invisible': ~Eval('active', False),
                    'depends': ['active'],
                    },
                })

    @classmethod
    def default_secret(cls):
        return secrets.token_urlsafe(32)

    @classmethod
    def default_new_secret(cls):
        return cls.default_secret()

    def get_new_secret(self, name):
        return shown(self)

    @classmethod
    def set_new_secret(cls, hooks, name, value):
        if not value:
            return
        for hook in hooks:
            show_once(hook, value)
        # Nobody may write the secret field, this is how it is written.
        with without_check_access():
            cls.write(hooks, {'secret': value})

    @classmethod
    def default_max_failures(cls):
        return 10

    @classmethod
    def default_failures(cls):
        return 0

    @classmethod
    def validate_fields(cls, hooks, field_names):
        super().validate_fields(hooks, field_names)
        if field_names & {'url', 'secret'}:
            for hook in hooks:
                if not is_web_url(hook.url):
                    raise ValidationError(gettext(
                            'crm_kit_api.msg_webhook_url',
                            url=hook.url, webhook=hook.rec_name))
                try:
                    outbound.check(hook.url)
                except outbound.PrivateAddress as refused:
                    raise ValidationError(gettext(
                            'crm_kit_api.msg_webhook_private_address',
                            url=hook.url, webhook=hook.rec_name,
                            address=refused.address))
                if len(hook.secret or '') < 16:
                    raise ValidationError(gettext(
                            'crm_kit_api.msg_webhook_secret',
                            webhook=hook.rec_name))

    @classmethod
    def create(cls, vlist):
        cls._active_hooks.clear()
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            # The secret of a new hook is shown once, as new_secret.
            if not values.get('new_secret'):
                values['new_secret'] = cls.default_secret()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        cls._active_hooks.clear()
        actions = iter(args)
        args = []
        for hooks, values in zip(actions, actions):
            if values.get('active'):
                # Switched on again: count the failures from now on.
                values = dict(values, failures=0)
            args.extend((hooks, values))
        super().write(*args)

    @classmethod
    def delete(cls, hooks):
        cls._active_hooks.clear()
        super().delete(hooks)

    @classmethod
    def copy(cls, hooks, default=None):
        default = dict(default or {})
        default.setdefault('deliveries')
        default.setdefault('failures', 0)
        # A copy signs with a secret of its own (create makes it).
        default.setdefault('secret', None)
        default.setdefault('new_secret', None)
        return super().copy(hooks, default=default)

    @classmethod
    def listening(cls, event):
        "The ids of the active hooks that listen to event"
        hooks = cls._active_hooks.get(None)
        if hooks is None:
            hooks = defaultdict(list)
            # Whoever makes the event, even without access to the hooks.
            with without_check_access(), \
                    Transaction().set_context(active_test=True):
                for hook in cls.search([]):
                    for hook_event in hook.events or []:
                        hooks[hook_event].append(hook.id)
            hooks = cls._active_hooks.set(None, dict(hooks))
        return hooks.get(event, [])

    @classmethod
    def trigger(cls, event, records):
        """Queue event for records (of one model) to the hooks that listen
        to it: one task, which makes and sends their deliveries once the
        transaction is committed"""
        hook_ids = cls.listening(event)
        if not hook_ids or not records:
            return
        occurred = dt.datetime.now(dt.timezone.utc).isoformat(
            timespec='seconds')
        with without_check_access():
            cls.__queue__.deliver_event(cls.browse(hook_ids), event,
                records[0].__name__, [r.id for r in records], occurred)

    @classmethod
    def deliver_event(cls, hooks, event, model, ids, occurred=None):
        """Queue task: the deliveries of event, which occurred then to the
        records of model ids, to hooks, made and sent; the records deleted
        since are left out"""
        pool = Pool()
        Delivery = pool.get('crm.webhook.delivery')
        Model = pool.get(model)
        with without_check_access(), \
                Transaction().set_context(active_test=False):
            records = Model.search(
                [('id', 'in', ids)], order=[('id', 'ASC')])
            if not records:
                return
            bodies = Delivery.payloads(event, records, occurred)
            deliveries = Delivery.create([{
                        'webhook': hook.id,
                        'event': event,
                        'resource': str(record),
                        'body': body,
                        } for hook in hooks
                    for record, body in zip(records, bodies)])
            Delivery.send(deliveries)

    @classmethod
    @ModelView.button
    def send_test(cls, hooks):
        "Send a test event now, and show the attempt in the log"
        pool = Pool()
        Delivery = pool.get('crm.webhook.delivery')
        deliveries = Delivery.create([{
                    'webhook': hook.id,
                    'event': TEST_EVENT[0],
                    'resource': str(hook),
                    'body': Delivery.payload(TEST_EVENT[0], hook),
                    } for hook in hooks])
        Delivery.send(deliveries)

    def failed(self, delivery):
        "Count a failed attempt; switch the hook off after max_failures"
        self.failures = (self.failures or 0) + 1
        if self.active and self.failures >= self.max_failures:
            self.active = False
            self.notify_switched_off(delivery)
        self.save()

    def delivered(self):
        if self.failures:
            self.failures = 0
            self.save()

    def notify_switched_off(self, delivery):
        "Tell the CRM administrators, in their language"
        pool = Pool()
        Notification = pool.get('res.notification')
        ModelData = pool.get('ir.model.data')
        Group = pool.get('res.group')
        group = Group(ModelData.get_id('crm_kit', 'group_crm_admin'))
        notifications = []
        for user in sorted(group.users, key=lambda u: u.id):
            if not user.active:
                continue
            language = user.language.code if user.language else None
            with Transaction().set_context(language=language):
                notifications.append(Notification(
                        user=user,
                        label=gettext(
                            'crm_kit_api.msg_webhook_switched_off',
                            webhook=self.name),
                        description=gettext(
                            'crm_kit_api.msg_webhook_switched_off_why',
                            failures=self.failures,
                            error=(delivery.last_error or '')[:150]),
                        icon='tryton-warning',
                        model=self.__name__,
                        records=json.dumps([self.id])))
        Notification.save(notifications)


class WebhookDelivery(Workflow, ModelSQL, ModelView):
    "A delivery of an event to a hook, with its attempts"
    __name__ = 'crm.webhook.delivery'
    __string__ = "Webhook Delivery"

    webhook = fields.Many2One(
        'crm.webhook', "Webhook", required=True, ondelete='CASCADE',
        readonly=True)
    event = fields.Selection(
        EVENTS + [TEST_EVENT], "Event", required=True, readonly=True)
    resource = fields.Reference(
        "Record", selection='get_resources', readonly=True)
    body = fields.Text("Body", readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('retrying', "Retrying"),
            ('delivered', "Delivered"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    next_attempt = fields.Timestamp("Next Attempt", readonly=True)
    attempts = fields.One2Many(
        'crm.webhook.attempt', 'delivery', "Attempts", readonly=True)
    attempt_count = fields.Integer("Attempts", readonly=True)
    last_error = fields.Char("Last Error", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('id', 'DESC'))
        cls._transitions |= {
            ('pending', 'delivered'),
            ('pending', 'retrying'),
            ('pending', 'failed'),
            ('retrying', 'delivered'),
            ('retrying', 'failed'),
            ('failed', 'retrying'),
            }
        cls._buttons.update({
                'retry': {
                    'invisible': Eval('state') != 'failed',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_attempt_count(cls):
        return 0

    @classmethod
    def get_resources(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        models = ['sale.opportunity', 'party.party', 'crm.activity',
            'crm.document', 'crm.webhook']
        # Those of the modules not activated are left out.
        names = {n for n, _ in pool.iterobject()}
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models
            if m in names]

    @classmethod
    def payload(cls, event, record):
        "The JSON body of event for record, now"
        return cls.payloads(event, [record])[0]

    @classmethod
    def payloads(cls, event, records, occurred=None):
        """The JSON body of event, which occurred then (now when None), for
        each of records (of one model): the record with the fields the
        REST API reads, as stored now, encoded as the REST API encodes
        them"""
        Model = records[0].__class__
        names = cls._payload_fields(Model)
        with without_check_access():
            rows = {r['id']: r for r in Model.read(
                    [r.id for r in records], names)}
        occurred = occurred or dt.datetime.now(dt.timezone.utc).isoformat(
            timespec='seconds')
        result = []
        for record in records:
            values = rows[record.id]
            values['__name__'] = Model.__name__
            result.append(json.dumps({
                        'event': event,
                        'database': Transaction().database.name,
                        'created': occurred,
                        'model': Model.__name__,
                        'record': values,
                        }, cls=JSONEncoder, separators=(',', ':')))
        return result

    @classmethod
    def _payload_fields(cls, Model):
        "Every field but files, lists of other records and secrets"
        hidden = secret_fields(Model.__name__)
        return sorted(name for name, field in Model._fields.items()
            if field._type not in {'binary', 'one2many', 'many2many'}
            and not name.startswith('_')
            and name not in {'create_uid', 'write_uid'}
            and name not in hidden
            and not (isinstance(field, fields.Function)
                and field.setter and name.startswith('new_')))

    @classmethod
    def send(cls, deliveries):
        "Queue task and scheduler pass: make an attempt at each delivery"
        for delivery in deliveries:
            if delivery.state in {'pending', 'retrying'}:
                delivery.attempt()

    @classmethod
    def send_due(cls):
        "Scheduler: the retries whose time has come"
        now = dt.datetime.now()
        cls.send(cls.search([
                    ('state', '=', 'retrying'),
                    ('next_attempt', '<=', now),
                    ('webhook.active', '=', True),
                    ], order=[('next_attempt', 'ASC')]))

    @classmethod
    @ModelView.button
    @Workflow.transition('retrying')
    def retry(cls, deliveries):
        "Try a failed delivery again at the next scheduler pass"
        cls.write(deliveries, {
                'next_attempt': dt.datetime.now(),
                'attempt_count': 0,
                })

    def attempt(self):
        "POST the body, signed; log the attempt and plan the next one"
        pool = Pool()
        Attempt = pool.get('crm.webhook.attempt')
        hook = self.webhook
        body = self.body.encode('utf-8')
        timestamp = int(time.time())
        headers = {
            'Content-Type': 'application/json',
            'User-Agent': 'crm-kit-webhook',
            EVENT_HEADER: self.event,
            DELIVERY_HEADER: str(self.id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: 'sha256=' + sign(hook.secret, timestamp, body),
            }
        status, error, answer = None, None, ''
        start = time.monotonic()
        try:
            status, reason, answer = outbound.post(
                hook.url, body, headers, TIMEOUT, RESPONSE_EXCERPT)
            error = f"HTTP {status} {reason}"
        except outbound.PrivateAddress as refused:
            error = gettext('crm_kit_api.msg_webhook_private_address',
                url=hook.url, webhook=hook.rec_name, address=refused.address)
        except outbound.UnknownHost as unknown:
            error = gettext('crm_kit_api.msg_webhook_unknown_host',
                host=unknown.host)
        except (OSError, http.client.HTTPException, ValueError) as exception:
            error = str(exception) or exception.__class__.__name__
        duration = (time.monotonic() - start) * 1000
        if isinstance(answer, bytes):
            answer = answer.decode('utf-8', 'replace')
        success = status is not None and 200 <= status < 300
        Attempt.create([{
                    'delivery': self.id,
                    'status_code': status,
                    'duration': round(duration, 1),
                    'error': None if success else (error or f"HTTP {status}"),
                    'response': answer or None,
                    }])
        self.attempt_count = (self.attempt_count or 0) + 1
        if success:
            self.last_error = None
            self.next_attempt = None
            self.save()
            self.__class__.deliver([self])
            hook.delivered()
            return
        self.last_error = (error or f"HTTP {status}")[:250]
        if self.event == TEST_EVENT[0] or self.attempt_count >= MAX_ATTEMPTS:
            self.next_attempt = None
            self.save()
            self.__class__.fail([self])
        else:
            self.next_attempt = dt.datetime.now() + FIRST_RETRY * (
                2 ** (self.attempt_count - 1))
            self.save()
            if self.state == 'pending':
                self.__class__.wait([self])
        hook.failed(self)

    @classmethod
    @Workflow.transition('delivered')
    def deliver(cls, deliveries):
        pass

    @classmethod
    @Workflow.transition('retrying')
    def wait(cls, deliveries):
        pass

    @classmethod
    @Workflow.transition('failed')
    def fail(cls, deliveries):
        pass


class WebhookAttempt(ModelSQL, ModelView):
    "An attempt at a delivery: what the receiver answered, and how fast"
    __name__ = 'crm.webhook.attempt'
    __string__ = "Webhook Attempt"

    delivery = fields.Many2One(
        'crm.webhook.delivery', "Delivery", required=True,
        ondelete='CASCADE', readonly=True)
    status_code = fields.Integer("Status", readonly=True)
    duration = fields.Float(
        "Response Time (ms)", digits=(16, 1), readonly=True)
    error = fields.Char("Error", readonly=True)
    response = fields.Text("Response", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('id', 'DESC'))
