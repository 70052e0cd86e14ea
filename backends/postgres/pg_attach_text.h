/*
 * NAME
 *	pg_attach_text 3h
 * SUMMARY
 *	PostgreSQL catalog driver: the text inside attachments, indexed after the delivery
 * SYNOPSIS
 *	#include "backends/postgres/pg_attach_text.h"
 * DESCRIPTION
 *	The PostgreSQL catalog indexes a message's subject and body text in
 *	the delivery's transaction; the text inside its attachments (PDF,
 *	office documents, HTML, RTF: mail/attach_text.h) is read later by the
 *	daemon's indexer, for the messages that add() queued in
 *	attachment_text_pending (schema version 9, docs/schema-pgsql.md).
 *
 *	The rule that decides the queueing is the indexer's own:
 *	attach_text_candidate() of common/attach_kind.h.
 * DIAGNOSTICS
 *	None.
 */
#ifndef TAB_PG_ATTACH_TEXT_H
#define TAB_PG_ATTACH_TEXT_H

#include "backends/record.h"

/* 1 when one of rec's attachments is a candidate. */
int pg_attach_text_wanted(const struct archive_record *rec);

#endif
