/*
 * NAME
 *	record_wire 3h
 * SUMMARY
 *	binary encoding of struct archive_record between processes
 * DESCRIPTION
 *	Workers hand catalog records to the catalog writer over a unix
 *	socket in this encoding. It is a private format between processes
 *	of the same build: no negotiation, only a leading version byte that
 *	makes a mismatch fail loudly instead of mis-decoding.
 *
 *	Primitives: u8; u32 and u64 big-endian; a string is a u32 length
 *	followed by that many bytes (no NUL), or the u32 0xFFFFFFFF alone
 *	for a NULL pointer. A time_t travels as a signed 64-bit integer
 *	(two's complement in the u64).
 *
 *	A record, in this order:
 *	  u8   RECORD_WIRE_VERSION
 *	  str  archive_id (never NULL; archive_id_valid())
 *	  str  envelope_status ("complete", "incomplete", "imported" or NULL)
 *	  str  index_status ("full", "degraded" or NULL)
 *	  str  the RECORD_N_TEXT text fields, in the order of
 *	       record_text_fields[] (record.h): queue_id, envelope_from,
 *	       mail_params, xforward, store, location, index_note, date,
 *	       date_raw, subject, subject_raw, message_id, received_id,
 *	       received_by, loop_archive_id, body_text
 *	  u32  n_rcpts, then per recipient:
 *	       str address, archive_rcpt, orcpt, notify
 *	  hdr_from, hdr_to, hdr_cc, each: u32 n, then per address:
 *	       str name, address
 *	  u8   index_later (0 or 1)
 *	  u32  n_attachments, then per attachment:
 *	       str filename, content_type
 *	  u64  arrival, retain_until (signed)
 *	  u64  size
 *	  str  sha256 ("" or 64 lower-case hex digits, never NULL)
 *	  u64  wrapped_size
 *	  str  wrapped_sha256 (as sha256)
 *
 *	The encoder writes whatever the record holds; the decoder is the
 *	gate: it treats its input as hostile (a confused or compromised
 *	worker) and refuses anything that the rest of the program could
 *	not safely use, before allocating more than the input can justify.
 * DIAGNOSTICS
 *	Getters and record_wire_decode() set r->bad and return 0 / NULL /
 *	-1; there is no error text (the caller knows what it was reading).
 *	Allocation failure aborts (common/strlist.h), as does encoding a
 *	string or count that does not fit in a u32 (a programmer error).
 */
#ifndef TAB_RECORD_WIRE_H
#define TAB_RECORD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#include "backends/record.h"

#define RECORD_WIRE_VERSION 4
/* Longest string the decoder accepts. */
#define WIRE_STR_MAX (64u * 1024 * 1024)
/* Most recipients, header addresses (per header) or attachments. */
#define WIRE_COUNT_MAX 100000u

/* The writer appends to a common/buf.h buffer ({0} or BUF_INIT; buf_reset()
 * empties it and keeps the memory, buf_free() releases it). */
void wire_put_u8(struct buf *b, uint8_t v);
void wire_put_u32(struct buf *b, uint32_t v); /* big-endian */
void wire_put_u64(struct buf *b, uint64_t v); /* big-endian */
/* NULL allowed: u32 0xFFFFFFFF; else u32 length + bytes (no NUL). */
void wire_put_str(struct buf *b, const char *s);

/* Reading: every getter returns 0 / NULL and sets r->bad once the input is
 * short or invalid; later getters keep returning 0 / NULL. */
struct wire_reader {
    const unsigned char *p;
    size_t left;
    int bad;
};

/* A reader over what a writer appended. */
static inline struct wire_reader wire_reader_of(const struct buf *b)
{
    return (struct wire_reader){(const unsigned char *)b->data, b->len, 0};
}

uint8_t wire_get_u8(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
uint64_t wire_get_u64(struct wire_reader *r);
/* Heap copy (NUL-terminated) or NULL for an encoded NULL; sets bad for a
 * short input, a length over WIRE_STR_MAX or an embedded NUL byte.
 * *is_null_r (may be NULL) tells an encoded NULL (1) from a failure (0). */
char *wire_get_str(struct wire_reader *r, int *is_null_r);

/* Every field of rec, in the order above. */
void record_wire_encode(struct buf *b, const struct archive_record *rec);
/* Fills *rec (which must be zeroed by the caller); 0, or -1 with r->bad set
 * and everything allocated so far freed (record_free) and *rec zeroed again.
 * Rejects: short input, a wrong version byte, counts over WIRE_COUNT_MAX,
 * an archive id that archive_id_valid() refuses, an envelope_status other
 * than "complete" / "incomplete" / NULL (decoded to the static
 * ENVELOPE_COMPLETE / ENVELOPE_INCOMPLETE pointers), an index_status
 * other than "full" / "degraded" / NULL (decoded to INDEX_FULL /
 * INDEX_DEGRADED), sha256 /
 * wrapped_sha256 that are not "" or 64 lower-case hex digits, a time that
 * does not fit time_t. On success r points just past the record, so
 * records sent back to back decode one after the other. */
int record_wire_decode(struct wire_reader *r, struct archive_record *rec);

#endif
