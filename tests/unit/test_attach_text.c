/*
 * NAME
 *	test_attach_text 1
 * SUMMARY
 *	unit test of mail/attach_text.c and mail/attach_text_formats.c
 * DESCRIPTION
 *	Real small documents made here, each holding a unique token: a PDF
 *	written by hand (objects, xref and all), a DOCX, an XLSX and an ODT
 *	zipped with libzip, an RTF and an HTML string. Each must give its
 *	token, directly and through the indexer's path (a MIME message with
 *	base64 attachments, index_fields_extract_body_attachments()).
 *	Format detection by magic over a wrong label. Hostile documents: a
 *	truncated PDF, PDFs whose page tree or xref chain loops, a zip bomb
 *	(one member of 1 GiB of empty XML elements), an RTF of 100 000
 *	nested groups; and the child's bounds themselves with
 *	readers that hang, eat memory or crash: each gives no text and a
 *	reason, and the message keeps its body and its other attachments.
 */
#include "tests/unit/check.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <time.h>

#include <gmime/gmime.h>
#include <zip.h>

#include "backends/record.h"
#include "common/buf.h"
#include "attach_reader/attach_docs.h"
#include "mail/attach_text.h"
#include "mail/index_fields.h"

static const char *tmpdir;

static void die(const char *what)
{
    fprintf(stderr, "%s\n", what);
    exit(2);
}

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        die("bprintf: too long");
    buf_add(b, tmp, (size_t)n);
}

/* A one-page PDF whose page shows text (Helvetica, a standard font that
 * needs no embedded file), with a correct cross-reference table. */
static void make_pdf(struct buf *pdf, const char *text)
{
    char content[512];
    size_t off[6];
    size_t xref;

    snprintf(content, sizeof(content), "BT /F1 18 Tf 72 700 Td (%s) Tj ET\n", text);
    bprintf(pdf, "%%PDF-1.4\n");
    off[1] = pdf->len;
    bprintf(pdf, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = pdf->len;
    bprintf(pdf, "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    off[3] = pdf->len;
    bprintf(pdf, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
                 " /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n");
    off[4] = pdf->len;
    bprintf(pdf, "4 0 obj\n<< /Length %zu >>\nstream\n%sendstream\nendobj\n", strlen(content),
            content);
    off[5] = pdf->len;
    bprintf(pdf, "5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
    xref = pdf->len;
    bprintf(pdf, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 1; i <= 5; i++)
        bprintf(pdf, "%010zu 00000 n \n", off[i]);
    bprintf(pdf, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
}

/* A zip file of (name, content) pairs, NULL-terminated, made with libzip;
 * the first member is stored uncompressed (ODF's "mimetype"). */
static void make_zip(struct buf *zip, const char *const *members)
{
    char path[4200];
    zip_t *z;
    int err = 0;
    char *data;
    size_t len;

    snprintf(path, sizeof(path), "%s/doc.zip", tmpdir);
    (void)unlink(path);
    if ((z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL)
        die("zip_open");
    for (int i = 0; members[i] != NULL; i += 2) {
        zip_source_t *s = zip_source_buffer(z, members[i + 1], strlen(members[i + 1]), 0);
        zip_int64_t idx = zip_file_add(z, members[i], s, ZIP_FL_OVERWRITE);
        if (s == NULL || idx < 0)
            die("zip_file_add");
        if (i == 0)
            (void)zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    if (zip_close(z) < 0)
        die("zip_close");
    if ((data = check_slurp(path, &len)) == NULL)
        die("slurp zip");
    buf_add(zip, data, len);
    free(data);
}

static const char *const docx_members[] = {
    "[Content_Types].xml",
    "<?xml version=\"1.0\"?><Types "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>",
    "word/document.xml",
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
    "<w:body><w:p><w:r><w:t>Rechnung</w:t></w:r></w:p>"
    /* Word splits a word across runs at will: they must join. */
    "<w:p><w:r><w:t>DOCX-</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>2026-0815</w:t></w:r>"
    "<w:r><w:tab/><w:t xml:space=\"preserve\">Stra&#223;e &amp; Co</w:t></w:r></w:p>"
    "</w:body></w:document>",
    NULL,
};

static const char *const xlsx_members[] = {
    "[Content_Types].xml",
    "<?xml version=\"1.0\"?><Types/>",
    "xl/sharedStrings.xml",
    "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
    "main\" count=\"2\"><si><t>Betrag</t></si><si><r><t>XLSX-</t></r><r><t>4242</t></r></si>"
    "</sst>",
    NULL,
};

static const char *const odt_members[] = {
    "mimetype",
    "application/vnd.oasis.opendocument.text",
    "content.xml",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content "
    "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
    "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text>"
    "<text:p>Auftrag</text:p><text:p>ODT-<text:span>7777</text:span></text:p>"
    "</office:text></office:body></office:document-content>",
    NULL,
};

static const char rtf_doc[] =
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Helvetica FONTNAME;}}"
    "{\\colortbl;\\red255\\green0\\blue0;}{\\*\\generator Hidden GENERATOR;}"
    "{\\info{\\title Hidden TITLE}}"
    "\\f0\\fs24 Caf\\'e9 RTF-31337\\par "
    "{\\pict\\wmetafile8 0123456789abcdef PICTDATA}"
    "\\uc1 Euro\\u8364?sign \\{braces\\}\\par}";

static const char html_doc[] = "<!DOCTYPE html><html><head><title>t</title>"
                               "<style>p { color: red } STYLETEXT</style></head><body>"
                               "<p>Invoice <b>HTML</b>-5150 &amp; more</p>"
                               "<script>var SCRIPTTEXT = 1;</script></body></html>";

/* The text of a document read in-process (no child). */
static const char *direct_error;
static char *extract_direct(enum attach_format fmt, const char *data, size_t len, int *rc_r)
{
    struct buf out = BUF_INIT;
    const char *error = NULL;

    direct_error = NULL;
    *rc_r = attach_docs_extract(fmt, data, len, NULL, &out, INDEX_FIELDS_TEXT_MAX, &error);
    buf_add(&out, "", 0);
    direct_error = error;
    return out.data;
}

static int contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

/* The text of a document of format fmt: read without error, holding every
 * string of want and none of absent (NULL-terminated lists). */
static void check_extract(enum attach_format fmt, const char *data, size_t len,
                          const char *const *want, const char *const *absent)
{
    int rc;
    char *t = extract_direct(fmt, data, len, &rc);

    CHECK(rc == 0);
    for (; want != NULL && *want != NULL; want++)
        if (!contains(t, *want)) {
            CHECK(contains(t, *want));
            fprintf(stderr, "  %s text lacks \"%s\": %s\n", attach_format_name(fmt), *want, t);
        }
    for (; absent != NULL && *absent != NULL; absent++)
        CHECK(!contains(t, *absent));
    free(t);
}

#define STRINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_formats(void)
{
    struct buf pdf = BUF_INIT, docx = BUF_INIT, xlsx = BUF_INIT, odt = BUF_INIT;
    static const char cp1251[] = "{\\rtf1\\ansi\\ansicpg1251 \\'d1\\'f7\\'e5\\'f2 42}";
    static const char cp932[] = "{\\rtf1\\ansi\\ansicpg932 \\'90\\'bf\\'8b\\'81}";

    make_pdf(&pdf, "Invoice INV-2026-004711 due");
    check_extract(ATTACH_FORMAT_PDF, pdf.data, pdf.len, STRINGS("INV-2026-004711"), NULL);
    make_zip(&docx, docx_members);
    check_extract(ATTACH_FORMAT_OOXML, docx.data, docx.len,
                  STRINGS("DOCX-2026-0815", "Rechnung DOCX" /* paragraphs apart */,
                          "Straße & Co" /* entities decoded */, "0815 Straße" /* a tab */),
                  NULL);
    make_zip(&xlsx, xlsx_members);
    check_extract(ATTACH_FORMAT_OOXML, xlsx.data, xlsx.len, STRINGS("Betrag XLSX-4242"), NULL);
    make_zip(&odt, odt_members);
    check_extract(ATTACH_FORMAT_ODF, odt.data, odt.len, STRINGS("Auftrag ODT-7777"), NULL);
    /* \u8364 and its fallback "?" skipped; tables, info and pictures not text */
    check_extract(ATTACH_FORMAT_RTF, rtf_doc, strlen(rtf_doc),
                  STRINGS("Café RTF-31337", "Euro€sign", "{braces}"),
                  STRINGS("FONTNAME", "GENERATOR", "TITLE", "PICTDATA"));
    /* \'hh in the document's code page: Windows-1251 (Cyrillic), 932 (Japanese) */
    check_extract(ATTACH_FORMAT_RTF, cp1251, strlen(cp1251), STRINGS("Счет 42"), NULL);
    check_extract(ATTACH_FORMAT_RTF, cp932, strlen(cp932), STRINGS("請求"), NULL);
    check_extract(ATTACH_FORMAT_HTML, html_doc, strlen(html_doc),
                  STRINGS("Invoice HTML-5150 & more"), STRINGS("SCRIPTTEXT", "STYLETEXT"));

    /* Detection: magic numbers over the label. */
    CHECK(attach_text_detect("application/octet-stream", "scan.bin",
                             (const unsigned char *)pdf.data, pdf.len) == ATTACH_FORMAT_PDF);
    CHECK(attach_text_detect("application/msword", NULL, (const unsigned char *)docx.data,
                             docx.len) == ATTACH_FORMAT_OOXML);
    CHECK(attach_text_detect("application/octet-stream", NULL, (const unsigned char *)odt.data,
                             odt.len) == ATTACH_FORMAT_ODF);
    CHECK(attach_text_detect("application/octet-stream", "x", (const unsigned char *)rtf_doc,
                             strlen(rtf_doc)) == ATTACH_FORMAT_RTF);
    CHECK(attach_text_detect("application/pdf", "a.pdf", (const unsigned char *)"MZ\x90\0", 4) ==
          ATTACH_FORMAT_NONE); /* a label alone is not believed */
    CHECK(attach_text_detect("text/html", NULL, (const unsigned char *)"<p>x", 4) ==
          ATTACH_FORMAT_HTML);
    /* Worth a child: a real PDF and zip, not bytes that only start like one. */
    {
        char path[4200];
        int fd;
        snprintf(path, sizeof(path), "%s/probe", tmpdir);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, pdf.data, pdf.len) == (ssize_t)pdf.len);
        CHECK(attach_text_worth_reading(ATTACH_FORMAT_PDF, fd, pdf.len));
        CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, docx.data, docx.len, 0) == (ssize_t)docx.len);
        CHECK(attach_text_worth_reading(ATTACH_FORMAT_OOXML, fd, docx.len));
        CHECK(ftruncate(fd, 0) == 0 &&
              pwrite(fd, "%PDF-1.4\n\x8f\x01 random %%EOF\n", 26, 0) == 26);
        CHECK(!attach_text_worth_reading(ATTACH_FORMAT_PDF, fd, 26));
        CHECK(!attach_text_worth_reading(ATTACH_FORMAT_OOXML, fd, 26));
        close(fd);
    }
    CHECK(attach_text_candidate("application/octet-stream", NULL));
    CHECK(attach_text_candidate("application/x-anything", "Rechnung.PDF"));
    CHECK(!attach_text_candidate("image/jpeg", "photo.jpg"));

    buf_free(&pdf);
    buf_free(&docx);
    buf_free(&xlsx);
    buf_free(&odt);
}

/* Readers for the child's bounds: each writes some text first, then
 * does what its name says (ctx, a string). */
static int reader(void *ctx, struct buf *out, size_t max, const char **error_r)
{
    const char *what = ctx;
    char tmp[32];

    (void)max;
    (void)error_r;
    if (strcmp(what, "hangs") == 0) {
        buf_add_str(out, "HANGTEXT");
        for (;;)
            pause();
    } else if (strcmp(what, "eats memory") == 0) {
        buf_add_str(out, "MEMTEXT");
        for (size_t total = 0; total < (size_t)64 << 30; total += 16 << 20) {
            char *p = malloc(16 << 20);
            if (p == NULL)
                abort(); /* what a library does when malloc fails */
            memset(p, 1, 16 << 20);
        }
    } else if (strcmp(what, "crashes") == 0) {
        buf_add_str(out, "CRASHTEXT");
        raise(SIGSEGV);
    } else if (strcmp(what, "nul") == 0) {
        buf_add(out, "before\0after", 12);
    } else if (strcmp(what, "uid") == 0) {
        snprintf(tmp, sizeof(tmp), "%ld", (long)getuid());
        buf_add_str(out, tmp);
    } else { /* fine: the text is what */
        buf_add_str(out, what);
    }
    return 0;
}

/* The account the readers become when the test runs as root. */
static const char *mail_owner(void)
{
    return getpwnam("tabularium") != NULL ? "tabularium" : NULL;
}

static void test_bounds(void)
{
    struct buf text = BUF_INIT;
    char reason[256];
    const char *r;
    time_t t0;

    r = attach_text_bounded(reader, "0123456789", NULL, 4, 5, &text, reason, sizeof(reason));
    CHECK(r == NULL);
    CHECK(text.len == 4 && memcmp(text.data, "0123", 4) == 0); /* max holds */
    buf_reset(&text);

    /* A NUL in a reader's text does not cut it. */
    r = attach_text_bounded(reader, "nul", NULL, 1000, 5, &text, reason, sizeof(reason));
    CHECK(r == NULL);
    CHECK(text.len == 12 && memcmp(text.data, "before after", 12) == 0);
    buf_reset(&text);

    t0 = time(NULL);
    r = attach_text_bounded(reader, "hangs", NULL, 1000, 1, &text, reason, sizeof(reason));
    CHECK(contains(r, "killed after"));
    CHECK(text.len == 0);
    CHECK(time(NULL) - t0 < ATTACH_TEXT_WALL_S); /* the wall clock, not the backstop */

    r = attach_text_bounded(reader, "eats memory", NULL, 1000, 30, &text, reason, sizeof(reason));
    CHECK(contains(r, "crashed, or ran out of memory"));
    CHECK(text.len == 0);

    r = attach_text_bounded(reader, "crashes", NULL, 1000, 5, &text, reason, sizeof(reason));
    CHECK(contains(r, "crashed"));
    CHECK(text.len == 0);

    /* As root, the reader runs as mail_owner. */
    if (geteuid() == 0 && mail_owner() != NULL) {
        struct privs pv;
        const char *error = NULL;
        char want[32];
        CHECK(privs_init(mail_owner(), &pv, &error) == 0);
        snprintf(want, sizeof(want), "%ld", (long)getpwnam(mail_owner())->pw_uid);
        r = attach_text_bounded(reader, "uid", &pv, 1000, 5, &text, reason, sizeof(reason));
        CHECK(r == NULL);
        CHECK_STR(text.data, want);
        buf_reset(&text);
    } else {
        printf("skip: the reader as mail_owner (not root, or no account \"tabularium\")\n");
    }
    buf_free(&text);
}

/* A zip with one member of 1 GiB of empty XML elements: about 5 MB
 * compressed. Made by a libzip source callback, never in memory; once. */
struct bomb {
    zip_uint64_t size, pos;
};

static zip_int64_t bomb_source(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    static const char head[] = "<?xml version=\"1.0\"?><w:document "
                               "xmlns:w=\"urn:x\"><w:body><w:t>BOMB-START";
    struct bomb *b = ud;

    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        b->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        /* the head, then "<w:b/>" over and over, copied in runs (an
         * instrumented byte loop over 1 GiB is slow under ASan) */
        static char run[6 * 4096];
        zip_uint64_t n = len < b->size - b->pos ? len : b->size - b->pos, done = 0;
        if (run[0] == '\0')
            for (size_t i = 0; i < sizeof(run); i += 6)
                memcpy(run + i, "<w:b/>", 6);
        while (done < n) {
            zip_uint64_t at = b->pos + done, k;
            if (at < sizeof(head) - 1) {
                ((char *)data)[done++] = head[at];
                continue;
            }
            k = (at - (sizeof(head) - 1)) % 6;
            zip_uint64_t m = sizeof(run) - k < n - done ? sizeof(run) - k : n - done;
            memcpy((char *)data + done, run + k, m);
            done += m;
        }
        b->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = b->size;
        st->mtime = 0;
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return sizeof(*st);
    }
    case ZIP_SOURCE_ERROR:
        return 2 * sizeof(int);
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        return -1;
    }
}

static void make_bomb(struct buf *zip)
{
    static struct bomb b = {(zip_uint64_t)1 << 30, 0};
    static struct buf made = BUF_INIT;
    char path[4200];
    zip_t *z;
    zip_source_t *s;
    zip_int64_t idx;
    int err = 0;
    char *data;
    size_t len;

    if (made.len > 0) {
        buf_add(zip, made.data, made.len);
        return;
    }
    snprintf(path, sizeof(path), "%s/bomb.zip", tmpdir);
    (void)unlink(path);
    if ((z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL)
        die("zip_open bomb");
    s = zip_source_function(z, bomb_source, &b);
    if (s == NULL || (idx = zip_file_add(z, "word/document.xml", s, 0)) < 0)
        die("zip_file_add bomb");
    (void)zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 1);
    if (zip_close(z) < 0)
        die("zip_close bomb");
    if ((data = check_slurp(path, &len)) == NULL)
        die("slurp bomb");
    buf_add(&made, data, len);
    buf_add(zip, data, len);
    free(data);
}

struct pdf_job {
    const char *data;
    size_t len;
};

static int pdf_job_read(void *ctx, struct buf *out, size_t max, const char **error_r)
{
    const struct pdf_job *job = ctx;

    return attach_docs_extract(ATTACH_FORMAT_PDF, job->data, job->len, NULL, out, max, error_r);
}

static void test_hostile_documents(void)
{
    struct buf pdf = BUF_INIT, bomb = BUF_INIT, rtf = BUF_INIT;
    char *t;
    int rc;

    /* A PDF cut in the middle of its content stream, without xref. */
    make_pdf(&pdf, "Invoice TRUNC-1 due");
    t = extract_direct(ATTACH_FORMAT_PDF, pdf.data, pdf.len / 2, &rc);
    CHECK(!contains(t, "TRUNC-1")); /* no crash; whatever poppler salvages */
    free(t);
    /* A PDF with only a header. */
    t = extract_direct(ATTACH_FORMAT_PDF, "%PDF-1.7\n", 9, &rc);
    CHECK(rc < 0);
    free(t);

    /* A page tree that contains itself, and an xref chain that loops
     * (/Prev pointing at itself): in the bounded child, as the indexer
     * reads them; whatever poppler does, the child ends and the text of
     * the real page may come through. */
    {
        struct pdf_job job;
        struct buf text = BUF_INIT, loop = BUF_INIT;
        char reason[256], *p;
        const char *r;

        make_pdf(&loop, "Invoice LOOP-1 due");
        p = strstr(loop.data, "/Kids [3 0 R] /Count 1");
        CHECK(p != NULL);
        if (p != NULL)
            memcpy(p, "/Kids [2 0 R 3 0 R]/C 1", 23); /* same length */
        job.data = loop.data;
        job.len = loop.len;
        r = attach_text_bounded(pdf_job_read, &job, NULL, 1000, 10, &text, reason, sizeof(reason));
        CHECK(r == NULL || contains(r, "unreadable") || contains(r, "killed"));
        buf_reset(&text);

        buf_reset(&loop);
        make_pdf(&loop, "Invoice LOOP-1 due");
        p = strstr(loop.data, "/Root 1 0 R >>");
        CHECK(p != NULL);
        if (p != NULL) {
            size_t xref = (size_t)(strstr(loop.data, "xref\n") - loop.data);
            char prev[64];
            int n = snprintf(prev, sizeof(prev), "/Prev %zu>>", xref);
            /* "/Root 1 0 R >>\nstartxref" becomes "/Root 1 0 R/Prev N>>..." */
            loop.len = (size_t)(p - loop.data) + strlen("/Root 1 0 R");
            buf_add(&loop, prev, (size_t)n);
            char tail[64];
            n = snprintf(tail, sizeof(tail), "\nstartxref\n%zu\n%%%%EOF\n", xref);
            buf_add(&loop, tail, (size_t)n);
        }
        job.data = loop.data;
        job.len = loop.len;
        r = attach_text_bounded(pdf_job_read, &job, NULL, 1000, 10, &text, reason, sizeof(reason));
        CHECK(r == NULL || contains(r, "unreadable") || contains(r, "killed"));
        if (r == NULL)
            CHECK(contains(text.data, "LOOP-1"));
        buf_free(&text);
        buf_free(&loop);
    }

    make_bomb(&bomb);
    CHECK(bomb.len < 16 * 1024 * 1024);
    t = extract_direct(ATTACH_FORMAT_OOXML, bomb.data, bomb.len, &rc);
    CHECK(rc < 0); /* refused at ATTACH_TEXT_ZIP_MAX, not read to 1 GiB */
    CHECK(contains(direct_error, "over the limit"));
    CHECK(contains(t, "BOMB-START") || t == NULL || *t == '\0');
    free(t);

    /* 100 000 nested groups, then text at depth 0 again. */
    buf_add_str(&rtf, "{\\rtf1\\ansi ");
    for (int i = 0; i < 100000; i++)
        buf_add_str(&rtf, "{\\b ");
    buf_add_str(&rtf, "DEEP-1");
    for (int i = 0; i < 100000; i++)
        buf_add_str(&rtf, "}");
    buf_add_str(&rtf, " SHALLOW-2 {{{{{{ unbalanced");
    t = extract_direct(ATTACH_FORMAT_RTF, rtf.data, rtf.len, &rc);
    CHECK(rc == 0);
    CHECK(contains(t, "DEEP-1 SHALLOW-2"));
    free(t);

    buf_free(&pdf);
    buf_free(&bomb);
    buf_free(&rtf);
}

/* A MIME message with these attachments, base64, through the indexer's
 * path: index_fields_extract_body_attachments(). */
static void add_part(struct buf *msg, const char *type, const char *name, const char *data,
                     size_t len)
{
    gchar *b64 = g_base64_encode((const guchar *)data, len);
    size_t n = strlen(b64);

    bprintf(msg,
            "--B\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; "
            "filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            type, name, name);
    for (size_t i = 0; i < n; i += 76) {
        buf_add(msg, b64 + i, n - i < 76 ? n - i : 76);
        buf_add_str(msg, "\r\n");
    }
    g_free(b64);
}

static void test_message(void)
{
    struct buf pdf = BUF_INIT, bad = BUF_INIT, docx = BUF_INIT, odt = BUF_INIT, bomb = BUF_INIT;
    struct buf msg = BUF_INIT;
    struct archive_record rec;
    struct attach_text *at = attach_text_new(tmpdir, 30, mail_owner());
    const char *error = NULL;
    char path[4200];
    int fd;

    make_pdf(&pdf, "Invoice INV-2026-004711 due");
    make_pdf(&bad, "Invoice BROKEN-9 due");
    make_zip(&docx, docx_members);
    make_zip(&odt, odt_members);
    make_bomb(&bomb);
    buf_add_str(&msg, "From: a@example.org\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
                      "--B\r\nContent-Type: text/plain\r\n\r\nPlease find BODYWORD attached.\r\n");
    /* mislabelled: a PDF sent as application/octet-stream */
    add_part(&msg, "application/octet-stream", "scan0001", pdf.data, pdf.len);
    add_part(&msg, "application/pdf", "broken.pdf", bad.data, bad.len / 3);
    add_part(&msg, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "a.docx", docx.data, docx.len);
    add_part(&msg, "application/zip", "bomb.docx", bomb.data, bomb.len);
    add_part(&msg, "application/vnd.oasis.opendocument.text", "b.odt", odt.data, odt.len);
    add_part(&msg, "text/rtf", "c.rtf", rtf_doc, strlen(rtf_doc));
    add_part(&msg, "text/html", "d.html", html_doc, strlen(html_doc));
    add_part(&msg, "image/png", "e.png", "\x89PNG INV-NOT-TEXT", 17);
    buf_add_str(&msg, "--B--\r\n");

    snprintf(path, sizeof(path), "%s/message.eml", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, msg.data, msg.len) != (ssize_t)msg.len)
        die("write message");
    memset(&rec, 0, sizeof(rec));
    attach_text_message(at, "TESTID");
    CHECK(index_fields_extract_body_attachments(fd, &rec, at, &error) == 0);
    CHECK(contains(rec.body_text, "Please find BODYWORD attached."));
    CHECK(contains(rec.body_text, "INV-2026-004711"));
    CHECK(contains(rec.body_text, "DOCX-2026-0815"));
    CHECK(contains(rec.body_text, "ODT-7777"));
    CHECK(contains(rec.body_text, "RTF-31337"));
    CHECK(contains(rec.body_text, "HTML-5150"));
    CHECK(!contains(rec.body_text, "INV-NOT-TEXT"));
    CHECK(!contains(rec.body_text, "BROKEN-9"));
    CHECK(rec.n_attachments == 8);
    CHECK(strncmp(rec.body_text, "Please find", 11) == 0); /* the body comes first */
    record_free(&rec);

    /* Without a collector (a delivery): the body text alone. */
    memset(&rec, 0, sizeof(rec));
    CHECK(index_fields_extract_body(fd, &rec, &error) == 0);
    CHECK_STR(rec.body_text, "Please find BODYWORD attached.");
    CHECK(rec.n_attachments == 8);
    record_free(&rec);

    /* A forwarded message's attachment is read like the message's own. */
    memset(&rec, 0, sizeof(rec));
    attach_text_message(at, "TESTID-FWD");
    buf_reset(&msg);
    buf_add_str(&msg, "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"O\"\r\n\r\n"
                      "--O\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
                      "--O\r\nContent-Type: message/rfc822\r\n\r\n"
                      "Subject: inner\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
                      "--B\r\nContent-Type: text/plain\r\n\r\ninner body\r\n");
    add_part(&msg, "application/rtf", "inner.rtf", rtf_doc, strlen(rtf_doc));
    buf_add_str(&msg, "--B--\r\n--O--\r\n");
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, msg.data, msg.len, 0) == (ssize_t)msg.len);
    CHECK(index_fields_extract_body_attachments(fd, &rec, at, &error) == 0);
    CHECK(contains(rec.body_text, "inner body"));
    CHECK(contains(rec.body_text, "RTF-31337"));
    record_free(&rec);

    /* The next message through the same collector starts empty. */
    memset(&rec, 0, sizeof(rec));
    attach_text_message(at, "TESTID2");
    CHECK(ftruncate(fd, 0) == 0);
    const char plain[] = "Subject: x\r\n\r\nonly a body\r\n";
    CHECK(pwrite(fd, plain, sizeof(plain) - 1, 0) == (ssize_t)sizeof(plain) - 1);
    CHECK(index_fields_extract_body_attachments(fd, &rec, at, &error) == 0);
    CHECK_STR(rec.body_text, "only a body");
    record_free(&rec);

    close(fd);
    attach_text_free(&at);
    CHECK(at == NULL);
    buf_free(&pdf);
    buf_free(&bad);
    buf_free(&docx);
    buf_free(&odt);
    buf_free(&bomb);
    buf_free(&msg);
}

int main(void)
{
    tmpdir = check_tmpdir("test_attach_text");
    if (geteuid() == 0 && mail_owner() == NULL) {
        /* root without the account reads no attachment (by design) */
        printf("skip: run as root without the account \"tabularium\" (make deps-test)\n");
        return 0;
    }
    index_fields_init();
    test_formats();
    test_bounds();
    test_hostile_documents();
    test_message();
    index_fields_deinit();
    return check_done();
}
