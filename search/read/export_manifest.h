/*
 * NAME
 *	export_manifest 3h
 * SUMMARY
 *	what tabularium export and verify-export agree on
 * DESCRIPTION
 *	The manifest's version and file names, the formats and the two path
 *	helpers both commands apply to PATH. The writer is
 *	search/read/cli_export.c, the reader search/read/cli_export_verify.c;
 *	the manifest's fields are documented in docs/export.md. Private to
 *	those two files: no other command includes this.
 */
#ifndef TAB_EXPORT_MANIFEST_H
#define TAB_EXPORT_MANIFEST_H

/* 2: mbox entries with "line_ends"; 1 (still verified): mbox line ends
 * always as stored. eml and maildir are the same in both. */
#define EXPORT_MANIFEST_VERSION 2
#define EXPORT_MANIFEST_NAME "manifest.json"    /* inside an eml or maildir export */
#define EXPORT_MANIFEST_SUFFIX ".manifest.json" /* beside an mbox file */
#define EXPORT_BUF_SIZE 65536                   /* read and write size */

/* An mbox message's "line_ends": every line end of the message was CRLF
 * and is LF in the mbox (undo: every LF of the unquoted message back to
 * CRLF), or the line ends are as stored. */
#define EXPORT_LINE_ENDS_CRLF_AS_LF "crlf-as-lf"
#define EXPORT_LINE_ENDS_AS_STORED "as-stored"

enum export_format { EXPORT_MBOX, EXPORT_EML, EXPORT_MAILDIR };

/* "mbox", "eml", "maildir", indexed by enum export_format. */
extern const char *const export_format_names[];

/* 0 and *f_r set when s names a format, -1 when not. */
int export_format_parse(const char *s, enum export_format *f_r);

/* path without trailing slashes (but "/" stays "/"). Heap. */
char *export_path_clean(const char *path);

/* The last component of path (points into it). */
const char *export_path_base(const char *path);

#endif
