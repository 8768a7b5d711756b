# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit tests: a company with its sales setup, the "
"three roles, a team, a customer and a product."
import json
from base64 import urlsafe_b64encode
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, RouteTestCase, TestCase, activate_module, drop_db,
    with_transaction)
from trytond.transaction import Transaction, TransactionError


def load_spanish(module):
    """Make Spanish a translatable language and load module's es.po, as
    trytond-admin -l es does"""
    pool = Pool()
    Lang = pool.get('ir.lang')
    Translation = pool.get('ir.translation')
    Lang.write(Lang.search([('code', '=', 'es')]), {'translatable': True})
    Translation.translation_import('es', module, str(
            Path(__file__).resolve().parents[2] / module / 'locale' / 'es.po'))


def create_user(login, group_xml_id, company, name=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    Employee = pool.get('company.employee')
    Party = pool.get('party.party')
    ModelData = pool.get('ir.model.data')
    party = Party(name=name or login.title())
    party.save()
    employee = Employee(party=party, company=company)
    employee.save()
    group = Group(ModelData.get_id('crm_kit', group_xml_id))
    user, = User.create([{
                'login': login,
                'name': name or login.title(),
                'groups': [('add', [group.id])],
                'companies': [('add', [company.id])],
                'company': company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                }])
    return user


def create_customer(name="Talleres Gómez S.L.", email='compras@gomez.test'):
    pool = Pool()
    Party = pool.get('party.party')
    Address = pool.get('party.address')
    ContactMechanism = pool.get('party.contact_mechanism')
    Country = pool.get('country.country')
    spain, = Country.search([('code', '=', 'ES')])
    party = Party(name=name)
    party.addresses = [Address(
            street="Calle Mayor 1", postal_code='28013', city="Madrid",
            country=spain)]
    if email:
        party.contact_mechanisms = [
            ContactMechanism(type='email', value=email)]
    party.save()
    return party


def create_product(name="Consultoría CRM (hora)", price=Decimal('60')):
    pool = Pool()
    Template = pool.get('product.template')
    Category = pool.get('product.category')
    Uom = pool.get('product.uom')
    ModelData = pool.get('ir.model.data')
    unit = Uom(ModelData.get_id('product', 'uom_unit'))
    category, = Category.search([('name', '=', "Services")])
    template, = Template.create([{
                'name': name,
                'type': 'service',
                'salable': True,
                'list_price': price,
                'default_uom': unit.id,
                'sale_uom': unit.id,
                'account_category': category.id,
                'products': [('create', [{}])],
                }])
    product, = template.products
    return product


def setup_crm():
    """Create the company (through crm-kit's own setup), the roles and a
    team; return them with a customer and a product."""
    from crmkit.company_setup import setup_company
    pool = Pool()
    Team = pool.get('crm.team')
    User = pool.get('res.user')
    company = setup_company("Pruebas CRM S.L.")
    with Transaction().set_context(company=company.id):
        manager = create_user('manager', 'group_crm_manager', company)
        rep = create_user('rep', 'group_crm_rep', company)
        rep2 = create_user('rep2', 'group_crm_rep', company)
        outsider = create_user('rep_other_team', 'group_crm_rep', company)
        team = Team(name="Madrid", manager=manager, members=[rep, rep2])
        team.save()
        customer = create_customer()
        product = create_product()
    admin, = User.search([('login', '=', 'admin')])
    return SimpleNamespace(
        company=company, admin=admin, manager=manager, rep=rep, rep2=rep2,
        outsider=outsider, team=team, customer=customer, product=product)


def stage(xml_id):
    pool = Pool()
    Stage = pool.get('crm.stage')
    ModelData = pool.get('ir.model.data')
    return Stage(ModelData.get_id('crm_kit', xml_id))


def create_opportunity(crm, owner=None, lines=True, **values):
    "Create an opportunity as its owner would in sao"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    owner = owner or crm.rep
    with Transaction().set_user(owner.id), \
            Transaction().set_context(company=crm.company.id):
        opportunity = Opportunity(
            party=crm.customer, description="CRM para el taller", **values)
        opportunity.on_change_party()
        opportunity.owner = owner
        opportunity.on_change_owner()
        if lines:
            opportunity.lines = [
                {'product': crm.product.id, 'quantity': 10,
                    'unit': crm.product.sale_uom.id}]
        opportunity.save()
    return Opportunity(opportunity.id)


class CrmTestCase(TestCase):
    "A test case with crm_kit activated in a fresh database"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_kit')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


class CrmRouteTestCase(RouteTestCase):
    """A RouteTestCase whose database setup is retried when it needs table
    locks, as trytond-admin does"""

    @classmethod
    def setUpClass(cls):
        super(RouteTestCase, cls).setUpClass()
        extras = {}
        while True:
            with Transaction().start(DB_NAME, 1, **extras) as transaction:
                try:
                    cls.setUpDatabase()
                except TransactionError as exception:
                    transaction.rollback()
                    exception.fix(extras)
                    continue
                break

    def rest(self, method, path, key, company=None, **kwargs):
        """Call /<db>/rest/model/<path> with the bearer key, in English and,
        as sao does, in company"""
        headers = kwargs.pop('headers', {})
        headers['Authorization'] = f'bearer {key}'
        headers.setdefault('Accept-Language', 'en')
        if company is not None:
            headers.setdefault('X-Tryton-Context', urlsafe_b64encode(
                    json.dumps({'company': company}).encode()).decode())
        return getattr(self.client(), method)(
            f'/{DB_NAME}/rest/model/{path}', headers=headers, **kwargs)


def missing_translations(module, language='es'):
    """The strings of module without translation in its locale file (a
    fuzzy one counts as missing: Tryton does not load it), and the
    translations whose placeholders differ from the original's"""
    import re
    import sys
    from pathlib import Path

    import polib
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / 'scripts'))
    try:
        from update_translations import current_strings
    finally:
        sys.path.pop(0)
    placeholder = re.compile(r'%\(\w+\)s|\$\{[^}]*\}')
    po = polib.pofile(str(root / module / 'locale' / f'{language}.po'))
    translated = {(e.msgctxt, e.msgid): e.msgstr for e in po
        if e.msgid and not e.fuzzy}
    missing = [f'{ctxt} {msgid!r}'
        for ctxt, msgid in current_strings(module)
        if not translated.get((ctxt, msgid))]
    mismatched = [ctxt for (ctxt, msgid), msgstr in translated.items()
        if sorted(placeholder.findall(msgid))
        != sorted(placeholder.findall(msgstr))]
    return missing, mismatched


class SaoListsMixin:
    "For a ModuleTestCase: every list of the module can be drawn by sao"

    @with_transaction()
    def test_lists_draw_in_sao(self):
        """sao has no date-time column: a date-time field in a list needs
        widget="date" or "time", or the list, and any form that shows it,
        fails to open ("ColumnFactory is not a constructor")"""
        from lxml import etree
        pool = Pool()
        View = pool.get('ir.ui.view')
        for view in View.search([('module', '=', self.module)]):
            base = view
            while base.inherit:
                base = base.inherit
            if base.type != 'tree':
                continue
            result = pool.get(base.model).fields_view_get(base.id, 'tree')
            for field in etree.fromstring(result['arch']).iter('field'):
                name = field.get('name')
                ttype = result['fields'][name]['type']
                with self.subTest(view=view.name, field=name):
                    self.assertFalse(
                        ttype in {'datetime', 'timestamp'}
                        and not field.get('widget'),
                        f"{base.model} list: {name} needs a widget")
