/*
 * NAME
 *	import_envelope 3
 * SUMMARY
 *	the envelope of an imported message, from its header fields
 * DESCRIPTION
 *	See import_envelope.h. The addresses are read with the parser of
 *	the index (index_address.c: groups, comments, quoted local parts,
 *	encoded words), so an imported message's recipients are those a
 *	search finds in its header. Bounded like the index: the header up to
 *	INDEX_FIELDS_HEADER_MAX bytes, INDEX_FIELDS_ADDRESSES_MAX addresses
 *	per field. Nothing here decides whether a message is archived: a
 *	message with no address at all is archived with no recipient.
 * DIAGNOSTICS
 *	See import_envelope.h.
 */
#include "mail/import_envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backends/record.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

/* The fields whose addresses are recipients. */
static const char *const import_rcpt_fields[] = {
    "To", "Cc", "Bcc", "Delivered-To", "X-Original-To", "Envelope-To",
};

static void import_add_rcpt(struct strlist *rcpts, const char *addr)
{
    if (addr != NULL && *addr != '\0' && !strlist_has_nocase(rcpts, addr))
        strlist_add(rcpts, addr);
}

/* The address between < and > of a Return-Path value ("" for "<>"), or
 * the value trimmed when it has no brackets; NULL when empty. */
static char *import_return_path(const char *v)
{
    const char *lt = strchr(v, '<'), *gt;

    if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
        return xstrndup(lt + 1, (size_t)(gt - lt - 1));
    while (index_words_blank(*v))
        v++;
    size_t n = strcspn(v, " \t\r\n");
    return n > 0 ? xstrndup(v, n) : NULL;
}

int import_envelope_read(int fd, const char *fallback_sender, const char *owner, char **sender_r,
                         struct strlist *rcpts_r, time_t *date_r, const char **error_r)
{
    size_t cap = INDEX_FIELDS_HEADER_MAX, len = 0;
    char *buf = xmalloc(cap + 1);
    char *return_path = NULL, *from = NULL;
    size_t i, end;

    *date_r = 0;
    *sender_r = NULL;
    while (len < cap) {
        ssize_t n = pread(fd, buf + len, cap - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            *error_r = "cannot read the original's header";
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (memmem(buf, len, "\n\n", 2) != NULL || memmem(buf, len, "\n\r\n", 3) != NULL)
            break;
    }
    buf[len] = '\0';
    /* The header ends at the first empty line. */
    for (end = 0; end < len; end++)
        if (buf[end] == '\n' && (end + 1 < len) &&
            (buf[end + 1] == '\n' ||
             (buf[end + 1] == '\r' && end + 2 < len && buf[end + 2] == '\n')))
            break;
    if (end < len)
        end++;
    for (i = 0; i < end;) {
        /* One field: its first line and its continuation lines. */
        size_t start = i, colon;
        do {
            const char *nl = memchr(buf + i, '\n', end - i);
            i = nl != NULL ? (size_t)(nl - buf) + 1 : end;
        } while (i < end && (buf[i] == ' ' || buf[i] == '\t'));
        for (colon = start; colon < i && buf[colon] != ':' && buf[colon] != '\n'; colon++)
            ;
        if (colon >= i || buf[colon] != ':')
            continue;
        size_t name_len = colon - start;
        while (name_len > 0 && index_words_blank(buf[start + name_len - 1]))
            name_len--;
        char *raw = xstrndup(buf + colon + 1, i - colon - 1);
        char *value = index_words_unfold(raw);
        free(raw);
        if (index_fields_name_is(buf + start, name_len, "Return-Path")) {
            if (return_path == NULL)
                return_path = import_return_path(value);
        } else if (index_fields_name_is(buf + start, name_len, "From")) {
            if (from == NULL) {
                struct record_addrs a = {0};
                index_address_parse(&a, value);
                for (size_t k = 0; k < a.n && from == NULL; k++)
                    if (a.v[k].address != NULL)
                        from = xstrdup(a.v[k].address);
                for (size_t k = 0; k < a.n; k++) {
                    free(a.v[k].name);
                    free(a.v[k].address);
                }
                free(a.v);
            }
        } else if (index_fields_name_is(buf + start, name_len, "Date")) {
            time_t t;
            if (*date_r == 0 && index_date_parse(value, &t) == 0)
                *date_r = t;
        } else {
            for (size_t f = 0; f < sizeof(import_rcpt_fields) / sizeof(import_rcpt_fields[0]);
                 f++) {
                if (!index_fields_name_is(buf + start, name_len, import_rcpt_fields[f]))
                    continue;
                struct record_addrs a = {0};
                index_address_parse(&a, value);
                for (size_t k = 0; k < a.n; k++) {
                    import_add_rcpt(rcpts_r, a.v[k].address);
                    free(a.v[k].name);
                    free(a.v[k].address);
                }
                free(a.v);
            }
        }
        free(value);
    }
    if (owner != NULL && *owner != '\0')
        import_add_rcpt(rcpts_r, owner);
    if (return_path != NULL)
        *sender_r = return_path;
    else if (fallback_sender != NULL && strcmp(fallback_sender, "MAILER-DAEMON") != 0)
        *sender_r = xstrdup(fallback_sender);
    else if (fallback_sender != NULL)
        *sender_r = xstrdup("");
    else
        *sender_r = xstrdup(from != NULL ? from : "");
    free(from);
    free(buf);
    return 0;
}
