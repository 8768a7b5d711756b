# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The REST API's contract and its reference page.

    GET /<database>/rest/openapi.json   the OpenAPI document (bearer key)
    GET /<database>/rest/docs           the page that reads it

The document lists what the key's user may access, so it takes the key as
any REST call does.  The page is public and asks for the key: Swagger UI
(installed from npm into sao's folder by ``make sao``, never from a CDN)
then reads the document and sends the "Try it out" calls with it."""
import html

from trytond.i18n import gettext
from trytond.protocols.rest import rest
from trytond.protocols.wrappers import (
    Response, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

from crm_kit.public import (
    base_url, best_language, company_and_language, languages)

ASSETS = '/api-docs'


@app.route('/<database_name>/rest/openapi.json', methods={'GET'})
@with_pool
@with_transaction(readonly=True)
@rest
def openapi(request, pool):
    OpenAPI = pool.get('crm.api.openapi')
    database = Transaction().database.name
    return OpenAPI.document(OpenAPI.server_url(base_url(), database))


@app.route('/<database_name>/rest/docs', methods={'GET'})
@with_pool
@with_transaction(readonly=True)
def docs(request, pool):
    company, company_lang = company_and_language()
    lang = best_language(request, languages(company_lang)) or company_lang
    with Transaction().set_context(language=lang):
        title = gettext('crm_kit_api.msg_docs_title')
        # Whose CRM it is, as sao's header says it.
        if company:
            title = '%s · %s' % (title, company.rec_name)
        texts = {
            'title': title,
            'key': gettext('crm_kit_api.msg_docs_key'),
            'load': gettext('crm_kit_api.msg_docs_load'),
            'hint': gettext('crm_kit_api.msg_docs_hint'),
            }
    return Response(
        _docs_page(texts, lang), content_type='text/html; charset=utf-8')


DOCS_STYLE = (
    'body{margin:0;font-family:system-ui,sans-serif}'
    '.crm-api-key{padding:1rem;display:flex;flex-wrap:wrap;gap:.5rem;'
    'align-items:center;border-bottom:1px solid #ddd}'
    '.crm-api-key h1{font-size:1.2rem;margin:0 1rem 0 0;width:100%}'
    '.crm-api-key input{font-size:1rem;padding:.4rem;flex:1 1 16rem;'
    'max-width:28rem}'
    '.crm-api-key button{font-size:1rem;padding:.4rem 1rem}'
    '.crm-api-key p{margin:0;width:100%;color:#555;font-size:.9rem}')

DOCS_SCRIPT = """
(function () {
    var form = document.getElementById('crm-api-key');
    var input = document.getElementById('key');
    var language = document.documentElement.lang;
    function load(key) {
        window.SwaggerUIBundle({
            url: 'openapi.json',
            dom_id: '#swagger-ui',
            requestInterceptor: function (request) {
                request.headers.Authorization = 'bearer ' + key;
                request.headers['Accept-Language'] = language;
                return request;
            },
        });
    }
    form.addEventListener('submit', function (event) {
        event.preventDefault();
        // Kept for the tab only: the key is a password.
        window.sessionStorage.setItem('crm-kit-api-key', input.value);
        load(input.value);
    });
    var saved = window.sessionStorage.getItem('crm-kit-api-key');
    if (saved) {
        input.value = saved;
        load(saved);
    }
})();
"""


def _docs_page(texts, lang):
    esc = {k: html.escape(v) for k, v in texts.items()}
    return (
        '<!DOCTYPE html>\n'
        f'<html lang="{html.escape(lang.replace("_", "-"))}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc["title"]}</title>'
        f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">'
        f'<style>{DOCS_STYLE}</style></head><body>'
        '<form id="crm-api-key" class="crm-api-key">'
        f'<h1>{esc["title"]}</h1>'
        f'<label for="key">{esc["key"]}</label>'
        '<input id="key" name="key" type="password" autocomplete="off"'
        ' required>'
        f'<button type="submit">{esc["load"]}</button>'
        f'<p>{esc["hint"]}</p></form>'
        '<div id="swagger-ui"></div>'
        f'<script src="{ASSETS}/swagger-ui-bundle.js"></script>'
        f'<script>{DOCS_SCRIPT}</script>'
        '</body></html>\n')
