/*
 * NAME
 *	fuzz_delivery 1
 * SUMMARY
 *	libFuzzer target: the whole delivery path, from an LMTP transaction
 *	to the stored archive message read back, byte for byte
 * DESCRIPTION
 *	The input is a message (any bytes) and a small envelope header. The
 *	target builds the LMTP session Postfix would send for it (LHLO,
 *	XFORWARD IDENT, MAIL FROM, 1 to 4 RCPT TO, DATA with the message
 *	dot-stuffed, QUIT) and serves it with lmtp_session_run(): session,
 *	spool, index fields, wrap, the real Maildir store and the real SQLite
 *	catalog, in a scratch directory on tmpfs (wiped every
 *	FUZZ_RESET_EVERY inputs). Then the catalog's indexer reads the
 *	stored copy back for the full-text index, as the daemon's indexer
 *	process would.
 *
 *	Input layout:
 *	  byte 0   flags: bit 0 XFORWARD IDENT, bit 1 BODY=8BITMIME SMTPUTF8,
 *	           bits 2-3 recipients - 1, bit 4 null sender
 *	           bit 5: then the same message again with a forged
 *	           "X-Tabularium-Archive-Id:" naming the stored copy's id;
 *	           bit 6: then the stored archive message itself
 *	  byte 1   sender length / 8 (0: a short ordinary address)
 *	  byte 2   first recipient's length / 8 (0: a short ordinary one)
 *	  byte 3.. the message
 *	Addresses are made of atext characters, at most FUZZ_ADDR_MAX
 *	(1990: "MAIL FROM:<...> BODY=8BITMIME SMTPUTF8" then fits the default
 *	2048-byte command line).
 *
 *	To look past a known bug until it is fixed (as -detect_leaks=0 does
 *	for a leak): $FUZZ_DELIVERY_ADDR_MAX lowers the address length,
 *	$FUZZ_DELIVERY_NO_FORGED_LOOP skips bit 5.
 *
 *	What goes over LMTP is the message itself, with a CRLF added when it
 *	is not empty and does not end in LF (nothing else can be sent: the
 *	"." line needs a line end before it, and Postfix adds the same). That
 *	is the original the archive must hold.
 *
 *	Checked, because it is what the archive promises (issue 13: content
 *	never causes a refusal, a crash or an endless 451):
 *	  - every command gets its positive reply (220, 250, 354, 221): an
 *	    envelope Postfix sends is accepted whatever its length;
 *	  - each recipient's reply after DATA is 250, and one of
 *	      "archived as ID": the catalog's record for ID has the original's
 *	        size and SHA-256; the store's copy has the catalog's wrapped
 *	        size and SHA-256; the original extracted from that copy here
 *	        (the boundary from the wrapper's Content-Type, the part after
 *	        the part header, up to the close delimiter that ends the copy)
 *	        has the SHA-256 of what was sent; one new file in the Maildir;
 *	      "already archived": the same bytes were archived by an earlier
 *	        input (same queue id), and nothing new was stored;
 *	      "is archive copy ID: not archived again": what was sent is
 *	        byte for byte the stored archive message ID;
 *	    the same outcome for every recipient of the transaction;
 *	  - the indexer (index_pending) succeeds on what was stored.
 * DIAGNOSTICS
 *	abort() with the failed invariant and the session's replies on
 *	stderr; setup failures abort with "fuzz setup:".
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_daemon.h"

#include <dirent.h>
#include <strings.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "backends/store.h"
#include "common/config.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"
#include "lmtpd/delivery.h"
#include "mail/index_fields.h"
#include "mail/text_source.h"
#include "lmtpd/lmtp_session.h"

#define FUZZ_RESET_EVERY 2000
#define FUZZ_ADDR_MAX 1990
#define FUZZ_HEADER 3
/* Up to three deliveries per input (bits 5 and 6). */
#define FUZZ_SEEN_MAX (3 * FUZZ_RESET_EVERY)

static struct tab_config cfg;
static struct delivery_ctx ctx;
static struct text_source *text_source;
static char *data_dir, *maildir_new;
static int in_fd = -1, out_fd = -1, copy_fd = -1;
static unsigned runs;
static size_t addr_max = FUZZ_ADDR_MAX;
static int no_forged_loop;  /* $FUZZ_DELIVERY_NO_FORGED_LOOP: skip flag bit 5 */
static size_t stored_files; /* files the Maildir should hold */

/* Originals archived since the last reset: SHA-256 -> archive id. */
static struct {
    char sha256[65];
    char archive_id[ARCHIVE_ID_SIZE];
} seen[FUZZ_SEEN_MAX];
static size_t n_seen;

static void open_backends(void)
{
    fuzz_open_backends(&cfg, &ctx);
    ctx.index_later = delivery_index_later(&cfg);
    text_source = text_source_attach(ctx.catalog, &cfg);
    stored_files = 0;
    n_seen = 0;
}

static void close_backends(void)
{
    text_source_free(&text_source);
    fuzz_close_backends(&ctx);
}

static void teardown(void)
{
    close_backends();
    free(maildir_new);
    fuzz_daemon_end(&cfg, data_dir);
}

static void setup(void)
{
    const char *env = getenv("FUZZ_DELIVERY_ADDR_MAX");

    if (env != NULL && atoi(env) > 0)
        addr_max = (size_t)atoi(env);
    no_forged_loop = getenv("FUZZ_DELIVERY_NO_FORGED_LOOP") != NULL;
    data_dir = fuzz_daemon_begin("fuzz_delivery", "tabfuzz-delivery", &cfg);
    maildir_new = xasprintf("%s/Maildir/new", data_dir);
    fuzz_config_set(&cfg, "lmtp_timeout", "1");
    fuzz_config_finish(&cfg, &ctx);
    open_backends();
    in_fd = fuzz_memfd("fuzz-delivery-in");
    out_fd = fuzz_memfd("fuzz-delivery-out");
    copy_fd = fuzz_memfd("fuzz-delivery-copy");
    /* Registered after fuzz_scratch_dir()'s own: runs first. */
    atexit(teardown);
}

/* The replies, for the diagnostics of a failed check. */
static const char *replies_seen;

#define DELIVERY_CHECK(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "replies:\n%s\n", replies_seen != NULL ? replies_seen : "");           \
            FUZZ_CHECK(cond);                                                                      \
        }                                                                                          \
    } while (0)

/* prefix + a local part + suffix, len characters in all (len 0: "bob"
 * or "r<seed>" as the local part), from atext characters chosen by seed. */
static char *make_address(const char *prefix, size_t len, unsigned seed, const char *suffix)
{
    static const char atext[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "!#$%&'*+-/=?^_`{|}~.";
    size_t fixed = strlen(prefix) + strlen(suffix), n;
    char *a, *p;

    if (len == 0)
        return seed == 0 ? xasprintf("%sbob%s", prefix, suffix)
                         : xasprintf("%sr%u%s", prefix, seed, suffix);
    if (len > addr_max)
        len = addr_max;
    n = len > fixed + 1 ? len - fixed : 1;
    a = xmalloc(fixed + n + 1);
    strcpy(a, prefix);
    p = a + strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        char c = atext[(i * 31u + seed) % (sizeof(atext) - 1)];
        /* No dot first, last or twice in a row (dot-atom). */
        if (c == '.' && (i == 0 || i + 1 == n || p[i - 1] == '.'))
            c = 'x';
        p[i] = c;
    }
    strcpy(p + n, suffix);
    return a;
}

/* Dot-stuff msg (RFC 5321 4.5.2): a dot at the start of any line (after
 * LF, as the DATA reader counts lines) is doubled. */
static void append_stuffed(FILE *b, const char *msg, size_t len)
{
    size_t i = 0;

    while (i < len) {
        const char *lf = memchr(msg + i, '\n', len - i);
        size_t end = lf != NULL ? (size_t)(lf - msg) + 1 : len;
        if (msg[i] == '.')
            fputc('.', b);
        fwrite(msg + i, 1, end - i, b);
        i = end;
    }
}

static size_t count_stored(void)
{
    DIR *d = opendir(maildir_new);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0; /* nothing stored yet */
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The value of the header field name (with its continuation lines) in
 * the header h[0..hlen), or NULL; *len_r its length. */
static const char *header_field(const char *h, size_t hlen, const char *name, size_t *len_r)
{
    size_t nlen = strlen(name), i = 0;

    while (i < hlen) {
        const char *line = h + i;
        const char *nl = memmem(line, hlen - i, "\r\n", 2);
        size_t n = nl != NULL ? (size_t)(nl - line) : hlen - i;
        if (n > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *end = line + n;
            /* Continuation lines start with a blank. */
            while (end + 2 < h + hlen && (end[2] == ' ' || end[2] == '\t')) {
                const char *next = memmem(end + 2, (size_t)(h + hlen - end - 2), "\r\n", 2);
                end = next != NULL ? next : h + hlen;
            }
            *len_r = (size_t)(end - line) - nlen - 1;
            return line + nlen + 1;
        }
        i += n + 2;
    }
    return NULL;
}

/*
 * The original inside an archive message, found from the wrapper's own
 * layout (ARCHITECTURE.md: one multipart/mixed with one message/rfc822 part),
 * without mail/archive_read.c, whose reading is what is checked: the
 * boundary from the top-level Content-Type field, "--B" CRLF, the part
 * header up to its empty line, then everything up to the close delimiter
 * "CRLF --B-- CRLF" that ends the copy.
 */
static int extract_original(const char *w, size_t wlen, const char **orig_r, size_t *len_r)
{
    static const char bkw[] = "boundary=\"";
    const char *hend = memmem(w, wlen, "\r\n\r\n", 4);
    const char *ct, *b, *q, *part, *body;
    char *open_delim, *close_delim;
    size_t ctlen, blen, olen, clen;
    int ok = 0;

    if (hend == NULL)
        return -1;
    ct = header_field(w, (size_t)(hend - w) + 2, "Content-Type", &ctlen);
    if (ct == NULL)
        return -1;
    b = memmem(ct, ctlen, bkw, sizeof(bkw) - 1);
    if (b == NULL)
        return -1;
    b += sizeof(bkw) - 1;
    q = memchr(b, '"', (size_t)(ct + ctlen - b));
    if (q == NULL)
        return -1;
    blen = (size_t)(q - b);
    open_delim = xasprintf("--%.*s\r\n", (int)blen, b);
    close_delim = xasprintf("\r\n--%.*s--\r\n", (int)blen, b);
    olen = strlen(open_delim);
    clen = strlen(close_delim);
    part = hend + 4;
    if ((size_t)(w + wlen - part) >= olen && memcmp(part, open_delim, olen) == 0) {
        const char *phend = memmem(part + olen, (size_t)(w + wlen - part - olen), "\r\n\r\n", 4);
        if (phend != NULL) {
            body = phend + 4;
            if ((size_t)(w + wlen - body) >= clen &&
                memcmp(w + wlen - clen, close_delim, clen) == 0) {
                *orig_r = body;
                *len_r = (size_t)(w + wlen - clen - body);
                ok = 1;
            }
        }
    }
    free(open_delim);
    free(close_delim);
    return ok ? 0 : -1;
}

/* The stored archive message id, read back and checked against the
 * catalog; fills wrapped_sha_r and compares its original with sent. */
static void check_archived(const char *id, const char *sha, size_t size)
{
    struct archive_record rec;
    const char *error = NULL, *orig;
    char *copy;
    size_t copy_len, orig_len;
    char got[65];

    memset(&rec, 0, sizeof(rec));
    DELIVERY_CHECK(catalog_get(ctx.catalog, id, &rec, &error) == TAB_OK);
    DELIVERY_CHECK(strcmp(rec.sha256, sha) == 0);
    DELIVERY_CHECK(rec.size == size);
    DELIVERY_CHECK(rec.location != NULL);
    fuzz_fd_set(copy_fd, "", 0);
    DELIVERY_CHECK(store_get(ctx.store, rec.location, copy_fd, &error) == TAB_OK);
    copy = fuzz_fd_slurp(copy_fd, &copy_len);
    DELIVERY_CHECK(copy_len == rec.wrapped_size);
    fuzz_sha256_hex(copy, copy_len, got);
    DELIVERY_CHECK(strcmp(got, rec.wrapped_sha256) == 0);
    DELIVERY_CHECK(extract_original(copy, copy_len, &orig, &orig_len) == 0);
    DELIVERY_CHECK(orig_len == size);
    fuzz_sha256_hex(orig, orig_len, got);
    DELIVERY_CHECK(strcmp(got, sha) == 0);
    free(copy);
    record_free(&rec);
}

/* The stored archive message id is byte for byte what was sent. */
static void check_loop(const char *id, const char *sha)
{
    struct archive_record rec;
    const char *error = NULL;

    memset(&rec, 0, sizeof(rec));
    DELIVERY_CHECK(catalog_get(ctx.catalog, id, &rec, &error) == TAB_OK);
    DELIVERY_CHECK(strcmp(rec.wrapped_sha256, sha) == 0);
    record_free(&rec);
}

/* Next reply (lines up to one with a space after the code); NULL at end. */
static const char *next_reply(const char **pos, const char *end, char *buf, size_t size)
{
    const char *line = *pos;

    while (line < end) {
        const char *nl = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t n;
        if (nl == NULL)
            return NULL;
        n = (size_t)(nl - line);
        *pos = nl + 2;
        if (n >= 4 && line[3] == '-') {
            line = *pos;
            continue;
        }
        snprintf(buf, size, "%.*s", (int)n, line);
        return buf;
    }
    return NULL;
}

static void expect(const char **pos, const char *end, const char *code)
{
    char buf[4096];
    const char *r = next_reply(pos, end, buf, sizeof(buf));

    DELIVERY_CHECK(r != NULL && strncmp(r, code, strlen(code)) == 0);
}

static const char *seen_archive_id(const char *sha)
{
    for (size_t k = 0; k < n_seen; k++)
        if (strcmp(seen[k].sha256, sha) == 0)
            return seen[k].archive_id;
    return NULL;
}

/* The reply the session sends for prefix + what + id + tail: whole, or,
 * past LMTP_REPLY_MAX (510) bytes, its first and last 253 bytes around
 * "..." (lmtpd/lmtp_session.c: a long address is abbreviated). */
static int reply_is(const char *r, const char *prefix, const char *what, const char *id,
                    const char *tail)
{
    char *full = xasprintf("%s%s%s%s", prefix, what, id, tail);
    size_t len = strlen(full), keep = (510 - 3) / 2;
    int same;

    if (len <= 510)
        same = strcmp(r, full) == 0;
    else
        same = strlen(r) == 2 * keep + 3 && memcmp(r, full, keep) == 0 &&
               memcmp(r + keep, "...", 3) == 0 && strcmp(r + keep + 3, full + len - keep) == 0;
    free(full);
    return same;
}

/* The archive id just before tail at the end of r, into id. */
static int reply_id(const char *r, const char *tail, char id[ARCHIVE_ID_SIZE])
{
    size_t len = strlen(r), t = strlen(tail);

    if (len < t + ARCHIVE_ID_SIZE - 1 || strcmp(r + len - t, tail) != 0)
        return 0;
    memcpy(id, r + len - t - (ARCHIVE_ID_SIZE - 1), ARCHIVE_ID_SIZE - 1);
    id[ARCHIVE_ID_SIZE - 1] = '\0';
    return archive_id_valid(id);
}

/*
 * One transaction for the original orig (as it must arrive), with the
 * envelope the input's header bytes choose; every check of the DESCRIPTION.
 * id_r: the archive id of the stored copy that holds it ("" when none).
 */
static void deliver(const uint8_t *data, size_t size, const char *orig, size_t orig_len,
                    char id_r[ARCHIVE_ID_SIZE])
{
    static const char loop_tail[] = ": not archived again";
    unsigned flags = data[0];
    char *in = NULL;
    size_t in_len = 0;
    FILE *in_f = open_memstream(&in, &in_len);
    size_t n_rcpts, n_already = 0, n_loop = 0;
    char *sender, *rcpts[4], *out;
    char sha[65], buf[4096], ident[32];
    char archived[ARCHIVE_ID_SIZE] = "", loop_id[ARCHIVE_ID_SIZE] = "";
    size_t out_len;
    const char *pos, *end, *r;

    fuzz_sha256_hex(orig, orig_len, sha);
    sender = flags & 16 ? xstrdup("") : make_address("", (size_t)data[1] * 8, data[1], "@x.test");
    n_rcpts = 1 + ((flags >> 2) & 3);
    for (size_t i = 0; i < n_rcpts; i++)
        rcpts[i] =
            i == 0 ? make_address("archive+", (size_t)data[2] * 8, data[2], "=y.test@archive.test")
                   : make_address("archive+", 0, (unsigned)i, "=y.test@archive.test");

    if (in_f == NULL)
        fuzz_die("open_memstream");
    fputs("LHLO client.test\r\n", in_f);
    if (flags & 1) {
        /* Unique per transaction, like Postfix's queue ids. */
        static unsigned idents;
        snprintf(ident, sizeof(ident), "4F%08uQ", ++idents);
        fprintf(in_f, "XFORWARD IDENT=%s\r\n", ident);
    }
    fprintf(in_f, "MAIL FROM:<%s%s", sender, flags & 2 ? "> BODY=8BITMIME SMTPUTF8\r\n" : ">\r\n");
    for (size_t i = 0; i < n_rcpts; i++)
        fprintf(in_f, "RCPT TO:<%s>\r\n", rcpts[i]);
    fputs("DATA\r\n", in_f);
    append_stuffed(in_f, orig, orig_len);
    fputs(".\r\nQUIT\r\n", in_f);
    if (fclose(in_f) != 0)
        fuzz_die("open_memstream");

    fuzz_fd_set(in_fd, in, in_len);
    fuzz_fd_set(out_fd, "", 0);
    fuzz_read_plan(in_fd, data, size);
    lmtp_session_run(in_fd, out_fd, "fuzz", &ctx, NULL);
    out = fuzz_fd_slurp(out_fd, &out_len);
    replies_seen = out;

    pos = out;
    end = out + out_len;
    expect(&pos, end, "220 ");
    expect(&pos, end, "250");
    if (flags & 1)
        expect(&pos, end, "250 ");
    expect(&pos, end, "250 "); /* MAIL */
    for (size_t i = 0; i < n_rcpts; i++)
        expect(&pos, end, "250 ");
    expect(&pos, end, "354 ");
    /* One reply per recipient: archived (one new copy for all that are
     * new), already archived (an earlier input), or our own copy again. */
    for (size_t i = 0; i < n_rcpts; i++) {
        char *prefix = xasprintf("250 2.0.0 <%s> ", rcpts[i]);
        char id[ARCHIVE_ID_SIZE];
        r = next_reply(&pos, end, buf, sizeof(buf));
        DELIVERY_CHECK(r != NULL);
        if (reply_is(r, prefix, "already archived", "", "")) {
            n_already++;
        } else if (reply_id(r, "", id) && reply_is(r, prefix, "archived as ", id, "")) {
            DELIVERY_CHECK(archived[0] == '\0' || strcmp(archived, id) == 0);
            memcpy(archived, id, ARCHIVE_ID_SIZE);
        } else if (reply_id(r, loop_tail, id) &&
                   reply_is(r, prefix, "is archive copy ", id, loop_tail)) {
            DELIVERY_CHECK(loop_id[0] == '\0' || strcmp(loop_id, id) == 0);
            memcpy(loop_id, id, ARCHIVE_ID_SIZE);
            n_loop++;
        } else {
            fprintf(stderr, "unexpected reply: %s\n", r);
            DELIVERY_CHECK(0);
        }
        free(prefix);
    }
    expect(&pos, end, "221 ");

    id_r[0] = '\0';
    if (n_loop > 0) {
        /* Only a byte-identical copy of what we stored is not stored again. */
        DELIVERY_CHECK(n_loop == n_rcpts);
        check_loop(loop_id, sha);
        memcpy(id_r, loop_id, ARCHIVE_ID_SIZE);
    }
    if (n_already > 0) {
        const char *earlier = seen_archive_id(sha);
        DELIVERY_CHECK(earlier != NULL);
        check_archived(earlier, sha, orig_len);
        memcpy(id_r, earlier, ARCHIVE_ID_SIZE);
    }
    if (archived[0] != '\0') {
        check_archived(archived, sha, orig_len);
        stored_files++;
        if (n_seen < FUZZ_SEEN_MAX && seen_archive_id(sha) == NULL) {
            memcpy(seen[n_seen].sha256, sha, sizeof(sha));
            memcpy(seen[n_seen].archive_id, archived, ARCHIVE_ID_SIZE);
            n_seen++;
        }
        memcpy(id_r, archived, ARCHIVE_ID_SIZE);
    }
    /* Archived exactly once: one file per new copy, none otherwise. */
    DELIVERY_CHECK(count_stored() == stored_files);

    /* The indexer reads the stored copy back; content never stops it. */
    if (catalog_can(ctx.catalog, CATALOG_CAN_INDEX_PENDING)) {
        const char *error = NULL;
        int done = 0;
        DELIVERY_CHECK(catalog_index_pending(ctx.catalog, 4, &done, NULL, &error) == TAB_OK);
    }

    replies_seen = NULL;
    free(out);
    free(in);
    for (size_t i = 0; i < n_rcpts; i++)
        free(rcpts[i]);
    free(sender);
}

/* The stored archive message id (heap). */
static char *stored_copy(const char *id, size_t *len_r)
{
    struct archive_record rec;
    const char *error = NULL;
    char *copy;

    memset(&rec, 0, sizeof(rec));
    DELIVERY_CHECK(catalog_get(ctx.catalog, id, &rec, &error) == TAB_OK);
    fuzz_fd_set(copy_fd, "", 0);
    DELIVERY_CHECK(store_get(ctx.store, rec.location, copy_fd, &error) == TAB_OK);
    copy = fuzz_fd_slurp(copy_fd, len_r);
    record_free(&rec);
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data + FUZZ_HEADER;
    size_t msg_len, orig_len;
    char id[ARCHIVE_ID_SIZE];
    char *orig;

    if (size < FUZZ_HEADER)
        return 0;
    if (in_fd < 0)
        setup();
    fuzz_daemon_reset_every(&runs, FUZZ_RESET_EVERY, close_backends, open_backends, data_dir);
    msg_len = size - FUZZ_HEADER;

    /* The original as it will arrive: a last line always ends in a line end. */
    orig_len = msg_len;
    orig = xmalloc(msg_len + 3);
    memcpy(orig, msg, msg_len);
    if (msg_len > 0 && msg[msg_len - 1] != '\n') {
        memcpy(orig + msg_len, "\r\n", 2);
        orig_len += 2;
    }
    deliver(data, size, orig, orig_len, id);

    if ((data[0] & 32) && id[0] != '\0' && !no_forged_loop) {
        /* A forged loop header naming an archive id that exists: archived
         * like any other message (issue 13). */
        char *forged = xasprintf("X-Tabularium-Archive-Id: %s\r\n", id);
        size_t flen = strlen(forged);
        char next[ARCHIVE_ID_SIZE];
        forged = xrealloc(forged, flen + orig_len + 1);
        memcpy(forged + flen, orig, orig_len);
        deliver(data, size, forged, flen + orig_len, next);
        free(forged);
    }
    if ((data[0] & 64) && id[0] != '\0') {
        /* Our own archive message comes back (a re-injecting filter): it
         * may be acknowledged without storing, since it is stored. */
        size_t clen;
        char *copy = stored_copy(id, &clen);
        char next[ARCHIVE_ID_SIZE];
        deliver(data, size, copy, clen, next);
        free(copy);
    }
    free(orig);
    return 0;
}
