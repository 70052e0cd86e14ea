/*
 * NAME
 *	record_wire 3
 * SUMMARY
 *	binary encoding of struct archive_record between processes
 * SYNOPSIS
 *	#include "backends/record_wire.h"
 *
 *	struct buf b = {0};
 *	record_wire_encode(&b, &rec);
 *	... send b.data, b.len ...
 *	buf_free(&b);
 *
 *	struct wire_reader r = {data, len, 0};
 *	struct archive_record rec = {0};
 *	if (record_wire_decode(&r, &rec) < 0) ... refuse the peer ...
 * DESCRIPTION
 *	Owns the byte layout documented in record_wire.h and nothing else:
 *	framing, the socket and what the writer does with a record belong
 *	to the caller. The decoder never trusts a length or count before
 *	checking it against the bytes actually left, so a hostile peer
 *	cannot make it allocate more than about the size of its input.
 *
 *	This module never logs and never interprets the strings beyond the
 *	checks listed in the header (they are raw mail data).
 * DIAGNOSTICS
 *	Decoding failures set r->bad; record_wire_decode() then returns -1
 *	with the record freed and zeroed. Allocation failure and encoding
 *	a string or count that does not fit in a u32 abort.
 */
#include "backends/record_wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/archive_id.h"
#include "common/strlist.h"

#define WIRE_NULL_STR 0xFFFFFFFFu

/* Bytes the smallest encoding of one element takes: an upper bound on
 * how many elements the remaining input can hold. */
#define WIRE_RCPT_MIN (4 * 4)
#define WIRE_ADDR_MIN (2 * 4)
#define WIRE_ATTACHMENT_MIN (2 * 4)

static void wire_put_bytes(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    buf_add(b, p, n);
}

void wire_put_u8(struct buf *b, uint8_t v)
{
    wire_put_bytes(b, &v, 1);
}

void wire_put_u32(struct buf *b, uint32_t v)
{
    unsigned char x[4];

    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (24 - 8 * i));
    wire_put_bytes(b, x, sizeof(x));
}

void wire_put_u64(struct buf *b, uint64_t v)
{
    unsigned char x[8];

    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (56 - 8 * i));
    wire_put_bytes(b, x, sizeof(x));
}

void wire_put_str(struct buf *b, const char *s)
{
    size_t n;

    if (s == NULL) {
        wire_put_u32(b, WIRE_NULL_STR);
        return;
    }
    n = strlen(s);
    if (n >= WIRE_NULL_STR)
        abort();
    wire_put_u32(b, (uint32_t)n);
    wire_put_bytes(b, s, n);
}

/* A count that must fit the u32 on the wire; anything larger is a bug. */
static void wire_put_count(struct buf *b, size_t n)
{
    if (n > UINT32_MAX)
        abort();
    wire_put_u32(b, (uint32_t)n);
}

static void wire_put_time(struct buf *b, time_t t)
{
    /* int64 -> uint64 is defined (modulo 2^64): two's complement. */
    wire_put_u64(b, (uint64_t)(int64_t)t);
}

/* n bytes at the read position, or NULL (and bad) when fewer are left. */
static const unsigned char *wire_take(struct wire_reader *r, size_t n)
{
    const unsigned char *p;

    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t wire_get_u8(struct wire_reader *r)
{
    const unsigned char *p = wire_take(r, 1);

    return p == NULL ? 0 : p[0];
}

/* n bytes, big-endian; 0 when short. */
static uint64_t wire_get_be(struct wire_reader *r, size_t n)
{
    const unsigned char *p = wire_take(r, n);
    uint64_t v = 0;

    if (p == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

uint32_t wire_get_u32(struct wire_reader *r)
{
    return (uint32_t)wire_get_be(r, 4);
}

uint64_t wire_get_u64(struct wire_reader *r)
{
    return wire_get_be(r, 8);
}

char *wire_get_str(struct wire_reader *r, int *is_null_r)
{
    const unsigned char *p;
    uint32_t n;

    if (is_null_r != NULL)
        *is_null_r = 0;
    n = wire_get_u32(r);
    if (r->bad)
        return NULL;
    if (n == WIRE_NULL_STR) {
        if (is_null_r != NULL)
            *is_null_r = 1;
        return NULL;
    }
    if (n > WIRE_STR_MAX || n > r->left || memchr(r->p, '\0', n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    p = wire_take(r, n);
    return xstrndup((const char *)p, n);
}

static time_t wire_get_time(struct wire_reader *r)
{
    uint64_t u = wire_get_u64(r);
    int64_t v;

    /* uint64 -> int64 above INT64_MAX is implementation-defined: undo the
     * two's complement explicitly. */
    if (u <= (uint64_t)INT64_MAX)
        v = (int64_t)u;
    else
        v = -(int64_t)(UINT64_MAX - u) - 1;
    if ((int64_t)(time_t)v != v) {
        r->bad = 1;
        return 0;
    }
    return (time_t)v;
}

/* An element count: at most WIRE_COUNT_MAX and no more elements than the
 * remaining input could possibly encode (min_size bytes each). */
static size_t wire_get_count(struct wire_reader *r, size_t min_size)
{
    uint32_t n = wire_get_u32(r);

    if (r->bad)
        return 0;
    if (n > WIRE_COUNT_MAX || n > r->left / min_size) {
        r->bad = 1;
        return 0;
    }
    return n;
}

/* A string into a fixed array of size bytes (size - 1 characters at most,
 * never NULL), accepted only when valid(s) says so. */
static void wire_get_fixed(struct wire_reader *r, char *dst, size_t size,
                           int (*valid)(const char *))
{
    char *s = wire_get_str(r, NULL);

    if (s == NULL || strlen(s) >= size || !valid(s)) {
        r->bad = 1;
    } else {
        memcpy(dst, s, strlen(s) + 1);
    }
    free(s);
}

static int wire_sha256_valid(const char *s)
{
    size_t n = strlen(s);

    return n == 0 || (n == SHA256_HEX_SIZE - 1 && strspn(s, "0123456789abcdef") == n);
}

static void wire_put_addrs(struct buf *b, const struct record_addrs *a)
{
    wire_put_count(b, a->n);
    for (size_t i = 0; i < a->n; i++) {
        wire_put_str(b, a->v[i].name);
        wire_put_str(b, a->v[i].address);
    }
}

void record_wire_encode(struct buf *b, const struct archive_record *rec)
{
    wire_put_u8(b, RECORD_WIRE_VERSION);
    wire_put_str(b, rec->archive_id);
    wire_put_str(b, rec->envelope_status);
    wire_put_str(b, rec->index_status);
    for (size_t i = 0; i < RECORD_N_TEXT; i++)
        wire_put_str(b, *record_text_field((struct archive_record *)rec, i));
    wire_put_count(b, rec->n_rcpts);
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        wire_put_str(b, rec->rcpts[i].address);
        wire_put_str(b, rec->rcpts[i].archive_rcpt);
        wire_put_str(b, rec->rcpts[i].orcpt);
        wire_put_str(b, rec->rcpts[i].notify);
    }
    wire_put_addrs(b, &rec->hdr_from);
    wire_put_addrs(b, &rec->hdr_to);
    wire_put_addrs(b, &rec->hdr_cc);
    wire_put_u8(b, rec->index_later ? 1 : 0);
    wire_put_count(b, rec->n_attachments);
    for (size_t i = 0; i < rec->n_attachments; i++) {
        wire_put_str(b, rec->attachments[i].filename);
        wire_put_str(b, rec->attachments[i].content_type);
    }
    wire_put_time(b, rec->arrival);
    wire_put_time(b, rec->retain_until);
    wire_put_u64(b, rec->size);
    wire_put_str(b, rec->sha256);
    wire_put_u64(b, rec->wrapped_size);
    wire_put_str(b, rec->wrapped_sha256);
}

/* The arrays are attached to the record (zeroed) before they are filled,
 * so record_free() releases whatever a failure leaves half-done. */
/* An array of the count on the wire, zeroed, of elements of size bytes
 * that take at least min_size bytes on the wire; NULL when empty. */
static void *wire_get_array(struct wire_reader *r, size_t min_size, size_t size, size_t *n_r)
{
    *n_r = wire_get_count(r, min_size);
    return *n_r > 0 ? xcalloc(*n_r, size) : NULL;
}

static void wire_get_addrs(struct wire_reader *r, struct record_addrs *a)
{
    a->v = wire_get_array(r, WIRE_ADDR_MIN, sizeof(*a->v), &a->n);
    for (size_t i = 0; i < a->n; i++) {
        a->v[i].name = wire_get_str(r, NULL);
        a->v[i].address = wire_get_str(r, NULL);
    }
}

/* One of two static strings, or NULL when the wire has NULL; anything
 * else is bad. */
static const char *wire_get_choice(struct wire_reader *r, const char *a, const char *b)
{
    int is_null;
    char *s = wire_get_str(r, &is_null);
    const char *choice = NULL;

    if (s == NULL) {
        if (!is_null)
            r->bad = 1;
    } else if (strcmp(s, a) == 0) {
        choice = a;
    } else if (strcmp(s, b) == 0) {
        choice = b;
    } else {
        r->bad = 1;
    }
    free(s);
    return choice;
}

/* ENVELOPE_COMPLETE, ENVELOPE_INCOMPLETE or ENVELOPE_IMPORTED. */
static const char *wire_get_envelope_status(struct wire_reader *r)
{
    int is_null;
    char *s = wire_get_str(r, &is_null);
    const char *choice = envelope_status_of(s);

    if ((s == NULL && !is_null) || (s != NULL && choice == NULL))
        r->bad = 1;
    free(s);
    return choice;
}

int record_wire_decode(struct wire_reader *r, struct archive_record *rec)
{
    if (wire_get_u8(r) != RECORD_WIRE_VERSION)
        r->bad = 1;
    wire_get_fixed(r, rec->archive_id, sizeof(rec->archive_id), archive_id_valid);
    rec->envelope_status = wire_get_envelope_status(r);
    rec->index_status = wire_get_choice(r, INDEX_FULL, INDEX_DEGRADED);
    for (size_t i = 0; i < RECORD_N_TEXT; i++)
        *record_text_field(rec, i) = wire_get_str(r, NULL);

    rec->rcpts = wire_get_array(r, WIRE_RCPT_MIN, sizeof(*rec->rcpts), &rec->n_rcpts);
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        rec->rcpts[i].address = wire_get_str(r, NULL);
        rec->rcpts[i].archive_rcpt = wire_get_str(r, NULL);
        rec->rcpts[i].orcpt = wire_get_str(r, NULL);
        rec->rcpts[i].notify = wire_get_str(r, NULL);
    }
    wire_get_addrs(r, &rec->hdr_from);
    wire_get_addrs(r, &rec->hdr_to);
    wire_get_addrs(r, &rec->hdr_cc);
    rec->index_later = wire_get_u8(r) != 0;

    rec->attachments =
        wire_get_array(r, WIRE_ATTACHMENT_MIN, sizeof(*rec->attachments), &rec->n_attachments);
    for (size_t i = 0; i < rec->n_attachments; i++) {
        rec->attachments[i].filename = wire_get_str(r, NULL);
        rec->attachments[i].content_type = wire_get_str(r, NULL);
    }
    rec->arrival = wire_get_time(r);
    rec->retain_until = wire_get_time(r);
    rec->size = wire_get_u64(r);
    wire_get_fixed(r, rec->sha256, sizeof(rec->sha256), wire_sha256_valid);
    rec->wrapped_size = wire_get_u64(r);
    wire_get_fixed(r, rec->wrapped_sha256, sizeof(rec->wrapped_sha256), wire_sha256_valid);

    if (r->bad) {
        record_free(rec);
        return -1;
    }
    return 0;
}
