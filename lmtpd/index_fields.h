/*
 * NAME
 *	index_fields 3h
 * SUMMARY
 *	catalog fields from the original's header, with GMime
 * DESCRIPTION
 *	The only module that uses GMime. Reads the header of the original
 *	(never the body, never more than INDEX_FIELDS_HEADER_MAX bytes) and fills
 *	rec->hdr_from/hdr_to/hdr_cc, date (UTC), date_raw, subject (decoded
 *	to UTF-8), subject_raw, message_id, received_id (the queue id in the
 *	topmost Received: when Postfix wrote it) and loop_archive_id (our own
 *	X-Tabularium-Archive-Id, for the loop guard). Broken or missing headers are not
 *	errors: the field stays NULL (date) or empty (addresses).
 * DIAGNOSTICS
 *	-1 only when the file cannot be read.
 */
#ifndef TAB_INDEX_FIELDS_H
#define TAB_INDEX_FIELDS_H

#include "backends/record.h"

#define INDEX_FIELDS_HEADER_MAX (1024 * 1024)

/* GMime setup/teardown; once per process. */
void index_fields_init(void);
void index_fields_deinit(void);

/* fd: the original, read with pread from offset 0. */
int index_fields_extract(int fd, struct archive_record *rec, const char **error_r);

#endif
