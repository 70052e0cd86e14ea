/*
 * NAME
 *	test_import_mbox 1
 * SUMMARY
 *	unit test for import/import_mbox.c: the mbox reader of tabularium import
 * DESCRIPTION
 *	Reads mbox files written here and checks each message's bytes, hash,
 *	sequence number, resume offset and From_ line: mboxrd unquoting
 *	(">From " and ">>From "), mboxo (">>From " kept), a "From " line after
 *	text or without a time of day kept as body, mboxcl2 by its
 *	Content-Length (with a From_-like line inside the body), a tail that
 *	ends inside a line and a Content-Length past the end (rejected, the
 *	messages before intact), text before the first From_ line, a line
 *	longer than the reader's buffer with quoted lines around its edges,
 *	CRLF separators, and import_source_seek() back to a resume offset.
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sha256.h"
#include "common/strlist.h"
#include "import/import_source.h"
#include "tests/unit/check.h"

static char dir[] = "/tmp/test_import_mbox.XXXXXX";

static char *write_file(const char *name, const char *data, size_t len)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    CHECK(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0);
    return path;
}

/* The message's bytes as a string (heap). */
static char *msg_bytes(const struct import_msg *m)
{
    char *b = xmalloc(m->size + 1);

    CHECK(pread(m->fd, b, m->size, 0) == (ssize_t)m->size);
    b[m->size] = '\0';
    return b;
}

static void check_hash(const struct import_msg *m, const char *bytes, size_t len)
{
    struct sha256_ctx *c = sha256_new();
    char hex[SHA256_HEX_SIZE];

    sha256_update(c, bytes, len);
    sha256_final_hex(c, hex);
    CHECK_STR(m->sha256, hex);
    CHECK(m->size == len);
}

/* Read every message of path; the bytes of each (or "REJECT: why") in out. */
static void read_all(const char *path, const char *format, struct strlist *out)
{
    const char *error = NULL;
    struct import_source *src = import_source_open(path, format, dir, &error);
    struct import_msg m;
    int r;

    CHECK(src != NULL);
    if (src == NULL)
        return;
    memset(&m, 0, sizeof(m));
    while ((r = import_source_next(src, &m, &error)) == 1) {
        char *b = msg_bytes(&m);
        if (m.reject != NULL) {
            char *s = xasprintf("REJECT: %s", m.reject);
            strlist_add(out, s);
            free(s);
        } else {
            check_hash(&m, b, strlen(b));
            strlist_add(out, b);
        }
        free(b);
    }
    CHECK(r == 0);
    free(m.from_line_sender);
    import_source_close(&src);
    CHECK(src == NULL);
}

static const char rd[] = "From alice@example.org Mon Jan  6 10:00:00 2020\n"
                         "From: alice@example.org\n"
                         "\n"
                         ">From quoted once\n"
                         ">>From quoted twice\n"
                         "From after text, kept\n"
                         "\n"
                         "From no-time-of-day 2020 kept\n"
                         "\n"
                         "\n"
                         "From bob@example.com Tue Jan  7 11:30:00 2020\n"
                         "From: bob@example.com\n"
                         "\n"
                         "two\n"
                         "\n";

static void test_rd_and_o(void)
{
    struct strlist out = STRLIST_INIT;
    char *path = write_file("rd.mbox", rd, strlen(rd));

    read_all(path, NULL, &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK_STR(out.v[0], "From: alice@example.org\n\nFrom quoted once\n>From quoted twice\n"
                            "From after text, kept\n\nFrom no-time-of-day 2020 kept\n\n");
        CHECK_STR(out.v[1], "From: bob@example.com\n\ntwo\n");
    }
    strlist_free(&out);
    read_all(path, "mboxo", &out);
    CHECK(out.n == 2);
    if (out.n == 2)
        CHECK(strstr(out.v[0], "\n>>From quoted twice\n") != NULL &&
              strstr(out.v[0], "\nFrom quoted once\n") != NULL);
    strlist_free(&out);

    /* The From_ line's sender and date; seq and resume; seek back. */
    const char *error = NULL;
    struct import_source *src = import_source_open(path, NULL, dir, &error);
    struct import_msg m;
    uint64_t resume1;
    memset(&m, 0, sizeof(m));
    CHECK(import_source_next(src, &m, &error) == 1);
    CHECK_STR(m.from_line_sender, "alice@example.org");
    CHECK(m.from_line_time == 1578304800);
    CHECK(m.seq == 1);
    resume1 = m.resume;
    CHECK(resume1 == (uint64_t)(strstr(rd, "From bob") - rd));
    CHECK(import_source_next(src, &m, &error) == 1 && m.seq == 2 && m.resume == strlen(rd));
    CHECK(import_source_next(src, &m, &error) == 0);
    CHECK(import_source_seek(src, 1, resume1, "", &error) == 0);
    CHECK(import_source_next(src, &m, &error) == 1 && m.seq == 2);
    CHECK_STR(m.from_line_sender, "bob@example.com");
    CHECK(import_source_seek(src, 1, strlen(rd) + 1, "", &error) == 1); /* past the end */
    CHECK(import_source_seek(src, 1, resume1 + 1, "", &error) == 1);    /* no From_ there */
    free(m.from_line_sender);
    import_source_close(&src);
    free(path);
}

static void test_cl2(void)
{
    const char *body = "a\n\nFrom x@y Mon Jan  1 00:00:00 2020\n>From as is\n";
    char *data = xasprintf("From c@example.com Wed Jan  8 09:00:00 2020\n"
                           "Content-Length: %zu\n\n%s\n"
                           "From c@example.com Wed Jan  8 09:01:00 2020\n"
                           "Content-Length: 4000\n\nshort\n",
                           strlen(body), body);
    char *path = write_file("cl.mbox", data, strlen(data));
    struct strlist out = STRLIST_INIT;
    char *want = xasprintf("Content-Length: %zu\n\n%s", strlen(body), body);

    read_all(path, NULL, &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK_STR(out.v[0], want);
        CHECK_STR(out.v[1], "REJECT: truncated: its Content-Length runs past the end of the file");
    }
    strlist_free(&out);
    free(want);
    free(path);
    free(data);
}

static void test_damage(void)
{
    static const char cut[] = "From a@b Mon Jan  6 10:00:00 2020\nS: 1\n\nkept\n\n"
                              "From a@b Mon Jan  6 10:01:00 2020\nS: 2\n\ncut in the mid";
    static const char junk[] = "junk before\nany From_ line\n\n"
                               "From a@b Mon Jan  6 10:00:00 2020\nS: 1\n\nafter\n";
    static const char crlf[] = "From a@b Mon Jan  6 10:00:00 2020\r\nS: 1\r\n\r\nx\r\n\r\n"
                               "From a@b Mon Jan  6 10:01:00 2020\r\nS: 2\r\n\r\ny\r\n";
    struct strlist out = STRLIST_INIT;
    char *path = write_file("cut.mbox", cut, strlen(cut));

    read_all(path, NULL, &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK_STR(out.v[0], "S: 1\n\nkept\n");
        CHECK_STR(out.v[1], "REJECT: truncated: the file ends inside a line of this message");
    }
    strlist_free(&out);
    free(path);

    path = write_file("junk.mbox", junk, strlen(junk));
    read_all(path, "mbox", &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK(strncmp(out.v[0], "REJECT: not an mbox message", 27) == 0);
        CHECK_STR(out.v[1], "S: 1\n\nafter\n");
    }
    strlist_free(&out);
    free(path);

    path = write_file("crlf.mbox", crlf, strlen(crlf));
    read_all(path, NULL, &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK_STR(out.v[0], "S: 1\r\n\r\nx\r\n");
        CHECK_STR(out.v[1], "S: 2\r\n\r\ny\r\n");
    }
    strlist_free(&out);
    free(path);
}

/* A line longer than the 64 KiB buffer, and quoted lines at every
 * offset around the buffer's edge. */
static void test_long_lines(void)
{
    struct buf_s {
        char *p;
        size_t n;
    } in = {NULL, 0}, want = {NULL, 0};
    FILE *fi = open_memstream(&in.p, &in.n), *fw = open_memstream(&want.p, &want.n);
    struct strlist out = STRLIST_INIT;

    fputs("From a@b Mon Jan  6 10:00:00 2020\n", fi);
    fputs("Subject: long\n\n", fi);
    fputs("Subject: long\n\n", fw);
    for (int i = 0; i < 200000; i++) {
        fputc('a' + i % 26, fi);
        fputc('a' + i % 26, fw);
    }
    fputc('\n', fi);
    fputc('\n', fw);
    for (int i = 0; i < 3000; i++) {
        fprintf(fi, ">From %d\n%.*s\n", i, i % 97,
                "..................................................."
                "..................................................");
        fprintf(fw, "From %d\n%.*s\n", i, i % 97,
                "..................................................."
                "..................................................");
    }
    fputs("\nFrom a@b Mon Jan  6 10:01:00 2020\nS: 2\n\n", fi);
    fclose(fi);
    fclose(fw);
    char *path = write_file("long.mbox", in.p, in.n);
    read_all(path, NULL, &out);
    CHECK(out.n == 2);
    if (out.n == 2) {
        CHECK(strlen(out.v[0]) == want.n && memcmp(out.v[0], want.p, want.n) == 0);
        CHECK_STR(out.v[1], "S: 2\n"); /* the empty line at the end is the separator */
    }
    strlist_free(&out);
    free(path);
    free(in.p);
    free(want.p);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_rd_and_o();
    test_cl2();
    test_damage();
    test_long_lines();
    char *cmd = xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    return check_done();
}
