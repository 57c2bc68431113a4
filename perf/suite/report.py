#!/usr/bin/env python3
"""The suite's report (perf/suite/run.sh calls it): reads each run's JSON
line (runs.jsonl) and the limits, writes results.json (every figure),
results.md (the log workloads' table: workload x system with the ratios to
the best peer and to the limits; the queue workload's tables: sluice beside
RabbitMQ quorum and classic queues, with the ratios) and, when log
workloads ran, the data files the gnuplot scripts plot (throughput.dat,
latency-N.dat, plot.gpvars)."""
import argparse
import json
import os
import platform
import subprocess

# What each system's ack means for durability, in the runs of this suite.
DURABILITY = {
    "sluice": "fdatasync before every ack (topic durability every_append, "
              "acks=all; appends that arrive during a sync share the next one)",
    "kafka": "the same broker and topics as sluice, through its Kafka listener "
             "(librdkafka, acks=all): fdatasync before every ack",
    "redis-always": "appendonly yes, appendfsync always: the AOF is fsync'ed "
                    "before replies are sent, once per event-loop iteration",
    "redis-everysec": "appendonly yes, appendfsync everysec: the AOF is "
                      "fsync'ed once a second; acks do not wait for it",
    "nats": "JetStream file storage: acks once written to the file store; the "
            "server syncs to disk on its sync interval (2 minutes by default "
            "in nats-server 2.9), not per message",
    "rabbitmq": "quorum queues (one node), publisher confirms: a confirm is "
                "sent once the Raft log (WAL) holding the message is fsync'ed; "
                "the WAL batches fsyncs across writes",
    "mqtt": "Mosquitto, QoS 1, persistence on: PUBACK once the broker holds "
            "the message in memory; the persistence file is written every "
            "autosave_interval (30 s here) and at shutdown, not per message",
}
# The queue workload: what a publish ack and a consumer's ack mean.
QUEUE_DURABILITY = {
    "sluice": "publish: libsluice's sl_producer, acks=all, topic durability "
              "every_append (fdatasync before the ack); consume: sl_queue "
              "(QUEUE_RECEIVE) and one sl_queue_ack_async(SL_ACK_ACCEPT) per "
              "message: queued, and sent in one QUEUE_ACK ahead of the "
              "consumer's next QUEUE_RECEIVE; sluice-control writes them to "
              "its share state file and fdatasyncs it (with the receive's "
              "acquisitions, one fdatasync for a turn of its loop) before it "
              "answers that receive; the last ones are flushed at the end",
    "rabbitmq": "publish: persistent messages to a durable quorum queue (one "
                "node), publisher confirms, at most 4,096 unconfirmed: a "
                "confirm once the Raft WAL holding the message is fsync'ed "
                "(batched across writes); consume: basic.qos prefetch, one "
                "basic.ack per message, which AMQP does not answer (the call "
                "returns once the frame is written; the queue applies it "
                "through its Raft log afterwards)",
    "rabbitmq-classic": "publish: persistent messages to a durable classic "
                        "queue, publisher confirms, at most 4,096 "
                        "unconfirmed: a confirm once the message store has "
                        "the message on disk (fsync'ed in batches), or once "
                        "a consumer has acknowledged it if that comes first; "
                        "consume: basic.qos prefetch, one basic.ack per "
                        "message, not answered",
}
PEERS_EXCLUDED = ("sluice", "kafka")  # sluice itself, not a peer
ORDER = ["sluice", "kafka", "redis-always", "redis-everysec", "nats",
         "rabbitmq", "rabbitmq-classic", "mqtt"]
NAMES = {"sluice": "sluice", "kafka": "sluice (Kafka listener)",
         "redis-always": "Redis Streams (always)",
         "redis-everysec": "Redis Streams (everysec)",
         "nats": "NATS JetStream", "rabbitmq": "RabbitMQ quorum",
         "rabbitmq-classic": "RabbitMQ classic", "mqtt": "Mosquitto QoS 1"}
QUEUE_ROWS = ["sluice", "rabbitmq", "rabbitmq-classic"]
LOG_LABELS = ("max", "rate", "start")


def wkey(r):
    return (r["partitions"], r["size"], r["producers"], r["consumers"])


def lat(us):
    if us is None:
        return "—"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1e6:
        return f"{us / 1000:.1f} ms"
    return f"{us / 1e6:.2f} s"


def ratio(x):
    return "—" if x is None else (f"{x:.2f}" if x < 100 else f"{x:.0f}")


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) / 1048576
    return (f"{platform.node()}, Linux {platform.release()}, {cpu}, "
            f"{os.cpu_count()} CPUs, {mem:.0f} GiB")


def versions():
    out = {}
    for pkg in ["redis-server", "nats-server", "rabbitmq-server", "mosquitto",
                "librdkafka1", "libhiredis0.14", "libnats3.4",
                "librabbitmq4", "libmosquitto1", "fio"]:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True).stdout.strip()
        if v:
            out[pkg] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    for a in ["runs", "limits", "out", "command", "commit", "mode", "elapsed"]:
        ap.add_argument("--" + a, required=True)
    # the run's date when a report is made again from its raw/runs.jsonl
    ap.add_argument("--date")
    a = ap.parse_args()
    limits = json.load(open(a.limits))
    runs = [json.loads(l) for l in open(a.runs) if l.strip()]
    fio = limits["fio_seq_write_mb_per_s"]
    lo = limits["tcp_loopback_mb_per_s"]
    sync50 = limits["fio_fdatasync_4k_p50_us"]
    qruns = [r for r in runs if r["label"].startswith("queue-")
             or (r["label"] == "start" and r["name"] in QUEUE_ROWS)]
    runs_all, runs = runs, [r for r in runs if r["label"] in LOG_LABELS]
    ok = [r for r in runs if not r["run"].get("error") and "pub_msgs_per_s" in r["run"]]
    systems = [s for s in ORDER if any(r["name"] == s for r in runs)]
    qsystems = [s for s in QUEUE_ROWS if any(r["name"] == s for r in qruns)]
    doc = {"command": a.command, "commit": a.commit, "machine": machine(),
           "date": a.date or subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"],
                                            capture_output=True, text=True).stdout.strip(),
           "mode": a.mode, "elapsed_s": int(a.elapsed), "limits": limits,
           "versions": versions(),
           "durability": {s: DURABILITY[s] for s in systems},
           "queue_durability": {s: QUEUE_DURABILITY[s] for s in qsystems},
           "runs": runs_all}
    json.dump(doc, open(os.path.join(a.out, "results.json"), "w"), indent=1)

    keys = sorted({wkey(r["run"]) for r in ok})
    md = []
    md.append(f"command: `{a.command}`  ")
    md.append(f"commit: {a.commit}  ")
    md.append(f"machine: {doc['machine']}  ")
    md.append(f"date: {doc['date']}, {a.mode} mode, {a.elapsed} s in all\n")
    md.append(f"Limits in the same run: fio sequential O_DIRECT write "
              f"**{fio:,.0f} MB/s**; fdatasync after a 4 KiB write p50 "
              f"**{sync50:.0f} µs** (p99 {limits['fio_fdatasync_4k_p99_us']:.0f} µs); "
              f"loopback TCP **{lo:,.0f} MB/s**; memcpy "
              f"**{limits['memcpy_mb_per_s']:,.0f} MB/s**.\n")
    if not runs:  # the queue workload alone
        md += queue_tables(qruns, qsystems, limits)
        md.append("Versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()) + ".\n")
        open(os.path.join(a.out, "results.md"), "w").write("\n".join(md) + "\n")
        return
    md.append("### Max throughput\n")
    md.append("÷ best peer: MB/s over the best peer's (Redis, NATS, RabbitMQ, "
              "Mosquitto) in the same workload; ÷ fio and ÷ loopback: MB/s over "
              "the limits above. Latencies at max throughput are mostly queueing.\n")
    md.append("| workload | system | msgs/s | MB/s | ÷ best peer | ÷ fio | ÷ loopback "
              "| ack p50 | ack p99 | e2e p50 | e2e p99 | consumed |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    thr = {}
    for k in keys:
        rows = {r["name"]: r["run"] for r in ok if r["label"] == "max" and wkey(r["run"]) == k}
        peers = [v["pub_mb_per_s"] for n, v in rows.items() if n not in PEERS_EXCLUDED]
        best = max(peers) if peers else None
        for s in systems:
            v = rows.get(s)
            if not v:
                err = next((r["run"].get("error") for r in runs if r["name"] == s
                            and r["label"] in ("max", "start")
                            and (r["label"] == "start" or wkey(r["run"]) == k)), None) \
                    if any(r["name"] == s for r in runs) else None
                md.append(f"| {wl_label(k)} | {NAMES[s]} | failed: {err or 'no result'} "
                          "| | | | | | | | | |")
                continue
            mb = v["pub_mb_per_s"]
            thr.setdefault(k, {})[s] = v
            md.append(f"| {wl_label(k)} | {NAMES[s]} | {v['pub_msgs_per_s']:,.0f} | "
                      f"{mb:,.1f} | {ratio(mb / best) if best else '—'} | "
                      f"{mb / fio:.3f} | {mb / lo:.3f} | {lat(v['ack']['p50_us'])} | "
                      f"{lat(v['ack']['p99_us'])} | {lat(v['e2e']['p50_us'])} | "
                      f"{lat(v['e2e']['p99_us'])} | {v['consumed_of_acked'] * 100:.0f}% |")
    md.append("")
    md.append("### Fixed rate: 50% of each system's own max\n")
    md.append("Latencies count from each message's due time on the producer's "
              "schedule (corrected for coordinated omission). ÷ best peer: e2e "
              "p99 over the best (lowest) peer's; ack p50 ÷ fdatasync: over "
              "fio's fdatasync p50.\n")
    md.append("| workload | system | msgs/s | ack p50 | ack p99 | ack p99.9 | ack max "
              "| e2e p50 | e2e p99 | e2e p99.9 | e2e max | e2e p99 ÷ best peer "
              "| ack p50 ÷ fdatasync |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    latw = []
    for k in keys:
        rows = {r["name"]: r["run"] for r in ok if r["label"] == "rate" and wkey(r["run"]) == k}
        if not rows:
            continue
        latw.append((k, rows))
        peers = [v["e2e"]["p99_us"] for n, v in rows.items()
                 if n not in PEERS_EXCLUDED and v["e2e"]["count"]]
        best = min(peers) if peers else None
        for s in systems:
            v = rows.get(s)
            if not v:
                continue
            a_, e = v["ack"], v["e2e"]
            md.append(f"| {wl_label(k)} | {NAMES[s]} | {v['pub_msgs_per_s']:,.0f} | "
                      f"{lat(a_['p50_us'])} | {lat(a_['p99_us'])} | {lat(a_['p999_us'])} | "
                      f"{lat(a_['max_us'])} | {lat(e['p50_us'])} | {lat(e['p99_us'])} | "
                      f"{lat(e['p999_us'])} | {lat(e['max_us'])} | "
                      f"{ratio(e['p99_us'] / best) if best and e['count'] else '—'} | "
                      f"{ratio(a_['p50_us'] / sync50)} |")
    md.append("")
    if qruns:
        md += queue_tables(qruns, qsystems, limits)
    md.append("### Durability of each system in the log workloads' runs\n"
              if qruns else "### Durability of each system in these runs\n")
    for s in systems:
        md.append(f"- **{NAMES[s]}**: {DURABILITY[s]}.")
    md.append("")
    md.append("Versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()) + ".\n")
    md.append("Plots: [throughput](throughput.png)" +
              "".join(f", [latency {wl_label(k)}](latency-{i + 1}.png)"
                      for i, (k, _) in enumerate(latw)) + ".")
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(md) + "\n")

    # gnuplot data: throughput bars (workloads x systems, MB/s)
    with open(os.path.join(a.out, "throughput.dat"), "w") as f:
        f.write("workload " + " ".join(f'"{NAMES[s]}"' for s in systems) + "\n")
        for k in keys:
            f.write(f'"{wl_label(k, short=True)}" ' + " ".join(
                f"{thr[k][s]['pub_mb_per_s']:.3f}" if s in thr.get(k, {}) else "NaN"
                for s in systems) + "\n")
    # latency curves: one file per fixed-rate workload, one block per system
    names = []
    for i, (k, rows) in enumerate(latw):
        present = [s for s in systems if s in rows and rows[s]["e2e"]["count"]]
        with open(os.path.join(a.out, f"latency-{i + 1}.dat"), "w") as f:
            for s in present:
                f.write(f'"{NAMES[s]}"\n')
                for (pa, ack_us), (pe, e2e_us) in zip(rows[s]["ack"]["curve"],
                                                       rows[s]["e2e"]["curve"]):
                    x = 1e5 if pa >= 100 else 100.0 / (100.0 - pa)
                    f.write(f"{x:.6g} {ack_us / 1000:.4f} {e2e_us / 1000:.4f}\n")
                f.write("\n\n")
        names.append((wl_label(k), len(present),
                      rows[present[0]]["target_rate"] if present else 0))
    with open(os.path.join(a.out, "plot.gpvars"), "w") as f:
        f.write(f"nsys = {len(systems)}\nnlat = {len(latw)}\n")
        f.write(f"fio_mb = {fio:.1f}\nlo_mb = {lo:.1f}\nsync50_ms = {sync50 / 1000:.4f}\n")
        f.write(f"array lat_title[{max(1, len(latw))}]\narray lat_n[{max(1, len(latw))}]\n")
        for i, (t, n, _) in enumerate(names):
            f.write(f'lat_title[{i + 1}] = "{t}"\nlat_n[{i + 1}] = {n}\n')


def queue_tables(qruns, qsystems, limits):
    """The queue workload's section of results.md: the drain and the
    fixed-rate runs, sluice beside RabbitMQ quorum and classic, with the
    ratios sluice / RabbitMQ, then every figure of every run."""
    md = []
    res = {}  # (label, consumers) -> name -> run
    failed = {}  # name -> why (did not start)
    for r in qruns:
        v = r["run"]
        if r["label"] == "start":
            failed[r["name"]] = v.get("error") or "did not start"
            continue
        if "msgs_per_s" not in v:
            failed.setdefault(r["name"], v.get("error") or "no result")
            continue
        res.setdefault((r["label"], v["consumers"]), {})[r["name"]] = v
    any_run = next((v for rows in res.values() for v in rows.values()), None)
    if not any_run:
        md.append("### Queue: competing consumers, one ack per message\n")
        md.append("No result: " + "; ".join(f"{NAMES[n]}: {w}" for n, w in failed.items()) + "\n")
        return md
    drain = next((v for (l, _), rows in res.items() if l == "queue-drain"
                  for v in rows.values()), None)
    rate = next((v for (l, _), rows in res.items() if l == "queue-rate"
                 for v in rows.values()), None)
    sync50 = limits["fio_fdatasync_4k_p50_us"]
    md.append("### Queue: competing consumers, one ack per message\n")
    md.append(f"{any_run['size']:,} B messages, {any_run['producers']} producer, "
              f"prefetch {any_run['prefetch']} per consumer; every message "
              "received and acknowledged by one call of its own (accept; no "
              "cumulative ack; the client may carry several in one request: "
              "sluice's queued answers go with the next receive, AMQP's "
              "basic.ack is not answered). "
              + (f"**Drain**: {drain['messages']:,} messages published first "
                 "(every publish acknowledged), then worked off. " if drain else "")
              + (f"**Fixed rate**: {rate['messages']:,} messages published at "
                 f"{rate['target_rate']:,.0f} msgs/s while the consumers work "
                 "(latency from each message's due time). " if rate else "")
              + "msgs/s: messages acknowledged over the time from the first "
              "publish to the last acknowledgement; e2e: from the stamp in the "
              "payload to the consumer's receipt (first deliveries). One "
              f"fdatasync after another (p50 {sync50:.0f} µs in this run) "
              f"allows {1e6 / sync50:,.0f} per second.\n")

    def ratio_cell(x, y):
        return ratio(x / y) if x is not None and y else "—"

    def cell(rows, name, f):
        v = rows.get(name)
        if v:
            return f(v)
        return "failed" if name in failed else "—"

    peers = [n for n in ("rabbitmq", "rabbitmq-classic") if n in qsystems]
    head = "| consumers | " + " | ".join(NAMES[n] for n in qsystems) + " | " + \
        " | ".join(f"sluice ÷ {NAMES[n]}" for n in peers if "sluice" in qsystems) + " |"
    ncols = len(qsystems) + (len(peers) if "sluice" in qsystems else 0)
    sep = "|---|" + "---:|" * ncols
    for label, title, note in (
            ("queue-drain", "Drain: msgs/s from the first publish to the last ack "
             "(in brackets: from the consumers' start)",
             "higher is better; ÷: sluice's msgs/s over RabbitMQ's. The whole "
             "run includes publishing every message with its ack; the "
             "figure in brackets is the consumers' alone"),
            ("queue-rate", "Fixed rate: e2e latency p50 / p99 / p99.9",
             "lower is better; ÷: sluice's e2e p99 over RabbitMQ's (above 1: "
             "sluice is slower)")):
        keys = sorted(k for k in res if k[0] == label)
        if not keys:
            continue
        md.append(f"#### {title}\n")
        md.append(f"({note}.)\n")
        md.append(head)
        md.append(sep)
        for k in keys:
            rows = res[k]
            if label == "queue-drain":
                cells = [cell(rows, n, lambda v: f"{v['msgs_per_s']:,.0f} "
                              f"({v['consume_msgs_per_s']:,.0f})") for n in qsystems]
                rat = [f"{ratio_cell(rows['sluice']['msgs_per_s'] if 'sluice' in rows else None, rows[n]['msgs_per_s'] if n in rows else None)} "
                       f"({ratio_cell(rows['sluice']['consume_msgs_per_s'] if 'sluice' in rows else None, rows[n]['consume_msgs_per_s'] if n in rows else None)})"
                       for n in peers]
            else:
                cells = [cell(rows, n, lambda v: f"{lat(v['e2e']['p50_us'])} / "
                              f"{lat(v['e2e']['p99_us'])} / {lat(v['e2e']['p999_us'])}")
                         for n in qsystems]
                rat = [ratio_cell(rows["sluice"]["e2e"]["p99_us"] if "sluice" in rows else None,
                                  rows[n]["e2e"]["p99_us"] if n in rows else None)
                       for n in peers]
            md.append(f"| {k[1]} | " + " | ".join(cells) +
                      (" | " + " | ".join(rat) if "sluice" in qsystems and peers else "") + " |")
        md.append("")
    md.append("#### Every queue run\n")
    md.append("msgs/s (consumers): from when there was something to take (the "
              "consumers' start in drain mode) to the last ack. ack call: the "
              "time one acknowledgement call took. acked: unique messages "
              "acknowledged of those published; redelivered, duplicates "
              "(acknowledged twice), missing (never acknowledged).\n")
    md.append("| mode | consumers | system | msgs/s | msgs/s (consumers) | publish "
              "msgs/s | publish ack p50 | e2e p50 | e2e p99 | e2e p99.9 | e2e max "
              "| ack call p50 | ack call p99 | acked | redelivered | duplicates "
              "| missing |")
    md.append("|---|---:|---|" + "---:|" * 14)
    notes = []
    for k in sorted(res):
        mode = "drain" if k[0] == "queue-drain" else \
            f"{next(iter(res[k].values()))['target_rate']:,.0f} msgs/s"
        for n in qsystems:
            v = res[k].get(n)
            if not v:
                continue
            e, c = v["e2e"], v["ack_call"]
            md.append(f"| {mode} | {k[1]} | {NAMES[n]} | {v['msgs_per_s']:,.0f} | "
                      f"{v['consume_msgs_per_s']:,.0f} | {v['pub_msgs_per_s']:,.0f} | "
                      f"{lat(v['pub_ack']['p50_us'])} | {lat(e['p50_us'])} | "
                      f"{lat(e['p99_us'])} | {lat(e['p999_us'])} | {lat(e['max_us'])} | "
                      f"{lat(c['p50_us'])} | {lat(c['p99_us'])} | "
                      f"{v['unique']:,}/{v['published']:,} | {v['redelivered']:,} | "
                      f"{v['duplicates']:,} | {v['missing']:,} |")
            if v.get("error"):
                notes.append(f"{NAMES[n]}, {mode}, {k[1]} consumers: {v['error']}")
    md.append("")
    for n, why in failed.items():
        notes.append(f"{NAMES[n]}: {why}")
    if notes:
        md.append("Errors: " + "; ".join(notes) + ".\n")
    md.append("Durability in the queue runs:\n")
    for n in qsystems:
        md.append(f"- **{NAMES[n]}**: {QUEUE_DURABILITY[n]}.")
    md.append("")
    return md


def wl_label(k, short=False):
    p, size, n, c = k
    sz = "1 KiB" if size == 1024 else f"{size} B"
    if short:
        return f"{p}p {sz} {n}P/{c}C"
    return f"{p} partition{'s' if p > 1 else ''}, {sz}, {n}P/{c}C"


if __name__ == "__main__":
    main()
