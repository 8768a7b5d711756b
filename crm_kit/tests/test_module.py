# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase

from .tools import CrmModuleMixin


class CrmKitTestCase(CompanyTestMixin, CrmModuleMixin, ModuleTestCase):
    "Test crm_kit module"
    module = 'crm_kit'


del ModuleTestCase
