# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Private upload links: a customer hands documents in from any device,
without logging in, through a link a user sends them (see routes.py for
the page itself)."""
import datetime as dt
import html
import json
import os
import secrets
import urllib.parse

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from crm_kit.formats import format_date
from crm_kit.mail import send_background_email
from crm_kit.public import base_url

from .content import checksum
from .exceptions import UploadLinkError


def new_token():
    return secrets.token_urlsafe(32)


class UploadLink(ModelSQL, ModelView):
    "Upload Link"
    __name__ = 'crm.upload.link'
    __string__ = "Upload Link"

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        states={
            'readonly': Eval('id', -1) >= 0,
            },
        depends={'company'})
    opportunity = fields.Many2One(
        'sale.opportunity', "Opportunity", ondelete='CASCADE',
        domain=[
            If(Eval('party'), ('party', '=', Eval('party', -1)), ()),
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'readonly': Eval('id', -1) >= 0,
            },
        help="The files arrive linked to the opportunity; without one, to "
        "the customer.")
    owner = fields.Many2One(
        'res.user', "Owner", required=True, ondelete='RESTRICT',
        help="Told when files arrive; owns the documents.")
    token = fields.Char("Token", required=True, readonly=True)
    url = fields.Function(fields.Char("Link"), 'get_url')
    expiry_date = fields.Date(
        "Valid Until", required=True,
        help="The link stops working after this day.")
    max_files = fields.Integer(
        "Maximum Files",
        domain=['OR',
            ('max_files', '=', None),
            ('max_files', '>', 0),
            ],
        help="Leave empty for no limit.")
    email = fields.Char(
        "E-mail", help="Where the link is sent.")
    language = fields.Many2One(
        'ir.lang', "Language",
        domain=[('translatable', '=', True)],
        help="The language of the e-mail and, at first, of the page.")
    message = fields.Text(
        "Message", help="Shown on the page above the upload button, and "
        "in the e-mail.")
    revoked = fields.Boolean("Revoked", readonly=True)
    sent_date = fields.DateTime("Sent", readonly=True)
    documents = fields.One2Many(
        'crm.document', 'upload_link', "Documents Received", readonly=True)
    received = fields.Function(
        fields.Integer("Files Received"), 'get_received')
    state = fields.Function(fields.Selection([
                ('active', "Active"),
                ('full', "Full"),
                ('expired', "Expired"),
                ('revoked', "Revoked"),
                ], "State"), 'get_state', searcher='search_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('token_unique', Unique(t, t.token),
                'crm_kit_document.msg_upload_token_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.token, Index.Equality())))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'send': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                'revoke': {
                    'invisible': Eval('state').in_(['revoked', 'expired']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def _context_record(cls):
        "The opportunity or customer the link is asked from (relate action)"
        pool = Pool()
        context = Transaction().context
        if context.get('crm_upload_opportunity'):
            Opportunity = pool.get('sale.opportunity')
            return Opportunity(context['crm_upload_opportunity'])
        if context.get('crm_upload_party'):
            Party = pool.get('party.party')
            return Party(context['crm_upload_party'])

    @classmethod
    def default_party(cls):
        record = cls._context_record()
        if record and record.__name__ == 'party.party':
            return record.id
        if record and record.party:
            return record.party.id

    @classmethod
    def default_opportunity(cls):
        record = cls._context_record()
        if record and record.__name__ == 'sale.opportunity':
            return record.id

    @classmethod
    def default_email(cls):
        party = cls.default_party()
        if party:
            return Pool().get('party.party')(party).email

    @classmethod
    def default_language(cls):
        party = cls.default_party()
        if party:
            lang = Pool().get('party.party')(party).lang
            if lang and lang.translatable:
                return lang.id

    @classmethod
    def default_owner(cls):
        record = cls._context_record()
        if (record and record.__name__ == 'sale.opportunity'
                and record.owner):
            return record.owner.id
        return Transaction().user or None

    @classmethod
    def default_token(cls):
        return new_token()

    @classmethod
    def default_revoked(cls):
        return False

    @classmethod
    def default_expiry_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        Configuration = pool.get('crm.document.configuration')
        days = Configuration(1).upload_days or 14
        return Date.today() + dt.timedelta(days=days)

    @fields.depends('opportunity', 'party', 'owner')
    def on_change_opportunity(self):
        if self.opportunity:
            self.party = self.opportunity.party
            if self.opportunity.owner:
                self.owner = self.opportunity.owner

    @fields.depends('party', 'email', 'language')
    def on_change_party(self):
        if self.party:
            if not self.email:
                self.email = self.party.email
            if not self.language and self.party.lang:
                self.language = self.party.lang

    def get_rec_name(self, name):
        record = self.opportunity or self.party
        return gettext('crm_kit_document.msg_upload_link_name',
            record=record.rec_name if record else '',
            date=format_date(self.expiry_date))

    def get_url(self, name):
        database = Transaction().database.name
        url = '%s/%s/crm/upload/%s' % (
            base_url(), urllib.parse.quote(database), self.token)
        if self.language:
            url += '?lang=' + self.language.code
        return url

    @classmethod
    def get_received(cls, links, name):
        pool = Pool()
        Document = pool.get('crm.document')
        counts = {l.id: 0 for l in links}
        for document in Document.search(
                [('upload_link', 'in', [l.id for l in links])]):
            counts[document.upload_link.id] += 1
        return counts

    def get_state(self, name):
        Date = Pool().get('ir.date')
        if self.revoked:
            return 'revoked'
        if self.expiry_date < Date.today():
            return 'expired'
        if self.max_files and self.received >= self.max_files:
            return 'full'
        return 'active'

    @classmethod
    def search_state(cls, name, clause):
        Date = Pool().get('ir.date')
        today = Date.today()
        _, operator, value = clause
        values = value if isinstance(value, (list, tuple)) else [value]
        domains = {
            'revoked': [('revoked', '=', True)],
            'expired': [('revoked', '=', False),
                ('expiry_date', '<', today)],
            # "Full" is counted; searched, it is among the active ones.
            'active': [('revoked', '=', False),
                ('expiry_date', '>=', today)],
            'full': [('id', '=', None)],
            }
        domain = ['OR'] + [domains[v] for v in values if v in domains]
        if operator in {'!=', 'not in'}:
            return ['NOT', domain]
        return domain

    @classmethod
    def copy(cls, links, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('token', lambda d: new_token())
        default.setdefault('revoked', False)
        default.setdefault('sent_date', None)
        default.setdefault('documents', None)
        return super().copy(links, default=default)

    @classmethod
    @ModelView.button
    def send(cls, links):
        "E-mail each link to the customer, in the link's language"
        for link in links:
            if link.state != 'active':
                raise UploadLinkError(gettext(
                        'crm_kit_document.msg_upload_link_not_active',
                        link=link.rec_name))
            if not link.email:
                raise UploadLinkError(gettext(
                        'crm_kit_document.msg_upload_link_no_email',
                        link=link.rec_name))
            language = link.language.code if link.language else None
            with Transaction().set_context(language=language):
                company = link.company.rec_name
                subject = gettext('crm_kit_document.msg_upload_email_subject',
                    company=company)
                body = gettext('crm_kit_document.msg_upload_email_body',
                    company=company, url='{url}',
                    date=format_date(link.expiry_date))
            esc = html.escape
            paragraphs = [esc(p) for p in body.split('\n') if p.strip()]
            if link.message:
                paragraphs.insert(0, esc(link.message))
            paragraphs = [
                p.replace('{url}', '<a href="%s">%s</a>' % (
                        esc(link.url), esc(link.url)))
                for p in paragraphs]
            record = link.opportunity or link.party
            send_background_email(
                link.email, subject,
                ''.join('<p>%s</p>' % p for p in paragraphs),
                (record.__name__, record.id))
        cls.write(links, {'sent_date': dt.datetime.now()})

    @classmethod
    @ModelView.button
    def revoke(cls, links):
        cls.write(links, {'revoked': True})

    @classmethod
    def get_usable(cls, token):
        """The link of token and why it cannot be used (None when it can);
        the link is None when the token is unknown"""
        links = cls.search([('token', '=', token)], limit=1)
        if not token or not links:
            return None, 'unknown'
        link, = links
        state = link.state
        return link, (None if state == 'active' else state)

    def receive(self, files):
        """Store files, a list of (file name, bytes, MIME type) already
        checked, as documents provided by the customer, linked to the
        link's record; tell the owner.  A file the record has already gets
        linked, not stored again."""
        pool = Pool()
        Document = pool.get('crm.document')
        Link = pool.get('crm.document.link')
        Notification = pool.get('res.notification')
        field, record = (('opportunity', self.opportunity) if self.opportunity
            else ('party', self.party))
        documents = []
        for file_name, data, mimetype in files:
            same = Document.search([
                    ('checksum', '=', checksum(data)),
                    ('kind', '=', 'file'),
                    ('links.%s' % field, '=', record.id),
                    ], limit=1)
            if same:
                documents.append(same[0])
                continue
            document = Document(
                company=self.company, name=os.path.splitext(file_name)[0],
                kind='file',
                file_name=file_name, data=data, origin='customer',
                owner=self.owner, upload_link=self,
                links=[Link(**{field: record.id})])
            document.save()
            documents.append(document)
        user = self.owner
        language = user.language.code if user.language else None
        with Transaction().set_context(language=language):
            Notification(
                user=user,
                label=gettext('crm_kit_document.msg_upload_received_label',
                    party=self.party.rec_name),
                description=gettext(
                    'crm_kit_document.msg_upload_received_description',
                    count=len(files),
                    files=', '.join(f[0] for f in files))[:250],
                icon='tryton-attach', model='crm.document',
                records=json.dumps([d.id for d in documents])).save()
        return documents
