/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leaf helpers: strings, string vectors, paths and files.
 * They return 0 or -errno and never take a vxn_error.
 */
#ifndef VXN_SHARED_UTIL_H
#define VXN_SHARED_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* asprintf that returns NULL on failure. */
char *str_printf(const char *fmt, ...) _printf_(1, 2);
/* strdup that accepts NULL (and returns NULL for it). */
char *str_dup_or_null(const char *s);
bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);
/* Remove leading and trailing ASCII white space in place; returns s. */
char *str_strip(char *s);

size_t strv_length(char *const *v);
/* Append a copy of s. 0 or -ENOMEM; *v stays valid on failure. */
int strv_push(char ***v, const char *s);
/* Append s, taking ownership (freed on failure). */
int strv_push_take(char ***v, char *s);
/* Deep copy; *out untouched on failure. A NULL v copies to an empty vector. */
int strv_copy(char ***out, char *const *v);
bool strv_contains(char *const *v, const char *s);

/* Join two path parts with exactly one '/'. NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* mkdir -p with the given mode for the created components. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf; a missing path is success. Does not cross mount points. */
int rm_rf(const char *path);

/* Read a whole file (up to max bytes; -EFBIG beyond). Adds a NUL after the data. */
int read_file(const char *path, size_t max, char **out, size_t *out_len);
/* Read all of fd (up to max bytes; -EFBIG beyond). Adds a NUL after the data. */
int read_fd_all(int fd, size_t max, char **out, size_t *out_len);
/* write(2) all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* write_all() that never raises SIGPIPE: send(MSG_NOSIGNAL) on a socket, write() otherwise. */
int send_all(int fd, const void *buf, size_t len);
/*
 * Replace path atomically: write to a temp file in the same directory, fsync,
 * rename, fsync the directory. Readers see the old or the new file, never a
 * partial one.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fsync a directory. */
int fsync_dir(const char *dir);

#endif
