/*
 * NAME
 *	import_zip 3
 * SUMMARY
 *	a zip of .eml files as a source of tabularium import
 * DESCRIPTION
 *	Every file entry of the archive, in the archive's order (its index,
 *	which msg->resume counts): one whose name ends in ".eml" (any case)
 *	is a message, streamed out of the zip through libzip into the spool
 *	file 64 KiB at a time; any other file entry comes back with
 *	msg->skip; directory entries are nothing. An entry that cannot be
 *	read whole (a damaged archive, a bad checksum, an encrypted entry)
 *	comes back with msg->reject: the entries after it are read as usual.
 *
 *	libzip is linked into the tabularium CLI for this (the layer table's
 *	tab_import row); the daemon does not load it.
 * DIAGNOSTICS
 *	-1 with *error_r when the archive cannot be opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zip.h>

#include "common/strlist.h"
#include "import/import_source_private.h"

struct zip_source_state {
    struct import_source src;
    zip_t *zip;
    zip_int64_t n, next;
    uint64_t bytes, total;
    struct import_writer w;
    char error[512];
};

static int zip_name_is_eml(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".eml") == 0;
}

static int zip_next(struct import_source *src, struct import_msg *msg, const char **error_r)
{
    struct zip_source_state *z = (struct zip_source_state *)src;
    zip_stat_t st;

    for (;;) {
        if (z->next >= z->n)
            return 0;
        zip_int64_t i = z->next++;
        if (zip_stat_index(z->zip, (zip_uint64_t)i, 0, &st) < 0 || st.name == NULL)
            continue;
        size_t len = strlen(st.name);
        if (len > 0 && st.name[len - 1] == '/')
            continue; /* a directory entry */
        if (import_writer_begin(&z->w, msg, error_r) < 0)
            return -1;
        msg->seq = ++src->seq;
        msg->resume = (uint64_t)z->next;
        snprintf(msg->position, sizeof(msg->position), "%s", st.name);
        if (st.valid & ZIP_STAT_MTIME)
            msg->mtime = st.mtime;
        if (st.valid & ZIP_STAT_SIZE)
            z->bytes += st.size;
        if (!zip_name_is_eml(st.name)) {
            msg->skip = "not an .eml file";
            return import_writer_end(&z->w, error_r) < 0 ? -1 : 1;
        }
        zip_file_t *f = zip_fopen_index(z->zip, (zip_uint64_t)i, 0);
        if (f == NULL) {
            snprintf(z->error, sizeof(z->error), "cannot open it in the zip: %s",
                     zip_strerror(z->zip));
            msg->reject = z->error;
            return import_writer_end(&z->w, error_r) < 0 ? -1 : 1;
        }
        char buf[65536];
        zip_int64_t n;
        while ((n = zip_fread(f, buf, sizeof(buf))) > 0)
            if (import_writer_add(&z->w, buf, (size_t)n, error_r) < 0) {
                zip_fclose(f);
                return -1;
            }
        if (n < 0) {
            snprintf(z->error, sizeof(z->error), "cannot read it whole from the zip: %s",
                     zip_file_strerror(f));
            msg->reject = z->error;
        } else if (msg->size == 0) {
            msg->reject = "empty file";
        }
        zip_fclose(f);
        return import_writer_end(&z->w, error_r) < 0 ? -1 : 1;
    }
}

static int zip_seek(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                    const char **error_r)
{
    struct zip_source_state *z = (struct zip_source_state *)src;
    char pos[sizeof(((struct import_msg *)0)->position)];
    zip_stat_t st;

    if (resume > (uint64_t)z->n) {
        *error_r = "it holds fewer entries than the journal counted";
        return 1;
    }
    if (resume > 0) {
        if (zip_stat_index(z->zip, resume - 1, 0, &st) < 0 || st.name == NULL)
            st.name = "";
        snprintf(pos, sizeof(pos), "%s", st.name);
        if (strcmp(pos, last) != 0) {
            *error_r = "the entry where it stopped is not where it was";
            return 1;
        }
    }
    z->next = (zip_int64_t)resume;
    src->seq = seq;
    return 0;
}

static uint64_t zip_bytes(const struct import_source *src, uint64_t *total_r)
{
    const struct zip_source_state *z = (const struct zip_source_state *)src;

    *total_r = z->total;
    return z->bytes;
}

static void zip_close_source(struct import_source *src)
{
    struct zip_source_state *z = (struct zip_source_state *)src;

    if (z->w.sha != NULL) {
        char dummy[SHA256_HEX_SIZE];
        sha256_final_hex(z->w.sha, dummy);
    }
    if (z->zip != NULL)
        zip_discard(z->zip);
}

static const struct import_source_vfuncs zip_vfuncs = {
    .format = "zip",
    .next = zip_next,
    .seek = zip_seek,
    .bytes = zip_bytes,
    .close = zip_close_source,
};

int import_zip_is_zip(const char *path)
{
    int err = 0;
    zip_t *zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);

    if (zip == NULL)
        return 0;
    zip_discard(zip);
    return 1;
}

struct import_source *import_zip_open(const char *path, int spool_fd, const char **error_r)
{
    static char error[1024];
    struct zip_source_state *z;
    int err = 0;
    zip_t *zip = zip_open(path, ZIP_RDONLY, &err);

    if (zip == NULL) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        snprintf(error, sizeof(error), "%s: not a zip archive we can read: %s", path,
                 zip_error_strerror(&ze));
        zip_error_fini(&ze);
        *error_r = error;
        return NULL;
    }
    z = xcalloc(1, sizeof(*z));
    z->src.v = &zip_vfuncs;
    z->src.format = "zip";
    z->src.spool_fd = spool_fd;
    z->zip = zip;
    z->n = zip_get_num_entries(zip, 0);
    for (zip_int64_t i = 0; i < z->n; i++) {
        zip_stat_t st;
        if (zip_stat_index(zip, (zip_uint64_t)i, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE))
            z->total += st.size;
    }
    return &z->src;
}
