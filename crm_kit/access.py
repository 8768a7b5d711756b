# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Searches and links under the record rules, for every model.

Tryton applies a model's record rules to the records searched, but it turns
the domain into SQL without access checks (ModelSQL.search_domain), so a
condition on a relation (``crm_history.opportunity.amount``, ``applications.
key``, ``lines`` by name) is evaluated over every target record, also those
the rules hide from the user: a search or a count then answers whether a
hidden record matches, and bisection reads it.  Tryton's own check of the
domain's fields does not look inside a ``where`` clause either.  And a
record may be linked to any record by its id.

RuleGuard, registered as a mixin of every model, closes both holes when a
user calls with access checks (JSON-RPC, REST, sao's exports): a relational
condition is rewritten as a ``where`` clause on its target with the target's
read rules added, every field named is checked for read access, ordering by
a field of records the rules may hide is refused, and a new link to a record
is refused unless the user may read that record."""
from trytond import backend
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction, check_access, without_check_access)

RELATIONS = {'many2one', 'one2one', 'one2many', 'many2many'}


def _checking():
    transaction = Transaction()
    return bool(transaction.user and transaction.check_access)


def _rule(Target):
    return Pool().get('ir.rule').domain_get(Target.__name__, mode='read')


def _relational(Model, name):
    "The field name of Model when a condition on it reads another model"
    field = Model._fields.get(name)
    if (field is None or isinstance(field, fields.Function)
            or (field._type not in RELATIONS
                and field._type != 'reference')):
        return None
    return field


def _negative_many2one(operator, value):
    # Many2One.convert_domain adds "or empty" to these on a nested path.
    return ((operator.startswith('not')
            and not (operator == 'not in'
                and isinstance(value, (list, tuple)) and None in value))
        or (operator == '!=' and value is not None))


def guard_domain(Model, domain, to_check):
    """domain with each condition on a relation evaluated under the read
    rules of its target; to_check collects the fields named by model"""
    if not isinstance(domain, (list, tuple)) or not domain:
        return domain
    if isinstance(domain[0], str) and domain[0] not in {'AND', 'OR'}:
        return _guard_leaf(Model, domain, to_check)
    return [d if isinstance(d, str) else guard_domain(Model, d, to_check)
        for d in domain]


def _guard_leaf(Model, leaf, to_check):
    if len(leaf) < 3 or not isinstance(leaf[0], str):
        # Not a condition: Tryton refuses it as it does for any input.
        return leaf
    name, operator, value = leaf[:3]
    extra = tuple(leaf[3:])
    local, _, rest = name.partition('.')
    local = local.split(':', 1)[0]
    to_check.setdefault(Model.__name__, set()).add(local)
    field = _relational(Model, local)
    if field is None or not isinstance(operator, str):
        return leaf
    if field._type == 'reference':
        if rest and extra:
            Target = Pool().get(extra[0])
            nested = guard_domain(Target, [(rest, operator, value)], to_check)
            if _rule(Target) or nested != [(rest, operator, value)]:
                _refuse(Model, name)
        return leaf
    Target = field.get_target()
    rule = _rule(Target)
    many2one = field._type == 'many2one'
    if operator.endswith('child_of') or operator.endswith('parent_of'):
        if rule and not rest:
            return ['AND', tuple(leaf), (local, 'where', rule)]
        return leaf
    if operator in {'where', 'not where'}:
        if rest:
            return leaf
        nested = guard_domain(Target, value, to_check)
        return (local, operator, [nested, rule] if rule else nested)
    if rest:
        target_leaf = (rest, operator, value) + extra
        nested = guard_domain(Target, [target_leaf], to_check)
        if not rule and nested == [target_leaf]:
            return leaf
    elif value is None and not many2one:
        # Has (no) lines: count only those the user may see.
        if not rule or operator not in {'=', '!='}:
            return leaf
        return (local, 'not where' if operator == '=' else 'where', rule)
    elif value is None or not rule:
        # Whether the record's own column is empty.
        return leaf
    else:
        # By name or by id, only the targets the user may see match: the
        # record found may be visible when its target is not.
        target_name = 'rec_name' if isinstance(value, str) else 'id'
        to_check.setdefault(Target.__name__, set()).add(target_name)
        nested = [(target_name, operator, value) + extra]
    clause = (local, 'where', [nested, rule] if rule else nested)
    if many2one and _negative_many2one(operator, value):
        return ['OR', clause, (local, '=', None)]
    return clause


def check_order(Model, order, to_check):
    "Refuse ordering by a field of records the user may not see"
    if _is_field_order(Model, order):
        return
    for oexpr, _ in order or []:
        local, _, rest = oexpr.partition('.')
        to_check.setdefault(Model.__name__, set()).add(local)
        field = _relational(Model, local)
        # By the target's id is by the record's own column.
        if (not rest or rest == 'id' or field is None
                or field._type == 'reference'):
            continue
        Target = field.get_target()
        if _rule(Target):
            _refuse(Model, oexpr)
        check_order(Target, [(rest, None)], to_check)


def _is_field_order(Model, order):
    """Whether order is the one a relation field reads Model's records in
    (a quote line's taxes by their sequence): set by the code, not chosen
    by the user, it tells nothing of the records the user does not see"""
    if not order:
        return False
    orders = _field_orders().get(Model.__name__, ())
    order = tuple(tuple(o) for o in order)
    # The field's getter puts the order of the origin before (its id).
    return any(order[-len(o):] == o and len(order) - len(o) <= 1
        and all(e.endswith('.id') or '.' not in e
            for e, _ in order[:-len(o)])
        for o in orders)


def _field_orders():
    """The orders of the relation fields of the pool, by the model they
    search, read once per pool (kept on its ir.model)"""
    IrModel = Pool().get('ir.model')
    orders = IrModel.__dict__.get('_crm_field_orders')
    if orders is None:
        orders = {}
        for _, Other in Pool().iterobject():
            for field in Other._fields.values():
                if isinstance(field, fields.Function):
                    continue
                if field._type == 'many2many':
                    searched = field.relation_name
                elif field._type == 'one2many':
                    searched = field.model_name
                else:
                    continue
                if isinstance(field.order, (list, tuple)) and field.order:
                    orders.setdefault(searched, set()).add(
                        tuple(tuple(o) for o in field.order))
        IrModel._crm_field_orders = orders
    return orders


def _check_fields(to_check):
    pool = Pool()
    ModelAccess = pool.get('ir.model.access')
    FieldAccess = pool.get('ir.model.field.access')
    for model, names in to_check.items():
        ModelAccess.check(model, 'read')
        FieldAccess.check(model, names, 'read')


def _refuse(Model, path):
    raise AccessError(gettext('crm_kit.msg_search_hidden_path',
            model=Model.__names__()['model'], path=path))


def visible_ids(Model, ids, as_user=False, existing=False):
    """The ids, in order, of the records of Model the user may read: all
    of them without access checks, unless as_user (for what a field's
    getter shows: Tryton calls getters without access checks); only those
    that exist when existing"""
    ids = list(ids)
    if not ids or not (
            existing or _checking() or (as_user and Transaction().user)):
        return ids
    rule = []
    if _checking() or (as_user and Transaction().user):
        with check_access():
            rule = _rule(Model)
    if not rule and not existing:
        return ids
    visible = set()
    with without_check_access(), \
            Transaction().set_context(active_test=False):
        for sub in grouped_slice(ids, backend.MAX_QUERY_PARAMS // 2):
            visible.update(r.id for r in Model.search(
                    [('id', 'in', list(sub))] + ([rule] if rule else []),
                    order=[]))
    return [i for i in ids if i in visible]


def check_links(Model, vlist):
    """Refuse values that link to records the user may not read: Many2One,
    Reference and the ids added to a Many2Many"""
    pool = Pool()
    targets = {}
    for values in vlist:
        for name, value in values.items():
            field = Model._fields.get(name)
            if (field is None or isinstance(field, fields.Function)
                    or not value):
                continue
            if field._type == 'many2one':
                # (A negative id is a record not saved: none to link to.)
                if isinstance(value, int) and not isinstance(value, bool):
                    targets.setdefault(field.get_target(), {})[value] = name
            elif field._type == 'reference':
                try:
                    if isinstance(value, str):
                        model, _, id_ = value.partition(',')
                    else:
                        model, id_ = value
                    id_ = int(id_)
                    Target = pool.get(model)
                except (ValueError, TypeError, KeyError):
                    continue
                # ("model,-1" is a model chosen and no record yet.)
                if id_ >= 0:
                    targets.setdefault(Target, {})[id_] = name
            elif field._type == 'many2many':
                # (What is not a list of actions, trytond refuses.)
                sequence = (list, tuple)
                for action in value if isinstance(value, sequence) else []:
                    if (isinstance(action, sequence) and len(action) == 2
                            and action[0] == 'add'
                            and isinstance(action[1], sequence)):
                        for id_ in action[1]:
                            if isinstance(id_, int):
                                targets.setdefault(
                                    field.get_target(), {})[id_] = name
    for Target, ids in targets.items():
        # On SQLite, whose tables trytond makes without foreign keys, this
        # is also what keeps a link from pointing at no record.
        visible = set(visible_ids(Target, ids, existing=True))
        for id_, name in ids.items():
            if id_ not in visible:
                raise AccessError(gettext('crm_kit.msg_link_hidden_record',
                        model=Model.__names__(name)['model'],
                        field=Model.__names__(name)['field'],
                        target=Target.__names__()['model'], id=id_))


def check_text(Model, vlist):
    """Refuse text with a NUL character: PostgreSQL cannot store it and
    SQLite would keep it, cut short where other programs read it"""
    for values in vlist:
        for name, value in values.items():
            if isinstance(value, str) and '\x00' in value:
                field = Model._fields.get(name)
                if field is not None and field._type in {'char', 'text'}:
                    raise ValidationError(gettext('crm_kit.msg_text_nul',
                            model=Model.__names__(name)['model'],
                            field=Model.__names__(name)['field']))


class RuleGuard:
    "Every model: searches, orders and links under the record rules"
    __slots__ = ()

    @classmethod
    def search(cls, domain, offset=0, limit=None, order=None, count=False,
            **kwargs):
        if _checking():
            to_check = {}
            domain = guard_domain(cls, domain, to_check)
            check_order(cls, order, to_check)
            _check_fields(to_check)
        return super().search(domain, offset=offset, limit=limit,
            order=order, count=count, **kwargs)

    @classmethod
    def create(cls, vlist):
        if _checking():
            check_links(cls, vlist)
            check_text(cls, vlist)
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        if _checking():
            check_links(cls, args[1::2])
            check_text(cls, args[1::2])
        super().write(*args)
