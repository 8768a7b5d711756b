"""Refresh a module's locale/es.po from its current strings.

    .venv/bin/python scripts/update_translations.py [MODULE]

Activates the module in a scratch SQLite database, collects every
translatable string (fields, selections, views, menus, messages, data),
keeps the Spanish translations already in locale/es.po and writes the file
back with the new strings untranslated, to be filled in.  The test
tests/test_translations.py fails while any string has no translation."""
import os
import sys
from pathlib import Path

os.environ.setdefault('TRYTOND_DATABASE__URI', 'sqlite://')
os.environ.setdefault('DB_NAME', ':memory:')

ROOT = Path(__file__).resolve().parents[1]


def _collect(module, language):
    """In the current transaction, gather the module's strings with the
    translations of locale/<language>.po and return them as .po content"""
    from trytond.pool import Pool
    pool = Pool()
    Lang = pool.get('ir.lang')
    Translation = pool.get('ir.translation')
    TranslationUpdate = pool.get('ir.translation.update', type='wizard')

    po_path = ROOT / module / 'locale' / f'{language}.po'
    _set_strings(module)
    lang, = Lang.search([('code', '=', language)])
    Lang.write([lang], {'translatable': True})
    if po_path.exists() and po_path.stat().st_size:
        Translation.translation_import(language, module, str(po_path))
    session_id, _, _ = TranslationUpdate.create()
    update = TranslationUpdate(session_id)
    update.start.language = lang
    update.do_update({})
    return Translation.translation_export(language, module)


def _set_strings(module):
    """Store the strings of the module's views and reports as translations
    to fill in (ir.translation.set, run on them alone: on every view and
    report of the database it takes many times longer, for strings that
    belong to other modules)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    TranslationSet = pool.get('ir.translation.set', type='wizard')
    View = pool.get('ir.ui.view')
    Report = pool.get('ir.action.report')
    for Model, domain in [
            (View, [('module', '=', module)]),
            (Report, [('module', '=', module), ('translatable', '=', True)]),
            ]:
        ids = [r.id for r in Model.search(domain)]
        if not ids:
            continue
        with Transaction().set_context(
                active_model=Model.__name__, active_id=ids[0],
                active_ids=ids):
            session_id, _, _ = TranslationSet.create()
            TranslationSet(session_id).transition_set_()
            TranslationSet.delete(session_id)


def current_strings(module):
    """Return the (context, source) of every string the module shows,
    from inside a transaction on a database where it is activated: the
    module's strings in the default language, which are the sources"""
    import polib
    from trytond.pool import Pool
    pool = Pool()
    Config = pool.get('ir.configuration')
    Translation = pool.get('ir.translation')
    _set_strings(module)
    content = Translation.translation_export(Config.get_language(), module)
    return {(e.msgctxt, e.msgid)
        for e in polib.pofile(content.decode('utf-8')) if e.msgid}


# The optional dependencies (extras_depend) of the modules.
EXTRAS = {
    'crm_kit_document': ['crm_kit_activity'],
    'crm_kit_api': ['crm_kit_activity', 'crm_kit_document'],
    'crm_kit_email': ['crm_kit_api'],
    }


def export(module, language='es'):
    "Return the .po content of the module's strings with known translations"
    from trytond.tests.test_tryton import DB_NAME, activate_module
    from trytond.transaction import Transaction

    # With the modules it has extras for, so their strings are kept too.
    activate_module([module] + EXTRAS.get(module, []))
    with Transaction().start(DB_NAME, 0) as transaction:
        content = _collect(module, language)
        transaction.rollback()
    return content


def main():
    module = sys.argv[1] if len(sys.argv) > 1 else 'crm_kit'
    content = export(module)
    path = ROOT / module / 'locale' / 'es.po'
    path.write_bytes(content)
    print(f"wrote {path}")


if __name__ == '__main__':
    main()
