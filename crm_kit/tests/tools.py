# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit tests: a company with its sales setup, the "
"three roles, a team, a customer and a product."
import datetime as dt
import io
import json
import zipfile
from base64 import urlsafe_b64encode
from collections import OrderedDict
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from trytond import backend, config
from trytond.pool import Pool
from trytond.tests import test_tryton
from trytond.tests.test_tryton import (
    DB_NAME, RouteTestCase, TestCase, _DBTestCase, activate_module,
    backup_db_cache, drop_db, with_transaction)
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


@contextmanager
def set_config(section, option, value):
    "Set a trytond configuration option for the duration of the block"
    old = config.get(section, option)
    if not config._config.has_section(section):
        config._config.add_section(section)
    config.set(section, option, value)
    try:
        yield
    finally:
        if old is None:
            config._config.remove_option(section, option)
            config._cache_clear()
        else:
            config.set(section, option, old)


def zip_bomb(name, megabytes):
    "A ZIP archive whose member name expands to megabytes of zeros"
    data = io.BytesIO()
    with zipfile.ZipFile(data, 'w', zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, 'w') as member:
            chunk = b'\x00' * (1024 * 1024)
            for _ in range(megabytes):
                member.write(chunk)
        archive.writestr('[Content_Types].xml', '<Types/>')
    return data.getvalue()


def b64(value):
    "value as JSON in base64url, as REST takes d, o and X-Tryton-Context"
    return urlsafe_b64encode(json.dumps(value).encode()).decode()


def api_key(application):
    """The key of a REST application just saved: shown once, as new_key,
    where crm_kit_api keeps keys hashed; stored as such elsewhere"""
    return getattr(application, 'new_key', None) or application.key


CUSTOMER = "Talleres Gómez S.L."
PRODUCT = "Consultoría CRM (hora)"


def create_customer(name=CUSTOMER, email='compras@gomez.test'):
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


def create_product(name=PRODUCT, price=Decimal('60'), category="Services"):
    pool = Pool()
    Template = pool.get('product.template')
    Category = pool.get('product.category')
    Uom = pool.get('product.uom')
    ModelData = pool.get('ir.model.data')
    unit = Uom(ModelData.get_id('product', 'uom_unit'))
    category, = Category.search([('name', '=', category)])
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


# The CRM that setup_crm makes: users (login, group), the team and its
# members, the customer and the product, found again by these names.
CRM_USERS = [
    ('manager', 'group_crm_manager'),
    ('rep', 'group_crm_rep'),
    ('rep2', 'group_crm_rep'),
    ('rep_other_team', 'group_crm_rep'),
    ]
TEAM = "Madrid"


def setup_crm():
    """The company (made by crm-kit's own setup), the roles and a team,
    with a customer and a product.  A database of CrmTestCase holds them
    already (activate_crm): they are found; elsewhere they are created."""
    pool = Pool()
    User = pool.get('res.user')
    if not User.search([('login', '=', 'rep')], limit=1):
        return _create_crm()
    return _find_crm()


def _create_crm():
    from crmkit.company_setup import setup_company
    pool = Pool()
    Team = pool.get('crm.team')
    company = setup_company("Pruebas CRM S.L.")
    with Transaction().set_context(company=company.id):
        users = {login: create_user(login, group, company)
            for login, group in CRM_USERS}
        team = Team(name=TEAM, manager=users['manager'],
            members=[users['rep'], users['rep2']])
        team.save()
        create_customer(CUSTOMER)
        create_product(PRODUCT)
    return _find_crm()


def _find_crm():
    pool = Pool()
    Company = pool.get('company.company')
    Team = pool.get('crm.team')
    User = pool.get('res.user')
    Party = pool.get('party.party')
    Product = pool.get('product.product')
    # setup_company makes the first company; what setup_crm makes comes
    # before anything a test makes with the same name.
    first = [('id', 'ASC')]
    company, = Company.search([], order=first, limit=1)
    users = {u.login: u for u in User.search([
                ('login', 'in', ['admin'] + [l for l, _ in CRM_USERS]),
                ])}
    team, = Team.search([('name', '=', TEAM)], order=first, limit=1)
    customer, = Party.search([('name', '=', CUSTOMER)], order=first, limit=1)
    product, = Product.search(
        [('template.name', '=', PRODUCT)], order=first, limit=1)
    return SimpleNamespace(
        company=company, admin=users['admin'], manager=users['manager'],
        rep=users['rep'], rep2=users['rep2'],
        outsider=users['rep_other_team'], team=team, customer=customer,
        product=product)


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
        values.setdefault('description', "CRM para el taller")
        values.setdefault('party', crm.customer)
        opportunity = Opportunity(**values)
        opportunity.on_change_party()
        opportunity.owner = owner
        opportunity.on_change_owner()
        if lines:
            opportunity.lines = [
                {'product': crm.product.id, 'quantity': 10,
                    'unit': crm.product.sale_uom.id}]
        opportunity.save()
    return Opportunity(opportunity.id)


def run_queued():
    """Run in the current transaction the tasks it queued, as the queue
    worker runs them once it is committed"""
    pool = Pool()
    Queue = pool.get('ir.queue')
    tasks = Transaction().tasks
    while tasks:
        Queue(tasks.pop(0)).run()


def in_transaction(func, user=1):
    """Run func in a committed transaction of the test database, again
    when it needs table locks, as trytond-admin does"""
    extras = {}
    while True:
        with Transaction().start(DB_NAME, user, **extras) as transaction:
            try:
                result = func()
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            transaction.commit()
            return result


# Every module of crm-kit depends on it.
BASE_MODULE = 'crm_kit'


# The sets of modules activated in this process, with their copies in
# DB_CACHE.
ACTIVATED = []


def _with_dependencies(modules):
    from trytond.modules import get_module_info
    result, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module not in result:
            result.add(module)
            todo.extend(get_module_info(module).get('depends', []))
    return result


# The pools loaded for the copies restored, by the modules activated in
# them: the most recent few.
POOLS = OrderedDict()
KEPT_POOLS = 4


def restore_db_cache(name):
    """Restore the copy name of DB_CACHE as the test database, as Tryton's
    restore_db_cache does, and its pool.  A pool holds only the classes of
    the modules activated, not data: when a copy of the same modules was
    restored before, its pool serves again (loading it again took about
    a quarter of the modules' tests' time), with the caches dropped."""
    if not test_tryton.DB_CACHE:
        return False
    cache_file = test_tryton._db_cache_file(test_tryton.DB_CACHE, name)
    if backend.name == 'sqlite':
        restored = test_tryton._sqlite_copy(cache_file, restore=True)
    else:
        restored = test_tryton._pg_restore(cache_file)
    if restored:
        _load_pool()
    return restored


def _load_pool():
    from trytond.cache import Cache

    from crmkit.cli import activated_modules
    modules = activated_modules(backend.Database(DB_NAME).connect())
    Cache.drop(DB_NAME)
    if modules in POOLS:
        POOLS.move_to_end(modules)
        classes, loaded = POOLS[modules]
        with Pool._lock:
            Pool._pools[DB_NAME] = classes
            Pool._pool_modules[DB_NAME] = loaded
            # Pool() instances take the classes again.
            Pool._pool_instances.clear()
        return
    Pool(DB_NAME).init()
    POOLS[modules] = (Pool._pools[DB_NAME], Pool._pool_modules[DB_NAME])
    while len(POOLS) > KEPT_POOLS:
        POOLS.popitem(last=False)


def activate(modules, setup=None, user=1):
    """Activate modules in a fresh test database, then run setup (a
    function) as user in a committed transaction.  Both are kept in
    DB_CACHE, as Tryton keeps activated databases, so that they are done
    once and each test class starts from a copy; with setup the copy is
    named after it and the day, since a set-up stores today's dates.
    Without a copy, the modules are activated on the copy of the largest
    set activated before that they need (crm_kit at least), as a user adds
    modules: that spares loading crm_kit and what it depends on again for
    each set of modules (minutes on PostgreSQL)."""
    if isinstance(modules, str):
        modules = [modules]
    name = '-'.join(modules)
    if setup:
        name += (f'--{setup.__module__}.{setup.__qualname__}'
            f'-{dt.date.today().isoformat()}')
    drop_db()
    if restore_db_cache(name):
        pass
    elif setup:
        activate(modules)
        in_transaction(setup, user=user)
        backup_db_cache(name)
    else:
        needed = _with_dependencies(modules)
        if modules != [BASE_MODULE]:
            _, base = max(((len(d), m) for m, d in ACTIVATED
                    if d <= needed and m != modules),
                default=(0, [BASE_MODULE]))
            activate(base)
        activate_module(modules)
    if not setup and modules not in (m for m, _ in ACTIVATED):
        ACTIVATED.append((modules, _with_dependencies(modules)))


def activate_crm(modules):
    "Activate modules in a fresh test database with the CRM of setup_crm"
    activate(modules, _create_crm)


class CrmTestCase(TestCase):
    """A test case on a fresh database with `modules` activated and the
    CRM of setup_crm in it"""
    modules = ['crm_kit']

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_crm(cls.modules)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


class CrmRouteTestCase(RouteTestCase):
    """A RouteTestCase on a database with the CRM of setup_crm in it, whose
    setUpDatabase is committed"""

    @classmethod
    def setUpClass(cls):
        # TestCase's set-up, without _DBTestCase's activation
        super(_DBTestCase, cls).setUpClass()
        activate_crm([cls.module] + (cls.extras or []))
        in_transaction(cls.setUpDatabase)

    def client(self):
        "A client of the application as crm-kit serves it (crmkit.wsgi)"
        from crmkit.wsgi import PrivateContextFilter
        from trytond.protocols.wrappers import Response
        from trytond.wsgi import app
        from werkzeug.test import Client
        return Client(PrivateContextFilter(app), Response)

    def rest(self, method, path, key, company=None, **kwargs):
        """Call /<db>/rest/model/<path> with the bearer key, in English and,
        as sao does, in company"""
        headers = kwargs.pop('headers', {})
        headers['Authorization'] = f'bearer {key}'
        headers.setdefault('Accept-Language', 'en')
        if company is not None:
            headers.setdefault('X-Tryton-Context', b64({'company': company}))
        return getattr(self.client(), method)(
            f'/{DB_NAME}/rest/model/{path}', headers=headers, **kwargs)

    # The password setUpDatabase gives the users that call JSON-RPC.
    password = 'Secreto-de-pruebas-42'

    def session(self, login):
        "A client logged in as login, and the header of its session"
        from base64 import b64encode
        client = self.client()
        response = client.post(f'/{DB_NAME}/rpc/', json={
                'id': 1, 'method': 'common.db.login',
                'params': [login, {'password': self.password}, 'en']})
        user_id, token = response.json['result'][:2]
        credentials = b64encode(
            f'{login}:{user_id}:{token}'.encode()).decode()
        return client, {'Authorization': f'Session {credentials}'}

    def rpc(self, login, method, *params, company=None):
        """The result of the JSON-RPC call of method as login, as sao makes
        it, or ('error', message)"""
        client, headers = self.session(login)
        context = {'company': company} if company else {}
        response = client.post(f'/{DB_NAME}/rpc/', headers=headers, json={
                'id': 1, 'method': method, 'params': [*params, context]})
        if response.json is None:
            # trytond refuses a method no model offers with an HTTP error.
            return ('error', f'{response.status_code} {response.text}')
        if response.json.get('error'):
            return ('error', str(response.json['error']))
        return response.json['result']

    def export(self, login, model, domain, fields):
        "The answer of trytond's data export (/<db>/data/<model>) to login"
        client, headers = self.session(login)
        return client.get(f'/{DB_NAME}/data/{model}', headers=headers,
            query_string=[('d', json.dumps(domain))]
            + [('f', f) for f in fields])


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

    def placeholders(text):
        # A translation may take a value in the case its language writes
        # it in: %(Month)s in English, %(month)s in Spanish (enero 2026).
        return sorted(p.lower() for p in placeholder.findall(text))
    mismatched = [ctxt for (ctxt, msgid), msgstr in translated.items()
        if placeholders(msgid) != placeholders(msgstr)]
    return missing, mismatched


class CrmModuleMixin:
    """For a ModuleTestCase of crm-kit: its database is activated as the
    other tests' are (activate), and every list of the module can be drawn
    by sao"""

    @classmethod
    def setUpClass(cls):
        # TestCase's set-up, without _DBTestCase's activation
        super(_DBTestCase, cls).setUpClass()
        activate([cls.module] + (cls.extras or []))

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
