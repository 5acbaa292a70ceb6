#!/usr/bin/env python3
"""Kafka ingest scenario: produce leads to `leads.inbound` at a fixed rate and
measure the end-to-end time to triage and lead-triage's consumer lag.

Each record is a plain JSON lead (one of the three forms lead-triage accepts)
with the workspace id in the body, a unique external id and a unique
`correlationid` header. Lead-triage carries the correlation id into its
`lead.triaged.v1` event on `leads.{hot,warm,nurture,cold,disqualified}`; this
tool reads those topics from their current end, so the end-to-end time of a
lead is (triage event received) - (its *scheduled* produce time): a producer
or broker that falls behind is charged for it (coordinated-omission
correction, as in loadgen). Once a second it samples the consumer lag of
lead-triage's group on `leads.inbound` (high watermark - committed offset)
and lead-triage's RSS and CPU.

Uses confluent-kafka (the client DESIGN.md §11 found working against tansu)
instead of a Rust producer in loadgen, so that the generator does not compile
librdkafka; psutil reads the service's /proc figures.
"""

import argparse
import json
import random
import sys
import threading
import time
from datetime import datetime, timezone

import numpy as np
import psutil
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

INBOUND = "leads.inbound"
TRIAGED = ["leads.hot", "leads.warm", "leads.nurture", "leads.cold", "leads.disqualified"]
TITLES = ["VP of Engineering", "CTO", "Marketing Manager", "Director of IT", "Software Engineer",
          "Head of Sales", "Student", "Founder & CEO"]
INDUSTRIES = ["software", "financial services", "retail", "healthcare", "marketing and advertising", "education"]
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "CA", "AU"]
SOURCES = ["demo_request", "webinar", "organic", "paid_search", "referral", "content", "social"]
DOMAINS = ["initech.com", "globex.io", "umbrella.co", "gmail.com", "hooli.xyz", "acme.org"]


def lead(workspace, run, i):
    rng = random.Random(run * 1_000_003 + i)
    return {
        "workspace_id": workspace,
        "external_id": f"kafka-{run}-{i}",
        "email": f"kafka{run}x{i}@{rng.choice(DOMAINS)}",
        "name": f"Kafka Lead {i}",
        "title": rng.choice(TITLES),
        "company_size": rng.randrange(1, 20_000),
        "industry": rng.choice(INDUSTRIES),
        "country": rng.choice(COUNTRIES),
        "source": rng.choice(SOURCES),
        "phone": f"+1415{rng.randrange(10_000_000):07d}",
        "consent": {"email": True, "sms": rng.random() < 0.5},
    }


def correlation_id(msg):
    """The correlation id of a triage event: the CloudEvents extension header
    (binary mode), else the event body's `correlation_id` (also inside `data`
    for structured mode)."""
    for k, v in msg.headers() or []:
        if k in ("ce_correlationid", "correlationid") and v:
            return v.decode("utf-8", "replace")
    try:
        body = json.loads(msg.value())
    except (TypeError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    return body.get("correlation_id") or data.get("correlation_id") or ""


def pct(values):
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    a = np.asarray(values)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--workspace", required=True, help="workspace id of the leads (DEMO_WORKSPACE_ID)")
    ap.add_argument("--rate", type=float, required=True, help="records per second")
    ap.add_argument("--duration", type=int, required=True, help="seconds of producing")
    ap.add_argument("--drain", type=int, default=60, help="seconds to wait for the last triage events")
    ap.add_argument("--group", default="lead-triage", help="lead-triage's consumer group")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--watch", action="append", default=[], help="NAME=PID to sample (repeatable)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = args.seed
    prefix = f"lt-{run}-"

    common = {"bootstrap.servers": args.bootstrap, "socket.timeout.ms": 30000}
    reader = Consumer({**common, "group.id": f"loadtest-reader-{run}", "enable.auto.commit": False})
    lagger = Consumer({**common, "group.id": args.group, "enable.auto.commit": False})
    md = reader.list_topics(timeout=15)
    missing = [t for t in [INBOUND, *TRIAGED] if t not in md.topics or md.topics[t].error is not None]
    if missing:
        sys.exit(f"kafka-ingest: topics missing on {args.bootstrap}: {', '.join(missing)} (scripts/stack up --backing)")
    inbound_parts = [TopicPartition(INBOUND, p) for p in sorted(md.topics[INBOUND].partitions)]
    start_at = []
    for t in TRIAGED:
        for p in sorted(md.topics[t].partitions):
            _, hi = reader.get_watermark_offsets(TopicPartition(t, p), timeout=15)
            start_at.append(TopicPartition(t, p, hi if hi >= 0 else OFFSET_BEGINNING))
    reader.assign(start_at)

    scheduled = {}
    received = {}
    delivery_errors = []
    stop = threading.Event()
    lock = threading.Lock()

    def consume():
        while not stop.is_set():
            msg = reader.poll(0.2)
            if msg is None or msg.error():
                continue
            now = time.monotonic()
            cid = correlation_id(msg)
            if isinstance(cid, str) and cid.startswith(prefix):
                with lock:
                    received.setdefault(cid, (now, msg.topic()))

    lag_samples = []
    watched = []
    for w in args.watch:
        name, pid = w.split("=", 1)
        try:
            watched.append((name, psutil.Process(int(pid))))
        except psutil.Error as e:
            sys.exit(f"kafka-ingest: cannot watch {w}: {e}")
    watched.append(("kafka-ingest", psutil.Process()))
    usage = {name: {"pid": p.pid, "samples": []} for name, p in watched}
    for _, p in watched:
        p.cpu_percent(None)

    def lag_now():
        committed = lagger.committed(inbound_parts, timeout=10)
        total = 0
        for tp in committed:
            lo, hi = lagger.get_watermark_offsets(TopicPartition(INBOUND, tp.partition), timeout=10, cached=False)
            total += hi - (tp.offset if tp.offset >= 0 else lo)
        return total

    t0 = time.monotonic()

    def sample():
        while not stop.wait(1.0):
            t = time.monotonic() - t0
            try:
                lag_samples.append((t, lag_now()))
            except KafkaException as e:
                lag_samples.append((t, None))
                print(f"kafka-ingest: lag sample failed: {e}", file=sys.stderr)
            for name, p in watched:
                try:
                    usage[name]["samples"].append(
                        {"t": t, "rss_mib": p.memory_info().rss / 2**20, "cpu_percent": p.cpu_percent(None)})
                except psutil.Error as e:
                    usage[name]["error"] = str(e)

    threads = [threading.Thread(target=consume, daemon=True), threading.Thread(target=sample, daemon=True)]
    for th in threads:
        th.start()
    initial_lag = lag_now()

    producer = Producer({**common, "acks": "all", "linger.ms": 5, "compression.type": "lz4",
                         "enable.idempotence": False})

    def delivered(err, _msg):
        if err is not None:
            delivery_errors.append(str(err))

    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    total = int(args.rate * args.duration)
    start = time.monotonic()
    t0 = start
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        cid = f"{prefix}{i}"
        body = lead(args.workspace, run, i)
        scheduled[cid] = due
        producer.produce(INBOUND, key=f'{args.workspace}:{body["external_id"]}', value=json.dumps(body),
                         headers=[("correlationid", cid)], on_delivery=delivered)
        producer.poll(0)
    producer.flush(60)
    produce_s = time.monotonic() - start

    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        with lock:
            if len(received) >= total:
                break
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join(timeout=15)
    final_lag = lag_now()
    elapsed = time.monotonic() - start

    with lock:
        got = dict(received)
    e2e = {cid: (at - scheduled[cid]) * 1000 for cid, (at, _) in got.items() if cid in scheduled}
    per_topic = {}
    for _, topic in got.values():
        per_topic[topic] = per_topic.get(topic, 0) + 1
    seconds = max(args.duration, int(elapsed) + 1)
    ts = []
    by_sched = [[] for _ in range(seconds)]
    done_per_s = [0] * seconds
    for cid, ms in e2e.items():
        s = int(scheduled[cid] - start)
        if 0 <= s < seconds:
            by_sched[s].append(ms)
        d = int(got[cid][0] - start)
        if 0 <= d < seconds:
            done_per_s[d] += 1
    lag_by_s = {}
    for t, lag in lag_samples:
        lag_by_s[int(t)] = lag
    for s in range(seconds):
        p = pct(by_sched[s])
        ts.append({
            "t": s,
            "target_rate": args.rate if s < args.duration else 0,
            "scheduled": int(args.rate) if s < args.duration else 0,
            "completed": done_per_s[s],
            "errors": 0,
            "p50_ms": p["p50"], "p95_ms": p["p95"], "p99_ms": p["p99"], "max_ms": p["max"],
            "lag": lag_by_s.get(s),
        })
    services = {}
    for name, u in usage.items():
        samples = u["samples"]
        rss = [s["rss_mib"] for s in samples] or [0.0]
        cpu = [s["cpu_percent"] for s in samples] or [0.0]
        services[name] = {
            "pid": u["pid"], "rss_mib_start": rss[0], "rss_mib_end": rss[-1], "rss_mib_peak": max(rss),
            "rss_growth_mib": rss[-1] - rss[0], "cpu_percent_avg": sum(cpu) / len(cpu),
            "cpu_percent_peak": max(cpu), "samples": samples, **({"error": u["error"]} if "error" in u else {}),
        }
    not_triaged = total - len(e2e)
    last_triage = max((at for at, _ in got.values()), default=start)
    lags = [lag for _, lag in lag_samples if lag is not None]
    report = {
        "scenario": "kafka-ingest",
        "mode": "open",
        "profile": {"shape": "steady", "rate": args.rate},
        "target_rate": args.rate,
        "peak_rate": args.rate,
        "duration_s": float(args.duration),
        "produce_and_flush_s": produce_s,
        "elapsed_s": elapsed,
        "started_at": started_at,
        "command": " ".join(sys.argv),
        "requests": total,
        # triage throughput: leads triaged per second from the first produce to the last triage event
        "achieved_rate": len(e2e) / max(last_triage - start, 1e-9) if e2e else 0.0,
        "errors": len(delivery_errors) + not_triaged,
        "latency_ms": pct(list(e2e.values())),
        "kafka": {
            "bootstrap": args.bootstrap,
            "group": args.group,
            "produced": total,
            "delivery_errors": len(delivery_errors),
            "first_delivery_error": delivery_errors[0] if delivery_errors else None,
            "triaged": len(e2e),
            "not_triaged_after_drain": not_triaged,
            "triaged_by_topic": per_topic,
            "lag_before": initial_lag,
            "max_lag": max(lags) if lags else None,
            "final_lag": final_lag,
            "drain_s": args.drain,
        },
        "timeseries": ts,
        "services": services,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    lat = report["latency_ms"]
    print(f'kafka-ingest: produced {total} at {args.rate}/s, triaged {len(e2e)}, '
          f'e2e p50 {lat["p50"]} p95 {lat["p95"]} p99 {lat["p99"]} ms, max lag {report["kafka"]["max_lag"]}, '
          f'{report["errors"]} errors -> {args.out}')
    reader.close()
    lagger.close()


if __name__ == "__main__":
    main()
