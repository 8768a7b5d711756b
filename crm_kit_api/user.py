# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt
import hashlib

from trytond import backend
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from crm_kit.secret import show_once, shown

# What sao takes from the user's preferences and sends with every call.
PREFERENCES_CONTEXT = {'company', 'employee', 'language'}

# How a key is stored: its SHA-256, never the key itself.
KEY_HASH = 'sha256$'
# A key's last use is written at most this often (a write per request
# would serialise the requests of one key).
LAST_USE_EVERY = dt.timedelta(minutes=10)


def hash_key(key):
    return KEY_HASH + hashlib.sha256(key.encode()).hexdigest()


class UserApplication(metaclass=PoolMeta):
    """API key: Tryton's user application for the REST API.  The key is
    stored hashed and nobody reads or searches it (field access): it is
    shown once, to whoever creates it, as new_key."""
    __name__ = 'res.user.application'
    _rec_name = 'name'

    name = fields.Char(
        "Name", help="What the key is used for, "
        "such as the website or the integration that holds it.")
    new_key = fields.Function(fields.Char(
            "Key", strip=False,
            help="Sent as \"Authorization: bearer <key>\"; anyone who has "
            "it acts as the user. Copy it now: once saved it is never "
            "shown again."),
        'get_new_key', setter='set_new_key')
    last_use = fields.DateTime("Last Used", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.key.help = "The SHA-256 of the key."
        cls._order.insert(0, ('create_date', 'DESC'))

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        # Keys stored before they were hashed.
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.key,
                where=~table.key.like(KEY_HASH + '%')))
        for id_, key in cursor.fetchall():
            cursor.execute(*table.update(
                    [table.key], [hash_key(key)], where=table.id == id_))

    def get_rec_name(self, name):
        return self.name or gettext(
            'crm_kit_api.msg_api_key_unnamed', id=self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('name',) + tuple(clause[1:])]

    @classmethod
    def default_new_key(cls):
        return super().default_key()

    @classmethod
    def default_key(cls):
        # Overwritten with the hash of new_key once created.
        return hash_key(super().default_key())

    def get_new_key(self, name):
        return shown(self)

    @classmethod
    def set_new_key(cls, applications, name, value):
        if not value:
            return
        if len(value) < 32:
            raise ValidationError(gettext('crm_kit_api.msg_api_key_short'))
        if len(applications) != 1:
            raise ValidationError(gettext('crm_kit_api.msg_api_key_shared'))
        application, = applications
        show_once(application, value)
        # Nobody may write the key field, this is how it is written.
        with without_check_access():
            cls.write(applications, {'key': hash_key(value)})

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            values.pop('key', None)
            if not values.get('new_key'):
                values['new_key'] = cls.default_new_key()
        return super().create(vlist)

    @classmethod
    def copy(cls, applications, default=None):
        default = default.copy() if default else {}
        # A copy is a new key (create makes it), shown as its answer.
        default.setdefault('last_use', None)
        return super().copy(applications, default=default)

    @classmethod
    def default_user(cls):
        return Transaction().user

    @classmethod
    def default_application(cls):
        return 'rest'

    @classmethod
    def check(cls, key, application):
        pool = Pool()
        AccessLog = pool.get('crm.access.log')
        record = super().check(hash_key(key or ''), application)
        if record:
            cls._note_use(record)
            AccessLog.key_used(record)
        if record and application == 'rest' and record.user:
            cls._set_user_context(record.user)
            cls._set_timestamp()
        return record

    @classmethod
    def _set_timestamp(cls):
        """Check the writes and deletes of a REST request against the
        client's _timestamp (If-Match, see crm_kit_api.rest), as JSON-RPC
        does with the one of its context: a record changed since the
        client read it is not written over"""
        timestamp = Transaction().context.get('_timestamp')
        if isinstance(timestamp, dict):
            Transaction().timestamp.update({
                    str(k): str(v) for k, v in timestamp.items()})

    @classmethod
    def _note_use(cls, record):
        "Write when the key was used, in its own transaction"
        now = dt.datetime.now()
        if record.last_use and now - record.last_use < LAST_USE_EVERY:
            return
        table = cls.__table__()
        transaction = Transaction()
        try:
            with transaction.new_transaction() as use:
                cursor = use.connection.cursor()
                cursor.execute(*table.update(
                        [table.last_use], [now],
                        where=table.id == record.id))
                use.commit()
        except backend.DatabaseOperationalError:
            # Another request of the key writes it.
            pass

    @classmethod
    def _set_user_context(cls, user):
        """Complete the request's context with the key's user's company,
        employee and language, as sao does: trytond's REST API starts from
        the client's context alone, so a new lead would have no company and
        the answers would not be in the user's language.  What the client
        sends (X-Tryton-Context, Accept-Language) wins."""
        pool = Pool()
        User = pool.get('res.user')
        transaction = Transaction()
        with transaction.set_user(user.id):
            preferences = User.get_preferences(context_only=True)
        missing = {k: v for k, v in preferences.items()
            if k in PREFERENCES_CONTEXT and k not in transaction.context}
        if missing:
            # Kept for the rest of the request: trytond's rest decorator
            # restores the context it started with once the answer is made.
            transaction.set_context(missing)
