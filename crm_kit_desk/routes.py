# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Who the CRM belongs to, for sao's login page and header:

    GET /<database>/crm/identity

It needs no login, like the public pages that already show the company
(the upload links, the web forms): the solution's name, the company's
name and its logo, small.  Nothing else of the records."""
import json

from trytond.protocols.wrappers import (
    HTTPStatus, Response, with_pool, with_transaction)
from trytond.wsgi import app

from crm_kit.public import company_and_language, logo_uri

SOLUTION = 'crm-kit'
LOGO_SIZE = (160, 48)  # px: the header's height


@app.route('/<database_name>/crm/identity', methods={'GET'})
@with_pool
@with_transaction(readonly=True)
def identity(request, pool):
    company, _ = company_and_language()
    body = {
        'solution': SOLUTION,
        'name': company.rec_name if company else None,
        'logo': logo_uri(company, *LOGO_SIZE) if company else None,
        }
    return Response(json.dumps(body), status=HTTPStatus.OK,
        content_type='application/json', headers={
            # The login page asks once a visit; a new logo shows soon.
            'Cache-Control': 'max-age=300',
            })
