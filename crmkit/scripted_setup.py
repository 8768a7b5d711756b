"""crm-kit setup FILE.toml: a customer's CRM set up from one file, for the
agents who install it again and again.

Each table of the file is optional and applied in one transaction, or
nothing is when one value is wrong; the lead files come last, each through
the one lead-intake road (crm-kit import-leads).  Everything stays
editable in sao afterwards, and running the file again updates what it
names (the company; users by login; stages and channels by name).

    [company]
    name = "Talleres Ruiz S.L."
    nif = "B12345674"
    street = "Calle Mayor 1"
    postal_code = "28001"
    city = "Madrid"
    phone = "+34 910 000 000"
    email = "info@talleresruiz.es"
    website = "https://talleresruiz.es"
    logo = "logo.png"           # beside the file, or an absolute path
    language = "es"             # es or en

    [[users]]
    name = "Marta López"
    login = "marta"
    email = "marta@talleresruiz.es"
    role = "manager"            # rep, manager or admin

    [[stages]]                  # of the sales pipeline, by name
    name = "En análisis"
    probability = 25            # per cent
    state = "opportunity"       # for a new stage: lead, opportunity,
                                # converted (default: opportunity)

    channels = ["Web", "Teléfono", "Feria"]
    leads = ["leads.xlsx"]      # imported last, duplicates skipped
"""
import secrets
from pathlib import Path

ROLES = ['rep', 'manager', 'admin']
STAGE_STATES = ['lead', 'opportunity', 'converted']
COMPANY_KEYS = {'name', 'nif', 'street', 'postal_code', 'city', 'phone',
    'email', 'website', 'logo', 'language'}
USER_KEYS = {'name', 'login', 'email', 'role'}
STAGE_KEYS = {'name', 'probability', 'state'}
TOP_KEYS = {'company', 'users', 'stages', 'channels', 'leads'}


class SetupError(Exception):
    pass


def read(path):
    """The setup of the file at path, checked: a dict, or SetupError
    naming what is wrong"""
    import tomllib
    path = Path(path)
    try:
        with open(path, 'rb') as file:
            setup = tomllib.load(file)
    except OSError as exception:
        raise SetupError(f"{path} cannot be read: {exception}")
    except tomllib.TOMLDecodeError as exception:
        raise SetupError(f"{path} is not valid TOML: {exception}")
    _unknown(setup, TOP_KEYS, "the file")
    company = setup.get('company', {})
    if not isinstance(company, dict):
        raise SetupError("[company] is a table")
    _unknown(company, COMPANY_KEYS, "[company]")
    for key, value in company.items():
        if not isinstance(value, str) or not value.strip():
            raise SetupError(f"[company] {key} is a text, not empty")
    if 'nif' in company:
        from .company_setup import compact_nif
        try:
            company['nif'] = compact_nif(company['nif'])
        except ValueError as exception:
            raise SetupError(f"[company] nif {exception}")
    if 'language' in company and company['language'] not in {'es', 'en'}:
        raise SetupError("[company] language is es or en")
    if 'logo' in company:
        logo = Path(company['logo'])
        if not logo.is_absolute():
            logo = path.parent / logo
        try:
            company['logo'] = logo.read_bytes()
        except OSError as exception:
            raise SetupError(f"[company] logo cannot be read: {exception}")
    if 'email' in company and '@' not in company['email']:
        raise SetupError(f"[company] email {company['email']!r} is not an "
            "e-mail address")

    logins = set()
    for number, user in enumerate(_list(setup, 'users', dict), 1):
        where = f"[[users]] number {number}"
        _unknown(user, USER_KEYS, where)
        for key in ['name', 'login', 'role']:
            if not isinstance(user.get(key), str) or not user[key].strip():
                raise SetupError(f"{where} has no {key}")
        if user['role'] not in ROLES:
            raise SetupError(f"{where}: role is one of {', '.join(ROLES)}")
        if user['login'] in logins:
            raise SetupError(f"{where}: the login {user['login']!r} is "
                "given twice")
        if user['login'] == 'admin':
            raise SetupError(f"{where}: admin is crm-kit's administrator, "
                "give each person a login of their own")
        logins.add(user['login'])
        if 'email' in user and '@' not in str(user['email']):
            raise SetupError(f"{where}: {user['email']!r} is not an "
                "e-mail address")

    for number, stage in enumerate(_list(setup, 'stages', dict), 1):
        where = f"[[stages]] number {number}"
        _unknown(stage, STAGE_KEYS, where)
        if not isinstance(stage.get('name'), str) or not stage['name']:
            raise SetupError(f"{where} has no name")
        probability = stage.get('probability')
        if (isinstance(probability, bool)
                or not isinstance(probability, (int, float))
                or not 0 <= probability <= 100):
            raise SetupError(f"{where}: probability is a per cent, "
                "0 to 100")
        if stage.get('state', 'opportunity') not in STAGE_STATES:
            raise SetupError(f"{where}: state is one of "
                f"{', '.join(STAGE_STATES)} (won and lost stages exist)")

    for channel in _list(setup, 'channels', str):
        if not channel.strip():
            raise SetupError("channels has an empty name")
    leads = []
    for name in _list(setup, 'leads', str):
        lead_path = Path(name)
        if not lead_path.is_absolute():
            lead_path = path.parent / lead_path
        if not lead_path.is_file():
            raise SetupError(f"leads: {lead_path} does not exist")
        leads.append(lead_path)
    setup['leads'] = leads
    return setup


def _unknown(table, known, where):
    unknown = set(table) - known
    if unknown:
        raise SetupError(f"{where} has unknown keys: "
            f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")


def _list(setup, key, type_):
    values = setup.get(key, [])
    if not isinstance(values, list) or not all(
            isinstance(v, type_) for v in values):
        raise SetupError(f"{key} is a list of "
            + ("tables" if type_ is dict else "texts"))
    return values


def apply(setup):
    """Apply the setup read from a file (but its leads) in the current
    transaction; return the new users' passwords {login: password}"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Company = Pool().get('company.company')
    company, = Company.search([], limit=1)
    with Transaction().set_context(company=company.id):
        _company(company, setup.get('company', {}))
        language = company.party.lang.code if company.party.lang else 'es'
        with Transaction().set_context(language=language):
            passwords = _users(company, setup.get('users', []))
            _stages(setup.get('stages', []))
            _channels(setup.get('channels', []))
    return passwords


def _company(company, values):
    from trytond.pool import Pool
    from .company_setup import _add_tax_identifier
    pool = Pool()
    Address = pool.get('party.address')
    Mechanism = pool.get('party.contact_mechanism')
    Identifier = pool.get('party.identifier')
    Lang = pool.get('ir.lang')
    party = company.party
    if 'name' in values:
        party.name = values['name']
    if 'language' in values:
        party.lang, = Lang.search([('code', '=', values['language'])])
    party.save()
    if 'nif' in values:
        Identifier.delete([i for i in party.identifiers
                if i.type == 'eu_vat'])
        _add_tax_identifier(party, values['nif'])
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
        mechanism = mechanisms[0] if mechanisms else Mechanism(
            party=party, type=type_)
        mechanism.value = values[type_]
        mechanism.save()
    if 'logo' in values:
        company.logo = values['logo']
        company.save()


def _users(company, users):
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    Employee = pool.get('company.employee')
    Party = pool.get('party.party')
    existing = {u.login: u for u in User.search([
                ('login', 'in', [u['login'] for u in users])])}
    lang = company.party.lang or None
    passwords = {}
    for values in users:
        user = existing.get(values['login'])
        if user is None:
            employee = Employee(party=Party(name=values['name']),
                company=company)
            employee.party.save()
            employee.save()
            password = secrets.token_urlsafe(12)
            user, = User.create([{
                        'login': values['login'],
                        'name': values['name'],
                        'password': password,
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'employees': [('add', [employee.id])],
                        'employee': employee.id,
                        'language': lang.id if lang and lang.translatable
                        else None,
                        }])
            passwords[user.login] = password
        User.write([user], {
                'name': values['name'],
                'email': values.get('email', user.email),
                'crm_role': values['role'],
                })
    return passwords


def _stages(stages):
    from trytond.pool import Pool
    pool = Pool()
    Stage = pool.get('crm.stage')
    ModelData = pool.get('ir.model.data')
    pipeline = ModelData.get_id('crm_kit', 'pipeline_sales')
    existing = {s.name: s for s in Stage.search([
                ('pipeline', '=', pipeline)])}
    sequence = max((s.sequence or 0 for s in existing.values()
            if not s.closed), default=0)
    for values in stages:
        probability = values['probability'] / 100
        stage = existing.get(values['name'])
        if stage:
            stage.probability = probability
        else:
            sequence += 1
            stage = Stage(pipeline=pipeline, name=values['name'],
                state=values.get('state', 'opportunity'),
                probability=probability, sequence=sequence)
        stage.save()
    # The won and lost stages stay last.
    for stage in sorted((s for s in existing.values() if s.closed),
            key=lambda s: s.sequence or 0):
        if (stage.sequence or 0) <= sequence:
            sequence += 1
            stage.sequence = sequence
            stage.save()


def _channels(channels):
    import re
    import unicodedata
    from trytond.pool import Pool
    Channel = Pool().get('crm.channel')
    channels_ = Channel.search([])
    names = {c.name for c in channels_}
    codes = {c.code for c in channels_}
    for name in dict.fromkeys(channels):
        if name in names:
            continue
        # The code imports and the API use: the name in ASCII.
        code = re.sub(r'[^a-z0-9]+', '_', unicodedata.normalize(
                'NFKD', name).encode('ascii', 'ignore').decode().lower()
            ).strip('_') or 'channel'
        unique, number = code, 1
        while unique in codes:
            number += 1
            unique = f'{code}_{number}'
        Channel.create([{'name': name, 'code': unique}])
        codes.add(unique)
