#!/usr/bin/env python3
# NAME
#	gen_mail.py - realistic, varied, deterministic mail for the search benchmark
# SYNOPSIS
#	gen_mail.py --count N --out DIR [--seed S] [--jobs J] [--chunk C]
#	            [--probe-every P] [--years Y]
# DESCRIPTION
#	Writes N RFC 5322 messages (CRLF) into DIR as spool chunks that
#	deliver.py streams over LMTP without parsing them:
#	    DIR/chunk-KKKKK.spool   per message one line
#	                            "INDEX TAB ORIGINAL-LEN TAB PAYLOAD-LEN TAB
#	                             ENVELOPE-FROM TAB RCPT,RCPT...\n", then
#	                            PAYLOAD-LEN bytes: the message dot-stuffed
#	                            and followed by ".\r\n" (ready for DATA)
#	    DIR/chunk-KKKKK.idx     the byte offset of each record (uint64, native)
#	    DIR/facts.json          what the query set needs (below)
#	    DIR/DONE                written last: the spool is complete
#	Message i depends only on the seed and i (its own random.Random), so
#	the spool is the same whatever --jobs and --chunk are, and the first
#	K messages of a larger run are those of a smaller one except for
#	their Date: (dates spread message 0..N-1 over --years years).
#
#	The mail: a company archive (three internal domains, 2,000 people)
#	exchanging with 18,000 external correspondents in 497 domains
#	(Zipf-sized); senders, recipients and domains Zipf-distributed;
#	display names with accents (RFC 2047 encoded); bodies in English,
#	French, German, Chinese or Japanese drawn from a Zipf (s = 1.1)
#	vocabulary of the real words in words.py plus 50,000 pseudo-words;
#	To/Cc lists, some Bcc-only envelope recipients, replies with quoted
#	text and References, about 10 % multipart/mixed with a small
#	attachment (text, CSV or PDF-like bytes, some RFC 2231 file names),
#	8bit and quoted-printable bodies; Date: in arrival order with jitter
#	and varied zones. Envelope recipients are archive+LOCAL=DOMAIN@
#	archive.test, as Postfix's recipient_bcc_maps would send them.
#
#	facts.json: {"seed", "count", "chunk", "common": the most frequent
#	word and "common_df": per chunk the number of messages containing it,
#	"bytes", "text_only", "text_only_bytes": per chunk the bytes of all
#	messages, the number and bytes of those without attachment, "rare":
#	planted words each in 1 to 5 consecutive messages ({"word", "first",
#	"count"}), "probes": every P-th message's envelope, header addresses,
#	display name, Message-ID, Date, a subject word, a body word of middle
#	frequency, a phrase of two adjacent body words}.
# DIAGNOSTICS
#	Exit 2 on bad arguments; a partial DIR (no DONE) is not reused.

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import multiprocessing
import os
import random
import sys
import unicodedata
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import words  # noqa: E402

VERSION = 1  # bump when the output for a given seed changes
N_PSEUDO = 50000
N_INTERNAL = 2000
N_EXTERNAL = 18000
N_EXT_DOMAINS = 497
INTERNAL_DOMAINS = ["acme.example", "acme-labs.example", "acme-holding.example"]
START = datetime.datetime(2021, 1, 4, 7, 0, 0, tzinfo=datetime.timezone.utc)
ZONES = [0, 60, 60, 60, 120, -300, -240, 480, 540, 330, -420, 0, 60]
RARE_EVERY = 97
LANGS = [("en", 0.73), ("fr", 0.12), ("de", 0.11), ("zh", 0.02), ("ja", 0.02)]


def zipf_cum(n, s):
    cum, t = [], 0.0
    for r in range(1, n + 1):
        t += 1.0 / r ** s
        cum.append(t)
    return cum


def ascii_fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if ord(c) < 128)


class World:
    """Everything that does not depend on the message: vocabulary, people, domains."""

    def __init__(self, seed):
        rng = random.Random("world-%d" % seed)
        seen = set()
        self.real = {}
        for lang, lst in (("en", words.EN), ("fr", words.FR), ("de", words.DE)):
            out = []
            for w in lst:
                if w not in out:
                    out.append(w)
                seen.add(w.lower())
            self.real[lang] = out
        # 50,000 pseudo-words of 2 to 4 syllables, no "q" (the planted rare
        # words all have one), none equal to a real word.
        pseudo = []
        while len(pseudo) < N_PSEUDO:
            w = "".join(rng.choice(words.SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 3, 4))))
            if w not in seen:
                seen.add(w)
                pseudo.append(w)
        self.pseudo = pseudo
        # Per language one population: its real words interleaved at the top
        # ranks with the pseudo-words (55 % / 45 % of the mass), Zipf s = 1.1.
        self.pop, self.cum = {}, {}
        zp = zipf_cum(N_PSEUDO, 1.1)
        for lang in ("en", "fr", "de"):
            real = self.real[lang]
            zr = zipf_cum(len(real), 1.1)
            pop, w = [], []
            for i, x in enumerate(real):
                pop.append(x)
                w.append(0.55 * (zr[i] - (zr[i - 1] if i else 0)) / zr[-1])
            for i, x in enumerate(pseudo):
                pop.append(x)
                w.append(0.45 * (zp[i] - (zp[i - 1] if i else 0)) / zp[-1])
            cum, t = [], 0.0
            for x in w:
                t += x
                cum.append(t)
            self.pop[lang], self.cum[lang] = pop, cum
        self.common = self.real["en"][0]
        # The middle ranks: words for queries that should match a few
        # hundred to a few thousand messages at 1M.
        self.middle = pseudo[300:3000]
        # Domains: internal ones, then external ones from syllables.
        doms = []
        while len(doms) < N_EXT_DOMAINS:
            name = "".join(rng.choice(words.SYLLABLES) for _ in range(rng.choice((2, 3))))
            if rng.random() < 0.4:
                name += "-" + rng.choice(words.DOMAIN_WORDS)
            d = name + "." + rng.choice(words.TLDS)
            if d not in doms:
                doms.append(d)
        self.ext_domains = doms
        dom_cum = zipf_cum(len(doms), 1.1)
        # People: (display name, address). Internal ones spread over the
        # three internal domains; external ones over Zipf-sized domains.
        self.people = []
        used = set()
        fcum = zipf_cum(len(words.FIRST), 0.7)
        lcum = zipf_cum(len(words.LAST), 0.7)
        for k in range(N_INTERNAL + N_EXTERNAL):
            first = rng.choices(words.FIRST, cum_weights=fcum)[0]
            last = rng.choices(words.LAST, cum_weights=lcum)[0]
            if k < N_INTERNAL:
                dom = INTERNAL_DOMAINS[0 if k % 5 else 1 + (k // 5) % 2]
            else:
                dom = rng.choices(doms, cum_weights=dom_cum)[0]
            f, l_ = ascii_fold(first).lower(), ascii_fold(last).lower().replace(" ", "")
            pat = rng.random()
            if pat < 0.55:
                local = f + "." + l_
            elif pat < 0.75:
                local = f[0] + l_
            elif pat < 0.85:
                local = f + "_" + l_
            elif pat < 0.95:
                local = l_
            else:
                local = rng.choice(("info", "sales", "billing", "support", "contact", "office"))
            base, n = local, 1
            while local + "@" + dom in used:
                n += 1
                local = "%s%d" % (base, n)
            used.add(local + "@" + dom)
            name = "" if local.startswith(("info", "sales", "billing", "support", "contact",
                                           "office")) else first + " " + last
            self.people.append((name, local + "@" + dom))
        self.int_cum = zipf_cum(N_INTERNAL, 1.0)
        self.ext_cum = zipf_cum(N_EXTERNAL, 1.0)
        self.internal = list(range(N_INTERNAL))
        self.external = list(range(N_INTERNAL, N_INTERNAL + N_EXTERNAL))


def rare_count(seed, i):
    """How many consecutive messages carry the rare word planted at i."""
    return 1 + hashlib.sha256(b"rare-%d-%d" % (seed, i)).digest()[0] % 5


def rare_word(i):
    """A word no other message has: i's base-20 digits as syllables after a "q"."""
    syl = ["ba", "de", "fi", "go", "ka", "le", "mi", "no", "pa", "re",
           "si", "to", "va", "ze", "bo", "da", "ne", "ri", "ta", "vo"]
    n, out = i // RARE_EVERY, []
    while True:
        out.append(syl[n % 20])
        n //= 20
        if n == 0:
            break
    return "q" + "".join(reversed(out)) + "x"


def encode_word(s):
    """RFC 2047 B encoded-words for a non-ASCII string, split at characters."""
    out, cur = [], b""
    for ch in s:
        b = ch.encode("utf-8")
        if len(cur) + len(b) > 42:
            out.append(cur)
            cur = b""
        cur += b
    if cur:
        out.append(cur)
    return " ".join("=?UTF-8?B?" + base64.b64encode(x).decode() + "?=" for x in out)


def hdr_text(s):
    return s if s.isascii() else encode_word(s)


def fold(name, value):
    """Header line, folded at spaces before 78 characters where possible."""
    line, out = name + ": ", []
    for tok in value.split(" "):
        if len(line) + len(tok) + 1 > 76 and line.strip() and not line.endswith(": "):
            out.append(line.rstrip(" "))
            line = " "
        line += tok + " "
    out.append(line.rstrip(" "))
    return "\r\n".join(out) + "\r\n"


def mailbox(name, addr, rng):
    if not name:
        return addr
    if name.isascii():
        return '"%s" <%s>' % (name, addr) if rng.random() < 0.5 else "%s <%s>" % (name, addr)
    return "%s <%s>" % (encode_word(name), addr)


def wrap(text, width=72):
    out, line = [], ""
    for w in text.split(" "):
        if line and len(line) + 1 + len(w) > width:
            out.append(line)
            line = w
        else:
            line = line + " " + w if line else w
    if line:
        out.append(line)
    return out


class Gen:
    def __init__(self, seed, total, years):
        self.seed = seed
        self.total = total
        self.w = World(seed)
        self.span = years * 365.25 * 86400

    def person(self, rng, internal):
        if internal:
            return self.w.people[rng.choices(self.w.internal, cum_weights=self.w.int_cum)[0]]
        return self.w.people[rng.choices(self.w.external, cum_weights=self.w.ext_cum)[0]]

    def sentences(self, rng, lang, n, plant):
        """n words of text in lang as wrapped paragraph lines; plant: words to insert."""
        if lang in ("zh", "ja"):
            src = words.ZH if lang == "zh" else words.JA
            lines = []
            for _ in range(max(1, n // 12)):
                para = "".join(rng.choice(src) for _ in range(rng.randint(1, 4)))
                lines.append(para)
                lines.append("")
            toks = rng.choices(self.w.pop["en"], cum_weights=self.w.cum["en"], k=max(3, n // 6))
            toks[rng.randrange(len(toks)):0] = plant
            lines += wrap(" ".join(toks) + ".")
            return lines, toks
        toks = rng.choices(self.w.pop[lang], cum_weights=self.w.cum[lang], k=n)
        for p in plant:
            toks.insert(rng.randrange(len(toks) + 1), p)
        lines, k = [], 0
        while k < len(toks):
            para = []
            for _ in range(rng.randint(2, 5)):
                if k >= len(toks):
                    break
                m = rng.randint(6, 16)
                s = toks[k:k + m]
                k += m
                if len(s) > 4 and rng.random() < 0.3:
                    s[len(s) // 2] += ","
                para.append(s[0][:1].upper() + s[0][1:] + (" " if len(s) > 1 else "")
                            + " ".join(s[1:]) + rng.choice(".....?!"))
            lines += wrap(" ".join(para))
            lines.append("")
        return lines, toks

    def message(self, i):
        """(envelope from, [rcpt], message bytes, probe facts or None) of message i."""
        rng = random.Random((self.seed << 32) ^ i)
        w = self.w
        lang = rng.choices([x for x, _ in LANGS], cum_weights=[0.73, 0.85, 0.96, 0.98, 1.0])[0]
        d = rng.random()
        if d < 0.55:  # inbound
            sender = self.person(rng, False)
            to = [self.person(rng, True) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        elif d < 0.85:  # outbound
            sender = self.person(rng, True)
            to = [self.person(rng, False) for _ in range(rng.choice((1, 1, 1, 2)))]
        else:  # internal
            sender = self.person(rng, True)
            to = [self.person(rng, True) for _ in range(rng.choice((1, 1, 2, 3, 4)))]
        cc = []
        if rng.random() < 0.3:
            cc = [self.person(rng, rng.random() < 0.6) for _ in range(rng.randint(1, 4))]
        bcc = [self.person(rng, True)] if rng.random() < 0.05 else []
        env_rcpt = []
        for _, a in to + cc + bcc:
            if a not in env_rcpt:
                env_rcpt.append(a)
        env_from = sender[1]
        if rng.random() < 0.04:  # a list or bounce address as the envelope sender
            env_from = "bounces+%d@%s" % (i, sender[1].split("@")[1])
        # Date: in arrival order over the years, +-2 h jitter, varied zones.
        t = START + datetime.timedelta(seconds=self.span * i / max(1, self.total)
                                       + rng.uniform(-7200, 7200))
        tz = datetime.timezone(datetime.timedelta(minutes=rng.choice(ZONES)))
        date = t.astimezone(tz)
        sdom = sender[1].split("@")[1]
        msgid = "<%s.%06x.%d@mail.%s>" % (date.strftime("%Y%m%d%H%M%S"),
                                          rng.getrandbits(24), i, sdom)
        # Subject: 2 to 8 words, a reply or forward prefix sometimes.
        sw = rng.choices(w.pop[lang if lang in w.pop else "en"],
                         cum_weights=w.cum[lang if lang in w.pop else "en"], k=rng.randint(2, 8))
        if lang in ("zh", "ja"):
            subject = rng.choice(words.ZH if lang == "zh" else words.JA).rstrip("。")
            sw.append(subject)
            subject += " " + " ".join(sw[:2])
        else:
            subject = " ".join(sw)
            subject = subject[:1].upper() + subject[1:]
        r = rng.random()
        reply = r < 0.3
        if reply:
            subject = words.RE_PREFIX[lang] + subject
        elif r < 0.35:
            subject = words.FWD_PREFIX[lang] + subject
        # Body: lognormal length (mean about 150 words), planted rare words.
        n = min(3000, max(8, int(rng.lognormvariate(4.85, 0.55))))
        # The rare word planted at b (a multiple of RARE_EVERY) is in
        # messages b .. b + rare_count(b) - 1.
        b = i - i % RARE_EVERY
        plant = [rare_word(b)] if i - b < rare_count(self.seed, b) else []
        rname = to[0][0].split(" ")[0] if to[0][0] else ""
        lines = [words.GREETING[lang].format(n=rname or "all"), ""] if rng.random() < 0.8 else []
        text, toks = self.sentences(rng, lang, n, plant)
        lines += text
        lines += [words.CLOSING[lang], sender[0] or sender[1]]
        if rng.random() < 0.6:
            lines += ["", "-- ", sender[0] or sender[1], sdom,
                      "+%d %d %d" % (rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000000, 9999999))]
        if reply:
            qn = min(400, max(5, int(rng.lognormvariate(3.8, 0.6))))
            qlines, _ = self.sentences(rng, lang, qn, [])
            lines += ["", "On %s, %s wrote:" % (
                (date - datetime.timedelta(hours=rng.randint(1, 72))).strftime("%a, %d %b %Y %H:%M"),
                to[0][0] or to[0][1])]
            lines += ["> " + x if x else ">" for x in qlines]
        body = "\r\n".join(lines) + "\r\n"
        # Headers
        h = []
        h.append(fold("Received", "from mail.%s (mail.%s [192.0.2.%d]) by mx.acme.example "
                      "(Postfix) with ESMTPS id %X for <%s>; %s" % (
                          sdom, sdom, rng.randint(1, 254), rng.getrandbits(40), env_rcpt[0],
                          date.strftime("%a, %d %b %Y %H:%M:%S %z"))))
        h.append("Date: %s\r\n" % date.strftime("%a, %d %b %Y %H:%M:%S %z"))
        fromh = mailbox(sender[0], sender[1], rng)
        if rng.random() < 0.05:  # some clients write addresses with capitals
            fromh = fromh.replace(sender[1], sender[1][:1].upper() + sender[1][1:])
        h.append(fold("From", fromh))
        h.append(fold("To", ", ".join(mailbox(n_, a, rng) for n_, a in to)))
        if cc:
            h.append(fold("Cc", ", ".join(mailbox(n_, a, rng) for n_, a in cc)))
        h.append(fold("Subject", hdr_text(subject)))
        h.append("Message-ID: %s\r\n" % msgid)
        if reply:
            ref = "<%x.%d@mail.%s>" % (rng.getrandbits(48), i, to[0][1].split("@")[1])
            h.append("In-Reply-To: %s\r\nReferences: %s\r\n" % (ref, ref))
        if rng.random() < 0.5:
            h.append("User-Agent: %s\r\n" % rng.choice((
                "Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.11.0",
                "Microsoft Outlook 16.0", "Apple Mail (2.3731.400.51.1.1)", "Roundcube Webmail/1.6.1")))
        h.append("MIME-Version: 1.0\r\n")
        ascii_body = body.isascii()
        bbytes = body.encode("utf-8")
        if ascii_body:
            cte = "7bit"
        elif rng.random() < 0.25:
            cte = "quoted-printable"
            bbytes = binascii.b2a_qp(bbytes.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
        else:
            cte = "8bit"
        ctype = "text/plain; charset=%s" % ("us-ascii" if ascii_body else "utf-8")
        multipart = rng.random() < 0.1
        if multipart:
            boundary = "----=_Part_%d_%d" % (i, rng.getrandbits(32))
            att = self.attachment(rng, i, date)
            h.append('Content-Type: multipart/mixed;\r\n boundary="%s"\r\n' % boundary)
            msg = "".join(h).encode() + b"\r\nThis is a multi-part message in MIME format.\r\n\r\n" + \
                ("--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n" % (
                    boundary, ctype, cte)).encode() + bbytes + \
                ("\r\n--%s\r\n" % boundary).encode() + att + ("\r\n--%s--\r\n" % boundary).encode()
        else:
            h.append("Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n" % (ctype, cte))
            msg = "".join(h).encode() + b"\r\n" + bbytes
        probe = None
        if i % self.probe_every == 0:
            plain = [x.strip(".,?!").lower() for x in toks]
            plain = [x for x in plain if x and x.isalpha()]
            mid = [x for x in plain if x in self.middle_set]
            # two adjacent words of the text as generated (no word between)
            pairs = [(a.strip(".,?!").lower(), b.strip(".,?!").lower()) for a, b in zip(toks, toks[1:])]
            pairs = [x for x in pairs if x[0].isalpha() and x[1].isalpha()]
            phrase = list(pairs[rng.randrange(len(pairs))]) if pairs else []
            probe = {
                "i": i, "env_from": env_from, "env_to": env_rcpt,
                "from": sender[1], "from_name": sender[0],
                "to": [a for _, a in to], "bcc": [a for _, a in bcc],
                "message_id": msgid, "date": date.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d"),
                "subject_word": max((x.strip(".,?!") for x in sw), key=len),
                "word": mid[0] if mid else (max(plain, key=len) if plain else ""),
                "phrase": phrase,
                "lang": lang,
            }
        has_common = w.common in toks
        return env_from, env_rcpt, msg, probe, has_common, multipart

    def attachment(self, rng, i, date):
        kind = rng.random()
        if kind < 0.45:
            name = "invoice-%d-%05d.pdf" % (date.year, i % 100000)
            raw = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(rng.randint(800, 6000)) + b"\n%%EOF\n"
            ctype = "application/pdf"
        elif kind < 0.7:
            name = "notes-%d.txt" % (i % 10000)
            toks = rng.choices(self.w.pop["en"], cum_weights=self.w.cum["en"], k=rng.randint(30, 300))
            raw = ("\r\n".join(wrap(" ".join(toks))) + "\r\n").encode()
            ctype = "text/plain"
        elif kind < 0.85:
            name = "figures-Q%d-%d.csv" % (1 + date.month // 4, date.year)
            rows = ["item;quantity;price"] + ["%s;%d;%d.%02d" % (
                rng.choice(self.w.pseudo[:2000]), rng.randint(1, 500), rng.randint(1, 9999),
                rng.randint(0, 99)) for _ in range(rng.randint(5, 80))]
            raw = ("\r\n".join(rows) + "\r\n").encode()
            ctype = "text/csv"
        else:
            name = rng.choice(("Übersicht März.pdf", "Résumé réunion.pdf", "报告.pdf", "Angebot Größe.pdf"))
            raw = b"%PDF-1.5\n" + rng.randbytes(rng.randint(500, 4000)) + b"\n%%EOF\n"
            ctype = "application/pdf"
        b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        if name.isascii():
            disp = 'attachment; filename="%s"' % name
            ct = '%s; name="%s"' % (ctype, name)
        else:
            q = "".join(c if c.isascii() and c.isalnum() or c in ".-" else
                        "".join("%%%02X" % b for b in c.encode()) for c in name)
            disp = "attachment;\r\n filename*=UTF-8''%s" % q
            ct = "%s; name=\"%s\"" % (ctype, encode_word(name))
        return ("Content-Type: %s\r\nContent-Disposition: %s\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" % (ct, disp)).encode() + b64.rstrip(b"\r\n")


_G = None


def _init(seed, total, years, probe_every):
    global _G
    _G = Gen(seed, total, years)
    _G.probe_every = probe_every
    _G.middle_set = set(_G.w.middle)


def _chunk(args):
    out, k, lo, hi = args
    g = _G
    probes, df, nbytes, text_n, text_bytes = [], 0, 0, 0, 0
    offs = array("Q")
    tmp = os.path.join(out, "chunk-%05d.spool.tmp" % k)
    with open(tmp, "wb", buffering=1 << 20) as f:
        pos = 0
        for i in range(lo, hi):
            env_from, rcpt, msg, probe, has_common, multipart = g.message(i)
            if not multipart:
                text_n += 1
                text_bytes += len(msg)
            stuffed = msg.replace(b"\r\n.", b"\r\n..")
            if stuffed.startswith(b"."):
                stuffed = b"." + stuffed
            payload = stuffed + b".\r\n"
            head = ("%d\t%d\t%d\t%s\t%s\n" % (i, len(msg), len(payload), env_from, ",".join(rcpt))).encode()
            offs.append(pos)
            f.write(head)
            f.write(payload)
            pos += len(head) + len(payload)
            nbytes += len(msg)
            df += has_common
            if probe:
                probes.append(probe)
    os.rename(tmp, os.path.join(out, "chunk-%05d.spool" % k))
    with open(os.path.join(out, "chunk-%05d.idx" % k), "wb") as f:
        offs.tofile(f)
    return k, probes, df, nbytes, text_n, text_bytes


def main():
    ap = argparse.ArgumentParser(description="generate the search benchmark's mail")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--chunk", type=int, default=10000)
    ap.add_argument("--probe-every", type=int, default=50)
    ap.add_argument("--years", type=float, default=5.0)
    a = ap.parse_args()
    if a.count < 1 or a.chunk < 1 or a.probe_every < 1:
        ap.error("--count, --chunk and --probe-every must be positive")
    os.makedirs(a.out, exist_ok=True)
    tasks = [(a.out, k, lo, min(a.count, lo + a.chunk))
             for k, lo in enumerate(range(0, a.count, a.chunk))]
    results = []
    initargs = (a.seed, a.count, a.years, a.probe_every)
    if a.jobs > 1 and len(tasks) > 1:
        with multiprocessing.Pool(a.jobs, _init, initargs) as pool:
            for r in pool.imap_unordered(_chunk, tasks):
                results.append(r)
                print("gen_mail: chunk %d of %d" % (len(results), len(tasks)), file=sys.stderr, flush=True)
    else:
        _init(*initargs)
        for t in tasks:
            results.append(_chunk(t))
    results.sort(key=lambda r: r[0])
    g = Gen(a.seed, a.count, a.years) if _G is None else _G
    rare = []
    for b in range(0, a.count, RARE_EVERY):
        rare.append({"word": rare_word(b), "first": b, "count": rare_count(a.seed, b)})
    facts = {
        "version": VERSION, "seed": a.seed, "count": a.count, "chunk": a.chunk,
        "years": a.years, "common": g.w.common,
        "common_df": [r[2] for r in results],
        "bytes": [r[3] for r in results],
        "text_only": [r[4] for r in results],
        "text_only_bytes": [r[5] for r in results],
        "boolean_not": "it",
        "internal_domains": INTERNAL_DOMAINS,
        "rare": rare,
        "probes": [p for r in results for p in r[1]],
    }
    with open(os.path.join(a.out, "facts.json"), "w") as f:
        json.dump(facts, f, ensure_ascii=False)
    with open(os.path.join(a.out, "DONE"), "w") as f:
        f.write("version=%d seed=%d count=%d chunk=%d years=%s\n" % (
            VERSION, a.seed, a.count, a.chunk, a.years))


if __name__ == "__main__":
    main()
