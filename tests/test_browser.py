"""Browser smoke test: log into sao as admin and open CRM > Opportunities.

Runs headless Debian chromium through Playwright against the trytond of
the ``crm_server`` fixture, once with a phone viewport and once with a
desktop one, and saves a screenshot of each to test-artifacts/."""
import re
from pathlib import Path

import pytest

try:
    from server import crm_server, sao_installed, sao_root  # noqa: F401
except ImportError:
    from tests.server import crm_server, sao_installed, sao_root  # noqa: F401

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu',
    '--disable-background-networking', '--disable-component-update']
ARTIFACTS = Path(__file__).resolve().parent.parent / 'test-artifacts'
VIEWPORTS = {
    'phone': {'width': 390, 'height': 844},
    'desktop': {'width': 1280, 'height': 800},
    }
# sao's layout switches to the phone one (menu or tabs) below this width.
SAO_SMALL_SCREEN = 992
TIMEOUT = 30_000  # ms, for every wait on the page

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
            f"JavaScript error: {error}"))
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
    page.locator('#login').wait_for(state='visible')
    # With one database sao fills it in (read-only); with several it shows
    # a selection (PostgreSQL), without the list an empty entry.
    database = page.locator('.login-dialog [name="database"]:visible')
    database.wait_for(state='visible')
    if database.evaluate('e => e.tagName') == 'SELECT':
        database.select_option(server.database)
    elif database.get_attribute('readonly') is None:
        database.fill(server.database)
    page.locator('#login').fill(server.admin_login)
    page.locator('.login-dialog button[type="submit"]').click()
    password = page.locator('.ask-dialog input[type="password"]')
    password.wait_for(state='visible')
    password.fill(server.admin_password)
    page.locator('.ask-dialog').get_by_role('button', name='OK').click()


def expect_ready_desk(page):
    """After login the CRM menu is there at once: crm-kit init closed
    Tryton's first-login configuration wizard (company and chart are set)."""
    crm = page.locator('#menu div.column-char[title="CRM"]')
    wizard = page.locator('#tabcontent .tab-wizard')
    crm.or_(wizard).first.wait_for(state='attached')
    assert not wizard.count(), "the configuration wizard opened at login"


def open_menu(page):
    "Show the menu: on a phone it is behind the toggle when a tab is open"
    menu = page.locator('#menu')
    if not menu.is_visible():
        page.locator('.navbar [data-toggle="menu"]').first.click()
    menu.wait_for(state='visible')
    return menu


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
