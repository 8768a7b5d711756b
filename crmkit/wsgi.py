"""crm-kit's WSGI setup.

Web-to-lead forms are posted from customers' own websites: trytond refuses
any Origin not listed in [web] cors before a route runs, so the filter
drops the Origin header on the public form endpoint, which uses no cookie
nor login and answers with its own CORS headers.

trytond 8.0's REST endpoint applies the X-Tryton-Context header as given,
while JSON-RPC drops the private keys (those starting with "_", except
"_datetime").  A key holder could send {"_companies": [2]} and read another
company's records, so this middleware removes those keys before trytond sees
the header.  The generated configuration installs it through
[wsgi middleware]; ``crmkit.wsgi:app`` is the application to give a
production WSGI server.

With [web] hostname set (the public address, e.g.
https://crm.example.com), a request for any other Host is refused with a
400: the addresses crm-kit writes (the API contract's server, upload
links) never echo a Host a client chose.

Where the bus is not carried (SQLite without crmkit.bus as [bus] class),
the login tells sao there is none, and a bus request is answered 501 at
once (sao then stops listening) instead of waiting out the long-polling
timeout on a thread of the web server.

Every answer says "X-Content-Type-Options: nosniff", and a file given to
download (a report, an export) is sandboxed by its Content-Security-Policy:
a browser that opens it runs nothing of it."""
import json
import logging
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode

logger = logging.getLogger(__name__)

_REST_PATH = re.compile(r'^/[^/]+/rest/')
_BUS_PATH = re.compile(r'^/[^/]+/bus/?$')
_WEB_FORM_PATH = re.compile(r'^/[^/]+/crm/web-form/')
_HEADER = 'HTTP_X_TRYTON_CONTEXT'
# Where the filter leaves a REST request's X-Tryton-Context, decoded and
# without its private keys (None when it is no base64url JSON object):
# crm_kit_api.rest reads it there instead of decoding the header again.
CONTEXT = 'crmkit.context'


def decode_context(header):
    "The X-Tryton-Context header as a dict; ValueError when it is none"
    try:
        padded = header + '=' * (-len(header) % 4)
        context = json.loads(urlsafe_b64decode(padded))
    except (ValueError, TypeError) as exception:
        raise ValueError(str(exception)) from exception
    if not isinstance(context, dict):
        raise ValueError("not an object")
    return context


def encode_context(context):
    "context as the X-Tryton-Context header trytond decodes"
    return urlsafe_b64encode(
        json.dumps(context, separators=(',', ':')).encode()).decode()


def public_host():
    """The host[:port] of [web] hostname (the public address), lower case;
    None when it is not set"""
    from urllib.parse import urlsplit

    import trytond.config as config
    hostname = config.get('web', 'hostname')
    if not hostname:
        return None
    if '://' not in hostname:
        hostname = 'https://' + hostname
    return urlsplit(hostname).netloc.lower() or None


def strip_private_keys(context):
    """Return context without the keys a client may not set; _timestamp
    stays, as JSON-RPC reads it: the writes are checked against it"""
    return {k: v for k, v in context.items()
        if not k.startswith('_') or k in {'_datetime', '_timestamp'}}


def foreign_origin(environ):
    """The Origin of a request trytond refuses for coming from another
    site (not in [web] cors), or None"""
    from urllib.parse import urlparse

    import trytond.config as config
    origin = environ.get('HTTP_ORIGIN')
    if not origin or origin == 'null' or origin.startswith(
            ('moz-extension://', 'chrome-extension://')):
        return None
    if urlparse(origin).netloc == environ.get('HTTP_HOST', ''):
        return None
    cors = config.get('web', 'cors', default='').splitlines()
    return None if origin in cors else origin


def bus_supported():
    "Whether the bus carries sao's pop-ups (see crmkit.bus)"
    from .bus import carried
    return carried()


SANDBOX = "default-src 'none'; sandbox"


def secure_headers(start_response):
    "start_response adding the headers that keep files from running"
    def start(status, headers, exc_info=None):
        names = {k.lower(): v for k, v in headers}
        headers = list(headers)
        if 'x-content-type-options' not in names:
            headers.append(('X-Content-Type-Options', 'nosniff'))
        if (names.get('content-disposition', '').lower().startswith(
                    'attachment')
                and 'content-security-policy' not in names):
            headers.append(('Content-Security-Policy', SANDBOX))
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)
    return start


class PrivateContextFilter:

    def __init__(self, app):
        self.app = app
        if not bus_supported():
            # The login then gives sao no bus to listen to.
            from trytond import config
            config.set('bus', 'allow_subscribe', 'False')

    def __call__(self, environ, start_response):
        from crm_kit.access_log import set_client
        # The access log says with what client each login came.
        set_client(environ.get('HTTP_USER_AGENT'),
            environ.get('REMOTE_ADDR'))
        start_response = secure_headers(start_response)
        host = public_host()
        if host and environ.get('HTTP_HOST', '').lower() != host:
            body = json.dumps({'status': 400,
                    'message': "Unknown host: use %s" % host,
                    'description': ''}).encode()
            start_response('400 Bad Request', [
                    ('Content-Type', 'application/json'),
                    ('Content-Length', str(len(body)))])
            return [body]
        path = environ.get('PATH_INFO', '')
        header = environ.get(_HEADER)
        if _BUS_PATH.match(path) and not bus_supported():
            # trytond would hold the request (and a thread of the web
            # server) for its whole long-polling timeout; sao stops
            # listening on a 501.
            body = json.dumps({'status': 501,
                    'message': "The bus is not set up: set [bus] class = crmkit.bus.Bus",
                    'description': ''}).encode()
            start_response('501 Not Implemented', [
                    ('Content-Type', 'application/json'),
                    ('Content-Length', str(len(body)))])
            return [body]
        if _REST_PATH.match(path):
            if foreign_origin(environ):
                # trytond refuses it outside its error handling (a 500).
                from crm_kit_api.rest import environ_error
                return environ_error(environ, 403, 'msg_rest_origin', {
                        'origin': environ['HTTP_ORIGIN'][:100]})(
                    environ, start_response)
            if header:
                try:
                    context = self.strip(decode_context(header))
                except ValueError:
                    # Not ours to judge: the REST guard answers it.
                    environ[CONTEXT] = None
                else:
                    environ[CONTEXT] = context
                    environ[_HEADER] = encode_context(context)
            return self.json_errors(environ, start_response)
        if _WEB_FORM_PATH.match(path):
            environ.pop('HTTP_ORIGIN', None)
        return self.app(environ, start_response)

    def json_errors(self, environ, start_response):
        """Serve a REST request, its HTML error pages (werkzeug's, for an
        address no route takes) replaced by the API's JSON error body"""
        replaced = []

        def capture(status, headers, exc_info=None):
            code = int(status.split(None, 1)[0])
            content_type = next((v for k, v in headers
                    if k.lower() == 'content-type'), '')
            if code >= 400 and content_type.startswith('text/html'):
                replaced.append(code)
                return lambda data: None
            return start_response(status, headers, exc_info)
        body = self.app(environ, capture)
        if not replaced:
            return body
        if hasattr(body, 'close'):
            body.close()
        from crm_kit_api.rest import environ_error
        return environ_error(environ, replaced[0])(environ, start_response)

    @staticmethod
    def strip(context):
        "context without its private keys, which are logged"
        cleaned = strip_private_keys(context)
        if len(cleaned) != len(context):
            logger.info(
                'dropped private context keys %s',
                sorted(set(context) - set(cleaned)))
        return cleaned

    @classmethod
    def clean(cls, header):
        "The header without its private keys; as it is when no context"
        try:
            context = decode_context(header)
        except ValueError:
            return header
        return encode_context(cls.strip(context))


def _application():
    from trytond.application import app as trytond_app

    wsgi_app = trytond_app.wsgi_app
    while wsgi_app is not None:
        if isinstance(wsgi_app, PrivateContextFilter):
            return trytond_app
        wsgi_app = getattr(wsgi_app, 'app', None)
    trytond_app.wsgi_app = PrivateContextFilter(trytond_app.wsgi_app)
    return trytond_app


def __getattr__(name):
    # Import trytond only when the application is asked for, so that the
    # middleware can be resolved from trytond's own configuration.
    if name == 'app':
        return _application()
    raise AttributeError(name)
