/*
 * NAME
 *	record 3h
 * SUMMARY
 *	one archived message as the store and the catalog see it
 * DESCRIPTION
 *	Filled by lmtpd (envelope, index fields, hashes) before store_put()
 *	and catalog_add(); filled by a catalog's search/get for the CLI.
 *	All strings are heap-owned by the record; record_free() releases
 *	them and zeroes the struct. Strings are UTF-8 or raw 8-bit as
 *	received: consumers must escape for their medium (SQL parameters,
 *	JSON, headers) and never trust them in a path.
 */
#ifndef TAB_RECORD_H
#define TAB_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/archive_id.h"
#include "common/sha256.h"

#define ENVELOPE_COMPLETE "complete"
#define ENVELOPE_INCOMPLETE "incomplete"
/* Brought in by tabularium import: the recipients were reconstructed from
 * the header (To, Cc, Bcc, Delivered-To, X-Original-To, Envelope-To). */
#define ENVELOPE_IMPORTED "imported"
/* The ENVELOPE_* constant equal to s, or NULL (s NULL or another value). */
const char *envelope_status_of(const char *s);

/* How completely the catalog indexes a message (index_status). A degraded
 * record carries only what needs no parsing of the message: the envelope,
 * hashes, sizes, queue id, arrival, retention, store and location; no
 * header index fields and no text. "tabularium reindex" (catalog
 * reindex()) fills them in later. */
#define INDEX_FULL "full"
#define INDEX_DEGRADED "degraded"
/* Longest index_note a catalog keeps (bytes; longer notes are cut). */
#define INDEX_NOTE_MAX 1000

/* One envelope recipient of the original message. */
struct record_rcpt {
    char *address;      /* decoded original recipient, e.g. bob@example.com */
    char *archive_rcpt; /* RCPT TO as received, e.g. archive+bob=example.com@archive.test */
    char *orcpt;        /* ORCPT= parameter or NULL */
    char *notify;       /* NOTIFY= parameter or NULL */
};

/* A From/To/Cc header address. */
struct record_addr {
    char *name;    /* display name decoded to UTF-8, or NULL */
    char *address; /* addr-spec, or NULL for a group/undisclosed list */
};

struct record_addrs {
    struct record_addr *v;
    size_t n;
};

/* An attachment of the original (a MIME part with a file name or a
 * non-text content type). */
struct record_attachment {
    char *filename;     /* decoded to UTF-8, or NULL */
    char *content_type; /* "type/subtype", lower case */
};

struct archive_record {
    char archive_id[ARCHIVE_ID_SIZE];
    char *queue_id;              /* Postfix queue id (XFORWARD IDENT), "" unknown */
    char *envelope_from;         /* "" for the null sender */
    const char *envelope_status; /* ENVELOPE_COMPLETE | _INCOMPLETE | _IMPORTED (static) */
    const char *index_status;    /* INDEX_FULL | INDEX_DEGRADED (static); NULL: full */
    char *index_note;            /* degraded: why (free text, at most INDEX_NOTE_MAX
                                    bytes stored); NULL when full */
    struct record_rcpt *rcpts;
    size_t n_rcpts;
    char *mail_params; /* MAIL FROM parameters as received: "SIZE=1 BODY=8BITMIME" */
    char *xforward;    /* XFORWARD attributes as received: "NAME=x ADDR=y IDENT=z" */

    /* index fields from the original's header (mail/index_fields.c) */
    struct record_addrs hdr_from, hdr_to, hdr_cc;
    char *date;        /* Date: in UTC "YYYY-MM-DDTHH:MM:SSZ"; NULL missing/unparseable */
    char *date_raw;    /* Date: value exactly as received (folding kept), or NULL */
    char *subject;     /* decoded to UTF-8, or NULL when absent */
    char *subject_raw; /* Subject: value exactly as received (folding, encoded-words), or NULL */
    char *message_id;  /* Message-ID without angle brackets, or NULL */
    char *received_id; /* queue id in the topmost Received: if Postfix added it, or NULL */
    char *received_by; /* by-host of the topmost Received:, lower case, or NULL */
    char *loop_archive_id; /* X-Tabularium-Archive-Id of the original, or NULL */

    /* full-text index (mail/index_fields.c, read from the body in bounded
     * memory): decoded text of text/plain and text/html parts, tags
     * stripped, UTF-8, at most INDEX_FIELDS_TEXT_MAX bytes; NULL if none */
    char *body_text;
    struct record_attachment *attachments;
    size_t n_attachments;
    /* 1: body_text and attachments were not extracted at delivery; the
     * catalog's indexer reads them from the stored copy (SQLite) */
    int index_later;

    time_t arrival;                       /* when DATA ended */
    time_t retain_until;                  /* arrival + retention_period; 0 = forever */
    uint64_t size;                        /* bytes of the original (after dot-unstuffing) */
    char sha256[SHA256_HEX_SIZE];         /* of the original */
    uint64_t wrapped_size;                /* bytes of the archive message */
    char wrapped_sha256[SHA256_HEX_SIZE]; /* of the archive message */

    char *store;    /* store driver name, e.g. "maildir" */
    char *location; /* where the store put the archive message (driver-specific) */
};

/* The record's text fields (each a heap char * or NULL), by offset: the
 * envelope's first, then RECORD_N_CONTENT_TEXT that parsing the original
 * gave. record_free() and the wire format (record_wire.h) walk this one
 * list, so a new text field is added here and nowhere else. */
extern const size_t record_text_fields[];
#define RECORD_N_TEXT 16
#define RECORD_N_CONTENT_TEXT 9
char **record_text_field(struct archive_record *rec, size_t i);

void record_free(struct archive_record *rec);
/* Drop everything that parsing the original gave (header index fields,
 * text, attachments) and flag the record INDEX_DEGRADED with note (cut at
 * INDEX_NOTE_MAX): what is left needs no parsing of the message. */
void record_degrade(struct archive_record *rec, const char *note);
/* 1 when rec->index_status is INDEX_DEGRADED (NULL or INDEX_FULL: 0). */
int record_is_degraded(const struct archive_record *rec);
void record_add_rcpt(struct archive_record *rec, const char *address, const char *archive_rcpt,
                     const char *orcpt, const char *notify);
void record_add_attachment(struct archive_record *rec, const char *filename,
                           const char *content_type);
void record_addrs_add(struct record_addrs *a, const char *name, const char *address);
/* rec's header address list for a catalog's field name ("from", "to",
 * "cc"); NULL for any other name. */
struct record_addrs *record_addrs_field(struct archive_record *rec, const char *field);
/* "YYYY-MM-DDTHH:MM:SSZ" for t into buf (size >= 21). */
void record_format_time(time_t t, char buf[21]);
/* Parse "YYYY-MM-DD" or an ISO 8601 timestamp (with Z or +hh:mm, or local
 * date treated as UTC). 0 ok, -1 malformed. */
int record_parse_time(const char *s, time_t *t_r);

#endif
