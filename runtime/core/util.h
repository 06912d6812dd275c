/* util: allocation that never returns NULL, strings, files, time. */
#ifndef PARLEY_UTIL_H
#define PARLEY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool ends_with(const char *s, const char *suffix);
/* The well-formed UTF-8 character (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF) that begins s, n >= 1 bytes left: its
 * length in bytes (1-4) with its code point in *cp (if cp is not NULL), or
 * 0 if the bytes there are not one (ICU's U8_NEXT decides). */
size_t utf8_char(const char *s, size_t n, uint32_t *cp);
/* 1 if the n bytes at s are valid UTF-8 (RFC 3629). */
int utf8_valid(const char *s, size_t n);
/* Replaces in place every byte of s that does not belong to a valid UTF-8
 * character with '?': a text cut at a byte count (a "%.60s", a buffer's
 * end) can end inside a character, and JSON cannot carry that. */
void utf8_repair(char *s);
/* Characters (UTF-8 code points) in s. */
size_t utf8_chars(const char *s);
/* Reads a whole file, NUL-terminated; NULL with errno set on failure. */
char *read_file(const char *path, size_t *len);

/* Milliseconds since the Unix epoch, and a monotonic clock in nanoseconds. */
int64_t wall_ms(void);
/* For tests only (serve's test_clock): from now on wall_ms() runs at real
 * speed from ms. Call before any other thread starts. */
void wall_clock_start_at(int64_t ms);
int64_t mono_ns(void);

/* A growable byte buffer. */
typedef struct buf {
  char *data;
  size_t len, cap;
} buf;
void buf_add(buf *b, const char *s, size_t n);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(buf *b);

#endif
