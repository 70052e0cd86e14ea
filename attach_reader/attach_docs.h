/*
 * NAME
 *	attach_docs 3h
 * SUMMARY
 *	the text of a PDF, OOXML or ODF document (and, through
 *	attach_text_extract(), of HTML and RTF)
 * DESCRIPTION
 *	For the tab-attach-text program and the tests only: the daemon and
 *	the CLI never link poppler, libzip or libxml2 (attach_docs.c).
 */
#ifndef TAB_ATTACH_DOCS_H
#define TAB_ATTACH_DOCS_H

#include <stddef.h>

#include "common/buf.h"
#include "mail/attach_text.h"

/*
 * The text of data[0..len) in format fmt, appended to out (UTF-8), at
 * most max bytes; charset: an HTML document's declared charset or NULL.
 * In-process and bounded only by the formats' own limits
 * (mail/attach_text.h). 0, or -1 with *error_r (static text) when the
 * document is unreadable; what was read before the error stays in out.
 */
int attach_docs_extract(enum attach_format fmt, const char *data, size_t len, const char *charset,
                        struct buf *out, size_t max, const char **error_r);

#endif
