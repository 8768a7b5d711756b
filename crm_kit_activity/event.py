# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta


class Event(metaclass=PoolMeta):
    "Automation rules hear what happens to the records they apply to"
    __name__ = 'crm.event'

    @classmethod
    def watched_fields(cls, model):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        return super().watched_fields(model) | Rule.watched_fields(model)

    @classmethod
    def created(cls, records):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        super().created(records)
        Rule.on_created(records)

    @classmethod
    def changed(cls, change):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        super().changed(change)
        Rule.on_changed(change)
