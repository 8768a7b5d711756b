"""Fixtures shared by the tests of this folder: one crm-kit server for the
session, whichever test modules use it (a fixture imported into each
module would start one server per module, on the same database)."""
try:
    from server import crm_server  # noqa: F401
except ImportError:
    from tests.server import crm_server  # noqa: F401
