# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Documents linked to activities, when crm_kit_activity is activated too."
from trytond.model import Index, Unique, fields
from trytond.pool import Pool, PoolMeta

from .document import DocumentsMixin


class DocumentLink(metaclass=PoolMeta):
    __name__ = 'crm.document.link'

    activity = fields.Many2One(
        'crm.activity', "Activity", ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints.append(
            ('activity_unique', Unique(t, t.document, t.activity),
                'crm_kit_document.msg_link_unique'))
        cls._sql_indexes.add(
            Index(t, (t.activity, Index.Equality()),
                where=t.activity != None))  # noqa: E711

    @classmethod
    def record_fields(cls):
        return super().record_fields() + ['activity']


class Activity(DocumentsMixin, metaclass=PoolMeta):
    __name__ = 'crm.activity'
    _document_link_field = 'activity'


class CustomerHistory(metaclass=PoolMeta):
    __name__ = 'crm.customer.history'

    @classmethod
    def _history_document_parties(cls):
        pool = Pool()
        Link = pool.get('crm.document.link')
        Activity = pool.get('crm.activity')
        link = Link.__table__()
        activity = Activity.__table__()
        return super()._history_document_parties() + [
            link.join(activity,
                condition=link.activity == activity.id).select(
                link.id.as_('link'), link.document.as_('document'),
                activity.party.as_('party')),
            ]
