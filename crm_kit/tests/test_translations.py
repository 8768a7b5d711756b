# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Spanish is first-class: every user-visible string has its translation."
import re
import sys
from pathlib import Path

import polib

from trytond.tests.test_tryton import with_transaction

from .tools import CrmTestCase

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r'%\(\w+\)s|\$\{[^}]*\}')


class TranslationTestCase(CrmTestCase):

    @with_transaction()
    def test_es_po_is_complete(self):
        sys.path.insert(0, str(ROOT / 'scripts'))
        try:
            from update_translations import current_strings
        finally:
            sys.path.pop(0)
        po = polib.pofile(str(ROOT / 'crm_kit' / 'locale' / 'es.po'))
        translated = {(e.msgctxt, e.msgid): e.msgstr for e in po if e.msgid}
        missing = [
            f'{ctxt} {msgid!r}' for ctxt, msgid in current_strings('crm_kit')
            if not translated.get((ctxt, msgid))]
        self.assertEqual(missing, [], "run scripts/update_translations.py "
            "and translate the new strings in crm_kit/locale/es.po")
        for (ctxt, msgid), msgstr in translated.items():
            self.assertEqual(
                sorted(PLACEHOLDER.findall(msgid)),
                sorted(PLACEHOLDER.findall(msgstr)), ctxt)
