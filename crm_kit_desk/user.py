# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.pool import Pool, PoolMeta


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    @classmethod
    def _get_preferences(cls, user, context_only=False):
        """A CRM user who chose no actions to run at login lands on their
        day (CRM › Home) and the pipeline board, the board in front"""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        preferences = super()._get_preferences(
            user, context_only=context_only)
        if (not context_only and not preferences.get('actions')
                and cls._is_crm_user()):
            preferences['actions'] = [
                ModelData.get_id('crm_kit_desk', 'act_home'),
                ModelData.get_id('crm_kit_desk', 'wizard_pipeline_board'),
                ]
        return preferences

    @classmethod
    def _is_crm_user(cls):
        "Whether the current user is a rep (managers and CRM admins are)"
        ModelData = Pool().get('ir.model.data')
        return ModelData.get_id('crm_kit', 'group_crm_rep') in cls.get_groups()
