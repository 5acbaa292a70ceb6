#!/usr/bin/env python3
"""The helpers of loadtests/chaos (the fault-injection scenario, issue 17 item 1).

  chaos.py recorder --dir D --smtp-port P --http-port Q [--hold-secs S]
      A recording SMTP server (aiosmtpd) and a recording webhook gateway (plain
      HTTP/1.1 on asyncio) in one process. Every delivery is written, when it is
      *received* (before the answer), as one JSON line to D/deliveries.jsonl:
      provider, time, send id (SMTP: the Message-ID engagement sets from the send
      id; webhook: the body's send_id), the idempotency key (webhook header
      `lead:campaign:step:channel`), lead, campaign, channel, recipient. While the
      file D/hold exists, the webhook gateway holds each answer for --hold-secs
      after recording it (the scenario kills engagement inside that delay).

  chaos.py kafka --bootstrap B --workspace W --run N --rate R --duration S --acked F --out J
      Produces leads to leads.inbound at a fixed rate (kafka_ingest.py's leads,
      idempotent producer, acks=all, a delivery timeout longer than the broker
      outage) and appends the email of every acknowledged record to F.

  chaos.py drain --workspace W --timeout S
      Waits until the outbox is empty, every consumer group of the suite has lag 0,
      and the workspace has no due or running step; prints what it saw as JSON.

  chaos.py report --workspace W --campaign C --dir D --loadgen J --faults F ... --out J
      Counts, from the primary (SQL) and the providers' records, accepted vs
      stored vs triaged vs planned vs sent leads, provider deliveries per
      (lead, campaign, step, channel), interactions counted vs published; and per
      fault the client errors by status and the time to recover full throughput
      from loadgen's per-second timeline. Writes the JSON report and prints it.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from email.parser import BytesHeaderParser

PG_URL = os.environ.get("PG_URL_SUITE", "postgresql://postgres@127.0.0.1:5432/suite")
GROUPS = ["lead-triage", "engagement", "campaign-optimization"]


# ---------------------------------------------------------------------------
# recorder
# ---------------------------------------------------------------------------
class Records:
    def __init__(self, directory):
        self.dir = directory
        self.file = open(os.path.join(directory, "deliveries.jsonl"), "a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, rec):
        rec["t"] = time.time()
        with self.lock:
            self.file.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def holding(self):
        return os.path.exists(os.path.join(self.dir, "hold"))


class SmtpHandler:
    def __init__(self, records):
        self.records = records

    async def handle_DATA(self, _server, _session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        message_id = (headers.get("Message-ID") or "").strip().strip("<>")
        self.records.write({
            "provider": "smtp",
            "send_id": message_id.split("@", 1)[0],
            "to": ",".join(envelope.rcpt_tos),
            "subject": headers.get("Subject"),
            "held": False,
        })
        return "250 OK queued as " + (message_id.split("@", 1)[0] or "x")


async def webhook_conn(reader, writer, records, hold_secs):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(n) if n else b""
            try:
                msg = json.loads(body or b"{}")
            except ValueError:
                msg = {}
            held = records.holding()
            records.write({
                "provider": "webhook",
                "key": headers.get("idempotency-key"),
                "send_id": msg.get("send_id"),
                "lead_id": msg.get("lead_id"),
                "campaign_id": msg.get("campaign_id"),
                "channel": msg.get("channel"),
                "to": msg.get("to"),
                "held": held,
            })
            if held:
                await asyncio.sleep(hold_secs)
            answer = json.dumps({"id": f"gw-{msg.get('send_id')}"}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(answer)).encode() + b"\r\n\r\n" + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def recorder(args):
    from aiosmtpd.smtp import SMTP

    os.makedirs(args.dir, exist_ok=True)
    records = Records(args.dir)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(SmtpHandler(records), hostname="chaos-recorder"),
                                    "127.0.0.1", args.smtp_port)
    http = await asyncio.start_server(lambda r, w: webhook_conn(r, w, records, args.hold_secs),
                                      "127.0.0.1", args.http_port)
    print(f"recorder: smtp 127.0.0.1:{args.smtp_port}, webhook http://127.0.0.1:{args.http_port}/, "
          f"records {args.dir}/deliveries.jsonl", flush=True)
    async with smtp, http:
        await asyncio.gather(smtp.serve_forever(), http.serve_forever())


# ---------------------------------------------------------------------------
# Kafka intake
# ---------------------------------------------------------------------------
def kafka(args):
    from confluent_kafka import Producer

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from kafka_ingest import lead  # the same leads as loadtests/kafka-ingest

    acked = open(args.acked, "a", buffering=1, encoding="utf-8")
    counts = {"produced": 0, "acked": 0, "failed": 0, "queue_full": 0, "errors": {}}
    per_second = {}

    def delivered(err, msg):
        if err is None:
            counts["acked"] += 1
            acked.write(json.loads(msg.value())["email"] + "\n")
        else:
            counts["failed"] += 1
            name = err.name()
            counts["errors"][name] = counts["errors"].get(name, 0) + 1

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 10,
        # longer than the broker outage: records wait for the broker instead of failing
        "message.timeout.ms": args.delivery_timeout_ms,
        "queue.buffering.max.messages": 1_000_000,
    })
    start = time.monotonic()
    total = args.rate * args.duration
    for i in range(total):
        due = start + i / args.rate
        while True:
            now = time.monotonic()
            if now >= due:
                break
            producer.poll(min(due - now, 0.05))
        body = lead(args.workspace, args.run, i)
        try:
            producer.produce("leads.inbound", key=f'{args.workspace}:{body["external_id"]}',
                             value=json.dumps(body), on_delivery=delivered)
            counts["produced"] += 1
            sec = int(due - start)
            per_second[sec] = per_second.get(sec, 0) + 1
        except BufferError:
            counts["queue_full"] += 1
        producer.poll(0)
    remaining = producer.flush(args.delivery_timeout_ms / 1000 + 10)
    counts["unflushed"] = remaining
    counts["rate"] = args.rate
    counts["duration_s"] = args.duration
    acked.close()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(counts, f, indent=1)
    print(f"kafka intake: {counts['produced']} produced, {counts['acked']} acknowledged, "
          f"{counts['failed']} failed {counts['errors']}", flush=True)


# ---------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------
def sql_json(query, files=(), **params):
    """Runs `query` (one row, one JSON column) on the primary with psql variables."""
    cmd = ["psql", "-X", "-w", "-q", "-At", "-v", "ON_ERROR_STOP=1", PG_URL]
    for k, v in params.items():
        if k in files:  # psql does not interpolate variables in \copy: the path goes in the text
            query = query.replace(f":'{k}'", "'" + str(v).replace("'", "''") + "'")
        else:
            cmd += ["-v", f"{k}={v}"]
    out = subprocess.run(cmd, input=query, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def lags(bootstrap):
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-lag-probe", "enable.auto.commit": False})
    out = {}
    try:
        for group in GROUPS:
            futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
            lag = 0
            for _, fut in futures.items():
                for tp in fut.result(timeout=10).topic_partitions or []:
                    if tp.offset < 0:
                        continue
                    _, high = probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                    lag += max(0, high - tp.offset)
            out[group] = lag
    finally:
        probe.close()
    return out


DRAIN_SQL = """
select json_build_object(
  'outbox', (select count(*) from outbox),
  -- due within minutes: the run's later ladder steps (SMS_DELAY), retries and breaker waits; not the
  -- steps that caps or the day budget moved to later hours (counted as pending in the report)
  'due_steps', (select count(*) from scheduled_steps where workspace_id = :'ws' and status = 'pending'
                  and due_at <= now() + interval '5 minutes'),
  'running_steps', (select count(*) from scheduled_steps where workspace_id = :'ws' and status = 'running'),
  'pending_steps', (select count(*) from scheduled_steps where workspace_id = :'ws' and status = 'pending'))::jsonb
"""


def drain(args):
    deadline = time.monotonic() + args.timeout
    state = {}
    while True:
        try:
            state = sql_json(DRAIN_SQL, ws=args.workspace)
            state["lag"] = lags(args.bootstrap)
            state["error"] = None
        except Exception as e:  # noqa: BLE001 - a store or broker still recovering: try again
            state["error"] = str(e)
        done = (state.get("error") is None and state["outbox"] == 0 and state["due_steps"] == 0
                and state["running_steps"] == 0 and all(v == 0 for v in state["lag"].values()))
        if done or time.monotonic() >= deadline:
            state["drained"] = done
            state["waited_s"] = round(args.timeout - max(0.0, deadline - time.monotonic()), 1)
            print(json.dumps(state), flush=True)
            return 0 if done else 1
        time.sleep(2)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
COUNT_SQL = r"""
create temp table acc (email text primary key);
create temp table acc_raw (email text);
\copy acc_raw from :'accepted'
insert into acc select distinct lower(email) from acc_raw on conflict do nothing;
create temp table rec (provider text, send_id text, rkey text);
\copy rec from :'records' with (format csv)
create temp table st as
  select a.email, l.id as lead_id, l.category
  from acc a
  left join lead_emails e on e.workspace_id = :'ws' and e.email = a.email
  left join leads l on l.id = e.lead_id;
create temp table rec_n as select send_id, count(*) as n from rec group by 1;
create index on rec_n (send_id);
analyze rec_n;
create temp table res as
  select r.id, r.lead_id, r.campaign_id, r.step_index, r.channel, r.status,
         coalesce(rn.n, 0) as received
  from send_reservations r left join rec_n rn on rn.send_id = r.id::text
  where r.workspace_id = :'ws' and r.campaign_id = :'campaign';
create temp table ix as
  select id, type, send_id, variant_id from interactions
  where workspace_id = :'ws' and campaign_id = :'campaign';
select json_build_object(
  'leads', json_build_object(
    'accepted', (select count(*) from acc),
    'stored', (select count(*) from st where lead_id is not null),
    'lost', (select coalesce(json_agg(email), '[]') from (select email from st where lead_id is null limit 20) x),
    'lost_count', (select count(*) from st where lead_id is null),
    'triaged', (select count(*) from st where category is not null),
    'by_category', (select coalesce(json_object_agg(category, n), '{}') from (select category, count(*) n from st where category is not null group by 1) x),
    'eligible', (select count(*) from st where category = any (string_to_array(:'categories', ','))),
    'planned', (select count(*) from st join outreach_plans p on p.lead_id = st.lead_id and p.campaign_id = :'campaign'),
    'eligible_unplanned', (select count(*) from st where category = any (string_to_array(:'categories', ','))
                             and not exists (select 1 from outreach_plans p where p.lead_id = st.lead_id and p.campaign_id = :'campaign')),
    'all_in_workspace', (select count(*) from leads where workspace_id = :'ws')),
  'steps', (select coalesce(json_object_agg(status, n), '{}') from (
      select status, count(*) n from scheduled_steps where workspace_id = :'ws' and campaign_id = :'campaign' group by 1) x),
  'step_outcomes', (select coalesce(json_object_agg(k, n), '{}') from (
      select status || ':' || coalesce(outcome, '') k, count(*) n from scheduled_steps
      where workspace_id = :'ws' and campaign_id = :'campaign' and status not in ('sent', 'pending') group by 1) x),
  'reservations', (select coalesce(json_object_agg(status, n), '{}') from (select status, count(*) n from res group by 1) x),
  'sends', json_build_object(
    'sent', (select count(*) from res where status = 'sent'),
    'received_records', (select count(*) from rec),
    'received_in_workspace', (select coalesce(sum(received), 0) from res),
    'unmatched_records', (select coalesce(sum(rn.n), 0) from rec_n rn left join send_reservations r
        on r.id = case when rn.send_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then rn.send_id::uuid end
        where r.id is null),
    'keys_received', (select count(*) from res where received > 0),
    'duplicate_deliveries', (select coalesce(sum(received - 1), 0) from res where received > 1),
    'duplicate_keys', (select coalesce(json_agg(x), '[]') from (select lead_id, campaign_id, step_index, channel, status, received from res where received > 1 limit 20) x),
    'sent_not_received', (select count(*) from res where status = 'sent' and received = 0),
    'indeterminate_received', (select count(*) from res where status in ('indeterminate', 'reserved') and received > 0),
    'indeterminate_not_received', (select count(*) from res where status in ('indeterminate', 'reserved') and received = 0),
    'failed_but_received', (select count(*) from res where status = 'failed' and received > 0),
    'by_channel', (select coalesce(json_object_agg(channel, n), '{}') from (select channel, count(*) n from res where status = 'sent' group by 1) x),
    'key_mismatch', (select count(*) from rec join send_reservations r on r.id::text = rec.send_id
                     where rec.rkey <> '' and rec.rkey <> r.lead_id || ':' || r.campaign_id || ':' || r.step_index || ':' || r.channel)),
  'interactions', json_build_object(
    'published', (select count(*) from ix),
    'with_variant', (select count(*) from ix where variant_id is not null),
    'countable', (select count(*) from (
        select id from ix where variant_id is not null and (send_id is null or type = 'sent')
        union all
        select min(id::text)::uuid from ix where variant_id is not null and send_id is not null and type <> 'sent' group by send_id, type) x),
    'processed', (select count(*) from processed_events where consumer = 'campaign-optimization.interactions'
                   and event_id in (select id::text from ix)),
    'counted', (select coalesce(sum(sends + delivered + opened + clicked + replied + converted + bounced + unsubscribed), 0)
                from campaign_variant_stats where campaign_id = :'campaign'),
    'sends_counted', (select coalesce(sum(sends), 0) from campaign_variant_stats where campaign_id = :'campaign'),
    'sent_interactions', (select count(*) from ix where type = 'sent'))
)::jsonb
"""


def load_records(directory):
    path = os.path.join(directory, "deliveries.jsonl")
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                rows.append(r)
    return rows


def fault_windows(loadgen, faults, target, ok_share, hold):
    series = loadgen["timeseries"]
    t0 = datetime.fromisoformat(loadgen["started_at"].replace("Z", "+00:00")).timestamp()
    n = len(series)

    def ok(point):
        return sum(v for k, v in point.get("outcomes", {}).items() if k.isdigit() and 200 <= int(k) < 300)

    out = []
    for i, f in enumerate(faults):
        start = int(f["start"] - t0)
        end = int(f["end"] - t0)
        until = int(faults[i + 1]["start"] - t0) if i + 1 < len(faults) else n
        until = min(until, n)
        errors = {}
        for p in series[max(0, start):max(0, until)]:
            for k, v in p.get("outcomes", {}).items():
                if not (k.isdigit() and 200 <= int(k) < 300):
                    errors[k] = errors.get(k, 0) + v
        recovered = None
        for s in range(max(0, end), max(0, until - hold + 1)):
            if all(ok(series[j]) >= ok_share * target for j in range(s, s + hold)):
                recovered = s
                break
        out.append({
            "fault": f["name"],
            "detail": f.get("detail", ""),
            "start_s": start,
            "end_s": end,
            "outage_s": round(f["end"] - f["start"], 1),
            "component_ready_s": round(f.get("ready", f["end"]) - f["start"], 1),
            "client_errors": sum(errors.values()),
            "errors_by_status": dict(sorted(errors.items())),
            "recovery_s": None if recovered is None else recovered - end,
            "within_load": start < n,
        })
    return out


def report(args):
    with open(args.loadgen, encoding="utf-8") as f:
        loadgen = json.load(f)
    faults = []
    if os.path.exists(args.faults):
        with open(args.faults, encoding="utf-8") as f:
            faults = [json.loads(line) for line in f if line.strip()]
    kafka_stats = {}
    if args.kafka and os.path.exists(args.kafka):
        with open(args.kafka, encoding="utf-8") as f:
            kafka_stats = json.load(f)
    records = load_records(args.dir)
    csv_path = os.path.join(args.dir, "records.csv")
    with open(csv_path, "w", encoding="utf-8") as f:
        for r in records:
            sid = (r.get("send_id") or "").replace(",", "")
            key = (r.get("key") or "").replace(",", "")
            f.write(f"{r['provider']},{sid},{key}\n")
    accepted = os.path.join(args.dir, "accepted.txt")
    counts = sql_json(COUNT_SQL, files=("accepted", "records"), ws=args.workspace, campaign=args.campaign, accepted=accepted,
                      records=csv_path, categories=args.categories)
    leads, sends, ix = counts["leads"], counts["sends"], counts["interactions"]
    http_accepted = sum(1 for _ in open(os.path.join(args.dir, "accepted-http.txt"), encoding="utf-8")) \
        if os.path.exists(os.path.join(args.dir, "accepted-http.txt")) else 0
    leads["accepted_http"] = http_accepted
    leads["accepted_kafka"] = kafka_stats.get("acked", 0)
    windows = fault_windows(loadgen, faults, args.rate, args.ok_share, args.hold)
    double_counted = max(0, ix["counted"] - ix["countable"])
    result = {
        "scenario": "chaos",
        "smoke": args.smoke,
        "started_at": loadgen["started_at"],
        "rate": args.rate,
        "kafka_rate": args.kafka_rate,
        "duration_s": round(loadgen["duration_s"], 1),
        "workspace_id": args.workspace,
        "campaign_id": args.campaign,
        "target_categories": args.categories.split(","),
        "requests": loadgen["requests"],
        "achieved_rate": round(loadgen["achieved_rate"], 1),
        "client_errors": loadgen["errors"],
        "status": loadgen["status"],
        "kafka_intake": kafka_stats,
        "drain": json.loads(args.drain) if args.drain else None,
        "verdict": {
            "accepted_leads_lost": leads["lost_count"],
            "eligible_leads_unplanned": leads["eligible_unplanned"],
            "duplicate_provider_deliveries": sends["duplicate_deliveries"],
            "double_counted_interactions": double_counted,
            "uncounted_interactions": max(0, ix["countable"] - ix["counted"]),
            "sent_not_received": sends["sent_not_received"],
            "indeterminate": sends["indeterminate_received"] + sends["indeterminate_not_received"],
            "indeterminate_received": sends["indeterminate_received"],
            "indeterminate_not_received": sends["indeterminate_not_received"],
            "failed_but_received": sends["failed_but_received"],
        },
        "counts": counts,
        "faults": windows,
        "loadgen": {k: loadgen[k] for k in ("latency_ms", "kinds", "timeseries") if k in loadgen},
    }
    result["verdict"]["pass"] = (result["verdict"]["accepted_leads_lost"] == 0
                                 and result["verdict"]["duplicate_provider_deliveries"] == 0
                                 and result["verdict"]["double_counted_interactions"] == 0)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    v = result["verdict"]
    print(f"leads: accepted {leads['accepted']} (http {http_accepted}, kafka {leads['accepted_kafka']}), "
          f"stored {leads['stored']}, triaged {leads['triaged']}, eligible {leads['eligible']}, "
          f"planned {leads['planned']}; steps {counts['steps']}")
    print(f"sends: sent {sends['sent']}, provider records {sends['received_in_workspace']} "
          f"(keys {sends['keys_received']}), by channel {sends['by_channel']}")
    print(f"interactions: published {ix['published']}, countable {ix['countable']}, counted {ix['counted']}, "
          f"processed {ix['processed']}")
    print(f"VERDICT: accepted leads lost = {v['accepted_leads_lost']}, duplicate provider deliveries = "
          f"{v['duplicate_provider_deliveries']}, double-counted interactions = {v['double_counted_interactions']}, "
          f"indeterminate = {v['indeterminate']} (received {v['indeterminate_received']}), "
          f"sent but not received = {v['sent_not_received']}, eligible unplanned = {v['eligible_leads_unplanned']}")
    for w in windows:
        print(f"fault {w['fault']:<28} at {w['start_s']:>4}s outage {w['outage_s']:>5}s: "
              f"{w['client_errors']} client errors {w['errors_by_status']}, "
              f"full throughput again after {w['recovery_s']} s")
    return 0


def row(args):
    with open(args.result, encoding="utf-8") as f:
        r = json.load(f)
    v = r["verdict"]
    faults = "; ".join(
        f"{w['fault']}: {w['client_errors']} err"
        + (f" ({', '.join(f'{k} {n}' for k, n in w['errors_by_status'].items())})" if w["errors_by_status"] else "")
        + f", {w['recovery_s'] if w['recovery_s'] is not None else '—'} s" for w in r["faults"])
    leads = r["counts"]["leads"]
    sends = r["counts"]["sends"]
    line = (f"| {r['started_at'][:16]}Z{' (smoke)' if r['smoke'] else ''} | {args.sha} | {r['rate']} + {r['kafka_rate']} | "
            f"{leads['accepted']} / {leads['stored']} / {leads['planned']} / {sends['sent']} | "
            f"{v['accepted_leads_lost']} | {v['duplicate_provider_deliveries']} | {v['double_counted_interactions']} | "
            f"{v['indeterminate']} | {faults} | `{args.command}` |")
    with open(args.report, encoding="utf-8") as f:
        text = f.read()
    marker = "<!-- chaos rows -->"
    if marker not in text:
        print(f"no '{marker}' in {args.report}; row not added:\n{line}")
        return 0
    text = text.replace(marker, line + "\n" + marker, 1)
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(text)
    print(line)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recorder")
    r.add_argument("--dir", required=True)
    r.add_argument("--smtp-port", type=int, default=2525)
    r.add_argument("--http-port", type=int, default=8099)
    r.add_argument("--hold-secs", type=float, default=3.0)
    k = sub.add_parser("kafka")
    k.add_argument("--bootstrap", default="127.0.0.1:9092")
    k.add_argument("--workspace", required=True)
    k.add_argument("--run", type=int, required=True)
    k.add_argument("--rate", type=int, required=True)
    k.add_argument("--duration", type=int, required=True)
    k.add_argument("--delivery-timeout-ms", type=int, default=120_000)
    k.add_argument("--acked", required=True)
    k.add_argument("--out", required=True)
    d = sub.add_parser("drain")
    d.add_argument("--bootstrap", default="127.0.0.1:9092")
    d.add_argument("--workspace", required=True)
    d.add_argument("--timeout", type=float, default=300)
    rp = sub.add_parser("report")
    rp.add_argument("--workspace", required=True)
    rp.add_argument("--campaign", required=True)
    rp.add_argument("--categories", default="hot,warm,nurture")
    rp.add_argument("--dir", required=True)
    rp.add_argument("--loadgen", required=True)
    rp.add_argument("--faults", required=True)
    rp.add_argument("--kafka")
    rp.add_argument("--drain")
    rp.add_argument("--rate", type=float, required=True)
    rp.add_argument("--kafka-rate", type=float, default=0)
    rp.add_argument("--ok-share", type=float, default=0.95)
    rp.add_argument("--hold", type=int, default=5)
    rp.add_argument("--smoke", action="store_true")
    rp.add_argument("--out", required=True)
    rw = sub.add_parser("row")
    rw.add_argument("result")
    rw.add_argument("--report", required=True)
    rw.add_argument("--sha", required=True)
    rw.add_argument("--command", required=True)
    args = p.parse_args()
    if args.cmd == "recorder":
        asyncio.run(recorder(args))
        return 0
    return {"kafka": kafka, "drain": drain, "report": report, "row": row}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
