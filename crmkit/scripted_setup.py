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
    currency = "EUR"            # an ISO 4217 code

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
from pathlib import Path

ROLES = ['rep', 'manager', 'admin']
STAGE_STATES = ['lead', 'opportunity', 'converted']
COMPANY_KEYS = {'name', 'nif', 'street', 'postal_code', 'city', 'phone',
    'email', 'website', 'logo', 'language', 'currency'}
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
        from crm_kit.setup import compact_nif
        try:
            company['nif'] = compact_nif(company['nif'])
        except ValueError as exception:
            raise SetupError(f"[company] nif {exception}")
    if 'language' in company and company['language'] not in {'es', 'en'}:
        raise SetupError("[company] language is es or en")
    if 'currency' in company:
        from crm_kit.setup import currency_code
        try:
            company['currency'] = currency_code(company['currency'])
        except ValueError as exception:
            raise SetupError(f"[company] currency {exception}")
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
    transaction, as the setup assistant of sao does; return the new users'
    passwords {login: password}"""
    from crm_kit import setup as assistant
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Company = pool.get('company.company')
    Setup = pool.get('crm.setup', type='wizard')
    company, = Company.search([], limit=1)
    with Transaction().set_context(company=company.id):
        assistant.set_company(company, setup.get('company', {}))
        language = company.party.lang.code if company.party.lang else 'es'
        with Transaction().set_context(language=language):
            passwords = assistant.set_users(company, setup.get('users', []))
            assistant.set_stages([dict(s, probability=s['probability'] / 100)
                    for s in setup.get('stages', [])])
            assistant.set_channels(setup.get('channels', []))
    # Set up by file: the assistant does not open at the next login.
    Setup.mark_done()
    return passwords
