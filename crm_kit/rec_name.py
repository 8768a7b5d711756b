# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The record name read with the columns it is made of.

Tryton computes rec_name record by record from the instance's fields; the
first field touched loads every eager field of the record (of a deal,
about sixty).  A read asking for rec_name alone (a list's link names, the
placeholders of a rule's texts) pays that for each page.  Reading the
columns the name is made of in the same read hands them to the getter
(trytond's Function.get fills the instances with the values read), and
nothing else is loaded."""
from trytond.pool import Pool


class RecNameFields:
    "A model whose rec_name is read with the fields of _rec_name_fields"
    __slots__ = ()
    _rec_name_fields = ()

    @classmethod
    def read(cls, ids, fields_names):
        extra = []
        if 'rec_name' in fields_names:
            FieldAccess = Pool().get('ir.model.field.access')
            # Those the user may not read are left to the getter, which
            # reads them without the check as before.
            access = FieldAccess.get_access([cls.__name__])[cls.__name__]
            extra = [f for f in cls._rec_name_fields
                if f not in fields_names
                and access.get(f, {}).get('read', True)]
        rows = super().read(ids, list(fields_names) + extra)
        for row in rows if extra else ():
            for name in extra:
                del row[name]
        return rows
