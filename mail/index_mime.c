/*
 * NAME
 *	index_mime 3
 * SUMMARY
 *	the MIME walker: body text and attachments for the catalog
 * SYNOPSIS
 *	#include "mail/index_fields.h"
 *
 *	if (index_fields_extract_body(orig_fd, &rec, &error) < 0) ...
 *	if (index_fields_extract_body_attachments(orig_fd, &rec, at, &error) < 0) ...
 * DESCRIPTION
 *	index_fields_extract_body() reads the whole original once, line by
 *	line, and walks its MIME structure (multiparts, message/rfc822
 *	parts, multipart/digest defaults) with a fixed stack of boundaries
 *	and no recursion. The content of inline text/plain and text/html
 *	parts goes to index_text.c; of a multipart/alternative only the
 *	first alternative that has text is indexed. Every leaf part with a
 *	file name, with Content-Disposition: attachment, or that is not
 *	text, is an attachment: its decoded file name and its lower-case
 *	type are recorded, up to INDEX_FIELDS_ATTACHMENTS_MAX of them. A
 *	part's Content-Type and Content-Disposition are parsed by
 *	index_mime_params.c.
 *
 *	index_fields_extract_body_attachments() (the indexer's text source
 *	only) also hands the content of each attachment that
 *	attach_text_candidate() accepts, line by line, to the collector of
 *	mail/attach_text.c, and appends the text it gives after the body
 *	text, within INDEX_FIELDS_TEXT_MAX bytes in all.
 *
 *	Bound: one line at a time, at most INDEX_FIELDS_MIME_DEPTH levels (a
 *	fixed array), per line at most that many boundary compares; a part's
 *	header fields are kept up to INDEX_FIELDS_MIME_FIELD_MAX bytes.
 * DIAGNOSTICS
 *	-1 with *error_r only when the file cannot be read. Oddities of the
 *	MIME structure are logged at debug level.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "common/log.h"
#include "common/strlist.h"
#include "mail/attach_text.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

/*
 * Body text and attachments.
 *
 * GMime's tree parser keeps one object per MIME part in memory (measured:
 * 2.3 GB of RSS for a 43 MB message of 1.2 million tiny parts), so the
 * structure is walked here instead, one line at a time, by a scanner whose
 * memory is fixed: a stack of at most INDEX_FIELDS_MIME_DEPTH boundaries,
 * three header fields of one part (INDEX_FIELDS_MIME_FIELD_MAX each) and
 * the text collected so far. GMime still does what it is good at:
 * decoding base64 / quoted-printable in steps, RFC 2047 words in file
 * names (through index_words_decode), and converting charsets with its iconv
 * filter; Content-Type and Content-Disposition are parsed here (see
 * index_mime_params_parse).
 */

/* The original, read front to back in INDEX_FIELDS_CHUNK pieces. */
struct body_reader {
    int fd;
    off_t offset; /* file offset of buf[len] */
    size_t pos, len;
    int eof;
    int midline; /* the last piece handed out did not end its line */
    char buf[INDEX_FIELDS_CHUNK];
};

/*
 * The next line, with its line ending, or a piece of a line longer than
 * the buffer (*first_r is 1 for a piece that starts a line). 1: a piece,
 * 0: end of file, -1: read error.
 */
static int body_reader_line(struct body_reader *r, char **line_r, size_t *len_r, int *first_r)
{
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        ssize_t n;

        if (nl != NULL || (r->eof && r->pos < r->len) ||
            (r->pos == 0 && r->len == sizeof(r->buf))) {
            size_t end = nl != NULL ? (size_t)(nl - r->buf) + 1 : r->len;
            *line_r = r->buf + r->pos;
            *len_r = end - r->pos;
            *first_r = !r->midline;
            r->midline = nl == NULL;
            r->pos = end;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        n = pread(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, r->offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
        r->offset += n;
    }
}

/* One open multipart. */
struct mime_level {
    char *boundary;
    size_t boundary_len;
    int msg_depth;   /* message/rfc822 nesting of the multipart itself */
    int digest;      /* multipart/digest: parts default to message/rfc822 */
    int alternative; /* multipart/alternative: index one alternative */
    int alternative_done;
    int quiet; /* no text from inside (an alternative already indexed) */
};

enum mime_field {
    MIME_TYPE,
    MIME_DISPOSITION,
    MIME_ENCODING,
    MIME_FIELDS,
    MIME_NONE = MIME_FIELDS
};

enum mime_state {
    MIME_HEADER, /* in a part's (or message's) header */
    MIME_TEXT,   /* in an indexed text part's content */
    MIME_ATTACH, /* in an attachment whose text the collector reads */
    MIME_SKIP,   /* anything else: preamble, epilogue, attachments */
};

struct mime_scan {
    struct archive_record *rec;
    enum mime_state state;
    struct mime_level levels[INDEX_FIELDS_MIME_DEPTH];
    int n_levels;

    /* the part whose header is being read */
    char *field[MIME_FIELDS];
    size_t field_len[MIME_FIELDS];
    int field_seen[MIME_FIELDS];
    enum mime_field cur_field;
    int msg_depth, digest, quiet;

    /* the text of the indexed text parts */
    struct index_text text;
    int dropped_attachments;
    struct attach_text *attach; /* the indexer's collector, or NULL */
};

/* The text part (if one is being read) has ended. */
static void mime_text_end(struct mime_scan *sc)
{
    if (sc->state != MIME_TEXT)
        return;
    if (index_text_end(&sc->text))
        for (int i = 0; i < sc->n_levels; i++)
            if (sc->levels[i].alternative)
                sc->levels[i].alternative_done = 1;
    sc->state = MIME_SKIP;
}

/* The attachment being read for its text (if one is) has ended. */
static void mime_attach_end(struct mime_scan *sc)
{
    if (sc->state != MIME_ATTACH)
        return;
    attach_text_part_end(sc->attach);
    sc->state = MIME_SKIP;
}

/* "type/subtype" in lower case, token characters only. */
static char *mime_type_string(const char *type, const char *subtype)
{
    char *s = xasprintf("%.60s/%.60s", type, subtype);

    for (char *p = s; *p != '\0'; p++) {
        *p = (char)g_ascii_tolower(*p);
        if (!g_ascii_isalnum(*p) && strchr("/!#$&^_.+-", *p) == NULL)
            *p = '_';
    }
    return s;
}

/* UTF-8 file name cut to INDEX_FIELDS_FILENAME_MAX bytes on a character
 * boundary; NULL for none. */
static char *attachment_filename(const char *name)
{
    char *valid, *end;

    if (name == NULL || *name == '\0')
        return NULL;
    valid = index_words_utf8_dup(name);
    if (strlen(valid) > INDEX_FIELDS_FILENAME_MAX) {
        end = g_utf8_find_prev_char(valid, valid + INDEX_FIELDS_FILENAME_MAX + 1);
        *(end != NULL ? end : valid) = '\0';
    }
    return valid;
}

static void attachment_add(struct mime_scan *sc, const char *filename, const char *type,
                           const char *subtype)
{
    char *name, *ctype;

    if (sc->rec->n_attachments >= INDEX_FIELDS_ATTACHMENTS_MAX) {
        if (sc->dropped_attachments++ == 0)
            log_debug("index_fields: more than %d attachments; the rest are not recorded",
                      INDEX_FIELDS_ATTACHMENTS_MAX);
        return;
    }
    name = attachment_filename(filename);
    ctype = mime_type_string(type, subtype);
    record_add_attachment(sc->rec, name, ctype);
    free(name);
    free(ctype);
}

static char *mime_field_value(struct mime_scan *sc, enum mime_field f)
{
    if (sc->field[f] == NULL)
        return NULL;
    sc->field[f][sc->field_len[f]] = '\0';
    return index_words_unfold(sc->field[f]);
}

static void mime_push(struct mime_scan *sc, const char *boundary, const char *subtype)
{
    struct mime_level *l = &sc->levels[sc->n_levels++];

    l->boundary_len = strlen(boundary);
    l->boundary = xstrndup(boundary, l->boundary_len);
    l->msg_depth = sc->msg_depth;
    l->digest = strcmp(subtype, "digest") == 0;
    l->alternative = strcmp(subtype, "alternative") == 0;
    l->alternative_done = 0;
    l->quiet = sc->quiet;
}

static void mime_pop(struct mime_scan *sc)
{
    sc->n_levels--;
    free(sc->levels[sc->n_levels].boundary);
    sc->levels[sc->n_levels].boundary = NULL;
}

static void mime_header_reset(struct mime_scan *sc)
{
    for (int f = 0; f < MIME_FIELDS; f++) {
        sc->field_len[f] = 0;
        sc->field_seen[f] = 0;
        if (sc->field[f] != NULL)
            sc->field[f][0] = '\0';
    }
    sc->cur_field = MIME_NONE;
    sc->state = MIME_HEADER;
}

/* The header of a part or message has ended: decide what its content is. */
static void mime_part_begin(struct mime_scan *sc)
{
    char *type_value = mime_field_value(sc, MIME_TYPE);
    char *disp_value = mime_field_value(sc, MIME_DISPOSITION);
    char *encoding = mime_field_value(sc, MIME_ENCODING);
    struct mime_value ct, disp;
    const char *type, *subtype, *filename;
    int attachment, depth_ok, parsed;

    /* an unparsable Content-Type is text/plain (RFC 2045 5.2) */
    index_mime_params_parse(type_value, 1, &ct);
    index_mime_params_parse(disp_value, 0, &disp);
    parsed = ct.type[0] != '\0';
    if (parsed) {
        type = ct.type;
        subtype = ct.subtype;
    } else {
        type = sc->digest ? "message" : "text";
        subtype = sc->digest ? "rfc822" : "plain";
    }
    attachment = strcmp(disp.type, "attachment") == 0;
    filename = disp.param[MIME_FILENAME];
    if (filename == NULL || *filename == '\0')
        filename = parsed ? ct.param[MIME_NAME] : NULL;
    if (filename != NULL && *filename == '\0')
        filename = NULL;
    depth_ok = sc->n_levels + sc->msg_depth < INDEX_FIELDS_MIME_DEPTH;
    sc->state = MIME_SKIP;

    if (strcmp(type, "multipart") == 0) {
        const char *boundary = ct.param[MIME_BOUNDARY];
        if (boundary == NULL || *boundary == '\0' || strlen(boundary) > INDEX_FIELDS_BOUNDARY_MAX)
            log_debug("index_fields: multipart without a usable boundary: content not indexed");
        else if (!depth_ok)
            log_debug("index_fields: MIME nesting deeper than %d: content not indexed",
                      INDEX_FIELDS_MIME_DEPTH);
        else
            mime_push(sc, boundary, subtype);
    } else if (strcmp(type, "message") == 0 &&
               (strcmp(subtype, "rfc822") == 0 || strcmp(subtype, "global") == 0) &&
               (encoding == NULL ||
                g_mime_content_encoding_from_string(encoding) < GMIME_CONTENT_ENCODING_BASE64)) {
        /* A forwarded message: its own parts follow, at the same boundaries. */
        if (attachment || filename != NULL)
            attachment_add(sc, filename, type, subtype);
        if (depth_ok) {
            sc->msg_depth++;
            sc->digest = 0;
            mime_header_reset(sc);
        }
    } else {
        int text = strcmp(type, "text") == 0 &&
                   (strcmp(subtype, "plain") == 0 || strcmp(subtype, "html") == 0);
        int recorded = attachment || filename != NULL || strcmp(type, "text") != 0;
        if (recorded)
            attachment_add(sc, filename, type, subtype);
        if (text && !attachment && !sc->quiet && !sc->text.text_full) {
            sc->state = MIME_TEXT;
            index_text_begin(&sc->text, strcmp(subtype, "html") == 0,
                             parsed ? ct.param[MIME_CHARSET] : NULL, encoding);
        } else if (recorded && sc->attach != NULL) {
            char *ctype = mime_type_string(type, subtype);
            if (attach_text_candidate(ctype, filename)) {
                sc->state = MIME_ATTACH;
                attach_text_part_begin(sc->attach, ctype, filename,
                                       parsed ? ct.param[MIME_CHARSET] : NULL, encoding);
            }
            free(ctype);
        }
    }
    index_mime_params_free(&ct);
    index_mime_params_free(&disp);
    free(type_value);
    free(disp_value);
    free(encoding);
}

static void mime_field_append(struct mime_scan *sc, const char *s, size_t n)
{
    enum mime_field f = sc->cur_field;
    size_t room;

    if (f == MIME_NONE)
        return;
    room = INDEX_FIELDS_MIME_FIELD_MAX - sc->field_len[f];
    if (n > room)
        n = room;
    if (sc->field[f] == NULL)
        sc->field[f] = xmalloc(INDEX_FIELDS_MIME_FIELD_MAX + 1);
    memcpy(sc->field[f] + sc->field_len[f], s, n);
    sc->field_len[f] += n;
}

static void mime_header_line(struct mime_scan *sc, const char *line, size_t len, int first)
{
    static const char *const names[MIME_FIELDS] = {
        [MIME_TYPE] = "Content-Type",
        [MIME_DISPOSITION] = "Content-Disposition",
        [MIME_ENCODING] = "Content-Transfer-Encoding",
    };
    size_t i = 0;

    if (!first) {
        mime_field_append(sc, line, len);
        return;
    }
    if ((len == 1 && line[0] == '\n') || (len == 2 && line[0] == '\r' && line[1] == '\n')) {
        mime_part_begin(sc);
        return;
    }
    if (line[0] == ' ' || line[0] == '\t') {
        mime_field_append(sc, line, len);
        return;
    }
    sc->cur_field = MIME_NONE;
    while (i < len && (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f &&
           line[i] != ':')
        i++;
    if (i == 0 || i >= len || line[i] != ':')
        return; /* not a field: skipped, as in the message header */
    for (int f = 0; f < MIME_FIELDS; f++) {
        if (index_fields_name_is(line, i, names[f]) && !sc->field_seen[f]) {
            sc->field_seen[f] = 1;
            sc->cur_field = (enum mime_field)f;
            mime_field_append(sc, line + i + 1, len - i - 1);
        }
    }
}

/*
 * Is this line a delimiter of an open multipart? The innermost match
 * wins, so an inner boundary that extends an outer one is found. 1 with
 * the level and whether it closes the multipart ("--boundary--").
 */
static int mime_delimiter(struct mime_scan *sc, const char *line, size_t len, int *level_r,
                          int *close_r)
{
    if (len < 2 || line[0] != '-' || line[1] != '-')
        return 0;
    for (int k = sc->n_levels - 1; k >= 0; k--) {
        const struct mime_level *l = &sc->levels[k];
        const char *rest = line + 2 + l->boundary_len;
        size_t rest_len, j;

        if (len < 2 + l->boundary_len || memcmp(line + 2, l->boundary, l->boundary_len) != 0)
            continue;
        rest_len = len - 2 - l->boundary_len;
        if (rest_len >= 2 && rest[0] == '-' && rest[1] == '-') {
            *level_r = k;
            *close_r = 1;
            return 1;
        }
        for (j = 0; j < rest_len &&
                    (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\r' || rest[j] == '\n');
             j++)
            ;
        if (j == rest_len) {
            *level_r = k;
            *close_r = 0;
            return 1;
        }
    }
    return 0;
}

static void mime_delimiter_found(struct mime_scan *sc, int k, int close)
{
    if (sc->state == MIME_HEADER)
        mime_part_begin(sc); /* a part without body, or without the empty line */
    mime_text_end(sc);
    mime_attach_end(sc);
    while (sc->n_levels > k + 1)
        mime_pop(sc);
    if (close) {
        sc->msg_depth = sc->levels[k].msg_depth;
        sc->quiet = sc->levels[k].quiet;
        mime_pop(sc);
        sc->state = MIME_SKIP; /* the epilogue */
        return;
    }
    sc->msg_depth = sc->levels[k].msg_depth;
    sc->digest = sc->levels[k].digest;
    sc->quiet =
        sc->levels[k].quiet || (sc->levels[k].alternative && sc->levels[k].alternative_done);
    mime_header_reset(sc);
}

/* The text of the message's attachments (at) after its body text, in
 * one text of at most INDEX_FIELDS_TEXT_MAX bytes. */
static char *mime_join_text(char *body, char *attached)
{
    size_t blen, alen, room;
    char *joined;

    if (attached == NULL)
        return body;
    if (body == NULL)
        return attached;
    blen = strlen(body);
    alen = strlen(attached);
    if (blen + 1 >= INDEX_FIELDS_TEXT_MAX) {
        free(attached);
        return body;
    }
    room = INDEX_FIELDS_TEXT_MAX - blen - 1;
    if (alen > room) {
        alen = room; /* cut on a character boundary */
        while (alen > 0 && ((unsigned char)attached[alen] & 0xc0) == 0x80)
            alen--;
    }
    joined = xmalloc(blen + 1 + alen + 1);
    memcpy(joined, body, blen);
    joined[blen] = ' ';
    memcpy(joined + blen + 1, attached, alen);
    joined[blen + 1 + alen] = '\0';
    free(body);
    free(attached);
    return joined;
}

int index_fields_extract_body(int fd, struct archive_record *rec, const char **error_r)
{
    return index_fields_extract_body_attachments(fd, rec, NULL, error_r);
}

int index_fields_extract_body_attachments(int fd, struct archive_record *rec,
                                          struct attach_text *attach, const char **error_r)
{
    /* Not calloc: the 64 KiB buffer needs no zeroing (it cost more than
     * parsing a 4 KiB message). */
    struct body_reader *r = xmalloc(sizeof(*r));
    struct mime_scan sc;
    char *line, *text;
    size_t len;
    int first, rc, level, close, ret = 0;

    memset(&sc, 0, sizeof(sc));
    sc.rec = rec;
    sc.attach = attach;
    memset(r, 0, offsetof(struct body_reader, buf));
    r->fd = fd;
    mime_header_reset(&sc);

    while ((rc = body_reader_line(r, &line, &len, &first)) > 0) {
        if (first && sc.n_levels > 0 && mime_delimiter(&sc, line, len, &level, &close)) {
            mime_delimiter_found(&sc, level, close);
            continue;
        }
        if (sc.state == MIME_HEADER)
            mime_header_line(&sc, line, len, first);
        else if (sc.state == MIME_TEXT && !sc.text.text_full)
            index_text_feed(&sc.text, line, len);
        else if (sc.state == MIME_ATTACH)
            attach_text_part_feed(sc.attach, line, len);
    }
    if (rc < 0) {
        *error_r = "cannot read the original's body";
        ret = -1;
    } else {
        if (sc.state == MIME_HEADER)
            mime_part_begin(&sc); /* a message that is all header */
        mime_text_end(&sc);
        mime_attach_end(&sc);
        if (sc.n_levels > 0)
            log_debug("index_fields: %d multipart(s) not closed at the end of the message",
                      sc.n_levels);
    }
    while (sc.n_levels > 0)
        mime_pop(&sc);
    for (int f = 0; f < MIME_FIELDS; f++)
        free(sc.field[f]);
    text = index_text_release(&sc.text);
    if (attach != NULL)
        text = mime_join_text(text, attach_text_take(attach));
    free(rec->body_text);
    rec->body_text = NULL;
    if (ret == 0)
        rec->body_text = text;
    else
        free(text);
    free(r);
    return ret;
}
