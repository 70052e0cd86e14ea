#!/usr/bin/env python3
# Query plans and latencies of the --from/--to forms of SQLite schema 8
# (the statements of sqlite_search.c before version 11) against schema 11
# (each address once), back to back on a schema 8 catalog and its
# upgraded copy (cp v8.db v9.db; tabularium -o archive_catalog=sqlite:v9.db
# stats). Terms: the benchmark's 100,000 messages (bench/search, seed 1).
#   sqlite_address_plans.py v8.db v9.db [reps] [-v: the plans]
import sqlite3, sys, time

P = "200"
EX8 = lambda c, p: f"substr({c}, 1, {P}) = substr({p}, 1, {P}) COLLATE NOCASE AND +{c} = {p} COLLATE NOCASE"
DOM = lambda c, p: f"{c} >= {p} AND {c} < {p} || '/' AND ({c} = {p} OR substr({c}, length({p}) + 1, 1) = '.')"
DT = lambda c, p: f"(+{c} = {p} OR (+{c} > {p} AND +{c} < {p} || '/' AND substr({c}, length({p}) + 1, 1) = '.'))"
A_EX = f"SELECT id FROM addresses WHERE {EX8('address', ':a')}"
A_DOM = f"SELECT id FROM addresses WHERE {DOM('rdomain', ':a')}"

V8 = {
 "to_ids": f"SELECT message FROM recipients WHERE {EX8('address', ':a')} UNION ALL SELECT message FROM header_addresses WHERE field IN ('to', 'cc') AND {EX8('address', ':a')}",
 "to_exists": "(EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id AND r.address = :a) OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field IN ('to', 'cc') AND h.address = :a COLLATE NOCASE))",
 "dom_ids": f"SELECT message FROM recipients WHERE {DOM('rdomain', ':a')} UNION ALL SELECT message FROM header_addresses WHERE field IN ('to', 'cc') AND {DOM('rdomain', ':a')}",
 "dom_exists": f"(EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id AND {DT('r.rdomain', ':a')}) OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field IN ('to', 'cc') AND {DT('h.rdomain', ':a')}))",
 "from_ids": f"SELECT id FROM messages WHERE {EX8('envelope_from', ':a')} UNION ALL SELECT message FROM header_addresses WHERE field = 'from' AND {EX8('address', ':a')}",
 "from_exists": "(+m.envelope_from = :a COLLATE NOCASE OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from' AND h.address = :a COLLATE NOCASE))",
}
# schema 11: the statements of sqlite_search.c (sqlite_address_forms)
FROM_IDS = lambda A: f"SELECT id FROM messages WHERE sender_id IN ({A}) UNION ALL SELECT message FROM header_address_rows WHERE address_id IN ({A}) AND field = 'from'"
TO_IDS = lambda A: f"SELECT message FROM recipient_rows WHERE address_id IN ({A}) UNION ALL SELECT message FROM header_address_rows WHERE address_id IN ({A}) AND field IN ('to', 'cc')"
FROM_EX = lambda c: f"(EXISTS (SELECT 1 FROM addresses a WHERE a.id = m.sender_id AND {c}) OR EXISTS (SELECT 1 FROM header_address_rows h JOIN addresses a ON a.id = h.address_id WHERE h.message = m.id AND h.field = 'from' AND {c}))"
TO_EX = lambda c: f"(EXISTS (SELECT 1 FROM recipient_rows r JOIN addresses a ON a.id = r.address_id WHERE r.message = m.id AND {c}) OR EXISTS (SELECT 1 FROM header_address_rows h JOIN addresses a ON a.id = h.address_id WHERE h.message = m.id AND h.field IN ('to', 'cc') AND {c}))"
V9 = {
 "to_ids": TO_IDS(A_EX),
 "to_exists": f"(EXISTS (SELECT 1 FROM recipient_rows r WHERE r.message = m.id AND +r.address_id IN ({A_EX})) OR EXISTS (SELECT 1 FROM header_address_rows h WHERE h.message = m.id AND h.field IN ('to', 'cc') AND +h.address_id IN ({A_EX})))",
 "dom_ids": TO_IDS(A_DOM),
 "dom_exists": TO_EX(DT("a.rdomain", ":a")),
 "from_ids": FROM_IDS(A_EX),
 "from_exists": f"(+m.sender_id IN ({A_EX}) OR EXISTS (SELECT 1 FROM header_address_rows h WHERE h.message = m.id AND h.field = 'from' AND +h.address_id IN ({A_EX})))",
}

def sql(form, kind, mode, count=False):
    head = "SELECT count(*)" if count else "SELECT m.id"
    tail = "" if count else " ORDER BY m.id DESC LIMIT 50"
    cond = f"m.id IN ({form[kind + '_ids']})" if mode == "ids" else form[kind + "_exists"]
    return f"{head} FROM messages m WHERE 1 AND {cond}{tail}"

def text_sql(form, mode):
    cond = f"m.id IN ({form['from_ids']})" if mode == "ids" else form["from_exists"]
    return ("SELECT m.id FROM message_fts f CROSS JOIN messages m ON m.id = f.rowid"
            " WHERE message_fts MATCH :fts AND f.rowid NOT IN (SELECT message FROM fts_stale)"
            f" AND {cond} ORDER BY f.rowid DESC LIMIT 50")

CASES = [  # (name, kind, mode, value): terms of the benchmark's 100,000 messages
 ("--to sparse addr", "to", "ids", "aadams@bripa.cn"),
 ("--to sparse addr, other case", "to", "ids", "AAdams@Bripa.CN"),
 ("--to dense addr, EXISTS form", "to", "exists", "sgarcia@acme-labs.example"),
 ("--to dense addr, IN form", "to", "ids", "sgarcia@acme-labs.example"),
 ("--to dense @domain, EXISTS form", "dom", "exists", "elpmaxe.emca"),
 ("--to @domain, IN form", "dom", "ids", "ac.lagel-ranot"),
 ("--from addr, IN form", "from", "ids", "aroux@donde.fr"),
 ("--from addr, EXISTS form", "from", "exists", "aroux@donde.fr"),
 ("--from dense addr, EXISTS form", "from", "exists", "sgarcia@acme-labs.example"),
]

def run(db, form, reps):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    for name, kind, mode, v in CASES:
        s = sql(form, kind, mode)
        best = 1e9
        for _ in range(reps):
            t = time.perf_counter(); rows = c.execute(s, {"a": v}).fetchall(); best = min(best, time.perf_counter() - t)
        n = c.execute(sql(form, kind, mode, True), {"a": v}).fetchone()[0]
        out[name] = (best * 1000, len(rows), n, rows[:3])
    s = text_sql(form, "ids")
    best = 1e9
    for _ in range(reps):
        t = time.perf_counter(); rows = c.execute(s, {"a": "aroux@donde.fr", "fts": "{subject body} : \"order\""}).fetchall(); best = min(best, time.perf_counter() - t)
    out["text + from addr"] = (best * 1000, len(rows), None, rows[:3])
    return c, out

if __name__ == "__main__":
    v8, v9 = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    c8, o8 = run(v8, V8, reps)
    c9, o9 = run(v9, V9, reps)
    c8b, o8b = run(v8, V8, reps)  # again: the machine is shared
    print("| query | v8 ms | v9 ms | v8 again ms | rows | count v8/v9 |")
    print("|---|---:|---:|---:|---:|---|")
    for k in o8:
        same = o8[k][3] == o9[k][3] and o8[k][2] == o9[k][2]
        print(f"| {k} | {o8[k][0]:.2f} | {o9[k][0]:.2f} | {o8b[k][0]:.2f} | {o9[k][1]} | {o8[k][2]}/{o9[k][2]} {'same' if same else 'DIFFERENT'} |")
    if "-v" in sys.argv:
        for name, kind, mode, v in CASES:
            print("\n##", name)
            for lbl, c, f in (("v8", c8, V8), ("v9", c9, V9)):
                print(lbl)
                for r in c.execute("EXPLAIN QUERY PLAN " + sql(f, kind, mode), {"a": v}):
                    print("   ", r[3])
