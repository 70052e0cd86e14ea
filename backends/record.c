/*
 * NAME
 *	record 3
 * SUMMARY
 *	one archived message as the store and the catalog see it
 * SYNOPSIS
 *	#include "backends/record.h"
 *
 *	struct archive_record rec = {0};
 *	record_add_rcpt(&rec, "bob@example.com", "archive+bob=example.com@archive.test",
 *	                NULL, NULL);
 *	record_free(&rec);
 * DESCRIPTION
 *	Ownership of the record's heap fields and the one textual time
 *	format that the catalog stores and the CLI accepts. Times are
 *	always UTC: a record read back on a machine in another time zone
 *	must show the same instant.
 *
 *	This module never logs and never looks at the strings it stores
 *	(they are raw mail data; consumers escape them for their medium).
 * DIAGNOSTICS
 *	record_parse_time() returns -1 for anything but the documented
 *	forms, including trailing characters and out-of-range fields.
 *	Allocation failure aborts (common/strlist.h).
 */
#include "backends/record.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strlist.h"

static char *record_dup(const char *s)
{
    return s == NULL ? NULL : xstrdup(s);
}

static void record_addrs_free(struct record_addrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].address);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

#define TEXT(field) offsetof(struct archive_record, field)
const size_t record_text_fields[] = {
    /* the envelope and where the copy is */
    TEXT(queue_id), TEXT(envelope_from), TEXT(mail_params), TEXT(xforward), TEXT(store),
    TEXT(location), TEXT(index_note),
    /* RECORD_N_CONTENT_TEXT from the original */
    TEXT(date), TEXT(date_raw), TEXT(subject), TEXT(subject_raw), TEXT(message_id),
    TEXT(received_id), TEXT(received_by), TEXT(loop_archive_id), TEXT(body_text)};
#undef TEXT
_Static_assert(sizeof(record_text_fields) / sizeof(record_text_fields[0]) == RECORD_N_TEXT,
               "RECORD_N_TEXT counts record_text_fields");

char **record_text_field(struct archive_record *rec, size_t i)
{
    return (char **)((char *)rec + record_text_fields[i]);
}

static void record_text_free(struct archive_record *rec, size_t from)
{
    for (size_t i = from; i < RECORD_N_TEXT; i++) {
        free(*record_text_field(rec, i));
        *record_text_field(rec, i) = NULL;
    }
}

/* What parsing the original gave: the header index fields and the text. */
static void record_content_free(struct archive_record *rec)
{
    record_addrs_free(&rec->hdr_from);
    record_addrs_free(&rec->hdr_to);
    record_addrs_free(&rec->hdr_cc);
    record_text_free(rec, RECORD_N_TEXT - RECORD_N_CONTENT_TEXT);
    for (size_t i = 0; i < rec->n_attachments; i++) {
        free(rec->attachments[i].filename);
        free(rec->attachments[i].content_type);
    }
    free(rec->attachments);
    rec->attachments = NULL;
    rec->n_attachments = 0;
    rec->index_later = 0;
}

void record_free(struct archive_record *rec)
{
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        free(rec->rcpts[i].address);
        free(rec->rcpts[i].archive_rcpt);
        free(rec->rcpts[i].orcpt);
        free(rec->rcpts[i].notify);
    }
    free(rec->rcpts);
    record_content_free(rec);
    record_text_free(rec, 0);
    memset(rec, 0, sizeof(*rec));
}

void record_degrade(struct archive_record *rec, const char *note)
{
    record_content_free(rec);
    free(rec->index_note);
    rec->index_status = INDEX_DEGRADED;
    rec->index_note = xstrndup(note, INDEX_NOTE_MAX);
}

int record_is_degraded(const struct archive_record *rec)
{
    return rec->index_status != NULL && strcmp(rec->index_status, INDEX_DEGRADED) == 0;
}

/* Grow v (n elements of size) by one; aborts on size overflow like xmalloc. */
static void *record_grow(void *v, size_t n, size_t size)
{
    if (n >= SIZE_MAX / size - 1)
        abort();
    return xrealloc(v, (n + 1) * size);
}

void record_add_rcpt(struct archive_record *rec, const char *address, const char *archive_rcpt,
                     const char *orcpt, const char *notify)
{
    struct record_rcpt *r;

    rec->rcpts = record_grow(rec->rcpts, rec->n_rcpts, sizeof(*rec->rcpts));
    r = &rec->rcpts[rec->n_rcpts++];
    r->address = record_dup(address);
    r->archive_rcpt = record_dup(archive_rcpt);
    r->orcpt = record_dup(orcpt);
    r->notify = record_dup(notify);
}

void record_add_attachment(struct archive_record *rec, const char *filename,
                           const char *content_type)
{
    rec->attachments =
        xrealloc(rec->attachments, (rec->n_attachments + 1) * sizeof(*rec->attachments));
    rec->attachments[rec->n_attachments].filename = filename ? xstrdup(filename) : NULL;
    rec->attachments[rec->n_attachments].content_type = content_type ? xstrdup(content_type) : NULL;
    rec->n_attachments++;
}

void record_addrs_add(struct record_addrs *a, const char *name, const char *address)
{
    struct record_addr *r;

    a->v = record_grow(a->v, a->n, sizeof(*a->v));
    r = &a->v[a->n++];
    r->name = record_dup(name);
    r->address = record_dup(address);
}

struct record_addrs *record_addrs_field(struct archive_record *rec, const char *field)
{
    if (field == NULL)
        return NULL;
    if (strcmp(field, "from") == 0)
        return &rec->hdr_from;
    if (strcmp(field, "to") == 0)
        return &rec->hdr_to;
    if (strcmp(field, "cc") == 0)
        return &rec->hdr_cc;
    return NULL;
}

void record_format_time(time_t t, char buf[21])
{
    struct tm tm;

    /* Years outside 1000..9999 do not fit the fixed-width form (strftime
     * then returns 0 or a short string); no real mail carries them, but
     * the caller must always get a well-formed time. */
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20) {
        memcpy(buf, "1970-01-01T00:00:00Z", 21);
    }
}

/* Exactly n decimal digits at *sp, within [lo, hi]; advances *sp. */
static int record_digits(const char **sp, int n, int lo, int hi, int *v_r)
{
    const char *s = *sp;
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *sp = s + n;
    *v_r = v;
    return 0;
}

static int record_expect(const char **sp, char c)
{
    if (**sp != c)
        return -1;
    (*sp)++;
    return 0;
}

static int record_days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

int record_parse_time(const char *s, time_t *t_r)
{
    int year, mon, mday, hour = 0, min = 0, sec = 0;
    int off_sign = 0, off_h = 0, off_m = 0;
    struct tm tm;
    time_t t;

    if (s == NULL)
        return -1;
    if (record_digits(&s, 4, 0, 9999, &year) < 0 || record_expect(&s, '-') < 0 ||
        record_digits(&s, 2, 1, 12, &mon) < 0 || record_expect(&s, '-') < 0 ||
        record_digits(&s, 2, 1, 31, &mday) < 0)
        return -1;
    if (mday > record_days_in_month(year, mon))
        return -1;
    if (*s == 'T' || *s == ' ') {
        s++;
        if (record_digits(&s, 2, 0, 23, &hour) < 0 || record_expect(&s, ':') < 0 ||
            record_digits(&s, 2, 0, 59, &min) < 0)
            return -1;
        if (*s == ':') {
            s++;
            if (record_digits(&s, 2, 0, 59, &sec) < 0)
                return -1;
        }
        if (*s == 'Z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            off_sign = *s == '+' ? 1 : -1;
            s++;
            if (record_digits(&s, 2, 0, 23, &off_h) < 0 || record_expect(&s, ':') < 0 ||
                record_digits(&s, 2, 0, 59, &off_m) < 0)
                return -1;
        }
    }
    if (*s != '\0')
        return -1;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    /* -1 is also a valid instant (1969-12-31T23:59:59Z): errno tells. */
    errno = 0;
    t = timegm(&tm);
    if (t == (time_t)-1 && errno == EOVERFLOW)
        return -1;
    /* "+02:00" means local time is ahead of UTC: subtract to get UTC. */
    *t_r = t - (time_t)off_sign * ((time_t)off_h * 3600 + (time_t)off_m * 60);
    return 0;
}

const char *envelope_status_of(const char *s)
{
    static const char *const statuses[] = {ENVELOPE_COMPLETE, ENVELOPE_INCOMPLETE,
                                           ENVELOPE_IMPORTED};

    for (size_t i = 0; s != NULL && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (strcmp(s, statuses[i]) == 0)
            return statuses[i];
    return NULL;
}
