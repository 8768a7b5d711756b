# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Stages follow the opportunity state, and every move is logged."

from crm_kit.opportunity import StageMoveError
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    CrmTestCase, create_opportunity, load_spanish, setup_crm, stage)


class StageTestCase(CrmTestCase):

    @with_transaction()
    def test_default_pipeline_kit_digital_statuses(self):
        "The default pipeline has the Kit Digital statuses in order"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        pipeline = Pipeline.main_pipeline()
        self.assertEqual(
            [(s.name, s.state) for s in pipeline.stages], [
                ("New lead", 'lead'),
                ("Under analysis", 'opportunity'),
                ("Offer submitted", 'converted'),
                ("Under negotiation", 'converted'),
                ("Won", 'won'),
                ("Lost", 'lost'),
                ("Cancelled", 'cancelled'),
                ])

    @with_transaction()
    def test_stage_names_in_spanish(self):
        "The default stages are translated to Spanish"
        pool = Pool()
        Stage = pool.get('crm.stage')
        load_spanish('crm_kit')
        with Transaction().set_context(language='es'):
            names = [s.name for s in Stage.browse(
                    [stage(x).id for x in [
                            'stage_new', 'stage_analysis', 'stage_offer',
                            'stage_negotiation', 'stage_won', 'stage_lost',
                            'stage_cancelled']])]
        self.assertEqual(names, [
                "Nuevo", "En análisis", "Oferta presentada",
                "En negociación", "Ganada", "Perdida", "Cancelada"])

    @with_transaction()
    def test_new_opportunity_starts_in_new_lead(self):
        crm = setup_crm()
        opportunity = create_opportunity(crm)
        self.assertEqual(opportunity.stage, stage('stage_new'))
        self.assertEqual(opportunity.state, 'lead')
        self.assertEqual(opportunity.team, crm.team)
        self.assertEqual(opportunity.employee, crm.rep.employee)

    @with_transaction()
    def test_moving_stage_moves_state(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)

        Opportunity.write([opportunity], {'stage': stage('stage_analysis')})
        self.assertEqual(opportunity.state, 'opportunity')
        self.assertEqual(opportunity.conversion_probability, 0.25)

        Opportunity.write([opportunity], {'stage': stage('stage_lost')})
        self.assertEqual(opportunity.state, 'lost')

    @with_transaction()
    def test_state_buttons_move_stage(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = setup_crm()
        opportunity = create_opportunity(crm)

        Opportunity.opportunity([opportunity])
        self.assertEqual(opportunity.stage, stage('stage_analysis'))
        Opportunity.lead([opportunity])
        self.assertEqual(opportunity.stage, stage('stage_new'))
        Opportunity.cancel([opportunity])
        self.assertEqual(opportunity.stage, stage('stage_cancelled'))

    @with_transaction()
    def test_invalid_moves(self):
        "Moves the workflow does not allow are refused and change nothing"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Pipeline = pool.get('crm.pipeline')
        crm = setup_crm()
        opportunity = create_opportunity(crm)

        with self.assertRaisesRegex(StageMoveError, 'cannot move'):
            Opportunity.write([opportunity], {'stage': stage('stage_won')})
        with self.assertRaisesRegex(StageMoveError, 'create its quote'):
            Opportunity.write([opportunity], {'stage': stage('stage_offer')})

        other, = Pipeline.create([{
                    'name': "Renewals",
                    'stages': [('create', [
                                {'name': "To renew", 'state': 'lead'}])],
                    }])
        with self.assertRaisesRegex(StageMoveError, 'another pipeline'):
            Opportunity.write([opportunity], {'stage': other.stages[0].id})

        opportunity = Opportunity(opportunity.id)
        self.assertEqual(opportunity.stage, stage('stage_new'))
        self.assertEqual(opportunity.state, 'lead')
        self.assertEqual(len(opportunity.stage_logs), 1)

    @with_transaction()
    def test_stage_log_records_each_move(self):
        "Every stage change is recorded with from, to, who and when"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        StageLog = pool.get('crm.stage.log')
        crm = setup_crm()
        opportunity = create_opportunity(crm)

        with Transaction().set_user(crm.rep.id):
            Opportunity.write(
                [opportunity], {'stage': stage('stage_analysis')})
            Opportunity.lost([opportunity])

        logs = StageLog.search(
            [('opportunity', '=', opportunity.id)],
            order=[('date', 'ASC'), ('id', 'ASC')])
        self.assertEqual(
            [(l.from_stage, l.to_stage, l.from_state, l.to_state)
                for l in logs], [
                (None, stage('stage_new'), None, 'lead'),
                (stage('stage_new'), stage('stage_analysis'), 'lead',
                    'opportunity'),
                (stage('stage_analysis'), stage('stage_lost'),
                    'opportunity', 'lost'),
                ])
        self.assertEqual({l.user for l in logs}, {crm.rep})
        self.assertTrue(all(l.date for l in logs))
        self.assertEqual(opportunity.stage_date, logs[-1].date)

    @with_transaction()
    def test_used_stage_is_protected(self):
        "A stage with opportunities can be deactivated, not deleted"
        pool = Pool()
        Stage = pool.get('crm.stage')
        crm = setup_crm()
        create_opportunity(crm)
        new = stage('stage_new')
        with self.assertRaisesRegex(Exception, 'Deactivate it'):
            Stage.delete([new])
        with self.assertRaisesRegex(Exception, 'cannot change'):
            Stage.write([new], {'state': 'opportunity'})

    @with_transaction()
    def test_stage_colour_validated(self):
        pool = Pool()
        Stage = pool.get('crm.stage')
        new = stage('stage_new')
        Stage.write([new], {'color': 'teal'})
        with self.assertRaisesRegex(Exception, 'not a colour'):
            Stage.write([new], {'color': '#12'})

    @with_transaction()
    def test_list_order_follows_pipelines_and_stages(self):
        """The Opportunities list sorts by the stored place of the stage,
        kept as deals move and as stages and pipelines are reordered"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Pipeline = pool.get('crm.pipeline')
        Stage = pool.get('crm.stage')
        Action = pool.get('ir.action.act_window')
        ModelData = pool.get('ir.model.data')
        crm = setup_crm()
        action = Action(ModelData.get_id('crm_kit', 'act_opportunity_form'))
        order = [tuple(o) for o in PYSONDecoder().decode(action.pyson_order)]
        self.assertEqual(order[0], ('stage_order', 'ASC'))
        other, = Pipeline.create([{'name': "Renewals", 'sequence': 99,
                    'stages': [('create', [
                                {'name': "To renew", 'state': 'lead',
                                    'probability': 0.5, 'sequence': 1},
                                ])]}])
        new = create_opportunity(crm)
        analysis = create_opportunity(crm)
        Opportunity.write([analysis], {'stage': stage('stage_analysis')})
        renewal = create_opportunity(
            crm, pipeline=other, stage=other.stages[0])
        ids = [new.id, analysis.id, renewal.id]

        def listed():
            return [o.id for o in Opportunity.search(
                    [('id', 'in', ids)], order=order)]
        self.assertEqual(listed(), [new.id, analysis.id, renewal.id])
        # The other pipeline first, then "Under analysis" before "New"
        Pipeline.write([other], {'sequence': 0})
        Stage.write([stage('stage_analysis')], {'sequence': 0})
        self.assertEqual(listed(), [renewal.id, analysis.id, new.id])
        self.assertEqual(
            [o.stage_order for o in Opportunity.browse(
                    [renewal.id, analysis.id, new.id])],
            sorted(o.stage_order for o in Opportunity.browse(ids)))
