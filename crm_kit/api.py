# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The CRM's models that its REST API documents in its contract (the
OpenAPI document of crm_kit_api): each module adds its own by extending
crm.api, in the order the document lists them."""
from trytond.model import Model


class Api(Model):
    "CRM API"
    __name__ = 'crm.api'
    __string__ = "CRM API"

    @classmethod
    def contract_models(cls):
        "The names of the models the contract documents, in its order"
        return [
            'sale.opportunity', 'sale.opportunity.line', 'crm.stage.log',
            'party.party', 'party.contact_mechanism', 'party.address',
            'crm.customer.history',
            'sale.sale', 'sale.line',
            'crm.pipeline', 'crm.stage', 'crm.channel', 'crm.lost_reason',
            'crm.team', 'product.product',
            ]
