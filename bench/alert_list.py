"""The Opportunities list with and without its alert column.

    .venv/bin/python bench/run.py --only alert_list --sizes 10000,100000

The list view shows, for each row, the icon and the number of the active
alerts the user has not dismissed, and colours the row by the worst one
(crm_alert_icon, crm_alert_count, crm_alert_severity: sub-selects on the
crm_alert table in the list's own query).  Before measuring, one open
opportunity in ALERT_SHARE gets an active alert of the shipped "stuck in a
stage" rule, and one in DISMISSED_SHARE of those is acknowledged by the
user, so that the sub-selects have rows to find and to skip.

Each case opens the list as sao does (bench.opportunity_list.ListScreen:
search, count, read of the view's fields, eager then lazy, tab count) as
admin and as the rep; the "without" case reads the same fields less the
three alert columns (the customer flag columns stay in both).  The cases take turns in the same process; the ratio with /
without is the cost of the column (target: at most 1.5)."""
import datetime as dt

from bench import data
from bench.client import Client
from bench.opportunity_list import (
    ADMIN, REP, ListScreen, _list_case, measure)

TITLE = "Opportunity list: the alert column"
ALERT_SHARE = 10
DISMISSED_SHARE = 4
COLUMNS = {'crm_alert_icon', 'crm_alert_count', 'crm_alert_severity'}


def _prepare(connection, users):
    "Active alerts on one open opportunity in ALERT_SHARE"
    now = dt.datetime.now().replace(microsecond=0)
    connection.execute("DELETE FROM crm_alert")
    rule, = connection.execute(
        "SELECT db_id FROM ir_model_data WHERE module = 'crm_kit_alert' "
        "AND fs_id = 'rule_stuck_in_stage'").fetchone()
    connection.execute(
        "INSERT INTO crm_alert (rule, record_model, record_id, party, "
        "start, state, create_uid, create_date) "
        "SELECT %s, 'sale.opportunity', id, party, %s, 'active', 0, %s "
        "FROM sale_opportunity WHERE state = ANY(%s) AND id %% %s = 0",
        (rule, now, now, data.OPEN_STATES, ALERT_SHARE))
    for login in (ADMIN, REP):
        connection.execute(
            "INSERT INTO crm_alert_dismissal (alert, \"user\", "
            "brought_back, create_uid, create_date) "
            "SELECT id, %s, false, 0, %s FROM crm_alert "
            "WHERE record_id %% %s = 0",
            (users[login], now, ALERT_SHARE * DISMISSED_SHARE))
    alerts, = connection.execute(
        "SELECT count(*) FROM crm_alert").fetchone()
    connection.execute("ANALYZE crm_alert")
    connection.execute("ANALYZE crm_alert_dismissal")
    return alerts


def _without_alerts(screen):
    "The same screen reading the fields of the list less the alert column"
    plain = ListScreen.__new__(ListScreen)
    plain.__dict__.update(screen.__dict__)
    plain.lazy_fields = [f for f in screen.lazy_fields if f not in COLUMNS]
    return plain


def run(ctx):
    users = ctx.users
    with data.connect(ctx.database) as connection:
        alerts = _prepare(connection, users)
    rows = []
    for login in (ADMIN, REP):
        screen = ListScreen(Client(ctx.database, users[login], login))
        assert COLUMNS <= set(screen.lazy_fields), screen.lazy_fields
        plain = _without_alerts(screen)
        (with_result, with_times), (without_result, without_times) = measure(
            [_list_case(screen, []), _list_case(plain, [])],
            ctx.runs, ctx.warmup)
        if with_result['ids'] != without_result['ids']:
            ctx.log("warning: the two cases show different pages")
        row = {
            'size': ctx.size, 'user': login, 'alerts': alerts,
            'with_ms': with_times['total'],
            'without_ms': without_times['total'],
            'read_with_ms': with_times['read'],
            'read_without_ms': without_times['read'],
            }
        row['ratio'] = row['with_ms'] / row['without_ms']
        ctx.log(f"{ctx.size:>7} opportunities, {alerts} alerts, as {login}: "
            f"with {row['with_ms']:.0f} ms, without "
            f"{row['without_ms']:.0f} ms (read {row['read_with_ms']:.1f} / "
            f"{row['read_without_ms']:.1f}), ratio {row['ratio']:.2f}")
        rows.append(row)
    with data.connect(ctx.database) as connection:
        connection.execute("DELETE FROM crm_alert")
    return rows


def tables(rows):
    table = [[
            f"{r['size']:,}", f"{r['alerts']:,}", r['user'],
            f"{r['without_ms']:.0f}", f"{r['with_ms']:.0f}",
            f"{r['read_without_ms']:.1f}", f"{r['read_with_ms']:.1f}",
            f"{r['ratio']:.2f}",
            ] for r in sorted(rows, key=lambda r: (r['size'], r['user']))]
    return [
        ("First page of the Opportunities list (80 rows), median (ms): "
            "without and with the alert column, in the same run",
            ["Opportunities", "Active alerts", "User", "Without (ms)",
                "With (ms)", "Read without", "Read with", "With / without"],
            table),
        ]
