/*
 * NAME
 *	utf8 3h
 * SUMMARY
 *	the one UTF-8 validator (RFC 3629)
 * DESCRIPTION
 *	utf8_seq() gives the length (1..4) of the valid UTF-8 sequence at s
 *	(len bytes available), or 0 when s does not start one: an overlong
 *	form, a surrogate, a code point above U+10FFFF, a stray continuation
 *	byte or a sequence cut short. Then *bad_r (when not NULL) is the
 *	length of the maximal subpart to replace with one U+FFFD (at least 1,
 *	as Unicode's "U+FFFD substitution of maximal subparts" asks). Used by
 *	the JSON printer and reader of the CLI and by the PostgreSQL driver,
 *	which must not send PostgreSQL what it refuses.
 */
#ifndef TAB_UTF8_H
#define TAB_UTF8_H

#include <stddef.h>

size_t utf8_seq(const unsigned char *s, size_t len, size_t *bad_r);

#endif
