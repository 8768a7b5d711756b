# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"What the CRM keeps of a mail (parse.py), without a server."
import unittest

from ..parse import parse, sanitize_html, snippet

HTML_MAIL = (b'From: =?utf-8?q?Jos=C3=A9_Ruiz?= <Jose@Example.COM>\r\n'
    b'To: ventas@example.com\r\n'
    b'Subject: Oferta\r\n'
    b'Message-ID: <a1@example.com>\r\n'
    b'In-Reply-To: <crm-0123456789abcdef@example.com>\r\n'
    b'Content-Type: text/html; charset=utf-8\r\n\r\n'
    b'<html><head><style>p{}</style><script>steal()</script></head>'
    b'<body><p onclick="steal()">Hola <b>equipo</b></p>'
    b'<img src="https://tracker.test/p.gif">'
    b'<a href="javascript:steal()">clic</a>'
    b'<a href="https://ejemplo.test/x?a=1&b=2">web</a>'
    b'<iframe src="https://x.test"></iframe><form><input></form>'
    b'</body></html>')


class ParseTestCase(unittest.TestCase):

    def test_html_kept_without_what_runs_or_tracks(self):
        values, attachments = parse(HTML_MAIL)
        html = values['body_html']
        for unsafe in ['script', 'steal', 'onclick', 'img', 'tracker',
                'javascript', 'iframe', 'form', 'input', 'style']:
            self.assertNotIn(unsafe, html)
        self.assertIn('<b>equipo</b>', html)
        self.assertIn('href="https://ejemplo.test/x?a=1&amp;b=2"', html)
        self.assertIn('rel="noopener noreferrer"', html)
        # The text is made from the HTML when there is no text part.
        self.assertIn("Hola equipo", values['body_text'])
        self.assertEqual((values['from_name'], values['from_address']),
            ("José Ruiz", 'jose@example.com'))
        self.assertEqual(values['in_reply_to'],
            '<crm-0123456789abcdef@example.com>')
        self.assertEqual(attachments, [])

    def test_sanitize_closes_what_it_opens(self):
        self.assertEqual(sanitize_html('<div><p>a<b>b</div>'),
            '<div><p>a<b>b</b></p></div>')
        self.assertEqual(sanitize_html('<p>1 &lt; 2</p><script>x'),
            '<p>1 &lt; 2</p>')

    def test_robots_recognised(self):
        def kind(headers, sender='ana@cliente.test'):
            raw = (f'From: {sender}\r\nSubject: Hola\r\n{headers}'
                '\r\nhola\r\n').encode()
            return parse(raw)[0]['kind']
        self.assertEqual(kind(''), 'personal')
        self.assertEqual(kind('Auto-Submitted: auto-replied\r\n'),
            'auto_reply')
        self.assertEqual(kind('Auto-Submitted: no\r\n'), 'personal')
        self.assertEqual(kind('X-Autoreply: yes\r\n'), 'auto_reply')
        self.assertEqual(kind('List-Id: <boletin.tienda.test>\r\n'),
            'newsletter')
        self.assertEqual(kind('Precedence: bulk\r\n'), 'newsletter')
        self.assertEqual(kind('', sender='no-reply@banco.test'),
            'newsletter')
        self.assertEqual(kind('', sender='MAILER-DAEMON@mx.test'), 'bounce')
        self.assertEqual(kind('Content-Type: multipart/report; '
                'report-type=delivery-status; boundary="b"\r\n'), 'bounce')

    def test_snippet_leaves_quotes_and_signature_out(self):
        self.assertEqual(snippet("Vale,\n\n  hasta el martes.\n"
                "El lun, 1 dic 2026, Ana escribió:\n> ¿Quedamos?"),
            "Vale, hasta el martes.")
        self.assertEqual(snippet("Gracias\n--\nAna Pérez\nGerente"),
            "Gracias")

    def test_whatever_comes_is_read(self):
        for raw in [b'', b'\xff\xfe\x00', b'Subject: =?bogus?x?y?=\r\n\r\n',
                b'From: <<<@>>>\r\nTo: ,,,;;;\r\n\r\nx',
                b'Content-Type: multipart/mixed\r\n\r\nsin partes',
                b'Date: el martes\r\n\r\nx']:
            with self.subTest(raw=raw):
                values, _ = parse(raw)
                self.assertEqual(values['size'], len(raw))
