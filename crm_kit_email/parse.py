# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the CRM keeps of a mail as it came from the mailbox: its
addresses, thread headers, text, safe HTML and attachments, read without
ever failing on what senders put in mails (broken MIME, unknown
charsets, headers that are no addresses)."""
import datetime as dt
import re
from email import message_from_bytes, policy
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime
from html import escape
from html.parser import HTMLParser

# How many characters of a mail's text the timeline shows
SNIPPET = 200
# The text of a mail kept in the database; the whole mail stays in its
# source (the raw message).
MAX_TEXT = 200_000
MAX_ADDRESSES = 1000

# Senders and headers of mail that nobody wrote: they never become leads.
_ROBOTS = re.compile(
    r'^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?'
    r'|notifications?)([+.@-]|$)', re.I)
_AUTO_REPLY_SUBJECT = re.compile(
    r'^(auto(matic)?[ -]?(reply|response)|out of (the )?office'
    r'|respuesta autom[aá]tica|fuera de la oficina|ausencia)', re.I)
TOKEN = re.compile(r'\+crm-([0-9a-f]{16})@', re.I)


def _header(msg, name):
    "The header decoded to text, '' when missing or undecodable"
    try:
        value = msg.get(name)
    except Exception:
        return ''
    if value is None:
        return ''
    return decode_words(str(value)).strip()


def decode_words(value):
    "value with its =?charset?...?= words decoded, whatever the charset"
    try:
        parts = decode_header(value)
    except Exception:
        return value
    text = []
    for part, charset in parts:
        if isinstance(part, str):
            text.append(part)
            continue
        for candidate in (charset or 'ascii', 'utf-8', 'cp1252'):
            try:
                text.append(part.decode(candidate))
                break
            except (LookupError, UnicodeDecodeError):
                continue
        else:
            text.append(part.decode('utf-8', 'replace'))
    return ''.join(text)


def addresses(msg, *names):
    "[(name, address)] of headers names, addresses lower-cased, once each"
    result, seen = [], set()
    for header in names:
        values = [str(_raw_header_values(msg, header))]
        for name, address in getaddresses(values):
            address = address.strip().lower()
            if '@' not in address or address in seen or len(address) > 254:
                continue
            seen.add(address)
            name = decode_words(name)
            result.append((name.strip(), address))
            if len(result) >= MAX_ADDRESSES:
                return result
    return result


def _raw_header_values(msg, name):
    values = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
    return ', '.join(str(v) for v in values)


def message_ids(value):
    "The <message ids> of a header, in order"
    return re.findall(r'<[^<>\s]+>', value or '')


def _decode(part):
    "The text of a part, whatever charset it says it has"
    try:
        payload = part.get_payload(decode=True) or b''
    except Exception:
        payload = b''
    charset = part.get_content_charset() or 'utf-8'
    for candidate in (charset, 'utf-8', 'cp1252'):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode('utf-8', 'replace')


def _walk(msg):
    try:
        yield from msg.walk()
    except Exception:
        yield msg


def parse(raw, max_size=None):
    """The values of the mail raw (bytes) for crm.email, and its
    attachments as [(index, name, content type, size)]"""
    msg = message_from_bytes(raw, policy=policy.compat32)
    text = html = None
    attachments = []
    defects = []
    for index, part in enumerate(_walk(msg)):
        if part.is_multipart():
            continue
        ctype = (part.get_content_type() or 'text/plain').lower()
        if ctype.startswith('multipart/'):
            # A multipart whose parts never start: its body is the text.
            if text is None:
                text = _decode(part)
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if filename:
            filename = decode_words(filename)
        disposition = (part.get('Content-Disposition') or '').lower()
        if (filename or disposition.startswith('attachment')
                or not ctype.startswith('text/')):
            try:
                size = len(part.get_payload(decode=True) or b'')
            except Exception:
                size = 0
            attachments.append((index, filename or 'attachment-%s' % index,
                    ctype, size))
        elif ctype == 'text/html' and html is None:
            html = _decode(part)
        elif text is None:
            text = _decode(part)
        defects.extend(getattr(part, 'defects', []))
    if text is None and html is not None:
        text = html_to_text(html)
    if text is None and not attachments:
        # A multipart whose parts never start: its body as it is.
        body = re.split(rb'\r?\n\r?\n', raw, maxsplit=1)[-1]
        text = body.decode('utf-8', 'replace') if _utf8(body) else (
            body.decode('cp1252', 'replace'))
    text = (text or '').replace('\r\n', '\n')[:MAX_TEXT]
    sender = addresses(msg, 'From')
    date = None
    try:
        date = parsedate_to_datetime(_header(msg, 'Date'))
        if date.tzinfo is not None:
            date = date.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except Exception:
        date = None
    references = message_ids(_header(msg, 'References'))
    in_reply_to = message_ids(_header(msg, 'In-Reply-To'))
    values = {
        'message_id': (message_ids(_header(msg, 'Message-ID')) or [None])[0],
        'in_reply_to': in_reply_to[0] if in_reply_to else None,
        'references': ' '.join(references[-50:]) or None,
        'subject': _header(msg, 'Subject')[:500],
        'from_name': sender[0][0][:200] if sender else '',
        'from_address': sender[0][1] if sender else '',
        'to': format_addresses(addresses(msg, 'To')),
        'cc': format_addresses(addresses(msg, 'Cc')),
        'date': date,
        'body_text': text,
        'body_html': sanitize_html(html)[:MAX_TEXT] if html else None,
        'snippet': snippet(text),
        'kind': kind(msg, sender),
        'size': len(raw),
        }
    return values, attachments


def _utf8(data):
    try:
        data.decode('utf-8')
    except UnicodeDecodeError:
        return False
    return True


def recipients(msg):
    "Every address of the To, Cc and Reply-To headers"
    return addresses(msg, 'To', 'Cc', 'Reply-To', 'Delivered-To')


def format_addresses(pairs):
    from email.utils import formataddr
    return ', '.join(formataddr(p) for p in pairs)


def snippet(text):
    "The first words of a mail, quoted replies and signatures left out"
    lines = []
    for line in (text or '').splitlines():
        stripped = line.strip()
        if stripped.startswith('>') or stripped == '--':
            break
        if re.match(r'^(on .* wrote:|el .* escribi[oó]:)$', stripped, re.I):
            break
        if stripped:
            lines.append(stripped)
    return ' '.join(' '.join(lines).split())[:SNIPPET]


def kind(msg, sender):
    "'bounce', 'auto_reply', 'newsletter' or 'personal'"
    ctype = (msg.get_content_type() or '').lower()
    report = (msg.get_param('report-type') or '')
    if ctype == 'multipart/report' and str(report).lower() in {
            'delivery-status', 'disposition-notification'}:
        return 'bounce'
    address = sender[0][1] if sender else ''
    local = address.split('@', 1)[0]
    if re.match(r'^(mailer-daemon|postmaster)$', local, re.I):
        return 'bounce'
    auto = _header(msg, 'Auto-Submitted').lower()
    precedence = _header(msg, 'Precedence').lower()
    if ((auto and auto != 'no')
            or _header(msg, 'X-Autoreply') or _header(msg, 'X-Autorespond')
            or precedence == 'auto_reply'
            or _AUTO_REPLY_SUBJECT.match(_header(msg, 'Subject'))):
        return 'auto_reply'
    if (_header(msg, 'List-Id') or _header(msg, 'List-Unsubscribe')
            or precedence in {'bulk', 'list', 'junk'}
            or _ROBOTS.match(local + '@')):
        return 'newsletter'
    return 'personal'


def attachment(raw, index):
    "(name, content type, data) of the part index of the mail raw"
    msg = message_from_bytes(raw, policy=policy.compat32)
    for position, part in enumerate(_walk(msg)):
        if position == index and not part.is_multipart():
            try:
                data = part.get_payload(decode=True) or b''
            except Exception:
                data = b''
            return part.get_filename(), part.get_content_type(), data
    return None


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {'script', 'style', 'head', 'title'}:
            self.skip += 1
        elif tag in {'br', 'p', 'div', 'tr', 'li', 'h1', 'h2', 'h3'}:
            self.parts.append('\n')

    def handle_endtag(self, tag):
        if tag in {'script', 'style', 'head', 'title'} and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html):
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    text = ''.join(parser.parts)
    return re.sub(r'\n\s*\n+', '\n\n', text).strip()


# What a mail's HTML keeps: formatting only.  No scripts, styles, forms,
# frames or images (remote images tell the sender the mail was read), no
# attributes but a link's address.
_KEPT = {'p', 'br', 'div', 'span', 'b', 'strong', 'i', 'em', 'u', 's',
    'ul', 'ol', 'li', 'blockquote', 'pre', 'code', 'h1', 'h2', 'h3', 'h4',
    'h5', 'h6', 'hr', 'table', 'thead', 'tbody', 'tr', 'td', 'th', 'a'}
_VOID = {'br', 'hr'}
_DROPPED = {'script', 'style', 'head', 'title', 'iframe', 'object',
    'embed', 'svg', 'math', 'template', 'noscript', 'textarea', 'select'}


class _Sanitizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.open = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _DROPPED:
            self.skip += 1
            return
        if self.skip or tag not in _KEPT:
            return
        attributes = ''
        if tag == 'a':
            href = dict(attrs).get('href') or ''
            if re.match(r'^(https?:|mailto:)', href.strip(), re.I):
                attributes = ' href="%s" target="_blank" rel="noopener ' \
                    'noreferrer"' % escape(href.strip(), quote=True)
        self.out.append('<%s%s>' % (tag, attributes))
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        if not self.skip and tag in _VOID:
            self.out.append('<%s>' % tag)

    def handle_endtag(self, tag):
        if tag in _DROPPED:
            if self.skip:
                self.skip -= 1
            return
        if self.skip or tag not in self.open:
            return
        while self.open:
            last = self.open.pop()
            self.out.append('</%s>' % last)
            if last == tag:
                break

    def handle_data(self, data):
        if not self.skip:
            self.out.append(escape(data, quote=False))


def sanitize_html(html):
    "html with only formatting and safe links left"
    sanitizer = _Sanitizer()
    try:
        sanitizer.feed(html)
        sanitizer.close()
    except Exception:
        pass
    sanitizer.out.extend('</%s>' % t for t in reversed(sanitizer.open))
    return ''.join(sanitizer.out)
