/*
 * NAME
 *	smtp_reply 3h
 * SUMMARY
 *	one line of an SMTP or LMTP reply
 * DESCRIPTION
 *	smtp_reply_line_parse() is the one reader of a reply line (RFC 5321
 *	4.2): three digits, then "-" when more lines follow, " " and text, or
 *	nothing, on the last line. It does not judge the code: the forwarder
 *	wants 2xx to 5xx, "tabularium doctor" takes what comes.
 * DIAGNOSTICS
 *	-1 for a line that is not a reply line.
 */
#ifndef TAB_SMTP_REPLY_H
#define TAB_SMTP_REPLY_H

#include <stddef.h>

struct smtp_reply_line {
    int code;         /* 000..999 */
    int last;         /* no "-" after the code: the reply's last line */
    const char *text; /* after "NNN " or "NNN-" (points into the line); "" when none */
    size_t text_len;
};

/* line: len bytes, without the line end. */
int smtp_reply_line_parse(const char *line, size_t len, struct smtp_reply_line *r);

#endif
