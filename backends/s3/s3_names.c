/*
 * NAME
 *	s3_names 3
 * SUMMARY
 *	the S3 store's pure parts: spec, key layout, encoding, dates, XML, policy
 * SYNOPSIS
 *	#include "backends/s3/s3.h"
 *
 *	s3_target_parse("https://s3.example.com:9000/bucket/mail", &t, &err);
 *	key = s3_object_key("mail", arrival, id);	"mail/2026/11/25/<id>.eml"
 *	q = s3_query((const char *[]){"versionId", v, "legal-hold", NULL}, 2);
 * DESCRIPTION
 *	Functions of their input only: no I/O, no clock, no globals, so
 *	tests/unit/test_s3.c checks each one exactly.
 *
 *	Keys are built only from a validated prefix, the UTC date and an
 *	archive id (hex), so they are safe in a URL path after plain
 *	percent-encoding and never contain "..". A location read back from
 *	the catalog is parsed by the same rules before it reaches a URL.
 *
 *	Canonical query strings are written here, not by libcurl: SigV4
 *	signs the query as it appears in the URL, so it must already be
 *	sorted and encoded, with "=" after every name ("?legal-hold=").
 *
 *	s3_classify() is the one place that decides whether an S3 answer is
 *	worth retrying: transport failures, 5xx, throttling and 403 (a
 *	configuration problem the operator can fix) are TAB_RETRY; a put is
 *	never TAB_PERM, because an archive copy must never be refused for
 *	good because of the store.
 * DIAGNOSTICS
 *	s3_target_parse() returns a message naming the part that is wrong.
 */
#include "backends/s3/s3.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/retention.h"
#include "common/strlist.h"

static int s3_bucket_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static int s3_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/';
}

/* 1 when s (len bytes) is a key or prefix we write: key characters, no
 * empty segment, no "." or ".." segment, no leading '/'. */
static int s3_key_ok(const char *s, size_t len)
{
    size_t seg = 0;

    if (len == 0 || s[0] == '/' || s[len - 1] == '/')
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            size_t n = i - seg;
            if (n == 0 || (n == 1 && s[seg] == '.') ||
                (n == 2 && s[seg] == '.' && s[seg + 1] == '.'))
                return 0;
            seg = i + 1;
        } else if (!s3_key_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

void s3_target_free(struct s3_target *t)
{
    free(t->scheme);
    free(t->host);
    free(t->bucket);
    free(t->prefix);
    memset(t, 0, sizeof(*t));
}

/* The last message of s3_target_parse(), what *error_r points at. */
static char *s3_names_error;

/* Keep text (heap) as the module's message. */
static void s3_names_fail(const char **error_r, char *text)
{
    free(s3_names_error);
    s3_names_error = text;
    *error_r = text;
}

int s3_target_parse(const char *url, struct s3_target *t, const char **error_r)
{
    const char *p, *host, *host_end, *path, *slash;
    size_t len;

    memset(t, 0, sizeof(*t));
    if (strncmp(url, "https://", 8) == 0) {
        t->scheme = xstrdup("https");
        host = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        t->scheme = xstrdup("http");
        host = url + 7;
    } else {
        s3_names_fail(
            error_r,
            xasprintf("s3 store \"%s\": expected https://host[:port]/bucket[/prefix]", url));
        goto fail;
    }
    path = strchr(host, '/');
    if (path == NULL)
        path = host + strlen(host);
    if (memchr(host, '@', (size_t)(path - host)) != NULL || strpbrk(url, "?#") != NULL) {
        s3_names_fail(error_r,
                      xasprintf("s3 store \"%s\": no user info, query or fragment in the URL "
                                "(credentials go in s3_credentials_file)",
                                url));
        goto fail;
    }
    /* host, "[v6]" or host:port */
    host_end = path;
    if (*host == '[') {
        p = memchr(host, ']', (size_t)(path - host));
        if (p == NULL) {
            s3_names_fail(error_r, xasprintf("s3 store \"%s\": unterminated [IPv6 address]", url));
            goto fail;
        }
        host_end = p + 1;
    } else {
        p = memchr(host, ':', (size_t)(path - host));
        if (p != NULL)
            host_end = p;
    }
    if (host_end == host) {
        s3_names_fail(error_r, xasprintf("s3 store \"%s\": no host name", url));
        goto fail;
    }
    for (p = host; p < host_end; p++) {
        if (!isalnum((unsigned char)*p) && strchr(".-_[]:", *p) == NULL) {
            s3_names_fail(error_r,
                          xasprintf("s3 store \"%s\": bad character in the host name", url));
            goto fail;
        }
    }
    t->host = xstrndup(host, (size_t)(host_end - host));
    if (host_end < path) {
        if (*host_end != ':' || host_end + 1 == path) {
            s3_names_fail(error_r, xasprintf("s3 store \"%s\": bad port", url));
            goto fail;
        }
        long port = 0;
        for (p = host_end + 1; p < path; p++) {
            if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535) {
                s3_names_fail(error_r, xasprintf("s3 store \"%s\": bad port", url));
                goto fail;
            }
        }
        if (port == 0) {
            s3_names_fail(error_r, xasprintf("s3 store \"%s\": bad port", url));
            goto fail;
        }
        t->port = (int)port;
    }
    /* /bucket[/prefix][/] */
    if (*path != '/' || path[1] == '\0') {
        s3_names_fail(error_r,
                      xasprintf("s3 store \"%s\": no bucket (https://host/bucket[/prefix])", url));
        goto fail;
    }
    path++;
    slash = strchr(path, '/');
    len = slash != NULL ? (size_t)(slash - path) : strlen(path);
    if (len < 3 || len > 63 || !isalnum((unsigned char)path[0]) ||
        !isalnum((unsigned char)path[len - 1])) {
        s3_names_fail(error_r,
                      xasprintf("s3 store \"%s\": bucket name must have 3 to 63 characters "
                                "a-z 0-9 . - and start and end with a letter or digit",
                                url));
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        if (!s3_bucket_char((unsigned char)path[i])) {
            s3_names_fail(error_r,
                          xasprintf("s3 store \"%s\": bucket name must have 3 to 63 characters "
                                    "a-z 0-9 . - and start and end with a letter or digit",
                                    url));
            goto fail;
        }
    }
    t->bucket = xstrndup(path, len);
    if (slash == NULL || slash[1] == '\0') {
        t->prefix = xstrdup("");
        return 0;
    }
    len = strlen(slash + 1);
    if (slash[len] == '/') /* one trailing '/' is allowed: "bucket/mail/" */
        len--;
    if (!s3_key_ok(slash + 1, len)) {
        s3_names_fail(error_r,
                      xasprintf("s3 store \"%s\": the prefix may contain only A-Z a-z 0-9 . _ - "
                                "and single '/' between names (no \".\" or \"..\")",
                                url));
        goto fail;
    }
    t->prefix = xstrndup(slash + 1, len);
    return 0;

fail:
    s3_target_free(t);
    return -1;
}

char *s3_object_key(const char *prefix, time_t arrival, const char *archive_id)
{
    struct tm tm;

    if (gmtime_r(&arrival, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    return xasprintf("%s%s%04d/%02d/%02d/%s.eml", prefix, *prefix != '\0' ? "/" : "",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, archive_id);
}

char *s3_uri_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = xmalloc(len * 3 + 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

struct s3_query_item {
    char *name, *value; /* encoded */
};

static int s3_query_cmp(const void *a, const void *b)
{
    const struct s3_query_item *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->value, y->value);
}

char *s3_query(const char *const *pairs, size_t n)
{
    struct s3_query_item *items = xcalloc(n + 1, sizeof(*items));
    struct strlist out = STRLIST_INIT;
    char *joined;

    for (size_t i = 0; i < n; i++) {
        items[i].name = s3_uri_encode(pairs[2 * i], 0);
        items[i].value = s3_uri_encode(pairs[2 * i + 1] != NULL ? pairs[2 * i + 1] : "", 0);
    }
    /* By encoded name, then value: "a=" before "a-b=", unlike a plain
     * sort of "name=value" strings. */
    qsort(items, n, sizeof(*items), s3_query_cmp);
    for (size_t i = 0; i < n; i++) {
        char *item = xasprintf("%s=%s", items[i].name, items[i].value);
        strlist_add(&out, item);
        free(item);
        free(items[i].name);
        free(items[i].value);
    }
    free(items);
    joined = strlist_join(&out, "&");
    strlist_free(&out);
    return joined;
}

int s3_format_time(time_t t, char buf[32])
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1970) {
        buf[0] = '\0';
        return -1;
    }
    if (strftime(buf, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

#define S3_VERSION_SEP "?versionId="

char *s3_location_format(const char *key, const char *version_id)
{
    char *enc, *out;

    if (version_id == NULL || *version_id == '\0' || strcmp(version_id, "null") == 0)
        return xstrdup(key);
    enc = s3_uri_encode(version_id, 0);
    out = xasprintf("%s" S3_VERSION_SEP "%s", key, enc);
    free(enc);
    return out;
}

static int s3_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int s3_location_parse(const char *location, char **key_r, char **version_r)
{
    const char *sep = location != NULL ? strstr(location, S3_VERSION_SEP) : NULL;
    size_t key_len;

    *key_r = NULL;
    *version_r = NULL;
    if (location == NULL)
        return -1;
    key_len = sep != NULL ? (size_t)(sep - location) : strlen(location);
    /* S3 keys are at most 1024 bytes: a longer one was never stored, and
     * is refused here rather than sent. */
    if (key_len > S3_KEY_MAX || !s3_key_ok(location, key_len))
        return -1;
    if (sep != NULL) {
        const char *v = sep + strlen(S3_VERSION_SEP);
        char *out = xmalloc(strlen(v) + 1), *o = out;
        if (*v == '\0')
            goto bad;
        for (; *v != '\0'; v++) {
            if (*v == '%') {
                int hi = s3_hexval((unsigned char)v[1]);
                int lo = hi >= 0 ? s3_hexval((unsigned char)v[2]) : -1;
                if (lo < 0 || (hi == 0 && lo == 0))
                    goto bad;
                *o++ = (char)(hi * 16 + lo);
                v += 2;
            } else if (isalnum((unsigned char)*v) || strchr("-_.~", *v) != NULL) {
                *o++ = *v;
            } else {
                goto bad;
            }
        }
        *o = '\0';
        *version_r = out;
        *key_r = xstrndup(location, key_len);
        return 0;
    bad:
        free(out);
        return -1;
    }
    *key_r = xstrndup(location, key_len);
    return 0;
}

/* Decode the five predefined entities and numeric ASCII ones. */
static char *s3_xml_unescape(const char *s, size_t len)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *out = xmalloc(len + 1), *o = out;
    size_t i = 0;

    while (i < len) {
        size_t k;
        if (s[i] != '&') {
            *o++ = s[i++];
            continue;
        }
        for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
            size_t n = strlen(ents[k].ent);
            if (i + n <= len && strncmp(s + i, ents[k].ent, n) == 0) {
                *o++ = ents[k].c;
                i += n;
                break;
            }
        }
        if (k == sizeof(ents) / sizeof(ents[0])) {
            if (i + 3 < len && s[i + 1] == '#' && s[i + 2] == '3' && s[i + 3] == '4' &&
                i + 4 < len && s[i + 4] == ';') {
                *o++ = '"';
                i += 5;
            } else {
                *o++ = s[i++];
            }
        }
    }
    *o = '\0';
    return out;
}

char *s3_xml_element(const char *xml, const char *tag, const char **next_r)
{
    size_t tlen = strlen(tag);
    const char *p = xml, *start, *end;

    if (xml == NULL)
        return NULL;
    /* "<Tag>" or "<Tag attr=...>", never "<TagOther>" */
    for (;;) {
        p = strchr(p, '<');
        if (p == NULL)
            return NULL;
        if (strncmp(p + 1, tag, tlen) == 0 &&
            (p[1 + tlen] == '>' || p[1 + tlen] == ' ' || p[1 + tlen] == '/'))
            break;
        p++;
    }
    start = strchr(p, '>');
    if (start == NULL)
        return NULL;
    if (start[-1] == '/') { /* <Tag/> */
        if (next_r != NULL)
            *next_r = start + 1;
        return xstrdup("");
    }
    start++;
    end = start;
    for (;;) {
        end = strstr(end, "</");
        if (end == NULL)
            return NULL;
        if (strncmp(end + 2, tag, tlen) == 0 && end[2 + tlen] == '>')
            break;
        end += 2;
    }
    if (next_r != NULL)
        *next_r = end + 3 + tlen;
    return xstrndup(start, (size_t)(end - start));
}

char *s3_xml_value(const char *xml, const char *tag)
{
    char *raw = s3_xml_element(xml, tag, NULL);
    char *out;

    if (raw == NULL)
        return NULL;
    out = s3_xml_unescape(raw, strlen(raw));
    free(raw);
    return out;
}

char *s3_xml_escape(const char *s)
{
    size_t len = strlen(s);
    char *out = xmalloc(len * 6 + 1), *o = out;

    for (; *s != '\0'; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&apos;"
                                     : NULL;
        if (e != NULL) {
            size_t n = strlen(e);
            memcpy(o, e, n);
            o += n;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

long long s3_retention_days(const char *period)
{
    struct retention r;
    const char *why;

    if (period == NULL || retention_parse(period, &r, &why) < 0)
        return -1;
    if (!r.set)
        return 0;
    switch (r.unit) {
    case 'd':
        return r.count;
    case 'w':
        return 7LL * r.count;
    default: /* 'y': at most one leap day in every started four years */
        return 365LL * r.count + (r.count + 3) / 4;
    }
}

char *s3_lifecycle_xml(const char *prefix, long long days)
{
    char *p = s3_xml_escape(prefix);
    char *out =
        xasprintf("<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<Rule><ID>" TAB_S3_LIFECYCLE_RULE "</ID>"
                  "<Filter><Prefix>%s%s</Prefix></Filter>"
                  "<Status>Enabled</Status>"
                  "<Expiration><Days>%lld</Days></Expiration>"
                  "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                  "</NoncurrentVersionExpiration>"
                  "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                  "</AbortIncompleteMultipartUpload>"
                  "</Rule></LifecycleConfiguration>",
                  p, *prefix != '\0' ? "/" : "", days);
    free(p);
    return out;
}

int s3_is_config_error(long status, const char *code)
{
    return status == 403 || strcmp(code, "NoSuchBucket") == 0 ||
           strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
           strcmp(code, "AuthorizationHeaderMalformed") == 0;
}

enum tab_result s3_classify(enum s3_op op, int transport_ok, long status, const char *code)
{
    if (!transport_ok)
        return TAB_RETRY;
    if (status >= 200 && status < 300)
        return TAB_OK;
    if (op == S3_OP_PUT)
        return TAB_RETRY; /* an archive copy is never refused for good */
    if (status >= 500 || status == 408 || status == 429 || strcmp(code, "SlowDown") == 0 ||
        strcmp(code, "RequestTimeout") == 0 || strcmp(code, "RequestTimeTooSkewed") == 0 ||
        strcmp(code, "NoSuchBucket") == 0)
        return TAB_RETRY;
    if (status == 403) {
        /* Refused by Object Lock or a legal hold: asking again will not
         * help. Bad keys and signatures are configuration: retry. */
        if ((op == S3_OP_REMOVE || op == S3_OP_HOLD) && strcmp(code, "AccessDenied") == 0)
            return TAB_PERM;
        return TAB_RETRY;
    }
    if (status == 404 && op == S3_OP_REMOVE)
        return TAB_OK; /* already gone */
    if (op == S3_OP_BUCKET)
        return TAB_RETRY;
    return TAB_PERM;
}
