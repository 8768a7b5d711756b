# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"The setup assistant ends on the lead import, the one intake road."
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .tools import LeadTestCase, setup_crm


class SetupImportTestCase(LeadTestCase):

    @with_transaction()
    def test_last_step_opens_lead_import(self):
        setup_crm()
        pool = Pool()
        Setup = pool.get('crm.setup', type='wizard')
        ModelData = pool.get('ir.model.data')
        buttons = [(b.string, b.state) for b in Setup.done.buttons]
        self.assertEqual(buttons[0], ("Import Leads", 'import_leads'))
        self.assertIn(('Finish', 'end'), buttons)
        session_id, _, _ = Setup.create()
        result = Setup.execute(session_id, {}, 'import_leads')
        (action, _), = result['actions']
        self.assertEqual(action['id'],
            ModelData.get_id('crm_kit_lead', 'wizard_import_leads'))
        self.assertEqual(action['wiz_name'], 'crm.lead.import.wizard')
