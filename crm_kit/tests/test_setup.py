# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The setup assistant: each step shows what is stored, saves what is
changed, refuses what is wrong, and is skipped on its own."""
import io

from PIL import Image
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    CrmTestCase, create_opportunity, load_spanish, setup_crm, stage)


def png():
    output = io.BytesIO()
    Image.new('RGB', (4, 2), 'navy').save(output, 'PNG')
    return output.getvalue()


class SetupTestCase(CrmTestCase):

    def assistant(self):
        Setup = Pool().get('crm.setup', type='wizard')
        session_id, _, _ = Setup.create()
        return Setup(session_id)

    def step(self, setup, state, **values):
        "Show state as sao would, then change values"
        view = getattr(setup, state)
        defaults = getattr(setup, f'default_{state}')(None)
        for name, value in {**defaults, **values}.items():
            setattr(view, name, value)
        return view

    @with_transaction()
    def test_company(self):
        "The company step shows the company and saves it, NIF checked"
        crm = setup_crm()
        pool = Pool()
        Currency = pool.get('currency.currency')
        logo = png()
        setup = self.assistant()
        with Transaction().set_context(company=crm.company.id):
            defaults = setup.default_start(None)
            self.assertEqual(defaults['name'], "Pruebas CRM S.L.")
            self.assertEqual(defaults['currency'], 'EUR')
            self.assertIn(('USD', "USD — US Dollar"),
                setup.start.get_currencies())

            self.step(setup, 'start', nif="B1234567X")
            # Told as typed, and refused if sent anyway.
            self.assertEqual(setup.start.on_change_with_nif_problem(),
                '"B1234567X" is not a valid Spanish NIF/CIF (e.g. B12345674).')
            with self.assertRaisesRegex(ValidationError, "B1234567X"):
                setup.transition_save_company()
            setup.start.nif = "b-12345674"
            self.assertIsNone(setup.start.on_change_with_nif_problem())

            self.step(setup, 'start', name="Talleres Ruiz S.L.",
                nif="b-12345674", street="Calle Mayor 1",
                postal_code="28001", city="Madrid",
                phone="+34910000000", email="info@talleresruiz.test",
                website="https://talleresruiz.test", logo=logo,
                currency='USD', language='en')
            self.assertEqual(setup.transition_save_company(), 'users')

        company = crm.company
        party = company.party
        self.assertEqual(party.name, "Talleres Ruiz S.L.")
        self.assertEqual(party.tax_identifier.code, 'ESB12345674')
        self.assertEqual(party.addresses[0].city, "Madrid")
        self.assertEqual(party.addresses[0].postal_code, "28001")
        self.assertEqual({m.type: m.value for m in party.contact_mechanisms
                if m.type in {'phone', 'email', 'website'}}, {
                'phone': "+34 910 00 00 00",
                'email': "info@talleresruiz.test",
                'website': "https://talleresruiz.test",
                })
        # (stored as Tryton converts it)
        self.assertEqual(Image.open(io.BytesIO(company.logo)).size, (4, 2))
        with Transaction().set_context(company=company.id):
            # (a value per company)
            self.assertEqual(party.__class__(party.id).lang.code, 'en')
        # A currency the database had not is made from ISO 4217.
        self.assertEqual(company.currency.code, 'USD')
        self.assertEqual(company.currency.numeric_code, '840')
        self.assertEqual(Currency.search([('code', '=', 'USD')],
                count=True), 1)

        # Run again, it shows what is stored; a cleared entry is removed.
        setup = self.assistant()
        with Transaction().set_context(company=company.id):
            self.assertEqual(setup.default_start(None)['nif'], 'B12345674')
            self.step(setup, 'start', website=None, currency='EUR')
            setup.transition_save_company()
        self.assertEqual([m.type for m in company.party.contact_mechanisms
                if m.type == 'website'], [])
        self.assertEqual(company.currency.code, 'EUR')

    @with_transaction()
    def test_users(self):
        "The users step lists the CRM's users and creates new ones"
        crm = setup_crm()
        User = Pool().get('res.user')
        setup = self.assistant()
        with Transaction().set_context(company=crm.company.id):
            users = setup.default_users(None)['users']
            self.assertEqual({u['login']: u['role'] for u in users}, {
                    'rep': 'rep', 'rep2': 'rep', 'manager': 'manager',
                    'rep_other_team': 'rep'})
            rep = next(u for u in users if u['login'] == 'rep')

            # Another user's login, the administrator's, or one twice.
            for login in ['admin', 'rep2']:
                self.step(setup, 'users', users=[
                        {'name': "Marta López", 'login': login,
                            'role': 'manager'}])
                with self.assertRaisesRegex(ValidationError, login):
                    setup.transition_save_users()
            self.step(setup, 'users', users=[
                    {'name': "Marta", 'login': 'marta', 'role': 'rep'},
                    {'name': "Marta", 'login': 'marta', 'role': 'rep'}])
            with self.assertRaisesRegex(ValidationError, 'marta'):
                setup.transition_save_users()
            self.step(setup, 'users', users=[
                    {'name': "Marta", 'login': 'marta', 'email': 'marta',
                        'role': 'rep'}])
            with self.assertRaisesRegex(ValidationError, 'e-mail'):
                setup.transition_save_users()

            self.step(setup, 'users', users=[
                    dict(rep, user=User(rep['user']), login='rep.one',
                        role='manager'),
                    {'name': "Marta López", 'login': 'marta',
                        'email': 'marta@talleresruiz.test',
                        'role': 'admin'}])
            self.assertEqual(setup.transition_save_users(), 'stages')
        marta, = User.search([('login', '=', 'marta')])
        self.assertEqual((marta.name, marta.email, marta.crm_role), (
                "Marta López", 'marta@talleresruiz.test', 'admin'))
        self.assertEqual(marta.employee.company, crm.company)
        self.assertEqual(User(rep['user']).login, 'rep.one')
        self.assertEqual(User(rep['user']).crm_role, 'manager')
        # Marta's password, shown once at the end.
        login, password = setup.default_done(None)['passwords'].split(': ')
        self.assertEqual(login, 'marta')
        self.assertEqual(User.get_login('marta', {'password': password}),
            marta.id)
        # A setup without an e-mail (a file leaving it out) keeps it.
        from crm_kit.setup import set_users
        set_users(crm.company, [{'name': "Marta López", 'login': 'marta',
                    'role': 'admin'}])
        self.assertEqual(User(marta.id).email, 'marta@talleresruiz.test')
        User.write([User(rep['user'])], {'login': 'rep', 'crm_role': 'rep'})

    @with_transaction()
    def test_stages_and_channels(self):
        "The stages and channels steps rename, change and add"
        crm = setup_crm()
        # Deals in the stages: their states are kept.
        with Transaction().set_context(company=crm.company.id):
            create_opportunity(crm, owner=crm.rep)
        pool = Pool()
        Stage = pool.get('crm.stage')
        Channel = pool.get('crm.channel')
        setup = self.assistant()
        stages = setup.default_stages(None)['stages']
        self.assertEqual([s['name'] for s in stages], [
                "New lead", "Under analysis", "Offer submitted",
                "Under negotiation"])
        stages[1].update(name="Analysis", probability=0.3,
            stage=Stage(stages[1]['stage']))
        for row in stages:
            row['stage'] = Stage(row['stage'])
        self.step(setup, 'stages', stages=stages + [
                {'name': "Analysis", 'probability': 0.4,
                    'state': 'opportunity'}])
        with self.assertRaisesRegex(ValidationError, "Analysis"):
            setup.transition_save_stages()
        self.step(setup, 'stages', stages=stages + [
                {'name': "Demo", 'probability': 0.6, 'state': 'converted'}])
        self.assertEqual(setup.transition_save_stages(), 'channels')
        pipeline = stage('stage_new').pipeline
        self.assertEqual([(s.name, s.probability) for s in pipeline.stages], [
                ("New lead", stage('stage_new').probability),
                ("Analysis", 0.3),
                ("Offer submitted", stage('stage_offer').probability),
                ("Under negotiation", stage('stage_negotiation').probability),
                ("Demo", 0.6),
                ("Won", 1), ("Lost", 0), ("Cancelled", 0),
                ])

        channels = setup.default_channels(None)['channels']
        known = len(channels)
        channels[0].update(channel=Channel(channels[0]['channel']),
            name="Página web")
        for row in channels[1:]:
            row['channel'] = Channel(row['channel'])
        self.step(setup, 'channels', channels=channels + [
                {'name': "Feria de Muestras"}])
        self.assertEqual(setup.transition_save_channels(), 'done')
        self.assertEqual(Channel(channels[0]['channel'].id).name,
            "Página web")
        fair, = Channel.search([('name', '=', "Feria de Muestras")])
        self.assertEqual(fair.code, 'feria_de_muestras')
        self.assertEqual(Channel.search([], count=True), known + 1)
        # Nothing to show at the end when no user was made.
        self.assertIsNone(setup.default_done(None)['passwords'])

    @with_transaction()
    def test_first_login_and_spanish(self):
        """The assistant opens on the administrator's first login until
        done; its errors are in Spanish too"""
        crm = setup_crm()
        pool = Pool()
        User = pool.get('res.user')
        Item = pool.get('ir.module.config_wizard.item')
        ModelData = pool.get('ir.model.data')
        Setup = pool.get('crm.setup', type='wizard')
        item = Item(ModelData.get_id('crm_kit', 'config_wizard_item_setup'))
        self.assertEqual(item.action.id, pool.get('ir.action').get_action_id(
                ModelData.get_id('crm_kit', 'wizard_setup')))
        Item.write([item], {'state': 'open'})
        config_wizard = pool.get('ir.action').get_action_id(
            ModelData.get_id('ir', 'act_module_config_wizard'))
        with Transaction().set_user(crm.admin.id):
            self.assertIn(config_wizard,
                User.get_preferences()['actions'])
        Setup.mark_done()
        self.assertEqual(item.state, 'done')

        load_spanish('crm_kit')
        setup = self.assistant()
        with Transaction().set_context(company=crm.company.id,
                language='es'):
            self.step(setup, 'start', nif="B1234567X")
            with self.assertRaisesRegex(ValidationError, "no es un NIF/CIF"):
                setup.transition_save_company()
