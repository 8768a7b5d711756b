# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"What is quoted and what is won, by product, product category and price "
"band: the lines of the quotes of the period"
from sql import Cast, Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Position, Substring

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .report import (
    CompanyCurrencyMixin, ReportMixin, company_amount, context_period,
    filtered, ratio, visible)

WON_STATES = ['confirmed', 'processing', 'done']

PRICE_BANDS = [
    ('list', "At List Price or Above"),
    ('discount_10', "Up to 10% Off"),
    ('discount_20', "10% to 20% Off"),
    ('discount_30', "20% to 30% Off"),
    ('discount_more', "More than 30% Off"),
    ('no_list_price', "No List Price"),
    ]


class QuotedMixin(CompanyCurrencyMixin, ReportMixin, ModelView):
    "Quoted and won figures of quote lines, grouped by a dimension"

    quotes = fields.Integer("Quotes")
    quoted_quantity = fields.Float("Quoted Quantity", digits=(16, 2))
    quoted_amount = fields.Numeric("Quoted Amount", digits='currency')
    won_quantity = fields.Float("Won Quantity", digits=(16, 2))
    won_amount = fields.Numeric("Won Amount", digits='currency')
    won_rate = fields.Float(
        "Won (%)", digits=(16, 1),
        help="The won amount out of the quoted amount.")
    average_discount = fields.Float(
        "Average Discount (%)", digits=(16, 1),
        help="How far below the list price the lines were quoted, "
        "weighted by amount.")
    quoted_amount_previous = fields.Numeric(
        "Quoted Amount Last Year", digits='currency')
    won_amount_previous = fields.Numeric(
        "Won Amount Last Year", digits='currency')
    won_amount_change = fields.Float("Change (%)", digits=(16, 1))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('quoted_amount', 'DESC'), ('id', 'ASC')]

    @classmethod
    def _lines(cls):
        """The quote lines of the current and the previous period with their
        amount and list amount in the company currency, and whether the
        quote is in the period, the period before and won"""
        pool = Pool()
        Sale = pool.get('sale.sale')
        Line = pool.get('sale.line')
        Product = pool.get('product.product')
        ListPrice = pool.get('product.list_price')
        Opportunity = pool.get('sale.opportunity')
        sale, line = Sale.__table__(), Line.__table__()
        revised = Sale.__table__()
        product, list_price = Product.__table__(), ListPrice.__table__()
        context = Transaction().context
        company = context.get('company', -1)
        (start, end), (start_before, end_before) = context_period()
        date = sale.quotation_date
        quantity = Coalesce(line.quantity, 0)
        amount = company_amount(sale, quantity * line.unit_price, date)
        # The price the line was discounted from (today's list price, or
        # the line's own with crm_kit_quote).
        list_amount = quantity * Sale.crm_list_price(line, list_price)

        where = ((sale.company == company)
            & (line.type == 'line')
            & visible(sale, 'sale.sale')
            & filtered(sale, ['owner', 'team'])
            # A version replaced by a revision is counted in its revision.
            & ~sale.id.in_(revised.select(revised.revised_from,
                    where=revised.revised_from != Null))
            & (((date >= start_before) & (date < end_before))
                | ((date >= start) & (date < end))))
        if context.get('channel') or context.get('pipeline'):
            # Through the opportunity the quote came from.
            opportunity = Opportunity.__table__()
            ids = opportunity.select(opportunity.id,
                where=filtered(opportunity, ['channel', 'pipeline']))
            origin_id = Cast(Substring(sale.origin,
                    Position(',', sale.origin) + Literal(1)),
                Opportunity.id.sql_type().base)
            where &= (sale.origin.like('sale.opportunity,%')
                & origin_id.in_(ids))
        return (line
            .join(sale, condition=line.sale == sale.id)
            .join(product, 'LEFT', condition=line.product == product.id)
            .join(list_price, 'LEFT',
                condition=(list_price.template == product.template)
                & (list_price.company == company))
            .select(
                line.id.as_('line'),
                line.product.as_('product'),
                product.template.as_('template'),
                line.sale.as_('sale'),
                quantity.as_('quantity'),
                amount.as_('amount'),
                list_amount.as_('list_amount'),
                Case(((date >= start) & (date < end), 1), else_=0).as_(
                    'current'),
                Case((sale.state.in_(WON_STATES), 1), else_=0).as_('won'),
                where=where))

    @classmethod
    def _figures(cls, lines):
        "The aggregated columns of the quote lines"
        current = lines.current == 1
        won = current & (lines.won == 1)
        before = lines.current == 0

        def total(condition, value):
            return Sum(Case((condition, value), else_=0))
        quoted_amount = total(current, lines.amount)
        won_amount = total(won, lines.amount)
        won_amount_previous = total(before & (lines.won == 1), lines.amount)
        priced = current & (lines.list_amount > 0)
        return [
            Count(Case((current, lines.sale), else_=Null), distinct=True).as_(
                'quotes'),
            total(current, lines.quantity).as_('quoted_quantity'),
            quoted_amount.as_('quoted_amount'),
            total(won, lines.quantity).as_('won_quantity'),
            won_amount.as_('won_amount'),
            ratio(won_amount, quoted_amount, 100).as_('won_rate'),
            ratio(total(priced, lines.list_amount - lines.amount),
                total(priced, lines.list_amount), 100).as_(
                'average_discount'),
            total(before, lines.amount).as_('quoted_amount_previous'),
            won_amount_previous.as_('won_amount_previous'),
            ratio(won_amount - won_amount_previous, won_amount_previous,
                100).as_('won_amount_change'),
            ]


class ProductReport(QuotedMixin):
    "Quoted and won by product"
    __name__ = 'crm.report.product'
    __string__ = "Quoted and Won by Product"

    product = fields.Many2One('product.product', "Product")

    @classmethod
    def report_query(cls):
        lines = cls._lines()
        return lines.select(
            (Coalesce(lines.product, 0) + 1).as_('id'),
            lines.product.as_('product'),
            *cls._figures(lines),
            group_by=[lines.product])


class ProductCategoryReport(QuotedMixin):
    "Quoted and won by product category: a line counts in each category"
    __name__ = 'crm.report.product_category'
    __string__ = "Quoted and Won by Product Category"

    category = fields.Many2One('product.category', "Product Category")

    @classmethod
    def report_query(cls):
        pool = Pool()
        TemplateCategory = pool.get('product.template-product.category')
        link = TemplateCategory.__table__()
        lines = cls._lines()
        return (lines
            .join(link, 'LEFT', condition=link.template == lines.template)
            .select(
                (Coalesce(link.category, 0) + 1).as_('id'),
                link.category.as_('category'),
                *cls._figures(lines),
                group_by=[link.category]))


class PriceBandReport(QuotedMixin):
    """Quoted and won by how far below the list price the lines were
    quoted: do deeper discounts win more?"""
    __name__ = 'crm.report.price_band'
    __string__ = "Quoted and Won by Price Band"

    band = fields.Selection(PRICE_BANDS, "Price Band", sort=False)
    sequence = fields.Integer("Sequence")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('sequence', 'ASC'), ('id', 'ASC')]

    @classmethod
    def report_query(cls):
        lines = cls._lines()
        discount = (lines.list_amount - lines.amount) / Case(
            (lines.list_amount > 0, lines.list_amount), else_=Null)
        sequence = Case(
            (discount == Null, 6),
            (discount <= 0, 1),
            (discount <= 0.1, 2),
            (discount <= 0.2, 3),
            (discount <= 0.3, 4),
            else_=5)
        banded = lines.select(
            *[getattr(lines, c) for c in [
                    'sale', 'quantity', 'amount', 'list_amount', 'current',
                    'won']],
            sequence.as_('sequence'))
        band = Case(*((banded.sequence == i, Literal(key))
                for i, (key, _) in enumerate(PRICE_BANDS, 1)))
        return banded.select(
            banded.sequence.as_('id'),
            banded.sequence.as_('sequence'),
            band.as_('band'),
            *cls._figures(banded),
            group_by=[banded.sequence])
