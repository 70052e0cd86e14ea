/*
 * NAME
 *	test_chain - the canonical encoding of a chain link (docs/integrity.md)
 * DESCRIPTION
 *	The encoding is a public format: auditors recompute hashes from it
 *	with sqlite3/psql and sha256sum. These vectors were computed outside
 *	Tabularium (printf | sha256sum) from the text of docs/integrity.md;
 *	a change that breaks them breaks every chain already written.
 *	Covers: field order, escaping of backslash and line feed, recipients
 *	sorted by bytes whatever order they come in, retain-until "forever"
 *	and a time, and that every field takes part in the hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/catalog.h"
#include "common/strlist.h"
#include "tests/unit/check.h"

static const char golden[] =
    "tabularium-chain 1\n"
    "seq 7\n"
    "prev abababababababababababababababababababababababababababababababab\n"
    "archive-id 0123456789ABCDEF0123\n"
    "arrival 2023-11-14T22:13:20Z\n"
    "queue-id 4XyZ1\n"
    "from a\\\\b\\nc\n"
    "rcpt B@y\n"
    "rcpt a@y\n"
    "rcpt z@x\n"
    "sha256 1111111111111111111111111111111111111111111111111111111111111111\n"
    "size 123\n"
    "wrapped-sha256 2222222222222222222222222222222222222222222222222222222222222222\n"
    "wrapped-size 456\n"
    "store maildir\n"
    "location new/1.x\n"
    "retain-until forever\n";

static void make_link(struct chain_link *l)
{
    memset(l, 0, sizeof(*l));
    l->seq = 7;
    memset(l->prev_hash, 0, sizeof(l->prev_hash));
    for (int i = 0; i < 64; i += 2)
        memcpy(l->prev_hash + i, "ab", 2);
    snprintf(l->archive_id, sizeof(l->archive_id), "0123456789ABCDEF0123");
    l->arrival = 1700000000; /* 2023-11-14T22:13:20Z */
    l->queue_id = xstrdup("4XyZ1");
    l->envelope_from = xstrdup("a\\b\nc");
    strlist_add(&l->rcpts, "z@x");
    strlist_add(&l->rcpts, "B@y");
    strlist_add(&l->rcpts, "a@y");
    memset(l->sha256, '1', 64);
    l->size = 123;
    memset(l->wrapped_sha256, '2', 64);
    l->wrapped_size = 456;
    l->store = xstrdup("maildir");
    l->location = xstrdup("new/1.x");
}

int main(void)
{
    struct chain_link l;
    char hash[SHA256_HEX_SIZE], other[SHA256_HEX_SIZE];
    size_t len;
    char *enc;

    make_link(&l);
    enc = catalog_chain_encode(&l, &len);
    CHECK_STR(enc, golden);
    CHECK(len == strlen(golden));
    free(enc);
    catalog_chain_hash(&l, hash);
    CHECK_STR(hash, "9d5a9bc7fc7625f08aa1516952e6121b49cad1cc7f9d7b34f3b236181ad388db");

    /* the recipients' order in the rows does not matter */
    strlist_free(&l.rcpts);
    strlist_add(&l.rcpts, "a@y");
    strlist_add(&l.rcpts, "z@x");
    strlist_add(&l.rcpts, "B@y");
    catalog_chain_hash(&l, other);
    CHECK_STR(other, hash);

    l.retain_until = 1893456000; /* 2030-01-01T00:00:00Z */
    catalog_chain_hash(&l, other);
    CHECK_STR(other, "23227521100df7e6080ea1badecae0b145b70a155755e6f3bb40bf703a5601a8");
    l.retain_until = 0;

    /* every field counts */
    {
        struct chain_link m;
#define CHANGED(stmt)                                                                              \
    do {                                                                                           \
        make_link(&m);                                                                             \
        stmt;                                                                                      \
        catalog_chain_hash(&m, other);                                                             \
        CHECK(strcmp(other, hash) != 0);                                                           \
        catalog_chain_link_free(&m);                                                               \
    } while (0)
        CHANGED(m.seq = 8);
        CHANGED(m.prev_hash[0] = 'c');
        CHANGED(m.archive_id[0] = '1');
        CHANGED(m.arrival++);
        CHANGED((free(m.queue_id), m.queue_id = xstrdup("4XyZ2")));
        CHANGED((free(m.envelope_from), m.envelope_from = xstrdup("a\\b\\nc")));
        CHANGED(strlist_add(&m.rcpts, "c@y"));
        CHANGED(m.sha256[63] = '2');
        CHANGED(m.size++);
        CHANGED(m.wrapped_sha256[0] = '3');
        CHANGED(m.wrapped_size--);
        CHANGED((free(m.store), m.store = xstrdup("s3")));
        CHANGED((free(m.location), m.location = xstrdup("new/1.y")));
        CHANGED(m.retain_until = 1);
#undef CHANGED
    }
    catalog_chain_link_free(&l);
    CHECK(l.queue_id == NULL && l.rcpts.n == 0);
    return check_done();
}
