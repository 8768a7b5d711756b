# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Builders shared by the crm_kit_document tests"
import io
import zipfile

from crm_kit.tests.tools import (  # noqa: F401
    CrmRouteTestCase, CrmTestCase, create_opportunity, in_transaction,
    load_spanish, missing_translations, setup_crm)
from trytond.pool import Pool
from trytond.transaction import Transaction, check_access

# The smallest files of each kind the tests upload.
PDF = (b'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n'
    b'2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n'
    b'%%EOF\n')
PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00'
    b'\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc'
    b'\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`'
    b'\x82')
EXE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' * 4
# A PDF that runs JavaScript when opened, and a web page.
SCRIPT_PDF = (b'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>'
    b'endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n'
    b'3 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\n'
    b'trailer<</Root 1 0 R>>\n%%EOF\n')
HTML = b'<!DOCTYPE html><html><script>fetch("/crm/rpc/")</script></html>\n'


def docx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('[Content_Types].xml', '<Types/>')
        archive.writestr('word/document.xml', '<w:document/>')
    return buffer.getvalue()


class DocumentTestCase(CrmTestCase):
    "A test case with crm_kit_document (and activities) and the CRM of setup_crm"
    modules = ['crm_kit_document', 'crm_kit_activity']


def create_document(user, company, data=PDF, file_name='contrato.pdf',
        links=None, **values):
    "Create a document as user would in sao"
    pool = Pool()
    Document = pool.get('crm.document')
    with Transaction().set_user(user.id), \
            Transaction().set_context(company=company.id), check_access():
        document, = Document.create([{
                    'name': values.pop('name', file_name.rsplit('.', 1)[0]),
                    'data': data,
                    'file_name': file_name,
                    'links': [('create', links or [])],
                    **values,
                    }])
    return Document(document.id)
