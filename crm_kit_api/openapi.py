# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The OpenAPI 3.1 contract of trytond's REST API for the CRM models.

It is written from the models' own metadata (``fields_get``, the access
rights, the buttons and the reports), as the calling user sees them, and
describes trytond's REST conventions as they are: the bearer key, the
``f``, ``d``, ``o``, ``s`` and ``p`` parameters, ``Range`` paging, the
JSON encoding of dates and decimals, the error body and the buttons."""
import mimetypes

from trytond.i18n import gettext
from trytond.model import Model, ModelSQL
from trytond.pool import Pool

OPENAPI_VERSION = '3.1.0'

# Tryton's JSON encoding of the values JSON has no type for
# (trytond.protocols.jsonrpc).
VALUE_SCHEMAS = {
    'Date': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'date'},
            'year': {'type': 'integer'},
            'month': {'type': 'integer', 'minimum': 1, 'maximum': 12},
            'day': {'type': 'integer', 'minimum': 1, 'maximum': 31},
            },
        'required': ['__class__', 'year', 'month', 'day'],
        },
    'DateTime': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'datetime'},
            'year': {'type': 'integer'},
            'month': {'type': 'integer', 'minimum': 1, 'maximum': 12},
            'day': {'type': 'integer', 'minimum': 1, 'maximum': 31},
            'hour': {'type': 'integer', 'minimum': 0, 'maximum': 23},
            'minute': {'type': 'integer', 'minimum': 0, 'maximum': 59},
            'second': {'type': 'integer', 'minimum': 0, 'maximum': 59},
            'microsecond': {'type': 'integer', 'minimum': 0},
            },
        'required': ['__class__', 'year', 'month', 'day'],
        },
    'Time': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'time'},
            'hour': {'type': 'integer', 'minimum': 0, 'maximum': 23},
            'minute': {'type': 'integer', 'minimum': 0, 'maximum': 59},
            'second': {'type': 'integer', 'minimum': 0, 'maximum': 59},
            'microsecond': {'type': 'integer', 'minimum': 0},
            },
        'required': ['__class__', 'hour', 'minute'],
        },
    'TimeDelta': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'timedelta'},
            'seconds': {'type': 'number'},
            },
        'required': ['__class__', 'seconds'],
        },
    'Decimal': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'Decimal'},
            'decimal': {'type': 'string', 'pattern': r'^-?\d+(\.\d+)?$'},
            },
        'required': ['__class__', 'decimal'],
        },
    'Bytes': {
        'type': 'object',
        'properties': {
            '__class__': {'const': 'bytes'},
            'base64': {'type': 'string', 'contentEncoding': 'base64'},
            },
        'required': ['__class__', 'base64'],
        },
    # A related record read through a dotted name in f (f=party.name).
    'Related': {
        'type': 'object',
        'properties': {
            'id': {'type': 'integer'},
            '__name__': {'type': 'string'},
            },
        'required': ['id'],
        'additionalProperties': True,
        },
    'Error': {
        'type': 'object',
        'properties': {
            'status': {'type': 'integer'},
            'message': {'type': 'string'},
            'description': {'type': 'string'},
            },
        'required': ['status', 'message'],
        },
    }

_VALUE_TYPES = {
    'date': 'Date',
    'datetime': 'DateTime',
    'timestamp': 'DateTime',
    'time': 'Time',
    'timedelta': 'TimeDelta',
    'numeric': 'Decimal',
    'binary': 'Bytes',
    }

RESPONSES = {
    '400': 'BadRequest', '401': 'Unauthorized', '403': 'Forbidden',
    '404': 'NotFound', '405': 'MethodNotAllowed', '409': 'Conflict',
    '412': 'PreconditionFailed', '413': 'TooLarge',
    '415': 'UnsupportedMediaType', '416': 'RangeNotSatisfiable',
    }


def _errors(*statuses):
    "The responses of statuses, as references to the shared ones"
    return {s: {'$ref': f'#/components/responses/{RESPONSES[s]}'}
        for s in statuses}


def _default_action_id(report_name):
    "The id of the action the report renders without one, if it says"
    try:
        Report = Pool().get(report_name, type='report')
    except KeyError:
        return None
    default = getattr(Report, 'default_action_id', None)
    return default() if default else None


def _report_type(report):
    "The MIME type of what report makes"
    extension = report.extension or report.template_extension or 'odt'
    return mimetypes.guess_type(f'report.{extension}')[0] or (
        'application/octet-stream')


def _ref(name):
    return {'$ref': f'#/components/schemas/{name}'}


def _nullable(schema):
    if isinstance(schema.get('type'), list) and 'null' in schema['type']:
        return schema
    if 'type' in schema and isinstance(schema['type'], str):
        schema = dict(schema, type=[schema['type'], 'null'])
        if 'enum' in schema and None not in schema['enum']:
            schema['enum'] = [*schema['enum'], None]
        return schema
    return {'anyOf': [schema, {'type': 'null'}]}


class OpenAPI(Model):
    __name__ = 'crm.api.openapi'
    __string__ = "OpenAPI Contract"

    @classmethod
    def models(cls):
        "The CRM models the user may read, with their access"
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Api = pool.get('crm.api')
        # Each activated module lists its own.
        names = Api.contract_models()
        accesses = ModelAccess.get_access(names)
        return [(pool.get(n), accesses[n])
            for n in names if accesses[n]['read']]

    @classmethod
    def document(cls, server_url):
        "The OpenAPI document for the calling user"
        paths, schemas = {}, dict(VALUE_SCHEMAS)
        for Model_, access in cls.models():
            fields = cls._fields_definition(Model_)
            name = Model_.__name__
            schemas[name] = cls._record_schema(Model_, fields)
            stored = (issubclass(Model_, ModelSQL)
                and not Model_._is_table_query())
            if stored and (access['create'] or access['write']):
                schemas[f'{name}.values'] = cls._values_schema(
                    Model_, fields)
            paths.update(cls._model_paths(Model_, access, stored))
        paths.update(cls._report_paths())
        return {
            'openapi': OPENAPI_VERSION,
            'info': {
                'title': gettext('crm_kit_api.msg_openapi_title'),
                'version': cls._version(),
                'description': gettext(
                    'crm_kit_api.msg_openapi_description'),
                },
            'servers': [{'url': server_url}],
            'security': [{'bearer': []}],
            'paths': paths,
            'components': {
                'schemas': schemas,
                'securitySchemes': {
                    'bearer': {
                        'type': 'http',
                        'scheme': 'bearer',
                        'description': gettext(
                            'crm_kit_api.msg_openapi_security'),
                        },
                    },
                'parameters': cls._parameters(),
                'responses': cls._responses(),
                },
            }

    @classmethod
    def _version(cls):
        pool = Pool()
        Module = pool.get('ir.module')
        module, = Module.search([('name', '=', 'crm_kit_api')], limit=1)
        return module.version

    @classmethod
    def _fields_definition(cls, Model_):
        "fields_get with the dynamic selections resolved"
        definition = Model_.fields_get()
        for fname, props in definition.items():
            selection = props.get('selection')
            if (isinstance(selection, str)
                    and not props.get('selection_change_with')):
                method = getattr(Model_, selection, None)
                try:
                    props['selection'] = method()
                except TypeError:
                    # An instance method: the values depend on the record.
                    props['selection'] = None
        return definition

    @classmethod
    def _field_schema(cls, props, values=False):
        "The JSON schema of a field as read (or, if values, as written)"
        type_ = props['type']
        schema = {}
        if type_ in {'char', 'text', 'sha'}:
            schema['type'] = 'string'
            if props.get('size'):
                schema['maxLength'] = props['size']
        elif type_ == 'boolean':
            schema['type'] = 'boolean'
        elif type_ in {'integer', 'biginteger'}:
            schema['type'] = 'integer'
        elif type_ == 'float':
            schema['type'] = 'number'
        elif type_ in _VALUE_TYPES:
            schema = _ref(_VALUE_TYPES[type_])
        elif type_ == 'selection':
            schema['type'] = 'string'
            selection = props.get('selection')
            if isinstance(selection, (list, tuple)):
                keys = [k for k, _ in selection]
                if None in keys or '' in keys:
                    schema['type'] = ['string', 'null']
                schema['enum'] = keys
        elif type_ == 'multiselection':
            schema['type'] = 'array'
            schema['items'] = {'type': 'string'}
            selection = props.get('selection')
            if isinstance(selection, (list, tuple)):
                schema['items']['enum'] = [k for k, _ in selection]
        elif type_ in {'many2one', 'one2one'}:
            schema = ({'type': 'integer'} if values
                else {'anyOf': [{'type': 'integer'}, _ref('Related')]})
        elif type_ in {'one2many', 'many2many'}:
            if values:
                # Tryton's actions: ["add", [ids]], ["create", [{...}]], …
                schema = {'type': 'array', 'items': {
                        'type': 'array',
                        'prefixItems': [{'enum': [
                                    'create', 'write', 'delete', 'remove',
                                    'add', 'copy']}],
                        }}
            else:
                schema = {'type': 'array', 'items': {
                        'anyOf': [{'type': 'integer'}, _ref('Related')]}}
        elif type_ == 'reference':
            # "model,id"
            schema = {'type': 'string'} if values else {
                'anyOf': [{'type': 'string'}, _ref('Related')]}
        elif type_ == 'dict':
            schema['type'] = 'object'
        else:
            schema = {}
        return schema

    @classmethod
    def _annotate(cls, schema, props):
        "The field's label, help and relation, beside its type"
        if props.get('string'):
            schema['title'] = props['string']
        if props.get('help'):
            schema['description'] = props['help']
        if props.get('relation'):
            schema['x-tryton-relation'] = props['relation']
        return schema

    @classmethod
    def _record_schema(cls, Model_, fields):
        properties = {
            'id': {'type': 'integer'},
            '__name__': {'const': Model_.__name__},
            }
        for fname, props in sorted(fields.items()):
            if fname == 'id':
                continue
            schema = cls._field_schema(props)
            # A field may be empty on a record read, even a required one
            # (a function field, a record made before it was required).
            schema = _nullable(schema) if schema else schema
            if props.get('readonly'):
                schema['readOnly'] = True
            properties[fname] = cls._annotate(schema, props)
        return {
            'type': 'object',
            'title': Pool().get('ir.model').get_name(Model_.__name__),
            'properties': properties,
            'required': ['id'],
            }

    @classmethod
    def _values_schema(cls, Model_, fields):
        "What a client may send to create or update a record"
        properties, required = {}, []
        defaults = set(Model_._defaults)
        for fname, props in sorted(fields.items()):
            field = Model_._fields.get(fname)
            if (field is None or props.get('readonly')
                    or fname in {'id', 'rec_name'}
                    or (hasattr(field, 'getter')
                        and not getattr(field, 'setter', None))):
                continue
            schema = cls._field_schema(props, values=True)
            if not props.get('required'):
                schema = _nullable(schema) if schema else schema
            elif fname not in defaults:
                required.append(fname)
            properties[fname] = cls._annotate(schema, props)
        return {
            'type': 'object',
            'properties': properties,
            'required': required,
            'additionalProperties': False,
            }

    @classmethod
    def _parameters(cls):
        base64_json = {
            'type': 'string', 'pattern': '^[A-Za-z0-9_-]*={0,2}$'}
        return {
            'fields': {
                'name': 'f', 'in': 'query', 'style': 'form',
                'explode': True,
                'description': gettext('crm_kit_api.msg_openapi_param_f'),
                'schema': {'type': 'array', 'items': {'type': 'string'}},
                },
            'domain': {
                'name': 'd', 'in': 'query',
                'description': gettext('crm_kit_api.msg_openapi_param_d'),
                'schema': base64_json,
                },
            'order': {
                'name': 'o', 'in': 'query',
                'description': gettext('crm_kit_api.msg_openapi_param_o'),
                'schema': base64_json,
                },
            'size': {
                'name': 's', 'in': 'query',
                'description': gettext('crm_kit_api.msg_openapi_param_s'),
                'schema': {'type': 'integer', 'minimum': 0},
                },
            'page': {
                'name': 'p', 'in': 'query',
                'description': gettext('crm_kit_api.msg_openapi_param_p'),
                'schema': {'type': 'integer', 'minimum': 0},
                },
            'range': {
                'name': 'Range', 'in': 'header',
                'description': gettext(
                    'crm_kit_api.msg_openapi_param_range'),
                'schema': {
                    'type': 'string', 'pattern': r'^records=\d+-\d*$'},
                },
            'context': {
                'name': 'X-Tryton-Context', 'in': 'header',
                'description': gettext(
                    'crm_kit_api.msg_openapi_param_context'),
                'schema': base64_json,
                },
            'language': {
                'name': 'Accept-Language', 'in': 'header',
                'description': gettext(
                    'crm_kit_api.msg_openapi_param_language'),
                'schema': {'type': 'string'},
                },
            'if_match': {
                'name': 'If-Match', 'in': 'header',
                'description': gettext(
                    'crm_kit_api.msg_openapi_param_if_match'),
                'schema': {'type': 'string'},
                },
            'id': {
                'name': 'id', 'in': 'path', 'required': True,
                'schema': {'type': 'integer', 'minimum': 1},
                },
            }

    @classmethod
    def _responses(cls):
        def error(message):
            return {
                'description': gettext(message),
                'content': {'application/json': {'schema': _ref('Error')}},
                }
        return {
            'BadRequest': error('crm_kit_api.msg_openapi_bad_request'),
            'Unauthorized': error('crm_kit_api.msg_openapi_unauthorized'),
            'Forbidden': error('crm_kit_api.msg_openapi_forbidden'),
            'NotFound': error('crm_kit_api.msg_openapi_not_found'),
            'MethodNotAllowed': error('crm_kit_api.msg_rest_status_405'),
            'Conflict': error('crm_kit_api.msg_rest_status_409'),
            'PreconditionFailed': error(
                'crm_kit_api.msg_openapi_precondition'),
            'TooLarge': error('crm_kit_api.msg_rest_status_413'),
            'UnsupportedMediaType': error(
                'crm_kit_api.msg_openapi_media_type'),
            'RangeNotSatisfiable': error('crm_kit_api.msg_openapi_range'),
            'NoContent': {'description': gettext(
                    'crm_kit_api.msg_openapi_no_content')},
            }

    @classmethod
    def _model_paths(cls, Model_, access, stored):
        name = Model_.__name__
        tag = Pool().get('ir.model').get_name(name)
        param = {
            p: {'$ref': f'#/components/parameters/{p}'}
            for p in cls._parameters()}
        common = [param['context'], param['language']]
        errors = _errors('400', '401', '403')
        # What an address with an id answers, and a change to a record.
        item_errors = _errors('404', '405')
        change_errors = _errors('409', '412', '413', '415')
        etag = {'ETag': {
                'description': gettext('crm_kit_api.msg_openapi_etag'),
                'schema': {'type': 'string'},
                }}
        record = {
            'description': gettext('crm_kit_api.msg_openapi_record'),
            'headers': etag,
            'content': {'application/json': {'schema': _ref(name)}},
            }
        created = dict(record, headers={})
        values = {
            'required': True,
            'content': {'application/json': {
                    'schema': _ref(f'{name}.values')}},
            }
        collection = {
            'get': {
                'operationId': f'{name}.search',
                'summary': gettext(
                    'crm_kit_api.msg_openapi_search', model=tag),
                'tags': [tag],
                'parameters': [
                    param['fields'], param['domain'], param['order'],
                    param['size'], param['page'], param['range'],
                    *common],
                'responses': {
                    '200': {
                        'description': gettext(
                            'crm_kit_api.msg_openapi_records'),
                        'headers': {'Content-Range': {
                                'description': gettext(
                                    'crm_kit_api.msg_openapi_content_range'),
                                'schema': {'type': 'string'},
                                }},
                        'content': {'application/json': {'schema': {
                                    'type': 'array', 'items': _ref(name)}}},
                        },
                    **_errors('416'),
                    **errors,
                    },
                },
            }
        item = {
            'parameters': [param['id']],
            'get': {
                'operationId': f'{name}.read',
                'summary': gettext(
                    'crm_kit_api.msg_openapi_read', model=tag),
                'tags': [tag],
                'parameters': [param['fields'], *common],
                'responses': {
                    '200': record,
                    **item_errors,
                    **errors,
                    },
                },
            }
        if stored and access['create']:
            collection['post'] = {
                'operationId': f'{name}.create',
                'summary': gettext(
                    'crm_kit_api.msg_openapi_create', model=tag),
                'tags': [tag],
                'parameters': [param['fields'], *common],
                'requestBody': values,
                'responses': {
                    '200': created,
                    '204': {'$ref': '#/components/responses/NoContent'},
                    **_errors('409', '413', '415'),
                    **errors,
                    },
                }
        if stored and access['write']:
            item['put'] = {
                'operationId': f'{name}.write',
                'summary': gettext(
                    'crm_kit_api.msg_openapi_write', model=tag),
                'tags': [tag],
                'parameters': [param['fields'], param['if_match'], *common],
                'requestBody': dict(values, content={'application/json': {
                            'schema': dict(
                                _ref(f'{name}.values'), required=[])}}),
                'responses': {
                    '200': record,
                    '204': {'$ref': '#/components/responses/NoContent'},
                    **item_errors,
                    **change_errors,
                    **errors,
                    },
                }
        if stored and access['delete']:
            item['delete'] = {
                'operationId': f'{name}.delete',
                'summary': gettext(
                    'crm_kit_api.msg_openapi_delete', model=tag),
                'tags': [tag],
                'parameters': [param['if_match'], *common],
                'responses': {
                    '204': {'$ref': '#/components/responses/NoContent'},
                    **item_errors,
                    **_errors('409', '412'),
                    **errors,
                    },
                }
        paths = {
            f'/model/{name}': collection,
            f'/model/{name}/{{id}}': item,
            }
        for button, string in cls._buttons(Model_, access):
            paths[f'/model/{name}/{{id}}/{button}'] = {
                'parameters': [param['id']],
                'post': {
                    'operationId': f'{name}.{button}',
                    'summary': string,
                    'description': gettext(
                        'crm_kit_api.msg_openapi_button'),
                    'tags': [tag],
                    'parameters': [
                        param['fields'], param['if_match'], *common],
                    'responses': {
                        '200': {
                            'description': gettext(
                                'crm_kit_api.msg_openapi_button_result'),
                            'headers': etag,
                            'content': {'application/json': {'schema': {}}},
                            },
                        '204': {'$ref': '#/components/responses/NoContent'},
                        **item_errors,
                        **change_errors,
                        **errors,
                        },
                    },
                }
        return paths

    @classmethod
    def _buttons(cls, Model_, access):
        "The buttons the user may click, with their label"
        pool = Pool()
        Button = pool.get('ir.model.button')
        User = pool.get('res.user')
        if not access['write'] or not hasattr(Model_, '_buttons'):
            return []
        groups = set(User.get_groups())
        buttons = []
        for button in sorted(Model_._buttons):
            if button not in Model_.__rpc__:
                continue
            allowed = Button.get_groups(Model_.__name__, button)
            if allowed and not (allowed & groups):
                continue
            string = Button.get_view_attributes(
                Model_.__name__, button).get('string') or button
            buttons.append((button, string))
        return buttons

    @classmethod
    def _report_paths(cls):
        "The reports printed from the CRM models (a quote's PDF)"
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        IrModel = pool.get('ir.model')
        User = pool.get('res.user')
        names = [M.__name__ for M, _ in cls.models()]
        groups = set(User.get_groups())
        paths = {}
        reports = ActionReport.search([
                ('model', 'in', names),
                ('report_name', '!=', None),
                ], order=[('report_name', 'ASC'), ('id', 'ASC')])
        # The route renders the action the report names as its default
        # (a quote's PDF), else the first.
        reports.sort(key=lambda r: r.id != _default_action_id(r.report_name))
        for report in reports:
            allowed = {g.id for g in report.groups}
            if allowed and not (allowed & groups):
                continue
            path = f'/report/{report.report_name}/{{id}}'
            if path in paths:
                continue
            paths[path] = {
                'get': {
                    'operationId': f'report.{report.report_name}',
                    'summary': report.name,
                    'tags': [IrModel.get_name(report.model)],
                    'parameters': [
                        {'$ref': '#/components/parameters/id'},
                        {'$ref': '#/components/parameters/context'},
                        {'$ref': '#/components/parameters/language'},
                        ],
                    'responses': {
                        '200': {
                            'description': gettext(
                                'crm_kit_api.msg_openapi_report'),
                            'content': {_report_type(report): {
                                    'schema': {
                                        'type': 'string',
                                        'format': 'binary'}}},
                            },
                        **_errors('400', '401', '403', '404', '405'),
                        },
                    },
                }
        return paths

    @classmethod
    def server_url(cls, host_url, database):
        return f"{host_url.rstrip('/')}/{database}/rest"
