# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What a list's page costs the ORM: sao's search of deals answers ids
without fetching their columns, a read of rec_name alone reads the
columns the name is made of, nothing else, and a selection's label is
looked up once per read."""
from pathlib import Path

from trytond.modules import sale_opportunity
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    CrmTestCase, create_opportunity, load_spanish, setup_crm)


class ListReadsTestCase(CrmTestCase):

    @with_transaction()
    def test_rpc_search_answers_ids(self):
        """Through RPC the search finds the same deals in the same order,
        and leaves the transaction's cache empty; the server's own search
        fills it as trytond does"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        deals = [create_opportunity(crm, description=f"Deal {i}")
            for i in range(3)]
        domain = [('id', 'in', [d.id for d in deals])]
        order = [('id', 'DESC')]
        rpc = Opportunity.__rpc__['search']
        transaction = Transaction()

        def cached():
            cache = transaction.get_cache()[Opportunity.__name__]
            return {d.id for d in deals if 'description' in cache[d.id]}
        with transaction.set_context(_check_access=True):
            transaction.get_cache().clear()
            found = rpc.result(rpc.decorate(Opportunity.search)(
                    domain, 0, 2, order))
            self.assertEqual(found, [deals[2].id, deals[1].id])
            self.assertEqual(cached(), set())
            count = Opportunity.__rpc__['search_count']
            self.assertEqual(count.result(count.decorate(
                        Opportunity.search_count)(domain)), 3)
            # sao's form and the server's code read what they found
            self.assertEqual(
                [d.description for d in Opportunity.browse(found)],
                ["Deal 2", "Deal 1"])
        transaction.get_cache().clear()
        self.assertEqual(Opportunity.search(domain, order=order),
            deals[::-1])
        self.assertEqual(cached(), {d.id for d in deals})

    @with_transaction()
    def test_record_names_read_with_their_columns(self):
        """A read of rec_name alone gives the name the record gives, and
        nothing more"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        crm = setup_crm()
        deal = create_opportunity(crm, reference='R-1')
        for Model, record in [(Opportunity, deal), (Party, crm.customer)]:
            row, = Model.read([record.id], ['rec_name'])
            self.assertEqual(row, {'id': record.id,
                    'rec_name': Model(record.id).rec_name})
        row, = Opportunity.read([deal.id], ['rec_name', 'number'])
        self.assertEqual(set(row), {'id', 'rec_name', 'number'})
        self.assertEqual(row['rec_name'], f'{deal.number} [R-1]')

    @with_transaction()
    def test_selection_labels(self):
        """A fixed selection's label, in the reader's language, as trytond
        gives it, with or without the value asked for"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Translation = pool.get('ir.translation')
        crm = setup_crm()
        load_spanish('crm_kit')
        Translation.translation_import('es', 'sale_opportunity', str(
                Path(sale_opportunity.__file__).parent / 'locale' / 'es.po'))
        deals = [create_opportunity(crm) for _ in range(2)]
        Opportunity.write(deals[1:], {'state': 'opportunity'})
        ids = [d.id for d in deals]
        for language, labels in [
                ('en', ["Lead", "Opportunity"]),
                ('es', ["Iniciativa", "Oportunidad"])]:
            with Transaction().set_context(language=language):
                rows = Opportunity.read(ids, ['state:string'])
                self.assertEqual([set(r) for r in rows],
                    [{'id', 'state:string'}] * 2)
                self.assertEqual(
                    [r['state:string'] for r in rows], labels)
                rows = Opportunity.read(ids, ['state', 'state:string'])
                self.assertEqual([(r['state'], r['state:string'])
                        for r in rows],
                    list(zip(['lead', 'opportunity'], labels)))
