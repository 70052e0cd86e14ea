/*
 * NAME
 *	fuzz_attach_rtf 1
 * SUMMARY
 *	libFuzzer target: the RTF reader of attachments
 *	(mail/attach_text_formats.c, attach_text_extract(ATTACH_FORMAT_RTF))
 * DESCRIPTION
 *	The input is an RTF document, any bytes. The reader is ours (the
 *	other formats are read by libraries, in a bounded child), so it
 *	must hold its own bounds. Checked for every input:
 *	  - it returns 0 (RTF is read as far as it goes, never refused);
 *	  - the text is at most the limit it was given (the limit is taken
 *	    from the input's length, so that small limits are tried too);
 *	  - the text is valid UTF-8.
 *	Time and stack: one pass, no recursion; libFuzzer's -timeout and
 *	ASan's stack checks catch the rest.
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr.
 */
#include "tests/fuzz/fuzz.h"

#include <glib.h>

#include "common/buf.h"
#include "mail/attach_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf out = BUF_INIT;
    const char *error = NULL;
    size_t max = size % 7 == 0 ? 16 : 1024 * 1024;

    FUZZ_CHECK(attach_text_extract(ATTACH_FORMAT_RTF, (const char *)data, size, NULL, &out, max,
                                   &error) == 0);
    FUZZ_CHECK(out.len <= max);
    FUZZ_CHECK(out.len == 0 || g_utf8_validate(out.data, (gssize)out.len, NULL));
    buf_free(&out);
    return 0;
}
