/*
 * NAME
 *	fts 3
 * SUMMARY
 *	the folded document of a message, the parsed query, address matches
 * SYNOPSIS
 *	#include "backends/fts.h"
 * DESCRIPTION
 *	Implements fts.h for both catalog drivers: they render what this
 *	returns (FTS5 strings and column filters; PostgreSQL tsquery text
 *	with weights), and never parse user text themselves.
 * DIAGNOSTICS
 *	See fts.h. Allocation failure aborts (common/strlist.h).
 */
#include "backends/fts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fold.h"
#include "common/strlist.h"

const char *const fts_column_names[FTS_COLUMNS] = {"subject", "body", "sender", "recipients"};

static void fts_fold(struct buf *b, const char *s)
{
    if (s != NULL)
        fold_words(s, (size_t)-1, b);
}

static void fts_fold_addrs(struct buf *b, const struct record_addrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        fts_fold(b, a->v[i].name);
        fts_fold(b, a->v[i].address);
    }
}

void fts_doc_build(struct fts_doc *doc, const struct archive_record *rec)
{
    for (int i = 0; i < FTS_COLUMNS; i++) {
        doc->col[i] = (struct buf)BUF_INIT;
        buf_add(&doc->col[i], "", 0); /* "" rather than NULL */
    }
    fts_fold(&doc->col[FTS_SUBJECT], rec->subject);
    fts_fold(&doc->col[FTS_BODY], rec->body_text);
    fts_fold(&doc->col[FTS_SENDER], rec->envelope_from);
    fts_fold_addrs(&doc->col[FTS_SENDER], &rec->hdr_from);
    for (size_t i = 0; i < rec->n_rcpts; i++)
        fts_fold(&doc->col[FTS_RECIPIENTS], rec->rcpts[i].address);
    fts_fold_addrs(&doc->col[FTS_RECIPIENTS], &rec->hdr_to);
    fts_fold_addrs(&doc->col[FTS_RECIPIENTS], &rec->hdr_cc);
}

void fts_doc_free(struct fts_doc *doc)
{
    for (int i = 0; i < FTS_COLUMNS; i++)
        buf_free(&doc->col[i]);
}

/* Query separators: white space, and '<' '>' (PostgreSQL's parser would
 * take "<word>" for a tag; both drivers read them as spaces). */
#define FTS_SPACE " \t\r\n\f\v<>"

static int fts_is_space(char c)
{
    return c != '\0' && strchr(FTS_SPACE, c) != NULL;
}

/* The folded term s (len bytes) into t; 0 when it folds to nothing
 * ("*", "--", "..."): nothing to look for. */
static int fts_term_make(struct fts_term *t, const char *s, size_t len, int negated)
{
    struct buf b = BUF_INIT;

    t->words = fold_words(s, len, &b);
    t->phrase = b.data; /* the buffer's memory, NUL-terminated */
    t->negated = negated;
    if (t->words == 0) {
        buf_free(&b);
        t->phrase = NULL;
    }
    return t->words > 0;
}

static void fts_clause_add(struct fts_clause *c, const struct fts_term *t)
{
    c->terms = xrealloc(c->terms, (c->n + 1) * sizeof(*c->terms));
    c->terms[c->n++] = *t;
    if (!t->negated)
        c->positive++;
}

static void fts_clause_free(struct fts_clause *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->terms[i].phrase);
    free(c->terms);
    memset(c, 0, sizeof(*c));
}

static void fts_query_add(struct fts_query *q, struct fts_clause *c)
{
    q->clauses = xrealloc(q->clauses, (q->n + 1) * sizeof(*q->clauses));
    q->clauses[q->n++] = *c;
    memset(c, 0, sizeof(*c));
}

/* Whether a term follows p (for "or" to be the operator). */
static int fts_term_follows(const char *p)
{
    while (fts_is_space(*p))
        p++;
    return *p != '\0';
}

/* The parse so far: the open clause and the one clause of negations only
 * that may stand alone. */
struct fts_parse {
    struct fts_query *q;
    struct fts_clause open, only_neg;
    int neg_clauses;
};

static void fts_parse_close(struct fts_parse *ps)
{
    if (ps->open.positive > 0) {
        fts_query_add(ps->q, &ps->open);
    } else if (ps->open.n > 0) {
        if (++ps->neg_clauses == 1)
            ps->only_neg = ps->open;
        else
            fts_clause_free(&ps->open);
        memset(&ps->open, 0, sizeof(ps->open));
    }
}

int fts_query_parse(const char *text, struct fts_query *q)
{
    struct fts_parse ps = {q, {NULL, 0, 0}, {NULL, 0, 0}, 0};
    const char *p = text != NULL ? text : "";
    int pending_or = 0;

    memset(q, 0, sizeof(*q));
    while (*p != '\0') {
        struct fts_term t;
        const char *start;
        size_t len;
        int negated = 0;

        if (fts_is_space(*p)) {
            p++;
            continue;
        }
        if (*p == '-') { /* "-word" and "- word" both exclude the word */
            negated = 1;
            p++;
            while (fts_is_space(*p))
                p++;
            if (*p == '\0')
                break;
        }
        if (*p == '"') {
            start = ++p;
            while (*p != '\0' && *p != '"')
                p++;
            len = (size_t)(p - start);
            if (*p == '"')
                p++;
        } else {
            start = p;
            while (*p != '\0' && *p != '"' && !fts_is_space(*p))
                p++;
            len = (size_t)(p - start);
            /* "or" (any case) between two terms is the operator, else a word */
            if (!negated && !pending_or && len == 2 && strncasecmp(start, "or", 2) == 0 &&
                ps.open.n > 0 && fts_term_follows(p)) {
                pending_or = 1;
                continue;
            }
        }
        if (!fts_term_make(&t, start, len, negated))
            continue;
        if (pending_or) {
            fts_parse_close(&ps);
            pending_or = 0;
        }
        fts_clause_add(&ps.open, &t);
    }
    fts_parse_close(&ps);
    /* negations alone ("-word": everything without it) only as the whole query */
    if (q->n == 0 && ps.neg_clauses == 1)
        fts_query_add(q, &ps.only_neg);
    else
        fts_clause_free(&ps.only_neg);
    return q->n > 0 ? 0 : -1;
}

int fts_query_phrase(const char *words, struct fts_query *q)
{
    struct fts_clause c = {NULL, 0, 0};
    struct fts_term t;

    memset(q, 0, sizeof(*q));
    if (words == NULL || !fts_term_make(&t, words, strlen(words), 0))
        return -1;
    fts_clause_add(&c, &t);
    fts_query_add(q, &c);
    return 0;
}

void fts_query_free(struct fts_query *q)
{
    for (size_t i = 0; i < q->n; i++)
        fts_clause_free(&q->clauses[i]);
    free(q->clauses);
    memset(q, 0, sizeof(*q));
}

static char *fts_ascii_lower(const char *s, size_t n)
{
    char *out = xstrndup(s, n);

    for (char *p = out; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

static void fts_reverse(char *s, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}

/* The lower-case domain d (n bytes) reversed by characters (a UTF-8
 * sequence stays in order: an internationalised domain stays valid
 * UTF-8, which PostgreSQL requires), without one trailing dot. */
static char *fts_rdomain(const char *d, size_t n)
{
    char *r;

    if (n > 0 && d[n - 1] == '.')
        n--;
    if (n == 0)
        return NULL;
    r = fts_ascii_lower(d, n);
    fts_reverse(r, n);
    /* each sequence now reads continuation bytes first, lead byte last */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ((unsigned char)r[j] & 0xC0) == 0x80)
            j++;
        if (j > i && j < n && ((unsigned char)r[j] & 0xC0) == 0xC0) {
            fts_reverse(r + i, j - i + 1);
            i = j + 1;
        } else {
            i = j > i ? j : i + 1;
        }
    }
    return r;
}

char *address_rdomain(const char *address)
{
    const char *at = address != NULL ? strrchr(address, '@') : NULL;

    return at != NULL ? fts_rdomain(at + 1, strlen(at + 1)) : NULL;
}

int address_match_parse(const char *value, struct address_match *m)
{
    size_t n = value != NULL ? strlen(value) : 0;

    memset(m, 0, sizeof(*m));
    while (n > 0 && fts_is_space(*value)) {
        value++;
        n--;
    }
    while (n > 0 && fts_is_space(value[n - 1]))
        n--;
    if (n >= 2 && value[0] == '<' && value[n - 1] == '>') { /* <bob@corp.example> */
        value++;
        n -= 2;
    }
    if (n == 0)
        return -1;
    if (memchr(value, '*', n) != NULL) {
        m->kind = ADDRESS_WILDCARD;
        m->key = fts_ascii_lower(value, n);
    } else if (value[0] == '@') {
        m->kind = ADDRESS_DOMAIN;
        m->key = fts_rdomain(value + 1, n - 1);
    } else if (memchr(value, '@', n) != NULL) {
        m->kind = ADDRESS_EXACT;
        m->key = fts_ascii_lower(value, n);
    } else {
        char *words = xstrndup(value, n);
        int r = fts_query_phrase(words, &m->words);
        free(words);
        m->kind = ADDRESS_WORDS;
        return r;
    }
    return m->key != NULL ? 0 : -1;
}

void address_match_free(struct address_match *m)
{
    free(m->key);
    fts_query_free(&m->words);
    memset(m, 0, sizeof(*m));
}
