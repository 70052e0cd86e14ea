/*
 * NAME
 *	imap_client 3
 * SUMMARY
 *	a read-only IMAP4rev1 client for tabularium import
 * SYNOPSIS
 *	#include "import/imap_client.h"
 * DESCRIPTION
 *	Reads mailboxes without changing them: folders are opened with
 *	EXAMINE and messages fetched with BODY.PEEK[], so no \Seen flag is
 *	set and nothing is expunged. A message's bytes are copied from the
 *	server's literal to a file descriptor as they arrive, counted by
 *	the literal's length (never by lines: what a message contains cannot
 *	end the response early), so they are the bytes the server holds.
 *	The caller ignores SIGPIPE while it uses a client: a TLS write to a
 *	server that went away raises it.
 * DIAGNOSTICS
 *	Each call returns TAB_OK, TAB_RETRY (the connection failed or timed
 *	out: the next call connects again, logs in and examines the folder
 *	again) or TAB_PERM (the server said NO or BAD, the folder's
 *	UIDVALIDITY changed, or its reply made no sense), with the reason in
 *	*error_r, valid until the next call on the same client.
 */
#ifndef TAB_IMAP_CLIENT_H
#define TAB_IMAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/result.h"
#include "common/strlist.h"

struct imap_client;

/* One message of a folder, as UID FETCH (UID INTERNALDATE RFC822.SIZE)
 * lists it. internaldate is 0 when the server sent none we can read. */
struct imap_message {
    uint32_t uid;
    time_t internaldate;
    uint64_t size;
};

/* URL: imap://[USER@]HOST[:PORT][/FOLDER] (clear text: for a server on
 * this host or a trusted network) or imaps://... (TLS, the server's
 * certificate checked against the system's CAs, or SSL_CERT_FILE, and
 * its name). USER is percent-decoded. No I/O yet. NULL: a malformed URL. */
struct imap_client *imap_client_new(const char *url, const char *password, const char **error_r);
void imap_client_free(struct imap_client *c);

/* The folder the URL names (percent-decoded), or NULL. */
const char *imap_client_url_folder(const struct imap_client *c);
/* "imap://user@host:port" without a password: for logs and reports. */
const char *imap_client_name(const struct imap_client *c);

/* Every folder that can be examined (LIST "" "*", without \Noselect). */
enum tab_result imap_client_folders(struct imap_client *c, struct strlist *folders,
                                    const char **error_r);

/* EXAMINE a folder: its UIDVALIDITY and number of messages. */
enum tab_result imap_client_examine(struct imap_client *c, const char *folder,
                                    uint32_t *uidvalidity_r, uint32_t *exists_r,
                                    const char **error_r);

/* The messages of the examined folder whose UID is above after_uid, in
 * UID order (*list_r: free() it). */
enum tab_result imap_client_messages(struct imap_client *c, uint32_t after_uid,
                                     struct imap_message **list_r, size_t *n_r,
                                     const char **error_r);

/* Copy message uid of the examined folder to fd (at its current offset);
 * *size_r: the bytes written. TAB_PERM when the server has no such
 * message any more (expunged) or the folder's UIDVALIDITY changed. */
enum tab_result imap_client_fetch(struct imap_client *c, uint32_t uid, int fd, uint64_t *size_r,
                                  const char **error_r);

/* Parse an IMAP date-time ("17-Jul-1996 02:44:25 -0700"); -1 if invalid. */
int imap_parse_date_time(const char *s, time_t *t_r);

#endif
