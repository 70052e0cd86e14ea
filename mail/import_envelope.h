/*
 * NAME
 *	import_envelope 3h
 * SUMMARY
 *	the envelope of a message that had none: reconstructed from its header
 * DESCRIPTION
 *	Historical mail brought in by tabularium import has no SMTP envelope.
 *	import_envelope_read() reads the header of the original at fd (from
 *	offset 0, at most INDEX_FIELDS_HEADER_MAX bytes) and gives:
 *	    the sender: Return-Path (its address; "<>" the null sender),
 *	      else fallback_sender (an mbox From_ line's), else the first
 *	      address of From:, else "";
 *	    the recipients, in the order met, each once (case ignored):
 *	      the addresses of To, Cc, Bcc, Delivered-To, X-Original-To and
 *	      Envelope-To, then owner when given (--mailbox-owner);
 *	    the Date: as seconds since the epoch, or 0.
 * DIAGNOSTICS
 *	-1 with *error_r (static) when the header cannot be read.
 */
#ifndef TAB_IMPORT_ENVELOPE_H
#define TAB_IMPORT_ENVELOPE_H

#include <time.h>

#include "common/strlist.h"

int import_envelope_read(int fd, const char *fallback_sender, const char *owner, char **sender_r,
                         struct strlist *rcpts_r, time_t *date_r, const char **error_r);

#endif
