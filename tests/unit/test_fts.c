/*
 * NAME
 *	test_fts - the search semantics both catalogs share (backends/fts.c)
 * DESCRIPTION
 *	The websearch parse (terms, phrases, OR binding looser than AND,
 *	negation, "or" as a word, terms that fold to nothing dropped,
 *	negations alone, engine syntax as plain words), the phrase form of
 *	--subject, the four folded columns of a message, and how a --from or
 *	--to value is read (address, domain, wildcard, words) with the
 *	reversed domain an index answers.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/fts.h"
#include "common/strlist.h"
#include "tests/unit/check.h"

/* q as text: clauses joined by " | ", terms by " & ", "!" for a negated
 * term, each phrase in brackets. */
static char *show(const struct fts_query *q)
{
    struct buf b = BUF_INIT;

    buf_add(&b, "", 0);
    for (size_t i = 0; i < q->n; i++) {
        if (i > 0)
            buf_add_str(&b, " | ");
        for (size_t j = 0; j < q->clauses[i].n; j++) {
            const struct fts_term *t = &q->clauses[i].terms[j];
            if (j > 0)
                buf_add_str(&b, " & ");
            buf_add_str(&b, t->negated ? "![" : "[");
            buf_add_str(&b, t->phrase);
            buf_add_str(&b, "]");
        }
    }
    return b.data;
}

static void check_parse(const char *text, int want_r, const char *want)
{
    struct fts_query q;
    int r = fts_query_parse(text, &q);
    char *got = show(&q);

    CHECK(r == want_r);
    CHECK_STR(got, want);
    free(got);
    fts_query_free(&q);
}

static void check_address(const char *value, int want_r, enum address_match_kind kind,
                          const char *key)
{
    struct address_match m;
    int r = address_match_parse(value, &m);

    CHECK(r == want_r);
    if (r == 0) {
        CHECK(m.kind == kind);
        if (kind == ADDRESS_WORDS) {
            char *got = show(&m.words);
            CHECK_STR(got, key);
            free(got);
        } else {
            CHECK_STR(m.key, key);
        }
    }
    address_match_free(&m);
}

int main(void)
{
    /* words and phrases, folded */
    check_parse("Quarterly REPORT", 0, "[quarterly] & [report]");
    check_parse("\"numbers look\" Zürich", 0, "[numbers look] & [zurich]");
    check_parse("INV-2026-004711", 0, "[inv 2026 004711]");
    check_parse("東京都", 0, "[東京 京都]");
    check_parse("\"unterminated phrase", 0, "[unterminated phrase]");
    /* OR looser than AND; negation; "or" as a word where it is no operator */
    check_parse("numbers OR lunch meeting", 0, "[numbers] | [lunch] & [meeting]");
    check_parse("numbers -quarterly OR lunch", 0, "[numbers] & ![quarterly] | [lunch]");
    check_parse("numbers or lunch", 0, "[numbers] | [lunch]");
    check_parse("numbers OR", 0, "[numbers] & [or]");
    check_parse("or", 0, "[or]");
    check_parse("OR OR", 0, "[or] & [or]");
    check_parse("a OR OR b", 0, "[a] | [or] & [b]");
    check_parse("- numbers", 0, "![numbers]");
    check_parse("-numbers -lunch", 0, "![numbers] & ![lunch]");
    /* a clause of negations only stands alone, or is dropped */
    check_parse("a OR -b", 0, "[a]");
    check_parse("-a OR -b", -1, "");
    /* terms that fold to nothing are dropped; nothing at all is -1 */
    check_parse("", -1, "");
    check_parse("   ", -1, "");
    check_parse("*", -1, "");
    check_parse("\"\"\"\"", -1, "");
    check_parse("numbers * OR --", 0, "[numbers]"); /* the OR had nothing after it */
    check_parse("numbers OR * lunch", 0, "[numbers] | [lunch]");
    /* engine syntax is words */
    check_parse("subject:lunch NEAR(a b)", 0, "[subject lunch] & [near a] & [b]");
    check_parse("'; DROP TABLE messages; --", 0, "[drop] & [table] & [messages]");
    check_parse("<b>bold</b>", 0, "[b] & [bold] & [b]");
    check_parse("\xff\xfe numbers", 0, "[numbers]");

    /* --subject: one phrase */
    {
        struct fts_query q;
        CHECK(fts_query_phrase("Re: Quarterly  report!", &q) == 0);
        char *got = show(&q);
        CHECK_STR(got, "[re quarterly report]");
        free(got);
        fts_query_free(&q);
        CHECK(fts_query_phrase("%_!", &q) == -1);
        fts_query_free(&q);
    }

    /* the document */
    {
        struct archive_record rec;
        struct fts_doc doc;

        memset(&rec, 0, sizeof(rec));
        rec.subject = xstrdup("Réunion: Q1");
        rec.body_text = xstrdup("Straße 12");
        rec.envelope_from = xstrdup("Bounce+x@Lists.Example");
        record_addrs_add(&rec.hdr_from, "Zoë Müller", "zoe@example.org");
        record_add_rcpt(&rec, "dave@secret.example", NULL, NULL, NULL);
        record_addrs_add(&rec.hdr_to, "Bob", "bob@example.com");
        record_addrs_add(&rec.hdr_cc, NULL, "carol@example.com");
        fts_doc_build(&doc, &rec);
        CHECK_STR(doc.col[FTS_SUBJECT].data, "reunion q1");
        CHECK_STR(doc.col[FTS_BODY].data, "strasse 12");
        CHECK_STR(doc.col[FTS_SENDER].data, "bounce x lists example zoe muller zoe example org");
        CHECK_STR(doc.col[FTS_RECIPIENTS].data,
                  "dave secret example bob bob example com carol example com");
        fts_doc_free(&doc);
        record_free(&rec);

        memset(&rec, 0, sizeof(rec));
        fts_doc_build(&doc, &rec);
        for (int i = 0; i < FTS_COLUMNS; i++)
            CHECK_STR(doc.col[i].data, "");
        fts_doc_free(&doc);
    }

    /* --from / --to values */
    check_address("Bob@Corp.Example", 0, ADDRESS_EXACT, "bob@corp.example");
    check_address(" <bob@corp.example> ", 0, ADDRESS_EXACT, "bob@corp.example");
    check_address("@Corp.Example", 0, ADDRESS_DOMAIN, "elpmaxe.proc");
    check_address("@corp.example.", 0, ADDRESS_DOMAIN, "elpmaxe.proc");
    check_address("@", -1, ADDRESS_DOMAIN, NULL);
    check_address("*Corp*", 0, ADDRESS_WILDCARD, "*corp*");
    check_address("b*@corp.example", 0, ADDRESS_WILDCARD, "b*@corp.example");
    check_address("Zoë Müller", 0, ADDRESS_WORDS, "[zoe muller]");
    check_address("liddell", 0, ADDRESS_WORDS, "[liddell]");
    check_address("", -1, ADDRESS_WORDS, NULL);
    check_address("  ", -1, ADDRESS_WORDS, NULL);
    check_address("%", -1, ADDRESS_WORDS, NULL);
    CHECK_STR_FREE(address_rdomain("Alice@Mail.Corp.Example"), "elpmaxe.proc.liam");
    CHECK(address_rdomain("no-at-sign") == NULL);
    CHECK(address_rdomain("empty@") == NULL);
    CHECK_STR_FREE(address_rdomain("a@b@c.d"), "d.c"); /* the last '@' */
    /* by characters: an internationalised domain stays UTF-8 */
    CHECK_STR_FREE(address_rdomain("j\xc3\xb6rg@\xe4\xbe\x8b\xe3\x81\x88.TEST"),
                   "tset.\xe3\x81\x88\xe4\xbe\x8b");
    CHECK_STR_FREE(address_rdomain("x@\xc3\xa9t\xc3\xa9.example."), "elpmaxe.\xc3\xa9t\xc3\xa9");
    return check_done();
}
