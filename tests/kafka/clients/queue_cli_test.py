"""`sluice queue` end to end against a broker (docs/queues.md): the CLI
speaks Kafka's share-group APIs to the Kafka listener.

Run with Debian's /usr/bin/python3 and SLUICE_CLI naming the CLI.
Without KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run with
a record lock of 1 s.

  1. `queue create jobs --partitions 2`: created (with jobs.dlq); again:
     exists (exit 0);
  2. `queue send` of 3 lines and one with --priority 9 to partition 0:
     `receive --max 1 --ack` gets the urgent one first (count 1);
  3. `receive --member w1 --max 2` holds a and b; `stats` lists w1;
     `ack --member w1 0:0` accepts a; b's lock lapses (1 s) and the next
     `receive --ack` gets b (count 2) and c; nothing is left;
  4. a FIFO group (--group): with the first message held, the second is
     not handed out; once the first is accepted it is;
  5. --delay-ms 1500: not there at 0.5 s, there within 4 s;
  6. a rejected message: `dlq list` shows it in jobs.dlq with its origin
     and reason; `dlq redrive` sends it back to its partition, where
     `receive` gets it; the list is then empty;
  7. errors: ack without --member (exit 2), a queue that does not exist
     (exit 1, says so), acking a message not held (exit 1,
     INVALID_RECORD_STATE).
Every command is bounded in time.  Exit 0 when all holds, 1 with what
did not.
"""
import os
import re
import subprocess
import time

from kclib import fail, under_broker

BOOT = under_broker(__file__, "queue-cli", 120,
                    settings=("share_record_lock_duration_ms=1000",))
CLI = os.environ.get("SLUICE_CLI")
if not CLI or not os.access(CLI, os.X_OK):
    fail("SLUICE_CLI must name the sluice CLI (meson test sets it)")


def q(*args, stdin=None, want=0):
    """Run `sluice queue ARGS --bootstrap BOOT`: (stdout, stderr); fails
    unless it exits with want."""
    r = subprocess.run([CLI, "queue"] + list(args) + ["--bootstrap", BOOT],
                       input=stdin, capture_output=True, text=True, timeout=30)
    if r.returncode != want:
        fail("sluice queue %s: exit %d, want %d\nstdout: %s\nstderr: %s"
             % (" ".join(args), r.returncode, want, r.stdout, r.stderr))
    return r.stdout, r.stderr


def got(out):
    """[(partition, offset, count, value)] of receive's lines."""
    res = []
    for line in out.splitlines():
        m = re.match(r"^(\d+):(\d+) (\d+) (.*)$", line)
        if not m:
            fail("receive printed %r" % line)
        res.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)))
    return res


def main():
    out, _ = q("create", "jobs", "--partitions", "2")
    if "created, 2 partitions" not in out:
        fail("queue create: %r" % out)
    out, _ = q("create", "jobs", "--partitions", "2")
    if "exists" not in out:
        fail("queue create again: %r" % out)
    print("ok: queue create, and again (exists)", flush=True)

    q("send", "jobs", "--partition", "0", stdin="a\nb\nc\n")
    q("send", "jobs", "--partition", "0", "--priority", "9", stdin="urgent\n")
    out, _ = q("receive", "jobs", "--max", "1", "--wait-ms", "3000", "--ack")
    if got(out) != [(0, 3, 1, "urgent")]:
        fail("receive --max 1 got %r, want the priority 9 message first" % got(out))
    print("ok: a priority 9 message sent last is received first", flush=True)

    out, err = q("receive", "jobs", "--max", "2", "--wait-ms", "3000", "--member", "w1")
    if [(g[1], g[3]) for g in got(out)] != [(0, "a"), (1, "b")]:
        fail("receive --member w1 got %r, want a and b" % got(out))
    if "member w1" not in err:
        fail("receive does not name its member: %r" % err)
    out, _ = q("stats", "jobs")
    if "member w1" not in out or "partition 0: log 0..4" not in out:
        fail("queue stats: %r" % out)
    out, _ = q("ack", "jobs", "--member", "w1", "0:0")
    if "1 message accepted" not in out:
        fail("queue ack: %r" % out)
    time.sleep(1.5)  # b's lock lapses
    out, _ = q("receive", "jobs", "--max", "5", "--wait-ms", "2000", "--ack")
    if sorted((g[1], g[2], g[3]) for g in got(out)) != [(1, 2, "b"), (2, 1, "c")]:
        fail("after b's lock lapsed receive got %r, want b (count 2) and c" % got(out))
    out, _ = q("receive", "jobs", "--max", "5", "--wait-ms", "500", "--ack")
    if got(out):
        fail("the queue should be empty, receive got %r" % got(out))
    print("ok: held by a member, acked by it from another process; a lapsed "
          "lock hands the message out again (count 2); then empty", flush=True)

    q("send", "jobs", "--group", "order-7", stdin="first\nsecond\n")
    out, _ = q("receive", "jobs", "--max", "5", "--wait-ms", "1000", "--member", "w2")
    g1 = got(out)
    if [g[3] for g in g1] != ["first"]:
        fail("a FIFO group handed out %r with its first message in flight, "
             "want only first" % g1)
    q("ack", "jobs", "--member", "w2", "%d:%d" % (g1[0][0], g1[0][1]))
    out, _ = q("receive", "jobs", "--max", "5", "--wait-ms", "2000", "--ack")
    if [g[3] for g in got(out)] != ["second"]:
        fail("after first was accepted receive got %r, want second" % got(out))
    print("ok: a FIFO group: second waits until first is accepted", flush=True)

    t0 = time.monotonic()
    q("send", "jobs", "--partition", "1", "--delay-ms", "1500", stdin="later\n")
    out, _ = q("receive", "jobs", "--max", "1", "--wait-ms", "300", "--ack")
    if got(out) and time.monotonic() - t0 < 1.5:
        fail("a message delayed 1.5 s came at once: %r" % got(out))
    out, _ = q("receive", "jobs", "--max", "1", "--wait-ms", "4000", "--ack")
    took = time.monotonic() - t0
    if [g[3] for g in got(out)] != ["later"] or took < 1.5:
        fail("the delayed message: %r after %.2f s" % (got(out), took))
    print("ok: a message sent with --delay-ms 1500 came after %.1f s" % took,
          flush=True)

    # a rejected message: a dead letter in jobs.dlq, redriven back
    q("send", "jobs", "--partition", "1", stdin="poison\n")
    out, _ = q("receive", "jobs", "--max", "1", "--wait-ms", "3000", "--reject")
    if [g[3] for g in got(out)] != ["poison"]:
        fail("receive --reject got %r" % got(out))
    deadline = time.monotonic() + 10
    while True:
        r = subprocess.run([CLI, "dlq", "list", "jobs", "--bootstrap", BOOT],
                           capture_output=True, text=True, timeout=30)
        if r.returncode:
            fail("dlq list: exit %d: %s" % (r.returncode, r.stderr))
        if "poison" in r.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not re.search(r"from jobs 1:\d+ rejected after 1 delivery: poison", r.stdout):
        fail("dlq list: %r" % r.stdout)
    r = subprocess.run([CLI, "dlq", "redrive", "jobs", "--bootstrap", BOOT],
                       capture_output=True, text=True, timeout=30)
    if r.returncode or "1 dead letter sent back" not in r.stderr:
        fail("dlq redrive: exit %d: %s" % (r.returncode, r.stderr))
    out, _ = q("receive", "jobs", "--max", "1", "--wait-ms", "3000", "--ack")
    if [(g[0], g[3]) for g in got(out)] != [(1, "poison")]:
        fail("after the redrive receive got %r, want poison on partition 1" % got(out))
    r = subprocess.run([CLI, "dlq", "list", "jobs", "--bootstrap", BOOT],
                       capture_output=True, text=True, timeout=30)
    if r.stdout.strip() or "0 dead letters" not in r.stderr:
        fail("dlq list after the redrive: %r %r" % (r.stdout, r.stderr))
    print("ok: a rejected message is a dead letter in jobs.dlq naming its "
          "origin; redriven, it comes back on its partition", flush=True)

    _, err = q("ack", "jobs", "0:0", want=2)
    if "--member" not in err:
        fail("ack without --member: %r" % err)
    _, err = q("send", "nosuch", stdin="x\n", want=1)
    if "does not exist" not in err:
        fail("send to a queue that does not exist: %r" % err)
    _, err = q("ack", "jobs", "--member", "w9", "0:1", want=1)
    if "121" not in err:
        fail("acking a message not held: %r, want INVALID_RECORD_STATE (121)" % err)
    print("ok: usage and refusals say why (exit 2 and 1)", flush=True)


if __name__ == "__main__":
    main()
