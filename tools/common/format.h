/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human output as docker and podman print it: sizes, durations, short IDs, tables. */
#ifndef VXN_TOOLS_FORMAT_H
#define VXN_TOOLS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "4.26MB", "512B" (decimal units, 3 significant digits, as docker). */
void fmt_size(char *buf, size_t len, uint64_t bytes);
/* "2 months", "About an hour", "Less than a second" (go-units HumanDuration). */
void fmt_duration(char *buf, size_t len, int64_t seconds);
/* "sha256:0123456789abcdef..." -> "0123456789ab". */
const char *fmt_short_id(char *buf, size_t len, const char *id);

/* A text table whose columns are padded to their widest cell, 3 spaces apart
 * (docker's tabwriter look). */
struct table;
struct table *table_new(size_t columns);
void table_add(struct table *t, ...); /* exactly `columns` const char * cells */
void table_print(struct table *t, FILE *out);
void table_free(struct table *t);

#endif
