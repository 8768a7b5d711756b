# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Web-to-lead: a form an administrator designs in sao, pasted as an HTML
snippet into the company's website, whose posts become leads through the
same duplicate policy and assignment rules as every other entry point
(see routes.py for the public endpoint)."""
import datetime as dt
import hashlib
import html
import secrets
import urllib.parse

from sql import Null
from sql.aggregate import Min

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields,
    sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from crm_kit.public import base_url, is_web_url

# The lead fields a web form may ask for, in their usual order.
LEAD_FIELDS = [
    'lead_name', 'lead_company', 'lead_email', 'lead_phone',
    'lead_tax_identifier', 'lead_street', 'lead_postal_code', 'lead_city',
    'lead_country', 'lead_subdivision', 'description', 'comment', 'amount',
    ]
# The HTML input each lead field is asked with (text when not listed).
INPUT_TYPES = {
    'lead_email': 'email',
    'lead_phone': 'tel',
    'amount': 'number',
    'description': 'textarea',
    'comment': 'textarea',
    }
# The field a human leaves empty because it is hidden; bots fill it.
HONEYPOT = 'website_url'


class WebFormError(ValidationError):
    pass


def new_token():
    return secrets.token_urlsafe(24)


def hash_ip(address):
    "The pseudonymised remote address stored in the submission log"
    return hashlib.sha256((address or '').encode()).hexdigest()


class WebForm(DeactivableMixin, ModelSQL, ModelView):
    "Web Form"
    __name__ = 'crm.web.form'

    name = fields.Char("Name", required=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE',
        help="The company whose leads the form brings.")
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='RESTRICT',
        help="The pipeline the leads of this form go to.")
    channel = fields.Many2One(
        'crm.channel', "Channel", ondelete='RESTRICT',
        help="The channel recorded on the leads of this form.")
    lines = fields.One2Many(
        'crm.web.form.field', 'form', "Fields",
        help="The lead fields the form asks for, in order.")
    consent_text = fields.Text(
        "Consent Text", required=True, translate=True,
        help="The text the visitor accepts with the consent checkbox; it "
        "is stored on each lead as shown, in the visitor's language.")
    thank_you_url = fields.Char(
        "Thank-You URL",
        help="Where the visitor is sent after posting the form "
        "(http or https). Without it a short thank-you page is shown.")
    token = fields.Char(
        "Token", required=True, readonly=True, strip=False,
        help="The secret part of the form's address. Regenerate it to "
        "disable the snippets already published.")
    snippet = fields.Function(fields.Text(
            "HTML Snippet",
            help="Paste this HTML into a page of your website."),
        'get_snippet')
    submissions = fields.One2Many(
        'crm.web.form.submission', 'form', "Submissions", readonly=True,
        order=[('date', 'DESC'), ('id', 'DESC')])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'crm_kit_lead.msg_web_form_token_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))
        cls._buttons.update({
                'regenerate_token': {
                    'icon': 'tryton-refresh',
                    },
                })

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        Company = pool.get('company.company')
        super().__register__(module)
        # Forms made before they had a company were the first company's.
        table = cls.__table__()
        company = Company.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.company],
                company.select(Min(company.id)),
                where=table.company == Null))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_pipeline(cls):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        pipeline = Pipeline.main_pipeline()
        if pipeline:
            return pipeline.id

    @classmethod
    def default_channel(cls):
        pool = Pool()
        Channel = pool.get('crm.channel')
        channels = Channel.search([('code', '=', 'web')], limit=1)
        if channels:
            return channels[0].id

    @classmethod
    def default_consent_text(cls):
        return gettext('crm_kit_lead.msg_web_form_consent_default')

    @classmethod
    def default_token(cls):
        return new_token()

    @classmethod
    def default_lines(cls):
        pool = Pool()
        Field = pool.get('crm.web.form.field')
        labels = dict(Field.get_lead_fields())
        return [{
                'name': name, 'label': labels[name], 'required': required,
                'sequence': sequence,
                } for sequence, (name, required) in enumerate([
                    ('lead_name', True),
                    ('lead_email', True),
                    ('lead_phone', False),
                    ('description', False),
                    ], 1)]

    @classmethod
    def validate_fields(cls, forms, field_names):
        super().validate_fields(forms, field_names)
        cls.check_thank_you_url(forms, field_names)

    @classmethod
    def check_thank_you_url(cls, forms, field_names=None):
        if field_names and 'thank_you_url' not in field_names:
            return
        for form in forms:
            if form.thank_you_url and not is_web_url(form.thank_you_url):
                raise WebFormError(gettext(
                        'crm_kit_lead.msg_web_form_invalid_url',
                        url=form.thank_you_url, form=form.rec_name))

    @classmethod
    def copy(cls, forms, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('token', lambda data: new_token())
        default.setdefault('submissions')
        return super().copy(forms, default=default)

    @classmethod
    @ModelView.button
    def regenerate_token(cls, forms):
        for form in forms:
            form.token = new_token()
        cls.save(forms)

    @property
    def action_url(self):
        "The address the form posts to"
        database = Transaction().database.name
        return '%s/%s/crm/web-form/%s' % (
            base_url(), urllib.parse.quote(database),
            urllib.parse.quote(self.token or ''))

    def get_snippet(self, name):
        if not self.token:
            return None
        return self.render_snippet()

    def render_snippet(self):
        "The HTML form to paste into a website"
        transaction = Transaction()
        esc = html.escape
        lines = [
            '<form method="post" action="%s" accept-charset="utf-8" '
            'class="crm-web-form">' % esc(self.action_url),
            '  <input type="hidden" name="lang" value="%s">'
            % esc(transaction.language or ''),
            ]
        for field in self.lines:
            lines.extend('  ' + l for l in field.render_input())
        # The honeypot: hidden from people (and from screen readers) but
        # not from bots filling every input they find.
        lines.extend([
                '  <div style="position:absolute;left:-10000px;top:auto;'
                'width:1px;height:1px;overflow:hidden" aria-hidden="true">',
                '    <label>%s <input type="text" name="%s" value="" '
                'tabindex="-1" autocomplete="off"></label>' % (
                    esc(gettext('crm_kit_lead.msg_web_form_honeypot')),
                    HONEYPOT),
                '  </div>',
                '  <p><label><input type="checkbox" name="consent" '
                'value="1" required> %s</label></p>' % '<br>'.join(
                    esc(l) for l in (self.consent_text or '').splitlines()),
                '  <p><button type="submit">%s</button></p>' % esc(
                    gettext('crm_kit_lead.msg_web_form_submit')),
                '</form>',
                ])
        return '\n'.join(lines) + '\n'

    @classmethod
    def get_active(cls, token):
        "The active form with token, or None"
        if not token:
            return None
        forms = cls.search([('token', '=', token)], limit=1)
        if forms:
            return forms[0]


class WebFormField(sequence_ordered(), ModelSQL, ModelView):
    "Web Form Field"
    __name__ = 'crm.web.form.field'
    _rec_name = 'label'

    form = fields.Many2One(
        'crm.web.form', "Form", required=True, ondelete='CASCADE')
    name = fields.Selection(
        'get_lead_fields', "Lead Field", required=True, sort=False,
        help="The lead field the visitor's answer is stored in.")
    label = fields.Char(
        "Label", required=True, translate=True,
        help="The label the visitor sees.")
    required = fields.Boolean("Required")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('form_name_unique', Unique(t, t.form, t.name),
                'crm_kit_lead.msg_web_form_field_unique'),
            ]

    @classmethod
    def get_lead_fields(cls):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        strings = Opportunity.fields_get(LEAD_FIELDS)
        return [(n, strings[n]['string']) for n in LEAD_FIELDS]

    @classmethod
    def default_required(cls):
        return False

    @classmethod
    def default_label(cls):
        return None

    @fields.depends('name', 'label')
    def on_change_name(self):
        if self.name and not self.label:
            self.label = dict(self.get_lead_fields()).get(self.name)

    @classmethod
    def create(cls, vlist):
        # A line created from a script or the defaults gets its label
        # from the lead field.
        labels = None
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('label') and values.get('name'):
                if labels is None:
                    labels = dict(cls.get_lead_fields())
                values['label'] = labels.get(values['name'])
        return super().create(vlist)

    @property
    def input_type(self):
        return INPUT_TYPES.get(self.name, 'text')

    def render_input(self):
        "The HTML lines asking for this field"
        esc = html.escape
        id_ = 'crm-web-form-%s' % self.name
        required = ' required' if self.required else ''
        label = '<label for="%s">%s%s</label>' % (
            id_, esc(self.label or self.name), ' *' if self.required else '')
        if self.input_type == 'textarea':
            control = '<textarea id="%s" name="%s" rows="4"%s></textarea>' % (
                id_, esc(self.name), required)
        else:
            extra = ''
            if self.input_type == 'number':
                extra = ' step="0.01" min="0"'
            elif self.input_type == 'email':
                extra = ' autocomplete="email"'
            elif self.input_type == 'tel':
                extra = ' autocomplete="tel"'
            control = '<input type="%s" id="%s" name="%s"%s%s>' % (
                self.input_type, id_, esc(self.name), extra, required)
        return ['<p>%s<br>%s</p>' % (label, control)]


class WebFormSubmission(ModelSQL, ModelView):
    """Web Form Submission

    Each post to a web form: the audit log shown on the form and the
    counter behind the rate limit (in the database, so that it holds
    across workers)."""
    __name__ = 'crm.web.form.submission'

    form = fields.Many2One(
        'crm.web.form', "Form", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True)
    ip_hash = fields.Char(
        "Address Hash", strip=False,
        help="The SHA-256 digest of the sender's IP address.")
    status = fields.Selection([
            ('accepted', "Accepted"),
            ('rejected', "Rejected"),
            ('spam', "Spam"),
            ], "Status", required=True)
    result = fields.Selection([
            (None, ""),
            ('created', "Created"),
            ('flagged', "Created (Possible Duplicate)"),
            ('updated', "Updated Existing"),
            ('skipped', "Duplicate Skipped"),
            ], "Result",
        states={
            'invisible': Eval('status') != 'accepted',
            })
    lead = fields.Many2One(
        'sale.opportunity', "Lead", ondelete='SET NULL')
    reason = fields.Char("Reason")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t,
                    (t.ip_hash, Index.Equality()),
                    (t.date, Index.Range(order='DESC'))),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return dt.datetime.now()

    @classmethod
    def count_recent(cls, address, hours=1):
        "How many posts from address count against the rate limit"
        since = dt.datetime.now() - dt.timedelta(hours=hours)
        return cls.search_count([
                ('ip_hash', '=', hash_ip(address)),
                ('date', '>=', since),
                # A bot caught by the honeypot counts too: else it would
                # fill the log without end.
                ('status', 'in', ['accepted', 'rejected', 'spam']),
                ])

    @classmethod
    def log(cls, form, address, status, result=None, lead=None,
            reason=None):
        submission = cls(
            form=form, ip_hash=hash_ip(address), status=status,
            result=result, lead=lead,
            reason=(reason or '')[:500] or None)
        submission.save()
        return submission
