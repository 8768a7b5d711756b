# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The reports against figures computed by hand on a small fixed dataset:
the same report gives a rep, their manager and an administrator three
different totals."""
import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from .tools import (
    ReportTestCase, create_user, deal, quote, report, setup_crm, stage,
    target)


def dataset():
    """Deals of the team Madrid (rep, rep2; manager) and of a rep of no
    team, across 2024 to 2026, with their targets"""
    crm = setup_crm()
    with Transaction().set_context(company=crm.company.id):
        crm.boss = create_user('boss', 'group_crm_admin', crm.company)
        crm.idle = create_user('idle', 'group_crm_rep', crm.company)
    # rep
    deal(crm, crm.rep, '2026-01-10', 'stage_won', 1000, end='2026-02-20')
    deal(crm, crm.rep, '2026-02-05', 'stage_won', 500, end='2026-03-01')
    deal(crm, crm.rep, '2026-03-10', 'stage_lost', 300, end='2026-03-15')
    deal(crm, crm.rep, '2026-03-20', 'stage_analysis', 2000)
    deal(crm, crm.rep, '2025-01-15', 'stage_won', 800, end='2025-02-10')
    # rep2: a lead of December 2025 won in January 2026
    deal(crm, crm.rep2, '2026-02-01', 'stage_won', 700, end='2026-02-28')
    deal(crm, crm.rep2, '2025-12-20', 'stage_won', 400, end='2026-01-05')
    deal(crm, crm.rep2, '2026-04-02', 'stage_new', 600)
    # outsider, of no team: won on a leap day, one open offer
    deal(crm, crm.outsider, '2026-01-01', 'stage_won', 5000,
        end='2026-01-31')
    deal(crm, crm.outsider, '2024-02-01', 'stage_won', 100, end='2024-02-29')
    deal(crm, crm.outsider, '2026-04-10', 'stage_offer', 1000)

    target(crm, crm.rep, 2026, 1, 1000, deals=1)
    target(crm, crm.rep, 2026, 2, 1000, deals=2)
    target(crm, crm.rep2, 2026, 2, 500, deals=1)
    target(crm, crm.outsider, 2026, 1, 4000, deals=1)
    return crm


MONTH_FIELDS = [
    'month', 'leads', 'leads_previous', 'won', 'won_previous', 'lost',
    'won_amount', 'won_amount_previous', 'won_amount_change', 'won_ytd',
    'won_amount_ytd', 'won_amount_ytd_previous', 'won_amount_ytd_change',
    'win_rate', 'average_deal', 'average_cycle', 'target_amount',
    'target_deals', 'attainment', 'target_amount_ytd', 'attainment_ytd',
    'deals_attainment_ytd']


def months(user, **context):
    context.setdefault('date', dt.date(2026, 6, 15))
    rows = report('crm.report.month', user, MONTH_FIELDS, **context)
    return {r['month'].month: r for r in rows}, rows


class MonthlyReportTestCase(ReportTestCase):

    @with_transaction()
    def test_administrator_sees_everything(self):
        crm = dataset()
        by_month, rows = months(crm.boss)

        self.assertEqual(
            [r['month'] for r in rows],
            [dt.date(2026, m, 1) for m in range(1, 13)])
        self.assertEqual(
            [r['leads'] for r in rows], [2, 2, 2, 2] + [0] * 8)
        self.assertEqual(
            [r['leads_previous'] for r in rows], [1] + [0] * 10 + [1])
        self.assertEqual(
            [r['won'] for r in rows], [2, 2, 1] + [0] * 9)
        self.assertEqual(
            [r['won_amount'] for r in rows],
            [Decimal(5400), Decimal(1700), Decimal(500)] + [0] * 9)
        self.assertEqual(
            [r['won_amount_ytd'] for r in rows],
            [Decimal(5400), Decimal(7100)] + [Decimal(7600)] * 10)
        self.assertEqual(
            [r['won_amount_ytd_previous'] for r in rows],
            [0] + [Decimal(800)] * 11)

        january, february, march = by_month[1], by_month[2], by_month[3]
        self.assertIsNone(january['won_amount_change'])  # nothing last year
        self.assertAlmostEqual(february['won_amount_change'], 112.5)
        self.assertAlmostEqual(february['won_amount_ytd_change'], 787.5)
        self.assertEqual(march['lost'], 1)
        self.assertAlmostEqual(march['win_rate'], 50)
        self.assertAlmostEqual(february['win_rate'], 100)
        self.assertEqual(february['average_deal'], Decimal(850))
        # 10 Jan → 20 Feb and 1 Feb → 28 Feb
        self.assertAlmostEqual(february['average_cycle'], (41 + 27) / 2)
        self.assertEqual(january['target_amount'], Decimal(5000))
        self.assertAlmostEqual(january['attainment'], 108)

        # Empty months show zeros, not errors.
        december = by_month[12]
        self.assertEqual(
            (december['won'], december['won_amount'], december['lost'],
                december['target_amount']), (0, 0, 0, 0))
        self.assertIsNone(december['win_rate'])

    @with_transaction()
    def test_three_profiles_three_totals(self):
        crm = dataset()
        totals = {}
        for user in [crm.rep, crm.manager, crm.boss, crm.idle]:
            _, rows = months(user)
            totals[user.login] = (
                sum(r['leads'] for r in rows),
                sum(r['won_amount'] for r in rows),
                sum(r['target_amount'] for r in rows))
        self.assertEqual(totals, {
                'rep': (4, Decimal(1500), Decimal(2000)),
                'manager': (6, Decimal(2600), Decimal(2500)),
                'boss': (8, Decimal(7600), Decimal(6500)),
                'idle': (0, 0, 0),
                })

    @with_transaction()
    def test_targets_attainment(self):
        crm = dataset()
        by_month, _ = months(crm.rep)
        february = by_month[2]
        self.assertEqual(february['won_amount'], Decimal(1000))
        self.assertAlmostEqual(february['attainment'], 100)
        self.assertEqual(february['target_amount_ytd'], Decimal(2000))
        self.assertAlmostEqual(february['attainment_ytd'], 50)
        self.assertAlmostEqual(february['deals_attainment_ytd'], 100 / 3)

        by_month, _ = months(crm.manager)
        self.assertAlmostEqual(by_month[1]['attainment'], 40)
        self.assertAlmostEqual(by_month[2]['attainment'], 1700 / 1500 * 100)

        # Filtered on one rep, a manager reads that rep's figures.
        by_month, _ = months(crm.manager, owner=crm.rep2.id)
        self.assertEqual(by_month[2]['won_amount'], Decimal(700))
        self.assertEqual(by_month[2]['target_amount'], Decimal(500))
        # Targets are per rep: a channel filter leaves them out.
        Channel = Pool().get('crm.channel')
        channel, = Channel.search([], limit=1)
        by_month, _ = months(crm.boss, channel=channel.id)
        self.assertEqual(by_month[1]['target_amount'], 0)

    @with_transaction()
    def test_previous_year_across_leap_day(self):
        crm = dataset()
        by_month, _ = months(crm.boss, date=dt.date(2025, 2, 28))
        february = by_month[2]
        # 29 February 2024 is in the February before.
        self.assertEqual(february['won_amount_previous'], Decimal(100))
        self.assertEqual(february['won_amount'], Decimal(800))
        self.assertAlmostEqual(february['won_amount_change'], 700)
        # The December 2025 lead counts in December, its win in 2026.
        self.assertEqual(by_month[12]['leads'], 1)
        self.assertEqual(by_month[12]['won'], 0)

    @with_transaction()
    def test_other_currency_at_the_rate_of_its_date(self):
        pool = Pool()
        Currency = pool.get('currency.currency')
        crm = dataset()
        company_currency = crm.company.currency
        usd = Currency(
            name="US Dollar", code='USD', symbol='$', rounding=Decimal('0.01'))
        usd.rates = [
            {'date': dt.date(2026, 1, 1), 'rate': Decimal('1.25')},
            {'date': dt.date(2026, 6, 1), 'rate': Decimal('2')},
            ]
        usd.save()
        company_currency.rates = [
            {'date': dt.date(2020, 1, 1), 'rate': Decimal(1)}]
        company_currency.save()
        deal(crm, crm.outsider, '2026-05-01', 'stage_won', 1250,
            end='2026-05-10', currency=usd)
        by_month, _ = months(crm.boss)
        self.assertEqual(by_month[5]['won_amount'], Decimal(1000))


class PipelineReportTestCase(ReportTestCase):

    def pipeline(self, user, **context):
        rows = report('crm.report.pipeline', user, [
                'stage.name', 'count', 'amount', 'weighted_amount',
                'average_days_in_stage'], **context)
        return {r['stage.']['name']: r for r in rows}

    @with_transaction()
    def test_pipeline_by_stage_per_profile(self):
        crm = dataset()
        boss = self.pipeline(crm.boss)
        self.assertEqual(list(boss), [
                "New lead", "Under analysis", "Offer submitted",
                "Under negotiation"])
        self.assertEqual(
            {n: (r['count'], r['amount'], r['weighted_amount'])
                for n, r in boss.items()}, {
                "New lead": (1, Decimal(600), Decimal(60)),
                "Under analysis": (1, Decimal(2000), Decimal(500)),
                "Offer submitted": (1, Decimal(1000), Decimal(500)),
                "Under negotiation": (0, 0, 0),
                })
        totals = {}
        for user in [crm.rep, crm.manager, crm.boss, crm.idle]:
            rows = self.pipeline(user).values()
            totals[user.login] = (
                sum(r['count'] for r in rows),
                sum(r['amount'] for r in rows))
        self.assertEqual(totals, {
                'rep': (1, Decimal(2000)),
                'manager': (2, Decimal(2600)),
                'boss': (3, Decimal(3600)),
                'idle': (0, 0),
                })
        filtered = self.pipeline(crm.boss, team=crm.team.id)
        self.assertEqual(
            sum(r['amount'] for r in filtered.values()), Decimal(2600))

    @with_transaction()
    def test_days_in_stage(self):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        crm = dataset()
        opportunity, = Opportunity.search([('amount', '=', 2000)])
        table = Opportunity.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.stage_date],
                [dt.datetime.now() - dt.timedelta(days=10)],
                where=table.id == opportunity.id))
        rows = self.pipeline(crm.rep)
        self.assertAlmostEqual(
            rows["Under analysis"]['average_days_in_stage'], 10, places=2)


class SalesTargetTestCase(ReportTestCase):

    @with_transaction()
    def test_one_target_per_rep_and_month(self):
        crm = dataset()
        with self.assertRaises(UserError) as raised:
            target(crm, crm.rep, 2026, 1, 10)
        self.assertIn("one target per month", str(raised.exception))

    @with_transaction()
    def test_managers_set_their_teams_targets(self):
        pool = Pool()
        Target = pool.get('crm.sales.target')
        crm = dataset()
        from trytond.transaction import check_access
        with Transaction().set_user(crm.rep.id), check_access():
            self.assertEqual(
                {t.user for t in Target.search([])}, {crm.rep})
        with Transaction().set_user(crm.manager.id), check_access():
            self.assertEqual(
                {t.user for t in Target.search([])}, {crm.rep, crm.rep2})
            target = Target(user=crm.rep2, year=2026, month='3',
                amount=Decimal(900), deals=1, company=crm.company)
            target.on_change_user()
            target.save()
            self.assertEqual(target.team, crm.team)
        with Transaction().set_user(crm.rep.id), check_access(), \
                self.assertRaises(UserError):
            Target.create([{'user': crm.rep.id, 'year': 2026, 'month': '5',
                        'amount': Decimal(1), 'deals': 0,
                        'company': crm.company.id}])

    @with_transaction()
    def test_negative_target(self):
        crm = dataset()
        with self.assertRaises(UserError) as raised:
            target(crm, crm.rep, 2026, 7, -5)
        self.assertIn("cannot be negative", str(raised.exception))


DIMENSION_FIELDS = [
    'dimension', 'leads', 'qualified', 'offered', 'lead_to_opportunity',
    'opportunity_to_offer', 'offer_to_won', 'won', 'lost', 'won_amount',
    'win_rate', 'average_deal', 'average_cycle', 'leads_previous',
    'won_previous', 'won_amount_previous', 'won_amount_change']


def by_dimension(model, user, **context):
    context.setdefault('date', dt.date(2026, 6, 15))
    rows = report(model, user, DIMENSION_FIELDS, **context)
    return {r['dimension']: r for r in rows}


class DimensionReportTestCase(ReportTestCase):

    @with_transaction()
    def test_by_rep_year_to_date(self):
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        Opportunity = pool.get('sale.opportunity')
        crm = dataset()
        # The lost deal of March had been qualified before it was lost.
        lost, = Opportunity.search([('state', '=', 'lost')])
        StageLog.create([{
                    'opportunity': lost.id, 'pipeline': lost.pipeline.id,
                    'to_stage': lost.pipeline.stage_for_state(
                        'opportunity').id,
                    'to_state': 'opportunity',
                    'date': dt.datetime(2026, 3, 12)}])

        rows = by_dimension('crm.report.rep', crm.boss)
        self.assertEqual(set(rows), {crm.rep.id, crm.rep2.id, crm.outsider.id})
        rep = rows[crm.rep.id]
        self.assertEqual(
            (rep['leads'], rep['qualified'], rep['offered'], rep['won'],
                rep['lost'], rep['won_amount']),
            (4, 4, 2, 2, 1, Decimal(1500)))
        self.assertAlmostEqual(rep['lead_to_opportunity'], 100)
        self.assertAlmostEqual(rep['opportunity_to_offer'], 50)
        self.assertAlmostEqual(rep['offer_to_won'], 100)
        self.assertAlmostEqual(rep['win_rate'], 200 / 3)
        self.assertEqual(rep['average_deal'], Decimal(750))
        self.assertEqual(
            (rep['leads_previous'], rep['won_previous'],
                rep['won_amount_previous']), (1, 1, Decimal(800)))
        self.assertAlmostEqual(rep['won_amount_change'], 87.5)

        rep2 = rows[crm.rep2.id]
        # A lead of December 2025 won in January: a win, not a new lead.
        self.assertEqual(
            (rep2['leads'], rep2['qualified'], rep2['won'],
                rep2['won_amount'], rep2['leads_previous']),
            (2, 1, 2, Decimal(1100), 0))
        self.assertIsNone(rep2['won_amount_change'])
        outsider = rows[crm.outsider.id]
        self.assertEqual(
            (outsider['leads'], outsider['offered'], outsider['won_amount']),
            (2, 2, Decimal(5000)))

        # A rep reads only their own line; a manager their team's.
        self.assertEqual(
            set(by_dimension('crm.report.rep', crm.rep)), {crm.rep.id})
        self.assertEqual(
            set(by_dimension('crm.report.rep', crm.manager)),
            {crm.rep.id, crm.rep2.id})
        self.assertEqual(by_dimension('crm.report.rep', crm.idle), {})

    @with_transaction()
    def test_month_and_whole_year(self):
        crm = dataset()
        rep = by_dimension('crm.report.rep', crm.boss, period='month',
            date=dt.date(2026, 2, 15))[crm.rep.id]
        self.assertEqual(
            (rep['leads'], rep['won'], rep['won_amount'],
                rep['won_amount_previous']),
            (1, 1, Decimal(1000), Decimal(800)))
        self.assertAlmostEqual(rep['won_amount_change'], 25)

        rep2 = by_dimension('crm.report.rep', crm.boss, period='year',
            date=dt.date(2025, 3, 1))[crm.rep2.id]
        self.assertEqual((rep2['leads'], rep2['won']), (1, 0))

    @with_transaction()
    def test_by_team_channel_and_customer_category(self):
        pool = Pool()
        Channel = pool.get('crm.channel')
        Category = pool.get('party.category')
        Opportunity = pool.get('sale.opportunity')
        crm = dataset()
        web, = Channel.search([], limit=1)
        table = Opportunity.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.channel], [web.id],
                where=table.owner == crm.outsider.id))

        teams = by_dimension('crm.report.team', crm.boss)
        self.assertEqual(teams[crm.team.id]['won_amount'], Decimal(2600))
        self.assertEqual(teams[None]['won_amount'], Decimal(5000))

        channels = by_dimension('crm.report.channel', crm.boss)
        self.assertEqual(
            {k: r['won_amount'] for k, r in channels.items()},
            {web.id: Decimal(5000), None: Decimal(2600)})
        self.assertEqual(channels[web.id]['leads'], 2)

        # Filters combine with the dimension.
        channels = by_dimension(
            'crm.report.channel', crm.boss, team=crm.team.id)
        self.assertEqual(set(channels), {None})

        wholesale = Category(name="Mayorista")
        wholesale.save()
        crm.customer.categories = [wholesale]
        crm.customer.save()
        categories = by_dimension('crm.report.customer_category', crm.boss)
        self.assertEqual(
            categories[wholesale.id]['won_amount'], Decimal(7600))


class StageTimeReportTestCase(ReportTestCase):

    @with_transaction()
    def test_time_in_each_stage(self):
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        crm = dataset()
        stays = {}
        for name, moves in [
                ('x', [('stage_new', '2026-03-01'),
                        ('stage_analysis', '2026-03-11'),
                        ('stage_offer', '2026-03-15')]),
                ('y', [('stage_new', '2026-03-05'),
                        ('stage_analysis', '2026-03-25')]),
                ]:
            opportunity = deal(
                crm, crm.rep, moves[0][1], moves[-1][0], 100)
            # Its history is the moves above, not its creation today.
            StageLog.delete(StageLog.search(
                    [('opportunity', '=', opportunity.id)]))
            StageLog.create([{
                        'opportunity': opportunity.id,
                        'pipeline': opportunity.pipeline.id,
                        'to_stage': stage(xml_id).id,
                        'to_state': stage(xml_id).state,
                        'date': dt.datetime.fromisoformat(date)}
                    for xml_id, date in moves])
            stays[name] = opportunity

        rows = report('crm.report.stage_time', crm.rep, [
                'stage.name', 'entries', 'left', 'average_days',
                'average_days_left'], date=dt.date(2026, 6, 15))
        rows = {r['stage.']['name']: r for r in rows}
        new, analysis, offer = (
            rows["New lead"], rows["Under analysis"], rows["Offer submitted"])
        self.assertEqual((new['entries'], new['left']), (2, 2))
        self.assertAlmostEqual(new['average_days'], 15)
        self.assertEqual((analysis['entries'], analysis['left']), (2, 1))
        self.assertAlmostEqual(analysis['average_days_left'], 4)
        self.assertGreater(analysis['average_days'], 4)  # y is still there
        self.assertEqual((offer['entries'], offer['left']), (1, 0))
        self.assertIsNone(offer['average_days_left'])

        rows = report('crm.report.stage_time', crm.idle, ['entries'],
            date=dt.date(2026, 6, 15))
        self.assertEqual(sum(r['entries'] for r in rows), 0)


class ActivityReportTestCase(ReportTestCase):

    @with_transaction()
    def test_activities_by_rep_and_type(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        from crm_kit_activity.tests.tools import create_activity
        crm = dataset()

        def at(date):
            return dt.datetime.fromisoformat(date)
        done = [create_activity(crm, crm.rep, due=at('2026-02-10 10:00'),
                outcome="Interesados"),
            create_activity(crm, crm.rep, due=at('2026-03-10 10:00'),
                outcome="No contesta"),
            create_activity(crm, crm.rep, due=at('2025-03-10 10:00'),
                outcome="Hecho")]
        Activity.done(done)
        Activity.cancel([create_activity(
                    crm, crm.rep, due=at('2026-04-01 10:00'))])
        create_activity(crm, crm.rep, due=at('2026-05-01 10:00'))
        create_activity(crm, crm.rep, kind='activity_type_meeting',
            due=at('2026-05-02 10:00'))
        create_activity(crm, crm.outsider, due=at('2026-05-02 10:00'))

        fields = ['owner', 'type.name', 'total', 'done', 'cancelled',
            'planned', 'overdue', 'done_rate', 'done_previous']
        rows = report('crm.report.activity', crm.manager, fields,
            date=dt.date(2026, 6, 15))
        self.assertEqual(
            [(r['owner'], r['type.']['name'], r['total'], r['done'],
                    r['cancelled'], r['planned'], r['overdue'],
                    r['done_previous']) for r in rows],
            [(crm.rep.id, "Call", 4, 2, 1, 1, 1, 1),
                (crm.rep.id, "Meeting", 1, 0, 0, 1, 1, 0)])
        self.assertAlmostEqual(rows[0]['done_rate'], 50)

        rows = report('crm.report.activity', crm.boss, fields,
            date=dt.date(2026, 6, 15), team=crm.team.id)
        self.assertEqual({r['owner'] for r in rows}, {crm.rep.id})
        rows = report('crm.report.activity', crm.boss, fields,
            date=dt.date(2026, 6, 15))
        self.assertEqual(
            {r['owner'] for r in rows}, {crm.rep.id, crm.outsider.id})


QUOTED_FIELDS = [
    'quotes', 'quoted_quantity', 'quoted_amount', 'won_quantity',
    'won_amount', 'won_rate', 'average_discount', 'quoted_amount_previous',
    'won_amount_previous', 'won_amount_change']


class QuotedReportTestCase(ReportTestCase):

    def quotes(self):
        "Quotes of the product, whose list price is 60"
        crm = setup_crm()
        with Transaction().set_context(company=crm.company.id):
            crm.boss = create_user('boss', 'group_crm_admin', crm.company)
        quote(crm, crm.rep, 60, '2026-02-10', won=True)
        quote(crm, crm.rep, 54, '2026-03-10')
        quote(crm, crm.rep2, 40, '2026-04-10', won=True)
        quote(crm, crm.rep, 60, '2025-03-01', won=True)
        return crm

    @with_transaction()
    def test_by_product(self):
        crm = self.quotes()
        row, = report('crm.report.product', crm.boss,
            ['product'] + QUOTED_FIELDS, date=dt.date(2026, 6, 15))
        self.assertEqual(row['product'], crm.product.id)
        self.assertEqual(
            (row['quotes'], row['quoted_quantity'], row['quoted_amount'],
                row['won_quantity'], row['won_amount'],
                row['quoted_amount_previous'], row['won_amount_previous']),
            (3, 30, Decimal(1540), 20, Decimal(1000), Decimal(600),
                Decimal(600)))
        self.assertAlmostEqual(row['won_rate'], 1000 / 1540 * 100)
        self.assertAlmostEqual(row['average_discount'], 260 / 1800 * 100)
        self.assertAlmostEqual(row['won_amount_change'], 400 / 600 * 100)

        row, = report('crm.report.product', crm.rep, QUOTED_FIELDS,
            date=dt.date(2026, 6, 15))
        self.assertEqual(
            (row['quotes'], row['quoted_amount'], row['won_amount']),
            (2, Decimal(1140), Decimal(600)))

    @with_transaction()
    def test_revised_quote_counts_once(self):
        "A sent quote and its revision are one quote, the revision's"
        pool = Pool()
        Sale = pool.get('sale.sale')
        crm = self.quotes()
        sent, = Sale.search([('quotation_date', '=', dt.date(2026, 3, 10))])
        Sale.write([sent], {'sent_date': dt.datetime(2026, 3, 10, 9)})
        with Transaction().set_context(company=crm.company.id):
            revision, = Sale.browse(Sale.revise([sent])['res_id'])
            line, = revision.lines
            line.unit_price = Decimal(50)
            line.save()
            Sale.quote([revision])
        Sale.write([revision], {'quotation_date': dt.date(2026, 3, 20)})
        row, = report('crm.report.product', crm.boss,
            ['product'] + QUOTED_FIELDS, date=dt.date(2026, 6, 15))
        self.assertEqual((row['quotes'], row['quoted_amount']),
            (3, Decimal(1500)))
        self.assertAlmostEqual(row['average_discount'], 300 / 1800 * 100)

    @with_transaction()
    def test_by_price_band(self):
        crm = self.quotes()
        rows = report('crm.report.price_band', crm.boss,
            ['band'] + QUOTED_FIELDS, date=dt.date(2026, 6, 15))
        self.assertEqual(
            [(r['band'], r['quotes'], r['quoted_amount'], r['won_amount'],
                    r['won_amount_previous']) for r in rows],
            [('list', 1, Decimal(600), Decimal(600), Decimal(600)),
                ('discount_10', 1, Decimal(540), 0, 0),
                ('discount_more', 1, Decimal(400), Decimal(400), 0)])

    @with_transaction()
    def test_by_product_category(self):
        pool = Pool()
        Category = pool.get('product.category')
        crm = self.quotes()
        licences = Category(name="Licencias")
        licences.save()
        template = crm.product.template
        template.categories = [licences]
        template.save()
        rows = report('crm.report.product_category', crm.boss,
            ['category', 'quoted_amount', 'won_amount'],
            date=dt.date(2026, 6, 15))
        self.assertEqual(
            [(r['category'], r['quoted_amount'], r['won_amount'])
                for r in rows],
            [(licences.id, Decimal(1540), Decimal(1000))])


class ExportTestCase(ReportTestCase):

    def export(self, user, model, extension, ids=None, **context):
        pool = Pool()
        Export = pool.get('crm.report.export', type='report')
        ModelData = pool.get('ir.model.data')
        action_id = ModelData.get_id(
            'crm_kit_report', 'report_export_%s' % extension)
        context.setdefault('company', user.company.id)
        with Transaction().set_user(user.id), \
                Transaction().set_context(**context), check_access():
            return Export.execute(ids or [], {
                    'model': model, 'action_id': action_id})

    @with_transaction()
    def test_csv_and_xlsx_of_the_filtered_report(self):
        import csv
        import io

        from openpyxl import load_workbook
        crm = dataset()
        date = dt.date(2026, 6, 15)
        extension, content, _, name = self.export(
            crm.manager, 'crm.report.month', 'csv', date=date)
        self.assertEqual((extension, name), ('csv', "Monthly Sales"))
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        self.assertEqual(rows[0][:3], ["Month", "New Leads",
                "New Leads Last Year"])
        self.assertEqual(len(rows), 13)
        self.assertEqual(rows[2][0], "February 2026")
        won_amount = rows[0].index("Won Amount")
        self.assertEqual(
            sum(Decimal(r[won_amount]) for r in rows[1:]), Decimal(2600))

        extension, content, _, name = self.export(
            crm.boss, 'crm.report.rep', 'xlsx', date=date)
        self.assertEqual(extension, 'xlsx')
        sheet = load_workbook(io.BytesIO(content)).active
        values = list(sheet.values)
        self.assertEqual(values[0][0], "Sales Rep")
        self.assertEqual(
            {r[0] for r in values[1:]}, {"Rep", "Rep2", "Rep_Other_Team"})
        won_amount = values[0].index("Won Amount")
        self.assertEqual(sum(r[won_amount] for r in values[1:]), 7600)

    @with_transaction()
    def test_selected_rows_and_formulas_made_inert(self):
        import csv
        import io

        from openpyxl import load_workbook
        pool = Pool()
        Channel = pool.get('crm.channel')
        Opportunity = pool.get('sale.opportunity')
        crm = dataset()
        channel = Channel(
            name="=HYPERLINK(\"http://evil.test\")", code='evil')
        channel.save()
        table = Opportunity.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.channel], [channel.id]))
        date = dt.date(2026, 6, 15)

        _, content, _, _ = self.export(
            crm.boss, 'crm.report.channel', 'csv', date=date,
            ids=[channel.id + 1])
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][0], "'=HYPERLINK(\"http://evil.test\")")

        _, content, _, _ = self.export(
            crm.boss, 'crm.report.channel', 'xlsx', date=date)
        cell = load_workbook(io.BytesIO(content)).active['A2']
        self.assertEqual(cell.data_type, 's')

        # Spanish headers for a Spanish user.
        from .tools import load_spanish
        load_spanish('crm_kit_report')
        crm.boss.language = pool.get('ir.lang').get('es')
        crm.boss.save()
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.channel', 'csv', date=date, language='es')
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        self.assertEqual(rows[0][0], "Canal")


    @with_transaction()
    def test_figures_rounded_to_what_they_mean(self):
        "Days to 1 decimal, amounts to the currency's, percentages as such"
        import csv
        import io

        from openpyxl import load_workbook
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        crm = dataset()
        for moves in [
                [('stage_new', '2026-03-01T00:00'),
                    ('stage_analysis', '2026-03-11T00:00'),
                    ('stage_offer', '2026-03-14T05:00')],
                [('stage_new', '2026-03-05T00:00'),
                    ('stage_analysis', '2026-03-25T07:00')],
                ]:
            opportunity = deal(crm, crm.rep, moves[0][1][:10],
                moves[-1][0], 100)
            StageLog.delete(StageLog.search(
                    [('opportunity', '=', opportunity.id)]))
            StageLog.create([{
                        'opportunity': opportunity.id,
                        'pipeline': opportunity.pipeline.id,
                        'to_stage': stage(xml_id).id,
                        'to_state': stage(xml_id).state,
                        'date': dt.datetime.fromisoformat(date)}
                    for xml_id, date in moves])
        date = dt.date(2026, 6, 15)

        # (10 days + 20 days 7 hours) / 2 = 15.1458333... days
        _, content, _, _ = self.export(
            crm.rep, 'crm.report.stage_time', 'xlsx', date=date)
        sheet = load_workbook(io.BytesIO(content)).active
        header = [c.value for c in sheet[1]]
        column = header.index("Average Days Before Moving On")
        rows = {r[1].value: r for r in sheet.iter_rows(min_row=2)}
        self.assertEqual(rows["New lead"][column].value, 15.1)
        self.assertEqual(rows["New lead"][column].number_format, '#,##0.0')
        # 3 days 5 hours
        self.assertEqual(rows["Under analysis"][column].value, 3.2)
        _, content, _, _ = self.export(
            crm.rep, 'crm.report.stage_time', 'csv', date=date)
        rows = {r[1]: r for r in csv.reader(
                io.StringIO(content.decode('utf-8-sig')))}
        self.assertEqual(rows["New lead"][column], '15.1')

        # February 2026: 1,700 won of a 1,500 target, 2 deals.
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.month', 'xlsx', date=date)
        sheet = load_workbook(io.BytesIO(content)).active
        header = [c.value for c in sheet[1]]
        february = {h: c for h, c in zip(header, sheet[3])}
        self.assertEqual(february["Month"].value, "February 2026")
        self.assertEqual(february["Attainment (%)"].value, 113.3)
        self.assertEqual(february["Won Amount"].value, 1700)
        self.assertEqual(february["Won Amount"].number_format, '#,##0.00')
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.month', 'csv', date=date)
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        february = dict(zip(rows[0], rows[2]))
        self.assertEqual(february["Attainment (%)"], '113.3')
        self.assertEqual(february["Average Deal"], '850.00')
        # A negative figure is a number, not a formula to make inert.
        Export = pool.get('crm.report.export', type='report')
        from ..export import Figure
        self.assertEqual(
            Export.csv(["Change (%)"], [[Figure(-12.5, 1, False)]]),
            '\ufeffChange (%)\r\n-12.5\r\n'.encode('utf-8'))
        # Amounts have the digits of their currency.
        Currency = pool.get('currency.currency')
        Currency.write([crm.company.currency],
            {'digits': 0, 'rounding': Decimal(1)})
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.month', 'csv', date=date)
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        self.assertEqual(dict(zip(rows[0], rows[2]))["Average Deal"], '850')

        # Probabilities are fractions the list shows as percentages.
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.pipeline', 'xlsx', date=date)
        sheet = load_workbook(io.BytesIO(content)).active
        header = [c.value for c in sheet[1]]
        column = header.index("Probability")
        cells = [r[column] for r in sheet.iter_rows(min_row=2)
            if r[column].value is not None]
        self.assertTrue(cells)
        for cell in cells:
            self.assertIn(cell.number_format, {'0%', '0.0%', '0.00%'})
        _, content, _, _ = self.export(
            crm.boss, 'crm.report.pipeline', 'csv', date=date)
        rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
        self.assertTrue(all(r[column].endswith('%') for r in rows[1:]
                if r[column]))


class MonthNameTestCase(ReportTestCase):

    @with_transaction()
    def test_month_named_in_the_users_language(self):
        "enero 2026 in Spanish, January 2026 in English; sorted as dates"
        from pathlib import Path

        import trytond
        pool = Pool()
        Translation = pool.get('ir.translation')
        Month = pool.get('crm.report.month')
        crm = dataset()
        # The month names are ir's, as trytond-admin -l es loads them.
        Translation.translation_import('es', 'ir', str(
                Path(trytond.__file__).parent / 'ir' / 'locale' / 'es.po'))
        from .tools import load_spanish
        load_spanish('crm_kit')
        date = dt.date(2026, 6, 15)
        for language, january in [
                ('en', "January 2026"), ('es', "enero 2026")]:
            rows = report('crm.report.month', crm.boss,
                ['month', 'month_name'], date=date, language=language)
            self.assertEqual(rows[0]['month_name'], january, language)
            self.assertEqual(rows[0]['month'], dt.date(2026, 1, 1))
        rows = report('crm.report.month', crm.boss, ['month_name'],
            date=date, language='es')
        self.assertEqual([r['month_name'] for r in rows[:3]],
            ["enero 2026", "febrero 2026", "marzo 2026"])
        # Sorting by the name sorts by the date.
        Month = pool.get('crm.report.month')
        with Transaction().set_user(crm.boss.id), \
                Transaction().set_context(company=crm.company.id, date=date,
                    language='es'), check_access():
            months = Month.search([], order=[('month_name', 'DESC')])
            self.assertEqual(months[0].month, dt.date(2026, 12, 1))
            self.assertEqual(months[0].month_name, "diciembre 2026")

    @with_transaction()
    def test_month_of_a_business_year_off_the_calendar(self):
        "A month from 15 July is named by its first day"
        from crm_kit.formats import format_month
        self.assertEqual(format_month(dt.date(2026, 7, 15), 'en'),
            "07/15/2026")
        self.assertEqual(format_month(dt.date(2026, 7, 1), 'en'),
            "July 2026")


class BusinessMonthsTestCase(ReportTestCase):

    @with_transaction()
    def test_month_of_a_date_in_a_fiscal_year_off_the_calendar(self):
        "A business year from 15 July: each date falls in its own month"
        from sql import Literal, Select

        from ..report import bucket
        months = [(dt.date(2026, 7, 15) + relativedelta(months=i),
                dt.date(2026, 7, 15) + relativedelta(months=i + 1))
            for i in range(12)]
        previous = [(s - relativedelta(years=1), e - relativedelta(years=1))
            for s, e in months]
        cursor = Transaction().connection.cursor()
        for date, index in [
                (dt.date(2026, 7, 15), 0), (dt.date(2026, 8, 14), 0),
                (dt.date(2027, 7, 14), 11), (dt.date(2025, 7, 15), -12),
                (dt.date(2026, 7, 14), -1), (dt.date(2027, 7, 15), None)]:
            column = Pool().get('sale.opportunity').start_date.sql_cast(
                Literal(date))
            cursor.execute(*Select([bucket(column, months, previous)]))
            self.assertEqual(cursor.fetchone()[0], index, date)
