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
# sorted on the opportunity with its pipeline and stage sequences (the
# action's order), the names shown are joined to its 80 rows only.  The
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
    SELECT o.id, pl.sequence AS pipeline_sequence,
        st.sequence AS stage_sequence, st.name AS stage_name, o.start_date
    FROM sale_opportunity o
    JOIN crm_pipeline pl ON pl.id = o.pipeline
    JOIN crm_stage st ON st.id = o.stage
    LEFT JOIN party_party p ON p.id = o.party
    WHERE {where}
    ORDER BY pl.sequence, st.sequence, o.start_date DESC, o.id DESC
    LIMIT {limit})
SELECT o.id, o.number, o.reference, o.start_date, o.end_date,
    o.description, o.amount, cur.code, o.state, o.conversion_probability,
    o.expected_close_date, o.write_date, o.create_date,
    cp.name AS company, ep.name AS employee, p.name AS party,
    page.stage_name AS stage, u.name AS owner, ch.name AS channel
FROM page
JOIN sale_opportunity o ON o.id = page.id
JOIN company_company co ON co.id = o.company
JOIN party_party cp ON cp.id = co.party
JOIN currency_currency cur ON cur.id = o.currency
LEFT JOIN party_party p ON p.id = o.party
LEFT JOIN company_employee e ON e.id = o.employee
LEFT JOIN party_party ep ON ep.id = e.party
LEFT JOIN res_user u ON u.id = o.owner
LEFT JOIN crm_channel ch ON ch.id = o.channel
ORDER BY page.pipeline_sequence, page.stage_sequence,
    page.start_date DESC, page.id DESC
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


def measure(cases, runs, warmup):
    """Run every case warmup + runs times, the cases taking turns so that
    a change of the machine's load hits them alike; return for each case
    its last result and the median times (ms).

    A case is a function returning (result, {call: seconds})."""
    samples = [[] for _ in cases]
    last = [None] * len(cases)
    for i in range(warmup + runs):
        for case, sample, index in zip(cases, samples, range(len(cases))):
            start = time.perf_counter()
            last[index], times = case()
            times = {'total': time.perf_counter() - start, **times}
            if i >= warmup:
                sample.append(times)
    return [
        (result, {k: _median_ms([t[k] for t in sample]) for k in sample[0]})
        for result, sample in zip(last, samples)]


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
            (admin, admin_times, admin_sql, admin_sql_times,
                rep, rep_times, rep_sql, rep_sql_times) = [
                x for pair in measure(cases, ctx.runs, ctx.warmup)
                for x in pair]
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


def tables(rows):
    "The result tables for docs/performance.md: (caption, header, rows)"
    main = []
    detail = []
    for row in rows:
        admin, rep = row[ADMIN], row[REP]
        main.append([
                row['scenario'], f"{row['size']:,}",
                f"{admin['tab_count']:,}", f"{rep['tab_count']:,}",
                f"{admin['total']:.0f}", f"{rep['total']:.0f}",
                f"{row['ratio']:.2f}",
                f"{row[f'sql_{ADMIN}']:.1f}", f"{row[f'sql_{REP}']:.1f}",
                ])
        for login, result in ((ADMIN, admin), ('rep', rep)):
            detail.append([
                    row['scenario'], f"{row['size']:,}", login,
                    *(f"{result['calls'][c]:.1f}" for c in CALLS),
                    f"{result['total']:.1f}",
                    ])
    return [
        ("Median time to show the first page (ms)",
            ["Scenario", "Opportunities", "Tab count admin",
                "Tab count rep", "admin (ms)", "rep (ms)", "rep/admin",
                "SQL admin (ms)", "SQL rep (ms)"],
            main),
        ("Per RPC call (median ms)",
            ["Scenario", "Opportunities", "User", *CALLS, "total"],
            detail),
        ]
