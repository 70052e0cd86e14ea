/*
 * NAME
 *	index_address 3
 * SUMMARY
 *	From:, To: and Cc: address lists for the catalog
 * SYNOPSIS
 *	#include "mail/index_fields_private.h"
 *
 *	index_address_parse(&rec->hdr_from, raw);
 * DESCRIPTION
 *	Appends the addresses of one raw field value (groups flattened into
 *	their members; an empty group kept as a name without address), at
 *	most INDEX_FIELDS_ADDRESSES_MAX per field kind; display names are
 *	decoded to UTF-8 (index_words.c) and IDN domains given in Unicode.
 *
 *	Bound: no recursion (group and comment nesting are counters), O(n)
 *	in the bytes of the value; the note before struct addr_scan says how.
 * DIAGNOSTICS
 *	None: what is not an address is skipped. A field with more than
 *	INDEX_FIELDS_ADDRESSES_MAX addresses is logged at debug level.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "common/log.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

/*
 * Address lists (RFC 5322 3.4 with the obsolete forms of 4.4), parsed
 * here rather than by GMime, whose parser recurses once per nested group:
 * 45 000 nested groups in a 90 kB Cc: overflowed the worker's stack.
 *
 * One pass from left to right, no recursion: groups are a counter (their
 * members flattened into the list, an empty group kept as a name without
 * address), comments a nesting counter. The only steps back are to the
 * start of the current address (a phrase that turns out to be a
 * local-part), and a comma in an unquoted display name ("Doe, John
 * <j@x>", as GMime accepts) is decided by one look ahead whose answer is
 * kept for the commas it crossed: every byte is looked at a bounded
 * number of times. The loose forms GMime accepts are kept: dots and
 * commas in unquoted names, extra angle brackets, a missing ">", an
 * unclosed quote or comment, an address without domain, a name in a
 * comment after the address.
 */
struct addr_scan {
    const char *unclosed;  /* a quoted string starting here or later is not closed */
    const char *ahead_end; /* the stretch a comma look-ahead crossed */
    int ahead_joins;       /* and whether its commas are part of a name */
    const char *reach;     /* the furthest any scan of the current list went */
    GString *addr;
};

/* GMime's atom: not a special, a blank or a control character; 8-bit
 * bytes are atom characters (UTF-8 names and addresses). */
static int addr_atext(char c)
{
    unsigned char u = (unsigned char)c;

    return u > 0x20 && u != 0x7f && strchr("()<>@,;:\\\".[]", c) == NULL;
}

/* The same, noting how far the scan went: a comment may run far beyond
 * the address that failed on it, and the next one starts after it. */
static const char *scan_cfws(struct addr_scan *sc, const char *p)
{
    p = index_words_skip_cfws(p, NULL, NULL);
    if (p > sc->reach)
        sc->reach = p;
    return p;
}

/*
 * Past the quoted string at p; NULL when it is not closed. When the one
 * at p is not, none after it is either (every quote after p was escaped,
 * and a scan from a later quote meets the same escapes), so that is
 * remembered: a list of '"\",' must not be scanned to its end once per
 * comma.
 */
static const char *addr_skip_quoted(struct addr_scan *sc, const char *p)
{
    const char *start = p;

    if (sc->unclosed != NULL && p >= sc->unclosed)
        return NULL;
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"') {
            if (p + 1 > sc->reach)
                sc->reach = p + 1;
            return p + 1;
        }
    }
    sc->unclosed = start;
    return NULL;
}

/*
 * Does the comma at p continue a display name? Only if the words and
 * commas after it end at "<" or ":". The answer holds for every comma
 * of the stretch looked at, so that stretch is never looked at again.
 */
static int addr_comma_joins(struct addr_scan *sc, const char *p)
{
    const char *q;

    if (p < sc->ahead_end)
        return sc->ahead_joins;
    for (q = p;;) {
        q = index_words_cfws(q);
        if (*q == '"') {
            const char *e = addr_skip_quoted(sc, q);
            q = e != NULL ? e : q + 1;
        } else if (addr_atext(*q)) {
            while (addr_atext(*q))
                q++;
        } else if (*q == ',' || *q == '.') {
            q++;
        } else {
            break;
        }
    }
    sc->ahead_end = q;
    sc->ahead_joins = *q == '<' || *q == ':';
    return sc->ahead_joins;
}

/* An IDN domain in Unicode, as GMime (with libidn2) gave it. */
static void addr_domain_unicode(GString *addr, size_t domain_at)
{
    size_t label = 0;
    char *u;

    if (g_ascii_strncasecmp(addr->str + domain_at, "xn--", 4) != 0 &&
        strstr(addr->str + domain_at, ".xn--") == NULL)
        return;
    /* DNS limits (RFC 1035 2.3.4), as libidn2 checks them: beyond, the
     * name is not a host name and stays as written */
    if (addr->len - domain_at > 253)
        return;
    for (const char *c = addr->str + domain_at; *c != '\0'; c++)
        if ((label = *c == '.' ? 0 : label + 1) > 63)
            return;
    /* GLib decodes bad Punycode to code points beyond U+10FFFF (found by
     * fuzzing "xn--bcher-k888888d"): such a name stays as written */
    u = g_hostname_to_unicode(addr->str + domain_at);
    if (u != NULL && g_utf8_validate(u, -1, NULL)) {
        g_string_truncate(addr, domain_at);
        g_string_append(addr, u);
    }
    g_free(u);
}

/*
 * The addr-spec at p (local-part, then "@" domain when there is one) into
 * sc->addr, comments and folding dropped, quoted local-parts kept quoted.
 * Past it (before the blanks and comments that follow it), or NULL on a
 * syntax error or bytes that are not UTF-8.
 */
static const char *addr_spec(struct addr_scan *sc, const char *p)
{
    GString *a = sc->addr;
    const char *w, *q;
    size_t domain_at;

    g_string_truncate(a, 0);
    for (;;) {
        w = p;
        if (*p == '"') {
            if ((p = addr_skip_quoted(sc, p)) == NULL)
                return NULL;
        } else if (addr_atext(*p)) {
            while (addr_atext(*p))
                p++;
        } else {
            return NULL;
        }
        g_string_append_len(a, w, p - w);
        q = scan_cfws(sc, p);
        if (*q == '@') {
            p = q;
            break;
        }
        if (*q != '.')
            return g_utf8_validate(a->str, (gssize)a->len, NULL) ? p : NULL;
        g_string_append_c(a, '.');
        p = scan_cfws(sc, q + 1);
    }
    p = scan_cfws(sc, p + 1);
    g_string_append_c(a, '@');
    domain_at = a->len;
    if (*p == '[') {
        /* a domain literal; blanks inside are dropped */
        for (g_string_append_c(a, *p++); *p != ']'; p++) {
            if (*p == '\0' || *p == '[' || *p == '\\')
                return NULL;
            if (!index_words_blank(*p))
                g_string_append_c(a, *p);
        }
        g_string_append_c(a, *p++);
    } else {
        for (;;) {
            if (!addr_atext(*p))
                return NULL;
            w = p;
            while (addr_atext(*p))
                p++;
            g_string_append_len(a, w, p - w);
            q = scan_cfws(sc, p);
            if (*q != '.')
                break;
            q = scan_cfws(sc, q + 1);
            if (!addr_atext(*q)) { /* "a@example.com.": the final dot is dropped */
                p = q;
                break;
            }
            g_string_append_c(a, '.');
            p = q;
        }
    }
    if (!g_utf8_validate(a->str, (gssize)a->len, NULL))
        return NULL;
    addr_domain_unicode(a, domain_at);
    return p;
}

/* "<" [obs-route ":"] addr-spec ">" at p into sc->addr; past it or NULL. */
static const char *addr_angle(struct addr_scan *sc, const char *p)
{
    while (*p == '<')
        p++;
    p = scan_cfws(sc, p);
    if (*p == '@') {
        /* obs-route "@a.example,@b.example:" is dropped */
        while (*p != '\0' && *p != ':' && *p != '>')
            p++;
        if (p > sc->reach)
            sc->reach = p;
        if (*p != ':')
            return NULL;
        p = scan_cfws(sc, p + 1);
    }
    if ((p = addr_spec(sc, p)) == NULL)
        return NULL;
    p = scan_cfws(sc, p);
    while (*p == '>') /* missing or extra ">": tolerated */
        p++;
    return p;
}

/* A display name from its raw text: quotes and escapes removed, RFC 2047
 * words decoded, blanks trimmed; NULL when nothing is left. */
static char *addr_name(const char *s, size_t n)
{
    char *buf, *dec, *w, *start, *end;
    const char *r;

    if (n == 0)
        return NULL;
    buf = index_words_decode_plain(s, n);
    for (r = w = buf; *r != '\0'; r++) {
        if (*r == '\\' && r[1] != '\0')
            *w++ = *++r;
        else if (*r != '"')
            *w++ = *r;
    }
    *w = '\0';
    dec = index_words_decode(buf, 1);
    free(buf);
    for (start = dec; index_words_blank(*start); start++)
        ;
    end = start + strlen(start);
    while (end > start && index_words_blank(end[-1]))
        end--;
    *end = '\0';
    buf = *start != '\0' ? index_words_utf8_dup(start) : NULL;
    free(dec);
    return buf;
}

/* Keep one address (name is consumed) unless the cap is reached. */
static void addr_add(struct record_addrs *out, char *name, const char *addr)
{
    if (out->n < INDEX_FIELDS_ADDRESSES_MAX && (name != NULL || (addr != NULL && *addr != '\0')))
        record_addrs_add(out, name, addr != NULL && *addr != '\0' ? addr : NULL);
    free(name);
}

void index_address_parse(struct record_addrs *out, const char *raw)
{
    char *value = index_words_unfold(raw);
    struct addr_scan sc = {.unclosed = NULL, .addr = g_string_new(NULL)};
    const char *p = value;
    char *group_name = NULL;
    size_t group_first = 0;
    size_t depth = 0; /* open groups; only the outermost one is kept */

    for (;;) {
        const char *start, *phrase_end, *q, *comment = NULL;
        size_t words = 0, comment_len = 0;
        char *name = NULL;

        p = scan_cfws(&sc, p);
        if (*p == '\0' || out->n >= INDEX_FIELDS_ADDRESSES_MAX)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ';') {
            p++;
            if (depth > 0 && --depth == 0) {
                if (out->n == group_first) /* "undisclosed-recipients:;" */
                    addr_add(out, group_name, NULL);
                else
                    free(group_name);
                group_name = NULL;
            }
            continue;
        }

        /* the phrase: a display name, a group name or a local-part */
        start = phrase_end = p;
        for (;;) {
            if (*p == '"') {
                if ((q = addr_skip_quoted(&sc, p)) == NULL) {
                    p = scan_cfws(&sc, p + 1); /* an unclosed quote is dropped */
                    continue;
                }
                p = q;
            } else if (addr_atext(*p)) {
                while (addr_atext(*p))
                    p++;
            } else if (words > 0 && (*p == '.' || (*p == ',' && addr_comma_joins(&sc, p)))) {
                p = scan_cfws(&sc, p + 1);
                continue;
            } else {
                break;
            }
            words++;
            phrase_end = p;
            p = scan_cfws(&sc, p);
        }

        if (*p == '<') {
            name = addr_name(start, (size_t)(phrase_end - start));
            if ((q = addr_angle(&sc, p)) == NULL)
                goto skip;
            addr_add(out, name, sc.addr->str);
            p = q;
            continue;
        }
        if (*p == ':') {
            name = addr_name(start, (size_t)(phrase_end - start));
            if (depth++ == 0) {
                group_name = name;
                group_first = out->n;
            } else {
                free(name);
            }
            while (*p == ':' || index_words_blank(*p))
                p++;
            continue;
        }
        if (words == 0)
            goto skip;

        /* an addr-spec: parse the phrase again as one */
        if ((q = addr_spec(&sc, start)) == NULL)
            goto skip;
        while (index_words_blank(*q))
            q++;
        q = index_words_skip_cfws(q, &comment, &comment_len);
        if (*q == '<' && strchr(sc.addr->str, '@') != NULL) {
            /* "user@example.com <user@example.com>": the first is a name */
            const char *e = q;
            while (e > start && index_words_blank(e[-1]))
                e--;
            name = addr_name(start, (size_t)(e - start));
            if ((q = addr_angle(&sc, q)) == NULL)
                goto skip;
        } else if (strchr(sc.addr->str, '@') == NULL && *q != '\0' && *q != ',' && *q != ';' &&
                   *q != '>') {
            goto skip; /* "John Smith": words, not an address */
        } else {
            if (comment != NULL)
                name = addr_name(comment, comment_len);
            if (*q == '>')
                q++;
        }
        addr_add(out, name, sc.addr->str);
        p = q;
        continue;
    skip:
        /* not an address: on to the next separator after whatever was
         * scanned (an unclosed comment must not be scanned again from
         * each comma inside it) */
        free(name);
        if (sc.reach > p)
            p = sc.reach;
        while (*p != '\0' && *p != ',' && *p != ';')
            p++;
    }
    if (depth > 0 && out->n == group_first) /* a group left open at the end */
        addr_add(out, group_name, NULL);
    else
        free(group_name);
    if (*p != '\0')
        log_debug("index_fields: more than %d addresses in a field; the rest are not indexed",
                  INDEX_FIELDS_ADDRESSES_MAX);
    g_string_free(sc.addr, TRUE);
    free(value);
}
