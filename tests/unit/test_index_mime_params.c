/*
 * NAME
 *	test_index_mime_params 1
 * SUMMARY
 *	unit test of mail/index_mime_params.c
 * DESCRIPTION
 *	Content-Type and Content-Disposition parameters: RFC 2231 sections
 *	in any order and charsets, comments, quoted pairs, and 16 kB fields
 *	of hostile parameters in 300 parts, in linear time.
 */
#include "tests/unit/index_check.h"

/* Content-Type and Content-Disposition parameters: RFC 2231 sections in
 * any order and charsets, and 16 kB fields of hostile parameters in 300
 * parts (GMime's parser took 50 ms per such part). */
static void test_mime_params(void)
{
    static const struct index_case cases[] = {
        {LIT("Content-Type: multipart/mixed; BOUNDARY=\"b\"; charset=x\r\n\r\n"
             "--b\r\n"
             "Content-Type: application/x-a; name*1=\"rt2.bin\"; name*0=part1-pa\r\n\r\n"
             "--b\r\n"
             "Content-Type: application/x-b;\r\n"
             "  name*=iso-8859-1'de'Gr%FC%DFe.txt; name=\"plain.txt\"\r\n\r\n"
             "--b\r\n"
             "Content-Type: application/x-c (comment); name=unquoted name.doc (c)\r\n"
             "Content-Disposition: ATTACHMENT; size=3; filename=\"q\\\"uote.doc\"\r\n\r\n"
             "--b\r\n"
             "Content-Type: text/plain; charset=\"iso-8859-1\" (Latin-1)\r\n\r\n"
             "caf\xe9\r\n"
             "--b--\r\n"),
         .att = {{"part1-part2.bin", "application/x-a"},
                 {"Gr\xc3\xbc\xc3\x9f\x65.txt", "application/x-b"},
                 {"q\"uote.doc", "application/x-c"}},
         .n_attachments = 3, .text = "caf\xc3\xa9"},
    };
    struct archive_record rec;
    size_t cap = 12 * 1024 * 1024, len;
    char *buf = malloc(cap);
    double t0;

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    check_bodies(cases);

    len = (size_t)sprintf(buf, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int part = 0; part < 300; part++) {
        len += (size_t)sprintf(buf + len, "--b\r\nContent-Type: application/x-%d; name=\"", part);
        for (int i = 0; i < 1900; i++, len += 8)
            memcpy(buf + len, "=?x?q?a ", 8);
        len += (size_t)sprintf(buf + len, "\"\r\nContent-Disposition: attachment");
        for (int i = 0; i < 1300; i++) /* 15 kB */
            len += (size_t)sprintf(buf + len, ";\r\n p%d=x", i);
        len += (size_t)sprintf(buf + len, ";\r\n filename*%d*=%%41\r\n\r\nx\r\n", part % 40);
    }
    len += (size_t)sprintf(buf + len, "--b--\r\n");
    CHECK(len < cap);
    t0 = now_s();
    CHECK(extract_all(buf, len, &rec) == 0);
    t0 = now_s() - t0;
    printf("300 parts of 16 kB hostile parameters: %.3f s\n", t0);
    CHECK(t0 < HOSTILE_SECONDS);
    CHECK(rec.n_attachments == 300);
    /* section 0 alone counts; without it the (plain) name is the file name */
    check_attachment(&rec, 0, "A", "application/x-0");
    CHECK(rec.n_attachments == 300 && rec.attachments[1].filename != NULL &&
          strncmp(rec.attachments[1].filename, "=?x?q?a =?x?q?a", 15) == 0);
    record_free(&rec);
    free(buf);
}

INDEX_TEST_MAIN("test_index_mime_params", test_mime_params)
