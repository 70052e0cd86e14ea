/*
 * NAME
 *	tab-attach-text 8
 * SUMMARY
 *	the program that reads the text of one document attachment
 * SYNOPSIS
 *	tab-attach-text FORMAT LENGTH MAX [CHARSET]  <document  >text
 * DESCRIPTION
 *	Run only by mail/attach_text.c, in the child process it bounds
 *	(privileges already dropped to mail_owner, RLIMIT_AS, RLIMIT_CPU,
 *	no core file, an alarm, SIGKILL when the parent dies, every other
 *	file descriptor closed), never by hand. Reads the first LENGTH bytes
 *	of standard input (mapped: the indexer's spool file of the decoded
 *	attachment) as a document of FORMAT (pdf, ooxml, odf, html, rtf:
 *	attach_format_name()) and writes at most MAX bytes of its text to
 *	standard output (attach_text_send(): the wire format the parent
 *	reads), with CHARSET for HTML.
 *
 *	A program of its own so that only it loads poppler, libzip and
 *	libxml2 (attach_reader/attach_docs.c), and so that a reader starts
 *	from a fresh address space that holds nothing of the indexer's
 *	(catalog handles, the mail being indexed).
 * DIAGNOSTICS
 *	Exit ATTACH_CHILD_OK, ATTACH_CHILD_UNREADABLE (the reason after the
 *	text, past a NUL byte) or ATTACH_CHILD_FAILED for bad arguments or
 *	an unreadable standard input (with its reason likewise).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach_reader/attach_docs.h"
#include "common/buf.h"
#include "mail/attach_text.h"

/* A number argument, or -1. */
static long long number(const char *s)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' || v < 0 ? -1 : v;
}

int main(int argc, char **argv)
{
    enum attach_format fmt = ATTACH_FORMAT_NONE;
    struct buf text = BUF_INIT;
    const char *error = NULL;
    long long len, max;
    void *data = NULL;
    int rc;

    if (argc >= 2)
        fmt = attach_format_parse(argv[1]);
    len = argc >= 4 ? number(argv[2]) : -1;
    max = argc >= 4 ? number(argv[3]) : -1;
    if (argc < 4 || argc > 5 || fmt == ATTACH_FORMAT_NONE || len <= 0 || max < 0 ||
        (unsigned long long)len > ATTACH_TEXT_INPUT_MAX) {
        attach_text_send(STDOUT_FILENO, &text, 0, ATTACH_CHILD_FAILED,
                         "usage: tab-attach-text FORMAT LENGTH MAX [CHARSET]");
        return ATTACH_CHILD_FAILED;
    }
    data = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, STDIN_FILENO, 0);
    if (data == MAP_FAILED) {
        attach_text_send(STDOUT_FILENO, &text, 0, ATTACH_CHILD_FAILED,
                         "cannot map the document on standard input");
        return ATTACH_CHILD_FAILED;
    }
    rc = attach_docs_extract(fmt, data, (size_t)len, argc == 5 ? argv[4] : NULL, &text, (size_t)max,
                             &error) < 0
             ? ATTACH_CHILD_UNREADABLE
             : ATTACH_CHILD_OK;
    rc = attach_text_send(STDOUT_FILENO, &text, (size_t)max, rc, error);
    (void)munmap(data, (size_t)len);
    buf_free(&text);
    return rc;
}
