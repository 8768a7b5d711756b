# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase

from crm_kit.tests.tools import CrmModuleMixin


class CrmKitEmailTestCase(CompanyTestMixin, CrmModuleMixin, ModuleTestCase):
    "Test crm_kit_email module"
    module = 'crm_kit_email'
    extras = ['crm_kit_api']


del ModuleTestCase
