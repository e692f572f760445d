/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file boot.h
 * The guest boot protocol: the framed channel between the host and vxn-init.
 *
 * Once vxn-init owns the guest's primary console (hvc0: virtio console or
 * Xen PV console) the console carries a framed, binary-safe channel in both
 * directions. Every frame is a 28-byte header followed by at most
 * ::VXN_FRAME_MAX_PAYLOAD bytes of payload; the header starts with a two-byte
 * marker and both header and payload carry a CRC32C. Bytes between frames
 * (kernel messages such as an oops or the OOM killer's report, early boot
 * output) are "foreign": the decoder hands them back separately as guest log
 * and never mixes them into a stream. doc/guest-protocol.md is the normative
 * wire format, with the launch record, the kernel command line and the boot
 * sequence.
 *
 * Everything here is pure (no I/O, no global state) and shared verbatim with
 * the guest, which compiles libvxn/boot/frame.c on its own without the rest
 * of libvxn. That is why these functions take no ::vxn_error: they return 0
 * (or a length) on success and a negative ::vxn_status on failure.
 *
 * Thread safety: a decoder is used by one thread at a time; different
 * decoders and all other functions are independent.
 */
#ifndef VXN_BOOT_H
#define VXN_BOOT_H

#include <vxn/common.h>
#include <vxn/context.h>
#include <vxn/error.h>

VXN_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/** @name Constants */

/** The protocol version carried in READY and START and in `vxn.proto=` on the
 * kernel command line. */
#define VXN_PROTO_VERSION 1

/** First marker byte of every frame (never valid in UTF-8). */
#define VXN_FRAME_MAGIC0 0xF9
/** Second marker byte of every frame (ASCII RS, a control character that no
 * terminal or console layer treats specially). */
#define VXN_FRAME_MAGIC1 0x1E
/** The frame format version in header byte 2. */
#define VXN_FRAME_VERSION 1
/** Size of a frame header in bytes. */
#define VXN_FRAME_HEADER_SIZE 28
/** Largest payload a frame may carry; a header announcing more is malformed. */
#define VXN_FRAME_MAX_PAYLOAD 65536
/** Size of a frame carrying @p n payload bytes. */
#define VXN_FRAME_SIZE(n) (VXN_FRAME_HEADER_SIZE + (size_t)(n))
/** Size of the largest frame: a buffer this big holds any frame. */
#define VXN_FRAME_MAX_SIZE VXN_FRAME_SIZE(VXN_FRAME_MAX_PAYLOAD)

/** The stream id of the container's main process. Exec sessions use other ids. */
#define VXN_STREAM_MAIN 0

/**
 * Frame types (header byte 3). The direction is part of the contract: a
 * receiver ignores a frame of a type it does not expect from its peer.
 * Payload layouts are in doc/guest-protocol.md; the typed encode/parse
 * helpers below implement them.
 */
typedef enum vxn_frame_type {
	/** guest->host, stream 0: vxn-init is up; protocol version and guest info. */
	VXN_FRAME_READY = 0x01,
	/** host->guest, stream 0: the host accepted READY; run the process. */
	VXN_FRAME_START = 0x02,
	/** guest->host, stream 0: a vxn-init diagnostic message (level + text). */
	VXN_FRAME_LOG = 0x03,
	/** host->guest: bytes for the process's stdin. */
	VXN_FRAME_STDIN = 0x10,
	/** host->guest: no more stdin (the process sees end of file). Empty payload. */
	VXN_FRAME_STDIN_EOF = 0x11,
	/** guest->host: the guest accepts this many more bytes of STDIN. */
	VXN_FRAME_STDIN_CREDIT = 0x12,
	/** guest->host: bytes the process wrote to stdout (or to its terminal). */
	VXN_FRAME_STDOUT = 0x13,
	/** guest->host: bytes the process wrote to stderr. */
	VXN_FRAME_STDERR = 0x14,
	/** host->guest: the terminal size changed (rows, cols). */
	VXN_FRAME_RESIZE = 0x20,
	/** host->guest: deliver a signal to the process. */
	VXN_FRAME_SIGNAL = 0x21,
	/** guest->host: the process ended (exit code or signal). */
	VXN_FRAME_EXIT = 0x30,
	/** guest->host: the process could not be started (stage, errno, message). */
	VXN_FRAME_ERROR = 0x31,
	/** host->guest: the host has recorded the EXIT or ERROR of this stream. Empty. */
	VXN_FRAME_EXIT_ACK = 0x32,
	/** host->guest: reserved for exec sessions (a later protocol revision);
	 * types 0x40 to 0x4f are reserved for them. */
	VXN_FRAME_EXEC_START = 0x40,
} vxn_frame_type;

/** Setup stages an ERROR frame names (where vxn-init failed). */
typedef enum vxn_boot_stage {
	VXN_BOOT_STAGE_INIT = 1,    /**< vxn-init's own setup (console, /proc, ...) */
	VXN_BOOT_STAGE_LAUNCH = 2,  /**< reading or validating the launch record */
	VXN_BOOT_STAGE_ROOTFS = 3,  /**< finding, mounting or switching to the root */
	VXN_BOOT_STAGE_MOUNT = 4,   /**< a mount from the launch record */
	VXN_BOOT_STAGE_NETWORK = 5, /**< network configuration */
	VXN_BOOT_STAGE_USER = 6,    /**< resolving or switching user and groups */
	VXN_BOOT_STAGE_CWD = 7,	    /**< changing to the working directory */
	VXN_BOOT_STAGE_EXEC = 8,    /**< executing the program (errno ENOENT, EACCES, ...) */
} vxn_boot_stage;

/** Flags of an EXIT frame. */
#define VXN_EXIT_CORE_DUMPED 0x1u

/* ------------------------------------------------------------------------ */
/** @name Checksum */

/**
 * CRC32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF), as frames use it.
 *
 * Chains like zlib's crc32(): pass 0 to start, and the previous result to
 * continue, so crc32c(crc32c(0, a), b) is the CRC of a followed by b.
 * Test vector: vxn_crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * @param crc 0, or the result of a previous call.
 * @param data the bytes; may be NULL when @p size is 0.
 * @param size number of bytes.
 * @return the CRC.
 */
VXN_EXPORT uint32_t vxn_crc32c(uint32_t crc, const void *data, size_t size);

/* ------------------------------------------------------------------------ */
/** @name Encoding */

/**
 * Encode one frame into @p buf.
 *
 * The flags field is written as 0 (version 1 defines no flags).
 *
 * @param buf where the frame goes; at least VXN_FRAME_SIZE(@p payload_size)
 *        bytes.
 * @param size size of @p buf.
 * @param type the frame type (1 to 255; types this header does not name are
 *        allowed, for tests and later revisions).
 * @param stream the stream id (::VXN_STREAM_MAIN or an exec session).
 * @param seq the sender's sequence number (doc/guest-protocol.md).
 * @param payload the payload; may be NULL when @p payload_size is 0. It may
 *        point at @p buf + ::VXN_FRAME_HEADER_SIZE, to encode in place
 *        (read the data there, then encode); any other overlap is undefined.
 * @param payload_size at most ::VXN_FRAME_MAX_PAYLOAD.
 * @return the frame's length (> 0); VXN_EINVAL for a bad type, an oversized
 *         payload, a NULL payload with a size, or a buffer that is too small.
 */
VXN_EXPORT int vxn_frame_encode(void *buf, size_t size, unsigned type, uint32_t stream,
				uint32_t seq, const void *payload, size_t payload_size);

/** The name of a frame type ("READY", "STDOUT", ...), or "UNKNOWN". Static. */
VXN_EXPORT const char *vxn_frame_type_name(unsigned type);

/* ------------------------------------------------------------------------ */
/** @name Frames */

/**
 * A decoded frame. Opaque; handed to the decoder's frame callback and valid
 * only for the duration of that call (copy what you keep).
 */
typedef struct vxn_frame vxn_frame;

/** The frame's type: a ::vxn_frame_type value, or another code (1-255) from a
 * peer speaking a later revision, which the caller ignores. */
VXN_EXPORT unsigned vxn_frame_get_type(const vxn_frame *frame);
/** The frame's stream id. */
VXN_EXPORT uint32_t vxn_frame_get_stream(const vxn_frame *frame);
/** The sender's sequence number. */
VXN_EXPORT uint32_t vxn_frame_get_seq(const vxn_frame *frame);
/** The header's flags (0 in version 1; unknown bits are ignored). */
VXN_EXPORT uint32_t vxn_frame_get_flags(const vxn_frame *frame);
/**
 * The payload.
 * @param frame the frame.
 * @param size receives the payload size (0 to ::VXN_FRAME_MAX_PAYLOAD); may be NULL.
 * @return the payload, borrowed from the decoder and valid during the
 *         callback only; never NULL (a valid pointer even when empty).
 */
VXN_EXPORT const void *vxn_frame_get_payload(const vxn_frame *frame, size_t *size);

/* ------------------------------------------------------------------------ */
/** @name Decoding */

/** Incremental channel decoder. Opaque. */
typedef struct vxn_frame_decoder vxn_frame_decoder;

/**
 * Called for each frame whose header and payload checksums are valid.
 * @p frame is borrowed for the call. The callback must not call
 * vxn_frame_decoder_feed(), vxn_frame_decoder_finish() or
 * vxn_frame_decoder_free() on the decoder that calls it.
 */
typedef void (*vxn_frame_fn)(void *userdata, const vxn_frame *frame);

/**
 * Called with a run of foreign bytes (bytes that belong to no valid frame:
 * guest log). @p bytes is borrowed for the call; @p size > 0. Runs are
 * delivered in stream order, interleaved correctly with the frames; how the
 * foreign bytes are cut into runs depends on how the input was chunked.
 * The same restrictions as for ::vxn_frame_fn apply.
 */
typedef void (*vxn_frame_foreign_fn)(void *userdata, const void *bytes, size_t size);

/**
 * Create a decoder.
 *
 * The decoder holds at most one pending frame (up to ::VXN_FRAME_MAX_SIZE
 * bytes) and allocates its memory, about 640 KiB, here; feeding never
 * allocates. Its output is a function of the byte stream alone, not of how
 * the stream is chunked: a frame starts at the first position where a
 * valid marker, header checksum, version, length and payload checksum line
 * up; every other byte is foreign (doc/guest-protocol.md, "Resynchronisation").
 * The work per input byte is bounded by a constant, whatever the input.
 *
 * @param out receives the decoder, owned by the caller (vxn_frame_decoder_free()).
 * @param on_frame frame callback, or NULL to drop frames.
 * @param on_foreign foreign-bytes callback, or NULL to drop them.
 * @param userdata passed to both callbacks.
 * @return 0; VXN_EINVAL when @p out is NULL; VXN_ENOMEM.
 */
VXN_EXPORT int vxn_frame_decoder_new(vxn_frame_decoder **out, vxn_frame_fn on_frame,
				     vxn_frame_foreign_fn on_foreign, void *userdata);

/** Release a decoder, dropping what it holds. NULL is a no-op. */
VXN_EXPORT void vxn_frame_decoder_free(vxn_frame_decoder *dec);

/**
 * Feed bytes, in any chunking. Calls the callbacks for every frame and every
 * foreign byte that can be decided with the input so far; bytes that may
 * still begin a frame are held until more input (or
 * vxn_frame_decoder_finish()) decides them.
 *
 * @param dec the decoder.
 * @param data the bytes, copied; may be NULL when @p size is 0.
 * @param size any size.
 * @return 0; VXN_EINVAL for a NULL @p dec or NULL @p data with a size;
 *         VXN_ESTATE when called from one of @p dec's callbacks.
 */
VXN_EXPORT int vxn_frame_decoder_feed(vxn_frame_decoder *dec, const void *data, size_t size);

/**
 * End of stream: decide every held byte (a frame cut short is foreign, and
 * frames that began inside it are still found) and deliver the rest. The
 * decoder is then empty and may be fed a new stream; its statistics are kept.
 *
 * @return 0; VXN_EINVAL for a NULL @p dec; VXN_ESTATE when called from one
 *         of @p dec's callbacks.
 */
VXN_EXPORT int vxn_frame_decoder_finish(vxn_frame_decoder *dec);

/** Number of bytes held, waiting for more input (at most ::VXN_FRAME_MAX_SIZE - 1). */
VXN_EXPORT size_t vxn_frame_decoder_pending(const vxn_frame_decoder *dec);

/** Decoder counters, for diagnostics (vxn_frame_decoder_stat()). */
typedef enum vxn_frame_stat {
	VXN_FRAME_STAT_BYTES = 0,	  /**< bytes fed */
	VXN_FRAME_STAT_FRAMES = 1,	  /**< frames delivered */
	VXN_FRAME_STAT_FOREIGN_BYTES = 2, /**< foreign bytes delivered */
	VXN_FRAME_STAT_BAD_HEADER = 3,	  /**< marker found, header checksum wrong */
	VXN_FRAME_STAT_BAD_VERSION = 4,	  /**< valid header of an unknown format version */
	VXN_FRAME_STAT_OVERSIZED = 5,	  /**< valid header announcing > VXN_FRAME_MAX_PAYLOAD */
	VXN_FRAME_STAT_BAD_PAYLOAD = 6,	  /**< valid header, payload checksum wrong */
	VXN_FRAME_STAT_TRUNCATED = 7,	  /**< a frame cut short by the end of the stream */
} vxn_frame_stat;

/**
 * A counter, cumulative since vxn_frame_decoder_new().
 * @return the count; 0 for an unknown @p which or a NULL @p dec.
 */
VXN_EXPORT uint64_t vxn_frame_decoder_stat(const vxn_frame_decoder *dec, vxn_frame_stat which);

/* ------------------------------------------------------------------------ */
/** @name Typed payloads
 *
 * One encoder and one parser per frame type with a structured payload, so
 * both sides share the layouts of doc/guest-protocol.md. Encoders take the
 * same @c buf, @c size, @c stream and @c seq as vxn_frame_encode() and
 * return the frame length or VXN_EINVAL (bad argument, buffer too small).
 * Parsers take a decoded frame and return 0, VXN_EINVAL when @c frame is
 * NULL or of another type, or VXN_EPROTO when its payload is malformed;
 * their out parameters may be NULL and are untouched on failure. Payloads
 * longer than the version-1 layout are accepted (later revisions may append
 * fields), shorter ones are malformed. Text is UTF-8, not NUL-terminated in
 * the frame; parsers return it as a pointer borrowed from the frame plus a
 * length.
 */

/**
 * Encode READY (stream 0).
 * @param version the highest protocol version the guest speaks (> 0).
 * @param info "key=value\n" lines describing the guest
 *        ("kernel=6.1.0\nvxn-init=0.1.0\n"), or NULL for none; truncated
 *        when longer than the room in a frame.
 */
VXN_EXPORT int vxn_frame_encode_ready(void *buf, size_t size, uint32_t seq, uint16_t version,
				      const char *info);
/** Parse READY: the guest's version (0 is malformed) and its info text. */
VXN_EXPORT int vxn_frame_parse_ready(const vxn_frame *frame, uint16_t *version, const char **info,
				     size_t *info_size);

/** Encode START (stream 0): @p version (> 0) is the protocol version the
 * host will speak, at most the guest's. */
VXN_EXPORT int vxn_frame_encode_start(void *buf, size_t size, uint32_t seq, uint16_t version);
/** Parse START: the version (0 is malformed). */
VXN_EXPORT int vxn_frame_parse_start(const vxn_frame *frame, uint16_t *version);

/** Where a LOG frame's text comes from. */
typedef enum vxn_log_source {
	VXN_LOG_SOURCE_INIT = 0,   /**< vxn-init itself */
	VXN_LOG_SOURCE_KERNEL = 1, /**< a kernel log record vxn-init relays from /dev/kmsg */
} vxn_log_source;

/**
 * Encode LOG (stream 0): a message at @p level from @p source; text longer
 * than the room in a frame is truncated.
 */
VXN_EXPORT int vxn_frame_encode_log(void *buf, size_t size, uint32_t seq, vxn_log_level level,
				    vxn_log_source source, const char *text);
/** Parse LOG: level (above VXN_LOG_DEBUG is malformed), source (an unknown
 * one is passed on) and text. */
VXN_EXPORT int vxn_frame_parse_log(const vxn_frame *frame, vxn_log_level *level,
				   vxn_log_source *source, const char **text, size_t *text_size);

/** Encode STDIN_CREDIT: the guest accepts @p bytes (> 0) more bytes of STDIN
 * payload on @p stream. */
VXN_EXPORT int vxn_frame_encode_credit(void *buf, size_t size, uint32_t stream, uint32_t seq,
				       uint32_t bytes);
/** Parse STDIN_CREDIT: the number of bytes (0 is malformed). */
VXN_EXPORT int vxn_frame_parse_credit(const vxn_frame *frame, uint32_t *bytes);

/** Encode RESIZE: the terminal of @p stream is now @p rows x @p cols (both > 0). */
VXN_EXPORT int vxn_frame_encode_resize(void *buf, size_t size, uint32_t stream, uint32_t seq,
				       uint16_t rows, uint16_t cols);
/** Parse RESIZE: rows and columns (0 is malformed). */
VXN_EXPORT int vxn_frame_parse_resize(const vxn_frame *frame, uint16_t *rows, uint16_t *cols);

/** Encode SIGNAL: deliver signal @p signo (1 to 64, Linux numbering) to
 * @p stream's process. */
VXN_EXPORT int vxn_frame_encode_signal(void *buf, size_t size, uint32_t stream, uint32_t seq,
				       int signo);
/** Parse SIGNAL: the signal number (outside 1-64 is malformed). */
VXN_EXPORT int vxn_frame_parse_signal(const vxn_frame *frame, int *signo);

/**
 * Encode EXIT: the process exited with @p exit_code (0-255, @p signo 0) or
 * was killed by signal @p signo (1-64, @p exit_code 0); @p flags is 0 or
 * ::VXN_EXIT_CORE_DUMPED (with a signal only). The host reports
 * 128 + @p signo for a signal, as Docker does.
 */
VXN_EXPORT int vxn_frame_encode_exit(void *buf, size_t size, uint32_t stream, uint32_t seq,
				     int exit_code, int signo, uint32_t flags);
/** Parse EXIT, with the same rules (a code and a signal both set, a code
 * above 255, a signal above 64, or a core dump without a signal are
 * malformed); unknown flag bits are passed on. */
VXN_EXPORT int vxn_frame_parse_exit(const vxn_frame *frame, int *exit_code, int *signo,
				    uint32_t *flags);

/**
 * Encode ERROR: the process of @p stream could not be started. @p stage is
 * a ::vxn_boot_stage (> 0), @p errnum the errno behind it (>= 0, 0 for
 * none), @p message one line for a human (truncated to fit a frame; NULL
 * for none). ERROR replaces EXIT: none follows it on that stream.
 */
VXN_EXPORT int vxn_frame_encode_error(void *buf, size_t size, uint32_t stream, uint32_t seq,
				      vxn_boot_stage stage, int errnum, const char *message);
/** Parse ERROR: stage (an unknown one is passed on; 0 is malformed), errno
 * and message. */
VXN_EXPORT int vxn_frame_parse_error(const vxn_frame *frame, vxn_boot_stage *stage, int *errnum,
				     const char **message, size_t *message_size);

VXN_END_DECLS

#endif /* VXN_BOOT_H */
