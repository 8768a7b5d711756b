# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.

# Who the CRM belongs to, for sao's login page and header.
from . import routes  # noqa: F401,E402
