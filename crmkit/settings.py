"""Where crm-kit keeps its files and the trytond configuration it writes.

The configuration file is ``var/trytond.conf``.  trytond reads its
configuration file *after* the ``TRYTOND_*`` environment variables, so a
value written in the file would silently win over the environment.  The
generated file therefore leaves the database, listen address and mail
server commented out, and crm-kit passes its defaults for them as
environment variables that the user's own ``TRYTOND_*`` variables replace."""
import os
from pathlib import Path

DEFAULT_DATABASE = 'crm'
MODULES = [
    'crm_kit', 'crm_kit_lead', 'crm_kit_activity', 'crm_kit_alert',
    'crm_kit_document', 'crm_kit_report', 'crm_kit_api', 'crm_kit_quote',
    'crm_kit_desk', 'crm_kit_email']
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


MAX_REQUEST_SIZE = 100 * 1024 * 1024

CONFIG_TEMPLATE = """\
# Written by "crm-kit init"; edit freely, it is not overwritten.
# A value set in this file wins over the TRYTOND_<SECTION>__<KEY>
# environment variables, so the settings below that usually come from the
# environment are commented out; crm-kit's defaults are shown.
[database]
# uri = sqlite://                  (TRYTOND_DATABASE__URI)
# path = {db_path}                 (TRYTOND_DATABASE__PATH)
language = en

[web]
# listen = localhost:8000          (TRYTOND_WEB__LISTEN)
root = {sao_root}

[wsgi middleware]
# Strips private ("_…") keys from the REST X-Tryton-Context header.
crm_kit_context = crmkit.wsgi.PrivateContextFilter

[email]
# uri = smtp://localhost:25        (TRYTOND_EMAIL__URI)
from = crm-kit <no-reply@localhost>

[password]
length = 8

[session]
# Secure cookies work on https and on http://localhost.

[bus]
# sao listens for the pop-ups of alerts and reminders; crmkit.bus carries
# them on SQLite too (class = crmkit.bus.Bus, TRYTOND_BUS__CLASS).
allow_subscribe = True
"""


_given = {}


def environment_defaults():
    "The settings crm-kit gives through the environment unless already set"
    return {
        'TRYTOND_DATABASE__URI': 'sqlite://',
        'TRYTOND_DATABASE__PATH': str(home() / 'db'),
        'TRYTOND_WEB__LISTEN': 'localhost:8000',
        'TRYTOND_EMAIL__URI': 'smtp://localhost:25',
        # What a signed-in request may send (trytond's default is 2 GB,
        # read into memory): a 25 MB document in base64 and a margin.
        'TRYTOND_REQUEST__MAX_SIZE_AUTHENTICATED': str(MAX_REQUEST_SIZE),
        # sao's pop-ups on SQLite as on PostgreSQL (crmkit/bus.py).
        'TRYTOND_BUS__CLASS': 'crmkit.bus.Bus',
        }


def ensure_config():
    """Write the configuration file if there is none, set the environment
    defaults (inherited by trytond-admin and trytond) and return the path"""
    path = config_path()
    db_path = home() / 'db'
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CONFIG_TEMPLATE.format(
                db_path=db_path, sao_root=sao_root()))
    db_path.mkdir(parents=True, exist_ok=True)
    for key, value in environment_defaults().items():
        # Replace only what crm-kit itself set (for another CRM_KIT_HOME).
        if os.environ.get(key) in {None, _given.get(key)}:
            os.environ[key] = _given[key] = value
    os.environ['TRYTOND_CONFIG'] = str(path)
    return path
