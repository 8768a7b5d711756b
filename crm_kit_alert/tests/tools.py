# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_alert tests"
from crm_kit.tests.tools import (  # noqa: F401
    CrmRouteTestCase, create_opportunity, load_spanish, missing_translations,
    setup_crm)
from trytond.pool import Pool
from trytond.tests.test_tryton import TestCase, activate_module, drop_db


class AlertTestCase(TestCase):
    "A test case with crm_kit_alert activated in a fresh database"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_kit_alert')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def flag(xml_id):
    "A shipped customer flag"
    pool = Pool()
    Flag = pool.get('crm.customer.flag')
    ModelData = pool.get('ir.model.data')
    return Flag(ModelData.get_id('crm_kit_alert', xml_id))
