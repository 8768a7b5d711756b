# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Cast, Literal, Null, Union
from sql.conditionals import Case

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .event import EventSource
from .list_read import ListRead

LIFECYCLES = [
    ('prospect', "Prospect"),
    ('customer', "Customer"),
    ]


class Party(ListRead, EventSource, metaclass=PoolMeta):
    __name__ = 'party.party'
    # What get_rec_name is made of (see ListRead)
    _rec_name_fields = ('name', 'code')

    crm_lifecycle = fields.Selection(
        LIFECYCLES, "Lifecycle", required=True, sort=False,
        help="A prospect becomes a customer when a first opportunity is won.")
    crm_history = fields.One2Many(
        'crm.customer.history', 'party', "History", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.crm_lifecycle, Index.Equality(cardinality='low'))))

    @classmethod
    def default_crm_lifecycle(cls):
        return 'prospect'

    @classmethod
    def search_rec_name(cls, name, clause):
        """party's search by name, as a union of the parties each of its
        conditions finds (code, identifiers, name, contact mechanisms)

        As one OR of them, PostgreSQL reads every party: the conditions on
        the identifiers and contact mechanisms are subqueries, so it cannot
        combine the indexes of the others (the trigram indexes of the code
        and the name, with pg_trgm).  Each condition of the union uses its
        own.  The parties found are the same; like the OR, which Tryton
        turns into SQL without access checks, the union is built without
        them: the record rules apply to the search that asked."""
        domain = super().search_rec_name(name, clause)
        if not (isinstance(domain, list) and len(domain) > 2
                and domain[0] == 'OR'):
            return domain
        with without_check_access():
            queries = [cls.search([d], order=[], query=True)
                for d in domain[1:]]
        return [('id', 'in', Union(*queries))]

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_lifecycle', cls.default_crm_lifecycle())
        return super().copy(parties, default=default)


class CustomerHistory(ModelSQL, ModelView):
    """The customer's story in time order: every lead, opportunity and stage
    move, and every quote.  Later modules add their events (activities,
    documents) through _history_queries."""
    __name__ = 'crm.customer.history'

    party = fields.Many2One('party.party', "Customer")
    date = fields.DateTime("Date")
    kind = fields.Selection([
            ('lead', "New lead"),
            ('opportunity', "New opportunity"),
            ('stage', "Stage change"),
            ('won', "Won"),
            ('lost', "Lost"),
            ('cancelled', "Cancelled"),
            ('quote', "Quote"),
            ], "Event", sort=False)
    opportunity = fields.Many2One('sale.opportunity', "Opportunity")
    stage = fields.Many2One('crm.stage', "Stage")
    sale = fields.Many2One('sale.sale', "Quote")
    amount = Monetary("Amount", currency='currency', digits='currency')
    currency = fields.Many2One('currency.currency', "Currency")
    user = fields.Many2One('res.user', "User")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def table_query(cls):
        columns = cls._history_columns()
        union = None
        for index, query in enumerate(cls._history_queries()):
            # Each source gives the columns it knows, by name; the others
            # are NULL of the field's type so that the union lines up.
            given = {
                c.output_name: getattr(c, 'expression', c)
                for c in query.columns}
            # Ids stay unique across the sources: id * 100 + source index.
            query.columns = [(given['id'] * 100 + index).as_('id')] + [
                given.get(name, Cast(Null, cls._history_sql_type(name))
                    ).as_(name)
                for name in columns[1:]]
            union = query if union is None else Union(union, query, all_=True)
        return union

    @classmethod
    def _history_visible(cls, table, model):
        "The condition that a row of table is one the record rules show"
        Rule = Pool().get('ir.rule')
        query = Rule.query_get(model)
        return table.id.in_(query) if query is not None else Literal(True)

    @classmethod
    def _history_sql_type(cls, name):
        return cls._fields[name].sql_type().base

    @classmethod
    def _history_columns(cls):
        "The column names every history query returns, in order"
        return ['id', 'party', 'date', 'kind', 'opportunity', 'stage',
            'sale', 'amount', 'currency', 'user']

    @classmethod
    def _history_queries(cls):
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        log = StageLog.__table__()
        opportunity = Opportunity.__table__()
        sale = Sale.__table__()

        kind = Case(
            (log.from_stage == Null,
                Case((log.to_state == 'lead', 'lead'), else_='opportunity')),
            (log.to_state.in_(['won', 'lost', 'cancelled']), log.to_state),
            else_='stage')
        stage_moves = log.join(
            opportunity, condition=log.opportunity == opportunity.id
            ).select(
                log.id.as_('id'),
                opportunity.party.as_('party'),
                log.date.as_('date'),
                kind.as_('kind'),
                opportunity.id.as_('opportunity'),
                log.to_stage.as_('stage'),
                opportunity.amount.as_('amount'),
                opportunity.currency.as_('currency'),
                log.user.as_('user'),
                where=(opportunity.party != Null)
                & cls._history_visible(opportunity, 'sale.opportunity'))
        quotes = sale.select(
            sale.id.as_('id'),
            sale.party.as_('party'),
            sale.create_date.as_('date'),
            Literal('quote').as_('kind'),
            sale.id.as_('sale'),
            sale.total_amount_cache.as_('amount'),
            sale.currency.as_('currency'),
            sale.create_uid.as_('user'),
            where=(sale.company == Transaction().context.get('company', -1))
            & cls._history_visible(sale, 'sale.sale'))
        return [stage_moves, quotes]
