# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction


class TargetValidationError(ValidationError):
    pass


class SalesTarget(ModelSQL, ModelView):
    "A sales rep's target for a month: an amount and a number of won deals"
    __name__ = 'crm.sales.target'
    __string__ = "Sales Target"

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "Sales Rep", required=True, ondelete='CASCADE')
    team = fields.Many2One(
        'crm.team', "Team", ondelete='SET NULL',
        help="The team whose target this is part of.")
    year = fields.Integer("Year", required=True)
    month = fields.Selection([
            ('1', "January"),
            ('2', "February"),
            ('3', "March"),
            ('4', "April"),
            ('5', "May"),
            ('6', "June"),
            ('7', "July"),
            ('8', "August"),
            ('9', "September"),
            ('10', "October"),
            ('11', "November"),
            ('12', "December"),
            ], "Month", required=True, sort=False)
    amount = fields.Numeric(
        "Amount", digits='currency', required=True,
        help="The amount to win in the month, in the company currency.")
    deals = fields.Integer(
        "Won Deals", required=True,
        help="The number of deals to win in the month.")
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"),
        'on_change_with_currency')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('user_month_unique',
                Unique(t, t.company, t.user, t.year, t.month),
                'crm_kit_report.msg_target_unique'),
            ]
        cls.__access__.add('user')
        cls._order = [
            ('year', 'DESC'), ('month', 'DESC'), ('user', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_year(cls):
        return Pool().get('ir.date').today().year

    @classmethod
    def default_month(cls):
        return str(Pool().get('ir.date').today().month)

    @classmethod
    def default_deals(cls):
        return 0

    @fields.depends('user', 'team')
    def on_change_user(self):
        if self.user and not self.team:
            self.team = self.user.crm_team

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    def get_rec_name(self, name):
        return '%s - %s/%s' % (
            self.user.rec_name if self.user else '', self.month or '',
            self.year or '')

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        User = pool.get('res.user')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('user') and 'team' not in values:
            if team := User(values['user']).crm_team:
                values['team'] = team.id
        return values

    @classmethod
    def validate_fields(cls, targets, field_names):
        super().validate_fields(targets, field_names)
        # Checked here, not by SQL constraints, which SQLite cannot add.
        for target in targets:
            if target.amount is not None and target.amount < 0:
                raise TargetValidationError(gettext(
                        'crm_kit_report.msg_target_amount_positive',
                        target=target.rec_name))
            if target.deals is not None and target.deals < 0:
                raise TargetValidationError(gettext(
                        'crm_kit_report.msg_target_deals_positive',
                        target=target.rec_name))
            if target.year is not None and not 1900 <= target.year <= 9999:
                raise TargetValidationError(gettext(
                        'crm_kit_report.msg_target_year_valid',
                        target=target.rec_name))
