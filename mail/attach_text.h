/*
 * NAME
 *	attach_text 3h
 * SUMMARY
 *	the text inside attachments (PDF, OOXML, ODF, HTML, RTF), in a
 *	bounded child process; for the indexer only
 * DESCRIPTION
 *	attach_text.c owns the collector the MIME walker feeds an
 *	attachment's content to (index_fields_extract_body_attachments()),
 *	the format detection and the child process each extraction runs in;
 *	attach_text_formats.c owns the readers of HTML and RTF, and the
 *	tab-attach-text program (attach_reader/) those of PDF, OOXML and ODF,
 *	so that no other program links poppler, libzip or libxml2.
 *
 *	Never in the delivery path: only the text source (mail/text_source.c,
 *	used by the indexer and by the CLI's searches) creates a collector.
 *
 *	Bounds, per attachment: ATTACH_TEXT_INPUT_MAX decoded bytes (a
 *	larger attachment is not read), a child with ATTACH_TEXT_MEMORY
 *	bytes of address space more than the parent's, ATTACH_TEXT_CPU_S of
 *	CPU and ATTACH_TEXT_WALL_S of wall clock, at most
 *	ATTACH_TEXT_ZIP_MAX bytes decompressed from a zip document;
 *	per message: ATTACH_TEXT_PARTS_MAX attachments, a wall-clock budget
 *	(attach_text_new()) and INDEX_FIELDS_TEXT_MAX bytes of text, body
 *	text included.
 */
#ifndef TAB_ATTACH_TEXT_H
#define TAB_ATTACH_TEXT_H

#include <stddef.h>

#include "common/attach_kind.h"
#include "common/buf.h"
#include "common/privs.h"

/* Decoded bytes of one attachment that are read; a larger one is skipped. */
#define ATTACH_TEXT_INPUT_MAX (64 * 1024 * 1024)
/* Attachments whose text is extracted, per message. */
#define ATTACH_TEXT_PARTS_MAX 32
/* Address space a child may use beyond what it inherits from its parent. */
#define ATTACH_TEXT_MEMORY (512L * 1024 * 1024)
/* CPU seconds (RLIMIT_CPU) and wall-clock seconds of one child. */
#define ATTACH_TEXT_CPU_S 10
#define ATTACH_TEXT_WALL_S 15
/* Uncompressed bytes read from all members of one zip document together
 * (a zip bomb stops here), and members read. */
#define ATTACH_TEXT_ZIP_MAX (64 * 1024 * 1024)
#define ATTACH_TEXT_ZIP_MEMBERS 200
/* PDF pages read. */
#define ATTACH_TEXT_PDF_PAGES 2000

/* The program that reads PDF, OOXML and ODF documents (attach_reader/),
 * its exit codes, and where it is: beside the running program (the build
 * tree, or an installation that keeps them together), else in
 * TAB_HELPER_DIR (CMakeLists.txt: LIBEXECDIR/tabularium). Returns a new
 * string. */
#define ATTACH_TEXT_PROGRAM "tab-attach-text"
enum attach_child_exit {
    ATTACH_CHILD_OK = 0,
    ATTACH_CHILD_UNREADABLE = 3, /* the reader gave up; what it read is sent */
    ATTACH_CHILD_FAILED = 4,     /* the child could not start its work */
    ATTACH_CHILD_NOEXEC = 5,     /* the program could not be run; why is sent */
};
char *attach_text_program(void);

/* The reader's side of the pipe: at most max bytes of text (a NUL in it
 * becomes a space), then, unless rc is ATTACH_CHILD_OK, a NUL and error.
 * Returns rc, or ATTACH_CHILD_FAILED when the pipe failed. */
int attach_text_send(int fd, struct buf *text, size_t max, int rc, const char *error);

/* Append n bytes of UTF-8 text to out, cut on a character boundary at
 * max bytes: 1 when all went in. _space: one blank unless out ends in
 * one. For the readers of each format. */
int attach_text_out_add(struct buf *out, size_t max, const char *s, size_t n);
void attach_text_out_space(struct buf *out, size_t max);

/* The format of an attachment from its first bytes (head, n of them:
 * magic numbers first, since mail clients mislabel), then its type and
 * file name. */
enum attach_format attach_text_detect(const char *ctype, const char *filename,
                                      const unsigned char *head, size_t n);

/* Bytes looked at by attach_text_worth_reading(). */
#define ATTACH_TEXT_PROBE (64 * 1024 + 64)

/* Is the attachment in fd (size bytes) of format fmt worth a child: a
 * PDF with an object in its first ATTACH_TEXT_PROBE bytes, a zip file
 * with its end of central directory in its last ones? 1 for the others. */
int attach_text_worth_reading(enum attach_format fmt, int fd, size_t size);

/*
 * attach_text_formats.c: the text of data[0..len) in format fmt (HTML or
 * RTF; the others are refused: attach_reader/attach_docs.h), appended
 * to out (UTF-8 for RTF; HTML is what index_text.c turns into collapsed
 * UTF-8; charset: the HTML's declared charset or NULL), at most max bytes.
 * In-process and bounded only by the format's own limits above: the
 * indexer calls it in a child (attach_text_part_end()), tests directly.
 * 0, or -1 with *error_r (static text) when the document is unreadable;
 * what was read before the error stays in out.
 */
int attach_text_extract(enum attach_format fmt, const char *data, size_t len, const char *charset,
                        struct buf *out, size_t max, const char **error_r);

/*
 * attach_text.c: run reader(ctx, out, max, error_r) (the signature of
 * attach_text_extract() with its document in ctx) in a child process
 * with the limits above and wall seconds of wall clock, as privs (NULL:
 * as this process; privs_init(), common/privs.h); the text it
 * wrote (at most max bytes) is appended to text. NULL when the child
 * ended well, else the reason (in reason_buf): killed (time, CPU),
 * crashed or out of memory (text stays empty), or "unreadable: ..."
 * (the reader's error; the text it read before stays), "cannot run
 * PROGRAM: ..." (attach_text.c's own use: reader NULL, the child then
 * runs the program its ctx names).
 */
typedef int attach_reader_fn(void *ctx, struct buf *out, size_t max, const char **error_r);
const char *attach_text_bounded(attach_reader_fn *reader, void *ctx, const struct privs *privs,
                                size_t max, double wall, struct buf *text, char *reason_buf,
                                size_t reason_size);

/* The collector of one process: one spool file, reused. */
struct attach_text;

/* tmpdir: where the unnamed spool file goes (else TMPDIR or /tmp);
 * budget_s: wall-clock seconds all attachments of one message may take
 * together (at least 1); mail_owner: the account the children become
 * when this process is root (NULL: root reads no attachment). */
struct attach_text *attach_text_new(const char *tmpdir, unsigned budget_s, const char *mail_owner);
void attach_text_free(struct attach_text **at);

/* A message starts; log_id names it in log lines (its archive id). */
void attach_text_message(struct attach_text *at, const char *log_id);
/* An attachment part starts: its type, file name (or NULL), charset
 * parameter (or NULL) and transfer encoding (or NULL). */
void attach_text_part_begin(struct attach_text *at, const char *ctype, const char *filename,
                            const char *charset, const char *encoding);
/* A line (or piece) of its still encoded content. */
void attach_text_part_feed(struct attach_text *at, const char *data, size_t len);
/* It has ended: its text is extracted in a bounded child. */
void attach_text_part_end(struct attach_text *at);
/* The text of the message's attachments (collapsed, valid UTF-8),
 * handed over, or NULL; the collector is ready for the next message. */
char *attach_text_take(struct attach_text *at);

#endif
