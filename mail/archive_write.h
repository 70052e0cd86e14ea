/*
 * NAME
 *	wrap 3h
 * SUMMARY
 *	the archive message (ARCHITECTURE.md section 3, the draft's Example 2)
 * DESCRIPTION
 *	archive_write() writes to out_fd:
 *	    From: <envelope sender>          (null sender: <MAILER-DAEMON>)
 *	    To: <rcpt>, ...                  (all envelope recipients; when the
 *	                                      envelope is incomplete, the header
 *	                                      To/Cc addresses stand in)
 *	    Date: / Subject: copied verbatim (arrival time when Date: is missing)
 *	    Message-ID: <archive id@myhostname>
 *	    X-Tabularium-Archive-Id / -Queue-Id / -Original-SHA256 / -Envelope
 *	    X-Tabularium-Envelope-From: <xtext>   (once)
 *	    X-Tabularium-Envelope-To: <xtext>     (once per recipient, in order)
 *	    MIME-Version, multipart/mixed with a boundary that does not occur in
 *	    the original, and the original as message/rfc822, byte for byte.
 *	The original is copied from orig_fd (offset 0, info->size bytes) and never
 *	altered. Sets rec->wrapped_size and rec->wrapped_sha256.
 *	Everything that comes from the envelope is checked so that it cannot
 *	start a new header line.
 *
 *	From:/To: are for people: an address that cannot fit a 998-byte line
 *	is left out of To: (From: becomes the empty group
 *	"envelope-sender-too-long:;"), local parts are re-quoted, recipients
 *	that differ only in case are listed once. The envelope itself is in
 *	X-Tabularium-Envelope-From/-To, exactly and whatever its length: the
 *	address between '<' and '>' in xtext (RFC 3461), every byte outside
 *	"!".."~" and each of + = < > " \ ( ) written as "+HH" (upper-case
 *	hex), folded (CRLF + space) every 78 bytes or less but never inside a
 *	"+HH". The value contains no white space of its own, so a reader
 *	unfolds, deletes all white space and decodes the "+HH": that gives
 *	the address byte for byte (null sender: "<>"). The recipients are the
 *	catalog's (the decoded original recipient, or the RCPT as received
 *	when it was not encoded: see X-Tabularium-Envelope). Messages archived
 *	before these fields existed do not have them.
 *
 *	archive_read_envelope() is that reader.
 * DIAGNOSTICS
 *	-1 with *error_r on I/O errors.
 */
#ifndef TAB_ARCHIVE_WRITE_H
#define TAB_ARCHIVE_WRITE_H

#include <stdint.h>

#include "backends/record.h"
#include "common/strlist.h"

/* What the writer needs to know about the original's bytes to choose a
 * Content-Transfer-Encoding (the LMTP DATA reader notes it as it spools). */
struct original_info {
    uint64_t size;         /* bytes after dot-unstuffing */
    uint64_t max_line;     /* longest line, without its line ending */
    int has_8bit;          /* any byte >= 0x80 */
    int has_nul;           /* any NUL byte */
    int has_bare_cr_lf;    /* a LF not preceded by CR, or a CR not followed by LF */
    int ends_with_newline; /* last byte is LF */
};

/* myhostname: right-hand side of the new Message-ID. out_fd must be empty
 * and positioned at 0 (it may be truncated and rewritten if the first
 * boundary turned out to occur in the original). */
int archive_write(struct archive_record *rec, const struct original_info *info, int orig_fd,
                  int out_fd, const char *myhostname, const char **error_r);

#define ARCHIVE_ENVELOPE_FROM "X-Tabularium-Envelope-From"
#define ARCHIVE_ENVELOPE_TO "X-Tabularium-Envelope-To"

/* The envelope recorded in an archive message's header (msg: len bytes,
 * at least the header; reading stops at the empty line). *from_r: heap
 * ("" for the null sender); recipients are appended to rcpts_r in order.
 * -1 with *error_r (static) when the fields are missing or malformed;
 * nothing is then returned. */
int archive_read_envelope(const char *msg, size_t len, char **from_r, struct strlist *rcpts_r,
                          const char **error_r);

#endif
