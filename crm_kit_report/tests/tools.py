# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_report tests"
import datetime as dt
from decimal import Decimal

from crm_kit.tests.tools import (  # noqa: F401
    CrmTestCase, create_opportunity, create_user, load_spanish,
    missing_translations, setup_crm, stage)
from trytond.pool import Pool
from trytond.transaction import Transaction, check_access


class ReportTestCase(CrmTestCase):
    "A test case with crm_kit_report and the CRM of setup_crm"
    modules = ['crm_kit_report']


def deal(crm, owner, start, stage_xml_id, amount, end=None, currency=None):
    """An opportunity of owner started on start, in the stage of
    stage_xml_id, worth amount, closed on end: stored as a deal that went
    through the pipeline would be, without replaying every move"""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    opportunity = create_opportunity(crm, owner=owner, lines=False)
    moved = stage(stage_xml_id)
    table = Opportunity.__table__()
    values = {
        'start_date': dt.date.fromisoformat(start),
        'end_date': dt.date.fromisoformat(end) if end else None,
        'stage': moved.id,
        'state': moved.state,
        'amount': Decimal(amount),
        }
    if currency:
        values['currency'] = currency.id
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [getattr(table, c) for c in values], list(values.values()),
            where=table.id == opportunity.id))
    return opportunity


def target(crm, user, year, month, amount, deals=0):
    pool = Pool()
    Target = pool.get('crm.sales.target')
    with Transaction().set_context(company=crm.company.id):
        target, = Target.create([{
                    'user': user.id, 'year': year, 'month': str(month),
                    'amount': Decimal(amount), 'deals': deals}])
    return target


def report(model, user, fields, domain=None, **context):
    """The rows of the report model, as dictionaries of fields, that user
    reads with the filters of context"""
    pool = Pool()
    Report = pool.get(model)
    context.setdefault('company', user.company.id)
    with Transaction().set_user(user.id), \
            Transaction().set_context(**context), check_access():
        return Report.search_read(domain or [], fields_names=fields)


def quote(crm, owner, unit_price, date, won=False):
    """A quote of 10 units of the product at unit_price sent to the
    customer on date, and confirmed when won"""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Sale = pool.get('sale.sale')
    Line = pool.get('sale.line')
    opportunity = create_opportunity(crm, owner=owner)
    Opportunity.write([opportunity], {'stage': stage('stage_analysis')})
    with Transaction().set_user(owner.id), \
            Transaction().set_context(company=crm.company.id):
        Opportunity.create_quote([opportunity])
    sale, = Opportunity(opportunity.id).sales
    cursor = Transaction().connection.cursor()
    line = Line.__table__()
    cursor.execute(*line.update([line.unit_price], [Decimal(unit_price)],
            where=line.sale == sale.id))
    table = Sale.__table__()
    cursor.execute(*table.update(
            [table.quotation_date, table.state],
            [dt.date.fromisoformat(date), 'confirmed' if won else 'quotation'],
            where=table.id == sale.id))
    return sale
