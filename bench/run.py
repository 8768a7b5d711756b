"""Run crm-kit's benchmarks on PostgreSQL and update docs/performance.md.

    make bench                      # or: .venv/bin/python bench/run.py
    python bench/run.py --sizes 10000 --runs 3 --no-docs   # a quick look
    python bench/run.py --explain   # print the EXPLAIN ANALYZE plans too

The database (crm_kit_bench, or $CRM_KIT_BENCH_DATABASE) is dropped and
recreated on the server of $TRYTOND_DATABASE__URI (default
postgresql://postgres@127.0.0.1:5432/), then grown to each size in turn;
every benchmark module of BENCHMARKS runs at every size.  It is left in
place afterwards for EXPLAIN and psql.

A benchmark module has TITLE, run(ctx) -> result rows for ctx.size and
tables(rows) -> [(caption, header, rows)] for the report; one with ONCE =
True runs once, after the sizes (ctx.size is None)."""
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
    'opportunity_list', 'alert_list', 'automation', 'lead_import', 'reports',
    'server']
SIZES = [10_000, 100_000]
DOC = ROOT / 'docs' / 'performance.md'
BEGIN = '<!-- bench results: begin (written by bench/run.py) -->'
END = '<!-- bench results: end -->'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--sizes', default=','.join(map(str, SIZES)),
        help="opportunity counts, increasing (default: %(default)s)")
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
    return (f"{os.cpu_count()} cores ({cpu}), PostgreSQL {postgresql}, "
        f"trytond {metadata.version('trytond')}, "
        f"Python {platform.python_version()}")


def report(modules, results, args, elapsed, load):
    parts = [
        f"Measured on {dt.date.today().isoformat()} with "
        f"`make bench` ({args.runs} runs after {args.warmup} warm-up runs, "
        f"median; {elapsed / 60:.1f} min in all) on {environment()}; "
        f"load average {load:.2f} at the start."]
    for module in modules:
        parts.append(f"### {module.TITLE}")
        for caption, header, rows in module.tables(results[module.__name__]):
            parts.append(f"{caption}:\n\n{markdown_table(header, rows)}")
    return '\n\n'.join(parts)


def write_doc(text):
    block = f"{BEGIN}\n{text}\n{END}"
    if DOC.exists():
        content = DOC.read_text()
    else:
        content = "# Performance\n\n## Results\n\n"
    if BEGIN in content and END in content:
        before = content[:content.index(BEGIN)]
        after = content[content.index(END) + len(END):]
        content = before + block + after
    else:
        content = content.rstrip('\n') + '\n\n' + block + '\n'
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(content)


def main(argv=None):
    args = parse_args(argv)
    sizes = sorted(int(s.replace('_', '')) for s in args.sizes.split(','))
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
    text = report(
        modules, results, args, time.monotonic() - started, load)
    print()
    print(text)
    if not args.no_docs:
        write_doc(text)
        print(f"\nResults written to {DOC.relative_to(ROOT)}")


if __name__ == '__main__':
    main()
