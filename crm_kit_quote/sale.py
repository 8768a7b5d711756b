# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from decimal import Decimal

from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.modules.product import round_price
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from crm_kit.public import logo_uri


class QuotePDFError(ValidationError):
    pass



class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'

    @classmethod
    def crm_list_price(cls, line, list_price):
        # The price before the line's discount, else the product's.
        return Coalesce(line.base_price, super().crm_list_price(
                line, list_price))


class SaleLine(metaclass=PoolMeta):
    __name__ = 'sale.line'

    # sale_discount's rate and amount only move the unit price through the
    # form's on_change; written through the API, they set it too.
    @classmethod
    def set_discount_rate(cls, lines, name, value):
        super().set_discount_rate(lines, name, value)
        if value is None:
            return
        if not (0 <= value <= 1):
            raise ValidationError(gettext(
                    'crm_kit_quote.msg_discount_out_of_range',
                    discount=value * 100))
        cls._set_unit_price(lines,
            lambda base: round_price(base * (1 - value)))

    @classmethod
    def set_discount_amount(cls, lines, name, value):
        super().set_discount_amount(lines, name, value)
        if value is None:
            return
        cls._set_unit_price(lines, lambda base: round_price(base - value))

    @classmethod
    def _set_unit_price(cls, lines, price):
        to_write = []
        for line in lines:
            if line.base_price is None:
                continue
            unit_price = price(line.base_price)
            if line.unit_price != unit_price:
                to_write.extend(([line], {'unit_price': unit_price}))
        if to_write:
            cls.write(*to_write)


class QuoteReport(metaclass=PoolMeta):
    "The quote the customer receives: a PDF unless the ODT is asked for"
    __name__ = 'sale.sale'

    @classmethod
    def default_action_id(cls):
        "The action rendered when none is named: the PDF"
        return Pool().get('ir.model.data').get_id(
            'crm_kit_quote', 'report_quote')

    @classmethod
    def execute(cls, ids, data):
        if data.get('action_id') is None:
            # REST names the report, not the action.
            data = dict(data, action_id=cls.default_action_id())
        return super().execute(ids, data)

    @classmethod
    def convert(cls, report, data, timeout=5 * 60, retry=5):
        if (report.template_extension != 'html'
                or report.extension != 'pdf'):
            return super().convert(
                report, data, timeout=timeout, retry=retry)
        try:
            import weasyprint
        except (ImportError, OSError) as exception:
            # OSError: the system's Pango is missing.
            raise QuotePDFError(gettext(
                    'crm_kit_quote.msg_quote_pdf_unavailable',
                    error=str(exception))) from exception
        # The template embeds what it shows (the logo as a data URI): it
        # fetches nothing, from the network or the server's files.
        return 'pdf', weasyprint.HTML(
            string=data,
            url_fetcher=weasyprint.URLFetcher(allowed_protocols={'data'}),
            ).write_pdf()

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        Lang = pool.get('ir.lang')
        context = super().get_context(records, header, data)

        def lang(sale):
            return Lang.get(sale.quote_language)
        context['quote_lang'] = lang
        context['quote_taxes'] = quote_taxes
        context['unit_price_digits'] = unit_price_digits
        context['format_percent'] = format_percent
        context['logo_uri'] = logo_uri
        context['tax_identifier'] = tax_identifier
        context['address_text'] = address_text
        return context


def quote_taxes(sale):
    "The IVA breakdown of the quote: (tax, base, amount) by rate"
    taxes = {}
    for line in sale._get_taxes().values():
        base, amount = taxes.get(line.tax, (Decimal(0), Decimal(0)))
        taxes[line.tax] = (base + line.base, amount + line.amount)
    return sorted(((tax, base, amount) for tax, (base, amount)
            in taxes.items()),
        key=lambda t: (-(t[0].rate or 0), t[0].name))


def unit_price_digits(price, currency):
    """The currency's digits, more only when the price has them: 65 € is
    "65,00", 0.125 € "0,125" """
    digits = currency.digits
    if price is not None:
        exponent = price.normalize().as_tuple().exponent
        digits = max(digits, min(-exponent, 4))
    return digits


def format_percent(rate, lang):
    "A rate as a percentage with the decimals it has: 0.21 is 21 %"
    value = (Decimal(rate) * 100).normalize()
    digits = max(0, -value.as_tuple().exponent)
    return lang.format_number(value, digits=min(digits, 2)) + '\u00a0%'


def address_text(address, company=None):
    """The address's lines without the party's name, which the quote
    prints, nor the country when it is the company's (a domestic address)"""
    pool = Pool()
    Address = pool.get('party.address')
    if not address:
        return ''
    from_country = None
    if company and (company_address := company.party.address_get()):
        from_country = company_address.country
    with Transaction().set_context(
            address_with_party=False, address_from_country=from_country):
        return Address(address.id).full_address


def tax_identifier(party):
    "The party's NIF/CIF as written in Spain: without the EU prefix"
    identifier = party.tax_identifier if party else None
    if not identifier:
        return None
    code = identifier.code
    if identifier.type == 'eu_vat' and code.startswith('ES'):
        code = code[2:]
    return code
