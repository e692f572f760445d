/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include <vxn/boot.h>

#include "boot/cpio.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so failures reproduce */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Du;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd() >> 56);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bitwise CRC32C: the reference the table-driven code must match. */
static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recompute a hand-modified header's checksum, so only the field changed
 * is wrong. */
static void fix_header_crc(uint8_t *frame)
{
	put32(frame + 24, crc32c_ref(frame, 24));
}

/* What the decoder produced (or should): frames and foreign runs in order,
 * adjacent foreign runs merged (their cut depends on the chunking). */
enum {
	EV_FRAME,
	EV_FOREIGN
};

struct event {
	int kind;
	unsigned type;
	uint32_t stream, seq, flags;
	uint8_t *data;
	size_t size;
};

struct transcript {
	struct event *ev;
	size_t n, alloc;
	uint64_t foreign_bytes;
};

static struct event *push(struct transcript *t, int kind)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 16;
		t->ev = realloc(t->ev, t->alloc * sizeof(*t->ev));
		assert_non_null(t->ev);
	}
	struct event *e = &t->ev[t->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static void append(struct event *e, const void *data, size_t n)
{
	e->data = realloc(e->data, e->size + n + 1);
	assert_non_null(e->data);
	if (n)
		memcpy(e->data + e->size, data, n);
	e->size += n;
}

static void add_foreign(struct transcript *t, const void *data, size_t n)
{
	assert_true(n > 0);
	struct event *e =
	    (t->n && t->ev[t->n - 1].kind == EV_FOREIGN) ? &t->ev[t->n - 1] : push(t, EV_FOREIGN);
	append(e, data, n);
	t->foreign_bytes += n;
}

static void add_frame(struct transcript *t, unsigned type, uint32_t stream, uint32_t seq,
		      uint32_t flags, const void *payload, size_t n)
{
	struct event *e = push(t, EV_FRAME);
	e->type = type;
	e->stream = stream;
	e->seq = seq;
	e->flags = flags;
	append(e, payload, n);
}

static void transcript_clear(struct transcript *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->ev[i].data);
	free(t->ev);
	memset(t, 0, sizeof(*t));
}

static size_t count_frames(const struct transcript *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += t->ev[i].kind == EV_FRAME;
	return n;
}

static void on_frame(void *userdata, const vxn_frame *f)
{
	size_t n;
	const void *p = vxn_frame_get_payload(f, &n);
	assert_non_null(p);
	assert_true(n <= VXN_FRAME_MAX_PAYLOAD);
	add_frame(userdata, vxn_frame_get_type(f), vxn_frame_get_stream(f), vxn_frame_get_seq(f),
		  vxn_frame_get_flags(f), p, n);
}

static void on_foreign(void *userdata, const void *bytes, size_t n)
{
	add_foreign(userdata, bytes, n);
}

static void assert_transcripts_equal(const struct transcript *got, const struct transcript *want)
{
	assert_int_equal(got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		const struct event *g = &got->ev[i], *w = &want->ev[i];
		assert_int_equal(g->kind, w->kind);
		assert_int_equal(g->type, w->type);
		assert_int_equal(g->stream, w->stream);
		assert_int_equal(g->seq, w->seq);
		assert_int_equal(g->flags, w->flags);
		assert_int_equal(g->size, w->size);
		if (w->size)
			assert_memory_equal(g->data, w->data, w->size);
	}
	assert_int_equal(got->foreign_bytes, want->foreign_bytes);
}

/* A byte stream and the transcript it must decode to. */
struct stream {
	uint8_t *bytes;
	size_t size, alloc;
	struct transcript want;
	uint32_t seq;
};

static void stream_append(struct stream *s, const void *data, size_t n)
{
	if (s->size + n > s->alloc) {
		s->alloc = (s->size + n) * 2;
		s->bytes = realloc(s->bytes, s->alloc);
		assert_non_null(s->bytes);
	}
	memcpy(s->bytes + s->size, data, n);
	s->size += n;
}

static void stream_foreign(struct stream *s, const void *data, size_t n)
{
	stream_append(s, data, n);
	add_foreign(&s->want, data, n);
}

static void stream_text(struct stream *s, const char *text)
{
	stream_foreign(s, text, strlen(text));
}

static void stream_frame(struct stream *s, unsigned type, uint32_t stream, const void *payload,
			 size_t n)
{
	uint8_t *buf = malloc(VXN_FRAME_SIZE(n));
	assert_non_null(buf);
	uint32_t seq = s->seq++;
	int len = vxn_frame_encode(buf, VXN_FRAME_SIZE(n), type, stream, seq, payload, n);
	assert_int_equal(len, (int)VXN_FRAME_SIZE(n));
	stream_append(s, buf, (size_t)len);
	add_frame(&s->want, type, stream, seq, 0, payload, n);
	free(buf);
}

static void stream_clear(struct stream *s)
{
	free(s->bytes);
	transcript_clear(&s->want);
	memset(s, 0, sizeof(*s));
}

/* Decode @bytes fed in pieces: cuts[] are increasing offsets (0-terminated
 * list not needed: ncuts entries), then finish. */
static void decode_cuts(struct transcript *got, const uint8_t *bytes, size_t size,
			const size_t *cuts, size_t ncuts)
{
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, got), 0);
	size_t at = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : size;
		assert_int_equal(vxn_frame_decoder_feed(dec, bytes + at, to - at), 0);
		at = to;
	}
	assert_int_equal(vxn_frame_decoder_finish(dec), 0);
	assert_int_equal(vxn_frame_decoder_pending(dec), 0);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BYTES), size);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES), count_frames(got));
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FOREIGN_BYTES),
			 got->foreign_bytes);
	vxn_frame_decoder_free(dec);
}

static void decode_whole(struct transcript *got, const uint8_t *bytes, size_t size)
{
	decode_cuts(got, bytes, size, NULL, 0);
}

/* Check @s decodes to its transcript whole, split at every offset, byte by
 * byte, and in random pieces. */
static void check_stream_all_splits(const struct stream *s)
{
	struct transcript got = { 0 };
	decode_whole(&got, s->bytes, s->size);
	assert_transcripts_equal(&got, &s->want);
	transcript_clear(&got);

	for (size_t k = 0; k <= s->size; k++) {
		decode_cuts(&got, s->bytes, s->size, &k, 1);
		assert_transcripts_equal(&got, &s->want);
		transcript_clear(&got);
	}

	size_t *cuts = malloc(s->size * sizeof(size_t));
	assert_non_null(cuts);
	for (size_t i = 0; i < s->size; i++)
		cuts[i] = i;
	decode_cuts(&got, s->bytes, s->size, cuts, s->size);
	assert_transcripts_equal(&got, &s->want);
	transcript_clear(&got);

	for (int round = 0; round < 20; round++) {
		size_t n = 0;
		for (size_t at = 0;;) {
			at += 1 + rnd() % 97;
			if (at >= s->size)
				break;
			cuts[n++] = at;
		}
		decode_cuts(&got, s->bytes, s->size, cuts, n);
		assert_transcripts_equal(&got, &s->want);
		transcript_clear(&got);
	}
	free(cuts);
}

/* ------------------------------------------------------------------------ */
/* CRC */

static void test_boot_crc32c_vectors(void **state)
{
	/* The check value of CRC-32C and the iSCSI vectors (RFC 3720, B.4). */
	assert_int_equal(vxn_crc32c(0, "123456789", 9), 0xE3069283u);
	uint8_t b[32];
	memset(b, 0, sizeof(b));
	assert_int_equal(vxn_crc32c(0, b, 32), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(vxn_crc32c(0, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(vxn_crc32c(0, b, 32), 0x46DD794Eu);
	assert_int_equal(vxn_crc32c(0, NULL, 0), 0);
	assert_int_equal(vxn_crc32c(0, "", 0), 0);

	/* Chaining, and the table against the bitwise reference. */
	uint8_t data[1000];
	fill_random(data, sizeof(data));
	for (size_t n = 0; n <= sizeof(data); n += 37) {
		uint32_t want = crc32c_ref(data, n);
		assert_int_equal(vxn_crc32c(0, data, n), want);
		size_t half = n / 3;
		assert_int_equal(vxn_crc32c(vxn_crc32c(0, data, half), data + half, n - half),
				 want);
	}
}

/* ------------------------------------------------------------------------ */
/* Encoding */

static void test_boot_encode_layout_matches_spec(void **state)
{
	/* The example frame of doc/guest-protocol.md. */
	static const uint8_t want[] = {
		0xf9, 0x1e, 0x01, 0x13, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
		0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
		0xc2, 0xd9, 0x9d, 0xf5, 0x20, 0x3f, 0x43, 0x26, 0x68, 0x69,
	};
	uint8_t buf[64];
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 3, 7, "hi", 2), 30);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[30], 0xaa); /* nothing written past the frame */
	assert_int_equal(get32(buf + 20), crc32c_ref((const uint8_t *)"hi", 2));
	assert_int_equal(get32(buf + 24), crc32c_ref(buf, 24));

	/* Exactly the frame's size is enough; one byte less is not. */
	assert_int_equal(vxn_frame_encode(buf, 30, VXN_FRAME_STDOUT, 3, 7, "hi", 2), 30);
	assert_int_equal(vxn_frame_encode(buf, 29, VXN_FRAME_STDOUT, 3, 7, "hi", 2), VXN_EINVAL);

	/* In place: the payload already sits after the header. */
	memcpy(buf + VXN_FRAME_HEADER_SIZE, "hi", 2);
	assert_int_equal(vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 3, 7,
					  buf + VXN_FRAME_HEADER_SIZE, 2),
			 30);
	assert_memory_equal(buf, want, sizeof(want));

	/* An empty frame: STDIN_EOF, payload CRC of nothing is 0. */
	static const uint8_t eof[] = {
		0xf9, 0x1e, 0x01, 0x11, 0, 0, 0, 0, 0, 0, 0,	0,    0x01, 0,
		0,    0,    0,	  0,	0, 0, 0, 0, 0, 0, 0x17, 0x7f, 0xc7, 0x3f,
	};
	assert_int_equal(vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDIN_EOF, 0, 1, NULL, 0),
			 28);
	assert_memory_equal(buf, eof, sizeof(eof));
}

static void test_boot_encode_rejects_bad_arguments(void **state)
{
	uint8_t *buf = malloc(VXN_FRAME_MAX_SIZE + 1);
	assert_non_null(buf);
	size_t big = VXN_FRAME_MAX_SIZE + 1;
	assert_int_equal(vxn_frame_encode(buf, big, 0, 0, 0, "x", 1), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode(buf, big, 256, 0, 0, "x", 1), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode(NULL, big, VXN_FRAME_STDOUT, 0, 0, "x", 1), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode(buf, big, VXN_FRAME_STDOUT, 0, 0, NULL, 1), VXN_EINVAL);
	assert_int_equal(
	    vxn_frame_encode(buf, big, VXN_FRAME_STDOUT, 0, 0, buf, VXN_FRAME_MAX_PAYLOAD + 1),
	    VXN_EINVAL);
	/* The largest payload fits, and unknown types are allowed. */
	assert_int_equal(vxn_frame_encode(buf, big, 0xee, 0, 0, buf + VXN_FRAME_HEADER_SIZE,
					  VXN_FRAME_MAX_PAYLOAD),
			 (int)VXN_FRAME_MAX_SIZE);

	uint8_t b[128];
	assert_int_equal(vxn_frame_encode_signal(b, sizeof(b), 0, 0, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_signal(b, sizeof(b), 0, 0, 65), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_exit(b, sizeof(b), 0, 0, 256, 0, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_exit(b, sizeof(b), 0, 0, -1, 0, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_exit(b, sizeof(b), 0, 0, 1, 9, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_exit(b, sizeof(b), 0, 0, 1, 0, VXN_EXIT_CORE_DUMPED),
			 VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_resize(b, sizeof(b), 0, 0, 0, 80), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_resize(b, sizeof(b), 0, 0, 24, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_credit(b, sizeof(b), 0, 0, 0), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_ready(b, sizeof(b), 0, 0, NULL), VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_start(b, sizeof(b), 0, 0), VXN_EINVAL);
	assert_int_equal(
	    vxn_frame_encode_log(b, sizeof(b), 0, (vxn_log_level)4, VXN_LOG_SOURCE_INIT, "x"),
	    VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_error(b, sizeof(b), 0, 0, (vxn_boot_stage)0, 0, "x"),
			 VXN_EINVAL);
	assert_int_equal(vxn_frame_encode_error(b, sizeof(b), 0, 0, VXN_BOOT_STAGE_EXEC, -2, "x"),
			 VXN_EINVAL);
	/* Buffer too small for the text. */
	assert_int_equal(vxn_frame_encode_error(b, 40, 0, 0, VXN_BOOT_STAGE_EXEC, 2,
						"this message does not fit in forty bytes"),
			 VXN_EINVAL);

	/* Text longer than a frame is cut to the maximum payload. */
	char *text = malloc(VXN_FRAME_MAX_PAYLOAD + 100);
	assert_non_null(text);
	memset(text, 'e', VXN_FRAME_MAX_PAYLOAD + 99);
	text[VXN_FRAME_MAX_PAYLOAD + 99] = '\0';
	assert_int_equal(vxn_frame_encode_log(buf, big, 0, VXN_LOG_INFO, VXN_LOG_SOURCE_INIT, text),
			 (int)VXN_FRAME_MAX_SIZE);
	free(text);
	free(buf);
	static const struct {
		unsigned type;
		const char *name;
	} names[] = {
		{ VXN_FRAME_READY, "READY" },
		{ VXN_FRAME_START, "START" },
		{ VXN_FRAME_LOG, "LOG" },
		{ VXN_FRAME_STDIN, "STDIN" },
		{ VXN_FRAME_STDIN_EOF, "STDIN_EOF" },
		{ VXN_FRAME_STDIN_CREDIT, "STDIN_CREDIT" },
		{ VXN_FRAME_STDOUT, "STDOUT" },
		{ VXN_FRAME_STDERR, "STDERR" },
		{ VXN_FRAME_RESIZE, "RESIZE" },
		{ VXN_FRAME_SIGNAL, "SIGNAL" },
		{ VXN_FRAME_EXIT, "EXIT" },
		{ VXN_FRAME_ERROR, "ERROR" },
		{ VXN_FRAME_EXIT_ACK, "EXIT_ACK" },
		{ VXN_FRAME_EXEC_START, "EXEC_START" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(vxn_frame_type_name(names[i].type), names[i].name);
	assert_string_equal(vxn_frame_type_name(0x99), "UNKNOWN");
}

/* ------------------------------------------------------------------------ */
/* Round trips */

struct one {
	int calls;
	int (*check)(const vxn_frame *f, void *ctx);
	void *ctx;
	int result;
};

static void on_one(void *userdata, const vxn_frame *f)
{
	struct one *o = userdata;
	o->calls++;
	o->result = o->check(f, o->ctx);
}

/* Decode the frame in @buf (length @n) and run @check on it; returns its result. */
static int decode_one(const uint8_t *buf, int n, int (*check)(const vxn_frame *, void *), void *ctx)
{
	static struct one o;
	memset(&o, 0, sizeof(o));
	o.check = check;
	o.ctx = ctx;
	assert_true(n > 0);
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_one, NULL, &o), 0);
	assert_int_equal(vxn_frame_decoder_feed(dec, buf, (size_t)n), 0);
	/* A complete frame is delivered at once, not held until finish. */
	assert_int_equal(o.calls, 1);
	assert_int_equal(vxn_frame_decoder_pending(dec), 0);
	assert_int_equal(vxn_frame_decoder_finish(dec), 0);
	assert_int_equal(o.calls, 1);
	vxn_frame_decoder_free(dec);
	return o.result;
}

static int check_ready(const vxn_frame *f, void *ctx)
{
	uint16_t v = 0;
	const char *info = NULL;
	size_t n = 0;
	assert_int_equal(vxn_frame_get_type(f), VXN_FRAME_READY);
	assert_int_equal(vxn_frame_get_stream(f), 0);
	assert_int_equal(vxn_frame_get_seq(f), 0);
	assert_int_equal(vxn_frame_parse_ready(f, &v, &info, &n), 0);
	assert_int_equal(v, VXN_PROTO_VERSION);
	assert_int_equal(n, strlen(ctx));
	assert_memory_equal(info, ctx, n);
	/* wrong-type parsers refuse it */
	assert_int_equal(vxn_frame_parse_start(f, NULL), VXN_EINVAL);
	assert_int_equal(vxn_frame_parse_exit(f, NULL, NULL, NULL), VXN_EINVAL);
	return 0;
}

static int check_start(const vxn_frame *f, void *ctx)
{
	uint16_t v = 0;
	assert_int_equal(vxn_frame_get_seq(f), 1);
	assert_int_equal(vxn_frame_parse_start(f, &v), 0);
	assert_int_equal(v, 1);
	return 0;
}

static int check_log(const vxn_frame *f, void *ctx)
{
	vxn_log_level l = VXN_LOG_ERROR;
	vxn_log_source src = VXN_LOG_SOURCE_INIT;
	const char *t;
	size_t n;
	assert_int_equal(vxn_frame_parse_log(f, &l, &src, &t, &n), 0);
	assert_int_equal(l, VXN_LOG_DEBUG);
	assert_int_equal(src, VXN_LOG_SOURCE_KERNEL);
	assert_int_equal(n, 11);
	assert_memory_equal(t, "mounted /\xc3\xa9", 11);
	return 0;
}

static int check_credit(const vxn_frame *f, void *ctx)
{
	uint32_t b = 0;
	assert_int_equal(vxn_frame_get_stream(f), 4);
	assert_int_equal(vxn_frame_parse_credit(f, &b), 0);
	assert_int_equal(b, 65536);
	return 0;
}

static int check_resize(const vxn_frame *f, void *ctx)
{
	uint16_t r = 0, c = 0;
	assert_int_equal(vxn_frame_get_stream(f), 0);
	assert_int_equal(vxn_frame_parse_resize(f, &r, &c), 0);
	assert_int_equal(r, 50);
	assert_int_equal(c, 132);
	return 0;
}

static int check_signal(const vxn_frame *f, void *ctx)
{
	int s = 0;
	assert_int_equal(vxn_frame_get_seq(f), 0xfffffffeu);
	assert_int_equal(vxn_frame_parse_signal(f, &s), 0);
	assert_int_equal(s, 15);
	return 0;
}

static int check_exit(const vxn_frame *f, void *ctx)
{
	const int *want = ctx;
	int code = -1, sig = -1;
	uint32_t flags = 99;
	assert_int_equal(vxn_frame_get_stream(f), 0xffffffffu);
	assert_int_equal(vxn_frame_parse_exit(f, &code, &sig, &flags), 0);
	assert_int_equal(code, want[0]);
	assert_int_equal(sig, want[1]);
	assert_int_equal(flags, (uint32_t)want[2]);
	return 0;
}

static int check_error(const vxn_frame *f, void *ctx)
{
	vxn_boot_stage st = 0;
	int en = 0;
	const char *m;
	size_t n;
	assert_int_equal(vxn_frame_parse_error(f, &st, &en, &m, &n), 0);
	assert_int_equal(st, VXN_BOOT_STAGE_EXEC);
	assert_int_equal(en, ENOENT);
	assert_int_equal(n, strlen(ctx));
	assert_memory_equal(m, ctx, n);
	return 0;
}

static int check_data(const vxn_frame *f, void *ctx)
{
	const struct event *want = ctx;
	size_t n;
	const void *p = vxn_frame_get_payload(f, &n);
	assert_int_equal(vxn_frame_get_type(f), want->type);
	assert_int_equal(vxn_frame_get_stream(f), want->stream);
	assert_int_equal(vxn_frame_get_seq(f), want->seq);
	assert_int_equal(vxn_frame_get_flags(f), 0);
	assert_int_equal(n, want->size);
	if (n)
		assert_memory_equal(p, want->data, n);
	return 0;
}

static void test_boot_roundtrip_every_type(void **state)
{
	static uint8_t buf[VXN_FRAME_MAX_SIZE];
	const char *info = "kernel=6.1.0-18-amd64\nvxn-init=0.1.0\n";
	int n = vxn_frame_encode_ready(buf, sizeof(buf), 0, VXN_PROTO_VERSION, info);
	assert_int_equal(n, 28 + 4 + (int)strlen(info));
	assert_int_equal(decode_one(buf, n, check_ready, (void *)info), 0);
	n = vxn_frame_encode_ready(buf, sizeof(buf), 0, VXN_PROTO_VERSION, NULL);
	assert_int_equal(decode_one(buf, n, check_ready, (void *)""), 0);

	n = vxn_frame_encode_start(buf, sizeof(buf), 1, 1);
	assert_int_equal(n, 32);
	assert_int_equal(decode_one(buf, n, check_start, NULL), 0);

	n = vxn_frame_encode_log(buf, sizeof(buf), 2, VXN_LOG_DEBUG, VXN_LOG_SOURCE_KERNEL,
				 "mounted /\xc3\xa9");
	assert_int_equal(decode_one(buf, n, check_log, NULL), 0);

	n = vxn_frame_encode_credit(buf, sizeof(buf), 4, 3, 65536);
	assert_int_equal(decode_one(buf, n, check_credit, NULL), 0);

	n = vxn_frame_encode_resize(buf, sizeof(buf), 0, 4, 50, 132);
	assert_int_equal(decode_one(buf, n, check_resize, NULL), 0);

	n = vxn_frame_encode_signal(buf, sizeof(buf), 0, 0xfffffffeu, 15);
	assert_int_equal(decode_one(buf, n, check_signal, NULL), 0);

	const int exits[][3] = { { 0, 0, 0 },
				 { 255, 0, 0 },
				 { 0, 9, 0 },
				 { 0, 64, 0 },
				 { 0, 11, VXN_EXIT_CORE_DUMPED } };
	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		n = vxn_frame_encode_exit(buf, sizeof(buf), 0xffffffffu, 5, exits[i][0],
					  exits[i][1], (uint32_t)exits[i][2]);
		assert_int_equal(n, 40);
		assert_int_equal(decode_one(buf, n, check_exit, (void *)exits[i]), 0);
	}

	const char *msg = "exec /usr/bin/nope: no such file or directory";
	n = vxn_frame_encode_error(buf, sizeof(buf), 0, 6, VXN_BOOT_STAGE_EXEC, ENOENT, msg);
	assert_int_equal(decode_one(buf, n, check_error, (void *)msg), 0);

	/* Data and empty frames, every byte value, up to the largest payload. */
	static uint8_t payload[VXN_FRAME_MAX_PAYLOAD];
	fill_random(payload, sizeof(payload));
	for (int i = 0; i < 256; i++)
		payload[i] = (uint8_t)i;
	const unsigned types[] = { VXN_FRAME_STDIN,
				   VXN_FRAME_STDOUT,
				   VXN_FRAME_STDERR,
				   VXN_FRAME_STDIN_EOF,
				   VXN_FRAME_EXIT_ACK,
				   VXN_FRAME_EXEC_START,
				   0xff };
	const size_t sizes[] = { 0, 1, 256, 4095, 4096, VXN_FRAME_MAX_PAYLOAD };
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct event want = { .type = types[t],
					      .stream = (uint32_t)(t * 1000 + s),
					      .seq = (uint32_t)s,
					      .data = payload,
					      .size = sizes[s] };
			n = vxn_frame_encode(buf, sizeof(buf), want.type, want.stream, want.seq,
					     payload, want.size);
			assert_int_equal(n, (int)VXN_FRAME_SIZE(want.size));
			assert_int_equal(decode_one(buf, n, check_data, &want), 0);
		}
	}
}

/* A frame with an arbitrary payload, for the parsers' edge cases. */
static int check_parsers(const vxn_frame *f, void *ctx)
{
	int (*parse)(const vxn_frame *) = (int (*)(const vxn_frame *))(uintptr_t)ctx;
	return parse(f);
}

static int p_ready(const vxn_frame *f)
{
	uint16_t v = 77;
	int r = vxn_frame_parse_ready(f, &v, NULL, NULL);
	if (r < 0)
		assert_int_equal(v, 77); /* untouched on failure */
	return r;
}
static int p_start(const vxn_frame *f)
{
	return vxn_frame_parse_start(f, NULL);
}
static int p_log(const vxn_frame *f)
{
	return vxn_frame_parse_log(f, NULL, NULL, NULL, NULL);
}
static int p_credit(const vxn_frame *f)
{
	return vxn_frame_parse_credit(f, NULL);
}
static int p_resize(const vxn_frame *f)
{
	return vxn_frame_parse_resize(f, NULL, NULL);
}
static int p_signal(const vxn_frame *f)
{
	int s = 77;
	int r = vxn_frame_parse_signal(f, &s);
	if (r < 0)
		assert_int_equal(s, 77);
	return r;
}
static int p_exit(const vxn_frame *f)
{
	int c = 77, s = 77;
	int r = vxn_frame_parse_exit(f, &c, &s, NULL);
	if (r < 0) {
		assert_int_equal(c, 77);
		assert_int_equal(s, 77);
	}
	return r;
}
static int p_error(const vxn_frame *f)
{
	return vxn_frame_parse_error(f, NULL, NULL, NULL, NULL);
}

static int parse_raw(unsigned type, const void *payload, size_t n, int (*parse)(const vxn_frame *))
{
	uint8_t buf[128];
	int len = vxn_frame_encode(buf, sizeof(buf), type, 0, 0, payload, n);
	return decode_one(buf, len, check_parsers, (void *)(uintptr_t)parse);
}

static void test_boot_parse_rejects_malformed_payloads(void **state)
{
	uint8_t p[16];
	memset(p, 0, sizeof(p));
	/* too short */
	assert_int_equal(parse_raw(VXN_FRAME_READY, "\x01", 1, p_ready), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_START, "\x01\x00\x00", 3, p_start), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_LOG, "", 0, p_log), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_STDIN_CREDIT, "\x01", 1, p_credit), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_RESIZE, "\x01\x00\x01", 3, p_resize), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_SIGNAL, "\x09\x00", 2, p_signal), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_EXIT, p, 11, p_exit), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_ERROR, "\x08\x00\x00\x00", 4, p_error), VXN_EPROTO);
	/* bad values */
	assert_int_equal(parse_raw(VXN_FRAME_READY, "\x00\x00\x00\x00", 4, p_ready), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_START, "\x00\x00\x00\x00", 4, p_start), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_START, "\x00\x00\x00\x00", 4, p_start), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_LOG, "\x04\x00\x00\x00", 4, p_log), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_STDIN_CREDIT, p, 4, p_credit), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_RESIZE, "\x18\x00\x00\x00", 4, p_resize), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_SIGNAL, p, 4, p_signal), VXN_EPROTO);
	assert_int_equal(parse_raw(VXN_FRAME_SIGNAL, "\x41\x00\x00\x00", 4, p_signal), VXN_EPROTO);
	put32(p, 1);
	put32(p + 4, 9); /* exit code and signal both set */
	assert_int_equal(parse_raw(VXN_FRAME_EXIT, p, 12, p_exit), VXN_EPROTO);
	put32(p, 256);
	put32(p + 4, 0);
	assert_int_equal(parse_raw(VXN_FRAME_EXIT, p, 12, p_exit), VXN_EPROTO);
	put32(p, 0);
	put32(p + 8, VXN_EXIT_CORE_DUMPED); /* core dump without a signal */
	assert_int_equal(parse_raw(VXN_FRAME_EXIT, p, 12, p_exit), VXN_EPROTO);
	put32(p, 0);
	put32(p + 4, 0x80000000u);
	assert_int_equal(parse_raw(VXN_FRAME_ERROR, p, 8, p_error), VXN_EPROTO);
	put32(p, 3);
	put32(p + 4, 0x80000000u);
	assert_int_equal(parse_raw(VXN_FRAME_ERROR, p, 8, p_error), VXN_EPROTO);
	/* longer than version 1: accepted, the extra bytes ignored */
	memset(p, 0, sizeof(p));
	p[0] = 2;
	assert_int_equal(parse_raw(VXN_FRAME_START, p, 16, p_start), 0);
	put32(p, 0);
	put32(p + 4, 15);
	put32(p + 12, 0xdeadbeef);
	assert_int_equal(parse_raw(VXN_FRAME_EXIT, p, 16, p_exit), 0);
	/* an unknown stage is passed on */
	put32(p, 200);
	put32(p + 4, 0);
	assert_int_equal(parse_raw(VXN_FRAME_ERROR, p, 8, p_error), 0);
	/* NULL frames */
	assert_int_equal(vxn_frame_parse_exit(NULL, NULL, NULL, NULL), VXN_EINVAL);
	assert_int_equal(vxn_frame_get_type(NULL), 0);
	size_t n = 5;
	assert_non_null(vxn_frame_get_payload(NULL, &n));
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------------------ */
/* Streams, foreign bytes and resynchronisation */

static const char *const klog[] = {
	"[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)\r\n",
	"[   12.345678] Out of memory: Killed process 42 (python3) total-vm:123456kB\r\n",
	"[   13.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008\n",
	"\xe2\x94\x80\xe2\x94\x80 UTF-8 box drawing \xc3\xa9\xc3\xa8 \n",
};

static void test_boot_stream_split_at_every_offset(void **state)
{
	struct stream s = { 0 };
	uint8_t data[300];
	fill_random(data, sizeof(data));
	stream_text(&s, klog[0]);
	stream_frame(&s, VXN_FRAME_READY, 0, "\x01\x00\x00\x00kernel=6.1\n", 15);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "hello\n", 6);
	stream_frame(&s, VXN_FRAME_STDERR, 0, data, sizeof(data));
	stream_text(&s, klog[1]);
	stream_frame(&s, VXN_FRAME_STDOUT, 7, "", 0);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, data, 100);
	stream_text(&s, klog[2]);
	stream_frame(&s, VXN_FRAME_EXIT, 0, "\x00\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00", 12);
	stream_text(&s, klog[3]);
	check_stream_all_splits(&s);
	stream_clear(&s);
}

static void test_boot_foreign_bytes_come_back_exactly(void **state)
{
	struct stream s = { 0 };
	uint8_t buf[512], garbage[700];
	fill_random(garbage, sizeof(garbage));

	/* garbage and log before the first frame */
	stream_foreign(&s, garbage, sizeof(garbage));
	stream_text(&s, klog[1]);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "one", 3);

	/* partial markers, straight before a frame and between frames */
	stream_foreign(&s, "\xf9", 1);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "two", 3);
	stream_foreign(&s, "\xf9\x1e", 2);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "three", 5);
	stream_foreign(&s, "\xf9\x1e\x01\x13\x00\x00", 6);
	stream_frame(&s, VXN_FRAME_STDERR, 0, "four", 4);
	stream_foreign(&s, "\xf9\xf9\xf9\x1e\x1e\xf9", 6);
	stream_frame(&s, VXN_FRAME_STDERR, 0, "five", 4);

	/* a fake marker: a real header whose checksum is wrong */
	int n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 99, "fake", 4);
	buf[25] ^= 0x40;
	stream_foreign(&s, buf, (size_t)n);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "six", 3);

	/* a valid header whose payload is damaged */
	n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 98, "damaged payload", 15);
	buf[30] ^= 0x01;
	stream_foreign(&s, buf, (size_t)n);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "seven", 5);

	/* a kernel message written into the middle of a frame: the frame is
	 * lost (its bytes are guest log), the next one is found */
	char text[200];
	memset(text, 'a', sizeof(text));
	n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 97, text, sizeof(text));
	stream_foreign(&s, buf, 28 + 100);
	stream_text(&s, klog[2]);
	stream_foreign(&s, buf + 128, (size_t)n - 128);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "eight", 5);

	/* a frame cut short whose announced length covers the next frames:
	 * they are still found once the cut one is decided */
	n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 96, text, sizeof(text));
	stream_foreign(&s, buf, 28 + 10);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "nine", 4);
	stream_frame(&s, VXN_FRAME_STDERR, 0, "ten", 3);
	stream_text(&s, klog[0]);
	stream_text(&s, klog[0]);
	stream_text(&s, klog[0]);

	/* a frame inside another frame's payload is payload, not a frame */
	n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_EXIT, 0, 95, "\0\0\0\0\0\0\0\0\0\0\0\0",
			     12);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, buf, (size_t)n);

	/* garbage after the last frame, ending in a partial marker */
	stream_foreign(&s, garbage, 64);
	stream_foreign(&s, "\xf9\x1e\x01", 3);
	check_stream_all_splits(&s);

	/* the decoder counted what it rejected */
	vxn_frame_decoder *dec = NULL;
	struct transcript got = { 0 };
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
	assert_int_equal(vxn_frame_decoder_feed(dec, s.bytes, s.size), 0);
	assert_int_equal(vxn_frame_decoder_pending(dec), 3); /* the final partial marker */
	assert_int_equal(vxn_frame_decoder_finish(dec), 0);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES), 11);
	assert_true(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BAD_HEADER) >= 1);
	assert_true(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BAD_PAYLOAD) >= 3);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_TRUNCATED), 1);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FOREIGN_BYTES),
			 s.want.foreign_bytes);
	assert_transcripts_equal(&got, &s.want);
	vxn_frame_decoder_free(dec);
	transcript_clear(&got);
	stream_clear(&s);
}

static void test_boot_truncated_frame_at_eof(void **state)
{
	uint8_t buf[256];
	int n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 0, "truncated payload", 17);
	const size_t cuts[] = { 1, 2, 3, 27, 28, 29, (size_t)n - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct transcript got = { 0 };
		vxn_frame_decoder *dec = NULL;
		assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
		assert_int_equal(vxn_frame_decoder_feed(dec, "log\n", 4), 0);
		assert_int_equal(vxn_frame_decoder_feed(dec, buf, cuts[i]), 0);
		/* nothing decided yet: it may still complete */
		assert_int_equal(vxn_frame_decoder_pending(dec), cuts[i]);
		assert_int_equal(got.foreign_bytes, 4);
		assert_int_equal(vxn_frame_decoder_finish(dec), 0);
		assert_int_equal(vxn_frame_decoder_pending(dec), 0);
		assert_int_equal(got.n, 1);
		assert_int_equal(got.ev[0].kind, EV_FOREIGN);
		assert_int_equal(got.ev[0].size, 4 + cuts[i]);
		assert_memory_equal(got.ev[0].data, "log\n", 4);
		assert_memory_equal(got.ev[0].data + 4, buf, cuts[i]);
		assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_TRUNCATED),
				 cuts[i] >= 2 ? 1 : 0);

		/* after finish the decoder takes a new stream */
		transcript_clear(&got);
		assert_int_equal(vxn_frame_decoder_feed(dec, buf, (size_t)n), 0);
		assert_int_equal(got.n, 1);
		assert_int_equal(got.ev[0].kind, EV_FRAME);
		assert_memory_equal(got.ev[0].data, "truncated payload", 17);
		vxn_frame_decoder_free(dec);
		transcript_clear(&got);
	}
}

static void test_boot_oversized_length_and_bad_version(void **state)
{
	struct stream s = { 0 };
	uint8_t buf[64];
	const uint32_t lengths[] = { VXN_FRAME_MAX_PAYLOAD + 1, 0x7fffffffu, 0xffffffffu };
	for (size_t i = 0; i < 3; i++) {
		vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 0, NULL, 0);
		put32(buf + 16, lengths[i]);
		fix_header_crc(buf);
		stream_foreign(&s, buf, 28);
		stream_frame(&s, VXN_FRAME_STDOUT, 0, "after", 5);
	}
	vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 0, "v2", 2);
	buf[2] = 2;
	fix_header_crc(buf);
	stream_foreign(&s, buf, 30);
	stream_frame(&s, VXN_FRAME_STDOUT, 0, "after v2", 8);
	check_stream_all_splits(&s);

	struct transcript got = { 0 };
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
	assert_int_equal(vxn_frame_decoder_feed(dec, s.bytes, s.size), 0);
	/* decided at once: an oversized header is not waited for */
	assert_int_equal(vxn_frame_decoder_pending(dec), 0);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_OVERSIZED), 3);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BAD_VERSION), 1);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES), 4);
	vxn_frame_decoder_free(dec);
	transcript_clear(&got);
	stream_clear(&s);
}

static void test_boot_every_single_byte_corruption_is_detected(void **state)
{
	uint8_t frame[28 + 40], bad[sizeof(frame)], after[64];
	uint8_t payload[40];
	fill_random(payload, sizeof(payload));
	int n = vxn_frame_encode(frame, sizeof(frame), VXN_FRAME_STDOUT, 1, 2, payload, 40);
	assert_int_equal(n, (int)sizeof(frame));
	int an = vxn_frame_encode(after, sizeof(after), VXN_FRAME_STDERR, 0, 3, "after", 5);

	struct transcript got = { 0 };
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
	unsigned tried = 0;
	for (size_t i = 0; i < sizeof(frame); i++) {
		for (unsigned v = 0; v < 256; v++) {
			if (v == frame[i])
				continue;
			memcpy(bad, frame, sizeof(frame));
			bad[i] = (uint8_t)v;
			assert_int_equal(vxn_frame_decoder_feed(dec, bad, sizeof(bad)), 0);
			assert_int_equal(vxn_frame_decoder_feed(dec, after, (size_t)an), 0);
			assert_int_equal(vxn_frame_decoder_finish(dec), 0);
			/* no false frame: the damaged bytes come back as
			 * foreign, exactly, and the next frame survives */
			assert_int_equal(got.n, 2);
			assert_int_equal(got.ev[0].kind, EV_FOREIGN);
			assert_int_equal(got.ev[0].size, sizeof(bad));
			assert_memory_equal(got.ev[0].data, bad, sizeof(bad));
			assert_int_equal(got.ev[1].kind, EV_FRAME);
			assert_int_equal(got.ev[1].type, VXN_FRAME_STDERR);
			assert_memory_equal(got.ev[1].data, "after", 5);
			transcript_clear(&got);
			tried++;
		}
	}
	assert_int_equal(tried, sizeof(frame) * 255);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES), tried);
	vxn_frame_decoder_free(dec);
}

static void test_boot_random_garbage_is_all_foreign(void **state)
{
	size_t size = 1 << 20;
	uint8_t *g = malloc(size);
	assert_non_null(g);
	fill_random(g, size);
	/* make the marker common, so the header checks run often */
	for (size_t i = 0; i + 1 < size; i += 1 + rnd() % 64) {
		g[i] = VXN_FRAME_MAGIC0;
		g[i + 1] = VXN_FRAME_MAGIC1;
	}
	struct transcript got = { 0 };
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
	double t0 = now_s();
	for (size_t at = 0; at < size;) {
		size_t n = 1 + rnd() % 5000;
		if (n > size - at)
			n = size - at;
		assert_int_equal(vxn_frame_decoder_feed(dec, g + at, n), 0);
		at += n;
	}
	assert_int_equal(vxn_frame_decoder_finish(dec), 0);
	double dt = now_s() - t0;
	assert_int_equal(count_frames(&got), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.ev[0].size, size);
	assert_memory_equal(got.ev[0].data, g, size);
	assert_true(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BAD_HEADER) > 10000);
	assert_true(dt < 5.0);
	vxn_frame_decoder_free(dec);
	transcript_clear(&got);
	free(g);
}

static void test_boot_overlapping_false_frames_decode_in_linear_time(void **state)
{
	/* Hostile input: a valid header every 32 bytes, each announcing the
	 * largest payload with a wrong checksum. Every candidate overlaps
	 * 2048 others; checking each payload directly would hash about 2 GiB.
	 * The decoder's prefix CRCs make each check O(log n). */
	size_t size = 1 << 20, count = size / 32;
	uint8_t *g = calloc(1, size);
	assert_non_null(g);
	for (size_t i = 0; i < count; i++) {
		uint8_t *h = g + 32 * i;
		vxn_frame_encode(h, 32, VXN_FRAME_STDOUT, 0, (uint32_t)i, NULL, 0);
		put32(h + 16, VXN_FRAME_MAX_PAYLOAD);
		put32(h + 20, 0x12345678u);
		fix_header_crc(h);
		memcpy(h + 28, "junk", 4);
	}
	struct transcript got = { 0 };
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, on_frame, on_foreign, &got), 0);
	double t0 = now_s();
	assert_int_equal(vxn_frame_decoder_feed(dec, g, size), 0);
	assert_int_equal(vxn_frame_decoder_finish(dec), 0);
	double dt = now_s() - t0;
	assert_int_equal(count_frames(&got), 0);
	assert_int_equal(got.foreign_bytes, size);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_BAD_PAYLOAD) +
			     vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_TRUNCATED),
			 count);
	assert_true(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_TRUNCATED) > 2000);
	/* ours takes milliseconds even under ASan; hashing every
	 * candidate's payload would take seconds without it */
	assert_true(dt < 1.0);
	vxn_frame_decoder_free(dec);
	transcript_clear(&got);
	free(g);
}

static void test_boot_large_frames_across_compaction(void **state)
{
	/* Many maximal frames and odd foreign runs in uneven chunks: the held
	 * bytes wrap around the decoder's buffer many times. */
	struct stream s = { 0 };
	uint8_t *payload = malloc(VXN_FRAME_MAX_PAYLOAD);
	assert_non_null(payload);
	for (int i = 0; i < 24; i++) {
		fill_random(payload, VXN_FRAME_MAX_PAYLOAD);
		size_t n = i % 3 == 0 ? VXN_FRAME_MAX_PAYLOAD : 1 + rnd() % VXN_FRAME_MAX_PAYLOAD;
		stream_frame(&s, VXN_FRAME_STDOUT, (uint32_t)i, payload, n);
		stream_text(&s, klog[i % 4]);
	}
	struct transcript got = { 0 };
	size_t cuts[4096], nc = 0;
	for (size_t at = 0; nc < 4096;) {
		at += 1 + rnd() % 40000;
		if (at >= s.size)
			break;
		cuts[nc++] = at;
	}
	decode_cuts(&got, s.bytes, s.size, cuts, nc);
	assert_transcripts_equal(&got, &s.want);
	transcript_clear(&got);
	decode_whole(&got, s.bytes, s.size);
	assert_transcripts_equal(&got, &s.want);
	transcript_clear(&got);
	free(payload);
	stream_clear(&s);
}

struct reenter {
	vxn_frame_decoder *dec;
	int feed, finish;
};

static void on_frame_reenter(void *userdata, const vxn_frame *f)
{
	struct reenter *r = userdata;
	r->feed = vxn_frame_decoder_feed(r->dec, "x", 1);
	r->finish = vxn_frame_decoder_finish(r->dec);
}

static void test_boot_decoder_refuses_reentry_and_bad_arguments(void **state)
{
	struct reenter r = { 0 };
	assert_int_equal(vxn_frame_decoder_new(&r.dec, on_frame_reenter, NULL, &r), 0);
	uint8_t buf[64];
	int n = vxn_frame_encode(buf, sizeof(buf), VXN_FRAME_STDOUT, 0, 0, "a", 1);
	assert_int_equal(vxn_frame_decoder_feed(r.dec, buf, (size_t)n), 0);
	assert_int_equal(r.feed, VXN_ESTATE);
	assert_int_equal(r.finish, VXN_ESTATE);
	assert_int_equal(vxn_frame_decoder_feed(r.dec, NULL, 1), VXN_EINVAL);
	assert_int_equal(vxn_frame_decoder_feed(r.dec, NULL, 0), 0);
	assert_int_equal(vxn_frame_decoder_stat(r.dec, (vxn_frame_stat)99), 0);
	vxn_frame_decoder_free(r.dec);

	/* NULL callbacks drop what they would receive */
	vxn_frame_decoder *dec = NULL;
	assert_int_equal(vxn_frame_decoder_new(&dec, NULL, NULL, NULL), 0);
	assert_int_equal(vxn_frame_decoder_feed(dec, "log", 3), 0);
	assert_int_equal(vxn_frame_decoder_feed(dec, buf, (size_t)n), 0);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FRAMES), 1);
	assert_int_equal(vxn_frame_decoder_stat(dec, VXN_FRAME_STAT_FOREIGN_BYTES), 3);
	vxn_frame_decoder_free(dec);
	vxn_frame_decoder_free(NULL);
	assert_int_equal(vxn_frame_decoder_new(NULL, NULL, NULL, NULL), VXN_EINVAL);
	assert_int_equal(vxn_frame_decoder_feed(NULL, "x", 1), VXN_EINVAL);
	assert_int_equal(vxn_frame_decoder_finish(NULL), VXN_EINVAL);
	assert_int_equal(vxn_frame_decoder_pending(NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* cpio */

struct centry {
	char name[CPIO_NAME_MAX + 1];
	uint32_t ino, mode, uid, gid, nlink, mtime, size, rmaj, rmin;
	const uint8_t *data;
};

static uint32_t hexfield(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		int c = p[i];
		assert_true((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
		v = v * 16 + (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

/* A strict newc reader: every header 4-aligned, padding zero, trailer last
 * and nothing after it. Returns the number of entries before the trailer. */
static size_t read_newc(const uint8_t *a, size_t size, struct centry *out, size_t max)
{
	size_t off = 0, n = 0;
	for (;;) {
		assert_true(off % 4 == 0);
		assert_true(off + 110 <= size);
		assert_memory_equal(a + off, "070701", 6);
		uint32_t f[13];
		for (int i = 0; i < 13; i++)
			f[i] = hexfield(a + off + 6 + 8 * i);
		assert_int_equal(f[7], 0);  /* devmajor */
		assert_int_equal(f[8], 0);  /* devminor */
		assert_int_equal(f[12], 0); /* check */
		uint32_t namesize = f[11];
		assert_true(namesize >= 2 && namesize <= CPIO_NAME_MAX + 1);
		assert_true(off + 110 + namesize <= size);
		const char *name = (const char *)a + off + 110;
		assert_int_equal(name[namesize - 1], '\0');
		assert_int_equal(strlen(name), namesize - 1);
		size_t p = off + 110 + namesize;
		for (; p % 4; p++)
			assert_int_equal(a[p], 0);
		size_t end = p + f[6];
		assert_true(end <= size);
		if (strcmp(name, "TRAILER!!!") == 0) {
			assert_int_equal(f[6], 0);
			assert_int_equal(p, size); /* nothing after it */
			return n;
		}
		assert_true(n < max);
		struct centry *e = &out[n++];
		strcpy(e->name, name);
		e->ino = f[0];
		e->mode = f[1];
		e->uid = f[2];
		e->gid = f[3];
		e->nlink = f[4];
		e->mtime = f[5];
		e->size = f[6];
		e->rmaj = f[9];
		e->rmin = f[10];
		e->data = a + p;
		for (p = end; p % 4; p++)
			assert_int_equal(a[p], 0);
		off = p;
	}
}

static const char launch_json[] = "{\"version\":1,\"process\":{\"args\":[\"/bin/sh\"]}}\n";

static void build_launch_archive(cpio_writer *w)
{
	assert_int_equal(cpio_writer_add_dir(w, "/vxn", 0700), 0);
	assert_int_equal(
	    cpio_writer_add_file(w, "/vxn/launch.json", 0600, launch_json, strlen(launch_json)), 0);
	assert_int_equal(cpio_writer_add_dir(w, "vxn/rootfs/", 0755), 0);
	/* sizes 0..5 with names of varying length exercise both paddings */
	static const char *const names[] = { "vxn/rootfs/a",	 "vxn/rootfs/bb",
					     "vxn/rootfs/ccc",	 "vxn/rootfs/dddd",
					     "vxn/rootfs/eeeee", "vxn/rootfs/f" };
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(cpio_writer_add_file(w, names[i], 0644, "012345", i), 0);
	assert_int_equal(cpio_writer_add_symlink(w, "vxn/rootfs/link", "dddd"), 0);
	/* streamed data in pieces */
	struct cpio_entry e = { .path = "vxn/rootfs/streamed",
				.mode = S_IFREG | 0640,
				.uid = 1000,
				.gid = 100,
				.mtime = 1700000000,
				.size = 10 };
	assert_int_equal(cpio_writer_add(w, &e), 0);
	assert_int_equal(cpio_writer_data_write(w, "0123", 4), 0);
	assert_int_equal(cpio_writer_data_write(w, "456789", 6), 0);
	struct cpio_entry dev = {
		.path = "vxn/rootfs/null", .mode = S_IFCHR | 0666, .rdev_major = 1, .rdev_minor = 3
	};
	assert_int_equal(cpio_writer_add(w, &dev), 0);
	assert_int_equal(cpio_writer_finish(w), 0);
}

static void test_boot_cpio_layout_reads_back(void **state)
{
	cpio_writer *w = NULL;
	assert_int_equal(cpio_writer_new(&w), 0);
	build_launch_archive(w);
	size_t size;
	const uint8_t *a = cpio_writer_data(w, &size);
	assert_non_null(a);
	assert_int_equal(size % 4, 0);
	struct centry e[16];
	size_t n = read_newc(a, size, e, 16);
	assert_int_equal(n, 12);
	assert_string_equal(e[0].name, "vxn");
	assert_int_equal(e[0].mode, S_IFDIR | 0700);
	assert_int_equal(e[0].nlink, 2);
	assert_int_equal(e[0].size, 0);
	assert_string_equal(e[1].name, "vxn/launch.json");
	assert_int_equal(e[1].mode, S_IFREG | 0600);
	assert_int_equal(e[1].uid, 0);
	assert_int_equal(e[1].nlink, 1);
	assert_int_equal(e[1].size, strlen(launch_json));
	assert_memory_equal(e[1].data, launch_json, strlen(launch_json));
	assert_string_equal(e[2].name, "vxn/rootfs");
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(e[3 + i].size, i);
		assert_memory_equal(e[3 + i].data, "012345", i);
	}
	assert_string_equal(e[9].name, "vxn/rootfs/link");
	assert_int_equal(e[9].mode, S_IFLNK | 0777);
	assert_int_equal(e[9].size, 4);
	assert_memory_equal(e[9].data, "dddd", 4);
	assert_int_equal(e[10].uid, 1000);
	assert_int_equal(e[10].gid, 100);
	assert_int_equal(e[10].mtime, 1700000000);
	assert_memory_equal(e[10].data, "0123456789", 10);
	assert_int_equal(e[11].mode, S_IFCHR | 0666);
	assert_int_equal(e[11].rmaj, 1);
	assert_int_equal(e[11].rmin, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e[i].ino, i + 1);

	void *data = NULL;
	size_t dsize = 0;
	assert_int_equal(cpio_writer_steal(w, &data, &dsize), 0);
	assert_int_equal(dsize, size);
	cpio_writer_free(w);
	free(data);
}

static char tmpdir[] = "/tmp/vxn-test-boot-XXXXXX";

static char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	*size = fread(buf, 1, (1 << 16) - 1, f);
	buf[*size] = '\0';
	fclose(f);
	return buf;
}

static void test_boot_cpio_system_cpio_agrees(void **state)
{
	if (system("cpio --version >/dev/null 2>&1") != 0) {
		skip(); /* the install-deps script provides it; never on CI */
		return;
	}
	cpio_writer *w = NULL;
	assert_int_equal(cpio_writer_new(&w), 0);
	build_launch_archive(w);
	size_t size;
	const void *a = cpio_writer_data(w, &size);
	char path[512], cmd[2048];
	snprintf(path, sizeof(path), "%s/launch.cpio", tmpdir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(a, 1, size, f), size);
	fclose(f);
	cpio_writer_free(w);

	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s > %s/list", path, tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/list", tmpdir);
	size_t n;
	char *list = slurp(path, &n);
	assert_string_equal(list,
			    "vxn\nvxn/launch.json\nvxn/rootfs\nvxn/rootfs/a\nvxn/rootfs/bb\n"
			    "vxn/rootfs/ccc\nvxn/rootfs/dddd\nvxn/rootfs/eeeee\nvxn/rootfs/f\n"
			    "vxn/rootfs/link\nvxn/rootfs/streamed\nvxn/rootfs/null\n");
	free(list);

	/* extract (no device node: that needs privileges a test may lack) */
	snprintf(cmd, sizeof(cmd),
		 "mkdir %s/out && cd %s/out && cpio -idm --quiet --no-absolute-filenames "
		 "--nonmatching 'vxn/rootfs/null' < %s/launch.cpio",
		 tmpdir, tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/out/vxn/launch.json", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	char *json = slurp(path, &n);
	assert_string_equal(json, launch_json);
	free(json);
	snprintf(path, sizeof(path), "%s/out/vxn", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/out/vxn/rootfs/eeeee", tmpdir);
	char *e5 = slurp(path, &n);
	assert_int_equal(n, 4);
	assert_string_equal(e5, "0123");
	free(e5);
	snprintf(path, sizeof(path), "%s/out/vxn/rootfs/a", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	snprintf(path, sizeof(path), "%s/out/vxn/rootfs/link", tmpdir);
	char target[64];
	ssize_t tl = readlink(path, target, sizeof(target));
	assert_int_equal(tl, 4);
	assert_memory_equal(target, "dddd", 4);
	snprintf(path, sizeof(path), "%s/out/vxn/rootfs/streamed", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_mtime, 1700000000);
	if (geteuid() == 0) {
		assert_int_equal(st.st_uid, 1000);
		assert_int_equal(st.st_gid, 100);
	}
	char *s = slurp(path, &n);
	assert_string_equal(s, "0123456789");
	free(s);
}

static void test_boot_cpio_rejects_bad_entries(void **state)
{
	cpio_writer *w = NULL;
	assert_int_equal(cpio_writer_new(&w), 0);
	static const char *const bad[] = { "",	    "/",    "//",   "a//b", "./a",
					   "a/./b", "a/..", "../a", NULL };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cpio_writer_add_dir(w, bad[i], 0755), -EINVAL);
	char *lng = malloc(CPIO_NAME_MAX + 2);
	assert_non_null(lng);
	memset(lng, 'n', CPIO_NAME_MAX + 1);
	lng[CPIO_NAME_MAX + 1] = '\0';
	assert_int_equal(cpio_writer_add_dir(w, lng, 0755), -ENAMETOOLONG);
	lng[CPIO_NAME_MAX] = '\0';
	assert_int_equal(cpio_writer_add_dir(w, lng, 0755), 0);
	free(lng);
	assert_int_equal(cpio_writer_add_dir(w, "d", 010000), -EINVAL);
	struct cpio_entry e = { .path = "x", .mode = 0644 }; /* no file type */
	assert_int_equal(cpio_writer_add(w, &e), -EINVAL);
	e.mode = S_IFDIR | 0755;
	e.size = 1;
	assert_int_equal(cpio_writer_add(w, &e), -EINVAL);
	e.mode = S_IFLNK | 0777;
	e.size = 0;
	assert_int_equal(cpio_writer_add(w, &e), -EINVAL);
	e.mode = S_IFREG | 0644;
	e.size = UINT64_C(1) << 32;
	assert_int_equal(cpio_writer_add(w, &e), -EFBIG);
	/* data must match the announced size */
	e.size = 3;
	assert_int_equal(cpio_writer_add(w, &e), 0);
	assert_int_equal(cpio_writer_data_write(w, "abcd", 4), -EINVAL);
	assert_int_equal(cpio_writer_data_write(w, "ab", 2), 0);
	assert_int_equal(cpio_writer_add_dir(w, "y", 0755), -EINVAL);
	assert_int_equal(cpio_writer_finish(w), -EINVAL);
	void *data;
	size_t size;
	assert_int_equal(cpio_writer_steal(w, &data, &size), -EINVAL);
	assert_int_equal(cpio_writer_data_write(w, "c", 1), 0);
	assert_int_equal(cpio_writer_finish(w), 0);
	assert_int_equal(cpio_writer_finish(w), -EINVAL);
	assert_int_equal(cpio_writer_add_dir(w, "z", 0755), -EINVAL);
	/* what was refused left no trace */
	const uint8_t *a = cpio_writer_data(w, &size);
	static struct centry ents[4];
	assert_int_equal(read_newc(a, size, ents, 4), 2);
	assert_string_equal(ents[1].name, "x");
	assert_memory_equal(ents[1].data, "abc", 3);
	cpio_writer_free(w);
	cpio_writer_free(NULL);
}

struct sink {
	uint8_t buf[4096];
	size_t size, limit;
	int calls;
};

static int sink_write(void *userdata, const void *data, size_t size)
{
	struct sink *s = userdata;
	s->calls++;
	if (s->size + size > s->limit)
		return -ENOSPC;
	memcpy(s->buf + s->size, data, size);
	s->size += size;
	return 0;
}

static void test_boot_cpio_stream_writer_and_sticky_error(void **state)
{
	/* a stream writer produces the same bytes as a memory writer */
	struct sink s = { .limit = sizeof(s.buf) };
	cpio_writer *w = NULL, *m = NULL;
	assert_int_equal(cpio_writer_new_stream(&w, sink_write, &s), 0);
	assert_int_equal(cpio_writer_new(&m), 0);
	build_launch_archive(w);
	build_launch_archive(m);
	size_t size;
	const void *a = cpio_writer_data(m, &size);
	assert_int_equal(s.size, size);
	assert_memory_equal(s.buf, a, size);
	assert_null(cpio_writer_data(w, &size));
	assert_int_equal(size, 0);
	cpio_writer_free(w);
	cpio_writer_free(m);

	/* a failing callback stops the writer for good */
	struct sink f = { .limit = 200 };
	assert_int_equal(cpio_writer_new_stream(&w, sink_write, &f), 0);
	assert_int_equal(cpio_writer_add_dir(w, "vxn", 0700), 0);
	assert_int_equal(
	    cpio_writer_add_file(w, "vxn/launch.json", 0600, launch_json, strlen(launch_json)),
	    -ENOSPC);
	int calls = f.calls;
	assert_int_equal(cpio_writer_add_dir(w, "more", 0700), -ENOSPC);
	assert_int_equal(cpio_writer_finish(w), -ENOSPC);
	assert_int_equal(f.calls, calls); /* nothing more was attempted */
	cpio_writer_free(w);
	assert_int_equal(cpio_writer_new_stream(&w, NULL, NULL), -EINVAL);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_crc32c_vectors),
		cmocka_unit_test(test_boot_encode_layout_matches_spec),
		cmocka_unit_test(test_boot_encode_rejects_bad_arguments),
		cmocka_unit_test(test_boot_roundtrip_every_type),
		cmocka_unit_test(test_boot_parse_rejects_malformed_payloads),
		cmocka_unit_test(test_boot_stream_split_at_every_offset),
		cmocka_unit_test(test_boot_foreign_bytes_come_back_exactly),
		cmocka_unit_test(test_boot_truncated_frame_at_eof),
		cmocka_unit_test(test_boot_oversized_length_and_bad_version),
		cmocka_unit_test(test_boot_every_single_byte_corruption_is_detected),
		cmocka_unit_test(test_boot_random_garbage_is_all_foreign),
		cmocka_unit_test(test_boot_overlapping_false_frames_decode_in_linear_time),
		cmocka_unit_test(test_boot_large_frames_across_compaction),
		cmocka_unit_test(test_boot_decoder_refuses_reentry_and_bad_arguments),
		cmocka_unit_test(test_boot_cpio_layout_reads_back),
		cmocka_unit_test(test_boot_cpio_system_cpio_agrees),
		cmocka_unit_test(test_boot_cpio_rejects_bad_entries),
		cmocka_unit_test(test_boot_cpio_stream_writer_and_sticky_error),
	};
	int r = cmocka_run_group_tests_name("boot", tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		r = r ? r : 1;
	return r;
}
