# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""A customer searched by name (sao's search bar, "Party: …" in the
opportunity list) is found by its name, code, tax identifier, e-mail or
phone: crm_kit searches each as a query of its own, the union of which
finds the same customers as trytond's OR of them."""
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import CrmTestCase, create_customer


class PartySearchTestCase(CrmTestCase):

    @with_transaction()
    def test_found_by_each_of_its_names(self):
        pool = Pool()
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        ContactMechanism = pool.get('party.contact_mechanism')
        gomez = create_customer("Talleres Gómez S.L.", 'taller@gomez.test')
        lopez = create_customer("Ferretería López", 'info@lopez.test')
        Identifier.create([{'party': lopez.id, 'type': 'es_vat',
                    'code': 'B58378431'}])
        ContactMechanism.create([{'party': gomez.id, 'type': 'phone',
                    'value': '+34 912 34 56 78'}])
        ours = {gomez.id, lopez.id}

        def found(operator, value):
            return {p.id for p in Party.search(
                    [('rec_name', operator, value)])} & ours

        self.assertEqual(found('ilike', '%gómez%'), {gomez.id})
        self.assertEqual(found('ilike', '%FERRETER%'), {lopez.id})
        self.assertEqual(found('ilike', '%B58378431%'), {lopez.id})
        self.assertEqual(found('ilike', '%@lopez.test'), {lopez.id})
        self.assertEqual(found('ilike', '%912 34%'), {gomez.id})
        self.assertEqual(found('ilike', gomez.code), {gomez.id})
        self.assertEqual(found('=', "Ferretería López"), {lopez.id})
        self.assertEqual(found('ilike', '%nadie%'), set())
        # Negations are not unions: none of them may match.
        self.assertEqual(found('not ilike', '%gómez%'), {lopez.id})

    @with_transaction()
    def test_same_as_one_or(self):
        "The union finds what trytond's own OR of the conditions finds"
        pool = Pool()
        Party = pool.get('party.party')
        for name, email in [("Gómez e Hijos", 'a@gomez.test'),
                ("Hijos de Ruiz", 'b@ruiz.test'), ("Sin Correo", None)]:
            create_customer(name, email)
        for operator, value in [('ilike', '%hijos%'), ('ilike', '%gomez%'),
                ('like', '%Ruiz%'), ('not ilike', '%hijos%'),
                ('=', "Sin Correo"), ('!=', "Sin Correo")]:
            clause = ('rec_name', operator, value)
            # trytond's OR, as party's search_rec_name writes it
            domain = super(Party, Party).search_rec_name('rec_name', clause)
            with self.subTest(operator=operator, value=value):
                self.assertEqual(
                    {p.id for p in Party.search([clause])},
                    {p.id for p in Party.search(domain)})
                with Transaction().set_context(active_test=False):
                    self.assertEqual(
                        {p.id for p in Party.search([clause])},
                        {p.id for p in Party.search(domain)})
