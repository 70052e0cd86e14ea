/*
 * NAME
 *	safe_file 3h
 * SUMMARY
 *	durable file primitives: full writes, fsync of files and directories
 * DESCRIPTION
 *	Every function returns 0 on success, -1 with errno set on failure.
 *	Never ignores the result of write, fsync, close or rename.
 */
#ifndef TAB_SAFE_FILE_H
#define TAB_SAFE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* write() until all of buf is written (retries EINTR and short writes). */
int safe_write_all(int fd, const void *buf, size_t len);
/* read() until len bytes arrived or EOF (retries EINTR and short reads):
 * the count read (less than len only at EOF), or -1 with errno. */
ssize_t safe_read_full(int fd, void *buf, size_t len);
/* Copy len bytes (or to EOF when len < 0) from in_fd's current offset to out_fd. */
int safe_copy_fd(int in_fd, int out_fd, off_t len);
/* open(dir, O_DIRECTORY) + fsync + close. */
int safe_fsync_dir(const char *dir);
/* fsync the directory that contains path. */
int safe_fsync_parent(const char *path);
/* mkdir -p with mode for each created component. */
int safe_mkdir_p(const char *path, unsigned int mode);

#endif
