# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The E-mails tab of customers and opportunities: the mail exchanged
with them, newest first, and the dates of the last mail each way, which
automation and alert rules watch ("the customer replied", "no answer for
five days")."""
from sql import Literal, Union
from sql.aggregate import Min

from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class EmailsMixin:
    "An E-mails tab: the mail linked to the record"
    __slots__ = ()

    crm_emails = fields.Many2Many(
        'crm.email.link', None, 'email', "E-mails",
        order=[('email.date', 'DESC NULLS LAST'), ('email.id', 'DESC')],
        help="The mail exchanged about this record. Removing one unlinks "
        "it; the mail stays.")
    last_email_received = fields.DateTime(
        "Last E-mail Received", readonly=True)
    last_email_sent = fields.DateTime("Last E-mail Sent", readonly=True)

    _email_link_field = None

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.crm_emails.origin = cls._email_link_field
        cls._buttons.update({
                'crm_write_email': {
                    'icon': 'tryton-email',
                    },
                })

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_emails', None)
        default.setdefault('last_email_received', None)
        default.setdefault('last_email_sent', None)
        return super().copy(records, default=default)


class SaleOpportunity(EmailsMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'
    _email_link_field = 'opportunity'

    @classmethod
    @ModelView.button_action('crm_kit_email.wizard_compose_opportunity')
    def crm_write_email(cls, opportunities):
        pass

    @classmethod
    def fields_to_merge(cls):
        return super().fields_to_merge() + [('crm.email.link', 'opportunity')]


class Party(EmailsMixin, metaclass=PoolMeta):
    __name__ = 'party.party'
    _email_link_field = 'party'

    @classmethod
    @ModelView.button_action('crm_kit_email.wizard_compose_party')
    def crm_write_email(cls, parties):
        pass


class CustomerHistory(metaclass=PoolMeta):
    "The mail exchanged with a customer or about its opportunities"
    __name__ = 'crm.customer.history'

    email = fields.Many2One('crm.email', "E-mail")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('email', "E-mail"))

    @classmethod
    def _history_columns(cls):
        return super()._history_columns() + ['email']

    @classmethod
    def _history_queries(cls):
        pool = Pool()
        Email = pool.get('crm.email')
        Link = pool.get('crm.email.link')
        Opportunity = pool.get('sale.opportunity')
        email = Email.__table__()
        link = Link.__table__()
        opportunity = Opportunity.__table__()
        queries = super()._history_queries()
        visible = cls._history_visible(email, 'crm.email')
        company = Transaction().context.get('company', -1)
        union = Union(
            link.select(link.id.as_('link'), link.email.as_('email'),
                link.party.as_('party')),
            link.join(opportunity,
                condition=link.opportunity == opportunity.id).select(
                link.id.as_('link'), link.email.as_('email'),
                opportunity.party.as_('party')))
        # One event per mail and customer, however many of the
        # customer's records it is linked to.
        parties = union.select(
            Min(union.link).as_('id'),
            union.email.as_('email'),
            union.party.as_('party'),
            where=union.party != None,  # noqa: E711
            group_by=[union.email, union.party])
        queries.append(email.join(parties,
                condition=parties.email == email.id).select(
                parties.id.as_('id'),
                parties.party.as_('party'),
                email.date.as_('date'),
                Literal('email').as_('kind'),
                email.sent_by.as_('user'),
                email.id.as_('email'),
                where=(email.company == company) & visible))
        return queries
