#!/usr/bin/env python3
"""
NAME
    audit.py - what an auditor checks after a fault: the catalog, the
    Maildir and the load client's ledger agree

SYNOPSIS
    audit.py --maildir DIR --catalog DB [--ledger FILE]... [--extra N]
             [--row FAULT --induced TEXT --tries N --results FILE]

DESCRIPTION
    For every message a ledger planned (load.py), keyed on its unique
    Message-ID:
      archived   exactly one catalog messages row whose sha256 is the
                 SHA-256 of the bytes the client sent, exactly one copies
                 row, and the stored file's SHA-256 and size equal the
                 copy's wrapped_sha256 and wrapped_size, its
                 X-Tabularium-Original-SHA256 and its message/rfc822 part
                 (cut out here along the RFC 2046 delimiters) hash to the
                 same sha256.
      lost       acknowledged (250 at least once) but not archived: MUST be 0
      duplicate  more than one messages row or copies row: MUST be 0
    A 250 "already archived" (no archive id) on a resend means the first
    try was archived but its 250 was lost with the connection: counted.
    Messages rows that no ledger planned (smtp-source's) are counted as
    "extra" and their copies verified the same way (without a client hash).
    Every copies row must name an existing file (broken copies: MUST be 0).

    The Maildir is then read the other way: files in new/ or cur/ that no
    copies row names are orphans (a store that succeeded before a catalog
    failure or a kill); an orphan whose X-Tabularium-Archive-Id the client
    was given in a 250 is a violation. Files in tmp/ are reported.

    PRAGMA integrity_check runs through the sqlite3 program.

    Prints shell assignments (A_archived=..., A_lost=..., ...) on stdout;
    problems, at most 10, on stderr. With --row, appends one Markdown
    table row to --results: fault, how induced, tries, sent, acknowledged,
    archived, lost, duplicates, notes, result ("pass", or what failed;
    --verdict adds a failure the calling test found). --no-scan leaves
    out the Maildir scan and the extra rows (a row for one phase of a run
    whose whole audit is another row).
"""
import argparse, collections, hashlib, json, os, re, shlex, sqlite3, subprocess, sys

problems = []


def problem(msg):
    if len(problems) < 10:
        print("  audit: " + msg, file=sys.stderr)
    problems.append(msg)


def check_file(path, wrapped_sha, wrapped_size, sha):
    """None when the stored archive message verifies, else why not."""
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        return "cannot read: %s" % e
    if hashlib.sha256(raw).hexdigest() != wrapped_sha or len(raw) != wrapped_size:
        return "file does not match wrapped_sha256/wrapped_size"
    head = raw[: raw.find(b"\r\n\r\n")]
    h = re.search(rb"^X-Tabularium-Original-SHA256: ([0-9a-f]{64})\r$", head, re.M)
    if not h or h.group(1).decode() != sha:
        return "X-Tabularium-Original-SHA256 differs from the catalog"
    b = re.search(rb'^Content-Type: multipart/mixed; boundary="([^"]+)"\r$', head, re.M)
    if not b:
        return "no multipart boundary"
    delim = b"\r\n--" + b.group(1)
    start = raw.find(delim + b"\r\n")
    start = raw.find(b"\r\n\r\n", start + len(delim)) + 4
    end = raw.rfind(delim + b"--\r\n")
    if end < start or not raw.endswith(delim + b"--\r\n"):
        return "no close delimiter at the end"
    if hashlib.sha256(raw[start:end]).hexdigest() != sha:
        return "the message/rfc822 part does not hash to the catalog sha256"
    return None


def header_of(path, name):
    try:
        with open(path, "rb") as f:
            head = f.read(16384)
    except OSError:
        return None
    m = re.search(rb"^" + name.encode() + rb": *([^\r\n]*)\r?$", head[: head.find(b"\r\n\r\n")], re.M | re.I)
    return m.group(1).decode("ascii", "replace") if m else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--maildir", required=True)
    p.add_argument("--catalog", required=True)
    p.add_argument("--ledger", action="append", default=[])
    p.add_argument("--extra", type=int, default=-1)
    p.add_argument("--row")
    p.add_argument("--induced", default="")
    p.add_argument("--tries", default="1")
    p.add_argument("--results")
    p.add_argument("--note", default="")
    p.add_argument("--verdict", default="", help="result column when the test found a failure")
    p.add_argument("--no-scan", action="store_true", help="no orphan/tmp/extra scan (a row for part of a run)")
    a = p.parse_args()

    # --- the client's view
    planned = {}  # msgid -> {"sha": .., "acked": bool, "ids": set()}
    deferred = rejected = unknown = already = 0
    acked_ids = set()
    for path in a.ledger:
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if "seq" not in e or e["ev"] in ("plan", "unplan", "notsent"):
                    continue
                mid = "%s.%d@faults.test" % (e["tag"], e["seq"])
                m = planned.setdefault(mid, {"sha": None, "acked": False, "offered": False})
                if e["ev"] == "offer":
                    m["offered"] = True
                    if m["sha"] not in (None, e["sha256"]):
                        problem("%s: offered with two different hashes" % mid)
                    m["sha"] = e["sha256"]
                elif e["ev"] == "ack":
                    m["acked"] = True
                    if e.get("archive_id"):
                        acked_ids.add(e["archive_id"])
                    else:
                        already += 1
                elif e["ev"] == "defer":
                    deferred += 1
                elif e["ev"] == "reject":
                    rejected += 1
                    problem("%s: 5xx reply %r" % (mid, e["reply"]))
                elif e["ev"] == "unknown":
                    unknown += 1

    # --- the catalog's view
    db = sqlite3.connect("file:%s?mode=ro" % a.catalog, uri=True)
    msgs = db.execute("SELECT id, archive_id, sha256, message_id FROM messages").fetchall()
    copies = db.execute("SELECT id, message, archive_id, location, wrapped_sha256, wrapped_size FROM copies").fetchall()
    db.close()
    copies_of = collections.defaultdict(list)
    for c in copies:
        copies_of[c[1]].append(c)
    rows_of = collections.defaultdict(list)
    extra = []
    for m in msgs:
        if m[3] in planned:
            rows_of[m[3]].append(m)
        else:
            extra.append(m)

    verified = {}  # messages.id -> True when every copy verifies
    broken = 0
    for m in msgs:
        good = bool(copies_of[m[0]])
        if not copies_of[m[0]]:
            problem("%s: catalog row without a copies row" % m[1])
            broken += 1
        for c in copies_of[m[0]]:
            why = check_file(os.path.join(a.maildir, c[3]), c[4], c[5], m[2])
            if why:
                problem("%s (%s): %s" % (c[2], c[3], why))
                broken += 1
                good = False
        verified[m[0]] = good

    sent = acked = archived = lost = dups = archived_unacked = 0
    for mid, info in planned.items():
        rows = rows_of.get(mid, [])
        sent += info["offered"]
        acked += info["acked"]
        ncopies = sum(len(copies_of[r[0]]) for r in rows)
        if len(rows) > 1 or ncopies > 1:
            dups += 1
            problem("%s: %d catalog rows, %d copies" % (mid, len(rows), ncopies))
        ok = len(rows) >= 1 and all(verified[r[0]] for r in rows)
        if ok and info["sha"] is not None and any(r[2] != info["sha"] for r in rows):
            problem("%s: catalog sha256 differs from what the client sent" % mid)
            ok = False
        if ok:
            archived += 1
            if not info["acked"]:
                archived_unacked += 1
        if info["acked"] and not ok:
            lost += 1
            problem("%s: acknowledged but not archived (%d rows)" % (mid, len(rows)))
        if rows and not info["offered"]:
            problem("%s: in the catalog but never offered" % mid)

    if a.no_scan:
        extra = []
    if a.extra >= 0 and len(extra) != a.extra:
        problem("%d catalog rows from outside the ledger, expected %d" % (len(extra), a.extra))

    # --- the Maildir's view
    named = {c[3] for c in copies}
    orphans = orphans_acked = 0
    for sub in () if a.no_scan else ("new", "cur"):
        d = os.path.join(a.maildir, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if "%s/%s" % (sub, name) in named:
                continue
            orphans += 1
            aid = header_of(os.path.join(d, name), "X-Tabularium-Archive-Id")
            if aid in acked_ids:
                orphans_acked += 1
                problem("orphan %s/%s carries archive id %s, acknowledged to the client" % (sub, name, aid))
    tmpdir = os.path.join(a.maildir, "tmp")
    tmp_files = len(os.listdir(tmpdir)) if os.path.isdir(tmpdir) and not a.no_scan else 0

    integrity = subprocess.run(["sqlite3", a.catalog, "PRAGMA integrity_check"], capture_output=True,
                               text=True).stdout.strip() or "(no output)"
    if integrity != "ok":
        problem("integrity_check: %s" % integrity)

    out = dict(sent=sent, acked=acked, archived=archived, lost=lost, duplicates=dups,
               already_archived=already, deferred=deferred, rejected=rejected, unknown=unknown, archived_unacked=archived_unacked,
               extra=len(extra), broken=broken, orphans=orphans, orphans_acked=orphans_acked,
               tmp_files=tmp_files, integrity=integrity, problems=len(problems))
    for k, v in out.items():
        print("A_%s=%s" % (k, shlex.quote(str(v))))

    if a.row and a.results:
        notes = ["4xx: %d" % deferred]
        if unknown:
            notes.append("no reply (connection killed): %d" % unknown)
        if already:
            notes.append("\"already archived\" on resend: %d" % already)
        if orphans:
            notes.append("orphan files: %d" % orphans)
        if tmp_files:
            notes.append("tmp/ leftovers: %d" % tmp_files)
        if len(extra):
            notes.append("catalog rows outside this ledger (smtp-source...): %d" % len(extra))
        if a.note:
            notes.append(a.note)
        result = "pass" if not problems and lost == 0 and dups == 0 else "FAIL (%d problems)" % len(problems)
        if a.verdict:
            result = a.verdict if result == "pass" else result + "; " + a.verdict
        with open(a.results, "a") as f:
            f.write("| %s | %s | %s | %d | %d | %d | %d | %d | %s | %s |\n" % (
                a.row, a.induced, a.tries, sent, acked, archived, lost, dups, "; ".join(notes), result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
