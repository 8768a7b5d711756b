"""pytest setup shared by the module tests and the flow tests.

Tryton's test helpers read DB_NAME and the backend from the environment
when they are imported, so the defaults are set here, before any test
module imports trytond."""
import os

os.environ.setdefault('TRYTOND_DATABASE__URI', 'sqlite://')
if not os.environ['TRYTOND_DATABASE__URI'].startswith('sqlite'):
    # One database per run on a server, named after the process.
    os.environ.setdefault('DB_NAME', f'test_crm_kit_{os.getpid()}')
os.environ.setdefault('TRYTOND_EMAIL__URI', 'smtp://127.0.0.1:1')
