/*
 * NAME
 *	attach_kind 3h
 * SUMMARY
 *	which attachments may hold text: the formats, by type and file name
 * DESCRIPTION
 *	attach_kind.c: the one table of formats whose text is indexed, for
 *	the indexer's collector (mail/attach_text.h) and the PostgreSQL
 *	catalog's queue of attachments' text.
 */
#ifndef TAB_ATTACH_KIND_H
#define TAB_ATTACH_KIND_H

enum attach_format {
    ATTACH_FORMAT_NONE,
    ATTACH_FORMAT_PDF,
    ATTACH_FORMAT_OOXML, /* DOCX, XLSX, PPTX */
    ATTACH_FORMAT_ODF,   /* ODT, ODS, ODP */
    ATTACH_FORMAT_HTML,
    ATTACH_FORMAT_RTF,
};

/* The name of a format, for log lines ("pdf", "ooxml", ...), and back
 * (ATTACH_FORMAT_NONE for any other name). */
const char *attach_format_name(enum attach_format fmt);
enum attach_format attach_format_parse(const char *name);

/* The format a type ("type/subtype", any case) or a file name's
 * extension names, or ATTACH_FORMAT_NONE. */
enum attach_format attach_format_of_type(const char *ctype);
enum attach_format attach_format_of_name(const char *filename);

/* Might a part of this type ("type/subtype", lower case) and file name
 * (or NULL) hold text of a known format? Decided before its content is
 * read: by type, by extension, or because the type says nothing
 * (application/octet-stream and the like). */
int attach_text_candidate(const char *ctype, const char *filename);

#endif
