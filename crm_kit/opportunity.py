# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt
from collections import defaultdict

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.modules.currency.fields import Monetary
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .cache import forget_cached
from .event import EventSource
from .list_read import ListRead
from .search import SearchIds
from .pipeline import OPEN_STATES, OPPORTUNITY_STATES
from .team import current_user_team

# The workflow method of sale.opportunity that reaches each state.
STATE_TRANSITIONS = {
    'lead': 'lead',
    'opportunity': 'opportunity',
    'converted': 'convert',
    'won': 'won',
    'lost': 'lost',
    'cancelled': 'cancel',
    }


class StageMoveError(ValidationError):
    pass


class QuoteError(ValidationError):
    pass


class SaleOpportunity(
        ListRead, SearchIds, EventSource, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'
    # What get_rec_name is made of (see ListRead)
    _rec_name_fields = ('number', 'reference')

    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='RESTRICT')
    stage = fields.Many2One(
        'crm.stage', "Stage", required=True, ondelete='RESTRICT',
        domain=[
            ('pipeline', '=', Eval('pipeline', -1)),
            ],
        help="Moving the stage moves the opportunity's state with it.")
    stage_color = fields.Function(
        fields.Char("Stage Colour"), 'on_change_with_stage_color')
    # The lists sort open deals by pipeline and stage, whose order lives in
    # other tables: kept here, one index gives a page without sorting every
    # visible open deal.
    stage_order = fields.Integer(
        "Stage Order", readonly=True,
        help="The place of the stage in the order of the pipelines and "
        "their stages.")
    stage_date = fields.DateTime(
        "In Stage Since", readonly=True,
        help="When the opportunity entered its current stage.")
    stage_logs = fields.One2Many(
        'crm.stage.log', 'opportunity', "Stage History", readonly=True,
        order=[('date', 'DESC'), ('id', 'DESC')])
    owner = fields.Many2One(
        'res.user', "Owner", ondelete='RESTRICT',
        help="The user responsible for the opportunity.")
    team = fields.Many2One('crm.team', "Team", ondelete='RESTRICT')
    channel = fields.Many2One(
        'crm.channel', "Channel", ondelete='RESTRICT',
        help="Where the lead came from.")
    expected_close_date = fields.Date(
        "Expected Closing Date",
        states={
            'readonly': Eval('state').in_(['won', 'lost', 'cancelled']),
            })
    lost_reason_type = fields.Many2One(
        'crm.lost_reason', "Lost Reason", ondelete='RESTRICT',
        states={
            'invisible': Eval('state') != 'lost',
            })
    amount_from_quote = fields.Boolean(
        "Amount from Quote",
        states={
            'readonly': Eval('state').in_(['won', 'lost', 'cancelled']),
            },
        help="The amount is the untaxed total of the latest sent quote.\n"
        "Untick it to enter the amount yourself.")
    quoted_amount = fields.Function(Monetary(
            "Quoted Amount", currency='currency', digits='currency',
            help="The untaxed total of the latest sent or accepted quote."),
        'get_quoted_amount')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.owner, Index.Range()), (t.state, Index.Equality())),
                Index(t, (t.team, Index.Range())),
                Index(t, (t.stage, Index.Range())),
                Index(t, (t.channel, Index.Range())),
                # The order of the Opportunities list (its action)
                Index(t,
                    (t.stage_order, Index.Range()),
                    (t.start_date, Index.Range(order='DESC')),
                    (t.id, Index.Range(order='DESC')),
                    where=t.state.in_(OPEN_STATES)),
                })
        cls._buttons.update({
                'create_quote': {
                    'invisible': ~Eval('state').in_(OPEN_STATES),
                    'depends': ['state'],
                    },
                'send_quote': {
                    'invisible': ~Eval('state').in_(
                        ['opportunity', 'converted']),
                    'readonly': ~Eval('sales'),
                    'depends': ['state', 'sales'],
                    },
                })
        # The quote is created by create_quote, which prices and taxes it;
        # the bare convert button would leave an empty draft sale.
        cls._buttons['convert']['invisible'] = True
        # The amount is the estimate until a quote is sent, then the
        # quote's unless the user takes it back.
        cls.amount.states = {
            'readonly': (Eval('state').in_(['won', 'lost', 'cancelled'])
                | (Bool(Eval('amount_from_quote'))
                    & (Eval('quoted_amount', None) != None))),  # noqa: E711
            }
        cls.amount.depends |= {'amount_from_quote', 'quoted_amount'}

    @classmethod
    def default_amount_from_quote(cls):
        return True

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        exists = table_h.column_exist('stage_order')
        amount_from_quote = table_h.column_exist('amount_from_quote')
        super().__register__(module)
        if not exists:
            cls.renumber_stage_order()
        if not amount_from_quote:
            # The amounts of existing deals follow their quotes from now on.
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update(
                    [table.amount_from_quote], [True]))

    @classmethod
    def renumber_stage_order(cls):
        """Keep each opportunity's stage_order as its stage's place, after
        stages or pipelines were added, removed or reordered"""
        pool = Pool()
        Stage = pool.get('crm.stage')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for stage_id, rank in Stage.list_ranks().items():
            cursor.execute(*table.update(
                    [table.stage_order], [rank],
                    where=(table.stage == stage_id)
                    & ((table.stage_order == Null)
                        | (table.stage_order != rank))))
        forget_cached(cls)

    @classmethod
    def default_pipeline(cls):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        pipeline = Pipeline.main_pipeline()
        if pipeline:
            return pipeline.id

    @classmethod
    def default_stage(cls):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        pipeline = Pipeline.main_pipeline()
        if pipeline:
            stage = pipeline.stage_for_state(cls.default_state())
            if stage:
                return stage.id

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_team(cls):
        return current_user_team()

    @fields.depends('pipeline', 'stage', 'state')
    def on_change_pipeline(self):
        if self.pipeline and (
                not self.stage or self.stage.pipeline != self.pipeline):
            self.stage = self.pipeline.stage_for_state(self.state or 'lead')

    @fields.depends('stage', 'conversion_probability')
    def on_change_stage(self):
        if self.stage:
            self.conversion_probability = self.stage.probability

    @fields.depends('stage')
    def on_change_with_stage_color(self, name=None):
        if self.stage:
            return self.stage.color

    @classmethod
    def owner_values(cls, owner, company=None):
        """What follows the owner of a deal: their team and their employee
        (when it works for the deal's company); the one place every entry
        (form, API, assignment rules, import) takes them from"""
        pool = Pool()
        User = pool.get('res.user')
        if owner is None:
            return {'owner': None, 'employee': None, 'team': None}
        if isinstance(owner, int):
            owner = User(owner)
        company = getattr(company, 'id', company)
        if company is None:
            company = Transaction().context.get('company')
        employee = owner.employee
        if employee and company and employee.company.id != company:
            employee = None
        return {
            'owner': owner.id,
            'employee': employee.id if employee else None,
            'team': owner.crm_team.id if owner.crm_team else None,
            }

    @fields.depends('owner', 'team', 'employee', 'company')
    def on_change_owner(self):
        if self.owner:
            values = self.owner_values(self.owner, self.company)
            if not self.team and values['team']:
                self.team = values['team']
            if values['employee']:
                self.employee = values['employee']

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree/field[@name="stage"]', 'visual',
                If(Eval('state') == 'won', 'success',
                    If(Eval('state').in_(['lost', 'cancelled']), 'muted',
                        ''))),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        Stage = pool.get('crm.stage')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if values.get('stage') and not values.get('pipeline'):
                values['pipeline'] = Stage(values['stage']).pipeline.id
            if not values.get('pipeline'):
                pipeline = Pipeline.main_pipeline()
                if pipeline:
                    values['pipeline'] = pipeline.id
            state = values.get('state') or cls.default_state()
            if values.get('stage'):
                # A stage given without a state decides the state.
                values.setdefault('state', Stage(values['stage']).state)
            elif values.get('pipeline'):
                stage = Pipeline(values['pipeline']).stage_for_state(state)
                if stage:
                    values['stage'] = stage.id
            if values.get('stage'):
                values.setdefault(
                    'conversion_probability',
                    Stage(values['stage']).probability)
                values['stage_order'] = Stage.list_rank(values['stage'])
            values.setdefault(
                'stage_date', values.get('create_date') or dt.datetime.now())
            if values.get('owner'):
                owner = cls.owner_values(
                    values['owner'], values.get('company'))
                if 'team' not in values and owner['team']:
                    values['team'] = owner['team']
                if not values.get('employee') and owner['employee']:
                    values['employee'] = owner['employee']
        elif mode == 'write' and 'stage' in values:
            values.setdefault('stage_date', dt.datetime.now())
            values['stage_order'] = Stage.list_rank(values['stage'])
            if values['stage']:
                values.setdefault(
                    'conversion_probability',
                    Stage(values['stage']).probability)
        return values

    @classmethod
    def check_modification(
            cls, mode, opportunities, values=None, external=False):
        pool = Pool()
        Stage = pool.get('crm.stage')
        super().check_modification(
            mode, opportunities, values=values, external=external)
        if mode == 'create':
            for opportunity in opportunities:
                if (opportunity.stage
                        and opportunity.stage.state != opportunity.state):
                    raise StageMoveError(gettext(
                            'crm_kit.msg_stage_state_mismatch',
                            stage=opportunity.stage.rec_name,
                            state=opportunity.state_label()))
        elif mode == 'write' and values.get('stage'):
            stage = Stage(values['stage'])
            for opportunity in opportunities:
                state = values.get('state', opportunity.state)
                cls.check_stage_move(opportunity, stage, state)

    def state_label(self):
        "The state as the user reads it, in their language"
        selection = self.fields_get(['state'])['state']['selection']
        return dict(selection).get(self.state, self.state)

    def check_stage_move(self, stage, state):
        "Raise when the opportunity can not move to stage"
        pipeline = self.pipeline
        if stage.pipeline != pipeline:
            raise StageMoveError(gettext(
                    'crm_kit.msg_stage_other_pipeline',
                    opportunity=self.rec_name,
                    stage=stage.rec_name,
                    pipeline=pipeline.rec_name))
        if not stage.active:
            raise StageMoveError(gettext(
                    'crm_kit.msg_stage_inactive',
                    opportunity=self.rec_name,
                    stage=stage.rec_name))
        if state != stage.state and (
                (state, stage.state) not in self._transitions):
            raise StageMoveError(gettext(
                    'crm_kit.msg_stage_move_invalid',
                    opportunity=self.rec_name,
                    from_stage=self.stage.rec_name,
                    stage=stage.rec_name,
                    state=self.state_label()))
        if (stage.state == 'converted' and state != 'converted'
                and not self.sales):
            raise StageMoveError(gettext(
                    'crm_kit.msg_stage_needs_quote',
                    opportunity=self.rec_name,
                    stage=stage.rec_name))

    @classmethod
    def on_write(cls, opportunities, values):
        callbacks = super().on_write(opportunities, values)
        if {'stage', 'state'} & values.keys():
            # When the stage follows a state change, the state it came
            # from is the one before that change.
            previous = Transaction().context.get('_crm_previous_states', {})
            before = {o.id: (o.stage, previous.get(o.id, o.state))
                for o in opportunities}

            def follow():
                cls._follow_stage_and_state(cls.browse(before), before)
            callbacks.append(follow)
        return callbacks

    @classmethod
    def _follow_stage_and_state(cls, opportunities, before):
        """Keep stage and state consistent after a write and log the
        stage changes"""
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        logs, by_state, by_stage = [], {}, {}
        for opportunity in opportunities:
            old_stage, old_state = before[opportunity.id]
            if opportunity.stage != old_stage:
                logs.append(StageLog.from_move(
                        opportunity, old_stage, old_state))
            if opportunity.stage.state == opportunity.state:
                continue
            if opportunity.stage != old_stage:
                # The stage was moved: take the state along.
                by_state.setdefault(
                    opportunity.stage.state, []).append(opportunity)
            else:
                # The state moved (button, quote, sale): follow with the
                # pipeline's stage for it.
                stage = opportunity.pipeline.stage_for_state(
                    opportunity.state)
                if stage:
                    by_stage.setdefault(stage, []).append(opportunity)
        if logs:
            StageLog.save(logs)
        for stage, records in by_stage.items():
            with Transaction().set_context(_crm_previous_states={
                        o.id: before[o.id][1] for o in records}):
                cls.write(records, {'stage': stage.id})
        for state, records in by_state.items():
            getattr(cls, STATE_TRANSITIONS[state])(records)

    @classmethod
    def on_modification(cls, mode, opportunities, field_names=None):
        pool = Pool()
        StageLog = pool.get('crm.stage.log')
        super().on_modification(mode, opportunities, field_names=field_names)
        if mode == 'create':
            StageLog.save([
                    StageLog.from_move(o, None, None) for o in opportunities])

    @classmethod
    def _bulk_insert_values(cls):
        """Column values modules keep on every new opportunity, for the
        rows inserted in bulk without create (the lead import)"""
        return {}

    @classmethod
    def changed_since_created(cls, opportunities):
        """{id: why} of the opportunities somebody worked on since they
        were created — changed, quoted, given notes or files — which
        undoing their creation (an import's revert) keeps; modules add
        what they know"""
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Note = pool.get('ir.note')
        Sale = pool.get('sale.sale')
        lang = pool.get('ir.lang').get()
        result = {}
        for opportunity in opportunities:
            if opportunity.write_date:
                result[opportunity.id] = gettext(
                    'crm_kit.msg_opportunity_changed_since',
                    date=lang.strftime(opportunity.write_date),
                    user=(opportunity.write_uid.rec_name
                        if opportunity.write_uid else '-'))
        resources = [str(o) for o in opportunities if o.id not in result]
        for Model, message in [
                (Sale, 'crm_kit.msg_opportunity_has_quotes'),
                (Attachment, 'crm_kit.msg_opportunity_has_attachments'),
                (Note, 'crm_kit.msg_opportunity_has_notes'),
                ]:
            field = 'origin' if Model is Sale else 'resource'
            for sub in grouped_slice(resources, 1000):
                for record in Model.search([(field, 'in', list(sub))]):
                    result.setdefault(
                        getattr(record, field).id, gettext(message))
        return result

    @classmethod
    def delete_created(cls, opportunities):
        """Delete opportunities as if they had never been created: no
        cancelling first (nobody worked on them, so nobody is told of a
        cancellation), only their deletion"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [o.id for o in opportunities]
        for sub in grouped_slice(ids, 1000):
            cursor.execute(*table.update(
                    [table.state], ['cancelled'],
                    where=table.id.in_(list(sub))))
        forget_cached(cls, ids)
        cls.delete(cls.browse(ids))

    @classmethod
    def fields_to_merge(cls):
        """The (model, field) of the records that belong to an opportunity:
        those of merged leads go to the lead they are merged into (modules
        add theirs)"""
        return [
            ('sale.opportunity.line', 'opportunity'),
            ('crm.stage.log', 'opportunity'),
            ('sale.sale', 'origin'),
            ('ir.attachment', 'resource'),
            ('ir.note', 'resource'),
            ('ir.email', 'resource'),
            ('ir.chat.channel', 'resource'),
            ]

    def latest_quote(self):
        """The latest quote the customer received: sent, or accepted
        without being sent"""
        return _latest_quote(self.sales)

    @classmethod
    def get_quoted_amount(cls, opportunities, name):
        "The untaxed amount of each one's latest quote, in its currency"
        pool = Pool()
        Sale = pool.get('sale.sale')
        Currency = pool.get('currency.currency')
        # The quotes of a list's page searched at once, not deal by deal
        sales = defaultdict(list)
        for sub in grouped_slice(opportunities, 1000):
            for sale in Sale.search([
                        ('origin', 'in', [str(o) for o in sub]),
                        ], order=[]):
                sales[sale.origin.id].append(sale)
        amounts = {}
        for opportunity in opportunities:
            quote = _latest_quote(sales[opportunity.id])
            amounts[opportunity.id] = Currency.compute(
                quote.currency, quote.untaxed_amount,
                opportunity.currency) if quote else None
        return amounts

    @property
    def sale_amount(self):
        # Not the sum of every quote (revisions and alternatives would add
        # up): the latest the customer received, unless the user took the
        # amount.
        if not self.amount_from_quote:
            return self.amount
        amount = self.quoted_amount
        return self.amount if amount is None else amount

    @fields.depends('amount_from_quote', 'quoted_amount')
    def on_change_amount_from_quote(self):
        if self.amount_from_quote and self.quoted_amount is not None:
            self.amount = self.quoted_amount

    @fields.depends('amount', 'quoted_amount')
    def on_change_amount(self):
        if self.quoted_amount is not None and self.amount != self.quoted_amount:
            self.amount_from_quote = False

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        for records, values in zip(actions, actions):
            if ('amount' in values) == ('amount_from_quote' in values):
                args.extend((records, values))
                continue
            # An amount written alone is the user's once a quote was
            # received; ticking the box back gives the quote's.
            by_values = defaultdict(list)
            for record in records:
                quoted = record.quoted_amount
                extra = ()
                if quoted is not None:
                    if 'amount' in values:
                        if values['amount'] != quoted:
                            extra = (('amount_from_quote', False),)
                    elif values['amount_from_quote']:
                        extra = (('amount', quoted),)
                by_values[extra].append(record)
            for extra, grouped in by_values.items():
                args.extend((grouped, {**values, **dict(extra)}))
        super().write(*args)

    @classmethod
    def copy(cls, opportunities, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('stage_logs')
        default.setdefault('stage')
        default.setdefault('stage_date')
        default.setdefault('stage_order')
        return super().copy(opportunities, default=default)

    @classmethod
    def won(cls, opportunities):
        pool = Pool()
        Party = pool.get('party.party')
        super().won(opportunities)
        parties = {o.party for o in opportunities
            if o.state == 'won' and o.party
            and o.party.crm_lifecycle != 'customer'}
        if parties:
            with without_check_access():
                Party.write(list(parties), {'crm_lifecycle': 'customer'})

    @classmethod
    def process(cls, opportunities):
        if Transaction().context.get('_crm_quote_prepared'):
            # A quote that is only prepared does not submit the offer:
            # sending it does (see send_quote).
            opportunities = [o for o in opportunities
                if o.is_won() or o.is_lost()]
        # A prepared quote accepted or refused without being sent still
        # passes through "converted", as the workflow requires.
        to_convert = [o for o in opportunities
            if o.state in {'lead', 'opportunity'}
            and (o.is_won() or o.is_lost())]
        if to_convert:
            cls.convert(to_convert)
        super().process(cls.browse(opportunities))

    def get_quote_sale(self):
        "Return the prepared sale for the quote"
        if not self.party:
            raise QuoteError(gettext(
                    'crm_kit.msg_quote_no_customer',
                    opportunity=self.rec_name))
        lines = [line for line in self.lines if line.product]
        if not lines:
            raise QuoteError(gettext(
                    'crm_kit.msg_quote_no_lines',
                    opportunity=self.rec_name))
        sale = self.create_sale()
        sale.owner = self.owner
        sale.team = self.team
        # The opportunity's comment is the team's, not the customer's: the
        # quote's notes are printed.
        sale.comment = None
        if not sale.invoice_address or not sale.shipment_address:
            raise QuoteError(gettext(
                    'crm_kit.msg_quote_no_address',
                    opportunity=self.rec_name,
                    party=self.party.rec_name))
        for line in sale.lines:
            if line.unit_price is None:
                raise QuoteError(gettext(
                        'crm_kit.msg_quote_no_price',
                        opportunity=self.rec_name,
                        product=line.product.rec_name))
        return sale

    @classmethod
    @ModelView.button_action('sale.act_sale_form')
    def create_quote(cls, opportunities):
        "Create the priced quote (a sale in quotation) of each opportunity"
        pool = Pool()
        Sale = pool.get('sale.sale')
        sales = [o.get_quote_sale() for o in opportunities]
        Sale.save(sales)
        for sale in sales:
            sale.origin.copy_resources_to(sale)
        with Transaction().set_context(_crm_quote_prepared=True):
            Sale.quote(sales)
        return {
            'res_id': [s.id for s in sales],
            }

    @classmethod
    @ModelView.button
    def send_quote(cls, opportunities):
        "E-mail the latest quote of each opportunity to its customer"
        pool = Pool()
        Sale = pool.get('sale.sale')
        sales = []
        for opportunity in opportunities:
            quotes = [s for s in opportunity.sales
                if s.state in {'draft', 'quotation'}]
            if not quotes:
                raise QuoteError(gettext(
                        'crm_kit.msg_quote_nothing_to_send',
                        opportunity=opportunity.rec_name))
            sales.append(max(quotes, key=lambda s: s.id))
        Sale.send_quote(sales)


class StageLog(ModelSQL, ModelView):
    "A move of an opportunity from one stage to another"
    __name__ = 'crm.stage.log'

    opportunity = fields.Many2One(
        'sale.opportunity', "Opportunity", required=True, ondelete='CASCADE')
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='RESTRICT')
    from_stage = fields.Many2One(
        'crm.stage', "From Stage", ondelete='RESTRICT')
    to_stage = fields.Many2One(
        'crm.stage', "To Stage", required=True, ondelete='RESTRICT')
    from_state = fields.Selection(
        [(None, '')] + OPPORTUNITY_STATES, "From State", sort=False)
    to_state = fields.Selection(
        OPPORTUNITY_STATES, "To State", required=True, sort=False)
    user = fields.Many2One('res.user', "User", ondelete='SET NULL')
    date = fields.DateTime("Date", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__access__.add('opportunity')
        cls._sql_indexes.update({
                Index(t, (t.opportunity, Index.Range()),
                    (t.date, Index.Range())),
                Index(t, (t.date, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def from_move(cls, opportunity, from_stage, from_state):
        transaction = Transaction()
        return cls(
            opportunity=opportunity,
            pipeline=opportunity.pipeline,
            from_stage=from_stage,
            to_stage=opportunity.stage,
            from_state=from_state,
            to_state=opportunity.stage.state,
            # The effective user, not root, when a button runs as root.
            user=transaction.context.get('user') or transaction.user or None,
            date=opportunity.stage_date or dt.datetime.now())

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(
            mode, logs, values=values, external=external)
        # The log is the audit trail reports compute durations from.
        if external and mode in {'write', 'delete'}:
            raise AccessError(gettext('crm_kit.msg_stage_log_readonly'))


def _latest_quote(sales):
    """The latest of sales the customer received: sent, or accepted without
    being sent"""
    pool = Pool()
    Sale = pool.get('sale.sale')
    quotes = [s for s in sales
        if s.state in Sale._crm_accepted_states
        or (s.sent_date and s.state != 'cancelled')]
    if quotes:
        return max(quotes, key=lambda s: (s.sent_date is not None,
                s.sent_date or dt.datetime.min, s.id))
