/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SHA-256 content digests ("sha256:<64 lower-case hex>") over OpenSSL's
 * libcrypto. Leaf helpers: 0 or -errno.
 */
#ifndef VXN_SHARED_DIGEST_H
#define VXN_SHARED_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_PREFIX "sha256:"
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_MAX 72

typedef struct digester digester;

/* A streaming SHA-256. NULL on ENOMEM. */
digester *digester_new(void);
void digester_update(digester *d, const void *data, size_t len);
/* Bytes fed so far. */
uint64_t digester_bytes(const digester *d);
/* Write "sha256:<hex>" into out (DIGEST_STRING_MAX bytes). The digester can
 * not be updated afterwards. */
void digester_final(digester *d, char out[DIGEST_STRING_MAX]);
void digester_free(digester *d);
static inline void digester_freep(digester **d)
{
	digester_free(*d);
}
#define _cleanup_digester_ __attribute__((cleanup(digester_freep)))

/* One-shot digest of a buffer. */
void digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_MAX]);
/* Digest of a whole file (and its size). */
int digest_file(const char *path, char out[DIGEST_STRING_MAX], uint64_t *size);
int digest_fd(int fd, char out[DIGEST_STRING_MAX], uint64_t *size);

/* Whether s is "sha256:" followed by exactly 64 lower-case hex digits. */
bool digest_is_valid(const char *s);
/* The hex part of a valid digest (s + 7). */
const char *digest_hex(const char *s);

#endif
