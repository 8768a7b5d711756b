# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What automation rules and alert rules share: the records they look at,
their conditions, time windows and placeholders, who a record belongs to,
and the batch a rule acts on."""
import datetime as dt
import string
from decimal import Decimal

from sql import Union

from trytond.i18n import gettext
from trytond.model import Model
from trytond.exceptions import UserError, UserWarning
from trytond.model.fields import domain_validate
from trytond.model.modelstorage import is_leaf
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.transaction import Transaction

from crm_kit.pipeline import OPEN_STATES

from .last_activity import ACTIVITIES

MODELS = [
    ('sale.opportunity', "Leads and Opportunities"),
    ('party.party', "Customers"),
    ('sale.sale', "Quotes"),
    ]

# What time-based rules look at: open leads and opportunities, quotes not
# yet confirmed, and customers (see open_domain).
OPEN_DOMAINS = {
    'sale.opportunity': [
        ('state', 'in', OPEN_STATES)],
    'sale.sale': [('state', 'in', ['draft', 'quotation'])],
    'party.party': [],
    }


def model_label(model):
    "The name people know model by in the rules"
    Rule = Pool().get('crm.automation.rule')
    return dict(Rule.fields_get(['model'])['model']['selection']
        ).get(model, model)


def condition_domain(model, condition, error):
    """The domain a rule's condition (PYSON or JSON) says on model, its
    field paths checked; error(reason) makes the exception raised"""
    Model = Pool().get(model)
    if not condition:
        return []
    try:
        domain = PYSONDecoder({}).decode(condition)
        domain_validate(domain)
    except Exception:
        raise error(gettext(
                'crm_kit_activity.msg_automation_condition_syntax'))

    def check(domain, Model, prefix=''):
        if is_leaf(domain):
            path = prefix + domain[0]
            name, _, rest = domain[0].partition('.')
            field = Model._fields.get(name)
            if not field or (rest and not hasattr(field, 'get_target')):
                raise error(gettext(
                        'crm_kit_activity.msg_automation_unknown_field',
                        field=path))
            if rest:
                check([(rest,) + tuple(domain[1:])], field.get_target(),
                    prefix=path[:-len(rest)])
        elif domain:
            start = 1 if domain[0] in ('AND', 'OR') else 0
            for sub in domain[start:]:
                check(sub, Model, prefix)
    check(domain, Model)
    return domain


def open_domain(model):
    "The records of model time-based rules and alerts look at"
    pool = Pool()
    Company = pool.get('company.company')
    Employee = pool.get('company.employee')
    domain = list(OPEN_DOMAINS[model])
    if model == 'party.party':
        # Not the company itself nor its people: they are no customers.
        company = Company.__table__()
        employee = Employee.__table__()
        domain.append(('id', 'not in', Union(
                    company.select(company.party),
                    employee.select(employee.party))))
    return domain


def no_activity_ahead(model, now):
    """The domain of the records of model without a planned activity still
    ahead: one is contact on its way, the record is not idle"""
    return [(ACTIVITIES[model], 'not where', [
                ('state', '=', 'planned'),
                ('due', '>=', now),
                ])]


def date_window(field, days, now):
    """The domain of the records whose date or datetime field falls within
    the days from now (from today for a date)"""
    if field.ttype == 'datetime':
        start, end = now, now + dt.timedelta(days=days)
    else:
        start = now.date()
        end = start + dt.timedelta(days=days)
    return [(field.name, '>=', start), (field.name, '<=', end)]


def error_message(exception):
    "What a rule logs of an exception: the message people read"
    if isinstance(exception, (UserError, UserWarning)):
        return exception.message
    return '%s: %s' % (exception.__class__.__name__, exception)


class Batch:
    """The records a rule acts on together.  The texts of an action are
    filled for all of them at once, per language, before they change:
    reading them record by record between writes would read the whole
    batch again each time (Tryton drops its prefetched values at every
    write)."""

    def __init__(self, Model, ids):
        self.Model = Model
        self.ids = list(dict.fromkeys(ids))
        self._texts = {}

    def texts(self, holder, language, names=('subject', 'message')):
        """{record id: (filled text of each of names)} of holder (an action,
        an alert rule), in language; the first text cut to 250 characters"""
        key = (str(holder), language, names)
        if key not in self._texts:
            with Transaction().set_context(language=language):
                holder = holder.__class__(holder.id)
                templates = [getattr(holder, n) for n in names]
                self._texts[key] = {
                    r.id: tuple(fill_placeholders(t, r)[:250] if not i
                        else fill_placeholders(t, r)
                        for i, t in enumerate(templates))
                    for r in self.Model.browse(self.ids)}
        return self._texts[key]


def add_days(moment, days, working_days=False):
    "moment days later, counting only Monday to Friday if working_days"
    if not working_days:
        return moment + dt.timedelta(days=days)
    while moment.weekday() >= 5:
        moment += dt.timedelta(days=1)
    while days:
        moment += dt.timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def record_company(record):
    pool = Pool()
    Company = pool.get('company.company')
    company = getattr(record, 'company', None)
    if company:
        return company.id
    company = Transaction().context.get('company')
    if company:
        return company
    company, = Company.search([], limit=1, order=[('id', 'ASC')])
    return company.id


def latest_opportunity(party):
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    opportunities = Opportunity.search([
            ('party', '=', party.id),
            ], order=[('create_date', 'DESC'), ('id', 'DESC')], limit=1)
    return opportunities[0] if opportunities else None


def record_owner(record):
    if record.__name__ == 'party.party':
        opportunity = latest_opportunity(record)
        if opportunity and opportunity.owner:
            return opportunity.owner
        return record.create_uid
    return record.owner


def record_team(record):
    if record.__name__ == 'party.party':
        record = latest_opportunity(record)
    return record.team if record else None


def activity_links(record):
    "The customer and opportunity an activity about record belongs to"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    if record.__name__ == 'party.party':
        return {'party': record.id}
    if record.__name__ == 'sale.opportunity':
        return {'opportunity': record.id,
            'party': record.party.id if record.party else None}
    links = {'party': record.party.id if record.party else None}
    if isinstance(record.origin, Opportunity):
        links['opportunity'] = record.origin.id
    return links


class _Formatter(string.Formatter):
    "Only plain field paths: no indexing, conversion or format spec"

    def parse_fields(self, text):
        for _, name, spec, conversion in self.parse(text):
            if name is not None:
                if spec or conversion or not name or '[' in name:
                    raise ValueError(name)
                yield name


_formatter = _Formatter()


def unknown_placeholder(text, model):
    """The first {field.path} of text that is no field path of model, or
    raise ValueError when text is no valid template"""
    Model = Pool().get(model)
    for name in _formatter.parse_fields(text):
        Target = Model
        for part in name.split('.'):
            field = Target._fields.get(part) if Target else None
            if not field:
                return name
            Target = (field.get_target() if hasattr(field, 'get_target')
                else None)


def fill_placeholders(text, record):
    "text with each {field.path} replaced by the record's value, for people"
    pool = Pool()
    Lang = pool.get('ir.lang')
    if not text:
        return text
    lang = Lang.get()
    result = []
    for literal, name, _, _ in _formatter.parse(text):
        result.append(literal)
        if name is None:
            continue
        value, owner, last = record, None, None
        for part in name.split('.'):
            if value is None:
                break
            owner, last = value, part
            value = getattr(value, part, None)
        result.append(_display(value, owner, last, lang))
    return ''.join(result)


def _display(value, owner, name, lang):
    if value is None or value is False:
        return ''
    if isinstance(value, Model):
        return value.rec_name
    if isinstance(value, (list, tuple)):
        return ', '.join(_display(v, None, None, lang) for v in value)
    if isinstance(value, dt.datetime):
        return lang.strftime(value, lang.date + ' %H:%M')
    if isinstance(value, dt.date):
        return lang.strftime(value)
    if isinstance(value, Decimal):
        return lang.format('%.2f', value, grouping=True)
    if owner is not None and owner._fields[name]._type == 'selection':
        selection = owner.fields_get([name])[name]['selection']
        if isinstance(selection, list):
            return dict(selection).get(value, value)
    return str(value)
