/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the channel decoder (libvxn/boot/frame.c).
 *
 * Arbitrary bytes go to the decoder whole, in pseudo-random pieces derived
 * from the input, and (for short inputs) byte by byte. Invariants checked:
 *  - frames and foreign runs rebuild the input exactly (every byte is in
 *    exactly one frame or one foreign run, in order);
 *  - the result does not depend on the chunking;
 *  - every delivered frame has a valid payload size and checksum, parses
 *    without harm, and a typed payload that parses re-encodes to the same
 *    bytes;
 *  - the decoder holds less than one frame between calls, nothing after
 *    finish, and its counters agree with what it delivered.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *            tests/fuzz/fuzz-frame.c libvxn/boot/frame.c -o fuzz-frame
 * Corpus: tests/fuzz/corpus/frame/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vxn/boot.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

struct run {
	uint8_t *out; /* the input rebuilt from frames and foreign runs */
	size_t out_size, out_alloc;
	size_t *frame_at; /* offset of each frame in the rebuilt input */
	size_t frames, frames_alloc;
	uint64_t foreign;
};

static void out_append(struct run *r, const void *p, size_t n)
{
	if (r->out_size + n > r->out_alloc) {
		size_t a = r->out_alloc ? r->out_alloc : 256;
		while (a < r->out_size + n)
			a *= 2;
		r->out = realloc(r->out, a);
		CHECK(r->out);
		r->out_alloc = a;
	}
	memcpy(r->out + r->out_size, p, n);
	r->out_size += n;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Typed payloads that parse must re-encode to the same leading bytes. */
static void check_typed(const vxn_frame *f, const uint8_t *payload, size_t n)
{
	static uint8_t buf[VXN_FRAME_MAX_SIZE];
	uint32_t stream = vxn_frame_get_stream(f), seq = vxn_frame_get_seq(f);
	int r = 1, len = 0;
	size_t fixed = 0;
	switch (vxn_frame_get_type(f)) {
	case VXN_FRAME_READY: {
		uint16_t v;
		const char *info;
		size_t in;
		r = vxn_frame_parse_ready(f, &v, &info, &in);
		if (r == 0) {
			CHECK(info == (const char *)payload + 4 && in == n - 4);
			fixed = 2; /* reserved bytes may be anything */
			len = vxn_frame_encode_ready(buf, sizeof(buf), seq, v, NULL);
		}
		break;
	}
	case VXN_FRAME_START: {
		uint16_t v;
		r = vxn_frame_parse_start(f, &v);
		if (r == 0) {
			fixed = 2;
			len = vxn_frame_encode_start(buf, sizeof(buf), seq, v);
		}
		break;
	}
	case VXN_FRAME_LOG: {
		vxn_log_level l;
		vxn_log_source src;
		const char *t;
		size_t tn;
		r = vxn_frame_parse_log(f, &l, &src, &t, &tn);
		if (r == 0) {
			CHECK(tn == n - 4);
			fixed = 2;
			len = vxn_frame_encode_log(buf, sizeof(buf), seq, l, src, NULL);
		}
		break;
	}
	case VXN_FRAME_STDIN_CREDIT: {
		uint32_t b;
		r = vxn_frame_parse_credit(f, &b);
		if (r == 0) {
			fixed = 4;
			len = vxn_frame_encode_credit(buf, sizeof(buf), stream, seq, b);
		}
		break;
	}
	case VXN_FRAME_RESIZE: {
		uint16_t rows, cols;
		r = vxn_frame_parse_resize(f, &rows, &cols);
		if (r == 0) {
			fixed = 4;
			len = vxn_frame_encode_resize(buf, sizeof(buf), stream, seq, rows, cols);
		}
		break;
	}
	case VXN_FRAME_SIGNAL: {
		int s;
		r = vxn_frame_parse_signal(f, &s);
		if (r == 0) {
			fixed = 4;
			len = vxn_frame_encode_signal(buf, sizeof(buf), stream, seq, s);
		}
		break;
	}
	case VXN_FRAME_EXIT: {
		int code, sig;
		uint32_t flags;
		r = vxn_frame_parse_exit(f, &code, &sig, &flags);
		if (r == 0) {
			fixed = 12;
			len =
			    vxn_frame_encode_exit(buf, sizeof(buf), stream, seq, code, sig, flags);
		}
		break;
	}
	case VXN_FRAME_ERROR: {
		vxn_boot_stage st;
		int en;
		const char *m;
		size_t mn;
		r = vxn_frame_parse_error(f, &st, &en, &m, &mn);
		if (r == 0) {
			CHECK(mn == n - 8);
			fixed = 8;
			len = vxn_frame_encode_error(buf, sizeof(buf), stream, seq, st, en, NULL);
		}
		break;
	}
	default:
		return;
	}
	CHECK(r == 0 || r == VXN_EPROTO);
	if (r == 0) {
		CHECK(len > 0 && (size_t)len >= VXN_FRAME_HEADER_SIZE + fixed);
		CHECK(memcmp(buf + VXN_FRAME_HEADER_SIZE, payload, fixed) == 0);
	}
}

static void on_frame(void *userdata, const vxn_frame *f)
{
	struct run *r = userdata;
	size_t n = 99;
	const uint8_t *p = vxn_frame_get_payload(f, &n);
	CHECK(p);
	CHECK(n <= VXN_FRAME_MAX_PAYLOAD);
	unsigned type = vxn_frame_get_type(f);
	CHECK(type <= 0xff);

	/* Rebuild the header: it must be the input's bytes. */
	uint8_t h[VXN_FRAME_HEADER_SIZE];
	h[0] = VXN_FRAME_MAGIC0;
	h[1] = VXN_FRAME_MAGIC1;
	h[2] = VXN_FRAME_VERSION;
	h[3] = (uint8_t)type;
	put32(h + 4, vxn_frame_get_flags(f));
	put32(h + 8, vxn_frame_get_stream(f));
	put32(h + 12, vxn_frame_get_seq(f));
	put32(h + 16, (uint32_t)n);
	put32(h + 20, vxn_crc32c(0, p, n));
	put32(h + 24, vxn_crc32c(0, h, 24));

	if (r->frames == r->frames_alloc) {
		r->frames_alloc = r->frames_alloc ? 2 * r->frames_alloc : 16;
		r->frame_at = realloc(r->frame_at, r->frames_alloc * sizeof(size_t));
		CHECK(r->frame_at);
	}
	r->frame_at[r->frames++] = r->out_size;
	out_append(r, h, sizeof(h));
	out_append(r, p, n);
	check_typed(f, p, n);
}

static void on_foreign(void *userdata, const void *bytes, size_t n)
{
	struct run *r = userdata;
	CHECK(n > 0);
	out_append(r, bytes, n);
	r->foreign += n;
}

/* One decoder for all inputs (finish resets it), so a run costs no large
 * allocation; its callbacks fill cur, which decode() swaps in and out. */
static vxn_frame_decoder *dec;
static struct run cur;

/* Decode @data with pieces from @cut (NULL: whole). */
static void decode(struct run *r, const uint8_t *data, size_t size, size_t (*cut)(void *), void *st)
{
	uint64_t b0 = vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BYTES);
	uint64_t f0 = vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES);
	uint64_t x0 = vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FOREIGN_BYTES);
	r->out_size = 0;
	r->frames = 0;
	r->foreign = 0;
	cur = *r;
	for (size_t at = 0; at < size;) {
		size_t n = cut ? cut(st) : size;
		if (n > size - at)
			n = size - at;
		CHECK(vxn_frame_decoder_feed(dec, data + at, n) == 0);
		CHECK(vxn_frame_decoder_pending(dec) < VXN_FRAME_MAX_SIZE);
		at += n;
	}
	CHECK(vxn_frame_decoder_finish(dec) == 0);
	CHECK(vxn_frame_decoder_pending(dec) == 0);
	*r = cur;
	CHECK(r->out_size == size);
	CHECK(size == 0 || memcmp(r->out, data, size) == 0);
	CHECK(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BYTES) - b0 == size);
	CHECK(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES) - f0 == r->frames);
	CHECK(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FOREIGN_BYTES) - x0 == r->foreign);
}

static size_t cut_random(void *st)
{
	uint64_t *s = st;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	/* mostly small pieces, sometimes large ones */
	return (*s & 7) ? 1 + (*s >> 8) % 64 : 1 + (*s >> 8) % 70000;
}

static size_t cut_large(void *st)
{
	return 1 + cut_random(st) * 997 % 40000;
}

static size_t cut_one(void *st)
{
	return 1;
}

static void same(const struct run *a, const struct run *b)
{
	CHECK(a->frames == b->frames);
	CHECK(a->foreign == b->foreign);
	CHECK(a->frames == 0 || memcmp(a->frame_at, b->frame_at, a->frames * sizeof(size_t)) == 0);
}

/*
 * Random mutations almost never produce a valid checksum, so the payload
 * parsers would rarely see mutated payloads. This copy repairs every marker
 * in place (version 1, length clamped to what follows, both checksums
 * recomputed), turning the input into mostly valid frames.
 */
static uint8_t *repair(const uint8_t *data, size_t size)
{
	uint8_t *c = malloc(size ? size : 1);
	CHECK(c);
	if (size)
		memcpy(c, data, size);
	for (size_t i = 0; i + VXN_FRAME_HEADER_SIZE <= size;) {
		if (c[i] != VXN_FRAME_MAGIC0 || c[i + 1] != VXN_FRAME_MAGIC1) {
			i++;
			continue;
		}
		uint8_t *h = c + i;
		size_t room = size - i - VXN_FRAME_HEADER_SIZE;
		if (room > VXN_FRAME_MAX_PAYLOAD)
			room = VXN_FRAME_MAX_PAYLOAD;
		uint32_t len = (uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16 |
			       (uint32_t)h[19] << 24;
		if (len > room)
			len = (uint32_t)(len % (room + 1));
		h[2] = VXN_FRAME_VERSION;
		put32(h + 16, len);
		put32(h + 20, vxn_crc32c(0, h + VXN_FRAME_HEADER_SIZE, len));
		put32(h + 24, vxn_crc32c(0, h, 24));
		i += VXN_FRAME_HEADER_SIZE + len;
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, pieces, bytes, repaired;
	if (!dec)
		CHECK(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &cur) == 0);

	decode(&whole, data, size, NULL, NULL);

	uint64_t seed = 0x9E3779B97F4A7C15u ^ size;
	for (size_t i = 0; i < size && i < 8; i++)
		seed = seed * 131 + data[i];
	if (!seed)
		seed = 1;
	decode(&pieces, data, size, cut_random, &seed);
	same(&whole, &pieces);

	if (size <= 1024) {
		decode(&bytes, data, size, cut_one, NULL);
		same(&whole, &bytes);
	}

	uint8_t *fixed = repair(data, size);
	decode(&repaired, fixed, size, NULL, NULL);
	decode(&pieces, fixed, size, cut_random, &seed);
	same(&repaired, &pieces);

	/* For about one input in 61 (chosen by a hash, so the fuzzer does not
	 * steer every input there: it is slow), repeat the repaired input past
	 * twice the largest frame, so held frames cross the decoder's buffer
	 * compaction. */
	if (size >= 16 && seed % 61 == 0) {
		size_t big = 2 * VXN_FRAME_MAX_SIZE + 4096, reps = big / size + 1;
		uint8_t *rep = malloc(reps * size);
		CHECK(rep);
		for (size_t i = 0; i < reps; i++)
			memcpy(rep + i * size, fixed, size);
		decode(&repaired, rep, reps * size, cut_large, &seed);
		decode(&pieces, rep, reps * size, NULL, NULL);
		same(&repaired, &pieces);
		free(rep);
	}
	free(fixed);
	return 0;
}
