/* chat_capture: {{name:regex}} in '<' lines, {{name}} in later lines
 * (chat_capture.h). An expectation that uses captures becomes one POSIX
 * extended regex: an exact text is escaped and anchored, each {{name:re}} is
 * a group, each {{name}} the captured text escaped. */
#include "chat_capture.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct capture {
  char *name, *value;
} capture;

struct chat_captures {
  capture *v;
  size_t n, cap;
};

chat_captures *captures_new(void) {
  return xcalloc(1, sizeof(chat_captures));
}

void captures_free(chat_captures *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->v[i].name);
    free(c->v[i].value);
  }
  free(c->v);
  free(c);
}

static capture *find(const chat_captures *c, const char *name, size_t len) {
  for (size_t i = 0; i < c->n; i++)
    if (strlen(c->v[i].name) == len && memcmp(c->v[i].name, name, len) == 0)
      return &c->v[i];
  return NULL;
}

static void set(chat_captures *c, const char *name, size_t len, const char *value,
                size_t vlen) {
  capture *k = find(c, name, len);
  if (!k) {
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 8;
      c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    k = &c->v[c->n++];
    k->name = xstrndup(name, len);
    k->value = NULL;
  }
  free(k->value);
  k->value = xstrndup(value, vlen);
}

/* ---------------------------------------------------------------- tokens */

enum { TOK_NONE, TOK_REF, TOK_DEF, TOK_BAD };

typedef struct token {
  const char *name, *re;
  size_t name_len, re_len;
  size_t len; /* of the whole {{...}} */
} token;

/* p at '[': past the bracket expression ([^]a-z[:digit:]] and the like). */
static const char *skip_bracket(const char *p) {
  const char *q = p + 1;
  if (*q == '^') q++;
  if (*q == ']') q++;
  while (*q && *q != ']') {
    if (q[0] == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
      const char *end = strchr(q + 2, q[1]);
      while (end && end[1] != ']') end = strchr(end + 1, q[1]);
      q = end ? end + 2 : q + 2;
    } else {
      q++;
    }
  }
  return *q ? q + 1 : q;
}

/* At s: {{name}} (TOK_REF), {{name:regex}} (TOK_DEF), {{name:... without
 * its closing }} (TOK_BAD), or none of them. The regex may hold braces
 * ([0-9]{6}) and brackets; it ends at the first }} outside them. */
static int read_token(const char *s, token *t) {
  if (s[0] != '{' || s[1] != '{') return TOK_NONE;
  const char *p = s + 2;
  if (!isalpha((unsigned char)*p) && *p != '_') return TOK_NONE;
  t->name = p;
  while (isalnum((unsigned char)*p) || *p == '_') p++;
  t->name_len = (size_t)(p - t->name);
  if (p[0] == '}' && p[1] == '}') {
    t->len = (size_t)(p + 2 - s);
    return TOK_REF;
  }
  if (*p != ':') return TOK_NONE;
  t->re = ++p;
  int braces = 0;
  while (*p) {
    if (p[0] == '\\' && p[1]) {
      p += 2;
    } else if (*p == '[') {
      p = skip_bracket(p);
    } else if (*p == '{') {
      braces++, p++;
    } else if (*p == '}' && braces) {
      braces--, p++;
    } else if (p[0] == '}' && p[1] == '}') {
      break;
    } else {
      p++;
    }
  }
  if (!*p) return TOK_BAD;
  t->re_len = (size_t)(p - t->re);
  t->len = (size_t)(p + 2 - s);
  return TOK_DEF;
}

/* The groups a regex opens: '(' outside brackets, not escaped. */
static int count_groups(const char *re, size_t len) {
  int n = 0;
  const char *end = re + len;
  for (const char *p = re; p < end && *p;) {
    if (p[0] == '\\' && p + 1 < end)
      p += 2;
    else if (*p == '[')
      p = skip_bracket(p);
    else
      n += *p++ == '(';
  }
  return n;
}

static void add_escaped(buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (strchr(".[]{}()\\*+?^$|", s[i]) && s[i]) buf_add(b, "\\", 1);
    buf_add(b, s + i, 1);
  }
}

static void unknown_name(const chat_captures *c, const token *t, char *err,
                         size_t errlen) {
  buf known = {0};
  buf_add(&known, "", 0);
  for (size_t i = 0; i < c->n; i++)
    buf_printf(&known, "%s%s", i ? ", " : "", c->v[i].name);
  snprintf(err, errlen,
           "{{%.*s}} names no capture: capture it first in a '<' line, like "
           "< Your code is {{%.*s:[0-9]+}}%s%s%s",
           (int)t->name_len, t->name, (int)t->name_len, t->name,
           c->n ? " (captured so far: " : "", known.data, c->n ? ")" : "");
  buf_free(&known);
}

static void unterminated(const token *t, char *err, size_t errlen) {
  snprintf(
      err, errlen,
      "{{%.*s: has no closing }} (a capture is {{name:regex}}, like {{%.*s:[0-9]+}})",
      (int)t->name_len, t->name, (int)t->name_len, t->name);
}

int captures_in(const char *written) {
  for (const char *p = written; *p; p++) {
    if (p[0] == '\\' && p[1] == '{' && p[2] == '{') return 1; /* a literal {{ */
    if (p[0] == '\\' && p[1]) {
      p++;
      continue;
    }
    token t;
    if (read_token(p, &t) != TOK_NONE) return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- matching */

typedef struct def {
  const char *name;
  size_t len;
  int group;
} def;

int captures_match(chat_captures *c, const char *written, int is_regex,
                   const char *text, char *err, size_t errlen) {
  buf re = {0};
  def *defs = NULL;
  size_t ndefs = 0;
  int groups = 0, rc = -1;
  if (!is_regex) buf_add(&re, "^", 1);
  for (const char *p = written; *p;) {
    token t;
    int kind = read_token(p, &t);
    if (kind == TOK_BAD) {
      unterminated(&t, err, errlen);
      goto out;
    } else if (kind == TOK_DEF) {
      if (t.re_len == 0) {
        snprintf(err, errlen,
                 "{{%.*s:}} needs a regex after the colon, like {{%.*s:[0-9]+}}",
                 (int)t.name_len, t.name, (int)t.name_len, t.name);
        goto out;
      }
      defs = xrealloc(defs, (ndefs + 1) * sizeof *defs);
      defs[ndefs++] = (def){t.name, t.name_len, ++groups};
      buf_add(&re, "(", 1);
      buf_add(&re, t.re, t.re_len);
      buf_add(&re, ")", 1);
      groups += count_groups(t.re, t.re_len);
      p += t.len;
    } else if (kind == TOK_REF) {
      capture *k = find(c, t.name, t.name_len);
      if (!k) {
        unknown_name(c, &t, err, errlen);
        goto out;
      }
      add_escaped(&re, k->value, strlen(k->value));
      p += t.len;
    } else if (is_regex) { /* the rest of a regex as written */
      const char *q = p[0] == '\\' && p[1] ? p + 2
                      : *p == '['          ? skip_bracket(p)
                                           : p + 1;
      groups += *p == '(';
      buf_add(&re, p, (size_t)(q - p));
      p = q;
    } else if (p[0] == '\\' && p[1] == 'n') {
      buf_add(&re, "\n", 1), p += 2;
    } else if (p[0] == '\\' && p[1] == '\\') {
      buf_add(&re, "\\\\", 2), p += 2;
    } else if (p[0] == '\\' && p[1] == '{' && p[2] == '{') {
      buf_add(&re, "\\{\\{", 4), p += 3;
    } else {
      add_escaped(&re, p, 1), p++;
    }
  }
  if (!is_regex) buf_add(&re, "$", 1);
  buf_add(&re, "", 1);
  regex_t rx;
  int crc = regcomp(&rx, re.data, REG_EXTENDED);
  if (crc != 0) {
    char why[256];
    regerror(crc, &rx, why, sizeof why);
    snprintf(err, errlen, "bad regex in /%s/: %s", written, why);
    goto out;
  }
  size_t nm = rx.re_nsub + 1;
  regmatch_t *m = xcalloc(nm, sizeof *m);
  rc = regexec(&rx, text, nm, m, 0) == 0;
  for (size_t i = 0; rc == 1 && i < ndefs; i++) {
    size_t g = (size_t)defs[i].group;
    if (g < nm && m[g].rm_so >= 0)
      set(c, defs[i].name, defs[i].len, text + m[g].rm_so,
          (size_t)(m[g].rm_eo - m[g].rm_so));
    else
      set(c, defs[i].name, defs[i].len, "", 0);
  }
  free(m);
  regfree(&rx);
out:
  free(defs);
  buf_free(&re);
  return rc;
}

/* ---------------------------------------------------------------- expansion */

char *captures_expand_text(const chat_captures *c, const char *written, char *err,
                           size_t errlen) {
  buf b = {0};
  buf_add(&b, "", 0);
  for (const char *p = written; *p;) {
    token t;
    int kind = read_token(p, &t);
    if (kind == TOK_DEF || kind == TOK_BAD) {
      snprintf(
          err, errlen,
          "{{%.*s:...}} captures only in '<' and '!' lines; to send what it captured, "
          "write {{%.*s}}",
          (int)t.name_len, t.name, (int)t.name_len, t.name);
      buf_free(&b);
      return NULL;
    } else if (kind == TOK_REF) {
      capture *k = find(c, t.name, t.name_len);
      if (!k) {
        unknown_name(c, &t, err, errlen);
        buf_free(&b);
        return NULL;
      }
      buf_puts(&b, k->value);
      p += t.len;
    } else if (p[0] == '\\' && p[1] == 'n') {
      buf_add(&b, "\n", 1), p += 2;
    } else if (p[0] == '\\' && p[1] == '\\') {
      buf_add(&b, "\\", 1), p += 2;
    } else if (p[0] == '\\' && p[1] == '{' && p[2] == '{') {
      buf_add(&b, "{{", 2), p += 3;
    } else {
      buf_add(&b, p, 1), p++;
    }
  }
  buf_add(&b, "", 1);
  return b.data;
}

/* s escaped for a Lua string literal quoted with q (a long string: as is). */
static void add_lua_escaped(buf *b, const char *s, char q) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (!q)
      buf_add(b, s, 1);
    else if (ch == '"' || ch == '\'' || ch == '\\')
      buf_printf(b, "\\%c", ch);
    else if (ch == '\n')
      buf_puts(b, "\\n");
    else if (ch < 32 || ch == 127)
      buf_printf(b, "\\%03u", ch);
    else
      buf_add(b, s, 1);
  }
}

/* In Lua code, {{name}} is a string literal of the text; inside a quoted
 * string, the text itself ("{{code}}" works as {{code}} does). */
char *captures_expand_lua(const chat_captures *c, const char *expr, char *err,
                          size_t errlen) {
  buf b = {0};
  buf_add(&b, "", 0);
  char quote = 0;      /* inside '...' or "..." */
  int long_level = -1; /* inside [[...]] / [=[...]=]: its level */
  for (const char *p = expr; *p;) {
    token t;
    if (long_level < 0 && !quote && (p[0] == '"' || p[0] == '\'')) {
      quote = *p;
    } else if (quote && p[0] == '\\' && p[1]) {
      buf_add(&b, p, 2), p += 2;
      continue;
    } else if (quote && *p == quote) {
      quote = 0;
    } else if (!quote && long_level < 0 && p[0] == '[' &&
               (p[1] == '[' || p[1] == '=')) {
      int n = 0;
      while (p[1 + n] == '=') n++;
      if (p[1 + n] == '[') long_level = n;
    } else if (long_level >= 0 && p[0] == ']') {
      int n = 0;
      while (p[1 + n] == '=') n++;
      if (n == long_level && p[1 + n] == ']') long_level = -1;
    } else if (read_token(p, &t) == TOK_REF) {
      capture *k = find(c, t.name, t.name_len);
      if (!k) {
        unknown_name(c, &t, err, errlen);
        buf_free(&b);
        return NULL;
      }
      if (quote || long_level >= 0) {
        add_lua_escaped(&b, k->value, quote);
      } else {
        buf_add(&b, "\"", 1);
        add_lua_escaped(&b, k->value, '"');
        buf_add(&b, "\"", 1);
      }
      p += t.len;
      continue;
    }
    buf_add(&b, p, 1), p++;
  }
  buf_add(&b, "", 1);
  return b.data;
}

char *captures_describe(const chat_captures *c, const char *written) {
  buf b = {0};
  buf_add(&b, "", 0);
  for (const char *p = written; *p;) {
    token t;
    int kind = read_token(p, &t);
    if (kind == TOK_REF && find(c, t.name, t.name_len)) {
      char *shown = xasprintf("{{%.*s}} = ", (int)t.name_len, t.name);
      if (!strstr(b.data, shown)) /* once each */
        buf_printf(&b, "%s%s%s", b.len ? ", " : "", shown,
                   find(c, t.name, t.name_len)->value);
      free(shown);
    }
    p += kind == TOK_REF || kind == TOK_DEF ? t.len : 1;
  }
  return b.data;
}
