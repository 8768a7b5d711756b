# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Spanish is first-class: every user-visible string has its translation."
from crm_kit.tests.tools import CrmTestCase, missing_translations

from trytond.tests.test_tryton import with_transaction


class TranslationTestCase(CrmTestCase):
    modules = ['crm_kit_desk', 'crm_kit_api']

    @with_transaction()
    def test_es_po_is_complete(self):
        missing, mismatched = missing_translations('crm_kit_desk')
        self.assertEqual(missing, [], "run scripts/update_translations.py "
            "crm_kit_desk and translate the new strings in "
            "crm_kit_desk/locale/es.po")
        self.assertEqual(mismatched, [], "placeholders differ")
