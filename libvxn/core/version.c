/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <vxn/version.h>

#include "core/private.h"
#include "domain/backend.h"

const char *vxn_version(void)
{
	return VXN_VERSION_STRING;
}

int vxn_version_number(void)
{
	return VXN_VERSION_NUMBER;
}

/*
 * Features are what this build really contains: a domain backend appears
 * here because it is in the backend table (libvxn/domain/domain.c).
 */
const char *const *vxn_features(void)
{
	return domain_backend_features();
}

bool vxn_has_feature(const char *name)
{
	if (!name)
		return false;
	for (const char *const *f = vxn_features(); *f; f++)
		if (strcmp(*f, name) == 0)
			return true;
	return false;
}
