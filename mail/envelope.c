/*
 * NAME
 *	envelope 3
 * SUMMARY
 *	SMTP paths and parameters; decoding of encoded archive recipients
 * SYNOPSIS
 *	#include "mail/envelope.h"
 * DESCRIPTION
 *	Owns the syntax of what arrives in MAIL FROM:/RCPT TO: and the
 *	mapping between envelope addresses and header mailboxes.
 *
 *	envelope_parse_path() is the gate every envelope address passes: it
 *	accepts an RFC 5321 Path (optionally with a source route, which is
 *	dropped) and rejects anything that could later start a header line,
 *	escape a quoted string or confuse a path: control characters, a
 *	missing bracket, unbalanced quotes, an address without "@" (except
 *	<> and <postmaster>), more than ENVELOPE_ADDR_MAX bytes. 8-bit bytes
 *	are allowed because SMTPUTF8 is announced. The length is otherwise
 *	not limited here: RFC 5321's 256 octets are not what Postfix enforces
 *	(an address from sendmail/pickup may be far longer and is relayed),
 *	and an archive that refused it would lose the message for good. The
 *	command line limit (lmtp_line_length_limit) is the real bound.
 *
 *	envelope_decode_recipient() undoes Postfix's recipient_bcc_maps
 *	encoding "archive+user=domain@archive.domain" (ARCHITECTURE.md
 *	section 2); envelope_header_mailbox() renders an address as the
 *	angle-addr of a From:/To: header, quoting the local part whenever it
 *	is not a dot-atom, so that no address can add header syntax.
 *
 *	This module never allocates more than a few times the address
 *	length, never logs, and never reads anything but its arguments.
 * DIAGNOSTICS
 *	envelope_parse_path() and envelope_parse_params() return -1 with a
 *	static message fit for a 501 reply. envelope_decode_recipient()
 *	returns NULL for an address that is not an encoded recipient.
 *	envelope_header_mailbox() always succeeds: control characters that a
 *	caller failed to filter become "?".
 */

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/strlist.h"
#include "mail/envelope.h"

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* RFC 5322 atext, extended by RFC 6531 with every UTF-8 non-ASCII byte. */
static int is_atext(unsigned char c)
{
    if (c >= 0x80)
        return 1;
    if (isalnum(c))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Offset of the last '@' outside a quoted string, or -1. Backslash escapes
 * inside quotes are honoured so that "a\"@b"@c splits at the right '@'. */
static long last_at_outside_quotes(const char *s, size_t len)
{
    long at = -1;
    int quoted = 0;

    for (size_t i = 0; i < len; i++) {
        if (quoted && s[i] == '\\' && i + 1 < len) {
            i++;
        } else if (s[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && s[i] == '@') {
            at = (long)i;
        }
    }
    return at;
}

/* 1 when local (len bytes) is a dot-atom: atoms of atext joined by single
 * dots, no leading or trailing dot. Such a local part never needs quotes. */
static int is_dot_atom(const char *local, size_t len)
{
    int prev_dot = 1;

    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '.') {
            if (prev_dot)
                return 0;
            prev_dot = 1;
        } else if (is_atext(c)) {
            prev_dot = 0;
        } else {
            return 0;
        }
    }
    return !prev_dot;
}

/* 1 when local is exactly one well-formed quoted-string: opening and
 * closing quote, no unescaped quote between them, no control characters. */
static int is_quoted_string(const char *local, size_t len)
{
    if (len < 2 || local[0] != '"' || local[len - 1] != '"')
        return 0;
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)local[i];
        if (is_ctl(c))
            return 0;
        if (c == '\\') {
            /* The escaped character must lie before the closing quote. */
            if (i + 1 >= len - 1 || is_ctl((unsigned char)local[i + 1]))
                return 0;
            i++;
        } else if (c == '"') {
            return 0;
        }
    }
    return 1;
}

/* Remove the quotes and backslash escapes of a quoted-string (checked by
 * is_quoted_string) into a new heap string. */
static char *unquote(const char *local, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 1; i < len - 1; i++) {
        if (local[i] == '\\')
            i++;
        out[o++] = local[i];
    }
    out[o] = '\0';
    return out;
}

/* Append local (len bytes) to buf at *o as a dot-atom when it is one, else
 * as a quoted-string; control characters become '?' so that nothing a
 * careless caller passes can break a header line. buf must hold 2*len+3. */
static void put_local(char *buf, size_t *o, const char *local, size_t len)
{
    if (is_dot_atom(local, len) || is_quoted_string(local, len)) {
        memcpy(buf + *o, local, len);
        *o += len;
        return;
    }
    buf[(*o)++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '"' || c == '\\')
            buf[(*o)++] = '\\';
        buf[(*o)++] = is_ctl(c) ? '?' : (char)c;
    }
    buf[(*o)++] = '"';
}

/* A domain that can follow '@' in a header or a path unchanged: a name of
 * printable non-special bytes (UTF-8 allowed for IDN), or an address
 * literal "[...]" of letters, digits, '.', ':' and '-'. */
static int domain_ok(const char *d, size_t len)
{
    if (len == 0)
        return 0;
    if (d[0] == '[') {
        if (len < 3 || d[len - 1] != ']')
            return 0;
        for (size_t i = 1; i < len - 1; i++) {
            unsigned char c = (unsigned char)d[i];
            if (!isalnum(c) && c != '.' && c != ':' && c != '-')
                return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c >= 0x80)
            continue;
        if (c <= 0x20 || c == 0x7f || strchr("\"\\<>()[],;:@", c) != NULL)
            return 0;
    }
    return 1;
}

int envelope_parse_path(const char *arg, char **addr_r, const char **params_r, const char **error_r)
{
    const char *p = arg;
    const char *start, *end;
    int quoted = 0;
    size_t len;
    long at;

    *addr_r = NULL;
    *params_r = "";
    while (*p == ' ')
        p++;
    if (*p != '<') {
        *error_r = "5.5.4 Syntax error: address must be enclosed in <>";
        return -1;
    }
    start = ++p;
    for (;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\0') {
            *error_r = quoted ? "5.1.7 Syntax error: unbalanced quote in address"
                              : "5.5.4 Syntax error: missing > after address";
            return -1;
        }
        if (is_ctl(c)) {
            *error_r = "5.1.7 Syntax error: control character in address";
            return -1;
        }
        if (quoted) {
            if (c == '\\') {
                if (p[1] == '\0' || is_ctl((unsigned char)p[1])) {
                    /* Let the next iteration report the NUL or control. */
                    continue;
                }
                p++;
            } else if (c == '"') {
                quoted = 0;
            }
            continue;
        }
        if (c == '"') {
            quoted = 1;
        } else if (c == '>') {
            break;
        } else if (c == '<' || c == ' ' || c == '\\') {
            *error_r = "5.1.7 Syntax error: invalid character in address";
            return -1;
        }
    }
    end = p++;
    if (*p != '\0' && *p != ' ') {
        *error_r = "5.5.4 Syntax error: text after > must be separated by a space";
        return -1;
    }
    while (*p == ' ')
        p++;

    /* Source route "@a,@b:": obsolete, always ignored (RFC 5321 C). */
    if (start < end && *start == '@') {
        const char *colon = memchr(start, ':', (size_t)(end - start));
        if (colon == NULL || memchr(start, '"', (size_t)(colon - start)) != NULL) {
            *error_r = "5.1.7 Syntax error: malformed source route";
            return -1;
        }
        start = colon + 1;
        if (start == end) {
            *error_r = "5.1.7 Syntax error: source route without address";
            return -1;
        }
    }
    len = (size_t)(end - start);
    if (len > ENVELOPE_ADDR_MAX) {
        *error_r = "5.1.7 Syntax error: address too long";
        return -1;
    }
    if (len > 0) {
        at = last_at_outside_quotes(start, len);
        if (at < 0) {
            if (!(len == 10 && strncasecmp(start, "postmaster", 10) == 0)) {
                *error_r = "5.1.7 Syntax error: address has no domain";
                return -1;
            }
        } else if (at == 0) {
            *error_r = "5.1.7 Syntax error: empty local part";
            return -1;
        } else if (!domain_ok(start + at + 1, len - (size_t)at - 1)) {
            *error_r = "5.1.7 Syntax error: invalid domain";
            return -1;
        }
    }
    *addr_r = xstrndup(start, len);
    *params_r = p;
    return 0;
}

int envelope_parse_params(const char *params, struct strlist *list_r, const char **error_r)
{
    const char *p = params;

    while (*p != '\0') {
        const char *tok, *eq = NULL;
        char *entry;
        size_t len;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        tok = p;
        for (; *p != '\0' && *p != ' '; p++) {
            unsigned char c = (unsigned char)*p;
            if (is_ctl(c)) {
                *error_r = "5.5.4 Syntax error: control character in parameters";
                return -1;
            }
            if (c == '=' && eq == NULL)
                eq = p;
        }
        len = (size_t)(p - tok);
        if (eq == tok) {
            *error_r = "5.5.4 Syntax error: empty parameter keyword";
            return -1;
        }
        if (eq != NULL && eq + 1 == p) {
            *error_r = "5.5.4 Syntax error: empty parameter value";
            return -1;
        }
        /* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
        for (const char *k = tok; k < (eq != NULL ? eq : p); k++) {
            if (!isalnum((unsigned char)*k) && (*k != '-' || k == tok)) {
                *error_r = "5.5.4 Syntax error: invalid parameter keyword";
                return -1;
            }
        }
        entry = xstrndup(tok, len);
        for (char *k = entry; *k != '\0' && *k != '='; k++)
            *k = (char)toupper((unsigned char)*k);
        strlist_add(list_r, entry);
        free(entry);
    }
    return 0;
}

const char *envelope_param(const struct strlist *list, const char *key)
{
    size_t klen = strlen(key);

    if (klen == 0 || strchr(key, '=') != NULL)
        return NULL;
    for (size_t i = 0; i < list->n; i++) {
        const char *e = list->v[i];
        if (strncasecmp(e, key, klen) != 0)
            continue;
        if (e[klen] == '\0')
            return e + klen;
        if (e[klen] == '=')
            return e + klen + 1;
    }
    return NULL;
}

char *envelope_decode_recipient(const char *addr, const char *prefix)
{
    size_t len = strlen(addr), plen = strlen(prefix), llen;
    long at = last_at_outside_quotes(addr, len);
    char *local, *out = NULL;
    const char *rest, *eq, *dom;
    size_t o = 0, rlen;

    llen = at < 0 ? len : (size_t)at;
    if (is_quoted_string(addr, llen)) {
        local = unquote(addr, llen);
    } else {
        local = xstrndup(addr, llen);
    }
    llen = strlen(local);
    for (size_t i = 0; i < llen; i++)
        if (is_ctl((unsigned char)local[i]))
            goto out;
    if (plen == 0 || llen < plen || strncasecmp(local, prefix, plen) != 0)
        goto out;
    rest = local + plen;
    eq = strrchr(rest, '=');
    if (eq == NULL || eq == rest)
        goto out;
    dom = eq + 1;
    rlen = (size_t)(eq - rest);
    if (!domain_ok(dom, strlen(dom)))
        goto out;
    out = xmalloc(2 * rlen + 3 + 1 + strlen(dom) + 1);
    put_local(out, &o, rest, rlen);
    out[o++] = '@';
    memcpy(out + o, dom, strlen(dom) + 1);
out:
    free(local);
    return out;
}

char *envelope_header_mailbox(const char *addr)
{
    size_t len = strlen(addr), o = 0;
    long at = last_at_outside_quotes(addr, len);
    char *out;

    if (len == 0)
        return xstrdup("<MAILER-DAEMON>");
    out = xmalloc(2 * len + 6);
    out[o++] = '<';
    if (at > 0 && domain_ok(addr + at + 1, len - (size_t)at - 1)) {
        put_local(out, &o, addr, (size_t)at);
        memcpy(out + o, addr + at, len - (size_t)at);
        o += len - (size_t)at;
    } else {
        /* No usable domain ("postmaster", or garbage a caller let through):
         * the whole text is a local part, quoted unless it is an atom. */
        put_local(out, &o, addr, len);
    }
    out[o++] = '>';
    out[o] = '\0';
    return out;
}
