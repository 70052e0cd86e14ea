/*
 * NAME
 *	test_record
 * SUMMARY
 *	unit test for backends/record.c
 * DESCRIPTION
 *	The time formats the catalog stores and the CLI accepts (accepted
 *	forms with their exact instants, rejected forms), and that
 *	record_free() releases a fully populated record (the sanitizer
 *	build reports any leak) and zeroes it.
 */
#include "backends/record.h"
#include "common/strlist.h"

#include "check.h"

/* Parse s and format the result; "ERR" when the parse fails. */
static const char *parse_fmt(const char *s)
{
    static char buf[21];
    time_t t = 12345;

    if (record_parse_time(s, &t) < 0)
        return "ERR";
    record_format_time(t, buf);
    return buf;
}

static void test_format(void)
{
    char buf[21];

    record_format_time(0, buf);
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    record_format_time(1700000000, buf);
    CHECK_STR(buf, "2023-11-14T22:13:20Z");
    record_format_time(951782400, buf); /* leap day 2000 */
    CHECK_STR(buf, "2000-02-29T00:00:00Z");
    record_format_time(-1, buf);
    CHECK_STR(buf, "1969-12-31T23:59:59Z");
    record_format_time(4102444799, buf);
    CHECK_STR(buf, "2099-12-31T23:59:59Z");
    /* beyond year 9999: still a well-formed time, never an overflow */
    record_format_time((time_t)253402300800LL, buf);
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    CHECK(strlen(buf) == 20);
}

static void test_parse(void)
{
    time_t t = 0;

    /* exact instants */
    CHECK(record_parse_time("1970-01-01", &t) == 0 && t == 0);
    CHECK(record_parse_time("2023-11-14T22:13:20Z", &t) == 0 && t == 1700000000);
    CHECK(record_parse_time("2023-11-14 22:13:20Z", &t) == 0 && t == 1700000000);
    CHECK(record_parse_time("2023-11-15T00:13:20+02:00", &t) == 0 && t == 1700000000);
    CHECK(record_parse_time("2023-11-14T17:13:20-05:00", &t) == 0 && t == 1700000000);
    CHECK(record_parse_time("2023-11-14T22:13:20", &t) == 0 && t == 1700000000);
    CHECK(record_parse_time("1969-12-31T23:59:59Z", &t) == 0 && t == -1);

    /* accepted forms, normalised to UTC */
    CHECK_STR(parse_fmt("2024-02-29"), "2024-02-29T00:00:00Z");
    CHECK_STR(parse_fmt("2000-02-29"), "2000-02-29T00:00:00Z");
    CHECK_STR(parse_fmt("2024-03-01T09:30"), "2024-03-01T09:30:00Z");
    CHECK_STR(parse_fmt("2024-03-01 09:30Z"), "2024-03-01T09:30:00Z");
    CHECK_STR(parse_fmt("2024-03-01T09:30+05:30"), "2024-03-01T04:00:00Z");
    CHECK_STR(parse_fmt("2024-03-01T00:30:00+01:00"), "2024-02-29T23:30:00Z");
    CHECK_STR(parse_fmt("2024-12-31T23:30:00-01:00"), "2025-01-01T00:30:00Z");
    CHECK_STR(parse_fmt("2024-12-31T23:59:59Z"), "2024-12-31T23:59:59Z");

    /* rejected: wrong shape, trailing junk, out-of-range fields */
    const char *bad[] = {
        "",
        "2024",
        "2024-03",
        "24-03-01",
        "2024-3-01",
        "2024-03-1",
        "2024/03/01",
        "2024-03-01T",
        "2024-03-01T9:30",
        "2024-03-01T09",
        "2024-03-01T09:3",
        "2024-03-01T09:30:5",
        "2024-03-01T09:30:00.5Z",
        "2024-03-01T09:30:00ZZ",
        "2024-03-01T09:30:00+0100",
        "2024-03-01T09:30:00+01",
        "2024-03-01T09:30:00 ",
        " 2024-03-01",
        "2024-03-01x",
        "2024-03-01  09:30",
        "2024-03-01t09:30",
        "2024-00-10",
        "2024-13-10",
        "2024-01-00",
        "2024-01-32",
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-03-01T24:00",
        "2024-03-01T23:60",
        "2024-03-01T23:59:60",
        "2024-03-01T10:00+24:00",
        "2024-03-01T10:00+01:60",
        "+024-03-01",
        "2024-03-01T10:00:00z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 777;
        if (record_parse_time(bad[i], &t) != -1 || t != 777) {
            fprintf(stderr, "accepted bad time \"%s\"\n", bad[i]);
            CHECK(0);
        } else {
            CHECK(1);
        }
    }
    CHECK(record_parse_time(NULL, &t) == -1);
}

static void test_free(void)
{
    struct archive_record rec;
    struct archive_record zero;

    memset(&rec, 0, sizeof(rec));
    memset(&zero, 0, sizeof(zero));
    memcpy(rec.archive_id, "0123456789ABCDEF0123", ARCHIVE_ID_SIZE);
    rec.queue_id = strdup("4XyZ1");
    rec.envelope_from = strdup("alice@example.com");
    rec.envelope_status = ENVELOPE_COMPLETE;
    for (int i = 0; i < 40; i++)
        record_add_rcpt(&rec, "bob@example.com", "archive+bob=example.com@archive.test",
                        i % 2 ? "rfc822;bob@example.com" : NULL, i % 3 ? "NEVER" : NULL);
    record_add_rcpt(&rec, NULL, NULL, NULL, NULL);
    CHECK(rec.n_rcpts == 41);
    CHECK_STR(rec.rcpts[0].address, "bob@example.com");
    CHECK_STR(rec.rcpts[1].orcpt, "rfc822;bob@example.com");
    CHECK(rec.rcpts[0].orcpt == NULL);
    CHECK_STR(rec.rcpts[1].notify, "NEVER");
    CHECK(rec.rcpts[40].address == NULL && rec.rcpts[40].archive_rcpt == NULL);

    /* the record owns copies, not the caller's buffers */
    char name[] = "Alice";
    record_addrs_add(&rec.hdr_from, name, "alice@example.com");
    name[0] = 'X';
    CHECK_STR(rec.hdr_from.v[0].name, "Alice");
    record_addrs_add(&rec.hdr_to, NULL, "bob@example.com");
    record_addrs_add(&rec.hdr_to, "Carol", "carol@example.com");
    record_addrs_add(&rec.hdr_cc, "Undisclosed recipients", NULL);
    CHECK(rec.hdr_to.n == 2 && rec.hdr_cc.n == 1);
    CHECK_STR(rec.hdr_to.v[1].address, "carol@example.com");
    CHECK(rec.hdr_to.v[0].name == NULL);

    rec.mail_params = strdup("SIZE=1 BODY=8BITMIME");
    rec.xforward = strdup("NAME=x ADDR=y IDENT=z");
    rec.date = strdup("2024-03-01T09:30:00Z");
    rec.date_raw = strdup("Fri, 1 Mar 2024 10:30:00 +0100");
    rec.subject = strdup("hello");
    rec.subject_raw = strdup("=?utf-8?q?hello?=");
    rec.message_id = strdup("x@y");
    rec.arrival = 1700000000;
    rec.size = 10;
    rec.wrapped_size = 20;
    rec.store = strdup("maildir");
    rec.location = strdup("new/1.2.host");

    record_free(&rec);
    CHECK(memcmp(&rec, &zero, sizeof(rec)) == 0);
    /* a freed (zeroed) record may be freed again */
    record_free(&rec);
    CHECK(rec.rcpts == NULL && rec.n_rcpts == 0);
}

/* record_degrade keeps what needs no parsing and drops the rest. */
static void test_degrade(void)
{
    struct archive_record rec;
    char note[2000];

    memset(&rec, 0, sizeof(rec));
    rec.queue_id = xstrdup("4XyZ1");
    rec.envelope_from = xstrdup("alice@example.com");
    record_add_rcpt(&rec, "bob@example.com", "archive+bob=example.com@a.test", NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Mallory", "m@example.net");
    rec.subject = xstrdup("hostile");
    rec.subject_raw = xstrdup("=?x?q?hostile?=");
    rec.message_id = xstrdup("id@example.net");
    rec.received_by = xstrdup("mx.example.com");
    rec.body_text = xstrdup("text");
    record_add_attachment(&rec, "a.pdf", "application/pdf");
    rec.index_later = 1;
    rec.store = xstrdup("maildir");
    rec.location = xstrdup("new/x");
    memset(note, 'n', sizeof(note) - 1);
    note[sizeof(note) - 1] = '\0';

    CHECK(!record_is_degraded(&rec));
    record_degrade(&rec, note);
    CHECK(record_is_degraded(&rec));
    CHECK(rec.index_note != NULL && strlen(rec.index_note) == INDEX_NOTE_MAX);
    CHECK(rec.hdr_from.n == 0 && rec.subject == NULL && rec.subject_raw == NULL);
    CHECK(rec.message_id == NULL && rec.received_by == NULL && rec.body_text == NULL);
    CHECK(rec.n_attachments == 0 && rec.attachments == NULL && rec.index_later == 0);
    CHECK(strcmp(rec.queue_id, "4XyZ1") == 0);
    CHECK(strcmp(rec.envelope_from, "alice@example.com") == 0);
    CHECK(rec.n_rcpts == 1 && strcmp(rec.rcpts[0].address, "bob@example.com") == 0);
    CHECK(strcmp(rec.store, "maildir") == 0 && strcmp(rec.location, "new/x") == 0);
    record_free(&rec);
}

int main(void)
{
    test_format();
    test_parse();
    test_free();
    test_degrade();
    return check_done();
}
