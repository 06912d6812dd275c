#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static log_level min_level = LOG_INFO;
static int as_json;

int log_setup(const char *level, const char *format) {
  int l = -1;
  for (int i = 0; i < 4; i++)
    if (level && strcmp(level, level_names[i]) == 0) l = i;
  int json = format && strcmp(format, "json") == 0;
  if (l < 0 || (!json && (!format || strcmp(format, "logfmt") != 0))) return -1;
  min_level = (log_level)l;
  as_json = json;
  return 0;
}

int log_enabled(log_level level) { return level >= min_level; }

/* A logfmt value: bare if it can be, else quoted with \", \\, \n, \t escaped
 * and other control bytes as \xHH. */
static void put_logfmt(buf *b, const char *v) {
  int bare = *v != 0;
  for (const char *p = v; *p && bare; p++)
    bare = (unsigned char)*p > ' ' && *p != '"' && *p != '=' && *p != '\\' && *p != 0x7f;
  if (bare) {
    buf_puts(b, v);
    return;
  }
  buf_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\') buf_printf(b, "\\%c", *p);
    else if (*p == '\n') buf_puts(b, "\\n");
    else if (*p == '\t') buf_puts(b, "\\t");
    else if (*p < ' ' || *p == 0x7f) buf_printf(b, "\\x%02x", *p);
    else buf_add(b, (const char *)p, 1);
  }
  buf_puts(b, "\"");
}

/* A JSON string even when v is not UTF-8 (bad bytes become '?'). */
static json_t *json_text(const char *v) {
  json_t *s = json_string(v);
  if (s) return s;
  char *copy = xstrdup(v);
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  s = json_string(copy);
  free(copy);
  return s;
}

void log_event(log_level level, const char *event, ...) {
  if (level < min_level) return;
  char when[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  va_list ap;
  va_start(ap, event);
  buf line = {0};
  if (as_json) {
    json_t *o = json_pack("{s:s,s:s,s:o}", "time", when, "level", level_names[level], "event",
                          json_text(event));
    for (const char *k; (k = va_arg(ap, const char *));) {
      const char *v = va_arg(ap, const char *);
      if (v) json_object_set_new(o, k, json_text(v));
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_puts(&line, text);
    free(text);
    json_decref(o);
  } else {
    buf_printf(&line, "time=%s level=%s event=", when, level_names[level]);
    put_logfmt(&line, event);
    for (const char *k; (k = va_arg(ap, const char *));) {
      const char *v = va_arg(ap, const char *);
      if (!v) continue;
      buf_printf(&line, " %s=", k);
      put_logfmt(&line, v);
    }
  }
  va_end(ap);
  buf_puts(&line, "\n");
  fwrite(line.data, 1, line.len, stderr); /* one write: lines from threads do not mix */
  buf_free(&line);
}
