# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.i18n import gettext
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

from .content import active_content, detect_type
from .exceptions import DocumentFileError


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    @classmethod
    def create(cls, vlist):
        if _users_call():
            for values in vlist:
                if values.get('type', 'data') == 'data':
                    _check_active(values.get('data'), values.get('name'))
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        if _users_call():
            actions = iter(args)
            for attachments, values in zip(actions, actions):
                if not {'data', 'name', 'type'} & set(values):
                    continue
                for attachment in attachments:
                    if values.get('type', attachment.type) != 'data':
                        continue
                    _check_active(
                        values['data'] if 'data' in values
                        else attachment.data,
                        values.get('name', attachment.name))
        super().write(*args)


def _users_call():
    "Whether a user stores the file (sao, JSON-RPC, REST), not the server"
    transaction = Transaction()
    return bool(transaction.user and transaction.check_access)


def _check_active(data, name):
    """Refuse an attachment that would run code when sao opens it (the
    other checks of the document library are for its documents)"""
    if not data:
        return
    active = active_content(data, name, detect_type(data, name))
    if active:
        raise DocumentFileError(gettext(active, file=name))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.document|notify_expiring', "Notify Expiring Documents"))
