# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The customers' upload page of an upload link.

    GET  /<database>/crm/upload/<token>   the page, in the customer's language
    POST /<database>/crm/upload/<token>   multipart files ("files")

Unauthenticated like the web-to-lead endpoint: the transaction runs as
root, in the link's company, and stores all the files of a post or none
(a bad file, an interrupted upload or a link that stopped working stores
nothing)."""
import html
import logging
import os

from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    HTTPStatus, Response, allow_null_origin, exceptions,
    set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

from crm_kit.formats import format_date, human_size
from crm_kit.public import (
    best_language, company_and_language, languages, match_language, page)

from .content import check_file, safe_file_name
from .exceptions import DocumentFileError

logger = logging.getLogger(__name__)

# Hard ceiling of a post; the configured file size is checked per file.
MAX_REQUEST = 1024 * 1024 * 1024
# The files a post may carry to a link without a limit of its own.
MAX_FILES = 20
UNUSABLE = {
    'unknown': (HTTPStatus.NOT_FOUND, 'msg_upload_page_unknown'),
    'revoked': (HTTPStatus.GONE, 'msg_upload_page_revoked'),
    'expired': (HTTPStatus.GONE, 'msg_upload_page_expired'),
    'full': (HTTPStatus.CONFLICT, 'msg_upload_page_full'),
    }


@app.route('/<database_name>/crm/upload/<token>', methods={'GET', 'POST'})
# Browsers that hide the referrer post with "Origin: null"; the page needs
# no session, so that is no risk.
@allow_null_origin
@set_max_request_size(MAX_REQUEST)
def upload_page(request, database_name, token):
    return _handle(request, database_name, token)


@with_pool
@with_transaction(readonly=False)
def _handle(request, pool, token):
    UploadLink = pool.get('crm.upload.link')
    Configuration = pool.get('crm.document.configuration')
    transaction = Transaction()
    # The files go to the link's company, in its language.
    link, unusable = UploadLink.get_usable(token)
    company, company_lang = company_and_language(
        link.company if link else None)
    codes = languages(company_lang)
    lang = (match_language(request.args.get('lang'), codes)
        or best_language(request, codes) or company_lang)
    context = {'language': lang}
    if company:
        context['company'] = company.id

    with transaction.set_context(**context):
        if unusable:
            status, message = UNUSABLE[unusable]
            return _page(status, lang, codes,
                gettext('crm_kit_document.msg_upload_page_closed_title'),
                [gettext('crm_kit_document.' + message)])
        link = UploadLink(link.id)
        config = Configuration(1)
        if request.method == 'GET':
            return _form(link, config, lang, codes)

        remaining = (link.max_files - link.received
            if link.max_files else None)
        limit = config.max_size_bytes
        too_large = _form(link, config, lang, codes,
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, errors=[gettext(
                    'crm_kit_document.msg_upload_page_too_large',
                    limit=human_size(limit))])
        if limit:
            # Checked while the post streams in (a chunked post has no
            # length to check first); the files are spooled to disk.
            request.max_content_length = min(MAX_REQUEST,
                limit * (remaining or MAX_FILES) + 64 * 1024)
        if (request.content_length or 0) > request.max_content_length:
            return too_large
        try:
            uploads = [f for f in request.files.getlist('files')
                if f.filename]
            files = [(safe_file_name(f.filename), *_read(f, limit))
                for f in uploads]
        except exceptions.RequestEntityTooLarge:
            return too_large
        except (exceptions.BadRequest, OSError, ValueError) as exception:
            # An interrupted or malformed post: nothing is stored.
            logger.info("upload through %s failed: %s", link.id, exception)
            return _form(link, config, lang, codes,
                status=HTTPStatus.BAD_REQUEST, errors=[gettext(
                        'crm_kit_document.msg_upload_page_interrupted')])
        if not files:
            return _form(link, config, lang, codes,
                status=HTTPStatus.BAD_REQUEST, errors=[gettext(
                        'crm_kit_document.msg_upload_page_no_file')])
        if remaining is not None and len(files) > remaining:
            return _form(link, config, lang, codes,
                status=HTTPStatus.CONFLICT, errors=[gettext(
                        'crm_kit_document.msg_upload_page_too_many',
                        count=len(files), remaining=remaining)])
        checked, errors, status = [], [], HTTPStatus.BAD_REQUEST
        for file_name, data, size in files:
            if data is None:
                errors.append(gettext('crm_kit_document.msg_file_too_large',
                        file=file_name, size=human_size(size),
                        limit=human_size(limit)))
                status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                continue
            try:
                checked.append((file_name, data, check_file(data, file_name)))
            except DocumentFileError as exception:
                errors.append(exception.message)
                if status != HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        if errors:
            return _form(link, config, lang, codes, status=status,
                errors=errors)
        link.receive(checked)
        return _page(HTTPStatus.CREATED, lang, codes,
            gettext('crm_kit_document.msg_upload_page_thanks'),
            [gettext('crm_kit_document.msg_upload_page_received',
                    file=f[0]) for f in checked],
            body='<p><a href="?lang=%s">%s</a></p>' % (
                html.escape(lang), html.escape(gettext(
                        'crm_kit_document.msg_upload_page_more'))))


def _read(upload, limit):
    """The content of an uploaded file and its size; no content for a file
    over limit, which is not read (it waits on disk)"""
    stream = upload.stream
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if limit and size > limit:
        return None, size
    return stream.read(), size


def _form(link, config, lang, codes, status=HTTPStatus.OK,
        errors=()):
    esc = html.escape
    notes = [gettext('crm_kit_document.msg_upload_page_limits',
            size=human_size(config.max_size_bytes),
            date=format_date(link.expiry_date))]
    if link.max_files:
        notes.append(gettext('crm_kit_document.msg_upload_page_remaining',
                count=max(link.max_files - link.received, 0)))
    body = []
    if link.message:
        body.append('<p>%s</p>' % esc(link.message))
    body.extend('<p class="error" role="alert">%s</p>' % esc(e)
        for e in errors)
    body.append(
        '<form method="post" enctype="multipart/form-data" '
        'action="?lang=%s">'
        '<p><label for="files">%s</label><br>'
        '<input type="file" id="files" name="files" multiple required></p>'
        '<button type="submit">%s</button></form>' % (
            esc(lang), esc(gettext('crm_kit_document.msg_upload_page_choose')),
            esc(gettext('crm_kit_document.msg_upload_page_send'))))
    body.extend('<p class="note">%s</p>' % esc(n) for n in notes)
    return _page(status, lang, codes,
        gettext('crm_kit_document.msg_upload_page_title',
            company=link.company.rec_name,
            party=link.party.rec_name),
        [], body=''.join(body))


def _page(status, lang, codes, title, paragraphs, body=''):
    "A page with a switch to the other languages"
    esc = html.escape
    others = [c for c in codes if c != lang]
    nav = ''
    if others:
        nav = '<nav>%s</nav>' % ' · '.join(
            '<a href="?lang=%s" hreflang="%s">%s</a>' % (
                esc(c), esc(c.replace('_', '-')), esc(c.split('_')[0].upper()))
            for c in others)
    return Response(
        page(title, paragraphs, lang, body=body, nav=nav), status=status,
        headers={
            'Cache-Control': 'no-store',
            'X-Robots-Tag': 'noindex',
            # The token is in the address: never sent to other sites.
            'Referrer-Policy': 'same-origin',
            },
        content_type='text/html; charset=utf-8')
