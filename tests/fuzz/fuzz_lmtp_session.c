/*
 * NAME
 *	fuzz_lmtp_session 1
 * SUMMARY
 *	libFuzzer target: a whole LMTP session, lmtp_session_run()
 *	(lmtpd/lmtp_session.h), with real deliveries
 * DESCRIPTION
 *	The input is everything a client sends on one connection. It is read
 *	from a memfd, with read() split into chunks chosen by the input
 *	(tests/fuzz/fuzz.h); replies go to a second memfd. Deliveries are
 *	real: a Maildir store and an SQLite catalog in a scratch directory on
 *	tmpfs, opened once and wiped every FUZZ_RESET_EVERY inputs so that
 *	they do not grow without bound. Limits are small so that fuzzing
 *	reaches them: lines of 512 bytes, 50 recipients, 100000-byte messages.
 *
 *	Checked on the replies, because they are what Postfix acts on:
 *	  - the session returns (no hang: the input ends in EOF);
 *	  - the first reply is a 220 greeting; every reply line is a 3-digit
 *	    code, then ' ' or '-', ends in CRLF, has no other control byte,
 *	    and is at most 1024 bytes;
 *	  - no 451: with a working store and catalog on tmpfs, a temporary
 *	    failure means a delivery step failed on the client's input.
 *
 *	The catalog outlives single inputs, so a retried message may get
 *	"already archived": the replay of a crash input starts from an empty
 *	catalog and is still deterministic for the input itself.
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr; setup failures abort
 *	with "fuzz setup:".
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_daemon.h"

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/config.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "lmtpd/delivery.h"
#include "mail/index_fields.h"
#include "lmtpd/lmtp_session.h"
#include "lmtpd/spool.h"

#define FUZZ_RESET_EVERY 2000

static struct tab_config cfg;
static struct delivery_ctx ctx;
static char *data_dir;
static int in_fd = -1, out_fd = -1;
static unsigned runs;

static void open_backends(void)
{
    fuzz_open_backends(&cfg, &ctx);
}

static void close_backends(void)
{
    fuzz_close_backends(&ctx);
}

static void teardown(void)
{
    close_backends();
    fuzz_daemon_end(&cfg, data_dir);
}

static void setup(void)
{
    data_dir = fuzz_daemon_begin("fuzz_lmtp_session", "tabfuzz-session", &cfg);
    fuzz_config_set(&cfg, "lmtp_line_length_limit", "512");
    fuzz_config_set(&cfg, "lmtp_recipient_limit", "50");
    fuzz_config_set(&cfg, "message_size_limit", "100000");
    fuzz_config_set(&cfg, "lmtp_timeout", "1");
    fuzz_config_finish(&cfg, &ctx);
    open_backends();
    in_fd = fuzz_memfd("fuzz-lmtp-in");
    out_fd = fuzz_memfd("fuzz-lmtp-out");
    /* Registered after fuzz_scratch_dir()'s own: runs first. */
    atexit(teardown);
}

static void check_replies(const char *out, size_t len)
{
    size_t i = 0;

    FUZZ_CHECK(len >= 4 && memcmp(out, "220 ", 4) == 0);
    while (i < len) {
        const char *line = out + i;
        const char *end = memmem(line, len - i, "\r\n", 2);
        FUZZ_CHECK(end != NULL);
        size_t n = (size_t)(end - line);
        FUZZ_CHECK(n >= 4 && n + 2 <= 1024);
        for (int k = 0; k < 3; k++)
            FUZZ_CHECK(line[k] >= '0' && line[k] <= '9');
        FUZZ_CHECK(line[0] >= '2' && line[0] <= '5');
        FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
        for (size_t k = 0; k < n; k++)
            FUZZ_CHECK((unsigned char)line[k] >= 0x20 && line[k] != 0x7f);
        if (memcmp(line, "451", 3) == 0)
            fprintf(stderr, "unexpected temporary failure: %.*s\n", (int)n, line);
        FUZZ_CHECK(memcmp(line, "451", 3) != 0);
        i += n + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out;
    size_t out_len;

    if (in_fd < 0)
        setup();
    fuzz_daemon_reset_every(&runs, FUZZ_RESET_EVERY, close_backends, open_backends, data_dir);
    fuzz_fd_set(in_fd, data, size);
    fuzz_fd_set(out_fd, "", 0);
    fuzz_read_plan(in_fd, data, size);
    lmtp_session_run(in_fd, out_fd, "fuzz", &ctx, NULL);
    out = fuzz_fd_slurp(out_fd, &out_len);
    check_replies(out, out_len);
    free(out);
    return 0;
}
