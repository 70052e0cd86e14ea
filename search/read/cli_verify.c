/*
 * NAME
 *	cli_verify 3
 * SUMMARY
 *	tabularium verify and seal: prove that nothing was altered or removed
 * SYNOPSIS
 *	tabularium verify [--since DATE] [--sample N] [--against FILE] [--jobs N] [--json]
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
 *	reads the catalog in one snapshot and writes what it keeps of each
 *	link (about 200 bytes) and each copy to re-read (about 250) to two
 *	unnamed scratch files in TMPDIR, not to the heap: the links file is
 *	mapped for the chain checks, the copies file read back one record at
 *	a time, so memory stays bounded whatever the archive's size (a
 *	--sample holds its N picks; a chain with failing links sorts an
 *	index of 8 bytes a link). The stored copies are read after the walk,
 *	outside the catalog's transaction, in this process with --jobs 1 or
 *	else by N worker processes forked before the catalog is opened (a
 *	worker must not share the parent's database connection), each with
 *	a store of its own; worker i takes copies i, i + N, ... and the
 *	parent reads their answers in copy order, so the findings and the
 *	summary are those of one process. A progress line (common/
 *	progress.h) shows on stderr when it is a terminal.
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
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "common/progress.h"
#include "common/safe_file.h"
#include "common/strlist.h"
#include "mail/archive_read.h"
#include "search/cli.h"
#include "search/cli_output.h"

const char cli_verify_help[] =
    "NAME\n"
    "    tabularium verify - prove that no archived message was altered or removed\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium verify [--since DATE] [--sample N] [--against FILE] [--jobs N]\n"
    "                      [--json]\n"
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
    "    Memory stays small whatever the archive's size: what verify keeps of\n"
    "    each link goes to unnamed scratch files in TMPDIR (or /tmp), about\n"
    "    450 bytes per stored copy. When stderr is a terminal, a progress\n"
    "    line shows the count, the rate and the time left; it is erased at\n"
    "    the end, and nothing is drawn when stderr is a file or a pipe.\n"
    "\n"
    "OPTIONS\n"
    "    --since DATE    re-read only copies that arrived at or after DATE\n"
    "                    (YYYY-MM-DD or ISO 8601); the chain is always checked\n"
    "    --sample N      re-read only N copies chosen at random\n"
    "    --against FILE  also check the chain against earlier seals: FILE\n"
    "                    holds lines printed by tabularium seal (text or --json)\n"
    "    --jobs N        re-read the stored copies in N processes (1 to 64;\n"
    "                    default: the online CPUs, at most 16); findings come\n"
    "                    in the same order whatever N\n"
    "    --json          one JSON object per finding (keys finding, archive_id,\n"
    "                    seq, detail), then a summary object (key summary)\n"
    "    -h, --help      this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium verify\n"
    "    tabularium verify --since 2026-11-01 --sample 500\n"
    "    tabularium verify --jobs 4 --json > verify.json\n"
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

/* What verify keeps of each link (in the links file, not the heap). */
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

/* A link whose stored copy is re-read, as written to the copies file:
 * this header, then store_len bytes of the store's name and
 * location_len bytes of the location. */
struct verify_object {
    int64_t seq;
    uint64_t size, wrapped_size;
    uint32_t store_len, location_len;
    char archive_id[ARCHIVE_ID_SIZE];
    char sha256[SHA256_HEX_SIZE];
    char wrapped_sha256[SHA256_HEX_SIZE];
};

/* A --sample pick, held until the walk ends. */
struct verify_pick {
    struct verify_object o;
    char *store, *location;
};

/* What re-reading one copy found; the worker's answer to the parent
 * (this header, then len bytes of detail). */
enum verify_outcome {
    VO_OK,          /* matches the catalog */
    VO_ALTERED,     /* differs: a finding */
    VO_MISSING,     /* the store has no such copy: a finding */
    VO_ERROR,       /* could not be read now: an error on stderr */
    VO_OTHER_STORE, /* in another kind of store: not re-read, an error */
    VO_NO_STORE,    /* (worker) the store did not open: it said why */
};

struct verify_answer {
    int32_t outcome;
    uint32_t len;
    int64_t seq;
    char archive_id[ARCHIVE_ID_SIZE];
};

/* The longest detail a copy's outcome carries (the store's message is
 * at most 512 bytes, a location at most a few hundred). */
#define VERIFY_DETAIL_MAX 4096
/* Copy records longer than this are not ours: the file is damaged. */
#define VERIFY_FIELD_MAX (1024 * 1024)
/* --jobs: the default is the online CPUs, at most this many. */
#define VERIFY_JOBS_DEFAULT_MAX 16
#define VERIFY_JOBS_MAX 64 /* as the usage message says */

struct verify_state {
    /* The links, in walk order: written to links_file during the walk,
     * then mapped (v, n) for the chain checks; memory does not grow with
     * the archive. */
    FILE *links_file;
    struct verify_entry *v;
    size_t n, mapped;
    /* Links whose stored copy is re-read (all, --since, or a --sample),
     * in copies_file; --sample picks are held until the walk ends. */
    FILE *copies_file;
    size_t n_objects;
    struct verify_pick *picks;
    size_t cap_picks;
    size_t eligible; /* links that could be re-read (for the sample) */
    time_t since;
    long sample;
    int jobs;
    /* Recomputing at another seq needs the fields: kept for failing links. */
    struct chain_link *failed;
    size_t n_failed, cap_failed;
    int write_errno; /* writing a spill file failed */

    struct cli_output *out;
    struct progress *progress;
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
    progress_clear(vs->progress);
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

/* An unnamed scratch file in TMPDIR (or /tmp), gone when closed; a
 * named one, unlinked at once, where the file system has no O_TMPFILE. */
static FILE *verify_tmpfile(void)
{
    const char *tmp = getenv("TMPDIR");
    const char *dir = tmp != NULL && *tmp == '/' ? tmp : "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    FILE *f;

    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        char *path = xasprintf("%s/tabularium-verify.XXXXXX", dir);
        if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
            (void)unlink(path);
        free(path);
    }
    if (fd < 0)
        return NULL;
    if ((f = fdopen(fd, "w+")) == NULL)
        (void)close(fd); /* empty and unnamed: nothing to lose */
    return f;
}

static void verify_spill(struct verify_state *vs, FILE *f, const void *data, size_t len)
{
    if (len > 0 && fwrite(data, 1, len, f) != len && vs->write_errno == 0)
        vs->write_errno = errno != 0 ? errno : EIO;
}

static void verify_object_of(struct verify_object *o, const struct chain_link *link)
{
    memset(o, 0, sizeof(*o));
    o->seq = link->seq;
    o->size = link->size;
    o->wrapped_size = link->wrapped_size;
    o->store_len = (uint32_t)strlen(link->store);
    o->location_len = (uint32_t)strlen(link->location);
    memcpy(o->archive_id, link->archive_id, sizeof(o->archive_id));
    memcpy(o->sha256, link->sha256, sizeof(o->sha256));
    memcpy(o->wrapped_sha256, link->wrapped_sha256, sizeof(o->wrapped_sha256));
}

static void verify_spill_object(struct verify_state *vs, const struct verify_object *o,
                                const char *store, const char *location)
{
    verify_spill(vs, vs->copies_file, o, sizeof(*o));
    verify_spill(vs, vs->copies_file, store, o->store_len);
    verify_spill(vs, vs->copies_file, location, o->location_len);
    vs->n_objects++;
}

static int verify_walk_fn(const struct chain_link *link, void *ctx)
{
    struct verify_state *vs = ctx;
    struct verify_entry e;

    memset(&e, 0, sizeof(e));
    e.kind = link->kind;
    e.seq = link->seq;
    e.message_missing = link->message_missing;
    memcpy(e.hash, link->hash, sizeof(e.hash));
    memcpy(e.prev_hash, link->prev_hash, sizeof(e.prev_hash));
    memcpy(e.archive_id, link->archive_id, sizeof(e.archive_id));
    memcpy(e.message_archive_id, link->message_archive_id, sizeof(e.message_archive_id));
    if (link->kind == CHAIN_COPY && !link->message_missing) {
        char hash[SHA256_HEX_SIZE];
        catalog_chain_hash(link, hash);
        e.hash_ok = strcmp(hash, link->hash) == 0;
        if (!e.hash_ok && link->seq > 0)
            verify_keep_link(&vs->failed, &vs->n_failed, &vs->cap_failed, link);
    }
    verify_spill(vs, vs->links_file, &e, sizeof(e));
    vs->n++;
    progress_update(vs->progress, vs->n);
    if (link->kind != CHAIN_COPY)
        return 0;
    /* A row outside the chain is reported as extra; its "copy" is not ours. */
    if (link->seq == 0 || link->message_missing || link->store == NULL || link->location == NULL)
        return 0;
    if (vs->since != 0 && link->arrival < vs->since)
        return 0;
    if (strlen(link->store) > VERIFY_FIELD_MAX || strlen(link->location) > VERIFY_FIELD_MAX)
        return 0; /* not a location any store wrote: re-reading it cannot pass */
    vs->eligible++;
    if (vs->sample <= 0) {
        struct verify_object o;
        verify_object_of(&o, link);
        verify_spill_object(vs, &o, link->store, link->location);
        return 0;
    }
    /* Reservoir sampling: each eligible link is kept with probability
     * sample / eligible. */
    size_t slot = vs->eligible - 1;
    if (slot >= vs->cap_picks && slot < (size_t)vs->sample) {
        vs->cap_picks = vs->cap_picks ? vs->cap_picks * 2 : 256;
        if (vs->cap_picks > (size_t)vs->sample)
            vs->cap_picks = (size_t)vs->sample;
        vs->picks = xrealloc(vs->picks, vs->cap_picks * sizeof(*vs->picks));
    }
    if (slot >= (size_t)vs->sample) {
        slot = (size_t)(drand48() * (double)vs->eligible);
        if (slot >= (size_t)vs->sample)
            return 0;
        free(vs->picks[slot].store);
        free(vs->picks[slot].location);
    }
    verify_object_of(&vs->picks[slot].o, link);
    vs->picks[slot].store = xstrdup(link->store);
    vs->picks[slot].location = xstrdup(link->location);
    return 0;
}

/* After the walk: the picks into the copies file, the links file mapped.
 * -1 when a scratch file failed (printed). */
static int verify_walk_done(struct verify_state *vs)
{
    size_t picked = vs->sample > 0 && vs->eligible < (size_t)vs->sample ? vs->eligible
                    : vs->sample > 0                                    ? (size_t)vs->sample
                                                                        : 0;

    for (size_t i = 0; i < picked; i++)
        verify_spill_object(vs, &vs->picks[i].o, vs->picks[i].store, vs->picks[i].location);
    if ((fflush(vs->links_file) != 0 || fflush(vs->copies_file) != 0) && vs->write_errno == 0)
        vs->write_errno = errno;
    if (vs->write_errno != 0) {
        fprintf(stderr, "tabularium verify: cannot write a scratch file in %s: %s\n",
                getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", strerror(vs->write_errno));
        return -1;
    }
    if (vs->n == 0)
        return 0;
    vs->v = mmap(NULL, vs->n * sizeof(*vs->v), PROT_READ | PROT_WRITE, MAP_SHARED,
                 fileno(vs->links_file), 0);
    if (vs->v == MAP_FAILED) {
        vs->v = NULL;
        fprintf(stderr, "tabularium verify: cannot map the scratch file of links: %s\n",
                strerror(errno));
        return -1;
    }
    vs->mapped = vs->n * sizeof(*vs->v);
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

/* The index is sorted on first use: a chain without a failing link
 * never needs one. */
static void verify_index_build(struct verify_index *ix, const struct verify_state *vs, int by_prev)
{
    ix->vs = vs;
    ix->by_prev = by_prev;
    ix->idx = NULL;
}

static long verify_index_find(struct verify_index *ix, const char *h)
{
    const struct verify_state *vs = ix->vs;
    size_t lo = 0, hi = vs->n;

    if (*h == '\0')
        return -1;
    if (ix->idx == NULL) {
        ix->idx = xmalloc((vs->n ? vs->n : 1) * sizeof(*ix->idx));
        for (size_t i = 0; i < vs->n; i++)
            ix->idx[i] = i;
        verify_sort_vs = vs;
        verify_sort_by_prev = ix->by_prev;
        qsort(ix->idx, vs->n, sizeof(*ix->idx), verify_index_cmp);
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(verify_key(vs, ix->idx[mid], ix->by_prev), h);
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
        if (e->seq >= expected) /* a forged seq of INT64_MAX must not overflow */
            expected = e->seq < INT64_MAX ? e->seq + 1 : INT64_MAX;
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

/* Reads the copies file back, one record at a time. */
struct verify_reader {
    FILE *f;
    struct verify_object o;
    char *store, *location;
    size_t cap_store, cap_location;
};

static int verify_read_field(FILE *f, char **buf, size_t *cap, uint32_t len)
{
    if (len > VERIFY_FIELD_MAX)
        return -1;
    if (*cap < (size_t)len + 1) {
        *cap = (size_t)len + 1;
        *buf = xrealloc(*buf, *cap);
    }
    if (len > 0 && fread(*buf, 1, len, f) != len)
        return -1;
    (*buf)[len] = '\0';
    return 0;
}

/* The next record: 0, or -1 at the end of the file (or a damaged one). */
static int verify_next_object(struct verify_reader *r)
{
    if (fread(&r->o, sizeof(r->o), 1, r->f) != 1)
        return -1;
    if (verify_read_field(r->f, &r->store, &r->cap_store, r->o.store_len) < 0 ||
        verify_read_field(r->f, &r->location, &r->cap_location, r->o.location_len) < 0)
        return -1;
    r->o.archive_id[sizeof(r->o.archive_id) - 1] = '\0';
    r->o.sha256[sizeof(r->o.sha256) - 1] = '\0';
    r->o.wrapped_sha256[sizeof(r->o.wrapped_sha256) - 1] = '\0';
    return 0;
}

static void verify_reader_free(struct verify_reader *r)
{
    free(r->store);
    free(r->location);
}

/* Re-read the copy r holds through st and compare it with the catalog:
 * the outcome, and what to say about it in detail. */
static enum verify_outcome verify_check_copy(struct store *st, const struct verify_reader *r,
                                             char *detail, size_t size)
{
    const struct verify_object *o = &r->o;
    struct archive_record rec;
    struct archive_read_result res;
    char why[1024];

    detail[0] = '\0';
    if (strcmp(r->store, st->name) != 0) {
        snprintf(detail, size, "stored in a %s store, but archive_store is a %s store: not re-read",
                 r->store, st->name);
        return VO_OTHER_STORE;
    }
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, o->archive_id, sizeof(rec.archive_id));
    rec.size = o->size;
    memcpy(rec.sha256, o->sha256, sizeof(rec.sha256));
    rec.wrapped_size = o->wrapped_size;
    memcpy(rec.wrapped_sha256, o->wrapped_sha256, sizeof(rec.wrapped_sha256));
    rec.store = r->store;
    rec.location = r->location;
    if (archive_read(st, &rec, ARCHIVE_EMIT_NONE, NULL, NULL, &res) < 0) {
        if (res.status == ARCHIVE_READ_MISSING) {
            snprintf(detail, size, "the stored copy %s:%s cannot be read: %s", r->store,
                     r->location, res.error);
            return VO_MISSING;
        }
        snprintf(detail, size, "reading %s:%s failed: %s", r->store, r->location,
                 res.status == ARCHIVE_READ_STORE_FAIL ? res.error : strerror(res.error_errno));
        return VO_ERROR;
    }
    if (archive_read_verdict(&rec, &res, 1, why, sizeof(why)) < 0) {
        snprintf(detail, size, "the stored copy differs: %s", why);
        return VO_ALTERED;
    }
    return VO_OK;
}

/* Count and print what re-reading one copy found, in copy order. */
static void verify_apply(struct verify_state *vs, enum verify_outcome outcome,
                         const char *archive_id, int64_t seq, const char *detail)
{
    if (outcome != VO_OTHER_STORE)
        vs->objects_read++;
    switch (outcome) {
    case VO_ALTERED:
        verify_report(vs, V_ALTERED, archive_id, seq, "%s", detail);
        break;
    case VO_MISSING:
        verify_report(vs, V_MISSING, archive_id, seq, "%s", detail);
        break;
    case VO_ERROR:
    case VO_OTHER_STORE:
        progress_clear(vs->progress);
        fprintf(stderr, "tabularium verify: %s: %s\n", archive_id, detail);
        vs->errors++;
        break;
    default:
        break;
    }
}

/* --jobs 1: every copy in this process. */
static int verify_objects_here(struct verify_state *vs, struct store *st)
{
    struct verify_reader r = {.f = vs->copies_file};
    char detail[VERIFY_DETAIL_MAX];
    int ret = 0;

    rewind(vs->copies_file);
    for (size_t k = 0; k < vs->n_objects; k++) {
        if (verify_next_object(&r) < 0) {
            fprintf(stderr, "tabularium verify: the scratch file of copies is damaged\n");
            ret = -1;
            break;
        }
        enum verify_outcome outcome = verify_check_copy(st, &r, detail, sizeof(detail));
        verify_apply(vs, outcome, r.o.archive_id, r.o.seq, detail);
        progress_update(vs->progress, k + 1);
    }
    verify_reader_free(&r);
    return ret;
}

/* --jobs N > 1: worker processes, forked before the catalog is opened
 * (a child must not share the parent's catalog connection, and a
 * PostgreSQL store shares the catalog's when their conninfo is the
 * same). Worker i re-reads copies i, i + N, i + 2N, ... with a store of
 * its own and answers in that order on its pipe; the parent reads the
 * answers round robin, so the findings come in copy order, as with one
 * process. */
struct verify_workers {
    int n;
    pid_t pid[VERIFY_JOBS_MAX];
    int cmd_fd[VERIFY_JOBS_MAX]; /* parent -> worker: the number of copies */
    int ans_fd[VERIFY_JOBS_MAX]; /* worker -> parent: struct verify_answer + detail */
};

static int verify_read_full(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int verify_answer(int fd, enum verify_outcome outcome, const struct verify_object *o,
                         const char *detail)
{
    struct verify_answer a;
    char buf[sizeof(a) + VERIFY_DETAIL_MAX];

    memset(&a, 0, sizeof(a));
    a.outcome = (int32_t)outcome;
    a.len = (uint32_t)strlen(detail);
    if (o != NULL) {
        a.seq = o->seq;
        memcpy(a.archive_id, o->archive_id, sizeof(a.archive_id));
    }
    memcpy(buf, &a, sizeof(a));
    memcpy(buf + sizeof(a), detail, a.len);
    return safe_write_all(fd, buf, sizeof(a) + a.len);
}

/* The worker process: never returns. */
static void verify_worker(struct cli_context *ctx, int index, int jobs, int cmd_fd, int ans_fd,
                          int copies_fd)
{
    struct verify_reader r;
    char detail[VERIFY_DETAIL_MAX], path[64];
    struct store *st;
    uint64_t count;
    int fd, saved = -1;

    if (verify_read_full(cmd_fd, &count, sizeof(count)) < 0 || count <= (uint64_t)index)
        _exit(0);
    /* Only the first worker says why the store does not open. */
    if (index > 0 && (saved = dup(STDERR_FILENO)) >= 0 &&
        (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
        (void)dup2(fd, STDERR_FILENO);
        (void)close(fd); /* /dev/null */
    }
    st = ctx->store(ctx);
    if (saved >= 0) {
        (void)dup2(saved, STDERR_FILENO);
        (void)close(saved); /* a duplicate of stderr */
    }
    if (st == NULL) {
        (void)verify_answer(ans_fd, VO_NO_STORE, NULL, "");
        _exit(0);
    }
    /* A file description of its own: the parent's offset is not ours. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", copies_fd);
    memset(&r, 0, sizeof(r));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || (r.f = fdopen(fd, "r")) == NULL)
        _exit(1);
    for (uint64_t k = 0; k < count; k++) {
        if (verify_next_object(&r) < 0)
            _exit(1);
        if (k % (uint64_t)jobs != (uint64_t)index)
            continue;
        enum verify_outcome outcome = verify_check_copy(st, &r, detail, sizeof(detail));
        if (verify_answer(ans_fd, outcome, &r.o, detail) < 0)
            _exit(1); /* the parent is gone */
    }
    _exit(0);
}

/* Fork up to jobs workers (fewer when fork fails: at least none, and
 * then the parent reads the copies itself). */
static void verify_workers_start(struct verify_workers *w, int jobs, struct cli_context *ctx,
                                 FILE *copies)
{
    w->n = 0;
    (void)fflush(stdout); /* a child must not write what the parent buffered */
    (void)fflush(stderr);
    for (int i = 0; i < jobs; i++) {
        int cmd[2], ans[2];
        pid_t pid;

        if (pipe2(cmd, O_CLOEXEC) < 0)
            break;
        if (pipe2(ans, O_CLOEXEC) < 0) {
            (void)close(cmd[0]); /* pipes: nothing to flush */
            (void)close(cmd[1]);
            break;
        }
        pid = fork();
        if (pid == 0) {
            /* The other workers' ends: a worker holding them would keep
             * its siblings from seeing the parent go. */
            for (int j = 0; j < w->n; j++) {
                (void)close(w->cmd_fd[j]);
                (void)close(w->ans_fd[j]);
            }
            (void)close(cmd[1]);
            (void)close(ans[0]);
            verify_worker(ctx, i, jobs, cmd[0], ans[1], fileno(copies));
        }
        (void)close(cmd[0]);
        (void)close(ans[1]);
        if (pid < 0) {
            (void)close(cmd[1]);
            (void)close(ans[0]);
            break;
        }
        w->pid[w->n] = pid;
        w->cmd_fd[w->n] = cmd[1];
        w->ans_fd[w->n] = ans[0];
        w->n++;
    }
}

/* Close the pipes (an idle worker exits, a busy one gets EPIPE) and
 * reap the workers. */
static void verify_workers_stop(struct verify_workers *w)
{
    for (int i = 0; i < w->n; i++) {
        (void)close(w->cmd_fd[i]);
        (void)close(w->ans_fd[i]);
    }
    for (int i = 0; i < w->n; i++)
        while (waitpid(w->pid[i], NULL, 0) < 0 && errno == EINTR)
            ;
    w->n = 0;
}

/* 0 done, -1 failed (printed): exit 2. */
static int verify_objects_workers(struct verify_state *vs, struct verify_workers *w)
{
    uint64_t count = vs->n_objects;
    char detail[VERIFY_DETAIL_MAX + 1];

    /* A worker that is gone is EPIPE here, not the end of verify. */
    void (*old_handler)(int) = signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < w->n; i++)
        if (safe_write_all(w->cmd_fd[i], &count, sizeof(count)) < 0) {
            fprintf(stderr, "tabularium verify: a reader process is gone: %s\n", strerror(errno));
            (void)signal(SIGPIPE, old_handler);
            return -1;
        }
    (void)signal(SIGPIPE, old_handler);
    for (uint64_t k = 0; k < count; k++) {
        struct verify_answer a;
        int fd = w->ans_fd[k % (uint64_t)w->n];

        if (verify_read_full(fd, &a, sizeof(a)) < 0 || a.len > VERIFY_DETAIL_MAX ||
            verify_read_full(fd, detail, a.len) < 0) {
            progress_clear(vs->progress);
            fprintf(stderr,
                    "tabularium verify: a reader process ended before its copies were read\n");
            return -1;
        }
        if (a.outcome == VO_NO_STORE)
            return -1; /* the worker said why */
        detail[a.len] = '\0';
        a.archive_id[sizeof(a.archive_id) - 1] = '\0';
        verify_apply(vs, (enum verify_outcome)a.outcome, a.archive_id, a.seq, detail);
        progress_update(vs->progress, k + 1);
    }
    return 0;
}

static void verify_state_free(struct verify_state *vs)
{
    size_t picked = vs->sample > 0 && vs->eligible < (size_t)vs->sample ? vs->eligible
                    : vs->sample > 0                                    ? (size_t)vs->sample
                                                                        : 0;

    for (size_t i = 0; i < picked && i < vs->cap_picks; i++) {
        free(vs->picks[i].store);
        free(vs->picks[i].location);
    }
    free(vs->picks);
    for (size_t i = 0; i < vs->n_failed; i++)
        catalog_chain_link_free(&vs->failed[i]);
    free(vs->failed);
    if (vs->v != NULL)
        (void)munmap(vs->v, vs->mapped);
    if (vs->links_file != NULL)
        (void)fclose(vs->links_file); /* unnamed scratch file */
    if (vs->copies_file != NULL)
        (void)fclose(vs->copies_file);
    progress_end(&vs->progress);
    cli_output_free(&vs->out);
}

/* --jobs N: 1 to VERIFY_JOBS_MAX into the int dest. */
static int verify_option_jobs(const char *cmd, const char *word, const char *value, void *dest)
{
    int *jobs = dest;
    char *end;
    long n;

    (void)word;
    errno = 0;
    n = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || errno != 0 || n < 1 || n > VERIFY_JOBS_MAX)
        return cli_usage_error(cmd, "--jobs \"%s\": expected a number from 1 to 64", value);
    *jobs = (int)n;
    return 0;
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
    struct verify_workers workers;
    struct chain_seal head;
    struct catalog *cat;
    struct store *st = NULL;
    const char *against = NULL, *error;
    long total, cpus;
    int operand, status;
    const struct cli_syntax syntax = {
        "verify", cli_verify_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_VALUE("since", cli_option_since, &vs.since),
                    CLI_OPTION_VALUE("sample", verify_option_sample, &vs.sample),
                    CLI_OPTION_VALUE("jobs", verify_option_jobs, &vs.jobs),
                    CLI_OPTION_STRING("against", &against), CLI_OPTION_FLAG("json", &vs.json))};

    memset(&vs, 0, sizeof(vs));
    workers.n = 0;
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    if (vs.jobs == 0) {
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        vs.jobs = cpus < 1                         ? 1
                  : cpus > VERIFY_JOBS_DEFAULT_MAX ? VERIFY_JOBS_DEFAULT_MAX
                                                   : (int)cpus;
    }
    vs.out = vs.json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if ((vs.links_file = verify_tmpfile()) == NULL || (vs.copies_file = verify_tmpfile()) == NULL) {
        fprintf(stderr, "tabularium verify: cannot create a scratch file in %s: %s\n",
                getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", strerror(errno));
        verify_state_free(&vs);
        return CLI_EXIT_USAGE;
    }
    if (vs.jobs > 1)
        verify_workers_start(&workers, vs.jobs, ctx, vs.copies_file);

    status = CLI_EXIT_USAGE;
    cat = cli_catalog_that(ctx, "verify", CATALOG_CAN_CHAIN_WALK, "keeps no chain");
    if (cat == NULL)
        goto out;
    srand48((long)time(NULL) ^ (long)getpid());
    /* The head before the walk gives the progress line its total (the
     * walk reads its own head in its snapshot; a few more may come). */
    struct chain_seal before;
    if (catalog_chain_head(cat, &before, &error) != TAB_OK || before.seq < 0)
        before.seq = 0;
    vs.progress = progress_new("verify", "links", (uint64_t)before.seq);
    /* The head is read in the walk's snapshot. */
    if (catalog_chain_walk(cat, &head, verify_walk_fn, &vs, &error) != TAB_OK) {
        progress_end(&vs.progress);
        fprintf(stderr, "tabularium verify: %s\n", error);
        goto out;
    }
    progress_end(&vs.progress);
    if (verify_walk_done(&vs) < 0)
        goto out;
    verify_chain(&vs, &head);
    if (against != NULL && verify_against(&vs, against) < 0)
        goto out;
    if (vs.n_objects > 0) {
        vs.progress = progress_new("verify", "copies", vs.n_objects);
        if (workers.n > 0) {
            if (verify_objects_workers(&vs, &workers) < 0)
                goto out;
        } else {
            st = ctx->store(ctx);
            if (st == NULL || verify_objects_here(&vs, st) < 0)
                goto out;
        }
        progress_end(&vs.progress);
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
out:
    verify_workers_stop(&workers);
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
