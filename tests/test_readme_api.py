"""The README's REST API session with tryton-naiad runs as written against
a crm-kit server: it creates a customer and a lead, moves the lead to
"Under analysis", lists the open deals and downloads the quote."""
import contextlib
import io
import os
import re
import sys
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

try:
    from server import jsonrpc
except ImportError:
    from tests.server import jsonrpc

README = Path(__file__).resolve().parent.parent / 'README.md'

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 10), reason="tryton-naiad needs Python 3.10")


def readme_session():
    "The Python block that follows the naiad-session marker"
    text = README.read_text(encoding='utf-8')
    match = re.search(
        r'<!-- naiad-session -->\n```python\n(.*?)\n```', text, re.S)
    assert match, "README.md lost its naiad session"
    return match.group(1)


def api_key(server, name):
    "An API key of the administrator, made as in CRM > API Keys"
    user_id, token, *_ = jsonrpc(server, 'common.db.login', [
            server.admin_login, {'password': server.admin_password}, 'en'])
    session = (user_id, token)
    # As sao does: the new form shows the key, saving keeps its hash.
    key = jsonrpc(server, 'model.res.user.application.default_get',
        [['new_key'], {}], session)['new_key']
    key_id, = jsonrpc(server, 'model.res.user.application.create',
        [[{'name': name, 'new_key': key}], {}], session)
    stored, = jsonrpc(server, 'model.res.user.application.read',
        [[key_id], ['new_key', 'state'], {}], session)
    assert stored == {'id': key_id, 'new_key': None, 'state': 'validated'}, (
        stored)
    return key


def answer(call, *args, **kwargs):
    "call's result; an error with the server's message"
    import httpx
    try:
        return call(*args, **kwargs)
    except httpx.HTTPStatusError as error:
        raise AssertionError(error.response.text) from error


def test_naiad_session(crm_server, tmp_path, monkeypatch):
    from naiad import Client

    url = f"{crm_server.url.rstrip('/')}/{crm_server.database}"
    key = api_key(crm_server, "README session")
    # What the demo database has: the consulting hour, by its code.
    admin = Client(url, key)
    unit, = admin.search('product.uom', [('symbol', '=', 'u')])
    categories = admin.search('product.category', [
            ('accounting', '=', True)], limit=1)
    create_product = partial(admin.create, 'product.template')
    answer(create_product, {
            'name': "Consulting (hour)", 'code': 'CONS-H',
            'type': 'service', 'salable': True,
            'list_price': Decimal('65.00'),
            'default_uom': unit.id, 'sale_uom': unit.id,
            'account_category': categories[0].id if categories else None,
            'products': [('create', [{}])],
            })

    monkeypatch.setenv('CRM_URL', url)
    monkeypatch.setenv('CRM_KEY', key)
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        answer(exec, compile(readme_session(), str(README), 'exec'), {})
    lines = output.getvalue().splitlines()

    created, moved, *open_deals, quote = lines
    assert re.fullmatch(r'created \S+ in New lead', created), created
    number = created.split()[1]
    assert moved == "moved to Under analysis / opportunity", moved
    assert f"open {number} CRM para el taller / Under analysis" in open_deals
    filename = quote.removeprefix('quote ')
    content = (tmp_path / filename).read_bytes()
    # The quote's PDF (crm_kit_quote), with the lead's customer.
    assert content.startswith(b'%PDF'), content[:20]
    assert filename.endswith('.pdf'), filename

    # It is the quote of the lead, at the price list's price.
    lead, = admin.search('sale.opportunity', [('number', '=', number)],
        fields=['sales', 'amount'])
    sale, = admin.search('sale.sale', [('id', 'in', lead.sales)],
        fields=['state', 'untaxed_amount'])
    assert sale.state == 'quotation'
    assert sale.untaxed_amount == Decimal('650.00')
    assert os.path.basename(filename) == filename
