# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)


class Channel(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Where a lead or opportunity came from (web, phone, referral…)"
    __name__ = 'crm.channel'

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char(
        "Code", required=True,
        help="A stable identifier for imports and the API.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code), 'crm_kit.msg_channel_code_unique'),
            ]


class LostReason(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Why an opportunity was lost"
    __name__ = 'crm.lost_reason'

    name = fields.Char("Name", required=True, translate=True)
