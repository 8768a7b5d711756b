"""Opening the pipeline board, against opening the Opportunities list.

One "board open" is the call sao's board widget (crmkit/sao/custom.js)
makes when CRM > Pipeline shows: ``crm.pipeline.board([pipeline], {})``,
the columns with their totals and the first 50 cards of each.  One "list
open" is bench.opportunity_list's first page of the Opportunities list,
measured in the same rounds, so that the ratio does not depend on the
machine's speed.  Both as admin (every deal) and as the rep (their own),
through bench.client, so that record rules apply as over RPC.

Issue 26's target: the board at most TARGET_RATIO times the list,
whatever the number of deals."""
from . import data
from .client import Client
from .opportunity_list import (
    ADMIN, REP, ListScreen, QuietWaiter, _list_case, _user, measure)

TITLE = "Pipeline board (as sao opens it), against the opportunity list"
TARGET_RATIO = 2.0


def _board_case(client, pipeline):
    def case():
        board, seconds = client.timed(
            'crm.pipeline', 'board', [pipeline], {})
        cards = sum(len(c['cards']) for c in board['columns'])
        count = sum(c['count'] for c in board['columns'])
        return {'cards': cards, 'count': count}, {'board': seconds}
    return case


def run(ctx):
    "Measure the board and the list as admin and as the rep at ctx.size"
    log = ctx.log
    users = ctx.users
    clients = {login: Client(ctx.database, users[login], login)
        for login in (ADMIN, REP)}
    with data.connect(ctx.database) as connection:
        pipeline, = connection.execute(
            "SELECT id FROM crm_pipeline WHERE active "
            "ORDER BY sequence NULLS FIRST, id LIMIT 1").fetchone()
    cases = []
    for login in (ADMIN, REP):
        cases.append(_board_case(clients[login], pipeline))
        cases.append(_list_case(ListScreen(clients[login]), []))
    waiter = QuietWaiter(ctx.warmup, log)
    (admin_board, admin_board_ms, admin_list, admin_list_ms,
        rep_board, rep_board_ms, rep_list, rep_list_ms) = [
        x for pair in measure(cases, ctx.runs, ctx.warmup, waiter)
        for x in pair]
    row = {'size': ctx.size, 'busy': waiter.busy}
    for login, board, board_ms, list_ms in [
            (ADMIN, admin_board, admin_board_ms, admin_list_ms),
            (REP, rep_board, rep_board_ms, rep_list_ms)]:
        row[login] = {**board, 'board': board_ms['total'],
            'list': list_ms['total']}
        log(f"{ctx.size:>7} deals  {login}: board {board_ms['total']:.0f} ms "
            f"({board['cards']} cards of {board['count']:,}), list "
            f"{list_ms['total']:.0f} ms, board / list "
            f"{board_ms['total'] / list_ms['total']:.2f}")
    return [row]


def tables(rows):
    "The result table for docs/performance.md: (caption, header, rows)"
    lines = []
    for row in rows:
        for login in (ADMIN, REP):
            result = row[login]
            ratio = result['board'] / result['list']
            lines.append([
                    f"{row['size']:,}", _user(login),
                    f"{result['count']:,}", f"{result['cards']}",
                    f"{result['board']:.0f}", f"{result['list']:.0f}",
                    f"{ratio:.2f}",
                    "met" if ratio <= TARGET_RATIO else "missed"])
    return [(
            "Median time to show the board's first screen and the "
            "Opportunities list's first page, in the same rounds (ms)",
            ["Opportunities", "User", "Deals on the board", "Cards read",
                "Board (ms)", "List (ms)", "Board / list",
                f"Target <= {TARGET_RATIO:g}"],
            lines)]
