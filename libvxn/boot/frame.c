/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The channel's frames: CRC32C, the encoder, the resynchronising decoder and
 * the typed payload layouts (doc/guest-protocol.md is the specification).
 *
 * Pure and self-contained: libc and <vxn/boot.h> only, no global state,
 * because vxn-init compiles this file into a static PID 1 without the rest
 * of libvxn.
 */
#include <stdlib.h>
#include <string.h>

#include <vxn/boot.h>

#define CRC32C_POLY UINT32_C(0x82F63B78)

/* Byte-at-a-time table for the reflected polynomial: entry i is the register
 * after shifting i through eight rounds (generated, and checked by the unit
 * test's bitwise reference). */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8,
	0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3,
	0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070,
	0x25afd373, 0x36ff2087, 0xc494a384, 0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54,
	0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29,
	0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa, 0x30e349b1,
	0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
	0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696,
	0x6ef07595, 0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0,
	0x67dafa54, 0x95b17957, 0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c,
	0xfe53516f, 0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f, 0x3ac7f2eb,
	0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7, 0x61c69362, 0x93ad1061,
	0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789, 0xeb1fcbad,
	0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
	0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5,
	0xa55230e6, 0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67,
	0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043,
	0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c, 0x92a8fc17, 0x60c37f14, 0x73938ce0,
	0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db,
	0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6,
	0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81,
	0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5,
	0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19,
	0x0d3d3e1a, 0x1e6dcdee, 0xec064eed, 0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530,
	0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc,
	0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540, 0x590ab964,
	0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
	0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2,
	0x37faccf1, 0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9,
	0x4f48173d, 0xbd23943e, 0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a,
	0xc69f7b69, 0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};
static const uint32_t crc32c_zeros[32] = {
	0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18, 0x510ac59a, 0xb82be955,
	0xb8fdb1e7, 0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a, 0x35d73a62, 0x28461564,
	0xbf455269, 0xe2ea32dc, 0xfe7740e6, 0xf946610b, 0x3c204f8f, 0x538586e3, 0x59726915,
	0x734d5309, 0xbc1ac763, 0x7d0722cc, 0xd289cabe, 0xe94ca9bc, 0x05b74f3f, 0xa51e1f42,
	0x40000000, 0x20000000, 0x08000000, 0x00800000,
};

/* ------------------------------------------------------------------------ */
/* CRC32C */

static inline uint32_t crc_step(uint32_t r, uint8_t b)
{
	return crc32c_table[(r ^ b) & 0xff] ^ (r >> 8);
}

/* The raw register (no pre/post inversion) after @size more bytes. */
static uint32_t crc_raw(uint32_t r, const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		r = crc_step(r, p[i]);
	return r;
}

uint32_t vxn_crc32c(uint32_t crc, const void *data, size_t size)
{
	if (!data)
		return crc;
	return ~crc_raw(~crc, data, size);
}

/*
 * Polynomials mod P in the reflected representation: bit 31 is x^0, bit 0 is
 * x^31. Multiplying by x is a right shift, folding x^32 back with P.
 */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
	uint32_t p = 0;
	for (uint32_t m = UINT32_C(1) << 31; m; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

/*
 * The register after feeding @n zero bytes to register @r, in O(log n):
 * r * x^(8n) mod P. The register is linear in its start value and the data,
 * so with pre[i] the register before byte i of the stream, the CRC of bytes
 * [a, b) is ~(pre[b] ^ crc_zeros(pre[a] ^ ~0, b - a)). That lets the decoder
 * check any candidate frame in constant time however many overlap.
 */
static uint32_t crc_zeros(uint32_t r, uint32_t n)
{
	for (unsigned k = 0; n; k++, n >>= 1)
		if (n & 1)
			r = gf_mul(crc32c_zeros[k], r);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Little-endian fields */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Header field offsets (doc/guest-protocol.md, "Frame header"). */
enum {
	OFF_MAGIC0 = 0,
	OFF_MAGIC1 = 1,
	OFF_VERSION = 2,
	OFF_TYPE = 3,
	OFF_FLAGS = 4,
	OFF_STREAM = 8,
	OFF_SEQ = 12,
	OFF_LENGTH = 16,
	OFF_PAYLOAD_CRC = 20,
	OFF_HEADER_CRC = 24,
};

/* ------------------------------------------------------------------------ */
/* Encoding */

int vxn_frame_encode(void *buf, size_t size, unsigned type, uint32_t stream, uint32_t seq,
		     const void *payload, size_t payload_size)
{
	if (!buf || type == 0 || type > 0xff || payload_size > VXN_FRAME_MAX_PAYLOAD ||
	    (!payload && payload_size) || size < VXN_FRAME_SIZE(payload_size))
		return VXN_EINVAL;
	uint8_t *p = buf;
	if (payload_size)
		memmove(p + VXN_FRAME_HEADER_SIZE, payload, payload_size);
	p[OFF_MAGIC0] = VXN_FRAME_MAGIC0;
	p[OFF_MAGIC1] = VXN_FRAME_MAGIC1;
	p[OFF_VERSION] = VXN_FRAME_VERSION;
	p[OFF_TYPE] = (uint8_t)type;
	put32(p + OFF_FLAGS, 0);
	put32(p + OFF_STREAM, stream);
	put32(p + OFF_SEQ, seq);
	put32(p + OFF_LENGTH, (uint32_t)payload_size);
	put32(p + OFF_PAYLOAD_CRC, vxn_crc32c(0, p + VXN_FRAME_HEADER_SIZE, payload_size));
	put32(p + OFF_HEADER_CRC, vxn_crc32c(0, p, OFF_HEADER_CRC));
	return (int)VXN_FRAME_SIZE(payload_size);
}

const char *vxn_frame_type_name(unsigned type)
{
	switch (type) {
	case VXN_FRAME_READY:
		return "READY";
	case VXN_FRAME_START:
		return "START";
	case VXN_FRAME_LOG:
		return "LOG";
	case VXN_FRAME_STDIN:
		return "STDIN";
	case VXN_FRAME_STDIN_EOF:
		return "STDIN_EOF";
	case VXN_FRAME_STDIN_CREDIT:
		return "STDIN_CREDIT";
	case VXN_FRAME_STDOUT:
		return "STDOUT";
	case VXN_FRAME_STDERR:
		return "STDERR";
	case VXN_FRAME_RESIZE:
		return "RESIZE";
	case VXN_FRAME_SIGNAL:
		return "SIGNAL";
	case VXN_FRAME_EXIT:
		return "EXIT";
	case VXN_FRAME_ERROR:
		return "ERROR";
	case VXN_FRAME_EXIT_ACK:
		return "EXIT_ACK";
	case VXN_FRAME_EXEC_START:
		return "EXEC_START";
	default:
		return "UNKNOWN";
	}
}

/* ------------------------------------------------------------------------ */
/* Frames */

struct vxn_frame {
	unsigned type;
	uint32_t flags;
	uint32_t stream;
	uint32_t seq;
	const uint8_t *payload;
	size_t size;
};

unsigned vxn_frame_get_type(const vxn_frame *frame)
{
	return frame ? frame->type : 0;
}

uint32_t vxn_frame_get_stream(const vxn_frame *frame)
{
	return frame ? frame->stream : 0;
}

uint32_t vxn_frame_get_seq(const vxn_frame *frame)
{
	return frame ? frame->seq : 0;
}

uint32_t vxn_frame_get_flags(const vxn_frame *frame)
{
	return frame ? frame->flags : 0;
}

const void *vxn_frame_get_payload(const vxn_frame *frame, size_t *size)
{
	static const uint8_t empty[1];
	if (size)
		*size = frame ? frame->size : 0;
	return frame ? frame->payload : empty;
}

/* ------------------------------------------------------------------------ */
/* Decoding */

/*
 * The held bytes live in buf[start, end). After every feed step fewer than
 * VXN_FRAME_MAX_SIZE bytes are held (only a frame that may still complete),
 * so with twice that capacity a compaction (moving the held bytes to the
 * front) happens at most once per VXN_FRAME_MAX_SIZE bytes of input and
 * costs at most as much: constant work per byte.
 */
#define DEC_CAPACITY (2 * VXN_FRAME_MAX_SIZE)
#define STAT_COUNT   8

struct vxn_frame_decoder {
	vxn_frame_fn on_frame;
	vxn_frame_foreign_fn on_foreign;
	void *userdata;
	uint8_t *buf;
	/* pre[i]: the raw CRC register before buf[i], from an arbitrary origin
	 * (only differences matter, so it survives compaction unchanged). */
	uint32_t *pre;
	size_t start, end;
	/* buf[fstart, start) are foreign bytes decided but not yet delivered:
	 * delivering them in one run before the next frame or before returning
	 * keeps callbacks few. */
	size_t fstart;
	/* The header at start has been validated; need = its frame's size. */
	bool header_ok;
	size_t need;
	bool busy;
	uint64_t stats[STAT_COUNT];
};

int vxn_frame_decoder_new(vxn_frame_decoder **out, vxn_frame_fn on_frame,
			  vxn_frame_foreign_fn on_foreign, void *userdata)
{
	if (!out)
		return VXN_EINVAL;
	vxn_frame_decoder *dec = calloc(1, sizeof(*dec));
	if (!dec)
		return VXN_ENOMEM;
	dec->buf = malloc(DEC_CAPACITY);
	dec->pre = malloc((DEC_CAPACITY + 1) * sizeof(uint32_t));
	if (!dec->buf || !dec->pre) {
		vxn_frame_decoder_free(dec);
		return VXN_ENOMEM;
	}
	dec->on_frame = on_frame;
	dec->on_foreign = on_foreign;
	dec->userdata = userdata;
	dec->pre[0] = 0;
	*out = dec;
	return 0;
}

void vxn_frame_decoder_free(vxn_frame_decoder *dec)
{
	if (!dec)
		return;
	free(dec->buf);
	free(dec->pre);
	free(dec);
}

size_t vxn_frame_decoder_pending(const vxn_frame_decoder *dec)
{
	return dec ? dec->end - dec->start : 0;
}

uint64_t vxn_frame_decoder_stat(const vxn_frame_decoder *dec, vxn_frame_stat which)
{
	if (!dec || (unsigned)which >= STAT_COUNT)
		return 0;
	return dec->stats[which];
}

static void flush_foreign(vxn_frame_decoder *dec)
{
	size_t n = dec->start - dec->fstart;
	if (n == 0)
		return;
	dec->stats[VXN_FRAME_STAT_FOREIGN_BYTES] += n;
	if (dec->on_foreign)
		dec->on_foreign(dec->userdata, dec->buf + dec->fstart, n);
	dec->fstart = dec->start;
}

/* The @n bytes at start are foreign. */
static void skip(vxn_frame_decoder *dec, size_t n)
{
	dec->start += n;
	dec->header_ok = false;
}

/* The candidate at start failed: its first byte is foreign, and the search
 * resumes one byte later. */
static void reject(vxn_frame_decoder *dec, vxn_frame_stat why)
{
	if ((unsigned)why < STAT_COUNT)
		dec->stats[why]++;
	skip(dec, 1);
}

/* The CRC of buf[a, b) from the prefix registers, in O(log(b - a)). */
static uint32_t held_crc(const vxn_frame_decoder *dec, size_t a, size_t b)
{
	return ~(dec->pre[b] ^ crc_zeros(dec->pre[a] ^ UINT32_MAX, (uint32_t)(b - a)));
}

#define NO_STAT ((vxn_frame_stat)-1)

/*
 * Decide as much of the held bytes as possible. Every iteration either
 * delivers, marks bytes foreign (start advances) or returns, so it ends;
 * each byte is examined a bounded number of times. At end of stream
 * (@eof) nothing can complete any more, so every candidate is decided.
 */
static void process(vxn_frame_decoder *dec, bool eof)
{
	while (dec->start < dec->end) {
		const uint8_t *p = dec->buf + dec->start;
		size_t avail = dec->end - dec->start;

		if (p[0] != VXN_FRAME_MAGIC0) {
			const uint8_t *m = memchr(p, VXN_FRAME_MAGIC0, avail);
			skip(dec, m ? (size_t)(m - p) : avail);
			continue;
		}
		if (!dec->header_ok) {
			if (avail < 2) {
				if (!eof)
					break;
				reject(dec, NO_STAT);
				continue;
			}
			if (p[OFF_MAGIC1] != VXN_FRAME_MAGIC1) {
				reject(dec, NO_STAT);
				continue;
			}
			if (avail < VXN_FRAME_HEADER_SIZE) {
				if (!eof)
					break;
				reject(dec, VXN_FRAME_STAT_TRUNCATED);
				continue;
			}
			if (vxn_crc32c(0, p, OFF_HEADER_CRC) != get32(p + OFF_HEADER_CRC)) {
				reject(dec, VXN_FRAME_STAT_BAD_HEADER);
				continue;
			}
			if (p[OFF_VERSION] != VXN_FRAME_VERSION) {
				reject(dec, VXN_FRAME_STAT_BAD_VERSION);
				continue;
			}
			uint32_t len = get32(p + OFF_LENGTH);
			if (len > VXN_FRAME_MAX_PAYLOAD) {
				reject(dec, VXN_FRAME_STAT_OVERSIZED);
				continue;
			}
			dec->header_ok = true;
			dec->need = VXN_FRAME_SIZE(len);
		}
		if (avail < dec->need) {
			if (!eof)
				break;
			reject(dec, VXN_FRAME_STAT_TRUNCATED);
			continue;
		}
		size_t a = dec->start + VXN_FRAME_HEADER_SIZE, b = dec->start + dec->need;
		if (held_crc(dec, a, b) != get32(p + OFF_PAYLOAD_CRC)) {
			reject(dec, VXN_FRAME_STAT_BAD_PAYLOAD);
			continue;
		}

		flush_foreign(dec);
		struct vxn_frame f = {
			.type = p[OFF_TYPE],
			.flags = get32(p + OFF_FLAGS),
			.stream = get32(p + OFF_STREAM),
			.seq = get32(p + OFF_SEQ),
			.payload = p + VXN_FRAME_HEADER_SIZE,
			.size = b - a,
		};
		dec->stats[VXN_FRAME_STAT_FRAMES]++;
		if (dec->on_frame)
			dec->on_frame(dec->userdata, &f);
		skip(dec, dec->need);
		dec->fstart = dec->start;
	}
	flush_foreign(dec);
	if (dec->start == dec->end) {
		/* Empty: restart at the front for free. */
		dec->pre[0] = dec->pre[dec->end];
		dec->start = dec->end = dec->fstart = 0;
	}
}

static void compact(vxn_frame_decoder *dec)
{
	size_t n = dec->end - dec->start;
	memmove(dec->buf, dec->buf + dec->start, n);
	memmove(dec->pre, dec->pre + dec->start, (n + 1) * sizeof(uint32_t));
	dec->start = dec->fstart = 0;
	dec->end = n;
}

int vxn_frame_decoder_feed(vxn_frame_decoder *dec, const void *data, size_t size)
{
	if (!dec || (!data && size))
		return VXN_EINVAL;
	if (dec->busy)
		return VXN_ESTATE;
	dec->busy = true;
	const uint8_t *in = data;
	while (size > 0) {
		if (dec->end == DEC_CAPACITY)
			compact(dec);
		size_t n = DEC_CAPACITY - dec->end;
		if (n > size)
			n = size;
		uint8_t *dst = dec->buf + dec->end;
		uint32_t *pre = dec->pre + dec->end;
		memcpy(dst, in, n);
		uint32_t r = pre[0];
		for (size_t i = 0; i < n; i++) {
			r = crc_step(r, dst[i]);
			pre[i + 1] = r;
		}
		dec->end += n;
		dec->stats[VXN_FRAME_STAT_BYTES] += n;
		in += n;
		size -= n;
		process(dec, false);
	}
	dec->busy = false;
	return 0;
}

int vxn_frame_decoder_finish(vxn_frame_decoder *dec)
{
	if (!dec)
		return VXN_EINVAL;
	if (dec->busy)
		return VXN_ESTATE;
	dec->busy = true;
	process(dec, true);
	dec->header_ok = false;
	dec->busy = false;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Typed payloads */

/* A fixed-size payload. */
static int encode_fixed(void *buf, size_t size, unsigned type, uint32_t stream, uint32_t seq,
			const uint8_t *payload, size_t payload_size)
{
	return vxn_frame_encode(buf, size, type, stream, seq, payload, payload_size);
}

/* A fixed part followed by text running to the end of the payload; the text
 * is cut to what fits in a frame. Built in place in @buf. */
static int encode_text(void *buf, size_t size, unsigned type, uint32_t stream, uint32_t seq,
		       const uint8_t *fixed, size_t fixed_size, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	if (len > VXN_FRAME_MAX_PAYLOAD - fixed_size)
		len = VXN_FRAME_MAX_PAYLOAD - fixed_size;
	if (!buf || size < VXN_FRAME_SIZE(fixed_size + len))
		return VXN_EINVAL;
	uint8_t *p = (uint8_t *)buf + VXN_FRAME_HEADER_SIZE;
	memcpy(p, fixed, fixed_size);
	if (len)
		memcpy(p + fixed_size, text, len);
	return vxn_frame_encode(buf, size, type, stream, seq, p, fixed_size + len);
}

/* The payload of @frame if it has @type and at least @min bytes. */
static int payload_of(const vxn_frame *frame, unsigned type, size_t min, const uint8_t **p)
{
	if (!frame || frame->type != type)
		return VXN_EINVAL;
	if (frame->size < min)
		return VXN_EPROTO;
	*p = frame->payload;
	return 0;
}

int vxn_frame_encode_ready(void *buf, size_t size, uint32_t seq, uint16_t version, const char *info)
{
	uint8_t fixed[4];
	if (version == 0)
		return VXN_EINVAL;
	put16(fixed, version);
	put16(fixed + 2, 0);
	return encode_text(buf, size, VXN_FRAME_READY, VXN_STREAM_MAIN, seq, fixed, sizeof(fixed),
			   info);
}

int vxn_frame_parse_ready(const vxn_frame *frame, uint16_t *version, const char **info,
			  size_t *info_size)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_READY, 4, &p);
	if (r < 0)
		return r;
	uint16_t v = get16(p);
	if (v == 0)
		return VXN_EPROTO;
	if (version)
		*version = v;
	if (info)
		*info = (const char *)p + 4;
	if (info_size)
		*info_size = frame->size - 4;
	return 0;
}

int vxn_frame_encode_start(void *buf, size_t size, uint32_t seq, uint16_t version)
{
	uint8_t p[4];
	if (version == 0)
		return VXN_EINVAL;
	put16(p, version);
	put16(p + 2, 0);
	return encode_fixed(buf, size, VXN_FRAME_START, VXN_STREAM_MAIN, seq, p, sizeof(p));
}

int vxn_frame_parse_start(const vxn_frame *frame, uint16_t *version)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_START, 4, &p);
	if (r < 0)
		return r;
	uint16_t v = get16(p);
	if (v == 0)
		return VXN_EPROTO;
	if (version)
		*version = v;
	return 0;
}

int vxn_frame_encode_log(void *buf, size_t size, uint32_t seq, vxn_log_level level,
			 vxn_log_source source, const char *text)
{
	uint8_t fixed[4] = { 0 };
	if ((unsigned)level > VXN_LOG_DEBUG || (unsigned)source > 0xff)
		return VXN_EINVAL;
	fixed[0] = (uint8_t)level;
	fixed[1] = (uint8_t)source;
	return encode_text(buf, size, VXN_FRAME_LOG, VXN_STREAM_MAIN, seq, fixed, sizeof(fixed),
			   text);
}

int vxn_frame_parse_log(const vxn_frame *frame, vxn_log_level *level, vxn_log_source *source,
			const char **text, size_t *text_size)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_LOG, 4, &p);
	if (r < 0)
		return r;
	if (p[0] > VXN_LOG_DEBUG)
		return VXN_EPROTO;
	if (level)
		*level = (vxn_log_level)p[0];
	if (source)
		*source = (vxn_log_source)p[1];
	if (text)
		*text = (const char *)p + 4;
	if (text_size)
		*text_size = frame->size - 4;
	return 0;
}

int vxn_frame_encode_credit(void *buf, size_t size, uint32_t stream, uint32_t seq, uint32_t bytes)
{
	uint8_t p[4];
	if (bytes == 0)
		return VXN_EINVAL;
	put32(p, bytes);
	return encode_fixed(buf, size, VXN_FRAME_STDIN_CREDIT, stream, seq, p, sizeof(p));
}

int vxn_frame_parse_credit(const vxn_frame *frame, uint32_t *bytes)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_STDIN_CREDIT, 4, &p);
	if (r < 0)
		return r;
	uint32_t n = get32(p);
	if (n == 0)
		return VXN_EPROTO;
	if (bytes)
		*bytes = n;
	return 0;
}

int vxn_frame_encode_resize(void *buf, size_t size, uint32_t stream, uint32_t seq, uint16_t rows,
			    uint16_t cols)
{
	uint8_t p[4];
	if (rows == 0 || cols == 0)
		return VXN_EINVAL;
	put16(p, rows);
	put16(p + 2, cols);
	return encode_fixed(buf, size, VXN_FRAME_RESIZE, stream, seq, p, sizeof(p));
}

int vxn_frame_parse_resize(const vxn_frame *frame, uint16_t *rows, uint16_t *cols)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_RESIZE, 4, &p);
	if (r < 0)
		return r;
	uint16_t rr = get16(p), cc = get16(p + 2);
	if (rr == 0 || cc == 0)
		return VXN_EPROTO;
	if (rows)
		*rows = rr;
	if (cols)
		*cols = cc;
	return 0;
}

#define SIGNO_MAX 64

int vxn_frame_encode_signal(void *buf, size_t size, uint32_t stream, uint32_t seq, int signo)
{
	uint8_t p[4];
	if (signo < 1 || signo > SIGNO_MAX)
		return VXN_EINVAL;
	put32(p, (uint32_t)signo);
	return encode_fixed(buf, size, VXN_FRAME_SIGNAL, stream, seq, p, sizeof(p));
}

int vxn_frame_parse_signal(const vxn_frame *frame, int *signo)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_SIGNAL, 4, &p);
	if (r < 0)
		return r;
	uint32_t s = get32(p);
	if (s < 1 || s > SIGNO_MAX)
		return VXN_EPROTO;
	if (signo)
		*signo = (int)s;
	return 0;
}

static bool exit_valid(uint32_t code, uint32_t sig, uint32_t flags)
{
	if (code > 255 || sig > SIGNO_MAX || (code && sig))
		return false;
	/* Only a signal can dump core. */
	return !(flags & VXN_EXIT_CORE_DUMPED) || sig;
}

int vxn_frame_encode_exit(void *buf, size_t size, uint32_t stream, uint32_t seq, int exit_code,
			  int signo, uint32_t flags)
{
	uint8_t p[12];
	if (exit_code < 0 || signo < 0 || !exit_valid((uint32_t)exit_code, (uint32_t)signo, flags))
		return VXN_EINVAL;
	put32(p, (uint32_t)exit_code);
	put32(p + 4, (uint32_t)signo);
	put32(p + 8, flags);
	return encode_fixed(buf, size, VXN_FRAME_EXIT, stream, seq, p, sizeof(p));
}

int vxn_frame_parse_exit(const vxn_frame *frame, int *exit_code, int *signo, uint32_t *flags)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_EXIT, 12, &p);
	if (r < 0)
		return r;
	uint32_t code = get32(p), sig = get32(p + 4), fl = get32(p + 8);
	if (!exit_valid(code, sig, fl))
		return VXN_EPROTO;
	if (exit_code)
		*exit_code = (int)code;
	if (signo)
		*signo = (int)sig;
	if (flags)
		*flags = fl;
	return 0;
}

int vxn_frame_encode_error(void *buf, size_t size, uint32_t stream, uint32_t seq,
			   vxn_boot_stage stage, int errnum, const char *message)
{
	uint8_t fixed[8];
	if ((int)stage <= 0 || errnum < 0)
		return VXN_EINVAL;
	put32(fixed, (uint32_t)stage);
	put32(fixed + 4, (uint32_t)errnum);
	return encode_text(buf, size, VXN_FRAME_ERROR, stream, seq, fixed, sizeof(fixed), message);
}

int vxn_frame_parse_error(const vxn_frame *frame, vxn_boot_stage *stage, int *errnum,
			  const char **message, size_t *message_size)
{
	const uint8_t *p;
	int r = payload_of(frame, VXN_FRAME_ERROR, 8, &p);
	if (r < 0)
		return r;
	uint32_t st = get32(p), en = get32(p + 4);
	/* Unknown stages are kept (a later guest may add some); the values
	 * must still fit the C types. */
	if (st == 0 || st > INT32_MAX || en > INT32_MAX)
		return VXN_EPROTO;
	if (stage)
		*stage = (vxn_boot_stage)st;
	if (errnum)
		*errnum = (int)en;
	if (message)
		*message = (const char *)p + 8;
	if (message_size)
		*message_size = frame->size - 8;
	return 0;
}
