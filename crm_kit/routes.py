# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What trytond's own routes give clients, held to what JSON-RPC gives.

trytond 8.0's JSON-RPC calls only the methods a model lists in its
``__rpc__``; its REST routes and its CSV export (``/<db>/data/<model>``)
do not look: a model that offers nothing to clients (``ir.session``, whose
rows are the session keys of every user, ``res.user.login.attempt``,
``res.user.device``…) and has no access rule of its own was readable by
any user.  crm-kit's guard refuses a model's operation through those
routes unless its ``__rpc__`` offers it."""
from functools import wraps

from trytond.ir import routes as ir_routes
from trytond.protocols.wrappers import HTTPStatus, abort, with_pool
from trytond.wsgi import app


def rpc_offers(request, database_name, name, methods):
    """Whether the model name offers all methods to clients (its
    __rpc__), or None when there is no such model"""
    @with_pool
    def offers(request, pool):
        try:
            Model = pool.get(name)
        except KeyError:
            return None
        return all(m in Model.__rpc__ for m in methods)
    return offers(request, database_name)


def replace_endpoints(wrappers):
    """Serve the routes of each endpoint of wrappers (endpoint: wrapper)
    by its wrapper, in the application's URL map (trytond's route
    functions cannot be wrapped in place)"""
    replaced = {}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in wrappers:
            rule.endpoint = replaced[endpoint] = wrappers[endpoint]
    # werkzeug also finds the rules by endpoint (for its redirects).
    by_endpoint = app.url_map._rules_by_endpoint
    for endpoint, wrapper in replaced.items():
        by_endpoint[wrapper] = by_endpoint.pop(endpoint)


def _guard_export(endpoint):
    @wraps(endpoint)
    def wrapper(request, database_name, model):
        if rpc_offers(request, database_name, model,
                ['export_data', 'export_data_domain']) is False:
            abort(HTTPStatus.FORBIDDEN)
        return endpoint(request, database_name, model)
    return wrapper


replace_endpoints({ir_routes.data: _guard_export(ir_routes.data)})
