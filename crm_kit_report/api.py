# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta


class Api(metaclass=PoolMeta):
    "The REST API documents the reports and targets"
    __name__ = 'crm.api'

    @classmethod
    def contract_models(cls):
        return super().contract_models() + [
            'crm.report.pipeline', 'crm.report.month', 'crm.report.rep',
            'crm.report.stage_time', 'crm.sales.target',
            ]
