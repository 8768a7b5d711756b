# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta


class Api(metaclass=PoolMeta):
    "The REST API documents the activities"
    __name__ = 'crm.api'

    @classmethod
    def contract_models(cls):
        return super().contract_models() + [
            'crm.activity', 'crm.activity.type',
            ]
