"""Reports: each CRM report at 1,000,000 opportunities, through the ORM
as sao reads it, against a hand-written SQL query computing the same
figures, in the same run.

    .venv/bin/python bench/run.py --only reports
    .venv/bin/python bench/reports.py --size 100000 --runs 3   # a quick look

It runs once, in a database of its own, crm_kit_bench_reports (or
$CRM_KIT_BENCH_DATABASE + '_reports'), cloned from the bench template and
grown to SIZE opportunities (start dates over the last three years, the
closed ones with their closing date, about 2.2 stage moves each), with
monthly targets for the four owners.  Each report is read as admin (CRM
Administrator: everything), bench_manager (the team Madrid) and bench_rep
(their own quarter) with ``search_read`` through the RPC layer, so the
record rules apply; the hand-written query filters the same rows with the
same conditions written directly and is run on one open connection.  The
figures of both are compared before timing.  The median of ctx.runs after
ctx.warmup is reported; the targets: under 1 s, at most 2x the SQL."""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.client import Client  # noqa: E402

TITLE = "Reports at 1,000,000 opportunities"
ONCE = True
SIZE = 1_000_000
USERS = ['admin', 'bench_manager', 'bench_rep']
OPEN = "('lead', 'opportunity', 'converted')"
QUALIFIED = "('opportunity', 'converted', 'won')"
OFFERED = "('converted', 'won')"


def database_name():
    return data.DB_NAME + '_reports'


def _targets(connection, users, year):
    "Monthly targets of the four owners over the three years"
    owners = [users[login] for login in data.OWNERS]
    connection.execute(
        "INSERT INTO crm_sales_target (company, \"user\", team, year, month,"
        " amount, deals, create_date, create_uid) "
        "SELECT c.id, u.id, (SELECT team FROM \"crm_team-res_user\" m "
            "WHERE m.\"user\" = u.id LIMIT 1), y, m::varchar, 250000, 40, "
            "localtimestamp, 0 "
        "FROM company_company c, res_user u, "
        "generate_series(%s::int, %s::int) y, generate_series(1, 12) m "
        "WHERE u.id = ANY(%s)",
        (year - 2, year, owners))


def prepare(name, size, log):
    data.clone_database(name, log=log)
    users = data.user_ids(name)
    data.grow_to(size, name=name, log=log)
    with data.connect(name) as connection:
        _targets(connection, users, dt.date.today().year)
        connection.execute("ANALYZE crm_sales_target")
    return users


# The hand-written queries: the same figures, the same rows.

def _visible(users, login):
    """The record rules of login on the opportunities and on the targets,
    written out"""
    user = users[login]
    if login == 'admin':
        return 'TRUE', 'TRUE', {}
    if login == 'bench_rep':
        return ('(o.owner = %(user)s OR o.create_uid = %(user)s)',
            't."user" = %(user)s', {'user': user})
    # bench_manager: also the members of the teams they manage, and those
    # teams
    return ('(o.owner = %(user)s OR o.create_uid = %(user)s '
        'OR o.owner = ANY(%(team_users)s) OR o.team = ANY(%(teams)s))',
        '(t."user" = ANY(%(team_users)s) OR t.team = ANY(%(teams)s))',
        {'user': user})


def _manager_scope(connection, users):
    teams = [t for t, in connection.execute(
            "SELECT id FROM crm_team WHERE manager = %s",
            (users['bench_manager'],))]
    members = {u for u, in connection.execute(
            "SELECT \"user\" FROM \"crm_team-res_user\" WHERE team = ANY(%s)",
            (teams,))} | {users['bench_manager']}
    return {'teams': teams, 'team_users': sorted(members)}


def sql_pipeline(where):
    return (
        "SELECT s.id, coalesce(o.n, 0), coalesce(o.amount, 0), "
        "coalesce(o.amount * s.probability, 0), "
        "coalesce((extract(epoch from localtimestamp) - o.entered) / 86400, "
            "0) "
        "FROM crm_stage s LEFT JOIN ("
            "SELECT stage, count(*) AS n, sum(amount) AS amount, "
            "avg(extract(epoch from stage_date)) AS entered "
            f"FROM sale_opportunity o WHERE state IN {OPEN} "
            f"AND company = %(company)s AND {where} GROUP BY stage) o "
            "ON o.stage = s.id "
        f"WHERE s.state IN {OPEN} AND (s.active OR o.n > 0) "
        "ORDER BY s.pipeline, s.sequence, s.id")


def sql_month(where, target_where):
    closed = (
        "SELECT date_trunc('month', end_date)::date AS m, "
        "count(*) FILTER (WHERE state = 'won') AS won, "
        "coalesce(sum(amount) FILTER (WHERE state = 'won'), 0) AS amount, "
        "count(*) FILTER (WHERE state = 'lost') AS lost, "
        "coalesce(sum(end_date - start_date) FILTER (WHERE state = 'won'), 0)"
        " AS days "
        "FROM sale_opportunity o WHERE company = %(company)s AND "
        f"{where} AND state IN ('won', 'lost') AND end_date >= %(before)s "
        "AND end_date < %(end)s GROUP BY 1")
    leads = (
        "SELECT date_trunc('month', start_date)::date AS m, count(*) AS n "
        f"FROM sale_opportunity o WHERE company = %(company)s AND {where} "
        "AND start_date >= %(before)s AND start_date < %(end)s GROUP BY 1")
    return (
        "WITH months AS (SELECT i, (%(start)s::date "
            "+ make_interval(months => i))::date AS m "
            "FROM generate_series(0, 11) i), "
        f"leads AS ({leads}), closed AS ({closed}), "
        "targets AS (SELECT make_date(year, month::int, 1) AS m, "
            "sum(amount) AS amount, sum(deals) AS deals "
            "FROM crm_sales_target t WHERE company = %(company)s "
            f"AND {target_where} GROUP BY 1), "
        "f AS (SELECT months.i, months.m, coalesce(l.n, 0) AS leads, "
            "coalesce(lp.n, 0) AS leads_previous, "
            "coalesce(c.won, 0) AS won, coalesce(cp.won, 0) AS won_previous, "
            "coalesce(c.lost, 0) AS lost, coalesce(c.amount, 0) AS amount, "
            "coalesce(cp.amount, 0) AS amount_previous, "
            "coalesce(c.days, 0) AS days, "
            "coalesce(t.amount, 0) AS target, coalesce(t.deals, 0) AS deals "
            "FROM months "
            "LEFT JOIN leads l ON l.m = months.m "
            "LEFT JOIN leads lp "
                "ON lp.m = (months.m - interval '1 year')::date "
            "LEFT JOIN closed c ON c.m = months.m "
            "LEFT JOIN closed cp "
                "ON cp.m = (months.m - interval '1 year')::date "
            "LEFT JOIN targets t ON t.m = months.m) "
        "SELECT m, leads, leads_previous, won, won_previous, lost, amount, "
        "amount_previous, "
        "(amount - amount_previous) * 100.0 / nullif(amount_previous, 0), "
        "sum(won) OVER w, sum(amount) OVER w, sum(amount_previous) OVER w, "
        "(sum(amount) OVER w - sum(amount_previous) OVER w) * 100.0 "
            "/ nullif(sum(amount_previous) OVER w, 0), "
        "won * 100.0 / nullif(won + lost, 0), amount / nullif(won, 0), "
        "days * 1.0 / nullif(won, 0), target, deals, "
        "amount * 100.0 / nullif(target, 0), sum(target) OVER w, "
        "sum(amount) OVER w * 100.0 / nullif(sum(target) OVER w, 0), "
        "sum(won) OVER w * 100.0 / nullif(sum(deals) OVER w, 0) "
        "FROM f WINDOW w AS (ORDER BY i) ORDER BY i")


def sql_rep(where):
    new = "(start_date >= %(start)s AND start_date < %(ytd_end)s)"
    before = "(start_date >= %(before)s AND start_date < %(ytd_before)s)"
    closed = "(end_date >= %(start)s AND end_date < %(ytd_end)s)"
    closed_before = "(end_date >= %(before)s AND end_date < %(ytd_before)s)"

    def reached(states):
        # How far the deals closed without a win went: furthest_state
        return (f"count(*) FILTER (WHERE {new} AND (state IN {states} "
            f"OR (state IN ('lost', 'cancelled') "
            f"AND furthest_state IN {states})))")
    return (
        "SELECT owner, count(*) FILTER (WHERE {new}) AS leads, "
        "{qualified} AS qualified, {offered} AS offered, "
        "count(*) FILTER (WHERE {new} AND state = 'won') AS new_won, "
        "count(*) FILTER (WHERE {closed} AND state = 'won') AS won, "
        "count(*) FILTER (WHERE {closed} AND state = 'lost') AS lost, "
        "coalesce(sum(amount) FILTER (WHERE {closed} AND state = 'won'), 0) "
            "AS amount, "
        "sum(end_date - start_date) FILTER (WHERE {closed} "
            "AND state = 'won') AS days, "
        "count(*) FILTER (WHERE {before}) AS leads_before, "
        "count(*) FILTER (WHERE {closed_before} AND state = 'won') "
            "AS won_before, "
        "coalesce(sum(amount) FILTER (WHERE {closed_before} "
            "AND state = 'won'), 0) AS amount_before "
        "FROM sale_opportunity o WHERE company = %(company)s AND {where} "
        "AND ((start_date >= %(before)s AND start_date < %(ytd_end)s) "
            "OR (end_date >= %(before)s AND end_date < %(ytd_end)s)) "
        "GROUP BY owner").format(
            new=new, before=before, closed=closed,
            closed_before=closed_before, qualified=reached(QUALIFIED),
            offered=reached(OFFERED), where=where)


def sql_stage_time(where):
    return (
        "WITH begun AS (SELECT l.to_stage AS stage, "
            "coalesce(l.left_date, localtimestamp) - l.date AS stay, "
            "l.left_date IS NOT NULL AS moved "
            "FROM crm_stage_log l JOIN sale_opportunity o "
                "ON o.id = l.opportunity "
            "WHERE l.date >= %(start)s AND l.date < %(ytd_end)s "
            f"AND o.company = %(company)s AND {where}) "
        "SELECT s.id, coalesce(b.n, 0), coalesce(b.moved, 0), b.days, "
        "b.days_moved "
        "FROM crm_stage s LEFT JOIN (SELECT stage, count(*) AS n, "
            "count(*) FILTER (WHERE moved) AS moved, "
            "extract(epoch from avg(stay)) / 86400 AS days, "
            "extract(epoch from avg(stay) FILTER (WHERE moved)) / 86400 "
            "AS days_moved FROM begun GROUP BY stage) b ON b.stage = s.id "
        "WHERE s.active OR b.n > 0 "
        "ORDER BY s.pipeline, s.sequence, s.id")


# report model, list fields, hand-written query, the figures compared
REPORTS = [
    ('crm.report.pipeline', "Pipeline by Stage",
        ['pipeline.rec_name', 'stage.rec_name', 'probability', 'count',
            'amount', 'weighted_amount', 'average_days_in_stage'],
        lambda where, target_where: sql_pipeline(where),
        lambda r: (r['count'], r['amount']), lambda s: (s[1], s[2])),
    ('crm.report.month', "Monthly Sales",
        ['month', 'leads', 'leads_previous', 'won', 'won_previous', 'lost',
            'won_amount', 'won_amount_previous', 'won_amount_change',
            'won_ytd', 'won_amount_ytd', 'won_amount_ytd_previous',
            'won_amount_ytd_change', 'win_rate', 'average_deal',
            'average_cycle', 'target_amount', 'target_deals', 'attainment',
            'target_amount_ytd', 'attainment_ytd', 'deals_attainment_ytd'],
        sql_month,
        lambda r: (r['leads'], r['won'], r['won_amount'], r['target_amount']),
        lambda s: (s[1], s[3], s[6], s[16])),
    ('crm.report.rep', "Sales by Rep",
        ['dimension.rec_name', 'leads', 'qualified', 'offered',
            'lead_to_opportunity', 'opportunity_to_offer', 'offer_to_won',
            'won', 'lost', 'won_amount', 'win_rate', 'average_deal',
            'average_cycle', 'leads_previous', 'won_previous',
            'won_amount_previous', 'won_amount_change'],
        lambda where, target_where: sql_rep(where),
        lambda r: (r['leads'], r['qualified'], r['won'], r['won_amount']),
        lambda s: (s[1], s[2], s[5], s[7])),
    ('crm.report.stage_time', "Time in Stage",
        ['pipeline.rec_name', 'stage.rec_name', 'entries', 'left',
            'average_days', 'average_days_left'],
        lambda where, target_where: sql_stage_time(where),
        lambda r: (r['entries'], r['left']), lambda s: (s[1], s[2])),
    ]


def _key(values):
    return tuple(Decimal(str(v)).quantize(Decimal('0.01'))
        if isinstance(v, (Decimal, float)) else v for v in values)


def _median_ms(times):
    return statistics.median(times) * 1000


def run(ctx, size=SIZE, reuse=False, only=None):
    log = ctx.log
    name = database_name()
    if reuse:
        users = data.user_ids(name)
    else:
        users = prepare(name, size, log)
    clients = {login: Client(name, users[login], login) for login in USERS}
    company = clients['admin'].context['company']
    today = dt.date.today()
    start = dt.date(today.year, 1, 1)
    before = dt.date(today.year - 1, 1, 1)
    params = {
        'company': company, 'start': start, 'before': before,
        'end': dt.date(today.year + 1, 1, 1),
        'ytd_end': today + dt.timedelta(days=1),
        'ytd_before': today.replace(year=today.year - 1)
        + dt.timedelta(days=1),
        }
    results = []
    with data.connect(name) as connection:
        # As crm-kit runs its report queries: JIT compiling costs more
        # than these queries take.
        connection.execute("SET jit = off")
        params.update(_manager_scope(connection, users))
        for model, title, fields, query, orm_key, sql_key in REPORTS:
            if only and model not in only:
                continue
            for login in USERS:
                where, target_where, extra = _visible(users, login)
                sql = query(where, target_where)
                args = dict(params, **extra)
                client = clients[login]
                context = dict(client.context, date=today, period='ytd')

                def orm():
                    return client.call(model, 'search_read', [], 0, None,
                        None, fields, context=context)

                def hand():
                    return connection.execute(sql, args).fetchall()
                # The same figures, or the comparison means nothing.
                orm_rows = sorted(_key(orm_key(r)) for r in orm())
                sql_rows = sorted(_key(sql_key(r)) for r in hand())
                if orm_rows != sql_rows:
                    raise AssertionError(
                        f"{model} as {login}: the ORM gives {orm_rows}, "
                        f"the SQL {sql_rows}")
                times = {'orm': [], 'sql': []}
                for i in range(ctx.warmup + ctx.runs):
                    for kind, call in [('orm', orm), ('sql', hand)]:
                        begin = time.perf_counter()
                        call()
                        if i >= ctx.warmup:
                            times[kind].append(time.perf_counter() - begin)
                row = {
                    'report': title, 'user': login, 'size': size,
                    'rows': len(orm_rows),
                    'orm_ms': _median_ms(times['orm']),
                    'sql_ms': _median_ms(times['sql']),
                    }
                log(f"{title} as {login}: {row['orm_ms']:.0f} ms, SQL "
                    f"{row['sql_ms']:.0f} ms, "
                    f"ratio {row['orm_ms'] / row['sql_ms']:.2f}")
                results.append(row)
    return results


def tables(rows):
    table = [[
            r['report'], r['user'], f"{r['size']:,}", f"{r['rows']}",
            f"{r['orm_ms']:.0f}", f"{r['sql_ms']:.0f}",
            f"{r['orm_ms'] / r['sql_ms']:.2f}",
            "yes" if r['orm_ms'] < 1000
            and r['orm_ms'] <= 2 * r['sql_ms'] else "NO"]
        for r in rows]
    return [
        ("Each report read as sao reads it (search_read through the RPC "
            "layer, record rules applied) against a hand-written SQL query "
            "of the same figures, median (ms); target under 1 s and at "
            "most 2x the SQL",
            ["Report", "User", "Opportunities", "Rows", "crm-kit (ms)",
                "SQL (ms)", "Ratio", "Target met"],
            table),
        ]


def main(argv=None):
    from types import SimpleNamespace
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=SIZE)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reuse', action='store_true',
        help="time the database of an earlier run as it is (for trying "
        "out a change of the queries; the figures of SIZE are not checked)")
    parser.add_argument('--only', action='append', metavar='MODEL',
        help="time only this report model (repeatable)")
    args = parser.parse_args(argv)
    data.configure()
    ctx = SimpleNamespace(runs=args.runs, warmup=args.warmup,
        log=lambda m: print(m, flush=True))
    rows = run(ctx, size=args.size, reuse=args.reuse, only=args.only)
    for caption, header, table in tables(rows):
        print(caption)
        for line in [header] + table:
            print(' | '.join(line))


if __name__ == '__main__':
    os.environ.setdefault('TRYTOND_DATABASE__URI', data.DEFAULT_URI)
    main()
