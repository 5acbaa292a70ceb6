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

With --plan-every N (default 50) it also measures "lead accepted -> engagement
planned" (docs/architecture.md §10: p95 <= 1 s): for every Nth lead triaged hot, warm or
nurture it polls engagement's GET /v1/leads/{id}/context every 100 ms until
the lead has a current step or a recent message, and takes the time from the
lead's scheduled produce time. Setup creates a campaign targeting those
categories through POST /v1/campaigns (a missing endpoint fails the run).

Uses confluent-kafka (an idempotent producer with acks=all, as an external
system would produce) instead of a Rust producer in loadgen, so that the
generator does not compile librdkafka; psutil reads the service's /proc figures.
"""

import argparse
import http.client
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

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


PLANNED_TOPICS = {"leads.hot", "leads.warm", "leads.nurture"}


class Api:
    """A keep-alive HTTP/1.1 client of one service (stdlib only)."""

    def __init__(self, base, key):
        u = urlsplit(base)
        self.host, self.port, self.key = u.hostname, u.port or 80, key
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                headers = {"Authorization": f"Bearer {self.key}"}
                data = None
                if body is not None:
                    data = json.dumps(body).encode()
                    headers["Content-Type"] = "application/json"
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                return resp.status, text
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def default_campaign(run):
    return {
        "name": f"kafka-ingest {run}",
        "target_categories": ["hot", "warm", "nurture"],
        "objective": "click",
        "ladder": [{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 86400}],
        "daily_budget_micros": 1_000_000_000_000,
        "channel_costs": {"email": 1000, "sms": 20000, "phone": 150000},
        "min_share": 0.05,
        "warmup_sends": 100,
        "variants": [
            {"name": "A", "content": {
                "email": {"subject": "{{ first_name | default(\"there\") }}, a quick question",
                          "body": "Hi {{ name }}, teams like yours cut lead response time in half."},
                "sms": {"body": "Hi {{ name }}, can we help with lead response times?"}}},
            {"name": "B", "content": {
                "email": {"subject": "Respond to every lead in minutes",
                          "body": "Hello {{ name }}, here is a two-minute demo."},
                "sms": {"body": "{{ name }}: a two-minute demo? Reply YES."}}},
        ],
    }


def wait_for_engagement(campaign_id, timeout=60.0):
    """Engagement learns of a campaign from campaigns.definitions (its own copy,
    engagement_campaigns); leads triaged before that are not planned under it."""
    url = os.environ.get("SUITE__DATABASE__URL", "postgres://postgres@127.0.0.1:5432/suite")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out = subprocess.run(
                ["psql", url, "-Atc", f"SELECT 1 FROM engagement_campaigns WHERE id = '{campaign_id}'"],
                capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            time.sleep(5)
            return
        if out == "1":
            return
        time.sleep(0.2)
    sys.exit(f"kafka-ingest: setup: engagement did not learn of campaign {campaign_id} within {timeout:.0f} s")


def watch(specs, own):
    """The processes to sample: NAME=PID for each of `specs`, then this
    process (the tool) as `own`; and the usage record their samples go to."""
    watched = []
    for w in specs:
        name, pid = w.split("=", 1)
        try:
            watched.append((name, psutil.Process(int(pid))))
        except psutil.Error as e:
            sys.exit(f"{own}: cannot watch {w}: {e}")
    watched.append((own, psutil.Process()))
    usage = {name: {"pid": p.pid, "samples": []} for name, p in watched}
    for _, p in watched:
        p.cpu_percent(None)
    return watched, usage


def sample_usage(watched, usage, t):
    """One RSS and CPU sample of every watched process, at `t` seconds."""
    for name, p in watched:
        try:
            usage[name]["samples"].append(
                {"t": t, "rss_mib": p.memory_info().rss / 2**20, "cpu_percent": p.cpu_percent(None)})
        except psutil.Error as e:
            usage[name]["error"] = str(e)


def usage_summary(usage):
    """Per process: its samples, RSS at start, end and peak, its growth, and average and peak CPU."""
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
    return services


def group_lag(consumer, parts):
    """Records on `parts` not yet committed by `consumer`'s group (high watermark - committed)."""
    committed = consumer.committed(parts, timeout=10)
    total = 0
    for tp in committed:
        lo, hi = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10, cached=False)
        total += hi - (tp.offset if tp.offset >= 0 else lo)
    return total


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
    ap.add_argument("--fetch-wait-ms", type=int, default=500,
                    help="the reader's fetch.wait.max.ms (as the services' SUITE__KAFKA__FETCH_WAIT_MAX_MS)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--watch", action="append", default=[], help="NAME=PID to sample (repeatable)")
    ap.add_argument("--engagement-url", default="http://127.0.0.1:8082")
    ap.add_argument("--optimization-url", default="http://127.0.0.1:8083")
    ap.add_argument("--api-key", default="", help="API key (DEMO_API_KEY) for the plan probe")
    ap.add_argument("--plan-every", type=int, default=50, help="probe the plan of every Nth lead (0: off)")
    ap.add_argument("--plan-timeout", type=float, default=30.0, help="seconds to wait for a plan")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = args.seed
    prefix = f"lt-{run}-"

    common = {"bootstrap.servers": args.bootstrap, "socket.timeout.ms": 30000}
    # The reader's own hop is part of "produce -> triaged": fetch like the services do
    # (SUITE__KAFKA__FETCH_WAIT_MAX_MS).
    reader = Consumer({**common, "group.id": f"loadtest-reader-{run}", "enable.auto.commit": False,
                       "fetch.wait.max.ms": args.fetch_wait_ms})
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

    campaign_id = None
    if args.plan_every > 0:
        status, text = Api(args.optimization_url, args.api_key).call("POST", "/v1/campaigns", default_campaign(run))
        if not 200 <= status < 300:
            sys.exit(f"kafka-ingest: setup: POST /v1/campaigns on campaign-optimization: HTTP {status}: {text[:600]}")
        campaign_id = json.loads(text).get("id")
        wait_for_engagement(campaign_id)
        status, text = Api(args.engagement_url, args.api_key).call(
            "GET", "/v1/leads/00000000-0000-7000-8000-000000000000/context")
        if status not in (200, 404) or (status == 404 and '"type"' not in text):
            sys.exit(f"kafka-ingest: setup: GET /v1/leads/{{id}}/context on engagement: HTTP {status}: {text[:600]}")
    plan_queue = queue.Queue()
    planned = {}
    not_planned = []
    enqueued = [0]

    def expected_plans():
        return enqueued[0]

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
                    first = cid not in received
                    received.setdefault(cid, (now, msg.topic()))
                seq = int(cid[len(prefix):])
                if first and args.plan_every > 0 and seq % args.plan_every == 0 and msg.topic() in PLANNED_TOPICS:
                    try:
                        lead_id = json.loads(msg.value()).get("lead_id")
                    except (TypeError, ValueError):
                        lead_id = None
                    if lead_id:
                        enqueued[0] += 1
                        plan_queue.put((cid, lead_id, now))

    lag_samples = []
    watched, usage = watch(args.watch, "kafka-ingest")

    def lag_now():
        return group_lag(lagger, inbound_parts)

    t0 = time.monotonic()

    def sample():
        while not stop.wait(1.0):
            t = time.monotonic() - t0
            try:
                lag_samples.append((t, lag_now()))
            except KafkaException as e:
                lag_samples.append((t, None))
                print(f"kafka-ingest: lag sample failed: {e}", file=sys.stderr)
            sample_usage(watched, usage, t)

    def probe_plans():
        api = Api(args.engagement_url, args.api_key)
        pending = []  # (cid, lead_id, seen_at)
        while not (stop.is_set() and not pending):
            try:
                while True:
                    pending.append(plan_queue.get_nowait())
            except queue.Empty:
                pass
            still = []
            for cid, lead_id, seen in pending:
                try:
                    status, text = api.call("GET", f"/v1/leads/{lead_id}/context")
                    ctx = json.loads(text) if status == 200 else {}
                except (OSError, http.client.HTTPException, ValueError):
                    ctx = {}
                now = time.monotonic()
                if ctx.get("current_step") or ctx.get("recent"):
                    planned[cid] = now
                elif now - seen > args.plan_timeout or stop.is_set():
                    not_planned.append(cid)
                else:
                    still.append((cid, lead_id, seen))
            pending = still
            time.sleep(0.1)

    threads = [threading.Thread(target=consume, daemon=True), threading.Thread(target=sample, daemon=True),
               threading.Thread(target=probe_plans, daemon=True)]
    for th in threads:
        th.start()
    initial_lag = lag_now()

    producer = Producer({**common, "acks": "all", "linger.ms": 5, "compression.type": "lz4",
                         "enable.idempotence": True})

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
    plan_deadline = time.monotonic() + (args.plan_timeout if args.plan_every > 0 else 0)
    while time.monotonic() < plan_deadline and (not plan_queue.empty() or
                                                 len(planned) + len(not_planned) < expected_plans()):
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join(timeout=max(15, args.plan_timeout))
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
    services = usage_summary(usage)
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
        "plan": {
            "what": "lead produced (scheduled) -> engagement context shows a current step or a message",
            "every": args.plan_every,
            "campaign_id": campaign_id,
            "probed": len(planned) + len(not_planned),
            "planned": len(planned),
            "not_planned_within_timeout": len(not_planned),
            "latency_ms": pct([(at - scheduled[cid]) * 1000 for cid, at in planned.items()]),
        },
        "timeseries": ts,
        "services": services,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    lat = report["latency_ms"]
    print(f'kafka-ingest: produced {total} at {args.rate}/s, triaged {len(e2e)}, '
          f'e2e p50 {lat["p50"]} p95 {lat["p95"]} p99 {lat["p99"]} ms, max lag {report["kafka"]["max_lag"]}, '
          f'{report["errors"]} errors; planned {len(planned)} of {len(planned) + len(not_planned)} probed, '
          f'plan p95 {report["plan"]["latency_ms"]["p95"]} ms -> {args.out}')
    reader.close()
    lagger.close()


if __name__ == "__main__":
    main()
