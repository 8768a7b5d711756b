# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The REST API's answers to bad input, and its optimistic locking.

trytond 8.0's REST routes turn whatever goes wrong into an HTML page with
status 500 (or a "400 Unable to get RPC method" that hides the cause), and
write over a change made since the client read the record.  crm-kit gives
each of trytond's REST routes a guard that:

- refuses what cannot be a request before trytond reads it (arguments that
  are not base64url JSON, numbers beyond 64 bits, a body that is not a JSON
  object) with a 400, 413 or 415;
- answers every error as the contract's JSON body ``{"status", "message",
  "description"}`` in the caller's language: a record or model that does
  not exist 404, what the user may not do 403, a stale write 412, and the
  field, operator or order that trytond could not use 400 — found again,
  after the failure, so that a request that works pays nothing;
- puts an ``ETag`` on each record it answers and honours ``If-Match`` on
  PUT, DELETE and buttons (or ``_timestamp`` in X-Tryton-Context), as
  JSON-RPC's ``_timestamp`` does.

A failure rolls its transaction back: nothing stored changes."""
import binascii
import json
import logging
import re
from base64 import urlsafe_b64decode
from functools import wraps

from trytond import backend
from trytond.config import config
from trytond.exceptions import (
    ConcurrencyException, LoginException, RateLimitException, UserError,
    UserWarning)
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.protocols import rest as trytond_rest
from trytond.protocols.jsonrpc import JSONRequest
from trytond.protocols.wrappers import (
    Request, Response, parse_authorization_header, with_pool)
from trytond.transaction import Transaction
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from crm_kit.public import best_language, company_and_language, languages
from crm_kit.routes import replace_endpoints, rpc_offers
from crmkit.wsgi import CONTEXT, decode_context, encode_context

from .routes import openapi

logger = logging.getLogger(__name__)

# A record id, an offset or a limit: what the databases store.
MAX_INTEGER = 2 ** 63 - 1
RANGE = re.compile(r'[A-Za-z]+=(\d*)-(\d*)')
LANGUAGE = re.compile(r'[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*|\*')
QUALITY = re.compile(r'q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)', re.I)
OPERATORS = {
    '=', '!=', 'like', 'not like', 'ilike', 'not ilike', '<', '<=', '>',
    '>=', 'in', 'not in', 'child_of', 'not child_of', 'parent_of',
    'not parent_of', 'where', 'not where',
    }
DIRECTIONS = re.compile(r'(ASC|DESC)( NULLS (FIRST|LAST))?', re.I)
# The statuses an error may have, each with the message saying it.
STATUS_MESSAGES = {
    400: 'msg_rest_status_400',
    401: 'msg_rest_status_401',
    403: 'msg_rest_status_403',
    404: 'msg_rest_status_404',
    405: 'msg_rest_status_405',
    409: 'msg_rest_status_409',
    412: 'msg_rest_status_412',
    413: 'msg_rest_status_413',
    415: 'msg_rest_status_415',
    416: 'msg_openapi_range',
    429: 'msg_rest_status_429',
    500: 'msg_rest_status_500',
    }


class Problem(Exception):
    "What is wrong in a request: its status, message id and variables"

    def __init__(self, status, message, **variables):
        super().__init__(status, message, variables)
        self.status = status
        self.message = message
        self.variables = variables


def _json_argument(value):
    "value decoded as base64url JSON, or ValueError"
    try:
        # Padded, as trytond decodes it.
        return json.loads(urlsafe_b64decode(value))
    except (binascii.Error, UnicodeDecodeError, TypeError) as exception:
        raise ValueError(str(exception)) from exception


def _big_integer(value):
    "The first integer of value (decoded JSON) beyond 64 bits, or None"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) > MAX_INTEGER else None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _big_integer(item)
            if found is not None:
                return found
    return None


def _has_nul(value):
    if isinstance(value, str):
        return '\x00' in value
    if isinstance(value, dict):
        value = list(value.keys()) + list(value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def clean_languages(header):
    """Accept-Language without the entries that are not language tags or
    whose quality is not a number from 0 to 1 (trytond fails on them)"""
    kept = []
    for entry in header.split(','):
        tag, *parameters = [p.strip() for p in entry.split(';')]
        if not LANGUAGE.fullmatch(tag) or tag == '*':
            continue
        quality = [p for p in parameters if p]
        if quality and not QUALITY.fullmatch(quality[0]):
            continue
        kept.append(';'.join([tag] + quality[:1]))
    return ','.join(kept)


def request_context(request):
    """The request's X-Tryton-Context as a dict ({} without one), decoded
    once (by crmkit.wsgi's filter, which crm-kit's server runs); Problem
    when it is no base64url JSON object"""
    if CONTEXT not in request.environ:
        header = request.headers.get('X-Tryton-Context')
        if not header:
            return {}
        try:
            request.environ[CONTEXT] = decode_context(header)
        except ValueError:
            request.environ[CONTEXT] = None
    context = request.environ[CONTEXT]
    if context is None:
        raise Problem(400, 'msg_rest_bad_context')
    return context


def syntax_problem(request, endpoint, view_args):
    "Raise Problem for what trytond could not even read in request"
    context = request_context(request)
    if context:
        _check_value(context, 'X-Tryton-Context')
    id_ = view_args.get('id')
    if id_ is not None and id_ > MAX_INTEGER:
        raise Problem(404, 'msg_rest_status_404')
    if endpoint is trytond_rest.search:
        for name in ['d', 'o']:
            if name in request.args:
                try:
                    value = _json_argument(request.args[name])
                    if not isinstance(value, list):
                        raise ValueError
                except ValueError:
                    raise Problem(400, 'msg_rest_bad_json', parameter=name)
                _check_value(value, name)
        for name in ['s', 'p']:
            if name in request.args:
                value = request.args[name]
                if not value.isdigit() or int(value) > MAX_INTEGER:
                    raise Problem(400, 'msg_rest_bad_integer',
                        parameter=name, value=value[:20])
        range_ = request.headers.get('Range')
        if range_ and ',' not in range_:
            match = RANGE.fullmatch(range_.strip())
            # (With no first record trytond ignores the header.)
            if (not match
                    or any(g and int(g) > MAX_INTEGER
                        for g in match.groups())
                    or (match.group(1) and match.group(2)
                        and int(match.group(2)) < int(match.group(1)))):
                raise Problem(400, 'msg_rest_bad_range', range=range_[:40])
    if endpoint in {trytond_rest.create, trytond_rest.update}:
        _check_body(request, required=True)
    elif endpoint is trytond_rest.action:
        _check_body(request, required=False)


def _check_value(value, where):
    found = _big_integer(value)
    if found is not None:
        raise Problem(400, 'msg_rest_big_integer',
            where=where, value=str(found)[:30])
    if _has_nul(value):
        raise Problem(400, 'msg_rest_nul', where=where)


def _check_body(request, required):
    if not request.content_length and not request.data:
        if required:
            raise Problem(400, 'msg_rest_bad_body')
        return
    if request.mimetype != 'application/json':
        raise Problem(415, 'msg_rest_status_415',
            type=request.mimetype or '-')
    try:
        body = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, 'msg_rest_bad_body')
    if not isinstance(body, dict):
        raise Problem(400, 'msg_rest_bad_body')
    _check_value(body, 'body')


def _field_path(Model, path, where):
    "Raise Problem unless path (a.b.c) names fields from Model"
    names = path.split('.')
    for i, name in enumerate(names):
        field = Model._fields.get(name)
        if field is None:
            if name in {'id', '__name__', 'rec_name', '_timestamp'} or (
                    name == '' and i and i == len(names) - 1):
                # "party." reads the party as a record.
                return
            raise Problem(400, 'msg_rest_unknown_field',
                field=path[:80], model=Model.__name__, where=where)
        if i < len(names) - 1:
            target = getattr(field, 'get_target', None)
            if field._type == 'reference' or target is None:
                raise Problem(400, 'msg_rest_unknown_field',
                    field=path[:80], model=Model.__name__, where=where)
            Model = target()


def _check_domain(Model, domain):
    if not isinstance(domain, list):
        raise Problem(400, 'msg_rest_bad_domain', part=str(domain)[:80])
    if domain and isinstance(domain[0], str) and (
            len(domain) < 2 or not isinstance(domain[1], str)
            or domain[0] in {'AND', 'OR'}):
        if domain[0] in {'AND', 'OR'}:
            for item in domain[1:]:
                _check_domain(Model, item)
            return
        # A leaf: [field, operator, value(, model)]
        if len(domain) not in {3, 4}:
            raise Problem(400, 'msg_rest_bad_domain', part=str(domain)[:80])
    if domain and isinstance(domain[0], str):
        field, operator, value = domain[:3]
        _field_path(Model, field, 'd')
        if operator not in OPERATORS:
            raise Problem(400, 'msg_rest_bad_operator',
                operator=str(operator)[:20], field=field[:80])
        if operator in {'in', 'not in'} and not isinstance(value, list):
            raise Problem(400, 'msg_rest_bad_value',
                operator=operator, field=field[:80])
        if operator in {'where', 'not where'}:
            local = Model._fields.get(field.split('.')[0])
            target = getattr(local, 'get_target', None)
            if target:
                _check_domain(target(), value)
        return
    for item in domain:
        if not isinstance(item, list):
            raise Problem(400, 'msg_rest_bad_domain', part=str(item)[:80])
        _check_domain(Model, item)


def semantic_problem(request, endpoint, view_args):
    """Raise Problem for what trytond failed on: an unknown model, field,
    operator or order (looked for only once a request has failed)"""
    pool = Pool()
    name = view_args.get('name')
    if name is None:
        return
    try:
        Model = pool.get(name)
    except KeyError:
        raise Problem(404, 'msg_rest_unknown_model', model=str(name)[:80])
    for path in request.args.getlist('f'):
        _field_path(Model, path, 'f')
    if endpoint is trytond_rest.search:
        if 'd' in request.args:
            _check_domain(Model, _json_argument(request.args['d']))
        if 'o' in request.args:
            for item in _json_argument(request.args['o']):
                if (not isinstance(item, list) or len(item) != 2
                        or not isinstance(item[0], str)
                        or not isinstance(item[1], str)
                        or not DIRECTIONS.fullmatch(item[1])):
                    raise Problem(400, 'msg_rest_bad_order',
                        part=str(item)[:80])
                _field_path(Model, item[0], 'o')
    if endpoint in {trytond_rest.create, trytond_rest.update}:
        body = json.loads(request.get_data() or b'{}')
        for name, value in body.items():
            field = Model._fields.get(name)
            if field is None:
                raise Problem(400, 'msg_rest_unknown_field',
                    field=name[:80], model=Model.__name__, where='body')
            if field._type in {'one2many', 'many2many'} and value:
                _check_actions(field, name, value)
            else:
                _check_type(field, name, value)


def _check_type(field, name, value):
    if value is not None and not _of_type(field._type, value):
        raise Problem(400, 'msg_rest_bad_field_value',
            field=name[:80], type=field._type)


def type_problem(request, database_name, endpoint, view_args):
    """Raise Problem for a body value not of its field's type, before
    trytond writes it: SQLite would store a boolean in a number's column
    where PostgreSQL fails (checked once the database's pool is loaded)"""
    if endpoint not in {trytond_rest.create, trytond_rest.update}:
        return
    if database_name not in Pool.database_list():
        return
    try:
        Model = Pool(database_name).get(view_args.get('name'))
    except KeyError:
        return
    body = json.loads(request.get_data() or b'{}')
    for name, value in body.items():
        field = Model._fields.get(name)
        if field is not None and field._type not in {
                'one2many', 'many2many'}:
            _check_type(field, name, value)


# What a JSON value of each field type may be (dates, times and decimals
# are objects of trytond's JSON encoding).
VALUE_TYPES = {
    'boolean': (bool,),
    'integer': (int,), 'biginteger': (int,), 'many2one': (int,),
    'float': (int, float, dict), 'numeric': (int, float, dict),
    'char': (str,), 'text': (str,), 'selection': (str,),
    'date': (dict,), 'datetime': (dict,), 'timestamp': (dict,),
    'time': (dict,), 'timedelta': (dict,),
    }


def _of_type(type_, value):
    kinds = VALUE_TYPES.get(type_)
    if kinds is None:
        return True
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


# The actions a list of related records takes, and their arguments after
# the action's name (an optional last one).
ACTIONS = {
    'create': (list,),
    'write': (list, dict),
    'delete': (list,),
    'add': (list,),
    'remove': (list,),
    'copy': (list, dict),
    }


def _check_actions(field, name, value):
    "Raise Problem unless value is a list of actions on related records"
    def bad():
        return Problem(400, 'msg_rest_bad_actions', field=name[:80])
    if not isinstance(value, list):
        raise bad()
    for action in value:
        if (not isinstance(action, list) or not action
                or action[0] not in ACTIONS):
            raise bad()
        kinds, arguments = ACTIONS[action[0]], action[1:]
        if action[0] == 'write':
            # write: ids, values, (ids, values)...
            if len(arguments) < 2 or len(arguments) % 2:
                raise bad()
            kinds = kinds * (len(arguments) // 2)
        elif not len(kinds) - (action[0] == 'copy') <= len(arguments) <= len(
                kinds):
            raise bad()
        for kind, argument in zip(kinds, arguments):
            if not isinstance(argument, kind):
                raise bad()
            if kind is list and action[0] == 'create':
                if not all(isinstance(v, dict) for v in argument):
                    raise bad()
            elif kind is list and not all(
                    isinstance(v, int) and not isinstance(v, bool)
                    for v in argument):
                raise bad()


def _status_of(exception):
    "The status and message of an exception trytond let through"
    if isinstance(exception, ConcurrencyException):
        return 412, 'msg_rest_status_412'
    if isinstance(exception, RateLimitException):
        return 429, 'msg_rest_status_429'
    if isinstance(exception, LoginException):
        return 403, 'msg_rest_status_403'
    if isinstance(exception, backend.DatabaseIntegrityError):
        return 409, 'msg_rest_status_409'
    if isinstance(exception, (OverflowError, backend.DatabaseDataError)):
        return 400, 'msg_rest_status_400'
    return None


def _language(request, database_name):
    _, company_lang = company_and_language()
    return best_language(request, languages(company_lang)) or company_lang


def error_response(request, database_name, status, message=None,
        variables=None, text=None, description=''):
    """The contract's error body for status, with the message's text in
    the caller's language"""
    try:
        with Transaction().start(database_name, 0, readonly=True):
            with Transaction().set_context(
                    language=_language(request, database_name)):
                if text is None:
                    text = gettext(
                        f'crm_kit_api.{message or STATUS_MESSAGES[status]}',
                        **(variables or {}))
                language = Transaction().language
    except Exception:
        # No database to translate with (it does not exist).
        logger.debug("error message not translated", exc_info=True)
        language = 'en'
        if text is None:
            text = HTTP_STATUS_CODES.get(status, str(status))
    response = Response(
        json.dumps({'status': status, 'message': str(text),
                'description': str(description or '')}),
        status=status, content_type='application/json')
    response.headers['Content-Language'] = language.replace('_', '-')
    return response


def environ_error(environ, status, message=None, variables=None):
    """The error for a request refused before trytond dispatches it
    (crmkit.wsgi), translated when its database can be read"""
    request = Request(environ)
    database_name = request.path.strip('/').split('/')[0]
    try:
        if database_name not in Pool.database_list():
            with Transaction().start(None, 0, readonly=True) as transaction:
                if database_name not in transaction.database.list():
                    raise KeyError(database_name)
            pool = Pool(database_name)
            with Transaction().start(database_name, 0, readonly=True):
                pool.init()
    except Exception:
        logger.debug("no database to translate with", exc_info=True)
    return error_response(request, database_name, status, message, variables)


def _etag(timestamp):
    return '"%s"' % timestamp


def _if_match(request, name, id_):
    """Put If-Match's timestamp into X-Tryton-Context as _timestamp, which
    the write and delete check as JSON-RPC's does"""
    value = request.headers.get('If-Match', '').strip()
    if not value or value == '*' or id_ is None:
        return
    value = value.split(',')[0].strip()
    if value.startswith('W/'):
        value = value[2:]
    value = value.strip('"')
    context = dict(request_context(request))
    context['_timestamp'] = {f'{name},{id_}': value}
    request.environ[CONTEXT] = context
    request.environ['HTTP_X_TRYTON_CONTEXT'] = encode_context(context)


def _timestamp(database_name, name, id_):
    "The record's _timestamp, what its ETag says"
    with Transaction().start(database_name, 0, readonly=True):
        Model = Pool().get(name)
        records = Model.read([id_], ['_timestamp'])
        return records[0]['_timestamp'] if records else None


def guard(endpoint):
    "endpoint, one of trytond's REST routes, with crm-kit's guard"
    @wraps(endpoint)
    def wrapper(request, database_name, **view_args):
        if 'HTTP_ACCEPT_LANGUAGE' in request.environ:
            request.environ['HTTP_ACCEPT_LANGUAGE'] = clean_languages(
                request.environ['HTTP_ACCEPT_LANGUAGE'])
        if isinstance(request, JSONRequest):
            # A REST body is no JSON-RPC call: without this, trytond reads
            # its "method" to decide how to fail, and fails on that.
            request.__dict__['rpc_method'] = None
        _signed_in_size(request, database_name)
        try:
            _offered(request, database_name, endpoint, view_args)
            syntax_problem(request, endpoint, view_args)
            type_problem(request, database_name, endpoint, view_args)
        except Problem as problem:
            return error_response(request, database_name, problem.status,
                problem.message, problem.variables)
        name, id_ = view_args.get('name'), view_args.get('id')
        _if_match(request, name, id_)
        try:
            response = endpoint(request, database_name, **view_args)
        except HTTPException as exception:
            return _failed(request, database_name, endpoint, view_args,
                exception)
        if (id_ is not None and endpoint is not trytond_rest.report
                and isinstance(response, Response)
                and response.status_code == 200
                and response.mimetype == 'application/json'):
            try:
                timestamp = _timestamp(database_name, name, id_)
            except Exception:
                logger.debug("no ETag", exc_info=True)
            else:
                if timestamp:
                    response.headers['ETag'] = _etag(timestamp)
        return response
    return wrapper


# The methods of a model's __rpc__ each REST route calls.
RPC_METHODS = {
    trytond_rest.search: ['search', 'read'],
    trytond_rest.get: ['read'],
    trytond_rest.create: ['create', 'read'],
    trytond_rest.update: ['write', 'read'],
    trytond_rest.delete: ['delete'],
    }


def _offered(request, database_name, endpoint, view_args):
    """Refuse the model's operation unless it is offered to clients, as
    JSON-RPC does (crm_kit.routes)"""
    methods = RPC_METHODS.get(endpoint)
    if methods and rpc_offers(
            request, database_name, view_args['name'], methods) is False:
        raise Problem(403, 'msg_rest_not_offered', model=view_args['name'])


def _signed_in_size(request, database_name):
    """Give a request with a valid key the size limit of a signed-in user:
    trytond knows the user of a REST call only inside the route, so it
    limits REST bodies to the anonymous size (2 MB).  The key is checked
    first only for a body over that size (or of no stated length)."""
    limit = config.getint('request', 'max_size_authenticated')
    current = request.max_content_length
    if (current is None or limit <= current
            or (request.content_length or 0) <= current
            and request.content_length is not None):
        return
    authorization = parse_authorization_header(
        request.headers.get('Authorization'))
    if authorization is None or authorization.type not in {
            'bearer', 'basic'}:
        return
    token = (getattr(authorization, 'token', '')
        if authorization.type == 'bearer'
        else authorization.get('password'))

    @with_pool
    def valid(request, pool):
        with Transaction().start(database_name, 0, readonly=True):
            return bool(pool.get('res.user.application').check(
                    token, 'rest'))
    if valid(request, database_name):
        request.max_content_length = limit


def _failed(request, database_name, endpoint, view_args, exception):
    "The JSON error answering the HTTPException trytond raised"
    status = exception.code or 500
    original = exception.description
    context = exception.__context__
    if status == 400 and isinstance(context, AccessError):
        return error_response(request, database_name, 403,
            text=context.message, description=context.description)
    if status == 400 and isinstance(context, (UserError, UserWarning)):
        # A warning cannot be confirmed through REST: it refuses as an
        # error does, with its message.
        return error_response(request, database_name, 400,
            text=context.message, description=context.description)
    if not isinstance(original, BaseException):
        if status >= 500:
            logger.error("REST request failed: %s", request, exc_info=True)
        return error_response(request, database_name, status)
    known = _status_of(original)
    if known:
        return error_response(request, database_name, *known)
    try:
        with Transaction().start(database_name, 0, readonly=True):
            semantic_problem(request, endpoint, view_args)
    except Problem as problem:
        return error_response(request, database_name, problem.status,
            problem.message, problem.variables)
    except Exception:
        logger.debug("request not checked", exc_info=True)
    logger.error("REST request failed: %s", request,
        exc_info=(type(original), original, original.__traceback__))
    return error_response(request, database_name, 500)


ENDPOINTS = [
    trytond_rest.search, trytond_rest.get, trytond_rest.create,
    trytond_rest.update, trytond_rest.delete, trytond_rest.action,
    trytond_rest.report, openapi,
    ]


def guard_rest_routes():
    "Give trytond's REST routes their guard"
    replace_endpoints({e: guard(e) for e in ENDPOINTS})


guard_rest_routes()
