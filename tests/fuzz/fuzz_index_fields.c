/*
 * NAME
 *	fuzz_index_fields 1
 * SUMMARY
 *	libFuzzer target: catalog fields from an original, index_fields_extract()
 *	(mail/index_fields.h)
 * DESCRIPTION
 *	The input is an original message (header and body, any bytes), given
 *	to index_fields_extract() in a memfd. The module must never fail on
 *	content, and what it returns goes into catalog columns and the
 *	archive message's header. Checked:
 *	  - it returns 0;
 *	  - decoded fields (subject, header names and addresses, Message-ID,
 *	    body text, attachment names) are valid UTF-8 and never empty
 *	    strings where NULL means "none";
 *	  - date is NULL or "YYYY-MM-DDTHH:MM:SSZ";
 *	  - date_raw and subject_raw are bytes of the input, do not start with
 *	    a blank and do not end with a line ending;
 *	  - received_id is NULL or 5..64 letters and digits; loop_archive_id
 *	    is NULL or a valid archive id.
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr.
 */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>

#include <glib.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "mail/index_fields.h"

static int orig_fd = -1;

static void check_utf8(const char *s)
{
    if (s == NULL)
        return;
    FUZZ_CHECK(g_utf8_validate(s, -1, NULL));
}

static void check_addrs(const struct record_addrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        FUZZ_CHECK(a->v[i].name == NULL || a->v[i].name[0] != '\0');
        FUZZ_CHECK(a->v[i].address == NULL || a->v[i].address[0] != '\0');
        check_utf8(a->v[i].name);
        check_utf8(a->v[i].address);
    }
}

static void check_raw(const char *raw, const uint8_t *data, size_t size)
{
    size_t len;

    if (raw == NULL)
        return;
    len = strlen(raw);
    FUZZ_CHECK(len <= size);
    FUZZ_CHECK(len == 0 || memmem(data, size, raw, len) != NULL);
    FUZZ_CHECK(raw[0] != ' ' && raw[0] != '\t');
    FUZZ_CHECK(len == 0 || raw[len - 1] != '\n');
}

static void check_date(const char *d)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";

    if (d == NULL)
        return;
    FUZZ_CHECK(strlen(d) == sizeof(pat) - 1);
    for (size_t i = 0; i < sizeof(pat) - 1; i++)
        FUZZ_CHECK(pat[i] == 'd' ? isdigit((unsigned char)d[i]) != 0 : d[i] == pat[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct archive_record rec;
    const char *error = NULL;

    if (orig_fd < 0) {
        index_fields_init();
        orig_fd = fuzz_memfd("fuzz-index-fields");
    }
    fuzz_fd_set(orig_fd, data, size);
    memset(&rec, 0, sizeof(rec));
    FUZZ_CHECK(index_fields_extract(orig_fd, &rec, &error) == 0);

    check_addrs(&rec.hdr_from);
    check_addrs(&rec.hdr_to);
    check_addrs(&rec.hdr_cc);
    check_date(rec.date);
    check_raw(rec.date_raw, data, size);
    check_raw(rec.subject_raw, data, size);
    check_utf8(rec.subject);
    check_utf8(rec.message_id);
    FUZZ_CHECK(rec.message_id == NULL || rec.message_id[0] != '\0');
    if (rec.received_id != NULL) {
        size_t n = strlen(rec.received_id);
        FUZZ_CHECK(n >= 5 && n <= 64);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(isalnum((unsigned char)rec.received_id[i]));
    }
    FUZZ_CHECK(rec.loop_archive_id == NULL || archive_id_valid(rec.loop_archive_id));
    check_utf8(rec.body_text);
    for (size_t i = 0; i < rec.n_attachments; i++) {
        check_utf8(rec.attachments[i].filename);
        check_utf8(rec.attachments[i].content_type);
    }
    record_free(&rec);
    return 0;
}
