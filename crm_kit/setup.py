# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The setup assistant: what an agent sets up for a new customer, step by
step in sao — the company, the users with their roles, the pipeline's
stages, the channels — and then the first imports.

It opens on the administrator's first login (a Tryton configuration wizard
item) and stays under CRM › Configuration: each step shows what is stored,
so running it again edits it, and each step is skipped or saved on its
own.  `crm-kit setup FILE.toml` applies the same steps from a file through
the functions below."""
import re
import secrets
import unicodedata

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

LANGUAGES = [('es', "Spanish"), ('en', "English")]
# The states a stage of the assistant may have: won and lost stages exist.
OPEN_STAGE_STATES = ['lead', 'opportunity', 'converted']


def compact_nif(code):
    """code as a Spanish NIF/CIF is stored (B12345674); ValueError when it
    is none"""
    from stdnum.es import nif
    if not nif.is_valid(code):
        raise ValueError(
            f"{code!r} is not a valid Spanish NIF/CIF (e.g. B12345674)")
    return nif.compact(code)


def add_tax_identifier(party, code):
    "The company's NIF/CIF, as the EU VAT number its quotes print"
    Identifier = Pool().get('party.identifier')
    Identifier(party=party, type='eu_vat', code='ES' + code).save()


def tax_identifier(party):
    "The NIF/CIF of party's EU VAT number, or None"
    for identifier in party.identifiers:
        if identifier.type == 'eu_vat' and identifier.code:
            return identifier.code.removeprefix('ES')


def currencies():
    "The ISO 4217 currencies as a selection: (code, 'EUR — Euro')"
    import pycountry
    return sorted((c.alpha_3, f"{c.alpha_3} — {c.name}")
        for c in pycountry.currencies)


def currency_code(code):
    """code as an ISO 4217 currency code (upper case); ValueError when it
    is none"""
    import pycountry
    code = code.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{code!r} is not an ISO 4217 code "
            "(EUR, USD, GBP…)")
    return code


def get_currency(code):
    """The currency of ISO 4217 code, created from pycountry's data (named
    in English and Spanish) when the database has not it yet"""
    import gettext as gettext_
    import pycountry
    from decimal import Decimal
    Currency = Pool().get('currency.currency')
    code = currency_code(code)
    found = Currency.search([('code', '=', code)], limit=1)
    if found:
        return found[0]
    entry = pycountry.currencies.get(alpha_3=code)
    currency = Currency(name=entry.name, code=code,
        numeric_code=entry.numeric, symbol='€' if code == 'EUR' else None,
        rounding=Decimal('0.01'), digits=2)
    currency.save()
    try:
        spanish = gettext_.translation(
            'iso4217', pycountry.LOCALES_DIR, languages=['es'])
    except OSError:
        return currency
    with Transaction().set_context(language='es'):
        Currency.write([currency], {'name': spanish.gettext(entry.name)})
    return currency


def set_company(company, values):
    """Change what values names of company: name, nif, street,
    postal_code, city, phone, email, website, logo, currency (a code),
    language (es or en)"""
    pool = Pool()
    Address = pool.get('party.address')
    Mechanism = pool.get('party.contact_mechanism')
    Identifier = pool.get('party.identifier')
    Lang = pool.get('ir.lang')
    party = company.party
    if values.get('name'):
        party.name = values['name']
    if values.get('language'):
        party.lang, = Lang.search([('code', '=', values['language'])])
    party.save()
    if 'nif' in values and values['nif'] != tax_identifier(party):
        Identifier.delete([i for i in party.identifiers
                if i.type == 'eu_vat'])
        if values['nif']:
            add_tax_identifier(party, values['nif'])
    address_keys = {'street', 'postal_code', 'city'} & set(values)
    if address_keys:
        address = party.addresses[0] if party.addresses else Address(
            party=party)
        for key in address_keys:
            setattr(address, key, values[key])
        address.save()
    for type_ in ['phone', 'email', 'website']:
        if type_ not in values:
            continue
        mechanisms = [m for m in party.contact_mechanisms if m.type == type_]
        if not values[type_]:
            Mechanism.delete(mechanisms[:1])
            continue
        mechanism = mechanisms[0] if mechanisms else Mechanism(
            party=party, type=type_)
        mechanism.value = values[type_]
        mechanism.save()
    if 'logo' in values:
        company.logo = values['logo'] or None
    if values.get('currency') and values['currency'] != company.currency.code:
        company.currency = get_currency(values['currency'])
    company.save()


def employment(company, names):
    """Make an employee of company (and its party) for each of names, at
    once; return for each the values that have a user work for company as
    that employee"""
    pool = Pool()
    Employee = pool.get('company.employee')
    Party = pool.get('party.party')
    parties = Party.create([{'name': n} for n in names])
    employees = Employee.create([
            {'party': p.id, 'company': company.id} for p in parties])
    return [{
            'companies': [('add', [company.id])],
            'company': company.id,
            'employees': [('add', [e.id])],
            'employee': e.id,
            } for e in employees]


def set_users(company, users):
    """Create or change the users: dicts of name, login, role, maybe email
    (left as it is when missing) and, to change a user's login, user (the
    record); return the new users' passwords {login: password}"""
    User = Pool().get('res.user')
    existing = {u.login: u for u in User.search([
                ('login', 'in', [u['login'] for u in users]),
                ])}
    lang = company.party.lang or None
    passwords = {}
    for values in users:
        user = values.get('user') or existing.get(values['login'])
        if user is None:
            password = secrets.token_urlsafe(12)
            employed, = employment(company, [values['name']])
            user, = User.create([{
                        'login': values['login'],
                        'name': values['name'],
                        'password': password,
                        'language': lang.id if lang and lang.translatable
                        else None,
                        **employed,
                        }])
            passwords[user.login] = password
        changes = {
            'login': values['login'],
            'name': values['name'],
            'crm_role': values['role'],
            }
        if 'email' in values:
            changes['email'] = values['email'] or None
        User.write([user], changes)
    return passwords


def sales_pipeline():
    return Pool().get('ir.model.data').get_id('crm_kit', 'pipeline_sales')


def set_stages(stages):
    """Create or change the open stages of the sales pipeline: dicts of
    name, probability (0 to 1), state and, to rename a stage, stage (the
    record); the won and lost stages stay last"""
    Stage = Pool().get('crm.stage')
    existing = {s.name: s for s in Stage.search([
                ('pipeline', '=', sales_pipeline()),
                ])}
    sequence = max((s.sequence or 0 for s in existing.values()
            if not s.closed), default=0)
    for values in stages:
        stage = values.get('stage') or existing.get(values['name'])
        if stage:
            # What is unchanged is not written: a stage with opportunities
            # keeps its state.
            for name in ['name', 'probability', 'state']:
                if values.get(name) not in {None, getattr(stage, name)}:
                    setattr(stage, name, values[name])
        else:
            sequence += 1
            stage = Stage(pipeline=sales_pipeline(), name=values['name'],
                state=values.get('state') or 'opportunity',
                probability=values['probability'], sequence=sequence)
        stage.save()
    for stage in sorted((s for s in existing.values() if s.closed),
            key=lambda s: s.sequence or 0):
        if (stage.sequence or 0) <= sequence:
            sequence += 1
            stage.sequence = sequence
            stage.save()


def channel_code(name, codes):
    "The code imports and the API use for a new channel: its name in ASCII"
    code = re.sub(r'[^a-z0-9]+', '_', unicodedata.normalize(
            'NFKD', name).encode('ascii', 'ignore').decode().lower()
        ).strip('_') or 'channel'
    unique, number = code, 1
    while unique in codes:
        number += 1
        unique = f'{code}_{number}'
    return unique


def set_channels(channels):
    """Create the channels of names not known yet: a list of names, or of
    dicts of name and, to rename one, channel (the record)"""
    Channel = Pool().get('crm.channel')
    known = Channel.search([])
    names = {c.name for c in known}
    codes = {c.code for c in known}
    for values in channels:
        if isinstance(values, str):
            values = {'name': values}
        channel = values.get('channel')
        if channel:
            if channel.name != values['name']:
                channel.name = values['name']
                channel.save()
        elif values['name'] not in names:
            code = channel_code(values['name'], codes)
            Channel.create([{'name': values['name'], 'code': code}])
            codes.add(code)
        names.add(values['name'])


class SetupCompany(ModelView):
    "Set up the CRM: company"
    __name__ = 'crm.setup.company'

    name = fields.Char("Legal Name", required=True)
    nif = fields.Char("NIF/CIF",
        help="The company's tax identifier, printed on its quotes.")
    nif_problem = fields.Function(fields.Char("NIF/CIF Problem",
            readonly=True,
            states={'invisible': ~Eval('nif_problem')}),
        'on_change_with_nif_problem')
    street = fields.Text("Street")
    postal_code = fields.Char("Postal Code")
    city = fields.Char("City")
    phone = fields.Char("Phone")
    email = fields.Char("E-Mail")
    website = fields.Char("Website")
    logo = fields.Binary("Logo",
        help="Printed on quotes and shown on the customer pages.")
    currency = fields.Selection('get_currencies', "Currency", required=True)
    language = fields.Selection(LANGUAGES, "Language", required=True,
        help="The language of the company's documents and of new users.")

    @classmethod
    def get_currencies(cls):
        return currencies()

    @fields.depends('nif')
    def on_change_with_nif_problem(self, name=None):
        "Told as it is typed: the step is saved with a valid one alone"
        if self.nif:
            try:
                compact_nif(self.nif)
            except ValueError:
                return gettext('crm_kit.msg_setup_nif_invalid', nif=self.nif)


class SetupUsers(ModelView):
    "Set up the CRM: users"
    __name__ = 'crm.setup.users'

    users = fields.One2Many('crm.setup.user', None, "Users",
        help="Kit Digital asks for 1 user with access up to 9 employees, "
        "3 for 10 to 49, 10 and 15 in the larger segments.")


class SetupUser(ModelView):
    "Set up the CRM: user"
    __name__ = 'crm.setup.user'

    user = fields.Many2One('res.user', "User", readonly=True)
    name = fields.Char("Name", required=True)
    login = fields.Char("Login", required=True)
    email = fields.Char("E-Mail")
    role = fields.Selection('get_roles', "CRM Role", required=True)

    @classmethod
    def get_roles(cls):
        User = Pool().get('res.user')
        return [(r, s) for r, s in User.fields_get(
                ['crm_role'])['crm_role']['selection'] if r]

    @classmethod
    def default_role(cls):
        return 'rep'


class SetupStages(ModelView):
    "Set up the CRM: stages"
    __name__ = 'crm.setup.stages'

    stages = fields.One2Many('crm.setup.stage', None, "Stages",
        help="The open stages of the sales pipeline, in order; "
        "the won and lost stages follow them.")


class SetupStage(ModelView):
    "Set up the CRM: stage"
    __name__ = 'crm.setup.stage'

    stage = fields.Many2One('crm.stage', "Stage", readonly=True)
    name = fields.Char("Name", required=True)
    probability = fields.Float("Probability", digits=(1, 4), required=True,
        domain=[
            ('probability', '>=', 0),
            ('probability', '<=', 1),
            ])
    state = fields.Selection('get_states', "Opportunity State",
        required=True)

    @classmethod
    def get_states(cls):
        Stage = Pool().get('crm.stage')
        return [(s, n) for s, n in Stage.fields_get(
                ['state'])['state']['selection'] if s in OPEN_STAGE_STATES]

    @classmethod
    def default_state(cls):
        return Pool().get('crm.stage').default_state()

    @classmethod
    def default_probability(cls):
        return Pool().get('crm.stage').default_probability()


class SetupChannels(ModelView):
    "Set up the CRM: channels"
    __name__ = 'crm.setup.channels'

    channels = fields.One2Many('crm.setup.channel', None, "Channels",
        help="Where leads come from: the web, the phone, a fair…")


class SetupChannel(ModelView):
    "Set up the CRM: channel"
    __name__ = 'crm.setup.channel'

    channel = fields.Many2One('crm.channel', "Channel", readonly=True)
    name = fields.Char("Name", required=True)


class SetupDone(ModelView):
    "Set up the CRM: done"
    __name__ = 'crm.setup.done'

    passwords = fields.Text("New Users' Passwords", readonly=True,
        help="Give each person theirs: they change it in their "
        "preferences.")


def repeated(values):
    "The first of values given again, or None"
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)


def _step(name, skip, save, **options):
    "A step of the assistant: the view of crm.setup.<name>, skipped or saved"
    return StateView(f'crm.setup.{name}', f'crm_kit.setup_{name}_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Skip", skip, 'tryton-forward'),
            Button("Save", save, 'tryton-ok', default=True, **options),
            ])


class Setup(Wizard):
    "Set up the CRM"
    __name__ = 'crm.setup'

    start = _step('company', 'users', 'save_company',
        states={'readonly': Bool(Eval('nif_problem'))})
    save_company = StateTransition()
    users = _step('users', 'stages', 'save_users')
    save_users = StateTransition()
    stages = _step('stages', 'channels', 'save_stages')
    save_stages = StateTransition()
    channels = _step('channels', 'done', 'save_channels')
    save_channels = StateTransition()
    done = StateView('crm.setup.done',
        'crm_kit.setup_done_view_form', [
            Button("Finish", 'end', 'tryton-ok', default=True),
            ])

    @classmethod
    def mark_done(cls):
        """Do not open the assistant on the administrator's next login: the
        CRM is set up otherwise (the demo, a setup file, an upgrade)"""
        pool = Pool()
        Item = pool.get('ir.module.config_wizard.item')
        ModelData = pool.get('ir.model.data')
        Item.write(Item.search([
                    ('id', '=', ModelData.get_id(
                            'crm_kit', 'config_wizard_item_setup')),
                    ('state', '!=', 'done'),
                    ]), {'state': 'done'})

    @property
    def company(self):
        Company = Pool().get('company.company')
        company_id = Transaction().context.get('company')
        if company_id:
            return Company(company_id)
        company, = Company.search([], limit=1)
        return company

    def default_start(self, fields):
        company = self.company
        party = company.party
        address = party.addresses[0] if party.addresses else None
        values = {
            'name': party.name,
            'nif': tax_identifier(party),
            'street': address.street if address else None,
            'postal_code': address.postal_code if address else None,
            'city': address.city if address else None,
            'logo': company.logo,
            'currency': company.currency.code,
            'language': party.lang.code if party.lang
            and party.lang.code in dict(LANGUAGES) else 'es',
            }
        for mechanism in party.contact_mechanisms:
            if mechanism.type in {'phone', 'email', 'website'}:
                values.setdefault(mechanism.type, mechanism.value)
        return values

    def transition_save_company(self):
        values = {name: getattr(self.start, name) for name in [
                'name', 'nif', 'street', 'postal_code', 'city', 'phone',
                'email', 'website', 'logo', 'currency', 'language']}
        problem = self.start.on_change_with_nif_problem()
        if problem:
            raise ValidationError(problem)
        if values['nif']:
            values['nif'] = compact_nif(values['nif'])
        set_company(self.company, values)
        return 'users'

    def default_users(self, fields):
        User = Pool().get('res.user')
        users = [u for u in User.search([
                    ('login', '!=', 'admin'),
                    ], order=[('name', 'ASC'), ('id', 'ASC')])
            if u.crm_role]
        return {
            'users': [{
                    'user': u.id,
                    'name': u.name,
                    'login': u.login,
                    'email': u.email,
                    'role': u.crm_role,
                    } for u in users],
            }

    def transition_save_users(self):
        login = repeated(u.login for u in self.users.users)
        if login is not None:
            raise ValidationError(gettext(
                    'crm_kit.msg_setup_login_twice', login=login))
        User = Pool().get('res.user')
        for row in self.users.users:
            user = getattr(row, 'user', None)
            with Transaction().set_context(active_test=False):
                taken = User.search([
                        ('login', '=', row.login),
                        ('id', '!=', user.id if user else -1),
                        ])
            if taken:
                raise ValidationError(gettext(
                        'crm_kit.msg_setup_login_taken', login=row.login,
                        user=taken[0].rec_name))
            if row.email and '@' not in row.email:
                raise ValidationError(gettext(
                        'crm_kit.msg_setup_email_invalid', email=row.email))
        passwords = set_users(self.company, [{
                    'user': getattr(u, 'user', None),
                    'name': u.name,
                    'login': u.login,
                    'email': u.email,
                    'role': u.role,
                    } for u in self.users.users])
        self.done.passwords = '\n'.join(
            f"{login}: {password}" for login, password in passwords.items())
        return 'stages'

    def default_stages(self, fields):
        Stage = Pool().get('crm.stage')
        return {
            'stages': [{
                    'stage': s.id,
                    'name': s.name,
                    'probability': s.probability,
                    'state': s.state,
                    } for s in Stage.search([
                        ('pipeline', '=', sales_pipeline()),
                        ('closed', '=', False),
                        ])],
            }

    def transition_save_stages(self):
        name = repeated(s.name for s in self.stages.stages)
        if name is not None:
            raise ValidationError(gettext(
                    'crm_kit.msg_setup_stage_twice', stage=name))
        set_stages([{
                    'stage': getattr(s, 'stage', None),
                    'name': s.name,
                    'probability': s.probability,
                    'state': s.state,
                    } for s in self.stages.stages])
        return 'channels'

    def default_channels(self, fields):
        Channel = Pool().get('crm.channel')
        return {
            'channels': [{'channel': c.id, 'name': c.name}
                for c in Channel.search([])],
            }

    def transition_save_channels(self):
        set_channels([{'channel': getattr(c, 'channel', None), 'name': c.name}
                for c in self.channels.channels])
        return 'done'

    def default_done(self, fields):
        return {
            'passwords': getattr(self.done, 'passwords', None),
            }
