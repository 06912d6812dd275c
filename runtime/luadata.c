#include "luadata.h"

#include <jansson.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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

static void path_push_key(encoder *e, int kidx) {
  lua_State *L = e->L;
  if (lua_type(L, kidx) == LUA_TNUMBER && lua_isinteger(L, kidx)) {
    buf_printf(&e->path, "[%lld]", (long long)lua_tointeger(L, kidx));
  } else if (lua_type(L, kidx) == LUA_TSTRING) {
    size_t n;
    const char *k = lua_tolstring(L, kidx, &n);
    buf_printf(&e->path, ".%.*s", (int)(n > 60 ? 60 : n), k);
  } else {
    buf_printf(&e->path, "[<%s key>]", luaL_typename(L, kidx));
  }
}

static int encode_value(encoder *e, int idx, int depth, json_t **out);

/* True if the table at idx has exactly the keys 1..n. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n) {
  lua_Integer count = 0, max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
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

static int encode_table(encoder *e, int idx, int depth, json_t **out) {
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
  size_t mark = e->path.len;
  if (is_sequence(L, idx, &n)) {
    json_t *arr = json_array();
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      buf_printf(&e->path, "[%lld]", (long long)i);
      json_t *v;
      int rc = encode_value(e, lua_gettop(L), depth + 1, &v);
      lua_pop(L, 1);
      if (rc) {
        json_decref(arr);
        return -1;
      }
      e->path.len = mark;
      e->path.data[mark] = 0;
      json_array_append_new(arr, v);
    }
    *out = arr;
    return 0;
  }
  json_t *obj = json_object();
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kidx = lua_gettop(L) - 1;
    path_push_key(e, kidx);
    char keybuf[32];
    const char *key;
    char *owned = NULL;
    if (lua_type(L, kidx) == LUA_TSTRING) {
      size_t kl;
      const char *k = lua_tolstring(L, kidx, &kl);
      if (strlen(k) != kl) {
        lua_pop(L, 2);
        json_decref(obj);
        return fail(e, "%s", "keys with NUL bytes cannot be stored");
      }
      key = k[0] == '#' ? (owned = xasprintf("#%s", k)) : k;
    } else if (lua_type(L, kidx) == LUA_TNUMBER && lua_isinteger(L, kidx)) {
      snprintf(keybuf, sizeof keybuf, "#%lld", (long long)lua_tointeger(L, kidx));
      key = keybuf;
    } else {
      const char *t = luaL_typename(L, kidx);
      lua_pop(L, 2);
      json_decref(obj);
      return fail(e, "keys must be strings or integers, not %s",
                  strcmp(t, "number") == 0 ? "non-integer numbers" : t);
    }
    json_t *v;
    int rc = encode_value(e, lua_gettop(L), depth + 1, &v);
    if (rc == 0 && json_object_set_new(obj, key, v) != 0)
      rc = fail(e, "%s", "keys must be valid UTF-8");
    free(owned);
    if (rc) {
      lua_pop(L, 2);
      json_decref(obj);
      return -1;
    }
    e->path.len = mark;
    e->path.data[mark] = 0;
    lua_pop(L, 1);
  }
  *out = obj;
  return 0;
}

static int encode_value(encoder *e, int idx, int depth, json_t **out) {
  lua_State *L = e->L;
  if (++e->entries > e->lim->max_entries) {
    char lim[32];
    snprintf(lim, sizeof lim, "%ld", e->lim->max_entries);
    return fail(e, "more than %s values; store less", lim);
  }
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      *out = json_boolean(lua_toboolean(L, idx));
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        *out = json_integer((json_int_t)lua_tointeger(L, idx));
        return 0;
      } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
          return fail(e, "%s cannot be stored (only finite numbers)",
                      isnan(d) ? "NaN" : "infinity");
        *out = json_real(d);
        return 0;
      }
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      *out = json_stringn(s, n);
      if (!*out) return fail(e, "%s", "strings must be valid UTF-8 text");
      return 0;
    }
    case LUA_TTABLE:
      return encode_table(e, idx, depth, out);
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
  json_t *root = NULL;
  int top = lua_gettop(L);
  int rc = encode_value(&e, idx, 1, &root);
  lua_settop(L, top);
  char *out = NULL;
  if (rc == 0) {
    out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                               JSON_REAL_PRECISION(17));
    if (out && strlen(out) > lim->max_bytes) {
      snprintf(err, errlen, "%s: %zu bytes encoded, more than the limit of %zu",
               label, strlen(out), lim->max_bytes);
      free(out);
      out = NULL;
    }
  }
  json_decref(root);
  free(e.seen.slots);
  buf_free(&e.path);
  return out;
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
