# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The document library: files (with their versions) and web links, each
linked to any number of customers, opportunities, quotes and activities."""
import datetime as dt
import json
import os
from collections import defaultdict

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields,
    sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, without_check_access

from crm_kit.event import EventSource
from crm_kit.formats import format_date, human_size
from crm_kit.public import is_web_url

from .content import check_file, checksum, safe_file_name
from .content import TYPE_LABELS
from .content import type_label as mime_label
from .exceptions import (
    DocumentValidationError, DuplicateDocumentWarning)

class DocumentCategory(
        DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Document Category"
    __name__ = 'crm.document.category'
    __string__ = "Document Category"

    name = fields.Char("Name", required=True, translate=True)
    expires = fields.Boolean(
        "Expires",
        help="The documents of this category usually have an expiry date "
        "(contracts, certificates, identity documents).")


class DocumentTag(ModelSQL, ModelView):
    "Document Tag"
    __name__ = 'crm.document.tag'
    __string__ = "Document Tag"

    name = fields.Char("Name", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('name_unique', Unique(t, t.name),
                'crm_kit_document.msg_tag_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]


class Document(EventSource, ModelSQL, ModelView):
    "Document"
    __name__ = 'crm.document'
    __string__ = "Document"

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    name = fields.Char("Name", required=True)
    kind = fields.Selection([
            ('file', "File"),
            ('url', "Web Link"),
            ], "Kind", required=True)
    url = fields.Char(
        "URL",
        states={
            'invisible': Eval('kind') != 'url',
            'required': Eval('kind') == 'url',
            })
    data = fields.Function(fields.Binary(
            "File", filename='file_name',
            states={
                'invisible': Eval('kind') != 'file',
                'required': (Eval('kind') == 'file') & ~Eval('id', -1),
                },
            help="Uploading a new file keeps the previous one as a "
            "version."),
        'get_data', setter='set_data')
    file_name = fields.Char(
        "File Name",
        states={
            'invisible': Eval('kind') != 'file',
            })
    file_type = fields.Char("MIME Type", readonly=True)
    type_label = fields.Function(
        fields.Char("Type"), 'get_type_label', searcher='search_type_label')
    size = fields.Integer("Size (bytes)", readonly=True)
    size_label = fields.Function(fields.Char("Size"), 'get_size_label')
    checksum = fields.Char(
        "Checksum", readonly=True,
        help="The SHA-256 of the current file: the same file is the same "
        "document.")
    versions = fields.One2Many(
        'crm.document.version', 'document', "Versions", readonly=True,
        order=[('number', 'DESC')])
    version = fields.Integer("Version", readonly=True)
    category = fields.Many2One(
        'crm.document.category', "Category", ondelete='RESTRICT')
    tags = fields.Many2Many(
        'crm.document-crm.document.tag', 'document', 'tag', "Tags")
    description = fields.Text("Description")
    owner = fields.Many2One(
        'res.user', "Owner", required=True, ondelete='RESTRICT',
        help="Who looks after the document; told when it expires or a "
        "customer hands one in.")
    origin = fields.Selection([
            ('internal', "Internal"),
            ('customer', "Provided by the customer"),
            ], "Origin", required=True)
    expiry_date = fields.Date("Expiry Date")
    expiry_notified = fields.Date("Expiry Notified", readonly=True)
    expired = fields.Function(
        fields.Boolean("Expired"), 'get_expired', searcher='search_expired')
    links = fields.One2Many('crm.document.link', 'document', "Linked To")
    customers = fields.Function(
        fields.Many2Many('party.party', None, None, "Customers",
            context={
                'company': Eval('company', -1),
                },
            depends={'company'}),
        'get_customers', searcher='search_customers')
    customer_names = fields.Function(
        fields.Char("Customers"), 'get_customer_names',
        searcher='search_customer_names')
    upload_link = fields.Many2One(
        'crm.upload.link', "Upload Link", readonly=True,
        ondelete='SET NULL',
        states={
            'invisible': ~Eval('upload_link'),
            })
    duplicate_of = fields.Function(
        fields.Many2One(
            'crm.document', "Same File As",
            states={
                'invisible': ~Eval('duplicate_of'),
                }),
        'on_change_with_duplicate_of')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.checksum, Index.Equality())),
                Index(t, (t.owner, Index.Equality())),
                Index(t, (t.expiry_date, Index.Range()),
                    where=t.expiry_date != None),  # noqa: E711
                })
        cls._order = [('write_date', 'DESC NULLS LAST'), ('id', 'DESC')]
        cls.file_type.states['invisible'] = Eval('kind') != 'file'
        cls.size.states['invisible'] = Eval('kind') != 'file'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'file'

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_origin(cls):
        return 'internal'

    @classmethod
    def default_version(cls):
        return 0

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('file_name', operator, operand, *extra),
            ]

    @fields.depends('data', 'file_name', 'name')
    def on_change_data(self):
        if self.data and self.file_name and not self.name:
            self.name = os.path.splitext(self.file_name)[0]

    @fields.depends('data', 'id')
    def on_change_with_duplicate_of(self, name=None):
        if not self.data:
            return None
        return self.find_same_file(checksum(self.data), exclude=self.id)

    @classmethod
    def find_same_file(cls, sum_, exclude=None):
        "The id of a document the user may see whose file has this checksum"
        domain = [('checksum', '=', sum_), ('kind', '=', 'file')]
        if exclude is not None and exclude >= 0:
            domain.append(('id', '!=', exclude))
        documents = cls.search(domain, order=[('id', 'ASC')], limit=1)
        return documents[0].id if documents else None

    def get_type_label(self, name):
        if self.kind == 'url':
            return gettext('crm_kit_document.msg_type_web_link')
        return mime_label(self.file_type)

    @classmethod
    def search_type_label(cls, name, clause):
        "Search the type as people write it (PDF, Word…) or the MIME type"
        _, operator, value = clause[:3]
        if operator not in {'=', '!=', 'ilike', 'not ilike', 'like',
                'not like'}:
            return [('file_type', operator, value)]
        negative = operator.startswith('not') or operator == '!='
        operator = {'!=': '=', 'not ilike': 'ilike', 'not like': 'like'}.get(
            operator, operator)
        pattern = str(value or '').lower()
        if 'like' in operator:
            pattern = pattern.strip('%')

        def matches(text):
            text = (text or '').lower()
            return pattern in text if 'like' in operator else pattern == text
        mimes = [m for m, label in TYPE_LABELS.items()
            if matches(label) or matches(m)]
        domain = ['OR', ('file_type', 'in', mimes),
            ('file_type', operator, value)]
        if matches(gettext('crm_kit_document.msg_type_web_link')):
            domain.append(('kind', '=', 'url'))
        return ['NOT', domain] if negative else domain

    def get_size_label(self, name):
        return human_size(self.size) if self.size else ''

    @classmethod
    def get_data(cls, documents, name):
        pool = Pool()
        Version = pool.get('crm.document.version')
        result = {d.id: None for d in documents}
        key = '%s.%s' % (cls.__name__, name)
        if Transaction().context.get(key) == 'size':
            # sao asks only the size to show beside the download button.
            return {d.id: d.size for d in documents}
        current = [d for d in documents if d.version]
        if not current:
            return result
        # Only the current versions: reading the data of the others would
        # load every old file from the filestore.
        versions = Version.search(['OR'] + [
                [('document', '=', d.id), ('number', '=', d.version)]
                for d in current])
        for version in versions:
            result[version.document.id] = version.data
        return result

    @classmethod
    def set_data(cls, documents, name, value):
        pool = Pool()
        Version = pool.get('crm.document.version')
        if not value:
            for document in documents:
                if document.kind == 'file' and document.version:
                    raise DocumentValidationError(gettext(
                            'crm_kit_document.msg_file_clear',
                            document=document.rec_name))
            return
        sum_ = checksum(value)
        for document in documents:
            file_name = safe_file_name(document.file_name or document.name)
            if sum_ == document.checksum and file_name == document.file_name:
                continue
            mimetype = check_file(value, file_name)
            number = (document.version or 0) + 1
            with without_check_access():
                # The versions are written only here, once per upload.
                Version.create([{
                            'document': document.id,
                            'number': number,
                            'data': value,
                            'file_name': file_name,
                            'file_type': mimetype,
                            'size': len(value),
                            'checksum': sum_,
                            }])
            cls.write([document], {
                    'file_name': file_name,
                    'file_type': mimetype,
                    'size': len(value),
                    'checksum': sum_,
                    'version': number,
                    })

    @classmethod
    def get_expired(cls, documents, name):
        Date = Pool().get('ir.date')
        today = Date.today()
        return {d.id: bool(d.expiry_date and d.expiry_date < today)
            for d in documents}

    @classmethod
    def search_expired(cls, name, clause):
        Date = Pool().get('ir.date')
        _, operator, value = clause
        expired = (operator == '=') == bool(value)
        if expired:
            return [('expiry_date', '<', Date.today())]
        return ['OR', ('expiry_date', '=', None),
            ('expiry_date', '>=', Date.today())]

    @classmethod
    def get_customers(cls, documents, name):
        result = {d.id: set() for d in documents}
        for document in documents:
            for link in document.links:
                party = link.customer
                if party:
                    result[document.id].add(party.id)
        return {k: sorted(v) for k, v in result.items()}

    def get_customer_names(self, name):
        return ', '.join(p.rec_name for p in self.customers)

    @classmethod
    def search_customer_names(cls, name, clause):
        return [('customers.rec_name', *clause[1:])]

    @classmethod
    def search_customers(cls, name, clause):
        _, operator, value, *extra = clause
        pool = Pool()
        Link = pool.get('crm.document.link')
        nested = name[len('customers'):]
        domain = ['OR']
        for field in Link.record_fields():
            path = 'links.%s' % field
            if field != 'party':
                path += '.party'
            domain.append((path + nested, operator, value, *extra))
        return domain

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('expired', False), 'danger', '')),
            ]

    @classmethod
    def validate_fields(cls, documents, field_names):
        super().validate_fields(documents, field_names)
        cls.check_kind(documents, field_names)

    @classmethod
    def check_kind(cls, documents, field_names=None):
        if field_names and not (field_names & {'kind', 'url', 'version'}):
            return
        for document in documents:
            if document.kind == 'url':
                if not is_web_url(document.url):
                    raise DocumentValidationError(gettext(
                            'crm_kit_document.msg_url_invalid',
                            url=document.url or '',
                            document=document.rec_name))
            elif (not document.version
                    and not Transaction().context.get('_crm_document_copy')):
                raise DocumentValidationError(gettext(
                        'crm_kit_document.msg_file_required',
                        document=document.rec_name))

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('data'):
                cls.warn_same_file(values['data'], values.get('file_name'))
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        for documents, values in zip(actions, actions):
            if values.get('expiry_date', False) is not False:
                values['expiry_notified'] = None
        super().write(*args)

    @classmethod
    def warn_same_file(cls, data, file_name=None, exclude=None):
        "Warn that the file is stored already and should be linked instead"
        pool = Pool()
        Warning = pool.get('res.user.warning')
        sum_ = checksum(data)
        same = cls.find_same_file(sum_, exclude=exclude)
        if same:
            key = 'crm_document_same_file.%s' % sum_
            if Warning.check(key):
                raise DuplicateDocumentWarning(key, gettext(
                        'crm_kit_document.msg_same_file',
                        file=file_name or '', document=cls(same).rec_name))

    @classmethod
    def copy(cls, documents, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('versions', None)
        default.setdefault('version', 0)
        default.setdefault('checksum', None)
        default.setdefault('expiry_notified', None)
        default.setdefault('upload_link', None)
        # A copy starts with the current file as its first version.
        with Transaction().set_context(_crm_document_copy=True):
            copies = super().copy(documents, default=default)
        for document, copy in zip(documents, copies):
            if document.kind == 'file' and document.version:
                cls.write([copy], {'data': document.data})
        return copies

    @classmethod
    def notify_expiring(cls):
        """Tell the owners of the documents expiring within the configured
        notice, once per expiry date"""
        pool = Pool()
        Configuration = pool.get('crm.document.configuration')
        Notification = pool.get('res.notification')
        Date = pool.get('ir.date')
        today = Date.today()
        notice = Configuration(1).expiry_notice_days or 0
        documents = cls.search([
                ('expiry_date', '>=', today),
                ('expiry_date', '<=', today + dt.timedelta(days=notice)),
                ('expiry_notified', '=', None),
                ('owner.active', '=', True),
                ])
        notifications = []
        for document in documents:
            user = document.owner
            language = user.language.code if user.language else None
            with Transaction().set_context(language=language):
                notifications.append(Notification(
                        user=user, label=gettext(
                            'crm_kit_document.msg_expiring_label',
                            document=document.name),
                        description=gettext(
                            'crm_kit_document.msg_expiring_description',
                            document=document.name,
                            date=format_date(document.expiry_date),
                            days=(document.expiry_date - today).days),
                        icon='tryton-warning', model=cls.__name__,
                        records=json.dumps([document.id])))
        Notification.save(notifications)
        cls.write(documents, {'expiry_notified': today})
        return documents


class DocumentTagRelation(ModelSQL):
    "Document - Tag"
    __name__ = 'crm.document-crm.document.tag'
    __string__ = "Document - Tag"

    document = fields.Many2One(
        'crm.document', "Document", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'crm.document.tag', "Tag", required=True, ondelete='CASCADE')


class DocumentVersion(ModelSQL, ModelView):
    "Document Version"
    __name__ = 'crm.document.version'
    __string__ = "Document Version"

    document = fields.Many2One(
        'crm.document', "Document", required=True, readonly=True,
        ondelete='CASCADE')
    number = fields.Integer("Version", required=True, readonly=True)
    data = fields.Binary(
        "File", filename='file_name', file_id='data_id', readonly=True)
    data_id = fields.Char("File ID", readonly=True)
    file_name = fields.Char("File Name", readonly=True)
    file_type = fields.Char("MIME Type", readonly=True)
    type_label = fields.Function(fields.Char("Type"), 'get_type_label')
    size = fields.Integer("Size (bytes)", readonly=True)
    size_label = fields.Function(fields.Char("Size"), 'get_size_label')
    checksum = fields.Char("Checksum", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('document_number_unique', Unique(t, t.document, t.number),
                'crm_kit_document.msg_version_unique'),
            ]
        cls._order = [
            ('document', 'ASC'), ('number', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return '%s (v%s)' % (self.document.rec_name, self.number)

    def get_type_label(self, name):
        return mime_label(self.file_type)

    def get_size_label(self, name):
        return human_size(self.size)


class DocumentLink(ModelSQL, ModelView):
    "Document Link"
    __name__ = 'crm.document.link'
    __string__ = "Document Link"

    document = fields.Many2One(
        'crm.document', "Document", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Customer", ondelete='CASCADE')
    opportunity = fields.Many2One(
        'sale.opportunity', "Opportunity", ondelete='CASCADE')
    sale = fields.Many2One('sale.sale', "Quote", ondelete='CASCADE')
    customer = fields.Function(
        fields.Many2One('party.party', "Customer"), 'get_customer')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('party_unique', Unique(t, t.document, t.party),
                'crm_kit_document.msg_link_unique'),
            ('opportunity_unique', Unique(t, t.document, t.opportunity),
                'crm_kit_document.msg_link_unique'),
            ('sale_unique', Unique(t, t.document, t.sale),
                'crm_kit_document.msg_link_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality()),
                    where=t.party != None),  # noqa: E711
                Index(t, (t.opportunity, Index.Equality()),
                    where=t.opportunity != None),  # noqa: E711
                Index(t, (t.sale, Index.Equality()),
                    where=t.sale != None),  # noqa: E711
                })

    @classmethod
    def record_fields(cls):
        """The fields that link to a record, one of which each link sets
        (modules add theirs)"""
        return ['party', 'opportunity', 'sale']

    def get_rec_name(self, name):
        record = self.record
        return record.rec_name if record else ''

    @property
    def record(self):
        for field in self.record_fields():
            value = getattr(self, field, None)
            if value:
                return value

    def get_customer(self, name):
        record = self.record
        if not record:
            return None
        if record.__name__ == 'party.party':
            return record.id
        return record.party.id if record.party else None

    @classmethod
    def validate_fields(cls, links, field_names):
        super().validate_fields(links, field_names)
        names = cls.record_fields()
        if field_names and not (field_names & set(names)):
            return
        for link in links:
            if len([n for n in names if getattr(link, n, None)]) != 1:
                raise DocumentValidationError(gettext(
                        'crm_kit_document.msg_link_one_record',
                        document=link.document.rec_name))


class DocumentsMixin:
    "A Documents tab on a CRM record: the documents linked to it"
    __slots__ = ()

    crm_documents = fields.Many2Many(
        'crm.document.link', None, 'document', "Documents")
    crm_document_count = fields.Function(
        fields.Integer("Documents"), 'get_crm_document_count')

    # The field of crm.document.link that links to the model's records
    _document_link_field = None

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.crm_documents.origin = cls._document_link_field
        cls.crm_documents.domain = [
            ('company', '=', Eval('company', -1)),
            ]

    @classmethod
    def get_crm_document_count(cls, records, name):
        pool = Pool()
        Link = pool.get('crm.document.link')
        field = cls._document_link_field
        counts = defaultdict(int)
        for link in Link.search([(field, 'in', [r.id for r in records])]):
            counts[getattr(link, field).id] += 1
        return {r.id: counts[r.id] for r in records}

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('crm_documents', None)
        return super().copy(records, default=default)
