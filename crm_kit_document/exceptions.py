# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.exceptions import UserWarning
from trytond.model.exceptions import ValidationError


class DocumentFileError(ValidationError):
    pass


class DocumentValidationError(ValidationError):
    pass


class DuplicateDocumentWarning(UserWarning):
    pass


class UploadLinkError(ValidationError):
    pass
