# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.

# The contract's routes register themselves on trytond's app.
from . import routes  # noqa: F401,E402
# trytond's REST routes answer bad input with clear errors.
from . import rest  # noqa: F401,E402
