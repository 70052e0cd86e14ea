/*
 * NAME
 *	replay 1
 * SUMMARY
 *	run a fuzz target over saved inputs, without libFuzzer
 * SYNOPSIS
 *	fuzz_<target> DIR|FILE...
 * DESCRIPTION
 *	Links with one tests/fuzz/fuzz_<target>.c in the gcc builds (normal and
 *	ASan+UBSan) and feeds every regular file of each directory (sorted by
 *	name, so a run is reproducible) or each named file to
 *	LLVMFuzzerTestOneInput(), the way libFuzzer does when it is given a
 *	corpus. This is how "make test" keeps the regression corpus in
 *	tests/fuzz/corpus/<target>/ passing.
 *
 *	It must never skip an input silently: an unreadable file or an empty
 *	corpus directory fails the run.
 * DIAGNOSTICS
 *	Exit 0 after all inputs, 1 when an input could not be read or no input
 *	was found. A failed invariant aborts inside the target, naming the
 *	input on stderr just before.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nbuf = realloc(buf, cap);
            if (nbuf == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nbuf;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* A copy of exactly len bytes: ASan then catches a read past the end. */
    uint8_t *input = malloc(len ? len : 1);
    if (input == NULL) {
        free(buf);
        return -1;
    }
    if (len > 0)
        memcpy(input, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(input, len);
    free(input);
    return 0;
}

static int replay_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir; returns how many or -1. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int count = 0;

    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nnames = realloc(names, cap * sizeof(*names));
            if (nnames == NULL) {
                count = -1;
                goto out;
            }
            names = nnames;
        }
        names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2);
        if (names[n] == NULL) {
            count = -1;
            goto out;
        }
        sprintf(names[n], "%s/%s", dir, de->d_name);
        n++;
    }
    qsort(names, n, sizeof(*names), replay_name_cmp);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (replay_file(names[i]) < 0) {
            count = -1;
            goto out;
        }
        count++;
    }
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replayed %d inputs\n", total);
    return 0;
}
