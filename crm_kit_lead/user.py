# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import fields
from trytond.pool import PoolMeta


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    crm_lead_limit = fields.Integer(
        "Open Leads Limit",
        domain=['OR',
            ('crm_lead_limit', '=', None),
            ('crm_lead_limit', '>=', 0),
            ],
        help="Assignment rules give no more leads to this user while they "
        "have this many open leads. Empty or 0 for no limit.")
    crm_away_until = fields.Date(
        "Away Until",
        help="Assignment rules give no leads to this user until the day "
        "after this date.")
