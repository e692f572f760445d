/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "format.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void fmt_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000.0 && u < sizeof(units) / sizeof(units[0]) - 1) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, len, "%.3g%s", v, units[u]);
}

void fmt_duration(char *buf, size_t len, int64_t s)
{
	int64_t m = s / 60, h = s / 3600;
	if (s < 1)
		snprintf(buf, len, "Less than a second");
	else if (s == 1)
		snprintf(buf, len, "1 second");
	else if (s < 60)
		snprintf(buf, len, "%lld seconds", (long long)s);
	else if (m == 1)
		snprintf(buf, len, "About a minute");
	else if (m < 60)
		snprintf(buf, len, "%lld minutes", (long long)m);
	else if (h == 1)
		snprintf(buf, len, "About an hour");
	else if (h < 48)
		snprintf(buf, len, "%lld hours", (long long)h);
	else if (h < 24 * 7 * 2)
		snprintf(buf, len, "%lld days", (long long)(h / 24));
	else if (h < 24 * 30 * 2)
		snprintf(buf, len, "%lld weeks", (long long)(h / 24 / 7));
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%lld months", (long long)(h / 24 / 30));
	else
		snprintf(buf, len, "%lld years", (long long)(h / 24 / 365));
}

const char *fmt_short_id(char *buf, size_t len, const char *id)
{
	const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
	snprintf(buf, len, "%.12s", hex);
	return buf;
}

struct table {
	size_t cols, rows, cap;
	char **cells;
};

struct table *table_new(size_t columns)
{
	struct table *t = calloc(1, sizeof(*t));
	if (t)
		t->cols = columns;
	return t;
}

void table_add(struct table *t, ...)
{
	if (!t)
		return;
	if (t->rows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->cols * sizeof(char *));
		if (!nc)
			return;
		t->cells = nc;
		t->cap = ncap;
	}
	va_list ap;
	va_start(ap, t);
	for (size_t c = 0; c < t->cols; c++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->rows * t->cols + c] = strdup(s ? s : "");
	}
	va_end(ap);
	t->rows++;
}

void table_print(struct table *t, FILE *out)
{
	if (!t)
		return;
	size_t *w = calloc(t->cols, sizeof(size_t));
	if (!w)
		return;
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];
			if (c + 1 == t->cols)
				fprintf(out, "%s\n", s ? s : "");
			else
				fprintf(out, "%-*s   ", (int)w[c], s ? s : "");
		}
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->rows * t->cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
