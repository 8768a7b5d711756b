# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

# What sao takes from the user's preferences and sends with every call.
PREFERENCES_CONTEXT = {'company', 'employee', 'language'}


class UserApplication(metaclass=PoolMeta):
    "API key: Tryton's user application for the REST API"
    __name__ = 'res.user.application'

    name = fields.Char(
        "Name", help="What the key is used for, "
        "such as the website or the integration that holds it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.key.help = (
            "Sent as \"Authorization: bearer <key>\". "
            "Anyone who has it acts as the user.")
        cls._order.insert(0, ('create_date', 'DESC'))

    @classmethod
    def default_user(cls):
        return Transaction().user

    @classmethod
    def default_application(cls):
        return 'rest'

    @classmethod
    def check(cls, key, application):
        record = super().check(key, application)
        if record and application == 'rest' and record.user:
            cls._set_user_context(record.user)
        return record

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
