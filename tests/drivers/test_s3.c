/*
 * NAME
 *	test_s3 1
 * SUMMARY
 *	unit tests of the S3 store: pure parts always, the driver on a radosgw
 * DESCRIPTION
 *	Always: store spec parsing (good and hostile URLs), the key layout,
 *	URI encoding and canonical query strings (sorted by name, "=" after
 *	every name), retain-until formatting, catalog locations (round trip
 *	and refusal of keys that leave the prefix), the XML reader, lifecycle
 *	days and XML, the retry policy table, the credentials file check.
 *
 *	With TAB_S3_ENDPOINT (http://host:port), TAB_S3_ACCESS_KEY and
 *	TAB_S3_SECRET_KEY set (tests/integration/s3.test starts a Ceph
 *	radosgw and runs this program), the driver through the store API
 *	(backends/store.h), as `tabularium hold` and `expire` call it: the
 *	store conformance suite (store_conformance.h) on a bucket with
 *	Object Lock, legal hold included; then what only S3 shows:
 *	COMPLIANCE and GOVERNANCE objects whose version delete is refused
 *	(TAB_PERM) and that stay readable; a legal hold that refuses the
 *	delete until it is released, then remove() works and get() says
 *	TAB_PERM; remove() of a gone version is TAB_OK; a lock mode on a
 *	bucket without Object Lock fails at open with a clear message; a
 *	multipart upload (12 MiB in 5 MiB parts) read back byte for byte,
 *	with no upload left pending; a bad secret and an unreachable
 *	endpoint give TAB_RETRY with the S3 code or the connection error,
 *	and the secret never appears in a message. Without the variables
 *	that part is skipped with a note (s3.test always runs it).
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/record.h"
#include "backends/s3/s3.h"
#include "backends/store.h"
#include "common/archive_id.h"
#include "common/config.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strlist.h"

#include "tests/drivers/store_conformance.h"
#include "tests/unit/check.h"

static void test_target(void)
{
    struct s3_target t;
    const char *err = NULL;

    /* NULL and -1: not checked */
    static const struct {
        const char *url, *scheme, *host;
        int port;
        const char *bucket, *prefix;
    } good[] = {
        {"https://s3.example.com:9000/my-bucket/mail/archive/", "https", "s3.example.com", 9000,
         "my-bucket", "mail/archive"},
        {"http://127.0.0.1/bkt", "http", NULL, 0, "bkt", ""},
        {"http://[::1]:7480/b.k-t/", NULL, "[::1]", 7480, NULL, ""},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(s3_target_parse(good[i].url, &t, &err) == 0);
        if (good[i].scheme != NULL)
            CHECK_STR(t.scheme, good[i].scheme);
        if (good[i].host != NULL)
            CHECK_STR(t.host, good[i].host);
        if (good[i].port >= 0)
            CHECK(t.port == good[i].port);
        if (good[i].bucket != NULL)
            CHECK_STR(t.bucket, good[i].bucket);
        if (good[i].prefix != NULL)
            CHECK_STR(t.prefix, good[i].prefix);
        s3_target_free(&t);
    }

    static const char *bad[] = {
        "ftp://h/bucket",
        "https://h",
        "https://h/",
        "https://h/AB",
        "https://h/Bucket",
        "https://h/-bucket",
        "https://h/bucket/../x",
        "https://h/bucket/a//b",
        "https://h/bucket/a b",
        "https://h/bucket/./x",
        "https://u:pw@h/bucket",
        "https://h/bucket?x=1",
        "https://h:0/bucket",
        "https://h:99999/bucket",
        "https://h:/bucket",
        "https://h/bucket/p%2F",
        "https:///bucket",
        "https://[::1/bucket",
        "https://h/bucket/x\ny",
        "https://h/" /* 64 */ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        int r = s3_target_parse(bad[i], &t, &err);
        CHECK(r == -1);
        CHECK(err != NULL);
        if (r == 0) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
            s3_target_free(&t);
        }
    }
    /* the message names the problem */
    err = NULL;
    CHECK(s3_target_parse("https://user:secret@h/bucket", &t, &err) == -1);
    CHECK(err != NULL && strstr(err, "s3_credentials_file") != NULL);
}

static void test_key_and_encoding(void)
{
    char *s;

    /* 2023-11-14T22:13:20Z; just before midnight UTC stays on its day */
    s = s3_object_key("mail", 1700000000, "6B07323743BF200AF68C");
    CHECK_STR(s, "mail/2023/11/14/6B07323743BF200AF68C.eml");
    free(s);
    s = s3_object_key("", 1700006399, "6B07323743BF200AF68C");
    CHECK_STR(s, "2023/11/14/6B07323743BF200AF68C.eml");
    free(s);
    s = s3_object_key("a/b", 1700006400, "6B07323743BF200AF68C");
    CHECK_STR(s, "a/b/2023/11/15/6B07323743BF200AF68C.eml");
    free(s);

    s = s3_uri_encode("a b/c~d_e-f.g+h=i&\xc3\xa9", 1);
    CHECK_STR(s, "a%20b/c~d_e-f.g%2Bh%3Di%26%C3%A9");
    free(s);
    s = s3_uri_encode("a/b", 0);
    CHECK_STR(s, "a%2Fb");
    free(s);

    const char *p1[] = {"versionId", "x/y+z", "legal-hold", NULL};
    s = s3_query(p1, 2);
    CHECK_STR(s, "legal-hold=&versionId=x%2Fy%2Bz");
    free(s);
    const char *p2[] = {"uploadId", "2~abc", "partNumber", "10"};
    s = s3_query(p2, 2);
    CHECK_STR(s, "partNumber=10&uploadId=2~abc");
    free(s);
    /* sorted by name, not by "name=value": "a" before "a-b" */
    const char *p3[] = {"a-b", "1", "a", "2"};
    s = s3_query(p3, 2);
    CHECK_STR(s, "a=2&a-b=1");
    free(s);
    s = s3_query(NULL, 0);
    CHECK_STR(s, "");
    free(s);
}

static void test_time_and_location(void)
{
    char buf[32];
    char *key, *ver, *s;

    CHECK(s3_format_time(0, buf) == 0);
    CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
    CHECK(s3_format_time(2000000000, buf) == 0);
    CHECK_STR(buf, "2033-05-18T03:33:20.000Z");
    CHECK(s3_format_time(-1, buf) == -1);

    s = s3_location_format("mail/2026/11/25/X.eml", "1hUk0U+yx/W~f_-.");
    CHECK_STR(s, "mail/2026/11/25/X.eml?versionId=1hUk0U%2Byx%2FW~f_-.");
    CHECK(s3_location_parse(s, &key, &ver) == 0);
    CHECK_STR(key, "mail/2026/11/25/X.eml");
    CHECK_STR(ver, "1hUk0U+yx/W~f_-.");
    free(key);
    free(ver);
    free(s);
    s = s3_location_format("k.eml", NULL);
    CHECK_STR(s, "k.eml");
    free(s);
    s = s3_location_format("k.eml", "null"); /* unversioned bucket */
    CHECK_STR(s, "k.eml");
    free(s);
    CHECK(s3_location_parse("2026/01/02/A.eml", &key, &ver) == 0);
    CHECK_STR(key, "2026/01/02/A.eml");
    CHECK(ver == NULL);
    free(key);

    static const char *bad[] = {"",
                                "../etc/passwd",
                                "/abs.eml",
                                "a//b.eml",
                                "a/./b",
                                "a/../b",
                                "a b.eml",
                                "a.eml?versionId=",
                                "a.eml?versionId=x&y",
                                "a.eml?versionId=%zz",
                                "a.eml?versionId=%00",
                                "a.eml?partNumber=1",
                                "new/1.A.host"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = s3_location_parse(bad[i], &key, &ver);
        /* "new/1.A.host" is a valid key (a maildir location is not an
         * s3 one, but nothing unsafe either) */
        if (i == sizeof(bad) / sizeof(bad[0]) - 1) {
            CHECK(r == 0);
            free(key);
            free(ver);
            continue;
        }
        CHECK(r == -1);
        if (r == 0)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        free(key);
        free(ver);
    }
    CHECK(s3_location_parse(NULL, &key, &ver) == -1);
    /* S3's longest key passes, one byte more is refused */
    char *longest = xmalloc(S3_KEY_MAX + 2);
    memset(longest, 'k', S3_KEY_MAX + 1);
    longest[S3_KEY_MAX] = '\0';
    CHECK(s3_location_parse(longest, &key, &ver) == 0);
    free(key);
    free(ver);
    longest[S3_KEY_MAX] = 'k';
    longest[S3_KEY_MAX + 1] = '\0';
    CHECK(s3_location_parse(longest, &key, &ver) == -1);
    free(longest);
}

static void test_xml(void)
{
    const char *err = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><CodeX>no</CodeX>"
                      "<Message>Please &lt;slow&gt; &amp; &quot;down&quot;</Message></Error>";
    const char *lc = "<LifecycleConfiguration xmlns=\"x\"><Rule><ID>a</ID></Rule>"
                     "<Rule><ID>b</ID><Filter/></Rule></LifecycleConfiguration>";
    const char *next;
    char *s;

    s = s3_xml_value(err, "Code");
    CHECK_STR(s, "SlowDown");
    free(s);
    s = s3_xml_value(err, "Message");
    CHECK_STR(s, "Please <slow> & \"down\"");
    free(s);
    CHECK(s3_xml_value(err, "RequestId") == NULL);
    CHECK(s3_xml_value(NULL, "Code") == NULL);
    CHECK(s3_xml_value("<Code>unterminated", "Code") == NULL);
    s = s3_xml_element(lc, "LifecycleConfiguration", NULL);
    CHECK(s != NULL && strncmp(s, "<Rule><ID>a</ID></Rule>", 23) == 0);
    free(s);
    s = s3_xml_element(lc, "Rule", &next);
    CHECK_STR(s, "<ID>a</ID>");
    free(s);
    s = s3_xml_element(next, "Rule", &next);
    CHECK_STR(s, "<ID>b</ID><Filter/>");
    free(s);
    CHECK(s3_xml_element(next, "Rule", &next) == NULL);
    s = s3_xml_value("<Filter/>", "Filter");
    CHECK_STR(s, "");
    free(s);
    s = s3_xml_escape("a<b>&\"c'");
    CHECK_STR(s, "a&lt;b&gt;&amp;&quot;c&apos;");
    free(s);
}

static void test_retention_and_policy(void)
{
    char *s;

    CHECK(s3_retention_days("") == 0);
    CHECK(s3_retention_days("90d") == 90);
    CHECK(s3_retention_days("2w") == 14);
    CHECK(s3_retention_days("1y") == 366);
    CHECK(s3_retention_days("4y") == 1461);
    CHECK(s3_retention_days("7y") == 2557);
    CHECK(s3_retention_days("7x") == -1);
    CHECK(s3_retention_days(NULL) == -1);

    s = s3_lifecycle_xml("mail", 2557);
    CHECK(strstr(s, "<ID>" TAB_S3_LIFECYCLE_RULE "</ID>") != NULL);
    CHECK(strstr(s, "<Filter><Prefix>mail/</Prefix></Filter>") != NULL);
    CHECK(strstr(s, "<Expiration><Days>2557</Days></Expiration>") != NULL);
    CHECK(strstr(s, "<NoncurrentDays>1</NoncurrentDays>") != NULL);
    CHECK(strstr(s, "<Status>Enabled</Status>") != NULL);
    free(s);
    s = s3_lifecycle_xml("", 5);
    CHECK(strstr(s, "<Filter><Prefix></Prefix></Filter>") != NULL);
    free(s);

    /* put: never PERM */
    CHECK(s3_classify(S3_OP_PUT, 0, 0, "") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_PUT, 1, 200, "") == TAB_OK);
    CHECK(s3_classify(S3_OP_PUT, 1, 400, "InvalidRequest") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_PUT, 1, 403, "SignatureDoesNotMatch") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_PUT, 1, 404, "NoSuchBucket") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_PUT, 1, 503, "SlowDown") == TAB_RETRY);
    /* get */
    CHECK(s3_classify(S3_OP_GET, 1, 404, "NoSuchKey") == TAB_PERM);
    CHECK(s3_classify(S3_OP_GET, 1, 404, "NoSuchBucket") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_GET, 1, 403, "InvalidAccessKeyId") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_GET, 1, 500, "InternalError") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_GET, 1, 429, "") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_GET, 1, 400, "SlowDown") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_GET, 0, 0, "") == TAB_RETRY);
    /* remove */
    CHECK(s3_classify(S3_OP_REMOVE, 1, 204, "") == TAB_OK);
    CHECK(s3_classify(S3_OP_REMOVE, 1, 404, "NoSuchKey") == TAB_OK);
    CHECK(s3_classify(S3_OP_REMOVE, 1, 403, "AccessDenied") == TAB_PERM);
    CHECK(s3_classify(S3_OP_REMOVE, 1, 403, "SignatureDoesNotMatch") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_REMOVE, 1, 503, "") == TAB_RETRY);
    CHECK(s3_classify(S3_OP_HOLD, 1, 400, "InvalidRequest") == TAB_PERM);
    CHECK(s3_is_config_error(403, "AccessDenied"));
    CHECK(s3_is_config_error(404, "NoSuchBucket"));
    CHECK(!s3_is_config_error(503, "SlowDown"));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(text, f);
    CHECK(fclose(f) == 0);
    CHECK(chmod(path, mode) == 0);
}

static void test_credentials(const char *dir)
{
    char path[4200];
    char *a = NULL, *s = NULL;
    const char *err = NULL;

    snprintf(path, sizeof(path), "%s/creds", dir);
    write_file(path, "# test\naccess_key_id = AK1\n  secret_access_key=SK 2 \n", 0644);
    CHECK(s3_credentials_load(path, &a, &s, &err) == -1);
    CHECK(err != NULL && strstr(err, "group or others") != NULL && strstr(err, "SK 2") == NULL);
    err = NULL;
    CHECK(chmod(path, 0600) == 0);
    CHECK(s3_credentials_load(path, &a, &s, &err) == 0);
    CHECK_STR(a, "AK1");
    CHECK_STR(s, "SK 2");
    free(a);
    free(s);
    write_file(path, "access_key_id = AK1\n", 0600);
    CHECK(s3_credentials_load(path, &a, &s, &err) == -1);
    CHECK(err != NULL && strstr(err, "needs access_key_id and secret_access_key") != NULL);
    err = NULL;
    write_file(path, "access_key_id = AK1\nsecret_access_key = hunter2\npassword = x\n", 0600);
    CHECK(s3_credentials_load(path, &a, &s, &err) == -1);
    CHECK(err != NULL && strstr(err, "unknown name") != NULL && strstr(err, "hunter2") == NULL);
}

/* ---- against a real radosgw ---- */

static const char *endpoint, *access_key, *secret_key;
static const char *tmp;
static int bucket_seq;

static void cfg_set(struct tab_config *cfg, const char *name, const char *value)
{
    const char *err = NULL;
    if (config_set(cfg, name, value, &err) < 0) {
        fprintf(stderr, "config_set %s: %s\n", name, err);
        exit(2);
    }
}

static void cfg_finish(struct tab_config *cfg)
{
    const char *err = NULL;
    if (config_finish(cfg, &err) < 0) {
        fprintf(stderr, "config_finish: %s\n", err);
        exit(2);
    }
}

/* Create a bucket (with Object Lock when lock) named test-<pid>-<n>. */
static char *make_bucket(int lock)
{
    struct tab_config cfg;
    struct s3_target t;
    struct s3_client *c;
    struct s3_response rs;
    char *url;
    const char *err = NULL;
    const char *hdrs[] = {"x-amz-bucket-object-lock-enabled: true", NULL};
    char *name = xasprintf("ut-%ld-%d", (long)getpid(), ++bucket_seq);

    config_init(&cfg);
    url = xasprintf("%s/%s", endpoint, name);
    CHECK(s3_target_parse(url, &t, &err) == 0);
    c = s3_client_new(&t, &cfg, &err);
    CHECK(c != NULL);
    struct s3_request rq = {
        .method = "PUT", .headers = lock ? hdrs : NULL, .body_fd = -1, .out_fd = -1};
    CHECK(c != NULL && s3_client_perform(c, &rq, &rs) == 0);
    CHECK(rs.status == 200);
    s3_response_clear(&rs);
    s3_client_free(&c);
    s3_target_free(&t);
    free(url);
    config_free(&cfg);
    return name;
}

/* A record for the file at path (its hashes and size). */
static void make_record(struct archive_record *rec, const char *path, time_t retain_until)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;

    memset(rec, 0, sizeof(*rec));
    archive_id_new(rec->archive_id);
    rec->queue_id = xstrdup("4XyZ1\r\nX-Evil: 1");
    rec->arrival = time(NULL);
    rec->retain_until = retain_until;
    CHECK(fd >= 0 && fstat(fd, &sb) == 0);
    rec->wrapped_size = (uint64_t)sb.st_size;
    rec->size = rec->wrapped_size;
    CHECK(sha256_fd(fd, -1, rec->wrapped_sha256) == 0);
    memcpy(rec->sha256, rec->wrapped_sha256, sizeof(rec->sha256));
    close(fd);
}

static struct store *open_store(const char *bucket, const char *lock_mode, const char *retention,
                                struct tab_config *cfg, const char **err)
{
    char *spec = xasprintf("s3:%s/%s/pre/fix", endpoint, bucket);
    struct store *st;

    config_init(cfg);
    cfg_set(cfg, "retention_period", retention);
    cfg_set(cfg, "s3_object_lock_mode", lock_mode);
    cfg_set(cfg, "s3_multipart_threshold", "5m");
    cfg_set(cfg, "s3_part_size", "5m");
    cfg_set(cfg, "s3_connect_timeout", "2s");
    cfg_set(cfg, "s3_timeout", "10s");
    cfg_finish(cfg);
    st = store_open(spec, cfg, err);
    free(spec);
    return st;
}

/* put the file, check the location, read it back byte for byte. */
static char *put_and_check(struct store *st, const char *path, time_t retain_until, int versioned)
{
    struct archive_record rec;
    char *location = NULL, *back = NULL;
    const char *err = NULL;
    char outpath[4200], *want, *got;
    size_t want_len = 0, got_len = 0;
    int fd = open(path, O_RDONLY), out;
    enum tab_result r;

    make_record(&rec, path, retain_until);
    r = st->put(st, &rec, fd, path, &location, &err);
    CHECK(r == TAB_OK);
    if (r != TAB_OK)
        fprintf(stderr, "  put: %s\n", err);
    close(fd);
    if (location != NULL) {
        char *prefix = s3_object_key("pre/fix", rec.arrival, rec.archive_id);
        CHECK(strncmp(location, prefix, strlen(prefix)) == 0);
        CHECK((strstr(location, "?versionId=") != NULL) == versioned);
        free(prefix);
        snprintf(outpath, sizeof(outpath), "%s/back", tmp);
        out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(st->get(st, location, out, &err) == TAB_OK);
        close(out);
        want = check_slurp(path, &want_len);
        got = check_slurp(outpath, &got_len);
        CHECK(want != NULL && got != NULL && want_len == got_len &&
              memcmp(want, got, want_len) == 0);
        free(want);
        free(got);
    }
    free(back);
    record_free(&rec);
    return location;
}

static enum tab_result get_to_null(struct store *st, const char *location, const char **err)
{
    int out = open("/dev/null", O_WRONLY);
    enum tab_result r = st->get(st, location, out, err);
    close(out);
    return r;
}

/* Put the file at path as a new archive copy (a record made for it). */
static enum tab_result put_file(struct store *st, const char *path, char **location,
                                const char **err)
{
    struct archive_record rec;
    int fd = open(path, O_RDONLY);
    enum tab_result r;

    make_record(&rec, path, 0);
    r = st->put(st, &rec, fd, path, location, err);
    close(fd);
    record_free(&rec);
    return r;
}

static void test_server(void)
{
    struct tab_config cfg;
    const char *err = NULL;
    char small[4200], big[4200];
    char *lock_bucket = make_bucket(1), *plain_bucket = make_bucket(0);
    struct store *st;
    char *loc;
    time_t until = time(NULL) + 3600;

    snprintf(small, sizeof(small), "%s/small.eml", tmp);
    write_file(small, "From: a@x.test\r\nSubject: s3\r\n\r\nbody\r\n", 0600);

    /* COMPLIANCE: the server refuses to delete the version; GOVERNANCE:
     * refused without the bypass header (we never send it) */
    for (int governance = 0; governance < 2; governance++) {
        st = open_store(lock_bucket, governance ? "governance" : "compliance", "1d", &cfg, &err);
        CHECK(st != NULL);
        if (st != NULL) {
            loc = put_and_check(st, small, until, 1);
            CHECK(loc != NULL && st->remove(st, loc, &err) == TAB_PERM);
            if (!governance)
                CHECK(err != NULL && strstr(err, "AccessDenied") != NULL);
            CHECK(loc != NULL && get_to_null(st, loc, &err) == TAB_OK);
            free(loc);
            store_close(&st);
        }
        config_free(&cfg);
    }

    /* legal hold on an object without retention */
    st = open_store(lock_bucket, "none", "", &cfg, &err);
    CHECK(st != NULL);
    if (st != NULL) {
        loc = put_and_check(st, small, 0, 1);
        CHECK(st->legal_hold != NULL);
        CHECK(loc != NULL && st->legal_hold(st, loc, 1, &err) == TAB_OK);
        CHECK(loc != NULL && st->remove(st, loc, &err) == TAB_PERM);
        CHECK(loc != NULL && get_to_null(st, loc, &err) == TAB_OK);
        CHECK(loc != NULL && st->legal_hold(st, loc, 0, &err) == TAB_OK);
        CHECK(loc != NULL && st->remove(st, loc, &err) == TAB_OK);
        CHECK(loc != NULL && get_to_null(st, loc, &err) == TAB_PERM);
        CHECK(err != NULL && strstr(err, "not found") != NULL);
        CHECK(loc != NULL && st->remove(st, loc, &err) == TAB_OK); /* already gone */
        free(loc);
        CHECK(get_to_null(st, "pre/fix/2020/01/01/00000000000000000000.eml", &err) == TAB_PERM);
        CHECK(get_to_null(st, "../../x", &err) == TAB_PERM);
        store_close(&st);
    }
    config_free(&cfg);

    /* the store conformance suite, legal hold included: a bucket with
     * Object Lock, objects without retention; 5 MiB parts, so the big
     * file goes up in two */
    st = open_store(lock_bucket, "none", "", &cfg, &err);
    CHECK(st != NULL);
    if (st != NULL) {
        struct store_conformance conf = {.st = st,
                                         .dir = tmp,
                                         .unknown_location =
                                             "pre/fix/2020/01/01/00000000000000000000.eml",
                                         .legal_hold = 1};
        store_conformance(&conf);
        store_close(&st);
    }
    config_free(&cfg);

    /* a lock mode on a bucket without Object Lock: open fails, says why */
    err = NULL;
    st = open_store(plain_bucket, "compliance", "1d", &cfg, &err);
    CHECK(st == NULL);
    CHECK(err != NULL && strstr(err, "no Object Lock configuration") != NULL);
    store_close(&st);
    config_free(&cfg);

    /* multipart: 12 MiB of varied bytes in 5 MiB parts, unversioned bucket */
    snprintf(big, sizeof(big), "%s/big.eml", tmp);
    {
        FILE *f = fopen(big, "w");
        uint32_t x = 12345;
        CHECK(f != NULL);
        for (long i = 0; f != NULL && i < 12L * 1024 * 1024 + 7; i++) {
            x = x * 1103515245u + 12345u;
            fputc((int)(x >> 16) & 0xff, f);
        }
        CHECK(f != NULL && fclose(f) == 0);
    }
    st = open_store(plain_bucket, "none", "", &cfg, &err);
    CHECK(st != NULL);
    if (st != NULL) {
        loc = put_and_check(st, big, 0, 0);
        CHECK(loc != NULL);
        free(loc);
        /* nothing left pending */
        struct s3_target t;
        char *url = xasprintf("%s/%s", endpoint, plain_bucket);
        const char *e2 = NULL;
        CHECK(s3_target_parse(url, &t, &e2) == 0);
        struct s3_client *c = s3_client_new(&t, &cfg, &e2);
        struct s3_request rq = {.method = "GET", .query = "uploads=", .body_fd = -1, .out_fd = -1};
        struct s3_response rs;
        CHECK(c != NULL && s3_client_perform(c, &rq, &rs) == 0 && rs.status == 200);
        CHECK(rs.body != NULL && strstr(rs.body, "<Upload>") == NULL);
        s3_response_clear(&rs);
        s3_client_free(&c);
        s3_target_free(&t);
        free(url);
        store_close(&st);
    }
    config_free(&cfg);

    /* a bad secret: RETRY with the S3 code, the secret not in the message */
    {
        char creds[4200];
        char *text =
            xasprintf("access_key_id = %s\nsecret_access_key = wrong-secret-XYZZY\n", access_key);
        snprintf(creds, sizeof(creds), "%s/bad-creds", tmp);
        write_file(creds, text, 0600);
        free(text);
        config_init(&cfg);
        cfg_set(&cfg, "s3_credentials_file", creds);
        cfg_finish(&cfg);
        char *spec = xasprintf("s3:%s/%s", endpoint, plain_bucket);
        st = store_open(spec, &cfg, &err);
        free(spec);
        CHECK(st != NULL);
        if (st != NULL) {
            char *location = NULL;
            CHECK(put_file(st, small, &location, &err) == TAB_RETRY);
            CHECK(location == NULL);
            CHECK(err != NULL && strstr(err, "SignatureDoesNotMatch") != NULL);
            CHECK(err != NULL && strstr(err, "XYZZY") == NULL);
            CHECK(get_to_null(st, "a.eml", &err) == TAB_RETRY);
            store_close(&st);
        }
        config_free(&cfg);
    }

    /* an endpoint nobody listens on: RETRY, a connection error */
    {
        config_init(&cfg);
        cfg_set(&cfg, "s3_connect_timeout", "2s");
        cfg_finish(&cfg);
        st = store_open("s3:http://127.0.0.1:1/bucket", &cfg, &err);
        CHECK(st != NULL);
        if (st != NULL) {
            char *location = NULL;
            CHECK(put_file(st, small, &location, &err) == TAB_RETRY);
            CHECK(err != NULL && strstr(err, "connection") != NULL);
            free(location);
            CHECK(st->remove(st, "a.eml", &err) == TAB_RETRY);
            store_close(&st);
        }
        config_free(&cfg);
    }
    free(lock_bucket);
    free(plain_bucket);
}

int main(void)
{
    log_init("test_s3", 1, 0);
    tmp = check_tmpdir("test_s3");
    test_target();
    test_key_and_encoding();
    test_time_and_location();
    test_xml();
    test_retention_and_policy();
    test_credentials(tmp);

    endpoint = getenv("TAB_S3_ENDPOINT");
    access_key = getenv("TAB_S3_ACCESS_KEY");
    secret_key = getenv("TAB_S3_SECRET_KEY");
    if (endpoint != NULL && *endpoint != '\0' && access_key != NULL && secret_key != NULL) {
        setenv("AWS_ACCESS_KEY_ID", access_key, 1);
        setenv("AWS_SECRET_ACCESS_KEY", secret_key, 1);
        test_server();
    } else {
        printf("note: TAB_S3_ENDPOINT not set: driver tests against radosgw skipped "
               "(tests/integration/s3.test runs them)\n");
    }
    return check_done();
}
