#!/usr/bin/env python3
"""testcount.py BUILD_DIR MESON_RC [MESON TEST SELECTION ARGS...]

Count the results of one `meson test` run for tools/test, one result per
test case.  tools/test calls it right after `meson test -C BUILD_DIR ARGS`
exited with MESON_RC; ARGS are the same selection (--suite ...), so that
`meson test --list ARGS` names the tests that should have run.

What is counted:
  - a test registered with protocol 'tap' (the cmocka programs, through
    tests/lib/cmocka_tap.sh): each "ok" line passed, each "ok ... # SKIP"
    skipped, each "not ok" failed ("# TODO" as meson reads it); a plan
    "1..0 # SKIP reason" is one skip; cases planned but never reported
    (the program died part way) failed, one each;
  - any other test: one result, from meson's verdict (OK, SKIP, ...);
  - a test whose verdict is bad (FAIL, ERROR, TIMEOUT, ...) while none of
    its cases failed, say a sanitizer report at exit after every case
    passed: one more failure;
  - a test that was registered but has no complete line in testlog.json
    (meson test was killed, or stopped part way): failed;
  - meson test exiting non-zero while nothing above failed: one failure,
    since meson's exit code is trusted over the log.

Prints "counts PASSED FAILED SKIPPED", then one "fail TEXT" line per
failure and one "skip TEXT" line per skip, then for each failed test
that is not TAP the last lines of its output as "tail TEXT" lines, for
tools/test to read.  Uses
only the standard library (meson itself needs python3).
"""
import json
import os
import re
import subprocess
import sys

GOOD = {'OK', 'EXPECTEDFAIL'}

RE_PLAN = re.compile(r'1\.\.([0-9]+)(?:\s*#\s*([Ss][Kk][Ii][Pp]\S*)\b\s*(.*))?$')
RE_TEST = re.compile(r'((?:not )?ok)\b\s*(?:([0-9]+)\b\s*)?([^#]*)'
                     r'(?:#\s*([Ss][Kk][Ii][Pp]\S*|[Tt][Oo][Dd][Oo])\b\s*(.*))?$')


def short_name(name):
    """'sluice:unit / log' -> 'log' (meson prefixes the suite when several
    suites are selected)."""
    return name.rsplit(' / ', 1)[-1]


def registered(build_dir, args):
    """The names `meson test --list` gives for this selection, or None."""
    try:
        out = subprocess.run(['meson', 'test', '-C', build_dir, '--list',
                              '--no-rebuild'] + args,
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    names = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith('ninja:'):
            names.append(short_name(line))
    return names


def protocols(build_dir):
    """{test name: protocol} from meson introspect; {} when unavailable."""
    try:
        out = subprocess.run(['meson', 'introspect', '--tests', build_dir],
                             capture_output=True, text=True, timeout=120)
        return {t['name']: t.get('protocol', 'exitcode')
                for t in json.loads(out.stdout)}
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return {}


def results(build_dir):
    """{test name: testlog.json entry}; incomplete lines are ignored."""
    log = os.path.join(build_dir, 'meson-logs', 'testlog.json')
    found = {}
    try:
        with open(log, encoding='utf-8', errors='replace') as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    found[short_name(entry['name'])] = entry
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        pass
    return found


def tap_cases(stdout):
    """(plan, plan_skip_reason, [(result, name, reason)]) of TAP output;
    result is 'pass', 'fail' or 'skip'; plan is None when absent."""
    plan, plan_skip, cases = None, None, []
    for line in stdout.splitlines():
        line = line.rstrip()
        if not line or line.startswith('#'):
            continue
        m = RE_PLAN.match(line)
        if m:
            plan = int(m.group(1))
            if m.group(2):
                plan_skip = (m.group(3) or '').strip()
            continue
        m = RE_TEST.match(line)
        if not m:
            continue
        ok = m.group(1) == 'ok'
        name = (m.group(3) or '').strip().lstrip('- ').strip()
        name = name or 'case %d' % (len(cases) + 1)
        directive = (m.group(4) or '').upper()
        reason = (m.group(5) or '').strip()
        if directive.startswith('SKIP') and ok:
            cases.append(('skip', name, reason))
        elif directive == 'TODO':
            cases.append(('pass' if not ok else 'fail', name, reason))
        else:
            cases.append(('pass' if ok else 'fail', name, reason))
    return plan, plan_skip, cases


def fail_words(entry):
    """': LINE', the test's own words for its failure (the last line of
    its output that starts with FAIL, else the last one saying FAIL
    anywhere, else its last line), so that the closing list says why; ''
    when it printed nothing.  A line starting with FAIL is the test's own
    verdict; one merely containing it may be a client library's log
    (librdkafka logs a dropped connection as "|FAIL|")."""
    text = (entry.get('stdout') or '') + '\n' + (entry.get('stderr') or '')
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ''
    own = [ln for ln in lines if ln.startswith('FAIL')]
    said = [ln for ln in lines if 'FAIL' in ln]
    line = (own or said or lines)[-1]
    return ': ' + (line if len(line) <= 300 else line[:297] + '...')


TAIL_LINES = 60


def output_tail(entry):
    """The last TAIL_LINES lines of a failed test's output (stdout, then
    stderr), so that a log that keeps only the closing lines still says
    what happened before the failure."""
    text = (entry.get('stdout') or '') + '\n' + (entry.get('stderr') or '')
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return lines[-TAIL_LINES:]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir, meson_rc, args = argv[1], int(argv[2]), argv[3:]
    passed = failed = skipped = 0
    fails, skips, tails = [], [], []

    found = results(build_dir)
    names = registered(build_dir, args)
    if names is None:
        failed += 1
        fails.append('%s: `meson test --list` failed: counting only the '
                     'tests in testlog.json' % build_dir)
        names = list(found)
    proto = protocols(build_dir)

    for name in names:
        entry = found.get(name)
        if entry is None:
            failed += 1
            fails.append('%s: %s did not run or did not finish (meson test '
                         'exited %d)' % (build_dir, name, meson_rc))
            continue
        verdict = entry.get('result', '')
        if proto.get(name) != 'tap':
            if verdict in GOOD:
                passed += 1
            elif verdict == 'SKIP':
                skipped += 1
                skips.append('%s: %s' % (build_dir, name))
            else:
                failed += 1
                fails.append('%s: %s (%s)%s' % (build_dir, name,
                                                verdict or 'no result',
                                                fail_words(entry)))
                tails.append(('%s: %s' % (build_dir, name), output_tail(entry)))
            continue
        plan, plan_skip, cases = tap_cases(entry.get('stdout') or '')
        if not cases and not plan:
            # no case ran ("1..0 # SKIP reason", or died first): one
            # result, meson's verdict
            if verdict == 'SKIP':
                skipped += 1
                skips.append('%s: %s%s' % (build_dir, name, ': ' + plan_skip
                                          if plan_skip else ''))
            elif verdict in GOOD:
                passed += 1
            else:
                failed += 1
                fails.append('%s: %s (%s, no case ran)' % (build_dir, name,
                                                           verdict))
            continue
        own_fails = 0
        for result, case, reason in cases:
            if result == 'pass':
                passed += 1
            elif result == 'skip':
                skipped += 1
                skips.append('%s: %s / %s%s' % (build_dir, name, case,
                                               ': ' + reason if reason else ''))
            else:
                own_fails += 1
                fails.append('%s: %s / %s' % (build_dir, name, case))
        if plan is not None and plan > len(cases):
            own_fails += plan - len(cases)
            fails.append('%s: %s: %d of %d cases never reported (%s)' %
                         (build_dir, name, plan - len(cases), plan, verdict))
        if verdict not in GOOD | {'SKIP'} and not own_fails:
            own_fails += 1
            if plan is None:
                why = 'stopped after %d case(s), before its plan' % len(cases)
            else:
                why = 'after all its cases passed: a report at exit?'
            fails.append('%s: %s: %s, exit status %s (%s)' %
                         (build_dir, name, verdict, entry.get('returncode'),
                          why))
        failed += own_fails

    if meson_rc != 0 and failed == 0:
        failed += 1
        fails.append('%s: meson test exited %d though no test failed' %
                     (build_dir, meson_rc))

    print('counts %d %d %d' % (passed, failed, skipped))
    for f in fails:
        print('fail ' + f)
    for s in skips:
        print('skip ' + s)
    for what, lines in tails:
        print('tail --- %s: the last %d lines of its output' % (what, len(lines)))
        for ln in lines:
            print('tail ' + ln)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
