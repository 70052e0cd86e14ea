/*
 * NAME
 *	cli_verify 3
 * SUMMARY
 *	tabularium verify and seal: prove that nothing was altered or removed
 * SYNOPSIS
 *	tabularium verify [--since DATE] [--sample N] [--against FILE] [--json]
 *	tabularium seal [--json]
 * DESCRIPTION
 *	verify walks the catalog's tamper-evident chain (backends/catalog.h,
 *	docs/integrity.md): every stored copy is one link whose hash covers
 *	the previous link's hash and the copy's fields. It recomputes every
 *	hash, checks that the links follow each other (seq 1, 2, ... up to
 *	the chain head, each naming its predecessor's hash), then re-reads
 *	the stored copies through the store (mail/archive_read.h) and
 *	compares the wrapped copy's SHA-256 and size and the original's
 *	SHA-256 with the catalog. Records removed by tabularium expire are
 *	links too (their hash was kept), so expiry is not a gap.
 *
 *	Findings have four kinds: altered (a row or a stored copy differs
 *	from what was recorded), missing (a link, a message row or a stored
 *	copy is gone), extra (a row that is not in the chain: forged), and
 *	reordered (a link that verifies, but at another position). --against
 *	compares the chain with seals printed earlier by tabularium seal:
 *	a chain rewritten consistently from some point on (every later hash
 *	recomputed) still differs from a seal kept outside the archive.
 *
 *	The chain is always checked whole (it is only catalog rows); --since
 *	and --sample restrict which stored copies are re-read. The walk
 *	reads the catalog in one snapshot and holds the links to re-read in
 *	memory (a few hundred bytes each); the stored copies are read after
 *	the walk, outside the catalog's transaction.
 *
 *	seal reads the chain head (its seq = the number of links ever
 *	written, and its hash) and stores it in the catalog's seals table;
 *	the printed line is what a site anchors elsewhere (mail, paper, a
 *	timestamping service) and what verify --against reads back.
 * DIAGNOSTICS
 *	verify exits 0 when nothing was found, 3 on any finding, 2 for
 *	usage, configuration or catalog/store access errors (also when a
 *	stored copy could not be read for a temporary reason and nothing
 *	else was found). Findings go to stdout, one per line (--json: one
 *	JSON object per line), followed by a summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "common/strlist.h"
#include "mail/archive_read.h"
#include "search/cli.h"
#include "search/cli_output.h"

const char cli_verify_help[] =
    "NAME\n"
    "    tabularium verify - prove that no archived message was altered or removed\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium verify [--since DATE] [--sample N] [--against FILE] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Every stored copy is one link of a hash chain in the catalog: its\n"
    "    hash covers the previous link's hash and the copy's fields (arrival,\n"
    "    queue id, envelope, SHA-256 and size of the original and of the\n"
    "    stored copy, store location, retain-until; docs/integrity.md gives\n"
    "    the exact encoding). verify recomputes the whole chain, checks that\n"
    "    the links follow each other up to the chain head, and reads every\n"
    "    stored copy back through the store to compare its SHA-256 and size,\n"
    "    and the SHA-256 of the original inside it, with the catalog.\n"
    "\n"
    "    Each finding is one line: its kind, the archive id, the link's seq\n"
    "    and what differs. Kinds:\n"
    "      altered    a catalog row or a stored copy differs from what was\n"
    "                 recorded when the message arrived\n"
    "      missing    a link, a message row or a stored copy is gone\n"
    "      extra      a row that is not part of the chain (forged)\n"
    "      reordered  a link that verifies, but at another position\n"
    "    Messages removed by tabularium expire are recorded in the chain and\n"
    "    are not missing.\n"
    "\n"
    "OPTIONS\n"
    "    --since DATE    re-read only copies that arrived at or after DATE\n"
    "                    (YYYY-MM-DD or ISO 8601); the chain is always checked\n"
    "    --sample N      re-read only N copies chosen at random\n"
    "    --against FILE  also check the chain against earlier seals: FILE\n"
    "                    holds lines printed by tabularium seal (text or --json)\n"
    "    --json          one JSON object per finding (keys finding, archive_id,\n"
    "                    seq, detail), then a summary object (key summary)\n"
    "    -h, --help      this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium verify\n"
    "    tabularium verify --since 2026-11-01 --sample 500\n"
    "    tabularium seal >> /root/seals.txt; tabularium verify --against /root/seals.txt\n"
    "\n"
    "EXIT STATUS\n"
    "    0 verified, nothing found; 3 at least one finding (altered, missing,\n"
    "    extra, reordered, or a seal that does not match); 2 usage,\n"
    "    configuration or catalog/store access error, or a stored copy that\n"
    "    could not be read for a temporary reason.\n";

const char cli_seal_help[] =
    "NAME\n"
    "    tabularium seal - print and store the chain head\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium seal [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the head of the catalog's hash chain: the time, the number\n"
    "    of links written so far (count) and the head's hash, and stores it\n"
    "    in the catalog's seals table. Keep the printed line somewhere the\n"
    "    archive's administrators cannot change (mail it away, print it,\n"
    "    have it timestamped): tabularium verify --against FILE then proves\n"
    "    that the archive up to each seal is still the one that was sealed.\n"
    "    Run it daily from cron.\n"
    "\n"
    "    Text form: tabularium-seal 1 TIME count=N head=HASH\n"
    "\n"
    "OPTIONS\n"
    "    --json        one JSON object (keys sealed, count, head)\n"
    "    -h, --help    this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium seal | mail -s 'archive seal' auditor@example.com\n"
    "    tabularium seal >> /srv/seals/$(hostname).txt\n"
    "\n"
    "EXIT STATUS\n"
    "    0 sealed, 2 usage, configuration or catalog error.\n";

/* What verify keeps of each link. */
struct verify_entry {
    enum chain_link_kind kind;
    int64_t seq;
    int message_missing;
    int hash_ok;  /* CHAIN_COPY: the recomputed hash equals the stored one */
    int reported; /* a finding names this entry already */
    char hash[SHA256_HEX_SIZE];
    char prev_hash[SHA256_HEX_SIZE];
    char archive_id[ARCHIVE_ID_SIZE];
    char message_archive_id[ARCHIVE_ID_SIZE];
};

struct verify_state {
    struct verify_entry *v;
    size_t n, cap;
    /* Links whose stored copy is re-read (all, --since, or a --sample). */
    struct chain_link *objects;
    size_t n_objects, cap_objects;
    size_t eligible; /* links that could be re-read (for the sample) */
    time_t since;
    long sample;
    /* Recomputing at another seq needs the fields: kept for failing links. */
    struct chain_link *failed;
    size_t n_failed, cap_failed;

    struct cli_output *out;
    int json;
    long findings[4];
    long errors;
    long objects_read;
};

enum verify_kind { V_ALTERED, V_MISSING, V_EXTRA, V_REORDERED };
static const char *const verify_kind_names[] = {"altered", "missing", "extra", "reordered"};

static void verify_report(struct verify_state *vs, enum verify_kind kind, const char *archive_id,
                          int64_t seq, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verify_report(struct verify_state *vs, enum verify_kind kind, const char *archive_id,
                          int64_t seq, const char *fmt, ...)
{
    struct cli_output *o = vs->out;
    va_list ap;
    char *detail;

    va_start(ap, fmt);
    detail = xvasprintf(fmt, ap);
    va_end(ap);
    vs->findings[kind]++;
    if (vs->json) {
        o->begin_map(o);
        cli_output_key_string(o, "finding", verify_kind_names[kind]);
        cli_output_key_string(o, "archive_id",
                              archive_id != NULL && *archive_id != '\0' ? archive_id : NULL);
        o->map_key(o, "seq");
        if (seq > 0)
            o->integer(o, seq);
        else
            o->null(o);
        cli_output_key_string(o, "detail", detail);
        o->end(o);
        o->separator(o);
    } else {
        printf("%-9s %s seq=%" PRId64 ": %s\n", verify_kind_names[kind],
               archive_id != NULL && *archive_id != '\0' ? archive_id : "-", seq, detail);
    }
    free(detail);
}

/* Deep copy: the walk frees its link after the callback. */
static void verify_copy_link(struct chain_link *c, const struct chain_link *link)
{
    *c = *link;
    c->queue_id = link->queue_id ? xstrdup(link->queue_id) : NULL;
    c->envelope_from = link->envelope_from ? xstrdup(link->envelope_from) : NULL;
    memset(&c->rcpts, 0, sizeof(c->rcpts));
    for (size_t i = 0; i < link->rcpts.n; i++)
        strlist_add(&c->rcpts, link->rcpts.v[i]);
    c->store = link->store ? xstrdup(link->store) : NULL;
    c->location = link->location ? xstrdup(link->location) : NULL;
    c->expired_by = link->expired_by ? xstrdup(link->expired_by) : NULL;
}

static void verify_keep_link(struct chain_link **v, size_t *n, size_t *cap,
                             const struct chain_link *link)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    verify_copy_link(&(*v)[(*n)++], link);
}

static int verify_walk_fn(const struct chain_link *link, void *ctx)
{
    struct verify_state *vs = ctx;
    struct verify_entry *e;

    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 1024;
        vs->v = xrealloc(vs->v, vs->cap * sizeof(*vs->v));
    }
    e = &vs->v[vs->n++];
    memset(e, 0, sizeof(*e));
    e->kind = link->kind;
    e->seq = link->seq;
    e->message_missing = link->message_missing;
    memcpy(e->hash, link->hash, sizeof(e->hash));
    memcpy(e->prev_hash, link->prev_hash, sizeof(e->prev_hash));
    memcpy(e->archive_id, link->archive_id, sizeof(e->archive_id));
    memcpy(e->message_archive_id, link->message_archive_id, sizeof(e->message_archive_id));
    if (link->kind != CHAIN_COPY)
        return 0;
    if (!link->message_missing) {
        char hash[SHA256_HEX_SIZE];
        catalog_chain_hash(link, hash);
        e->hash_ok = strcmp(hash, link->hash) == 0;
        if (!e->hash_ok && link->seq > 0)
            verify_keep_link(&vs->failed, &vs->n_failed, &vs->cap_failed, link);
    }
    /* A row outside the chain is reported as extra; its "copy" is not ours. */
    if (link->seq == 0 || link->message_missing || link->store == NULL || link->location == NULL)
        return 0;
    if (vs->since != 0 && link->arrival < vs->since)
        return 0;
    /* Reservoir sampling: each eligible link is kept with probability
     * sample / eligible. */
    vs->eligible++;
    if (vs->sample > 0 && vs->n_objects >= (size_t)vs->sample) {
        size_t j = (size_t)(drand48() * (double)vs->eligible);
        if (j < (size_t)vs->sample) {
            catalog_chain_link_free(&vs->objects[j]);
            verify_copy_link(&vs->objects[j], link);
        }
        return 0;
    }
    verify_keep_link(&vs->objects, &vs->n_objects, &vs->cap_objects, link);
    return 0;
}

/* Index of the entry whose (prev_)hash is h, via a sorted index; -1. */
struct verify_index {
    const struct verify_state *vs;
    size_t *idx;
    int by_prev;
};

static const struct verify_state *verify_sort_vs;
static int verify_sort_by_prev;

static const char *verify_key(const struct verify_state *vs, size_t i, int by_prev)
{
    return by_prev ? vs->v[i].prev_hash : vs->v[i].hash;
}

static int verify_index_cmp(const void *a, const void *b)
{
    return strcmp(verify_key(verify_sort_vs, *(const size_t *)a, verify_sort_by_prev),
                  verify_key(verify_sort_vs, *(const size_t *)b, verify_sort_by_prev));
}

static void verify_index_build(struct verify_index *ix, const struct verify_state *vs, int by_prev)
{
    ix->vs = vs;
    ix->by_prev = by_prev;
    ix->idx = xmalloc((vs->n ? vs->n : 1) * sizeof(*ix->idx));
    for (size_t i = 0; i < vs->n; i++)
        ix->idx[i] = i;
    verify_sort_vs = vs;
    verify_sort_by_prev = by_prev;
    qsort(ix->idx, vs->n, sizeof(*ix->idx), verify_index_cmp);
}

static long verify_index_find(const struct verify_index *ix, const char *h)
{
    size_t lo = 0, hi = ix->vs->n;

    if (*h == '\0')
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(verify_key(ix->vs, ix->idx[mid], ix->by_prev), h);
        if (c == 0)
            return (long)ix->idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The kept fields of a link whose hash failed at its own seq. */
static struct chain_link *verify_failed_link(struct verify_state *vs, const struct verify_entry *e)
{
    for (size_t i = 0; i < vs->n_failed; i++)
        if (vs->failed[i].seq == e->seq && strcmp(vs->failed[i].archive_id, e->archive_id) == 0)
            return &vs->failed[i];
    return NULL;
}

/* Does link verify at seq? */
static int verify_at_seq(struct chain_link *link, int64_t seq)
{
    char hash[SHA256_HEX_SIZE];
    int64_t saved = link->seq;

    if (seq <= 0)
        return 0;
    link->seq = seq;
    catalog_chain_hash(link, hash);
    link->seq = saved;
    return strcmp(hash, link->hash) == 0;
}

static void verify_chain(struct verify_state *vs, const struct chain_seal *head)
{
    struct verify_index by_hash, by_prev;
    int64_t expected = 1;
    const struct verify_entry *last = NULL;
    int gap = 0;

    verify_index_build(&by_hash, vs, 0);
    verify_index_build(&by_prev, vs, 1);

    for (size_t i = 0; i < vs->n; i++) {
        struct verify_entry *e = &vs->v[i];

        if (e->kind == CHAIN_MESSAGE_NO_COPY)
            continue;
        if (e->kind == CHAIN_COPY && e->message_missing) {
            verify_report(vs, V_MISSING,
                          e->message_archive_id[0] ? e->message_archive_id : e->archive_id, e->seq,
                          "the message row of stored copy %s is gone", e->archive_id);
            e->reported = 1;
        }
        if (e->seq == 0) {
            if (e->kind == CHAIN_COPY && !e->reported)
                verify_report(vs, V_EXTRA, e->archive_id, 0,
                              "a copy row without a place in the chain (no seq)");
            e->reported = 1;
            continue;
        }
        if (last != NULL && e->seq == last->seq) {
            /* Two rows claim one place: the one that does not verify is extra. */
            if (!e->reported)
                verify_report(vs, V_EXTRA, e->archive_id, e->seq,
                              "a second row with seq %" PRId64 "%s", e->seq,
                              e->hash_ok ? "" : " whose hash does not verify");
            e->reported = 1;
            continue;
        }
        if (e->seq > expected) {
            gap = 1;
            if (e->seq - 1 == expected)
                verify_report(vs, V_MISSING, NULL, expected,
                              "link %" PRId64 " of the chain is gone (between %s and %s)", expected,
                              last != NULL ? last->archive_id : "the start", e->archive_id);
            else
                verify_report(vs, V_MISSING, NULL, expected,
                              "links %" PRId64 " to %" PRId64 " of the chain are gone (between"
                              " %s and %s)",
                              expected, e->seq - 1, last != NULL ? last->archive_id : "the start",
                              e->archive_id);
        }
        if (e->seq > head->seq && !e->reported) {
            verify_report(vs, V_EXTRA, e->archive_id, e->seq,
                          "beyond the chain head (seq %" PRId64 ")", head->seq);
            e->reported = 1;
        }
        if (e->kind == CHAIN_COPY && !e->hash_ok && !e->reported) {
            struct chain_link *link = verify_failed_link(vs, e);
            long pred = verify_index_find(&by_hash, e->prev_hash);
            long succ = verify_index_find(&by_prev, e->hash);
            int64_t at = 0;

            if (link != NULL && pred >= 0 && verify_at_seq(link, vs->v[pred].seq + 1))
                at = vs->v[pred].seq + 1;
            else if (link != NULL && succ >= 0 && verify_at_seq(link, vs->v[succ].seq - 1))
                at = vs->v[succ].seq - 1;
            else if (link != NULL && verify_at_seq(link, e->seq - 1))
                at = e->seq - 1;
            else if (link != NULL && verify_at_seq(link, e->seq + 1))
                at = e->seq + 1;
            if (at > 0)
                verify_report(vs, V_REORDERED, e->archive_id, e->seq,
                              "the link was written at seq %" PRId64 ", it is now at seq %" PRId64,
                              at, e->seq);
            else
                verify_report(vs, V_ALTERED, e->archive_id, e->seq,
                              "the catalog row differs from what its hash recorded at arrival");
            e->reported = 1;
        } else if (!e->reported && last != NULL && last->seq == e->seq - 1 && !last->reported &&
                   strcmp(e->prev_hash, last->hash) != 0) {
            long pred = verify_index_find(&by_hash, e->prev_hash);
            if (pred >= 0)
                verify_report(vs, V_REORDERED, e->archive_id, e->seq,
                              "follows %s (seq %" PRId64 ") in the chain, but is stored after %s",
                              vs->v[pred].archive_id, vs->v[pred].seq, last->archive_id);
            else
                verify_report(vs, V_ALTERED, e->archive_id, e->seq,
                              "the previous link's hash differs from the one this link recorded"
                              " (link %" PRId64 " was rewritten)",
                              last->seq);
            e->reported = 1;
        } else if (!e->reported && last == NULL && e->seq == 1 &&
                   strcmp(e->prev_hash, CHAIN_GENESIS) != 0) {
            verify_report(vs, V_ALTERED, e->archive_id, e->seq,
                          "the first link does not start the chain");
            e->reported = 1;
        }
        if (e->seq >= expected)
            expected = e->seq + 1;
        last = e;
    }
    if (expected - 1 < head->seq) {
        gap = 1;
        verify_report(vs, V_MISSING, NULL, expected,
                      "links %" PRId64 " to %" PRId64 " are gone: the chain head says %" PRId64
                      " links were written",
                      expected, head->seq, head->seq);
    } else if (last != NULL && last->seq == head->seq && !last->reported &&
               strcmp(last->hash, head->hash) != 0) {
        verify_report(vs, V_ALTERED, last->archive_id, last->seq,
                      "the chain head's hash differs from the last link's");
    } else if (last == NULL && head->seq == 0 && strcmp(head->hash, CHAIN_GENESIS) != 0) {
        verify_report(vs, V_ALTERED, NULL, 0, "the empty chain's head is not the genesis hash");
    }
    for (size_t i = 0; i < vs->n; i++) {
        const struct verify_entry *e = &vs->v[i];
        if (e->kind == CHAIN_MESSAGE_NO_COPY)
            verify_report(vs, gap ? V_MISSING : V_EXTRA, e->message_archive_id, 0,
                          gap ? "a message row whose stored copy row is gone"
                              : "a message row that is not in the chain (no stored copy row)");
    }
    free(by_hash.idx);
    free(by_prev.idx);
}

/* The entry of a live or expired link at seq, or NULL. */
static const struct verify_entry *verify_at(const struct verify_state *vs, int64_t seq)
{
    size_t lo = 0, hi = vs->n;

    /* Entries with seq > 0 come first, in seq order. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct verify_entry *e = &vs->v[mid];
        if (e->kind == CHAIN_MESSAGE_NO_COPY || e->seq == 0 || e->seq > seq)
            hi = mid;
        else if (e->seq < seq)
            lo = mid + 1;
        else
            return e;
    }
    return NULL;
}

/* Parse one seal line (text or JSON); 0 ok, -1 not a seal. */
static int verify_parse_seal(const char *line, int64_t *seq_r, char hash[SHA256_HEX_SIZE])
{
    const char *p;
    char *end;
    size_t n;

    if ((p = strstr(line, "count=")) != NULL)
        p += 6;
    else if ((p = strstr(line, "\"count\":")) != NULL)
        p += 8;
    else
        return -1;
    errno = 0;
    *seq_r = strtoll(p, &end, 10);
    if (end == p || errno != 0 || *seq_r < 0)
        return -1;
    if ((p = strstr(line, "head=")) != NULL)
        p += 5;
    else if ((p = strstr(line, "\"head\":\"")) != NULL)
        p += 8;
    else
        return -1;
    n = strspn(p, "0123456789abcdef");
    if (n != SHA256_HEX_SIZE - 1)
        return -1;
    memcpy(hash, p, n);
    hash[n] = '\0';
    return 0;
}

/* -1: the file cannot be read (printed). */
static int verify_against(struct verify_state *vs, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t size = 0;
    long lineno = 0, seals = 0;

    if (f == NULL) {
        fprintf(stderr, "tabularium verify: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (getline(&line, &size, f) > 0) {
        char hash[SHA256_HEX_SIZE];
        const struct verify_entry *e;
        int64_t seq;

        lineno++;
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (verify_parse_seal(line, &seq, hash) < 0) {
            fprintf(stderr, "tabularium verify: %s:%ld: not a seal line, ignored\n", path, lineno);
            continue;
        }
        seals++;
        if (seq == 0)
            continue;
        e = verify_at(vs, seq);
        if (e == NULL)
            verify_report(vs, V_MISSING, NULL, seq,
                          "sealed link %" PRId64 " (%s:%ld) is not in the chain", seq, path,
                          lineno);
        else if (strcmp(e->hash, hash) != 0)
            verify_report(vs, V_ALTERED, e->archive_id, seq,
                          "link %" PRId64 " differs from the seal in %s:%ld: the chain was"
                          " rewritten",
                          seq, path, lineno);
        else if (e->kind == CHAIN_COPY && !e->hash_ok && !e->reported)
            verify_report(vs, V_ALTERED, e->archive_id, seq, "sealed link does not verify");
    }
    free(line);
    fclose(f);
    if (seals == 0)
        fprintf(stderr, "tabularium verify: %s: no seal lines found\n", path);
    return 0;
}

static void verify_objects(struct verify_state *vs, struct store *st)
{
    for (size_t i = 0; i < vs->n_objects; i++) {
        struct chain_link *l = &vs->objects[i];
        struct archive_record rec;
        struct archive_read_result res;
        char why[1024];

        if (strcmp(l->store, st->name) != 0) {
            fprintf(stderr,
                    "tabularium verify: %s: stored in a %s store, but archive_store is a %s"
                    " store: not re-read\n",
                    l->archive_id, l->store, st->name);
            vs->errors++;
            continue;
        }
        memset(&rec, 0, sizeof(rec));
        memcpy(rec.archive_id, l->archive_id, sizeof(rec.archive_id));
        rec.queue_id = l->queue_id;
        rec.envelope_from = l->envelope_from;
        rec.size = l->size;
        memcpy(rec.sha256, l->sha256, sizeof(rec.sha256));
        rec.wrapped_size = l->wrapped_size;
        memcpy(rec.wrapped_sha256, l->wrapped_sha256, sizeof(rec.wrapped_sha256));
        rec.store = l->store;
        rec.location = l->location;
        rec.retain_until = l->retain_until;
        vs->objects_read++;
        if (archive_read(st, &rec, ARCHIVE_EMIT_NONE, NULL, NULL, &res) < 0) {
            if (res.status == ARCHIVE_READ_MISSING)
                verify_report(vs, V_MISSING, l->archive_id, l->seq,
                              "the stored copy %s:%s cannot be read: %s", l->store, l->location,
                              res.error);
            else {
                fprintf(stderr, "tabularium verify: %s: reading %s:%s failed: %s\n", l->archive_id,
                        l->store, l->location,
                        res.status == ARCHIVE_READ_STORE_FAIL ? res.error
                                                              : strerror(res.error_errno));
                vs->errors++;
            }
            continue;
        }
        if (archive_read_verdict(&rec, &res, 1, why, sizeof(why)) < 0)
            verify_report(vs, V_ALTERED, l->archive_id, l->seq, "the stored copy differs: %s", why);
    }
}

static void verify_state_free(struct verify_state *vs)
{
    for (size_t i = 0; i < vs->n_objects; i++)
        catalog_chain_link_free(&vs->objects[i]);
    for (size_t i = 0; i < vs->n_failed; i++)
        catalog_chain_link_free(&vs->failed[i]);
    free(vs->objects);
    free(vs->failed);
    free(vs->v);
    cli_output_free(&vs->out);
}

/* --sample N: a positive number into the long dest. */
static int verify_option_sample(const char *cmd, const char *word, const char *value, void *dest)
{
    long *sample = dest;
    char *end;

    (void)word;
    errno = 0;
    *sample = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || errno != 0 || *sample <= 0)
        return cli_usage_error(cmd, "--sample \"%s\": expected a positive number", value);
    return 0;
}

int cli_verify(struct cli_context *ctx, int argc, char **argv)
{
    struct verify_state vs;
    struct chain_seal head;
    struct catalog *cat;
    struct store *st = NULL;
    const char *against = NULL, *error;
    long total;
    int operand, status;
    const struct cli_syntax syntax = {
        "verify", cli_verify_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_VALUE("since", cli_option_since, &vs.since),
                    CLI_OPTION_VALUE("sample", verify_option_sample, &vs.sample),
                    CLI_OPTION_STRING("against", &against), CLI_OPTION_FLAG("json", &vs.json))};

    memset(&vs, 0, sizeof(vs));
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;

    cat = cli_catalog_that(ctx, "verify", CATALOG_CAN_CHAIN_WALK, "keeps no chain");
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    srand48((long)time(NULL) ^ (long)getpid());
    vs.out = vs.json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    /* The head is read in the walk's snapshot. */
    if (catalog_chain_walk(cat, &head, verify_walk_fn, &vs, &error) != TAB_OK) {
        fprintf(stderr, "tabularium verify: %s\n", error);
        verify_state_free(&vs);
        return CLI_EXIT_USAGE;
    }
    verify_chain(&vs, &head);
    if (against != NULL && verify_against(&vs, against) < 0) {
        verify_state_free(&vs);
        return CLI_EXIT_USAGE;
    }
    if (vs.n_objects > 0) {
        st = ctx->store(ctx);
        if (st == NULL) {
            verify_state_free(&vs);
            return CLI_EXIT_USAGE;
        }
        verify_objects(&vs, st);
    }

    total = vs.findings[0] + vs.findings[1] + vs.findings[2] + vs.findings[3];
    if (vs.json) {
        struct cli_output *o = vs.out;
        o->begin_map(o);
        cli_output_key_string(o, "summary", total ? "findings" : "verified");
        cli_output_key_integer(o, "links", head.seq);
        cli_output_key_string(o, "head", head.hash);
        cli_output_key_integer(o, "objects_read", vs.objects_read);
        for (int k = 0; k < 4; k++) {
            o->map_key(o, verify_kind_names[k]);
            o->integer(o, vs.findings[k]);
        }
        cli_output_key_integer(o, "errors", vs.errors);
        o->end(o);
        o->separator(o);
    } else {
        printf("verify: %" PRId64 " links, head %s, %ld stored copies re-read: ", head.seq,
               head.hash, vs.objects_read);
        if (total == 0)
            printf("no findings%s\n", vs.errors ? " (but some copies could not be read)" : "");
        else
            printf("%ld altered, %ld missing, %ld extra, %ld reordered\n", vs.findings[V_ALTERED],
                   vs.findings[V_MISSING], vs.findings[V_EXTRA], vs.findings[V_REORDERED]);
    }
    status = total > 0 ? CLI_EXIT_INTEGRITY : vs.errors > 0 ? CLI_EXIT_USAGE : CLI_EXIT_FOUND;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium verify: cannot write to stdout: %s\n", strerror(errno));
        status = status == CLI_EXIT_FOUND ? CLI_EXIT_USAGE : status;
    }
    verify_state_free(&vs);
    return status;
}

int cli_seal(struct cli_context *ctx, int argc, char **argv)
{
    struct chain_seal seal;
    struct catalog *cat;
    const char *error;
    char when[21];
    int operand, status, json = 0;
    const struct cli_syntax syntax = {"seal", cli_seal_help, 0, NULL,
                                      CLI_OPTIONS(CLI_OPTION_FLAG("json", &json))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    cat = cli_catalog_that(ctx, "seal", CATALOG_CAN_SEAL, "keeps no chain");
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    if (catalog_seal(cat, &seal, &error) != TAB_OK) {
        fprintf(stderr, "tabularium seal: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    record_format_time(seal.at, when);
    if (json)
        printf("{\"sealed\":\"%s\",\"count\":%" PRId64 ",\"head\":\"%s\"}\n", when, seal.seq,
               seal.hash);
    else
        printf("tabularium-seal 1 %s count=%" PRId64 " head=%s\n", when, seal.seq, seal.hash);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium seal: cannot write to stdout: %s\n", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_FOUND;
}
