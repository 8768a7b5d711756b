# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Assignment rules: who gets a new lead, and why, in words.

Every entry point (sao, REST, import, web form) ends in ``assign_leads``
(a lead stored) or in ``LeadIntake.assign`` (leads not stored yet), both
``LeadAssigner.choose_many``: the same rules, the same counters, the same
log."""
import ast
import datetime as dt
from decimal import Decimal

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.tools.domain_inversion import eval_domain
from trytond.transaction import Transaction
from trytond.wizard import StateTransition, Wizard

METHODS = [
    ('user', "Fixed User"),
    ('round_robin', "Round Robin"),
    ('least_loaded', "Least Loaded"),
    ]
# The lead facts conditions and domains are evaluated on: the lead's own
# data plus the products of its lines and their categories.
FACTS = [
    'channel', 'pipeline', 'amount', 'lead_country', 'lead_subdivision',
    'lead_postal_code', 'lead_city', 'lead_language', 'lead_name',
    'lead_company', 'lead_email', 'lead_phone', 'lead_tax_identifier',
    'description', 'reference', 'expected_close_date', 'web_form',
    ]


def _ids(value):
    return value.id if hasattr(value, 'id') else value


class AssignmentRule(
        DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Lead Assignment Rule"
    __name__ = 'crm.assignment.rule'

    name = fields.Char("Name", required=True)
    fallback = fields.Boolean(
        "Fallback",
        help="Tried only when no other rule could assign the lead.")
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", ondelete='CASCADE',
        help="Only leads of this pipeline; empty for all.")
    channels = fields.Many2Many(
        'crm.assignment.rule-crm.channel', 'rule', 'channel', "Channels")
    countries = fields.Many2Many(
        'crm.assignment.rule-country.country', 'rule', 'country',
        "Countries")
    subdivisions = fields.Many2Many(
        'crm.assignment.rule-country.subdivision', 'rule', 'subdivision',
        "Provinces")
    postal_codes = fields.Char(
        "Postal Code Prefixes",
        help="Comma-separated beginnings of postal codes, e.g. \"28, 45\".")
    products = fields.Many2Many(
        'crm.assignment.rule-product.product', 'rule', 'product',
        "Products")
    categories = fields.Many2Many(
        'crm.assignment.rule-product.category', 'rule', 'category',
        "Product Categories")
    amount_min = fields.Numeric(
        "Minimum Amount", digits=(16, 2),
        domain=['OR',
            ('amount_min', '=', None),
            ('amount_min', '>=', 0),
            ])
    amount_max = fields.Numeric(
        "Maximum Amount", digits=(16, 2),
        domain=['OR',
            ('amount_max', '=', None),
            ('amount_max', '>=', Eval('amount_min', 0)),
            ])
    languages = fields.Many2Many(
        'crm.assignment.rule-ir.lang', 'rule', 'lang', "Languages")
    domain = fields.Char(
        "Other Conditions",
        help="A domain on the lead's fields, "
        "e.g. [('lead_city', '=', 'Madrid')].")
    method = fields.Selection(METHODS, "Method", required=True)
    user = fields.Many2One(
        'res.user', "User", ondelete='RESTRICT',
        states={
            'invisible': Eval('method') != 'user',
            'required': Eval('method') == 'user',
            })
    team = fields.Many2One(
        'crm.team', "Team", ondelete='RESTRICT',
        states={
            'invisible': Eval('method') == 'user',
            'required': Eval('method') != 'user',
            })
    last_user = fields.Many2One(
        'res.user', "Last Assigned", readonly=True, ondelete='SET NULL',
        states={
            'invisible': Eval('method') != 'round_robin',
            },
        help="Round robin continues with the member after this one.")

    @classmethod
    def default_method(cls):
        return 'round_robin'

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        cls.check_domain(rules, field_names)

    @classmethod
    def check_domain(cls, rules, field_names=None):
        if field_names and 'domain' not in field_names:
            return
        for rule in rules:
            if not rule.domain:
                continue
            try:
                domain = rule.parsed_domain()
                eval_domain(domain, {f: None for f in FACTS})
            except Exception as exception:
                raise ValidationError(gettext(
                        'crm_kit_lead.msg_assignment_rule_invalid_domain',
                        rule=rule.rec_name, domain=rule.domain,
                        fields=', '.join(FACTS))) from exception

    def parsed_domain(self):
        domain = ast.literal_eval(self.domain) if self.domain else []
        if not isinstance(domain, list):
            raise ValueError(self.domain)
        for leaf in _leaves(domain):
            if leaf[0] not in FACTS:
                raise ValueError(leaf[0])
        return domain

    def match(self, facts, categories):
        "Whether the lead described by facts meets every condition"
        return self.conditions().match(facts, categories)

    def conditions(self):
        "The rule's conditions read once, to test many leads"
        return RuleConditions(self)

    def candidates(self):
        "The users this rule may give a lead to, in a stable order"
        if self.method == 'user':
            return [self.user] if self.user else []
        if not self.team:
            return []
        return sorted(self.team.members, key=lambda u: (u.name or '', u.id))

    @classmethod
    def assign_leads(cls, leads):
        """Give each lead an owner by the first rule that can, record the
        reason and return the leads assigned"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Log = pool.get('crm.assignment.log')
        assigner = LeadAssigner()
        if not assigner.rules:
            return []
        facts = [lead_facts(lead) for lead in leads]
        choices = assigner.choose_many(facts)
        by_owner, logs, assigned = {}, [], []
        for lead, choice in zip(leads, choices):
            log = Log(opportunity=lead, previous_user=lead.owner,
                **choice.log_values())
            logs.append(log)
            if choice.user is None:
                continue
            if choice.user.id != (lead.owner.id if lead.owner else None):
                by_owner.setdefault(choice.user, []).append(lead)
            assigned.append(lead)
        with Transaction().set_context(_crm_assigning=True):
            for user, records in by_owner.items():
                Opportunity.write(records, Opportunity.owner_values(user))
        Log.save(logs)
        assigner.save()
        return assigned


def _leaves(domain):
    for item in domain:
        if isinstance(item, (list, tuple)):
            if item and isinstance(item[0], str) and len(item) >= 3:
                yield item
            else:
                yield from _leaves(item)


def lead_facts(lead):
    "What assignment rules look at, from a stored lead"
    facts = {}
    for name in FACTS:
        value = getattr(lead, name, None)
        facts[name] = _ids(value)
    facts['products'] = [l.product.id for l in lead.lines if l.product]
    return facts


class RuleConditions:
    """The conditions of a rule as plain sets and numbers: testing a lead
    then reads nothing, which matters for a batch of a thousand leads."""

    def __init__(self, rule):
        def ids(records):
            return {r.id for r in records}
        self.pipeline = rule.pipeline.id if rule.pipeline else None
        self.channels = ids(rule.channels)
        self.countries = ids(rule.countries)
        self.subdivisions = ids(rule.subdivisions)
        self.postal_codes = [p.strip()
            for p in (rule.postal_codes or '').split(',') if p.strip()]
        self.products = ids(rule.products)
        self.categories = ids(rule.categories)
        self.amount_min = rule.amount_min
        self.amount_max = rule.amount_max
        self.languages = ids(rule.languages)
        self.domain = rule.parsed_domain() if rule.domain else None

    def match(self, facts, categories):
        if self.pipeline and facts.get('pipeline') != self.pipeline:
            return False
        if self.channels and facts.get('channel') not in self.channels:
            return False
        if self.countries and facts.get('lead_country') not in self.countries:
            return False
        if self.subdivisions and (
                facts.get('lead_subdivision') not in self.subdivisions):
            return False
        if self.postal_codes:
            postal_code = (facts.get('lead_postal_code') or '').strip()
            if not any(postal_code.startswith(p) for p in self.postal_codes):
                return False
        products = set(facts.get('products') or [])
        if self.products and not products & self.products:
            return False
        if self.categories:
            lead_categories = set()
            for product in products:
                lead_categories |= categories.get(product, set())
            if not lead_categories & self.categories:
                return False
        amount = facts.get('amount')
        if self.amount_min is not None and (
                amount is None or Decimal(amount) < self.amount_min):
            return False
        if self.amount_max is not None and (
                amount is None or Decimal(amount) > self.amount_max):
            return False
        if self.languages and facts.get('lead_language') not in self.languages:
            return False
        if self.domain and not eval_domain(self.domain, facts):
            return False
        return True


class Choice:
    "The outcome of the rules for one lead"

    def __init__(self, user=None, rule=None, position=None, members=None,
            load=None, method=None, fallback=None):
        self.user, self.rule = user, rule
        self.position, self.members, self.load = position, members, load
        self.method = method or (rule.method if rule else 'none')
        self.fallback = (bool(rule and rule.fallback) if fallback is None
            else fallback)

    def log_values(self):
        return {
            'user': self.user,
            'rule': self.rule,
            'method': self.method,
            'position': self.position,
            'members': self.members,
            'load': self.load,
            'fallback': self.fallback,
            'date': dt.datetime.now(),
            }


class _RuleState:
    "What the assigner needs of a rule, read once"

    def __init__(self, rule):
        self.rule = rule
        self.id = rule.id
        self.method = rule.method
        self.fallback = rule.fallback
        self.conditions = rule.conditions()
        self.users = {u.id: u for u in rule.candidates()}
        self.members = list(self.users)
        self.last_user = rule.last_user.id if rule.last_user else None


class LeadAssigner:
    """The rules with their counters for a batch of leads: open leads
    per user and the round-robin pointers move as leads are given out,
    so a batch of a thousand imported leads is spread as if they had
    arrived one by one.  The rules, their members and conditions are read
    once: choosing then works on ids and reads nothing."""

    def __init__(self):
        pool = Pool()
        Rule = pool.get('crm.assignment.rule')
        Date = pool.get('ir.date')
        rules = Rule.search([])
        # Fallback rules last, each group in the administrator's order.
        self.rules = ([r for r in rules if not r.fallback]
            + [r for r in rules if r.fallback])
        self.today = Date.today()
        self.loads = None
        self.changed = set()
        self._categories = {}
        self._states = [_RuleState(r) for r in self.rules]
        self._users = {i: u for state in self._states
            for i, u in state.users.items()}
        self._availability = {}

    def _load_counts(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        users = list(self._users)
        self.loads = dict.fromkeys(users, 0)
        table = Opportunity.__table__()
        cursor = Transaction().connection.cursor()
        for sub in grouped_slice(users, 1000):
            cursor.execute(*table.select(
                    table.owner, Count(table.id),
                    where=table.owner.in_(list(sub))
                    & (table.state == 'lead'),
                    group_by=[table.owner]))
            self.loads.update(dict(cursor))

    def _preload_categories(self, facts_list):
        pool = Pool()
        Product = pool.get('product.product')
        wanted = {p for f in facts_list for p in f.get('products') or []
            if p not in self._categories}
        for product in Product.browse(list(wanted)):
            self._categories[product.id] = {
                c.id for c in product.template.categories_all}

    def available(self, user_id):
        if user_id not in self._availability:
            user = self._users[user_id]
            self._availability[user_id] = (
                user.active
                and not (user.crm_away_until
                    and user.crm_away_until >= self.today),
                user.crm_lead_limit)
        active, limit = self._availability[user_id]
        if not active:
            return False
        if limit and self.loads.get(user_id, 0) >= limit:
            return False
        return True

    def choose(self, facts):
        return self.choose_many([facts])[0]

    def choose_many(self, facts_list):
        if self.loads is None:
            self._load_counts()
        self._preload_categories(facts_list)
        return [self._choose(facts) for facts in facts_list]

    def _choose(self, facts):
        for state in self._states:
            if not state.conditions.match(facts, self._categories):
                continue
            members = state.members
            available = [u for u in members if self.available(u)]
            if not available:
                continue
            if state.method == 'user':
                user = available[0]
            elif state.method == 'round_robin':
                user = self._next_in_turn(state, available)
            else:
                user = min(available,
                    key=lambda u: (self.loads.get(u, 0), members.index(u)))
            load = self.loads.get(user, 0)
            self.loads[user] = load + 1
            return Choice(self._users[user], state.rule,
                position=members.index(user) + 1, members=len(members),
                load=load, method=state.method, fallback=state.fallback)
        return Choice()

    def _next_in_turn(self, state, available):
        members = state.members
        last = state.last_user
        start = members.index(last) + 1 if last in members else 0
        for offset in range(len(members)):
            user = members[(start + offset) % len(members)]
            if user in available:
                state.last_user = user
                self.changed.add(state.id)
                return user

    def save(self):
        "Store the round-robin pointers for the next leads"
        pool = Pool()
        Rule = pool.get('crm.assignment.rule')
        User = pool.get('res.user')
        changed = []
        for state in self._states:
            if state.id in self.changed:
                state.rule.last_user = User(state.last_user)
                changed.append(state.rule)
        Rule.save(changed)
        self.changed.clear()


class AssignmentRuleChannel(ModelSQL):
    __name__ = 'crm.assignment.rule-crm.channel'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    channel = fields.Many2One(
        'crm.channel', "Channel", required=True, ondelete='CASCADE')


class AssignmentRuleCountry(ModelSQL):
    __name__ = 'crm.assignment.rule-country.country'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    country = fields.Many2One(
        'country.country', "Country", required=True, ondelete='CASCADE')


class AssignmentRuleSubdivision(ModelSQL):
    __name__ = 'crm.assignment.rule-country.subdivision'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    subdivision = fields.Many2One(
        'country.subdivision', "Province", required=True,
        ondelete='CASCADE')


class AssignmentRuleProduct(ModelSQL):
    __name__ = 'crm.assignment.rule-product.product'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    product = fields.Many2One(
        'product.product', "Product", required=True, ondelete='CASCADE')


class AssignmentRuleCategory(ModelSQL):
    __name__ = 'crm.assignment.rule-product.category'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    category = fields.Many2One(
        'product.category', "Category", required=True, ondelete='CASCADE')


class AssignmentRuleLanguage(ModelSQL):
    __name__ = 'crm.assignment.rule-ir.lang'
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", required=True, ondelete='CASCADE')
    lang = fields.Many2One(
        'ir.lang', "Language", required=True, ondelete='CASCADE')


class AssignmentLog(ModelSQL, ModelView):
    "Lead Assignment"
    __name__ = 'crm.assignment.log'

    opportunity = fields.Many2One(
        'sale.opportunity', "Lead", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True)
    user = fields.Many2One('res.user', "Assigned To", ondelete='SET NULL')
    previous_user = fields.Many2One(
        'res.user', "Previous Owner", ondelete='SET NULL')
    rule = fields.Many2One(
        'crm.assignment.rule', "Rule", ondelete='SET NULL')
    method = fields.Selection(METHODS + [
            ('manual', "Manual"),
            ('none', "No Rule"),
            ], "Method", required=True)
    fallback = fields.Boolean("Fallback")
    position = fields.Integer("Position")
    members = fields.Integer("Members")
    load = fields.Integer(
        "Open Leads", help="The open leads of the user before this one.")
    reason = fields.Function(fields.Char("Reason"), 'get_reason')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('opportunity')
        cls._order.insert(0, ('date', 'DESC'))
        cls._order.insert(1, ('id', 'DESC'))

    @classmethod
    def manual(cls, opportunity, previous):
        "The log of an owner changed by hand"
        return cls(opportunity=opportunity, previous_user=previous,
            user=opportunity.owner, method='manual', date=dt.datetime.now())

    def get_reason(self, name):
        user = self.user.rec_name if self.user else '-'
        by = self.create_uid.rec_name if self.create_uid else '-'
        if self.method == 'manual':
            if self.previous_user:
                return gettext('crm_kit_lead.msg_assignment_reassigned',
                    user=user, previous=self.previous_user.rec_name, by=by)
            return gettext('crm_kit_lead.msg_assignment_manual',
                user=user, by=by)
        if self.method == 'none':
            return gettext('crm_kit_lead.msg_assignment_none')
        rule = self.rule.rec_name if self.rule else '-'
        if self.fallback:
            rule = gettext('crm_kit_lead.msg_assignment_fallback_rule',
                rule=rule)
        return gettext('crm_kit_lead.msg_assignment_%s' % self.method,
            user=user, rule=rule, position=self.position,
            members=self.members, load=self.load)

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(
            mode, logs, values=values, external=external)
        if external and mode in {'write', 'delete'}:
            raise ValidationError(gettext(
                    'crm_kit_lead.msg_assignment_log_readonly'))


class AssignLeads(Wizard):
    "Assign Leads"
    __name__ = 'crm.assignment.assign'
    start_state = 'assign'
    assign = StateTransition()

    def transition_assign(self):
        pool = Pool()
        Rule = pool.get('crm.assignment.rule')
        leads = [r for r in self.records if r.state == 'lead']
        Rule.assign_leads(leads)
        return 'end'
