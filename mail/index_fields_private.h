/*
 * NAME
 *	index_fields_private 3h
 * SUMMARY
 *	what the parsers behind index_fields.h share; private to mail/
 * DESCRIPTION
 *	index_fields.c reads the header block and hands each field to its
 *	parser; the parsers live one concern to a file:
 *	  index_words.c        unfolding, comments (CFWS), RFC 2047 words and
 *	                       8-bit text to UTF-8
 *	  index_address.c      From:, To:, Cc: address lists
 *	  index_date.c         Date:
 *	  index_mime.c         the MIME walker: index_fields_extract_body(),
 *	                       attachments
 *	  index_mime_params.c  Content-Type and Content-Disposition values
 *	  index_text.c         a text part's content: transfer decoding,
 *	                       charsets, UTF-8, HTML to text, the collected text
 *	index_fields.c's header lists every parser with its bound.
 *
 *	Only mail/ includes this header (PRIVATE_HEADERS of tab_mail): the
 *	rest of the tree knows index_fields.h.
 */
#ifndef TAB_INDEX_FIELDS_PRIVATE_H
#define TAB_INDEX_FIELDS_PRIVATE_H

#include <stddef.h>
#include <time.h>

#include <gmime/gmime.h>

#include "common/buf.h"
#include "backends/record.h"

/* Bytes read at a time, from the header block and from the body. */
#define INDEX_FIELDS_CHUNK (64 * 1024)
/* Nested multiparts and message/rfc822 parts; deeper content is skipped. */
#define INDEX_FIELDS_MIME_DEPTH 32
/* RFC 2046 allows 70; longer boundaries are taken as broken. */
#define INDEX_FIELDS_BOUNDARY_MAX 200
/* Content-Type, Content-Disposition or Content-Transfer-Encoding of a part. */
#define INDEX_FIELDS_MIME_FIELD_MAX (16 * 1024)

/* index_fields.c: field names compare case-insensitively (RFC 5322 1.2.2). */
int index_fields_name_is(const char *line, size_t name_len, const char *name);

/* index_words.c */
static inline int index_words_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
const char *index_words_skip_comment(const char *p, size_t *content_len_r);
const char *index_words_skip_cfws(const char *p, const char **comment_r, size_t *comment_len_r);
const char *index_words_cfws(const char *p);
char *index_words_utf8_dup(const char *s);
char *index_words_unfold(const char *raw);
char *index_words_decode_plain(const char *s, size_t n);
char *index_words_decode(const char *s, int phrase);

/* index_address.c: the addresses of one From:, To: or Cc: value. */
void index_address_parse(struct record_addrs *out, const char *raw);

/* index_date.c: the date in value as seconds since the epoch; -1 when it
 * is not one. */
int index_date_parse(const char *value, time_t *t_r);

/* index_mime_params.c */
enum mime_param { MIME_BOUNDARY, MIME_CHARSET, MIME_NAME, MIME_FILENAME, MIME_PARAMS };

struct mime_value {
    char type[64], subtype[64]; /* lower case; type "" when unparsable */
    char *param[MIME_PARAMS];
};

/* Content-Type (with_subtype) or Content-Disposition value into *mv. */
void index_mime_params_parse(const char *value, int with_subtype, struct mime_value *mv);
void index_mime_params_free(struct mime_value *mv);

/* index_text.c: the text of the indexed text parts of one message. */
enum html_state {
    HTML_TEXT,
    HTML_TAG_OPEN, /* after "<" */
    HTML_TAG,      /* inside a tag, up to ">" */
    HTML_TAG_QUOTE,
    HTML_COMMENT,
    HTML_RAW,    /* content of <script> or <style>, dropped */
    HTML_ENTITY, /* after "&" */
};

/* A part's Content-Transfer-Encoding undone chunk by chunk: base64 and
 * quoted-printable; anything else (x-uuencode needs its "begin" line
 * found first) passes as is. */
struct index_decoder {
    GMimeEncoding state;
    int active;
    char *out;
    size_t cap;
};
void index_decoder_begin(struct index_decoder *d, const char *encoding);
/* The decoded bytes of data (len of them) in *data_r (the decoder's
 * buffer, valid until the next step); returns their length. */
size_t index_decoder_step(struct index_decoder *d, const char *data, size_t len,
                          const char **data_r);
void index_decoder_free(struct index_decoder *d);

struct index_text {
    /* the text part being decoded */
    int html;
    struct index_decoder decoder;
    GMimeFilter *charset;
    int latin1;          /* undeclared charset: bytes that are not UTF-8 are Latin-1 */
    unsigned char u8[4]; /* an incomplete UTF-8 sequence */
    int u8_have, u8_need;
    int produced;

    /* HTML stripping */
    enum html_state hs;
    char tag[16];
    size_t tag_len;
    int tag_done, tag_closing;
    char quote;
    int dashes;
    const char *raw_end; /* "</script" or "</style" */
    size_t raw_match;
    char entity[12];
    size_t entity_len;

    /* the collected text */
    struct buf out;
    int space; /* white space seen since the last character */
    int text_full;
};

/* A text part starts: html or plain, its charset and transfer encoding
 * (NULL when not declared). */
void index_text_begin(struct index_text *tx, int html, const char *charset, const char *encoding);
/* One line (or piece of one) of the part's content. */
void index_text_feed(struct index_text *tx, char *data, size_t len);
/* The part has ended; 1 when it produced text. */
int index_text_end(struct index_text *tx);
/* The collected text (NUL-terminated; NULL when there is none), handed
 * over; the rest of *tx is freed. */
char *index_text_release(struct index_text *tx);

#endif
