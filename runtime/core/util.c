#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicode/utf8.h>

static void out_of_memory(void) {
  fputs("parley: out of memory\n", stderr);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) out_of_memory();
  va_end(ap);
  return s;
}

bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

size_t utf8_char(const char *s, size_t n, uint32_t *cp) {
  /* A character is at most U8_MAX_LENGTH bytes: U8_NEXT never reads past
   * them, and the length then fits its int32_t whatever n is. */
  int32_t len = n < U8_MAX_LENGTH ? (int32_t)n : U8_MAX_LENGTH, i = 0;
  UChar32 c;
  U8_NEXT((const uint8_t *)s, i, len, c);
  if (c < 0) return 0;
  if (cp) *cp = (uint32_t)c;
  return (size_t)i;
}

int utf8_valid(const char *s, size_t n) {
  for (size_t i = 0, len; i < n; i += len)
    if (!(len = utf8_char(s + i, n - i, NULL))) return 0;
  return 1;
}

/* Every byte not in a valid character becomes one '?' (not the maximal
 * ill-formed prefix U8_NEXT skips: the text keeps its length). */
void utf8_repair(char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t len = utf8_char(s + i, n - i, NULL);
    if (len) {
      i += len;
    } else {
      s[i++] = '?';
    }
  }
}

size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += !U8_IS_TRAIL(*s);
  return n;
}

char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, n);
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    buf_free(&b);
    errno = EIO;
    return NULL;
  }
  buf_add(&b, "", 0);
  if (len) *len = b.len;
  return b.data;
}

/* Set once, before any thread starts, by wall_clock_start_at (tests). */
static int64_t wall_offset_ms;

int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + wall_offset_ms;
}

void wall_clock_start_at(int64_t ms) {
  wall_offset_ms = 0;
  wall_offset_ms = ms - wall_ms();
}

int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void buf_add(buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void buf_puts(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) out_of_memory();
  buf_add(b, s, (size_t)n);
  free(s);
}

void buf_free(buf *b) {
  free(b->data);
  *b = (buf){0};
}
