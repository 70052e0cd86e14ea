/*
 * NAME
 *	test_index_text 1
 * SUMMARY
 *	unit test of mail/index_text.c (body text)
 * DESCRIPTION
 *	Text parts as delivery extracts them: white space and control
 *	characters collapsed, transfer encodings (base64, quoted-printable,
 *	broken ones), charsets through iconv, invalid UTF-8 replaced, HTML
 *	reduced to its text with its entities, the text cap on a character
 *	boundary, lines longer than the read buffer.
 */
#include "tests/unit/index_check.h"

static void test_body_plain(void)
{
    static const struct index_case cases[] = {
        /* no MIME header at all: text/plain; white space and NUL collapse */
        {LIT("Subject: plain\r\n\r\nHello,\r\n\r\n  this is\tthe body.\r\n"),
         "Hello, this is the body.", .n_attachments = 0},
        {LIT("Subject: nul\r\n\r\nbefore\0after\x01\x7f"
             "end\r\n"),
         "before after end", .n_attachments = -1},
        /* no body, an empty body, a body of white space: NULL, not "" */
        {LIT("Subject: header only\r\n"), NULL, .n_attachments = -1},
        {LIT("Subject: empty\r\n\r\n"), NULL, .n_attachments = -1},
        {LIT("Subject: blank\r\n\r\n \r\n\t\r\n"), NULL, .n_attachments = -1},
        {LIT(""), NULL, .n_attachments = 0},
        /* undeclared 8-bit: UTF-8 where valid, Latin-1 where not */
        {LIT("Subject: 8bit\r\n\r\nK\xc3\xb6ln und K\xf6ln\r\n"), "K\xc3\xb6ln und K\xc3\xb6ln",
         .n_attachments = -1},
    };
    struct archive_record rec;

    check_bodies(cases);

    /* a second extraction replaces the text */
    CHECK(EXTRACT_ALL("\r\nfirst\r\n", &rec) == 0);
    {
        const char *error = NULL;
        char path[4200];
        int fd;
        snprintf(path, sizeof(path), "%s/orig", tmpdir);
        fd = open(path, O_RDWR | O_TRUNC);
        CHECK(fd >= 0 && write(fd, "\r\nsecond\r\n", 10) == 10);
        CHECK(index_fields_extract_body(fd, &rec, &error) == 0);
        CHECK_STR(rec.body_text, "second");
        close(fd);
    }
    record_free(&rec);

    /* unreadable fd: the one real error */
    {
        const char *error = NULL;
        memset(&rec, 0, sizeof(rec));
        CHECK(index_fields_extract_body(-1, &rec, &error) == -1);
        CHECK(error != NULL);
        CHECK(rec.body_text == NULL);
        record_free(&rec);
    }
}

static void test_body_encodings(void)
{
    static const struct index_case cases[] = {
        /* quoted-printable ISO-8859-1 with a soft line break */
        {LIT("MIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "\r\n"
             "Caf=E9 cr=E8me br=FBl=\r\n"
             "=E9e =3D done\r\n"),
         "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
         "e = done",
         .n_attachments = -1},
        /* base64 UTF-8, split across lines at odd places; folded Content-Type */
        {LIT("Content-Type: text/plain;\r\n"
             "\tcharset=utf-8\r\n"
             "Content-Transfer-Encoding: BASE64\r\n"
             "\r\n"
             "R3LDvMOfZSBh\r\n"
             "dXMgS8O2bG4g4oKs\r\n"
             "\r\n"),
         "Gr\xc3\xbc\xc3\x9f"
         "e aus K\xc3\xb6ln \xe2\x82\xac",
         .n_attachments = -1},
        /* windows-1252 and KOI8-R through iconv */
        {LIT("Content-Type: text/plain; charset=windows-1252\r\n\r\n"
             "\x93quoted\x94 \x80 5\r\n"),
         "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac 5", .n_attachments = -1},
        {LIT("Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n"),
         "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", .n_attachments = -1},
        /* declared UTF-8 that is not: U+FFFD, never invalid bytes */
        {LIT("Content-Type: text/plain; charset=utf-8\r\n\r\n"
             "a\xff"
             "b \xc3 c \xed\xa0\x80 d \xf4\x90\x80\x80 e \xc0\xaf f\xe2\x82\r\n"),
         "a\xef\xbf\xbd"
         "b \xef\xbf\xbd c \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
         " d \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd e "
         "\xef\xbf\xbd\xef\xbf\xbd f\xef\xbf\xbd",
         .text_utf8 = 1, .n_attachments = -1},
        /* an unknown charset: valid UTF-8 kept, the rest U+FFFD */
        {LIT("Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
             "ok \xc3\xa9 \xe9t\xe9\r\n"),
         "ok \xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd", .text_utf8 = 1, .n_attachments = -1},
        /* base64 with garbage in it: what decodes is kept */
        {LIT("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             "aGVs!!bG8g\r\n***\r\nd29ybGQ=\r\n"),
         "hello world", .n_attachments = -1},
    };

    check_bodies(cases);
}

static void test_body_html(void)
{
    static const struct index_case cases[] = {
        /* an HTML attachment is not body text */
        {LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: text/html\r\n\r\n<p>inline</p>\r\n"
             "--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; "
             "filename=page.html\r\n\r\n<p>attached</p>\r\n--b--\r\n"),
         "inline", .n_attachments = 1, .att = {{"page.html", "text/html"}}},
        /* HTML 4 Latin-1 names (case matters) and common typographic ones */
        {LIT("Content-Type: text/html\r\n\r\n"
             "<p>Gr&uuml;&szlig;e f&uuml;r &Uuml;bersicht &euro;5 &ndash; &hellip; "
             "&yuml;&Yacute; &UUML; &uuml</p>\r\n"),
         "Gr\xc3\xbc\xc3\x9f"
         "e f\xc3\xbcr \xc3\x9c"
         "bersicht \xe2\x82\xac"
         "5 "
         "\xe2\x80\x93 \xe2\x80\xa6 \xc3\xbf\xc3\x9d &UUML; &uuml",
         .n_attachments = -1},
    };
    struct archive_record rec;

    CHECK(EXTRACT_ALL("Content-Type: text/html; charset=utf-8\r\n"
                      "\r\n"
                      "<!DOCTYPE html><html><head><title>T</title>\r\n"
                      "<style type=\"text/css\">p { color: red } secretstyle</style>\r\n"
                      "<SCRIPT>var x = '<b>secretscript</b>'; if (a < b) {}</SCRIPT >\r\n"
                      "</head><body><p class='a>b'>Hello&nbsp;<b>W</b>orld &amp; "
                      "&lt;friends&gt;\r\n"
                      "&#233;t&#xE9; &quot;q&quot; &bogus; a < b &amp</p>\r\n"
                      "<!-- secretcomment <p> -->after<br/>line&#0;x&#99999999;y\r\n"
                      "</body></html>\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "T Hello World & <friends> \xc3\xa9t\xc3\xa9 \"q\" &bogus; a < b "
                             "& after line\xef\xbf\xbdx\xef\xbf\xbdy");
    CHECK(rec.body_text != NULL && strstr(rec.body_text, "secret") == NULL);
    record_free(&rec);

    check_bodies(cases);
}

static void test_text_cap(void)
{
    struct archive_record rec;
    size_t n = 3 * 1024 * 1024, len;
    char *buf = malloc(n + 64);

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    /* 3-byte characters without white space: the cap falls inside one */
    len = build_repeated(buf, "Content-Type: text/plain; charset=utf-8\r\n\r\n", "\xe2\x82\xac",
                         n / 3, "");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == INDEX_FIELDS_TEXT_MAX / 3 * 3);
    CHECK(rec.body_text != NULL && utf8_valid(rec.body_text));
    record_free(&rec);

    /* text of a later part stops at the cap too */
    len = build_repeated(buf, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n", "a",
                         INDEX_FIELDS_TEXT_MAX - 4, "\r\n--b\r\n\r\nbb cc\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == INDEX_FIELDS_TEXT_MAX - 1);
    CHECK(rec.body_text != NULL && strcmp(rec.body_text + INDEX_FIELDS_TEXT_MAX - 4, " bb") == 0);
    record_free(&rec);
    free(buf);
}

/* Byte-at-a-time reads are not possible through pread, but lines longer
 * than the 64 KiB read buffer are: a delimiter right after one is found. */
static void test_long_lines(void)
{
    struct archive_record rec;
    size_t len;
    char *buf = malloc(300 * 1024);

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    len = build_repeated(buf,
                         "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                         "Content-Type: image/png\r\n\r\n",
                         "A", 200 * 1024, "\r\n--b\r\n\r\nafter the long line\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK_STR(rec.body_text, "after the long line");
    CHECK(rec.n_attachments == 1);
    record_free(&rec);
    free(buf);
}

INDEX_TEST_MAIN("test_index_text", test_body_plain, test_body_encodings, test_body_html,
                test_text_cap, test_long_lines)
