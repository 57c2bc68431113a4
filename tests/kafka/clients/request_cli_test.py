"""`sluice request` and `sluice respond` end to end (docs/queues.md):
request-reply and scatter-gather over the native protocol.

Run with Debian's /usr/bin/python3 and SLUICE_CLI naming the CLI.
Without KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
(SLUICE_BROKER: the native listener) with a record lock of 1 s and
queue groups starting at the log's start.

  1. a responder (`respond rpc --exec 'tr a-z A-Z'`) answers two requests
     in turn: each `request` prints its own reply; the temporary reply
     topics are gone afterwards; a request whose requester gave up is
     accepted all the same (its reply topic is gone);
  2. scatter-gather: a second responder in another group; `request
     --gather 2` prints both replies ("2 of 2 replies");
     `--gather 3` with two responders prints 2 and says "2 of 3" when
     its time is up;
  3. a command that fails releases its message: a responder whose
     command exits 1 the first time, 0 after, answers the request on the
     second delivery;
  4. no responder: `request` exits 1 within its timeout and says so;
     usage errors exit 2.
Every process is bounded in time.  Exit 0 when all holds, 1 with what
did not.
"""
import os
import subprocess
import time

from kclib import fail, under_broker

under_broker(__file__, "request-cli", 120,
             settings=("share_record_lock_duration_ms=1000",
                       "share_auto_offset_reset=earliest"))
CLI = os.environ.get("SLUICE_CLI")
if not CLI or not os.access(CLI, os.X_OK):
    fail("SLUICE_CLI must name the sluice CLI (meson test sets it)")
BROKER = os.environ["SLUICE_BROKER"]


def run(*args, want=0, timeout=30):
    r = subprocess.run([CLI, "-b", BROKER] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != want:
        fail("sluice %s: exit %d, want %d\nstdout: %s\nstderr: %s"
             % (" ".join(args), r.returncode, want, r.stdout, r.stderr))
    return r.stdout, r.stderr


def responder(*args):
    return subprocess.Popen([CLI, "-b", BROKER, "respond"] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(p, what):
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("%s did not stop" % what)
    if p.returncode != 0:
        fail("%s: exit %d\n%s" % (what, p.returncode, err))
    return err


def topics():
    out, _ = run("topic", "list")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def main():
    run("topic", "create", "rpc", "--partitions", "2")
    r1 = responder("rpc", "--exec", "tr a-z A-Z", "--count", "3",
                   "--idle-ms", "15000")
    for word in ("hello", "world"):
        out, _ = run("request", "rpc", word, "--timeout-ms", "10000")
        if out != word.upper() + "\n":
            fail("request %s printed %r" % (word, out))
    run("request", "rpc", "late", "--timeout-ms", "1", want=1)
    left = [t for t in topics() if t.startswith("_sl.reply.")]
    if left:
        fail("reply topics left behind: %r" % left)
    print("ok: two requests answered in turn; no reply topic left", flush=True)

    finish(r1, "the first responder")
    run("topic", "create", "fan")
    r1 = responder("fan", "--exec", "tr a-z A-Z", "--count", "2",
                   "--idle-ms", "15000")
    r2 = responder("fan", "--group", "other", "--count", "2",
                   "--idle-ms", "15000")
    out, err = run("request", "fan", "all", "--gather", "2",
                   "--timeout-ms", "10000")
    if sorted(out.split()) != ["ALL", "all"] or "2 of 2 replies" not in err:
        fail("gather 2 printed %r / %r" % (out, err))
    t0 = time.time()
    out, err = run("request", "fan", "three", "--gather", "3",
                   "--timeout-ms", "2500")
    dt = time.time() - t0
    if sorted(out.split()) != ["THREE", "three"] or "2 of 3 replies" not in err \
            or dt < 2.4:
        fail("gather 3 of 2 responders printed %r / %r after %.1f s"
             % (out, err, dt))
    finish(r1, "the first fan responder")
    finish(r2, "the second fan responder")
    print("ok: scatter-gather: 2 of 2 replies; 2 of 3 when the time is up "
          "(%.1f s)" % dt, flush=True)

    flag = os.path.join(os.environ.get("SLUICE_DATA_DIR", "/tmp"), "tried")
    run("topic", "create", "flaky")
    r3 = responder("flaky", "--count", "1", "--idle-ms",
                   "15000", "--exec",
                   "if [ -e %s ]; then cat; else touch %s; exit 1; fi"
                   % (flag, flag))
    out, _ = run("request", "flaky", "retry", "--timeout-ms", "10000")
    err = finish(r3, "the flaky responder")
    if out != "retry\n" or "released for another try" not in err:
        fail("a failing command's message was not answered on its second "
             "delivery: %r / %r" % (out, err))
    print("ok: a failed command releases its message; the next delivery "
          "answers", flush=True)

    run("topic", "create", "silent")
    t0 = time.time()
    _, err = run("request", "silent", "x", "--timeout-ms", "1000", want=1)
    if "no reply within 1000 ms" not in err or time.time() - t0 > 8:
        fail("a request nobody answers: %r" % err)
    run("request", want=2)
    run("respond", want=2)
    run("request", "rpc", "x", "--bogus", want=2)
    print("ok: no responder: exit 1 within its time; usage: exit 2", flush=True)


main()
