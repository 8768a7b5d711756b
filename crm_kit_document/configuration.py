# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import re

from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields

from .content import ACTIVE_TYPES, DEFAULT_ALLOWED_TYPES
from .exceptions import DocumentValidationError

MIME_TYPE = re.compile(r'^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$')


class DocumentConfiguration(ModelSingleton, ModelSQL, ModelView):
    "Document Configuration"
    __name__ = 'crm.document.configuration'
    __string__ = "Document Configuration"

    max_size = fields.Integer(
        "Maximum File Size (MB)", required=True,
        domain=[('max_size', '>', 0)],
        help="Larger files are refused, from sao, the API and the "
        "customers' upload links.")
    allowed_types = fields.Text(
        "Allowed Types", required=True,
        help="One MIME type per line (application/pdf, image/png…). "
        "A file's type is read from its content, not from its name.")
    upload_days = fields.Integer(
        "Upload Link Validity (days)", required=True,
        domain=[('upload_days', '>', 0)],
        help="How long a new upload link works by default.")
    expiry_notice_days = fields.Integer(
        "Expiry Notice (days)", required=True,
        domain=[('expiry_notice_days', '>=', 0)],
        help="How many days before a document expires its owner is told.")

    @classmethod
    def default_max_size(cls):
        return 25

    @classmethod
    def default_allowed_types(cls):
        return '\n'.join(DEFAULT_ALLOWED_TYPES)

    @classmethod
    def default_upload_days(cls):
        return 14

    @classmethod
    def default_expiry_notice_days(cls):
        return 30

    @property
    def max_size_bytes(self):
        return (self.max_size or 0) * 1024 * 1024

    @property
    def allowed_type_list(self):
        return [t.strip().lower() for t in (self.allowed_types or '').split()
            if t.strip()]

    @classmethod
    def validate(cls, configurations):
        super().validate(configurations)
        for configuration in configurations:
            wrong = [t for t in configuration.allowed_type_list
                if not MIME_TYPE.match(t)]
            if wrong or not configuration.allowed_type_list:
                raise DocumentValidationError(gettext(
                        'crm_kit_document.msg_configuration_types',
                        types=', '.join(wrong)))
            active = [t for t in configuration.allowed_type_list
                if t in ACTIVE_TYPES]
            if active:
                raise DocumentValidationError(gettext(
                        'crm_kit_document.msg_configuration_active_types',
                        types=', '.join(active)))
