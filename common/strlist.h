/*
 * NAME
 *	strlist 3h
 * SUMMARY
 *	growable list of heap strings
 * DESCRIPTION
 *	Owns its strings. strlist_add() copies; strlist_free() releases all
 *	and leaves an empty list that may be reused. Allocation failure
 *	aborts (the daemon cannot do anything useful without memory, and a
 *	worker that dies is replaced by the master; nothing was acknowledged).
 *	Also here, with the x* allocators: xsetf(), the slot a module keeps
 *	its last error text in. The growable byte buffer is common/buf.h.
 */
#ifndef TAB_STRLIST_H
#define TAB_STRLIST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

struct strlist {
    char **v;
    size_t n;
    size_t cap;
};

#define STRLIST_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strlist_add(struct strlist *l, const char *s);
void strlist_add_n(struct strlist *l, const char *s, size_t len);
/* Case-insensitive (ASCII) membership test, as mail addresses compare. */
int strlist_has_nocase(const struct strlist *l, const char *s);
/* The strings joined by sep, as a new heap string ("" for an empty list). */
char *strlist_join(const struct strlist *l, const char *sep);
void strlist_free(struct strlist *l);

/* malloc/strdup that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* printf into *slot, freeing what it held (after formatting, so the old
 * text may be an argument): the error text a module keeps for its
 * callers' const char **error_r, valid until its next failure. */
const char *xsetf(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
