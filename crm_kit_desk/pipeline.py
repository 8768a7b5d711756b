# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The pipeline board: the deals of a pipeline as cards in one column per
stage, read for sao's board widget (crmkit/sao/custom.js) in one call.

The board only reads: a card moves by writing its opportunity's stage, the
same write as the form's, so the workflow's checks and messages are the
form's."""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sql import Column, Literal, Table
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.exceptions import UserError
from trytond.pool import Pool, PoolMeta
from trytond.wizard import Button, StateView, Wizard
from trytond.rpc import RPC
from trytond.tools.timezone import UTC, get_tzinfo
from trytond.transaction import (
    Transaction, check_access, without_check_access)

from crm_kit.pipeline import OPEN_STATES
from crm_kit.search import search_ids
from crm_kit_alert.alert import SEVERITY_LEVELS
from crm_kit_report.report import (
    company_amount, rate_date)

# The cards a column shows at first, and then on each scroll to its end.
CARDS_PER_PAGE = 50
SCOPES = ['mine', 'team', 'all']
FILTER_KEYS = {'scope', 'owner', 'channel', 'text', 'closing_this_month'}


class BoardFilterError(UserError):
    pass


class Pipeline(metaclass=PoolMeta):
    __name__ = 'crm.pipeline'

    open_deals = fields.Function(
        fields.Integer(
            "Open Deals",
            help="The deals of the pipeline still being worked on "
            "that you may see."),
        'get_open_deals')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'board': RPC(instantiate=0),
                })

    @classmethod
    def get_open_deals(cls, pipelines, name):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        opportunity = Opportunity.__table__()
        # Counted as the user's rules show them, though getters run
        # without the access checks.
        with check_access():
            visible = Opportunity.search([
                    ('pipeline', 'in', [p.id for p in pipelines]),
                    ('state', 'in', OPEN_STATES),
                    ], order=[], query=True)
        cursor = Transaction().connection.cursor()
        cursor.execute(*opportunity.select(
                opportunity.pipeline, Count(Literal(1)),
                where=opportunity.id.in_(visible),
                group_by=[opportunity.pipeline]))
        counts = dict(cursor)
        return {p.id: counts.get(p.id, 0) for p in pipelines}

    @classmethod
    def board(cls, pipelines, filters=None, stage=None, offset=0):
        """The board of the pipeline (the one of pipelines) for the
        filters: its columns (stages) with their count, amount and weighted
        amount, and the first cards of each; with stage (an id), the cards
        of that column from offset.

        filters: scope ('mine', 'team' or 'all'), owner and channel (ids),
        text (searched in the deal's name, number and customer) and
        closing_this_month (expected to close this month)."""
        pool = Pool()
        Stage = pool.get('crm.stage')
        Channel = pool.get('crm.channel')
        if len(pipelines) != 1:
            raise BoardFilterError(gettext(
                    'crm_kit_desk.msg_board_one_pipeline',
                    count=len(pipelines)))
        pipeline, = pipelines
        stage_id = stage
        if not isinstance(offset, int) or offset < 0:
            raise BoardFilterError(gettext(
                    'crm_kit_desk.msg_board_bad_filter',
                    filter='offset', value=offset))
        domain = cls.board_domain(pipeline, filters or {})
        stages = Stage.search([
                ('pipeline', '=', pipeline.id),
                ('active', 'in', [True, False]),
                ])
        if stage_id is not None:
            if stage_id not in {s.id for s in stages}:
                raise BoardFilterError(gettext(
                        'crm_kit_desk.msg_board_no_stage',
                        stage=stage_id, pipeline=pipeline.rec_name))
            cards = cls.board_cards(domain, [stage_id], offset)
            return {'cards': cards.get(stage_id, [])}
        totals, owners = cls.board_totals(domain)
        unfiltered = not any(value for key, value in (filters or {}).items()
            if not (key == 'scope' and value == 'all'))
        # A retired stage shows while visible deals still sit in it.
        stages = [s for s in stages if s.active or s.id in totals]
        # The closed columns (won, lost, cancelled) start folded: their
        # cards are read when the user unfolds one (a call with its stage).
        cards = cls.board_cards(
            domain, [s.id for s in stages if not s.closed], 0)
        return {
            'pipeline': {'id': pipeline.id, 'name': pipeline.rec_name},
            'columns': [cls.board_column(s, totals.get(s.id), cards)
                for s in stages],
            # The owners to filter by: those of the deals shown, unless
            # a filter hides some.
            'owners': cls.owner_names(owners if unfiltered
                else cls.board_owners(pipeline)),
            'channels': [[c.id, c.rec_name]
                for c in Channel.search([], order=[('name', 'ASC')])],
            'labels': cls.board_labels(),
            'page_size': CARDS_PER_PAGE,
            }

    @classmethod
    def board_domain(cls, pipeline, filters):
        "The domain of the deals the board shows for filters"
        pool = Pool()
        User = pool.get('res.user')
        Date = pool.get('ir.date')
        if not isinstance(filters, dict) or set(filters) - FILTER_KEYS:
            unknown = (sorted(set(filters) - FILTER_KEYS)
                if isinstance(filters, dict) else [filters])
            raise BoardFilterError(gettext(
                    'crm_kit_desk.msg_board_bad_filter',
                    filter=', '.join(map(str, unknown)), value=''))
        domain = [('pipeline', '=', pipeline.id)]
        scope = filters.get('scope') or 'all'
        if scope not in SCOPES:
            raise BoardFilterError(gettext(
                    'crm_kit_desk.msg_board_bad_filter',
                    filter='scope', value=scope))
        user = User(Transaction().user)
        if scope == 'mine':
            domain.append(('owner', '=', user.id))
        elif scope == 'team':
            teams = [t.id for t in user.crm_teams + user.crm_managed_teams]
            domain.append(['OR',
                    ('team', 'in', teams),
                    ('owner', '=', user.id),
                    ])
        for name in ['owner', 'channel']:
            value = filters.get(name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise BoardFilterError(gettext(
                        'crm_kit_desk.msg_board_bad_filter',
                        filter=name, value=value))
            domain.append((name, '=', value))
        text = filters.get('text')
        if text:
            if not isinstance(text, str):
                raise BoardFilterError(gettext(
                        'crm_kit_desk.msg_board_bad_filter',
                        filter='text', value=text))
            text = f'%{text.strip()}%'
            domain.append(['OR',
                    ('rec_name', 'ilike', text),
                    ('description', 'ilike', text),
                    ('party.rec_name', 'ilike', text),
                    ('lead_company', 'ilike', text),
                    ('lead_name', 'ilike', text),
                    ])
        if filters.get('closing_this_month'):
            first = Date.today().replace(day=1)
            domain.append(('expected_close_date', '>=', first))
            domain.append((
                    'expected_close_date', '<',
                    first + relativedelta(months=1)))
        return domain

    @classmethod
    def board_totals(cls, domain):
        """({stage id: (count, amount, weighted amount)}, {owner ids}) of
        the deals of domain, amounts in the company's currency as the
        reports sum them"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.stage')
        opportunity = Opportunity.__table__()
        visible = Opportunity.search(domain, order=[], query=True)

        def columns(table):
            return [
                table.stage.as_('stage'),
                table.owner.as_('owner'),
                table.currency.as_('currency'),
                rate_date(table, table.start_date).as_('date'),
                Coalesce(table.amount, 0).as_('amount'),
                ]
        # As crm.report.pipeline: summed by currency and rate date, then
        # converted, so that a one-currency business converts nothing; by
        # owner too, as the owners are the filter's choices (one pass over
        # the deals instead of two).  The search's own query gives the
        # columns when it reads the deals' table (the usual case): an
        # "id IN (search)" read the table twice (100 ms at 100,000).
        id_column = getattr(visible.columns[0], 'expression', None)
        table = getattr(id_column, 'table', None)
        if (isinstance(id_column, Column) and isinstance(table, Table)
                and table._name == Opportunity._table
                and not visible.group_by):
            visible.columns = columns(table)
            row = visible
        else:
            row = opportunity.select(*columns(opportunity),
                where=opportunity.id.in_(visible))
        by_rate = row.select(
            row.stage.as_('stage'),
            row.owner.as_('owner'),
            Count(Literal(1)).as_('count'),
            Sum(row.amount).as_('amount'),
            row.currency.as_('currency'),
            row.date.as_('date'),
            group_by=[row.stage, row.owner, row.currency, row.date])
        query = by_rate.select(
            by_rate.stage, by_rate.owner,
            Sum(by_rate.count),
            Sum(company_amount(by_rate, by_rate.amount, by_rate.date)),
            group_by=[by_rate.stage, by_rate.owner])
        cursor = Transaction().connection.cursor()
        cursor.execute(*query)
        rows = list(cursor)
        probabilities = {s.id: Decimal(str(s.probability))
            for s in Stage.browse({r[0] for r in rows})}
        totals, owners = {}, set()
        for stage_id, owner, count, amount in rows:
            if owner is not None:
                owners.add(owner)
            total_count, total_amount = totals.get(stage_id, (0, 0))
            totals[stage_id] = (
                total_count + int(count),
                total_amount + Decimal(str(amount or 0)))
        return {stage_id: (count, amount, amount * probabilities[stage_id])
            for stage_id, (count, amount) in totals.items()}, owners

    @classmethod
    def board_cards(cls, domain, stage_ids, offset):
        """{stage id: [card]} of the deals of domain in each stage, the
        page of CARDS_PER_PAGE cards from offset"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        # A search a column: each takes the top of its stage from the
        # stage's index (ranking every deal of the pipeline at once sorted
        # them all: 0.4 s at 100,000).  The deals closing first come
        # first, then the newest.  Only their ids: a search that returns
        # records reads every column of the deals for the cache, which
        # cost more than the cards.
        pages = {}
        for stage_id in stage_ids:
            pages[stage_id] = search_ids(Opportunity,
                domain + [('stage', '=', stage_id)],
                offset=offset, limit=CARDS_PER_PAGE,
                order=[('expected_close_date', 'ASC NULLS LAST'),
                    ('id', 'DESC')])
        cards = {c['id']: c for c in cls.board_card_values(
                Opportunity.browse(
                    [i for page in pages.values() for i in page]))}
        return {stage_id: [cards[i] for i in page]
            for stage_id, page in pages.items()}

    @classmethod
    def board_card_values(cls, opportunities):
        "The cards of opportunities as the board shows them"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Activity = pool.get('crm.activity')
        Currency = pool.get('currency.currency')
        Opportunity = pool.get('sale.opportunity')
        lang = Lang.get()
        now = dt.datetime.now()
        # Due times are stored in UTC and shown in the user's time zone.
        timezone = get_tzinfo(Transaction().context.get('timezone') or 'UTC')
        ids = [o.id for o in opportunities]
        # Only the fields a card shows, in one read: the records' other
        # fields (a deal has many) cost more than the cards.
        rows = Opportunity.read(ids, [
                'number', 'description', 'amount', 'currency',
                # The party's name rather than its rec_name, which reads
                # each party whole (the same text but for a nameless one).
                'party.name', 'party.code', 'lead_company', 'lead_name',
                'owner.rec_name', 'expected_close_date',
                'crm_alert_icon', 'crm_alert_severity'])
        currencies = {c.id: c for c in Currency.browse(
                {r['currency'] for r in rows if r['currency']})}
        next_activities = {}
        if ids:
            # The first planned activity of each deal, from one search.
            for activity in Activity.search_read([
                        ('opportunity', 'in', ids),
                        ('state', '=', 'planned'),
                        ], order=[('due', 'DESC'), ('id', 'DESC')],
                    fields_names=['opportunity', 'subject', 'due']):
                next_activities[activity['opportunity']] = activity
        alerts = cls.board_alerts(opportunities)
        cards = []
        for row in rows:
            party = row.get('party.') or {}
            party_name = party.get('name') or (
                f"[{party['code']}]" if party.get('code') else '')
            owner = (row.get('owner.') or {}).get('rec_name') or ''
            currency = currencies.get(row['currency'])
            activity = next_activities.get(row['id'])
            card = {
                'id': row['id'],
                'number': row['number'],
                'customer': (party_name or row['lead_company']
                    or row['lead_name'] or ''),
                'description': row['description'] or '',
                'amount': (lang.currency(
                        row['amount'], currency, grouping=True)
                    if row['amount'] is not None and currency else ''),
                'owner': owner,
                'owner_initials': initials(owner),
                'expected_close_date': (
                    lang.strftime(row['expected_close_date'])
                    if row['expected_close_date'] else ''),
                'alert': None,
                'next_activity': None,
                }
            if row['crm_alert_icon']:
                card['alert'] = {
                    'icon': row['crm_alert_icon'],
                    'severity': row['crm_alert_severity'] or 'info',
                    'summary': ' · '.join(alerts.get(row['id'], [])),
                    }
            if activity:
                due = activity['due'].replace(tzinfo=UTC).astimezone(timezone)
                card['next_activity'] = {
                    'subject': activity['subject'],
                    'due': lang.strftime(due, format=lang.date + ' %H:%M'),
                    'overdue': activity['due'] < now,
                    }
            cards.append(card)
        return cards

    @classmethod
    def board_alerts(cls, opportunities):
        """{opportunity id: [rule name]} of the alerts on opportunities
        the user has not dismissed, worst first: the card's icon says how
        bad, its tooltip what (the rules' names, read in one search; each
        alert's own message would cost a query per card)"""
        pool = Pool()
        Alert = pool.get('crm.alert')
        if not opportunities:
            return {}
        with without_check_access():
            alerts = Alert.search([
                    ('record_model', '=', 'sale.opportunity'),
                    ('record_id', 'in', [o.id for o in opportunities]),
                    ('state', '=', 'active'),
                    ('dismissed', '=', False),
                    ])
            alerts.sort(key=lambda a: (SEVERITY_LEVELS[a.rule.severity],
                    a.rule.sequence or 0, a.id))
            names = defaultdict(list)
            for alert in alerts:
                name = alert.rule.rec_name
                if name not in names[alert.record_id]:
                    names[alert.record_id].append(name)
        return names

    @classmethod
    def board_column(cls, stage, totals, cards):
        "A column of the board: the stage, its figures and first cards"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Company = pool.get('company.company')
        lang = Lang.get()
        count, amount, weighted = totals or (0, Decimal(0), Decimal(0))
        currency = None
        if company := Transaction().context.get('company'):
            currency = Company(company).currency
        money = ((lambda a: lang.currency(
                    currency.round(a), currency, grouping=True))
            if currency else str)
        return {
            'id': stage.id,
            'name': stage.rec_name,
            'state': stage.state,
            'closed': stage.closed,
            # Shown folded, without its cards, until the user unfolds it.
            'folded': bool(stage.closed),
            'color': stage.color or '',
            'probability': stage.probability,
            'count': count,
            'amount': money(amount),
            'weighted_amount': money(weighted),
            'cards': cards.get(stage.id, []),
            }

    @classmethod
    def board_owners(cls, pipeline):
        "The ids of the owners of the deals of the pipeline the user sees"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        opportunity = Opportunity.__table__()
        visible = Opportunity.search(
            [('pipeline', '=', pipeline.id)], order=[], query=True)
        cursor = Transaction().connection.cursor()
        cursor.execute(*opportunity.select(
                opportunity.owner,
                where=opportunity.id.in_(visible)
                & (opportunity.owner != None),  # noqa: E711
                group_by=[opportunity.owner]))
        return {owner for owner, in cursor}

    @classmethod
    def owner_names(cls, owners):
        "[id, name] of the users owners, by name"
        User = Pool().get('res.user')
        return sorted(
            ([u.id, u.rec_name] for u in User.browse(owners)),
            key=lambda u: u[1])

    @classmethod
    def board_labels(cls):
        "The board's words, in the user's language"
        names = [
            'deals', 'weighted', 'mine', 'team', 'all', 'owner', 'channel',
            'search', 'closing_this_month', 'move_to', 'new_lead', 'more',
            'lost_reason', 'lost_reason_help', 'cancel', 'ok',
            'next_activity', 'no_deals', 'everyone', 'any_channel',
            'show', 'hide', 'refresh']
        return {n: gettext(f'crm_kit_desk.msg_board_{n}') for n in names}


class PipelineBoardStart(ModelView):
    "The pipeline a user sees as a board"
    __name__ = 'crm.pipeline.board.start'
    __string__ = "Pipeline Board"

    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True,
        domain=[('active', '=', True)])
    open_deals = fields.Integer(
        "Open Deals", readonly=True,
        help="The deals of the pipeline still being worked on "
        "that you may see.")

    @classmethod
    def default_pipeline(cls):
        Pipeline = Pool().get('crm.pipeline')
        if pipeline := Pipeline.main_pipeline():
            return pipeline.id

    @classmethod
    def default_open_deals(cls):
        Pipeline = Pool().get('crm.pipeline')
        if pipeline := Pipeline.main_pipeline():
            return pipeline.open_deals

    @fields.depends('pipeline')
    def on_change_pipeline(self):
        self.open_deals = self.pipeline.open_deals if self.pipeline else None


class PipelineBoard(Wizard):
    """CRM › Pipeline: the deals of a pipeline as cards in a column per
    stage, drawn by sao's board widget (crmkit/sao/custom.js)"""
    __name__ = 'crm.pipeline.board'
    start = StateView('crm.pipeline.board.start',
        'crm_kit_desk.pipeline_board_start_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])


def initials(name):
    "The initials of a person's name: 'Ana Ruiz' gives 'AR'"
    words = [w for w in name.split() if w[:1].isalnum()]
    return ''.join(w[0] for w in words[:2]).upper()
