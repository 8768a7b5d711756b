"""Run crm-kit's benchmarks on PostgreSQL and update docs/performance.md.

    make bench                      # or: .venv/bin/python bench/run.py
    python bench/run.py --sizes 10000 --runs 3 --no-docs   # a quick look
    python bench/run.py --only opportunity_list --sizes 10000 100000
    python bench/run.py --explain   # print the EXPLAIN ANALYZE plans too

The database (crm_kit_bench, or $CRM_KIT_BENCH_DATABASE) is dropped and
recreated on the server of $TRYTOND_DATABASE__URI (default
postgresql://postgres@127.0.0.1:5432/), then grown to each size in turn;
every benchmark module of BENCHMARKS runs at every size.  It is left in
place afterwards for EXPLAIN and psql.

A benchmark module has TITLE, run(ctx) -> result rows for ctx.size and
tables(rows) -> [(caption, header, rows)] for the report, and may have
summary(rows) -> the text that follows its tables (prose whose figures are
computed from the rows); one with ONCE = True runs once, after the sizes
(ctx.size is None).

The results block of docs/performance.md holds one section per benchmark
module, each opened by a <!-- bench: NAME --> line: a run rewrites the
sections of the modules it ran and keeps the others as they are, with the
line that says when and how they were measured."""
import argparse
import datetime as dt
import os
import platform
import sys
import time
from importlib import import_module, metadata
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402

BENCHMARKS = [
    'opportunity_list', 'pipeline_board', 'alert_list', 'automation',
    'lead_import', 'email_import', 'reports', 'server']
SIZES = [10_000, 100_000]
DOC = ROOT / 'docs' / 'performance.md'
BEGIN = '<!-- bench results: begin (written by bench/run.py) -->'
END = '<!-- bench results: end -->'
SECTION = '<!-- bench: {} -->'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--sizes', nargs='+', default=[','.join(map(str, SIZES))],
        help="opportunity counts, separated by spaces or commas "
        "(default: %(default)s)")
    parser.add_argument(
        '--runs', type=int, default=9,
        help="measured runs per case; the median is reported "
        "(default: %(default)s)")
    parser.add_argument(
        '--warmup', type=int, default=2,
        help="unmeasured runs first (default: %(default)s)")
    parser.add_argument(
        '--only', action='append', choices=BENCHMARKS,
        help="run only this benchmark (repeatable)")
    parser.add_argument(
        '--explain', action='store_true',
        help="print EXPLAIN ANALYZE of the queries of every case "
        "(always done when the rep is more than 2x slower than admin)")
    parser.add_argument(
        '--rebuild', action='store_true',
        help="rebuild the template database even if it is up to date")
    parser.add_argument(
        '--no-docs', action='store_true',
        help="do not rewrite the results in docs/performance.md")
    return parser.parse_args(argv)


def markdown_table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |',
        '|' + '|'.join(
            '---' if i == 0 else '---:' for i in range(len(header))) + '|']
    for row in rows:
        lines.append('| ' + ' | '.join(str(c) for c in row) + ' |')
    return '\n'.join(lines)


def environment():
    "A line describing the machine and the versions"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    with data.connect(data.DB_NAME) as connection:
        postgresql = connection.execute("SHOW server_version").fetchone()[0]
        trigram = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'"
            ).fetchone()
    trigram = f"with pg_trgm {trigram[0]}" if trigram else "without pg_trgm"
    return (f"{os.cpu_count()} cores ({cpu}), PostgreSQL {postgresql} "
        f"{trigram}, trytond {metadata.version('trytond')}, "
        f"Python {platform.python_version()}")


def command(argv):
    "How the run was started, as the report names it"
    if not argv:
        return 'make bench'
    return ' '.join(['bench/run.py', *argv])


def report(modules, results, args, elapsed, load, argv=None):
    """The section of each module for docs/performance.md, by module name
    (bench.NAME)"""
    measured = (
        f"Measured on {dt.date.today().isoformat()} with "
        f"`{command(argv)}` ({args.runs} runs after {args.warmup} warm-up "
        f"runs, median; {elapsed / 60:.1f} min in all) on {environment()}; "
        f"load average {load:.2f} at the start.")
    sections = {}
    for module in modules:
        rows = results[module.__name__]
        parts = [measured, f"### {module.TITLE}"]
        for caption, header, table in module.tables(rows):
            parts.append(f"{caption}:\n\n{markdown_table(header, table)}")
        if hasattr(module, 'summary'):
            parts.append(module.summary(rows))
        sections[module.__name__.rpartition('.')[2]] = '\n\n'.join(parts)
    return sections


def _sections(block):
    """The sections of a results block: {name: text} in their order, and
    the text before the first"""
    marker = SECTION.split('{}')
    sections = {}
    name, lines, preamble = None, [], []
    for line in block.splitlines():
        if line.startswith(marker[0]) and line.endswith(marker[1]):
            if name is not None:
                sections[name] = '\n'.join(lines).strip('\n')
            name, lines = line[len(marker[0]):-len(marker[1])], []
        elif name is None:
            preamble.append(line)
        else:
            lines.append(line)
    if name is not None:
        sections[name] = '\n'.join(lines).strip('\n')
    return sections, '\n'.join(preamble).strip('\n')


def write_doc(sections):
    """Rewrite the sections of the results block that this run measured,
    keeping the others"""
    if DOC.exists():
        content = DOC.read_text()
    else:
        content = "# Performance\n\n## Results\n\n"
    if BEGIN in content and END in content:
        before = content[:content.index(BEGIN)]
        after = content[content.index(END) + len(END):]
        kept, preamble = _sections(
            content[content.index(BEGIN) + len(BEGIN):content.index(END)])
    else:
        before, after = content.rstrip('\n') + '\n\n', '\n'
        kept, preamble = {}, ''
    kept.update(sections)
    order = {name: index for index, name in enumerate(BENCHMARKS)}
    names = sorted(kept, key=lambda n: order.get(n, len(order)))
    parts = [preamble] if preamble else []
    parts += [f"{SECTION.format(name)}\n{kept[name]}" for name in names]
    block = BEGIN + '\n' + '\n\n'.join(parts) + '\n' + END
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(before + block + after)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    args = parse_args(argv)
    sizes = sorted({int(s.replace('_', ''))
            for item in args.sizes for s in item.split(',') if s})
    names = args.only or BENCHMARKS
    modules = [import_module(f'bench.{name}') for name in names]
    started = time.monotonic()
    load = os.getloadavg()[0]

    data.configure()
    users = data.prepare_database(rebuild=args.rebuild)
    results = {module.__name__: [] for module in modules}
    # A module with ONCE runs once, after the sizes, in a database of its
    # own (it gets the name of the bench database to derive it from).
    per_size = [m for m in modules if not getattr(m, 'ONCE', False)]
    once = [m for m in modules if getattr(m, 'ONCE', False)]
    for size in sizes if per_size else []:
        data.grow_to(size)
        for module in per_size:
            print(f"== {module.TITLE}: {size:,} opportunities", flush=True)
            ctx = SimpleNamespace(
                database=data.DB_NAME, size=size, users=users,
                runs=args.runs, warmup=args.warmup, explain=args.explain,
                log=lambda m: print(m, flush=True))
            results[module.__name__].extend(module.run(ctx))
    for module in once:
        print(f"== {module.TITLE}", flush=True)
        ctx = SimpleNamespace(
            database=data.DB_NAME, size=None, users=users,
            runs=args.runs, warmup=args.warmup, explain=args.explain,
            log=lambda m: print(m, flush=True))
        results[module.__name__].extend(module.run(ctx))
    sections = report(
        modules, results, args, time.monotonic() - started, load, argv)
    print()
    print('\n\n'.join(sections.values()))
    if not args.no_docs:
        write_doc(sections)
        print(f"\nResults written to {DOC.relative_to(ROOT)}")


if __name__ == '__main__':
    main()
