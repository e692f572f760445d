/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file session.h
 * The host side of the guest boot protocol (doc/guest-protocol.md): drives
 * one guest's console channel from READY to EXIT, relaying stdin, stdout and
 * stderr, signals and terminal size, and yields the container's exit status.
 */
#ifndef VXN_SESSION_H
#define VXN_SESSION_H

#include <vxn/common.h>
#include <vxn/context.h>
#include <vxn/error.h>

VXN_BEGIN_DECLS

/** A protocol session on one console. Opaque. */
typedef struct vxn_session vxn_session;

/**
 * Create a session on @p console_fd (borrowed: the domain owns it).
 * @return 0; VXN_ENOMEM; VXN_EIO.
 */
VXN_EXPORT int vxn_session_new(vxn_session **out, vxn_ctx *ctx, int console_fd, vxn_error **err);
/** Free a session. NULL is a no-op. */
VXN_EXPORT void vxn_session_free(vxn_session *s);
/**
 * Where the container's streams go: @p in_fd is read for stdin (-1: the
 * process gets no input), @p out_fd and @p err_fd receive stdout and stderr
 * (-1: discarded). Borrowed. With a terminal, all output is on @p out_fd.
 */
VXN_EXPORT void vxn_session_set_stdio(vxn_session *s, int in_fd, int out_fd, int err_fd);
/** Receive the guest log (kernel messages, vxn-init LOG frames) on @p fd (-1: kept in memory only).
 */
VXN_EXPORT void vxn_session_set_log_fd(vxn_session *s, int fd);
/** Deadline from vxn_session_run() to the guest's READY (default 60000 ms). */
VXN_EXPORT void vxn_session_set_ready_timeout_ms(vxn_session *s, unsigned timeout_ms);

/**
 * Run the session until the main process's EXIT (or ERROR) and the end of
 * the console. The caller creates the domain paused, starts it, then calls
 * this: the console buffers what the guest writes meanwhile.
 *
 * @param exit_status receives the exit status as Docker reports it: the
 *        code, 128+N after signal N, 127 / 126 / 125 when the process could
 *        not be started (see vxn_session_start_error()).
 * @return 0; VXN_ETIMEDOUT (no READY in time); VXN_EPROTO (the console ended
 *         without an exit status: the message quotes the last guest log
 *         lines); VXN_EIO.
 */
VXN_EXPORT int vxn_session_run(vxn_session *s, int *exit_status, vxn_error **err);

/**
 * Deliver a signal to the container's process. Async-signal-safe: may be
 * called from a signal handler or another thread while vxn_session_run()
 * runs. @return 0, or -1 if the request could not be queued.
 */
VXN_EXPORT int vxn_session_signal(vxn_session *s, int signo);
/** Tell the guest the terminal size changed. Async-signal-safe like vxn_session_signal(). */
VXN_EXPORT int vxn_session_resize(vxn_session *s, unsigned rows, unsigned cols);

/** When the process could not be started: vxn-init's message (borrowed), else NULL. */
VXN_EXPORT const char *vxn_session_start_error(const vxn_session *s);
/** The guest's READY info ("kernel=6.1...\narch=x86_64\n..."), or NULL before READY. */
VXN_EXPORT const char *vxn_session_guest_info(const vxn_session *s);
/** The last bytes of the guest log (up to 16 KiB), NUL-terminated. Borrowed. */
VXN_EXPORT const char *vxn_session_guest_log(const vxn_session *s);

VXN_END_DECLS

#endif /* VXN_SESSION_H */
