/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file common.h
 * Macros shared by every public vxn header.
 *
 * VXN_EXPORT marks a declaration as part of libvxn's ABI. The library is built
 * with -fvisibility=hidden, so only declarations carrying it are visible, and
 * libvxn.sym (the version script) must list each of them.
 */
#ifndef VXN_COMMON_H
#define VXN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define VXN_EXPORT __attribute__((visibility("default")))
#else
#define VXN_EXPORT
#endif

#ifdef __cplusplus
#define VXN_BEGIN_DECLS extern "C" {
#define VXN_END_DECLS	}
#else
#define VXN_BEGIN_DECLS
#define VXN_END_DECLS
#endif

#endif /* VXN_COMMON_H */
