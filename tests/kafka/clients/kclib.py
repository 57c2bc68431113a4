"""What the Python client tests of tests/kafka/clients share: failing with
a message, saying which Debian package a missing client comes from, and
running the test under a fresh broker of its own (kafka_broker_run) when no
broker is given in KAFKA_BOOTSTRAP."""
import os
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def missing(what, package, err):
    """An import of a client failed: say what to install, and fail."""
    fail("%s cannot be imported under %s (%s): apt-get install %s "
         "(tools/lib/deps.sh installs it) and run with /usr/bin/python3"
         % (what, sys.executable, err, package))


def under_broker(script, name, timeout, args=(), settings=()):
    """Without KAFKA_BOOTSTRAP, run script again under kafka_broker_run
    (a fresh broker of its own, stopped afterwards), with the broker
    settings given ("key=value"), and never return.  With it, return the
    bootstrap address."""
    boot = os.environ.get("KAFKA_BOOTSTRAP")
    if boot:
        return boot
    run = os.environ.get("KAFKA_BROKER_RUN")
    if not run or not os.access(run, os.X_OK):
        fail("KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run "
             "(meson test sets it), or set KAFKA_BOOTSTRAP")
    argv = [run, "--timeout", str(timeout), "--name", name]
    for s in settings:
        argv += ["--set", s]
    os.execv(run, argv + ["--", sys.executable, os.path.abspath(script)] +
             list(args))


def data_dir():
    """The broker's data directory (kafka_broker_run sets it)."""
    d = os.environ.get("SLUICE_DATA_DIR")
    if not d:
        fail("SLUICE_DATA_DIR is not set (kafka_broker_run sets it)")
    return d
