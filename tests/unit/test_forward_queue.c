/*
 * NAME
 *	test_forward_queue
 * SUMMARY
 *	unit test for forwarder/queue.c, the forwarder's backoff and the
 *	SMTP client's copy scan
 * DESCRIPTION
 *	forward_queue_add() as delivery calls it: the .eml is the spool
 *	file's inode (or a copy when no path is given), the .env holds the
 *	envelope (forward_sender envelope, <> and an address; SMTPUTF8 when
 *	an envelope address is UTF-8); the lock taken through the spool
 *	descriptor makes the entry busy for others until that descriptor is
 *	closed. Then the life of an entry: update with a reason that had a
 *	line break, move to hold and back, an interrupted move resolved to
 *	the newer .env, delete, the sweep of leftovers, listing, and a
 *	corrupt .env. The backoff doubles from forward_minimal_backoff up to
 *	forward_maximal_backoff. smtp_message_scan() tells 7-bit, 8-bit and
 *	binary copies apart (NUL, bare CR, bare LF, 999-byte lines, no final
 *	CRLF). The SQLite catalog keeps one forward status row per copy,
 *	replaced by each outcome (schema version 3); the failing catalog
 *	answers RETRY.
 */
#include "forwarder/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backends/catalog.h"
#include "check.h"
#include "forwarder/forwarder.h"
#include "forwarder/smtp_client.h"

static char *test_path(const char *dir, const char *queue, const char *id, const char *suffix)
{
    return xasprintf("%s/forward/%s/%s.%s", dir, queue, id, suffix);
}

static int test_exists(const char *dir, const char *queue, const char *id, const char *suffix)
{
    char *p = test_path(dir, queue, id, suffix);
    int rc = access(p, F_OK) == 0;
    free(p);
    return rc;
}

/* A "wrap" spool file with text; returns its descriptor, path in *path_r. */
static int test_archive_write(const char *dir, const char *name, const char *text, char **path_r)
{
    int fd;

    *path_r = xasprintf("%s/%s", dir, name);
    fd = open(*path_r, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    return fd;
}

static void test_record(struct archive_record *rec, const char *id, const char *from,
                        const char *rcpt)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->archive_id, sizeof(rec->archive_id), "%s", id);
    rec->envelope_from = xstrdup(from);
    record_add_rcpt(rec, rcpt, "archive+x=y@archive.test", NULL, NULL);
}

static void test_add_and_lock(const char *dir)
{
    struct tab_config cfg;
    struct archive_record rec;
    struct forward_entry e;
    struct stat a, b;
    const char *err = NULL;
    char *wrap = NULL, *eml;
    int wfd, fd = -1;
    const char *id = "6B0719A3C1F7E0012A01";
    const char *cerr = NULL;

    config_init(&cfg);
    CHECK(config_set(&cfg, "queue_directory", dir, &cerr) == 0);
    CHECK(config_set(&cfg, "forward_recipient", "archive@remote.test", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) == 0);

    wfd = test_archive_write(dir, "1.wrap", "From: <a@x>\r\n\r\nbody\r\n", &wrap);
    test_record(&rec, id, "alice@example.com", "bob@example.com");
    CHECK(forward_queue_add(&cfg, &rec, wfd, wrap, &err) == 0);
    eml = test_path(dir, "active", id, "eml");
    CHECK(stat(wrap, &a) == 0 && stat(eml, &b) == 0 && a.st_ino == b.st_ino);
    CHECK(test_exists(dir, "active", id, "env"));
    CHECK((b.st_mode & 077) == 0);

    /* Delivery holds the lock until its catalog commit (wrap fd closed). */
    CHECK(forward_queue_lock(dir, id, 0, &e, &fd, &err) == FORWARD_QUEUE_BUSY);
    CHECK(fd == -1);
    close(wfd);
    CHECK(forward_queue_lock(dir, id, 0, &e, &fd, &err) == FORWARD_QUEUE_LOCKED);
    CHECK(fd >= 0);
    CHECK_STR(e.sender, "alice@example.com");
    CHECK_STR(e.recipient, "archive@remote.test");
    CHECK_STR(e.queue, FORWARD_QUEUE_ACTIVE);
    CHECK(e.smtputf8 == 0);
    CHECK(e.attempts == 0 && e.last_attempt == 0);
    CHECK(e.next_attempt == e.queued && e.queued > 0);
    CHECK(e.size == (off_t)strlen("From: <a@x>\r\n\r\nbody\r\n"));
    CHECK_STR(e.reason, "");

    /* A second locker (another open file description) is refused. */
    struct forward_entry e2;
    int fd2 = -1;
    CHECK(forward_queue_lock(dir, id, 0, &e2, &fd2, &err) == FORWARD_QUEUE_BUSY);

    /* Deferral: a reason with a line break stays one line. */
    e.attempts = 2;
    e.last_attempt = 1000;
    e.next_attempt = 1300;
    free(e.reason);
    e.reason = xstrdup("host x said: 451 busy\r\nInjected=1");
    CHECK(forward_queue_update(dir, &e, &err) == 0);
    CHECK(forward_queue_read(dir, "active", id, &e2, &err) == 0);
    CHECK(e2.attempts == 2 && e2.last_attempt == 1000 && e2.next_attempt == 1300);
    CHECK_STR(e2.reason, "host x said: 451 busy  Injected=1");
    forward_queue_entry_free(&e2);

    /* Hold and back; the lock survives the move (same inode). */
    CHECK(forward_queue_move(dir, &e, FORWARD_QUEUE_HOLD, &err) == 0);
    CHECK_STR(e.queue, FORWARD_QUEUE_HOLD);
    CHECK(!test_exists(dir, "active", id, "env") && !test_exists(dir, "active", id, "eml"));
    CHECK(test_exists(dir, "hold", id, "env") && test_exists(dir, "hold", id, "eml"));
    CHECK(forward_queue_lock(dir, id, 0, &e2, &fd2, &err) == FORWARD_QUEUE_BUSY);
    CHECK(forward_queue_move(dir, &e, FORWARD_QUEUE_ACTIVE, &err) == 0);
    CHECK(test_exists(dir, "active", id, "env") && !test_exists(dir, "hold", id, "env"));
    forward_queue_unlock(&fd);
    CHECK(fd == -1);
    forward_queue_entry_free(&e);

    /* A move interrupted by a crash: both queues have the entry; the
     * newer .env wins and the other one is removed under the lock. */
    char *act = test_path(dir, "active", id, "env"), *hold_env = test_path(dir, "hold", id, "env");
    char *hold_eml = test_path(dir, "hold", id, "eml");
    CHECK(link(eml, hold_eml) == 0);
    struct timespec old[2] = {{.tv_sec = 1000, .tv_nsec = 0}, {.tv_sec = 1000, .tv_nsec = 0}};
    CHECK(utimensat(AT_FDCWD, act, old, 0) == 0);
    {
        size_t tlen;
        char *text = check_slurp(act, &tlen);
        int h = open(hold_env, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(text != NULL && h >= 0 && write(h, text, strlen(text)) == (ssize_t)strlen(text));
        close(h);
        free(text);
    }
    CHECK(forward_queue_lock(dir, id, 0, &e, &fd, &err) == FORWARD_QUEUE_LOCKED);
    CHECK_STR(e.queue, FORWARD_QUEUE_HOLD);
    CHECK(!test_exists(dir, "active", id, "env") && !test_exists(dir, "active", id, "eml"));
    CHECK(test_exists(dir, "hold", id, "eml"));

    /* Listing, then delete. */
    struct strlist ids = STRLIST_INIT;
    CHECK(forward_queue_list(dir, "hold", &ids, &err) == 0);
    CHECK(ids.n == 1 && strcmp(ids.v[0], id) == 0);
    strlist_free(&ids);
    CHECK(forward_queue_list(dir, "active", &ids, &err) == 0 && ids.n == 0);
    CHECK(forward_queue_delete(dir, &e, &err) == 0);
    forward_queue_unlock(&fd);
    forward_queue_entry_free(&e);
    CHECK(!test_exists(dir, "hold", id, "env") && !test_exists(dir, "hold", id, "eml"));
    CHECK(forward_queue_lock(dir, id, 0, &e, &fd, &err) == FORWARD_QUEUE_GONE);
    CHECK(stat(wrap, &a) == 0 && a.st_nlink == 1); /* the stored copy is untouched */

    free(act);
    free(hold_env);
    free(hold_eml);
    free(eml);
    free(wrap);
    record_free(&rec);
    config_free(&cfg);
}

/* Queue a record of id (from a@example.com to rcpt) with the wrap file
 * name holding text, given by its path (*wrap_r) when use_path is set: the
 * entry reads back with want_sender and want_smtputf8. */
static void queue_and_read(struct tab_config *cfg, const char *dir, const char *name,
                           const char *text, struct archive_record *rec, const char *id,
                           const char *rcpt, int use_path, const char *want_sender,
                           int want_smtputf8, char **wrap_r)
{
    struct forward_entry e;
    const char *err = NULL;
    int wfd = test_archive_write(dir, name, text, wrap_r);

    test_record(rec, id, "a@example.com", rcpt);
    CHECK(forward_queue_add(cfg, rec, wfd, use_path ? *wrap_r : NULL, &err) == 0);
    close(wfd);
    CHECK(forward_queue_read(dir, "active", id, &e, &err) == 0);
    CHECK_STR(e.sender, want_sender);
    CHECK(e.smtputf8 == want_smtputf8);
    forward_queue_entry_free(&e);
}

static void test_sender_and_copy(const char *dir)
{
    struct tab_config cfg;
    struct archive_record rec;
    struct forward_entry e;
    const char *err = NULL;
    const char *cerr = NULL;
    char *wrap = NULL;

    config_init(&cfg);
    CHECK(config_set(&cfg, "queue_directory", dir, &cerr) == 0);
    CHECK(config_set(&cfg, "forward_recipient", "archive@remote.test", &cerr) == 0);
    CHECK(config_set(&cfg, "forward_sender", "<>", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) == 0);

    /* No path: the .eml is a copy; a UTF-8 recipient needs SMTPUTF8. */
    queue_and_read(&cfg, dir, "2.wrap", "copied\r\n", &rec, "6B0719A3C1F7E0012A02",
                   "j\xc3\xb6rg@example.test", 0, "", 1, &wrap);
    char *eml = test_path(dir, "active", "6B0719A3C1F7E0012A02", "eml");
    struct stat a, b;
    CHECK(stat(wrap, &a) == 0 && stat(eml, &b) == 0 && a.st_ino != b.st_ino);
    size_t tlen;
    char *text = check_slurp(eml, &tlen);
    CHECK_STR(text, "copied\r\n");
    free(text);
    /* Delivery withdraws the entry when its catalog commit fails. */
    CHECK(forward_queue_remove(dir, "6B0719A3C1F7E0012A02", &err) == 0);
    CHECK(!test_exists(dir, "active", "6B0719A3C1F7E0012A02", "env"));
    CHECK(access(eml, F_OK) < 0);
    free(eml);
    free(wrap);
    record_free(&rec);

    /* A fixed sender address. */
    CHECK(config_set(&cfg, "forward_sender", "bounces@gw.test", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) == 0);
    queue_and_read(&cfg, dir, "3.wrap", "x\r\n", &rec, "6B0719A3C1F7E0012A03", "b@example.com", 1,
                   "bounces@gw.test", 0, &wrap);

    /* A corrupt .env is an error, not "no such entry". */
    char *env = test_path(dir, "active", "6B0719A3C1F7E0012A03", "env");
    int fd = open(env, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8);
    close(fd);
    CHECK(forward_queue_read(dir, "active", "6B0719A3C1F7E0012A03", &e, &err) < 0);
    CHECK(errno != ENOENT);
    CHECK(strstr(err, "corrupt") != NULL);
    CHECK(forward_queue_read(dir, "active", "6B0719A3C1F7E0012A99", &e, &err) < 0 &&
          errno == ENOENT);
    free(env);
    free(wrap);
    record_free(&rec);

    /* Bad values are refused by the configuration. */
    CHECK(config_set(&cfg, "forward_sender", "a b@x", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) < 0);
    CHECK(cerr != NULL && strstr(cerr, "forward_sender") != NULL);
    CHECK(config_set(&cfg, "forward_sender", "envelope", &cerr) == 0);
    CHECK(config_set(&cfg, "forward_tls_security_level", "sometimes", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) < 0);
    CHECK(cerr != NULL && strstr(cerr, "forward_tls_security_level") != NULL);
    config_free(&cfg);
}

static void test_sweep(const char *dir)
{
    const char *id = "6B0719A3C1F7E0012A04";
    char *eml = test_path(dir, "active", id, "eml");
    char *tmp = xasprintf("%s/forward/hold/%s.env.tmp", dir, id);
    int fd;

    fd = open(eml, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    fd = open(tmp, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    forward_queue_sweep(dir, 3600); /* too young */
    CHECK(access(eml, F_OK) == 0 && access(tmp, F_OK) == 0);
    /* Locked: someone (delivery) is about to write its .env. */
    fd = open(eml, O_RDONLY);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    forward_queue_sweep(dir, 0);
    CHECK(access(eml, F_OK) == 0);
    CHECK(access(tmp, F_OK) < 0);
    close(fd);
    forward_queue_sweep(dir, 0);
    CHECK(access(eml, F_OK) < 0);
    /* An .eml with its .env is an entry, never a leftover. */
    CHECK(test_exists(dir, "active", "6B0719A3C1F7E0012A03", "eml"));
    free(eml);
    free(tmp);
}

static void test_backoff(void)
{
    struct tab_config cfg;
    const char *cerr = NULL;

    config_init(&cfg);
    CHECK(config_finish(&cfg, &cerr) == 0);
    CHECK(forwarder_backoff(&cfg, 1) == 300);
    CHECK(forwarder_backoff(&cfg, 2) == 600);
    CHECK(forwarder_backoff(&cfg, 4) == 2400);
    CHECK(forwarder_backoff(&cfg, 5) == 4000);
    CHECK(forwarder_backoff(&cfg, 1000000) == 4000);
    CHECK(config_set(&cfg, "forward_minimal_backoff", "2h", &cerr) == 0);
    CHECK(config_finish(&cfg, &cerr) < 0); /* longer than the maximal backoff */
    config_free(&cfg);
}

static void test_scan_one(const char *dir, const char *text, size_t len, int has_8bit, int binary)
{
    char *path = xasprintf("%s/scan", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct smtp_message msg;
    const char *err = NULL;

    CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len);
    memset(&msg, 0, sizeof(msg));
    msg.fd = fd;
    CHECK(smtp_message_scan(&msg, &err) == 0);
    CHECK(msg.size == (off_t)len);
    CHECK(msg.has_8bit == has_8bit);
    CHECK(msg.binary == binary);
    if (msg.has_8bit != has_8bit || msg.binary != binary)
        fprintf(stderr, "  scan of %.40s: 8bit %d binary %d\n", text, msg.has_8bit, msg.binary);
    CHECK(lseek(fd, 0, SEEK_CUR) == 0);
    close(fd);
    free(path);
}

static void test_scan(const char *dir)
{
    char line[1100];

    test_scan_one(dir, "a\r\nb\r\n", 6, 0, 0);
    test_scan_one(dir, "Gr\xc3\xbc\xc3\x9f\x65\r\n", 9, 1, 0);
    test_scan_one(dir, "a\nb\r\n", 5, 0, 1);
    test_scan_one(dir, "a\rb\r\n", 5, 0, 1);
    test_scan_one(dir, "a\r\nb", 4, 0, 1);
    test_scan_one(dir, "a\r\nb\r", 5, 0, 1);
    test_scan_one(dir, "a\0b\r\n", 5, 0, 1);
    memset(line, 'x', sizeof(line));
    memcpy(line + 998, "\r\n", 2);
    test_scan_one(dir, line, 1000, 0, 0);
    memcpy(line + 998, "x\r\n", 3);
    test_scan_one(dir, line, 1001, 0, 1);
}

/* The catalog side: the SQLite driver keeps one row per forwarded copy,
 * replaced by each outcome; the failing catalog answers RETRY. */
static void test_catalog_status(const char *dir)
{
    struct tab_config cfg;
    const char *cerr = NULL;
    const char *err = NULL;
    char *spec = xasprintf("sqlite:%s/catalog.db", dir);
    char *path = xasprintf("%s/catalog.db", dir);
    struct catalog *cat;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    config_init(&cfg);
    CHECK(config_finish(&cfg, &cerr) == 0);
    cat = catalog_open(spec, &cfg, &err);
    CHECK(cat != NULL && catalog_can(cat, CATALOG_CAN_FORWARD_STATUS));
    if (cat == NULL || !catalog_can(cat, CATALOG_CAN_FORWARD_STATUS))
        goto out;
    CHECK(catalog_forward_status(cat, "6B0719A3C1F7E0012A05", "deferred",
                                 "connect to x[192.0.2.1]:25: Connection refused", &err) == TAB_OK);
    CHECK(catalog_forward_status(cat, "6B0719A3C1F7E0012A05", "sent", "250 2.0.0 Ok: queued as X",
                                 &err) == TAB_OK);
    CHECK(catalog_forward_status(cat, "6B0719A3C1F7E0012A06", "held", "550 5.1.1 no", &err) ==
          TAB_OK);
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT archive_id || '|' || status || '|' || detail || '|' ||"
                             " length(updated) FROM forwards ORDER BY archive_id",
                             -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0),
              "6B0719A3C1F7E0012A05|sent|250 2.0.0 Ok: queued as X|20");
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0),
              "6B0719A3C1F7E0012A06|held|550 5.1.1 no|20");
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) >= 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    catalog_close(&cat);

    cat = catalog_open_or_failing("sqlite:/proc/nonexistent/catalog.db", &cfg);
    CHECK(catalog_can(cat, CATALOG_CAN_FORWARD_STATUS));
    CHECK(catalog_forward_status(cat, "6B0719A3C1F7E0012A05", "sent", "x", &err) == TAB_RETRY);
    CHECK(err != NULL && strstr(err, "catalog unavailable") != NULL);
out:
    catalog_close(&cat);
    config_free(&cfg);
    free(spec);
    free(path);
}

int main(void)
{
    const char *dir = check_tmpdir("test_forward_queue");

    umask(077);
    test_add_and_lock(dir);
    test_sender_and_copy(dir);
    test_sweep(dir);
    test_backoff();
    test_scan(dir);
    test_catalog_status(dir);
    return check_done();
}
