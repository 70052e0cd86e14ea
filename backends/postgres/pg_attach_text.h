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
 *	attachment_text_pending (schema version 8, docs/schema-pgsql.md).
 *
 *	pg_attach_text_candidate() is the rule that decides the queueing:
 *	the same answer as attach_text_candidate() of mail/attach_text.h,
 *	which this layer may not call (tab_mail uses tab_backends, not the
 *	other way round). tests/drivers/test_catalog_pgsql.c checks that the
 *	two agree on every type and file name either of them knows; a
 *	format added there must be added here too.
 * DIAGNOSTICS
 *	None.
 */
#ifndef TAB_PG_ATTACH_TEXT_H
#define TAB_PG_ATTACH_TEXT_H

#include "backends/record.h"

/* Might a part of this type ("type/subtype") and file name (or NULL) hold
 * text the indexer reads? As attach_text_candidate(). */
int pg_attach_text_candidate(const char *ctype, const char *filename);

/* 1 when one of rec's attachments is a candidate. */
int pg_attach_text_wanted(const struct archive_record *rec);

#endif
