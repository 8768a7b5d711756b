# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.

# The customers' upload page registers itself on trytond's app.
from . import routes  # noqa: F401,E402
