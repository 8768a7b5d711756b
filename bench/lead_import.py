"""Lead import: a generated CSV of 100,000 leads imported by crm-kit,
compared in the same run with Tryton's generic import_data and with a
plain PostgreSQL COPY of the same file.

    .venv/bin/python bench/lead_import.py              # print the report
    .venv/bin/python bench/lead_import.py --rows 10000 --sample 500
    .venv/bin/python bench/lead_import.py --profile    # cProfile, 10,000 rows

bench/run.py runs it once (ONCE), after the opportunity list, and writes
its tables into docs/performance.md.  It works in a database of its own,
crm_kit_bench_leads (or $CRM_KIT_BENCH_DATABASE + '_leads'), cloned from
the template bench/data.py builds (crm_kit and crm_kit_lead activated, the
company and the bench users and teams, no opportunities), so that the
imported leads do not change the other benchmarks' data; it is left in
place afterwards.

The file is written by generate_csv from random.Random(SEED): Spanish
companies and contacts, unique e-mails, valid mobile phones, valid CIF or
DNI, provinces, channel codes, amounts written "1.234,50", semicolons as
Excel writes them in Spain; 5 % of the rows repeat the e-mail of an earlier
row (duplicates) and 2 % have a defect: an e-mail "ana@" or a phone "12"
(rejected) or a NIF with a wrong check letter (imported with a warning,
the NIF kept as written).  No two rows but the duplicates have the same
contact at the same company.  Before measuring, the duplicate policy is set
to "skip" and one round-robin assignment rule gives the leads to the team
Madrid, so both services run on every row.

Each measurement runs in a child process of its own (this file with
--child), which prints its time and peak memory (VmHWM) as JSON:

- crm-kit: crmkit.cli.import_leads, as ``crm-kit import-leads`` runs it
  (one transaction per chunk of 10,000 rows), on all the rows;
- import_data: sale.opportunity.import_data, the generic import of sao's
  import dialog, on the first --sample valid, distinct rows (all rows
  would take ten minutes, and import_data rejects a whole batch for one
  invalid row or duplicate), in one transaction rolled back afterwards;
- COPY: the CSV file streamed by psycopg's ``cursor.copy`` into an
  UNLOGGED table of text columns (dropped afterwards)."""
import argparse
import cProfile
import csv
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402

TITLE = "Lead import (CSV, duplicate detection and assignment on)"
# bench/run.py runs this module once, not at each opportunity count.
ONCE = True

ROWS = 100_000
SAMPLE = 2_000
PROFILE_ROWS = 10_000
# Where --profile leaves the cProfile data (for pstats or snakeviz)
PROFILE_STATS = os.path.join(tempfile.gettempdir(), 'crm-kit-lead-import.prof')
SEED = 4242
DUPLICATE_SHARE = 0.05
INVALID_SHARE = 0.02
# The targets
TARGET_RATE = 2_000
TARGET_MB = 500
TARGET_RATIO = 25

HEADER = ["Empresa", "Nombre", "Email", "Teléfono", "NIF", "Provincia",
    "Canal", "Importe", "Descripción"]
# The lead fields of the columns, for import_data
FIELDS = ['lead_company', 'lead_name', 'lead_email', 'lead_phone',
    'lead_tax_identifier', 'lead_subdivision', 'channel', 'amount',
    'description']
# Province as crm-kit init names it, the two first digits of its postal
# codes (and of the CIFs registered there), weight
PROVINCES = [
    ("Madrid", '28', 30), ("Barcelona", '08', 18), ("Valencia", '46', 8),
    ("Sevilla", '41', 6), ("Zaragoza", '50', 4), ("Málaga", '29', 5),
    ("Murcia", '30', 4), ("Alicante", '03', 5), ("Bizkaia", '48', 4),
    ("A Coruña", '15', 3), ("Asturias", '33', 3), ("Granada", '18', 2),
    ("Cádiz", '11', 3), ("Córdoba", '14', 2), ("Valladolid", '47', 2),
    ("Illes Balears", '07', 3), ("Las Palmas", '35', 2), ("Toledo", '45', 2),
    ]
CHANNELS = [('web', 35), ('phone', 15), ('email', 15), ('referral', 20),
    ('event', 15)]
DESCRIPTIONS = [
    "Licencias CRM ({n} usuarios)", "Proyecto web", "Consultoría",
    "Formación ({n} personas)", "Soporte anual", "Migración de datos",
    "Tienda online", "Integración con ERP",
    ]
EMAIL_DOMAINS = ['es', 'com', 'net']


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rows', type=int,
        help=f"rows of the generated file (default: {ROWS:,}, "
        f"{PROFILE_ROWS:,} with --profile)")
    parser.add_argument('--sample', type=int, default=SAMPLE,
        help="rows given to import_data (default: %(default)s)")
    parser.add_argument('--profile', action='store_true',
        help="profile crm-kit's import (cProfile) instead of measuring")
    parser.add_argument('--rebuild', action='store_true',
        help="rebuild the template database even if it is up to date")
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--database', help=argparse.SUPPRESS)
    parser.add_argument('--file', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# The file

def spanish_amount(amount):
    "1234.5 -> '1.234,50'"
    text = f"{amount:,.2f}"
    return text.replace(',', ' ').replace('.', ',').replace(' ', '.')


def generate_csv(path, rows=ROWS, seed=SEED):
    """Write the CSV of rows leads to path; return the kinds of the rows
    ('ok', 'duplicate', 'invalid' or 'warning') and the import_data values
    of the 'ok' rows, in file order"""
    from crmkit import demo
    rng = random.Random(seed)
    n_duplicates = round(rows * DUPLICATE_SHARE)
    n_invalid = round(rows * INVALID_SHARE)
    kinds = (['duplicate'] * n_duplicates + ['invalid'] * n_invalid
        + ['ok'] * (rows - n_duplicates - n_invalid))
    rng.shuffle(kinds)
    # A duplicate repeats an earlier row: the first row is an original.
    first_ok = kinds.index('ok')
    kinds[0], kinds[first_ok] = kinds[first_ok], kinds[0]

    provinces = [p for p, _, _ in PROVINCES]
    province_weights = [w for _, _, w in PROVINCES]
    postal = {p: c for p, c, _ in PROVINCES}
    channels = [c for c, _ in CHANNELS]
    channel_weights = [w for _, w in CHANNELS]
    legal_forms = [(f, letter) for f, letter, _ in demo.LEGAL_FORMS]
    legal_weights = [w for _, _, w in demo.LEGAL_FORMS]
    phones, tax_ids, emails, people = set(), set(), [], set()
    originals = []
    with open(path, 'w', encoding='utf-8', newline='') as file:
        writer = csv.writer(file, delimiter=';', lineterminator='\r\n')
        writer.writerow(HEADER)
        for index, kind in enumerate(kinds):
            while True:
                first = rng.choice(demo.FEMALE_NAMES + demo.MALE_NAMES)
                surname, surname2 = rng.sample(demo.SURNAMES, 2)
                name = f"{first} {surname} {surname2}"
                pattern = rng.choice(demo.COMPANY_PATTERNS)
                form, letter = rng.choices(legal_forms, legal_weights)[0]
                company = pattern.format(
                    s=rng.choice(demo.SURNAMES),
                    p=rng.choice(demo.PLACE_WORDS)) + ' ' + form
                # The same contact at the same company is a duplicate
                # (the policy compares it): only the duplicates repeat.
                if (name, company) not in people:
                    people.add((name, company))
                    break
            province = rng.choices(provinces, province_weights)[0]
            if rng.random() < 0.75:
                domain = demo._slug(company.rsplit(' ', 1)[0])[:20]
                while True:
                    tax_id = demo._cif(rng, letter, postal[province])
                    if tax_id not in tax_ids:
                        break
            else:
                # Self-employed: a person with a DNI
                company = ''
                domain = demo._slug(surname) + 'asesores'
                while True:
                    tax_id = demo._dni(rng)
                    if tax_id not in tax_ids:
                        break
            tax_ids.add(tax_id)
            email = (f"{demo._slug(first)}.{demo._slug(surname)}{index}"
                f"@{domain}.{rng.choice(EMAIL_DOMAINS)}")
            phone = demo._phone(rng, '6', phones).removeprefix('+34 ')
            amount = round(rng.lognormvariate(8, 1), 2)
            channel = rng.choices(channels, channel_weights)[0]
            description = rng.choice(DESCRIPTIONS).format(
                n=rng.randrange(2, 50))
            if kind == 'duplicate':
                # The same person again, from another list
                email = rng.choice(emails)
            elif kind == 'invalid':
                defect = rng.randrange(3)
                if defect == 0:
                    email = email.split('@')[0] + '@'
                elif defect == 1:
                    phone = '12'
                else:
                    # Imported with a warning: the NIF kept as written.
                    kinds[index] = 'warning'
                    letters = 'TRWAGMYFPDXBNJZSQVHLCKE'
                    wrong = letters[(letters.index(tax_id[-1]) + 1) % 23] \
                        if tax_id[-1] in letters else str(
                            (int(tax_id[-1]) + 1) % 10)
                    tax_id = tax_id[:-1] + wrong
            else:
                emails.append(email)
                originals.append([company, name, email, phone, tax_id,
                        province, channel, str(Decimal(str(amount))
                            .quantize(Decimal('0.01'))), description])
            writer.writerow([company, name, email, phone, tax_id, province,
                    channel, spanish_amount(amount), description])
    return kinds, originals


# The database

def setup(name):
    """Duplicates skipped, one round-robin rule over the team Madrid, a
    file size limit above the file's"""
    from crmkit.cli import run_in_transaction
    return run_in_transaction(name, _setup)


def _setup():
    from trytond.pool import Pool
    pool = Pool()
    Configuration = pool.get('crm.lead.configuration')
    Rule = pool.get('crm.assignment.rule')
    Team = pool.get('crm.team')
    config = Configuration(1)
    config.duplicate_action = 'skip'
    config.import_max_size = 500
    config.save()
    team, = Team.search([('name', '=', 'Madrid')])
    Rule(name="Bench: round robin Madrid", method='round_robin',
        team=team).save()
    return {
        'keys': [k for k, on in [
                ('e-mail', config.duplicate_email),
                ('phone', config.duplicate_phone),
                ('tax identifier', config.duplicate_tax_identifier),
                ('company name', config.duplicate_company_name),
                ('contact at company', config.duplicate_contact_name),
                ] if on],
        'members': [u.login for u in team.members],
        }


# The children: one measurement each

def memory():
    "VmRSS and VmHWM (peak) of this process in MB"
    values = {}
    for line in Path('/proc/self/status').read_text().splitlines():
        key, _, value = line.partition(':')
        if key in {'VmRSS', 'VmHWM'}:
            values[key] = int(value.split()[0]) / 1024
    return values['VmRSS'], values['VmHWM']


def _start_trytond(name):
    data.configure()
    from trytond.pool import Pool
    Pool(name).init()


def child_crmkit(name, path, profile=False):
    from crmkit.cli import import_leads
    _start_trytond(name)
    base, _ = memory()
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    import_id, counts = import_leads(name, path, log=lambda m: None)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - start
    _, peak = memory()
    if profiler:
        profiler.dump_stats(PROFILE_STATS)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats('tottime').print_stats(30)
        stats.sort_stats('cumulative').print_stats(60)
        # Who sends the queries
        stats.print_callers(r'postgresql/database\.py.*\(execute\)')
    return {'rows': counts['total_rows'], 'seconds': seconds,
        'base_mb': base, 'peak_mb': peak, 'counts': counts}


def child_import_data(name, path):
    from trytond.transaction import Transaction
    _start_trytond(name)
    from trytond.pool import Pool
    rows = json.loads(Path(path).read_text())
    base, _ = memory()
    with Transaction().start(name, 0) as transaction:
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Company = pool.get('company.company')
        company, = Company.search([], limit=1)
        # import_data finds a many2one by its record name, which must be
        # unique: the channel's name, not its code (the user's sheet would
        # say "Web"), and the province's ISO code ("Illes Balears" is
        # also the name of the region).
        Channel = pool.get('crm.channel')
        Subdivision = pool.get('country.subdivision')
        channels = {c.code: c.rec_name for c in Channel.search([])}
        provinces = {s.name: s.code for s in Subdivision.search([
                    ('country.code', '=', 'ES'),
                    ('parent', '!=', None),
                    ])}
        channel = FIELDS.index('channel')
        province = FIELDS.index('lead_subdivision')
        for row in rows:
            row[channel] = channels[row[channel]]
            row[province] = provinces[row[province]]
            # The province's domain wants its country, which crm-kit's
            # import sets from the province and import_data does not.
            row.append('ES')
        with Transaction().set_context(company=company.id):
            start = time.perf_counter()
            count = Opportunity.import_data(FIELDS + ['lead_country'], rows)
            seconds = time.perf_counter() - start
        transaction.rollback()
    _, peak = memory()
    return {'rows': count, 'seconds': seconds, 'base_mb': base,
        'peak_mb': peak}


def child_copy(name, path):
    data.configure()
    columns = ', '.join(f'c{i} text' for i in range(len(HEADER)))
    base, _ = memory()
    with data.connect(name, autocommit=False) as connection:
        cursor = connection.cursor()
        cursor.execute("DROP TABLE IF EXISTS bench_lead_copy")
        cursor.execute(f"CREATE UNLOGGED TABLE bench_lead_copy ({columns})")
        connection.commit()
        start = time.perf_counter()
        with open(path, 'rb') as file, cursor.copy(
                "COPY bench_lead_copy FROM STDIN "
                "(FORMAT csv, DELIMITER ';', HEADER true)") as copy:
            while chunk := file.read(1024 * 1024):
                copy.write(chunk)
        connection.commit()
        seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_lead_copy")
        count, = cursor.fetchone()
        cursor.execute("DROP TABLE bench_lead_copy")
        connection.commit()
    _, peak = memory()
    return {'rows': count, 'seconds': seconds, 'base_mb': base,
        'peak_mb': peak}


CHILDREN = {
    'crmkit': child_crmkit,
    'import_data': child_import_data,
    'copy': child_copy,
    }


def run_child(kind, name, path, profile=False, env=None):
    "Run one measurement in a new process and return its result"
    args = [sys.executable, str(Path(__file__).resolve()), '--child', kind,
        '--database', name, '--file', str(path)]
    if profile:
        args.append('--profile')
    process = subprocess.run(args, check=True, env=env,
        stdout=subprocess.PIPE, text=True)
    return json.loads(process.stdout.strip().splitlines()[-1])


# The benchmark

def measure(name, rows=ROWS, sample=SAMPLE, rebuild=False, home=None,
        log=print):
    """Generate the file, set the database up and run the three
    measurements; home is the CRM_KIT_HOME of a process that already ran
    data.configure()"""
    home = home or data.configure()
    env = dict(os.environ, CRM_KIT_BENCH_HOME=str(home))
    data.clone_database(name, rebuild=rebuild, log=log)
    settings = setup(name)
    log(f"duplicate keys: {', '.join(settings['keys'])}; action skip; "
        f"round robin over Madrid ({', '.join(settings['members'])})")
    with tempfile.TemporaryDirectory(prefix='crm-kit-leads-') as folder:
        path = Path(folder) / 'leads.csv'
        start = time.monotonic()
        kinds, originals = generate_csv(path, rows)
        sample_path = Path(folder) / 'sample.json'
        sample_rows = originals[:sample]
        sample_path.write_text(json.dumps(sample_rows))
        log(f"{rows:,} rows generated ({kinds.count('duplicate'):,} "
            f"duplicates, {kinds.count('invalid'):,} invalid, "
            f"{kinds.count('warning'):,} with an invalid NIF, "
            f"{path.stat().st_size / 1024 / 1024:.1f} MB) "
            f"in {time.monotonic() - start:.1f} s")

        results = {}
        # import_data first, rolled back: the leads crm-kit imports would
        # make its rows duplicates.
        log(f"import_data: {len(sample_rows):,} rows (a sample: all of "
            "them would take too long)…")
        results['import_data'] = run_child(
            'import_data', name, sample_path, env=env)
        log(_line('import_data', results['import_data']))
        log("COPY…")
        results['copy'] = run_child('copy', name, path, env=env)
        log(_line('COPY', results['copy']))
        log(f"crm-kit import: {rows:,} rows…")
        results['crmkit'] = run_child('crmkit', name, path, env=env)
        log(_line('crm-kit', results['crmkit']))
        file_mb = path.stat().st_size / 1024 / 1024
    crmkit = results['crmkit']
    crmkit['expected'] = {
        'created': kinds.count('ok') + kinds.count('warning'),
        'skipped': kinds.count('duplicate'),
        'rejected': kinds.count('invalid'),
        'warnings': kinds.count('warning'),
        }
    return {'rows': rows, 'file_mb': file_mb, **results,
        'settings': settings}


def rate(result):
    return result['rows'] / result['seconds']


def _line(label, result):
    return (f"  {label}: {result['rows']:,} rows in "
        f"{result['seconds']:.1f} s = {rate(result):,.0f} rows/s, "
        f"peak {result['peak_mb']:.0f} MB")


def ratio_text(crmkit, other, name):
    "How crm-kit compares with other, in words that leave no doubt"
    ratio = rate(crmkit) / rate(other)
    factor = ratio if ratio >= 1 else 1 / ratio
    factor = f"{factor:,.0f}" if factor >= 100 else f"{factor:.1f}"
    if ratio >= 1:
        return f"crm-kit is {factor}× faster than {name}"
    return f"crm-kit is {factor}× slower than {name}"


def run(ctx):
    "bench/run.py's entry point: one result row"
    name = f'{ctx.database}_leads'
    # bench/run.py has configured trytond already.
    return [measure(name, home=Path(os.environ['CRM_KIT_HOME']),
            log=ctx.log)]


def tables(rows):
    "The result tables for docs/performance.md: (caption, header, rows)"
    result = []
    for row in rows:
        crmkit = row['crmkit']
        counts, expected = crmkit['counts'], crmkit['expected']
        lines = []
        for label, key in [
                ("crm-kit import (`crm-kit import-leads`)", 'crmkit'),
                ("Tryton `import_data` (sample)", 'import_data'),
                ("PostgreSQL `COPY` into a text table", 'copy'),
                ]:
            measured = row[key]
            lines.append([label, f"{measured['rows']:,}",
                    f"{measured['seconds']:.1f}",
                    f"{rate(measured):,.0f}",
                    f"{measured['peak_mb']:.0f}",
                    f"{measured['base_mb']:.0f}"])
        result.append((
                f"{row['rows']:,} rows, one run, each method in a process "
                "of its own",
                ["Method", "Rows", "Seconds", "Rows/s", "Peak MB",
                    "MB before"],
                lines))
        result.append((
                "Outcome of the crm-kit import, and the comparisons",
                ["", "Value"], [
                    ["Created / expected", f"{counts['created']:,} / "
                        f"{expected['created']:,}"],
                    ["Skipped as duplicate / expected",
                        f"{counts['skipped']:,} / {expected['skipped']:,}"],
                    ["Rejected / expected", f"{counts['rejected']:,} / "
                        f"{expected['rejected']:,}"],
                    ["Imported with a warning / expected",
                        f"{counts.get('warnings', 0):,} / "
                        f"{expected.get('warnings', 0):,}"],
                    ["Updated", f"{counts['updated']:,}"],
                    ["vs `import_data`", ratio_text(
                            crmkit, row['import_data'],
                            "`import_data`")],
                    ["vs `COPY`", ratio_text(crmkit, row['copy'], "`COPY`")],
                    [f"Target ≥ {TARGET_RATIO}× `import_data`", "met"
                        if rate(crmkit) >= TARGET_RATIO * rate(
                            row['import_data']) else "**missed**"],
                    ["Target ≥ 2,000 rows/s", "met" if rate(crmkit)
                        >= TARGET_RATE else "**missed**"],
                    ["Target peak < 500 MB", "met" if crmkit['peak_mb']
                        < TARGET_MB else "**missed**"],
                    ]))
    return result


def report(result):
    "The tables as text, for the console"
    lines = [TITLE, '']
    for caption, header, rows in tables([result]):
        lines.append(caption + ':')
        widths = [max(len(str(r[i])) for r in [header] + rows)
            for i in range(len(header))]
        for row in [header] + rows:
            lines.append('  ' + '  '.join(
                    str(c).ljust(w) if i == 0 else str(c).rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths))))
        lines.append('')
    lines.append(f"(import_data ran on {result['import_data']['rows']:,} "
        "of the rows only: at its speed all of them would take too long.)")
    return '\n'.join(lines)


def profile(name, rows=PROFILE_ROWS, rebuild=False, log=print):
    "Profile crm-kit's import of rows rows; the stats go to stderr"
    home = data.configure()
    env = dict(os.environ, CRM_KIT_BENCH_HOME=str(home))
    data.clone_database(name, rebuild=rebuild, log=log)
    setup(name)
    with tempfile.TemporaryDirectory(prefix='crm-kit-leads-') as folder:
        path = Path(folder) / 'leads.csv'
        generate_csv(path, rows)
        result = run_child('crmkit', name, path, profile=True, env=env)
    log(_line('crm-kit (under cProfile)', result))
    log(f"counts: {result['counts']}; statistics in {PROFILE_STATS}")


def main(argv=None):
    args = parse_args(argv)
    name = f'{data.DB_NAME}_leads'
    if args.child:
        kwargs = {'profile': True} if args.profile else {}
        result = CHILDREN[args.child](args.database, args.file, **kwargs)
        sys.stdout.flush()
        print(json.dumps(result, default=str))
        return
    if args.profile:
        profile(name, rows=args.rows or PROFILE_ROWS, rebuild=args.rebuild)
        return
    result = measure(
        name, rows=args.rows or ROWS, sample=args.sample, rebuild=args.rebuild)
    print()
    print(report(result))


if __name__ == '__main__':
    main()


def summary(rows):
    """What the tables show, in words: every figure is computed from the
    rows"""
    lines = []
    for row in rows:
        crmkit = row['crmkit']
        speed = rate(crmkit)
        lines.append(
            f"- crm-kit imported {row['rows']:,} rows at {speed:,.0f} rows/s "
            f"(target {TARGET_RATE:,}: "
            + ("met" if speed >= TARGET_RATE else "**missed**")
            + f"), {speed / rate(row['import_data']):.1f} times "
            f"`import_data`'s speed with the same checks and "
            f"{rate(row['copy']) / speed:.0f} times slower than a bare "
            f"`COPY`; its peak memory was {crmkit['peak_mb']:.0f} MB "
            f"(target under {TARGET_MB}: "
            + ("met" if crmkit['peak_mb'] < TARGET_MB else "**missed**")
            + ").")
    return '\n'.join(lines)
