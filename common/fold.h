/*
 * NAME
 *	fold 3h
 * SUMMARY
 *	the one word form that every catalog indexes and every query compares
 * SYNOPSIS
 *	#include "common/fold.h"
 *
 *	struct buf doc = BUF_INIT;
 *	fold_words("Réunion à la Straße, 東京都", (size_t)-1, &doc);
 *	=> "reunion a la strasse 東京 京都"
 * DESCRIPTION
 *	Both catalogs (SQLite FTS5, PostgreSQL tsvector) index the same
 *	folded words, and every query is folded the same way before it
 *	reaches either, so that a search finds the same messages on both
 *	(docs/search.md). The engines' own tokenizers then see only words of
 *	letters and digits separated by single spaces, which they split
 *	alike.
 *
 *	A word is a run of letters, digits and combining marks; anything
 *	else (punctuation, symbols, white space, bytes that are not UTF-8)
 *	separates words. Each word is folded: Unicode full case folding
 *	with compatibility decomposition (NFKD: "Straße" -> "strasse", "ﬁ"
 *	-> "fi", full-width "ＡＢＣ" -> "abc"), then combining marks removed
 *	("Réunion" -> "reunion"); what the decomposition turns into a
 *	separator ("½" -> "1⁄2") splits the word. Han, Hiragana, Katakana and
 *	Hangul are written without spaces between words: a run of them
 *	becomes its overlapping bigrams ("東京都" -> "東京 京都"; one such
 *	character alone stays a word), so a query of two or more of them
 *	finds them inside a sentence. Words longer than FOLD_WORD_MAX bytes
 *	(base64, hashes run together) are left out.
 * DIAGNOSTICS
 *	None: any input gives some output (possibly empty). Allocation
 *	failure aborts (common/strlist.h).
 */
#ifndef TAB_FOLD_H
#define TAB_FOLD_H

#include <stddef.h>

#include "common/buf.h"

/* Longest folded word kept, in bytes. */
#define FOLD_WORD_MAX 64

/* Appends the folded words of the UTF-8 text s (len bytes, or (size_t)-1
 * for a NUL-terminated string) to out, each preceded by a space when out
 * is not empty. out stays NUL-terminated. Returns the number of words. */
size_t fold_words(const char *s, size_t len, struct buf *out);

#endif
