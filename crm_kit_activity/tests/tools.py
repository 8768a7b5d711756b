# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_activity tests"
import datetime as dt

from crm_kit.tests.tools import (  # noqa: F401
    CrmRouteTestCase, CrmTestCase, create_opportunity, load_spanish,
    missing_translations, run_queued, setup_crm, stage)
from trytond.pool import Pool
from trytond.transaction import Transaction


class ActivityTestCase(CrmTestCase):
    "A test case with crm_kit_activity and the CRM of setup_crm"
    modules = ['crm_kit_activity']


def activity_type(xml_id):
    pool = Pool()
    Type = pool.get('crm.activity.type')
    ModelData = pool.get('ir.model.data')
    return Type(ModelData.get_id('crm_kit_activity', xml_id))


def create_activity(crm, owner=None, kind='activity_type_call', **values):
    "Create an activity as its owner would in sao"
    pool = Pool()
    Activity = pool.get('crm.activity')
    owner = owner or crm.rep
    values.setdefault('subject', "Llamar para la demo")
    values.setdefault('party', crm.customer.id)
    values.setdefault('due', dt.datetime.now() + dt.timedelta(days=1))
    with Transaction().set_user(owner.id), \
            Transaction().set_context(company=crm.company.id):
        activity, = Activity.create([dict(
                    type=activity_type(kind).id, owner=owner.id, **values)])
    return Activity(activity.id)
