"""Automation rules: one scheduler pass of the time-based rules, at each
size, with the same number of records to act on.

    .venv/bin/python bench/run.py --only automation --sizes 10000,100000

Two rules are switched on: the shipped "no activity for 14 days" (a task
for the owner) and "expected closing date in 3 days" (a call).  Before
measuring, MATCHES open opportunities are made to fall in each rule's
window (last activity between 14 days and 14 days minus 50 minutes ago,
as if the last pass was an hour ago; closing date within 3 days) and every
other opportunity out of it, so that both sizes have exactly the same work
and what differs is the size of the table.

Each run is one crm.automation.rule.run_scheduled in a transaction rolled
back afterwards (it creates the activities and the log lines, so the next
run finds the same records); the median of ctx.runs is reported, with the
time the candidate selection alone takes (candidates(), the SQL part).
The ratio between the largest and the smallest size says how the pass
grows with the table: near 1 when the selection uses the indexes.
CRM_KIT_BENCH_PROFILE=FILE profiles one more pass into FILE (cProfile).

Its baseline, in the same run: the same activities (the values the pass
gave them) created through the ORM in one create, with no automation nor
alert rule on, as a script would, also in a transaction rolled back.  The
target: a pass at most 1.5x that create."""
import datetime as dt
import os
import statistics
import time

from bench import data

TITLE = "Automation rules: one scheduler pass"
MATCHES = 100
TARGET = 1.5
# What the baseline creates again of each activity the pass made
ACTIVITY_FIELDS = ['company', 'type', 'owner', 'subject', 'notes', 'due',
    'duration', 'opportunity', 'party']
IDLE_DAYS = 14
CLOSE_DAYS = 3


def _prepare(connection, now):
    """Fill last_activity as the module does for old rows, then put
    exactly MATCHES open opportunities in each rule's window"""
    window_end = now - dt.timedelta(days=IDLE_DAYS)
    window_start = window_end - dt.timedelta(minutes=50)
    today = now.date()
    connection.execute(
        "UPDATE sale_opportunity SET last_activity = create_date "
        "WHERE last_activity IS NULL")
    # Nobody else in the windows...
    connection.execute(
        "UPDATE sale_opportunity SET last_activity = last_activity "
        "- interval '2 hours' WHERE last_activity > %s - interval '2 hours' "
        "AND last_activity <= %s", (window_start, window_end))
    connection.execute(
        "UPDATE sale_opportunity SET expected_close_date = "
        "expected_close_date + 10 WHERE expected_close_date BETWEEN %s AND %s",
        (today, today + dt.timedelta(days=CLOSE_DAYS)))
    # ...but MATCHES open ones, spread over the owners.
    open_ids = [i for i, in connection.execute(
            "SELECT id FROM sale_opportunity WHERE state = ANY(%s) "
            "ORDER BY id LIMIT %s", (data.OPEN_STATES, 2 * MATCHES))]
    idle, closing = open_ids[:MATCHES], open_ids[MATCHES:]
    connection.execute(
        "UPDATE sale_opportunity SET last_activity = %s WHERE id = ANY(%s)",
        (window_start + dt.timedelta(minutes=20), idle))
    connection.execute(
        "UPDATE sale_opportunity SET expected_close_date = %s "
        "WHERE id = ANY(%s)", (today + dt.timedelta(days=1), closing))
    connection.execute("ANALYZE sale_opportunity")


def run(ctx):
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    now = dt.datetime.now().replace(microsecond=0)
    with data.connect(ctx.database) as connection:
        _prepare(connection, now)
    Pool(ctx.database).init()
    with Transaction().start(ctx.database, 0) as transaction:
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        ModelData = pool.get('ir.model.data')
        Field = pool.get('ir.model.field')
        Type = pool.get('crm.activity.type')
        idle = Rule(ModelData.get_id(
                'crm_kit_activity', 'rule_idle_opportunity'))
        close_date, = Field.search([
                ('model', '=', 'sale.opportunity'),
                ('name', '=', 'expected_close_date'),
                ])
        call = Type(ModelData.get_id('crm_kit_activity', 'activity_type_call'))
        closing, = Rule.create([{
                    'name': "Bench: closing in 3 days",
                    'model': 'sale.opportunity',
                    'trigger': 'date',
                    'field': close_date.id,
                    'days': CLOSE_DAYS,
                    'actions': [('create', [{
                                    'action': 'activity',
                                    'activity_type': call.id,
                                    'subject': "Close {rec_name}",
                                    'due_days': 0,
                                    'assignee': 'owner',
                                    }])],
                    }])
        last_run = now - dt.timedelta(hours=1)
        Rule.write([idle, closing], {'active': True, 'last_run': last_run})
        transaction.commit()
        rule_ids = [idle.id, closing.id]

    def one_pass():
        with Transaction().start(ctx.database, 0) as transaction:
            Rule = Pool().get('crm.automation.rule')
            Activity = Pool().get('crm.activity')
            rules = Rule.browse(rule_ids)
            start = time.perf_counter()
            found = sum(len(r.candidates(now)) for r in rules)
            selected = time.perf_counter() - start
            start = time.perf_counter()
            Rule.run_scheduled(rules, now=now)
            elapsed = time.perf_counter() - start
            activities = Activity.search([('create_date', '>=', now)])
            values = [{f: getattr(getattr(a, f), 'id', getattr(a, f))
                    for f in ACTIVITY_FIELDS} for a in activities]
            transaction.rollback()
        return elapsed, selected, found, len(values), values

    def one_create(values):
        "The baseline: the pass's activities created by the ORM, no rules"
        with Transaction().start(ctx.database, 0) as transaction:
            pool = Pool()
            Activity = pool.get('crm.activity')
            Rule = pool.get('crm.automation.rule')
            AlertRule = pool.get('crm.alert.rule')
            Rule.write(Rule.search([]), {'active': False})
            AlertRule.write(AlertRule.search([]), {'active': False})
            start = time.perf_counter()
            Activity.create([dict(v) for v in values])
            elapsed = time.perf_counter() - start
            transaction.rollback()
        return elapsed

    values = None
    for _ in range(ctx.warmup):
        values = one_pass()[4]
        one_create(values)
    passes, creates = [], []
    # Taking turns, as the machine's load moves.
    for _ in range(ctx.runs):
        passes.append(one_pass())
        creates.append(one_create(passes[-1][4]))
    if profile := os.environ.get('CRM_KIT_BENCH_PROFILE'):
        # One more pass under cProfile, its statistics in that file.
        import cProfile
        cProfile.runctx('one_pass()', globals(), locals(), profile)
        ctx.log(f"profile of a pass written to {profile}")
    found = {p[2] for p in passes}
    created = {p[3] for p in passes}
    if found != {2 * MATCHES} or created != {2 * MATCHES}:
        ctx.log(f"warning: expected {2 * MATCHES} records, found {found}, "
            f"activities created {created}")
    row = {
        'size': ctx.size,
        'pass_ms': statistics.median(p[0] for p in passes) * 1000,
        'select_ms': statistics.median(p[1] for p in passes) * 1000,
        'create_ms': statistics.median(creates) * 1000,
        'found': found.pop() if len(found) == 1 else min(found),
        }
    ctx.log(f"{ctx.size:>7} opportunities: pass {row['pass_ms']:.0f} ms "
        f"(selection {row['select_ms']:.1f} ms), {row['found']} records "
        f"acted on; the same activities created by the ORM "
        f"{row['create_ms']:.0f} ms, ratio "
        f"{row['pass_ms'] / row['create_ms']:.2f} (target <= {TARGET})")
    with Transaction().start(ctx.database, 0) as transaction:
        Rule = Pool().get('crm.automation.rule')
        Rule.write(Rule.browse(rule_ids[:1]), {'active': False})
        Rule.delete(Rule.browse(rule_ids[1:]))
        transaction.commit()
    return [row]


def tables(rows):
    rows = sorted(rows, key=lambda r: r['size'])
    smallest = rows[0]
    table = []
    for row in rows:
        ratio = row['pass_ms'] / row['create_ms']
        table.append([
                f"{row['size']:,}", f"{row['found']}",
                f"{row['select_ms']:.1f}", f"{row['pass_ms']:.0f}",
                f"{row['create_ms']:.0f}", f"{ratio:.2f}",
                "met" if ratio <= TARGET else "**missed**",
                f"{row['select_ms'] / smallest['select_ms']:.2f}",
                f"{row['pass_ms'] / smallest['pass_ms']:.2f}",
                ])
    return [
        ("One pass of two time-based rules, median (ms), against the same "
            "activities created by the ORM with no rules in the same run "
            f"(target <= {TARGET}x); growth against "
            f"{smallest['size']:,} opportunities",
            ["Opportunities", "Records acted on", "Selection (ms)",
                "Pass (ms)", "ORM create (ms)", "Pass / create",
                f"Target <= {TARGET}", "Selection growth", "Pass growth"],
            table),
        ]


def summary(rows):
    """What the table shows, in words: every figure is computed from the
    rows"""
    rows = sorted(rows, key=lambda r: r['size'])
    lines = []
    for row in rows:
        ratio = row['pass_ms'] / row['create_ms']
        lines.append(
            f"- At {row['size']:,} opportunities a pass acting on "
            f"{row['found']} records took {row['pass_ms']:.0f} ms, "
            f"{row['pass_ms'] / row['found']:.1f} ms per record, "
            f"{ratio:.2f} times the ORM's create of the same activities "
            f"({row['create_ms']:.0f} ms): target {TARGET}x "
            + ("met." if ratio <= TARGET else "**missed**."))
    if len(rows) > 1:
        smallest, largest = rows[0], rows[-1]
        lines.append(
            f"- From {smallest['size']:,} to {largest['size']:,} "
            f"opportunities the selection took "
            f"{largest['select_ms'] / smallest['select_ms']:.2f} times as "
            f"long and the pass "
            f"{largest['pass_ms'] / smallest['pass_ms']:.2f} times: a pass "
            "costs what it finds, not the size of the table.")
    return '\n'.join(lines)
