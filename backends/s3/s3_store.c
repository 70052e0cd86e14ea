/*
 * NAME
 *	s3_store 3
 * SUMMARY
 *	archive store driver: one S3 object per archive message
 * SYNOPSIS
 *	archive_store = s3:https://s3.example.com/archive-bucket/mail
 *
 *	st = store_open("s3:https://host/bucket/prefix", cfg, &err);
 *	r = st->put(st, rec, fd, path, &location, &err);
 *		location: "mail/2026/11/25/<id>.eml?versionId=<v>"
 *	r = st->read(st, location, chunk_fn, ctx, &err);
 *	r = st->remove(st, location, &err);
 *	r = st->legal_hold(st, location, 1, &err);
 * DESCRIPTION
 *	put() uploads the wrapped copy as PREFIX/YYYY/MM/DD/<archive id>.eml
 *	(arrival date, UTC) with Content-Type message/rfc822 and metadata
 *	x-amz-meta-sha256 (the original), x-amz-meta-wrapped-sha256 and
 *	x-amz-meta-queue-id. x-amz-content-sha256 is the record's
 *	wrapped_sha256, so the server refuses an upload whose bytes differ
 *	from what the daemon hashed. With s3_object_lock_mode set, the
 *	object carries x-amz-object-lock-mode and
 *	x-amz-object-lock-retain-until-date (the record's retain_until) and
 *	Content-MD5, which S3 requires for locked uploads.
 *
 *	Copies larger than s3_multipart_threshold go up in parts of
 *	s3_part_size (more when 10000 parts would not do); each part is
 *	hashed in a first pass and streamed in a second, and the upload is
 *	aborted on any failure, so no half object and (with the lifecycle
 *	rule's AbortIncompleteMultipartUpload) no stray parts remain. Either
 *	way the body is read from the spool descriptor in small pieces: a
 *	worker's memory does not grow with the message.
 *
 *	The location is the key, plus the version id when the bucket
 *	answers with one (versioned buckets; Object Lock buckets always
 *	are), so read, remove and legal_hold act on exactly the version that
 *	was stored, never on a newer one with the same key.
 *
 *	When a lock mode is configured, opening checks the bucket's Object
 *	Lock configuration; a bucket without one is an open error (the
 *	daemon logs it at start and defers deliveries) rather than a stream
 *	of refused uploads. When the server cannot be reached at open, the
 *	check is made before the first upload instead. Without a lock mode
 *	the same request is a probe only: bad credentials, a missing bucket
 *	or an unreachable endpoint are logged at start, and the store opens
 *	anyway (the first upload will say it again, with 451).
 *
 *	Never deletes an object except in remove(), never removes or
 *	modifies the spool file, never logs a secret.
 * DIAGNOSTICS
 *	Messages are "s3 BUCKET: OPERATION KEY: HTTP 503 SlowDown (...)" or
 *	"...: connection: ...". put() returns only TAB_OK or TAB_RETRY: an
 *	archive copy is never refused for good because of the store. A 403
 *	(bad key, bad secret, missing permission) is also logged with
 *	log_error() as a configuration problem. read() returns TAB_PERM for a
 *	missing object or version and for a malformed location; remove()
 *	returns TAB_OK for a missing one and TAB_PERM when the server refuses
 *	(Object Lock retention or a legal hold: HTTP 403 AccessDenied).
 */
#include "backends/s3/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/archive_id.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strlist.h"

#define S3_MAX_PARTS 10000
#define S3_HASH_CHUNK (64 * 1024)

struct s3_store {
    struct store st; /* first: the driver calls receive &st */
    struct s3_target t;
    struct s3_client *c;
    const char *lock_mode; /* "COMPLIANCE", "GOVERNANCE" or NULL (static) */
    long long threshold;
    long long part_size;
    int lock_checked; /* the bucket's Object Lock configuration was seen */
    char error[1024];
};

static char s3_open_error[1024];

static enum tab_result s3_fail(struct s3_store *s, enum tab_result r, const char **error_r,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum tab_result s3_fail(struct s3_store *s, enum tab_result r, const char **error_r,
                               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
    *error_r = s->error;
    return r;
}

/* The result of a finished request, with a message for anything but OK,
 * and the loud configuration error for credentials and permissions. */
static enum tab_result s3_outcome(struct s3_store *s, enum s3_op op, const char *what,
                                  const char *key, const struct s3_response *rs,
                                  const char **error_r)
{
    char desc[512];
    enum tab_result r = s3_classify(op, rs->transport_ok, rs->status, rs->code);

    /* CompleteMultipartUpload may answer 200 with an <Error> body. */
    if (r == TAB_OK && rs->code[0] != '\0')
        r = TAB_RETRY;
    if (r == TAB_OK)
        return TAB_OK;
    s3_response_describe(rs, desc, sizeof(desc));
    s3_fail(s, r, error_r, "s3 %s: %s %s: %s", s->t.bucket, what, key != NULL ? key : "", desc);
    if (rs->transport_ok && s3_is_config_error(rs->status, rs->code) &&
        !(r == TAB_PERM && strcmp(rs->code, "AccessDenied") == 0))
        log_error("s3 %s: configuration problem: %s %s was refused with %s: check the "
                  "credentials (s3_credentials_file or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
                  "s3_region and the bucket's permissions; deliveries are deferred (451) "
                  "until this is fixed and tabulariumd is reloaded",
                  s->t.bucket, what, key != NULL ? key : "", desc);
    return r;
}

/* 0: Object Lock enabled; 1: definitely not (the message says why);
 * -1: could not tell now. */
static int s3_check_lock(struct s3_store *s, const char **error_r)
{
    struct s3_request rq = {.method = "GET", .query = "object-lock=", .body_fd = -1};
    struct s3_response rs;
    char desc[512];
    int ret = -1;

    s3_client_perform(s->c, &rq, &rs);
    s3_response_describe(&rs, desc, sizeof(desc));
    if (rs.transport_ok && rs.status == 200) {
        char *enabled = s3_xml_value(rs.body, "ObjectLockEnabled");
        if (enabled != NULL && strcmp(enabled, "Enabled") == 0) {
            s->lock_checked = 1;
            ret = 0;
        } else {
            s3_fail(s, TAB_RETRY, error_r,
                    "s3 %s: s3_object_lock_mode = %s but the bucket's Object Lock is not "
                    "enabled: create the bucket with Object Lock (docs/s3.md)",
                    s->t.bucket, s->lock_mode);
            ret = 1;
        }
        free(enabled);
    } else if (rs.transport_ok && ((rs.status == 404 && strcmp(rs.code, "NoSuchBucket") != 0) ||
                                   strstr(rs.code, "ObjectLock") != NULL)) {
        s3_fail(s, TAB_RETRY, error_r,
                "s3 %s: s3_object_lock_mode = %s but the bucket has no Object Lock "
                "configuration (%s): create the bucket with Object Lock enabled (docs/s3.md) or "
                "set s3_object_lock_mode = none",
                s->t.bucket, s->lock_mode, desc);
        ret = 1;
    } else {
        s3_outcome(s, S3_OP_BUCKET, "GET", "?object-lock", &rs, error_r);
        ret = -1;
    }
    s3_response_clear(&rs);
    return ret;
}

/* Without a lock mode: one request at open, so that bad credentials, a
 * missing bucket or an unreachable endpoint show in the start-up log
 * rather than with the first delivery. Never fails the open. */
static void s3_probe(struct s3_store *s)
{
    struct s3_request rq = {.method = "GET", .query = "object-lock=", .body_fd = -1};
    struct s3_response rs;
    const char *why = NULL;

    s3_client_perform(s->c, &rq, &rs);
    if (!(rs.transport_ok &&
          (rs.status == 200 || (rs.status == 404 && strcmp(rs.code, "NoSuchBucket") != 0)))) {
        /* s3_outcome() logs configuration problems as errors itself. */
        s3_outcome(s, S3_OP_BUCKET, "GET", "?object-lock", &rs, &why);
        if (!rs.transport_ok || !s3_is_config_error(rs.status, rs.code))
            log_warn("%s", why);
    }
    s3_response_clear(&rs);
}

/* Hash len bytes of fd from off: SHA-256 (hex) and MD5 (base64). */
static int s3_hash_range(int fd, off_t off, uint64_t len, char sha[SHA256_HEX_SIZE], char md5[32])
{
    char *buf = xmalloc(S3_HASH_CHUNK);
    struct sha256_ctx *sctx = sha256_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    uint64_t done = 0;
    int ret = -1, saved = 0;

    if (mctx == NULL || EVP_DigestInit_ex(mctx, EVP_md5(), NULL) != 1)
        abort();
    while (done < len) {
        size_t want = len - done < S3_HASH_CHUNK ? (size_t)(len - done) : S3_HASH_CHUNK;
        ssize_t n = pread(fd, buf, want, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            saved = n < 0 ? errno : EIO;
            goto out;
        }
        sha256_update(sctx, buf, (size_t)n);
        EVP_DigestUpdate(mctx, buf, (size_t)n);
        done += (uint64_t)n;
    }
    ret = 0;
out:
    sha256_final_hex(sctx, sha);
    EVP_DigestFinal_ex(mctx, md, &mdlen);
    EVP_EncodeBlock((unsigned char *)md5, md, (int)mdlen);
    EVP_MD_CTX_free(mctx);
    free(buf);
    errno = saved;
    return ret;
}

/* A header-safe queue id: Postfix's are [0-9A-Za-z]; anything else is
 * percent-encoded so no byte of the envelope can end a header. */
static char *s3_meta_value(const char *s)
{
    return s3_uri_encode(s != NULL ? s : "", 0);
}

/* l's strings as a NULL-terminated array for s3_request.headers: the
 * array is heap (free it), the strings stay l's. */
static const char **s3_headers_v(const struct strlist *l)
{
    const char **v = xcalloc(l->n + 1, sizeof(*v));

    for (size_t i = 0; i < l->n; i++)
        v[i] = l->v[i];
    return v;
}

static enum tab_result s3_put_single(struct s3_store *s, const char *key,
                                     const struct archive_record *rec, int fd, struct strlist *hdrs,
                                     struct s3_response *rs, const char **error_r)
{
    struct s3_request rq = {.method = "PUT", .key = key, .body_fd = fd};
    char sha[SHA256_HEX_SIZE], md5[32];

    if (s->lock_mode != NULL) {
        if (s3_hash_range(fd, 0, rec->wrapped_size, sha, md5) < 0)
            return s3_fail(s, TAB_RETRY, error_r, "s3 %s: PUT %s: cannot read the spool file: %s",
                           s->t.bucket, key, strerror(errno));
        if (strcmp(sha, rec->wrapped_sha256) != 0)
            return s3_fail(s, TAB_RETRY, error_r,
                           "s3 %s: PUT %s: the spool file's SHA-256 %s differs from the "
                           "archive message's %s",
                           s->t.bucket, key, sha, rec->wrapped_sha256);
        char *h = xasprintf("Content-MD5: %s", md5);
        strlist_add(hdrs, h);
        free(h);
    }
    const char **v = s3_headers_v(hdrs);
    rq.headers = v;
    rq.body_fd_len = rec->wrapped_size;
    rq.payload_sha256 = rec->wrapped_sha256;
    s3_client_perform(s->c, &rq, rs);
    free(v);
    return s3_outcome(s, S3_OP_PUT, "PUT", key, rs, error_r);
}

static void s3_abort_upload(struct s3_store *s, const char *key, const char *upload_id)
{
    const char *pairs[] = {"uploadId", upload_id};
    char *q = s3_query(pairs, 1);
    struct s3_request rq = {.method = "DELETE", .key = key, .query = q, .body_fd = -1};
    struct s3_response rs;
    char desc[512];

    s3_client_perform(s->c, &rq, &rs);
    if (!rs.transport_ok || (rs.status != 204 && rs.status != 200 && rs.status != 404))
        log_warn("s3 %s: cannot abort multipart upload of %s: %s (the lifecycle rule's "
                 "AbortIncompleteMultipartUpload removes the parts)",
                 s->t.bucket, key, s3_response_describe(&rs, desc, sizeof(desc)));
    s3_response_clear(&rs);
    free(q);
}

/* One request with an XML body (key NULL: the bucket itself); rs as
 * s3_client_perform() leaves it. */
static void s3_perform_xml(struct s3_store *s, const char *method, const char *key,
                           const char *query, const char *body, struct s3_response *rs)
{
    const char *hdrs[] = {"Content-Type: application/xml", NULL};
    struct s3_request rq = {.method = method,
                            .key = key,
                            .query = query,
                            .headers = hdrs,
                            .body = body,
                            .body_len = strlen(body),
                            .body_fd = -1};

    s3_client_perform(s->c, &rq, rs);
}

static enum tab_result s3_put_multipart(struct s3_store *s, const char *key,
                                        const struct archive_record *rec, int fd,
                                        struct strlist *hdrs, struct s3_response *final,
                                        const char **error_r)
{
    uint64_t size = rec->wrapped_size;
    uint64_t part = (uint64_t)s->part_size;
    uint64_t nparts;
    struct strlist etags = STRLIST_INIT;
    struct strlist xml = STRLIST_INIT;
    char *upload_id = NULL, *body = NULL;
    struct s3_response rs;
    enum tab_result r;

    if (size / part >= S3_MAX_PARTS)
        part = size / (S3_MAX_PARTS - 1);
    nparts = (size + part - 1) / part;

    /* CreateMultipartUpload: the object's headers go here. */
    {
        const char **v = s3_headers_v(hdrs);
        struct s3_request rq = {
            .method = "POST", .key = key, .query = "uploads=", .headers = v, .body_fd = -1};
        s3_client_perform(s->c, &rq, &rs);
        free(v);
        r = s3_outcome(s, S3_OP_PUT, "POST ?uploads", key, &rs, error_r);
        if (r == TAB_OK) {
            upload_id = s3_xml_value(rs.body, "UploadId");
            if (upload_id == NULL || *upload_id == '\0')
                r = s3_fail(s, TAB_RETRY, error_r, "s3 %s: POST ?uploads %s: no UploadId",
                            s->t.bucket, key);
        }
        s3_response_clear(&rs);
        if (r != TAB_OK)
            goto out;
    }

    for (uint64_t i = 0; i < nparts; i++) {
        off_t off = (off_t)(i * part);
        uint64_t len = size - i * part < part ? size - i * part : part;
        char sha[SHA256_HEX_SIZE], md5[32], num[24];
        char *h, *q;

        if (s3_hash_range(fd, off, len, sha, md5) < 0) {
            r = s3_fail(s, TAB_RETRY, error_r, "s3 %s: PUT %s part %llu: cannot read: %s",
                        s->t.bucket, key, (unsigned long long)i + 1, strerror(errno));
            goto out;
        }
        snprintf(num, sizeof(num), "%llu", (unsigned long long)i + 1);
        const char *pairs[] = {"partNumber", num, "uploadId", upload_id};
        q = s3_query(pairs, 2);
        h = xasprintf("Content-MD5: %s", md5);
        const char *phdrs[] = {h, NULL};
        struct s3_request rq = {.method = "PUT",
                                .key = key,
                                .query = q,
                                .headers = phdrs,
                                .body_fd = fd,
                                .body_offset = off,
                                .body_fd_len = len,
                                .payload_sha256 = sha};
        s3_client_perform(s->c, &rq, &rs);
        free(q);
        free(h);
        char what[48];
        snprintf(what, sizeof(what), "PUT part %s of", num);
        r = s3_outcome(s, S3_OP_PUT, what, key, &rs, error_r);
        if (r == TAB_OK && rs.etag[0] == '\0')
            r = s3_fail(s, TAB_RETRY, error_r, "s3 %s: %s %s: no ETag", s->t.bucket, what, key);
        if (r == TAB_OK)
            strlist_add(&etags, rs.etag);
        s3_response_clear(&rs);
        if (r != TAB_OK)
            goto out;
    }

    strlist_add(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < etags.n; i++) {
        char *e = s3_xml_escape(etags.v[i]);
        char *p = xasprintf("<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, e);
        strlist_add(&xml, p);
        free(p);
        free(e);
    }
    strlist_add(&xml, "</CompleteMultipartUpload>");
    body = strlist_join(&xml, "");
    {
        const char *pairs[] = {"uploadId", upload_id};
        char *q = s3_query(pairs, 1);
        s3_perform_xml(s, "POST", key, q, body, final);
        free(q);
        r = s3_outcome(s, S3_OP_PUT, "POST ?uploadId (complete)", key, final, error_r);
    }

out:
    if (r != TAB_OK && upload_id != NULL)
        s3_abort_upload(s, key, upload_id);
    free(upload_id);
    free(body);
    strlist_free(&etags);
    strlist_free(&xml);
    return r;
}

static enum tab_result s3_put(struct store *st, const struct archive_record *rec, int fd,
                              const char *path, char **location_r, const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    struct strlist hdrs = STRLIST_INIT;
    struct s3_response rs;
    struct stat sb;
    char *key = NULL, *h, *q;
    enum tab_result r;

    (void)path;
    *location_r = NULL;
    memset(&rs, 0, sizeof(rs));
    if (!archive_id_valid(rec->archive_id))
        return s3_fail(s, TAB_RETRY, error_r, "s3 %s: archive id \"%.*s\" is not valid",
                       s->t.bucket, ARCHIVE_ID_LEN, rec->archive_id);
    if (s->lock_mode != NULL && !s->lock_checked && s3_check_lock(s, error_r) != 0)
        return TAB_RETRY;
    if (fstat(fd, &sb) < 0)
        return s3_fail(s, TAB_RETRY, error_r, "s3 %s: cannot stat the spool file: %s", s->t.bucket,
                       strerror(errno));
    if ((uint64_t)sb.st_size != rec->wrapped_size)
        return s3_fail(s, TAB_RETRY, error_r,
                       "s3 %s: the spool file has %lld bytes, the archive message %llu",
                       s->t.bucket, (long long)sb.st_size, (unsigned long long)rec->wrapped_size);

    key = s3_object_key(s->t.prefix, rec->arrival > 0 ? rec->arrival : time(NULL), rec->archive_id);
    strlist_add(&hdrs, "Content-Type: message/rfc822");
    h = xasprintf("x-amz-meta-sha256: %s", rec->sha256);
    strlist_add(&hdrs, h);
    free(h);
    h = xasprintf("x-amz-meta-wrapped-sha256: %s", rec->wrapped_sha256);
    strlist_add(&hdrs, h);
    free(h);
    q = s3_meta_value(rec->queue_id);
    if (*q != '\0') {
        h = xasprintf("x-amz-meta-queue-id: %s", q);
        strlist_add(&hdrs, h);
        free(h);
    }
    free(q);
    if (s->lock_mode != NULL) {
        char until[32];
        /* A lock mode promises WORM: never upload an unlocked copy. */
        if (rec->retain_until <= 0 || s3_format_time(rec->retain_until, until) < 0) {
            r = s3_fail(s, TAB_RETRY, error_r,
                        "s3 %s: s3_object_lock_mode = %s needs a retain-until date; the "
                        "record has %lld (is retention_period set?)",
                        s->t.bucket, s->lock_mode, (long long)rec->retain_until);
            goto out;
        }
        h = xasprintf("x-amz-object-lock-mode: %s", s->lock_mode);
        strlist_add(&hdrs, h);
        free(h);
        h = xasprintf("x-amz-object-lock-retain-until-date: %s", until);
        strlist_add(&hdrs, h);
        free(h);
    }

    if ((long long)rec->wrapped_size > s->threshold)
        r = s3_put_multipart(s, key, rec, fd, &hdrs, &rs, error_r);
    else
        r = s3_put_single(s, key, rec, fd, &hdrs, &rs, error_r);
    if (r == TAB_OK)
        *location_r = s3_location_format(key, rs.version_id);
out:
    s3_response_clear(&rs);
    strlist_free(&hdrs);
    free(key);
    return r;
}

/* The key and the canonical versionId query of a location. */
static enum tab_result s3_location(struct s3_store *s, const char *location, char **key_r,
                                   char **query_r, const char **error_r)
{
    char *version = NULL;

    *query_r = NULL;
    if (s3_location_parse(location, key_r, &version) < 0)
        return s3_fail(s, TAB_PERM, error_r, "s3 %s: bad location \"%.200s\"", s->t.bucket,
                       location != NULL ? location : "");
    if (version != NULL) {
        const char *pairs[] = {"versionId", version};
        *query_r = s3_query(pairs, 1);
    }
    free(version);
    return TAB_OK;
}

/* method (GET into out_fn, DELETE) on the object at location, and the
 * outcome. rs is for the caller to read and clear; it stays zeroed (no
 * transport_ok) when location is bad. */
static enum tab_result s3_object_call(struct s3_store *s, const char *method, enum s3_op op,
                                      const char *location, store_chunk_fn *out_fn, void *out_ctx,
                                      struct s3_response *rs, const char **error_r)
{
    char *key, *query;
    enum tab_result r;

    memset(rs, 0, sizeof(*rs));
    r = s3_location(s, location, &key, &query, error_r);
    if (r != TAB_OK)
        return r;
    struct s3_request rq = {.method = method,
                            .key = key,
                            .query = query,
                            .body_fd = -1,
                            .out_fn = out_fn,
                            .out_ctx = out_ctx};
    s3_client_perform(s->c, &rq, rs);
    r = s3_outcome(s, op, method, location, rs, error_r);
    free(key);
    free(query);
    return r;
}

static enum tab_result s3_read(struct store *st, const char *location, store_chunk_fn *fn,
                               void *ctx, const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    struct s3_response rs;
    enum tab_result r = s3_object_call(s, "GET", S3_OP_GET, location, fn, ctx, &rs, error_r);

    if (rs.out_stopped)
        r = TAB_STOPPED;
    else if (r == TAB_PERM && rs.status == 404)
        s3_fail(s, TAB_PERM, error_r, "s3 %s: %s: not found (%s)", s->t.bucket, location,
                rs.code[0] != '\0' ? rs.code : "HTTP 404");
    s3_response_clear(&rs);
    return r;
}

static enum tab_result s3_remove(struct store *st, const char *location, const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    struct s3_response rs;
    enum tab_result r =
        s3_object_call(s, "DELETE", S3_OP_REMOVE, location, NULL, NULL, &rs, error_r);

    /* A refusal by the server, not a bad location (transport failures retry). */
    if (r == TAB_PERM && rs.transport_ok)
        s3_fail(s, TAB_PERM, error_r,
                "s3 %s: DELETE %s refused by the server (Object Lock retention or legal hold): "
                "%s %s",
                s->t.bucket, location, rs.code, rs.message);
    s3_response_clear(&rs);
    return r;
}

static enum tab_result s3_legal_hold(struct store *st, const char *location, int on,
                                     const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    char *key, *vq, *query;
    struct s3_response rs;
    enum tab_result r = s3_location(s, location, &key, &vq, error_r);
    const char *body = on ? "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                            "<Status>ON</Status></LegalHold>"
                          : "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                            "<Status>OFF</Status></LegalHold>";

    if (r != TAB_OK)
        return r;
    /* "legal-hold=" sorts before "versionId=". */
    query = xasprintf("legal-hold=%s%s", vq != NULL ? "&" : "", vq != NULL ? vq : "");
    s3_perform_xml(s, "PUT", key, query, body, &rs);
    r = s3_outcome(s, S3_OP_HOLD, on ? "PUT legal hold ON" : "PUT legal hold OFF", location, &rs,
                   error_r);
    s3_response_clear(&rs);
    free(key);
    free(vq);
    free(query);
    return r;
}

static void s3_close(struct store *st)
{
    struct s3_store *s = (struct s3_store *)st;

    s3_client_free(&s->c);
    s3_target_free(&s->t);
    free(s);
    curl_global_cleanup();
}

/* GET ?name= of the bucket: the body (heap), NULL when the bucket has no
 * such configuration (404); a result and a message otherwise. */
static enum tab_result s3_bucket_get(struct s3_store *s, const char *name, char **body_r,
                                     const char **error_r)
{
    char *query = xasprintf("%s=", name);
    char *what = xasprintf("GET ?%s", name);
    struct s3_request rq = {.method = "GET", .query = query, .body_fd = -1};
    struct s3_response rs;
    enum tab_result r;

    *body_r = NULL;
    s3_client_perform(s->c, &rq, &rs);
    if (rs.transport_ok && rs.status == 404 && strcmp(rs.code, "NoSuchBucket") != 0) {
        r = TAB_OK;
    } else {
        r = s3_outcome(s, S3_OP_BUCKET, what, "", &rs, error_r);
        if (r == TAB_OK) {
            *body_r = rs.body != NULL ? rs.body : xstrdup("");
            rs.body = NULL;
        }
    }
    s3_response_clear(&rs);
    free(query);
    free(what);
    return r;
}

enum tab_result s3_store_bucket_config(struct store *st, char **lifecycle_r, char **lock_r,
                                       const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    enum tab_result r;

    *lock_r = NULL;
    r = s3_bucket_get(s, "lifecycle", lifecycle_r, error_r);
    if (r == TAB_OK)
        r = s3_bucket_get(s, "object-lock", lock_r, error_r);
    if (r != TAB_OK) {
        free(*lifecycle_r);
        *lifecycle_r = NULL;
    }
    return r;
}

enum tab_result s3_store_put_lifecycle(struct store *st, const char *xml, const char **error_r)
{
    struct s3_store *s = (struct s3_store *)st;
    struct s3_response rs;
    enum tab_result r;

    s3_perform_xml(s, "PUT", NULL, "lifecycle=", xml, &rs);
    r = s3_outcome(s, S3_OP_BUCKET, "PUT ?lifecycle", "", &rs, error_r);
    s3_response_clear(&rs);
    return r;
}

const char *s3_store_prefix(struct store *st)
{
    return ((struct s3_store *)st)->t.prefix;
}

const char *s3_store_bucket(struct store *st)
{
    return ((struct s3_store *)st)->t.bucket;
}

struct store *store_s3_open(const char *spec, const struct tab_config *cfg, const char **error_r)
{
    struct s3_store *s = xcalloc(1, sizeof(*s));
    const char *error = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(s);
        snprintf(s3_open_error, sizeof(s3_open_error), "s3: cannot initialise libcurl");
        *error_r = s3_open_error;
        return NULL;
    }
    s->st.name = "s3";
    s->st.put = s3_put;
    s->st.read = s3_read;
    s->st.remove = s3_remove;
    s->st.legal_hold = s3_legal_hold;
    s->st.close = s3_close;
    if (s3_target_parse(spec, &s->t, &error) < 0)
        goto fail;
    s->c = s3_client_new(&s->t, cfg, &error);
    if (s->c == NULL)
        goto fail;
    /* S3's smallest part is 5 MiB (config.c enforces it; a caller that
     * skipped config_finish() must not divide by zero). */
    s->threshold =
        cfg->s3_multipart_threshold >= 5LL << 20 ? cfg->s3_multipart_threshold : 64LL << 20;
    s->part_size = cfg->s3_part_size >= 5LL << 20 ? cfg->s3_part_size : 16LL << 20;
    if (strcmp(cfg->s3_object_lock_mode, "compliance") == 0)
        s->lock_mode = "COMPLIANCE";
    else if (strcmp(cfg->s3_object_lock_mode, "governance") == 0)
        s->lock_mode = "GOVERNANCE";
    if (s->lock_mode != NULL) {
        const char *why = NULL;
        int lock = s3_check_lock(s, &why);
        if (lock > 0) {
            error = why;
            goto fail;
        }
        if (lock < 0)
            log_warn("%s; the Object Lock check is repeated before the first upload", why);
    } else {
        s3_probe(s);
    }
    return &s->st;

fail:
    snprintf(s3_open_error, sizeof(s3_open_error), "%s", error != NULL ? error : "s3: failed");
    *error_r = s3_open_error;
    s3_close(&s->st);
    return NULL;
}
