#!/usr/bin/env python3
# NAME
#	evasion_messages.py - crafted messages that try to stay out of the archive
# SYNOPSIS
#	python3 evasion_messages.py lmtp SOCKET OUTDIR [NAME...]
#	python3 evasion_messages.py postfix SMTP-PORT OUTDIR long-lines|fold [NAME...]
#	python3 evasion_messages.py send SOCKET FILE
#	python3 evasion_messages.py original <ARCHIVE-MESSAGE
#	python3 evasion_messages.py delivered SENT-FILE QUEUE-ID exact|body <ARCHIVE-MESSAGE
#	python3 evasion_messages.py dates date-NN
#	python3 evasion_messages.py list
# DESCRIPTION
#	The table of hostile messages of issue 13 (tests/integration/
#	evasion.test and postfix-evasion.test): sizes, nesting, encodings,
#	forged headers, binary bytes, huge address lists, long envelopes. Each
#	case is a message (bytes), an envelope sender and archive recipients,
#	and whether a real Postfix can carry it unchanged (then
#	postfix-evasion.test sends it through one as well). Messages are built
#	from a fixed random seed, so a run is reproducible; the incompressible
#	ones are random all the same.
#
#	lmtp: one LMTP session per case over the unix socket SOCKET, as Postfix's
#	lmtp client would (LHLO, MAIL FROM, RCPT TO, DATA dot-stuffed, QUIT).
#	When the connection breaks before the reply to DATA (a worker died) or
#	the reply is 4xx, the case is sent again once, as Postfix would retry.
#	Cases that need an archive id from the catalog ("forged-archive-id")
#	get the one the first case was archived as. Writes OUTDIR/results,
#	one line per case:
#	    NAME FIRST-REPLY FINAL-REPLY ARCHIVE-ID SHA256 SIZE
#	(replies as "250", "451", "none" for a broken connection; ARCHIVE-ID
#	"-" when not archived; SHA256 and SIZE of the original the archive
#	must hold: the bytes sent, with a CRLF added when a non-empty message
#	does not end in LF).
#
#	delivered: "ok" when the original in the archive message is the bytes
#	of SENT-FILE with only the Received: header of the Postfix that queued
#	it as QUEUE-ID in front ("body": the same body, and that Received:
#	first); else what differs.
#
#	dates: the catalog dates that are right for case date-NN ("NULL":
#	none), space-separated.
#
#	send: FILE as the message of one LMTP session; prints the DATA reply.
#
#	postfix: the cases Postfix carries unchanged, submitted by SMTP to
#	127.0.0.1:SMTP-PORT (one transaction each); with "fold" (Postfix's
#	lmtp_line_length_limit is not 0) not those with a line over 998
#	bytes, which that Postfix would fold. OUTDIR/results has
#	    NAME SMTP-REPLY QUEUE-ID SHA256-OF-BYTES-SENT SIZE exact|body
#	("body": Postfix rewrites the header, only the body must arrive
#	unchanged)
#	and OUTDIR/NAME.sent the bytes sent.
#
#	original: reads an archive message (what `tabularium show` prints) and
#	prints "SHA256 SIZE" of the original in it, found from the wrapper's
#	layout alone (ARCHITECTURE.md: one multipart/mixed, its boundary in the
#	top-level Content-Type, one message/rfc822 part, the close delimiter
#	ends the copy): written here, apart from the product's reader.
# DIAGNOSTICS
#	Exit 1 on a usage error or when the archive message does not have the
#	wrapper's layout ("original").
import hashlib
import random
import re
import socket
import sys
import time

RNG = random.Random(13)
DOMAIN = "y.test"


def rand_token(n, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return "".join(RNG.choice(alphabet) for _ in range(n))


def hdr(subject, extra=b"", msgid=None):
    """An ordinary header, so that Postfix adds nothing but Received:."""
    msgid = msgid or "<%s@evasion.test>" % rand_token(16)
    return (b"From: Mallory <mallory@evasion.test>\r\n"
            b"To: victim@" + DOMAIN.encode() + b"\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Mon, 07 Dec 2026 10:37:15 +0000\r\n"
            b"Message-ID: " + msgid.encode() + b"\r\n" + extra)


def fold(prefix, tokens, width):
    """prefix + tokens, folded (CRLF SP) so that no line exceeds width."""
    lines, line = [], prefix
    for t in tokens:
        if len(line) + len(t) > width:
            lines.append(line)
            line = b" "
        line += t
    lines.append(line)
    return b"\r\n".join(lines) + b"\r\n"


def mime_parts(n):
    body = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    return (hdr("10000 MIME parts", b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=p\r\n")
            + b"\r\n" + body + b"--p--\r\n")


def mime_nested(depth):
    open_ = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
                     for i in range(depth))
    close = b"".join(b"--b%d--\r\n" % i for i in range(depth, -1, -1))
    return (hdr("MIME nesting %d deep" % depth, b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=b0\r\n")
            + b"\r\n" + open_ + b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % depth
            + close)


def rfc822_nested(depth):
    m = b"Subject: innermost\r\n\r\nbottom\r\n"
    for i in range(depth):
        m = (b"Subject: level %d\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" % i) + m
    return hdr("message/rfc822 nested %d deep" % depth) + m


def nested_groups(n, closed):
    # Issue 13, item 1: 45,000 nested groups folded into 900-byte lines
    # (about 90 kB, inside Postfix's header_size_limit: the groups are left
    # open, as a parser must recurse on the opening alone). Postfix's
    # cleanup keeps only header_address_token_limit (10240) tokens of an
    # address header: through Postfix only the body arrives unchanged.
    return (fold(b"Cc:", [b"g:"] * n + [b"x@y.test"] + [b";"] * (n if closed else 1), 900)
            + hdr("nested groups") + b"\r\nnested groups in Cc\r\n")


def forged_received(body):
    return (b"Received: from relay.evasion.test (relay.evasion.test [192.0.2.1])\r\n"
            b"\tby mx.elsewhere.test (Postfix) with ESMTP id 4AbCdEfGh1\r\n"
            b"\tfor <victim@y.test>; Mon, 07 Dec 2026 10:37:15 +0000 (UTC)\r\n"
            b"Received: by archive-gw.test (Postfix) id 4ZzZzZzZz9;"
            b" Mon, 07 Dec 2026 10:37:14 +0000\r\n"
            + hdr("forged Received") + b"\r\n" + body)


# Date: values, each with the catalog dates that are right for it (NULL:
# none stored). Issue 13: a zone glued to the time must not become
# midnight UTC; what cannot be parsed is NULL, never a wrong date.
DATES = [
    (b"Mon, 7 Dec 2026 10:37:15+0200", ["2026-12-07T08:37:15Z", "NULL"]),
    (b"Mon, 7 Dec 2026 10:37:15 +0200 (CEST)", ["2026-12-07T08:37:15Z"]),
    (b"7 Dec 26 10:37 EST", ["2026-12-07T15:37:00Z", "NULL"]),
    (b"Mon, 31 Feb 2026 25:61:61 +9999", ["NULL"]),
    (b"Mon, 07 Dec 99999999999 10:37:15 +0000", ["NULL"]),
    (b"=?utf-8?q?Mon=2C_7_Dec_2026?=", ["NULL"]),
    (b"", ["NULL"]),
    (b"1765103835", ["NULL"]),
    (b"2026-12-07T10:37:15Z", ["2026-12-07T10:37:15Z", "NULL"]),
    (b"Mon,\r\n\t7\r\n\tDec 2026 10:37:15 -0000", ["2026-12-07T10:37:15Z"]),
    (b"Mon, 7 Dec 2026 10:37:15 " + b"(" * 2000 + b")" * 2000,
     ["2026-12-07T10:37:15Z", "NULL"]),
    # No time: GMime's midnight is tolerated here, as the day is right.
    (b"\xff\xfe 7 Dec 2026 \x80", ["2026-12-07T00:00:00Z", "NULL"]),
    (b"Mon, 7 Dec 2026 10:37:15 -2400", ["2026-12-08T10:37:15Z", "NULL"]),
    (b"Mon, 7 Dec 2026 23:59:60 +0000", ["2026-12-08T00:00:00Z", "2026-12-07T23:59:59Z", "NULL"]),
]


def cases():
    """(name, sender, [archive recipient local parts], message, via_postfix):
    via_postfix True when Postfix carries the message unchanged, "body"
    when it rewrites the header but not the body, False when the case is
    for LMTP only."""
    c = []

    def add(name, msg, sender="mallory@evasion.test", rcpts=None, postfix=True, **opts):
        c.append((name, sender, rcpts or ["victim=" + DOMAIN], msg, postfix, opts))

    add("baseline", hdr("baseline") + b"\r\nan ordinary message\r\n")
    # Issue 13, items 1-4.
    add("nested-groups-cc", nested_groups(45000, False), postfix="body")
    add("nested-groups-closed", nested_groups(30000, True), postfix="body")
    add("forged-archive-id",
        b"X-Tabularium-Archive-Id: {ARCHIVE_ID}\r\n" + hdr("forged loop header")
        + b"\r\nthis must be archived\r\n")
    add("envelope-sender-1000", hdr("long sender") + b"\r\nx\r\n",
        sender=rand_token(1000 - len("@evasion.test")) + "@evasion.test")
    local = rand_token(1900 - len("archive+") - len("=y.test@archive.test"))
    add("envelope-recipient-1900", hdr("long recipient") + b"\r\nx\r\n",
        rcpts=[local + "=" + DOMAIN])
    mid = rand_token(9000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=$")
    # Postfix folds no header line; it takes header lines up to
    # header_size_limit (102400) unchanged.
    add("message-id-9000", hdr("long Message-ID", msgid="<%s@evasion.test>" % mid)
        + b"\r\nx\r\n")
    add("from-address-6000",
        b"From: " + rand_token(6000 - len("@evasion.test")).encode() + b"@evasion.test\r\n"
        b"To: victim@y.test\r\nSubject: long From\r\nDate: Mon, 07 Dec 2026 10:37:15 +0000\r\n"
        b"Message-ID: <%s@evasion.test>\r\n\r\nx\r\n" % rand_token(16).encode())
    # Sizes.
    big = b"".join(b"X-Filler-%05d: %s\r\n" % (i, rand_token(60).encode()) for i in range(1200))
    add("header-100k", hdr("header close to Postfix's header_size_limit", big) + b"\r\nx\r\n")
    big = b"".join(b"X-Filler-%06d: %s\r\n" % (i, rand_token(80).encode()) for i in range(11000))
    add("header-1M", hdr("a 1 MB header", big) + b"\r\nx\r\n", postfix=False)
    # Through Postfix these need lmtp_line_length_limit = 0 (issue 13):
    # postfix-evasion.test sends them through Postfix only when it is set.
    add("line-5000", hdr("a 5000-byte line") + b"\r\n" + rand_token(5000).encode() + b"\r\n")
    add("line-100000", hdr("a 100000-byte line") + b"\r\n" + rand_token(100000).encode()
        + b"\r\n")
    add("header-line-20000", hdr("a 20000-byte header line",
                                 b"X-Long: " + rand_token(20000).encode() + b"\r\n") + b"\r\nx\r\n")
    # Binary bytes and line ends (Postfix rewrites bare CR/LF: LMTP only).
    add("nul-bytes", hdr("NUL bytes", b"X-Nul: a\x00b\r\n") + b"\r\nbody\x00with\x00NUL\r\n",
        postfix=False)
    add("bare-cr-lf-mix", hdr("bare CR and LF") + b"\r\nbare LF\nbare CR\rCR CR LF\r\r\n\n\r.\r\n",
        postfix=False)
    add("lf-only", b"From: m@evasion.test\nSubject: LF only\nMessage-ID: <lf@evasion.test>\n\n"
        b"unix line ends\n.\n..\n", postfix=False)
    add("invalid-utf8-headers",
        hdr("\u00e9t\u00e9".encode("latin-1").decode("latin-1"),
            b"X-Bad: \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28 \xed\xa0\x80\r\n"
            b"Subject: \xff\xfe\xfd raw 8-bit subject\r\n"
            b"From: \xe9t\xe9 <ete@evasion.test>\r\n")
        + b"\r\n\x80\x81\x82 8-bit body\r\n", postfix=False)
    add("encoded-words-broken",
        hdr("=?utf-8?B?", b"Subject: =?utf-8?Q?=E2=82 =?utf-8?B?4oKs?=?= =?x-unknown?q?a?="
            b" =?utf-8*?q?b?= =?=?= =?utf-8?B?" + b"A" * 3000 + b"\r\n"
            b"To: =?utf-8?q?unterminated <v@y.test>\r\n"
            b"Content-Type: text/plain; name*0*=utf-8''%E2%82; name*1=\"%AC\r\n")
        + b"\r\nx\r\n")
    # Nesting.
    add("mime-10000-parts", mime_parts(10000))
    add("mime-nesting-1000", mime_nested(1000))
    add("rfc822-nesting-200", rfc822_nested(200))
    add("comments-nested-10000",
        b"From: " + b"(" * 10000 + b"c" + b")" * 10000 + b" m@evasion.test\r\n"
        b"To: v@y.test\r\nSubject: nested comments\r\nDate: Mon, 07 Dec 2026 10:37:15 +0000\r\n"
        b"Message-ID: <comments@evasion.test>\r\n\r\nx\r\n", postfix=False)
    add("comments-unclosed", hdr("unclosed comment", b"Cc: a@[1](" + b"(" * 5000 + b"\r\n")
        + b"\r\nx\r\n")
    add("to-100000-addresses",
        fold(b"To:", [b"u%d@y.test," % i for i in range(99999)] + [b"last@y.test"], 78)
        + b"From: m@evasion.test\r\nSubject: 100000 To\r\nMessage-ID: <to100k@evasion.test>\r\n"
        b"\r\nx\r\n", postfix=False)
    # Our own syntax used against us.
    add("boundary-collision",
        hdr("wrapper boundary inside", b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"=_tabularium_00000000000000000000_0\"\r\n")
        + b"\r\n--=_tabularium_\r\n--=_tabularium_00000000000000000000_0\r\n"
        + b"".join(b"--=_tabularium_%020X_%016x\r\n" % (i, i) for i in range(64))
        + b"Content-Type: message/rfc822\r\n\r\n--=_tabularium_00000000000000000000_0--\r\n")
    add("archive-id-malformed", b"X-Tabularium-Archive-Id: ../../../etc/passwd\r\n"
        b"X-Tabularium-Archive-Id: 00000000000000000000\r\n"
        b"X-Tabularium-Original-SHA256: " + b"0" * 64 + b"\r\n" + hdr("malformed loop headers")
        + b"\r\nx\r\n")
    # Shapes of the message itself.
    add("empty", b"", postfix=False)
    add("header-only", b"Subject: no body, no blank line\r\nFrom: m@evasion.test", postfix=False)
    add("body-only", b"\r\nno header at all\r\n", postfix=False)
    add("no-final-newline", hdr("no final newline") + b"\r\nthe end", postfix=False)
    add("dot-lines", hdr("dot-stuffing") + b"\r\n.\r\n..\r\n...\r\n.x\r\n. \r\n.\t\r\n"
        b"a\r\n.\r\n.\r\n", postfix=True)
    # Postfix adds Message-ID/Date it misses and rewrites headers: LMTP only.
    add("no-headers-postfix-would-add", b"Subject: bare\r\n\r\nx\r\n", postfix=False)
    # Queue ids and duplicates.
    add("forged-received-a", forged_received(b"first body\r\n"))
    add("forged-received-b", forged_received(b"second body, same claimed queue id\r\n"))
    add("duplicate-message-id-a", hdr("dup a", msgid="<dup@evasion.test>") + b"\r\nA\r\n")
    add("duplicate-message-id-b", hdr("dup b", msgid="<dup@evasion.test>") + b"\r\nB\r\n")
    for i, (d, _) in enumerate(DATES):
        add("date-%02d" % i, b"Date: " + d + b"\r\nFrom: m@evasion.test\r\nSubject: date %d\r\n"
            b"Message-ID: <date%d@evasion.test>\r\n\r\nx\r\n" % (i, i),
            postfix=False)
    # Envelopes Postfix may send.
    add("envelope-smtputf8", hdr("SMTPUTF8 envelope") + b"\r\nx\r\n",
        sender="\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1.test",
        rcpts=["\u00fc\u00f1\u00ee=b\u00fccher.test"], mail_params=" SMTPUTF8 BODY=8BITMIME",
        postfix=False)
    add("envelope-quoted-local", hdr("quoted local part") + b"\r\nx\r\n",
        sender='"a b\\"c<>()@[]"@evasion.test', postfix=False)
    add("recipient-not-encoded", hdr("recipient the prefix does not decode") + b"\r\nx\r\n",
        rcpts=["archive@archive.test", "archive+=@archive.test", "archive+nodomain@archive.test"],
        raw_rcpts=True, postfix=False)
    add("dsn-params", hdr("DSN parameters") + b"\r\nx\r\n",
        mail_params=" RET=HDRS ENVID=a+2Bb+3D+00c SIZE=999999999", postfix=False,
        rcpt_params=" NOTIFY=NEVER ORCPT=rfc822;" + "a+2B" * 200 + "@y.test")
    add("xforward-hostile", hdr("hostile XFORWARD") + b"\r\nx\r\n", postfix=False,
        xforward="NAME=a;b'c\"d IDENT=" + "Q" * 300 + " ADDR=[::1]; HELO=<script> SOURCE=LOCAL")
    add("xforward-ident-injection", hdr("IDENT with separators") + b"\r\nx\r\n", postfix=False,
        xforward="IDENT=../../etc/passwd")
    # Encodings and header syntax.
    add("base64-garbage", hdr("bad base64", b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
                              b"Content-Transfer-Encoding: base64\r\n")
        + b"\r\n!!!!====****\r\n" + b"A" * 77 + b"=\r\n====\r\n\x00\xff\r\n")
    add("quoted-printable-broken", hdr("bad QP", b"MIME-Version: 1.0\r\nContent-Type: text/html\r\n"
                                       b"Content-Transfer-Encoding: quoted-printable\r\n")
        + b"\r\n=\r\n=4\r\n=ZZ=\r\n<p>=3Cscript=3E" + b"=" * 2000 + b"\r\n")
    # More distinct words than one PostgreSQL tsvector holds (1 MB).
    add("subject-2M-distinct-words",
        hdr("x", fold(b"Subject:", [rand_token(10).encode() + b" " for _ in range(200000)], 78))
        + b"\r\nx\r\n", postfix=False)
    add("subject-5000-encoded-words",
        hdr("x", fold(b"Subject:", [b"=?utf-8?B?w6k=?="] * 5000, 78)) + b"\r\nx\r\n")
    add("header-syntax-broken",
        b" leading continuation\r\nno colon at all\r\n: empty name\r\nX-\xff\xfe: 8-bit name\r\n"
        b"X-Tab\tName: tab\r\n" + hdr("broken header syntax") + b"\r\nx\r\n", postfix=False)
    add("from-10000-times", b"From: m@evasion.test\r\n" * 10000 + hdr("10000 From fields")
        + b"\r\nx\r\n", postfix=False)
    add("received-10000", b"".join(b"Received: by hop%d.test (Postfix) id 4Hop%05d; Mon, 7 Dec 2026\r\n"
                       % (i, i) for i in range(10000)) + hdr("10000 Received") + b"\r\nx\r\n",
        postfix=False)
    add("attachment-names-hostile",
        hdr("hostile attachment names", b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=z\r\n")
        + b"\r\n--z\r\nContent-Type: application/x; name=\"../../../../etc/passwd\"\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%00%2F..%2Fx%0D%0ASubject: y\r\n\r\nA\r\n"
        b"--z\r\nContent-Type: text/plain; charset=\"\x00\"\r\nContent-Disposition: attachment;"
        b" filename=\"" + b"\xe2\x80\xae" * 500 + b"\"\r\n\r\nB\r\n--z--\r\n", postfix=False)
    add("charset-unknown", hdr("=?x-made-up?B?AAAA?=", b"MIME-Version: 1.0\r\n"
                               b"Content-Type: text/plain; charset=x-made-up-" + b"9" * 300 + b"\r\n")
        + b"\r\n\xfe\xff\x00x\r\n", postfix=False)
    add("many-envelope-recipients", hdr("200 recipients") + b"\r\nx\r\n",
        rcpts=["r%d=%s" % (i, DOMAIN) for i in range(200)])
    add("null-sender", hdr("bounce-like") + b"\r\nx\r\n", sender="")
    return c


def original_bytes(msg):
    """What the archive must hold: a last line always ends in a line end."""
    return msg + b"\r\n" if msg and not msg.endswith(b"\n") else msg


def stuff(msg):
    """Dot-stuffing (RFC 5321 4.5.2). A line starts after LF only, as the
    DATA reader counts: bytes.splitlines() would also split at a bare CR
    and stuff a dot the reader keeps."""
    lines = msg.split(b"\n")
    return b"\n".join(b"." + l if l.startswith(b".") else l for l in lines)


class Broken(Exception):
    pass


def lmtp_once(path, sender, rcpts, msg, mail_params="", rcpt_params="", xforward="",
              raw_rcpts=False):
    """One session; the final DATA replies (one per recipient), or raises
    Broken when the connection ends first. raw_rcpts: the recipients are
    whole addresses, not local parts of archive+...@archive.test."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(120)
    s.connect(path)
    f = s.makefile("rb")

    def reply():
        text = []
        while True:
            line = f.readline()
            if not line:
                raise Broken(" / ".join(text) or "connection closed")
            text.append(line.decode("latin-1").rstrip("\r\n"))
            if line[3:4] != b"-":
                return text[-1]

    try:
        reply()
        s.sendall(b"LHLO evasion.test\r\n")
        reply()
        if xforward:
            s.sendall(b"XFORWARD " + xforward.encode("utf-8", "surrogateescape") + b"\r\n")
            reply()
        s.sendall(b"MAIL FROM:<" + sender.encode() + b">" + mail_params.encode() + b"\r\n")
        r = reply()
        if not r.startswith("250"):
            return [r]
        ok = []
        for x in rcpts:
            a = x if raw_rcpts else "archive+" + x + "@archive.test"
            s.sendall(b"RCPT TO:<" + a.encode() + b">" + rcpt_params.encode() + b"\r\n")
            r = reply()
            if r.startswith("250"):
                ok.append(x)
            else:
                return [r]
        s.sendall(b"DATA\r\n")
        r = reply()
        if not r.startswith("354"):
            return [r]
        data = stuff(original_bytes(msg))
        s.sendall(data + b".\r\n")
        replies = [reply() for _ in ok]
        try:
            s.sendall(b"QUIT\r\n")
            reply()
        except (OSError, Broken):
            pass
        return replies
    except OSError as e:
        raise Broken(str(e))
    finally:
        s.close()


def summarize(replies):
    """("250"|"451"|..., archive id or "-") from the per-recipient replies."""
    codes = {r[:3] for r in replies}
    code = codes.pop() if len(codes) == 1 else "mixed"
    ids = {m.group(1) for r in replies for m in [re.search(r"archived as ([0-9A-F]{20})$", r)] if m}
    return code, (ids.pop() if len(ids) == 1 else "-")


def run_lmtp(path, outdir, only):
    first_id = None
    with open(outdir + "/results", "w") as out, open(outdir + "/replies", "w") as log:
        for name, sender, rcpts, msg, _, opts in cases():
            if only and name not in only:
                continue
            if b"{ARCHIVE_ID}" in msg:
                msg = msg.replace(b"{ARCHIVE_ID}", (first_id or "0" * 20).encode())
            orig = original_bytes(msg)
            results = []
            for attempt in (1, 2):
                t0 = time.monotonic()
                try:
                    replies = lmtp_once(path, sender, rcpts, msg, **opts)
                    code, aid = summarize(replies)
                except Broken as e:
                    replies, code, aid = ["broken: " + str(e)[:200]], "none", "-"
                results.append((code, aid))
                log.write("%s attempt %d (%.1f s): %s\n" % (name, attempt, time.monotonic() - t0,
                                                          replies[0][:300]))
                if code[0] not in "4n":
                    break
            if first_id is None and results[-1][1] != "-":
                first_id = results[-1][1]
            out.write("%s %s %s %s %s %d\n" % (name, results[0][0], results[-1][0], results[-1][1],
                                              hashlib.sha256(orig).hexdigest(), len(orig)))
            out.flush()


def longest_line(msg):
    return max((len(l.rstrip(b"\r")) for l in msg.split(b"\n")), default=0)


def run_postfix(port, outdir, only, long_lines):
    """long_lines: Postfix's lmtp_line_length_limit is 0 (it does not fold
    lines over 998 bytes), so cases with such lines go through it too."""
    import smtplib
    with open(outdir + "/results", "w") as out:
        for name, sender, rcpts, msg, postfix, opts in cases():
            if postfix is False or (only and name not in only) or b"{ARCHIVE_ID}" in msg:
                continue
            if longest_line(msg) > 998 and not long_lines:
                continue
            open("%s/%s.sent" % (outdir, name), "wb").write(msg)
            s = smtplib.SMTP("127.0.0.1", int(port), timeout=120)
            s.ehlo("client.evasion.test")
            code, qid = 0, "-"
            try:
                code, resp = s.mail(sender)
                if code == 250:
                    for x in rcpts:
                        # The archive recipient Postfix adds is archive+local=dom.
                        local, _, dom = x.rpartition("=")
                        code, resp = s.rcpt(local + "@" + dom)
                        if code != 250:
                            break
                if code == 250:
                    # smtplib dot-stuffs; it sends the bytes as they are.
                    code, resp = s.data(msg)
                    m = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
                    qid = m.group(1).decode() if m else "-"
            except smtplib.SMTPException as e:
                code = "error:" + type(e).__name__
            try:
                s.quit()
            except smtplib.SMTPException:
                pass
            out.write("%s %s %s %s %d %s\n" % (name, code, qid, hashlib.sha256(msg).hexdigest(),
                                               len(msg), "body" if postfix == "body" else "exact"))
            out.flush()


def original(raw):
    """The original inside an archive message, from the wrapper's layout."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no end of header")
    head = raw[:end + 2].replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
    m = re.search(rb"^Content-Type:\s*multipart/mixed;.*boundary=\"([^\"]+)\"", head,
                  re.M | re.I)
    if not m:
        raise ValueError("no multipart/mixed boundary in the header")
    b = m.group(1)
    rest = raw[end + 4:]
    if not rest.startswith(b"--" + b + b"\r\n"):
        raise ValueError("the body does not start with the boundary")
    pend = rest.find(b"\r\n\r\n")
    part_head = rest[:pend + 2]
    if not re.search(rb"^Content-Type:\s*message/rfc822\s*$", part_head, re.M | re.I):
        raise ValueError("the part is not message/rfc822")
    close = b"\r\n--" + b + b"--\r\n"
    if not rest.endswith(close):
        raise ValueError("the copy does not end with the close delimiter")
    return rest[pend + 4:len(rest) - len(close)]


def delivered(orig, sent, qid, mode):
    """None when orig is sent with exactly one Received: header of this
    Postfix (naming queue id qid) in front, else what differs. mode
    "body": Postfix rewrote the header; only the body must be the same."""
    if mode == "body":
        ob, sb = orig.partition(b"\r\n\r\n"), sent.partition(b"\r\n\r\n")
        if ob[2] != sb[2]:
            return "the body differs (stored %d bytes, sent %d)" % (len(ob[2]), len(sb[2]))
        m = re.match(rb"Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n", orig)
        if not m or not re.search(rb"\(Postfix\) with \S+ id " + qid.encode() + rb"[;\s]",
                                  m.group(0)):
            return "no Received: header naming queue id %s in front" % qid
        return None
    if not orig.endswith(sent):
        i = next((k for k in range(min(len(orig), len(sent)))
                  if orig[len(orig) - 1 - k] != sent[len(sent) - 1 - k]), None)
        return "the bytes sent are not a suffix of the stored original (differ %s bytes " \
               "from the end; stored %d bytes, sent %d)" % (i, len(orig), len(sent))
    head = orig[:len(orig) - len(sent)]
    m = re.fullmatch(rb"Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n", head)
    if not m:
        return "more than one Received: header in front of the bytes sent: %r" % head[:300]
    if not re.search(rb"\(Postfix\) with \S+ id " + qid.encode() + rb"[;\s]", head):
        return "the Received: header does not name queue id %s: %r" % (qid, head[:300])
    return None


def main(argv):
    if len(argv) >= 3 and argv[1] == "lmtp":
        run_lmtp(argv[2], argv[3], set(argv[4:]))
    elif len(argv) >= 5 and argv[1] == "postfix":
        run_postfix(argv[2], argv[3], set(argv[5:]), argv[4] == "long-lines")
    elif len(argv) == 4 and argv[1] == "send":
        msg = open(argv[3], "rb").read()
        try:
            print(lmtp_once(argv[2], "loop@evasion.test", ["victim=" + DOMAIN], msg)[0])
        except Broken as e:
            print("broken: %s" % e)
    elif len(argv) == 5 and argv[1] == "delivered":
        sent = open(argv[2], "rb").read()
        try:
            problem = delivered(original(sys.stdin.buffer.read()), sent, argv[3], argv[4])
        except ValueError as e:
            problem = "not an archive message: %s" % e
        print(problem or "ok")
    elif len(argv) == 2 and argv[1] == "original":
        try:
            o = original(sys.stdin.buffer.read())
        except ValueError as e:
            print("not an archive message: %s" % e, file=sys.stderr)
            return 1
        print(hashlib.sha256(o).hexdigest(), len(o))
    elif len(argv) == 3 and argv[1] == "dates":
        print(" ".join(DATES[int(argv[2][len("date-"):])][1]))
    elif len(argv) == 2 and argv[1] == "list":
        for name, sender, rcpts, msg, postfix, _ in cases():
            print("%-32s %9d bytes %s" % (name, len(msg), "postfix+lmtp" if postfix else "lmtp"))
    else:
        print(__doc__ if __doc__ else "usage: see the header of this file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
