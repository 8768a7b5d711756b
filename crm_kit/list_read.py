# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What a list's read costs: the record names and the selection labels of
a page read at once.

Tryton computes rec_name record by record from the instance's fields; the
first field touched loads every eager field of the record (of a deal,
about sixty).  A read asking for rec_name alone (a list's link names, the
placeholders of a rule's texts) pays that for each page.  Reading the
columns the name is made of in the same read hands them to the getter
(trytond's Function.get fills the instances with the values read), and
nothing else is loaded.

A selection's label ("state:string", which sao asks for every selection
of a list) trytond looks up row by row, each time through the whole
fields_get of the field (its translations included): for a fixed
selection the labels are looked up once per read."""
from trytond.model import fields
from trytond.pool import Pool

STRING = ':string'


class ListRead:
    """A model whose rec_name is read with the fields of _rec_name_fields,
    and the labels of its fixed selections once per read"""
    __slots__ = ()
    _rec_name_fields = ()

    @classmethod
    def read(cls, ids, fields_names):
        names = list(fields_names)
        extra = []
        if 'rec_name' in names:
            FieldAccess = Pool().get('ir.model.field.access')
            # Those the user may not read are left to the getter, which
            # reads them without the check as before.
            access = FieldAccess.get_access([cls.__name__])[cls.__name__]
            extra = [f for f in cls._rec_name_fields
                if f not in names and access.get(f, {}).get('read', True)]
        labels = [n[:-len(STRING)] for n in names
            if n.endswith(STRING) and _fixed_selection(cls, n[:-len(STRING)])]
        if labels:
            names = [n for n in names if n not in {l + STRING for l in labels}]
            extra += [n for n in labels if n not in names + extra]
        rows = super().read(ids, names + extra)
        for name in labels:
            field = cls._fields[name]
            selection = dict(cls.fields_get([name])[name]['selection'])
            for row in rows:
                row[name + STRING] = field.get_selection_string(
                    selection, row[name])
        for row in rows if extra else ():
            for name in extra:
                del row[name]
        return rows


def _fixed_selection(Model, name):
    "Whether name is a selection of Model whose labels depend on no record"
    field = Model._fields.get(name)
    return (isinstance(field, fields.Selection)
        and not isinstance(field, fields.Function)
        and not isinstance(field.selection, str))
