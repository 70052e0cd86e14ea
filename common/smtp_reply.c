/*
 * NAME
 *	smtp_reply 3
 * SUMMARY
 *	read one line of an SMTP or LMTP reply
 * SYNOPSIS
 *	#include "common/smtp_reply.h"
 *
 *	struct smtp_reply_line r;
 *	if (smtp_reply_line_parse(line, len, &r) < 0) ... not a reply ...
 *	if (!r.last) ... read the next line ...
 * DESCRIPTION
 *	Owns the syntax of a reply line only; how many lines a reply may
 *	have, whether their codes must agree, and what a code means stay
 *	with the client (forwarder/smtp_io.c, search/ doctor).
 * DIAGNOSTICS
 *	-1 when the line does not start with three digits followed by " ",
 *	"-" or its end.
 */
#include "common/smtp_reply.h"

#include <ctype.h>

int smtp_reply_line_parse(const char *line, size_t len, struct smtp_reply_line *r)
{
    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return -1;
    r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    r->last = len == 3 || line[3] == ' ';
    r->text = len > 4 ? line + 4 : "";
    r->text_len = len > 4 ? len - 4 : 0;
    return 0;
}
