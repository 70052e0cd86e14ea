/*
 * NAME
 *	attach_kind 3
 * SUMMARY
 *	which attachments may hold text: the formats, by type and file name
 * SYNOPSIS
 *	#include "common/attach_kind.h"
 * DESCRIPTION
 *	Owns the one table of attachment formats whose text is indexed (PDF,
 *	OOXML, ODF, HTML, RTF) by MIME type and file extension, the types
 *	that say nothing about the content, and the rule built on them
 *	(attach_text_candidate()). Below every layer that needs it: the
 *	indexer's collector (mail/attach_text.c) and the PostgreSQL catalog,
 *	which queues a message for its attachments' text at delivery
 *	(backends/postgres/pg_attach_text.c).
 * DIAGNOSTICS
 *	None: pure functions of their arguments.
 */
#include "common/attach_kind.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *ext;
    enum attach_format fmt;
} attach_extensions[] = {
    {".pdf", ATTACH_FORMAT_PDF},    {".docx", ATTACH_FORMAT_OOXML}, {".docm", ATTACH_FORMAT_OOXML},
    {".xlsx", ATTACH_FORMAT_OOXML}, {".xlsm", ATTACH_FORMAT_OOXML}, {".pptx", ATTACH_FORMAT_OOXML},
    {".odt", ATTACH_FORMAT_ODF},    {".ods", ATTACH_FORMAT_ODF},    {".odp", ATTACH_FORMAT_ODF},
    {".htm", ATTACH_FORMAT_HTML},   {".html", ATTACH_FORMAT_HTML},  {".rtf", ATTACH_FORMAT_RTF},
};

static const struct {
    const char *type; /* a prefix when it ends in '.' */
    enum attach_format fmt;
} attach_types[] = {
    {"application/pdf", ATTACH_FORMAT_PDF},
    {"application/x-pdf", ATTACH_FORMAT_PDF},
    {"application/vnd.openxmlformats-officedocument.", ATTACH_FORMAT_OOXML},
    {"application/vnd.ms-word.document.macroenabled.12", ATTACH_FORMAT_OOXML},
    {"application/vnd.ms-excel.sheet.macroenabled.12", ATTACH_FORMAT_OOXML},
    {"application/vnd.oasis.opendocument.", ATTACH_FORMAT_ODF},
    {"text/html", ATTACH_FORMAT_HTML},
    {"application/xhtml+xml", ATTACH_FORMAT_HTML},
    {"text/rtf", ATTACH_FORMAT_RTF},
    {"application/rtf", ATTACH_FORMAT_RTF},
    {"text/richtext", ATTACH_FORMAT_RTF},
};

/* Types that say nothing about the content: the bytes decide. */
static const char *const attach_vague_types[] = {
    "application/octet-stream",     "application/binary",   "application/x-download",
    "application/force-download",   "application/unknown",  "application/zip",
    "application/x-zip-compressed", "application/download",
};

const char *attach_format_name(enum attach_format fmt)
{
    static const char *const names[] = {
        [ATTACH_FORMAT_NONE] = "none",   [ATTACH_FORMAT_PDF] = "pdf",
        [ATTACH_FORMAT_OOXML] = "ooxml", [ATTACH_FORMAT_ODF] = "odf",
        [ATTACH_FORMAT_HTML] = "html",   [ATTACH_FORMAT_RTF] = "rtf",
    };

    return (size_t)fmt < sizeof(names) / sizeof(names[0]) ? names[fmt] : "none";
}

enum attach_format attach_format_parse(const char *name)
{
    for (enum attach_format f = ATTACH_FORMAT_PDF; f <= ATTACH_FORMAT_RTF; f++)
        if (strcmp(name, attach_format_name(f)) == 0)
            return f;
    return ATTACH_FORMAT_NONE;
}

enum attach_format attach_format_of_type(const char *ctype)
{
    if (ctype == NULL)
        return ATTACH_FORMAT_NONE;
    for (size_t i = 0; i < sizeof(attach_types) / sizeof(attach_types[0]); i++) {
        size_t n = strlen(attach_types[i].type);
        if (attach_types[i].type[n - 1] == '.' ? strncasecmp(ctype, attach_types[i].type, n) == 0
                                               : strcasecmp(ctype, attach_types[i].type) == 0)
            return attach_types[i].fmt;
    }
    return ATTACH_FORMAT_NONE;
}

enum attach_format attach_format_of_name(const char *filename)
{
    const char *dot = filename != NULL ? strrchr(filename, '.') : NULL;

    if (dot == NULL)
        return ATTACH_FORMAT_NONE;
    for (size_t i = 0; i < sizeof(attach_extensions) / sizeof(attach_extensions[0]); i++)
        if (strcasecmp(dot, attach_extensions[i].ext) == 0)
            return attach_extensions[i].fmt;
    return ATTACH_FORMAT_NONE;
}

int attach_text_candidate(const char *ctype, const char *filename)
{
    if (attach_format_of_type(ctype) != ATTACH_FORMAT_NONE ||
        attach_format_of_name(filename) != ATTACH_FORMAT_NONE)
        return 1;
    if (ctype == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(attach_vague_types) / sizeof(attach_vague_types[0]); i++)
        if (strcasecmp(ctype, attach_vague_types[i]) == 0)
            return 1;
    return 0;
}
