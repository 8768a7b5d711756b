"""Fixtures shared by the tests of this folder: one crm-kit init and one
crm-kit server for the session, whichever test modules use them (a fixture
imported into each module would start one per module)."""
try:
    from server import crm_init, crm_server  # noqa: F401
except ImportError:
    from tests.server import crm_init, crm_server  # noqa: F401
