"""Summarise pytest's JUnit XML reports: the slowest tests and the counts.

    python scripts/test_report.py [--slowest N] [--files N] LABEL=XML ...

Prints the N slowest tests of all the reports (set-up, call and tear-down
together, as pytest's junit_duration_report=total gives them), each with
its report's label, with --files the N test files that take longest, then
one line per label (the reports of a label add up) and a last line
'total: N passed, N failed, N skipped' for all of them.  .ci/run ends
with it; docs/testing.md's tables come from it."""
import argparse
import sys
import xml.etree.ElementTree as ET


def read(path):
    "(name, seconds, outcome) of every test case of the report at path"
    cases = []
    for case in ET.parse(path).getroot().iter('testcase'):
        outcome = 'passed'
        for child in case:
            if child.tag in {'failure', 'error'}:
                outcome = 'failed'
            elif child.tag == 'skipped':
                outcome = 'skipped'
        name = f"{case.get('classname')}::{case.get('name')}"
        cases.append((name, float(case.get('time') or 0), outcome))
    return cases


def counts(cases):
    return {outcome: sum(1 for *_, o in cases if o == outcome)
        for outcome in ['passed', 'failed', 'skipped']}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--slowest', type=int, default=10)
    parser.add_argument('--files', type=int, default=0)
    parser.add_argument('reports', nargs='+', metavar='LABEL=REPORT.xml')
    args = parser.parse_args(argv)
    reports = {}
    for item in args.reports:
        label, _, path = item.partition('=')
        cases = reports.setdefault(label, [])  # a label may have parts
        try:
            cases.extend(read(path))
        except (OSError, ET.ParseError) as exception:
            print(f"{label}: no report from {path} ({exception})")
    if args.slowest:
        rows = sorted(((seconds, label, name)
                for label, cases in reports.items()
                for name, seconds, _ in cases), reverse=True)
        print(f"The {args.slowest} slowest tests (set-up, call and "
            "tear-down):")
        for seconds, label, name in rows[:args.slowest]:
            print(f"{seconds:8.1f} s  {label:<10} {name}")
    if args.files:
        print(f"The {args.files} test files that take longest:")
        files = {}
        for label, cases in reports.items():
            for name, seconds, _ in cases:
                # the dotted path of the file, then the class if any
                path = name.split('::')[0].split('.')
                if path[-1][:1].isupper():
                    path = path[:-1]
                key = (label, '.'.join(path))
                files[key] = files.get(key, 0) + seconds
        for (label, name), seconds in sorted(
                files.items(), key=lambda i: i[1], reverse=True)[
                :args.files]:
            print(f"{seconds:8.1f} s  {label:<10} {name}")
    total = {'passed': 0, 'failed': 0, 'skipped': 0}
    for label, cases in reports.items():
        result = counts(cases)
        seconds = sum(s for _, s, _ in cases)
        print(f"{label}: {result['passed']} passed, {result['failed']} "
            f"failed, {result['skipped']} skipped, {seconds:.0f} s in tests")
        for outcome in total:
            total[outcome] += result[outcome]
    print(f"total: {total['passed']} passed, {total['failed']} failed, "
        f"{total['skipped']} skipped")
    return 1 if total['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
