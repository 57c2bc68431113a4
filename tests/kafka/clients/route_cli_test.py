"""Routing rules end to end (docs/queues.md#routing-rules) through the
CLI: `sluice route add|list|delete`, `sluice produce --header` and
`sluice consume --print-headers`, over the native protocol.

Run with Debian's /usr/bin/python3 and SLUICE_CLI naming the CLI.
Without KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
(SLUICE_BROKER: the native listener; SIGHUP: kill -9 and restart).

  1. copy rules by topic pattern (orders.eu.*) and header (priority=high;
     a=1 or b present, with any): each message in every destination whose
     rule matches it, with sl-routed-from naming its origin;
  2. direct rules: a message goes to the first direct rule (by name) that
     matches it and to no later one;
  3. a topic made after a rule is routed from its start;
  4. two rules routing into each other: a message goes round 8 times and
     stops;
  5. refusals: a destination that does not exist, a rule that matches its
     own destination, a word that is no rule's (with the reason);
  6. kill -9 of both processes right after 300 messages are acknowledged:
     after the restart the rules are there and every one of the 300 is in
     the destination (duplicates allowed, none missing);
  7. a deleted rule routes nothing more.
Every wait is bounded.  Exit 0 when all holds, 1 with what did not.
"""
import os
import signal
import subprocess
import time

from kclib import fail, under_broker

under_broker(__file__, "route-cli", 150)
CLI = os.environ.get("SLUICE_CLI")
if not CLI or not os.access(CLI, os.X_OK):
    fail("SLUICE_CLI must name the sluice CLI (meson test sets it)")
BROKER = os.environ["SLUICE_BROKER"]


def run(*args, want=0, stdin=None, timeout=30):
    r = subprocess.run([CLI, "-b", BROKER] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != want:
        fail("sluice %s: exit %d, want %d\nstdout: %s\nstderr: %s"
             % (" ".join(args), r.returncode, want, r.stdout, r.stderr))
    return r.stdout, r.stderr


def produce(topic, *values, headers=()):
    args = ["produce", topic]
    for h in headers:
        args += ["--header", h]
    run(*args, stdin="".join(v + "\n" for v in values))


def consume(topic):
    """[(headers dict, value)] of the whole topic."""
    out, _ = run("consume", topic, "--print-headers")
    res = []
    for line in out.splitlines():
        hs, _, value = line.partition("\t")
        d = {}
        for kv in hs.split(",") if hs else []:
            k, _, v = kv.partition("=")
            d[k] = v
        res.append((d, value))
    return res


def wait_values(topic, want, secs=15):
    """Wait until topic holds exactly the values want (a sorted list)."""
    end = time.time() + secs
    while True:
        got = sorted(v for _, v in consume(topic))
        if got == sorted(want):
            return
        if time.time() > end:
            fail("%s holds %r, want %r" % (topic, got, sorted(want)))
        time.sleep(0.2)


def main():
    for t in ("orders.us.web", "orders.eu.web", "orders.eu.shop", "eu",
              "high", "anyof", "first", "second", "la", "lb"):
        run("topic", "create", t)
    run("route", "add", "eu", "--from", "orders.eu.*", "--to", "eu")
    run("route", "add", "hi", "--from", "orders.#", "--to", "high",
        "--header", "priority=high")
    run("route", "add", "anyof", "--from", "orders.#", "--to", "anyof",
        "--header", "a=1", "--header", "b", "--any")
    run("route", "add", "d1", "--from", "orders.#", "--to", "first",
        "--header", "kind=x", "--direct")
    run("route", "add", "d2", "--from", "orders.#", "--to", "second",
        "--direct")
    out, _ = run("route", "list")
    if [line.split()[0] for line in out.splitlines()] != \
            ["anyof", "d1", "d2", "eu", "hi"]:
        fail("route list: %r" % out)

    produce("orders.us.web", "us-high", headers=("priority=high",))
    produce("orders.eu.web", "eu-plain")
    produce("orders.eu.shop", "eu-a1", headers=("a=1", "kind=x"))
    produce("orders.us.web", "us-b", headers=("b=anything",))
    produce("orders.us.web", "us-a2", headers=("a=2",))
    wait_values("eu", ["eu-plain", "eu-a1"])
    wait_values("high", ["us-high"])
    wait_values("anyof", ["eu-a1", "us-b"])
    wait_values("first", ["eu-a1"])
    wait_values("second", ["us-high", "eu-plain", "us-b", "us-a2"])
    for h, v in consume("eu"):
        want = {"eu-plain": "orders.eu.web/0/0",
                "eu-a1": "orders.eu.shop/0/0"}[v]
        if h.get("sl-routed-from") != want or h.get("sl-route-hops") != "1":
            fail("eu's %s has headers %r" % (v, h))
    h = dict(consume("first")[0][0])
    if h.get("a") != "1" or h.get("kind") != "x":
        fail("a copy lost its headers: %r" % h)
    print("ok: copy rules by pattern and by header (all, any); direct "
          "rules: the first match only", flush=True)

    run("topic", "create", "orders.eu.late")
    produce("orders.eu.late", "late")
    wait_values("eu", ["eu-plain", "eu-a1", "late"])
    print("ok: a topic made after the rule is routed from its start",
          flush=True)

    run("route", "add", "ab", "--from", "la", "--to", "lb")
    run("route", "add", "ba", "--from", "lb", "--to", "la")
    produce("la", "ping")
    wait_values("la", ["ping"] * 5)
    wait_values("lb", ["ping"] * 4)
    time.sleep(1)
    wait_values("la", ["ping"] * 5, secs=1)
    hops = sorted(int(h.get("sl-route-hops", "0")) for h, _ in consume("la"))
    if hops != [0, 2, 4, 6, 8]:
        fail("la's hops: %r" % hops)
    run("route", "delete", "ab")
    run("route", "delete", "ba")
    print("ok: two rules into each other stop after 8 hops", flush=True)

    _, err = run("route", "add", "x", "--from", "orders.#", "--to", "nosuch",
                 want=1)
    if "no such topic" not in err:
        fail("a missing destination: %r" % err)
    _, err = run("route", "add", "x", "--from", "e#", "--to", "eu", want=1)
    if "stand alone as a word" not in err:
        fail("a wildcard inside a word: %r" % err)
    _, err = run("route", "add", "x", "--from", "#", "--to", "eu", want=1)
    if "would route its own copies" not in err:
        fail("a rule matching its destination: %r" % err)
    run("route", "add", want=2)
    run("route", "delete", "nosuchrule", want=1)
    print("ok: refusals say why", flush=True)

    vals = ["crash-%d" % i for i in range(300)]
    produce("orders.eu.web", *vals)
    pid = int(os.environ["KAFKA_BROKER_PID"])
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(pid, signal.SIGHUP)
    if signal.sigtimedwait([signal.SIGUSR2], 40) is None:
        fail("the broker did not come back within 40 s after kill -9")
    out, _ = run("route", "list")
    if len(out.splitlines()) != 5:
        fail("the rules after a restart: %r" % out)
    end = time.time() + 20
    while True:
        got = [v for _, v in consume("eu")]
        missing = set(vals) - set(got)
        if not missing:
            break
        if time.time() > end:
            fail("%d of 300 acknowledged messages never reached eu after "
                 "kill -9" % len(missing))
        time.sleep(0.3)
    print("ok: kill -9 right after 300 acknowledged: all routed after the "
          "restart (%d copies)" % sum(v.startswith("crash-") for v in got),
          flush=True)

    run("route", "delete", "eu")
    produce("orders.eu.web", "after-delete")
    want = set(["us-high", "eu-plain", "us-b", "us-a2", "late",
                "after-delete"] + vals)
    end = time.time() + 20
    while set(v for _, v in consume("second")) != want:
        if time.time() > end:
            fail("second holds %r, want %r"
                 % (sorted(set(v for _, v in consume("second"))),
                    sorted(want)))
        time.sleep(0.3)
    if "after-delete" in [v for _, v in consume("eu")]:
        fail("a deleted rule still routes")
    print("ok: a deleted rule routes nothing more", flush=True)


main()
