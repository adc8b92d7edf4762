/*
 * record.h: the records stackquake's C programs hand to its drivers.
 *
 * A record is one line of JSON on stderr (or any fd), an object whose first
 * member is "rec", its kind:
 *
 *     {"rec":"hits","site":"<a fault site>","n":42}
 *
 * Drivers (sqlib/records.py) pick these lines out of whatever else the
 * program prints and never parse the prose around them. A record is built
 * in a buffer and written with one write(2), so records from several
 * threads never interleave; nothing here allocates or takes a lock, and
 * it may be used from a signal handler.
 *
 *     sq_rec r;
 *     rec_begin(&r, "hits");
 *     rec_str(&r, "site", name);
 *     rec_int(&r, "n", n);
 *     rec_end(&r, 2);
 */
#ifndef SQ_RECORD_H
#define SQ_RECORD_H

#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct sq_rec {
	char buf[1024];
	size_t n;
} sq_rec;

#define REC_FN_ __attribute__((no_instrument_function, no_split_stack, unused)) static inline

REC_FN_ void rec_raw(sq_rec *r, const char *s, size_t len)
{
	if (r->n + len > sizeof r->buf - 2)
		len = sizeof r->buf - 2 - r->n;	/* cut; rec_end still closes it */
	memcpy(r->buf + r->n, s, len);
	r->n += len;
}

/* A JSON string, escaped; lower-cased when lower (X-macro ids as keys). */
REC_FN_ void rec_quoted(sq_rec *r, const char *s, int lower)
{
	static const char hex[] = "0123456789abcdef";

	rec_raw(r, "\"", 1);
	for (; s && *s && r->n < sizeof r->buf - 24; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			rec_raw(r, esc, 2);
		} else if (c < 0x20) {
			rec_raw(r, esc, 6);
		} else {
			char ch = lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;

			rec_raw(r, &ch, 1);
		}
	}
	rec_raw(r, "\"", 1);
}

REC_FN_ void rec_key(sq_rec *r, const char *key)
{
	rec_raw(r, ",", 1);
	rec_quoted(r, key, 0);
	rec_raw(r, ":", 1);
}

REC_FN_ void rec_begin(sq_rec *r, const char *kind)
{
	r->n = 0;
	rec_raw(r, "{\"rec\":", 7);
	rec_quoted(r, kind, 0);
}

REC_FN_ void rec_str(sq_rec *r, const char *key, const char *val)
{
	rec_key(r, key);
	if (val)
		rec_quoted(r, val, 0);
	else
		rec_raw(r, "null", 4);
}

/* An X-macro id (SPLIT_BAD_TIME) as the contract's key (split_bad_time). */
REC_FN_ void rec_id(sq_rec *r, const char *key, const char *id)
{
	rec_key(r, key);
	rec_quoted(r, id, 1);
}

REC_FN_ void rec_int(sq_rec *r, const char *key, int64_t v)
{
	char d[24];
	size_t i = sizeof d;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[--i] = '-';
	rec_key(r, key);
	rec_raw(r, d + i, sizeof d - i);
}

REC_FN_ void rec_bool(sq_rec *r, const char *key, int v)
{
	rec_key(r, key);
	rec_raw(r, v ? "true" : "false", v ? 4 : 5);
}

REC_FN_ void rec_end(sq_rec *r, int fd)
{
	r->buf[r->n++] = '}';
	r->buf[r->n++] = '\n';
	for (size_t off = 0; off < r->n;) {
		ssize_t w = write(fd, r->buf + off, r->n - off);

		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

#undef REC_FN_
#endif
