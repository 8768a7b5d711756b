# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Spanish is first-class: every user-visible string has its translation."
from trytond.tests.test_tryton import with_transaction

from crm_kit.tests.tools import CrmTestCase, missing_translations


class TranslationTestCase(CrmTestCase):
    modules = ['crm_kit_email', 'crm_kit_api']

    @with_transaction()
    def test_es_po_is_complete(self):
        missing, mismatched = missing_translations('crm_kit_email')
        self.assertEqual(missing, [], "run scripts/update_translations.py "
            "crm_kit_email and translate the new strings in "
            "crm_kit_email/locale/es.po")
        self.assertEqual(mismatched, [], "placeholders differ")
