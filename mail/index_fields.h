/*
 * NAME
 *	index_fields 3h
 * SUMMARY
 *	catalog fields from the original's header and body, with GMime
 * DESCRIPTION
 *	The only module that uses GMime.
 *
 *	index_fields_extract() reads the header of the original (never more
 *	than INDEX_FIELDS_HEADER_MAX bytes) and fills
 *	rec->hdr_from/hdr_to/hdr_cc (at most INDEX_FIELDS_ADDRESSES_MAX
 *	each), date (UTC; NULL when not clearly a date), date_raw, subject
 *	(decoded to UTF-8), subject_raw, message_id, received_id (the queue
 *	id in the topmost Received: when Postfix wrote it), received_by (the
 *	by-host of that line, lower case) and loop_archive_id (our own
 *	X-Tabularium-Archive-Id, for the loop guard). Broken or missing
 *	headers are not errors: the field stays NULL (date) or empty
 *	(addresses). Time and stack are bounded by the header's size, never
 *	by its nesting.
 *
 *	index_fields_extract_body() reads the whole original once, in
 *	bounded memory whatever its size or MIME structure, and fills
 *	rec->body_text (the decoded text of the inline text/plain and
 *	text/html parts, tags stripped, white space collapsed, valid UTF-8,
 *	at most INDEX_FIELDS_TEXT_MAX bytes; NULL when there is none) and
 *	rec->attachments (at most INDEX_FIELDS_ATTACHMENTS_MAX). Broken MIME
 *	is not an error: what can be read is indexed.
 *
 *	index_fields_extract_body_attachments() does the same and, through
 *	the collector at (mail/attach_text.h), appends the text inside the
 *	message's attachments (PDF, OOXML, ODF, HTML, RTF) to rec->body_text,
 *	within the same INDEX_FIELDS_TEXT_MAX bytes. It forks a bounded child
 *	per attachment: the indexer's text source calls it, never a worker.
 * DIAGNOSTICS
 *	-1 only when the file cannot be read.
 */
#ifndef TAB_INDEX_FIELDS_H
#define TAB_INDEX_FIELDS_H

#include "backends/record.h"

#define INDEX_FIELDS_HEADER_MAX (1024 * 1024)
/* Addresses kept per field kind (From, To or Cc, all occurrences of the
 * field together). A 1 MB header holds about 250 000 addresses "a@b,";
 * the catalog keeps the first 10 000, more than any real list has. */
#define INDEX_FIELDS_ADDRESSES_MAX 10000
/* Bytes of body text indexed per message (the rest is not searchable). */
#define INDEX_FIELDS_TEXT_MAX (1024 * 1024)
/* Attachments recorded per message, and bytes of a recorded file name. */
#define INDEX_FIELDS_ATTACHMENTS_MAX 1000
#define INDEX_FIELDS_FILENAME_MAX 255

/* GMime setup/teardown; once per process. */
void index_fields_init(void);
void index_fields_deinit(void);

/* fd: the original, read with pread from offset 0. */
int index_fields_extract(int fd, struct archive_record *rec, const char **error_r);
/* fd: the original, read with pread from offset 0 to EOF. Replaces
 * rec->body_text and appends to rec->attachments. */
int index_fields_extract_body(int fd, struct archive_record *rec, const char **error_r);
/* The same, with the text of the attachments appended (at: the
 * collector of mail/attach_text.h; NULL is index_fields_extract_body()). */
struct attach_text;
int index_fields_extract_body_attachments(int fd, struct archive_record *rec,
                                          struct attach_text *at, const char **error_r);

#endif
