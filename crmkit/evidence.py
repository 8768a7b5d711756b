"""crm-kit evidence: the Kit Digital justification pack of a database.

A real browser (Playwright with Debian's chromium: pip install
'crm-kit[evidence]') goes through the CRM as it is, with its real data, and
takes the screenshots the official template asks for, in its order: one
section per required function with its title, how crm-kit fulfils it and
1-3 full-page screenshots.  Each screenshot shows sao's header, "crm-kit ·
<the company>", and is refused when the header does not say both.  The PDF
starts with a cover (solution, version, beneficiary, NIF, agent, date) and
ends with the parameterisation done (the configuration records created or
changed, by whom and when); the access log of the period is written
beside it as CSV, and the full parameterisation list too.

It changes no business data: it logs in as a user of its own,
kit-digital-evidence (made, or given a new random password, for the run
and switched off afterwards), opens lists and forms, fills a new customer
and a new lead without saving them, and closes the browser."""
import csv
import datetime as dt
import html
import io
import base64
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

EVIDENCE_LOGIN = 'kit-digital-evidence'
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu',
    '--disable-background-networking', '--disable-component-update']
DESKTOP = {'width': 1366, 'height': 900}
PHONE = {'width': 390, 'height': 844}
TIMEOUT = 60_000  # ms: a loaded machine answers slowly
SOLUTION = 'crm-kit'

# The configuration the agent parameterises: (model, title es, title en)
CONFIGURATION = [
    ('company.company', "Empresa", "Company"),
    ('res.user', "Usuarios", "Users"),
    ('crm.team', "Equipos de venta", "Sales teams"),
    ('crm.pipeline', "Embudos", "Pipelines"),
    ('crm.stage', "Etapas y probabilidades", "Stages and probabilities"),
    ('crm.channel', "Canales", "Channels"),
    ('crm.lost_reason', "Motivos de pérdida", "Lost reasons"),
    ('crm.assignment.rule', "Reglas de asignación", "Assignment rules"),
    ('crm.activity.type', "Tipos de tarea", "Task types"),
    ('crm.automation.rule', "Reglas de automatización", "Automation rules"),
    ('crm.alert.rule', "Reglas de alerta", "Alert rules"),
    ('crm.sales.target', "Objetivos de venta", "Sales targets"),
    ('crm.lead.import.template', "Plantillas de importación",
        "Import templates"),
    ('crm.web.form', "Formularios web", "Web forms"),
    ('crm.document.category', "Categorías de documentos",
        "Document categories"),
    ('ir.email.template', "Plantillas de correo", "E-mail templates"),
    ('crm.mailbox', "Buzones de correo", "Mailboxes"),
    ('crm.webhook', "Webhooks", "Webhooks"),
    ('product.template', "Productos y servicios", "Products and services"),
    ]

TEXTS = {
    'es': {
        'title': "Justificación Kit Digital — Gestión de Clientes",
        'solution': "Solución", 'version': "Versión",
        'beneficiary': "Beneficiario", 'nif': "NIF",
        'agent': "Agente digitalizador", 'date': "Fecha",
        'users': "Usuarios con acceso", 'hours': "Horas de parametrización",
        'period': "Periodo del registro de accesos",
        'captured': ("Capturas hechas por crm-kit evidence con el usuario "
            "kit-digital-evidence, creado para ello y desactivado al "
            "terminar; no se guardó ningún cambio en los datos del "
            "negocio."),
        'contents': "Contenido",
        'header': "Cabecera", 'width': "Ancho",
        'parameterisation': "Parametrización realizada",
        'parameterisation_text': (
            "Registros de configuración creados o modificados en crm-kit, "
            "con quién y cuándo lo hizo. La lista completa está en {file}. "
            "Horas de parametrización declaradas: {hours}."),
        'records': "Registros", 'created': "Creado", 'changed': "Modificado",
        'by': "por", 'access_log': "Registro de accesos",
        'access_log_text': (
            "El registro de accesos (inicios y cierres de sesión, intentos "
            "fallidos y uso de las claves de API) del {start} al {end} está "
            "en {file}: {count} líneas."),
        'not_set': "—",
        },
    'en': {
        'title': "Kit Digital justification — Customer Management",
        'solution': "Solution", 'version': "Version",
        'beneficiary': "Beneficiary", 'nif': "Tax ID (NIF)",
        'agent': "Digitalising agent", 'date': "Date",
        'users': "Users with access", 'hours': "Parameterisation hours",
        'period': "Period of the access log",
        'captured': ("Screenshots taken by crm-kit evidence as the user "
            "kit-digital-evidence, made for it and switched off at the "
            "end; no change to the business data was saved."),
        'contents': "Contents",
        'header': "Header", 'width': "Width",
        'parameterisation': "Parameterisation done",
        'parameterisation_text': (
            "Configuration records created or changed in crm-kit, by whom "
            "and when. The full list is in {file}. Parameterisation hours "
            "declared: {hours}."),
        'records': "Records", 'created': "Created", 'changed': "Changed",
        'by': "by", 'access_log': "Access log",
        'access_log_text': (
            "The access log (logins, logouts, failed logins and the API "
            "keys' use) from {start} to {end} is in {file}: {count} lines."),
        'not_set': "—",
        },
    }


class Shot:
    """One screenshot: what to open (an action or a wizard by XML id, a
    model's list or form, a new record filled in, or a page of the server)
    and its caption"""

    def __init__(self, caption, action=None, model=None, record=None,
            new=None, page=None, search=None, domain=None,
            show=None, export=False, email=False, width=DESKTOP):
        self.caption = caption  # {'es': ..., 'en': ...}
        self.action = action
        self.model = model
        self.record = record  # a key of the sample records
        # [(field name, key of SAMPLE_VALUES)] typed into a new record
        self.new = new
        self.page = page  # a key of the pages (URLs) of the server
        self.search = search  # the key of the sample records to search
        self.domain = domain
        self.show = show  # a field of the form to scroll to
        self.export = export  # the list's export dialog
        self.email = email  # the record's e-mail dialog
        self.width = width


class Section:
    def __init__(self, key, title, description, shots):
        self.key = key
        self.title = title
        self.description = description
        self.shots = shots


def _(es, en):
    return {'es': es, 'en': en}


# The official template's order: the users with access, then the
# functions of the category (Orden ETD/1498/2021, annex IV).
SECTIONS = [
    Section('users', _("Usuarios con acceso", "Users with access"), _(
            "Cada usuario del beneficiario entra con su propio usuario y "
            "contraseña y tiene un rol en el CRM: comercial (sus clientes y "
            "oportunidades), jefe de ventas (las de su equipo) o administrador "
            "(todo y la configuración). Cada inicio de sesión, intento "
            "fallido, cierre y uso de una clave de API queda en el registro "
            "de accesos, exportable a CSV y XLSX.",
            "Each of the beneficiary's users logs in with their own login "
            "and password and has a role in the CRM: sales rep (their "
            "customers and deals), manager (their team's) or administrator "
            "(everything and the configuration). Every login, failed login, "
            "logout and API key's use goes to the access log, exported as "
            "CSV and XLSX."), [
        Shot(_("Usuarios y su rol en el CRM", "Users and their CRM role"),
            model='res.user', domain=[['login', '!=', EVIDENCE_LOGIN]]),
        Shot(_("Registro de accesos", "Access log"),
            action='crm_kit.act_access_log_form'),
        ]),
    Section('customers', _("Gestión de clientes", "Customer management"), _(
            "Los datos de cada cliente se guardan desde que es una "
            "oportunidad: contacto, direcciones, NIF, canal y comercial. Se "
            "buscan por nombre, NIF, correo o teléfono. La ficha muestra su "
            "historial completo (contacto, oportunidad, presupuesto, "
            "ganada, tareas, correos y documentos) y sus presupuestos con "
            "productos, cantidades, precios, descuentos e impuestos: la "
            "compra simulada.",
            "Each customer's data is kept from the moment they are an "
            "opportunity: contacts, addresses, tax ID, channel and rep. They "
            "are searched by name, tax ID, e-mail or phone. The record shows "
            "their whole history (lead, opportunity, quote, won, tasks, "
            "e-mails and documents) and their quotes with products, "
            "quantities, prices, discounts and taxes: the simulated "
            "purchase."), [
        Shot(_("Búsqueda de clientes", "Customer search"),
            action='crm_kit.act_customer_form', search='customer_search'),
        Shot(_("Alta de un cliente (sin guardar)",
                "A new customer (not saved)"),
            model='party.party', new=[('name', 'customer_name')]),
        Shot(_("Ficha del cliente con su historial",
                "The customer's record with their history"),
            model='party.party', record='customer', show='crm_history'),
        ]),
    Section('leads', _("Gestión de clientes potenciales (leads)", "Leads"),
        _(
            "Los leads se registran a mano, importando un archivo CSV o XLSX "
            "(con mapeo de columnas, validación, informe de errores por "
            "fila y deshacer), desde formularios web y por la API. Una sola "
            "política de duplicados y las reglas de asignación (por "
            "criterios, rotación o menor carga) se aplican a todos, y cada "
            "lead guarda el motivo de su asignación. El seguimiento comercial "
            "los convierte en clientes.",
            "Leads are registered by hand, by importing a CSV or XLSX file "
            "(with column mapping, validation, a per-row error report and "
            "undo), from web forms and through the API. One duplicate "
            "policy and the assignment rules (by criteria, round robin or "
            "least loaded) apply to all of them, and each lead keeps the "
            "reason it was assigned. Commercial follow-up turns them into "
            "customers."), [
        Shot(_("Alta de un lead (sin guardar)", "A new lead (not saved)"),
            action='crm_kit.act_lead_form',
            new=[('lead_name', 'lead_name'), ('lead_company', 'lead_company'),
                ('lead_email', 'lead_email')]),
        Shot(_("Importación de leads desde un archivo",
                "Importing leads from a file"),
            action='crm_kit_lead.wizard_import_leads'),
        Shot(_("Reglas de asignación de leads", "Lead assignment rules"),
            action='crm_kit_lead.act_assignment_rule_form'),
        ]),
    Section('opportunities', _("Gestión de oportunidades",
            "Opportunities"), _(
            "Cada oportunidad avanza por etapas (en análisis, oferta "
            "enviada, en negociación, ganada, perdida) en un tablero que "
            "hace cumplir el flujo; cada cambio de etapa queda registrado. "
            "Desde la oportunidad se prepara el presupuesto y se envía por "
            "correo con el PDF adjunto.",
            "Each opportunity moves through stages (under analysis, offer "
            "sent, under negotiation, won, lost) on a board that enforces "
            "the workflow; every stage change is logged. The quote is made "
            "from the opportunity and sent by e-mail with its PDF "
            "attached."), [
        Shot(_("Tablero de oportunidades por etapa",
                "The pipeline board by stage"),
            action='crm_kit_desk.wizard_pipeline_board'),
        Shot(_("Presupuesto: productos, precios, descuentos e impuestos",
                "The quote: products, prices, discounts and taxes"),
            model='sale.sale', record='quote'),
        Shot(_("Envío del presupuesto por correo con su PDF",
                "Sending the quote by e-mail with its PDF"),
            model='sale.sale', record='quote', email=True),
        ]),
    Section('tasks', _("Acciones o tareas comerciales",
            "Commercial actions and tasks"), _(
            "Llamadas, reuniones, correos, visitas y tareas con responsable "
            "y fecha, creadas a mano o automáticamente por reglas que el "
            "administrador configura: al entrar un lead, al cambiar de "
            "etapa, tras días sin actividad o antes de que caduque un "
            "presupuesto.",
            "Calls, meetings, e-mails, visits and to-dos with an owner and a "
            "due date, made by hand or automatically by rules the "
            "administrator sets up: on a new lead, on a stage change, after "
            "days without activity or before a quote expires."), [
        Shot(_("Tareas comerciales", "Commercial tasks"),
            action='crm_kit_activity.act_activity_form'),
        Shot(_("Reglas de tareas automáticas", "Automatic task rules"),
            action='crm_kit_activity.act_automation_rule_form'),
        ]),
    Section('reporting', _("Informes, planificación y seguimiento",
            "Reporting, planning and monitoring"), _(
            "Cuadros de mando con KPI, embudo y ratios de conversión y de "
            "éxito según el perfil: el comercial ve sus cifras, el "
            "responsable las de su equipo y el administrador todas. Informes "
            "por mes, acumulado del año y comparación con el año anterior, "
            "por canal, comercial, equipo, etapa, producto y precio, "
            "exportables.",
            "Dashboards with KPIs, the pipeline and conversion and win "
            "rates by profile: a rep sees their figures, a manager their "
            "team's and an administrator everything. Reports by month, "
            "year to date and against the previous year, by channel, rep, "
            "team, stage, product and price, exported."), [
        Shot(_("Cuadro de mando del jefe de ventas", "The manager's dashboard"),
            action='crm_kit_report.act_dashboard_manager'),
        Shot(_("Informe mensual, acumulado e interanual",
                "Monthly, year-to-date and year-over-year report"),
            action='crm_kit_report.act_month_report'),
        ]),
    Section('alerts', _("Alertas", "Alerts"), _(
            "Reglas de alerta configurables (sin actividad, presupuesto a "
            "punto de caducar, tarea vencida...) que se muestran con iconos "
            "y colores en las listas y fichas y como avisos emergentes al "
            "responsable.",
            "Configurable alert rules (no activity, a quote about to "
            "expire, an overdue task...) shown as icons and colours on "
            "lists and records and as pop-up notices to the user in "
            "charge."), [
        Shot(_("Oportunidades con iconos y colores de alerta",
                "Opportunities with alert icons and colours"),
            action='crm_kit.act_opportunity_form'),
        Shot(_("Reglas de alerta", "Alert rules"),
            action='crm_kit_alert.act_alert_rule_form'),
        ]),
    Section('documents', _("Gestión documental", "Document management"), _(
            "Una biblioteca central de documentos, subidos o enlazados, de "
            "la actividad comercial y de los clientes; un documento se "
            "vincula a varios registros y la ficha del cliente reúne todos "
            "los suyos. Los clientes entregan documentos por un enlace "
            "privado de subida.",
            "One library of documents, uploaded or linked, of the "
            "commercial activity and from customers; a document is linked "
            "to several records and the customer's record gathers all of "
            "theirs. Customers hand documents in through a private upload "
            "link."), [
        Shot(_("Biblioteca de documentos", "The document library"),
            action='crm_kit_document.act_document_form'),
        Shot(_("Página de subida del cliente",
                "The customer's upload page"), page='upload'),
        ]),
    Section('responsive', _("Diseño responsive", "Responsive design"), _(
            "La misma aplicación se usa en el móvil, la tableta y el "
            "ordenador: en 390 píxeles de ancho el menú, las listas, las "
            "fichas y el tablero se adaptan a la pantalla.",
            "The same application works on phones, tablets and desktops: "
            "at 390 pixels wide the menu, the lists, the records and the "
            "board fit the screen."), [
        Shot(_("Tablero en el móvil", "The board on a phone"),
            action='crm_kit_desk.wizard_pipeline_board',
            width=PHONE),
        Shot(_("Oportunidad en el móvil", "An opportunity on a phone"),
            model='sale.opportunity', record='opportunity', width=PHONE),
        Shot(_("Tareas en el móvil", "Tasks on a phone"),
            action='crm_kit_activity.act_activity_form', width=PHONE),
        ]),
    Section('integration', _("Integración con diversas plataformas",
            "Integration"), _(
            "Una API REST documentada (OpenAPI) con claves por usuario que "
            "respetan sus permisos, webhooks de salida y exportación de "
            "cualquier lista a CSV o XLSX.",
            "A documented REST API (OpenAPI) with per-user keys that keep "
            "the user's permissions, outbound webhooks and the export of "
            "every list to CSV or XLSX."), [
        Shot(_("Documentación de la API", "The API documentation"),
            page='api_docs'),
        Shot(_("Claves de API", "API keys"),
            action='crm_kit_api.act_api_key_form'),
        Shot(_("Exportación de una lista a CSV o XLSX",
                "Exporting a list to CSV or XLSX"),
            action='crm_kit.act_opportunity_form', export=True),
        ]),
    ]


class EvidenceError(Exception):
    pass


# In the database (a transaction of the command's process)

def prepare(lang, beneficiary=None):
    """Make the evidence user ready (a new random password) and gather
    what the run needs: the company, the actions, the sample records"""
    from trytond.pool import Pool
    pool = Pool()
    Company = pool.get('company.company')
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')
    ModelData = pool.get('ir.model.data')
    Application = pool.get('res.user.application')

    companies = Company.search([], limit=1)
    if not companies:
        raise EvidenceError(
            "The database has no company: run 'crm-kit init' first.")
    company, = companies
    name = company.party.name
    if beneficiary and beneficiary.strip().lower() != name.strip().lower():
        raise EvidenceError(
            f"The CRM's header shows the company {name!r}, not "
            f"{beneficiary!r}: every screenshot must show the beneficiary, "
            "so set the company's name to the beneficiary's (its party, in "
            "Administration > Companies) or leave --beneficiary out.")
    tax_identifier = company.party.tax_identifier
    nif = tax_identifier.code if tax_identifier else None
    if nif and tax_identifier.type == 'eu_vat' and nif.startswith('ES'):
        nif = nif[2:]  # the Spanish VAT number is ES and the NIF

    password = secrets.token_urlsafe(24)
    groups = [ModelData.get_id('crm_kit', 'group_crm_admin'),
        ModelData.get_id('res', 'group_admin')]
    language, = Lang.search([('code', '=', lang)], limit=1)
    users = _evidence_users()
    values = {
        'name': "Kit Digital evidence (crm-kit)",
        'active': True,
        'password': password,
        'language': language.id,
        'groups': [('add', groups)],
        'company': company.id,
        'companies': [('add', [company.id])],
        }
    if users:
        User.write(users, values)
        user, = users
    else:
        values['login'] = EVIDENCE_LOGIN
        user, = User.create([values])
    # A key of its own, for the API's documentation: the same one each run
    # (a new secret), cancelled at the end.
    api_key = secrets.token_urlsafe(32)
    keys = Application.search([
            ('user', '=', user.id), ('application', '=', 'rest')], limit=1)
    if keys:
        Application.write(keys, {'new_key': api_key, 'state': 'validated'})
    else:
        Application.create([{'user': user.id, 'application': 'rest',
                    'name': "Kit Digital evidence (crm-kit)",
                    'new_key': api_key, 'state': 'validated'}])

    actions = {}
    for section in SECTIONS:
        for shot in section.shots:
            if shot.action:
                module, fs_id = shot.action.split('.')
                actions[shot.action] = ModelData.get_id(module, fs_id)
    users_count = User.search_count([
            ('login', 'not in', [EVIDENCE_LOGIN, 'admin']),
            ]) or 1
    return {
        'company': name,
        'nif': nif,
        'password': password,
        'api_key': api_key,
        'actions': actions,
        'records': _samples(),
        'users': users_count,
        }


def _samples():
    """The records the screenshots show: the latest quote made from an
    opportunity, its customer and opportunity; the latest upload link"""
    from trytond.pool import Pool
    pool = Pool()
    Sale = pool.get('sale.sale')
    Opportunity = pool.get('sale.opportunity')
    UploadLink = pool.get('crm.upload.link')
    records = {}
    sales = Sale.search([
            ('origin', 'like', 'sale.opportunity,%'),
            ('lines', '!=', None),
            ], order=[('id', 'DESC')], limit=1)
    if sales:
        sale, = sales
        records['quote'] = sale.id
        records['customer'] = sale.party.id
        records['opportunity'] = sale.origin.id
        customer = sale.party
    else:
        customer = None
        for opportunity in Opportunity.search(
                [('party', '!=', None)], order=[('id', 'DESC')], limit=1):
            records['opportunity'] = opportunity.id
            records['customer'] = opportunity.party.id
            customer = opportunity.party
    if customer:
        # A search that finds the customer, as a rep types it.
        records['customer_search'] = customer.name.split()[0]
    for link in UploadLink.search([], order=[('id', 'DESC')], limit=1):
        records['upload_token'] = link.token
    for key, problem in MISSING.items():
        if key not in records:
            raise EvidenceError(problem)
    return records


# What the screenshots need that a new CRM may not have yet
MISSING = {
    'opportunity': "The CRM has no opportunity with a customer yet: the "
    "evidence shows the beneficiary's real work, so register one first.",
    'quote': "The CRM has no quote made from an opportunity yet (the "
    "simulated purchase the template asks for): make one on an opportunity "
    "(Create Quote) and run again.",
    'upload_token': "The CRM has no upload link yet: make one for a "
    "customer (Relate > Upload Links on the customer) and run again.",
    }


def _evidence_users():
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    User = Pool().get('res.user')
    with Transaction().set_context(active_test=False):
        return User.search([('login', '=', EVIDENCE_LOGIN)], limit=1)


def switch_off():
    "The evidence user and its key can be used no more"
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    Application = pool.get('res.user.application')
    users = _evidence_users()
    if users:
        Application.write(Application.search([('user', 'in', users)]),
            {'state': 'cancelled'})
        User.write(users, {'active': False})


def parameterisation(lang):
    """The configuration records: [(title, model, [(record, created,
    created by, changed, changed by)])]"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    result = []
    index = 1 if lang == 'es' else 2
    for entry in CONFIGURATION:
        model = entry[0]
        try:
            Model = pool.get(model)
        except KeyError:
            continue
        domain = []
        if model == 'res.user':
            domain = [('login', '!=', EVIDENCE_LOGIN)]
        with Transaction().set_context(active_test=False):
            records = Model.search(domain, order=[('id', 'ASC')])
        rows = []
        for record in records:
            rows.append((
                    record.rec_name,
                    record.create_date,
                    record.create_uid.rec_name if record.create_uid else '',
                    record.write_date,
                    record.write_uid.rec_name if record.write_uid else ''))
        result.append((entry[index], model, rows))
    return result


# The browser

SAMPLE_VALUES = {
    'es': {
        'customer_name': "Nuevo Cliente de Ejemplo, S.L.",
        'lead_name': "Marta Ejemplo",
        'lead_company': "Ejemplo Soluciones, S.L.",
        'lead_email': "marta@ejemplo.test",
        },
    'en': {
        'customer_name': "New Example Customer Ltd",
        'lead_name': "Martha Example",
        'lead_company': "Example Solutions Ltd",
        'lead_email': "martha@example.test",
        },
    }


def sao_login(page, database, login, password):
    """Fill sao's login dialogs as a user would: the database (a selection
    with several, an entry without the list, read-only with one), the
    login, then the password"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    page.locator('#login').wait_for(state='visible')
    entry = page.locator('.login-dialog [name="database"]:visible')
    entry.wait_for(state='visible')
    if entry.evaluate('e => e.tagName') == 'SELECT':
        entry.select_option(database)
    elif entry.get_attribute('readonly') is None:
        entry.fill(database)
    page.locator('#login').fill(login)
    secret = page.locator('.ask-dialog input[type="password"]')
    # Again when sao, still loading on a busy machine, dropped the click:
    # the password is asked once the login is taken.
    for attempt in range(3):
        page.locator('.login-dialog button[type="submit"]').click()
        try:
            secret.wait_for(state='visible', timeout=20_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2 or not page.locator('#login').is_visible():
                raise
    secret.fill(password)
    secret.press('Enter')


class Browser:
    """sao in chromium, logged in as the evidence user, at one width"""

    def __init__(self, playwright, base_url, database, password, api_key,
            lang, width):
        self.base_url = base_url
        self.database = database
        self.lang = lang
        self.width = width
        self.password = password
        self.api_key = api_key
        self.browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(
            viewport=width, locale='es-ES' if lang == 'es' else 'en-US',
            device_scale_factor=1)
        self.context.set_default_timeout(TIMEOUT)
        self.page = self.current = self.context.new_page()
        self.pending = set()
        for event in ['requestfinished', 'requestfailed']:
            self.page.on(event, lambda r: self.pending.discard(r))
        # sao's bus is a request always pending (long polling).
        self.page.on('request', lambda r: r.url.rstrip('/').endswith('/bus')
            or self.pending.add(r))
        self._login()

    def close(self):
        self.browser.close()

    def _login(self):
        page = self.page
        page.goto(self.base_url)
        sao_login(page, self.database, EVIDENCE_LOGIN, self.password)
        page.locator('#menu').wait_for(state='attached')
        self.settle()
        if self.width['width'] >= 768:
            # The menu aside: the forms have the whole width.
            page.locator('.navbar [data-toggle="menu"]').first.click()
        # What opens at login (the board, the day) is not evidence here.
        page.evaluate('''() => {
            for (const tab of [...Sao.Tab.tabs]) { tab.close(); } }''')
        self.settle()

    def settle(self, quiet=0.8, timeout=60):
        "Wait until sao has had no request pending for quiet seconds"
        end = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < end:
            if self.pending:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
            self.page.wait_for_timeout(100)

    def open(self, shot, records, actions):
        "Open what shot shows; it is then self.current"
        if self.current is not self.page:
            self.current.close()
            self.current = self.page
        self._close_dialogs()
        if shot.page:
            return self._open_page(shot, records)
        page = self.page
        if shot.action:
            # Not awaited: a wizard's promise ends with the wizard.
            page.evaluate('''(id) => { Sao.Action.execute(id, {}, {}); }''',
                actions[shot.action])
        elif shot.model:
            attributes = {'model': shot.model}
            if shot.record:
                attributes['res_id'] = records[shot.record]
                attributes['mode'] = ['form', 'tree']
            elif shot.new:
                attributes['mode'] = ['form', 'tree']
            else:
                attributes['mode'] = ['tree', 'form']
            if shot.domain:
                attributes['domain'] = shot.domain
            page.evaluate('(attributes) => Sao.Tab.create(attributes)',
                attributes)
        self.settle()
        content = page.locator('#tabcontent .tab-pane.active')
        if shot.new and shot.action:
            # The action's list: a new record as the user makes one.
            page.evaluate('''() =>
                Sao.Tab.tabs.get_current().screen.new_()''')
            self.settle()
        if shot.new:
            values = SAMPLE_VALUES[self.lang]
            for name, key in shot.new:
                field = content.locator(f'input[name="{name}"]').first
                field.fill(values.get(key, records.get(key, '')))
                field.press('Tab')
            self.settle()
        if shot.show:
            page.evaluate('''(name) => Sao.Tab.tabs.get_current().screen
                .current_view.widgets[name][0].el[0].scrollIntoView()''',
                shot.show)
            self.settle()
        if shot.export or shot.email:
            page.evaluate('(name) => { Sao.Tab.tabs.get_current()[name](); }',
                'export' if shot.export else 'email')
            footer = page.locator('.modal.in .modal-footer').last
            footer.wait_for(state='visible')
            self.settle()
            if shot.email and page.locator(
                    '.modal.in input[type="radio"]').count():
                # The e-mail template to use: the quote's, chosen.
                footer.locator('.btn-primary').click()
                page.locator('.modal.in textarea, .modal.in '
                    '[contenteditable="true"]').first.wait_for(
                    state='visible')
                self.settle()
        if shot.search:
            # As typed in the list's search box.
            page.evaluate('''(text) => {
                const screen = Sao.Tab.tabs.get_current().screen;
                screen.screen_container.set_text(text);
                return screen.search_filter(text); }''',
                records.get(shot.search, ''))
            self.settle()

    def _close_dialogs(self):
        "Cancel the wizard a previous screenshot showed (Cancel is first)"
        for _ in range(3):
            footer = self.page.locator('.modal.in .modal-footer').last
            if not footer.count() or not footer.is_visible():
                return
            footer.locator('button').first.click()
            self.settle()

    def _open_page(self, shot, records):
        # In a tab of its own: sao stays as it is.
        page = self.current = self.context.new_page()
        if shot.page == 'api_docs':
            url = f'{self.base_url}{self.database}/rest/docs'
        elif shot.page == 'upload':
            token = records['upload_token']
            url = (f'{self.base_url}{self.database}/crm/upload/{token}'
                f'?lang={self.lang}')
        page.goto(url)
        page.wait_for_load_state('networkidle')
        if shot.page == 'api_docs':
            # The run's own key shows the documentation of its rights.
            page.locator('#key').fill(self.api_key)
            page.locator('#key').press('Enter')
            page.locator('#swagger-ui .info').wait_for(state='visible')
            page.wait_for_load_state('networkidle')

    def header(self, shot):
        """The text of the header the screenshot shows: sao's title, or the
        heading of a page of the server"""
        page = self.current
        if shot.page:
            # A customer's page says whose it is above, crm-kit below.
            locators = [page.locator('h1').first, page.locator('footer')]
        else:
            locators = [page.locator('#title')]
            # A wizard's dialog and its shadow go below the header, which
            # stays in front: the screenshot shows it as the DOM says.
            page.evaluate('''() => {
                const title = document.getElementById('title');
                const bar = title.closest('nav, .navbar') || title;
                if (getComputedStyle(bar).position == 'static') {
                    bar.style.position = 'relative';
                }
                bar.style.zIndex = 1060;
                for (const dialog of document.querySelectorAll(
                        '.modal.in .modal-dialog')) {
                    dialog.style.marginTop = (
                        bar.getBoundingClientRect().bottom + 10) + 'px';
                }
            }''')
            uncovered = page.evaluate('''() => {
                const title = document.getElementById('title');
                const box = title.getBoundingClientRect();
                const top = document.elementFromPoint(
                    box.left + box.width / 2, box.top + box.height / 2);
                return !!top && title.contains(top); }''')
            if not uncovered:
                return ''
        return ' '.join(' '.join(l.inner_text().split()) for l in locators
            if l.count() and l.first.is_visible())

    def screenshot(self):
        return self.current.screenshot(full_page=False)


def capture(base_url, database, prepared, lang, error_path):
    """Take the screenshots: [(section, [(shot, png, header)])]; when one
    fails, what the browser showed goes to error_path"""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise EvidenceError(
            f"{CHROMIUM} is not installed: apt-get install chromium")
    result = []
    company = prepared['company']
    with sync_playwright() as playwright:
        browsers = {}
        try:
            for section in SECTIONS:
                shots = []
                for shot in section.shots:
                    key = shot.width['width']
                    if key not in browsers:
                        browsers[key] = Browser(playwright, base_url,
                            database, prepared['password'],
                            prepared['api_key'], lang, shot.width)
                    browser = browsers[key]
                    print(f"{time.strftime('%H:%M:%S')} "
                        f"{section.title[lang]}: {shot.caption[lang]}",
                        file=sys.stderr, flush=True)
                    try:
                        browser.open(shot, prepared['records'],
                            prepared['actions'])
                        header = browser.header(shot)
                    except EvidenceError:
                        raise
                    except Exception as exception:
                        browser.current.screenshot(path=str(error_path))
                        raise EvidenceError(
                            f"The screenshot {shot.caption['en']!r} could "
                            f"not be taken: {exception}\nThe browser showed "
                            f"{error_path}.") from exception
                    if (SOLUTION not in header
                            or company.lower() not in header.lower()):
                        raise EvidenceError(
                            f"The screenshot {shot.caption['en']!r} does "
                            f"not show {SOLUTION!r} and {company!r} in its "
                            f"header (it shows {header!r}).")
                    shots.append((shot, browser.screenshot(), header))
                result.append((section, shots))
        finally:
            for browser in browsers.values():
                browser.close()
    return result


# The PDF

PDF_STYLE = '''
@page { size: A4 landscape; margin: 12mm 14mm; }
body { font-family: 'DejaVu Sans', sans-serif; color: #222; font-size: 10.5pt;
  font-variant-ligatures: none; }
.cover { page-break-after: always; padding-top: 30mm; }
.cover h1 { font-size: 24pt; margin: 0 0 4mm; }
.cover h2 { font-size: 15pt; font-weight: normal; margin: 0 0 12mm; color: #555; }
table.facts td { padding: 1.5mm 6mm 1.5mm 0; vertical-align: top; }
table.facts td:first-child { color: #555; }
.note { color: #555; margin-top: 10mm; max-width: 200mm; }
.contents { page-break-after: always; }
.contents li { margin: 1.5mm 0; }
.shot { page-break-after: always; }
.shot h2 { font-size: 14pt; margin: 0 0 2mm; }
.shot p.description { margin: 0 0 3mm; }
.shot img { display: block; max-width: 100%; max-height: 166mm;
  border: 1px solid #bbb; margin: 0 auto; }
.shot.first img { max-height: 146mm; }
.shot p.caption { margin: 2mm 0 0; font-size: 9.5pt; color: #444; }
.summary h2 { font-size: 14pt; }
.summary table { border-collapse: collapse; width: 100%; font-size: 9pt; }
.summary th, .summary td { border-bottom: 1px solid #ddd; text-align: left;
  padding: 1mm 2mm; }
'''


def _when(value, by, texts):
    if not value:
        return texts['not_set']
    return f"{value:%Y-%m-%d %H:%M} {texts['by']} {by}" if by else (
        f"{value:%Y-%m-%d %H:%M}")


def render(captured, prepared, facts, configuration, files, lang):
    "The HTML of the pack, for chromium to print"
    texts = TEXTS[lang]
    esc = html.escape
    parts = [f'<!DOCTYPE html><html lang="{lang}"><head><meta '
        f'charset="utf-8"><title>{esc(texts["title"])}</title>'
        f'<style>{PDF_STYLE}</style></head><body>']
    rows = ''.join(
        f'<tr><td>{esc(texts[key])}</td><td>{esc(str(value))}</td></tr>'
        for key, value in facts)
    parts.append(f'<section class="cover"><h1>{esc(texts["title"])}</h1>'
        f'<h2>{esc(SOLUTION)} · {esc(prepared["company"])}</h2>'
        f'<table class="facts">{rows}</table>'
        f'<p class="note">{esc(texts["captured"])}</p></section>')
    items = ''.join(f'<li>{number}. {esc(section.title[lang])}</li>'
        for number, (section, _) in enumerate(captured, 1))
    parts.append(f'<section class="contents"><h2>{esc(texts["contents"])}'
        f'</h2><ol style="list-style:none;padding:0">{items}'
        f'<li>{esc(texts["parameterisation"])}</li>'
        f'<li>{esc(texts["access_log"])}</li></ol></section>')
    for number, (section, shots) in enumerate(captured, 1):
        for index, (shot, png, header) in enumerate(shots, 1):
            image = base64.b64encode(png).decode('ascii')
            description = (f'<p class="description">'
                f'{esc(section.description[lang])}</p>' if index == 1
                else '')
            parts.append(
                f'<section class="shot{" first" if index == 1 else ""}" '
                f'data-section="{section.key}">'
                f'<h2>{number}. {esc(section.title[lang])}</h2>'
                f'{description}'
                f'<img src="data:image/png;base64,{image}">'
                f'<p class="caption">{number}.{index} '
                f'{esc(shot.caption[lang])} — {esc(texts["header"])}: '
                f'«{esc(header)}» — {esc(texts["width"])}: '
                f'{shot.width["width"]} px</p></section>')
    table = []
    for title, model, records in configuration:
        if not records:
            continue
        created = min(records, key=lambda r: r[1] or dt.datetime.max)
        changed = max(records, key=lambda r: r[3] or r[1] or dt.datetime.min)
        table.append(
            f'<tr><td>{esc(title)}</td><td>{len(records)}</td>'
            f'<td>{esc(_when(created[1], created[2], texts))}</td>'
            f'<td>{esc(_when(changed[3] or changed[1], changed[4] or changed[2], texts))}'
            '</td></tr>')
    parts.append(
        f'<section class="summary" style="page-break-after:always">'
        f'<h2>{esc(texts["parameterisation"])}</h2>'
        f'<p>{esc(texts["parameterisation_text"].format(file=files["parameterisation"].name, hours=facts_value(facts, "hours")))}</p>'
        f'<table><tr><th></th><th>{esc(texts["records"])}</th>'
        f'<th>{esc(texts["created"])}</th><th>{esc(texts["changed"])}</th>'
        f'</tr>{"".join(table)}</table></section>')
    parts.append(
        f'<section class="summary"><h2>{esc(texts["access_log"])}</h2>'
        f'<p>{esc(texts["access_log_text"].format(**files["access_log_facts"]))}'
        '</p></section>')
    parts.append('</body></html>')
    return ''.join(parts)


def facts_value(facts, key):
    return dict(facts)[key]


def print_pdf(html_text, path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(html_text, wait_until='load')
            page.pdf(path=str(path), prefer_css_page_size=True,
                print_background=True)
        finally:
            browser.close()


def write_parameterisation(configuration, path, lang):
    header = {
        'es': ["Configuración", "Modelo", "Registro", "Creado", "Creado por",
            "Modificado", "Modificado por"],
        'en': ["Configuration", "Model", "Record", "Created", "Created by",
            "Changed", "Changed by"],
        }[lang]
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow(header)
    for title, model, records in configuration:
        for name, created, created_by, changed, changed_by in records:
            writer.writerow([title, model, name,
                created.isoformat(sep=' ', timespec='seconds')
                if created else '', created_by,
                changed.isoformat(sep=' ', timespec='seconds')
                if changed else '', changed_by])
    # With a BOM: Excel opens it as UTF-8.
    path.write_text('\ufeff' + output.getvalue(), encoding='utf-8')


# The command

def _serve(database):
    """crm-kit serve on a free port of the loopback, for the run alone:
    (process, base URL)"""
    import socket
    import urllib.request
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, TRYTOND_WEB__HOSTNAME=f'http://127.0.0.1:{port}')
    process = subprocess.Popen(
        [sys.executable, '-m', 'crmkit.cli', '-d', database, 'serve',
            '--listen', f'127.0.0.1:{port}', '--workers', '1',
            '--no-scheduler', '--no-worker'],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f'http://127.0.0.1:{port}/'
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if process.poll() is not None:
            raise EvidenceError("crm-kit serve stopped: "
                + process.stderr.read().decode(errors='replace')[-2000:])
        try:
            with urllib.request.urlopen(url, timeout=5):
                return process, url
        except OSError:
            time.sleep(0.5)
    _stop(process)
    raise EvidenceError(f"crm-kit serve did not answer on {url}")


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make(database, out, beneficiary=None, lang='es', agent=None,
        hours=None, url=None, start=None):
    """Write the pack to out (a PDF) and beside it the access log and the
    parameterisation (CSV); return their paths"""
    from .cli import run_in_transaction
    out = Path(out)
    if out.suffix.lower() != '.pdf':
        raise EvidenceError(f"{out} does not end with .pdf")
    if not out.parent.is_dir():
        raise EvidenceError(f"The folder {out.parent} does not exist")
    texts = TEXTS[lang]
    error_path = out.with_suffix('.error.png')
    error_path.unlink(missing_ok=True)
    prepared = run_in_transaction(database, prepare, lang, beneficiary)
    server = None
    try:
        if not url:
            server, url = _serve(database)
        if not url.endswith('/'):
            url += '/'
        captured = capture(url, database, prepared, lang, error_path)
    finally:
        if server:
            _stop(server)
        run_in_transaction(database, switch_off)

    today = dt.date.today()
    stem = out.with_suffix('')
    names = {'es': ('accesos', 'parametrizacion'),
        'en': ('access-log', 'parameterisation')}[lang]
    access_path = Path(f'{stem}-{names[0]}.csv')
    parameterisation_path = Path(f'{stem}-{names[1]}.csv')

    def access_log():
        from trytond.pool import Pool
        AccessLog = Pool().get('crm.access.log')
        first = start
        if first is None:
            oldest = AccessLog.search([], order=[('date', 'ASC')], limit=1)
            first = oldest[0].date.date() if oldest else today
        rows = AccessLog.rows(first, today)
        access_path.write_bytes(AccessLog.export(format='csv', rows=rows))
        return first, len(rows)
    first, count = run_in_transaction(database, access_log)
    configuration = run_in_transaction(database, parameterisation, lang)
    write_parameterisation(configuration, parameterisation_path, lang)

    users = prepared['users']
    if hours is None:
        # The segments' minimum: 30 hours, 40 from 3 users (10-49
        # employees) up.
        hours = 40 if users >= 3 else 30
    from importlib.metadata import version, PackageNotFoundError
    try:
        solution_version = version('crm-kit')
    except PackageNotFoundError:
        solution_version = texts['not_set']
    facts = [
        ('solution', SOLUTION),
        ('version', solution_version),
        ('beneficiary', prepared['company']),
        ('nif', prepared['nif'] or texts['not_set']),
        ('agent', agent or texts['not_set']),
        ('date', today.isoformat()),
        ('users', users),
        ('hours', hours),
        ('period', f'{first.isoformat()} — {today.isoformat()}'),
        ]
    files = {
        'parameterisation': parameterisation_path,
        'access_log_facts': {'start': first.isoformat(),
            'end': today.isoformat(), 'file': access_path.name,
            'count': count},
        }
    print_pdf(render(captured, prepared, facts, configuration, files, lang),
        out)
    return out, access_path, parameterisation_path
