# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_lead tests"
from crm_kit.tests.tools import (  # noqa: F401
    CrmRouteTestCase, CrmTestCase, activate, create_customer,
    create_opportunity, create_product, create_user,
    load_spanish, missing_translations, set_config, setup_crm, stage,
    zip_bomb)
from trytond.pool import Pool
from trytond.transaction import Transaction


class LeadTestCase(CrmTestCase):
    "A test case with crm_kit_lead and the CRM of setup_crm"
    modules = ['crm_kit_lead']


def configure(**values):
    "Change the lead configuration"
    Configuration = Pool().get('crm.lead.configuration')
    config = Configuration(1)
    for name, value in values.items():
        setattr(config, name, value)
    config.save()


def create_lead(crm, user=None, **values):
    "Create a lead as user (the rep by default) would in sao"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    user = user or crm.rep
    values.setdefault('description', "Interesado en el CRM")
    with Transaction().set_user(user.id), \
            Transaction().set_context(company=crm.company.id):
        lead, = Opportunity.create([values])
    return Opportunity(lead.id)


def create_rule(name, **values):
    Rule = Pool().get('crm.assignment.rule')
    rule, = Rule.create([dict(name=name, **values)])
    return rule
