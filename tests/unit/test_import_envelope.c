/*
 * NAME
 *	test_import_envelope 1
 * SUMMARY
 *	unit test for mail/import_envelope.c: an imported message's envelope
 * DESCRIPTION
 *	The recipients from To, Cc, Bcc, Delivered-To, X-Original-To and
 *	Envelope-To (folded fields, groups, display names, each address once
 *	whatever its case, the mailbox owner last); the sender from
 *	Return-Path ("<>" the null sender), else the mbox From_ line's
 *	(MAILER-DAEMON: the null sender), else From:; the Date:; a header
 *	that ends at CRLF CRLF; a message with no header field at all.
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include "mail/import_envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/index_fields.h"
#include "tests/unit/check.h"

static char *joined;
static char *sender;
static time_t date;

static void read_env(const char *msg, const char *fallback, const char *owner)
{
    char path[] = "/tmp/test_import_envelope.XXXXXX";
    int fd = mkstemp(path);
    struct strlist rcpts = STRLIST_INIT;
    const char *error = NULL;

    CHECK(fd >= 0 && write(fd, msg, strlen(msg)) == (ssize_t)strlen(msg));
    unlink(path);
    free(joined);
    free(sender);
    CHECK(import_envelope_read(fd, fallback, owner, &sender, &rcpts, &date, &error) == 0);
    joined = strlist_join(&rcpts, ",");
    strlist_free(&rcpts);
    close(fd);
}

int main(void)
{
    index_fields_init();
    read_env("Return-Path: <bounce@example.org>\n"
             "From: Alice <alice@example.org>\n"
             "To: Bob <bob@example.com>,\n"
             "  team: carol@example.com, \"D, Dan\" <dan@example.com>;\n"
             "Cc: BOB@example.com\n"
             "Bcc: hidden@example.net\n"
             "Delivered-To: box@example.com\n"
             "X-Original-To: alias@example.com\n"
             "Envelope-To: env@example.com\n"
             "Date: Mon, 6 Jan 2020 10:00:00 +0100\n"
             "Subject: To: not@header.example\n"
             "\n"
             "To: not@body.example\n",
             "fromline@example.org", "owner@example.com");
    CHECK_STR(joined, "bob@example.com,carol@example.com,dan@example.com,hidden@example.net,"
                      "box@example.com,alias@example.com,env@example.com,owner@example.com");
    CHECK_STR(sender, "bounce@example.org");
    CHECK(date == 1578301200);

    read_env("Return-Path: <>\r\nTo: a@example.com\r\n\r\nBcc: b@example.com\r\n", NULL, NULL);
    CHECK_STR(sender, "");
    CHECK_STR(joined, "a@example.com");
    CHECK(date == 0);

    read_env("From: Alice <alice@example.org>\nTo: a@example.com\n\n", "MAILER-DAEMON", NULL);
    CHECK_STR(sender, "");
    read_env("From: Alice <alice@example.org>\nTo: a@example.com\n\n", "env@example.org", NULL);
    CHECK_STR(sender, "env@example.org");
    read_env("From: Alice <alice@example.org>\nTo: a@example.com\n\n", NULL, "A@EXAMPLE.COM");
    CHECK_STR(sender, "alice@example.org");
    CHECK_STR(joined, "a@example.com");

    read_env("just a body line without a colon\n", NULL, NULL);
    CHECK_STR(sender, "");
    CHECK_STR(joined, "");
    free(joined);
    free(sender);
    index_fields_deinit();
    return check_done();
}
