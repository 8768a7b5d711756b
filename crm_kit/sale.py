# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import trytond.config as config
from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.sendmail import get_smtp_server
from trytond.transaction import Transaction, without_check_access

from .event import EventSource
from .team import current_user_team


class SMTPUnavailableError(ValidationError):
    pass


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
                })

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
        return super().copy(sales, default=default)

    def get_quote_email(self):
        "Return the values of the quote e-mail from its template"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        EmailTemplate = pool.get('ir.email.template')
        template = EmailTemplate(
            ModelData.get_id('crm_kit', 'email_template_quote'))
        language = self.party.lang.code if self.party.lang else None
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
        opportunities = {s.origin for s in cls.browse(sales)
            if isinstance(s.origin, Opportunity)}
        with without_check_access():
            Opportunity.process(Opportunity.browse(opportunities))
