# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Webhooks hear of the mail customers send: email.received, for the mail
of shared mailboxes (a personal one's stays with its owner)."""
from trytond.pool import Pool, PoolMeta

EMAIL_RECEIVED = ('email.received', "E-mail received")


class Webhook(metaclass=PoolMeta):
    __name__ = 'crm.webhook'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        if EMAIL_RECEIVED not in cls.events.selection:
            cls.events.selection = cls.events.selection + [EMAIL_RECEIVED]


class WebhookDelivery(metaclass=PoolMeta):
    __name__ = 'crm.webhook.delivery'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        if EMAIL_RECEIVED not in cls.event.selection:
            cls.event.selection = cls.event.selection + [EMAIL_RECEIVED]

    @classmethod
    def get_resources(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        return super().get_resources() + [
            ('crm.email', IrModel.get_name('crm.email'))]


class Event(metaclass=PoolMeta):
    __name__ = 'crm.event'

    @classmethod
    def created(cls, records):
        pool = Pool()
        Webhook = pool.get('crm.webhook')
        super().created(records)
        if (not records or records[0].__name__ != 'crm.email'
                or not Webhook.listening(EMAIL_RECEIVED[0])):
            return
        Webhook.trigger(EMAIL_RECEIVED[0], [e for e in records
                if e.direction == 'in' and not e.mailbox.private])
