# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Customer flags: set by hand, shown as an icon and a row colour in the
customer and opportunity lists and as a line on their forms."""
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from crm_kit.tests.tools import api_key

from .tools import (
    AlertTestCase, CrmRouteTestCase, create_opportunity, flag, load_spanish,
    setup_crm)


def flag_customer(crm, *xml_ids, user=None):
    "Set the flags of crm's customer as user (the rep) would in sao"
    pool = Pool()
    Party = pool.get('party.party')
    with Transaction().set_user((user or crm.rep).id), check_access():
        Party.write([Party(crm.customer.id)], {
                'crm_flags': [('add', [flag(x).id for x in xml_ids])],
                })


class FlagTestCase(AlertTestCase):

    @with_transaction()
    def test_shipped_flags(self):
        pool = Pool()
        Flag = pool.get('crm.customer.flag')
        self.assertEqual(
            [(f.name, f.icon, f.colour) for f in Flag.search([])], [
                ("Complaint open", 'tryton-warning', 'warning'),
                ("Payment issue", 'tryton-error', 'danger'),
                ("VIP", 'tryton-star', 'success'),
                ])

    @with_transaction()
    def test_flagged_customer_in_lists_and_form(self):
        "The first flag by sequence gives the icon and the colour"
        pool = Pool()
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        other = Party(name="Sin marcas S.L.")
        other.save()
        flag_customer(crm, 'flag_vip', 'flag_complaint')

        # Read as sao's lists read them, through the ORM's query.
        rows = Party.read([crm.customer.id, other.id],
            ['crm_flag_icon', 'crm_flag_colour', 'crm_flag_summary'])
        self.assertEqual([(r['crm_flag_icon'], r['crm_flag_colour'],
                    r['crm_flag_summary']) for r in rows], [
                ('tryton-warning', 'warning', "Complaint open · VIP"),
                (None, None, ''),
                ])
        row, = Opportunity.read([opportunity.id],
            ['party_flag_icon', 'party_flag_colour', 'party_flag_summary'])
        self.assertEqual(
            (row['party_flag_icon'], row['party_flag_colour'],
                row['party_flag_summary']),
            ('tryton-warning', 'warning', "Complaint open · VIP"))

        # The list can be searched and sorted by it.
        self.assertEqual(
            Party.search([('crm_flag_colour', '=', 'warning')]),
            [Party(crm.customer.id)])
        self.assertEqual(
            Opportunity.search([('party_flag_icon', '!=', None)]),
            [Opportunity(opportunity.id)])
        Party.search([], order=[('crm_flag_colour', 'ASC')])

        # A switched-off flag is shown no more.
        Flag = pool.get('crm.customer.flag')
        Flag.write([flag('flag_complaint')], {'active': False})
        row, = Party.read([crm.customer.id],
            ['crm_flag_icon', 'crm_flag_colour', 'crm_flag_summary'])
        self.assertEqual(
            (row['crm_flag_icon'], row['crm_flag_colour'],
                row['crm_flag_summary']),
            ('tryton-star', 'success', "VIP"))

    @with_transaction()
    def test_views_draw_icon_colour_and_line(self):
        pool = Pool()
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        tree = Party.fields_view_get(view_type='tree')
        self.assertIn('icon="crm_flag_icon"', tree['arch'])
        self.assertIn('crm_flag_colour', tree['arch'])
        self.assertIn('crm_flag_icon', tree['fields'])
        form = Party.fields_view_get(view_type='form')
        self.assertIn('name="crm_flag_summary"', form['arch'])
        self.assertIn('name="crm_flags"', form['arch'])
        tree = Opportunity.fields_view_get(view_type='tree')
        self.assertIn('icon="party_flag_icon"', tree['arch'])
        # sale_opportunity's grey for cancelled rows is kept.
        self.assertIn('cancelled', tree['arch'])
        self.assertIn('party_flag_colour', tree['arch'])

    @with_transaction()
    def test_only_administrators_define_flags(self):
        pool = Pool()
        Flag = pool.get('crm.customer.flag')
        crm = setup_crm()
        with Transaction().set_user(crm.rep.id), check_access():
            self.assertEqual(len(Flag.search([])), 3)
            with self.assertRaises(AccessError):
                Flag.create([{'name': "Moroso"}])
        with Transaction().set_user(crm.admin.id), check_access():
            new, = Flag.create([{'name': "Partner", 'icon': 'tryton-public',
                        'colour': 'muted'}])
        self.assertEqual(new.icon, 'tryton-public')

    @with_transaction()
    def test_in_spanish(self):
        pool = Pool()
        Party = pool.get('party.party')
        crm = setup_crm()
        load_spanish('crm_kit_alert')
        flag_customer(crm, 'flag_payment_issue')
        with Transaction().set_context(language='es'):
            party = Party(crm.customer.id)
            self.assertEqual(party.crm_flag_summary, "Problema de pago")


class FlagRestTestCase(CrmRouteTestCase):
    module = 'crm_kit_alert'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        crm = setup_crm()
        cls.company = crm.company.id
        cls.customer = crm.customer.id
        cls.vip = flag('flag_vip').id
        application = Application(
            user=crm.rep, application='rest', state='validated')
        application.save()
        cls.key = api_key(application)

    def request(self, method, path, **kwargs):
        return self.rest(method, path, self.key, self.company, **kwargs)

    def test_flag_a_customer_through_the_api(self):
        response = self.request('put', f'party.party/{self.customer}',
            json={'crm_flags': [['add', [self.vip]]]})
        self.assertEqual(response.status_code, 200, response.text)
        response = self.request('get', f'party.party/{self.customer}',
            query_string={'f': [
                    'crm_flags', 'crm_flag_icon', 'crm_flag_colour']})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json['crm_flags'], [self.vip])
        self.assertEqual(response.json['crm_flag_icon'], 'tryton-star')
        self.assertEqual(response.json['crm_flag_colour'], 'success')
