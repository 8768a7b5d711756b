# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from sql import Literal, Union
from sql.aggregate import Min

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .document import DocumentsMixin


class Party(DocumentsMixin, metaclass=PoolMeta):
    __name__ = 'party.party'
    _document_link_field = 'party'

    crm_opportunities = fields.One2Many(
        'sale.opportunity', 'party', "Opportunities", readonly=True)
    crm_all_documents = fields.Function(
        fields.Many2Many('crm.document', None, None, "All Documents",
            help="The documents of the customer, of its opportunities, "
            "quotes and activities."),
        'get_crm_all_documents')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # A customer is shared by the companies: any of the user's.
        cls.crm_documents.domain = []

    @classmethod
    def get_crm_all_documents(cls, parties, name):
        pool = Pool()
        Document = pool.get('crm.document')
        result = {}
        for party in parties:
            result[party.id] = [d.id for d in Document.search(
                    [('customers', '=', party.id)])]
        return result

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_opportunities', None)
        return super().copy(parties, default=default)


class CustomerHistory(metaclass=PoolMeta):
    "The documents linked to a customer or its records, when they came"
    __name__ = 'crm.customer.history'

    document = fields.Many2One('crm.document', "Document")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('document', "Document"))

    @classmethod
    def _history_columns(cls):
        return super()._history_columns() + ['document']

    @classmethod
    def _history_queries(cls):
        pool = Pool()
        Document = pool.get('crm.document')
        document = Document.__table__()
        queries = super()._history_queries()
        visible = cls._history_visible(document, 'crm.document')
        company = Transaction().context.get('company', -1)
        union = None
        for query in cls._history_document_parties():
            union = query if union is None else Union(union, query)
        # One event per document and customer, however many records of
        # the customer it is linked to; its id is the first such link's.
        parties = union.select(
            Min(union.link).as_('id'),
            union.document.as_('document'),
            union.party.as_('party'),
            where=union.party != None,  # noqa: E711
            group_by=[union.document, union.party])
        queries.append(document.join(parties,
                condition=parties.document == document.id).select(
                parties.id.as_('id'),
                parties.party.as_('party'),
                document.create_date.as_('date'),
                Literal('document').as_('kind'),
                document.owner.as_('user'),
                document.id.as_('document'),
                where=(document.company == company) & visible))
        return queries

    @classmethod
    def _history_document_parties(cls):
        "Queries of (link, document, party) for each kind of linked record"
        pool = Pool()
        Link = pool.get('crm.document.link')
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        link = Link.__table__()
        opportunity = Opportunity.__table__()
        sale = Sale.__table__()
        return [
            link.select(
                link.id.as_('link'), link.document.as_('document'),
                link.party.as_('party')),
            link.join(opportunity,
                condition=link.opportunity == opportunity.id).select(
                link.id.as_('link'), link.document.as_('document'),
                opportunity.party.as_('party')),
            link.join(sale, condition=link.sale == sale.id).select(
                link.id.as_('link'), link.document.as_('document'),
                sale.party.as_('party')),
            ]
