/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cleanup and ownership macros used across libvxn (and the tools' private
 * helpers). Every cleanup variable is initialised where it is declared.
 */
#ifndef VXN_SHARED_MACRO_H
#define VXN_SHARED_MACRO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _printf_(a, b)	__attribute__((format(printf, a, b)))
#define _unused_	__attribute__((unused))
#define _nodiscard_	__attribute__((warn_unused_result))
#define _likely_(x)	__builtin_expect(!!(x), 1)
#define _unlikely_(x)	__builtin_expect(!!(x), 0)
#define ELEMENTSOF(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define STREQ(a, b)	(strcmp((a), (b)) == 0)
#define STRPTR_OR(p, d) ((p) ? (p) : (d))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Free a NULL-terminated array of strings. */
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_	 _cleanup_(strv_freep)

/* Hand a pointer out of a cleanup variable: returns it and leaves NULL. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})
/* Same for a file descriptor: returns it and leaves -1. */
#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -1;       \
		_fd_;            \
	})

#endif
