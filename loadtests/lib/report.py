#!/usr/bin/env python3
"""Benchmark report tooling for the scenario scripts under loadtests/.

    report.py plot RESULT.json OUT.png
        latency percentiles (p50/p95/p99/max per second, log scale), target
        and achieved throughput, errors, and per-service RSS and CPU over time

    report.py row RESULT.json --report docs/benchmarks.md --command CMD --sha SHA --machine M
        inserts one row into the scenario table of the report (before the
        marker line `<!-- scenario-rows -->`) and prints it

    report.py merge RESULT.json KEY OTHER.json
        stores OTHER.json under KEY in RESULT.json: the reference ceilings
        under "references", the Postgres statement profile (KEY postgres)
        at the top level

    report.py pgtop RESULT.json
        prints the run's Postgres statement profile as a markdown table

Plots use matplotlib (installed by loadtests/lib/common into a venv under
target/): it is the standard, well-maintained plotting library, renders PNG
with its own bundled fonts (no system font or fontconfig dependency, which
the Rust `plotters` crate's text rendering needs), and reads our JSON
directly. The same venv holds confluent-kafka for the Kafka scenarios
(kafka-ingest, interactions-consume).
"""

import argparse
import json
import sys

MARKER = "<!-- scenario-rows -->"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def plot(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = load(args.result)
    ts = r.get("timeseries", [])
    services = r.get("services", {})
    rows = 3 if services else 2
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.2 * rows), sharex=True)
    t = [p["t"] for p in ts]

    ax = axes[0]
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("max_ms", "max")):
        pts = [(p["t"], p[key]) for p in ts if p.get(key) is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, from scheduled start)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", ncol=4, fontsize=8)
    lat = r.get("latency_ms", {})
    ax.set_title(
        f'{r.get("name") or r.get("scenario")} ({r.get("mode", "open")}, {describe_profile(r)}): '
        f'p50 {fmt(lat.get("p50"))} p95 {fmt(lat.get("p95"))} p99 {fmt(lat.get("p99"))} '
        f'max {fmt(lat.get("max"))} ms, {r.get("errors", 0)} errors',
        fontsize=10,
    )

    ax = axes[1]
    ax.plot(t, [p.get("target_rate", 0) for p in ts], label="target/s", linestyle="--", color="grey")
    ax.plot(t, [p.get("completed", 0) for p in ts], label="completed/s", color="tab:blue")
    ax.plot(t, [p.get("errors", 0) for p in ts], label="errors/s", color="tab:red")
    if any("lag" in p for p in ts):
        ax2 = ax.twinx()
        lag = [(p["t"], p["lag"]) for p in ts if p.get("lag") is not None]
        ax2.plot([x for x, _ in lag], [y for _, y in lag], label="consumer lag", color="tab:purple", marker=".")
        ax2.set_ylabel("consumer lag (records)")
        ax2.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("requests/s")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", ncol=3, fontsize=8)

    if services:
        ax = axes[2]
        ax2 = ax.twinx()
        for name, u in sorted(services.items()):
            st = [s["t"] for s in u.get("samples", [])]
            line = ax.plot(st, [s["rss_mib"] for s in u.get("samples", [])], label=f"{name} RSS")
            ax2.plot(
                st,
                [s["cpu_percent"] for s in u.get("samples", [])],
                linestyle=":",
                color=line[0].get_color(),
                label=f"{name} CPU",
            )
        ax.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
        ax.set_ylabel("RSS (MiB), solid")
        ax2.set_ylabel("CPU (% of one core), dotted")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("seconds since start")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"plot -> {args.out}")


def fmt(x):
    return "-" if x is None else f"{x:.1f}"


def describe_profile(r):
    p = r.get("profile") or {}
    if p.get("shape") == "spike":
        return f'spike {p["rate"]:.0f}/s to {p["rate"] * p["factor"]:.0f}/s in {p["ramp_s"]:.0f} s'
    if p.get("shape") == "backlog":
        return f'{p["count"]} events (+{p["duplicates"]} dup.) produced at {r.get("target_rate", 0):.0f}/s'
    return f'{r.get("target_rate")}/s for {r.get("duration_s", 0):.0f} s'


def leads_per_second(r):
    """Leads accepted per second by the REST kinds (posts + batch posts)."""
    kinds = r.get("kinds", {})
    ok = lambda k: sum(n for code, n in kinds.get(k, {}).get("status", {}).items() if 200 <= int(code) < 300)
    leads = ok("lead-post") + ok("lead-batch") * r.get("batch_size", 1)
    if r.get("scenario") == "kafka-ingest":
        leads = r.get("kafka", {}).get("triaged", 0)
    if r.get("scenario") == "interactions-consume":
        leads = r.get("consume", {}).get("counted", 0)  # interactions counted (written), not leads
    return leads / max(r.get("duration_s", 0), 1e-9)


def row(args):
    r = load(args.result)
    lat = r.get("latency_ms", {})
    services = r.get("services", {})
    rss = ", ".join(
        f'{n} {u["rss_mib_peak"]:.0f} MiB ({u["rss_growth_mib"]:+.0f})' for n, u in sorted(services.items())
    ) or "-"
    cpu = ", ".join(f'{n} {u["cpu_percent_avg"]:.0f}%' for n, u in sorted(services.items())) or "-"
    refs = r.get("references", {})
    hello = refs.get("hello", {}).get("achieved_rate")
    pg = refs.get("pgbench", {}).get("rows_per_s")
    achieved = r.get("achieved_rate", 0)
    lps = leads_per_second(r)
    ratio_hello = f"{achieved / hello:.1%}" if hello else "-"
    ratio_pg = f"{lps / pg:.1%}" if pg else "-"
    kinds = r.get("kinds", {})
    per_kind = "; ".join(
        f'{k} p99 {v["latency_ms"]["p99"]:.1f}' + (f' ({v["errors"]} err)' if v.get("errors") else "")
        for k, v in sorted(kinds.items())
    )
    if r.get("scenario") == "kafka-ingest":
        k = r.get("kafka", {})
        per_kind = f'produced {k.get("produced")}, triaged {k.get("triaged")}, max lag {k.get("max_lag")}'
        plan = r.get("plan") or {}
        if plan.get("probed"):
            pl = plan["latency_ms"]
            per_kind += (f'; accepted→planned p50 {fmt(pl["p50"])} p95 {fmt(pl["p95"])} ms '
                         f'({plan["planned"]} of {plan["probed"]} probed planned)')
    if r.get("scenario") == "interactions-consume":
        c = r.get("consume", {})
        per_kind = (f'consumed {c.get("consumed")} of {c.get("produced")} at {c.get("consumed_per_s", 0):.0f}/s '
                    f'(peak {c.get("peak_consumed_per_s_1s", 0):.0f}/s), ')
        if c.get("counted") == c.get("unique") and c.get("duplicate_outcomes", 0) >= c.get("duplicates", 0):
            per_kind += f'duplicates {c.get("duplicates")} not counted twice'
        else:
            per_kind += (f'duplicates {c.get("duplicates")}: counted {c.get("counted")} of {c.get("unique")} '
                         f'unique, {c.get("duplicate_outcomes")} duplicate outcomes')
        per_kind += f', max lag {c.get("max_lag")}'
    cells = [
        r.get("started_at", "")[:16] + "Z",
        args.sha,
        args.machine,
        r.get("name") or r.get("scenario", ""),
        describe_profile(r),
        f"{achieved:.0f}",
        fmt(lat.get("p50")),
        fmt(lat.get("p95")),
        fmt(lat.get("p99")),
        fmt(lat.get("max")),
        str(r.get("errors", 0)),
        per_kind or "-",
        rss,
        cpu,
        f"{hello:.0f}" if hello else "-",
        f"{pg:.0f}" if pg else "-",
        f"{ratio_hello} / {ratio_pg}",
        f"`{args.command}`",
    ]
    line = "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    with open(args.report, encoding="utf-8") as f:
        text = f.read()
    if MARKER not in text:
        sys.exit(f"{args.report} has no line {MARKER!r}: cannot place the row")
    text = text.replace(MARKER, line + "\n" + MARKER, 1)
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(text)
    print(line)


def merge(args):
    r = load(args.result)
    if args.key == "postgres":
        r["postgres"] = load(args.other)
    else:
        r.setdefault("references", {})[args.key] = load(args.other)
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(r, f, indent=2)


def pgtop(args):
    pg = load(args.result).get("postgres")
    if not pg:
        sys.exit(f"{args.result} has no Postgres statement profile")
    print(f'Postgres: {pg["commits"]} commits of the suite database, {pg.get("wal_syncs", "?")} WAL flushes, '
          f'{pg.get("wal_records", "?")} WAL records; {pg["statements"]} statements, '
          f'{pg["exec_ms"] / 1000:.1f} s of execution in all')
    print("| share | total ms | calls | mean ms | rows | statement |")
    print("|---|---|---|---|---|---|")
    for t in pg.get("top") or []:
        q = t["query"].replace("|", "\\|")
        print(f'| {t["share_pct"]}% | {t["total_ms"]} | {t["calls"]} | {t["mean_ms"]} | {t["rows"]} | `{q}` |')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plot")
    p.add_argument("result")
    p.add_argument("out")
    p.set_defaults(func=plot)
    p = sub.add_parser("row")
    p.add_argument("result")
    p.add_argument("--report", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--sha", required=True)
    p.add_argument("--machine", required=True)
    p.set_defaults(func=row)
    p = sub.add_parser("merge")
    p.add_argument("result")
    p.add_argument("key")
    p.add_argument("other")
    p.set_defaults(func=merge)
    p = sub.add_parser("pgtop")
    p.add_argument("result")
    p.set_defaults(func=pgtop)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
