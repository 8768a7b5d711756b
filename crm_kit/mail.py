# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""E-mails the CRM sends by itself (reminders, automation rules, upload
links): built and kept in the record's e-mail history in the transaction
that decides them, sent by the queue worker once it is committed, so that
no request waits for the mail server."""
import mimetypes
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses

import trytond.config as config
from trytond.ir.email_ import HTML_EMAIL
from trytond.pool import Pool
from trytond.report import html_to_text
from trytond.sendmail import send_message_transactional
from trytond.tools import slugify
from trytond.tools.email_ import format_address, set_from_header


def send_background_email(to, subject, body, record, reports=None):
    """Queue an e-mail about record for the queue worker and keep it in its
    e-mail history.

    Unlike ir.email's send, the mail server is not required: a scheduler
    pass or an automation rule must not roll back (and repeat) its work
    because the server is down; the failure is logged instead."""
    pool = Pool()
    Email = pool.get('ir.email')
    ActionReport = pool.get('ir.action.report')
    Model = pool.get(record[0])
    record = Model(record[1])

    msg = EmailMessage()
    html = HTML_EMAIL % {'subject': subject, 'body': body, 'signature': ''}
    if text := html_to_text(html):
        msg.add_alternative(text, subtype='plain')
        msg.add_alternative(html, subtype='html')
    else:
        msg.set_content(html, subtype='html')
    for report_id in reports or []:
        report = ActionReport(report_id)
        Report = pool.get(report.report_name, type='report')
        ext, content, _, title = Report.execute(
            [record.id], {'action_id': report.id})
        if isinstance(content, str):
            content = content.encode('utf-8')
        name = '%s.%s' % (slugify(title), ext)
        ctype = mimetypes.guess_type(name)[0] or 'application/octet-stream'
        maintype, subtype = ctype.split('/', 1)
        msg.add_attachment(
            content, maintype=maintype, subtype=subtype,
            filename=('utf-8', '', name))
    from_ = config.get('email', 'from')
    set_from_header(msg, from_, from_)
    msg['To'] = [format_address(a, n) for n, a in getaddresses([to])]
    msg['Subject'] = subject
    email = Email.from_message(msg, body=body, resource=record)
    email.save()
    Email.__queue__.send_message([email], msg.as_string())
    return email


def send_message(message):
    "Send message (text of an e-mail) at the commit; log a failure"
    msg = message_from_string(message, policy=policy.default)
    send_message_transactional(msg, strict=False)
