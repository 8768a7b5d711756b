# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the public pages served by trytond share (the web-to-lead form, the
customers' upload links): the server's public address, the company and
language a visitor is answered in, and a small responsive HTML page."""
import base64
import html
import logging
import urllib.parse

import trytond.config as config
from trytond.pool import Pool

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'http://localhost:8000'
PAGE_STYLE = (
    'body{font-family:system-ui,sans-serif;margin:0 auto;max-width:40rem;'
    'padding:1rem;line-height:1.4;color:#222}'
    'h1{font-size:1.4rem}'
    'input,button{font-size:1rem;max-width:100%}'
    'button{padding:.6rem 1.2rem;margin-top:1rem}'
    '.error{color:#a00}.note{color:#555;font-size:.9rem}'
    'nav{text-align:right;font-size:.9rem}'
    'footer{margin-top:2rem;color:#888;font-size:.8rem}')


def is_web_url(value):
    "Whether value is an absolute http or https URL"
    try:
        parts = urllib.parse.urlsplit(value or '')
    except ValueError:
        return False
    return (parts.scheme in {'http', 'https'} and bool(parts.hostname)
        and not any(c.isspace() for c in value))


def base_url():
    """The public address of this server: [web] hostname, else the
    development server's; never the Host a client sent (crmkit.wsgi
    refuses other hosts when hostname is set)"""
    hostname = config.get('web', 'hostname')
    if hostname:
        if '://' not in hostname:
            hostname = 'https://' + hostname
        return hostname.rstrip('/')
    return DEFAULT_BASE_URL


def company_and_language(company=None):
    """The company public requests are recorded in (the one given, such as
    a web form's, or else the first) and its language code"""
    pool = Pool()
    Company = pool.get('company.company')
    if company is None:
        companies = Company.search([], order=[('id', 'ASC')], limit=1)
        company = companies[0] if companies else None
    lang = None
    if company and company.party.lang:
        lang = company.party.lang.code
    return company, lang or config.get('database', 'language') or 'en'


def languages(company_lang):
    "The codes of the languages a visitor may be answered in"
    Lang = Pool().get('ir.lang')
    codes = [l.code for l in Lang.search([('translatable', '=', True)])]
    if company_lang not in codes:
        codes.insert(0, company_lang)
    return codes


def best_language(request, codes):
    "The code among codes the request's Accept-Language prefers"
    header = request.accept_languages
    if not header:
        return None
    best = header.best_match([c.replace('_', '-') for c in codes])
    if best:
        return best.replace('-', '_')
    for value, _ in header:
        code = match_language(value, codes)
        if code:
            return code


def match_language(value, codes):
    "The code among codes that value (es, es-ES, es_ES) asks for"
    if not value:
        return None
    value = value.strip().replace('-', '_')
    by_lower = {c.lower(): c for c in codes}
    if value.lower() in by_lower:
        return by_lower[value.lower()]
    return by_lower.get(value.split('_')[0].lower())


def page(title, paragraphs=(), lang=None, body='', nav=''):
    """A small responsive HTML page: nav above the title, the title,
    paragraphs as a list (escaped) and body (nav and body are HTML, already
    escaped by the caller)"""
    esc = html.escape
    items = ''.join('<li>%s</li>' % esc(p) for p in paragraphs)
    return (
        '<!DOCTYPE html>\n<html lang="%s"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, '
        'initial-scale=1"><title>%s</title><style>%s</style></head>'
        '<body>%s<h1>%s</h1>%s%s<footer>crm-kit</footer></body></html>\n'
        % (
            esc((lang or 'en').replace('_', '-')), esc(title), PAGE_STYLE,
            nav, esc(title), '<ul>%s</ul>' % items if items else '', body))


def logo_uri(company, width=400, height=160):
    """The company's logo as a data URI, None without one.  Resized here,
    not through Company.get_logo, whose cache is written in a transaction
    of its own: it waits forever for one that changed the logo before
    printing (PostgreSQL)."""
    if not company or not company.logo:
        return None
    try:
        image, _, _ = company._logo_resize(width, height)
    except Exception:
        logger.warning("the company's logo could not be read", exc_info=True)
        return None
    return 'data:image/png;base64,%s' % base64.b64encode(image).decode(
        'ascii')
