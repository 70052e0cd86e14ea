#!/usr/bin/env python3
# NAME
#	report.py - the search benchmark's markdown report
# SYNOPSIS
#	report.py RESULTS-DIR FACTS.json > report.md
# DESCRIPTION
#	Reads what bench_search.sh left in RESULTS-DIR (run.json, gen.json,
#	CAT.json, CAT-SIZE-{ingest,lag,bytes,queries,verify}.json) and
#	gen_mail.py's facts, and prints: a header (machine, disk, commit,
#	date, messages and their mean size), then per catalog the query
#	table (p50/p95/p99 in ms at each size, growth of p50 and p95 from the
#	smallest to the largest size), the ingest/lag/bytes/verify table, the
#	lines each query printed (median), failures with their stderr, the
#	sustained burst (CAT-burst-{ingest,lag}.json: target and reached rate,
#	largest backlog and oldest pending message sampled during it, backlog
#	at its end, catch-up seconds), and a check of issue 15's targets at
#	the largest size.
# DIAGNOSTICS
#	A missing result file shows as "-" in its cell.

import json
import os
import platform
import subprocess
import sys
import time


def load(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt_int(n):
    return "{:,}".format(int(n)).replace(",", " ") if n is not None else "-"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return "%.2f %s" % (n / div, unit)
    return "%d B" % n


def ms(x):
    if x is None:
        return "-"
    return "%.0f" % x if x >= 100 else "%.1f" % x


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def rate_text(ing):
    """An ingest's msgs/s, with its failures, retries and the client's CPU."""
    rate = ing.get("rate")
    text = "%.0f" % rate if rate else "-"
    if ing.get("failed"):
        text += " (**%d recipients failed**: %s)" % (ing["failed"], ing.get("error"))
    elif ing.get("deferred"):
        text += " (%d deferred, retried)" % ing["deferred"]
    if rate and ing.get("client_cpu_s") is not None and ing.get("seconds"):
        text += " (client: %.0f %% of a CPU)" % (100.0 * ing["client_cpu_s"] / ing["seconds"])
    return text


def burst_rate_note(ing):
    """The lag target is for the asked rate: say so when the burst fell short of it."""
    if not ing or not ing.get("rate") or not ing.get("target_rate"):
        return ""
    if ing["rate"] >= 0.95 * ing["target_rate"]:
        return ""
    return " (at %s msgs/s reached, not the %s asked)" % (fmt_int(ing["rate"]), fmt_int(ing["target_rate"]))


def burst_table(p, run, ing, lag):
    """The sustained burst: was the full-text index behind by more than a few seconds?"""
    p("")
    p("Sustained burst after the last step (deliver.py --rate; the backlog sampled once a second "
      "during it, SQLite only):")
    p("")
    p("| target msgs/s × s | reached msgs/s | messages | largest backlog seen | oldest pending seen (s) | "
      "backlog at the end | catch-up s |")
    p("|---:|---:|---:|---:|---:|---:|---:|")
    rate_s = rate_text(ing)
    counts, ages = [], []
    for _, line in ing.get("samples", []):
        f = (line or "").split()
        if len(f) == 2 and f[0].isdigit():
            counts.append(int(f[0]))
            if f[1].isdigit():
                ages.append(int(f[1]))
    cu = lag.get("catch_up_s")
    cu_s = "%.1f" % cu if cu is not None else ("**not caught up**" if lag else "-")
    p("| %s × %s | %s | %s | %s | %s | %s | %s |" % (
        fmt_int(ing.get("target_rate", run.get("burst_rate"))), run.get("burst_seconds", "?"), rate_s,
        fmt_int(ing.get("messages")), fmt_int(max(counts)) if counts else "-",
        max(ages) if ages else ("0" if counts else "-"), lag.get("backlog", "-"), cu_s))


def main():
    d, facts_path = sys.argv[1], sys.argv[2]
    run = load(d, "run.json") or {}
    with open(facts_path) as f:
        facts = json.load(f)
    sizes = run.get("sizes", [])
    cats = run.get("catalogs", "").split()
    chunk = facts["chunk"]
    total = facts["count"]
    nbytes = sum(facts["bytes"])
    tn, tb = sum(facts["text_only"]), sum(facts["text_only_bytes"])
    out = []
    p = out.append
    p("# Tabularium search benchmark")
    p("")
    p("- date: %s; host: %s, %d CPUs (%s), %.1f GB RAM" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), " ".join(platform.uname()[0:3:2]),
        os.cpu_count() or 0, cpu_model(),
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9))
    p("- disk: %s (%s), work directory %s" % (run.get("disk", "?"), run.get("disk_size", "?"),
                                               run.get("workdir", "?")))
    p("- commit: %s; tabulariumd: %s, process_limit = %s" % (
        run.get("commit", "?"), run.get("tabulariumd", "?"), run.get("tab_procs", "?")))
    p("- mail: %s messages generated (gen_mail.py, seed %s), mean %s bytes; %s without attachment, "
      "mean %s bytes; %.1f %% with an attachment; dates over %g years" % (
          fmt_int(total), facts["seed"], fmt_int(nbytes / total), fmt_int(tn), fmt_int(tb / max(1, tn)),
          100.0 * (total - tn) / total, facts["years"]) + (
              " (the steps' messages over %g: the sustained burst's follow them)" % (
                  facts["years"] * sizes[-1] / total) if sizes and total > sizes[-1] else ""))
    p("- delivery: deliver.py, %s LMTP sessions; queries: %s runs each through `tabularium -c CONF "
      "search ...` (whole process timed), listing queries with --limit %s unless shown otherwise; "
      "nearest-rank percentiles, ms" % (run.get("sessions", "?"), run.get("reps", "?"),
                                         run.get("limit", "?") or "none"))
    if "pgsql" in cats:
        p("- pgsql: PostgreSQL %s, private server (tests/lib/pg.sh: shared_buffers = 32MB, fsync on)%s" % (
            run.get("pg_version", "?"),
            "; extra: " + run["pg_extra"] if run.get("pg_extra") else ""))
    gen = load(d, "gen.json")
    p("- wall time of the run: %s s%s" % (run.get("seconds", "?"), (
        " (generation: %s s)" % gen["seconds"]) if gen else " (generated mail reused)"))
    p("")
    p("Absolute numbers drift between machines and runs: compare only figures from one report. "
      "bench/README.md, \"Search benchmark\", explains each figure.")
    summary = {}
    for cat in cats:
        st = load(d, "%s.json" % cat) or {}
        label = {"sqlite": "maildir store + sqlite catalog",
                 "pgsql": "maildir store + pgsql catalog"}.get(cat, cat)
        p("")
        p("## %s" % label)
        p("")
        if st.get("skipped"):
            p("**skipped: %s**" % st["skipped"])
            continue
        Q = {n: load(d, "%s-%d-queries.json" % (cat, n)) for n in sizes}
        keys, labels = [], {}
        for n in sizes:
            for q in (Q[n] or {}).get("queries", []):
                if q["key"] not in labels:
                    keys.append(q["key"])
                    labels[q["key"]] = q["label"]
        head = "| query |" + "".join(" p50 / p95 / p99 @ %s |" % fmt_int(n) for n in sizes)
        head += " growth p50, p95 |" if len(sizes) > 1 else ""
        p(head)
        p("|---|" + "---:|" * len(sizes) + ("---:|" if len(sizes) > 1 else ""))
        failures = []
        for k in keys:
            row = "| %s |" % labels[k]
            first = last = None
            for n in sizes:
                q = next((x for x in (Q[n] or {}).get("queries", []) if x["key"] == k), None)
                if q is None:
                    row += " - |"
                elif q["status"] == "n/a":
                    row += " %s |" % q.get("note", "n/a")
                elif q["status"] == "failed":
                    row += " **failed** |"
                    failures.append((n, q))
                else:
                    row += " %s / %s / %s |" % (ms(q["p50"]), ms(q["p95"]), ms(q["p99"]))
                    if first is None:
                        first = (n, q)
                    last = (n, q)
            if len(sizes) > 1:
                if first and last and first[0] == sizes[0] and last[0] == sizes[-1]:
                    row += " ×%.1f, ×%.1f |" % (last[1]["p50"] / max(first[1]["p50"], 0.001),
                                                last[1]["p95"] / max(first[1]["p95"], 0.001))
                else:
                    row += " - |"
            p(row)
        p("")
        p("| size | ingest msgs/s (step) | full-text backlog at end of step | catch-up s | "
          "catalog | catalog B/msg | catalog / mail bytes | store on disk (B/msg) | "
          "verify msgs/s | verify --jobs 2 msgs/s |")
        p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        mail = 0
        for n in sizes:
            ing = load(d, "%s-%d-ingest.json" % (cat, n)) or {}
            lag = load(d, "%s-%d-lag.json" % (cat, n)) or {}
            b = load(d, "%s-%d-bytes.json" % (cat, n)) or {}
            v = load(d, "%s-%d-verify.json" % (cat, n)) or {}
            mail += ing.get("bytes", 0)
            rate_s = rate_text(ing)
            cu = lag.get("catch_up_s")
            cu_s = "%.1f" % cu if cu is not None else ("**not caught up**" if lag else "-")

            def vr(x):
                if not x:
                    return "-"
                if "skipped" in v:
                    return "skipped (> VERIFY_MAX)"
                if x.get("status", "").startswith("n/a"):
                    return x["status"]
                if x.get("status", "").startswith("timed out"):
                    return "**< %.0f** (timed out after %.0f s)" % (x["rate"], x["seconds"])
                if x.get("status") != "ok":
                    return "**%s**%s" % (x.get("status"), (" (%.0f s)" % x["seconds"]) if "seconds" in x else "")
                return "%.0f (%.0f s)" % (x["rate"], x["seconds"])
            cb = b.get("catalog")
            p("| %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |" % (
                fmt_int(n), rate_s, lag.get("backlog", "-"), cu_s, fmt_bytes(cb),
                fmt_int(cb / n) if cb else "-", "%.2f" % (cb / mail) if cb and mail else "-",
                fmt_bytes(b.get("store_disk")), fmt_int(b["store_disk"] / n) if b.get("store_disk") else "-",
                vr(v.get("plain") or ({"status": "skipped"} if "skipped" in v else None)) if v else "-",
                vr(v.get("jobs2")) if v and "skipped" not in v else "-"))
        p("")
        p("Lines printed (median over the runs; for --count the number printed):")
        p("")
        p("| query |" + "".join(" @ %s |" % fmt_int(n) for n in sizes))
        p("|---|" + "---:|" * len(sizes))
        for k in keys:
            row = "| %s |" % labels[k]
            for n in sizes:
                q = next((x for x in (Q[n] or {}).get("queries", []) if x["key"] == k), None)
                if q is None or q["status"] != "ok":
                    row += " - |"
                else:
                    h = q["hits"]
                    row += " %s%s |" % (int(h) if h == int(h) else h, " (%d of %d runs: no match)" % (
                        q["nomatch"], len(q["times"])) if q["nomatch"] else "")
            p(row)
        if failures:
            p("")
            p("Failed queries (the first failing run's exit status and stderr):")
            p("")
            for n, q in failures:
                p("- %s @ %s: `%s`" % (q["label"], fmt_int(n), (q["error"] or "").replace("`", "'")))
        bi, bl = load(d, "%s-burst-ingest.json" % cat), load(d, "%s-burst-lag.json" % cat)
        if bi or bl:
            burst_table(p, run, bi or {}, bl or {})
        big = sizes[-1]
        summary[cat] = (Q.get(big), load(d, "%s-%d-bytes.json" % (cat, big)),
                        bl if bl else load(d, "%s-%d-lag.json" % (cat, big)), mail, bool(bl), bi)
    # Issue 15's targets, at the largest size measured.
    if summary and sizes:
        big = sizes[-1]
        p("")
        p("## Issue 15's targets at %s messages%s" % (
            fmt_int(big), "" if big >= 1000000 else " (the targets are set for 1 000 000)"))
        p("")
        p("| target | " + " | ".join(summary) + " |")
        p("|---|" + "---|" * len(summary))
        fielded = ("to_env", "from_hdr", "to_domain", "message_id")
        fulltext = ("text_rare", "text_common", "text_phrase", "text_bool", "text_dates", "text_addr")

        def worst(qs, keys):
            vals = [x["p95"] for x in (qs or {}).get("queries", []) if x["key"] in keys and x["status"] == "ok"]
            miss = [x["key"] for x in (qs or {}).get("queries", []) if x["key"] in keys and x["status"] != "ok"]
            return (max(vals) if vals else None), miss

        def verdict(v, limit, miss):
            if v is None:
                return "not measured: %s" % ", ".join(miss) if miss else "-"
            s = "%s ms: %s" % (ms(v), "met" if v <= limit else "**not met**")
            return s + (" (not measured: %s)" % ", ".join(miss) if miss else "")
        rows = [("fielded queries (address, domain, Message-ID): worst p95 ≤ 50 ms",
                 lambda c: verdict(*worst(summary[c][0], fielded)[:1], 50, worst(summary[c][0], fielded)[1])),
                ("full text, 50 newest hits: worst p95 ≤ 200 ms",
                 lambda c: verdict(*worst(summary[c][0], fulltext)[:1], 200, worst(summary[c][0], fulltext)[1])),
                ("count of the most common word: p95 ≤ 1 s",
                 lambda c: verdict(*worst(summary[c][0], ("count_common",))[:1], 1000,
                                   worst(summary[c][0], ("count_common",))[1])),
                ("catalog ≤ 0.6 × mail bytes",
                 lambda c: ("%.2f: %s" % (summary[c][1]["catalog"] / summary[c][3],
                                          "met" if summary[c][1]["catalog"] / summary[c][3] <= 0.6 else "**not met**"))
                 if summary[c][1] and summary[c][3] else "-"),
                ("full-text lag ≤ 10 s after the burst" + (
                    " (the sustained burst's catch-up)" if any(v[4] for v in summary.values()) else
                    " (the last step's catch-up: no sustained burst)"),
                 lambda c: ("%s s: %s%s" % (summary[c][2]["catch_up_s"], "met" if summary[c][2]["catch_up_s"] <= 10
                                            else "**not met**", burst_rate_note(summary[c][5])))
                 if summary[c][2] and
                 summary[c][2].get("catch_up_s") is not None else "**not caught up**" if summary[c][2] else "-")]
        for label, f in rows:
            p("| %s | %s |" % (label, " | ".join(f(c) for c in summary)))
        p("")
        if any(v[4] for v in summary.values()):
            p("The lag target is for a sustained five-minute burst at 1 500 msgs/s; this run's burst: "
              "%s msgs/s asked for %s s (the rate reached is in each catalog's burst table)." % (
                  fmt_int(run.get("burst_rate")), run.get("burst_seconds", "?")))
        else:
            p("The lag target is for a sustained five-minute burst at 1 500 msgs/s; here the burst is "
              "the last step's delivery at whatever rate it reached (BENCH_SEARCH_BURST_SECONDS=0).")
    print("\n".join(out))


if __name__ == "__main__":
    main()
