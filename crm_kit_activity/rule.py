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
from trytond.exceptions import UserError, UserWarning
from trytond.model.fields import domain_validate
from trytond.model.modelstorage import is_leaf
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

from crm_kit.pipeline import OPEN_STATES
from crm_kit.search import search_ids

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
        self._links = None
        self._linked_instances = {}

    def links(self):
        """{record id: {'owner', 'team', 'company', 'party', 'opportunity':
        ids or None}} of the batch, read at once and only them: who a
        record belongs to and what an activity about it links to.  A
        customer's owner and team are those of its latest deal (its owner
        the user who created it when that deal has none)."""
        if self._links is None:
            pool = Pool()
            Opportunity = pool.get('sale.opportunity')
            Company = pool.get('company.company')
            model = self.Model.__name__
            names = [n for n in (
                    'owner', 'team', 'company', 'party', 'origin')
                if n in self.Model._fields]
            if model == 'party.party':
                # Its owner when it has no deal
                names.append('create_uid')
            rows = {}
            for sub in grouped_slice(self.ids, 1000):
                rows.update((r['id'], r)
                    for r in self.Model.read(list(sub), names))
            if model == 'party.party':
                latest = {}
                for sub in grouped_slice(self.ids, 1000):
                    deal_ids = search_ids(
                        Opportunity, [('party', 'in', list(sub))], order=[])
                    for deal in Opportunity.read(deal_ids, [
                                'party', 'owner', 'team', 'create_date']):
                        other = latest.get(deal['party'])
                        if not other or ((other['create_date'], other['id'])
                                < (deal['create_date'], deal['id'])):
                            latest[deal['party']] = deal
            company = Transaction().context.get('company')
            if not company:
                company = Company.search(
                    [], limit=1, order=[('id', 'ASC')])[0].id
            self._links = {}
            for id_, row in rows.items():
                links = {'company': row.get('company') or company}
                if model == 'party.party':
                    deal = latest.get(id_) or {}
                    links.update(party=id_, opportunity=None,
                        owner=deal.get('owner') or row['create_uid'],
                        team=deal.get('team'))
                else:
                    links.update(owner=row['owner'], team=row['team'],
                        party=row['party'])
                    if model == 'sale.opportunity':
                        links['opportunity'] = id_
                    else:
                        origin = row.get('origin') or ''
                        links['opportunity'] = (
                            int(origin.split(',')[1])
                            if origin.startswith('sale.opportunity,')
                            else None)
                self._links[id_] = links
        return self._links

    def owner(self, record):
        "The user record belongs to, or None"
        return self._linked('owner', 'res.user')[record.id]

    def team(self, record):
        "The team record belongs to, or None"
        return self._linked('team', 'crm.team')[record.id]

    def company(self, record):
        "The company record belongs to"
        return self._linked('company', 'company.company')[record.id]

    def _linked(self, name, model):
        """{record id: the instance of model its link name is, or None},
        the instances browsed together so that they are read together"""
        if name not in self._linked_instances:
            Model = Pool().get(model)
            links = self.links()
            ids = list({l[name] for l in links.values() if l[name]})
            instances = dict(zip(ids, Model.browse(ids)))
            self._linked_instances[name] = {id_: instances.get(l[name])
                for id_, l in links.items()}
        return self._linked_instances[name]


    def texts(self, holder, language, names=('subject', 'message')):
        """{record id: (filled text of each of names)} of holder (an action,
        an alert rule), in language; the first text cut to 250 characters"""
        key = (str(holder), language, names)
        if key not in self._texts:
            with Transaction().set_context(language=language):
                holder = holder.__class__(holder.id)
                templates = [getattr(holder, n) for n in names]
                self._texts[key] = {
                    id_: tuple(t[:250] if not i and t else t
                        for i, t in enumerate(texts))
                    for id_, texts in fill_texts(
                        self.Model, self.ids, templates).items()}
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


def due_after(moment, days, working_days=False, zone=None):
    """When an activity planned at moment (UTC, as stored) for days later
    is due: the same time days (working) days later, and for 0 days the
    end of moment's day in time zone zone, so that a task planned for
    today is not overdue the minute it is made"""
    if days:
        return add_days(moment, days, working_days)
    tzinfo = tz.get_tzinfo(zone) if zone else tz.UTC
    local = moment.replace(tzinfo=tz.UTC).astimezone(tzinfo)
    day = add_days(local.replace(tzinfo=None), 0, working_days).date()
    end = dt.datetime.combine(day, dt.time(23, 59), tzinfo=tzinfo)
    return end.astimezone(tz.UTC).replace(tzinfo=None)


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
        if placeholder_field(Model, name) is None:
            return name


def placeholder_field(Model, name):
    "The field the path name ('party.name') ends at from Model, or None"
    Target, field = Model, None
    for part in name.split('.'):
        field = Target._fields.get(part) if Target else None
        if field is None:
            return None
        Target = (field.get_target() if hasattr(field, 'get_target')
            else None)
    return field


RELATIONS = {'many2one', 'one2one', 'reference', 'one2many', 'many2many'}


def fill_texts(Model, ids, texts):
    """{record id: [each of texts with its {field.path} replaced by the
    record's value, for people]} for the records ids of Model: the values
    the placeholders name read at once, and only them"""
    pool = Pool()
    Lang = pool.get('ir.lang')
    lang = Lang.get()
    parsed = [list(_formatter.parse(t or '')) for t in texts]
    # What read() is asked for each path: the name of a linked record, the
    # label of a selection (translated), the value otherwise
    keys = {}
    for name in {n for p in parsed for _, n, _, _ in p if n is not None}:
        field = placeholder_field(Model, name)
        if field is None:
            continue  # not a field (any more): nothing to show
        if field._type in RELATIONS:
            keys[name] = name + '.rec_name'
        elif field._type in {'selection', 'multiselection'}:
            keys[name] = name + ':string'
        else:
            keys[name] = name
    rows = {}
    # Texts without placeholders read nothing.
    for sub in grouped_slice(list(dict.fromkeys(ids)) if keys else [], 1000):
        rows.update((r['id'], r) for r in Model.read(
                list(sub), sorted(set(keys.values()))))
    filled = {}
    for id_ in ids:
        row = rows[id_] if keys else {}
        filled[id_] = [
            None if not text else ''.join(
                literal + ('' if name is None
                    else _display(_value(row, keys.get(name)), lang))
                for literal, name, _, _ in items)
            for text, items in zip(texts, parsed)]
    return filled


def _value(row, key):
    "The value read() gives for key ('party.rec_name', 'state:string'…)"
    if key is None:
        return None
    *links, last = key.split('.')
    values, many = [row], False
    for link in links:
        nested = []
        for value in values:
            value = value.get(link + '.')
            if isinstance(value, (list, tuple)):
                nested.extend(value)
                many = True
            elif value is not None:
                nested.append(value)
        values = nested
    values = [v.get(last) for v in values]
    if many:
        return values
    return values[0] if values else None


def _display(value, lang):
    if value is None or value is False:
        return ''
    if isinstance(value, (list, tuple)):
        return ', '.join(_display(v, lang) for v in value)
    if isinstance(value, dt.datetime):
        return lang.strftime(value, lang.date + ' %H:%M')
    if isinstance(value, dt.date):
        return lang.strftime(value)
    if isinstance(value, Decimal):
        return lang.format('%.2f', value, grouping=True)
    return str(value)
