#!/usr/bin/env python3
# NAME
#	queries.py - run the search benchmark's fixed query set through the CLI
# SYNOPSIS
#	queries.py --facts FACTS.json --size N --cli TABULARIUM --conf CONF
#	           [--reps 20] [--limit 50] --out RESULT.json
# DESCRIPTION
#	Builds the fixed query set from gen_mail.py's facts, for an archive
#	holding messages 0 .. N-1 (every term is taken from those messages,
#	so each query has a known non-empty answer, except where noted), and
#	runs every query --reps times as an operator would:
#	    TABULARIUM -c CONF search OPTIONS...
#	timing the whole process (start to exit, output read through a pipe).
#	The queries run in rounds (query 1..Q, then again), so that load from
#	elsewhere on the machine spreads over all of them; terms differ from
#	one run to the next where that makes sense (addresses, names, words,
#	Message-IDs), the most common word and the pages are the same each time.
#	Listing queries get --limit LIMIT (0: none) unless they name their own.
#
#	Options this build does not have (--offset, --count, a whole domain as
#	--to @DOMAIN) are detected in "search --help"; such queries are
#	reported as "n/a" and not run.
#
#	RESULT.json: {"queries": [{"key", "label", "example", "status" ("ok",
#	"failed", "n/a"), "times" (seconds), "p50", "p95", "p99" (ms),
#	"hits" (median lines printed, or the count printed by --count),
#	"nomatch" (runs that exited 1), "error" (the first failure's exit
#	status and stderr)}], "help_flags"}.
# DIAGNOSTICS
#	A run that exits other than 0 (matched) or 1 (no match) makes the
#	query "failed" with that run's stderr; the other queries still run.
#	Exit 2 on bad arguments.

import argparse
import json
import re
import statistics
import subprocess
import sys
import time


def pick(items, n):
    """n items spread evenly over items (repeating when there are fewer)."""
    if not items:
        return []
    if len(items) <= n:
        return [items[k % len(items)] for k in range(n)]
    step = len(items) / n
    return [items[int(k * step + step / 2)] for k in range(n)]


def nearest_rank(sorted_ms, p):
    k = max(1, -(-len(sorted_ms) * p // 100))  # ceil
    return sorted_ms[int(k) - 1]


def day_shift(day, days):
    import datetime
    d = datetime.date.fromisoformat(day) + datetime.timedelta(days=days)
    return d.isoformat()


def build(facts, size, reps, limit, flags):
    probes = [p for p in facts["probes"] if p["i"] < size]
    if not probes:
        sys.exit("queries.py: no probe message below %d (gen_mail.py --probe-every too large?)" % size)
    P = pick(probes, reps)
    named = pick([p for p in probes if p["from_name"]], reps) or P
    worded = pick([p for p in probes if p["word"]], reps) or P
    phrased = pick([p for p in probes if len(p["phrase"]) == 2], reps) or P
    rare = pick([r for r in facts["rare"] if r["first"] + r["count"] <= size], reps)
    common = facts["common"]
    lim = ["--limit", str(limit)] if limit > 0 else []
    Q = []

    def q(key, label, runs, na=None):
        if not runs and not na:
            na = "n/a (no such term in the first %d messages)" % size
        Q.append({"key": key, "label": label, "runs": runs, "na": na})

    q("to_env", "exact address, envelope (--to ADDR)",
      [["--to", p["env_to"][-1]] + lim for p in P])
    q("from_hdr", "exact header address (--from ADDR)",
      [["--from", p["from"]] + lim for p in P])
    q("to_domain", "domain (--to @DOMAIN)",
      [["--to", "@" + p["env_to"][k % len(p["env_to"])].split("@")[1]] + lim
       for k, p in enumerate(P)],
      None if flags["domain"] else "n/a (not in this build)")
    q("from_name", "display name (--from \"First Last\")",
      [["--from", p["from_name"]] + lim for p in named])
    q("message_id", "Message-ID (--message-id)",
      [["--message-id", p["message_id"]] for p in P])
    q("subject", "subject word (--subject WORD)",
      [["--subject", p["subject_word"]] + lim for p in P])
    q("text_rare", "full text, rare word in 1-5 messages (--text)",
      [["--text", r["word"]] + lim for r in rare])
    q("text_common", "full text, most common word \"%s\" (--text, --limit 50)" % common,
      [["--text", common, "--limit", "50"] for _ in range(reps)])
    q("text_phrase", "full text, phrase (--text '\"a b\"')",
      [["--text", '"%s"' % " ".join(p["phrase"])] + lim for p in phrased])
    c_word = facts.get("boolean_not", "it")
    q("text_bool", "full text, boolean (--text 'a OR b -%s')" % c_word,
      [["--text", "%s OR %s -%s" % (p["word"], worded[(k + 1) % len(worded)]["word"], c_word)] + lim
       for k, p in enumerate(worded)])
    q("text_dates", "full text + date range, 31 days (--text W --since D --until D)",
      [["--text", p["word"], "--since", day_shift(p["date"], -15), "--until", day_shift(p["date"], 15)]
       + lim for p in worded])
    q("text_addr", "full text + address (--text W --from ADDR)",
      [["--text", p["word"], "--from", p["from"]] + lim for p in worded])
    q("page_first", "newest first, first page (--limit 50)",
      [["--limit", "50"] for _ in range(reps)])
    q("page_deep", "deep page (--limit 50 --offset 5000)",
      [["--limit", "50", "--offset", "5000"] for _ in range(reps)],
      None if flags["offset"] else "n/a (not in this build)")
    q("count_common", "count only, most common word (--count --text %s)" % common,
      [["--count", "--text", common] for _ in range(reps)],
      None if flags["count"] else "n/a (not in this build)")
    return Q


def help_flags(cli, conf):
    p = subprocess.run([cli, "-c", conf, "search", "--help"], capture_output=True, text=True)
    h = p.stdout + p.stderr
    return {
        "offset": "--offset" in h,
        "count": "--count" in h,
        # a whole domain: the help names "@DOMAIN" (or "@example.org" ...)
        "domain": re.search(r"(^|[\s\[(\"'`])@[A-Za-z]", h) is not None,
    }


def main():
    ap = argparse.ArgumentParser(description="time the search benchmark's query set")
    ap.add_argument("--facts", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.facts) as f:
        facts = json.load(f)
    flags = help_flags(a.cli, a.conf)
    Q = build(facts, a.size, a.reps, a.limit, flags)
    res = {q["key"]: {"times": [], "hits": [], "nomatch": 0, "error": None} for q in Q}
    t_start = time.time()
    for rep in range(a.reps):
        for q in Q:
            r = res[q["key"]]
            if q["na"] or r["error"]:
                continue
            argv = [a.cli, "-c", a.conf, "search"] + q["runs"][rep]
            t0 = time.perf_counter()
            try:
                p = subprocess.run(argv, capture_output=True, timeout=a.timeout)
            except subprocess.TimeoutExpired:
                r["error"] = "timed out after %g s: %s" % (a.timeout, " ".join(argv[3:]))
                continue
            dt = time.perf_counter() - t0
            if p.returncode not in (0, 1):
                r["error"] = "exit %d: %s: %s" % (p.returncode, " ".join(argv[3:]),
                                                  p.stderr.decode("utf-8", "replace").strip()[:400])
                continue
            r["times"].append(dt)
            r["nomatch"] += p.returncode == 1
            if q["key"].startswith("count"):
                m = re.search(rb"\d+", p.stdout)
                r["hits"].append(int(m.group()) if m else 0)
            else:
                r["hits"].append(p.stdout.count(b"\n"))
        print("queries: size %d, round %d of %d done (%.0f s)" % (a.size, rep + 1, a.reps, time.time() - t_start),
              file=sys.stderr, flush=True)
    out = []
    for q in Q:
        r = res[q["key"]]
        e = {"key": q["key"], "label": q["label"],
             "example": "search " + " ".join(("'%s'" % x if (" " in x or '"' in x) else x)
                                             for x in q["runs"][0]) if q["runs"] else "",
             "nomatch": r["nomatch"], "error": r["error"], "times": [round(x, 4) for x in r["times"]]}
        if q["na"]:
            e["status"] = "n/a"
            e["note"] = q["na"]
        elif r["error"]:
            e["status"] = "failed"
        else:
            e["status"] = "ok"
            ms = sorted(x * 1000 for x in r["times"])
            e["p50"] = round(nearest_rank(ms, 50), 1)
            e["p95"] = round(nearest_rank(ms, 95), 1)
            e["p99"] = round(nearest_rank(ms, 99), 1)
            e["hits"] = statistics.median(r["hits"]) if r["hits"] else 0
        out.append(e)
    with open(a.out, "w") as f:
        json.dump({"size": a.size, "reps": a.reps, "limit": a.limit, "help_flags": flags,
                   "queries": out}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
