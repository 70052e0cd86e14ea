/*
 * NAME
 *	beneath 3h
 * SUMMARY
 *	open a relative path beneath a directory, never through a symbolic link
 * DESCRIPTION
 *	For paths that come from a catalog (untrusted: whoever can write the
 *	catalog can write them) and name files inside a store's directory.
 *	The path must be relative, with no empty, "." or ".." component; no
 *	component (directories on the way included) may be a symbolic link.
 *	Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel
 *	has it (Linux 5.6), else walks the components with openat(O_NOFOLLOW).
 * DIAGNOSTICS
 *	-1 with errno: EINVAL a path that is absolute, empty or has an
 *	empty, "." or ".." component; ELOOP a symbolic link on the way;
 *	ENOTDIR a component before the last that is not a directory; or
 *	what open(2) says.
 */
#ifndef TAB_BENEATH_H
#define TAB_BENEATH_H

#include <sys/types.h>

/* A descriptor for path beneath the directory root_fd, opened with flags
 * (O_NOFOLLOW and O_CLOEXEC are added) and mode. */
int beneath_open(int root_fd, const char *path, int flags, mode_t mode);
/* The directory holding path's last component, opened beneath root_fd
 * (O_RDONLY | O_DIRECTORY), with *name_r pointing at that component
 * inside path: for unlinkat(2), fstatat(2) without following it. */
int beneath_open_parent(int root_fd, const char *path, const char **name_r);
/* beneath_open() without openat2: the component walk, for kernels that
 * lack it (and for tests on kernels that have it). */
int beneath_open_walk(int root_fd, const char *path, int flags, mode_t mode);

#endif
