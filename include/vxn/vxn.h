/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file vxn.h
 * Umbrella header: include this to use libvxn (pkg-config vxn).
 */
#ifndef VXN_VXN_H
#define VXN_VXN_H

#include <vxn/boot.h>
#include <vxn/common.h>
#include <vxn/container.h>
#include <vxn/context.h>
#include <vxn/domain.h>
#include <vxn/error.h>
#include <vxn/image.h>
#include <vxn/session.h>
#include <vxn/spec.h>
#include <vxn/version.h>

#endif /* VXN_VXN_H */
