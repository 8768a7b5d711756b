# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The pipeline board through JSON-RPC and REST: its columns add up as the
pipeline report does, a rep sees only the deals their rules show, the
filters and pages, and the company's identity for sao's login page."""
import datetime as dt
import json
from decimal import Decimal

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, check_access

from crm_kit.tests.tools import (
    CrmRouteTestCase, api_key, create_opportunity, in_transaction,
    load_spanish, setup_crm, stage)
from crm_kit_activity.tests.tools import create_activity

# More deals than a column's first page, in the rep's analysis stage.
MANY = 53
# The rep's deals: those, the fair's and a lost one.
REPS = MANY + 2


class BoardTestCase(CrmRouteTestCase):
    module = 'crm_kit_desk'
    extras = ['crm_kit_api']

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Application = pool.get('res.user.application')
        Opportunity = pool.get('sale.opportunity')
        Channel = pool.get('crm.channel')
        User = pool.get('res.user')
        crm = setup_crm()
        load_spanish('crm_kit_desk')
        User.write([crm.rep, crm.rep2, crm.manager, crm.outsider],
            {'password': cls.password})
        channel, = Channel.create([{'name': "Feria", 'code': 'feria'}])
        analysis = stage('stage_analysis')
        month_end = dt.date.today().replace(day=1) + dt.timedelta(days=40)
        for i in range(MANY):
            create_opportunity(crm, owner=crm.rep, lines=False,
                description=f"Taller {i:02d}", amount=Decimal(100 + i),
                stage=analysis,
                expected_close_date=month_end.replace(day=1)
                - dt.timedelta(days=1 + i % 3))
        cls.fair = create_opportunity(crm, owner=crm.rep, lines=False,
            description="Stand en la feria", amount=Decimal('2500'),
            channel=channel).id
        cls.other = create_opportunity(crm, owner=crm.rep2, lines=False,
            description="Flota de furgonetas", amount=Decimal('9000')).id
        lost_deal = create_opportunity(crm, owner=crm.rep, lines=False,
            description="Perdida por precio", amount=Decimal('300'))
        with Transaction().set_user(crm.rep.id), \
                Transaction().set_context(company=crm.company.id):
            Opportunity.write([lost_deal], {'stage': stage('stage_lost')})
        cls.lost_deal = lost_deal.id
        cls.lost = stage('stage_lost').id
        cls.outsider_deal = create_opportunity(crm, owner=crm.outsider,
            lines=False, description="Otra oficina",
            amount=Decimal('700')).id
        create_activity(crm, opportunity=cls.fair, subject="Llamar a Ana",
            due=dt.datetime.now() - dt.timedelta(hours=2))
        create_activity(crm, opportunity=cls.fair, subject="Enviar catálogo",
            due=dt.datetime.now() + dt.timedelta(days=3))
        cls.channel = channel.id
        cls.company = crm.company.id
        cls.pipeline = Opportunity(cls.fair).pipeline.id
        cls.analysis = analysis.id
        cls.new = stage('stage_new').id
        cls.users = {u.login: u.id for u in [
                crm.rep, crm.rep2, crm.manager, crm.outsider]}
        cls.keys = {}
        for user in [crm.rep, crm.rep2]:
            application = Application(
                user=user, application='rest', state='validated')
            application.save()
            cls.keys[user.login] = api_key(application)

    def board(self, login, filters=None, stage=None, offset=0):
        return self.rpc(login, 'model.crm.pipeline.board',
            [self.pipeline], filters or {}, stage, offset,
            company=self.company)

    def column(self, board, stage_id):
        column, = [c for c in board['columns'] if c['id'] == stage_id]
        return column

    def deals(self, board):
        return {card['description'] for column in board['columns']
            for card in column['cards']}

    def test_columns_in_stage_order_with_figures(self):
        "One column per stage in order, the closed ones flagged"
        def stages():
            Stage = Pool().get('crm.stage')
            return [(s.id, s.name, s.closed) for s in Stage.search([
                        ('pipeline', '=', self.pipeline)])]
        board = self.board('rep')
        self.assertEqual(
            [(c['id'], c['name'], c['closed']) for c in board['columns']],
            in_transaction(stages))
        analysis = self.column(board, self.analysis)
        self.assertEqual(analysis['count'], MANY)
        amount = sum(100 + i for i in range(MANY))
        self.assertEqual(analysis['amount'], f"€{amount:,}.00")
        self.assertEqual(
            analysis['weighted_amount'], f"€{amount * 0.25:,.2f}")

    def test_columns_add_up_as_the_pipeline_report(self):
        "Each open column's count and amounts are the report's, for a manager"
        def report():
            pool = Pool()
            Report = pool.get('crm.report.pipeline')
            Lang = pool.get('ir.lang')
            Company = pool.get('company.company')
            lang = Lang.get('en')
            currency = Company(self.company).currency
            with Transaction().set_user(self.users['manager']), \
                    Transaction().set_context(company=self.company), \
                    check_access():
                return {r.stage.id: (r.count,
                        lang.currency(r.amount, currency, grouping=True),
                        lang.currency(
                            r.weighted_amount, currency, grouping=True))
                    for r in Report.search([
                            ('pipeline', '=', self.pipeline)])}
        board = self.board('manager')
        expected = in_transaction(report)
        self.assertEqual({c['id']: (c['count'], c['amount'],
                    c['weighted_amount'])
                for c in board['columns'] if c['id'] in expected},
            expected)
        self.assertIn("Flota de furgonetas", self.deals(board))

    def test_rep_sees_only_own_deals(self):
        "Another rep's deal is neither a card nor counted, JSON-RPC and REST"
        board = self.board('rep')
        deals = self.deals(board)
        self.assertIn("Stand en la feria", deals)
        self.assertNotIn("Flota de furgonetas", deals)
        self.assertNotIn("Otra oficina", deals)
        self.assertEqual(
            sum(c['count'] for c in board['columns']), REPS)
        self.assertEqual(board['owners'], [[self.users['rep'], "Rep"]])

        other = self.board('rep2')
        self.assertEqual(self.deals(other), {"Flota de furgonetas"})
        self.assertEqual(sum(c['count'] for c in other['columns']), 1)

        # Filtering by the other rep gives nothing, not their deals.
        board = self.board('rep', {'owner': self.users['rep2']})
        self.assertEqual(sum(c['count'] for c in board['columns']), 0)

        response = self.client().post(
            f'/{DB_NAME}/rest/model/crm.pipeline/{self.pipeline}/board',
            headers={
                'Authorization': f'bearer {self.keys["rep2"]}',
                'Accept-Language': 'en',
                }, json={'filters': {'scope': 'all'}})
        self.assertEqual(response.status_code, 200, response.text)
        body = json.loads(response.text)
        self.assertEqual(self.deals(body), {"Flota de furgonetas"})

    def test_manager_sees_the_team(self):
        "The team's deals, not another team's; 'mine' only their own"
        board = self.board('manager', {'scope': 'team'})
        deals = self.deals(board)
        self.assertIn("Flota de furgonetas", deals)
        self.assertIn("Stand en la feria", deals)
        self.assertNotIn("Otra oficina", deals)
        mine = self.board('manager', {'scope': 'mine'})
        self.assertEqual(sum(c['count'] for c in mine['columns']), 0)

    def test_filters(self):
        "Owner, channel, text and closing this month narrow the cards"
        def count(board):
            return sum(c['count'] for c in board['columns'])
        self.assertEqual(count(self.board('rep',
                    {'channel': self.channel})), 1)
        self.assertEqual(self.deals(self.board('rep',
                    {'text': 'feria'})), {"Stand en la feria"})
        # The customer's name finds the deals too.
        self.assertEqual(count(self.board('rep', {'text': 'gómez'})), REPS)
        closing = self.board('rep', {'closing_this_month': True})
        self.assertEqual(count(closing), MANY)
        self.assertEqual(count(self.board('rep', {
                        'owner': self.users['rep'], 'scope': 'mine'})),
            REPS)

    def test_cards_page_by_column(self):
        "A column shows its first 50 cards; the next page gives the rest"
        board = self.board('rep')
        first = self.column(board, self.analysis)['cards']
        self.assertEqual(len(first), board['page_size'])
        rest = self.board('rep', stage=self.analysis, offset=len(first))
        self.assertEqual(len(rest['cards']), MANY - len(first))
        ids = [c['id'] for c in first + rest['cards']]
        self.assertEqual(len(set(ids)), MANY)

    def test_closed_columns_come_folded(self):
        "Won, lost and cancelled come folded and counted, their cards asked"
        board = self.board('rep')
        for column in board['columns']:
            self.assertEqual(column['folded'], column['closed'])
            if column['folded']:
                self.assertEqual(column['cards'], [])
        self.assertEqual(self.column(board, self.lost)['count'], 1)
        cards = self.board('rep', stage=self.lost)['cards']
        self.assertEqual([c['id'] for c in cards], [self.lost_deal])
        self.assertEqual(self.board('rep2', stage=self.lost)['cards'], [])

    def test_card(self):
        "Customer, amount, owner's initials and the next activity, overdue"
        board = self.board('rep')
        card, = [c for c in self.column(board, self.new)['cards']
            if c['id'] == self.fair]
        self.assertEqual(card['customer'], "Talleres Gómez S.L.")
        self.assertEqual(card['amount'], "€2,500.00")
        self.assertEqual(card['owner_initials'], "R")
        self.assertEqual(card['next_activity']['subject'], "Llamar a Ana")
        self.assertTrue(card['next_activity']['overdue'])

    def test_spanish(self):
        "Words and amounts in the user's language"
        client, headers = self.session('rep')
        response = client.post(f'/{DB_NAME}/rpc/', headers=headers, json={
                'id': 1, 'method': 'model.crm.pipeline.board',
                'params': [[self.pipeline], {}, None, 0, {
                        'company': self.company, 'language': 'es'}]})
        board = response.json['result']
        self.assertEqual(board['labels']['move_to'], "Mover a…")
        card, = [c for c in self.column(board, self.new)['cards']
            if c['id'] == self.fair]
        self.assertEqual(card['amount'], "2.500,00\u00a0€")

    def test_bad_filters_are_refused(self):
        "A filter the board does not know answers its message, a 400 in REST"
        for filters in [{'scope': 'everybody'}, {'owner': 'rep'},
                {'colour': 'red'}, {'text': 7}]:
            with self.subTest(filters=filters):
                answer = self.board('rep', filters)
                self.assertEqual(answer[0], 'error')
                self.assertIn("cannot filter", answer[1])
        answer = self.board('rep', stage=self.analysis, offset=-1)
        self.assertEqual(answer[0], 'error')
        response = self.client().post(
            f'/{DB_NAME}/rest/model/crm.pipeline/{self.pipeline}/board',
            headers={
                'Authorization': f'bearer {self.keys["rep"]}',
                'Accept-Language': 'en',
                }, json={'filters': {'scope': 'everybody'}})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("cannot filter", response.text)

    def test_open_deals(self):
        "The pipeline's open deals the user sees"
        answer = self.rpc('rep2', 'model.crm.pipeline.read',
            [self.pipeline], ['open_deals'], company=self.company)
        self.assertEqual(answer[0]['open_deals'], 1)

    def test_identity(self):
        "crm-kit and the company, without login, for sao's login page"
        response = self.client().get(f'/{DB_NAME}/crm/identity')
        self.assertEqual(response.status_code, 200)
        body = json.loads(response.text)
        self.assertEqual(body['solution'], 'crm-kit')
        self.assertEqual(body['name'], "Pruebas CRM S.L.")
        self.assertEqual(set(body), {'solution', 'name', 'logo'})

    def test_rep_lands_on_home_and_board(self):
        "At login a CRM user opens CRM › Home, then the board in front"
        def actions():
            ModelData = Pool().get('ir.model.data')
            return [ModelData.get_id('crm_kit_desk', 'act_home'),
                ModelData.get_id('crm_kit_desk', 'wizard_pipeline_board')]
        expected = in_transaction(actions)
        for login in ['rep', 'manager']:
            with self.subTest(login=login):
                preferences = self.rpc(
                    login, 'model.res.user.get_preferences', False)
                self.assertEqual(preferences['actions'], expected)

    def test_home_panels_follow_the_rules(self):
        "The home's panels show a rep their own activities, not another's"
        def home():
            pool = Pool()
            ModelData = pool.get('ir.model.data')
            Action = pool.get('ir.action.act_window')
            action = Action(ModelData.get_id(
                    'crm_kit_desk', 'act_home_activities'))
            return action.pyson_domain
        domain = in_transaction(home)
        from trytond.protocols.jsonrpc import JSONEncoder
        from trytond.pyson import PYSONDecoder
        # As sao sends it: the dates encoded as JSON-RPC encodes them.
        domain = json.loads(json.dumps(
                PYSONDecoder({}).decode(domain), cls=JSONEncoder))
        for login, subject in [('rep', "Llamar a Ana")]:
            answer = self.rpc(login, 'model.crm.activity.search_read',
                domain, 0, None, None, ['subject'], company=self.company)
            self.assertEqual([a['subject'] for a in answer], [subject])
        self.assertEqual(self.rpc('rep2', 'model.crm.activity.search_read',
                domain, 0, None, None, ['subject'], company=self.company), [])
