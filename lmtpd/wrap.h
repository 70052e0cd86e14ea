/*
 * NAME
 *	wrap 3h
 * SUMMARY
 *	the archive message (ARCHITECTURE.md section 3, the draft's Example 2)
 * DESCRIPTION
 *	wrap_write() writes to out_fd:
 *	    From: <envelope sender>          (null sender: <MAILER-DAEMON>)
 *	    To: <rcpt>, ...                  (all envelope recipients; when the
 *	                                      envelope is incomplete, the header
 *	                                      To/Cc addresses stand in)
 *	    Date: / Subject: copied verbatim (arrival time when Date: is missing)
 *	    Message-ID: <archive id@myhostname>
 *	    X-Tabularium-Archive-Id / -Queue-Id / -Original-SHA256 / -Envelope
 *	    MIME-Version, multipart/mixed with a boundary that does not occur in
 *	    the original, and the original as message/rfc822, byte for byte.
 *	The original is copied from orig_fd (offset 0, info->size bytes) and never
 *	altered. Sets rec->wrapped_size and rec->wrapped_sha256.
 *	Everything that comes from the envelope is checked so that it cannot
 *	start a new header line.
 * DIAGNOSTICS
 *	-1 with *error_r on I/O errors.
 */
#ifndef TAB_WRAP_H
#define TAB_WRAP_H

#include "backends/record.h"
#include "lmtpd/spool.h"

/* myhostname: right-hand side of the new Message-ID. out_fd must be empty
 * and positioned at 0 (it may be truncated and rewritten if the first
 * boundary turned out to occur in the original). */
int wrap_write(struct archive_record *rec, const struct spool_info *info, int orig_fd, int out_fd,
               const char *myhostname, const char **error_r);

#endif
