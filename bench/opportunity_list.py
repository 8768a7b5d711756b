"""Opening the Opportunities list as sao does, as a rep and as admin.

One "list open" is the sequence of RPC calls sao's Screen.search_filter
makes when the CRM > Opportunities tab shows its first page
(sao/src/screen.js):

1. ``search(domain, 0, 80, order)``: domain is ``['AND', <search text
   domain>, <tab domain>]`` (the "Open" tab: state in lead, opportunity,
   converted), order is the action's (pipeline, stage, start_date DESC,
   id DESC);
2. ``search_count(domain, 0, 8000)`` when the page is full, for the
   "1-80 of N" paging (count limit = 100 x the page size);
3. ``read(ids, fields)`` of the list view's fields, with ``.rec_name`` of
   the many2one fields, ``state:string``, ``rec_name``, ``_timestamp``,
   ``_write`` and ``_delete`` as sao's Record.load asks for them; then,
   when the view shows lazy fields (function fields: the customer flag,
   the alerts), a second ``read`` of those, as sao's Record.load does when
   their cells are drawn (both reads are counted as "read");
4. ``search_count(['AND', <tab domain>, <search text domain>], 0, 1000)``
   for the counter of the "Open" tab (the only tab with count set).

The action, its order, its tab domains and its list view are read from the
database, not copied here.  Each call runs in its own transaction through
bench.client, with the user's preferences as context, so access rights and
record rules apply exactly as over RPC.  Times are the median of warm
runs.  The raw SQL lower bound is the same page and count written by hand
(one connection, no ORM): what the database itself needs.

tables() gives each case's ratio to that lower bound and its growth from
the smallest size to the largest, against the targets of issue 23
(TARGET_RATIO, TARGET_GROWTH); summary() writes the figures that the prose
of docs/performance.md gives, from the same rows, so that they cannot
drift from the tables.
"""
import statistics
import time

from . import data
from .client import Client, capture_sql

TITLE = "Opportunity list (as sao opens it)"
PAGE = 80
COUNT_LIMIT = PAGE * 100
TAB_COUNT_LIMIT = 1000
REP = 'bench_rep'
ADMIN = 'admin'
# Issue 23: every case at most 2.5x its SQL lower bound at the largest
# size, and at most 2x slower at the largest size than at the smallest.
TARGET_RATIO = 2.5
TARGET_GROWTH = 2.0
# Each measured round of a scenario waits (QUIET_WAIT seconds at most)
# until the machine uses less than QUIET_CORES: on 2 cores, other work (a
# test suite, a browser) doubled some times of a run made while it ran.
QUIET_CORES = 0.3
QUIET_WAIT = 120

# (key, label, search text domain as sao's domain parser builds it)
SCENARIOS = [
    ('open', 'Open tab', []),
    ('party', 'Open tab, search "Party: Gómez"',
        [('party.rec_name', 'ilike', '%Gómez%')]),
    ('number', 'Open tab, search "123"',
        [('rec_name', 'ilike', '%123%')]),
    ]
CALLS = ['search', 'count', 'read', 'tab count']


class ListScreen:
    "The Opportunities action as sao loads it for a user"

    def __init__(self, client):
        from trytond.pool import Pool
        from trytond.pyson import PYSONDecoder
        from trytond.transaction import Transaction
        self.client = client
        context = client.context
        # What sao gets with the action (once, not timed)
        with Transaction().start(client.database, 0, readonly=True):
            pool = Pool()
            ModelData = pool.get('ir.model.data')
            ActWindow = pool.get('ir.action.act_window')
            action = ActWindow(
                ModelData.get_id('crm_kit', 'act_opportunity_form'))
            order, domains = action.pyson_order, action.domains
            view_id = min(action.act_window_views,
                key=lambda v: v.sequence).view.id
        decoder = PYSONDecoder({**context, '_user': client.user_id})
        self.order = decoder.decode(order)
        # sao's ScreenContainer: the tabs, the first one selected
        self.tabs = [(name, decoder.decode(domain), count)
            for name, domain, count in domains]
        self.tab_domain = self.tabs[0][1]
        view = client.call(
            'sale.opportunity', 'fields_view_get', view_id, 'tree')
        assert view['type'] == 'tree'
        self.fields = self._fields_to_read(view['fields'])
        self.lazy_fields = self._fields_to_read(view['fields'], 'lazy')

    @staticmethod
    def _fields_to_read(descriptions, loading='eager'):
        "The field names sao's Record.load reads for a list view"
        names = []
        for name, description in descriptions.items():
            if description.get('loading', 'eager') != loading:
                continue
            names.append(name)
            if description['type'] in {'many2one', 'one2one', 'reference'}:
                names.append(f'{name}.rec_name')
            elif (description['type'] in {'selection', 'multiselection'}
                    and description.get('loading', 'lazy') == 'eager'):
                names.append(f'{name}:string')
        if loading == 'lazy':
            return names
        if 'rec_name' not in names:
            names.append('rec_name')
        return names + ['_timestamp', '_write', '_delete']

    def open(self, text_domain):
        "Show the first page; return (ids, count, tab count, call times)"
        client = self.client
        times = dict.fromkeys(CALLS, 0.0)
        domain = ['AND', text_domain, self.tab_domain]
        ids, times['search'] = client.timed(
            'sale.opportunity', 'search', domain, 0, PAGE, self.order)
        count = len(ids)
        if len(ids) == PAGE:
            count, times['count'] = client.timed(
                'sale.opportunity', 'search_count', domain, 0, COUNT_LIMIT)
        rows, times['read'] = client.timed(
            'sale.opportunity', 'read', ids, self.fields)
        assert len(rows) == len(ids)
        if self.lazy_fields:
            rows, seconds = client.timed(
                'sale.opportunity', 'read', ids, self.lazy_fields)
            times['read'] += seconds
        tab_count, times['tab count'] = client.timed(
            'sale.opportunity', 'search_count',
            ['AND', self.tab_domain, text_domain], 0, TAB_COUNT_LIMIT)
        return ids, count, tab_count, times


# The lower bound: the same page and count in plain SQL; the page is
# sorted on the opportunity's stored stage order (the action's order,
# served by its index), the names shown are joined to its 80 rows only.  The
# text conditions are written so that PostgreSQL can use the indexes
# trytond declares for searches by name (trigram indexes with pg_trgm):
# on COALESCE(column, ''), the expression of those indexes for a column
# that may be empty, and for the party as a subquery on party_party (a
# condition on the joined party is evaluated after the join, over every
# open opportunity).  Written on the bare columns, the bound could not use
# them and took longer than the ORM it is meant to bound.  It searches the
# party's name only, where the ORM also searches the party's code,
# identifiers and contact mechanisms.
SQL_PAGE = """
WITH page AS (
    SELECT o.id, o.stage_order, o.stage, o.start_date
    FROM sale_opportunity o
    WHERE {where}
    ORDER BY o.stage_order, o.start_date DESC, o.id DESC
    LIMIT {limit})
SELECT o.id, o.number, o.reference, o.start_date, o.end_date,
    o.description, o.amount, cur.code, o.state, o.conversion_probability,
    o.expected_close_date, o.write_date, o.create_date,
    cp.name AS company, ep.name AS employee, p.name AS party,
    st.name AS stage, u.name AS owner, ch.name AS channel
FROM page
JOIN sale_opportunity o ON o.id = page.id
JOIN crm_stage st ON st.id = page.stage
JOIN company_company co ON co.id = o.company
JOIN party_party cp ON cp.id = co.party
JOIN currency_currency cur ON cur.id = o.currency
LEFT JOIN party_party p ON p.id = o.party
LEFT JOIN company_employee e ON e.id = o.employee
LEFT JOIN party_party ep ON ep.id = e.party
LEFT JOIN res_user u ON u.id = o.owner
LEFT JOIN crm_channel ch ON ch.id = o.channel
ORDER BY page.stage_order, page.start_date DESC, page.id DESC
"""
SQL_COUNT = """
SELECT count(*) FROM (
    SELECT 1 FROM sale_opportunity o
    LEFT JOIN party_party p ON p.id = o.party
    WHERE {where} LIMIT {limit}) AS a
"""


def _sql_where(scenario, owner):
    where = ["o.state IN ('lead', 'opportunity', 'converted')",
        "o.company = %(company)s"]
    if owner:
        where.append("o.owner = %(owner)s")
    if scenario == 'party':
        where.append("o.party IN (SELECT id FROM party_party "
            "WHERE COALESCE(name, '') ILIKE %(text)s)")
    elif scenario == 'number':
        where.append("(o.number ILIKE %(text)s "
            "OR COALESCE(o.reference, '') ILIKE %(text)s)")
    return ' AND '.join(where)


def sql_lower_bound(connection, scenario, text_domain, owner, company):
    "Run the hand-written page (and count); return (ids, seconds)"
    params = {'company': company, 'owner': owner,
        'text': text_domain[0][2] if text_domain else None}
    where = _sql_where(scenario, owner)
    start = time.perf_counter()
    rows = connection.execute(
        SQL_PAGE.format(where=where, limit=PAGE), params).fetchall()
    if len(rows) == PAGE:
        connection.execute(
            SQL_COUNT.format(where=where, limit=COUNT_LIMIT), params
            ).fetchone()
    return [r[0] for r in rows], time.perf_counter() - start


def _median_ms(values):
    return statistics.median(values) * 1000


def measure(cases, runs, warmup, before_round=None):
    """Run every case warmup + runs times, the cases taking turns so that
    a change of the machine's load hits them alike; return for each case
    its last result and the median times (ms).

    A case is a function returning (result, {call: seconds});
    before_round(i), when given, is called before each round."""
    samples = [[] for _ in cases]
    last = [None] * len(cases)
    for i in range(warmup + runs):
        if before_round is not None:
            before_round(i)
        for case, sample, index in zip(cases, samples, range(len(cases))):
            start = time.perf_counter()
            last[index], times = case()
            times = {'total': time.perf_counter() - start, **times}
            if i >= warmup:
                sample.append(times)
    return [
        (result, {k: _median_ms([t[k] for t in sample]) for k in sample[0]})
        for result, sample in zip(last, samples)]


class QuietWaiter:
    """Before each measured round, wait until the machine is quiet; keep
    the cores it used just before each round"""

    def __init__(self, warmup, log):
        self.warmup = warmup
        self.log = log
        self.busy = []

    def __call__(self, i):
        from .server import machine_busy
        if i < self.warmup:
            return
        deadline = time.monotonic() + QUIET_WAIT
        busy = machine_busy(0.5)
        if busy >= QUIET_CORES:
            self.log(f"  the machine uses {busy:.2f} cores: waiting up to "
                f"{QUIET_WAIT} s for less than {QUIET_CORES}")
        while busy >= QUIET_CORES and time.monotonic() < deadline:
            busy = machine_busy(0.5)
        self.busy.append(busy)


def explain(screen, text_domain, connection, log=print):
    """Print EXPLAIN ANALYZE of the SQL on sale_opportunity that one list
    open sends (run after the timings: it does not change them)"""
    with capture_sql() as queries:
        screen.open(text_domain)
    for query in queries:
        if ('FROM "sale_opportunity"' not in query
                or not query.lstrip().upper().startswith('SELECT')):
            continue
        plan = connection.execute(
            'EXPLAIN (ANALYZE, BUFFERS) ' + query).fetchall()
        log(f"--- {query[:300]}{'...' if len(query) > 300 else ''}")
        for line, in plan:
            log('    ' + line)


def _list_case(screen, text_domain):
    def case():
        ids, count, tab_count, times = screen.open(text_domain)
        return {'ids': ids, 'count': count, 'tab_count': tab_count}, times
    return case


def _sql_case(connection, scenario, text_domain, owner, company):
    def case():
        ids, _ = sql_lower_bound(
            connection, scenario, text_domain, owner, company)
        return ids, {}
    return case


def run(ctx):
    """Measure every scenario as admin and as the rep at ctx.size rows;
    return one result row per scenario"""
    log = ctx.log
    users = ctx.users
    screens = {login: ListScreen(Client(ctx.database, users[login], login))
        for login in (ADMIN, REP)}
    company = screens[ADMIN].client.context['company']
    results = []
    with data.connect(ctx.database) as connection:
        visible = connection.execute(
            "SELECT count(*) FROM sale_opportunity WHERE owner = %s",
            (users[REP],)).fetchone()[0]
        for key, label, text_domain in SCENARIOS:
            row = {'scenario': label, 'size': ctx.size,
                'rep_share': visible / ctx.size}
            cases = []
            for login in (ADMIN, REP):
                owner = users[REP] if login == REP else None
                cases.append(_list_case(screens[login], text_domain))
                cases.append(_sql_case(
                        connection, key, text_domain, owner, company))
            waiter = QuietWaiter(ctx.warmup, log)
            (admin, admin_times, admin_sql, admin_sql_times,
                rep, rep_times, rep_sql, rep_sql_times) = [
                x for pair in measure(cases, ctx.runs, ctx.warmup, waiter)
                for x in pair]
            row['busy'] = waiter.busy
            for login, result, times, sql_ids, sql_times in [
                    (ADMIN, admin, admin_times, admin_sql, admin_sql_times),
                    (REP, rep, rep_times, rep_sql, rep_sql_times)]:
                if sql_ids != result['ids']:
                    log(f"warning: the SQL lower bound of {label!r} as "
                        f"{login} does not return the ORM's page")
                row[login] = {**result, 'total': times['total'],
                    'calls': {c: times[c] for c in CALLS}}
                row[f'sql_{login}'] = sql_times['total']
            row['ratio'] = row[REP]['total'] / row[ADMIN]['total']
            log(_describe(row))
            if ctx.explain or row['ratio'] > 2:
                if not ctx.explain:
                    log(f"rep/admin = {row['ratio']:.1f} > 2: the plans")
                for login in (ADMIN, REP):
                    log(f"=== EXPLAIN ANALYZE, {label}, as {login}")
                    explain(screens[login], text_domain, connection, log)
            results.append(row)
    return results


def _describe(row):
    parts = [f"{row['size']:>7} rows  {row['scenario']:<34}"]
    for login in (ADMIN, REP):
        result = row[login]
        calls = ' '.join(
            f"{c.split()[0]} {result['calls'][c]:.0f}" for c in CALLS)
        parts.append(
            f"{login}: {result['total']:6.0f} ms ({calls}; "
            f"{result['tab_count']} in tab)")
    parts.append(f"rep/admin {row['ratio']:.2f}")
    return '  '.join(parts)


def _cases(rows):
    """(row, login, crm-kit ms, SQL ms) of every measured case, in the
    order of the rows"""
    return [(row, login, row[login]['total'], row[f'sql_{login}'])
        for row in rows for login in (ADMIN, REP)]


def _growth(rows):
    """{(scenario, login): (smallest row, largest row)} when more than
    one size was measured"""
    sizes = sorted({row['size'] for row in rows})
    if len(sizes) < 2:
        return {}
    by_size = {(row['scenario'], row['size']): row for row in rows}
    return {(scenario, login): (by_size[scenario, sizes[0]],
            by_size[scenario, sizes[-1]])
        for scenario in dict.fromkeys(row['scenario'] for row in rows)
        if (scenario, sizes[0]) in by_size
        and (scenario, sizes[-1]) in by_size
        for login in (ADMIN, REP)}


def _met(value, target):
    return 'met' if value <= target else '**missed**'


def _user(login):
    return 'rep' if login == REP else login


def tables(rows):
    "The result tables for docs/performance.md: (caption, header, rows)"
    largest = max(row['size'] for row in rows)
    main = []
    detail = []
    for row in rows:
        admin, rep = row[ADMIN], row[REP]
        sql_admin, sql_rep = row[f'sql_{ADMIN}'], row[f'sql_{REP}']
        main.append([
                row['scenario'], f"{row['size']:,}",
                f"{admin['tab_count']:,}", f"{rep['tab_count']:,}",
                f"{admin['total']:.0f}", f"{sql_admin:.1f}",
                f"{admin['total'] / sql_admin:.2f}",
                f"{rep['total']:.0f}", f"{sql_rep:.1f}",
                f"{rep['total'] / sql_rep:.2f}",
                f"{row['ratio']:.2f}",
                ])
        for login, result in ((ADMIN, admin), (REP, rep)):
            detail.append([
                    row['scenario'], f"{row['size']:,}", _user(login),
                    *(f"{result['calls'][c]:.1f}" for c in CALLS),
                    f"{result['total']:.1f}",
                    ])
    result = [
        ("Median time to show the first page (ms), and crm-kit's time over "
            "the hand-written SQL's",
            ["Scenario", "Opportunities", "Tab count admin",
                "Tab count rep", "admin (ms)", "SQL admin (ms)",
                "admin / SQL", "rep (ms)", "SQL rep (ms)", "rep / SQL",
                "rep / admin"],
            main),
        ]
    targets = []
    growth = _growth(rows)
    for row, login, ms, sql_ms in _cases(rows):
        if row['size'] != largest:
            continue
        line = [row['scenario'], _user(login), f"{ms:.0f}",
            f"{sql_ms:.1f}", f"{ms / sql_ms:.2f}",
            _met(ms / sql_ms, TARGET_RATIO)]
        if growth:
            small, large = growth[row['scenario'], login]
            crm = large[login]['total'] / small[login]['total']
            sql = large[f'sql_{login}'] / small[f'sql_{login}']
            line += [f"{small[login]['total']:.0f}", f"{crm:.2f}",
                f"{sql:.2f}", _met(crm, TARGET_GROWTH),
                f"{len(small[login]['ids'])} / {len(large[login]['ids'])}"]
        targets.append(line)
    header = ["Scenario", "User", f"crm-kit at {largest:,} (ms)",
        "SQL (ms)", "crm-kit / SQL", f"Target <= {TARGET_RATIO:g}"]
    caption = (f"The targets of issue 23 at {largest:,} opportunities: "
        f"crm-kit at most {TARGET_RATIO:g}x the SQL lower bound")
    if growth:
        smallest = min(row['size'] for row in rows)
        header += [f"crm-kit at {smallest:,} (ms)",
            f"Growth {largest:,} / {smallest:,}", "SQL growth",
            f"Target <= {TARGET_GROWTH:g}",
            f"Rows on the page at {smallest:,} / {largest:,}"]
        caption += (f", and at most {TARGET_GROWTH:g}x its time at "
            f"{smallest:,}")
    result.append((caption, header, targets))
    result.append((
            "Per RPC call (median ms)",
            ["Scenario", "Opportunities", "User", *CALLS, "total"],
            detail))
    return result


def _span(values, fmt='{:.0f}'):
    "'a' or 'a-b' of values"
    low, high = min(values), max(values)
    if fmt.format(low) == fmt.format(high):
        return fmt.format(low)
    return f"{fmt.format(low)}-{fmt.format(high)}"


def _names(cases):
    return '; '.join(
        f"{row['scenario']} as {_user(login)} ({value:.2f})"
        for row, login, value in cases)


def _rows(n):
    return f"{n} row" if n == 1 else f"{n} rows"


def _grown_names(cases):
    "_names of (small row, large row, login, growth), with the page rows"
    names = []
    for small, large, login, value in cases:
        rows = len(small[login]['ids']), len(large[login]['ids'])
        page = (f"; {_rows(rows[0])} on the page, then {rows[1]}"
            if rows[0] != rows[1] else "")
        names.append(f"{large['scenario']} as {_user(login)} "
            f"({value:.2f}{page})")
    return '; '.join(names)


def summary(rows):
    """What the tables show, in words: every figure is computed from the
    rows the tables are made of"""
    sizes = sorted({row['size'] for row in rows})
    largest = sizes[-1]
    at_largest = [c for c in _cases(rows) if c[0]['size'] == largest]
    lines = []
    ratios = [(row, login, ms / sql_ms) for row, login, ms, sql_ms
        in at_largest]
    missed = [c for c in ratios if c[2] > TARGET_RATIO]
    text = (f"At {largest:,} opportunities crm-kit took "
        f"{_span([c[2] for c in ratios], '{:.2f}')} times the hand-written "
        f"SQL; {len(ratios) - len(missed)} of the {len(ratios)} cases are "
        f"within {TARGET_RATIO:g}x")
    text += f"; missed: {_names(missed)}." if missed else "."
    overhead = [ms - sql_ms for row, login, ms, sql_ms in at_largest]
    text += (f"  crm-kit's time less the SQL's was "
        f"{_span(overhead)} ms per list open")
    if len(sizes) > 1:
        smallest_overhead = [ms - sql_ms for row, login, ms, sql_ms
            in _cases(rows) if row['size'] == sizes[0]]
        text += (f" (at {sizes[0]:,}: {_span(smallest_overhead)} ms)")
    lines.append(f"- {text}.")
    growth = _growth(rows)
    if growth:
        grown = [(small, large, login,
                large[login]['total'] / small[login]['total'])
            for (scenario, login), (small, large) in growth.items()]
        sql_grown = [large[f'sql_{login}'] / small[f'sql_{login}']
            for (scenario, login), (small, large) in growth.items()]
        missed = [c for c in grown if c[3] > TARGET_GROWTH]
        text = (f"From {sizes[0]:,} to {largest:,} opportunities "
            f"crm-kit's times grew {_span([c[3] for c in grown], '{:.2f}')}"
            f" times (the SQL's {_span(sql_grown, '{:.2f}')}); "
            f"{len(grown) - len(missed)} of the {len(grown)} cases are "
            f"within {TARGET_GROWTH:g}x")
        text += f"; missed: {_grown_names(missed)}." if missed else "."
        lines.append(f"- {text}")
    for size in sizes:
        cases = [c for c in _cases(rows) if c[0]['size'] == size]
        reads = [row[login]['calls']['read'] for row, login, _, _ in cases]
        searches = {(row['scenario'], login): row[login]['calls']['search']
            for row, login, _, _ in cases}
        largest_part = sum(
            1 for row, login, _, _ in cases
            if max(CALLS, key=lambda c: row[login]['calls'][c]) == 'read')
        open_tab = rows[0]['scenario']
        lines.append(
            f"- At {size:,} opportunities the read of the page's rows "
            f"({PAGE} at most; two calls) took {_span(reads)} ms and was "
            f"the longest call "
            f"in {largest_part} of the {len(cases)} cases; the search call "
            f"of the {open_tab} without a search text took "
            f"{searches[open_tab, ADMIN]:.0f} ms as admin and "
            f"{searches[open_tab, REP]:.0f} ms as the rep.")
    rep_admin = [row['ratio'] for row in rows]
    lines.append(
        f"- The rep's list open took {_span(rep_admin, '{:.2f}')} times "
        f"admin's (rep/admin) in this run.")
    busy = [b for row in rows for b in row.get('busy', [])]
    if busy:
        noisy = sum(1 for b in busy if b >= QUIET_CORES)
        lines.append(
            f"- Before each of the {len(busy)} measured rounds the machine "
            f"used {_span(busy, '{:.2f}')} cores (the bench waits for less "
            f"than {QUIET_CORES:g}, {QUIET_WAIT} s at most); "
            f"{noisy} rounds started above that.")
    return "What the tables show:\n\n" + '\n'.join(lines)
