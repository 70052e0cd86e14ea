/*
 * NAME
 *	test_index_mime 1
 * SUMMARY
 *	unit test of mail/index_mime.c (the MIME walker)
 * DESCRIPTION
 *	Multipart/alternative, nested message/rfc822 and digests,
 *	attachments and their file names, broken MIME (no boundary, no
 *	close delimiter, 40 nested multiparts), the attachment caps, and the
 *	peak memory (VmHWM) of 50 MB parts and of a message of 300 000 tiny
 *	parts.
 */
#include "tests/unit/index_check.h"

/* AddressSanitizer keeps freed blocks in a quarantine (256 MB by default)
 * that test_body_memory would see as peak RSS; it measures what the
 * extraction holds, not what it has freed. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=1";
}
#endif

/* Write the file in pieces: the test itself must not hold 50 MB. */
static void write_all(int fd, const char *s, size_t n)
{
    if (n == 0)
        n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n) {
        fprintf(stderr, "write failed\n");
        exit(2);
    }
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Reset the peak RSS to the current RSS (Linux 4.0+). */
static int vm_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;

    if (f == NULL)
        return -1;
    ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Extract the body of the original in fd (then closed) into *rec: the
 * peak RSS must grow by less than 8 MB. */
static void check_body_peak(int fd, struct archive_record *rec, const char *what)
{
    const char *error = NULL;
    long before, after;

    memset(rec, 0, sizeof(*rec));
    CHECK(vm_hwm_reset() == 0);
    before = vm_hwm_kb();
    CHECK(index_fields_extract_body(fd, rec, &error) == 0);
    after = vm_hwm_kb();
    close(fd);
    printf("body extraction of %s: VmHWM %ld kB -> %ld kB (+%ld kB)\n", what, before, after,
           after - before);
    CHECK(before > 0 && after - before < 8 * 1024);
}

/*
 * Peak memory of extracting a 50 MB base64 text part followed by a 50 MB
 * base64 attachment, and of a 10 MB message of 300 000 tiny parts:
 * the extraction must stay within a few MB over the text cap.
 */
static void test_body_memory(void)
{
    struct archive_record rec;
    char path[4200];
    char line[80];
    int fd;

    snprintf(path, sizeof(path), "%s/big", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    write_all(fd,
              "Subject: big\r\nContent-Type: multipart/mixed; boundary=big\r\n\r\n"
              "--big\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n",
              0);
    /* 76 base64 characters = 57 bytes "word word ..." per line */
    memcpy(line, "d29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdv\r\n",
           78);
    for (int i = 0; i < 50 * 1024 * 1024 / 78; i++)
        write_all(fd, line, 78);
    write_all(fd,
              "--big\r\nContent-Type: application/zip; name=big.zip\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n",
              89);
    for (int i = 0; i < 50 * 1024 * 1024 / 78; i++)
        write_all(fd, line, 78);
    write_all(fd, "--big--\r\n", 0);

    check_body_peak(fd, &rec, "a 100 MB message");
    CHECK(rec.body_text != NULL && strlen(rec.body_text) <= INDEX_FIELDS_TEXT_MAX &&
          strlen(rec.body_text) > INDEX_FIELDS_TEXT_MAX - 8);
    CHECK(rec.body_text != NULL && strncmp(rec.body_text, "word word word", 14) == 0);
    CHECK(rec.n_attachments == 1);
    check_attachment(&rec, 0, "big.zip", "application/zip");
    record_free(&rec);

    /* GMime's parser needs about 2 KB per part; the scanner needs none */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    write_all(fd, "Content-Type: multipart/mixed; boundary=b\r\n\r\n", 0);
    for (int i = 0; i < 300000; i++)
        write_all(fd, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n", 0);
    write_all(fd, "--b--\r\n", 0);
    check_body_peak(fd, &rec, "300000 parts");
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == 300000 * 2 - 1);
    record_free(&rec);
    unlink(path);
}

static void test_body_alternative(void)
{
    static const struct index_case cases[] = {
        /* plain first: the HTML alternative adds nothing */
        {LIT("MIME-Version: 1.0\r\n"
             "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
             "\r\n"
             "This is the preamble, not indexed.\r\n"
             "--alt\r\n"
             "Content-Type: text/plain; charset=us-ascii\r\n"
             "\r\n"
             "Plain words here.\r\n"
             "--alt\r\n"
             "Content-Type: text/html; charset=us-ascii\r\n"
             "\r\n"
             "<p>Html words here.</p>\r\n"
             "--alt--\r\n"
             "Epilogue, not indexed.\r\n"),
         "Plain words here.", .n_attachments = 0},
        /* an empty plain alternative: the HTML one is indexed; a related
         * part's image is an attachment */
        {LIT("Content-Type: multipart/alternative; boundary=alt\r\n"
             "\r\n"
             "--alt\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "\r\n"
             "--alt\r\n"
             "Content-Type: multipart/related; boundary=rel\r\n"
             "\r\n"
             "--rel\r\n"
             "Content-Type: text/html\r\n"
             "\r\n"
             "<div>Only <i>html</i></div>\r\n"
             "--rel\r\n"
             "Content-Type: image/png\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "iVBORw0KGgo=\r\n"
             "--rel--\r\n"
             "--alt--\r\n"),
         "Only html", .n_attachments = 1, .att = {{NULL, "image/png"}}},
    };

    check_bodies(cases);
}

static void test_body_nested(void)
{
    static const struct index_case cases[] = {
        /* an inner boundary that extends the outer one, a forwarded message
         * with its own multipart, and a digest whose parts default to
         * message/rfc822 */
        {LIT("Content-Type: multipart/mixed; boundary=\"b\"\r\n"
             "\r\n"
             "--b\r\n"
             "\r\n"
             "outer text\r\n"
             "--b\r\n"
             "Content-Type: message/rfc822\r\n"
             "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
             "\r\n"
             "Subject: forwarded\r\n"
             "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
             "\r\n"
             "--b1\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "inner plain\r\n"
             "--b1\r\n"
             "Content-Type: text/html\r\n"
             "\r\n"
             "<p>inner html</p>\r\n"
             "--b1--\r\n"
             "--b\r\n"
             "Content-Type: multipart/digest; boundary=d\r\n"
             "\r\n"
             "--d\r\n"
             "\r\n"
             "Subject: digest one\r\n"
             "\r\n"
             "digest body\r\n"
             "--d--\r\n"
             "--b\r\n"
             "Content-Type: application/pdf; name=inner.pdf\r\n"
             "\r\n"
             "%PDF\r\n"
             "--b--\r\n"),
         "outer text inner plain digest body", .n_attachments = 2,
         .att = {{"fwd.eml", "message/rfc822"}, {"inner.pdf", "application/pdf"}}},
    };

    check_bodies(cases);
}

static void test_attachments(void)
{
    static const struct index_case cases[] = {
        {LIT("Content-Type: multipart/mixed; boundary=\"=_x\"\r\n"
             "\r\n"
             "--=_x\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "see attached\r\n"
             "--=_x\r\n"
             "Content-Type: application/pdf\r\n"
             "Content-Disposition: attachment;\r\n"
             " filename*=UTF-8''%E2%82%AC%20rates.pdf\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "JVBERi0=\r\n"
             "--=_x\r\n"
             "Content-Type: APPLICATION/VND.MS-EXCEL; name=\"=?UTF-8?B?w6RiYy54bHM=?=\"\r\n"
             "\r\n"
             "x\r\n"
             "--=_x\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Disposition: attachment;\r\n"
             " filename*0*=UTF-8''Gr%C3%BC;\r\n"
             " filename*1=\"sse.txt\"\r\n"
             "\r\n"
             "attached text is not body text\r\n"
             "--=_x\r\n"
             "Content-Type: text/plain\r\n"
             "Content-Disposition: inline; filename=notes.txt\r\n"
             "\r\n"
             "inline notes\r\n"
             "--=_x\r\n"
             "Content-Type: image/gif\r\n"
             "\r\n"
             "GIF89a\r\n"
             "--=_x\r\n"
             "Content-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"caf\xe9.bin\"\r\n"
             "\r\n"
             "--=_x\r\n"
             "Content-Type: text/plain\r\n"
             "Content-Disposition: attachment\r\n"
             "\r\n"
             "nameless\r\n"
             "--=_x--\r\n"),
         "see attached inline notes", .n_attachments = 7,
         .att = {{"\xe2\x82\xac rates.pdf", "application/pdf"},
                 {"\xc3\xa4\x62\x63.xls", "application/vnd.ms-excel"},
                 {"Gr\xc3\xbcsse.txt", "text/plain"},
                 {"notes.txt", "text/plain"},
                 {NULL, "image/gif"},
                 {.filename_utf8 = 1},
                 {NULL, "text/plain"}}},
    };

    check_bodies(cases);
}

static void test_attachment_caps(void)
{
    struct archive_record rec;
    size_t cap = 1024 * 1024, len = 0;
    char *buf = malloc(cap);
    char name[400];

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    /* a 300-byte name of 2-byte characters: cut to 255 bytes or less,
     * on a character boundary */
    for (int i = 0; i < 150; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[300] = '\0';
    len = (size_t)snprintf(buf, cap,
                           "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                           "--b\r\nContent-Type: application/zip; name=\"%s\"\r\n\r\nx\r\n",
                           name);
    for (int i = 0; i < INDEX_FIELDS_ATTACHMENTS_MAX + 5; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "--b\r\nContent-Type: image/png; name=p%d.png\r\n\r\nx\r\n", i);
    len += (size_t)snprintf(buf + len, cap - len,
                            "--b\r\nContent-Type: text/plain\r\n\r\nlast words\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.n_attachments == INDEX_FIELDS_ATTACHMENTS_MAX);
    CHECK(rec.n_attachments > 0 && rec.attachments[0].filename != NULL &&
          strlen(rec.attachments[0].filename) == 254 && utf8_valid(rec.attachments[0].filename));
    check_attachment(&rec, INDEX_FIELDS_ATTACHMENTS_MAX - 1, "p998.png", "image/png");
    CHECK_STR(rec.body_text, "last words");
    record_free(&rec);
    free(buf);
}

static void test_broken_mime(void)
{
    static const struct index_case cases[] = {
        /* a multipart without a boundary: its content is not indexed */
        {LIT("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhidden\r\n--x--\r\n"), NULL,
         .n_attachments = 0},
        /* the boundary never comes: the preamble is not text */
        {LIT("Content-Type: multipart/mixed; boundary=nowhere\r\n\r\nhidden\r\n"), NULL,
         .n_attachments = -1},
        /* no close delimiter, and a part header without the empty line */
        {LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: image/jpeg\r\n"
             "--b\r\nContent-Type: text/plain\r\n\r\nstill found\r\n"),
         "still found", .n_attachments = 1, .att = {{NULL, "image/jpeg"}}},
        /* an unparsable Content-Type is text/plain (RFC 2045 5.2) */
        {LIT("Content-Type: garbage;;;\r\n\r\nreadable\r\n"), "readable", .n_attachments = 0},
        /* "--b" followed by other text is not a delimiter; "--b--" closes
         * the multipart even with trailing junk */
        {LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\n\r\none\r\n--bx two\r\n--b-- junk\r\nepilogue\r\n"),
         "one --bx two", .n_attachments = -1},
    };
    struct archive_record rec;

    check_bodies(cases);

    /* 40 nested multiparts: text below INDEX_FIELDS_MIME_DEPTH is found,
     * deeper text is not, and nothing crashes */
    {
        char *buf = malloc(64 * 1024);
        size_t len = 0;
        CHECK(buf != NULL);
        if (buf == NULL)
            return;
        len += (size_t)sprintf(buf + len, "Subject: deep\r\n");
        for (int i = 0; i < 40; i++) {
            len += (size_t)sprintf(
                buf + len, "Content-Type: multipart/mixed; boundary=\"l%d\"\r\n\r\n--l%d\r\n", i,
                i);
            if (i == 10)
                len += (size_t)sprintf(buf + len, "\r\nshallow\r\n--l%d\r\n", i);
        }
        len += (size_t)sprintf(buf + len, "\r\ndeep\r\n");
        CHECK(extract_all(buf, len, &rec) == 0);
        CHECK_STR(rec.body_text, "shallow");
        record_free(&rec);
        free(buf);
    }

    /* a message that ends inside a base64 text part and a QP escape */
    CHECK(EXTRACT_ALL("Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"
                      "\r\nend=4",
                      &rec) == 0);
    CHECK(rec.body_text != NULL && strncmp(rec.body_text, "end", 3) == 0 &&
          utf8_valid(rec.body_text));
    record_free(&rec);
}

INDEX_TEST_MAIN("test_index_mime",
                /* first, while the heap is small */
                test_body_memory, test_body_alternative, test_body_nested, test_attachments,
                test_attachment_caps, test_broken_mime)
