# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_alert tests"
from crm_kit.tests.tools import (  # noqa: F401
    CrmRouteTestCase, CrmTestCase, create_opportunity, load_spanish,
    missing_translations, setup_crm)
from trytond.pool import Pool


class AlertTestCase(CrmTestCase):
    "A test case with crm_kit_alert and the CRM of setup_crm"
    modules = ['crm_kit_alert']


def flag(xml_id):
    "A shipped customer flag"
    pool = Pool()
    Flag = pool.get('crm.customer.flag')
    ModelData = pool.get('ir.model.data')
    return Flag(ModelData.get_id('crm_kit_alert', xml_id))
