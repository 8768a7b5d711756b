"""The demo dataset: a Spanish SME selling CRM licences, web projects,
consulting and training.

``load_demo()`` creates, once:

* the users ``manager`` (CRM Sales Manager), ``rep`` and ``rep2`` (CRM
  Sales Rep), password ``crm-kit-demo``, each with an employee, and the
  team "Equipo Madrid";
* a dozen service products in the company's product categories;
* about 300 customers with address, e-mail and phone: companies with
  their CIF as EU VAT number (``eu_vat``, ``ES`` + CIF), self-employed
  people with their NIF (DNI or NIE) as Spanish VAT number (``es_vat``,
  what Tryton 8 calls the former ``es_nif``);
* about 1,000 opportunities over the last three years in every stage and
  channel, whose quotes, won sales and stage history carry past dates.

Everything is drawn from ``random.Random(seed)``: the same seed gives the
same data; only the time window moves with today's date, so the reports
always show the last three years.  The customers and opportunities are
first planned in plain Python (``generate_customers``,
``generate_opportunities``), then created through the ORM in a few batched
calls.

Deals move through the stages as a user would move them (each stage write
gives its past date as ``stage_date``, so the stage log is backdated);
offers get their quote from ``create_quote``; won deals have their sale
confirmed and processed as the queue worker would (draft invoices), lost
deals have their quote cancelled.  The ORM dates creations now: the
creation date and user of opportunities, quotes and customers are set
afterwards in SQL, as the customer history reads them."""
import datetime as dt
import logging
import random
import time
import unicodedata
from collections import defaultdict
from decimal import Decimal

import phonenumbers
from stdnum.es import cif as es_cif
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie

from crm_kit.setup import employment
from trytond.pool import Pool
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

DEFAULT_SEED = 2026
DEMO_PASSWORD = 'crm-kit-demo'
CUSTOMERS = 300
OPPORTUNITIES = 1000
YEARS = 3
TEAM_NAME = "Equipo Madrid"

# login, name, group xml id, language
USERS = [
    ('manager', "Laura Martín Ruiz", 'group_crm_manager', None),
    ('rep', "Javier Moreno Gil", 'group_crm_rep', 'es'),
    ('rep2', "Lucía Navarro Sanz", 'group_crm_rep', None),
    ]

# code, English name, Spanish name, list price, category (English name),
# usual quantities (min, max)
PRODUCTS = [
    ('LIC-BAS', "CRM licence Basic (user/year)",
        "Licencia CRM Básica (usuario/año)", '180.00', "Services", (2, 10)),
    ('LIC-PRO', "CRM licence Professional (user/year)",
        "Licencia CRM Profesional (usuario/año)", '360.00', "Services",
        (3, 25)),
    ('LIC-ENT', "CRM licence Enterprise (user/year)",
        "Licencia CRM Empresa (usuario/año)", '600.00', "Services", (10, 60)),
    ('IMPL', "CRM implementation package",
        "Implantación CRM (paquete)", '1500.00', "Services", (1, 1)),
    ('MIGR', "Data migration", "Migración de datos", '900.00', "Services",
        (1, 1)),
    ('CONS-H', "Consulting (hour)", "Consultoría (hora)", '65.00', "Services",
        (8, 80)),
    ('WEB', "Corporate website design", "Diseño web corporativo",
        '2400.00', "Services", (1, 1)),
    ('SHOP', "Online shop", "Tienda online", '4200.00', "Services", (1, 1)),
    ('WEB-MNT', "Website maintenance (month)",
        "Mantenimiento web (mes)", '90.00', "Services", (6, 12)),
    ('SEO', "SEO and positioning (month)", "SEO y posicionamiento (mes)",
        '350.00', "Services", (3, 12)),
    ('TRAIN-D', "On-site training (day)", "Formación presencial (jornada)",
        '480.00', "Exempt services", (1, 5)),
    ('TRAIN-OL', "Online course (attendee)", "Curso online (alumno)",
        '150.00', "Exempt services", (4, 30)),
    ('SUPPORT', "Premium support (year)", "Soporte premium (año)",
        '1200.00', "Services", (1, 1)),
    ]

# city, postal codes (first, last), landline prefix, weight
CITIES = [
    ("Madrid", (28001, 28055), '91', 30),
    ("Alcalá de Henares", (28801, 28807), '91', 3),
    ("Getafe", (28901, 28909), '91', 3),
    ("Móstoles", (28931, 28938), '91', 2),
    ("Alcobendas", (28100, 28109), '91', 3),
    ("Leganés", (28911, 28919), '91', 2),
    ("Barcelona", (8001, 8042), '93', 10),
    ("L'Hospitalet de Llobregat", (8901, 8908), '93', 2),
    ("Sabadell", (8201, 8208), '93', 2),
    ("Valencia", (46001, 46026), '96', 6),
    ("Sevilla", (41001, 41020), '954', 5),
    ("Zaragoza", (50001, 50021), '976', 4),
    ("Málaga", (29001, 29018), '952', 4),
    ("Murcia", (30001, 30012), '968', 3),
    ("Palma", (7001, 7015), '971', 2),
    ("Bilbao", (48001, 48015), '944', 3),
    ("Alicante", (3001, 3016), '965', 3),
    ("Córdoba", (14001, 14014), '957', 2),
    ("Valladolid", (47001, 47017), '983', 3),
    ("Vigo", (36201, 36216), '986', 2),
    ("Gijón", (33201, 33213), '985', 2),
    ("A Coruña", (15001, 15011), '981', 2),
    ("Granada", (18001, 18015), '958', 2),
    ("Vitoria-Gasteiz", (1001, 1015), '945', 1),
    ("Pamplona", (31001, 31016), '948', 2),
    ("Santander", (39001, 39012), '942', 1),
    ("Donostia-San Sebastián", (20001, 20018), '943', 1),
    ("Salamanca", (37001, 37008), '923', 1),
    ("Burgos", (9001, 9007), '947', 1),
    ("Logroño", (26001, 26009), '941', 1),
    ("Toledo", (45001, 45008), '925', 2),
    ("Guadalajara", (19001, 19005), '949', 2),
    ]

STREETS = [
    "Calle Mayor", "Calle de Alcalá", "Gran Vía", "Calle Real",
    "Avenida de la Constitución", "Calle del Carmen", "Paseo de la Castellana",
    "Calle San Vicente", "Avenida de Andalucía", "Calle de la Paz",
    "Calle Nueva", "Plaza de España", "Calle del Sol", "Avenida de América",
    "Calle de Toledo", "Calle Ancha", "Ronda de Valencia",
    "Avenida de los Reyes Católicos", "Calle de Cervantes",
    "Calle Doctor Fleming", "Calle Princesa", "Avenida de Madrid",
    "Calle Colón", "Paseo del Prado", "Calle de Goya", "Calle Velázquez",
    "Calle Serrano", "Avenida del Mediterráneo", "Calle Larga",
    "Calle Santa María", "Calle de la Iglesia", "Camino Viejo",
    ]
INDUSTRIAL_ESTATES = [
    "Polígono Industrial Las Arenas", "Polígono Industrial El Prado",
    "Polígono Industrial San José", "Parque Empresarial La Moraleja",
    "Polígono Industrial Los Olivos", "Parque Tecnológico",
    ]

FEMALE_NAMES = [
    "María", "Carmen", "Ana", "Isabel", "Laura", "Lucía", "Marta", "Elena",
    "Cristina", "Paula", "Sara", "Raquel", "Pilar", "Beatriz", "Rosa",
    "Silvia", "Patricia", "Nuria", "Alba", "Irene", "Teresa", "Montserrat",
    "Ainhoa", "Inmaculada", "Rocío", "Sofía", "Julia", "Noelia",
    ]
MALE_NAMES = [
    "Antonio", "José", "Manuel", "Francisco", "David", "Juan", "Javier",
    "Daniel", "Carlos", "Miguel", "Alejandro", "Rafael", "Pablo", "Sergio",
    "Jorge", "Luis", "Alberto", "Fernando", "Álvaro", "Pedro", "Raúl",
    "Iván", "Rubén", "Óscar", "Andrés", "Enrique", "Jordi", "Iñaki",
    ]
SURNAMES = [
    "García", "Rodríguez", "González", "Fernández", "López", "Martínez",
    "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández",
    "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
    "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez",
    "Serrano", "Blanco", "Molina", "Morales", "Suárez", "Ortega", "Delgado",
    "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Iglesias", "Núñez",
    "Medina", "Garrido", "Cortés", "Castillo", "Santos", "Lozano", "Guerrero",
    "Cano", "Prieto", "Méndez", "Cruz", "Calvo", "Gallego", "Vidal", "León",
    "Herrera", "Márquez", "Peña", "Flores", "Cabrera", "Campos", "Vega",
    "Fuentes", "Carrasco", "Diez", "Reyes", "Caballero", "Nieto", "Aguilar",
    "Pascual", "Santana", "Herrero", "Montero", "Lorenzo", "Hidalgo",
    "Giménez", "Ibáñez", "Ferrer", "Durán", "Santiago", "Benítez", "Mora",
    "Vicente", "Vargas", "Arias", "Carmona", "Crespo", "Román", "Pastor",
    "Soto", "Sáez", "Velasco", "Moya", "Soler", "Parra", "Esteban", "Bravo",
    "Gallardo", "Rojas", "Pardo", "Merino", "Franco", "Espinosa", "Izquierdo",
    "Lara", "Rivas", "Silva", "Rivera", "Casado", "Arroyo", "Redondo",
    "Camacho", "Rey", "Vera", "Otero", "Luque", "Galán", "Montes", "Ríos",
    "Sierra", "Segura", "Carrillo", "Marcos", "Marti", "Soriano", "Mendoza",
    ]

# The trades of self-employed customers
TRADES = [
    "Abogada", "Abogado", "Arquitecta", "Arquitecto", "Asesoría",
    "Fisioterapia", "Fotografía", "Diseño gráfico", "Consultoría",
    "Psicología", "Traducciones", "Peluquería", "Reformas", "Clases",
    "Veterinaria", "Odontología", "Nutrición", "Coaching",
    ]

# (pattern, sector) of company names; {s} a surname, {p} a place word
COMPANY_PATTERNS = [
    "Talleres {s}", "Construcciones {s} e Hijos", "Transportes {s}",
    "Distribuciones {p}", "Clínica Dental {p}", "Asesores {s} y Asociados",
    "Inmobiliaria {p}", "Hermanos {s}", "Gestoría {s}", "Bodegas {p}",
    "Ferretería {s}", "Carpintería {s}", "Panadería {p}", "Óptica {p}",
    "Instalaciones Eléctricas {s}", "Fontanería {s}", "Autoescuela {p}",
    "Academia {p}", "Hotel {p}", "Restaurante {p}", "Farmacia {s}",
    "Agencia de Viajes {p}", "Muebles {s}", "Frutas {s}", "Limpiezas {p}",
    "Ingeniería {p}", "Laboratorios {p}", "Consultora {p}", "Logística {p}",
    "Seguros {s}", "Estudio {s} Arquitectos", "Centro Veterinario {p}",
    "Gimnasio {p}", "Imprenta {s}", "Cafés {p}", "Calzados {s}",
    "Textil {p}", "Climatización {p}", "Energía Solar {p}",
    "Software {p}", "Marketing {p}", "Cerámicas {p}", "Aceites {p}",
    "Quesos {p}", "Editorial {p}", "Residencia {p}", "Joyería {s}",
    "Floristería {p}", "Reformas {s}", "Mármoles {s}",
    ]
PLACE_WORDS = [
    "Levante", "Norte", "del Sur", "Atlántico", "Mediterráneo", "Castilla",
    "La Mancha", "Sierra", "del Valle", "Río", "Alameda", "San Miguel",
    "Santa Ana", "El Olivo", "La Encina", "Los Pinos", "Iberia", "Hispania",
    "Aurora", "Horizonte", "Nova", "Central", "Mayor", "del Puerto",
    "La Plaza", "Alba", "Arco", "Delta", "Faro", "Sol", "Luna", "Brisa",
    "Montaña", "Ribera", "Vega", "Campo", "Real", "Imperial", "Solera",
    "Albero", "Azahar", "Cierzo", "Tramontana", "Duero", "Ebro", "Tajo",
    "Guadalquivir", "Miño", "Júcar", "Segura",
    ]
# legal form, CIF letter, weight
LEGAL_FORMS = [
    ("S.L.", 'B', 70),
    ("S.A.", 'A', 12),
    ("S.L.U.", 'B', 8),
    ("S.L.L.", 'B', 3),
    ("S. Coop.", 'F', 3),
    ("C.B.", 'E', 4),
    ]
PERSON_DOMAINS = ['example.com', 'example.net', 'example.org']
COMPANY_MAILBOXES = ['info', 'administracion', 'compras', 'contacto',
    'gerencia', 'oficina']

# code of the channel, weight, how well its leads convert (1 = average)
CHANNELS = [
    ('web', 25, 1.0),
    ('phone', 14, 1.1),
    ('email', 12, 0.9),
    ('referral', 14, 1.5),
    ('event', 8, 1.0),
    ('social', 11, 0.7),
    ('partner', 10, 1.3),
    ('import', 6, 0.6),
    ]

# xml id in crm_kit, weight when lost early, weight when lost after an offer
LOST_REASONS = [
    ('lost_reason_price', 2, 30),
    ('lost_reason_competitor', 3, 25),
    ('lost_reason_no_budget', 25, 10),
    ('lost_reason_no_decision', 30, 15),
    ('lost_reason_timing', 15, 12),
    ('lost_reason_product_fit', 25, 8),
    ]

# xml ids of the stages of the default pipeline
STAGES = {
    'new': 'stage_new',
    'analysis': 'stage_analysis',
    'offer': 'stage_offer',
    'negotiation': 'stage_negotiation',
    'won': 'stage_won',
    'lost': 'stage_lost',
    'cancelled': 'stage_cancelled',
    }
CLOSED = {'won', 'lost', 'cancelled'}


def _slug(text):
    text = unicodedata.normalize('NFKD', text)
    text = ''.join(c for c in text if c.isalnum() and c.isascii())
    return text.lower()


def _weighted(rng, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def _dni(rng):
    number = '%08d' % rng.randrange(1_000_000, 80_000_000)
    return number + es_dni.calc_check_digit(number)


def _nie(rng):
    number = rng.choice('XY') + '%07d' % rng.randrange(1_000_000, 9_999_999)
    return number + es_nie.calc_check_digit(number)


def _cif(rng, letter, postal_code):
    # The 2 digits after the letter are the province of registration.
    number = letter + postal_code[:2] + '%05d' % rng.randrange(100_000)
    digits = es_cif.calc_check_digits(number)
    # Companies (A, B, E, F…) end with the digit.
    return number + digits[0]


def _phone(rng, prefix, used):
    while True:
        rest = 9 - len(prefix)
        number = prefix + ''.join(str(rng.randrange(10)) for _ in range(rest))
        if number in used or number[len(prefix)] == '0':
            continue
        parsed = phonenumbers.parse('+34' + number)
        if phonenumbers.is_valid_number(parsed):
            used.add(number)
            return '+34 %s %s %s' % (number[:3], number[3:6], number[6:])


def generate_customers(seed=DEFAULT_SEED, count=CUSTOMERS):
    """Return the customers as a list of dicts (plain data, no database):
    name, kind ('company' or 'person'), identifier type and code, e-mail,
    phone, mobile, street, postal_code, city and language"""
    rng = random.Random(seed)
    customers, names, codes, phones = [], set(), set(), set()
    cities = [c[:3] for c in CITIES]
    city_weights = [c[3] for c in CITIES]
    forms = [f[:2] for f in LEGAL_FORMS]
    form_weights = [f[2] for f in LEGAL_FORMS]
    while len(customers) < count:
        city, (first, last), area = _weighted(rng, cities, city_weights)
        postal_code = '%05d' % rng.randint(first, last)
        person = rng.random() < 0.3
        if person:
            female = rng.random() < 0.5
            first_name = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
            surname1, surname2 = rng.sample(SURNAMES, 2)
            name = f"{first_name} {surname1} {surname2}"
            if rng.random() < 0.35:
                name = f"{rng.choice(TRADES)} {first_name} {surname1}"
            if rng.random() < 0.1:
                identifier = _nie(rng)
            else:
                identifier = _dni(rng)
            id_type = 'es_vat'
            email = '%s.%s%s@%s' % (
                _slug(first_name), _slug(surname1), rng.randrange(1, 100),
                rng.choice(PERSON_DOMAINS))
        else:
            pattern = rng.choice(COMPANY_PATTERNS)
            form, letter = _weighted(rng, forms, form_weights)
            base = pattern.format(
                s=rng.choice(SURNAMES), p=rng.choice(PLACE_WORDS))
            name = f"{base} {form}"
            identifier = 'ES' + _cif(rng, letter, postal_code)
            id_type = 'eu_vat'
            email = '%s@%s.example.com' % (
                rng.choice(COMPANY_MAILBOXES), _slug(base))
        if name in names or identifier in codes:
            continue
        names.add(name)
        codes.add(identifier)
        if rng.random() < 0.15:
            street = "%s, nave %d" % (
                rng.choice(INDUSTRIAL_ESTATES), rng.randint(1, 40))
        else:
            street = "%s, %d" % (rng.choice(STREETS), rng.randint(1, 180))
            if rng.random() < 0.5:
                street += ", %dº %s" % (rng.randint(1, 8), rng.choice('ABCD'))
        customers.append({
                'name': name,
                'kind': 'person' if person else 'company',
                'identifier_type': id_type,
                'identifier': identifier,
                'email': email,
                'phone': _phone(rng, area, phones),
                'mobile': (_phone(rng, '6', phones)
                    if person or rng.random() < 0.4 else None),
                'street': street,
                'postal_code': postal_code,
                'city': city,
                'lang': 'es' if rng.random() < 0.6 else None,
                })
    return customers


def _window(today):
    "The first day of the demo period: the same day three years ago"
    try:
        return today.replace(year=today.year - YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - YEARS, day=28)


# National holidays on fixed dates (month, day)
HOLIDAYS = {(1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6),
    (12, 8), (12, 25)}


def _business_day(day):
    "The day or the next working day"
    while day.weekday() >= 5 or (day.month, day.day) in HOLIDAYS:
        day += dt.timedelta(days=1)
    return day


def _at_office_hours(rng, day):
    "A datetime (UTC, as Tryton stores them) in Madrid's office hours"
    minutes = rng.randint(7 * 60 + 30, 17 * 60 + 30)
    return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))


def _later(rng, moment, low, high, mode=None):
    "A business day low..high days after moment, in office hours"
    days = round(rng.triangular(low, high, mode if mode is not None else low))
    return _at_office_hours(
        rng, _business_day(moment.date() + dt.timedelta(days=max(days, 0))))


def _deal_lines(rng, person):
    "The products and quantities of a deal, and its description"
    def qty(code, scale=1):
        low, high = next(p[5] for p in PRODUCTS if p[0] == code)
        return max(1, round(rng.randint(low, high) * scale))

    scale = 0.4 if person else 1
    kind = _weighted(rng,
        ['crm', 'web', 'consulting', 'training', 'renewal'],
        [35, 25, 15, 13, 12])
    if kind == 'crm':
        licence = _weighted(rng, ['LIC-BAS', 'LIC-PRO', 'LIC-ENT'],
            [5, 4, 1] if not person else [1, 0, 0])
        users = qty(licence, scale)
        lines = [(licence, users), ('IMPL', 1)]
        if rng.random() < 0.4:
            lines.append(('MIGR', 1))
        if rng.random() < 0.5:
            lines.append(('TRAIN-D', qty('TRAIN-D', 0.6)))
        name = next(p[2] for p in PRODUCTS if p[0] == licence).split(' (')[0]
        description = f"Implantación {name[9:]} ({users} usuarios)"
    elif kind == 'web':
        product = 'SHOP' if rng.random() < 0.35 else 'WEB'
        lines = [(product, 1)]
        if rng.random() < 0.6:
            lines.append(('WEB-MNT', 12))
        if rng.random() < 0.4:
            lines.append(('SEO', qty('SEO')))
        description = ("Nueva tienda online" if product == 'SHOP'
            else "Nueva web corporativa")
    elif kind == 'consulting':
        hours = qty('CONS-H', scale)
        lines = [('CONS-H', hours)]
        description = f"Bolsa de {hours} h de consultoría"
    elif kind == 'training':
        if rng.random() < 0.5:
            lines = [('TRAIN-D', qty('TRAIN-D', scale))]
            description = "Formación presencial del equipo"
        else:
            lines = [('TRAIN-OL', qty('TRAIN-OL', scale))]
            description = "Cursos online de ventas"
    else:
        licence = 'LIC-BAS' if person else _weighted(
            rng, ['LIC-BAS', 'LIC-PRO', 'LIC-ENT'], [4, 5, 1])
        lines = [('SUPPORT', 1), (licence, qty(licence, scale))]
        description = "Renovación de licencias y soporte"
    return lines, description


def _start_day(rng, first, span, today):
    """A business day of the period before today; more leads as the
    business grows, fewer in summer and at Christmas"""
    growth = 1.2
    season = {8: 0.45, 12: 0.7, 1: 0.85, 7: 0.85}
    # Always 3 draws, whatever the dates, for the same sequence every day.
    days = []
    for _ in range(2):
        u = rng.random()
        x = (-1 + (1 + growth * (2 + growth) * u) ** 0.5) / growth
        days.append(first + dt.timedelta(days=int(x * span)))
    day = days[0]
    if rng.random() > season.get(day.month, 1):
        day = days[1]
    day = _business_day(day)
    while day >= today:
        day -= dt.timedelta(days=1)
        while day.weekday() >= 5 or (day.month, day.day) in HOLIDAYS:
            day -= dt.timedelta(days=1)
    return day


def utc_now():
    "Now, as the naive UTC datetime Tryton stores"
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def generate_opportunities(
        customers, seed=DEFAULT_SEED, now=None, count=OPPORTUNITIES):
    """Return the opportunities as a list of dicts (plain data): customer
    index, owner login (None for unassigned leads), channel code, lines,
    description, start (datetime), the stage moves [(stage, datetime)],
    the quote datetime, expected close date and lost reason.  The dates
    fall between three years ago and now, moves after now are not made:
    recent deals stay open."""
    rng = random.Random(f'{seed}-opportunities')
    now = now or utc_now()
    today = now.date()
    # Nothing is dated in the last hour.
    now -= dt.timedelta(hours=1)
    first = _window(today)
    span = (today - first).days
    rep2_start = first + dt.timedelta(days=span // 3)
    channels = [c[0] for c in CHANNELS]
    channel_weights = [c[1] for c in CHANNELS]
    quality = {c[0]: c[2] for c in CHANNELS}
    early_reasons = [r[0] for r in LOST_REASONS], [r[1] for r in LOST_REASONS]
    late_reasons = [r[0] for r in LOST_REASONS], [r[2] for r in LOST_REASONS]
    # Most customers have one or two deals, a few are regulars.
    customer_weights = [rng.choice([1, 1, 1, 2, 2, 3, 6])
        for _ in customers]

    opportunities = []
    for _ in range(count):
        index = rng.choices(
            range(len(customers)), weights=customer_weights, k=1)[0]
        person = customers[index]['kind'] == 'person'
        channel = _weighted(rng, channels, channel_weights)
        q = quality[channel]
        day = _start_day(rng, first, span, today)
        start = _at_office_hours(rng, day)
        if day >= rep2_start:
            owner = _weighted(rng, ['rep', 'rep2', 'manager'], [44, 40, 16])
        else:
            owner = _weighted(rng, ['rep', 'manager'], [78, 22])
        lines, description = _deal_lines(rng, person)

        def stall(moment):
            # Some deals wait weeks, a few months, for the customer.
            u = rng.random()
            if u < 0.08:
                return moment + dt.timedelta(days=rng.randint(60, 300))
            if u < 0.3:
                return moment + dt.timedelta(days=rng.randint(15, 90))
            return moment

        moves, reason, quote = [], None, None
        moment = start
        if rng.random() < 0.16 / q:
            outcome = 'lost' if rng.random() < 0.7 else 'cancelled'
            moves.append((outcome, _later(rng, stall(moment), 5, 45, 10)))
            if outcome == 'lost':
                reason = _weighted(rng, *early_reasons)
        else:
            moment = _later(rng, stall(moment), 1, 20, 4)
            moves.append(('analysis', moment))
            if rng.random() < 0.16 / q:
                outcome = 'lost' if rng.random() < 0.8 else 'cancelled'
                moves.append(
                    (outcome, _later(rng, stall(moment), 5, 60, 15)))
                if outcome == 'lost':
                    reason = _weighted(rng, *early_reasons)
            else:
                quote = _later(rng, stall(moment), 4, 40, 12)
                moment = quote + dt.timedelta(minutes=rng.randint(5, 90))
                moves.append(('offer', moment))
                win = min(0.9, 0.55 * q)
                if rng.random() < 0.45:
                    moment = _later(rng, stall(moment), 4, 30, 10)
                    moves.append(('negotiation', moment))
                    win = min(0.95, win * 1.3)
                outcome = 'won' if rng.random() < win else 'lost'
                moves.append(
                    (outcome, _later(rng, stall(moment), 4, 60, 15)))
                if outcome == 'lost':
                    reason = _weighted(rng, *late_reasons)
        # A deal still open after a year is given up in the yearly review.
        review = start + dt.timedelta(days=365)
        if moves[-1][1] > review:
            moves = [m for m in moves if m[1] < review and m[0] not in CLOSED]
            moves.append(('lost', _later(rng, review, 0, 20, 3)))
            reason = 'lost_reason_no_decision'
        planned_close = moves[-1][1].date()
        expected = planned_close + dt.timedelta(days=rng.randint(-10, 20))
        expected = max(expected, start.date() + dt.timedelta(days=7))
        # Only what happened until now is recorded.
        done = [m for m in moves if m[1] <= now]
        stage = done[-1][0] if done else 'new'
        if 'offer' not in {m[0] for m in done}:
            quote = None
        if stage != 'lost':
            reason = None
        # (The draw is made for every deal so that the random sequence
        # does not depend on today's date.)
        if (rng.random() < 0.3 and stage == 'new' and owner != 'manager'
                and (today - day).days < 30):
            owner = None  # a lead nobody picked up yet
        opportunities.append({
                'customer': index,
                'owner': owner,
                'channel': channel,
                'lines': lines,
                'description': description,
                'start': start,
                'moves': done,
                'stage': stage,
                'quote': quote,
                'expected_close_date': expected,
                'lost_reason': reason,
                })
    opportunities.sort(key=lambda o: o['start'])
    # Some days none of the recent new leads is drawn unassigned: the
    # newest one then waits for assignment, so that the demo always has a
    # lead to assign.
    if all(o['owner'] for o in opportunities):
        new = [o for o in opportunities if o['stage'] == 'new']
        if new:
            new[-1]['owner'] = None
    return opportunities


def load_demo(seed=DEFAULT_SEED):
    """Load the demo dataset in the current transaction (as root);
    return False, changing nothing, when it is already loaded"""
    from .company_setup import setup_company

    pool = Pool()
    User = pool.get('res.user')
    with Transaction().set_context(active_test=False):
        if User.search([('login', '=', USERS[1][0])], limit=1):
            return False

    customers = generate_customers(seed)
    opportunities = generate_opportunities(customers, seed)

    timer = _Timer()
    company = setup_company()
    # The demo company is set up: the assistant does not open at login.
    pool.get('crm.setup', type='wizard').mark_done()
    with Transaction().set_context(company=company.id, language='en'):
        _company_identity(company)
        users = _create_users(company)
        _create_team(users)
        products = _create_products()
        timer("users, team and products created")
        parties = _create_parties(customers)
        timer("%d customers created" % len(parties))
        _create_opportunities(users, products, parties, opportunities, timer)
        _create_lead_capture(users)
        timer("assignment rules and web form created")
        _create_activities(seed)
        timer("activities created")
        _switch_on_automation()
        timer("automation rules switched on")
        _flag_customers(seed)
        timer("customers flagged")
        _check_alerts()
        timer("alerts checked")
        _create_documents(seed)
        timer("documents created")
        _create_emails(seed)
        timer("e-mails created")
        _create_targets(users)
        timer("sales targets set")
    logger.info("demo: loaded in %.1fs", time.monotonic() - timer.start)
    return True


# The next step of an open deal, and how a closed one ended, by state.
NEXT_ACTIVITIES = [
    ('activity_type_call', "Llamar para resolver dudas"),
    ('activity_type_email', "Enviar la documentación"),
    ('activity_type_meeting', "Reunión de presentación"),
    ('activity_type_visit', "Visita a las instalaciones"),
    ('activity_type_todo', "Preparar la propuesta"),
    ]
OUTCOMES = {
    'won': "Aceptan la oferta; firma del pedido acordada.",
    'lost': "Descartan la propuesta por precio.",
    }


def _create_activities(seed):
    """One activity per deal: the next step of an open one, some overdue,
    some today, most ahead; the last call of a closed one, done"""
    pool = Pool()
    Activity = pool.get('crm.activity')
    Opportunity = pool.get('sale.opportunity')
    ModelData = pool.get('ir.model.data')
    rng = random.Random(seed)
    types = {xml_id: ModelData.get_id('crm_kit_activity', xml_id)
        for xml_id, _ in NEXT_ACTIVITIES}
    today = utc_now().date()
    values = []
    for opportunity in Opportunity.search(
            [('owner', '!=', None)], order=[('id', 'ASC')]):
        xml_id, subject = rng.choice(NEXT_ACTIVITIES)
        activity = {
            'company': opportunity.company.id,
            'type': types[xml_id],
            'subject': subject,
            'owner': opportunity.owner.id,
            'party': opportunity.party.id if opportunity.party else None,
            'opportunity': opportunity.id,
            }
        if opportunity.state in OUTCOMES:
            closed = opportunity.end_date or today
            due = _at_office_hours(rng, closed)
            activity.update({
                    'type': types['activity_type_call'],
                    'subject': "Llamada de cierre",
                    'due': due,
                    'state': 'done',
                    'outcome': OUTCOMES[opportunity.state],
                    'done_date': due,
                    })
        elif opportunity.state in {'lead', 'opportunity', 'converted'}:
            days = round(rng.triangular(-6, 14, 2))
            activity['due'] = _at_office_hours(
                rng, today + dt.timedelta(days=days))
        else:
            continue
        values.append(activity)
    Activity.create(values)


# How many customers carry each shipped flag in the demo.
FLAGS = [('flag_vip', 6), ('flag_complaint', 3), ('flag_payment_issue', 2)]


def _flag_customers(seed):
    """Flag a few customers who have won deals, as their reps would: they
    show in the lists with their icon and colour"""
    pool = Pool()
    Party = pool.get('party.party')
    ModelData = pool.get('ir.model.data')
    rng = random.Random(seed)
    customers = Party.search(
        [('crm_lifecycle', '=', 'customer')], order=[('id', 'ASC')])
    picked = rng.sample(customers, sum(n for _, n in FLAGS))
    args = []
    for xml_id, count in FLAGS:
        flag = ModelData.get_id('crm_kit_alert', xml_id)
        chosen, picked = picked[:count], picked[count:]
        args.extend((chosen, {'crm_flags': [('add', [flag])]}))
    Party.write(*args)


def _check_alerts():
    """Run the shipped alert rules once, as the scheduler would, so that
    the lists show the overdue, stuck and forgotten deals at once"""
    pool = Pool()
    Rule = pool.get('crm.alert.rule')
    Rule.check_alerts()


def demo_pdf(title, lines):
    "A one-page PDF showing title and lines (what sao previews)"
    def text(value):
        value = value.encode('latin-1', 'replace')
        return value.replace(b'\\', b'\\\\').replace(
            b'(', b'\\(').replace(b')', b'\\)')
    content = b'BT /F1 18 Tf 56 780 Td (' + text(title) + b') Tj ET\n'
    for index, line in enumerate(lines):
        content += b'BT /F1 11 Tf 56 %d Td (' % (740 - 18 * index) + (
            text(line) + b') Tj ET\n')
    objects = [
        b'<< /Type /Catalog /Pages 2 0 R >>',
        b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] '
        b'/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
        b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica '
        b'/Encoding /WinAnsiEncoding >>',
        b'<< /Length %d >>\nstream\n' % len(content) + content
        + b'endstream',
        ]
    pdf = b'%PDF-1.4\n'
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b'%d 0 obj\n' % number + body + b'\nendobj\n'
    xref = len(pdf)
    pdf += b'xref\n0 %d\n0000000000 65535 f \n' % (len(objects) + 1)
    pdf += b''.join(b'%010d 00000 n \n' % o for o in offsets)
    pdf += b'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (
        len(objects) + 1, xref)
    return pdf


def _create_documents(seed):
    """A signed contract on each of the latest won deals (some expiring
    soon), the product sheet as a web link on the open ones, and an upload
    link waiting for a customer's documents"""
    pool = Pool()
    Document = pool.get('crm.document')
    Opportunity = pool.get('sale.opportunity')
    UploadLink = pool.get('crm.upload.link')
    ModelData = pool.get('ir.model.data')
    Date = pool.get('ir.date')
    rng = random.Random(seed)
    today = Date.today()

    def category(xml_id):
        return ModelData.get_id('crm_kit_document', xml_id)
    won = Opportunity.search([('state', '=', 'won')],
        order=[('end_date', 'DESC'), ('id', 'DESC')], limit=12)
    values = []
    for index, opportunity in enumerate(won):
        party = opportunity.party
        # Two contracts run out within the month: the Expiring tab and
        # their owners' notifications show them.
        days = rng.randint(5, 25) if index < 2 else rng.randint(200, 700)
        values.append({
                'name': "Contrato firmado %s" % party.rec_name,
                'file_name': 'contrato-%s.pdf' % opportunity.number,
                'data': demo_pdf("Contrato de servicios", [
                        "Cliente: %s" % party.rec_name,
                        "Oportunidad: %s" % opportunity.number,
                        "Importe: %s EUR" % opportunity.amount,
                        "Firmado el %s" % (opportunity.end_date or today),
                        ]),
                'category': category('category_contract'),
                'owner': opportunity.owner.id,
                'expiry_date': today + dt.timedelta(days=days),
                'links': [('create', [
                            {'opportunity': opportunity.id},
                            {'party': party.id}])],
                })
    open_ = Opportunity.search([('state', '=', 'opportunity')],
        order=[('id', 'DESC')], limit=10)
    if open_:
        values.append({
                'name': "Ficha técnica del servicio de mantenimiento",
                'kind': 'url',
                'url': 'https://www.example.com/fichas/mantenimiento.pdf',
                'category': category('category_specification'),
                'owner': open_[0].owner.id,
                'links': [('create', [
                            {'opportunity': o.id} for o in open_])],
                })
    # As root: the same-file warning is for people.
    Document.create(values)
    if open_:
        opportunity = open_[0]
        UploadLink.create([{
                    'party': opportunity.party.id,
                    'opportunity': opportunity.id,
                    'owner': opportunity.owner.id,
                    'email': opportunity.party.email,
                    'message': "Envíenos el DNI del firmante y el último "
                    "recibo, por favor.",
                    'max_files': 5,
                    }])


# (customer's subject, customer's text, the rep's answer or None)
DEMO_EMAILS = [
    ("Duda sobre el presupuesto",
        "Hola,\n\n¿El precio incluye la instalación y la formación del "
        "equipo?\n\nGracias,",
        "Hola,\n\nSí: la instalación y dos sesiones de formación están "
        "incluidas. Le envío el detalle mañana.\n\nUn saludo,"),
    ("¿Podemos vernos la semana que viene?",
        "Buenos días,\n\nNos gustaría ver una demostración con el "
        "gerente. ¿Tienen hueco el martes o el jueves?\n\nUn saludo,",
        "Buenos días,\n\nEl jueves a las 10:00 nos va perfecto. Le "
        "confirmo la dirección.\n\nSaludos,"),
    ("Plazos de entrega",
        "Hola,\n\n¿Cuánto tardarían en tenerlo funcionando si "
        "firmamos este mes?\n\nGracias,", None),
    ("Descuento por volumen",
        "Buenas tardes,\n\nSi ampliamos a diez usuarios, ¿hay algún "
        "descuento?\n\nAtentamente,", None),
    ]


def _create_emails(seed):
    """A shared mailbox (switched off: it reads no server) with mail from
    the customers of some open deals, and the owners' answers"""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    pool = Pool()
    Mailbox = pool.get('crm.mailbox')
    Email = pool.get('crm.email')
    Link = pool.get('crm.email.link')
    Opportunity = pool.get('sale.opportunity')
    Company = pool.get('company.company')
    rng = random.Random(seed)
    company = Company(Transaction().context['company'])
    mailbox, = Mailbox.create([{
                'company': company.id,
                'name': "Ventas (demo)",
                'address': 'ventas@crm-kit.example.com',
                'owner': None,
                'imap_host': 'imap.crm-kit.example.com',
                'imap_security': 'ssl',
                'imap_port': 993,
                'login': 'ventas@crm-kit.example.com',
                'active': False,
                }])
    deals = [o for o in Opportunity.search([('state', '=', 'opportunity')],
            order=[('id', 'DESC')], limit=40)
        if o.party and o.party.email][:len(DEMO_EMAILS) * 2]
    now = utc_now()
    messages = []
    for index, opportunity in enumerate(deals):
        subject, text, answer = DEMO_EMAILS[index % len(DEMO_EMAILS)]
        sent = now - dt.timedelta(days=rng.randint(1, 9),
            minutes=rng.randint(0, 600))
        msg = EmailMessage()
        msg['From'] = '%s <%s>' % (opportunity.party.rec_name,
            opportunity.party.email)
        msg['To'] = mailbox.address
        msg['Subject'] = subject
        msg['Date'] = format_datetime(sent.replace(tzinfo=dt.timezone.utc))
        msg['Message-ID'] = make_msgid(domain='crm-kit.example.com')
        msg.set_content(text + "\n" + opportunity.party.rec_name + "\n")
        messages.append((msg, opportunity))
        if answer:
            reply = EmailMessage()
            reply['From'] = '%s <%s>' % (mailbox.name, mailbox.address)
            reply['To'] = opportunity.party.email
            reply['Subject'] = "Re: " + subject
            reply['Date'] = format_datetime(
                (sent + dt.timedelta(hours=2)).replace(
                    tzinfo=dt.timezone.utc))
            reply['Message-ID'] = make_msgid(domain='crm-kit.example.com')
            reply['In-Reply-To'] = msg['Message-ID']
            reply['References'] = msg['Message-ID']
            reply.set_content(answer + "\n" + opportunity.owner.name + "\n")
            messages.append((reply, opportunity))
    # Read as the mailbox reads them: linked by address and by thread;
    # and to their deal, as its owner links a mail of a customer with
    # several open deals.
    for uid, (msg, opportunity) in enumerate(messages, 1):
        Email.receive(mailbox, 'INBOX', [(uid, msg.as_bytes(), False)])
        email, = Email.search([('message_id', '=', msg['Message-ID'])])
        if opportunity not in [l.opportunity for l in email.links]:
            Link.create([{'email': email.id, 'opportunity': opportunity.id}])
            Email.told([email])
    Email.write(Email.search([('direction', '=', 'out')]),
        {'send_state': 'sent'})


def _switch_on_automation():
    """Switch on the shipped automation rules, after the history so that
    they act on what the visitor does, and run the time-based ones once so
    that their log shows what they found"""
    pool = Pool()
    Rule = pool.get('crm.automation.rule')
    with Transaction().set_context(active_test=False):
        rules = Rule.search([('active', '=', False)])
    Rule.write(rules, {'active': True})
    Rule.run_scheduled()


def _create_lead_capture(users):
    """An assignment rule and a web form, as an agency would set them up;
    created after the history so that they only act on new leads"""
    pool = Pool()
    Rule = pool.get('crm.assignment.rule')
    Team = pool.get('crm.team')
    Channel = pool.get('crm.channel')
    WebForm = pool.get('crm.web.form')
    team, = Team.search([('name', '=', TEAM_NAME)], limit=1)
    web, = Channel.search([('code', '=', 'web')], limit=1)
    Rule.create([{
                'name': "Leads web del equipo",
                'method': 'round_robin',
                'team': team.id,
                'channels': [('add', [web.id])],
                }, {
                'name': "Resto de leads",
                'method': 'least_loaded',
                'team': team.id,
                'fallback': True,
                }])
    WebForm.create([{
                'name': "Contacto",
                'thank_you_url': 'https://www.example.com/gracias',
                'lines': [('create', [
                            {'name': 'lead_name', 'label': "Nombre",
                                'required': True},
                            {'name': 'lead_company', 'label': "Empresa"},
                            {'name': 'lead_email',
                                'label': "Correo electrónico",
                                'required': True},
                            {'name': 'lead_phone', 'label': "Teléfono"},
                            {'name': 'comment', 'label': "Mensaje"},
                            ])],
                }])


def _create_targets(users):
    """Monthly targets of each rep for this year and the last two: a tenth
    above what they won on average in a month, so some months are met"""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Target = pool.get('crm.sales.target')
    Date = pool.get('ir.date')
    today = Date.today()
    values = []
    for user in users.values():
        won = Opportunity.search([
                ('owner', '=', user.id), ('state', '=', 'won')])
        if not won:
            continue
        first = min(o.end_date for o in won)
        months = max(1, (today.year - first.year) * 12
            + today.month - first.month + 1)
        amount = sum(o.amount or 0 for o in won) / months * Decimal('1.1')
        amount = max(Decimal(500), (amount / 500).quantize(Decimal(1)) * 500)
        deals = max(1, round(len(won) / months * 1.1))
        for year in range(today.year - 2, today.year + 1):
            for month in range(1, 13):
                values.append({
                        'user': user.id, 'year': year, 'month': str(month),
                        'amount': amount, 'deals': deals})
    Target.create(values)


# What the demo company's quotes print of it, when init left it unset.
COMPANY_NIF = 'B12345674'
COMPANY_CONTACTS = [
    ('phone', '+34 910 000 100'),
    ('email', 'ventas@crm-kit.example'),
    ('website', 'https://crm-kit.example'),
    ]


def _company_identity(company):
    """The NIF, street, phone, e-mail, web and logo the company's quotes
    show, for what is not set (as the setup assistant sets them)"""
    from crm_kit.setup import set_company
    party = company.party
    values = {}
    if not party.tax_identifier:
        values['nif'] = COMPANY_NIF
    if not any(a.street for a in party.addresses):
        values.update(street="Calle de Alcalá 100", postal_code='28009',
            city="Madrid")
    types = {m.type for m in party.contact_mechanisms}
    values.update((t, v) for t, v in COMPANY_CONTACTS if t not in types)
    if not company.logo:
        values['logo'] = _demo_logo(party.name)
    set_company(company, values)


def _demo_logo(name):
    "A logo for the demo: the company's initials on a blue square"
    import io

    from PIL import Image, ImageDraw, ImageFont
    initials = ''.join(w[0] for w in name.split()[:2]).upper()
    image = Image.new('RGB', (240, 240), (29, 78, 216))
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype('DejaVuSans-Bold.ttf', 110)
    except OSError:
        font = ImageFont.load_default()
    draw.text((120, 120), initials, fill='white', font=font, anchor='mm')
    content = io.BytesIO()
    image.save(content, 'PNG')
    return content.getvalue()


def _create_users(company):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Lang = pool.get('ir.lang')
    langs = {l.code: l for l in Lang.search([
                ('code', '=', 'es'), ('translatable', '=', True)])}
    employed = employment(company, [name for _, name, _, _ in USERS])
    values = []
    for (login, name, group, lang), employee in zip(USERS, employed):
        values.append({
                'login': login,
                'name': name,
                'password': DEMO_PASSWORD,
                'email': f'{login}@crm-kit.example.com',
                'groups': [('add', [ModelData.get_id('crm_kit', group)])],
                'language': langs[lang].id if lang in langs else None,
                **employee,
                })
    users = User.create(values)
    return {u.login: u for u in users}


def _create_team(users):
    Team = Pool().get('crm.team')
    team, = Team.create([{
                'name': TEAM_NAME,
                'manager': users['manager'].id,
                'members': [('add', [
                            users['rep'].id, users['rep2'].id,
                            users['manager'].id])],
                }])
    return team


def _create_products():
    pool = Pool()
    Template = pool.get('product.template')
    Category = pool.get('product.category')
    ModelData = pool.get('ir.model.data')
    unit = ModelData.get_id('product', 'uom_unit')
    categories = {c.name: c for c in Category.search([])}
    templates = Template.create([{
                'name': name,
                'code': code,
                'type': 'service',
                'salable': True,
                'list_price': Decimal(price),
                'default_uom': unit,
                'sale_uom': unit,
                'account_category': categories[category].id,
                'products': [('create', [{}])],
                } for code, name, _, price, category, _ in PRODUCTS])
    with Transaction().set_context(language='es'):
        args = []
        for template, (_, _, name_es, *_) in zip(templates, PRODUCTS):
            args.extend(([template], {'name': name_es}))
        Template.write(*args)
    return {t.code: t.products[0]
        for t in Template.browse([t.id for t in templates])}


def _create_parties(customers):
    pool = Pool()
    Party = pool.get('party.party')
    Country = pool.get('country.country')
    Lang = pool.get('ir.lang')
    spain, = Country.search([('code', '=', 'ES')], limit=1)
    langs = {l.code: l.id for l in Lang.search([
                ('code', '=', 'es'), ('translatable', '=', True)])}
    values = []
    for customer in customers:
        mechanisms = [
            {'type': 'email', 'value': customer['email']},
            {'type': 'phone', 'value': customer['phone']},
            ]
        if customer['mobile']:
            mechanisms.append({'type': 'mobile', 'value': customer['mobile']})
        values.append({
                'name': customer['name'],
                'lang': langs.get(customer['lang']),
                'identifiers': [('create', [{
                                'type': customer['identifier_type'],
                                'code': customer['identifier'],
                                }])],
                'addresses': [('create', [{
                                'street': customer['street'],
                                'postal_code': customer['postal_code'],
                                'city': customer['city'],
                                'country': spain.id,
                                }])],
                'contact_mechanisms': [('create', mechanisms)],
                })
    return Party.create(values)


class _Timer:
    "Log how long each step of the load takes"

    def __init__(self):
        self.start = self.last = time.monotonic()

    def __call__(self, step):
        now = time.monotonic()
        logger.info("demo: %s in %.1fs", step, now - self.last)
        self.last = now


def _create_opportunities(users, products, parties, plans, timer):
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Sale = pool.get('sale.sale')
    Stage = pool.get('crm.stage')
    StageLog = pool.get('crm.stage.log')
    Channel = pool.get('crm.channel')
    LostReason = pool.get('crm.lost_reason')
    ModelData = pool.get('ir.model.data')
    Queue = pool.get('ir.queue')
    Team = pool.get('crm.team')
    transaction = Transaction()

    team, = Team.search([('name', '=', TEAM_NAME)], limit=1)
    stages = {k: Stage(ModelData.get_id('crm_kit', v))
        for k, v in STAGES.items()}
    channels = {c.code: c for c in Channel.search([])}
    reasons = {x: LostReason(ModelData.get_id('crm_kit', x))
        for x, *_ in LOST_REASONS}
    prices = {p[0]: Decimal(p[3]) for p in PRODUCTS}
    unit = ModelData.get_id('product', 'uom_unit')

    def by_owner(indexes):
        groups = defaultdict(list)
        for i in indexes:
            groups[plans[i]['owner']].append(i)
        return groups

    # 1. Every opportunity comes in as a new lead, in the order they came
    # (so the numbers follow the dates), then is attributed to its owner.
    values = []
    for plan in plans:
        user = users.get(plan['owner'])
        values.append({
                'party': parties[plan['customer']].id,
                'description': plan['description'],
                'start_date': plan['start'].date(),
                'stage': stages['new'].id,
                'stage_date': plan['start'],
                'owner': user.id if user else None,
                'employee': user.employee.id if user else None,
                'team': team.id,
                'channel': channels[plan['channel']].id,
                'expected_close_date': plan['expected_close_date'],
                'amount': sum(prices[code] * quantity
                    for code, quantity in plan['lines']),
                'lines': [('create', [{
                                'product': products[code].id,
                                'quantity': quantity,
                                'unit': unit,
                                } for code, quantity in plan['lines']])],
                })
    records = Opportunity.create(values)
    args = []
    for login, indexes in by_owner(range(len(plans))).items():
        if login:
            args.extend((
                    StageLog.search([
                            ('opportunity', 'in',
                                [records[i].id for i in indexes]),
                            ]),
                    {'user': users[login].id}))
    StageLog.write(*args)
    timer("%d opportunities created" % len(records))

    # 2. Walk the moves step by step, each by its owner; the quote is
    # prepared the day the offer is sent.
    step = 0
    while True:
        movers = [i for i, p in enumerate(plans) if step < len(p['moves'])]
        if not movers:
            break
        quoted = sorted(
            (i for i in movers if plans[i]['moves'][step][0] == 'offer'),
            key=lambda i: plans[i]['quote'])
        if quoted:
            Opportunity.create_quote([records[i] for i in quoted])
            timer("%d quotes prepared" % len(quoted))
        for login, indexes in by_owner(movers).items():
            args = []
            for i in indexes:
                stage, date = plans[i]['moves'][step]
                values = {'stage': stages[stage].id, 'stage_date': date}
                if stage == 'lost':
                    values['lost_reason_type'] = reasons[
                        plans[i]['lost_reason']].id
                args.extend(([records[i]], values))
            with transaction.set_user(users[login].id):
                Opportunity.write(*args)
        timer("%d stage moves" % len(movers))
        step += 1

    # 3. The quotes: dated and by their owner, confirmed when won,
    # cancelled when lost.
    records = Opportunity.browse([r.id for r in records])
    args, to_confirm, to_cancel, lost_amounts = [], [], [], {}
    for i, (plan, record) in enumerate(zip(plans, records)):
        if not plan['quote']:
            continue
        sale, = record.sales
        values = {
            'quotation_date': plan['quote'].date(),
            'quoted_by': users[plan['owner']].employee.id,
            # Sent to the customer the day it was made.
            'sent_date': plan['quote'],
            }
        if plan['stage'] == 'won':
            values['sale_date'] = plan['moves'][-1][1].date()
            # Accepted while valid: the validity was as long as it took.
            values['quotation_validity'] = max(
                sale.quotation_validity or dt.timedelta(),
                values['sale_date'] - values['quotation_date'])
            to_confirm.append(i)
        elif plan['stage'] == 'lost':
            to_cancel.append(sale)
            lost_amounts[record.id] = record.amount
        args.extend(([sale], values))
    if args:
        Sale.write(*args)
    for login, indexes in by_owner(to_confirm).items():
        with transaction.set_user(users[login].id):
            Sale.confirm([records[i].sales[0] for i in indexes])
    timer("%d sales confirmed" % len(to_confirm))
    # Process the confirmed sales now, as the queue worker would.
    while transaction.tasks:
        Queue(transaction.tasks.pop(0)).run()
    timer("sales processed")
    if to_cancel:
        Sale.cancel(to_cancel)
        # Cancelling the quote zeroes the estimate: keep what was lost.
        by_amount = defaultdict(list)
        for id_, amount in lost_amounts.items():
            by_amount[amount].append(id_)
        args = []
        for amount, ids in by_amount.items():
            args.extend((Opportunity.browse(ids), {'amount': amount}))
        Opportunity.write(*args)
    timer("%d quotes of lost deals cancelled" % len(to_cancel))

    # 4. Closed deals ended on the day of their last move, not today.
    end_dates = defaultdict(list)
    for plan, record in zip(plans, records):
        if plan['stage'] in CLOSED:
            end_dates[plan['moves'][-1][1].date()].append(record.id)
    if end_dates:
        args = []
        for date, ids in end_dates.items():
            args.extend((Opportunity.browse(ids), {'end_date': date}))
        Opportunity.write(*args)

    _backdate_creation(users, plans, records, parties)
    timer("dates set")


def _backdate_creation(users, plans, records, parties):
    """Date the creation of the opportunities, quotes and customers when
    it happened, by whom it happened: the customer history and the reports
    read create_date and create_uid, which the ORM always sets to now."""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    Sale = pool.get('sale.sale')
    Party = pool.get('party.party')
    cursor = Transaction().connection.cursor()

    def update(Model, values):
        table = Model.__table__()
        for id_, (date, user) in values.items():
            cursor.execute(*table.update(
                    [table.create_date, table.create_uid], [date, user],
                    where=table.id == id_))

    opportunities, sales, party_dates = {}, {}, {}
    for plan, record in zip(plans, records):
        user = users[plan['owner']].id if plan['owner'] else 0
        opportunities[record.id] = (plan['start'], user)
        if plan['quote']:
            sales[record.sales[0].id] = (plan['quote'], user)
        party = parties[plan['customer']].id
        first = plan['start'] - dt.timedelta(hours=2)
        party_dates[party] = min(party_dates.get(party, first), first)
    window = min(p['start'] for p in plans) - dt.timedelta(days=1)
    update(Opportunity, opportunities)
    update(Sale, sales)
    update(Party, {p.id: (party_dates.get(p.id, window), 0) for p in parties})
