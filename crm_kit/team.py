# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.transaction import Transaction


def clear_rule_cache():
    "Who a manager sees follows team membership at once"
    Pool().get('ir.rule')._domain_get_cache.clear()


def current_user_team():
    "The id of the current user's team: the default of new deals and quotes"
    User = Pool().get('res.user')
    if user := Transaction().user:
        if team := User(user).crm_team:
            return team.id


class Team(DeactivableMixin, ModelSQL, ModelView):
    "A sales team: a manager and the reps they lead"
    __name__ = 'crm.team'

    name = fields.Char("Name", required=True, translate=True)
    manager = fields.Many2One(
        'res.user', "Manager", ondelete='RESTRICT',
        help="Sees and edits the opportunities and quotes of the team.")
    members = fields.Many2Many(
        'crm.team-res.user', 'team', 'user', "Members")


class TeamMember(ModelSQL):
    __name__ = 'crm.team-res.user'

    team = fields.Many2One(
        'crm.team', "Team", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('team_user_unique', Unique(t, t.team, t.user),
                'crm_kit.msg_team_member_unique'),
            ]

    @classmethod
    def on_modification(cls, mode, members, field_names=None):
        super().on_modification(mode, members, field_names=field_names)
        clear_rule_cache()
