# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the reports keep from the stage history: when each stay ended and
how far each deal went, kept on every move and filled in for the history
there was before the module."""
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import ReportTestCase, create_opportunity, setup_crm, stage


class HistoryTestCase(ReportTestCase):

    def history(self, opportunity):
        StageLog = Pool().get('crm.stage.log')
        return StageLog.search(
            [('opportunity', '=', opportunity.id)],
            order=[('date', 'ASC'), ('id', 'ASC')])

    def move_and_lose(self, crm):
        Opportunity = Pool().get('sale.opportunity')
        opportunity = create_opportunity(crm)
        with Transaction().set_user(crm.rep.id):
            Opportunity.write(
                [opportunity], {'stage': stage('stage_analysis')})
            Opportunity.lost([opportunity])
        return Opportunity(opportunity.id)

    @with_transaction()
    def test_each_move_ends_the_stay_before(self):
        crm = setup_crm()
        opportunity = self.move_and_lose(crm)

        logs = self.history(opportunity)
        self.assertEqual([l.to_state for l in logs],
            ['lead', 'opportunity', 'lost'])
        self.assertEqual([l.left_date for l in logs],
            [l.date for l in logs[1:]] + [None])
        # Lost, but it had been qualified: the funnel counts it there.
        self.assertEqual(opportunity.state, 'lost')
        self.assertEqual(opportunity.furthest_state, 'opportunity')

    @with_transaction()
    def test_history_from_before_the_module(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        StageLog = pool.get('crm.stage.log')
        crm = setup_crm()
        opportunity = self.move_and_lose(crm)
        lead = create_opportunity(crm)
        expected = [l.left_date for l in self.history(opportunity)]

        # As a database upgraded to the module has them: empty.
        cursor = Transaction().connection.cursor()
        log = StageLog.__table__()
        cursor.execute(*log.update([log.left_date], [None]))
        table = Opportunity.__table__()
        cursor.execute(*table.update([table.furthest_state], [None]))
        StageLog.update_history()

        self.assertEqual(
            [l.left_date for l in self.history(opportunity)], expected)
        self.assertEqual(
            [l.left_date for l in self.history(lead)], [None])
        self.assertEqual(
            [o.furthest_state for o in Opportunity.browse(
                    [opportunity.id, lead.id])],
            ['opportunity', 'lead'])
