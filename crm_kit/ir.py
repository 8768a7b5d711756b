# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .mail import send_message


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        "Give record rules the user and the teams they manage"
        pool = Pool()
        Team = pool.get('crm.team')
        context = super()._get_context(model_name)
        user_id = Transaction().user
        with without_check_access():
            teams = Team.search([('manager', '=', user_id)])
        context['user_id'] = user_id
        context['crm_managed_teams'] = [t.id for t in teams]
        context['crm_team_users'] = sorted(
            {m.id for t in teams for m in t.members} | {user_id})
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        # The CRM rules depend on who the user is, not only on the groups.
        return (*super()._get_cache_key(model_names), Transaction().user)


class Email(metaclass=PoolMeta):
    __name__ = 'ir.email'

    @classmethod
    def send_message(cls, emails, message):
        """Queue task: send the message of the e-mail (see
        crm_kit.mail.send_background_email)"""
        send_message(message)


class EmailTemplate(metaclass=PoolMeta):
    __name__ = 'ir.email.template'

    def get_context(self, record):
        """Let the templates' format functions take a language code as well
        as a language (the quote e-mail passes the quote's language)"""
        context = super().get_context(record)
        for name in ['format_date', 'format_datetime', 'format_currency',
                'format_number']:
            context[name] = _with_language(context[name])
        return context


def _with_language(format_):
    def wrapper(value, lang=None, *args, **kwargs):
        if isinstance(lang, str):
            lang = Pool().get('ir.lang').get(lang)
        return format_(value, lang, *args, **kwargs)
    return wrapper


class Session(metaclass=PoolMeta):
    __name__ = 'ir.session'

    @classmethod
    def remove(cls, key, domain=None):
        "A logout goes to the access log"
        pool = Pool()
        AccessLog = pool.get('crm.access.log')
        User = pool.get('res.user')
        name = super().remove(key, domain=domain)
        if name:
            users = User.search([('login', '=', name)], limit=1)
            AccessLog.record('logout', login=name,
                user=users[0].id if users else None)
        return name


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.access.log|clean', "Forget the Oldest Access Log"))
