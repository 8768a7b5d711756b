# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
import datetime as dt

from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


class ActivityConfiguration(ModelSingleton, ModelSQL, ModelView):
    "Activity Configuration"
    __name__ = 'crm.activity.configuration'

    reminder_before = fields.TimeDelta(
        "Remind Before",
        domain=['OR',
            ('reminder_before', '=', None),
            ('reminder_before', '>=', dt.timedelta()),
            ],
        help="How long before an activity is due its owner is reminded.\n"
        "Leave empty for no reminder before.")
    remind_overdue = fields.Boolean(
        "Remind When Overdue",
        help="Tell the owner when a planned activity passes its due time.")
    reminder_email = fields.Boolean(
        "Also by E-mail",
        help="Send the reminders by e-mail too, to owners who have an "
        "e-mail address (the server needs an [email] configuration).")

    @classmethod
    def default_reminder_before(cls):
        return dt.timedelta(minutes=30)

    @classmethod
    def default_remind_overdue(cls):
        return True

    @classmethod
    def default_reminder_email(cls):
        return False
