/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

struct digester {
	EVP_MD_CTX *ctx;
	uint64_t bytes;
};

digester *digester_new(void)
{
	digester *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->ctx);
		free(d);
		return NULL;
	}
	return d;
}

void digester_update(digester *d, const void *data, size_t len)
{
	EVP_DigestUpdate(d->ctx, data, len);
	d->bytes += len;
}

uint64_t digester_bytes(const digester *d)
{
	return d->bytes;
}

void digester_final(digester *d, char out[DIGEST_STRING_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(d->ctx, md, &n);
	memcpy(out, DIGEST_SHA256_PREFIX, 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void digester_free(digester *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

void digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, DIGEST_SHA256_PREFIX, 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

int digest_fd(int fd, char out[DIGEST_STRING_MAX], uint64_t *size)
{
	_cleanup_digester_ digester *d = digester_new();
	if (!d)
		return -ENOMEM;
	_cleanup_free_ char *buf = malloc(1 << 17);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 17);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		digester_update(d, buf, (size_t)n);
	}
	if (size)
		*size = digester_bytes(d);
	digester_final(d, out);
	return 0;
}

int digest_file(const char *path, char out[DIGEST_STRING_MAX], uint64_t *size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return digest_fd(fd, out, size);
}

bool digest_is_valid(const char *s)
{
	if (!s || strncmp(s, DIGEST_SHA256_PREFIX, 7) != 0)
		return false;
	size_t i = 0;
	for (const char *p = s + 7; *p; p++, i++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return i == 64;
}

const char *digest_hex(const char *s)
{
	return s + 7;
}
