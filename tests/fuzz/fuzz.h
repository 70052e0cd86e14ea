/*
 * NAME
 *	fuzz 3h
 * SUMMARY
 *	what the libFuzzer targets share: checks, scratch files, reference
 *	computations
 * DESCRIPTION
 *	Header-only (each target is one executable). FUZZ_CHECK aborts with
 *	the failed condition, so that libFuzzer and the corpus replay both see
 *	a crash. The reference computations here are written independently
 *	of the product code they check: they must not share its bugs.
 *
 *	Reads of the target's input descriptor are split into chunks chosen
 *	from a hash of the input (fuzz_read_plan), so that every state machine
 *	that must survive a read boundary sees boundaries everywhere, and a
 *	given input always reproduces the same split. This works through the
 *	linker's --wrap=read (tests/fuzz/CMakeLists.txt): the product code is
 *	not changed for it.
 */
#ifndef TAB_FUZZ_H
#define TAB_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lmtpd/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A setup step that cannot fail on a sane machine: no point fuzzing on. */
static inline void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, strerror(errno));
    abort();
}

static inline int fuzz_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        fuzz_die("memfd_create");
    return fd;
}

/* Replace fd's content with data and rewind. */
static inline void fuzz_fd_set(int fd, const void *data, size_t size)
{
    size_t off = 0;

    if (ftruncate(fd, 0) < 0)
        fuzz_die("ftruncate");
    while (off < size) {
        ssize_t n = pwrite(fd, (const char *)data + off, size - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fuzz_die("pwrite");
        off += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) < 0)
        fuzz_die("lseek");
}

/* fd's whole content (heap, NUL-terminated after *len_r bytes). */
static inline char *fuzz_fd_slurp(int fd, size_t *len_r)
{
    struct stat st;
    size_t off = 0;
    char *buf;

    if (fstat(fd, &st) < 0)
        fuzz_die("fstat");
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        fuzz_die("malloc");
    while (off < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fuzz_die("pread");
        off += (size_t)n;
    }
    buf[off] = '\0';
    *len_r = off;
    return buf;
}

/* SHA-256 through OpenSSL's EVP, not common/sha256.c. */
static inline void fuzz_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        fuzz_die("EVP_Digest");
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* What lmtpd/spool.h promises about an original of len bytes. A last line
 * without LF counts towards max_line: the wrapper puts CRLF after it. */
static inline void fuzz_info_of(const char *p, size_t len, struct original_info *info)
{
    uint64_t line = 0;

    memset(info, 0, sizeof(*info));
    info->size = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80)
            info->has_8bit = 1;
        if (c == 0)
            info->has_nul = 1;
        if (c == '\n' && (i == 0 || p[i - 1] != '\r'))
            info->has_bare_cr_lf = 1;
        if (c == '\r' && (i + 1 == len || p[i + 1] != '\n'))
            info->has_bare_cr_lf = 1;
        if (c == '\n') {
            if (line > 0 && p[i - 1] == '\r')
                line--;
            if (line > info->max_line)
                info->max_line = line;
            line = 0;
        } else {
            line++;
        }
    }
    if (line > info->max_line)
        info->max_line = line;
    info->ends_with_newline = len > 0 && p[len - 1] == '\n';
}

/* Scratch directory on tmpfs ($TMPDIR, else /dev/shm, else /tmp), removed
 * at exit (a crash leaves it: tests/fuzz/run.sh runs in its own). */
static char fuzz_scratch[4096];

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        fprintf(stderr, "fuzz cleanup: %s: %s\n", path, strerror(errno));
    return 0;
}

static inline void fuzz_rm_rf(const char *path)
{
    nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fuzz_scratch_remove(void)
{
    if (fuzz_scratch[0] != '\0')
        fuzz_rm_rf(fuzz_scratch);
    fuzz_scratch[0] = '\0';
}

static inline const char *fuzz_scratch_dir(const char *name)
{
    const char *base = getenv("TMPDIR");
    struct stat st;

    if (fuzz_scratch[0] != '\0')
        return fuzz_scratch;
    if (base == NULL || *base == '\0')
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(fuzz_scratch, sizeof(fuzz_scratch), "%s/%s.XXXXXX", base, name);
    if (mkdtemp(fuzz_scratch) == NULL)
        fuzz_die("mkdtemp");
    atexit(fuzz_scratch_remove);
    return fuzz_scratch;
}

/*
 * Read splitting. fuzz_read_fd is the descriptor whose reads are split;
 * the plan is a small xorshift generator seeded from the input, so the
 * same input always gives the same chunk sizes.
 */
static int fuzz_read_fd = -1;
static uint32_t fuzz_read_state;
static unsigned fuzz_read_mode; /* 0 whole, 1 one byte, 2 1..16, 3 1..4096 */

static inline void fuzz_read_plan(int fd, const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    fuzz_read_fd = fd;
    fuzz_read_mode = h & 3;
    /* One-byte reads cost a system call per byte: only for short inputs. */
    if (fuzz_read_mode == 1 && size > 8192)
        fuzz_read_mode = 2;
    fuzz_read_state = h | 1;
}

ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __wrap_read(int fd, void *buf, size_t count);

ssize_t __wrap_read(int fd, void *buf, size_t count)
{
    if (fd == fuzz_read_fd && fuzz_read_mode != 0 && count > 1) {
        size_t max = fuzz_read_mode == 1 ? 1 : fuzz_read_mode == 2 ? 16 : 4096;
        fuzz_read_state ^= fuzz_read_state << 13;
        fuzz_read_state ^= fuzz_read_state >> 17;
        fuzz_read_state ^= fuzz_read_state << 5;
        size_t n = 1 + fuzz_read_state % max;
        if (n < count)
            count = n;
    }
    return __real_read(fd, buf, count);
}

#endif
