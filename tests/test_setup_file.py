"""crm-kit setup FILE.toml: a customer's company, users and roles, stages,
channels and leads from one file; a wrong value changes nothing, and the
file run again updates what it names."""
import os
import uuid

import pytest

from crmkit import cli, scripted_setup

try:
    from server import copy_initialised, kept_trytond_config, root_transaction
except ImportError:
    from tests.server import (
        copy_initialised, kept_trytond_config, root_transaction)

SETUP = '''
channels = ["Feria de Muestras", "Web", "Feria de Muestras"]
leads = ["leads.csv"]

[company]
name = "Talleres Ruiz S.L."
nif = "b-1234567-4"
street = "Calle Mayor 1"
postal_code = "28001"
city = "Madrid"
phone = "+34 910 000 000"
email = "info@talleresruiz.test"
website = "https://talleresruiz.test"
logo = "logo.png"
language = "es"
currency = "eur"

[[users]]
name = "Marta López"
login = "marta"
email = "marta@talleresruiz.test"
role = "manager"

[[users]]
name = "Pedro Gil"
login = "pedro"
role = "rep"

[[stages]]
name = "En negociación"
probability = 80

[[stages]]
name = "Demostración"
probability = 40
state = "converted"
'''

LEADS = ("Empresa;Contacto;Email;Provincia\n"
    "Taller Uno S.L.;Ana Ruiz;ana@taller-uno.test;Madrid\n"
    "Taller Dos S.A.;Luis Gil;luis@;Sevilla\n")


def _write(folder, text, leads=True):
    path = folder / 'setup.toml'
    path.write_text(text, encoding='utf-8')
    (folder / 'logo.png').write_bytes(_png())
    if leads:
        (folder / 'leads.csv').write_text(LEADS, encoding='utf-8')
    return path


def _png():
    import io
    from PIL import Image
    output = io.BytesIO()
    Image.new('RGB', (40, 20), '#1a6').save(output, 'PNG')
    return output.getvalue()


@pytest.mark.parametrize('text, message', [
        ('[company\n', "not valid TOML"),
        ('colour = "red"', "unknown keys: colour"),
        ('[company]\nnif = "12345678A"', "not a valid Spanish NIF"),
        ('[company]\nlanguage = "fr"', "language is es or en"),
        ('[company]\ncurrency = "XYZ"', "not an ISO 4217 code"),
        ('[company]\nlogo = "none.png"', "logo cannot be read"),
        ('[company]\nemail = "info"', "not an e-mail address"),
        ('[[users]]\nname = "A"\nlogin = "a"\nrole = "boss"',
            "role is one of rep, manager, admin"),
        ('[[users]]\nname = "A"\nlogin = "a"\nrole = "rep"\n'
            '[[users]]\nname = "B"\nlogin = "a"\nrole = "rep"',
            "the login 'a' is given twice"),
        ('[[users]]\nname = "A"\nlogin = "admin"\nrole = "rep"',
            "a login of their own"),
        ('[[users]]\nlogin = "a"\nrole = "rep"', "has no name"),
        ('[[stages]]\nname = "X"\nprobability = 120', "0 to 100"),
        ('[[stages]]\nname = "X"\nprobability = 10\nstate = "won"',
            "state is one of"),
        ('channels = "Web"', "channels is a list of texts"),
        ('leads = ["none.csv"]', "does not exist"),
        ])
def test_wrong_files_are_refused(tmp_path, text, message):
    path = _write(tmp_path, text, leads=False)
    with pytest.raises(scripted_setup.SetupError, match=message):
        scripted_setup.read(path)


@pytest.fixture(scope='module')
def setup_db(crm_init, tmp_path_factory):
    "A new database, a copy of crm-kit init's"
    home = tmp_path_factory.mktemp('crm_kit_home')
    name = f'crm_setup_{os.getpid()}_{uuid.uuid4().hex[:6]}'
    with pytest.MonkeyPatch.context() as monkeypatch, kept_trytond_config():
        monkeypatch.setenv('CRM_KIT_HOME', str(home))
        monkeypatch.setenv('CRM_KIT_DATABASE', name)
        monkeypatch.delenv('TRYTOND_CONFIG', raising=False)
        try:
            copy_initialised(crm_init, name)
            cli.init(name)
            yield name
        finally:
            cli.drop_database(name)


def _run(name, path):
    with pytest.MonkeyPatch.context() as monkeypatch, kept_trytond_config():
        monkeypatch.setenv('CRM_KIT_DATABASE', name)
        cli.main(['-d', name, 'setup', str(path)])


def test_setup_file(setup_db, tmp_path, capsys):
    name = setup_db
    path = _write(tmp_path, SETUP)
    _run(name, path)
    out = capsys.readouterr().out
    assert "New user marta, password " in out
    assert "New user pedro, password " in out
    assert "2 rows, 1 created" in out and "1 rejected" in out

    with root_transaction(name) as pool:
        company, = pool.get('company.company').search([])
        party = company.party
        assert party.name == "Talleres Ruiz S.L."
        assert party.tax_identifier.code == 'ESB12345674'
        assert party.lang.code == 'es'
        assert company.currency.code == 'EUR'
        # Set up by file: the assistant does not open at the next login.
        Item = pool.get('ir.module.config_wizard.item')
        assert not Item.search([('state', '=', 'open')])
        address = party.addresses[0]
        assert (address.street, address.postal_code, address.city) == (
            "Calle Mayor 1", "28001", "Madrid")
        assert {m.type: m.value for m in party.contact_mechanisms} == {
            'phone': "+34 910 00 00 00", 'email': "info@talleresruiz.test",
            'website': "https://talleresruiz.test"}
        # Kept as an image (Tryton stores it in its own format).
        from io import BytesIO
        from PIL import Image
        assert Image.open(BytesIO(company.logo)).size == (40, 20)
        User = pool.get('res.user')
        marta, = User.search([('login', '=', 'marta')])
        assert (marta.name, marta.email, marta.crm_role) == (
            "Marta López", "marta@talleresruiz.test", 'manager')
        assert marta.employee.company == company
        pedro, = User.search([('login', '=', 'pedro')])
        assert pedro.crm_role == 'rep'
        Channel = pool.get('crm.channel')
        fair, = Channel.search([('name', '=', "Feria de Muestras")])
        assert fair.code == 'feria_de_muestras'
        Stage = pool.get('crm.stage')
        from trytond.transaction import Transaction
        with Transaction().set_context(language='es'):
            stages = Stage.search([], order=[('sequence', 'ASC')])
            by_name = {s.name: s for s in stages}
            assert by_name["En negociación"].probability == 0.8
            assert by_name["Demostración"].state == 'converted'
            assert by_name["Demostración"].probability == 0.4
            # The new stage is open: before the won and lost ones.
            assert stages.index(by_name["Demostración"]) < min(
                stages.index(s) for s in stages if s.closed)
        Opportunity = pool.get('sale.opportunity')
        assert Opportunity.search([('lead_email', '=', 'ana@taller-uno.test')])
        users = User.search_count([])
        stage_count = Stage.search_count([])

    # Again, changed: what it names is updated, nothing doubled.
    path.write_text(SETUP.replace('role = "rep"', 'role = "admin"')
        .replace('probability = 80', 'probability = 75')
        .replace('leads = ["leads.csv"]', ''), encoding='utf-8')
    _run(name, path)
    assert "New user" not in capsys.readouterr().out
    with root_transaction(name) as pool:
        User = pool.get('res.user')
        Stage = pool.get('crm.stage')
        assert User.search_count([]) == users
        assert Stage.search_count([]) == stage_count
        pedro, = User.search([('login', '=', 'pedro')])
        assert pedro.crm_role == 'admin'
        assert pool.get('crm.channel').search_count(
            [('name', '=', "Feria de Muestras")]) == 1

    # A wrong value: the command says which, nothing of the file is kept.
    path.write_text(SETUP.replace('leads = ["leads.csv"]', '')
        .replace('name = "Talleres Ruiz S.L."', 'name = "Otro Nombre S.L."')
        .replace('probability = 40', 'probability = 400'), encoding='utf-8')
    with pytest.raises(SystemExit, match="0 to 100"):
        _run(name, path)
    with root_transaction(name) as pool:
        company, = pool.get('company.company').search([])
        assert company.party.name == "Talleres Ruiz S.L."
