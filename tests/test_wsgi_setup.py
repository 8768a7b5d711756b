"""crm-kit's generated configuration installs the REST context filter, and
the WSGI application given to production servers has it too."""
import json
import subprocess
import sys
import textwrap


def _run(code, env):
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _has_filter_code(import_line):
    return f"""
        {import_line}
        from crmkit.wsgi import PrivateContextFilter
        wsgi_app = app.wsgi_app
        found = False
        while wsgi_app is not None:
            found |= isinstance(wsgi_app, PrivateContextFilter)
            wsgi_app = getattr(wsgi_app, 'app', None)
        print(found)
        """


def test_generated_config_installs_filter(tmp_path, monkeypatch):
    monkeypatch.setenv('CRM_KIT_HOME', str(tmp_path))
    from crmkit import settings
    path = settings.ensure_config()
    assert '[wsgi middleware]' in path.read_text()
    env = {'PATH': '/usr/bin:/bin', 'TRYTOND_CONFIG': str(path)}
    assert _run(_has_filter_code('from trytond.wsgi import app'), env) == 'True'


def test_production_app_has_filter(tmp_path):
    # A configuration without the section (e.g. written by hand).
    config = tmp_path / 'trytond.conf'
    config.write_text('[database]\nuri = sqlite://\n')
    env = {'PATH': '/usr/bin:/bin', 'TRYTOND_CONFIG': str(config)}
    assert _run(_has_filter_code('from crmkit.wsgi import app'), env) == 'True'


def test_config_is_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.setenv('CRM_KIT_HOME', str(tmp_path))
    from crmkit import settings
    path = settings.ensure_config()
    path.write_text(path.read_text() + '\n# edited by the user\n')
    settings.ensure_config()
    assert path.read_text().endswith('# edited by the user\n')


def test_web_form_posts_from_any_origin():
    """The public web-form endpoint is not subject to [web] cors; the REST
    API refuses another site with its JSON 403 (trytond's refusal would
    be a 500)"""
    from crmkit.wsgi import PrivateContextFilter
    seen, statuses = [], []

    def app(environ, start_response):
        seen.append(environ.get('HTTP_ORIGIN'))
        return []

    middleware = PrivateContextFilter(app)
    origin = 'https://www.customer.test'
    for path in ['/crm/crm/web-form/abc', '/crm/rest/model/sale.opportunity']:
        body = middleware({'PATH_INFO': path, 'HTTP_ORIGIN': origin,
                'REQUEST_METHOD': 'GET', 'SERVER_NAME': 'localhost',
                'SERVER_PORT': '8000', 'wsgi.url_scheme': 'http'},
            lambda status, headers: statuses.append((status, dict(headers))))
    assert seen == [None]
    status, headers = statuses[-1]
    assert status.startswith('403')
    assert headers['Content-Type'] == 'application/json'
    # (Without a database to translate with, the status's own words.)
    assert json.loads(b''.join(body))['status'] == 403


def test_other_hosts_refused_when_public_address_set(tmp_path):
    "With [web] hostname, a request for another Host gets a 400"
    config = tmp_path / 'trytond.conf'
    config.write_text('[database]\nuri = sqlite://\n'
        '[web]\nhostname = https://crm.example.com\n')
    env = {'PATH': '/usr/bin:/bin', 'TRYTOND_CONFIG': str(config)}
    assert _run("""
        import trytond.config
        from crmkit.wsgi import PrivateContextFilter
        seen, status = [], []
        middleware = PrivateContextFilter(
            lambda environ, start_response: seen.append(environ) or [b''])
        for host in ['crm.example.com', 'evil.example.com']:
            middleware({'PATH_INFO': '/crm/rest/openapi.json',
                    'HTTP_HOST': host},
                lambda s, headers: status.append(s))
        print(len(seen), status)
        """, env) == "1 ['400 Bad Request']"
