/*
 * NAME
 *	s3 3h
 * SUMMARY
 *	the S3 store: names (pure), the signed-request client, bucket settings
 * SYNOPSIS
 *	archive_store = s3:https://s3.example.com/archive-bucket/mail
 * DESCRIPTION
 *	Three parts, three files (and s3_retention.c on top of them):
 *
 *	s3_names.c: everything that is a pure function of its input and
 *	unit-tested as such: the store spec, the object key layout, URI
 *	encoding and canonical query strings, retain-until dates, catalog
 *	locations, the few XML values S3 answers with, lifecycle rules, and
 *	which HTTP outcome is worth retrying.
 *
 *	s3_client.c: one libcurl easy handle per store (connections are
 *	reused across deliveries), Signature V4 by CURLOPT_AWS_SIGV4, bodies
 *	streamed from a file descriptor range or a small memory buffer,
 *	responses streamed to a descriptor or kept (bounded) for parsing.
 *	Credentials come from s3_credentials_file or AWS_ACCESS_KEY_ID /
 *	AWS_SECRET_ACCESS_KEY and never appear in a message.
 *
 *	s3_store.c: the store driver (backends/store.h) and the bucket-level
 *	requests (Object Lock and lifecycle configuration) that
 *	s3_retention.c turns into the public store_retention.h calls
 *	`tabularium retention` uses.
 */
#ifndef TAB_S3_H
#define TAB_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backends/store.h"
#include "backends/store_retention.h"
#include "common/config.h"
#include "common/result.h"

/* ---- s3_names.c: pure functions ---- */

/* "http(s)://host[:port]/bucket[/prefix]" taken apart. */
struct s3_target {
    char *scheme; /* "http" or "https" */
    char *host;   /* as written: "s3.example.com", "127.0.0.1", "[::1]" */
    int port;     /* 0: the scheme's default */
    char *bucket;
    char *prefix; /* "" or "a/b": no leading or trailing '/' */
};

/* 0 ok; -1 and a message of this module (valid until the next call).
 * Accepts bucket names of 3-63 characters [a-z0-9.-] and prefixes of [A-Za-z0-9._-/] (no "..", no
 * "//"), so a key never needs more than plain percent-encoding. */
int s3_target_parse(const char *url, struct s3_target *t, const char **error_r);
void s3_target_free(struct s3_target *t);

/* "prefix/YYYY/MM/DD/<archive id>.eml" (UTC date of arrival). Heap. */
char *s3_object_key(const char *prefix, time_t arrival, const char *archive_id);

/* RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
 * stay, '/' stays when keep_slash. Heap. */
char *s3_uri_encode(const char *s, int keep_slash);

/* A canonical query string from n name/value pairs (pairs[2i] name,
 * pairs[2i+1] value, NULL value = ""): encoded, sorted by name, every
 * name with its "=". Heap; "" for n == 0. */
char *s3_query(const char *const *pairs, size_t n);

/* ISO 8601 UTC with milliseconds, as S3 writes dates:
 * "2033-11-25T19:04:36.000Z". buf >= 32. -1 when t is not representable. */
int s3_format_time(time_t t, char buf[32]);

/* Catalog location: the object key, plus "?versionId=V" (V encoded) when
 * the bucket is versioned. Heap. */
char *s3_location_format(const char *key, const char *version_id);
/* The longest object key S3 accepts, in bytes. */
#define S3_KEY_MAX 1024
/* Split a location; 0 ok, -1 when it is not one s3_location_format()
 * could have written (the key contains what a key never does, or is
 * longer than S3_KEY_MAX). Heap strings; *version_r NULL when there is
 * none. */
int s3_location_parse(const char *location, char **key_r, char **version_r);

/* The text of the first <tag>...</tag> (or <tag/>) in xml, the five
 * predefined entities decoded; heap, NULL when absent or xml is NULL. */
char *s3_xml_value(const char *xml, const char *tag);
/* The raw inner text of the first <tag>...</tag> element in xml; heap,
 * NULL when absent; *next_r (if not NULL) points after its end tag. */
char *s3_xml_element(const char *xml, const char *tag, const char **next_r);
/* s with & < > " ' escaped for XML text. Heap. */
char *s3_xml_escape(const char *s);

/* Lifecycle days for a retention_period: never fewer than the period
 * (years count 366 days where a leap day may fall). 0 for "" (keep
 * forever), -1 for a bad value. */
long long s3_retention_days(const char *period);
/* The lifecycle configuration `tabularium retention apply` writes: one
 * rule TAB_S3_LIFECYCLE_RULE for prefix ("" = the whole bucket). Heap. */
char *s3_lifecycle_xml(const char *prefix, long long days);
#define TAB_S3_LIFECYCLE_RULE STORE_RETENTION_RULE

/* What a finished request means. op_get: 404 is final (the object is
 * gone); op_put: nothing is final. */
enum s3_op { S3_OP_PUT, S3_OP_GET, S3_OP_REMOVE, S3_OP_HOLD, S3_OP_BUCKET };
enum tab_result s3_classify(enum s3_op op, int transport_ok, long status, const char *code);
/* 1 when status/code mean the credentials or the bucket's permissions are
 * wrong (configuration, not a passing fault). */
int s3_is_config_error(long status, const char *code);

/* ---- s3_client.c: signed requests ---- */

struct s3_client;

struct s3_request {
    const char *method; /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *key;    /* NULL: the bucket itself */
    const char *query;  /* canonical (s3_query()), NULL = none */
    /* Extra headers "Name: value", NULL-terminated; never a bare "Expect:". */
    const char *const *headers;
    /* The body: from memory, or len bytes of fd from offset (streamed). */
    const char *body;
    size_t body_len;
    int body_fd; /* -1: the memory body (or none) */
    off_t body_offset;
    uint64_t body_fd_len;
    const char *payload_sha256; /* hex of the body; NULL: computed (memory) */
    int out_fd;                 /* >= 0: a 2xx body goes there, else it is kept */
};

struct s3_response {
    int transport_ok; /* 0: no HTTP answer (connection, timeout, TLS) */
    long status;
    char transport_error[256];
    char *body; /* kept body (NUL-terminated, at most 1 MiB), or NULL */
    size_t body_len;
    char code[64];     /* S3 error code from an XML error body, or "" */
    char message[256]; /* its Message */
    char version_id[256];
    char etag[128];
    char request_id[128];
    int out_errno; /* writing to out_fd failed */
};

/* NULL and a message of this module (valid until the next call) when the
 * credentials cannot be read. */
struct s3_client *s3_client_new(const struct s3_target *t, const struct tab_config *cfg,
                                const char **error_r);
void s3_client_free(struct s3_client **c);
/* Perform one request. Returns 0 when an HTTP answer came (any status),
 * -1 otherwise (rs->transport_error says why). rs is reset first; call
 * s3_response_clear() after. */
int s3_client_perform(struct s3_client *c, const struct s3_request *rq, struct s3_response *rs);
void s3_response_clear(struct s3_response *rs);
/* "HTTP 503 SlowDown (Please reduce your request rate.)" or
 * "connection: Failed to connect to ..." into buf. */
const char *s3_response_describe(const struct s3_response *rs, char *buf, size_t size);
/* Read "access_key_id = X" / "secret_access_key = Y" from file, which
 * must not be readable by group or others. 0 ok, -1 and a message, as
 * s3_client_new(). */
int s3_credentials_load(const char *file, char **access_r, char **secret_r, const char **error_r);

/* ---- s3_store.c: bucket settings, for s3_retention.c ---- */

/* The bucket's lifecycle configuration XML (heap, NULL when it has none:
 * then *error_r is NULL too) and Object Lock configuration XML (heap,
 * NULL when none). TAB_OK, or a result and a message. */
enum tab_result s3_store_bucket_config(struct store *st, char **lifecycle_r, char **lock_r,
                                       const char **error_r);
/* PUT the lifecycle configuration xml. */
enum tab_result s3_store_put_lifecycle(struct store *st, const char *xml, const char **error_r);
/* The configured prefix and bucket of an s3 store (st->name is "s3"). */
const char *s3_store_prefix(struct store *st);
const char *s3_store_bucket(struct store *st);

#endif
