# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.

# trytond's export route offers only what JSON-RPC offers.
from . import routes  # noqa: F401,E402
# The health of the server, for load balancers.
from . import health  # noqa: F401,E402
