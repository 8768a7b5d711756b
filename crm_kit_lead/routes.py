# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The public endpoint of the web forms: a visitor's post becomes a lead.

    POST /<database>/crm/web-form/<token>

It is unauthenticated, like Tryton's own public routes (avatars,
marketing automation's unsubscribe link): the transaction runs as the
root user, in the first company, and everything the visitor sends goes
through ``sale.opportunity.capture_leads`` so that the duplicate policy
and the assignment rules apply as for every other entry point."""
import datetime as dt
import json
import logging
from decimal import Decimal, InvalidOperation

from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    HTTPStatus, Response, allow_null_origin, exceptions, redirect,
    set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

from crm_kit.public import (
    best_language, company_and_language, languages as public_languages,
    match_language, page)

from .web_form import HONEYPOT

logger = logging.getLogger(__name__)

MAX_SIZE = 64 * 1024
TRUE_VALUES = {'1', 'on', 'true', 'yes', 'y', 'si', 'sí', 'checked'}
IDENTITY_FIELDS = ['lead_email', 'lead_phone', 'lead_tax_identifier']
CORS_HEADERS = {
    'Access-Control-Allow-Origin': '*',
    }


@app.route(
    '/<database_name>/crm/web-form/<token>', methods={'POST', 'OPTIONS'})
@allow_null_origin
@set_max_request_size(MAX_SIZE)
def web_form(request, database_name, token):
    if request.method == 'OPTIONS':
        # The snippet may post with fetch() from the customer's website.
        return Response(status=HTTPStatus.NO_CONTENT, headers={
                **CORS_HEADERS,
                'Access-Control-Allow-Methods': 'POST, OPTIONS',
                'Access-Control-Allow-Headers':
                    'Content-Type, Accept, Accept-Language',
                'Access-Control-Max-Age': '86400',
                })
    return _post(request, database_name, token)


@with_pool
@with_transaction(readonly=False)
def _post(request, pool, token):
    Form = pool.get('crm.web.form')
    Submission = pool.get('crm.web.form.submission')
    Configuration = pool.get('crm.lead.configuration')
    transaction = Transaction()
    as_json = _wants_json(request)

    # The leads go to the form's company, in its language.
    form = Form.get_active(token)
    company, company_lang = company_and_language(
        form.company if form else None)
    languages = public_languages(company_lang)
    lang = best_language(request, languages) or company_lang
    context = {'language': lang}
    if company:
        context['company'] = company.id

    with transaction.set_context(**context):
        if (request.content_length or 0) > MAX_SIZE:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, as_json,
                [gettext('crm_kit_lead.msg_web_form_too_large')])

        if not form:
            return _error(HTTPStatus.NOT_FOUND, as_json,
                [gettext('crm_kit_lead.msg_web_form_not_found')])
        form = Form(form.id)

        address = request.remote_addr
        limit = Configuration(1).web_form_rate_limit
        if limit and Submission.count_recent(address) >= limit:
            # Not logged: a flood would fill the log.
            response = _error(HTTPStatus.TOO_MANY_REQUESTS, as_json,
                [gettext('crm_kit_lead.msg_web_form_rate_limited')])
            response.headers['Retry-After'] = '3600'
            return response

        try:
            data = _read(request, as_json)
        except exceptions.RequestEntityTooLarge:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, as_json,
                [gettext('crm_kit_lead.msg_web_form_too_large')])
        except (ValueError, exceptions.BadRequest):
            Submission.log(form.id, address, 'rejected', reason="bad body")
            return _error(HTTPStatus.BAD_REQUEST, as_json,
                [gettext('crm_kit_lead.msg_web_form_invalid_body')])

        requested = match_language(_text(data.get('lang')), languages)
        consent_lang = requested or company_lang
        if requested and requested != lang:
            lang = requested
    with transaction.set_context(**{**context, 'language': lang}):
        if _text(data.get(HONEYPOT)):
            # Answered as a success: bots must not learn they were caught.
            Submission.log(form.id, address, 'spam', reason=HONEYPOT)
            return _success(form, as_json, 'received')

        values, errors = _lead_values(pool, form, data, consent_lang)
        if errors:
            Submission.log(
                form.id, address, 'rejected', reason=' '.join(errors))
            return _error(HTTPStatus.BAD_REQUEST, as_json, errors)

        Opportunity = pool.get('sale.opportunity')
        try:
            (status, lead), = Opportunity.capture_leads([values])
        except (UserError, UserWarning) as exception:
            transaction.rollback()
            message = exception.message
            Submission.log(form.id, address, 'rejected', reason=message)
            return _error(HTTPStatus.BAD_REQUEST, as_json, [message])
        Submission.log(
            form.id, address, 'accepted', result=status, lead=lead.id)
        if status in {'created', 'flagged'}:
            # Whether it looked like a duplicate is the sales team's
            # business, not the visitor's.
            return _success(form, as_json, 'created', lead.id)
        # An existing lead was kept or updated: never reveal its id.
        return _success(form, as_json, 'received')


def _wants_json(request):
    if request.mimetype == 'application/json':
        return True
    best = request.accept_mimetypes.best
    return best == 'application/json'


def _read(request, as_json):
    "The posted fields as a dictionary"
    if request.mimetype == 'application/json':
        data = json.loads(request.get_data(cache=True).decode('utf-8'))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    elif request.mimetype in {
            'application/x-www-form-urlencoded', 'multipart/form-data'}:
        return request.form.to_dict()
    raise ValueError("unsupported content type %s" % request.mimetype)


def _text(value):
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return '1' if value else None
    value = str(value).strip()
    return value or None


def _lead_values(pool, form, data, consent_lang):
    """The values of the lead a post asks for and the list of what is
    wrong with it, in the visitor's words"""
    Opportunity = pool.get('sale.opportunity')
    Form = pool.get('crm.web.form')
    errors, missing, values = [], [], {}
    subdivision = None
    for line in form.lines:
        value = _text(data.get(line.name))
        if not value:
            if line.required:
                missing.append(line.label or line.name)
            continue
        if line.name == 'amount':
            try:
                amount = Decimal(value.replace(',', '.'))
                if not amount.is_finite() or amount < 0:
                    raise InvalidOperation
            except InvalidOperation:
                errors.append(gettext(
                        'crm_kit_lead.msg_web_form_invalid_amount',
                        value=value, field=line.label))
                continue
            values['amount'] = amount.quantize(Decimal('0.01'))
        elif line.name == 'lead_country':
            country = _country(pool, value)
            if country:
                values['lead_country'] = country.id
            else:
                errors.append(gettext(
                        'crm_kit_lead.msg_web_form_unknown_country',
                        value=value, field=line.label))
        elif line.name == 'lead_subdivision':
            subdivision = (value, line.label)
        else:
            values[line.name] = value
    if subdivision:
        found = _subdivision(pool, subdivision[0], values.get('lead_country'))
        if found:
            values['lead_subdivision'] = found.id
            values.setdefault('lead_country', found.country.id)
        else:
            errors.append(gettext(
                    'crm_kit_lead.msg_web_form_unknown_subdivision',
                    value=subdivision[0], field=subdivision[1]))
    if missing:
        errors.insert(0, gettext(
                'crm_kit_lead.msg_web_form_missing_fields',
                fields=', '.join(missing)))
    if (_text(data.get('consent')) or '').lower() not in TRUE_VALUES:
        errors.insert(0, gettext('crm_kit_lead.msg_web_form_missing_consent'))
    if errors:
        return values, errors

    # The e-mail, phone and tax identifier as the lead model checks them.
    try:
        Opportunity.check_lead_identity([Opportunity(**{
                        **dict.fromkeys(IDENTITY_FIELDS), **values})])
    except UserError as exception:
        return values, [exception.message]

    with Transaction().set_context(language=consent_lang):
        consent_text = Form(form.id).consent_text
    Lang = pool.get('ir.lang')
    langs = Lang.search([('code', '=', consent_lang)], limit=1)
    if langs:
        values['lead_language'] = langs[0].id
    if not values.get('description'):
        values['description'] = gettext(
            'crm_kit_lead.msg_web_form_lead_description', form=form.name)
    values.update({
            'pipeline': form.pipeline.id,
            'channel': form.channel.id if form.channel else None,
            'web_form': form.id,
            'consent': True,
            'consent_text': consent_text,
            'consent_date': dt.datetime.now(),
            })
    return values, []


def _country(pool, value):
    Country = pool.get('country.country')
    if len(value) in {2, 3} and value.isalpha():
        field = 'code' if len(value) == 2 else 'code3'
        countries = Country.search([(field, '=', value.upper())], limit=1)
        if countries:
            return countries[0]
    countries = Country.search([('name', 'ilike', value)], limit=1)
    if countries:
        return countries[0]


def _subdivision(pool, value, country=None):
    Subdivision = pool.get('country.subdivision')
    domain = [('parent', '=', None)]
    if country:
        domain.append(('country', '=', country))
    for clause in [('code', '=', value.upper()), ('name', 'ilike', value)]:
        found = Subdivision.search(domain + [clause], limit=2)
        if len(found) == 1 or (found and country):
            return found[0]
    if country:
        # "M" for Madrid: the code without its country prefix.
        found = Subdivision.search(domain + [
                ('code', 'ilike', '%-' + value.upper())], limit=1)
        if found:
            return found[0]


def _error(status, as_json, messages):
    if as_json:
        body = json.dumps({
                'status': int(status),
                'message': ' '.join(messages),
                'errors': messages,
                })
        return Response(body, status=status, headers=CORS_HEADERS,
            content_type='application/json')
    title = gettext('crm_kit_lead.msg_web_form_error_title')
    return Response(
        page(title, messages, Transaction().language),
        status=status, headers=CORS_HEADERS,
        content_type='text/html; charset=utf-8')


def _success(form, as_json, status, lead_id=None):
    if as_json:
        if status == 'created':
            body, code = {'status': status, 'id': lead_id}, HTTPStatus.CREATED
        else:
            body, code = {'status': 'received'}, HTTPStatus.OK
        return Response(json.dumps(body), status=code, headers=CORS_HEADERS,
            content_type='application/json')
    if form.thank_you_url:
        response = redirect(form.thank_you_url, code=HTTPStatus.SEE_OTHER)
        response.headers.update(CORS_HEADERS)
        return response
    return Response(
        page(gettext('crm_kit_lead.msg_web_form_thanks'), [],
            Transaction().language),
        status=HTTPStatus.OK, headers=CORS_HEADERS,
        content_type='text/html; charset=utf-8')
