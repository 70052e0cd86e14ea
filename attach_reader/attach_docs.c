/*
 * NAME
 *	attach_docs 3
 * SUMMARY
 *	the readers of document attachments: PDF, OOXML, ODF
 * SYNOPSIS
 *	#include "attach_reader/attach_docs.h"
 *
 *	if (attach_docs_extract(fmt, data, len, charset, &out, max, &error) < 0) ...
 * DESCRIPTION
 *	One function per format, each appending the document's text to a
 *	buffer, at most max bytes:
 *	  PDF    poppler (glib API): poppler_page_get_text() of each page,
 *	         at most ATTACH_TEXT_PDF_PAGES pages
 *	  OOXML  libzip + libxml2: the <t> elements (w:t, a:t, t) of
 *	         word/document.xml, its headers, footers, foot- and
 *	         endnotes, xl/sharedStrings.xml, xl/worksheets/sheet*.xml
 *	         (inline strings), ppt/slides/slide*.xml
 *	  ODF    libzip + libxml2: every text node of content.xml
 *	HTML and RTF go to attach_text_extract() (mail/attach_text_formats.c).
 *	A zip member's XML is streamed (xmlReaderForIO) from zip_fread(), so
 *	memory does not grow with a member; all members of one document
 *	together yield at most ATTACH_TEXT_ZIP_MAX uncompressed bytes, and a
 *	zip bomb stops there ("uncompressed size over the limit"), whatever
 *	sizes its directory claims. libxml2 runs without network access,
 *	without entity substitution and with its own limits on entity
 *	amplification. Inside a word, runs of text (Word splits
 *	"INV-2026-004711" across <w:r> elements at will) are joined without
 *	a space; paragraphs, cells, tabs and breaks become one.
 *
 *	Only the tab-attach-text program (tab_attach_text.c) and the tests
 *	link this file: the libraries it needs (poppler with cairo, NSS and
 *	the X libraries below it; libzip; libxml2 with ICU) were most of the
 *	start-up time of every tabularium command and of the daemon's
 *	processes, which never read a document themselves.
 *
 *	These functions are bounded in size, not in time or memory: the
 *	libraries are trusted to end, not to end soon. The indexer runs them
 *	only in a child process with limits (mail/attach_text.c).
 * DIAGNOSTICS
 *	-1 with a static *error_r for a document the library cannot open
 *	or read to its end (what was read stays in out).
 */
#include "attach_reader/attach_docs.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/xmlreader.h>
#include <poppler.h>
#include <zip.h>

#include "common/buf.h"
#include "mail/attach_text.h"

/* PDF */

static int extract_pdf(const char *data, size_t len, struct buf *out, size_t max,
                       const char **error_r)
{
    GBytes *bytes = g_bytes_new_static(data, len);
    GError *gerr = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    int pages, ret = 0;

    if (doc == NULL) {
        *error_r = "poppler cannot open the PDF";
        if (gerr != NULL)
            g_error_free(gerr);
        g_bytes_unref(bytes);
        return -1;
    }
    pages = poppler_document_get_n_pages(doc);
    if (pages > ATTACH_TEXT_PDF_PAGES)
        pages = ATTACH_TEXT_PDF_PAGES;
    for (int i = 0; i < pages && out->len < max; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text;

        if (page == NULL) {
            *error_r = "poppler cannot read a page";
            ret = -1;
            break;
        }
        text = poppler_page_get_text(page);
        if (text != NULL) {
            attach_text_out_space(out, max);
            (void)attach_text_out_add(out, max, text, strlen(text));
            g_free(text);
        }
        g_object_unref(page);
    }
    g_object_unref(doc);
    g_bytes_unref(bytes);
    return ret;
}

/* OOXML and ODF: XML members of a zip file */

struct zip_xml_input {
    zip_file_t *zf;
    size_t *budget; /* uncompressed bytes left for the whole document */
    int over, failed;
};

static int zip_xml_read(void *ctx, char *buffer, int len)
{
    struct zip_xml_input *in = ctx;
    zip_int64_t n;

    if (*in->budget == 0) {
        in->over = 1;
        return -1;
    }
    if ((size_t)len > *in->budget)
        len = (int)*in->budget;
    n = zip_fread(in->zf, buffer, (zip_uint64_t)len);
    if (n < 0) {
        in->failed = 1;
        return -1;
    }
    *in->budget -= (size_t)n;
    return (int)n;
}

static int zip_xml_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static void xml_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void xml_quiet_structured(void *ctx, xmlErrorPtr error)
{
    (void)ctx;
    (void)error;
}

/* Element names (without prefix) that end a word: paragraphs, headings,
 * table cells and rows, tabs, breaks, list items, shared strings. */
static int xml_separates(const char *name)
{
    static const char *const names[] = {
        "p",  "h",  "tab", "br",         "cr",        "s",           "line-break",
        "si", "tc", "row", "table-cell", "list-item", "txbxContent", "sp",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* The text of one XML member: all text nodes (all_text) or those inside
 * <t> elements. 0, or -1 with *error_r. */
static int zip_member_text(zip_t *z, zip_uint64_t index, int all_text, size_t *budget,
                           struct buf *out, size_t max, const char **error_r)
{
    struct zip_xml_input in = {0};
    xmlTextReaderPtr r;
    int in_t = 0, rc = 1;

    in.zf = zip_fopen_index(z, index, 0);
    in.budget = budget;
    if (in.zf == NULL) {
        *error_r = "a zip member cannot be read";
        return -1;
    }
    r = xmlReaderForIO(zip_xml_read, zip_xml_close, &in, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                           XML_PARSE_COMPACT);
    if (r == NULL) {
        zip_fclose(in.zf);
        *error_r = "libxml2 cannot read a zip member";
        return -1;
    }
    xmlTextReaderSetErrorHandler(r, NULL, NULL);
    while (out->len < max && (rc = xmlTextReaderRead(r)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *name = (const char *)xmlTextReaderConstLocalName(r);

        switch (type) {
        case XML_READER_TYPE_ELEMENT:
            if (name != NULL && xml_separates(name))
                attach_text_out_space(out, max);
            if (name != NULL && strcmp(name, "t") == 0 && !xmlTextReaderIsEmptyElement(r))
                in_t++;
            break;
        case XML_READER_TYPE_END_ELEMENT:
            if (name != NULL && xml_separates(name))
                attach_text_out_space(out, max);
            if (name != NULL && strcmp(name, "t") == 0 && in_t > 0)
                in_t--;
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (all_text || in_t > 0) {
                const char *v = (const char *)xmlTextReaderConstValue(r);
                if (v != NULL)
                    (void)attach_text_out_add(out, max, v, strlen(v));
            }
            break;
        default:
            break;
        }
    }
    xmlFreeTextReader(r); /* closes nothing: zip_xml_close */
    zip_fclose(in.zf);
    attach_text_out_space(out, max);
    if (in.over) {
        *error_r = "uncompressed size over the limit (a zip bomb?)";
        return -1;
    }
    if (in.failed) {
        *error_r = "a zip member is damaged";
        return -1;
    }
    if (out->len < max && rc < 0) {
        *error_r = "a zip member is not well-formed XML";
        return -1;
    }
    return 0;
}

/* Which members of a zip document hold its text. */
static int zip_member_wanted(enum attach_format fmt, const char *name)
{
    static const char *const ooxml[] = {
        "word/document.xml",        "word/header*.xml",      "word/footer*.xml",
        "word/footnotes.xml",       "word/endnotes.xml",     "xl/sharedStrings.xml",
        "xl/worksheets/sheet*.xml", "ppt/slides/slide*.xml",
    };
    if (fmt == ATTACH_FORMAT_ODF)
        return strcmp(name, "content.xml") == 0;
    for (size_t i = 0; i < sizeof(ooxml) / sizeof(ooxml[0]); i++)
        if (g_pattern_match_simple(ooxml[i], name))
            return 1;
    return 0;
}

static int extract_zip(enum attach_format fmt, const char *data, size_t len, struct buf *out,
                       size_t max, const char **error_r)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *z;
    zip_int64_t n;
    size_t budget = ATTACH_TEXT_ZIP_MAX;
    int ret = 0, members = 0, found = 0;

    zip_error_init(&zerr);
    src = zip_source_buffer_create(data, len, 0, &zerr);
    if (src == NULL) {
        zip_error_fini(&zerr);
        *error_r = "libzip cannot take the buffer";
        return -1;
    }
    z = zip_open_from_source(src, ZIP_RDONLY, &zerr);
    zip_error_fini(&zerr);
    if (z == NULL) {
        zip_source_free(src);
        *error_r = "not a readable zip file";
        return -1;
    }
    n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n && out->len < max; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (name == NULL || !zip_member_wanted(fmt, name))
            continue;
        found = 1;
        if (++members > ATTACH_TEXT_ZIP_MEMBERS)
            break;
        if (zip_member_text(z, (zip_uint64_t)i, fmt == ATTACH_FORMAT_ODF, &budget, out, max,
                            error_r) < 0) {
            ret = -1;
            break;
        }
    }
    zip_discard(z); /* frees src */
    if (ret == 0 && !found) {
        *error_r = "a zip file without the members of a known document";
        ret = -1;
    }
    return ret;
}

int attach_docs_extract(enum attach_format fmt, const char *data, size_t len, const char *charset,
                        struct buf *out, size_t max, const char **error_r)
{
    static int xml_ready;

    *error_r = NULL;
    switch (fmt) {
    case ATTACH_FORMAT_PDF:
        return extract_pdf(data, len, out, max, error_r);
    case ATTACH_FORMAT_OOXML:
    case ATTACH_FORMAT_ODF:
        if (!xml_ready) {
            xmlInitParser();
            xmlSetGenericErrorFunc(NULL, xml_quiet);
            xmlSetStructuredErrorFunc(NULL, xml_quiet_structured);
            xml_ready = 1;
        }
        return extract_zip(fmt, data, len, out, max, error_r);
    case ATTACH_FORMAT_HTML:
    case ATTACH_FORMAT_RTF:
    case ATTACH_FORMAT_NONE:
        break;
    }
    return attach_text_extract(fmt, data, len, charset, out, max, error_r);
}
