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
links) never echo a Host a client chose."""
import json
import logging
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode

logger = logging.getLogger(__name__)

_REST_PATH = re.compile(r'^/[^/]+/rest/')
_WEB_FORM_PATH = re.compile(r'^/[^/]+/crm/web-form/')
_HEADER = 'HTTP_X_TRYTON_CONTEXT'


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
    "Return context without the keys a client may not set"
    return {k: v for k, v in context.items()
        if not k.startswith('_') or k == '_datetime'}


class PrivateContextFilter:

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
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
        if header and _REST_PATH.match(path):
            environ[_HEADER] = self.clean(header)
        if _WEB_FORM_PATH.match(path):
            environ.pop('HTTP_ORIGIN', None)
        return self.app(environ, start_response)

    @staticmethod
    def clean(header):
        try:
            padded = header + '=' * (-len(header) % 4)
            context = json.loads(urlsafe_b64decode(padded))
        except (ValueError, TypeError):
            # Not ours to judge: trytond answers it with its own error.
            return header
        if not isinstance(context, dict):
            return header
        cleaned = strip_private_keys(context)
        if len(cleaned) != len(context):
            logger.info(
                'dropped private context keys %s',
                sorted(set(context) - set(cleaned)))
        return urlsafe_b64encode(
            json.dumps(cleaned, separators=(',', ':')).encode()).decode()


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
