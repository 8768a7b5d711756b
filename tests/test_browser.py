"""Browser smoke test: log into sao as admin and open CRM > Opportunities.

Runs headless Debian chromium through Playwright against the trytond of
the ``crm_server`` fixture, once with a phone viewport and once with a
desktop one, and saves a screenshot of each to test-artifacts/."""
import os
import re
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

try:
    from server import jsonrpc, sao_installed, sao_root, serving
except ImportError:
    from tests.server import jsonrpc, sao_installed, sao_root, serving

# The browser crm-kit evidence drives, started the same way.
from crmkit.evidence import CHROMIUM, CHROMIUM_ARGS, sao_login  # noqa: E402
ARTIFACTS = Path(__file__).resolve().parent.parent / 'test-artifacts'
VIEWPORTS = {
    'phone': {'width': 390, 'height': 844},
    'desktop': {'width': 1280, 'height': 800},
    }
# sao's layout switches to the phone one (menu or tabs) below this width.
SAO_SMALL_SCREEN = 992
TIMEOUT = 30_000  # ms, for every wait on the page
RPC_TIMEOUT = 120_000  # ms, for a call made through sao (rpc)

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(
        not sao_installed(),
        reason=f"sao is not installed in {sao_root()} (run 'make sao')"),
    ]


@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, request):
    viewport = VIEWPORTS[request.node.callspec.params['viewport']]
    context = browser.new_context(viewport=viewport, locale='en-US')
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.problems = []
    page.on('pageerror', lambda error: page.problems.append(
            f"JavaScript error: {error} {error.stack}"))
    page.on('response', lambda response: response.status >= 500
        and page.problems.append(
            f"HTTP {response.status} for {response.request.method} "
            f"{response.url}"))
    try:
        yield page
    finally:
        context.close()


def login(page, server):
    "Fill sao's login dialogs as a user would"
    page.goto(server.url)
    sao_login(page, server.database, server.admin_login,
        server.admin_password)


def show_tab(page, name):
    """Bring the open tab name to the front as a user taps it, on a phone
    after opening the navbar; tapped again when the tap, made while the
    navbar was still sliding open, was lost"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    front = page.locator('#tablist li.active').filter(has_text=name)
    for attempt in range(3):
        toggle = page.locator('.navbar-toggle:visible')
        if toggle.count() and toggle.first.get_attribute(
                'aria-expanded') != 'true':
            toggle.first.click()
        page.locator('#tablist a').filter(has_text=name).first.click()
        try:
            front.wait_for(timeout=10_000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise


def expect_ready_desk(page):
    """After login the CRM menu is there at once: crm-kit init closed
    Tryton's first-login configuration wizard (company and chart are set)
    and the served copy has its setup assistant done (tests/server.py);
    the tabs opened are the user's day and the pipeline board."""
    crm = page.locator('#menu div.column-char[title="CRM"]')
    crm.wait_for(state='attached')
    assert not page.locator('#tablist li').filter(
        has_text='Module Configuration').count(), (
        "the configuration wizard opened at login")


def numbered_screenshots(page, prefix):
    """A function that saves the page as test-artifacts/<prefix>_<n>_<name>
    .png, n counting the steps; the previous run's files go first"""
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob(f'{prefix}_*.png'):
        old.unlink(missing_ok=True)  # the other backend's run
    step = iter(range(1, 100))

    def screenshot(name):
        page.screenshot(
            path=str(ARTIFACTS / f'{prefix}_{next(step)}_{name}.png'))
    return screenshot


def open_menu(page):
    "Show the menu: on a phone it is behind the toggle when a tab is open"
    menu = page.locator('#menu')
    if not menu.is_visible():
        page.locator('.navbar [data-toggle="menu"]').first.click()
    menu.wait_for(state='visible')
    return menu


def click_until_gone(button, attempts=6, wait=10_000):
    """Click a wizard's button until it goes: sao drops a click that comes
    while it still handles the previous answer, which a loaded machine
    makes likely"""
    from playwright.sync_api import TimeoutError
    for attempt in range(attempts):
        button.click()
        try:
            button.wait_for(state='hidden', timeout=wait)
            return
        except TimeoutError:
            if attempt == attempts - 1:
                raise


def click_until_called(page, button, method, attempts=5, timeout=20_000):
    """Click button until sao calls method (e.g. model.crm.webhook.create)
    and the server answers; return the answer.  sao drops a click that
    comes while it still handles a change, which a loaded machine makes
    likely."""
    from playwright.sync_api import TimeoutError

    def is_call(response):
        return f'"{method}"' in (response.request.post_data or '')
    for attempt in range(attempts):
        try:
            with page.expect_response(is_call, timeout=timeout) as answer:
                button.click()
            return answer.value.json()
        except TimeoutError:
            if attempt == attempts - 1:
                raise


def fill_until_kept(content, entries, attempts=6):
    """Type each (field name, value) of entries into the form, leaving each
    with Tab as sao takes a value when it loses the focus, until all keep
    their values: on a loaded machine a late answer of sao's (the new
    record's defaults, a redraw) could empty an entry just typed."""
    from playwright.sync_api import expect
    for attempt in range(attempts):
        for name, value in entries:
            field = content.locator(f'input[name="{name}"]')
            if field.input_value() != value:
                field.fill(value)
                field.press('Tab')
        try:
            for name, value in entries:
                expect(content.locator(f'input[name="{name}"]')
                    ).to_have_value(value, timeout=3_000)
            # Still there a moment later: nothing pending overwrote them.
            content.page.wait_for_timeout(500)
            if all(content.locator(f'input[name="{name}"]').input_value()
                    == value for name, value in entries):
                return
        except AssertionError:
            if attempt == attempts - 1:
                raise
    raise AssertionError(f"the form did not keep {entries}")


def open_crm_entry(page, title):
    """Open the entry of the CRM menu called title (expanding CRM when the
    entry is hidden) and return the content of its tab once active"""
    menu = open_menu(page)
    crm = menu.locator('div.column-char[title="CRM"]')
    crm.wait_for(state='visible')
    entry = menu.locator(f'div.column-char[title="{title}"]').first
    if not entry.is_visible():
        crm.click()
    entry.click()
    page.locator('#tablist li.active').filter(
        has_text=title).wait_for(state='attached')
    return page.locator('#tabcontent .tab-pane.active')


def open_configuration_entry(page, title):
    """Open CRM > Configuration > title and return the content of its tab
    once active"""
    menu = open_menu(page)
    menu.locator('div.column-char[title="CRM"]').click()
    configuration = menu.locator(
        'div.column-char[title="Configuration"]').first
    configuration.wait_for(state='visible')
    configuration.click()
    entry = menu.locator(f'div.column-char[title="{title}"]').first
    entry.wait_for(state='visible')
    entry.click()
    page.locator('#tablist li.active').filter(
        has_text=title).wait_for(state='attached')
    return page.locator('#tabcontent .tab-pane.active')


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_opportunity_list(crm_server, page, viewport):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f'opportunities-{viewport}.png'
    screenshot.unlink(missing_ok=True)
    try:
        login(page, crm_server)
        expect_ready_desk(page)

        menu = open_menu(page)
        crm = menu.locator('div.column-char[title="CRM"]')
        crm.wait_for(state='visible')
        opportunities = menu.locator('div.column-char[title="Opportunities"]')
        if not opportunities.first.is_visible():
            crm.click()  # expands CRM
        entries = menu.locator('div.column-char')
        for name in ['Leads', 'Opportunities', 'Pipeline', 'Customers',
                'Quotes', 'Teams', 'Configuration']:
            entries.filter(has_text=re.compile(f'^{name}$')).first.wait_for(
                state='visible')
        opportunities.first.click()

        tab = page.locator('#tablist li.active')
        tab.filter(has_text='Opportunities').wait_for(state='attached')
        content = page.locator('#tabcontent .tab-pane.active')
        rows = content.locator('table.tree > tbody > tr')
        for opportunity in crm_server.opportunities:
            content.locator('table.tree > tbody').get_by_text(
                opportunity['party'], exact=True).wait_for(state='visible')
        numbers = [o['number'] for o in crm_server.opportunities]
        shown = rows.filter(has=page.locator('.column-char')).count()
        assert shown >= len(crm_server.opportunities)
        row_texts = rows.all_inner_texts()
        for number in numbers:
            assert any(re.search(rf'(^|\s){re.escape(number)}(\s|$)', text)
                for text in row_texts), f"opportunity {number} not listed"
        if viewport == 'phone':
            assert page.viewport_size['width'] < SAO_SMALL_SCREEN
            assert not menu.is_visible(), "the menu hides the list"
        else:
            assert menu.is_visible()
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        page.screenshot(path=str(screenshot))


# A file of leads as a Spanish spreadsheet exports it: semicolons and
# Spanish headers, which the wizard maps by itself.  The last row is
# rejected for its e-mail.
IMPORT_HEADER = ['Empresa', 'Nombre', 'Correo electrónico', 'Teléfono',
    'Origen', 'Notas internas']
IMPORT_ROWS = [
    ['Talleres Browser S.L.', 'Ana Browser', 'browser1@import.test',
        '+34 600 111 222', 'web', 'cliente VIP'],
    # An unknown channel: the row is kept, with a warning.
    ['Browser Dos S.A.', 'Luis Browser', 'browser2@import.test',
        '+34 600 333 444', 'Feria', ''],
    ['Malo S.L.', 'Pepe Malo', 'malo@', '+34 600 555 666', '', ''],
    ]
# (header, lead field) of the mapping the wizard guesses
IMPORT_MAPPING = [
    ('Empresa', 'Company Name'),
    ('Nombre', 'Contact Name'),
    ('Correo electrónico', 'E-mail'),
    ('Teléfono', 'Phone'),
    ('Origen', 'Channel'),
    ]
IMPORT_TIMEOUT = 60_000  # ms: the machine is shared, imports write


def field_value(content, name):
    "The text a form shows for the field (a selection shows its label)"
    widget = content.locator(
        f'select[name="{name}"], input[type="text"][name="{name}"]').first
    widget.wait_for(state='attached')
    return widget.evaluate("""e => e.tagName == 'SELECT'
        ? (e.selectedIndex < 0 ? '' : e.options[e.selectedIndex].text)
        : e.value""").strip()


def rpc(page, method, *params):
    "Call the server with the session sao logged in"
    return rpc_in(page, {}, method, *params)


def rpc_in(page, context, method, *params):
    """Call the server with the session sao logged in, in context; an
    error, or no answer in RPC_TIMEOUT ms (a session sao lost waits for a
    login nobody gives), raises here instead of waiting for somebody to
    close sao's dialog"""
    answer = page.evaluate("""([method, params, timeout]) => new Promise(
            (resolve) => {
                setTimeout(() => resolve(
                        {error: `no answer in ${timeout} ms`}), timeout);
                Sao.rpc({
                    'method': method,
                    'params': params,
                }, Sao.Session.current_session, true, false).then(
                    (result) => resolve({result}),
                    (error) => resolve({error: JSON.stringify(error)}));
            })""",
        [method, list(params) + [context], RPC_TIMEOUT])
    assert 'error' not in answer, (method, answer['error'])
    return answer['result']


@pytest.mark.parametrize('viewport', ['phone'])
def test_import_leads(crm_server, page, viewport, tmp_path):
    "Import a CSV of leads with the wizard of CRM > Leads on a phone"
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect

    page.set_default_timeout(IMPORT_TIMEOUT)
    screenshot = numbered_screenshots(page, 'import')

    csv = tmp_path / 'leads.csv'
    csv.write_text('\n'.join(';'.join(cells)
            for cells in [IMPORT_HEADER] + IMPORT_ROWS) + '\n',
        encoding='utf-8')
    try:
        login(page, crm_server)
        expect_ready_desk(page)

        # CRM > Leads opens the leads and unfolds Import Leads below it.
        menu = open_menu(page)
        crm = menu.locator('div.column-char[title="CRM"]')
        crm.wait_for(state='visible')
        leads = menu.locator('div.column-char[title="Leads"]').first
        if not leads.is_visible():
            crm.click()
        import_leads = menu.locator('div.column-char[title="Import Leads"]')
        if not import_leads.first.is_visible():
            leads.click()
            page.locator('#tablist li.active').filter(
                has_text='Leads').wait_for(state='attached')
            menu = open_menu(page)
        import_leads.first.click()

        # The wizard opens in a dialog that fits the phone.
        dialog = page.locator('.wizard-dialog .modal-dialog:visible').last
        dialog.locator('input[type="file"]').wait_for(state='attached')
        screenshot('start')
        box = dialog.bounding_box()
        assert box['x'] >= 0
        assert box['x'] + box['width'] <= page.viewport_size['width']

        dialog.locator('input[type="file"]').set_input_files(str(csv))
        expect(dialog.locator('input[type="text"][name="filename"]')
            ).to_have_value('leads.csv', timeout=IMPORT_TIMEOUT)
        screenshot('file')
        next_ = dialog.get_by_role('button', name='Next')
        assert next_.is_visible() and next_.is_enabled()
        next_.click()

        # The columns are mapped from their Spanish headers.
        preview = dialog.get_by_role('button', name='Preview')
        preview.wait_for(state='visible')
        rows = dialog.locator('table.tree > tbody > tr')
        expect(rows.filter(has_text='Empresa')).to_have_count(
            1, timeout=IMPORT_TIMEOUT)
        row_texts = rows.all_inner_texts()
        for header, field in IMPORT_MAPPING:
            assert any(header in text and field in text
                for text in row_texts), f"{header} is not mapped to {field}"
        screenshot('mapping')
        preview.click()

        # The preview rejects the row with the bad e-mail.
        import_ = dialog.get_by_role('button', name='Import')
        import_.wait_for(state='visible')
        expect(dialog.locator('input[type="text"][name="total_rows"]')
            ).to_have_value('3', timeout=IMPORT_TIMEOUT)
        rows = dialog.locator('table.tree > tbody > tr')
        expect(rows.filter(has_text='malo@')).to_have_count(
            1, timeout=IMPORT_TIMEOUT)
        bad = rows.filter(has_text='malo@').inner_text()
        assert 'Rejected' in bad and 'is not valid' in bad, bad
        good = rows.filter(has_text=IMPORT_ROWS[0][2]).inner_text()
        assert 'OK' in good and 'Rejected' not in good, good
        warned = rows.filter(has_text=IMPORT_ROWS[1][2]).inner_text()
        assert 'Warning' in warned and 'Rejected' not in warned, warned
        assert 'The channel "Feria"' in warned, warned
        # The column nobody mapped is named before anything is lost, in
        # a box that fits the phone.
        ignored = dialog.locator('[name="ignored_columns"]').first
        expect(ignored).to_be_visible(timeout=IMPORT_TIMEOUT)
        text = ignored.input_value()
        assert '"Notas internas"' in text and 'will be ignored' in text, text
        box = ignored.bounding_box()
        assert box['x'] >= 0
        assert box['x'] + box['width'] <= page.viewport_size['width']
        screenshot('preview')
        click_until_gone(import_)

        # The wizard ends on the import record, done.
        page.locator('.wizard-dialog').wait_for(state='hidden')
        page.locator('#tablist li.active').filter(
            has_text='Lead Imports').wait_for(state='attached')
        content = page.locator('#tabcontent .tab-pane.active')
        expect(content.locator('select[name="state"]')).to_be_attached(
            timeout=IMPORT_TIMEOUT)
        expect(content.locator('input[type="text"][name="created"]')
            ).to_have_value('2', timeout=IMPORT_TIMEOUT)
        result = {name: field_value(content, name) for name in [
                'filename', 'state', 'total_rows', 'processed_rows',
                'created', 'updated', 'skipped', 'rejected', 'warnings']}
        assert result == {
            'filename': 'leads.csv',
            'state': 'Done',
            'total_rows': '3',
            'processed_rows': '3',
            'created': '2',
            'updated': '0',
            'skipped': '0',
            'rejected': '1',
            'warnings': '1',
            }, result
        screenshot('result')
        # sao may list the records of a One2Many only when asked (More);
        # it also shows them by itself once the record is loaded.
        problems = content.locator('.form-notebook .tab-pane.active')
        more = problems.locator('tr.more-row button')
        rejected = problems.locator('table.tree > tbody > tr').filter(
            has_text='is not valid')
        more.or_(rejected).first.wait_for(state='attached')
        if more.count():
            more.scroll_into_view_if_needed()
            screenshot('problems_more')
            try:
                more.click(timeout=5_000)
            except PlaywrightTimeoutError:
                pass  # shown meanwhile
        expect(rejected).to_have_count(1, timeout=IMPORT_TIMEOUT)
        rejected.scroll_into_view_if_needed()
        text = rejected.inner_text()
        assert 'Rejected' in text and 'malo@' in text, text
        screenshot('problems')

        # The two good rows are leads now, the bad one is not.
        emails = [cells[2] for cells in IMPORT_ROWS]
        imported = rpc(page, 'model.sale.opportunity.search_read',
            [('lead_email', 'in', emails)], 0, None, None,
            ['lead_email', 'lead_company', 'lead_name', 'lead_phone'])
        assert sorted((r['lead_email'], r['lead_company'], r['lead_name'])
            for r in imported) == sorted(
            (email, company, name)
            for company, name, email, *_ in IMPORT_ROWS[:2])
        assert all(r['lead_phone'] for r in imported), imported

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


def record_popups(page):
    """Keep the pop-ups sao shows (the browser's notifications, allowed)
    in window.popups"""
    page.add_init_script("""
        window.popups = [];
        window.Notification = class {
            constructor(title, options) {
                window.popups.push(
                    {'title': title, 'body': (options || {}).body || ''});
            }
            static get permission() { return 'granted'; }
            static requestPermission() { return Promise.resolve('granted'); }
        };""")


def create_overdue_call(page, opportunity, subject):
    "A call on opportunity for the logged-in user, due yesterday at 9:00"
    call, = rpc(page, 'model.crm.activity.type.search',
        [('name', '=', 'Call')], 0, None, None)
    user = page.evaluate('Sao.Session.current_session.user_id')
    company, = rpc(page, 'model.company.company.search', [], 0, None, None)
    yesterday = page.evaluate("""() => {
        const d = new Date(Date.now() - 24 * 3600 * 1000);
        return {'__class__': 'datetime', 'year': d.getUTCFullYear(),
            'month': d.getUTCMonth() + 1, 'day': d.getUTCDate(),
            'hour': 9, 'minute': 0, 'second': 0, 'microsecond': 0};
        }""")
    rpc(page, 'model.crm.activity.create', [{
                'type': call, 'subject': subject, 'owner': user,
                'company': company, 'opportunity': opportunity['id'],
                'due': yesterday}])


@pytest.mark.parametrize('viewport', ['phone'])
def test_mark_activity_done(crm_server, page, viewport):
    "Mark an overdue call done from CRM > My Activities on a phone"
    from playwright.sync_api import expect

    screenshot = numbered_screenshots(page, 'activity')

    try:
        login(page, crm_server)
        expect_ready_desk(page)

        # An overdue call on the first opportunity: the first tab.
        create_overdue_call(page, crm_server.opportunities[0],
            "Call about the browser demo")

        content = open_crm_entry(page, 'My Activities')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text="Call about the browser demo")
        row.wait_for(state='visible')
        screenshot('overdue')
        box = row.bounding_box()
        assert box['x'] >= 0
        # On a phone the list shows cards, each with its Mark Done: the
        # first tap selects the card, the button then acts on it.
        row.get_by_text("Call about the browser demo").click()
        row.get_by_role('button', name='Mark Done').click()
        dialog = page.locator('.wizard-dialog .modal-dialog:visible').last
        outcome = dialog.locator('textarea[name="outcome"]')
        outcome.wait_for(state='visible')
        box = dialog.bounding_box()
        assert box['x'] >= 0
        assert box['x'] + box['width'] <= page.viewport_size['width']
        outcome.fill("They want the demo on Monday")
        screenshot('outcome')
        click_until_gone(dialog.get_by_role('button', name='Done'))
        page.locator('.wizard-dialog').wait_for(state='hidden')

        # Done, it leaves the Overdue tab for the Done one.
        expect(row).to_have_count(0)
        content.locator('.nav-tabs').get_by_text('Done', exact=True).click()
        row.wait_for(state='visible')
        expect(row.get_by_role('button', name='Mark Done')).to_be_hidden()
        screenshot('done')
        done = rpc(page, 'model.crm.activity.search_read',
            [('subject', '=', "Call about the browser demo")], 0, None,
            None, ['state', 'outcome', 'done_date'])
        assert [(d['state'], d['outcome']) for d in done] == [
            ('done', "They want the demo on Monday")], done
        assert done[0]['done_date']

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_automation_rule(crm_server, page, viewport):
    """Switch on the shipped new-lead rule in CRM > Configuration >
    Automation Rules; a new lead gets its call, and the rule's log says so"""
    from playwright.sync_api import expect
    screenshot = numbered_screenshots(page, f'automation-{viewport}')
    rule_name = "New lead: call within 1 working day"
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        content = open_configuration_entry(page, 'Automation Rules')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text=rule_name)
        row.wait_for(state='visible')
        screenshot('rules')

        # Open it, tick Active, save.
        row.get_by_text(rule_name).click()
        content.get_by_role('button', name='Switch').first.click()
        active = content.locator('input[type="checkbox"][name="active"]')
        active.wait_for(state='visible')
        assert not active.is_checked()
        active.click()
        expect(active).to_be_checked()
        # Saved when the server answers the write.
        answer = click_until_called(page,
            content.get_by_role('button', name='Save').first,
            'model.crm.automation.rule.write')
        rule, = rpc(page, 'model.crm.automation.rule.search_read',
            [('name', '=', rule_name), ('active', 'in', [True, False])],
            0, None, None, ['active'])
        assert rule['active'], (answer,
            page.locator('.error-dialog').all_inner_texts())
        screenshot('switched-on')

        # A new lead: the rule plans the call for its owner.
        user = page.evaluate('Sao.Session.current_session.user_id')
        company, = rpc(page, 'model.company.company.search',
            [], 0, None, None)
        lead, = rpc(page, 'model.sale.opportunity.create', [{
                    'description': f"Lead from the {viewport} test",
                    'owner': user, 'company': company}])
        calls = rpc(page, 'model.crm.activity.search_read',
            [('opportunity', '=', lead)], 0, None, None,
            ['subject', 'owner', 'state'])
        assert [(c['owner'], c['state']) for c in calls] == [
            (user, 'planned')], calls
        assert calls[0]['subject'].startswith("Call the new lead")

        # The rule's log shows it.
        content.get_by_role('button', name='Reload').first.click()
        content.locator('.nav-tabs').get_by_text(
            'Log', exact=True).first.click()
        line = content.locator('table.tree > tbody > tr').filter(
            has_text=calls[0]['subject'])
        line.first.wait_for(state='visible')
        screenshot('log')
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')
        with suppress(Exception):
            rule_ids = rpc(page, 'model.crm.automation.rule.search',
                [('name', '=', rule_name)], 0, None, None)
            rpc(page, 'model.crm.automation.rule.write', rule_ids,
                {'active': False})


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_alerts(crm_server, page, viewport):
    """An overdue activity raises the shipped alert: its icon and count in
    the opportunity list, the row in red, the message at the top of the
    form; acknowledged in CRM > Alerts, it leaves the list"""
    from playwright.sync_api import expect

    screenshot = numbered_screenshots(page, f'alerts-{viewport}')
    opportunity = crm_server.opportunities[1 if viewport == 'phone' else 2]
    message = (f"Overdue activity with {opportunity['party']} "
        f"({opportunity['description']})")
    record_popups(page)
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        # sao listens to the bus (on SQLite too, through crmkit.bus).
        page.wait_for_function('Sao.Bus.listening')
        create_overdue_call(page, opportunity, f"Late call ({viewport})")
        # The pop-up, as the browser shows it to a user who allowed them.
        page.wait_for_function(
            'message => window.popups.some(p => p.body.includes(message))',
            arg=message)

        rows = rpc(page, 'model.sale.opportunity.read',
            [opportunity['id']], ['crm_alert_count', 'crm_alert_icon'])
        assert [(r['crm_alert_count'], r['crm_alert_icon']) for r in rows
            ] == [(1, 'tryton-date')], rows

        content = open_crm_entry(page, 'Opportunities')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text=opportunity['party'])
        row.wait_for(state='visible')
        # The icon of the rule and the count, in a red row.
        row.locator('img.column-affix[src]').first.wait_for(
            state='visible')
        expect(row).to_have_class(re.compile(r'\bdanger\b'))
        row.scroll_into_view_if_needed()
        screenshot('list')

        # The form says why.
        row.get_by_text(opportunity['number'], exact=True).first.click()
        content.get_by_role('button', name='Switch').first.click()
        banner = content.locator('label, .form-label, span').filter(
            has_text=message).first
        banner.wait_for(state='visible')
        content.locator('.form-image_ img[src]').first.wait_for(
            state='visible')
        banner.scroll_into_view_if_needed()
        box = banner.bounding_box()
        assert box['x'] >= 0
        assert box['x'] + min(box['width'], 1) <= page.viewport_size['width']
        screenshot('form')

        # CRM > Alerts: acknowledge it.
        content = open_crm_entry(page, 'Alerts')
        line = content.locator('table.tree > tbody > tr').filter(
            has_text=message)
        line.wait_for(state='visible')
        screenshot('alerts')
        line.get_by_text(message).first.click()
        line.get_by_role('button', name='Acknowledge').click()
        expect(line.get_by_role('button', name='Acknowledge')).to_be_hidden()
        content.get_by_role('button', name='Reload').first.click()
        expect(line).to_have_count(0)
        screenshot('acknowledged')
        rows = rpc(page, 'model.sale.opportunity.read',
            [opportunity['id']], ['crm_alert_count'])
        assert rows[0]['crm_alert_count'] is None, rows

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.mark.parametrize('viewport', ['phone'])
def test_customer_upload(crm_server, page, viewport, tmp_path):
    """A rep makes an upload link for an opportunity; the customer opens
    it on a phone, in Spanish, and sends a PDF; it arrives linked to the
    opportunity, provided by the customer, and shows in CRM > Documents
    with its preview"""
    from playwright.sync_api import expect

    from crmkit.demo import demo_pdf

    screenshot = numbered_screenshots(page, f'upload-{viewport}')
    opportunity = crm_server.opportunities[3]
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        company, = rpc(page, 'model.company.company.search', [], 0, None,
            None)
        rows = rpc(page, 'model.sale.opportunity.read',
            [opportunity['id']], ['party'])
        link, = rpc(page, 'model.crm.upload.link.create', [{
                    'company': company, 'party': rows[0]['party'],
                    'opportunity': opportunity['id'],
                    'message': "Envíenos el contrato firmado."}])
        url, = rpc(page, 'model.crm.upload.link.read', [link], ['url'])
        url = url['url']
        assert url.startswith(crm_server.url.rstrip('/')), url

        # The customer's page, in Spanish, in a tab of its own.
        customer = page.context.new_page()
        customer.on('pageerror', lambda error: page.problems.append(
                f"JavaScript error on the upload page: {error}"))
        customer_screenshot = numbered_screenshots(
            customer, f'upload-{viewport}-customer')
        customer.goto(url + '?lang=es')
        expect(customer.locator('h1')).to_contain_text(
            'Envíe sus documentos')
        customer.get_by_text("Envíenos el contrato firmado.").wait_for()
        assert customer.evaluate(
            'document.documentElement.scrollWidth') <= 390
        customer_screenshot('page')
        pdf = tmp_path / 'contrato firmado.pdf'
        pdf.write_bytes(demo_pdf("Contrato firmado", [opportunity['party']]))
        customer.locator('input[type="file"]').set_input_files(str(pdf))
        customer.get_by_role('button', name='Enviar', exact=True).click()
        expect(customer.locator('h1')).to_contain_text('Gracias')
        customer.get_by_text('contrato firmado.pdf').wait_for()
        customer_screenshot('received')
        customer.close()

        # In the CRM: linked to the opportunity, from the customer.
        documents = rpc(page, 'model.crm.document.search_read',
            [('upload_link', '=', link)], 0, None, None,
            ['name', 'origin', 'file_type', 'links'])
        assert [(d['origin'], d['file_type']) for d in documents] == [
            ('customer', 'application/pdf')], documents

        content = open_crm_entry(page, 'Documents')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text='contrato firmado')
        row.wait_for(state='visible')
        screenshot('library')
        row.get_by_text('contrato firmado').first.click()
        content.get_by_role('button', name='Switch').first.click()
        content.locator('a[role="tab"], .nav-tabs a').filter(
            has_text='Preview').first.click()
        content.locator('.form-document iframe, .form-document object, '
            '.form-document embed').first.wait_for(state='attached')
        screenshot('preview')

        # And in the opportunity's Documents tab.
        content = open_crm_entry(page, 'Opportunities')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text=opportunity['party'])
        row.get_by_text(opportunity['number'], exact=True).first.click()
        content.get_by_role('button', name='Switch').first.click()
        content.locator('a[role="tab"], .nav-tabs a').filter(
            has_text=re.compile('^Documents$')).first.click()
        rows = rpc(page, 'model.sale.opportunity.read',
            [opportunity['id']], ['crm_documents'])
        assert [d['id'] for d in documents] == rows[0]['crm_documents'], rows
        # sao fills a list of a form when it comes into view.
        # (The tab's list: the other tabs' are hidden.)
        content.locator('.form-many2many:visible').last \
            .scroll_into_view_if_needed()
        line = content.get_by_text('contrato firmado').first
        line.wait_for(state='attached')
        line.scroll_into_view_if_needed()
        expect(line).to_be_visible()
        screenshot('opportunity')

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_dashboard(crm_server, page, viewport):
    """An administrator opens CRM > Reports > Company Dashboard: its panels
    draw their charts and lists; the Pipeline report lists the open leads
    by stage and exports them to CSV"""
    from playwright.sync_api import expect
    screenshot = numbered_screenshots(page, f'dashboard-{viewport}')
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        menu = open_menu(page)
        crm = menu.locator('div.column-char[title="CRM"]')
        crm.wait_for(state='visible')
        reports = menu.locator('div.column-char[title="Reports"]').first
        if not reports.is_visible():
            crm.click()
        reports.click()
        dashboard = menu.locator(
            'div.column-char[title="Company Dashboard"]').first
        dashboard.wait_for(state='visible')
        dashboard.click()
        page.locator('#tablist li.active').filter(
            has_text='Company Dashboard').wait_for(state='attached')
        board = page.locator('#tabcontent .tab-pane.active .board')
        titles = board.locator('.board-action .panel-heading')
        # The panels fill their headings one by one as their actions load:
        # to_have_text waits for all of them.
        expect(titles).to_have_text([
            "Won Year to Date against Target",
            "Won by Month against Last Year",
            "Won by Team", "Won by Channel", "Open Pipeline",
            "This Year by Month"])
        # Every chart is drawn, the months list has its twelve rows.
        expect(board.locator('.board-action svg').first).to_be_visible()
        panel = board.locator('.board-action').filter(
            has_text="This Year by Month")
        months = panel.locator('table.tree > tbody > tr').filter(
            has=page.locator('.column-date'))
        expect(months).to_have_count(12)
        expect(months.first.locator('.column-date')).not_to_be_empty()
        assert page.evaluate(
            'document.documentElement.scrollWidth') <= page.viewport_size[
            'width'] + 1
        screenshot('company')

        # The Pipeline report: the new leads of the server (the other
        # tests add some).
        new_leads = rpc(page, 'model.sale.opportunity.search_count',
            [('state', '=', 'lead'), ('stage.name', '=', 'New lead')])
        assert new_leads >= len(crm_server.opportunities)
        menu = open_menu(page)
        menu.locator(
            'div.column-char[title="Pipeline by Stage"]').first.click()
        page.locator('#tablist li.active').filter(
            has_text='Pipeline by Stage').wait_for(state='attached')
        content = page.locator('#tabcontent .tab-pane.active')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text='New lead')
        row.wait_for(state='visible')
        expect(row.locator('td .column-integer').first).to_have_text(
            str(new_leads))
        screenshot('pipeline')
        if viewport == 'desktop':
            # sao's print menu works once a row is the current one; the
            # export takes all the rows listed.
            row.locator('td .column-integer').first.click()
            with page.expect_download() as download:
                page.locator(
                    '#tabcontent .tab-pane.active button#print').first.click()
                page.get_by_role('menuitem', name='Export to CSV').click()
            text = Path(download.value.path()).read_text(
                encoding='utf-8-sig')
            assert text.splitlines()[0].startswith('Pipeline,Stage'), text
            assert any(line.startswith('Sales,New lead,')
                and f',{new_leads},' in line
                for line in text.splitlines()), text

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_api_key_and_docs(crm_server, page, viewport):
    """Create an API key in CRM > API Keys, read the API's reference page
    with it (Swagger UI served by this server, nothing from elsewhere),
    then revoke it: the key opens nothing any more"""
    from playwright.sync_api import expect

    screenshot = numbered_screenshots(page, f'api-{viewport}')
    name = f"Web form ({viewport})"
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        content = open_crm_entry(page, 'API Keys')
        content.get_by_role('button', name='New').first.click()
        field = content.locator('input[name="name"]')
        field.wait_for(state='visible')
        field.fill(name)
        # The key is shown, made by the server, before the first save:
        # the one time it is shown.
        key_field = content.locator('input[name="new_key"]')
        expect(key_field).not_to_have_value('')
        key = key_field.input_value()
        screenshot('key')
        answer = click_until_called(page,
            content.get_by_role('button', name='Save').first,
            'model.res.user.application.create')
        keys = rpc(page, 'model.res.user.application.search_read',
            [('name', '=', name)], 0, None, None,
            ['state', 'user', 'application', 'new_key'])
        user = page.evaluate('Sao.Session.current_session.user_id')
        assert [(k['state'], k['user'], k['application'], k['new_key'])
            for k in keys] == [('validated', user, 'rest', None)], (
            keys, answer)
        # Saved, it is gone from the form.
        expect(key_field).to_have_value('')

        # The reference page, in a tab of its own.
        docs = page.context.new_page()
        elsewhere = []
        docs.on('request', lambda request: (
                not request.url.startswith(crm_server.url.rstrip('/'))
                and not request.url.startswith('data:')
                and elsewhere.append(request.url)))
        docs.on('pageerror', lambda error: page.problems.append(
                f"JavaScript error on the API page: {error}"))
        docs_screenshot = numbered_screenshots(docs, f'api-{viewport}-docs')
        url = f"{crm_server.url.rstrip('/')}/{crm_server.database}/rest"
        docs.goto(f'{url}/docs')
        docs.locator('#key').fill(key)
        docs.get_by_role('button', name='Show the API').click()
        docs.locator('.opblock-tag').first.wait_for(state='visible')
        expect(docs.locator(
                '.opblock-summary-path[data-path="/model/sale.opportunity"]'
                ).first).to_be_visible()
        assert docs.evaluate(
            'document.documentElement.scrollWidth') <= (
            page.viewport_size['width'] + 1)
        docs_screenshot('reference')
        assert not elsewhere, elsewhere

        # Revoked from its form: the same key is refused.
        content.get_by_role('button', name='Revoke').click()
        click_until_called(page,
            page.locator('.modal-dialog:visible').last.get_by_role(
                'button', name='OK'),
            'model.res.user.application.cancel', attempts=1)
        state, = rpc(page, 'model.res.user.application.read',
            [keys[0]['id']], ['state'])
        assert state['state'] == 'cancelled', state
        status = docs.evaluate("""([url, key]) => fetch(url, {
                headers: {'Authorization': 'bearer ' + key}})
            .then(response => response.status)""",
            [f'{url}/openapi.json', key])
        assert status == 401, status
        screenshot('revoked')
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.mark.parametrize('viewport', ['desktop'])
def test_webhook(crm_server, page, viewport):
    """Add a webhook in CRM > Configuration > Webhooks, send it a test
    event: the receiver gets it signed, and the delivery shows as
    delivered; then a new lead reaches it too"""
    import hashlib
    import hmac
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from playwright.sync_api import expect

    received = []
    arrival = threading.Condition()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers['Content-Length']))
            with arrival:
                received.append((self.headers, body))
                arrival.notify_all()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = HTTPServer(('127.0.0.1', 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{receiver.server_port}/crm-events'
    screenshot = numbered_screenshots(page, f'webhook-{viewport}')
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        content = open_configuration_entry(page, 'Webhooks')
        content.get_by_role('button', name='New').first.click()
        # The new record's defaults (its secret) are there before typing:
        # on a loaded machine they came after and sao wrote them over the
        # entries, and Save then found the name and URL empty.
        expect(content.locator('input[name="new_secret"]')).not_to_have_value(
            '', timeout=60_000)
        fill_until_kept(content, [('name', "Shop"), ('url', url)])
        content.locator('select[name="events"]').select_option(
            label=["Lead created", "Opportunity won"])
        secret = content.locator('input[name="new_secret"]').input_value()
        assert len(secret) >= 32
        answer = click_until_called(page,
            content.get_by_role('button', name='Save').first,
            'model.crm.webhook.create')
        hooks = rpc(page, 'model.crm.webhook.search_read',
            [('name', '=', "Shop")], 0, None, None, ['events', 'url'])
        assert [(h['url'], sorted(h['events'])) for h in hooks] == [
            (url, ['lead.created', 'opportunity.won'])], (hooks, answer)
        screenshot('saved')

        content.get_by_role('button', name='Send Test Event').click()
        content.locator('.nav-tabs').get_by_text(
            'Deliveries', exact=True).click()
        row = content.locator('table.tree > tbody > tr').filter(
            has_text='Test event')
        expect(row.first).to_contain_text('Delivered')
        screenshot('delivered')
        (headers, body), = received
        timestamp = headers['X-CRM-Kit-Timestamp']
        expected = 'sha256=' + hmac.new(
            secret.encode(), timestamp.encode() + b'.' + body,
            hashlib.sha256).hexdigest()
        assert headers['X-CRM-Kit-Signature'] == expected
        assert json.loads(body)['event'] == 'webhook.test'

        # A lead made in the CRM reaches it once saved.
        company, = rpc(page, 'model.company.company.search',
            [], 0, None, None)
        rpc(page, 'model.sale.opportunity.create', [{
                    'description': "Lead for the webhook",
                    'company': company}])
        with arrival:
            assert arrival.wait_for(lambda: len(received) == 2, timeout=30)
        payload = json.loads(received[-1][1])
        assert payload['event'] == 'lead.created', payload
        assert payload['record']['description'] == "Lead for the webhook"
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')
        receiver.shutdown()
        receiver.server_close()
        with suppress(Exception):
            hooks = rpc(page, 'model.crm.webhook.search',
                [('name', '=', "Shop")], 0, None, None)
            rpc(page, 'model.crm.webhook.delete', hooks)


def create_quote(page, customer):
    """A customer with an address and a quote of 10 hours at 60 €, 10 %
    off, made as the CRM's Create Quote button makes it; its number"""
    def decimal(value):
        return {'__class__': 'Decimal', 'decimal': value}
    country, = rpc(page, 'model.country.country.search',
        [('code', '=', 'ES')], 0, None, None)
    party, = rpc(page, 'model.party.party.create', [{
                'name': customer,
                'addresses': [['create', [{
                                'street': "Gran Vía 1", 'postal_code': '28013',
                                'city': "Madrid", 'country': country}]]],
                }])
    unit, = rpc(page, 'model.product.uom.search',
        [('symbol', '=', 'u')], 0, 1, None)
    category, = rpc(page, 'model.product.category.search',
        [('name', '=', 'Services')], 0, 1, None)
    template, = rpc(page, 'model.product.template.create', [{
                'name': "Implantación CRM (hora)", 'type': 'service',
                'salable': True, 'list_price': decimal('60'),
                'default_uom': unit, 'sale_uom': unit,
                'account_category': category,
                'products': [['create', [{}]]],
                }])
    product, = rpc(page, 'model.product.product.search',
        [('template', '=', template)], 0, 1, None)
    opportunity, = rpc(page, 'model.sale.opportunity.create', [{
                'party': party, 'description': "CRM para la tienda",
                'lines': [['create', [{
                                'product': product, 'quantity': 10,
                                'unit': unit,
                                'discount_rate': decimal('0.1')}]]],
                }])
    rpc(page, 'model.sale.opportunity.create_quote', [opportunity])
    sale, = rpc(page, 'model.sale.sale.search_read',
        [('party', '=', party)], 0, 1, None, ['number'])
    return sale['number']


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_print_quote(crm_server, page, viewport):
    """Open a quote in CRM > Quotes and print it: sao downloads the PDF of
    the quote, with its discount and totals"""
    import io

    from playwright.sync_api import expect
    from pypdf import PdfReader

    screenshot = numbered_screenshots(page, f'quote-{viewport}')
    customer = f"Librería Cervantes ({viewport}) S.L."
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        number = create_quote(page, customer)
        content = open_crm_entry(page, 'Quotes')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text=customer)
        row.first.wait_for(state='visible')
        # Selected by its box (its customer's cell is a link to the
        # customer), then shown in the form.
        row.first.locator('input[type="checkbox"]').first.click()
        content.get_by_role('button', name='Switch').first.click()
        expect(content.locator('input[name="number"]')).to_have_value(number)
        screenshot('form')
        with page.expect_download() as download:
            if viewport == 'phone':
                # The toolbar's buttons are in the menu of the tab's title.
                content.locator('a.navbar-brand.dropdown-toggle').click()
                content.locator('a#print[role="menuitem"]').click()
                screenshot('print_menu')
            else:
                content.locator('button#print').first.click()
            page.locator('.dropdown-menu:visible').get_by_role(
                'menuitem', name='Quote', exact=True).click()
        assert download.value.suggested_filename.endswith('.pdf'), (
            download.value.suggested_filename)
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(b'%PDF')
        text = ' '.join(' '.join(
                p.extract_text() for p in PdfReader(io.BytesIO(data)).pages
                ).split())
        assert f"Quote number {number}" in text, text
        assert customer in text, text
        assert "10 u €60.00 10 % €540.00" in text, text
        assert "Total €653.40" in text, text
        screenshot('printed')
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


def board_column(content, stage_id):
    return content.locator(f'.crm-board-column[data-stage="{stage_id}"]')


def cents(text):
    "The amount a board shows ('€1,234.50') in cents"
    return int(re.sub(r'\D', '', text))


def expect_settled(board):
    """Wait until the board has saved a move and read itself again (a
    dragged card shows in its new column before the write is done)"""
    from playwright.sync_api import expect
    expect(board).not_to_have_class(re.compile(r'\bcrm-board-loading\b'))


def drag(page, card, target):
    "Drag card onto target with the mouse, as a rep does"
    box, goal = card.bounding_box(), target.bounding_box()
    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + 10)
    page.mouse.down()
    page.mouse.move(box['x'] + box['width'] / 2 + 10, box['y'] + 20, steps=5)
    page.mouse.move(goal['x'] + goal['width'] / 2, goal['y'] + 30, steps=20)
    page.mouse.up()


@contextmanager
def admin_language(server, code):
    """The administrator's sao in language code (set in their preferences
    before they log in), back in English at the end"""
    session = jsonrpc(server, 'common.db.login', [
            server.admin_login, {'password': server.admin_password},
            'en'])[:2]

    def set_language(code):
        jsonrpc(server, 'model.res.user.set_preferences',
            [{'language': code}, {}], session=session)
    set_language(code)
    try:
        yield
    finally:
        set_language('en')


# The pipeline board's test: in English on a desktop, in Spanish on a
# phone (the words it checks, as each language shows them).
BOARD_WORDS = {
    'desktop': {'language': 'en', 'menu': "Pipeline", 'amount': "1,234.50",
        'analysis': "Under analysis", 'refused': "create its quote first"},
    'phone': {'language': 'es', 'menu': "Embudo", 'amount': "1.234,50",
        'analysis': "En análisis", 'refused': "cree primero su presupuesto"},
    }


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_pipeline_board(crm_server, page, viewport):
    """CRM > Pipeline: columns that add up as the pipeline report, a card
    moved to the next stage (dragged on a desktop, "Move to…" on a phone)
    with its stage history, a move the workflow refuses going back with its
    message, a lost deal that keeps its reason, and a card that opens its
    deal; in English on a desktop, in Spanish on a phone"""
    screenshot = numbered_screenshots(page, f'board-{viewport}')
    words = BOARD_WORDS[viewport]
    with admin_language(crm_server, words['language']):
        _test_pipeline_board(crm_server, page, viewport, words, screenshot)


def _test_pipeline_board(crm_server, page, viewport, words, screenshot):
    from playwright.sync_api import expect
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        company, = rpc(page, 'model.company.company.search',
            [], 0, None, None)
        party, = rpc(page, 'model.party.party.create', [{
                    'name': f"Board {viewport} S.L."}])
        moved, refused = rpc(page, 'model.sale.opportunity.create', [{
                    'description': f"Move me {viewport}", 'party': party,
                    'company': company, 'amount': '1234.50'}, {
                    'description': f"Refuse me {viewport}", 'party': party,
                    'company': company}])
        # The stages by their English names, whatever the user's language.
        stages = {s['name']: s for s in rpc_in(page, {'language': 'en'},
                'model.crm.stage.search_read', [], 0, None, None,
                ['name', 'state'])}
        new, analysis, offer = (stages[n]['id'] for n in [
                "New lead", "Under analysis", "Offer submitted"])
        rpc(page, 'model.sale.opportunity.write', [refused],
            {'stage': analysis})

        content = open_crm_entry(page, words['menu'])
        board = content.locator('.crm-board')
        board.locator('.crm-board-column').first.wait_for(state='attached')
        expect(board.locator(f'.crm-card[data-id="{moved}"]')).to_have_count(1)
        screenshot('board')

        # Each open column is the pipeline report's row.
        report = page.evaluate("""() => new Promise((resolve, reject) =>
            Sao.rpc({
                'method': 'model.crm.report.pipeline.search_read',
                'params': [[], 0, null, null, ['stage', 'count', 'amount'],
                    {}],
            }, Sao.Session.current_session).then(rows => resolve(rows.map(
                r => [r.stage, r.count, String(r.amount)])), reject))""")
        assert report
        for stage_id, count, expected in report:
            column = board_column(board, stage_id)
            expect(column.locator('.crm-board-column-count')).to_have_text(
                str(count))
            amount = column.locator('.crm-board-amount').inner_text()
            assert cents(amount) == round(float(expected) * 100), (
                stage_id, expected, amount)

        card = board.locator(f'.crm-card[data-id="{moved}"]')
        expect(card).to_contain_text(f"Board {viewport} S.L.")
        expect(card).to_contain_text(words['amount'])
        if viewport == 'phone':
            assert not board_column(board, analysis).is_visible()
            card.locator('.crm-card-move').click()
            dialog = page.locator('.crm-board-move-dialog')
            dialog.locator(
                f'button[data-stage="{analysis}"]').click()
        else:
            drag(page, card, board_column(board, analysis).locator(
                    '.crm-board-cards'))
        expect(board_column(board, analysis).locator(
                f'.crm-card[data-id="{moved}"]')).to_have_count(1)
        expect_settled(board)
        screenshot('moved')
        deal, = rpc(page, 'model.sale.opportunity.read', [moved],
            ['stage', 'state'])
        assert (deal['stage'], deal['state']) == (analysis, 'opportunity')
        logs = rpc(page, 'model.crm.stage.log.search_read',
            [('opportunity', '=', moved)], 0, None, [('id', 'ASC')],
            ['from_stage', 'to_stage'])
        assert [(l['from_stage'], l['to_stage']) for l in logs] == [
            (None, new), (new, analysis)]

        # Without a quote the offer can not be submitted: the card goes
        # back, with the workflow's message.
        if viewport == 'phone':
            board.locator('.crm-board-tabs').get_by_role(
                'tab', name=re.compile(f"^{words['analysis']}")).click()
        card = board.locator(f'.crm-card[data-id="{refused}"]')
        if viewport == 'phone':
            card.locator('.crm-card-move').click()
            page.locator('.crm-board-move-dialog').locator(
                f'button[data-stage="{offer}"]').click()
        else:
            drag(page, card, board_column(board, offer).locator(
                    '.crm-board-cards'))
        warning = page.locator('.warning-dialog:visible')
        expect(warning).to_contain_text(words['refused'])
        screenshot('refused')
        warning.locator('.modal-footer button').first.click()
        expect(board_column(board, analysis).locator(
                f'.crm-card[data-id="{refused}"]')).to_have_count(1)
        expect_settled(board)
        deal, = rpc(page, 'model.sale.opportunity.read', [refused],
            ['stage'])
        assert deal['stage'] == analysis

        # Lost asks why, and keeps the reason on the deal.
        lost = stages["Lost"]['id']
        card = board_column(board, analysis).locator(
            f'.crm-card[data-id="{refused}"]')
        card.hover()
        card.locator('.crm-card-move').click()
        page.locator('.crm-board-move-dialog').locator(
            f'button[data-stage="{lost}"]').click()
        why = page.locator('.crm-board-lost-dialog')
        why.locator('select[name="lost_reason"]').select_option(index=1)
        reason = why.locator('select[name="lost_reason"]').input_value()
        screenshot('lost-reason')
        why.locator('button[type="submit"]').click()
        expect(board_column(board, analysis).locator(
                f'.crm-card[data-id="{refused}"]')).to_have_count(0)
        expect_settled(board)
        deal, = rpc(page, 'model.sale.opportunity.read', [refused],
            ['state', 'lost_reason_type'])
        assert (deal['state'], deal['lost_reason_type']) == (
            'lost', int(reason))
        if viewport == 'phone':
            board.locator('.crm-board-tabs').get_by_role(
                'tab', name=re.compile(f"^{words['analysis']}")).click()

        # A card opens its deal's form.
        board_column(board, analysis).locator(
            f'.crm-card[data-id="{moved}"] .crm-card-description').click()
        form = page.locator('#tabcontent .tab-pane.active')
        expect(form.locator('input[name="description"]')).to_have_value(
            f"Move me {viewport}")
        screenshot('opened')
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('end')


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_identity_and_home(crm_server, page, viewport):
    """The login dialog and the header say crm-kit and the company; after
    login the pipeline board is in front and the user's day one tap
    away"""
    from playwright.sync_api import expect

    screenshot = numbered_screenshots(page, f'desk-{viewport}')
    try:
        page.goto(crm_server.url)
        company = page.request.get(
            f'{crm_server.url}{crm_server.database}/crm/identity').json()
        assert company['solution'] == 'crm-kit' and company['name']
        brand = page.locator('.login-dialog .crm-login-brand')
        expect(brand).to_contain_text('crm-kit')
        # With several databases (PostgreSQL) the company shows once one
        # is chosen.
        database = page.locator('.login-dialog [name="database"]:visible')
        if database.evaluate('e => e.tagName') == 'SELECT':
            database.select_option(crm_server.database)
        expect(brand).to_contain_text(company['name'])
        screenshot('login')

        login(page, crm_server)
        expect_ready_desk(page)
        expect(page).to_have_title(re.compile(
                re.escape(f"crm-kit · {company['name']}")))
        expect(page.locator('#title')).to_have_text(
            f"crm-kit · {company['name']}")
        active = page.locator('#tabcontent .tab-pane.active')
        expect(active.locator('.crm-board-column').first).to_be_visible()
        screenshot('board')

        show_tab(page, 'Home')
        for panel in ["Overdue and Today", "Alerts for Me", "Open Pipeline"]:
            expect(active.get_by_text(panel, exact=True).first).to_be_visible()
        screenshot('home')
        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('end')


# The CRM's forms, each opened on a record of the test server (model, how
# to find or make one).
LAYOUT_FORMS = [
    'sale.opportunity', 'party.party', 'crm.activity', 'sale.sale',
    'crm.document', 'crm.automation.rule', 'crm.alert.rule',
    'crm.assignment.rule']


def layout_records(page, crm_server):
    "{model: id} of a record of each form LAYOUT_FORMS checks"
    import base64
    opportunity = crm_server.opportunities[0]
    deal, = rpc(page, 'model.sale.opportunity.read', [opportunity['id']],
        ['party', 'company'])
    records = {'sale.opportunity': opportunity['id'],
        'party.party': deal['party']}
    types = rpc(page, 'model.crm.activity.type.search',
        [], 0, 1, None)
    records['crm.activity'], = page.evaluate("""([values]) => new Promise(
            (resolve, reject) => Sao.rpc({
                'method': 'model.crm.activity.create',
                'params': [[{...values,
                    'due': Sao.DateTime(2030, 0, 2, 10, 0, 0)}], {}],
            }, Sao.Session.current_session, true, false).then(
                resolve, reject))""", [{
                'type': types[0], 'subject': "Layout call",
                'opportunity': opportunity['id'],
                'party': deal['party']}])
    records['sale.sale'], = rpc(page, 'model.sale.sale.create', [{
                'party': deal['party'], 'company': deal['company']}])
    records['crm.document'], = rpc(page, 'model.crm.document.create', [{
                'name': "layout.txt",
                'data': {'__class__': 'bytes', 'base64': base64.b64encode(
                        f"layout at {page.viewport_size}".encode()).decode()},
                }])
    # The rules shipped, switched on or not.
    for model in LAYOUT_FORMS[5:]:
        records[model], = rpc(page, f'model.{model}.search',
            [('active', 'in', [True, False])], 0, 1, None) or [None]
    return records


@pytest.mark.parametrize('viewport', list(VIEWPORTS))
def test_forms_fit(crm_server, page, viewport):
    """Every CRM form shows all its fields within the window: at 1280 px
    with the menu open, and on a phone"""
    from playwright.sync_api import expect

    screenshot = numbered_screenshots(page, f'layout-{viewport}')
    login(page, crm_server)
    expect_ready_desk(page)
    records = layout_records(page, crm_server)
    cut, unreachable = {}, {}
    for model in LAYOUT_FORMS:
        if records[model] is None:
            continue  # none shipped: a rule the administrator writes
        tabs = page.locator('#tablist li').count()
        page.evaluate(
            "([database, model, id]) => { window.location.hash = "
            "`#${database}/model/${model}/${id}`; }",
            [crm_server.database, model, records[model]])
        expect(page.locator('#tablist li')).to_have_count(tabs + 1)
        form = page.locator('#tabcontent .tab-pane.active .form')
        form.locator('input:visible, select:visible').first.wait_for(
            state='visible')
        page.wait_for_timeout(500)
        if viewport == 'desktop':
            assert page.locator('#menu').is_visible()
        # The entries, selections and their labels right of the window.
        outside = page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const pane = document.querySelector(
                '#tabcontent .tab-pane.active');
            return Array.from(pane.querySelectorAll(
                    'label, input, select, textarea, .form-item button'))
                .filter(e => e.offsetParent !== null)
                .filter(e => {
                    const box = e.getBoundingClientRect();
                    return box.width > 0 && box.right > width + 1;
                })
                // A list's columns scroll in the list, within the window.
                .filter(e => {
                    for (let p = e.parentElement; p; p = p.parentElement) {
                        const overflow = getComputedStyle(p).overflowX;
                        if (['auto', 'scroll'].includes(overflow)
                            && p.getBoundingClientRect().right
                                <= width + 1) {
                            return false;
                        }
                    }
                    return true;
                })
                .map(e => e.getAttribute('name') || e.textContent.trim()
                    || e.tagName);
        }""")
        if outside:
            cut[model] = outside
        if viewport == 'phone':
            # The form's actions are at hand without scrolling to its end.
            actions = page.evaluate("""() => Array.from(
                    document.querySelectorAll('#tabcontent .tab-pane.active '
                        + 'fieldset.crm-form-buttons button'))
                .filter(e => e.offsetParent !== null)
                .map(e => [e.textContent.trim(),
                    e.getBoundingClientRect().top,
                    e.getBoundingClientRect().bottom,
                    e.getBoundingClientRect().left,
                    e.getBoundingClientRect().right])""")
            width = page.viewport_size['width']
            height = page.viewport_size['height']
            out_of_reach = [name for name, top, bottom, left, right in actions
                if top < 0 or bottom > height or left < 0 or right > width]
            if out_of_reach:
                unreachable[model] = out_of_reach
            if model == 'sale.opportunity':
                assert actions, "the lead's actions are not shown"
                # Its lists of possible duplicates are empty: not shown.
                for title in ["Possible Duplicates", "Matching Customers"]:
                    shown = page.locator(
                        '#tabcontent .tab-pane.active').get_by_text(
                        title, exact=True).evaluate_all(
                        "els => els.filter(e => e.offsetParent).length")
                    assert not shown, f"an empty {title} list is shown"
        screenshot(model)
    assert not cut, f"cut off at the right: {cut}"
    assert not unreachable, f"actions out of reach: {unreachable}"
    assert not page.problems, page.problems


@pytest.mark.parametrize('viewport', ['phone'])
def test_email_on_the_opportunity(crm_server, page, viewport):
    """A customer's mail comes to the shared mailbox and shows on its
    opportunity; on a phone the user opens it from the opportunity's
    E-mails tab and replies; the reply leaves by SMTP, threaded on the
    customer's mail, and is kept on the opportunity"""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from playwright.sync_api import expect

    from crm_kit_email.tests.mailservers import mail_servers

    servers = mail_servers()
    servers.add_user('buzon', 'clave-del-buzon')
    screenshot = numbered_screenshots(page, f'email-{viewport}')
    opportunity = crm_server.opportunities[4]
    subject = "¿Podemos adelantar la visita?"
    try:
        login(page, crm_server)
        expect_ready_desk(page)
        company, = rpc(page, 'model.company.company.search', [], 0, None,
            None)
        party = rpc(page, 'model.sale.opportunity.read',
            [opportunity['id']], ['party'])[0]['party']
        rpc(page, 'model.party.contact_mechanism.create', [{
                    'party': party, 'type': 'email',
                    'value': 'libros@quijote.test'}])
        mailbox, = rpc(page, 'model.crm.mailbox.create', [{
                    'company': company, 'name': "Ventas",
                    'address': 'buzon@example.com', 'login': 'buzon',
                    'owner': None,
                    'password': 'clave-del-buzon',
                    'imap_host': servers.host,
                    'imap_port': servers.imap_port,
                    'imap_security': 'none',
                    'smtp_host': servers.host,
                    'smtp_port': servers.smtp_port,
                    'smtp_security': 'none'}])
        msg = EmailMessage()
        msg['From'] = "Librería El Quijote <libros@quijote.test>"
        msg['To'] = 'buzon@example.com'
        msg['Subject'] = subject
        msg['Date'] = formatdate()
        msg['Message-ID'] = make_msgid(domain='quijote.test')
        msg.set_content("Buenos días,\n\n¿Podríamos vernos el martes "
            "en lugar del jueves?\n\nUn saludo,\nMarta")
        servers.deliver('buzon', msg.as_bytes())
        rpc(page, 'model.crm.mailbox.poll', [mailbox])

        # The opportunity's E-mails tab lists it.
        content = open_crm_entry(page, 'Opportunities')
        row = content.locator('table.tree > tbody > tr').filter(
            has_text=opportunity['party'])
        row.get_by_text(opportunity['number'], exact=True).first.click()
        content.get_by_role('button', name='Switch').first.click()
        content.locator('a[role="tab"], .nav-tabs a').filter(
            has_text=re.compile('^E-mails$')).first.click()
        content.locator('.form-many2many:visible').last \
            .scroll_into_view_if_needed()
        line = content.get_by_text(subject).first
        line.wait_for(state='attached')
        line.scroll_into_view_if_needed()
        expect(line).to_be_visible()
        assert page.evaluate('document.documentElement.scrollWidth') <= 390
        screenshot('opportunity')

        # Opened, the whole mail; Reply writes to its sender.
        line.dblclick()
        dialog = page.locator('.modal-dialog:visible').last
        expect(dialog.locator('textarea[name="body_text"]')).to_have_value(
            re.compile("¿Podríamos vernos el martes"))
        screenshot('mail')
        dialog.get_by_role('button', name='Reply').click()
        wizard = page.locator('.modal-dialog:visible').filter(
            has=page.locator('[name="body"]')).last
        to = wizard.locator('input[name="to"]')
        expect(to).to_have_value('libros@quijote.test')
        expect(wizard.locator('input[name="subject"]')).to_have_value(
            "Re: " + subject)
        body = wizard.locator('textarea[name="body"]')
        body.click()
        body.press('Control+Home')
        body.type("El martes a las 10 nos va bien. ")
        screenshot('reply')
        click_until_gone(wizard.get_by_role('button', name='Send'))

        # The reply left by SMTP, threaded on the customer's mail.
        for _ in range(100):
            sent = [e for e in servers.outbound
                if b'libros@quijote.test' in b' '.join(
                    a.encode() for a in e.rcpt_tos)]
            if sent:
                break
            page.wait_for_timeout(200)
        assert sent, "the reply did not leave"
        raw = sent[-1].data
        raw = raw if isinstance(raw, bytes) else raw.encode()
        assert msg['Message-ID'].encode() in raw
        assert b'El martes a las 10 nos va bien.' in raw
        # Marked sent once the server took it
        for _ in range(50):
            replies = rpc(page, 'model.crm.email.search_read', [
                    ('direction', '=', 'out'),
                    ('subject', '=', "Re: " + subject)], 0, None, None,
                ['send_state', 'opportunities'])
            if all(r['send_state'] == 'sent' for r in replies):
                break
            page.wait_for_timeout(200)
        assert [(r['send_state'], r['opportunities']) for r in replies] == [
            ('sent', [opportunity['id']])], replies
        screenshot('sent')

        assert not page.locator('.error-dialog:visible').count(), (
            page.locator('.error-dialog').all_inner_texts())
        assert not page.problems, page.problems
    finally:
        screenshot('last')


@pytest.fixture(scope='module')
def assistant_server(crm_init, tmp_path_factory):
    """A fresh crm-kit init database as an agent gets it: its
    administrator has not logged in yet"""
    with serving(crm_init, tmp_path_factory.mktemp('crm-setup'),
            name=f'crm_setup_{os.getpid()}', setup_assistant=True) as server:
        yield server


def fill_row(page, row, values):
    """Type values {name: text} into the editable row of a list, leaving
    each cell with Tab as sao takes a value when it loses the focus"""
    from playwright.sync_api import TimeoutError
    for name, value in values.items():
        cell = row.locator(f'[name="{name}"]:visible')
        # A click on the row edits it again (again when sao dropped it).
        for attempt in range(5):
            if cell.count():
                break
            row.locator('td.editable').first.click()
            with suppress(TimeoutError):
                cell.wait_for(state='visible', timeout=5_000)
        if cell.evaluate('e => e.tagName') == 'SELECT':
            cell.select_option(value=f'"{value}"')
        else:
            cell.fill(value)
        cell.press('Tab')
        page.wait_for_timeout(200)


def new_row(page, dialog, new, attempts=5):
    """Add a row to the dialog's list with its New button (again when sao
    dropped the click); the row"""
    from playwright.sync_api import TimeoutError
    row = dialog.locator('.form-one2many tbody tr.selected')
    for attempt in range(attempts):
        dialog.locator('.form-one2many').get_by_role(
            'button', name=new).click()
        try:
            row.locator('input').first.wait_for(
                state='visible', timeout=10_000)
            return row
        except TimeoutError:
            if attempt == attempts - 1:
                raise


# The words of each run: the first login in English on a desktop, the
# assistant opened again from the menu in Spanish on a phone.
ASSISTANT_WORDS = {
    'desktop': {'language': 'en', 'skip': "Skip", 'save': "Save", 'ok': "OK",
        'configuration': "Module Configuration",
        'finish': "Finish", 'new': "New", 'name': "Legal Name",
        'users': "Users", 'stages': "Stages", 'channels': "Channels",
        'passwords': "New Users' Passwords"},
    'phone': {'language': 'es', 'skip': "Omitir", 'save': "Guardar",
        'ok': "Aceptar", 'configuration': "Configuración de los módulos",
        'finish': "Terminar", 'new': "Nuevo", 'name': "Razón social",
        'users': "Usuarios", 'stages': "Etapas", 'channels': "Canales",
        'passwords': "Contraseñas de los usuarios nuevos",
        'menu': ["CRM", "Configuración", "Asistente de configuración"]},
    }


@pytest.mark.parametrize('viewport', ['desktop', 'phone'])
def test_setup_assistant(assistant_server, page, viewport, tmp_path):
    """The setup assistant on the administrator's first login (desktop,
    English): the company with its NIF checked and logo, a user with their
    role, a stage's probability, a channel; then opened again from the
    menu (phone, Spanish), it shows what is stored and adds a user while
    skipping the rest"""
    from PIL import Image
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect

    server = assistant_server
    words = ASSISTANT_WORDS[viewport]
    screenshot = numbered_screenshots(page, f'setup-{viewport}')
    logo = tmp_path / 'logo.png'
    Image.new('RGB', (120, 40), 'teal').save(logo)
    login_ = {'desktop': 'marta', 'phone': 'luis'}[viewport]

    def step(field, title, timeout=TIMEOUT):
        """The assistant's dialog once it shows the step's field, titled in
        the user's language"""
        dialog = page.locator('.wizard-dialog .modal-dialog:visible').last
        dialog.locator(field).first.wait_for(state='visible', timeout=timeout)
        expect(dialog).to_contain_text(title, timeout=timeout)
        # sao fills a step's lists after showing it: a row added before
        # would be lost (and block the list's New).
        page.wait_for_timeout(1_500)
        box = dialog.bounding_box()
        assert box['x'] >= 0, box
        assert box['x'] + box['width'] <= page.viewport_size['width'], box
        # Its texts wrap within it (crmkit/sao/custom.css).
        past = dialog.locator('label.form-label').evaluate_all(
            """(labels, right) => labels.filter(
                l => l.getBoundingClientRect().right > right + 1)
                .map(l => l.textContent)""", box['x'] + box['width'])
        assert not past, f"past the dialog's edge: {past}"
        return dialog

    def button(dialog, name):
        return dialog.locator('.modal-footer').get_by_role(
            'button', name=name, exact=True)

    def advance(dialog, name, field, title):
        """Click the step's button name until the next step shows field
        and title: sao drops a click while it handles a change, so click
        again while the step is still there"""
        current = dialog.inner_text()
        for attempt in range(5):
            button(dialog, name).click()
            try:
                return step(field, title, timeout=10_000)
            except (AssertionError, PlaywrightTimeoutError):
                if attempt == 4 or dialog.inner_text() != current:
                    return step(field, title)

    with admin_language(server, words['language']):
        try:
            login(page, server)
            # On a new database the first login opens it through Tryton's
            # configuration wizard; once done, the menu opens it again.
            first_login = page.locator('#tablist li.active').filter(
                has_text=words['configuration'])
            crm = page.locator('#menu div.column-char[title="CRM"]')
            first_login.or_(crm).first.wait_for(state='attached')
            if not first_login.count():
                # The menu may come before the tab the login opens.
                with suppress(PlaywrightTimeoutError):
                    first_login.wait_for(state='attached',
                        timeout=20_000 if viewport == 'desktop' else 5_000)
            at_first_login = bool(first_login.count())
            if viewport == 'desktop':
                assert at_first_login, "the assistant did not open"
            if at_first_login:
                ok = page.locator('#tabcontent .tab-pane.active').get_by_role(
                    'button', name=words['ok'])
                assistant = page.locator('.wizard-dialog:visible')
                # (a click while sao still loads is dropped)
                for attempt in range(5):
                    ok.click()
                    with suppress(PlaywrightTimeoutError):
                        assistant.wait_for(state='visible', timeout=10_000)
                        break
            else:
                # Once the desk's tabs are open the menu is behind its
                # toggle.
                page.locator('#tablist li.active').wait_for(
                    state='attached')
                menu = open_menu(page)
                for title in words['menu']:
                    entry = menu.locator(
                        f'div.column-char[title="{title}"]').first
                    entry.wait_for(state='visible')
                    entry.click()

            # The company, as stored.
            dialog = step('input[name="nif"]', words['name'])
            company, = rpc(page, 'model.company.company.search_read', [],
                0, 1, None, ['party.name'])
            expect(dialog.locator('input[name="name"]')).to_have_value(
                company['party.']['name'])
            screenshot('company')
            if viewport == 'desktop':
                # A wrong NIF is told as typed; the step waits for a good one.
                fill_until_kept(dialog, [('nif', 'B1234567X')])
                expect(dialog.locator('input[name="nif_problem"]')
                    ).to_have_value('"B1234567X" is not a valid Spanish '
                    'NIF/CIF (e.g. B12345674).')
                expect(button(dialog, words['save'])).to_be_disabled()
                screenshot('nif')
                fill_until_kept(dialog, [
                        ('name', "Talleres Ruiz S.L."),
                        ('nif', 'B12345674'),
                        ('postal_code', '28001'),
                        ('city', 'Madrid'),
                        ('email', 'info@talleresruiz.test'),
                        ('website', 'https://talleresruiz.test'),
                        ])
                dialog.locator('input[type="file"]').set_input_files(
                    str(logo))
                page.wait_for_timeout(500)
                dialog = advance(dialog, words['save'], '.form-one2many',
                    words['users'])
            else:
                dialog = advance(dialog, words['skip'], '.form-one2many',
                    words['users'])

            # A user with their role.
            expect(button(dialog, words['save'])).to_be_enabled()
            row = new_row(page, dialog, words['new'])
            fill_row(page, row, {
                    'name': login_.title() + " López",
                    'login': 'admin' if viewport == 'phone' else login_,
                    'email': f'{login_}@talleresruiz.test',
                    'role': 'manager',
                    })
            screenshot('users')
            if viewport == 'phone':
                # Another user's login is refused, saying whose it is.
                button(dialog, words['save']).click()
                error = page.locator('.warning-dialog:visible')
                expect(error).to_contain_text(
                    'El nombre de usuario "admin" ya es del usuario')
                screenshot('login')
                error.get_by_role('button', name=words['ok']).click()
                fill_row(page, row, {'login': login_})
            dialog = advance(dialog, words['save'], '.form-one2many',
                words['stages'])

            # The stages: "Under analysis" at 30 % (desktop).
            rows = dialog.locator('.form-one2many tbody tr')
            expect(rows.first).to_be_visible()
            if viewport == 'desktop':
                analysis = rows.filter(has_text="Under analysis")
                field = analysis.locator('input[name="probability"]:visible')
                # A click on the cell edits the row (again when dropped).
                for attempt in range(5):
                    analysis.locator('td[data-title^="Probability"]').click()
                    with suppress(PlaywrightTimeoutError):
                        field.wait_for(state='visible', timeout=5_000)
                        break
                field.fill('30')
                field.press('Tab')
                page.wait_for_timeout(300)
                screenshot('stages')
                dialog = advance(dialog, words['save'], '.form-one2many',
                    words['channels'])
            else:
                dialog = advance(dialog, words['skip'], '.form-one2many',
                    words['channels'])

            # A channel (desktop).
            if viewport == 'desktop':
                row = new_row(page, dialog, words['new'])
                fill_row(page, row, {'name': "Feria de Muestras"})
                screenshot('channels')
                dialog = advance(dialog, words['save'],
                    'textarea[name="passwords"]', words['passwords'])
            else:
                dialog = advance(dialog, words['skip'],
                    'textarea[name="passwords"]', words['passwords'])

            # The new user's password, once.
            passwords = dialog.locator('textarea[name="passwords"]')
            expect(passwords).to_have_value(re.compile(rf'^{login_}: \S+$'))
            password = passwords.input_value().split(': ')[1]
            screenshot('done')
            click_until_gone(button(dialog, words['finish']))
            if at_first_login:
                # The configuration wizard's end
                page.locator('#tabcontent .tab-pane.active').get_by_role(
                    'button', name=words['ok']).click()
            page.locator('#menu div.column-char[title="CRM"]').wait_for(
                state='attached')
            screenshot('desk')

            # What was saved.
            user, = rpc(page, 'model.res.user.search_read',
                [('login', '=', login_)], 0, None, None,
                ['name', 'email', 'crm_role'])
            assert (user['name'], user['email'], user['crm_role']) == (
                login_.title() + " López", f'{login_}@talleresruiz.test',
                'manager'), user
            assert jsonrpc(server, 'common.db.login', [
                    login_, {'password': password}, 'en'])[0] == user['id']
            assert not rpc(page,
                'model.ir.module.config_wizard.item.search_count',
                [('state', '=', 'open')]), "the assistant would open again"
            if viewport == 'desktop':
                company, = rpc(page, 'model.company.company.search_read',
                    [], 0, 1, None, ['party.name', 'logo'])
                assert company['party.']['name'] == "Talleres Ruiz S.L."
                assert company['logo'], "the logo was not saved"
                identifiers = rpc(page,
                    'model.party.identifier.search_read',
                    [('party.name', '=', "Talleres Ruiz S.L.")], 0, None,
                    None, ['code'])
                assert [i['code'] for i in identifiers] == ['ESB12345674']
                stages = rpc(page, 'model.crm.stage.search_read',
                    [('name', '=', "Under analysis")], 0, None, None,
                    ['probability'])
                assert [s['probability'] for s in stages] == [0.3], stages
                assert rpc(page, 'model.crm.channel.search_count',
                    [('name', '=', "Feria de Muestras")]) == 1

            assert not page.locator('.error-dialog:visible').count(), (
                page.locator('.error-dialog').all_inner_texts())
            assert not page.problems, page.problems
        finally:
            screenshot('last')
