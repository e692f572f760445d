/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <vxn/version.h>

#include "core/private.h"

const char *vxn_version(void)
{
	return VXN_VERSION_STRING;
}

int vxn_version_number(void)
{
	return VXN_VERSION_NUMBER;
}

/*
 * Features are what this build really contains. A domain backend appears here
 * only once its code is compiled in and registered in the backend table.
 */
static const char *const features[] = {
	NULL,
};

const char *const *vxn_features(void)
{
	return features;
}

bool vxn_has_feature(const char *name)
{
	if (!name)
		return false;
	for (const char *const *f = features; *f; f++)
		if (strcmp(*f, name) == 0)
			return true;
	return false;
}
