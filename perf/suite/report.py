#!/usr/bin/env python3
"""The suite's report (perf/suite/run.sh calls it): reads each run's JSON
line (runs.jsonl) and the limits, writes results.json (every figure),
results.md (the table: workload x system with the ratios to the best peer
and to the limits) and the data files the gnuplot scripts plot
(throughput.dat, latency-N.dat, plot.gpvars)."""
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
PEERS_EXCLUDED = ("sluice", "kafka")  # sluice itself, not a peer
ORDER = ["sluice", "kafka", "redis-always", "redis-everysec", "nats",
         "rabbitmq", "mqtt"]
NAMES = {"sluice": "sluice", "kafka": "sluice (Kafka listener)",
         "redis-always": "Redis Streams (always)",
         "redis-everysec": "Redis Streams (everysec)",
         "nats": "NATS JetStream", "rabbitmq": "RabbitMQ quorum",
         "mqtt": "Mosquitto QoS 1"}


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
    a = ap.parse_args()
    limits = json.load(open(a.limits))
    runs = [json.loads(l) for l in open(a.runs) if l.strip()]
    fio = limits["fio_seq_write_mb_per_s"]
    lo = limits["tcp_loopback_mb_per_s"]
    sync50 = limits["fio_fdatasync_4k_p50_us"]
    ok = [r for r in runs if not r["run"].get("error") and "pub_msgs_per_s" in r["run"]]
    systems = [s for s in ORDER if any(r["name"] == s for r in runs)]
    doc = {"command": a.command, "commit": a.commit, "machine": machine(),
           "date": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"],
                                  capture_output=True, text=True).stdout.strip(),
           "mode": a.mode, "elapsed_s": int(a.elapsed), "limits": limits,
           "versions": versions(),
           "durability": {s: DURABILITY[s] for s in systems}, "runs": runs}
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
    md.append("### Durability of each system in these runs\n")
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


def wl_label(k, short=False):
    p, size, n, c = k
    sz = "1 KiB" if size == 1024 else f"{size} B"
    if short:
        return f"{p}p {sz} {n}P/{c}C"
    return f"{p} partition{'s' if p > 1 else ''}, {sz}, {n}P/{c}C"


if __name__ == "__main__":
    main()
