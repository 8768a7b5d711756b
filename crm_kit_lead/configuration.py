# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields

DUPLICATE_ACTIONS = [
    ('warn', "Warn"),
    ('skip', "Skip"),
    ('update', "Update Existing"),
    ('create', "Create Anyway"),
    ]


class LeadConfiguration(ModelSingleton, ModelSQL, ModelView):
    "Lead Configuration"
    __name__ = 'crm.lead.configuration'

    duplicate_email = fields.Boolean(
        "Same E-mail",
        help="Leads with the same e-mail address are duplicates.")
    duplicate_phone = fields.Boolean(
        "Same Phone",
        help="Leads with the same phone number (compared in international "
        "form) are duplicates.")
    duplicate_tax_identifier = fields.Boolean(
        "Same Tax Identifier",
        help="Leads with the same NIF/CIF or VAT number are duplicates.")
    duplicate_company_name = fields.Boolean(
        "Same Company Name",
        help="Leads with the same company name (ignoring case, accents, "
        "punctuation and legal form such as S.L.) are duplicates.")
    duplicate_contact_name = fields.Boolean(
        "Same Contact at the Same Company",
        help="Leads with the same contact name and company name (ignoring "
        "case, accents and punctuation) are duplicates.")
    duplicate_action = fields.Selection(
        DUPLICATE_ACTIONS, "When a Duplicate Is Found", required=True,
        help="Warn: ask before saving (imports and web forms create the "
        "lead and flag it).\n"
        "Skip: keep the existing lead and do not create a new one.\n"
        "Update existing: write the new values onto the existing lead.\n"
        "Create anyway: do not look for duplicates.")
    import_max_size = fields.Integer(
        "Import Size Limit (MB)", required=True,
        domain=[('import_max_size', '>', 0)],
        help="The largest file that can be imported.")
    import_background_rows = fields.Integer(
        "Background Import From (Rows)", required=True,
        domain=[('import_background_rows', '>=', 0)],
        help="Files with more rows are imported in the background "
        "with visible progress.")
    web_form_rate_limit = fields.Integer(
        "Web Form Posts per Hour and IP", required=True,
        domain=[('web_form_rate_limit', '>', 0)],
        help="More posts from the same address are rejected as a bot.")

    @classmethod
    def default_duplicate_email(cls):
        return True

    @classmethod
    def default_duplicate_phone(cls):
        return True

    @classmethod
    def default_duplicate_tax_identifier(cls):
        return True

    @classmethod
    def default_duplicate_company_name(cls):
        return False

    @classmethod
    def default_duplicate_contact_name(cls):
        return True

    @classmethod
    def default_duplicate_action(cls):
        return 'warn'

    @classmethod
    def default_import_max_size(cls):
        return 50

    @classmethod
    def default_import_background_rows(cls):
        return 2000

    @classmethod
    def default_web_form_rate_limit(cls):
        return 20
