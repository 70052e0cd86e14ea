/*
 * NAME
 *	envelope 3h
 * SUMMARY
 *	SMTP paths and parameters; decoding of encoded archive recipients
 * DESCRIPTION
 *	envelope_parse_path() splits the argument of MAIL FROM:/RCPT TO: into
 *	the address inside <...> (as sent: a quoted local part stays quoted)
 *	and the ESMTP parameters after it. It rejects what must never reach a
 *	header, a path or SQL unexamined: control characters (CR, LF, NUL,
 *	...), unbalanced quotes or brackets, a missing <...>.
 *
 *	envelope_decode_recipient() turns "archive+user=example.com@archive.test"
 *	(prefix from recipient_encoding_prefix) into "user@example.com": the
 *	local part is unquoted first, the original local part is the text after
 *	the prefix up to the LAST "=", the domain is the rest; the archive
 *	domain is ignored. The result is re-quoted when its local part needs
 *	it (RFC 5321 Quoted-string).
 * DIAGNOSTICS
 *	-1 with a static message suitable for a 501 reply.
 */
#ifndef TAB_ENVELOPE_H
#define TAB_ENVELOPE_H

#include "common/strlist.h"

/* RFC 5321 says 256 octets, Postfix relays longer paths (from sendmail)
 * unchecked: the session's line limit (lmtp_line_length_limit, at most
 * 1 MiB) bounds an address; this only keeps the parser bounded on its own. */
#define ENVELOPE_ADDR_MAX (1024 * 1024)

/* arg: text after "MAIL FROM:" / "RCPT TO:" (leading spaces allowed).
 * *addr_r: heap copy of the address without brackets ("" for <>);
 * *params_r: points into arg at the first parameter (or at "").
 * Source routes "<@a,@b:user@d>" are accepted and stripped. */
int envelope_parse_path(const char *arg, char **addr_r, const char **params_r,
                        const char **error_r);

/* Split "KEY=value KEY2 ..." into list entries "KEY=value" (KEY upper-cased).
 * -1 on syntax errors (control characters, empty keyword). */
int envelope_parse_params(const char *params, struct strlist *list_r, const char **error_r);
/* Value of KEY in a parsed list: NULL when absent, "" for a bare keyword. */
const char *envelope_param(const struct strlist *list, const char *key);

/* Decoded original recipient (heap) or NULL when addr is not an encoded
 * archive recipient for prefix (case-insensitive prefix match). */
char *envelope_decode_recipient(const char *addr, const char *prefix);

/* The address as it should appear in a header: "<addr>" with the local part
 * quoted when needed, and "<MAILER-DAEMON>" for the null sender (""). Heap. */
char *envelope_header_mailbox(const char *addr);

#endif
