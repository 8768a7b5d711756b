# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.sendmail import get_smtp_server
from trytond.transaction import Transaction, without_check_access

from .event import EventSource
from .team import current_user_team


class SMTPUnavailableError(ValidationError):
    pass


class QuoteRevisionError(AccessError):
    pass


class QuoteExpiredError(ValidationError):
    pass


# A new quote is valid for this long unless the configuration says other.
DEFAULT_QUOTATION_VALIDITY = dt.timedelta(days=30)


def check_smtp_server():
    "Raise a translated error when the configured SMTP server can't be used"
    uri = config.get('email', 'uri')
    try:
        server = get_smtp_server(strict=True)
    except Exception as exception:
        raise SMTPUnavailableError(gettext(
                'crm_kit.msg_smtp_unavailable',
                server=_display_uri(uri), error=str(exception))
            ) from exception
    if server is None:
        raise SMTPUnavailableError(gettext(
                'crm_kit.msg_smtp_unavailable',
                server=_display_uri(uri), error=''))
    server.quit()


def _display_uri(uri):
    "The SMTP URI without its credentials, to show in errors"
    parsed = config.parse_uri(uri)
    return f'{parsed.scheme}://{parsed.hostname or ""}:{parsed.port or ""}'


class Sale(EventSource, metaclass=PoolMeta):
    __name__ = 'sale.sale'
    # The customer accepted the quote.
    _crm_accepted_states = {'confirmed', 'processing', 'done'}

    owner = fields.Many2One(
        'res.user', "Owner", ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'draft',
            },
        help="The user responsible for the quote.")
    team = fields.Many2One(
        'crm.team', "Team", ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'draft',
            })
    sent_date = fields.DateTime(
        "Sent On", readonly=True,
        help="When the quote was last e-mailed to the customer.")
    # A sent quote is never changed: it is revised into a new version and
    # the sent one is kept, cancelled, as the customer received it.
    revision = fields.Integer(
        "Version", readonly=True,
        help="The version of the quote: a sent quote that is changed "
        "becomes a new version.")
    revised_from = fields.Many2One(
        'sale.sale', "Previous Version", readonly=True, ondelete='RESTRICT')
    revisions = fields.One2Many(
        'sale.sale', 'revised_from', "Revisions", readonly=True)
    next_version = fields.Function(
        fields.Many2One('sale.sale', "Next Version"), 'get_next_version')
    quote_language = fields.Function(
        fields.Char("Quote Language"), 'get_quote_language')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.owner, Index.Range())))
        cls._buttons.update({
                'send_quote': {
                    'invisible': ~Eval('state').in_(['draft', 'quotation']),
                    'depends': ['state'],
                    },
                'revise': {
                    'invisible': ((Eval('state') != 'quotation')
                        | ~Eval('sent_date')),
                    'depends': ['state', 'sent_date'],
                    },
                })
        # A sent quote is revised instead, a replaced version stays as it
        # was.
        cls._buttons['draft']['invisible'] |= (
            ((Eval('state') == 'quotation') & Bool(Eval('sent_date')))
            | Bool(Eval('next_version')))
        cls._buttons['draft']['depends'] = list(
            set(cls._buttons['draft'].get('depends', []))
            | {'sent_date', 'next_version'})

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        revision = table_h.column_exist('revision')
        super().__register__(module)
        if not revision:
            # The quotes made before versions are their first.
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update([table.revision], [1]))

    @classmethod
    def default_revision(cls):
        return 1

    @classmethod
    def crm_list_price(cls, line, list_price):
        """The SQL of the price a quote line (table line) is discounted
        from, for the reports; list_price is the table of the product's"""
        return list_price.list_price

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_team(cls):
        return current_user_team()

    @classmethod
    def copy(cls, sales, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('owner', cls.default_owner())
        default.setdefault('sent_date')
        default.setdefault('revision', 1)
        default.setdefault('revised_from')
        default.setdefault('revisions')
        return super().copy(sales, default=default)

    def get_quote_language(self, name=None):
        """The language the customer reads: the contact's, the customer's,
        else the company's"""
        pool = Pool()
        Configuration = pool.get('ir.configuration')
        for lang in [
                self.contact.language if self.contact else None,
                self.party.lang if self.party else None,
                self.company.party.lang if self.company else None]:
            if lang:
                return lang.code
        return Configuration.get_language()

    def get_next_version(self, name):
        return self.revisions[0].id if self.revisions else None

    @property
    def first_version(self):
        sale = self
        while sale.revised_from:
            sale = sale.revised_from
        return sale

    @classmethod
    def draft(cls, sales):
        for sale in sales:
            if sale.revisions or (sale.state == 'quotation'
                    and sale.sent_date):
                raise QuoteRevisionError(gettext(
                        'crm_kit.msg_quote_sent_revise',
                        sale=sale.rec_name))
        super().draft(sales)

    @classmethod
    @ModelView.button_action('sale.act_sale_form')
    def revise(cls, sales):
        """Make a new version, in draft, of each sent quote; the sent one
        is cancelled and kept as it was"""
        defaults = []
        for sale in sales:
            if sale.state != 'quotation' or not sale.sent_date:
                raise QuoteRevisionError(gettext(
                        'crm_kit.msg_quote_revise_not_sent',
                        sale=sale.rec_name))
            revision = sale.revision + 1
            defaults.append({
                    'number': f'{sale.first_version.number}-{revision}',
                    'revision': revision,
                    'revised_from': sale.id,
                    'owner': sale.owner.id if sale.owner else None,
                    'team': sale.team.id if sale.team else None,
                    'quotation_validity': sale.quotation_validity,
                    })
        new = []
        for sale, default in zip(sales, defaults):
            new.extend(cls.copy([sale], default=default))
        # The new version exists before the sent one is cancelled: the
        # opportunity is not lost meanwhile.
        cls.cancel(sales)
        return {
            'res_id': [s.id for s in new],
            }

    @classmethod
    def confirm(cls, sales):
        pool = Pool()
        Date = pool.get('ir.date')
        Lang = pool.get('ir.lang')
        for sale in sales:
            with Transaction().set_context(company=sale.company.id):
                today = Date.today()
            expire = sale.quotation_expire
            if (sale.state == 'quotation' and expire
                    and (sale.sale_date or today) > expire):
                raise QuoteExpiredError(gettext(
                        'crm_kit.msg_quote_expired',
                        sale=sale.rec_name,
                        date=Lang.get().strftime(expire)))
        super().confirm(sales)

    @classmethod
    def cancel_expired_quotation(cls):
        """Cancel the expired quotations but the opportunities': a deal is
        not lost because its quote expired, its owner is told (the Quote
        expiring rule and alert) and decides"""
        pool = Pool()
        Date = pool.get('ir.date')
        sales = cls.search([
                ('state', '=', 'quotation'),
                ('quotation_expire', '<', Date.today()),
                ('company', '=', Transaction().context.get('company', -1)),
                ['OR',
                    ('origin', '=', None),
                    ('origin', 'not like', 'sale.opportunity,%'),
                    ],
                ])
        cls.cancel(sales)

    def get_quote_email(self):
        "Return the values of the quote e-mail from its template"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        EmailTemplate = pool.get('ir.email.template')
        template = EmailTemplate(
            ModelData.get_id('crm_kit', 'email_template_quote'))
        language = self.quote_language
        with Transaction().set_context(language=language):
            template = EmailTemplate(template.id)
            values = template.get(self)
        if not values.get('to'):
            raise ValidationError(gettext(
                    'crm_kit.msg_quote_no_email',
                    sale=self.rec_name, party=self.party.rec_name))
        return values

    @classmethod
    @ModelView.button
    def send_quote(cls, sales):
        """E-mail each quote with its report to the customer; the
        opportunity it comes from moves to "Offer submitted"."""
        pool = Pool()
        Email = pool.get('ir.email')
        Opportunity = pool.get('sale.opportunity')
        emails = [s.get_quote_email() for s in sales]
        check_smtp_server()
        drafts = [s for s in sales if s.state == 'draft']
        if drafts:
            cls.quote(drafts)
        for sale, values in zip(sales, emails):
            Email.send(
                to=', '.join(values['to']),
                cc=', '.join(values.get('cc', [])),
                bcc=', '.join(values.get('bcc', [])),
                subject=values.get('subject', ''),
                body=values.get('body', ''),
                reports=values.get('reports'),
                record=(cls.__name__, sale.id))
        cls.write(sales, {'sent_date': dt.datetime.now()})
        opportunities = {s.origin for s in cls.browse(sales)
            if isinstance(s.origin, Opportunity)}
        with without_check_access():
            Opportunity.process(Opportunity.browse(opportunities))


class Configuration(metaclass=PoolMeta):
    __name__ = 'sale.configuration'

    @classmethod
    def default_sale_quotation_validity(cls, **pattern):
        return DEFAULT_QUOTATION_VALIDITY
