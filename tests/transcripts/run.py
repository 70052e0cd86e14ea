#!/usr/bin/env python3
"""Golden LMTP transcripts through `tabulariumd -S`.

Each cases/NAME.in is a client script; cases/NAME.out holds the expected
server replies, one per line (compared byte-exact after replacing archive
ids with {ID}; every reply line must end in CRLF). Each case runs twice:
input written at once, and in random 1..7 byte pieces.

Input notation (one input line per file line, CRLF appended):
  \\r \\n \\0 \\t \\\\ \\xHH   escapes; a line ending in \\n gets no CRLF
  @options ARGS...         extra tabulariumd arguments (first lines only)
  @line N TEXT             TEXT repeated to N bytes, then CRLF
  @rcpts N TEMPLATE        N "RCPT TO:<...>" lines, {} replaced by 1..N
  @raw TEXT                TEXT without a line ending
  @sleep SECONDS           pause (the writer only)
  @eof                     close the input here (the rest is ignored)

After the session the runner checks what a user would: every "archived
as ID" reply has a catalog row whose SHA-256 is that of the DATA the
client sent (dot-unstuffed here, independently of the daemon), the
stored copy exists, and no spool file is left behind.
"""
import hashlib, os, random, re, shutil, sqlite3, subprocess, sys, threading, time

TABULARIUMD = os.environ["TABULARIUMD"]
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = os.environ.get("TAB_TEST_TMP", "/tmp")
# --update rewrites the .out files from what the daemon says: review the diff!
UPDATE = "--update" in sys.argv
if UPDATE:
    sys.argv.remove("--update")

def unescape(s):
    out, i = bytearray(), 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"x":
                out += bytes([int(b[i + 2:i + 4], 16)]); i += 4; continue
            out += {b"r": b"\r", b"n": b"\n", b"0": b"\0", b"t": b"\t", b"\\": b"\\"}.get(n, b"\\" + n)
            i += 2; continue
        out += c; i += 1
    return bytes(out)

def parse_case(path):
    """Returns (options, [chunk | ('sleep', s)])."""
    options, script = [], []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.startswith("@options "):
            options += line.split()[1:]
        elif line.startswith("@line "):
            _, n, text = line.split(" ", 2)
            t = unescape(text)
            script.append((t * (int(n) // len(t) + 1))[:int(n)] + b"\r\n")
        elif line.startswith("@rcpts "):
            _, n, tmpl = line.split(" ", 2)
            script.append(b"".join(b"RCPT TO:<" + unescape(tmpl.replace("{}", str(k))) + b">\r\n"
                                   for k in range(1, int(n) + 1)))
        elif line.startswith("@raw "):
            script.append(unescape(line[5:]))
        elif line.startswith("@sleep "):
            script.append(("sleep", float(line.split()[1])))
        elif line == "@eof":
            break
        else:
            if line.endswith("\\n") and not line.endswith("\\\\n"):
                script.append(unescape(line))
            else:
                script.append(unescape(line) + b"\r\n")
    return options, script

def data_messages(stream):
    """Client-side view: the dot-unstuffed bytes of every DATA section."""
    msgs, lines = [], re.split(b"(?<=\n)", stream)
    i, in_data = 0, False
    cur = bytearray()
    for ln in lines:
        if not in_data:
            if re.match(rb"(?i)^DATA\r?\n$", ln):
                in_data, cur = True, bytearray()
            continue
        if ln in (b".\r\n", b".\n"):
            msgs.append(bytes(cur)); in_data = False; continue
        cur += ln[1:] if ln.startswith(b".") else ln
    return msgs

def run(case, chunked):
    name = os.path.basename(case)[:-3]
    options, script = parse_case(case)
    d = os.path.join(TMP, "transcript-%s-%d" % (name, chunked))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cmd = [TABULARIUMD, "-S", "-o", "data_directory=" + d, "-o", "myhostname=lmtp.test"] + options
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(d + "/log", "wb"))
    rng = random.Random(name)
    def writer():
        try:
            for item in script:
                if isinstance(item, tuple):
                    p.stdin.flush(); time.sleep(item[1]); continue
                if not chunked:
                    p.stdin.write(item); continue
                i = 0
                while i < len(item):
                    n = rng.randint(1, 7) if len(item) < 4096 else rng.randint(1, 65536)
                    p.stdin.write(item[i:i + n]); p.stdin.flush(); i += n
            p.stdin.close()
        except BrokenPipeError:
            pass
    t = threading.Thread(target=writer); t.start()
    out = p.stdout.read()
    p.wait(); t.join()
    errors = []
    got = out.split(b"\r\n")
    if got[-1] != b"":
        errors.append("last reply line does not end in CRLF: %r" % got[-1][:80])
    got = got[:-1]
    for ln in got:
        if b"\n" in ln or b"\r" in ln:
            errors.append("bare CR or LF inside a reply: %r" % ln[:80])
    ids = []
    norm = []
    for ln in got:
        s = ln.decode("utf-8", "replace")
        ids += re.findall(r"archived as ([0-9A-F]{20})", s)
        norm.append(re.sub(r"\b[0-9A-F]{20}\b", "{ID}", s))
    if UPDATE and not chunked:
        with open(case[:-3] + ".out", "w", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in norm))
    with open(case[:-3] + ".out", encoding="utf-8") as f:
        want = f.read().split("\n")
    if want and want[-1] == "":
        want.pop()
    if norm != want:
        errors.append("replies differ:\n" + "\n".join(
            "  %s want %-60s | got %s" % ("  " if a == b else "!!", b, a)
            for a, b in zip(norm + ["<none>"] * (len(want) - len(norm)), want + ["<none>"] * (len(norm) - len(want)))))
    # What the client sent, and what the catalog says was archived.
    stream = b"".join(x for x in script if not isinstance(x, tuple))
    sent = {hashlib.sha256(m).hexdigest() for m in data_messages(stream)}
    db = os.path.join(d, "catalog.db")
    if ids:
        con = sqlite3.connect(db)
        for aid in set(ids):
            row = con.execute("SELECT m.sha256, c.location FROM copies c JOIN messages m ON m.id = c.message "
                              "WHERE c.archive_id = ?", (aid,)).fetchone()
            if row is None:
                errors.append("archive id %s acknowledged but not in the catalog" % aid); continue
            if row[0] not in sent:
                errors.append("catalog sha256 %s for %s is not the SHA-256 of any DATA sent" % (row[0], aid))
            stored = os.path.join(d, "Maildir", row[1])
            if not os.path.isfile(stored):
                errors.append("stored copy %s missing" % stored)
            elif ("X-Tabularium-Original-SHA256: " + row[0]).encode() not in open(stored, "rb").read(65536):
                errors.append("stored copy %s does not name the original's SHA-256" % stored)
        con.close()
    spool = os.path.join(d, "spool")
    left = os.listdir(spool) if os.path.isdir(spool) else []
    if left:
        errors.append("spool files left behind: %s" % left)
    if p.returncode not in (0, 1):
        errors.append("tabulariumd exit status %d" % p.returncode)
    log = open(d + "/log", "rb").read().decode("utf-8", "replace")
    if "runtime error" in log or "AddressSanitizer" in log or "LeakSanitizer" in log:
        errors.append("sanitizer report:\n" + log[-3000:])
    return errors

def main():
    cases = sorted(os.path.join(HERE, "cases", f) for f in os.listdir(os.path.join(HERE, "cases")) if f.endswith(".in"))
    if len(sys.argv) > 1:
        cases = [c for c in cases if any(a in c for a in sys.argv[1:])]
    passed = failed = 0
    for case in cases:
        for chunked in (0, 1):
            label = "%s (%s)" % (os.path.basename(case)[:-3], "chunked" if chunked else "whole")
            errs = run(case, chunked)
            if errs:
                failed += 1
                print("FAIL %s\n  %s" % (label, "\n  ".join(errs)))
            else:
                passed += 1
                print("ok   %s" % label)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)

main()
