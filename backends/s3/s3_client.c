/*
 * NAME
 *	s3_client 3
 * SUMMARY
 *	signed S3 requests over one libcurl easy handle
 * SYNOPSIS
 *	#include "backends/s3/s3.h"
 *
 *	c = s3_client_new(&target, cfg, &error);
 *	struct s3_request rq = {.method = "GET", .key = key, .body_fd = -1, .out_fn = fn};
 *	if (s3_client_perform(c, &rq, &rs) == 0 && rs.status == 200) ...
 *	s3_response_clear(&rs);
 *	s3_client_free(&c);
 * DESCRIPTION
 *	Builds the URL (path-style or virtual-host addressing), signs with
 *	CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3" and sends. libcurl does not
 *	hash the payload for us, so every request carries
 *	x-amz-content-sha256: the caller's hash of a streamed body, or the
 *	hash of the memory body (or of nothing) computed here. Memory bodies
 *	also get Content-MD5, which S3 requires for lifecycle, legal hold and
 *	Object Lock settings.
 *
 *	A body streamed from a descriptor is read with pread() in the pieces
 *	libcurl asks for, so memory does not grow with its size, and a
 *	rewind (libcurl may resend after a redirect or a dropped reused
 *	connection) is a change of offset. A 2xx response body goes to the
 *	caller's out_fn as it arrives (the store's read() callback); any
 *	other body is kept (at most 1 MiB) and its S3 <Code> and <Message>
 *	extracted.
 *
 *	The easy handle is reset, not recreated, before each request:
 *	curl_easy_reset() keeps the connection cache, so a worker delivering
 *	many messages uses one TCP (and TLS) connection.
 *
 *	The secret key is given to libcurl and to nothing else: it is not in
 *	any message, URL or header this module builds.
 * DIAGNOSTICS
 *	s3_client_perform() returns -1 with transport_error for everything
 *	that is not an HTTP answer (connect, DNS, TLS, timeout, a body
 *	descriptor that cannot be read); 0 otherwise, whatever the status.
 *	s3_credentials_load() refuses a file that group or others may read.
 */
#include "backends/s3/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "common/strlist.h"

#define S3_KEPT_BODY_MAX (1024 * 1024)

struct s3_client {
    CURL *curl;
    char *base; /* "scheme://host[:port]/bucket" or "scheme://bucket.host[:port]" */
    int path_style;
    char *sigv4; /* "aws:amz:REGION:s3" */
    char *access;
    char *secret;
    char *ca_file; /* NULL: the system's */
    int verify;
    long connect_timeout;
    long timeout;
    char curl_error[CURL_ERROR_SIZE];
};

/* The state of one transfer, seen by the callbacks. */
struct s3_transfer {
    struct s3_client *c;
    const struct s3_request *rq;
    struct s3_response *rs;
    uint64_t sent;  /* body bytes handed to libcurl */
    int read_errno; /* the body descriptor failed */
    size_t kept_cap;
};

static char *s3_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* The last message of s3_credentials_load() or s3_client_new(), what
 * *error_r points at: no client owns it. */
static char *s3_client_error;

/* Keep text (heap) as the module's message. */
static void s3_client_fail(const char **error_r, char *text)
{
    free(s3_client_error);
    s3_client_error = text;
    *error_r = text;
}

int s3_credentials_load(const char *file, char **access_r, char **secret_r, const char **error_r)
{
    char line[1024];
    struct stat sb;
    FILE *fp;
    int lineno = 0;

    *access_r = NULL;
    *secret_r = NULL;
    fp = fopen(file, "re");
    if (fp == NULL) {
        s3_client_fail(error_r, xasprintf("s3_credentials_file %s: %s", file, strerror(errno)));
        return -1;
    }
    if (fstat(fileno(fp), &sb) < 0) {
        s3_client_fail(error_r, xasprintf("s3_credentials_file %s: %s", file, strerror(errno)));
        goto fail;
    }
    if ((sb.st_mode & 077) != 0) {
        s3_client_fail(
            error_r, xasprintf("s3_credentials_file %s is readable or writable by group or others "
                               "(mode %04o): refusing to use it; chmod 600 it and keep it owned by "
                               "the mail_owner account",
                               file, (unsigned int)(sb.st_mode & 07777)));
        goto fail;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *name, *value, *eq;
        lineno++;
        name = s3_trim(line);
        if (*name == '#' || *name == '\0' || *name == '[')
            continue;
        eq = strchr(name, '=');
        if (eq == NULL) {
            s3_client_fail(
                error_r,
                xasprintf("s3_credentials_file %s line %d: expected name = value", file, lineno));
            goto fail;
        }
        *eq = '\0';
        value = s3_trim(eq + 1);
        name = s3_trim(name);
        if (strcmp(name, "access_key_id") == 0 || strcmp(name, "aws_access_key_id") == 0) {
            free(*access_r);
            *access_r = xstrdup(value);
        } else if (strcmp(name, "secret_access_key") == 0 ||
                   strcmp(name, "aws_secret_access_key") == 0) {
            free(*secret_r);
            *secret_r = xstrdup(value);
        } else {
            s3_client_fail(error_r,
                           xasprintf("s3_credentials_file %s line %d: unknown name \"%.64s\" "
                                     "(access_key_id, secret_access_key)",
                                     file, lineno, name));
            goto fail;
        }
    }
    if (*access_r == NULL || **access_r == '\0' || *secret_r == NULL || **secret_r == '\0') {
        s3_client_fail(
            error_r,
            xasprintf("s3_credentials_file %s: needs access_key_id and secret_access_key", file));
        goto fail;
    }
    (void)fclose(fp); /* read-only */
    return 0;

fail:
    (void)fclose(fp);
    free(*access_r);
    if (*secret_r != NULL)
        OPENSSL_cleanse(*secret_r, strlen(*secret_r));
    free(*secret_r);
    *access_r = NULL;
    *secret_r = NULL;
    return -1;
}

struct s3_client *s3_client_new(const struct s3_target *t, const struct tab_config *cfg,
                                const char **error_r)
{
    struct s3_client *c = xcalloc(1, sizeof(*c));
    char port[16] = "";

    if (cfg->s3_credentials_file != NULL && *cfg->s3_credentials_file != '\0') {
        if (s3_credentials_load(cfg->s3_credentials_file, &c->access, &c->secret, error_r) < 0)
            goto fail;
    } else {
        const char *a = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
        if (a == NULL || *a == '\0' || s == NULL || *s == '\0') {
            s3_client_fail(error_r, xstrdup("no S3 credentials: set s3_credentials_file, or "
                                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
            goto fail;
        }
        c->access = xstrdup(a);
        c->secret = xstrdup(s);
    }
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        s3_client_fail(error_r, xstrdup("cannot create a libcurl handle"));
        goto fail;
    }
    if (t->port != 0)
        snprintf(port, sizeof(port), ":%d", t->port);
    c->path_style = strcmp(cfg->s3_addressing, "virtual") != 0;
    c->base = c->path_style ? xasprintf("%s://%s%s/%s", t->scheme, t->host, port, t->bucket)
                            : xasprintf("%s://%s.%s%s", t->scheme, t->bucket, t->host, port);
    c->sigv4 = xasprintf("aws:amz:%s:s3", cfg->s3_region);
    c->ca_file = cfg->s3_tls_ca_file != NULL && *cfg->s3_tls_ca_file != '\0'
                     ? xstrdup(cfg->s3_tls_ca_file)
                     : NULL;
    c->verify = strcmp(cfg->s3_tls_verify, "no") != 0;
    c->connect_timeout = cfg->s3_connect_timeout;
    c->timeout = cfg->s3_timeout;
    return c;

fail:
    s3_client_free(&c);
    return NULL;
}

void s3_client_free(struct s3_client **cp)
{
    struct s3_client *c = *cp;

    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    if (c->secret != NULL)
        OPENSSL_cleanse(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->access);
    free(c->base);
    free(c->sigv4);
    free(c->ca_file);
    free(c);
    *cp = NULL;
}

void s3_response_clear(struct s3_response *rs)
{
    free(rs->body);
    memset(rs, 0, sizeof(*rs));
}

static size_t s3_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct s3_transfer *tr = arg;
    const struct s3_request *rq = tr->rq;
    size_t want = size * nitems;
    uint64_t total = rq->body_fd >= 0 ? rq->body_fd_len : rq->body_len;
    uint64_t left = total - tr->sent;

    if (left < want)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (rq->body_fd < 0) {
        memcpy(buf, rq->body + tr->sent, want);
        tr->sent += want;
        return want;
    }
    for (;;) {
        ssize_t n = pread(rq->body_fd, buf, want, rq->body_offset + (off_t)tr->sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* A short spool file must not become a short object. */
            tr->read_errno = n < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        tr->sent += (uint64_t)n;
        return (size_t)n;
    }
}

static int s3_seek_cb(void *arg, curl_off_t offset, int origin)
{
    struct s3_transfer *tr = arg;

    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    tr->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t s3_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct s3_transfer *tr = arg;
    struct s3_response *rs = tr->rs;
    size_t len = size * nmemb;
    long status = 0;

    curl_easy_getinfo(tr->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (tr->rq->out_fn != NULL && status >= 200 && status < 300) {
        if (len > 0 && tr->rq->out_fn(tr->rq->out_ctx, data, len) != 0) {
            rs->out_stopped = 1;
            return 0; /* abort the transfer */
        }
        return len;
    }
    /* Keep what fits; an oversized error body is cut, not fatal. */
    if (rs->body_len + len > S3_KEPT_BODY_MAX)
        len = S3_KEPT_BODY_MAX - rs->body_len;
    /* The response owns the bytes; the buffer's size stays with the transfer. */
    struct buf kept = {rs->body, rs->body_len, tr->kept_cap};
    buf_add(&kept, data, len);
    rs->body = kept.data;
    rs->body_len = kept.len;
    tr->kept_cap = kept.size;
    return size * nmemb;
}

/* Copy a response header's value when its name matches. */
static void s3_header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t n = strlen(name), v;

    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    v = n + 1;
    while (v < len && (line[v] == ' ' || line[v] == '\t'))
        v++;
    while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    if (len - v >= size)
        return; /* longer than any real value: ignore rather than cut */
    memcpy(out, line + v, len - v);
    out[len - v] = '\0';
}

static size_t s3_header_cb(char *line, size_t size, size_t nitems, void *arg)
{
    struct s3_transfer *tr = arg;
    size_t len = size * nitems;

    s3_header_value(line, len, "x-amz-version-id", tr->rs->version_id, sizeof(tr->rs->version_id));
    s3_header_value(line, len, "ETag", tr->rs->etag, sizeof(tr->rs->etag));
    s3_header_value(line, len, "x-amz-request-id", tr->rs->request_id, sizeof(tr->rs->request_id));
    return len;
}

/* Base64 of the MD5 of a memory body, for Content-MD5. */
static void s3_content_md5(const char *body, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(body, len, md, &mdlen, EVP_md5(), NULL) != 1)
        abort(); /* MD5 is always in OpenSSL's default provider */
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

int s3_client_perform(struct s3_client *c, const struct s3_request *rq, struct s3_response *rs)
{
    struct s3_transfer tr;
    struct curl_slist *hdrs = NULL;
    char *url, *key_enc = NULL, *h;
    char sha[SHA256_HEX_SIZE];
    char md5[32];
    CURLcode cc;
    int ret = -1;
    int has_body = rq->body_fd >= 0 || rq->body != NULL;
    uint64_t body_len = rq->body_fd >= 0 ? rq->body_fd_len : rq->body_len;

    memset(rs, 0, sizeof(*rs));
    memset(&tr, 0, sizeof(tr));
    tr.c = c;
    tr.rq = rq;
    tr.rs = rs;

    if (rq->key != NULL)
        key_enc = s3_uri_encode(rq->key, 1);
    url = xasprintf("%s%s%s%s%s", c->base, rq->key != NULL ? "/" : (c->path_style ? "" : "/"),
                    key_enc != NULL ? key_enc : "", rq->query != NULL && *rq->query ? "?" : "",
                    rq->query != NULL ? rq->query : "");
    free(key_enc);

    if (rq->payload_sha256 != NULL) {
        snprintf(sha, sizeof(sha), "%s", rq->payload_sha256);
    } else {
        struct sha256_ctx *ctx = sha256_new();
        if (rq->body != NULL)
            sha256_update(ctx, rq->body, rq->body_len);
        sha256_final_hex(ctx, sha);
    }
    h = xasprintf("x-amz-content-sha256: %s", sha);
    hdrs = curl_slist_append(hdrs, h);
    free(h);
    if (rq->body != NULL && rq->body_len > 0) {
        s3_content_md5(rq->body, rq->body_len, md5);
        h = xasprintf("Content-MD5: %s", md5);
        hdrs = curl_slist_append(hdrs, h);
        free(h);
    }
    for (const char *const *p = rq->headers; p != NULL && *p != NULL; p++)
        hdrs = curl_slist_append(hdrs, *p);
    if (hdrs == NULL)
        abort();

    curl_easy_reset(c->curl); /* keeps the connection cache */
    c->curl_error[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(c->curl, CURLOPT_USERNAME, c->access);
    curl_easy_setopt(c->curl, CURLOPT_PASSWORD, c->secret);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
    /* s3_timeout: no progress (less than 1 byte/s) for that long. */
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, c->timeout);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
    if (c->ca_file != NULL)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, s3_write_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &tr);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, s3_header_cb);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &tr);
    if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (has_body || strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, s3_read_cb);
        curl_easy_setopt(c->curl, CURLOPT_READDATA, &tr);
        curl_easy_setopt(c->curl, CURLOPT_SEEKFUNCTION, s3_seek_cb);
        curl_easy_setopt(c->curl, CURLOPT_SEEKDATA, &tr);
    }

    cc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &rs->status);
    if (tr.read_errno != 0) {
        snprintf(rs->transport_error, sizeof(rs->transport_error),
                 "cannot read the body at offset %llu: %s",
                 (unsigned long long)(rq->body_offset + (off_t)tr.sent), strerror(tr.read_errno));
    } else if (rs->out_stopped) {
        snprintf(rs->transport_error, sizeof(rs->transport_error), "stopped by the reader");
    } else if (cc != CURLE_OK || rs->status == 0) {
        snprintf(rs->transport_error, sizeof(rs->transport_error), "connection: %.240s",
                 c->curl_error[0] != '\0' ? c->curl_error : curl_easy_strerror(cc));
    } else {
        rs->transport_ok = 1;
        ret = 0;
    }
    if (rs->body != NULL &&
        (rs->status < 200 || rs->status >= 300 || strstr(rs->body, "<Error>") != NULL)) {
        char *code = s3_xml_value(rs->body, "Code");
        char *msg = s3_xml_value(rs->body, "Message");
        if (code != NULL)
            snprintf(rs->code, sizeof(rs->code), "%s", code);
        if (msg != NULL)
            snprintf(rs->message, sizeof(rs->message), "%s", msg);
        free(code);
        free(msg);
    }
    curl_slist_free_all(hdrs);
    free(url);
    return ret;
}

const char *s3_response_describe(const struct s3_response *rs, char *buf, size_t size)
{
    if (!rs->transport_ok)
        snprintf(buf, size, "%s", rs->transport_error);
    else
        snprintf(buf, size, "HTTP %ld%s%s%s%s%s%s%s", rs->status, rs->code[0] ? " " : "", rs->code,
                 rs->message[0] ? " (" : "", rs->message, rs->message[0] ? ")" : "",
                 rs->request_id[0] ? " request_id=" : "", rs->request_id);
    return buf;
}
