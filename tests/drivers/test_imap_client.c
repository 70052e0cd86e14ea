/*
 * NAME
 *	test_imap_client 1
 * SUMMARY
 *	tests of import's IMAP client: pure parts always, the client on Dovecot
 * DESCRIPTION
 *	Always: URL parsing (good and hostile URLs, a password in the URL
 *	refused), IMAP date-times.
 *
 *	With TAB_IMAP_URL (imap://archivist@127.0.0.1:PORT), TAB_IMAPS_URL,
 *	TAB_IMAP_PASSWORD_FILE and TAB_IMAP_MAILDIR set
 *	(tests/integration/imap-client.test starts a private Dovecot, fills
 *	its Maildir and runs this program): every folder is listed; each
 *	folder's messages are fetched and are, byte for byte, the files
 *	of its Maildir (SHA-256 of every file against every fetched
 *	message), including a message whose lines look like IMAP responses
 *	and tags; no message gets the \Seen flag; listing after a UID gives
 *	only the later ones; after TAB_IMAP_RESTART (a command that restarts
 *	the server) the client connects again by itself and goes on; IMAPS
 *	with the test CA (SSL_CERT_FILE) works by name and by address, and
 *	without it fails as TAB_PERM naming the certificate; a wrong password
 *	is TAB_PERM without the password in the message. Without the
 *	variables that part is skipped with a note (imap-client.test checks
 *	that it ran).
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sha256.h"
#include "common/strlist.h"
#include "import/imap_client.h"
#include "../unit/check.h"

static void test_urls(void)
{
    const char *err = NULL;
    struct imap_client *c;

    c = imap_client_new("imap://archivist@127.0.0.1:1143/INBOX", "pw", &err);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK_STR(imap_client_name(c), "imap://archivist@127.0.0.1:1143");
        CHECK_STR(imap_client_url_folder(c), "INBOX");
        imap_client_free(c);
    }
    c = imap_client_new("imaps://a%40b.example@mail.example.com/Sent%20Items", NULL, &err);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK_STR(imap_client_name(c), "imaps://a@b.example@mail.example.com:993");
        CHECK_STR(imap_client_url_folder(c), "Sent Items");
        imap_client_free(c);
    }
    c = imap_client_new("imap://u@[::1]:2143", NULL, &err);
    CHECK(c != NULL && imap_client_url_folder(c) == NULL);
    if (c != NULL) {
        CHECK_STR(imap_client_name(c), "imap://u@[::1]:2143");
        imap_client_free(c);
    }
    static const char *const bad[] = {
        "http://u@h/",        "imap://h/",         "imap://u:secret@h/", "imap://u@/",
        "imap://u@h:0/",      "imap://u@h:99999/", "imap://u@h:1x/",     "imap://u@[::1/",
        "imap://u%00x@h/",    "imap://u@h/a%zzb",  "imap://u@h/a%0",     "imap://%@h/",
        "imaps://u@h:/INBOX",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        c = imap_client_new(bad[i], "pw", &err);
        if (c != NULL)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(c == NULL && err != NULL && err[0] != '\0');
        imap_client_free(c);
    }
    err = NULL;
    CHECK(imap_client_new("imap://u:secret@h/", NULL, &err) == NULL && err != NULL &&
          strstr(err, "secret") == NULL);
}

static void test_dates(void)
{
    time_t t = 0;

    CHECK(imap_parse_date_time("17-Jul-1996 02:44:25 -0700", &t) == 0 && t == 837596665);
    CHECK(imap_parse_date_time(" 1-Jan-2020 00:00:00 +0000", &t) == 0 && t == 1577836800);
    CHECK(imap_parse_date_time("1-Jan-2020 01:30:00 +0130", &t) == 0 && t == 1577836800);
    CHECK(imap_parse_date_time("17-Jux-1996 02:44:25 -0700", &t) < 0);
    CHECK(imap_parse_date_time("17-Jul-1996 02:44:25", &t) < 0);
    CHECK(imap_parse_date_time("32-Jul-1996 02:44:25 +0000", &t) < 0);
    CHECK(imap_parse_date_time("", &t) < 0);
}

/* ---- against Dovecot ------------------------------------------------------ */

static void sha_of_fd(int fd, char hex[SHA256_HEX_SIZE])
{
    (void)lseek(fd, 0, SEEK_SET);
    if (sha256_fd(fd, -1, hex) < 0)
        hex[0] = '\0';
}

/* The SHA-256 of every message file of a Maildir folder; *seen_r counts
 * those whose flags include S. */
static void maildir_hashes(const char *dir, struct strlist *out, int *seen_r)
{
    static const char *const subs[] = {"cur", "new"};

    *seen_r = 0;
    for (int s = 0; s < 2; s++) {
        char *d = xasprintf("%s/%s", dir, subs[s]);
        DIR *dp = opendir(d);
        struct dirent *de;
        while (dp != NULL && (de = readdir(dp)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char *p = xasprintf("%s/%s", d, de->d_name);
            int fd = open(p, O_RDONLY);
            char hex[SHA256_HEX_SIZE];
            if (fd >= 0) {
                sha_of_fd(fd, hex);
                strlist_add(out, hex);
                close(fd);
            }
            const char *info = strstr(de->d_name, ":2,");
            if (info != NULL && strchr(info + 3, 'S') != NULL)
                (*seen_r)++;
            free(p);
        }
        if (dp != NULL)
            closedir(dp);
        free(d);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_set(struct strlist *a, struct strlist *b)
{
    if (a->n != b->n)
        return 0;
    qsort(a->v, a->n, sizeof(char *), cmp_str);
    qsort(b->v, b->n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

/* The Maildir++ directory of an IMAP folder. */
static char *folder_dir(const char *maildir, const char *folder)
{
    return strcmp(folder, "INBOX") == 0 ? xstrdup(maildir) : xasprintf("%s/.%s", maildir, folder);
}

/* Fetch every message of folder; their hashes into got. */
static void fetch_folder(struct imap_client *c, const char *folder, struct strlist *got,
                         size_t *n_r)
{
    const char *err = NULL;
    uint32_t uidvalidity = 0, exists = 0;
    struct imap_message *list = NULL;
    size_t n = 0;

    *n_r = 0;
    CHECK(imap_client_examine(c, folder, &uidvalidity, &exists, &err) == TAB_OK);
    if (err != NULL)
        fprintf(stderr, "examine %s: %s\n", folder, err);
    CHECK(uidvalidity != 0);
    CHECK(imap_client_messages(c, 0, &list, &n, &err) == TAB_OK);
    CHECK(n == exists);
    for (size_t i = 0; i < n; i++) {
        char tmpl[] = "/tmp/test_imap_XXXXXX";
        int fd = mkstemp(tmpl);
        uint64_t size = 0;
        char hex[SHA256_HEX_SIZE];
        unlink(tmpl);
        CHECK(i == 0 || list[i].uid > list[i - 1].uid);
        CHECK(list[i].internaldate > 0);
        enum tab_result r = imap_client_fetch(c, list[i].uid, fd, &size, &err);
        if (r != TAB_OK)
            fprintf(stderr, "fetch %s %u: %s\n", folder, (unsigned)list[i].uid, err);
        CHECK(r == TAB_OK);
        CHECK(size == list[i].size);
        sha_of_fd(fd, hex);
        strlist_add(got, hex);
        close(fd);
    }
    *n_r = n;
    free(list);
}

static void test_server(const char *url, const char *tls_url, const char *password,
                        const char *maildir, const char *restart, const char *ca)
{
    const char *err = NULL;
    struct imap_client *c = imap_client_new(url, password, &err);
    struct strlist folders = STRLIST_INIT;

    CHECK(c != NULL);
    if (c == NULL)
        return;
    CHECK(imap_client_folders(c, &folders, &err) == TAB_OK);
    CHECK(strlist_has_nocase(&folders, "INBOX"));
    CHECK(strlist_has_nocase(&folders, "Sent"));
    CHECK(strlist_has_nocase(&folders, "Projects.2019"));
    CHECK(strlist_has_nocase(&folders, "Archive \"old\" 2019"));
    CHECK(!strlist_has_nocase(&folders, "Projects")); /* \Noselect parent, if listed */
    size_t total = 0;
    for (size_t f = 0; f < folders.n; f++) {
        struct strlist got = STRLIST_INIT, want = STRLIST_INIT;
        char *dir = folder_dir(maildir, folders.v[f]);
        size_t n;
        int seen;
        fetch_folder(c, folders.v[f], &got, &n);
        maildir_hashes(dir, &want, &seen);
        if (!same_set(&got, &want))
            fprintf(stderr,
                    "folder %s: fetched %zu messages, the Maildir has %zu, or bytes differ\n",
                    folders.v[f], got.n, want.n);
        CHECK(same_set(&got, &want));
        CHECK(seen == 0); /* EXAMINE + BODY.PEEK: nothing marked read */
        total += n;
        strlist_free(&got);
        strlist_free(&want);
        free(dir);
    }
    CHECK(total >= 500);
    printf("fetched %zu messages from %zu folders\n", total, folders.n);

    /* After a UID: only the later ones. */
    uint32_t uv, ex;
    struct imap_message *list = NULL, *rest = NULL;
    size_t n = 0, m = 0;
    CHECK(imap_client_examine(c, "Projects.2019", &uv, &ex, &err) == TAB_OK);
    CHECK(imap_client_messages(c, 0, &list, &n, &err) == TAB_OK && n >= 10);
    if (n >= 10) {
        CHECK(imap_client_messages(c, list[n - 4].uid, &rest, &m, &err) == TAB_OK && m == 3);
        CHECK(m == 3 && rest[0].uid == list[n - 3].uid);
        free(rest);
        CHECK(imap_client_messages(c, list[n - 1].uid, &rest, &m, &err) == TAB_OK && m == 0);
        free(rest);
    }
    /* The server restarts: the next call may fail as TAB_RETRY (never
     * TAB_PERM), the one after connects, logs in, examines again. */
    if (restart != NULL && n >= 10) {
        CHECK(system(restart) == 0);
        int fd = open("/dev/null", O_WRONLY);
        uint64_t size;
        enum tab_result r = imap_client_fetch(c, list[1].uid, fd, &size, &err);
        printf("first call after the restart: %s%s%s\n", tab_result_name(r),
               r != TAB_OK ? ": " : "", r != TAB_OK ? err : "");
        if (r == TAB_RETRY)
            r = imap_client_fetch(c, list[1].uid, fd, &size, &err);
        if (r != TAB_OK)
            fprintf(stderr, "after the restart: %s\n", err);
        CHECK(r == TAB_OK && size == list[1].size);
        close(fd);
    }
    /* A UID that is not there. */
    if (n > 0) {
        int fd = open("/dev/null", O_WRONLY);
        uint64_t size;
        CHECK(imap_client_fetch(c, list[n - 1].uid + 1000, fd, &size, &err) == TAB_PERM &&
              strstr(err, "no message with UID") != NULL);
        close(fd);
    }
    free(list);
    strlist_free(&folders);
    imap_client_free(c);

    /* A wrong password: TAB_PERM, and the password is not in the message. */
    c = imap_client_new(url, "Wr0ng-Pa55", &err);
    CHECK(c != NULL && imap_client_examine(c, "INBOX", &uv, &ex, &err) == TAB_PERM &&
          strstr(err, "Wr0ng-Pa55") == NULL && strstr(err, "LOGIN") != NULL);
    imap_client_free(c);

    /* IMAPS with the test CA, by name; without it the certificate fails. */
    if (tls_url != NULL && ca != NULL) {
        setenv("SSL_CERT_FILE", ca, 1);
        c = imap_client_new(tls_url, password, &err);
        CHECK(c != NULL && imap_client_examine(c, "Sent", &uv, &ex, &err) == TAB_OK && ex == 2);
        imap_client_free(c);
        setenv("SSL_CERT_FILE", "/nonexistent", 1);
        c = imap_client_new(tls_url, password, &err);
        CHECK(c != NULL && imap_client_examine(c, "Sent", &uv, &ex, &err) == TAB_PERM &&
              strstr(err, "certificate") != NULL);
        if (err != NULL)
            printf("without the CA: %s\n", err);
        imap_client_free(c);
        unsetenv("SSL_CERT_FILE");
    }
}

int main(void)
{
    const char *url = getenv("TAB_IMAP_URL"), *pwfile = getenv("TAB_IMAP_PASSWORD_FILE");
    const char *maildir = getenv("TAB_IMAP_MAILDIR");

    signal(SIGPIPE, SIG_IGN); /* as tabularium does: a TLS write to a closed peer */
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_urls();
    test_dates();
    if (url != NULL && pwfile != NULL && maildir != NULL) {
        char *password = check_slurp_line(pwfile);
        CHECK(password != NULL);
        if (password != NULL)
            test_server(url, getenv("TAB_IMAPS_URL"), password, maildir, getenv("TAB_IMAP_RESTART"),
                        getenv("TAB_IMAP_CA"));
        free(password);
    } else
        printf("note: TAB_IMAP_URL not set: the Dovecot part is skipped\n");
    return check_done();
}
