"""The demo dataset: planned deterministically from its seed, loaded once
into a fresh database made by ``crm-kit init``, with believable history.

The database tests share one database (module fixture): a copy of the
session's ``crm-kit init`` (crm_init) in a temporary CRM_KIT_HOME, then
``crm-kit demo``.  On PostgreSQL
(TRYTOND_DATABASE__URI=postgresql://…) the database is dropped at the end."""
import collections
import datetime as dt
import os
import re
import time
import uuid

import phonenumbers
import pytest
from stdnum import get_cc_module

from crmkit import demo

try:
    from server import (
        copy_initialised, kept_trytond_config, root_transaction)
except ImportError:
    from tests.server import (
        copy_initialised, kept_trytond_config, root_transaction)

SEED = demo.DEFAULT_SEED
NOW = dt.datetime(2026, 3, 2, 12, 0)


def _valid_identifier(type_, code):
    return get_cc_module(*type_.split('_', 1)).is_valid(code)


# The plan: plain data, no database.

def test_customers_same_seed_same_data():
    customers = demo.generate_customers(SEED)
    assert customers == demo.generate_customers(SEED)
    assert customers != demo.generate_customers(SEED + 1)
    assert len(customers) == demo.CUSTOMERS


def test_opportunities_same_seed_same_data():
    customers = demo.generate_customers(SEED)
    opportunities = demo.generate_opportunities(customers, SEED, NOW)
    assert opportunities == demo.generate_opportunities(customers, SEED, NOW)
    assert opportunities != demo.generate_opportunities(
        customers, SEED + 1, NOW)
    assert len(opportunities) == demo.OPPORTUNITIES


def test_opportunities_follow_the_time_window():
    "Only the dates move with today: the deals are the same"
    customers = demo.generate_customers(SEED)
    plans = {now: demo.generate_opportunities(customers, SEED, now)
        for now in [NOW, dt.datetime(2024, 2, 29, 0, 30),
            dt.datetime(2027, 12, 31, 23, 0)]}
    deals = None
    for now, opportunities in plans.items():
        first = now - dt.timedelta(days=3 * 366)
        for opportunity in opportunities:
            dates = [opportunity['start']] + [
                d for _, d in opportunity['moves']]
            assert dates == sorted(dates)
            assert first <= dates[0] and dates[-1] < now
            assert opportunity['start'].weekday() < 5
        years = {o['start'].year for o in opportunities}
        assert len(years) >= 3
        assert {o['stage'] for o in opportunities} == set(demo.STAGES)
        assert {o['channel'] for o in opportunities} == {
            c[0] for c in demo.CHANNELS}
        # Old deals are closed, the open ones are recent.
        for opportunity in opportunities:
            if opportunity['start'] < now - dt.timedelta(days=400):
                assert opportunity['stage'] in demo.CLOSED
        same = sorted(
            (o['customer'], o['description'], o['lines'])
            for o in opportunities)
        assert deals is None or same == deals
        deals = same


def test_a_lead_waits_for_assignment_every_day():
    """Whatever today is, the demo has a new lead nobody owns yet (on 6
    December 2026 none of the recent leads was drawn unassigned)"""
    customers = demo.generate_customers(SEED)
    days = [dt.datetime(2026, 12, 6, 15, 30)] + [
        dt.datetime(2026, 1, 1, 12, 0) + dt.timedelta(days=d)
        for d in range(0, 365, 9)]
    for now in days:
        opportunities = demo.generate_opportunities(customers, SEED, now)
        unassigned = [o for o in opportunities if o['owner'] is None]
        assert unassigned, now
        assert all(o['stage'] == 'new' for o in unassigned), now


def test_customers_are_valid():
    customers = demo.generate_customers(SEED)
    cities = {c[0]: c[1] for c in demo.CITIES}
    assert len({c['name'] for c in customers}) == len(customers)
    assert len({c['identifier'] for c in customers}) == len(customers)
    kinds = collections.Counter(c['kind'] for c in customers)
    assert kinds['person'] > 30 and kinds['company'] > 150
    for customer in customers:
        assert _valid_identifier(
            customer['identifier_type'], customer['identifier'])
        if customer['kind'] == 'company':
            assert customer['identifier_type'] == 'eu_vat'
            assert customer['identifier'].startswith('ES')
        for phone in [customer['phone'], customer['mobile']]:
            if phone:
                assert phonenumbers.is_valid_number(
                    phonenumbers.parse(phone))
        first, last = cities[customer['city']]
        assert first <= int(customer['postal_code']) <= last
        assert '@' in customer['email']


# The database

def _drop(name):
    from crmkit import cli
    cli.drop_database(name)


@pytest.fixture(scope='module')
def demo_db(crm_init, tmp_path_factory):
    """A new database, a copy of crm-kit init's, with the demo loaded:
    (name, load result, seconds)"""
    home = tmp_path_factory.mktemp('crm_kit_home')
    name = f'crm_demo_{os.getpid()}_{uuid.uuid4().hex[:6]}'
    with pytest.MonkeyPatch.context() as monkeypatch, kept_trytond_config():
        monkeypatch.setenv('CRM_KIT_HOME', str(home))
        monkeypatch.setenv('CRM_KIT_DATABASE', name)
        monkeypatch.delenv('TRYTOND_CONFIG', raising=False)
        from crmkit import cli
        _, backend, _, _ = cli._trytond()
        uri = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite://')
        assert uri.startswith(backend.name)
        try:
            copy_initialised(crm_init, name)
            cli.init(name)
            start = time.monotonic()
            loaded = cli.load_demo(name)
            seconds = time.monotonic() - start
            print(f"\ndemo loaded on {backend.name} in {seconds:.1f}s")
            yield name, loaded, seconds
        finally:
            _drop(name)


def _counts(pool):
    return {model: pool.get(model).search_count([])
        for model in ['res.user', 'party.party', 'product.product',
            'sale.opportunity', 'sale.opportunity.line', 'crm.stage.log',
            'sale.sale', 'crm.team', 'crm.activity']}


def test_demo_loaded(demo_db):
    _, loaded, _ = demo_db
    assert loaded is True


def test_users_and_team(demo_db):
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        User = pool.get('res.user')
        Team = pool.get('crm.team')
        ModelData = pool.get('ir.model.data')
        users = {u.login: u for u in User.search([
                    ('login', 'in', ['manager', 'rep', 'rep2'])])}
        assert set(users) == {'manager', 'rep', 'rep2'}
        groups = {
            'manager': ModelData.get_id('crm_kit', 'group_crm_manager'),
            'rep': ModelData.get_id('crm_kit', 'group_crm_rep'),
            'rep2': ModelData.get_id('crm_kit', 'group_crm_rep'),
            }
        for login, user in users.items():
            assert groups[login] in [g.id for g in user.groups]
            assert user.employee and user.employee.company == user.company
            assert user.company in user.companies
            assert User._login_password(
                login, {'password': demo.DEMO_PASSWORD}) == user.id
        assert users['rep'].language.code == 'es'
        team, = Team.search([('name', '=', demo.TEAM_NAME)])
        assert team.manager == users['manager']
        assert set(team.members) == set(users.values())


def test_products(demo_db):
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Product = pool.get('product.product')
        products = Product.search([('salable', '=', True)])
        assert len(products) == len(demo.PRODUCTS)
        for product in products:
            assert product.type == 'service'
            assert product.list_price_used > 0
            assert product.account_category.customer_taxes


def test_customers(demo_db):
    "The customers of the database are the planned ones, valid and reachable"
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Party = pool.get('party.party')
        Company = pool.get('company.company')
        company, = Company.search([])
        parties = Party.search([
                ('identifiers', '!=', None),
                ('id', '!=', company.party.id),
                ])
        assert len(parties) == demo.CUSTOMERS
        loaded = set()
        for party in parties:
            identifier, = party.identifiers
            assert _valid_identifier(identifier.type, identifier.code)
            loaded.add((party.name, identifier.type, identifier.code))
            address, = party.addresses
            assert address.country.code == 'ES'
            assert address.postal_code and address.city and address.street
            types = {m.type for m in party.contact_mechanisms}
            assert {'email', 'phone'} <= types
        planned = {(c['name'], c['identifier_type'], c['identifier'])
            for c in demo.generate_customers(SEED)}
        assert loaded == planned
        spanish = [p for p in parties if p.lang and p.lang.code == 'es']
        assert 50 < len(spanish) < len(parties)


def test_company_identity(demo_db):
    "What the demo company's quotes print of it"
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Company = pool.get('company.company')
        company, = Company.search([])
        party = company.party
        assert party.tax_identifier.code == 'ES' + demo.COMPANY_NIF
        address, = party.addresses
        assert address.street and address.postal_code
        assert party.phone and party.email and party.website
        assert company.logo


def test_opportunities(demo_db):
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.stage')
        Channel = pool.get('crm.channel')
        opportunities = Opportunity.search([])
        assert len(opportunities) == demo.OPPORTUNITIES
        stages = collections.Counter(o.stage for o in opportunities)
        assert set(stages) == set(Stage.search([]))
        channels = collections.Counter(o.channel for o in opportunities)
        assert set(channels) == set(Channel.search([]))
        owners = collections.Counter(
            o.owner.login if o.owner else None for o in opportunities)
        assert set(owners) == {'manager', 'rep', 'rep2', None}
        today = dt.date.today()
        for opportunity in opportunities:
            assert opportunity.state == opportunity.stage.state
            assert opportunity.team and opportunity.lines
            assert opportunity.amount > 0
            assert opportunity.start_date <= today
            if opportunity.owner is None:
                assert opportunity.state == 'lead'
            if opportunity.state == 'lost':
                assert opportunity.lost_reason_type
            if opportunity.state in demo.CLOSED:
                assert opportunity.start_date <= opportunity.end_date
                assert opportunity.end_date <= today
        # Won and lost deals over the years, the open ones are recent.
        years = collections.Counter(
            o.start_date.year for o in opportunities
            if o.state in {'won', 'lost'})
        assert len(years) >= 3
        open_ = [o for o in opportunities if o.state not in demo.CLOSED]
        assert len(open_) > 50
        assert all(
            o.start_date > today - dt.timedelta(days=400) for o in open_)


def test_quotes(demo_db):
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Opportunity = pool.get('sale.opportunity')
        today = dt.date.today()
        for opportunity in Opportunity.search([]):
            stage = opportunity.stage.name
            sales = opportunity.sales
            if opportunity.state in {'lead', 'opportunity', 'cancelled'}:
                assert not sales
            elif opportunity.state == 'converted':
                sale, = sales
                assert sale.state == 'quotation', stage
            elif opportunity.state == 'won':
                sale, = sales
                assert sale.state in {'confirmed', 'processing'}
                assert sale.quotation_date <= sale.sale_date <= today
            for sale in sales:
                assert sale.lines
                assert sale.total_amount >= sale.untaxed_amount > 0
                assert sale.quotation_date <= today
                assert sale.owner == opportunity.owner
                assert sale.create_date.date() == sale.quotation_date


def test_stage_logs(demo_db):
    "Every opportunity has a dated history from the day it came in"
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Opportunity = pool.get('sale.opportunity')
        now = demo.utc_now()
        oldest = now
        for opportunity in Opportunity.search([]):
            logs = sorted(opportunity.stage_logs, key=lambda l: (l.date, l.id))
            assert logs
            assert logs[0].from_stage is None
            assert logs[0].date.date() == opportunity.start_date
            assert logs[-1].to_stage == opportunity.stage
            assert logs[-1].date == opportunity.stage_date
            for previous, log in zip(logs, logs[1:]):
                assert log.from_stage == previous.to_stage
            for log in logs:
                assert log.date < now
                assert log.user == opportunity.owner
            oldest = min(oldest, logs[0].date)
        assert oldest < now - dt.timedelta(days=2 * 365)


def test_activities(demo_db):
    """Open deals have their next step planned around today, closed ones a
    done call"""
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        today = demo.utc_now().date()
        planned = Activity.search([('state', '=', 'planned')])
        assert planned
        assert all(a.opportunity.state in {'lead', 'opportunity', 'converted'}
            for a in planned)
        dues = {(a.due.date() - today).days for a in planned}
        assert min(dues) < 0 < max(dues)
        done = Activity.search([('state', '=', 'done')])
        assert done and all(a.outcome for a in done)
        assert {a.opportunity.state for a in done} == {'won', 'lost'}
        # Every deal with an owner; a lead nobody took has no one to act.
        assert Activity.search_count([]) == Opportunity.search_count([
                ('state', 'in', [
                        'lead', 'opportunity', 'converted', 'won', 'lost']),
                ('owner', '!=', None),
                ])
        assert len({a.type for a in planned}) == len(demo.NEXT_ACTIVITIES)


def test_customers_lifecycle(demo_db):
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        won = {o.party for o in Opportunity.search([('state', '=', 'won')])}
        customers = set(Party.search([('crm_lifecycle', '=', 'customer')]))
        assert won and customers == won
        assert Party.search_count([
                ('crm_lifecycle', '=', 'prospect'),
                ('identifiers', '!=', None),
                ]) > 0


def test_load_twice_changes_nothing(demo_db):
    name, _, _ = demo_db
    from crmkit import cli
    with root_transaction(name) as pool:
        before = _counts(pool)
    assert cli.load_demo(name) is False
    with root_transaction(name) as pool:
        assert _counts(pool) == before


def test_import_leads_command(demo_db, tmp_path, capsys):
    "crm-kit import-leads imports a file with the demo's assignment rules"
    name, _, _ = demo_db
    from crmkit import cli
    path = tmp_path / 'feria.csv'
    path.write_text(
        "Empresa;Contacto;Email;Teléfono;Provincia;Canal\n"
        "Feria Uno S.L.;Ana Ruiz;ana@feria-uno.test;612 345 678;Madrid;web\n"
        "Feria Dos S.A.;Luis Gil;luis@;;Sevilla;web\n"
        "Feria Tres;Eva Sanz;eva@feria-tres.test;;A Coruña;event\n",
        encoding='cp1252')
    with pytest.MonkeyPatch.context() as monkeypatch, kept_trytond_config():
        monkeypatch.setenv('CRM_KIT_DATABASE', name)
        cli.main(['-d', name, 'import-leads', str(path)])
    out = capsys.readouterr().out
    assert "3 rows, 2 created, 0 updated, 0 skipped as duplicate, " \
        "1 rejected" in out
    with root_transaction(name) as pool:
        Opportunity = pool.get('sale.opportunity')
        web, = Opportunity.search([('lead_email', '=', 'ana@feria-uno.test')])
        assert web.lead_subdivision.name == "Madrid"
        assert web.owner.login in {'rep', 'rep2', 'manager'}
        assert "Leads web del equipo" in web.assignment_reason
        event, = Opportunity.search([
                ('lead_email', '=', 'eva@feria-tres.test')])
        assert "Resto de leads" in event.assignment_reason
        assert event.lead_subdivision.code == 'ES-C'


def test_automation_rules_on(demo_db):
    """The shipped rules are on in the demo: a new lead gets its call, for
    the owner the assignment rules gave it"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Rule = pool.get('crm.automation.rule')
        with Transaction().set_context(active_test=False):
            rules = Rule.search([])
        assert len(rules) == 4 and all(r.active for r in rules)
        assert all(r.last_run for r in rules
            if r.trigger in {'inactive', 'date'})
    with Transaction().start(name, 0) as transaction:
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        User = pool.get('res.user')
        Company = pool.get('company.company')
        company, = Company.search([])
        owner, = User.search([('login', '=', demo.USERS[1][0])])
        with Transaction().set_context(company=company.id):
            lead, = Opportunity.create([{
                        'description': "Lead de la prueba",
                        'owner': owner.id,
                        }])
        lead = Opportunity(lead.id)
        call, = lead.activities
        assert call.owner == lead.owner
        assert call.state == 'planned'
        transaction.rollback()


def test_flagged_customers(demo_db):
    "A few customers carry the shipped flags, the first one shown"
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Party = pool.get('party.party')
        flagged = Party.search([('crm_flags', '!=', None)])
        assert len(flagged) == sum(n for _, n in demo.FLAGS)
        assert all(p.crm_lifecycle == 'customer' for p in flagged)
        icons = {p.crm_flag_icon for p in Party.browse(flagged)}
        assert icons == {'tryton-star', 'tryton-warning', 'tryton-error'}


def test_alerts(demo_db):
    """The shipped alert rules ran once: overdue activities and stuck deals
    show in the lists, told to their owners"""
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Alert = pool.get('crm.alert')
        Opportunity = pool.get('sale.opportunity')
        ModelData = pool.get('ir.model.data')
        active = Alert.search([('state', '=', 'active')])
        rules = {ModelData.get_id('crm_kit_alert', x): x for x in [
                'rule_overdue_activity', 'rule_stuck_in_stage']}
        found = {rules.get(a.rule.id) for a in active}
        assert set(rules.values()) <= found, found
        assert all(a.recipients for a in active
            if a.record_model == 'sale.opportunity')
        shown = Opportunity.search([('crm_alert_count', '!=', None)])
        assert shown
        assert all(o.state in {'lead', 'opportunity', 'converted'}
            for o in shown)


def test_documents(demo_db):
    """Signed contracts on the latest won deals (two expiring within the
    month), a product sheet linked to several open deals, an upload link
    waiting for a customer"""
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        Document = pool.get('crm.document')
        UploadLink = pool.get('crm.upload.link')
        Date = pool.get('ir.date')
        contracts = Document.search([('file_type', '=', 'application/pdf')])
        assert len(contracts) == 12
        assert all(d.customers and d.data.startswith(b'%PDF-')
            for d in contracts)
        soon = Document.search([('expiry_date', '<=',
                    Date.today() + dt.timedelta(days=30))])
        assert len(soon) == 2
        sheet, = Document.search([('kind', '=', 'url')])
        assert len(sheet.links) == 10
        link, = UploadLink.search([])
        assert link.state == 'active'


def test_reports(demo_db):
    """The monthly report has last year's figures to compare with and
    targets for every rep; the rep's own figures are part of the team's"""
    import datetime as dt

    from trytond.transaction import Transaction, check_access
    name, _, _ = demo_db
    with root_transaction(name) as pool:
        User = pool.get('res.user')
        Month = pool.get('crm.report.month')
        Target = pool.get('crm.sales.target')
        Date = pool.get('ir.date')
        rep, = User.search([('login', '=', 'rep')])
        manager, = User.search([('login', '=', 'manager')])
        assert {t.user for t in Target.search([])} >= {rep, manager}
        # The last full year: every month has been lived.
        date = dt.date(Date.today().year - 1, 6, 30)
        totals = {}
        for user in [rep, manager]:
            with Transaction().set_user(user.id), check_access(), \
                    Transaction().set_context(date=date):
                rows = Month.search([])
                assert len(rows) == 12
                totals[user.login] = (
                    sum(r.won_amount for r in rows),
                    sum(r.won_amount_previous for r in rows),
                    sum(r.target_amount for r in rows))
        assert all(totals['rep']), totals
        assert totals['rep'][0] < totals['manager'][0], totals


def _evidence(name, out, *options):
    "Run crm-kit evidence on database name as an agent does"
    import subprocess
    import sys
    try:
        from server import _environ
    except ImportError:
        from tests.server import _environ
    return subprocess.run(
        [sys.executable, '-m', 'crmkit.cli', '-d', name, 'evidence',
            '--out', str(out), *options],
        env=_environ(os.environ['CRM_KIT_HOME']), capture_output=True,
        text=True, timeout=900)


def _pdf_pages(path):
    from pypdf import PdfReader
    return [' '.join(page.extract_text().split())
        for page in PdfReader(str(path)).pages]


def _check_pack(pages, company, nif, lang):
    """The pack's pages: the cover, the contents, a page per screenshot in
    the template's order, each naming its section and showing crm-kit and
    the beneficiary in its header, then the parameterisation"""
    from crmkit import evidence
    texts = evidence.TEXTS[lang]
    cover = pages[0]
    for text in [texts['title'], 'crm-kit', company, nif, "Agencia Prueba"]:
        assert text in cover, (text, cover)
    shots = [(number, section, index, shot)
        for number, section in enumerate(evidence.SECTIONS, 1)
        for index, shot in enumerate(section.shots, 1)]
    assert len(pages) >= 2 + len(shots) + 2
    contents = pages[1]
    positions = [contents.index(f'{n}. {s.title[lang]}')
        for n, s in enumerate(evidence.SECTIONS, 1)]
    assert positions == sorted(positions)
    for page, (number, section, index, shot) in zip(pages[2:], shots):
        assert page.startswith(f'{number}. {section.title[lang]}'), page
        caption = f'{number}.{index} {shot.caption[lang]}'
        assert caption in page, (caption, page)
        header = page[page.index(caption):]
        assert 'crm-kit' in header and company in header, page
        width = shot.width['width']
        assert f'{width} px' in header, page
    rest = ' '.join(pages[2 + len(shots):])
    assert texts['parameterisation'] in rest
    assert texts['access_log'] in rest


def test_evidence(demo_db, tmp_path):
    """crm-kit evidence photographs the demo in a real browser (the
    server it starts itself, in Spanish; a running one, in English),
    writes the access log with the logins made and changes no business
    data"""
    try:
        from server import (
            sao_installed, start_web, stop_another, jsonrpc, _environ)
    except ImportError:
        from tests.server import (
            sao_installed, start_web, stop_another, jsonrpc, _environ)
    import csv
    from trytond.transaction import Transaction
    from crmkit.evidence import (
        CHROMIUM, EVIDENCE_LOGIN, EvidenceError, prepare)
    if not CHROMIUM.exists() or not sao_installed():
        pytest.skip("chromium or sao is not installed")
    name, _, _ = demo_db
    home = os.environ['CRM_KIT_HOME']
    with root_transaction(name) as pool:
        before = _counts(pool)
        company, = pool.get('company.company').search([])
        company_name = company.party.name
        nif = company.party.tax_identifier.code.removeprefix('ES')

    # Another beneficiary than the company the header shows: refused
    # before anything is made.
    with Transaction().start(name, 0) as transaction:
        with pytest.raises(EvidenceError, match=re.escape(company_name)):
            prepare('es', "Otra Empresa S.L.")
        transaction.rollback()

    # The users of the beneficiary log in: the access log has them.
    web = start_web(name, home, _environ(home), tmp_path / 'web.log')
    try:
        for login in ['rep', 'manager']:
            jsonrpc(web, 'common.db.login', [
                    login, {'password': demo.DEMO_PASSWORD}, 'es'])
        english = _evidence(name, tmp_path / 'kit-digital-en.pdf',
            '--lang', 'en', '--url', web.url, '--agent', "Agencia Prueba")
    finally:
        stop_another(web)
    assert english.returncode == 0, english.stderr
    _check_pack(_pdf_pages(tmp_path / 'kit-digital-en.pdf'), company_name,
        nif, 'en')

    spanish = _evidence(name, tmp_path / 'kit-digital.pdf',
        '--agent', "Agencia Prueba")
    assert spanish.returncode == 0, spanish.stderr
    pages = _pdf_pages(tmp_path / 'kit-digital.pdf')
    _check_pack(pages, company_name, nif, 'es')
    assert "Diseño responsive" in ' '.join(pages)

    with open(tmp_path / 'kit-digital-accesos.csv',
            encoding='utf-8-sig') as file:
        rows = list(csv.reader(file))
    logins = {row[2] for row in rows[1:]}
    assert {'rep', 'manager', EVIDENCE_LOGIN} <= logins, rows
    with open(tmp_path / 'kit-digital-parametrizacion.csv',
            encoding='utf-8-sig') as file:
        configuration = list(csv.reader(file))
    assert {row[1] for row in configuration[1:]} >= {
        'crm.stage', 'crm.channel', 'crm.assignment.rule', 'res.user'}
    assert EVIDENCE_LOGIN not in str(configuration)

    with root_transaction(name) as pool:
        assert _counts(pool) == before
        User = pool.get('res.user')
        assert not User.search([('login', '=', EVIDENCE_LOGIN)])
        Application = pool.get('res.user.application')
        with Transaction().set_context(active_test=False):
            user, = User.search([('login', '=', EVIDENCE_LOGIN)])
            assert not user.active
        assert {a.state for a in Application.search([
                    ('user', '=', user.id)])} == {'cancelled'}
