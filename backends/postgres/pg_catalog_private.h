/*
 * NAME
 *	pg_catalog_private 3h
 * SUMMARY
 *	what the files of the PostgreSQL catalog driver share
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	The driver (catalog_pgsql_open(), in backends/catalog.h) is one
 *	struct catalog over a connection shared with the pgsql store
 *	(pg_conn.h), split by concern: pg_catalog.c (open, close, the
 *	prepared statements and the helpers below), pg_catalog_ingest.c
 *	(known_recipients, add, reindex, forward_status),
 *	pg_catalog_search.c (search, get), pg_catalog_integrity.c (chain
 *	walk and head, seals, audit, stats), pg_catalog_retention.c
 *	(holds and expiry), pg_catalog_index.c (index check and
 *	rebuild) and pg_attach_text.c (the text inside attachments,
 *	index_pending).
 *
 *	Private to backends/postgres/: no other folder may include it.
 *	Text values are kept in an arena (a struct strlist) until the call
 *	that passes them to the server ends.
 * DIAGNOSTICS
 *	Messages are the connection's (pg_conn.h): "pgsql NAME: WHAT:
 *	SERVER MESSAGE".
 */
#ifndef TAB_PG_CATALOG_PRIVATE_H
#define TAB_PG_CATALOG_PRIVATE_H

#include <stddef.h>
#include <time.h>

#include "backends/catalog_private.h"
#include "backends/postgres/pg_conn.h"

/*
 * The subject column is cut at PG_CATALOG_SUBJECT_MAX bytes (a subject
 * that long is no one's; the row stays small). The words of a message
 * are bounded by pg_fts.h.
 */
#define PG_CATALOG_SUBJECT_MAX (128 * 1024)

struct pg_catalog {
    struct catalog cat; /* first: handed out as struct catalog */
    struct pg_conn *conn;
    catalog_text_fn *text_fn; /* index_rebuild(), index_pending(): a stored copy's text */
    void *text_ctx;
};

static inline struct pg_catalog *pg_catalog_of(struct catalog *cat)
{
    return (struct pg_catalog *)cat;
}

/* Statements prepared on first use (their SQL: pg_catalog.c). */
enum pg_catalog_stmt {
    PC_LOCK_KEY,
    PC_FIND_MESSAGE,
    PC_FIND_MESSAGE_BY_MSGID,
    PC_INSERT_MESSAGE,
    PC_INSERT_COPY,
    PC_INSERT_RCPT,
    PC_INSERT_ADDR,
    PC_INSERT_ATTACHMENT,
    PC_KNOWN_RCPTS,
    PC_KNOWN_RCPTS_BY_MSGID,
    PC_MESSAGE_BY_ID,
    PC_FIND,
    PC_FIND_SHARE,
    PC_FIND_UPDATE,
    PC_FIRST_COPY,
    PC_COPY_BY_ID,
    PC_RCPTS,
    PC_ADDRS,
    PC_ATTACHMENTS,
    PC_FORWARD_STATUS,
    PC_CHAIN_LINK,
    PC_COUNT
};

/* pg_catalog.c: values, columns, statements. */
const char *pg_catalog_text(struct strlist *arena, const char *s, size_t max);
const char *pg_catalog_printf(struct strlist *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *pg_catalog_dup(const PGresult *res, int row, int col);
const char *pg_catalog_value(const PGresult *res, int row, int col);
void pg_catalog_copy(const PGresult *res, int row, int col, char *buf, size_t size);
enum tab_result pg_catalog_exec(struct pg_catalog *pc, enum pg_catalog_stmt i,
                                const char *const *values, PGresult **res_r, const char **error_r);
enum tab_result pg_catalog_exec_do(struct pg_catalog *pc, enum pg_catalog_stmt i,
                                   const char *const *values, const char **error_r);
enum tab_result pg_catalog_run(struct pg_catalog *pc, const char *what, const char *sql, int n,
                               const char *const *values, PGresult **res_r, const char **error_r);
enum tab_result pg_catalog_do(struct pg_catalog *pc, const char *what, const char *sql, int n,
                              const char *const *values, const char **error_r);

/* The message an archive id names, the message's own or one of its
 * copies': ids as text in arena; copy is "" for the message's own id. */
struct pg_found {
    const char *message;    /* messages.id */
    const char *archive_id; /* the message's archive id */
    const char *copy;       /* copies.id, or "" */
};
enum pg_find_lock { PG_FIND_READ, PG_FIND_SHARE, PG_FIND_UPDATE };
/* TAB_PERM "[WHAT: ]archive id X not found" when it names nothing; a lock
 * (FOR SHARE or FOR UPDATE on the message row) wants a transaction. */
enum tab_result pg_catalog_find(struct pg_catalog *pc, const char *archive_id,
                                enum pg_find_lock lock, const char *what, struct strlist *arena,
                                struct pg_found *found_r, const char **error_r);

/* pg_catalog_ingest.c */
enum tab_result pg_catalog_known_recipients(struct catalog *cat, const char *queue_id,
                                            const char *sha256, const char *message_id,
                                            struct strlist *rcpts_r, const char **error_r);
enum tab_result pg_catalog_add(struct catalog *cat, const struct archive_record *given,
                               const char **error_r);
enum tab_result pg_catalog_reindex(struct catalog *cat, const struct archive_record *given,
                                   const char **error_r);
enum tab_result pg_catalog_forward_status(struct catalog *cat, const char *archive_id,
                                          const char *status, const char *detail,
                                          const char **error_r);

/* Write fts and addr_fts of message mid from its rows and, when given,
 * the header fields, subject and body text of hdr; without hdr only
 * addr_fts. Inside the caller's transaction. */
enum tab_result pg_catalog_refresh_vectors(struct pg_catalog *pc, const char *mid,
                                           const struct archive_record *hdr, struct strlist *arena,
                                           const char **error_r);

/* pg_catalog_index.c: tabularium index check and rebuild. */
void pg_catalog_set_text_source(struct catalog *cat, catalog_text_fn *fn, void *ctx);
enum tab_result pg_catalog_index_check(struct catalog *cat, struct catalog_index_report *r,
                                       catalog_index_problem_fn *fn, void *ctx,
                                       const char **error_r);
enum tab_result pg_catalog_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                         int max_rows, const char **error_r);

/* pg_attach_text.c. Queue message mid when one of rec's attachments may
 * hold text (not degraded); with replace, take it off the queue
 * otherwise (reindex()). Inside the caller's transaction. */
enum tab_result pg_attach_text_queue(struct pg_catalog *pc, const char *mid,
                                     const struct archive_record *rec, int replace,
                                     const char **error_r);
enum tab_result pg_catalog_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                         int64_t *left_r, const char **error_r);

/* pg_catalog_search.c; pg_catalog_load(): rec from message mid (messages.id)
 * and copy copy_id ("": its first copy). */
enum tab_result pg_catalog_load(struct pg_catalog *pc, const char *mid, const char *copy_id,
                                struct archive_record *rec, const char **error_r);
enum tab_result pg_catalog_search(struct catalog *cat, const struct search_query *q,
                                  catalog_row_fn *fn, void *ctx, const char **error_r);
enum tab_result pg_catalog_get(struct catalog *cat, const char *archive_id,
                               struct archive_record *rec_r, const char **error_r);
enum tab_result pg_catalog_count(struct catalog *cat, const struct search_query *q, long long *n_r,
                                 const char **error_r);

/* pg_catalog_integrity.c */
enum tab_result pg_catalog_chain_links(struct pg_catalog *pc, const char *what, const char *sql,
                                       int n, const char *const *values, const char *what_rcpts,
                                       struct chain_seal *head_r, int orphans, catalog_chain_fn *fn,
                                       void *ctx, const char **error_r);
enum tab_result pg_catalog_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                      catalog_chain_fn *fn, void *ctx, const char **error_r);
enum tab_result pg_catalog_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                      const char **error_r);
enum tab_result pg_catalog_seal(struct catalog *cat, struct chain_seal *seal_r,
                                const char **error_r);
enum tab_result pg_catalog_audit(struct catalog *cat, const char *user, const char *action,
                                 const char *detail, const char **error_r);
enum tab_result pg_catalog_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                      void *ctx, const char **error_r);
enum tab_result pg_catalog_stats(struct catalog *cat, struct catalog_stats *stats_r,
                                 catalog_stats_row_fn *fn, void *ctx, const char **error_r);

/* pg_catalog_retention.c */
/* pg_users.c: the web interface's accounts (schema version 10). */
enum tab_result pg_catalog_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                    const char **error_r);
enum tab_result pg_catalog_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                    const char **error_r);
enum tab_result pg_catalog_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                     const char **error_r);
enum tab_result pg_catalog_user_delete(struct catalog *cat, const char *name, const char **error_r);
enum tab_result pg_catalog_token_add(struct catalog *cat, const char *name,
                                     const char *token_sha256, const char **error_r);
enum tab_result pg_catalog_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                      const char **error_r);
enum tab_result pg_catalog_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                                int on, const char *user, int *changed_r, int *holds_r,
                                struct strlist *locations_r, const char **error_r);
enum tab_result pg_catalog_hold_list(struct catalog *cat, const char *case_name,
                                     catalog_hold_fn *fn, void *ctx, const char **error_r);
enum tab_result pg_catalog_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                             void *ctx, const char **error_r);
enum tab_result pg_catalog_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                         const char *user, const char **error_r);

#endif
