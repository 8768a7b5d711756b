"""What quotes need for a Spanish SME: company, currency (EUR), IVA 21/10/4/0 %,
a payment term and a few product categories.

Everything is created once (the function returns early when a company
exists) and stays editable in sao afterwards."""
from decimal import Decimal

from crm_kit.setup import add_tax_identifier, employment, get_currency
from trytond.pool import Pool
from trytond.transaction import Transaction

# IVA (Spanish VAT) rates: general, reduced, super-reduced, exempt.
TAXES = [
    ('IVA 21%', Decimal('0.21')),
    ('IVA 10%', Decimal('0.10')),
    ('IVA 4%', Decimal('0.04')),
    ('IVA 0%', Decimal('0')),
    ]

# (English name, Spanish name, tax name)
CATEGORIES = [
    ("Services", "Servicios", 'IVA 21%'),
    ("Products", "Productos", 'IVA 21%'),
    ("Hospitality and transport", "Hostelería y transporte", 'IVA 10%'),
    ("Books and basic food", "Libros y alimentos básicos", 'IVA 4%'),
    ("Exempt services", "Servicios exentos", 'IVA 0%'),
    ]


def setup_company(name="My Company", tax_identifier=None, currency='EUR'):
    """Create the company (its currency an ISO 4217 code) and its sales
    setup; return the company"""
    pool = Pool()
    Company = pool.get('company.company')
    companies = Company.search([], limit=1)
    if companies:
        company, = companies
        # Databases set up before the provinces were loaded get them now.
        _country()
        if tax_identifier and not company.party.tax_identifier:
            add_tax_identifier(company.party, tax_identifier)
        return company

    currency = get_currency(currency)
    country = _country()
    party = _party(name, country, tax_identifier)
    company = Company(party=party, currency=currency, timezone='Europe/Madrid')
    company.save()
    _attach_admin(company)
    with Transaction().set_context(company=company.id):
        _chart(company)
        taxes = _taxes(company)
        _payment_term(company)
        _categories(company, taxes)
    _close_config_wizard()
    return company


def _close_config_wizard():
    """Tryton's first-login wizard would set up the company and chart
    again: what it asks for is done.  crm-kit's setup assistant stays for
    the administrator's first login."""
    pool = Pool()
    Item = pool.get('ir.module.config_wizard.item')
    ModelData = pool.get('ir.model.data')
    assistant = ModelData.get_id('crm_kit', 'config_wizard_item_setup')
    Item.write(Item.search([
                ('state', '!=', 'done'),
                ('id', '!=', assistant),
                ]), {'state': 'done'})


def _country():
    Country = Pool().get('country.country')
    countries = Country.search([('code', '=', 'ES')], limit=1)
    if countries:
        _subdivisions(countries[0])
        return countries[0]
    country = Country(name="Spain", code='ES', code3='ESP', code_numeric='724')
    country.save()
    with Transaction().set_context(language='es'):
        Country.write([country], {'name': "España"})
    _subdivisions(country)
    return country


def _subdivisions(country):
    """Spain's autonomous communities and provinces, from pycountry's
    offline ISO 3166-2 data: leads, assignment rules and imports name
    provinces ("Madrid", "A Coruña")"""
    import pycountry
    Subdivision = Pool().get('country.subdivision')
    types = dict(Subdivision.fields_get(['type'])['type']['selection'])
    existing = {s.code: s for s in Subdivision.search([
                ('country', '=', country.id),
                ])}
    entries = sorted(pycountry.subdivisions.get(country_code=country.code),
        key=lambda e: e.parent_code is not None)
    for entry in entries:
        if entry.code in existing:
            continue
        type_ = entry.type.lower()
        parent = existing.get(entry.parent_code)
        subdivision = Subdivision(
            country=country, code=entry.code,
            name=entry.name.split(' [')[0],
            type=type_ if type_ in types else None,
            parent=parent)
        subdivision.save()
        existing[entry.code] = subdivision


def _party(name, country, tax_identifier):
    pool = Pool()
    Party = pool.get('party.party')
    Address = pool.get('party.address')
    party = Party(name=name)
    party.addresses = [Address(country=country, city="Madrid")]
    party.save()
    if tax_identifier:
        add_tax_identifier(party, tax_identifier)
    return party


def _attach_admin(company):
    User = Pool().get('res.user')
    admin, = User.search([('login', '=', 'admin')])
    User.write([admin], *employment(company, [admin.name or "Administrator"]))


def _chart_language():
    """Spanish when the database was set up with it (crm-kit init does),
    else the English chart, which every database has"""
    ModelData = Pool().get('ir.model.data')
    try:
        ModelData.get_id('account', 'account_template_root_es')
    except KeyError:
        return 'en'
    return 'es'


def _chart(company):
    "Create the accounts from Tryton's universal chart in Spanish"
    pool = Pool()
    AccountTemplate = pool.get('account.account.template')
    ModelData = pool.get('ir.model.data')
    Account = pool.get('account.account')
    CreateChart = pool.get('account.create_chart', type='wizard')

    template = AccountTemplate(
        ModelData.get_id('account', f'account_template_root_{_chart_language()}'))
    session_id, _, _ = CreateChart.create()
    create_chart = CreateChart(session_id)
    create_chart.account.account_template = template
    create_chart.account.company = company
    create_chart.transition_create_account()
    receivable, = Account.search([
            ('type.receivable', '=', True),
            ('party_required', '=', True),
            ('company', '=', company.id),
            ], limit=1)
    payable, = Account.search([
            ('type.payable', '=', True),
            ('party_required', '=', True),
            ('company', '=', company.id),
            ], limit=1)
    create_chart.properties.company = company
    create_chart.properties.account_receivable = receivable
    create_chart.properties.account_payable = payable
    create_chart.transition_create_properties()
    CreateChart.delete(session_id)


def _taxes(company):
    pool = Pool()
    Account = pool.get('account.account')
    ModelData = pool.get('ir.model.data')
    Tax = pool.get('account.tax')
    tax_account, = Account.search([
            ('template', '=', ModelData.get_id(
                    'account',
                    f'account_template_6_3_4_{_chart_language()}')),
            ('company', '=', company.id),
            ])
    taxes = {}
    for name, rate in TAXES:
        tax = Tax(
            name=name, description=name, type='percentage', rate=rate,
            company=company, invoice_account=tax_account,
            credit_note_account=tax_account)
        tax.save()
        taxes[name] = tax
    return taxes


def _payment_term(company):
    pool = Pool()
    PaymentTerm = pool.get('account.invoice.payment_term')
    Line = pool.get('account.invoice.payment_term.line')
    Configuration = pool.get('account.configuration')
    term = PaymentTerm(name="Immediate payment", lines=[Line(type='remainder')])
    term.save()
    with Transaction().set_context(language='es'):
        PaymentTerm.write([term], {'name': "Pago al contado"})
    configuration = Configuration(1)
    configuration.default_customer_payment_term = term
    configuration.save()


def _categories(company, taxes):
    pool = Pool()
    Account = pool.get('account.account')
    Category = pool.get('product.category')
    revenue, = Account.search([
            ('type.revenue', '=', True),
            ('company', '=', company.id),
            ('closed', '!=', True),
            ], limit=1)
    expense, = Account.search([
            ('type.expense', '=', True),
            ('company', '=', company.id),
            ('closed', '!=', True),
            ], limit=1)
    for name, name_es, tax in CATEGORIES:
        category = Category(
            name=name, accounting=True,
            account_revenue=revenue, account_expense=expense,
            customer_taxes=[taxes[tax]])
        category.save()
        with Transaction().set_context(language='es'):
            Category.write([category], {'name': name_es})
