/*
 * NAME
 *	pg_conn 3h
 * SUMMARY
 *	per-process PostgreSQL connections shared by the pgsql store and catalog
 * SYNOPSIS
 *	struct pg_conn *c = pg_conn_acquire("postgresql:///tabularium", PG_CONN_STORE, &err);
 *	r = pg_conn_begin(c, &err);
 *	r = pg_conn_exec(c, &stmt, values, lengths, formats, &res, &err);
 *	pg_conn_hand_over(c, location);		store: the catalog commits
 *	if (pg_conn_take_over(c, location)) ...	catalog: continue the store's transaction
 *	r = pg_conn_commit(c, &err);
 *	pg_conn_release(&c, PG_CONN_STORE);
 * DESCRIPTION
 *	One connection per conninfo string and process: the store and the
 *	catalog opened with the same string share it, and with it one
 *	transaction, so a wrapped copy and its index rows commit together.
 *
 *	A lost connection (server restart) is re-established on the next
 *	call; a statement that fails because the connection broke while no
 *	transaction was open is run once more on the new connection. Inside
 *	a transaction nothing is repeated: the transaction is gone, the
 *	caller answers TAB_RETRY. Every (re)connection checks the schema
 *	version (backends/postgres/pg_schema.h) and sets synchronous_commit
 *	= on, so COMMIT returns only after the WAL is on disk.
 *
 *	Named statements are prepared on first use on each connection.
 * DIAGNOSTICS
 *	Errors are "pgsql NAME: WHAT: SERVER MESSAGE", NAME being the
 *	conninfo without any password, in a buffer owned by the connection
 *	and valid until its next call.
 */
#ifndef TAB_PG_CONN_H
#define TAB_PG_CONN_H

#include <libpq-fe.h>

#include "common/result.h"

struct pg_conn;

/* Who holds a reference: a store, a catalog. */
enum pg_conn_role { PG_CONN_STORE, PG_CONN_CATALOG };

struct pg_stmt {
    const char *name; /* prepared statement name, unique in the process; NULL: not prepared */
    const char *what; /* for error messages: "insert message" */
    const char *sql;
    int nparams;
    int binary_result; /* 1: fetch results in binary format (bytea) */
};

/* The connection for conninfo, shared with earlier callers. NULL for a
 * malformed conninfo or a schema that does not match this tabularium; a
 * server that is down is no error here (later calls answer TAB_RETRY). */
struct pg_conn *pg_conn_acquire(const char *conninfo, enum pg_conn_role role, const char **error_r);
void pg_conn_release(struct pg_conn **c, enum pg_conn_role role);
/* The conninfo for messages: without any password. */
const char *pg_conn_name(const struct pg_conn *c);
/* 1 when a catalog shares this connection. */
int pg_conn_has_catalog(const struct pg_conn *c);
int pg_conn_has_store(const struct pg_conn *c);

/* Run st with text parameters (values[i] NULL: SQL NULL; lengths and
 * formats may be NULL, as for PQexecPrepared). *res_r is a successful
 * result for the caller to PQclear(). */
enum tab_result pg_conn_exec(struct pg_conn *c, const struct pg_stmt *st, const char *const *values,
                             const int *lengths, const int *formats, PGresult **res_r,
                             const char **error_r);
/* BEGIN; an abandoned transaction is rolled back first. */
enum tab_result pg_conn_begin(struct pg_conn *c, const char **error_r);
/* BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, unless a transaction
 * is open already (*began_r = 0); for consistent multi-statement reads. */
enum tab_result pg_conn_begin_read(struct pg_conn *c, int *began_r, const char **error_r);
/* COMMIT; TAB_OK only when the server confirms it (when the reply was
 * lost: when a new connection finds the transaction committed). */
enum tab_result pg_conn_commit(struct pg_conn *c, const char **error_r);
/* ROLLBACK if a transaction is open; failures are only logged. */
void pg_conn_rollback(struct pg_conn *c);
/* Ends the transaction of pg_conn_begin(): commits when r is TAB_OK,
 * else rolls back and returns r. */
enum tab_result pg_conn_end(struct pg_conn *c, enum tab_result r, const char **error_r);
/* The store leaves its transaction open for the catalog's add(). */
void pg_conn_hand_over(struct pg_conn *c, const char *location);
/* 1 when the open transaction is the store's for location (the caller
 * continues and commits it); clears the hand-over either way. */
int pg_conn_take_over(struct pg_conn *c, const char *location);
/* 1 when the last pg_conn_exec() failed because the server refused the
 * statement's values, deterministically (SQLSTATE class 22 data
 * exception, 23 integrity constraint violation, 54 program limit
 * exceeded: invalid UTF-8, a value out of range, a row or index entry
 * too large) on a connection that is still fine: retrying the same
 * values cannot succeed. 0 for connection, lock, I/O and other errors. */
int pg_conn_content_error(const struct pg_conn *c);
/* Set the connection's error message and return r. */
enum tab_result pg_conn_fail(struct pg_conn *c, enum tab_result r, const char **error_r,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A connection of its own (tabularium db), with the same settings but no
 * schema check; NULL and a message on failure, in a buffer of this module
 * valid until the next call. */
PGconn *pg_conn_connect_plain(const char *conninfo, const char **error_r);
/* conninfo with any password removed, for messages (heap string). */
char *pg_conn_redact(const char *conninfo);
/* A valid UTF-8 copy of s with invalid bytes replaced by U+FFFD, cut at
 * max bytes (0: no limit) on a character boundary; NULL when s is NULL. */
char *pg_conn_utf8(const char *s, size_t max);

#endif
