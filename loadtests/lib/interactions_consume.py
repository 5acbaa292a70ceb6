#!/usr/bin/env python3
"""Interactions consume scenario: produce a backlog of `engagement.interaction.v1`
events to `engagement.interactions` and measure how many per second
campaign-optimization consumes (counts): its consumer capacity.

Setup creates --campaigns two-variant email campaigns through POST
/v1/campaigns (a daily budget of a million currency units, the largest
pacing burst and no warm-up, so neither the budget nor pacing ever pauses
them; they are archived at the end). Each event is a structured-mode
CloudEvent (`content-type: application/cloudevents+json`) whose id is the
interaction id (a fresh uuid4), keyed by its campaign id like engagement's
own: a `sent` for every lead (a random lead id in the workspace, one send id,
one correlation id), followed for a seeded fraction of the leads by
`clicked` and, for some of those, `converted` of the same send. --duplicates
of the produced events are re-sends of an earlier event (same id, same
bytes): the service dedupes by event id, so they must be consumed but not
counted a second time.

What is consumed is read from the service itself: `campaign_interactions_total`
on GET /metrics (Prometheus text), summed over its `outcome` label
(`counted`, `duplicate`, `ignored`) and taken as the difference from the
value before the first produce. The run ends when every produced event was
consumed and the unique ones were counted, or --drain seconds after the last
produce (what is missing then is an error). Once a second it samples the
counter, the consumer lag of campaign-optimization's group on the topic
(high watermark - committed offset; the service commits once a second) and
the RSS and CPU of the watched processes; while draining it also reads the
counter every 0.2 s, so the end is known to 0.2 s.

The latency columns are an estimate, not a per-event measure: the events are
taken as consumed in produce order, and an event counts as consumed at the
first counter reading that includes it (so up to 1 s late, 0.2 s while
draining); its delay is that time minus its produce time. With a backlog
produced as fast as possible that delay is mostly time spent queued.

Uses confluent-kafka and psutil from the load-test venv, like kafka_ingest.py
(its HTTP client and percentiles are reused).
"""

import argparse
import http.client
import json
import random
import re
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import numpy as np
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kafka_ingest import Api, group_lag, pct, sample_usage, usage_summary, watch

TOPIC = "engagement.interactions"
CE_TYPE = "engagement.interaction.v1"
SOURCE = "/loadtests/interactions-consume"
HEADERS = [("content-type", b"application/cloudevents+json")]
# campaign-optimization's counter of handled interactions (services/campaign-optimization/src/metric_names.rs)
METRIC = "campaign_interactions_total"
METRIC_LINE = re.compile(r"^" + METRIC + r"(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
OUTCOME_LABEL = re.compile(r'outcome="([^"]*)"')
CLICK_RATE = 0.2  # leads with a `clicked` after their `sent`
CONVERT_RATE = 0.25  # of those, leads that also convert


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def log(msg):
    print(f"interactions-consume: {msg}", file=sys.stderr)


def campaign_body(run, n):
    return {
        "name": f"interactions-consume {run} #{n}",
        "target_categories": ["nurture"],
        "objective": "conversion",
        "ladder": [{"channel": "email", "delay_secs": 0}],
        # 10^12 micros a day at 1,000 per send: 100,000 sends spend 0.01% of it, and a burst of
        # 10,000 bps lets the whole budget be spent at any time of day (pacing never holds)
        "daily_budget_micros": 1_000_000_000_000,
        "channel_costs": {"email": 1000},
        "min_share": 0.05,
        "warmup_sends": 0,
        "pacing_burst_bps": 10_000,
        "variants": [
            {"name": "A", "content": {"email": {
                "subject": "{{ first_name | default(\"there\") }}, a quick question",
                "body": "Hi {{ name }}, teams like yours cut lead response time in half."}}},
            {"name": "B", "content": {"email": {
                "subject": "Respond to every lead in minutes",
                "body": "Hello {{ name }}, here is a two-minute demo."}}},
        ],
    }


def read_counter(api):
    """`campaign_interactions_total` by outcome, from GET /metrics. A counter
    that was never incremented is not rendered at all: that reads as {}."""
    status, text = api.call("GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"GET /metrics: HTTP {status}: {text[:300]}")
    by_outcome = {}
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if not m:
            continue
        label = OUTCOME_LABEL.search(m.group("labels") or "")
        outcome = label.group(1) if label else ""
        by_outcome[outcome] = by_outcome.get(outcome, 0) + float(m.group("value"))
    return by_outcome


def interaction(workspace, campaign_id, variant_id, lead_id, send_id, kind, correlation_id):
    """One record: (key, structured CloudEvent bytes). The CloudEvents id is the interaction id."""
    iid = str(uuid.uuid4())
    at = now_rfc3339()
    data = {
        "interaction_id": iid,
        "workspace_id": workspace,
        "lead_id": lead_id,
        "campaign_id": campaign_id,
        "variant_id": variant_id,
        "send_id": send_id,
        "channel": "email",
        "kind": kind,
        "occurred_at": at,
        "correlation_id": correlation_id,
    }
    event = {
        "specversion": "1.0",
        "id": iid,
        "source": SOURCE,
        "type": CE_TYPE,
        "subject": lead_id,
        "time": at,
        "datacontenttype": "application/json",
        "correlationid": correlation_id,
        "data": data,
    }
    return campaign_id, json.dumps(event, separators=(",", ":")).encode()


def build_records(workspace, campaigns, count, duplicates, run):
    """COUNT unique records (leads round-robin over the campaigns, a `sent`
    each, then `clicked`/`converted` for a seeded fraction; the last lead may
    be cut short), with DUPLICATES re-sends of earlier records placed after
    their originals. Returns (records, kinds of the unique ones)."""
    rng = random.Random(run)
    unique, kinds = [], {}
    lead = 0
    while len(unique) < count:
        campaign_id, variant_ids = campaigns[lead % len(campaigns)]
        lead_id, send_id = str(uuid.uuid4()), str(uuid.uuid4())
        variant_id = rng.choice(variant_ids)
        correlation_id = f"ic-{run}-{lead}"
        lead += 1
        steps = ["sent"]
        if rng.random() < CLICK_RATE:
            steps.append("clicked")
            if rng.random() < CONVERT_RATE:
                steps.append("converted")
        for kind in steps:
            if len(unique) == count:
                break
            unique.append(interaction(workspace, campaign_id, variant_id, lead_id, send_id, kind, correlation_id))
            kinds[kind] = kinds.get(kind, 0) + 1
    # a re-send goes right after unique record p, and repeats one of the 1,000 records before it
    after = set(rng.sample(range(count), duplicates))
    records = []
    for p, rec in enumerate(unique):
        records.append(rec)
        if p in after:
            records.append(unique[rng.randint(max(0, p - 1000), p)])
    return records, kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--workspace", required=True, help="workspace id of the campaigns (DEMO_WORKSPACE_ID)")
    ap.add_argument("--api-key", required=True, help="API key of that workspace (DEMO_API_KEY)")
    ap.add_argument("--optimization-url", default="http://127.0.0.1:8083")
    ap.add_argument("--count", type=int, default=100_000, help="unique interactions to produce")
    ap.add_argument("--duplicates", type=int, default=None, help="re-sends of earlier events (default count/100)")
    ap.add_argument("--rate", type=float, default=None, help="records per second (default: as fast as possible)")
    ap.add_argument("--drain", type=int, default=120, help="seconds after the last produce to wait for the counter")
    ap.add_argument("--campaigns", type=int, default=1, help="campaigns (Kafka keys) to spread the events over")
    ap.add_argument("--topic-prefix", default="", help="SUITE__KAFKA__TOPIC_PREFIX of the services")
    ap.add_argument("--group", default="campaign-optimization", help="campaign-optimization's consumer group")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--watch", action="append", default=[], help="NAME=PID to sample (repeatable)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = args.seed
    duplicates = args.count // 100 if args.duplicates is None else args.duplicates
    if args.count < 1 or not 0 <= duplicates <= args.count or args.campaigns < 1:
        sys.exit("interactions-consume: need count >= 1, 0 <= duplicates <= count, campaigns >= 1")
    topic = args.topic_prefix + TOPIC

    common = {"bootstrap.servers": args.bootstrap, "socket.timeout.ms": 30000}
    # never subscribes: only reads the committed offsets of campaign-optimization's group
    lagger = Consumer({**common, "group.id": args.group, "enable.auto.commit": False})
    md = lagger.list_topics(timeout=15)
    if topic not in md.topics or md.topics[topic].error is not None:
        sys.exit(f"interactions-consume: topic {topic} missing on {args.bootstrap} (scripts/stack up --backing)")
    parts = [TopicPartition(topic, p) for p in sorted(md.topics[topic].partitions)]

    def lag_now():
        return group_lag(lagger, parts)

    # setup: the campaigns and their variant ids
    api = Api(args.optimization_url, args.api_key)
    campaigns = []
    for n in range(args.campaigns):
        status, text = api.call("POST", "/v1/campaigns", campaign_body(run, n))
        if not 200 <= status < 300:
            sys.exit(f"interactions-consume: setup: POST /v1/campaigns on campaign-optimization: "
                     f"HTTP {status}: {text[:600]}")
        view = json.loads(text)
        campaigns.append((view["id"], [v["id"] for v in view["variants"]]))
    log(f"building {args.count} events (+{duplicates} duplicates) for {len(campaigns)} campaign(s)")
    records, kinds = build_records(args.workspace, campaigns, args.count, duplicates, run)
    total = len(records)

    watched, usage = watch(args.watch, "interactions-consume")

    try:
        base = read_counter(api)
    except (OSError, http.client.HTTPException, RuntimeError, ValueError) as e:
        sys.exit(f"interactions-consume: setup: campaign-optimization /metrics: {e}")
    lag_before = lag_now()

    # (t, {outcome: delta since base}) readings of the counter, t in seconds since the first produce
    observations = [(0.0, {})]
    lag_samples = []
    lock = threading.Lock()
    stop = threading.Event()
    delivery_errors = []
    produced = [0]

    def observe(client, start):
        counts = read_counter(client)
        delta = {k: v - base.get(k, 0) for k, v in counts.items() if v - base.get(k, 0) > 0}
        t = time.monotonic() - start
        with lock:
            observations.append((t, delta))
        return delta

    def sample(start):
        client = Api(args.optimization_url, args.api_key)
        k = 1
        # ticks at whole seconds after the first produce; a late tick is skipped, not queued
        while not stop.wait(max(0.0, start + k - time.monotonic())):
            t = time.monotonic() - start
            k = int(t) + 1
            try:
                observe(client, start)
            except (OSError, http.client.HTTPException, RuntimeError, ValueError) as e:
                log(f"counter sample failed: {e}")
            try:
                lag_samples.append((t, lag_now()))
            except KafkaException as e:
                lag_samples.append((t, None))
                log(f"lag sample failed: {e}")
            sample_usage(watched, usage, t)

    producer = Producer({**common, "acks": "all", "linger.ms": 5, "compression.type": "lz4",
                         "enable.idempotence": True})

    def delivered(err, _msg):
        if err is not None:
            delivery_errors.append(str(err))

    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    produced_at = np.zeros(total)  # seconds since the first produce at which record i went to the producer
    start = time.monotonic()
    sampler = threading.Thread(target=sample, args=(start,), daemon=True)
    sampler.start()
    log(f"producing {total} records to {topic} " + (f"at {args.rate:g}/s" if args.rate else "as fast as possible"))
    for i, (key, value) in enumerate(records):
        if args.rate:
            delay = start + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=HEADERS, on_delivery=delivered)
                break
            except BufferError:  # librdkafka's local queue is full: let it send
                producer.poll(0.05)
        produced_at[i] = time.monotonic() - start
        produced[0] = i + 1
        producer.poll(0)
    unflushed = producer.flush(120)
    produce_s = time.monotonic() - start
    log(f"produced {total} in {produce_s:.1f} s ({total / max(produce_s, 1e-9):.0f}/s); draining")

    # drain: read the counter every 0.2 s until everything is consumed, or DRAIN seconds have passed
    deadline = time.monotonic() + args.drain
    reached = False
    while True:
        try:
            delta = observe(api, start)
            consumed = sum(delta.values())
            if consumed >= total and delta.get("counted", 0) >= args.count:
                reached = True
                break
        except (OSError, http.client.HTTPException, RuntimeError, ValueError) as e:
            log(f"counter read failed: {e}")
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    stop.set()
    sampler.join(timeout=30)
    try:
        final_lag = lag_now()
    except KafkaException:
        final_lag = None
    elapsed = time.monotonic() - start
    for campaign_id, _ in campaigns:  # no leftover campaigns for engagement to target
        try:
            status, text = api.call("POST", f"/v1/campaigns/{campaign_id}/archive")
        except (OSError, http.client.HTTPException) as e:
            status, text = None, str(e)
        if status is None or not 200 <= status < 300:
            log(f"archiving campaign {campaign_id} failed: HTTP {status}: {text[:300]}")

    with lock:
        obs = sorted(observations, key=lambda o: o[0])
    # (t, consumed) with the readings of the two threads made monotonic (a reading is stamped
    # when it returns, so one that started earlier can land a little later)
    cum = []
    for t, d in obs:
        cum.append((t, max(int(sum(d.values())), cum[-1][1] if cum else 0)))
    final = max((d for _, d in obs), key=lambda d: sum(d.values()))  # the last reading, by value
    consumed = int(sum(final.values()))
    counted = int(final.get("counted", 0))
    duplicate_outcomes = int(final.get("duplicate", 0))
    ignored = int(final.get("ignored", 0))
    # the first reading showing the final value: when the last event was consumed
    last_t = next((t for t, c in cum if c == consumed), elapsed) if consumed else elapsed
    first = next(((t, c) for t, c in cum if c > 0), None)
    duration = max(last_t, 1e-9)

    # highest rate over any window of at least one second between two readings
    peak = 0.0
    j = 0
    for i, (t, c) in enumerate(cum):
        while j + 1 < i and t - cum[j + 1][0] >= 1.0:
            j += 1
        if j < i and t - cum[j][0] >= 1.0:
            peak = max(peak, (c - cum[j][1]) / (t - cum[j][0]))

    # estimated delays: records consumed in produce order, each at the first reading that includes it
    delays, consumed_second = [], []
    for (t0, c0), (t1, c1) in zip(cum, cum[1:]):
        lo, hi = min(c0, total), min(c1, total)
        if hi > lo:
            delays.append(np.maximum(t1 - produced_at[lo:hi], 0.0) * 1000)
            consumed_second.append(np.full(hi - lo, int(t1)))
    delays = np.concatenate(delays) if delays else np.zeros(0)
    consumed_second = np.concatenate(consumed_second) if consumed_second else np.zeros(0, dtype=int)

    seconds = int(max(elapsed, last_t)) + 1
    produced_per_s = np.bincount(produced_at[:produced[0]].astype(int), minlength=seconds)

    def cum_at(s):  # consumed by the last reading at or before second s
        value = 0
        for t, c in cum:
            if t > s:
                break
            value = c
        return value

    lag_by_s = {int(t): lag for t, lag in lag_samples}
    ts = []
    for s in range(seconds):
        p = pct(list(delays[consumed_second == s]))
        ts.append({
            "t": s,
            "target_rate": int(produced_per_s[s]) if s < len(produced_per_s) else 0,
            "completed": cum_at(s + 1) - cum_at(s),
            "errors": 0,
            "p50_ms": p["p50"], "p95_ms": p["p95"], "p99_ms": p["p99"], "max_ms": p["max"],
            "lag": lag_by_s.get(s),
        })
    services = usage_summary(usage)
    lags = [lag for _, lag in lag_samples if lag is not None]
    produce_rate = total / max(produce_s, 1e-9)
    report = {
        "scenario": "interactions-consume",
        "name": "interactions-consume",
        "mode": "open" if args.rate else "backlog",
        "profile": {"shape": "backlog", "count": args.count, "duplicates": duplicates, "rate": args.rate},
        # the produce rate achieved (the requested one with --rate, else as fast as the producer went)
        "target_rate": round(produce_rate, 1),
        "peak_rate": round(produce_rate, 1),
        # from the first produce to the reading that showed the last event consumed
        "duration_s": duration,
        "produce_and_flush_s": produce_s,
        "elapsed_s": elapsed,
        "started_at": started_at,
        "command": " ".join(sys.argv),
        "requests": total,
        # consumer capacity: events consumed (all outcomes) per second over that window
        "achieved_rate": consumed / duration if consumed else 0.0,
        "errors": max(0, total - consumed),
        "latency_ms": pct(list(delays)),
        "latency_what": "estimate: produce -> first /metrics reading (1 s; 0.2 s while draining) that shows "
                        "the event consumed, events taken as consumed in produce order",
        "consume": {
            "topic": topic,
            "group": args.group,
            "partitions": len(parts),
            "campaigns": [c for c, _ in campaigns],
            "metric": METRIC,
            "produced": total,
            "unique": args.count,
            "duplicates": duplicates,
            "kinds": kinds,
            "delivery_errors": len(delivery_errors) + unflushed,
            "first_delivery_error": delivery_errors[0] if delivery_errors else None,
            # the counter's delta summed over outcomes; counted should be `unique`, the duplicate
            # outcome `duplicates` (more if the service also saw redeliveries, or other traffic ran)
            "consumed": consumed,
            "counted": counted,
            "duplicate_outcomes": duplicate_outcomes,
            "ignored": ignored,
            "reached": reached,
            "consumed_per_s": consumed / duration if consumed else 0.0,
            # the same from the first reading that showed consumption (leaves out the consumer's start-up)
            "first_consumed_after_s": first[0] if first else None,
            "consumed_per_s_after_first_seen": ((consumed - first[1]) / (last_t - first[0])
                                                if first and last_t > first[0] else None),
            "peak_consumed_per_s_1s": peak,
            "lag_before": lag_before,
            "max_lag": max(lags) if lags else None,
            "final_lag": final_lag,
            "drain_s": args.drain,
        },
        "timeseries": ts,
        "services": services,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    c = report["consume"]
    print(f'interactions-consume: produced {total} ({duplicates} duplicates) at {produce_rate:.0f}/s; '
          f'consumed {consumed} (counted {counted}, duplicate {duplicate_outcomes}, ignored {ignored}) '
          f'at {c["consumed_per_s"]:.0f}/s over {duration:.1f} s, peak {peak:.0f}/s, max lag {c["max_lag"]}, '
          f'{report["errors"]} errors -> {args.out}')
    lagger.close()


if __name__ == "__main__":
    main()
