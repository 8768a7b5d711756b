# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

# The states of sale.opportunity, in the order a deal moves through them.
OPPORTUNITY_STATES = [
    ('lead', "Lead"),
    ('opportunity', "Opportunity"),
    ('converted', "Converted"),
    ('won', "Won"),
    ('lost', "Lost"),
    ('cancelled', "Cancelled"),
    ]
# The states of a deal still being worked on.
OPEN_STATES = ['lead', 'opportunity', 'converted']


class Pipeline(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.pipeline'

    name = fields.Char("Name", required=True, translate=True)
    stages = fields.One2Many('crm.stage', 'pipeline', "Stages")
    description = fields.Text("Description", translate=True)

    # Every new opportunity asks for both; without a cache they were more
    # than half the time of creating a lead.
    _main_cache = Cache('crm.pipeline.main_pipeline', context=False)
    _stage_cache = Cache('crm.pipeline.stage_for_state', context=False)

    @classmethod
    def main_pipeline(cls):
        "Return the pipeline new opportunities go to"
        pipeline_id = cls._main_cache.get('main', -1)
        if pipeline_id == -1:
            pipelines = cls.search([], limit=1)
            pipeline_id = pipelines[0].id if pipelines else None
            cls._main_cache.set('main', pipeline_id)
        if pipeline_id is not None:
            return cls(pipeline_id)

    def stage_for_state(self, state):
        "Return the first stage of the pipeline that implies state"
        pool = Pool()
        Stage = pool.get('crm.stage')
        key = (self.id, state)
        stage_id = self._stage_cache.get(key, -1)
        if stage_id == -1:
            stage_id = next((s.id for s in self.stages
                    if s.active and s.state == state), None)
            self._stage_cache.set(key, stage_id)
        if stage_id is not None:
            return Stage(stage_id)

    @classmethod
    def clear_stage_cache(cls):
        cls._main_cache.clear()
        cls._stage_cache.clear()

    @classmethod
    def on_modification(cls, mode, pipelines, field_names=None):
        pool = Pool()
        Stage = pool.get('crm.stage')
        super().on_modification(mode, pipelines, field_names=field_names)
        cls.clear_stage_cache()
        if mode != 'write' or 'sequence' in field_names:
            Stage.reorder()

    @classmethod
    def validate_fields(cls, pipelines, field_names):
        super().validate_fields(pipelines, field_names)
        cls.check_lead_stage(pipelines, field_names)

    @classmethod
    def check_lead_stage(cls, pipelines, field_names=None):
        if field_names and not (field_names & {'stages', 'active'}):
            return
        for pipeline in pipelines:
            if pipeline.active and pipeline.stages and not any(
                    s.state == 'lead' for s in pipeline.stages):
                raise ValidationError(gettext(
                        'crm_kit.msg_pipeline_without_lead_stage',
                        pipeline=pipeline.rec_name))


class Stage(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.stage'

    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True, translate=True)
    state = fields.Selection(
        OPPORTUNITY_STATES, "Opportunity State", required=True, sort=False,
        help="The state of the opportunity while it is in this stage.")
    probability = fields.Float(
        "Probability", digits=(1, 4), required=True,
        domain=[
            ('probability', '>=', 0),
            ('probability', '<=', 1),
            ],
        help="The chance of winning an opportunity in this stage, "
        "used for weighted pipeline values.")
    color = fields.Char(
        "Colour",
        help="A CSS colour (name or #rrggbb) used to show the stage.")
    closed = fields.Function(
        fields.Boolean("Closed"), 'on_change_with_closed',
        searcher='search_closed')

    _list_ranks_cache = Cache('crm.stage.list_ranks', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('pipeline')
        cls._order = [
            ('pipeline', 'ASC'), ('sequence', 'ASC NULLS FIRST'),
            ('id', 'ASC')]

    @classmethod
    def default_state(cls):
        return 'opportunity'

    @classmethod
    def default_probability(cls):
        return 0.5

    @fields.depends('state')
    def on_change_with_closed(self, name=None):
        return self.state in {'won', 'lost', 'cancelled'}

    @classmethod
    def search_closed(cls, name, clause):
        _, operator, value = clause
        closed = ['won', 'lost', 'cancelled']
        if (operator == '=') == bool(value):
            return [('state', 'in', closed)]
        return [('state', 'not in', closed)]

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def validate_fields(cls, stages, field_names):
        super().validate_fields(stages, field_names)
        cls.check_color(stages, field_names)

    @classmethod
    def check_color(cls, stages, field_names=None):
        if field_names and 'color' not in field_names:
            return
        for stage in stages:
            color = (stage.color or '').strip()
            if color and not (color.isalpha() or (
                        color.startswith('#') and len(color) in {4, 7}
                        and all(c in '0123456789abcdefABCDEF'
                            for c in color[1:]))):
                raise ValidationError(gettext(
                        'crm_kit.msg_stage_invalid_color',
                        stage=stage.rec_name, color=stage.color))

    @classmethod
    def check_modification(cls, mode, stages, values=None, external=False):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        super().check_modification(
            mode, stages, values=values, external=external)
        if mode == 'delete' or (
                mode == 'write' and {'state', 'pipeline'} & set(values)):
            # Changing what a used stage means would silently rewrite
            # the history that reports read from the stage log.
            with without_check_access():
                used = Opportunity.search([
                        ('stage', 'in', [s.id for s in stages]),
                        ], limit=1)
            if used:
                opportunity, = used
                msg = ('crm_kit.msg_stage_delete_used'
                    if mode == 'delete'
                    else 'crm_kit.msg_stage_change_used')
                raise ValidationError(gettext(
                        msg, stage=opportunity.stage.rec_name,
                        opportunity=opportunity.rec_name))

    @classmethod
    def on_modification(cls, mode, stages, field_names=None):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        super().on_modification(mode, stages, field_names=field_names)
        Pipeline.clear_stage_cache()
        if mode != 'write' or {'sequence', 'pipeline'} & field_names:
            cls.reorder()

    @classmethod
    def list_ranks(cls):
        """{stage id: its place in the order of the pipelines and their
        stages} (pipeline's sequence, then the stage's, empty ones last),
        cached: every new or moved opportunity asks"""
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        ranks = cls._list_ranks_cache.get(None)
        if ranks is None:
            stage, pipeline = cls.__table__(), Pipeline.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*stage.join(pipeline,
                    condition=stage.pipeline == pipeline.id).select(
                    stage.id, pipeline.sequence, pipeline.id, stage.sequence))

            def key(row):
                id_, pipeline_sequence, pipeline_id, sequence = row
                return (pipeline_sequence is None, pipeline_sequence or 0,
                    pipeline_id, sequence is None, sequence or 0, id_)
            ranks = {row[0]: rank for rank, row in enumerate(
                    sorted(cursor, key=key))}
            cls._list_ranks_cache.set(None, ranks)
        return ranks

    @classmethod
    def list_rank(cls, stage):
        "The place of stage (a record or an id) in list_ranks"
        if stage is None:
            return None
        return cls.list_ranks().get(int(stage))

    @classmethod
    def reorder(cls):
        "Give the opportunities the stage order of the stages as they are"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        cls._list_ranks_cache.clear()
        Opportunity.renumber_stage_order()
