/*
 * NAME
 *	pg_fts 3h
 * SUMMARY
 *	the folded words of backends/fts.h as PostgreSQL tsvector and tsquery text
 * SYNOPSIS
 *	#include "backends/postgres/pg_fts.h"
 *
 *	struct fts_doc doc;
 *	fts_doc_build(&doc, rec);
 *	char *text = pg_fts_text_vector(&doc);     -> $n::tsvector (messages.fts)
 *	char *addr = pg_fts_addr_vector(&doc);     -> $n::tsvector (messages.addr_fts)
 *	char *q = pg_fts_tsquery(&query, "A");     -> $n::tsquery
 * DESCRIPTION
 *	The PostgreSQL catalog indexes exactly the words that common/fold.h
 *	gives, as the SQLite catalog does: the tsvector is written here, in
 *	its text form, and cast by the server (no parser, no dictionary), so
 *	no word is split or changed on the way. PostgreSQL's own parser would
 *	not do: it reads "12e5x" as the float 12e5 and the word x.
 *
 *	Two vectors per message (docs/schema-pgsql.md): fts holds the
 *	subject (weight A) and the body text (weight B), which --text
 *	searches whatever the weight, so a GIN index answers a word without
 *	reading the rows; addr_fts holds the sender column (weight A) and the
 *	recipients column (weight B) for the words form of --from and --to.
 *	Positions count words within a column from 1; one position is left
 *	free between two columns, so a phrase never runs from one into the
 *	next (as in FTS5).
 *
 *	PostgreSQL's limits on a tsvector hold: a position is at most 16383,
 *	so positions go round again from 1 after that many words (a phrase
 *	deep into a long body is still found; two of its words from different
 *	rounds may make a phrase that is not there: more hits, never fewer), a
 *	word keeps its first 256 positions, and the vector stops taking new
 *	words before its 1 MB limit (PG_FTS_VECTOR_MAX): the rest of a huge
 *	body is not indexed, and the row is never refused for it.
 *
 *	A query is rendered from struct fts_query only: folded words (letters
 *	and digits), each quoted, with <-> & | ! and a weight suffix; the
 *	text goes to the server as one bind parameter.
 * DIAGNOSTICS
 *	None: allocation failure aborts.
 */
#ifndef TAB_PG_FTS_H
#define TAB_PG_FTS_H

#include "backends/fts.h"

/* The most bytes of lexemes and positions one vector takes (PostgreSQL
 * refuses 1 MB: "string is too long for tsvector"). */
#define PG_FTS_VECTOR_MAX (900 * 1024)

/* The longest reversed domain the catalog keeps (a domain name has at
 * most 253 bytes): a B-tree key must stay small. */
#define PG_RDOMAIN_MAX 255

/* address_rdomain(address) as the catalog stores and looks it up
 * (heap): UTF-8-clean (a header address may hold bytes that are not
 * UTF-8, cleaned as every text column), NULL when none or longer than
 * PG_RDOMAIN_MAX bytes. s: an address, or with is_key a reversed domain
 * already (address_match_parse()). */
char *pg_fts_rdomain(const char *s, int is_key);

/* messages.fts: subject (A) and body (B), as tsvector text (heap). */
char *pg_fts_text_vector(const struct fts_doc *doc);
/* messages.addr_fts: sender (A) and recipients (B), as tsvector text (heap). */
char *pg_fts_addr_vector(const struct fts_doc *doc);
/* q as tsquery text (heap); weights ("A", "B", ...) restrict every word,
 * NULL for none. */
char *pg_fts_tsquery(const struct fts_query *q, const char *weights);

#endif
