/*
 * NAME
 *	pg_fts 3
 * SUMMARY
 *	tsvector and tsquery text from the folded words of backends/fts.h
 * SYNOPSIS
 *	#include "backends/postgres/pg_fts.h"
 * DESCRIPTION
 *	Implements pg_fts.h: a vector is built in one pass over its columns'
 *	words with a hash table of the distinct words and their positions,
 *	and written as "'word':1A,7B 'other':2A"; a query as "('w1' <->
 *	'w2') & !'w3':A | ...". Words hold letters and digits only, yet a
 *	quote or backslash would be escaped all the same.
 * DIAGNOSTICS
 *	None: allocation failure aborts.
 */
#include "backends/postgres/pg_fts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pg_conn.h"
#include "common/buf.h"
#include "common/strlist.h"

/* PostgreSQL's limits: MAXENTRYPOS - 1, MAXNUMPOS. */
#define PG_FTS_POS_MAX 16383
#define PG_FTS_NPOS_MAX 256

struct pg_lexeme {
    const char *word;
    size_t len;
    uint16_t *pos; /* position | weight letter's index << 14 */
    size_t n, cap;
};

struct pg_vector {
    struct pg_lexeme *lex;
    size_t n, cap;
    size_t *slot; /* open addressing: lexeme index + 1, 0 free */
    size_t slots;
    size_t bytes; /* the tsvector's data so far, as PostgreSQL lays it out */
    int full;
    int wrapped; /* positions went round (see pg_fts.h) */
};

static size_t pg_fts_hash(const char *w, size_t len)
{
    size_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 16777619u;
    return h;
}

static void pg_vector_grow(struct pg_vector *v)
{
    size_t slots = v->slots ? v->slots * 2 : 1024;
    size_t *slot = xcalloc(slots, sizeof(*slot));

    for (size_t i = 0; i < v->n; i++) {
        size_t h = pg_fts_hash(v->lex[i].word, v->lex[i].len) & (slots - 1);
        while (slot[h] != 0)
            h = (h + 1) & (slots - 1);
        slot[h] = i + 1;
    }
    free(v->slot);
    v->slot = slot;
    v->slots = slots;
}

/* Word w (len bytes) at position pos with weight index weight (3 = A). */
static void pg_vector_add(struct pg_vector *v, const char *w, size_t len, unsigned pos,
                          unsigned weight)
{
    struct pg_lexeme *l;
    size_t h;

    if (v->full)
        return;
    if (v->n * 2 >= v->slots)
        pg_vector_grow(v);
    h = pg_fts_hash(w, len) & (v->slots - 1);
    while (v->slot[h] != 0) {
        l = &v->lex[v->slot[h] - 1];
        if (l->len == len && memcmp(l->word, w, len) == 0)
            break;
        h = (h + 1) & (v->slots - 1);
    }
    if (v->slot[h] == 0) {
        /* WordEntry, the lexeme, alignment, the count, one position */
        size_t cost = 4 + len + 1 + 2 + 2;
        if (v->bytes + cost > PG_FTS_VECTOR_MAX) {
            v->full = 1;
            return;
        }
        v->bytes += cost;
        if (v->n == v->cap) {
            v->cap = v->cap ? v->cap * 2 : 64;
            v->lex = xrealloc(v->lex, v->cap * sizeof(*v->lex));
        }
        l = &v->lex[v->n];
        memset(l, 0, sizeof(*l));
        l->word = w;
        l->len = len;
        v->slot[h] = ++v->n;
    } else {
        l = &v->lex[v->slot[h] - 1];
        if (l->n >= PG_FTS_NPOS_MAX)
            return; /* PostgreSQL keeps no more */
        for (size_t i = v->wrapped ? 0 : l->n - 1; i < l->n; i++)
            if ((l->pos[i] & 0x3FFF) == pos)
                return; /* the same position, a round of 16,383 words before */
        if (v->bytes + 2 > PG_FTS_VECTOR_MAX) {
            v->full = 1;
            return;
        }
        v->bytes += 2;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->pos = xrealloc(l->pos, l->cap * sizeof(*l->pos));
    }
    l->pos[l->n++] = (uint16_t)(pos | weight << 14);
}

/* The words of one column (folded: single spaces), from position *next on;
 * *next is left one past a free position after the last word. */
static void pg_vector_column(struct pg_vector *v, const char *words, unsigned weight,
                             unsigned *next)
{
    const char *p = words;
    unsigned pos = *next;
    int any = 0;

    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (len > 0) {
            pg_vector_add(v, p, len, pos, weight);
            any = 1;
            pos = pos < PG_FTS_POS_MAX ? pos + 1 : (v->wrapped = 1);
        }
        p += len;
        if (*p == ' ')
            p++;
    }
    if (any)
        pos = pos < PG_FTS_POS_MAX ? pos + 1 : (v->wrapped = 1); /* one free position */
    *next = pos;
}

/* A word quoted for tsvector and tsquery text. */
static void pg_fts_quote(struct buf *out, const char *w, size_t len)
{
    buf_add(out, "'", 1);
    for (size_t i = 0; i < len; i++) {
        if (w[i] == '\'')
            buf_add(out, "'", 1);
        else if (w[i] == '\\')
            buf_add(out, "\\", 1);
        buf_add(out, &w[i], 1);
    }
    buf_add(out, "'", 1);
}

static char *pg_vector_text(const char *first, const char *second)
{
    static const char letters[] = "DCBA";
    struct pg_vector v;
    struct buf out = BUF_INIT;
    unsigned next = 1;

    memset(&v, 0, sizeof(v));
    pg_vector_column(&v, first, 3, &next);
    pg_vector_column(&v, second, 2, &next);
    buf_add(&out, "", 0);
    for (size_t i = 0; i < v.n; i++) {
        struct pg_lexeme *l = &v.lex[i];
        char num[16];

        if (i > 0)
            buf_add(&out, " ", 1);
        pg_fts_quote(&out, l->word, l->len);
        for (size_t j = 0; j < l->n; j++) {
            int len = snprintf(num, sizeof(num), "%c%u%c", j == 0 ? ':' : ',', l->pos[j] & 0x3FFFu,
                               letters[l->pos[j] >> 14]);
            buf_add(&out, num, (size_t)len);
        }
        free(l->pos);
    }
    free(v.lex);
    free(v.slot);
    return out.data;
}

char *pg_fts_text_vector(const struct fts_doc *doc)
{
    return pg_vector_text(doc->col[FTS_SUBJECT].data, doc->col[FTS_BODY].data);
}

char *pg_fts_addr_vector(const struct fts_doc *doc)
{
    return pg_vector_text(doc->col[FTS_SENDER].data, doc->col[FTS_RECIPIENTS].data);
}

static void pg_fts_term(struct buf *out, const struct fts_term *t, const char *weights)
{
    const char *p = t->phrase;

    if (t->negated)
        buf_add(out, "!", 1);
    if (t->words > 1)
        buf_add(out, "(", 1);
    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (p != t->phrase)
            buf_add(out, " <-> ", 5);
        pg_fts_quote(out, p, len);
        if (weights != NULL && *weights != '\0') {
            buf_add(out, ":", 1);
            buf_add_str(out, weights);
        }
        p += len;
        while (*p == ' ')
            p++;
    }
    if (t->words > 1)
        buf_add(out, ")", 1);
}

char *pg_fts_tsquery(const struct fts_query *q, const char *weights)
{
    struct buf out = BUF_INIT;

    buf_add(&out, "", 0);
    for (size_t i = 0; i < q->n; i++) {
        const struct fts_clause *c = &q->clauses[i];

        if (i > 0)
            buf_add(&out, " | ", 3);
        buf_add(&out, "(", 1);
        for (size_t j = 0; j < c->n; j++) {
            if (j > 0)
                buf_add(&out, " & ", 3);
            pg_fts_term(&out, &c->terms[j], weights);
        }
        buf_add(&out, ")", 1);
    }
    return out.data;
}

char *pg_fts_rdomain(const char *s, int is_key)
{
    char *r = is_key ? (s != NULL ? xstrdup(s) : NULL) : address_rdomain(s);
    char *clean;

    if (r == NULL || strlen(r) > PG_RDOMAIN_MAX) {
        free(r);
        return NULL;
    }
    clean = pg_conn_utf8(r, 0);
    free(r);
    return clean;
}
