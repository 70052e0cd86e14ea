/*
 * NAME
 *	fuzz_spool 1
 * SUMMARY
 *	libFuzzer target: the DATA reader, spool_receive() (lmtpd/spool.h)
 * DESCRIPTION
 *	The input is what a client sends after "354": message lines, maybe
 *	the "." line, maybe more commands after it. It is read through an
 *	lmtp_io from a memfd, with read() split into chunks chosen by the
 *	input (tests/fuzz/fuzz.h), and compared with a reference decoder
 *	written here from RFC 5321 4.5.2: a line that is "." alone (CRLF or,
 *	leniently, bare LF) ends the data; one leading dot is removed from any
 *	other line; every other byte is kept.
 *
 *	Three runs per input: no limit; a limit one byte below the message
 *	(must say SPOOL_TOOBIG, yet read to the end of data); a limit equal to
 *	it (must be accepted). Checked:
 *	  - SPOOL_LOST exactly when the input has no end-of-data line;
 *	  - the spool file holds the reference's bytes, the reported SHA-256
 *	    and size are those of the reference, every original_info flag is what
 *	    the reference's bytes say;
 *	  - the session stays in step: what the lmtp_io still yields after
 *	    spool_receive() is exactly the input after the "." line.
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr.
 */
#include "tests/fuzz/fuzz.h"

#include "common/strlist.h"
#include "lmtpd/lmtp_io.h"
#include "lmtpd/spool.h"

static int in_fd = -1, spool_fd = -1, null_fd = -1;

/* Reference DATA decoder. Returns the unstuffed bytes (heap), *terminated_r
 * and *consumed_r (bytes up to and including the "." line). */
static char *ref_decode(const uint8_t *data, size_t size, size_t *len_r, int *terminated_r,
                        size_t *consumed_r)
{
    char *out = xmalloc(size + 1);
    size_t i = 0, o = 0;

    *terminated_r = 0;
    *consumed_r = size;
    while (i < size) {
        const uint8_t *lf = memchr(data + i, '\n', size - i);
        size_t end = lf != NULL ? (size_t)(lf - data) + 1 : size;
        size_t n = end - i;
        if (lf != NULL && data[i] == '.' && (n == 2 || (n == 3 && data[i + 1] == '\r'))) {
            *terminated_r = 1;
            *consumed_r = end;
            break;
        }
        size_t s = data[i] == '.' ? i + 1 : i;
        memcpy(out + o, data + s, end - s);
        o += end - s;
        i = end;
    }
    *len_r = o;
    return out;
}

/* Everything the io still yields until EOF equals data[from..size). */
static void check_rest(struct lmtp_io *io, const uint8_t *data, size_t size, size_t from)
{
    size_t pos = from;

    for (;;) {
        const char *p;
        size_t n;
        enum lmtp_io_status st = lmtp_io_peek(io, &p, &n);
        if (st == LMTP_IO_EOF)
            break;
        FUZZ_CHECK(st == LMTP_IO_OK);
        FUZZ_CHECK(n > 0 && n <= size - pos);
        FUZZ_CHECK(memcmp(p, data + pos, n) == 0);
        pos += n;
        lmtp_io_consume(io, n);
    }
    FUZZ_CHECK(pos == size);
}

static enum spool_status run(const uint8_t *data, size_t size, long long limit,
                             struct original_info *info, char sha[65], struct lmtp_io **io_r)
{
    const char *error = NULL;
    enum spool_status st;

    fuzz_fd_set(in_fd, data, size);
    fuzz_fd_set(spool_fd, "", 0);
    fuzz_read_plan(in_fd, data, size);
    *io_r = lmtp_io_new(in_fd, null_fd, 1, NULL);
    memset(info, 0x5a, sizeof(*info)); /* spool_receive must set every field */
    st = spool_receive(*io_r, spool_fd, limit, info, sha, &error);
    FUZZ_CHECK(st == SPOOL_OK || error != NULL);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct original_info info, want;
    struct lmtp_io *io;
    char sha[65], ref_sha[65];
    size_t ref_len, consumed, got_len;
    int terminated;
    char *ref, *got;
    enum spool_status st;

    if (in_fd < 0) {
        in_fd = fuzz_memfd("fuzz-spool-in");
        spool_fd = fuzz_memfd("fuzz-spool-orig");
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd < 0)
            fuzz_die("/dev/null");
    }
    ref = ref_decode(data, size, &ref_len, &terminated, &consumed);

    /* 1: no limit */
    st = run(data, size, 0, &info, sha, &io);
    if (!terminated) {
        FUZZ_CHECK(st == SPOOL_LOST);
        /* A trailing ".\r" without LF is undecided: not yet counted. */
        FUZZ_CHECK(info.size <= ref_len && info.size + 1 >= ref_len);
        lmtp_io_free(&io);
        free(ref);
        return 0;
    }
    FUZZ_CHECK(st == SPOOL_OK);
    got = fuzz_fd_slurp(spool_fd, &got_len);
    FUZZ_CHECK(got_len == ref_len && memcmp(got, ref, ref_len) == 0);
    free(got);
    fuzz_sha256_hex(ref, ref_len, ref_sha);
    FUZZ_CHECK(strcmp(sha, ref_sha) == 0);
    fuzz_info_of(ref, ref_len, &want);
    FUZZ_CHECK(info.size == want.size);
    FUZZ_CHECK(info.max_line == want.max_line);
    FUZZ_CHECK(info.has_8bit == want.has_8bit);
    FUZZ_CHECK(info.has_nul == want.has_nul);
    FUZZ_CHECK(info.has_bare_cr_lf == want.has_bare_cr_lf);
    FUZZ_CHECK(info.ends_with_newline == want.ends_with_newline);
    check_rest(io, data, size, consumed);
    lmtp_io_free(&io);

    /* 2: one byte over the limit: rejected, but read to its end */
    if (ref_len >= 2) {
        st = run(data, size, (long long)ref_len - 1, &info, sha, &io);
        FUZZ_CHECK(st == SPOOL_TOOBIG);
        FUZZ_CHECK(info.size == ref_len);
        check_rest(io, data, size, consumed);
        lmtp_io_free(&io);
    }

    /* 3: exactly at the limit: accepted */
    if (ref_len >= 1) {
        st = run(data, size, (long long)ref_len, &info, sha, &io);
        FUZZ_CHECK(st == SPOOL_OK);
        FUZZ_CHECK(info.size == ref_len && strcmp(sha, ref_sha) == 0);
        check_rest(io, data, size, consumed);
        lmtp_io_free(&io);
    }
    free(ref);
    return 0;
}
