/*
 * NAME
 *	catalog 3
 * SUMMARY
 *	catalog driver registry and the failing catalog
 * SYNOPSIS
 *	struct catalog *cat = catalog_open("sqlite:/var/lib/tabularium/catalog.db", cfg, &err);
 *	struct catalog *cat = catalog_open_or_failing(cfg->archive_catalog, cfg);
 *	catalog_close(&cat);
 * DESCRIPTION
 *	Maps the "type" of a "type:rest" specification to a driver
 *	constructor through one table, as Postfix's dict_open() does; the
 *	constructor receives "rest". Adding a driver means one table line.
 *
 *	catalog_open_or_failing() is for the daemon: a catalog that cannot
 *	be opened (database down, bad path) must turn into 451 replies, not
 *	a dead worker, so it yields a "failing" catalog whose every call
 *	returns TAB_RETRY with the open error.
 *
 *	The chain encoding (catalog_chain_encode) lives here, next to the
 *	registry, so that every driver hashes a link the same way; it is a
 *	public format (docs/integrity.md): changing it breaks every chain
 *	already written.
 *
 *	catalog_open() checks that the driver's vtable was built for this
 *	CATALOG_ABI_VERSION (backends/catalog_private.h).
 *
 *	Must never interpret the driver-specific part of a specification.
 * DIAGNOSTICS
 *	catalog_open() returns NULL and an error naming the specification
 *	and the known types, or the driver's own open error. The failing
 *	catalog logs the open error once when created and on every call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/catalog.h"
#include "backends/catalog_private.h"
#include "backends/spec_type.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strlist.h"

typedef struct catalog *catalog_open_fn(const char *spec, const struct tab_config *cfg,
                                        const char **error_r);

static const struct catalog_type {
    const char *type;
    catalog_open_fn *open;
    int indexes_later; /* has index_pending: indexer/indexer.c is needed */
    int body_later;    /* the workers leave body text and attachments to the indexer */
    int batches;       /* one writer process commits for all (catalog_writer/catalog_writer.c) */
    int local_file;    /* the rest of the spec is a file on this host */
} catalog_types[] = {
    {"sqlite", catalog_sqlite_open, 1, 1, 1, 1},
    /* body text at delivery, the text inside attachments by the indexer */
    {"pgsql", catalog_pgsql_open, 1, 0, 0, 0},
};

/* Errors found before any driver exists; valid until the next open. */
static char catalog_open_error[1024];

static const struct spec_table catalog_table =
    SPEC_TABLE(catalog_types, "catalog", "archive_catalog");

/* The driver for spec's type; NULL and a message for a bad spec. */
static const struct catalog_type *catalog_lookup(const char *spec, const char **rest_r,
                                                 const char **error_r)
{
    return spec_type_lookup(&catalog_table, spec, rest_r, error_r);
}

int catalog_spec_check(const char *spec, const char **error_r)
{
    const char *rest;
    return catalog_lookup(spec, &rest, error_r) != NULL ? 0 : -1;
}

int catalog_spec_indexes_later(const char *spec)
{
    const char *rest, *error;
    const struct catalog_type *t = catalog_lookup(spec, &rest, &error);

    return t != NULL && t->indexes_later;
}

int catalog_spec_body_later(const char *spec)
{
    const char *rest, *error;
    const struct catalog_type *t = catalog_lookup(spec, &rest, &error);

    return t != NULL && t->body_later;
}

int catalog_spec_batches(const char *spec)
{
    const char *rest, *error;
    const struct catalog_type *t = catalog_lookup(spec, &rest, &error);

    return t != NULL && t->batches;
}

const char *catalog_spec_local_file(const char *spec)
{
    const char *rest, *error;
    const struct catalog_type *t = catalog_lookup(spec, &rest, &error);

    return t != NULL && t->local_file ? rest : NULL;
}

static int catalog_daemon_tuning;

void catalog_open_for_daemon(void)
{
    catalog_daemon_tuning = 1;
}

int catalog_opened_for_daemon(void)
{
    return catalog_daemon_tuning;
}

struct catalog *catalog_open(const char *spec, const struct tab_config *cfg, const char **error_r)
{
    const char *rest;
    const struct catalog_type *t = catalog_lookup(spec, &rest, error_r);
    struct catalog *cat;

    if (t == NULL || (cat = t->open(rest, cfg, error_r)) == NULL)
        return NULL;
    if (cat->v->abi_version != CATALOG_ABI_VERSION) {
        /* Built against another struct catalog_vfuncs: not even its
         * close can be trusted, so the driver's state is left as is. */
        snprintf(catalog_open_error, sizeof(catalog_open_error),
                 "catalog \"%s\": driver %s has interface version %u, expected %u", spec, t->type,
                 cat->v->abi_version, CATALOG_ABI_VERSION);
        *error_r = catalog_open_error;
        return NULL;
    }
    return cat;
}

char *catalog_like_substring(const char *s)
{
    size_t len = strlen(s);
    char *p, *w;

    if (len > (SIZE_MAX - 3) / 2)
        abort(); /* cannot happen for a C string in memory */
    p = w = xmalloc(2 * len + 3);
    *w++ = '%';
    for (; *s != '\0'; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *w++ = '\\';
        *w++ = *s;
    }
    *w++ = '%';
    *w = '\0';
    return p;
}

char *catalog_message_id_bare(const char *s)
{
    const char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end - s >= 2 && *s == '<' && end[-1] == '>') {
        s++;
        end--;
    }
    return xstrndup(s, (size_t)(end - s));
}

const char *catalog_index_status(const struct archive_record *rec)
{
    return record_is_degraded(rec) ? INDEX_DEGRADED : INDEX_FULL;
}

char *catalog_index_note(const struct archive_record *rec)
{
    const char *note = rec->index_note;
    size_t len;

    if (!record_is_degraded(rec) || note == NULL)
        return NULL;
    len = strlen(note);
    if (len > INDEX_NOTE_MAX) {
        len = INDEX_NOTE_MAX;
        /* not inside a UTF-8 sequence: back up over continuation bytes */
        while (len > 0 && ((unsigned char)note[len] & 0xC0) == 0x80)
            len--;
    }
    return xstrndup(note, len);
}

const struct archive_record *catalog_record_as_stored(const struct archive_record *rec,
                                                      struct archive_record *buf)
{
    if (!record_is_degraded(rec))
        return rec;
    /* A shallow copy: the strings stay rec's, the header and text go. */
    *buf = *rec;
    memset(&buf->hdr_from, 0, sizeof(buf->hdr_from));
    memset(&buf->hdr_to, 0, sizeof(buf->hdr_to));
    memset(&buf->hdr_cc, 0, sizeof(buf->hdr_cc));
    buf->date = buf->date_raw = buf->subject = buf->subject_raw = NULL;
    buf->message_id = buf->received_id = buf->loop_archive_id = buf->body_text = NULL;
    buf->attachments = NULL;
    buf->n_attachments = 0;
    buf->index_later = 0;
    return buf;
}

/* Growable byte buffer for the chain encoding. */
struct chain_buf {
    char *p;
    size_t len, cap;
};

static void chain_buf_add(struct chain_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        abort(); /* cannot happen for strings in memory */
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* "name value\n" with backslash and LF in value escaped as \\ and \n. */
static void chain_buf_field(struct chain_buf *b, const char *name, const char *value)
{
    chain_buf_add(b, name, strlen(name));
    chain_buf_add(b, " ", 1);
    for (const char *v = value != NULL ? value : ""; *v != '\0'; v++) {
        if (*v == '\\')
            chain_buf_add(b, "\\\\", 2);
        else if (*v == '\n')
            chain_buf_add(b, "\\n", 2);
        else
            chain_buf_add(b, v, 1);
    }
    chain_buf_add(b, "\n", 1);
}

static void chain_buf_number(struct chain_buf *b, const char *name, unsigned long long n)
{
    char num[32];
    snprintf(num, sizeof(num), "%llu", n);
    chain_buf_field(b, name, num);
}

static void chain_buf_time(struct chain_buf *b, const char *name, time_t t)
{
    char when[21];
    record_format_time(t, when);
    chain_buf_field(b, name, when);
}

static int chain_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *catalog_chain_encode(const struct chain_link *link, size_t *len_r)
{
    struct chain_buf b = {NULL, 0, 0};
    const char **rcpts = NULL;

    chain_buf_field(&b, "tabularium-chain", "1");
    chain_buf_number(&b, "seq", (unsigned long long)link->seq);
    chain_buf_field(&b, "prev", link->prev_hash);
    chain_buf_field(&b, "archive-id", link->archive_id);
    chain_buf_time(&b, "arrival", link->arrival);
    chain_buf_field(&b, "queue-id", link->queue_id);
    chain_buf_field(&b, "from", link->envelope_from);
    /* Byte order, whatever order the rows come back in. */
    if (link->rcpts.n > 0) {
        rcpts = xmalloc(link->rcpts.n * sizeof(*rcpts));
        for (size_t i = 0; i < link->rcpts.n; i++)
            rcpts[i] = link->rcpts.v[i];
        qsort(rcpts, link->rcpts.n, sizeof(*rcpts), chain_strcmp);
    }
    for (size_t i = 0; i < link->rcpts.n; i++)
        chain_buf_field(&b, "rcpt", rcpts[i]);
    free(rcpts);
    chain_buf_field(&b, "sha256", link->sha256);
    chain_buf_number(&b, "size", link->size);
    chain_buf_field(&b, "wrapped-sha256", link->wrapped_sha256);
    chain_buf_number(&b, "wrapped-size", link->wrapped_size);
    chain_buf_field(&b, "store", link->store);
    chain_buf_field(&b, "location", link->location);
    if (link->retain_until == 0)
        chain_buf_field(&b, "retain-until", "forever");
    else
        chain_buf_time(&b, "retain-until", link->retain_until);
    *len_r = b.len;
    return b.p;
}

char *catalog_chain_encode_tail(const struct chain_link *link, size_t *len_r)
{
    struct chain_link tmp = *link;
    size_t len, head;
    char *enc;

    /* The same encoding with seq 0 and an empty prev: the part before
     * the tail is then exactly these three lines. */
    tmp.seq = 0;
    tmp.prev_hash[0] = '\0';
    enc = catalog_chain_encode(&tmp, &len);
    head = strlen("tabularium-chain 1\nseq 0\nprev \n");
    if (len < head || memcmp(enc, "tabularium-chain 1\nseq 0\nprev \n", head) != 0)
        abort(); /* the encoding above changed without this function */
    memmove(enc, enc + head, len - head + 1);
    *len_r = len - head;
    return enc;
}

void catalog_chain_hash(const struct chain_link *link, char hash[SHA256_HEX_SIZE])
{
    struct sha256_ctx *ctx = sha256_new();
    size_t len;
    char *enc = catalog_chain_encode(link, &len);

    sha256_update(ctx, enc, len);
    sha256_final_hex(ctx, hash);
    free(enc);
}

void catalog_chain_link_free(struct chain_link *link)
{
    free(link->queue_id);
    free(link->envelope_from);
    strlist_free(&link->rcpts);
    free(link->store);
    free(link->location);
    free(link->expired_by);
    memset(link, 0, sizeof(*link));
}

/* The failing catalog: remembers why the real one could not be opened. */
struct catalog_failing {
    struct catalog cat; /* first: handed out as struct catalog */
    char *error;
};

static enum tab_result catalog_failing_result(struct catalog *cat, const char **error_r)
{
    struct catalog_failing *f = (struct catalog_failing *)cat;

    log_error("%s", f->error);
    *error_r = f->error;
    return TAB_RETRY;
}

static enum tab_result catalog_failing_known_recipients(struct catalog *cat, const char *queue_id,
                                                        const char *sha256, const char *message_id,
                                                        struct strlist *rcpts_r,
                                                        const char **error_r)
{
    (void)queue_id;
    (void)sha256;
    (void)message_id;
    (void)rcpts_r;
    return catalog_failing_result(cat, error_r);
}

static enum tab_result catalog_failing_add(struct catalog *cat, const struct archive_record *rec,
                                           const char **error_r)
{
    (void)rec;
    return catalog_failing_result(cat, error_r);
}

static enum tab_result catalog_failing_search(struct catalog *cat, const struct search_query *q,
                                              catalog_row_fn *fn, void *ctx, const char **error_r)
{
    (void)q;
    (void)fn;
    (void)ctx;
    return catalog_failing_result(cat, error_r);
}

static enum tab_result catalog_failing_get(struct catalog *cat, const char *archive_id,
                                           struct archive_record *rec_r, const char **error_r)
{
    (void)archive_id;
    memset(rec_r, 0, sizeof(*rec_r));
    return catalog_failing_result(cat, error_r);
}

static enum tab_result catalog_failing_forward_status(struct catalog *cat, const char *archive_id,
                                                      const char *status, const char *detail,
                                                      const char **error_r)
{
    (void)archive_id;
    (void)status;
    (void)detail;
    return catalog_failing_result(cat, error_r);
}

static enum tab_result
catalog_failing_reindex(struct catalog *cat, const struct archive_record *rec, const char **error_r)
{
    (void)rec;
    return catalog_failing_result(cat, error_r);
}

static void catalog_failing_close(struct catalog *cat)
{
    struct catalog_failing *f = (struct catalog_failing *)cat;

    free(f->error);
    free(f);
}

static const struct catalog_vfuncs catalog_failing_vfuncs = {
    CATALOG_VFUNCS_MANDATORY(catalog_failing),
    .search = catalog_failing_search,
    .reindex = catalog_failing_reindex,
    .forward_status = catalog_failing_forward_status,
};

struct catalog *catalog_open_or_failing(const char *spec, const struct tab_config *cfg)
{
    struct catalog_failing *f;
    struct catalog *cat;
    const char *error;

    cat = catalog_open(spec, cfg, &error);
    if (cat != NULL)
        return cat;
    f = xcalloc(1, sizeof(*f));
    f->error = xasprintf("catalog unavailable: %s", error);
    log_error("%s", f->error);
    f->cat.v = &catalog_failing_vfuncs;
    f->cat.name = "failing";
    return &f->cat;
}

void catalog_close(struct catalog **cat)
{
    if (cat == NULL || *cat == NULL)
        return;
    (*cat)->v->close(*cat);
    *cat = NULL;
}
