/*
 * NAME
 *	index_check 3h
 * SUMMARY
 *	what the tests of mail/index_*.c share
 * DESCRIPTION
 *	extract() and extract_all() write an original to a file under the
 *	test's tmpdir and run the header (and body) extraction on it, as
 *	delivery does; EXTRACT() and EXTRACT_ALL() take a string literal,
 *	extract_quickly() also checks the time (HOSTILE_SECONDS) of inputs
 *	built to make a parser quadratic, build_repeated() builds them.
 *	check_addr() and check_attachment() compare one address or
 *	attachment; utf8_valid() is a strict UTF-8 check independent of
 *	GMime.
 *
 *	Most cases are rows of a table of struct index_case (the original
 *	and what must come out of it), run by check_headers() or
 *	check_bodies(); a failed row is named by its table's line and index.
 *	INDEX_TEST_MAIN() is main(): check_tmpdir(), GMime set up, the tests
 *	in order, check_done().
 */
#ifndef TAB_INDEX_CHECK_H
#define TAB_INDEX_CHECK_H

#include "tests/unit/check.h"

#include <fcntl.h>
#include <time.h>

#include "backends/record.h"
#include "mail/index_fields.h"

static const char *tmpdir;

/* Write len bytes of msg to the original and extract its header (and, with
 * body set, its body) into a fresh *rec; returns the result. */
static inline int extract_run(const char *msg, size_t len, struct archive_record *rec, int body)
{
    char path[4200];
    const char *error = NULL;
    int fd, r;

    memset(rec, 0, sizeof(*rec));
    snprintf(path, sizeof(path), "%s/orig", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, msg, len) != (ssize_t)len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    r = index_fields_extract(fd, rec, &error);
    if (r != 0) {
        fprintf(stderr, "extract: %s\n", error ? error : "(no error)");
    } else if (body) {
        r = index_fields_extract_body(fd, rec, &error);
        if (r != 0)
            fprintf(stderr, "extract_body: %s\n", error ? error : "(no error)");
    }
    close(fd);
    return r;
}

/* Header extraction. */
#define extract(msg, len, rec) extract_run((msg), (len), (rec), 0)

/* Strict UTF-8 check (no overlongs, no surrogates), independent of GMime. */
static inline int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != 0) {
        int n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

#define EXTRACT(lit, rec) extract((lit), sizeof(lit) - 1, (rec))

/* got is want, or NULL where want is NULL. */
#define check_str_or_null(got, want)                                                               \
    do {                                                                                           \
        const char *want_ = (want);                                                                \
        if (want_ == NULL)                                                                         \
            CHECK((got) == NULL);                                                                  \
        else                                                                                       \
            CHECK_STR((got), want_);                                                               \
    } while (0)

#define check_addr(a, i, name, addr) check_addr_at(__LINE__, a, i, name, addr)
static inline void check_addr_at(int line, const struct record_addrs *a, size_t i, const char *name,
                                 const char *addr)
{
    int failed = check_failed;

    CHECK(i < a->n);
    if (i < a->n) {
        check_str_or_null(a->v[i].name, name);
        check_str_or_null(a->v[i].address, addr);
    }
    if (check_failed != failed)
        fprintf(stderr, "  (address %zu checked at line %d)\n", i, line);
}

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A quadratic parser takes minutes on the inputs below; a linear one well
 * under a second, ASan included. */
#define HOSTILE_SECONDS 10.0

/* Header and body extraction, as delivery runs them. */
#define extract_all(msg, len, rec) extract_run((msg), (len), (rec), 1)

#define EXTRACT_ALL(lit, rec) extract_all((lit), sizeof(lit) - 1, (rec))

static inline void check_attachment(const struct archive_record *rec, size_t i,
                                    const char *filename, const char *content_type)
{
    CHECK(i < rec->n_attachments);
    if (i >= rec->n_attachments)
        return;
    check_str_or_null(rec->attachments[i].filename, filename);
    CHECK_STR(rec->attachments[i].content_type, content_type);
}

/* extract(), and no longer than HOSTILE_SECONDS: for the inputs built to
 * make a parser quadratic. */
static inline int extract_quickly(const char *msg, size_t len, struct archive_record *rec)
{
    double t0 = now_s();
    int r = extract(msg, len, rec);

    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    return r;
}

/* prefix, n times unit, then suffix into buf (large enough); its length. */
static inline size_t build_repeated(char *buf, const char *prefix, const char *unit, size_t n,
                                    const char *suffix)
{
    size_t len = strlen(prefix), unit_len = strlen(unit);

    memcpy(buf, prefix, len);
    for (size_t i = 0; i < n; i++, len += unit_len)
        memcpy(buf + len, unit, unit_len);
    len += (size_t)sprintf(buf + len, "%s", suffix);
    return len;
}

/*
 * Table-driven cases. LIT(s) gives a string literal and its length (NUL
 * bytes included). An expected string that is NULL is not checked; ABSENT
 * says the field must be NULL.
 */
#define LIT(s) (s), sizeof(s) - 1
#define N_CASES(cases) (sizeof(cases) / sizeof((cases)[0]))
static const char ABSENT[] = "(absent)";

static inline void check_field(const char *got, const char *want)
{
    if (want == ABSENT)
        CHECK(got == NULL);
    else if (want != NULL)
        CHECK_STR(got, want);
}

/*
 * What the extraction of msg must give: check_headers() runs the header
 * extraction and checks the header fields; check_bodies() runs the header
 * and the body extraction, and checks the body fields (the header fields
 * too where set).
 */
struct index_case {
    const char *msg;
    size_t len;
    /* the body */
    const char *text;  /* NULL: no text */
    int text_utf8;     /* the text is there, in valid UTF-8 */
    int n_attachments; /* -1: not checked */
    /* attachments by position, checked where content_type or
     * filename_utf8 is set */
    struct attachment_want {
        const char *filename, *content_type;
        int filename_utf8; /* only: the name is there, in valid UTF-8 */
    } att[8];
    /* the header */
    const char *subject_raw, *subject, *date_raw, *date, *message_id;
    const char *received_id, *received_by, *loop_archive_id;
    int subject_utf8; /* the subject is there, in valid UTF-8 */
    int counted;      /* when set, the numbers of addresses: */
    size_t n_from, n_to, n_cc;
    /* addresses by position; one whose name and address are both NULL is
     * not checked */
    struct addr_want {
        const char *name, *address;
    } from[2], to[8], cc[12];
};

static inline void check_addrs_at(int line, const struct record_addrs *a,
                                  const struct addr_want *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (want[i].name != NULL || want[i].address != NULL)
            check_addr_at(line, a, i, want[i].name, want[i].address);
}

static inline void check_body_fields(const struct archive_record *rec, const struct index_case *c)
{
    if (c->text_utf8)
        CHECK(rec->body_text != NULL && utf8_valid(rec->body_text));
    check_str_or_null(rec->body_text, c->text);
    if (c->n_attachments >= 0)
        CHECK(rec->n_attachments == (size_t)c->n_attachments);
    for (size_t a = 0; a < N_CASES(c->att); a++) {
        const struct attachment_want *w = &c->att[a];
        if (w->filename_utf8)
            CHECK(rec->n_attachments > a && rec->attachments[a].filename != NULL &&
                  utf8_valid(rec->attachments[a].filename));
        else if (w->content_type != NULL)
            check_attachment(rec, a, w->filename, w->content_type);
    }
}

#define check_headers(cases) check_cases_at(__LINE__, cases, N_CASES(cases), 0)
#define check_bodies(cases) check_cases_at(__LINE__, cases, N_CASES(cases), 1)
static inline void check_cases_at(int line, const struct index_case *c, size_t n, int body)
{
    for (size_t i = 0; i < n; i++, c++) {
        struct archive_record rec;
        int failed = check_failed;

        CHECK(extract_run(c->msg, c->len, &rec, body) == 0);
        if (body)
            check_body_fields(&rec, c);
        check_field(rec.subject_raw, c->subject_raw);
        check_field(rec.subject, c->subject);
        check_field(rec.date_raw, c->date_raw);
        check_field(rec.date, c->date);
        check_field(rec.message_id, c->message_id);
        check_field(rec.received_id, c->received_id);
        check_field(rec.received_by, c->received_by);
        check_field(rec.loop_archive_id, c->loop_archive_id);
        if (c->subject_utf8)
            CHECK(rec.subject != NULL && utf8_valid(rec.subject));
        check_addrs_at(line, &rec.hdr_from, c->from, N_CASES(c->from));
        check_addrs_at(line, &rec.hdr_to, c->to, N_CASES(c->to));
        check_addrs_at(line, &rec.hdr_cc, c->cc, N_CASES(c->cc));
        if (c->counted) {
            CHECK(rec.hdr_from.n == c->n_from);
            CHECK(rec.hdr_to.n == c->n_to);
            CHECK(rec.hdr_cc.n == c->n_cc);
        }
        if (check_failed != failed)
            fprintf(stderr, "  (case %zu of the table at line %d)\n", i, line);
        record_free(&rec);
    }
}

/* main() of an index test: GMime set up around the tests, run in order. */
#define INDEX_TEST_MAIN(name, ...)                                                                 \
    int main(void)                                                                                 \
    {                                                                                              \
        void (*const tests[])(void) = {__VA_ARGS__};                                               \
        tmpdir = check_tmpdir(name);                                                               \
        index_fields_init();                                                                       \
        for (size_t i = 0; i < N_CASES(tests); i++)                                                \
            tests[i]();                                                                            \
        index_fields_deinit();                                                                     \
        return check_done();                                                                       \
    }

#endif
