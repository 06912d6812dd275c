#include "luadata.h"

#include <jansson.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const luadata_limits LUADATA_FIELDS = {.max_depth = 16, .max_entries = 10000,
                                       .max_bytes = 16 * 1024};
const luadata_limits LUADATA_STATE = {.max_depth = 16, .max_entries = 10000,
                                      .max_bytes = 64 * 1024};
const luadata_limits LUADATA_TAGS = {.max_depth = 16, .max_entries = 10000,
                                     .max_bytes = 64 * 1024};
const luadata_limits LUADATA_STORE = {.max_depth = 16, .max_entries = 100000,
                                      .max_bytes = 1024 * 1024};

const luadata_limits *luadata_limits_of(const char *label) {
  if (strcmp(label, "c.fields") == 0) return &LUADATA_FIELDS;
  if (strcmp(label, "c.state") == 0) return &LUADATA_STATE;
  if (strcmp(label, "c.tags") == 0) return &LUADATA_TAGS;
  if (strcmp(label, "bot.store") == 0) return &LUADATA_STORE;
  return NULL;
}

/* A set of table addresses seen during one encoding (cycles, sharing). */
typedef struct seen_set {
  const void **slots;
  size_t cap, n;
} seen_set;

static int seen_add(seen_set *s, const void *p) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    const void **slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slots[i]) continue;
      size_t h = ((uintptr_t)s->slots[i] >> 4) & (cap - 1);
      while (slots[h]) h = (h + 1) & (cap - 1);
      slots[h] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  size_t h = ((uintptr_t)p >> 4) & (s->cap - 1);
  while (s->slots[h]) {
    if (s->slots[h] == p) return 0;
    h = (h + 1) & (s->cap - 1);
  }
  s->slots[h] = p;
  s->n++;
  return 1;
}

typedef struct encoder {
  lua_State *L;
  const luadata_limits *lim;
  seen_set seen;
  long entries;
  buf out;
  buf path;
  char *err;
  size_t errlen;
} encoder;

static int fail(encoder *e, const char *fmt, const char *detail) {
  char what[256];
  snprintf(what, sizeof what, fmt, detail);
  snprintf(e->err, e->errlen, "%s: %s", e->path.data, what);
  return -1;
}

/* Decimal digits of v into out (at least 24 bytes); returns the length. */
static size_t format_int(char *out, long long v) {
  char tmp[24];
  size_t n = 0;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) > 0);
  size_t len = 0;
  if (v < 0) out[len++] = '-';
  while (n) out[len++] = tmp[--n];
  return len;
}

static void put_int(buf *b, long long v) {
  char tmp[24];
  buf_add(b, tmp, format_int(tmp, v));
}

static void path_int(encoder *e, long long v) {
  buf_add(&e->path, "[", 1);
  put_int(&e->path, v);
  buf_add(&e->path, "]", 1);
}

static void path_str(encoder *e, const char *k, size_t n) {
  buf_add(&e->path, ".", 1);
  buf_add(&e->path, k, n > 60 ? 60 : n);
}

static void path_push_key(encoder *e, int kidx) {
  lua_State *L = e->L;
  if (lua_type(L, kidx) == LUA_TNUMBER && lua_isinteger(L, kidx)) {
    path_int(e, (long long)lua_tointeger(L, kidx));
  } else if (lua_type(L, kidx) == LUA_TSTRING) {
    size_t n;
    const char *k = lua_tolstring(L, kidx, &n);
    path_str(e, k, n);
  } else {
    buf_printf(&e->path, "[<%s key>]", luaL_typename(L, kidx));
  }
}

static void path_pop(encoder *e, size_t mark) {
  e->path.len = mark;
  e->path.data[mark] = 0;
}

enum { PUT_BAD_UTF8 = -1, PUT_TOO_LONG = -2 };

/* Appends s as a JSON string; PUT_BAD_UTF8 if it is not valid UTF-8,
 * PUT_TOO_LONG as soon as the buffer passes limit bytes (an escaped
 * control character takes six), so a long string costs the limit, not six
 * times its length. */
static int put_string(buf *b, const char *s, size_t n, size_t limit) {
  static const char hex[] = "0123456789abcdef";
  if (b->len + n + 2 > limit) return PUT_TOO_LONG;
  buf_add(b, "\"", 1);
  size_t i = 0, run = 0;
  while (i < n) {
    if (b->len + run > limit) return PUT_TOO_LONG;
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      run++;
      continue;
    }
    buf_add(b, s + i - run, run);
    run = 0;
    if (c >= 0x80) {
      size_t len = utf8_char(s + i, n - i, NULL);
      if (!len) return PUT_BAD_UTF8;
      buf_add(b, s + i, len);
      i += len;
      continue;
    }
    char esc[7] = {'\\', 0};
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
    }
    buf_puts(b, esc);
    i++;
  }
  buf_add(b, s + i - run, run);
  buf_add(b, "\"", 1);
  return b->len > limit ? PUT_TOO_LONG : 0;
}

/* The shortest decimal form that reads back as the same double, always
 * with a '.' or an exponent so it reads back as a float. */
static void put_real(buf *b, double d) {
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  buf_puts(b, tmp);
  if (!strpbrk(tmp, ".eE")) buf_puts(b, ".0");
}

static int encode_value(encoder *e, int idx, int depth);

static int fail_entries(encoder *e) {
  char lim[32];
  snprintf(lim, sizeof lim, "%ld", e->lim->max_entries);
  return fail(e, "more than %s values; store less", lim);
}

static int fail_bytes(encoder *e) {
  char lim[32];
  snprintf(lim, sizeof lim, "%zu", e->lim->max_bytes);
  return fail(e, "more than %s bytes encoded; store less", lim);
}

/* Values the encoding may still take (the entry limit less those seen). */
static lua_Integer entries_left(const encoder *e) {
  return e->entries >= e->lim->max_entries ? 0 : (lua_Integer)(e->lim->max_entries - e->entries);
}

/* 1 if the table at idx has exactly the keys 1..n, 0 if not, -1 if it has
 * more than max keys (then it stops counting: a table of millions of keys
 * costs the limit to refuse, not its size). */
static int is_sequence(lua_State *L, int idx, lua_Integer max_keys, lua_Integer *n) {
  lua_Integer count = 0, max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (count >= max_keys) {
      lua_pop(L, 1);
      return -1;
    }
    if (lua_type(L, -1) != LUA_TNUMBER || !lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1) {
      lua_pop(L, 1);
      return 0;
    }
    if (k > max) max = k;
    count++;
  }
  *n = count;
  return count > 0 && max == count;
}

/* One key of an object, as written ("#<n>" for integers, '#' doubled). */
typedef struct okey {
  const char *text; /* the Lua string itself, or owned */
  char *owned;
  size_t len;
  int is_int;
  lua_Integer i;
  const char *s;
  size_t slen;
} okey;

static int cmp_okey(const void *a, const void *b) {
  const okey *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->text, y->text, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int encode_object(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  size_t nkeys = 0, cap = 8;
  okey *keys = xmalloc(cap * sizeof *keys);
  int rc = 0;
  /* each key has a value: no more keys than values left to the limit */
  size_t max_keys = (size_t)entries_left(e);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (nkeys >= max_keys) {
      lua_pop(L, 1);
      rc = fail_entries(e);
      break;
    }
    okey k = {0};
    if (lua_type(L, -1) == LUA_TSTRING) {
      k.s = lua_tolstring(L, -1, &k.slen);
      if (k.slen + 3 > e->lim->max_bytes) { /* before copying or scanning it */
        path_push_key(e, lua_gettop(L));
        rc = fail_bytes(e);
      } else if (memchr(k.s, 0, k.slen)) {
        path_push_key(e, lua_gettop(L));
        rc = fail(e, "%s", "keys with NUL bytes cannot be stored");
      } else if (k.s[0] == '#') {
        k.text = k.owned = xasprintf("#%s", k.s);
        k.len = k.slen + 1;
      } else {
        k.text = k.s;
        k.len = k.slen;
      }
    } else if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1)) {
      k.is_int = 1;
      k.i = lua_tointeger(L, -1);
      k.owned = xmalloc(26);
      k.owned[0] = '#';
      k.len = 1 + format_int(k.owned + 1, (long long)k.i);
      k.text = k.owned;
    } else {
      path_push_key(e, lua_gettop(L));
      const char *t = luaL_typename(L, -1);
      rc = fail(e, "keys must be strings or integers, not %s",
                strcmp(t, "number") == 0 ? "non-integer numbers" : t);
    }
    if (rc) {
      lua_pop(L, 1);
      break;
    }
    if (nkeys == cap) keys = xrealloc(keys, (cap *= 2) * sizeof *keys);
    keys[nkeys++] = k;
  }
  if (rc == 0) {
    qsort(keys, nkeys, sizeof *keys, cmp_okey);
    size_t mark = e->path.len;
    buf_add(&e->out, "{", 1);
    for (size_t i = 0; i < nkeys && rc == 0; i++) {
      if (i) buf_add(&e->out, ",", 1);
      if (keys[i].is_int) {
        lua_pushinteger(L, keys[i].i);
        path_int(e, (long long)keys[i].i);
      } else {
        lua_pushlstring(L, keys[i].s, keys[i].slen);
        path_str(e, keys[i].s, keys[i].slen);
      }
      int put = put_string(&e->out, keys[i].text, keys[i].len, e->lim->max_bytes);
      if (put == PUT_TOO_LONG)
        rc = fail_bytes(e);
      else if (put)
        rc = fail(e, "%s", "keys must be valid UTF-8 text");
      buf_add(&e->out, ":", 1);
      lua_rawget(L, idx);
      if (rc == 0) rc = encode_value(e, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      if (rc == 0) path_pop(e, mark);
    }
    buf_add(&e->out, "}", 1);
  }
  for (size_t i = 0; i < nkeys; i++) free(keys[i].owned);
  free(keys);
  return rc;
}

static int encode_table(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth > e->lim->max_depth) {
    char lim[16];
    snprintf(lim, sizeof lim, "%d", e->lim->max_depth);
    return fail(e, "tables nested deeper than %s levels cannot be stored", lim);
  }
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    return fail(e, "a table with a metatable cannot be stored%s", "");
  }
  if (!seen_add(&e->seen, lua_topointer(L, idx)))
    return fail(e, "%s", "this table appears twice (a cycle or a shared "
                         "subtable); store a copy instead");
  if (!lua_checkstack(L, 8)) return fail(e, "%s", "too deeply nested");
  lua_Integer n;
  int seq = is_sequence(L, idx, entries_left(e), &n);
  if (seq < 0) return fail_entries(e);
  if (!seq) return encode_object(e, idx, depth);
  size_t mark = e->path.len;
  buf_add(&e->out, "[", 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) buf_add(&e->out, ",", 1);
    lua_rawgeti(L, idx, i);
    path_int(e, (long long)i);
    int rc = encode_value(e, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
    if (rc) return -1;
    path_pop(e, mark);
  }
  buf_add(&e->out, "]", 1);
  return 0;
}

static int encode_value(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  if (e->out.len > e->lim->max_bytes) return fail_bytes(e);
  if (++e->entries > e->lim->max_entries) return fail_entries(e);
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      buf_puts(&e->out, lua_toboolean(L, idx) ? "true" : "false");
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        put_int(&e->out, (long long)lua_tointeger(L, idx));
      } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
          return fail(e, "%s cannot be stored (only finite numbers)",
                      isnan(d) ? "NaN" : "infinity");
        put_real(&e->out, d);
      }
      return 0;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      if (n > e->lim->max_bytes) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", e->lim->max_bytes);
        return fail(e, "a string longer than the limit of %s bytes", lim);
      }
      int put = put_string(&e->out, s, n, e->lim->max_bytes);
      if (put == PUT_TOO_LONG) return fail_bytes(e);
      if (put) return fail(e, "%s", "strings must be valid UTF-8 text");
      return 0;
    }
    case LUA_TTABLE:
      return encode_table(e, idx, depth);
    default:
      return fail(e, "a %s cannot be stored (only strings, numbers, booleans "
                     "and tables of them)",
                  luaL_typename(L, idx));
  }
}

char *luadata_encode(lua_State *L, int idx, const char *label,
                     const luadata_limits *lim, char *err, size_t errlen) {
  idx = lua_absindex(L, idx);
  /* entries counts keys: the root value is not one */
  encoder e = {.L = L, .lim = lim, .entries = -1, .err = err, .errlen = errlen};
  buf_puts(&e.path, label);
  buf_add(&e.out, "", 0);
  int top = lua_gettop(L);
  int rc = encode_value(&e, idx, 1);
  lua_settop(L, top);
  if (rc == 0 && e.out.len > lim->max_bytes) {
    snprintf(err, errlen, "%s: %zu bytes encoded, more than the limit of %zu",
             label, e.out.len, lim->max_bytes);
    rc = -1;
  }
  free(e.seen.slots);
  buf_free(&e.path);
  if (rc) {
    buf_free(&e.out);
    return NULL;
  }
  return e.out.data;
}

size_t luadata_json_values(const char *json, size_t len) {
  size_t n = 1;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == ',' || c == '[' || c == '{') {
      n++;
    }
  }
  return n;
}

static int push_json(lua_State *L, json_t *v, int depth) {
  if (depth > 64 || !lua_checkstack(L, 4)) return -1;
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      lua_createtable(L, 0, (int)json_object_size(v));
      const char *k;
      json_t *val;
      json_object_foreach(v, k, val) {
        if (k[0] == '#' && k[1] == '#') {
          lua_pushstring(L, k + 1);
        } else if (k[0] == '#') {
          char *end;
          long long n = strtoll(k + 1, &end, 10);
          if (*end || end == k + 1) return -1;
          lua_pushinteger(L, (lua_Integer)n);
        } else {
          lua_pushstring(L, k);
        }
        if (push_json(L, val, depth + 1)) return -1;
        lua_rawset(L, -3);
      }
      return 0;
    }
    case JSON_ARRAY: {
      size_t n = json_array_size(v);
      lua_createtable(L, (int)n, 0);
      for (size_t i = 0; i < n; i++) {
        if (push_json(L, json_array_get(v, i), depth + 1)) return -1;
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      return 0;
    }
    case JSON_STRING:
      lua_pushlstring(L, json_string_value(v), json_string_length(v));
      return 0;
    case JSON_INTEGER:
      lua_pushinteger(L, (lua_Integer)json_integer_value(v));
      return 0;
    case JSON_REAL:
      lua_pushnumber(L, json_real_value(v));
      return 0;
    case JSON_TRUE:
      lua_pushboolean(L, 1);
      return 0;
    case JSON_FALSE:
      lua_pushboolean(L, 0);
      return 0;
    case JSON_NULL:
      lua_pushnil(L);
      return 0;
  }
  return -1;
}

/* Runs in protected mode so an allocation failure cannot leak the tree. */
static int decode_protected(lua_State *L) {
  json_t *root = lua_touserdata(L, 1);
  if (push_json(L, root, 0)) return luaL_error(L, "unexpected JSON shape");
  return 1;
}

int luadata_decode(lua_State *L, const char *json, size_t len, char *err,
                   size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!root) {
    snprintf(err, errlen, "stored data is not JSON: %s", jerr.text);
    return -1;
  }
  lua_pushcfunction(L, decode_protected);
  lua_pushlightuserdata(L, root);
  int rc = lua_pcall(L, 1, 1, 0);
  json_decref(root);
  if (rc != LUA_OK) {
    snprintf(err, errlen, "cannot load stored data: %s",
             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

/* 1 if v has more than max levels of objects and arrays (v itself is the
 * first). */
static int json_too_deep(json_t *v, int max) {
  if (!json_is_object(v) && !json_is_array(v)) return 0;
  if (max <= 0) return 1;
  const char *k;
  json_t *child;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach(v, k, child) if (json_too_deep(child, max - 1)) return 1;
  } else {
    json_array_foreach(v, i, child) if (json_too_deep(child, max - 1)) return 1;
  }
  return 0;
}

char *luadata_check_json(const char *json, size_t len, const char *label,
                         const luadata_limits *lim, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!root) {
    snprintf(err, errlen, "%s: not JSON: %s", label, jerr.text);
    return NULL;
  }
  int deep = json_too_deep(root, lim->max_depth);
  json_decref(root);
  if (deep) { /* before decoding, which refuses past 64 levels */
    snprintf(err, errlen, "%s: tables nested deeper than %d levels cannot be stored", label,
             lim->max_depth);
    return NULL;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(err, errlen, "%s: out of memory", label);
    return NULL;
  }
  char *out = NULL;
  if (luadata_decode(L, json, len, err, errlen) == 0)
    out = luadata_encode(L, -1, label, lim, err, errlen);
  else /* JSON, not too deep: a '#' key that is not the encoding's */
    snprintf(err, errlen, "%s: a key that starts with # must be # and an integer (\"#5\"); "
             "write ## for a key that starts with # (\"##x\")", label);
  lua_close(L);
  return out;
}
