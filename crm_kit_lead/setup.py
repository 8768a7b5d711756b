# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta
from trytond.wizard import Button, StateAction


class Setup(metaclass=PoolMeta):
    __name__ = 'crm.setup'

    # The last step: the first leads come in by the one intake road.
    import_leads = StateAction('crm_kit_lead.wizard_import_leads')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.done.buttons.insert(0, Button(
                "Import Leads", 'import_leads', 'tryton-import'))
