/*
 * NAME
 *	test_record_wire
 * SUMMARY
 *	unit test for backends/record_wire.c
 * DESCRIPTION
 *	The exact bytes of the primitives; a record with every field set
 *	(8-bit UTF-8, NULL and "" strings, a 1 MiB body) and an empty one
 *	round-trip field by field; every truncated prefix of an encoding is
 *	refused with nothing leaked (the sanitizer build reports leaks);
 *	each documented rejection fires, right at its limit; records sent
 *	back to back decode one after the other.
 */
#include "backends/record_wire.h"

#include <stdint.h>

#include "check.h"
#include "common/strlist.h"

#define ID1 "3F2A9C010001200ABC42"
#define ID2 "3F2A9C010001200ABC43"
#define HASH_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HASH_B "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* NULL equals only NULL; "" is not NULL. Prints the field on mismatch. */
static int same_str(const char *what, const char *a, const char *b)
{
    if (a == NULL && b == NULL)
        return 1;
    if (a != NULL && b != NULL && strcmp(a, b) == 0)
        return 1;
    fprintf(stderr, "  %s differs: got %.60s%s, expected %.60s%s\n", what, a ? a : "(null)",
            a && strlen(a) > 60 ? "..." : "", b ? b : "(null)", b && strlen(b) > 60 ? "..." : "");
    return 0;
}

static void check_addrs(const char *what, const struct record_addrs *a,
                        const struct record_addrs *b)
{
    CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        CHECK(same_str(what, a->v[i].name, b->v[i].name));
        CHECK(same_str(what, a->v[i].address, b->v[i].address));
    }
}

/* Every field of got against want, one by one. */
static void check_record(const struct archive_record *got, const struct archive_record *want)
{
    CHECK_STR(got->archive_id, want->archive_id);
    CHECK(same_str("queue_id", got->queue_id, want->queue_id));
    CHECK(same_str("envelope_from", got->envelope_from, want->envelope_from));
    CHECK(same_str("envelope_status", got->envelope_status, want->envelope_status));
    CHECK(got->n_rcpts == want->n_rcpts);
    for (size_t i = 0; i < got->n_rcpts && i < want->n_rcpts; i++) {
        CHECK(same_str("rcpt address", got->rcpts[i].address, want->rcpts[i].address));
        CHECK(same_str("archive_rcpt", got->rcpts[i].archive_rcpt, want->rcpts[i].archive_rcpt));
        CHECK(same_str("orcpt", got->rcpts[i].orcpt, want->rcpts[i].orcpt));
        CHECK(same_str("notify", got->rcpts[i].notify, want->rcpts[i].notify));
    }
    CHECK(same_str("mail_params", got->mail_params, want->mail_params));
    CHECK(same_str("xforward", got->xforward, want->xforward));
    check_addrs("hdr_from", &got->hdr_from, &want->hdr_from);
    check_addrs("hdr_to", &got->hdr_to, &want->hdr_to);
    check_addrs("hdr_cc", &got->hdr_cc, &want->hdr_cc);
    CHECK(same_str("date", got->date, want->date));
    CHECK(same_str("date_raw", got->date_raw, want->date_raw));
    CHECK(same_str("subject", got->subject, want->subject));
    CHECK(same_str("subject_raw", got->subject_raw, want->subject_raw));
    CHECK(same_str("message_id", got->message_id, want->message_id));
    CHECK(same_str("received_id", got->received_id, want->received_id));
    CHECK(same_str("loop_archive_id", got->loop_archive_id, want->loop_archive_id));
    CHECK(same_str("body_text", got->body_text, want->body_text));
    CHECK(got->index_later == want->index_later);
    CHECK(got->n_attachments == want->n_attachments);
    for (size_t i = 0; i < got->n_attachments && i < want->n_attachments; i++) {
        CHECK(same_str("filename", got->attachments[i].filename, want->attachments[i].filename));
        CHECK(same_str("content_type", got->attachments[i].content_type,
                       want->attachments[i].content_type));
    }
    CHECK(got->arrival == want->arrival);
    CHECK(got->retain_until == want->retain_until);
    CHECK(got->size == want->size);
    CHECK_STR(got->sha256, want->sha256);
    CHECK(got->wrapped_size == want->wrapped_size);
    CHECK_STR(got->wrapped_sha256, want->wrapped_sha256);
    CHECK(same_str("store", got->store, want->store));
    CHECK(same_str("location", got->location, want->location));
    CHECK(same_str("index_status", got->index_status, want->index_status));
    CHECK(same_str("index_note", got->index_note, want->index_note));
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++)
        if (c[i] != 0)
            return 0;
    return 1;
}

/* Every field set; body_len bytes of body text (8-bit UTF-8 included). */
static void fill_full(struct archive_record *rec, size_t body_len)
{
    static const char pattern[] = "Grüße aus Köln, 東京 — résumé. ";

    memcpy(rec->archive_id, ID1, sizeof(ID1));
    rec->queue_id = xstrdup("4XyZ1abC");
    rec->envelope_from = xstrdup("");
    rec->envelope_status = ENVELOPE_INCOMPLETE;
    record_add_rcpt(rec, "bob@example.com", "archive+bob=example.com@archive.test",
                    "rfc822;bob@example.com", "SUCCESS,DELAY");
    record_add_rcpt(rec, "jörg@bücher.example", "archive+j=C3=B6rg@archive.test", NULL, NULL);
    record_add_rcpt(rec, "", "archive@archive.test", "", NULL);
    rec->mail_params = xstrdup("SIZE=1 BODY=8BITMIME SMTPUTF8");
    rec->xforward = xstrdup("NAME=mx.example ADDR=192.0.2.1 IDENT=4XyZ1abC");
    record_addrs_add(&rec->hdr_from, "Jörg Müller", "joerg@example.com");
    record_addrs_add(&rec->hdr_to, NULL, "bob@example.com");
    record_addrs_add(&rec->hdr_to, "", "carol@example.com");
    record_addrs_add(&rec->hdr_to, "undisclosed-recipients", NULL);
    record_addrs_add(&rec->hdr_cc, "Dave", "dave@example.com");
    rec->date = xstrdup("2024-03-01T09:30:00Z");
    rec->date_raw = xstrdup("Fri, 1 Mar 2024 10:30:00\r\n +0100");
    rec->subject = xstrdup("Grüße \xe2\x9c\x93");
    rec->subject_raw = xstrdup("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?UTF-8?B?4pyT?=");
    rec->message_id = xstrdup("abc.123@example.com");
    rec->received_id = xstrdup("4XyZ1abC");
    rec->loop_archive_id = xstrdup(ID2);
    rec->index_later = 1;
    rec->body_text = xmalloc(body_len + 1);
    for (size_t i = 0; i < body_len; i++)
        rec->body_text[i] = pattern[i % (sizeof(pattern) - 1)];
    /* never cut a multi-byte sequence: the last byte is plain ASCII */
    if (body_len > 0)
        rec->body_text[body_len - 1] = '.';
    rec->body_text[body_len] = '\0';
    record_add_attachment(rec, "Rechnung März.pdf", "application/pdf");
    record_add_attachment(rec, NULL, "image/png");
    record_add_attachment(rec, "", "application/octet-stream");
    rec->arrival = -1; /* 1969-12-31T23:59:59Z: the sign must survive */
    rec->retain_until = (time_t)4102444799LL;
    rec->size = UINT64_C(0xFEDCBA9876543210);
    memcpy(rec->sha256, HASH_A, sizeof(HASH_A));
    rec->wrapped_size = 5120;
    memcpy(rec->wrapped_sha256, HASH_B, sizeof(HASH_B));
    rec->store = xstrdup("maildir");
    rec->location = xstrdup("cur/1709285400.M1P2.host:2,");
    rec->index_status = INDEX_DEGRADED;
    rec->index_note = xstrdup("worker died on the previous attempt (SIGSEGV)");
}

static void test_primitives(void)
{
    struct buf b = {0};
    static const unsigned char want[] = {
        0x7f,                                           /* u8 */
        0x01, 0x02, 0x03, 0x04,                         /* u32 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* u64 */
        0xff, 0xff, 0xff, 0xff,                         /* NULL */
        0x00, 0x00, 0x00, 0x00,                         /* "" */
        0x00, 0x00, 0x00, 0x03, 'a',  0xc3, 0xa4,       /* "aä" */
    };
    struct wire_reader r;
    unsigned char *data;
    char *s;
    int is_null;

    wire_put_u8(&b, 0x7f);
    wire_put_u32(&b, 0x01020304);
    wire_put_u64(&b, UINT64_C(0x0102030405060708));
    wire_put_str(&b, NULL);
    wire_put_str(&b, "");
    wire_put_str(&b, "a\xc3\xa4");
    CHECK(b.len == sizeof(want) && memcmp(b.data, want, sizeof(want)) == 0);

    r = wire_reader_of(&b);
    CHECK(wire_get_u8(&r) == 0x7f);
    CHECK(wire_get_u32(&r) == 0x01020304);
    CHECK(wire_get_u64(&r) == UINT64_C(0x0102030405060708));
    is_null = 0;
    CHECK(wire_get_str(&r, &is_null) == NULL && is_null == 1 && !r.bad);
    s = wire_get_str(&r, &is_null);
    CHECK_STR(s, "");
    CHECK(is_null == 0);
    free(s);
    s = wire_get_str(&r, NULL);
    CHECK_STR(s, "a\xc3\xa4");
    free(s);
    CHECK(r.left == 0 && !r.bad);
    /* short: bad, and it stays bad with every getter returning 0 / NULL */
    CHECK(wire_get_u8(&r) == 0 && r.bad);
    r.left = 4; /* bytes are there again, but bad sticks */
    r.p = (const unsigned char *)b.data + 1;
    CHECK(wire_get_u32(&r) == 0 && r.bad && r.left == 4);
    CHECK(wire_get_u64(&r) == 0);
    is_null = 1;
    CHECK(wire_get_str(&r, &is_null) == NULL && is_null == 0);

    /* a string length larger than what is left */
    r = (struct wire_reader){want + 21, 6, 0}; /* "aä" missing its last byte */
    CHECK(wire_get_str(&r, &is_null) == NULL && r.bad && is_null == 0);

    /* reset keeps the memory */
    data = (unsigned char *)b.data;
    size_t size = b.size;
    buf_reset(&b);
    CHECK(b.len == 0 && (unsigned char *)b.data == data && b.size == size);
    wire_put_u8(&b, 1);
    CHECK(b.len == 1 && b.data[0] == 1);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.size == 0);

    /* embedded NUL in a string */
    static const unsigned char nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
    r = (struct wire_reader){nul, sizeof(nul), 0};
    CHECK(wire_get_str(&r, &is_null) == NULL && r.bad && is_null == 0);
}

/* WIRE_STR_MAX bytes decode, one more is refused even when present. */
static void test_str_max(void)
{
    size_t n = (size_t)WIRE_STR_MAX + 1;
    unsigned char *buf = xmalloc(4 + n);
    struct wire_reader r;
    char *s;

    memset(buf + 4, 'x', n);
    buf[0] = (unsigned char)(WIRE_STR_MAX >> 24);
    buf[1] = (unsigned char)(WIRE_STR_MAX >> 16);
    buf[2] = (unsigned char)(WIRE_STR_MAX >> 8);
    buf[3] = (unsigned char)WIRE_STR_MAX;
    r = (struct wire_reader){buf, 4 + n, 0};
    s = wire_get_str(&r, NULL);
    CHECK(s != NULL && !r.bad && strlen(s) == WIRE_STR_MAX && r.left == 1);
    free(s);

    buf[3] = (unsigned char)(WIRE_STR_MAX + 1);
    r = (struct wire_reader){buf, 4 + n, 0};
    CHECK(wire_get_str(&r, NULL) == NULL && r.bad);
    free(buf);
}

/* A record, its encoding, a reader over it and the record decoded. */
struct wire_trip {
    struct archive_record rec, got;
    struct buf b;
    struct wire_reader r;
};

/* A reader over the first len bytes of the encoding. */
static struct wire_reader trip_reader(const struct wire_trip *t, size_t len)
{
    return (struct wire_reader){(const unsigned char *)t->b.data, len, 0};
}

static void trip_free(struct wire_trip *t)
{
    buf_free(&t->b);
    record_free(&t->rec);
    record_free(&t->got);
}

static void test_full_roundtrip(void)
{
    struct wire_trip t = {0};

    fill_full(&t.rec, 1024 * 1024);
    record_wire_encode(&t.b, &t.rec);
    CHECK(t.b.len > 1024 * 1024);
    CHECK(t.b.data[0] == RECORD_WIRE_VERSION);
    t.r = trip_reader(&t, t.b.len);
    CHECK(record_wire_decode(&t.r, &t.got) == 0);
    CHECK(!t.r.bad && t.r.left == 0);
    check_record(&t.got, &t.rec);
    CHECK(strlen(t.got.body_text) == 1024 * 1024);
    CHECK(strcmp(t.got.envelope_status, "incomplete") == 0);
    /* decoded to the static string */
    CHECK(strcmp(t.got.index_status, "degraded") == 0 && record_is_degraded(&t.got));
    record_free(&t.got);

    /* cut inside the body and just before the end: refused, zeroed */
    size_t cuts[] = {t.b.len / 2, t.b.len - 1, 200};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        t.r = trip_reader(&t, cuts[i]);
        CHECK(record_wire_decode(&t.r, &t.got) == -1 && t.r.bad);
        CHECK(all_zero(&t.got, sizeof(t.got)));
    }
    trip_free(&t);
}

static void test_empty_roundtrip(void)
{
    struct wire_trip t = {0};

    memcpy(t.rec.archive_id, ID1, sizeof(ID1));
    record_wire_encode(&t.b, &t.rec);
    t.r = trip_reader(&t, t.b.len);
    CHECK(record_wire_decode(&t.r, &t.got) == 0 && t.r.left == 0);
    check_record(&t.got, &t.rec);
    CHECK(t.got.queue_id == NULL && t.got.envelope_status == NULL && t.got.body_text == NULL);
    CHECK(t.got.index_status == NULL && t.got.index_note == NULL && !record_is_degraded(&t.got));
    CHECK(t.got.rcpts == NULL && t.got.hdr_from.v == NULL && t.got.attachments == NULL);
    CHECK(t.got.sha256[0] == '\0' && t.got.wrapped_sha256[0] == '\0');
    trip_free(&t);
}

/* Every prefix 0..len-1 of a full (small-bodied) encoding is refused and
 * leaves the record zeroed; the sanitizer build checks nothing leaks. */
static void test_truncated(void)
{
    struct wire_trip t = {0};
    int refused = 0;

    fill_full(&t.rec, 300);
    record_wire_encode(&t.b, &t.rec);
    for (size_t len = 0; len < t.b.len; len++) {
        t.r = trip_reader(&t, len);
        if (record_wire_decode(&t.r, &t.got) == -1 && t.r.bad && all_zero(&t.got, sizeof(t.got)))
            refused++;
        else
            fprintf(stderr, "  prefix of %zu bytes not refused\n", len);
        record_free(&t.got);
    }
    CHECK((size_t)refused == t.b.len);
    trip_free(&t);
}

/* Decode the whole of b: the decoder's verdict (checked to be consistent:
 * a refusal sets bad and leaves the record zeroed). */
static int wire_decode(const struct buf *b)
{
    struct archive_record got = {0};
    struct wire_reader r = wire_reader_of(b);
    int ret = record_wire_decode(&r, &got);

    CHECK(ret == 0 ? !r.bad : r.bad && all_zero(&got, sizeof(got)));
    record_free(&got);
    return ret;
}

/* Encode rec and decode it: the decoder's verdict. */
static int wire_roundtrip(const struct archive_record *rec)
{
    struct buf b = {0};
    int ret;

    record_wire_encode(&b, rec);
    ret = wire_decode(&b);
    buf_free(&b);
    return ret;
}

/* *count (of rec, with room for one more) at WIRE_COUNT_MAX passes, one more
 * fails; then rec is freed, left with only its archive id. */
static void check_count_limit(struct archive_record *rec, size_t *count)
{
    *count = WIRE_COUNT_MAX;
    CHECK(wire_roundtrip(rec) == 0);
    *count = WIRE_COUNT_MAX + 1;
    CHECK(wire_roundtrip(rec) == -1);
    record_free(rec);
    memcpy(rec->archive_id, ID1, sizeof(ID1));
}

static void test_counts(void)
{
    struct archive_record rec = {0};

    /* WIRE_COUNT_MAX elements (all-NULL strings) pass, one more fails:
     * the input holds every element, so only the limit can refuse it */
    memcpy(rec.archive_id, ID1, sizeof(ID1));
    rec.rcpts = xcalloc(WIRE_COUNT_MAX + 1, sizeof(*rec.rcpts));
    check_count_limit(&rec, &rec.n_rcpts);
    rec.hdr_cc.v = xcalloc(WIRE_COUNT_MAX + 1, sizeof(*rec.hdr_cc.v));
    check_count_limit(&rec, &rec.hdr_cc.n);
    rec.attachments = xcalloc(WIRE_COUNT_MAX + 1, sizeof(*rec.attachments));
    check_count_limit(&rec, &rec.n_attachments);

    /* a huge count with little input behind it: refused before allocating */
    static const char tiny_tail[] = "\0\0\0\x14"
                                    "3F2A9C010001200ABC42"
                                    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                                    "\x00\x01\x86\xa0"; /* 100000 rcpts */
    unsigned char tiny[sizeof(tiny_tail)];
    tiny[0] = RECORD_WIRE_VERSION;
    memcpy(tiny + 1, tiny_tail, sizeof(tiny_tail) - 1);
    struct archive_record got = {0};
    struct wire_reader r = {tiny, sizeof(tiny), 0};
    CHECK(record_wire_decode(&r, &got) == -1 && r.bad && all_zero(&got, sizeof(got)));
}

/* Each status in turn in *field of rec: the decoder's verdict is want. */
struct status_case {
    const char *status;
    int want;
};

static void check_statuses(struct archive_record *rec, const char **field,
                           const struct status_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got;
        *field = c[i].status;
        got = wire_roundtrip(rec);
        CHECK(got == c[i].want);
        if (got != c[i].want)
            fprintf(stderr, "  (status \"%s\")\n", c[i].status ? c[i].status : "(null)");
    }
}

static void test_rejects(void)
{
    struct archive_record rec = {0};
    struct buf b = {0};

    fill_full(&rec, 100);
    CHECK(wire_roundtrip(&rec) == 0);

    /* archive ids: lower case, short, path-like, empty */
    const char *bad_ids[] = {"3f2a9c010001200abc42", "3F2A9C010001200ABC4", "../../etc/passwd0000",
                             ""};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(rec.archive_id, sizeof(rec.archive_id), "%s", bad_ids[i]);
        CHECK(wire_roundtrip(&rec) == -1);
    }
    memcpy(rec.archive_id, ID1, sizeof(ID1));

    /* envelope status: only "complete" or "incomplete"; index status: only
     * "full", "degraded" or NULL */
    static const struct status_case envelope_statuses[] = {
        {"x", -1}, {"", -1}, {"Complete", -1}, {ENVELOPE_COMPLETE, 0}};
    static const struct status_case index_statuses[] = {
        {"partial", -1}, {"", -1}, {"Degraded", -1}, {INDEX_FULL, 0}, {NULL, 0}};
    check_statuses(&rec, &rec.envelope_status, envelope_statuses, 4);
    check_statuses(&rec, &rec.index_status, index_statuses, 5);
    rec.index_status = INDEX_DEGRADED;

    /* hashes: 63 digits, upper case, non-hex; for both fields */
    char *hashes[] = {rec.sha256, rec.wrapped_sha256};
    for (size_t i = 0; i < 2; i++) {
        hashes[i][63] = '\0';
        CHECK(wire_roundtrip(&rec) == -1);
        memcpy(hashes[i], HASH_A, sizeof(HASH_A));
        hashes[i][0] = 'E';
        CHECK(wire_roundtrip(&rec) == -1);
        hashes[i][0] = 'g';
        CHECK(wire_roundtrip(&rec) == -1);
        hashes[i][0] = '\0';
        CHECK(wire_roundtrip(&rec) == 0); /* "" = not known */
        memcpy(hashes[i], HASH_A, sizeof(HASH_A));
        CHECK(wire_roundtrip(&rec) == 0);
    }

    /* embedded NUL: patch the subject's bytes inside a valid encoding */
    free(rec.subject);
    rec.subject = xstrdup("NULHERE");
    record_wire_encode(&b, &rec);
    unsigned char *at = NULL;
    for (size_t i = 0; i + 7 <= b.len; i++) {
        if (memcmp(b.data + i, "NULHERE", 7) == 0) {
            at = (unsigned char *)b.data + i;
            break;
        }
    }
    CHECK(at != NULL);
    CHECK(wire_decode(&b) == 0);
    if (at != NULL) {
        at[3] = '\0';
        CHECK(wire_decode(&b) == -1);
    }

    /* another version */
    b.data[0] = RECORD_WIRE_VERSION + 1;
    if (at != NULL)
        at[3] = 'H';
    CHECK(wire_decode(&b) == -1);

    buf_free(&b);
    record_free(&rec);
}

static void test_back_to_back(void)
{
    struct archive_record one = {0}, two = {0}, got = {0};
    struct buf b = {0};
    struct wire_reader r;

    fill_full(&one, 1000);
    memcpy(two.archive_id, ID2, sizeof(ID2));
    two.envelope_status = ENVELOPE_COMPLETE;
    two.queue_id = xstrdup("");
    record_add_rcpt(&two, "x@example.org", "archive@archive.test", NULL, "NEVER");
    two.arrival = 1700000000;
    two.size = 42;

    record_wire_encode(&b, &one);
    record_wire_encode(&b, &two);
    r = wire_reader_of(&b);
    CHECK(record_wire_decode(&r, &got) == 0);
    check_record(&got, &one);
    record_free(&got);
    CHECK(record_wire_decode(&r, &got) == 0);
    check_record(&got, &two);
    CHECK_STR(got.archive_id, ID2);
    record_free(&got);
    CHECK(r.left == 0 && !r.bad);
    CHECK(record_wire_decode(&r, &got) == -1 && r.bad);

    buf_free(&b);
    record_free(&one);
    record_free(&two);
}

int main(void)
{
    test_primitives();
    test_str_max();
    test_full_roundtrip();
    test_empty_roundtrip();
    test_truncated();
    test_counts();
    test_rejects();
    test_back_to_back();
    return check_done();
}
