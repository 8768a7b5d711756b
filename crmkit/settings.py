"""Where crm-kit keeps its files and the trytond configuration it writes.

The configuration file is ``var/trytond.conf``; the standard ``TRYTOND_*``
environment variables (``TRYTOND_DATABASE__URI``, ``TRYTOND_EMAIL__URI``…)
override any of its values, as they do for every trytond."""
import os
from pathlib import Path

DEFAULT_DATABASE = 'crm'
MODULES = ['crm_kit']
LANGUAGES = ['es']


def home():
    "The folder for the configuration, the SQLite database and sao"
    return Path(os.environ.get('CRM_KIT_HOME') or 'var').resolve()


def database_name():
    return os.environ.get('CRM_KIT_DATABASE') or DEFAULT_DATABASE


def config_path():
    return home() / 'trytond.conf'


def sao_root():
    "Where sao is installed ('make sao'); CRM_KIT_SAO points elsewhere"
    return Path(os.environ.get('CRM_KIT_SAO') or home() / 'sao').resolve()


def listen():
    return os.environ.get('CRM_KIT_LISTEN') or 'localhost:8000'


CONFIG_TEMPLATE = """\
# Written by "crm-kit init"; edit freely, it is not overwritten.
# Any value can be overridden by TRYTOND_<SECTION>__<KEY> variables.
[database]
uri = sqlite://
path = {db_path}
language = en

[web]
listen = {listen}
root = {sao_root}

[wsgi middleware]
# Strips private ("_…") keys from the REST X-Tryton-Context header.
crm_kit_context = crmkit.wsgi.PrivateContextFilter

[email]
uri = smtp://localhost:25
from = crm-kit <no-reply@localhost>

[password]
length = 8

[session]
# Secure cookies work on https and on http://localhost.
"""


def ensure_config():
    "Write the configuration file if there is none and return its path"
    path = config_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        db_path = home() / 'db'
        db_path.mkdir(parents=True, exist_ok=True)
        path.write_text(CONFIG_TEMPLATE.format(
                db_path=db_path, listen=listen(), sao_root=sao_root()))
    os.environ['TRYTOND_CONFIG'] = str(path)
    return path
