/*
 * NAME
 *	fts 3h
 * SUMMARY
 *	what both catalogs index for a message and how they read a query
 * SYNOPSIS
 *	#include "backends/fts.h"
 *
 *	struct fts_doc doc;
 *	fts_doc_build(&doc, rec);          index doc.col[FTS_SUBJECT] ...
 *	fts_doc_free(&doc);
 *
 *	struct fts_query q;
 *	if (fts_query_parse(text, &q) == 0) render q.clauses ...
 *	fts_query_free(&q);
 *
 *	struct address_match m;
 *	address_match_parse("@Corp.Example", &m);   m.kind == ADDRESS_DOMAIN
 * DESCRIPTION
 *	The search semantics both catalog drivers share (docs/search.md), so
 *	that a query finds the same messages on SQLite and on PostgreSQL:
 *
 *	The document. A message is indexed under four columns of folded
 *	words (common/fold.h): its subject; its body text (and the text of
 *	its attachments, when the indexer extracted it); its sender (the
 *	envelope sender and the From names and addresses); its recipients
 *	(the envelope recipients, Bcc included, and the To and Cc names and
 *	addresses). An address contributes its parts ("alice.liddell",
 *	"example", "com" fold to four words), so a word of a name or of an
 *	address finds it.
 *
 *	The query. --text is read as websearch syntax (as PostgreSQL's
 *	websearch_to_tsquery): clauses separated by OR (any case, between
 *	two terms), each clause a conjunction of terms, a term a word or a
 *	"quoted phrase", negated by a leading '-'. Every term is folded into
 *	a phrase of one or more words (a word with punctuation, like
 *	INV-2026-004711, becomes the phrase "inv 2026 004711"; a CJK word
 *	its bigrams). A term that folds to nothing is dropped. Nothing the
 *	user types is engine syntax: drivers render only folded words, which
 *	hold letters and digits only.
 *
 *	Addresses. A --from or --to value is, by its form: an address
 *	("bob@corp.example": exact, ASCII case ignored, through an index); a
 *	domain ("@corp.example": that domain and its subdomains, through an
 *	index on the reversed domain); a wildcard (any '*': a glob over the
 *	addresses, case ignored, a scan: only when asked for); or words
 *	("Zoë Müller", "liddell": a phrase of the sender or recipients
 *	column).
 * DIAGNOSTICS
 *	fts_query_parse() returns -1 when the text has no term at all (an
 *	empty or blank --text is a usage error, not "no match"). Allocation
 *	failure aborts.
 */
#ifndef TAB_FTS_H
#define TAB_FTS_H

#include <stddef.h>

#include "backends/record.h"
#include "common/buf.h"

enum fts_column { FTS_SUBJECT, FTS_BODY, FTS_SENDER, FTS_RECIPIENTS, FTS_COLUMNS };

/* Column names as both drivers' schemas spell them. */
extern const char *const fts_column_names[FTS_COLUMNS];

struct fts_doc {
    struct buf col[FTS_COLUMNS]; /* folded words, NUL-terminated, "" when none */
};

/* The folded columns of rec (its body_text may be NULL: an empty body). */
void fts_doc_build(struct fts_doc *doc, const struct archive_record *rec);
void fts_doc_free(struct fts_doc *doc);

/* One term: a phrase of folded words ("w1 w2"), negated or not. */
struct fts_term {
    char *phrase; /* folded words separated by single spaces; never empty */
    size_t words;
    int negated;
};

/* Terms that must all hold (negated ones must not). */
struct fts_clause {
    struct fts_term *terms;
    size_t n;
    size_t positive; /* how many terms are not negated */
};

/* Clauses of which one must hold. */
struct fts_query {
    struct fts_clause *clauses;
    size_t n;
};

/* Parse websearch text; -1 when it holds no term (q is then empty). A
 * clause with no positive term can stand only alone ("-word": everything
 * without it); next to others it is dropped, as PostgreSQL does. */
int fts_query_parse(const char *text, struct fts_query *q);
/* The phrase for words that must appear in order (--subject, or the
 * words form of --from/--to): one clause of one term; -1 when nothing
 * is left after folding. */
int fts_query_phrase(const char *words, struct fts_query *q);
void fts_query_free(struct fts_query *q);

enum address_match_kind {
    ADDRESS_EXACT,    /* key: the address, lower case (ASCII) */
    ADDRESS_DOMAIN,   /* key: the reversed domain, lower case: "elpmaxe.proc" */
    ADDRESS_WILDCARD, /* key: the pattern, lower case; '*' any run, nothing else special */
    ADDRESS_WORDS,    /* phrase: the folded words */
};

struct address_match {
    enum address_match_kind kind;
    char *key;              /* EXACT, DOMAIN, WILDCARD */
    struct fts_query words; /* WORDS */
};

/* -1 when value is empty or folds to nothing (a usage error). */
int address_match_parse(const char *value, struct address_match *m);
void address_match_free(struct address_match *m);

/* The reversed lower-case domain of address (after its last '@'), into a
 * heap string: what an index answers "this domain and its subdomains"
 * with a range ("elpmaxe.proc" and "elpmaxe.proc.*"). NULL when the
 * address has no '@' or an empty domain. */
char *address_rdomain(const char *address);

#endif
