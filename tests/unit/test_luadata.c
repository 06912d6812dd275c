/* Unit tests for runtime/lua/luadata.h: Lua values <-> canonical JSON, and the
 * refusals (with the offending key's path) for what is not plain data.
 *
 *   make build/test_luadata && ./build/test_luadata */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <lualib.h>

#include "luadata.h"
#include "test.h"

static const luadata_limits default_limits = {
    .max_depth = 16, .max_entries = 10000, .max_bytes = 64 * 1024};

static lua_State *L;

/* deep_equal(a, b): same types (integer vs float too), same content. */
static const char *const lua_helpers =
    "function deep_equal(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    return math.type(a) == math.type(b) and a == b\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do\n"
    "    if not deep_equal(v, b[k]) then return false end\n"
    "  end\n"
    "  for k in pairs(b) do\n"
    "    if a[k] == nil then return false end\n"
    "  end\n"
    "  return true\n"
    "end\n";

/* Pushes the value `return <expr>` gives; exits if the test's Lua is bad. */
static void push_lua(const char *chunk) {
  if (luaL_dostring(L, chunk) != LUA_OK) {
    fprintf(stderr, "test Lua failed: %s\n%s\n", lua_tostring(L, -1), chunk);
    exit(2);
  }
}

static char *encode_top(const char *label, const luadata_limits *lim,
                        char *err, size_t errlen) {
  err[0] = 0;
  return luadata_encode(L, -1, label, lim, err, errlen);
}

/* Encodes `return <expr>`, decodes it, and checks the decoded value equals
 * the original and encodes to the same text. */
static void expect_round_trip(const char *what, const char *expr) {
  char chunk[4096], err[512];
  snprintf(chunk, sizeof chunk, "return %s", expr);
  int top = lua_gettop(L);
  push_lua(chunk);
  char *json = encode_top("v", &default_limits, err, sizeof err);
  if (!json) {
    test_result(0, "round trip: %s", what);
    test_note("encode refused %s: %s", expr, err);
    lua_settop(L, top);
    return;
  }
  if (luadata_decode(L, json, strlen(json), err, sizeof err) != 0) {
    test_result(0, "round trip: %s", what);
    test_note("decode of %s failed: %s", json, err);
    free(json);
    lua_settop(L, top);
    return;
  }
  lua_getglobal(L, "deep_equal");
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);
  int equal = lua_toboolean(L, -1);
  lua_pop(L, 1);
  char *again = encode_top("v", &default_limits, err, sizeof err);
  int ok = equal && again && strcmp(json, again) == 0;
  if (!test_result(ok, "round trip: %s", what))
    test_note("%s encoded as %s, decoded value %s, re-encoded as %s", expr,
              json, equal ? "equal" : "DIFFERENT", again ? again : err);
  free(json);
  free(again);
  lua_settop(L, top);
}

/* Encodes `return <expr>` and checks the exact JSON text. */
static void expect_json(const char *expr, const char *want) {
  char chunk[4096], err[512];
  snprintf(chunk, sizeof chunk, "return %s", expr);
  int top = lua_gettop(L);
  push_lua(chunk);
  char *json = encode_top("v", &default_limits, err, sizeof err);
  CHECK_STR(json ? json : err, want, "%s encodes as %s", expr, want);
  free(json);
  lua_settop(L, top);
}

/* Runs `chunk` (which returns the value) and checks encode refuses it with a
 * message that starts with `path` and contains `why`. */
static void expect_refusal_lim(const char *what, const char *chunk,
                               const luadata_limits *lim, const char *path,
                               const char *why) {
  char err[512];
  int top = lua_gettop(L);
  push_lua(chunk);
  char *json = encode_top("c.state", lim, err, sizeof err);
  int ok = json == NULL && strncmp(err, path, strlen(path)) == 0 &&
           strstr(err, why) != NULL;
  if (!test_result(ok, "refused: %s", what)) {
    if (json)
      test_note("expected a refusal, got %s", json);
    else
      test_note("expected \"%s...%s...\", got \"%s\"", path, why, err);
  }
  CHECK_INT(lua_gettop(L), top + 1, "encode leaves the Lua stack as it was (%s)",
            what);
  free(json);
  lua_settop(L, top);
}

static void expect_refusal(const char *what, const char *chunk,
                           const char *path, const char *why) {
  expect_refusal_lim(what, chunk, &default_limits, path, why);
}

static void expect_accepted_lim(const char *what, const char *chunk,
                                const luadata_limits *lim) {
  char err[512];
  int top = lua_gettop(L);
  push_lua(chunk);
  char *json = encode_top("c.state", lim, err, sizeof err);
  if (!test_result(json != NULL, "accepted: %s", what)) test_note("%s", err);
  free(json);
  lua_settop(L, top);
}

/* ---------------------------------------------------------------- tests */

static void test_round_trips(void) {
  expect_round_trip("an ASCII string", "'hello'");
  expect_round_trip("an empty string", "''");
  expect_round_trip("a UTF-8 string", "'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb8'");
  expect_round_trip("a string with a NUL byte", "'a\\0b'");
  expect_round_trip("a string with quotes and escapes", "'\"\\\\\\n\\t/'");
  expect_round_trip("zero", "0");
  expect_round_trip("a negative integer", "-42");
  expect_round_trip("math.maxinteger", "math.maxinteger");
  expect_round_trip("math.mininteger", "math.mininteger");
  expect_round_trip("the float 0.1", "0.1");
  expect_round_trip("the float 1e308", "1e308");
  expect_round_trip("the float -2.5e-300", "-2.5e-300");
  expect_round_trip("the float 1.0 (stays a float)", "1.0");
  expect_round_trip("the float 2^63 (stays a float)", "2.0^63");
  expect_round_trip("true", "true");
  expect_round_trip("false", "false");
  expect_round_trip("an empty table", "{}");
  expect_round_trip("a sequence", "{1, 'two', 3.0, false}");
  expect_round_trip("a map", "{a = 1, b = 'x', c = true}");
  expect_round_trip("nested tables", "{a = {b = {c = {1, {d = 'deep'}}}}}");
  expect_round_trip("a sequence with a hole (sparse)", "{1, nil, 3}");
  expect_round_trip("sparse integer keys", "{[1] = 'a', [1000000] = 'b'}");
  expect_round_trip("zero and negative integer keys",
                    "{[0] = 'zero', [-5] = 'neg', [math.mininteger] = 'min'}");
  expect_round_trip("a sequence with string keys too", "{10, 20, name = 'x'}");
  expect_round_trip("string keys starting with '#'",
                    "{['#tag'] = 1, ['#'] = 2, ['##x'] = 3, ['#5'] = 4, [5] = 5}");
  expect_round_trip("numeric-looking string keys", "{['1'] = 'one', [1] = 'uno'}");
  expect_round_trip("UTF-8 keys", "{['caf\xc3\xa9'] = 1}");
  expect_round_trip("a 16-deep nesting (the limit)",
                    "{{{{{{{{{{{{{{{{}}}}}}}}}}}}}}}}");
}

static void test_float_stays_float(void) {
  char err[512];
  int top = lua_gettop(L);
  push_lua("return {x = 1.0, y = 1}");
  char *json = encode_top("v", &default_limits, err, sizeof err);
  luadata_decode(L, json, strlen(json), err, sizeof err);
  lua_getfield(L, -1, "x");
  CHECK(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1),
        "1.0 decodes as a float (%s)", json);
  lua_getfield(L, -2, "y");
  CHECK(lua_isinteger(L, -1), "1 decodes as an integer (%s)", json);
  free(json);
  lua_settop(L, top);
}

static void test_exact_encodings(void) {
  expect_json("{}", "{}");
  expect_json("{3, 1, 2}", "[3,1,2]");
  expect_json("{b = 1, a = 2}", "{\"a\":2,\"b\":1}");
  expect_json("{[2] = 'x'}", "{\"#2\":\"x\"}");
  expect_json("{['#x'] = 1}", "{\"##x\":1}");
  expect_json("'x'", "\"x\"");
}

/* Equal data built in different orders encodes to the same string. */
static void test_canonical(void) {
  char err[512];
  int top = lua_gettop(L);
  push_lua("local t = {} for i = 1, 200 do t['k' .. i] = i end\n"
           "t.nested = {z = 1, a = 2}; t[-1] = 'neg'; t[7] = 'seven'\n"
           "return t");
  char *a = encode_top("v", &default_limits, err, sizeof err);
  push_lua("local t = {} t[7] = 'seven'; t[-1] = 'neg'\n"
           "local n = {} n.a = 2; n.z = 1; t.nested = n\n"
           "for i = 200, 1, -1 do t['k' .. i] = i end\n"
           "return t");
  char *b = encode_top("v", &default_limits, err, sizeof err);
  CHECK(a && b && strcmp(a, b) == 0,
        "tables with equal content built in different orders encode the same");
  /* a table that grew and shrank (different internal layout) */
  push_lua("local t = {} for i = 1, 1000 do t['x' .. i] = i end\n"
           "for i = 1, 1000 do t['x' .. i] = nil end\n"
           "t.b = 1; t.a = 2 return t");
  char *c = encode_top("v", &default_limits, err, sizeof err);
  CHECK_STR(c, "{\"a\":2,\"b\":1}", "a table that grew and shrank encodes canonically");
  free(a);
  free(b);
  free(c);
  lua_settop(L, top);
}

static void test_refusals_name_the_key(void) {
  expect_refusal("a function", "return {f = function() end}", "c.state.f:",
                 "function");
  expect_refusal("a coroutine", "return {co = coroutine.create(print)}",
                 "c.state.co:", "thread");
  expect_refusal("a nested function",
                 "return {a = {1, 2, {f = print}}}", "c.state.a[3].f:",
                 "function");
  expect_refusal("a cycle", "local t = {} t.self = t return t",
                 "c.state.self:", "appears twice");
  expect_refusal("a deeper cycle", "local t = {a = {b = {}}} t.a.b.up = t return t",
                 "c.state.a.b.up:", "appears twice");
  expect_refusal("NaN", "return {x = 0/0}", "c.state.x:", "NaN");
  expect_refusal("inf", "return {x = math.huge}", "c.state.x:", "infinity");
  expect_refusal("-inf", "return {list = {1, -math.huge}}", "c.state.list[2]:",
                 "infinity");
  expect_refusal("a float key", "return {[1.5] = true}", "c.state[",
                 "keys must be strings or integers");
  expect_refusal("a boolean key", "return {[true] = 1}", "c.state[",
                 "boolean");
  expect_refusal("a table key", "return {[{}] = 1}", "c.state[", "table");
  expect_refusal("a table with a metatable",
                 "return {m = setmetatable({}, {})}", "c.state.m:", "metatable");
  expect_refusal("a metatable on the root", "return setmetatable({}, {})",
                 "c.state:", "metatable");
  expect_refusal("an invalid UTF-8 string", "return {s = 'ab\\xff'}",
                 "c.state.s:", "UTF-8");
  expect_refusal("an invalid UTF-8 key", "return {['k\\xc3'] = 1}", "c.state.k",
                 "UTF-8");
  expect_refusal("a key with a NUL byte", "return {['a\\0b'] = 1}", "c.state.a",
                 "NUL");
}

/* Strings at the edges of UTF-8 (RFC 3629): the code points at each length's
 * bounds and around the surrogates round-trip; overlong forms, surrogates,
 * code points past U+10FFFF, bytes that never start a character and cut
 * sequences are refused. */
static void test_utf8_edges(void) {
  static const char *const valid[][2] = {
      {"U+0080", "'\\xc2\\x80'"},
      {"U+07FF", "'\\xdf\\xbf'"},
      {"U+0800", "'\\xe0\\xa0\\x80'"},
      {"U+D7FF", "'\\xed\\x9f\\xbf'"},
      {"U+E000", "'\\xee\\x80\\x80'"},
      {"U+FFFF", "'\\xef\\xbf\\xbf'"},
      {"U+10000", "'\\xf0\\x90\\x80\\x80'"},
      {"U+10FFFF", "'\\xf4\\x8f\\xbf\\xbf'"},
  };
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
    expect_round_trip(valid[i][0], valid[i][1]);
  static const char *const invalid[][2] = {
      {"an overlong 2-byte NUL", "\\xc0\\x80"},
      {"lead byte C1", "\\xc1\\xbf"},
      {"an overlong 3-byte form", "\\xe0\\x9f\\xbf"},
      {"an overlong 4-byte form", "\\xf0\\x8f\\xbf\\xbf"},
      {"U+D800", "\\xed\\xa0\\x80"},
      {"U+DFFF", "\\xed\\xbf\\xbf"},
      {"U+110000", "\\xf4\\x90\\x80\\x80"},
      {"lead byte F5", "\\xf5\\x80\\x80\\x80"},
      {"a 5-byte form", "\\xf8\\x88\\x80\\x80\\x80"},
      {"a stray continuation byte", "a\\x80"},
      {"a 3-byte character cut at the end", "\\xe2\\x82"},
      {"a 4-byte character cut by ASCII", "\\xf0\\x9f\\x8ea"},
  };
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    char chunk[128];
    snprintf(chunk, sizeof chunk, "return {s = 'ok %s'}", invalid[i][1]);
    expect_refusal(invalid[i][0], chunk, "c.state.s:", "UTF-8");
  }
}

/* A shared subtable is named under whichever key the encoder met second. */
static void test_shared_subtable_refused(void) {
  char err[512];
  int top = lua_gettop(L);
  push_lua("local s = {} return {a = s, b = s}");
  char *json = encode_top("c.state", &default_limits, err, sizeof err);
  CHECK(json == NULL && (strncmp(err, "c.state.a:", 10) == 0 ||
                         strncmp(err, "c.state.b:", 10) == 0) &&
            strstr(err, "appears twice"),
        "refused: a subtable shared by two keys (%s)", json ? json : err);
  free(json);
  lua_settop(L, top);
}

static void test_depth_limit(void) {
  luadata_limits lim = default_limits;
  lim.max_depth = 3;
  expect_accepted_lim("3 nested tables with max_depth 3", "return {{{}}}", &lim);
  expect_refusal_lim("4 nested tables with max_depth 3", "return {{{{}}}}", &lim,
                     "c.state[1][1][1]:", "deeper than 3");
  expect_refusal("17 nested tables with max_depth 16",
                 "local t = {} for i = 1, 16 do t = {x = t} end return t",
                 "c.state.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x:", "deeper than 16");
}

/* max_entries counts "all keys of all tables" (luadata.h). */
static void test_entries_limit(void) {
  luadata_limits lim = default_limits;
  lim.max_entries = 3;
  expect_accepted_lim("3 keys with max_entries 3", "return {1, 2, 3}", &lim);
  expect_accepted_lim("3 keys in nested tables with max_entries 3",
                      "return {a = {b = 1}, c = 2}", &lim);
  /* counted before the table is walked: the refusal names the table */
  expect_refusal_lim("4 keys with max_entries 3", "return {1, 2, 3, 4}", &lim,
                     "c.state:", "more than 3 values");
  expect_refusal_lim("4 keys in a nested table with max_entries 3",
                     "return {a = {x = 1, y = 2, z = 3}}", &lim, "c.state.a:",
                     "more than 3 values");
  lim.max_entries = 10000;
  expect_accepted_lim("10000 keys with max_entries 10000",
                      "local t = {} for i = 1, 10000 do t[i] = i end return t",
                      &lim);
  expect_refusal_lim("10001 keys with max_entries 10000",
                     "local t = {} for i = 1, 10001 do t[i] = i end return t",
                     &lim, "c.state", "more than 10000");
}

static void test_bytes_limit(void) {
  luadata_limits lim = default_limits;
  lim.max_bytes = 11; /* {"a":"xx"} is 10 bytes, {"a":"xxx"} 11 */
  expect_accepted_lim("11 bytes with max_bytes 11", "return {a = 'xxx'}", &lim);
  expect_refusal_lim("12 bytes with max_bytes 11", "return {a = 'xxxx'}", &lim,
                     "c.state", "12 bytes");
  /* checked before a key or a string is written, and while its escapes
   * (six bytes per control character) are: never more than the limit */
  lim.max_bytes = 100;
  expect_refusal_lim("a key longer than max_bytes", "return {[('k'):rep(200)] = 1}", &lim,
                     "c.state.kkk", "more than 100 bytes encoded");
  expect_refusal_lim("a key of control characters that passes max_bytes escaped",
                     "return {[('\\1'):rep(50)] = 1}", &lim, "c.state.",
                     "more than 100 bytes encoded");
  expect_refusal_lim("a string of control characters that passes max_bytes escaped",
                     "return {s = ('\\1'):rep(50)}", &lim, "c.state.s:",
                     "more than 100 bytes encoded");
}

/* A table of a million keys under a limit of ten: refused after counting
 * eleven (the encoder used to collect and sort them all first). */
static void test_many_keys_counted_not_collected(void) {
  luadata_limits lim = default_limits;
  lim.max_entries = 10;
  expect_refusal_lim("a million keys with max_entries 10",
                     "local t = {} for i = 1, 1000000 do t[2 * i] = i end return {big = t}",
                     &lim, "c.state.big:", "more than 10 values");
  expect_refusal_lim("a sequence of a million with max_entries 10",
                     "local t = {} for i = 1, 1000000 do t[i] = i end return {big = t}",
                     &lim, "c.state.big:", "more than 10 values");
}

/* An upper bound of the values, counted without parsing (strings skipped). */
static void test_json_values(void) {
  struct { const char *json; size_t at_least, at_most; } cases[] = {
      {"1", 1, 1},
      {"[1,2,3]", 4, 4},
      {"{\"a\":1,\"b\":[true,null]}", 5, 5},
      {"[[],[],[]]", 4, 7},
      {"[\"a,b,[c{\", \"\\\",\"]", 3, 3}, /* commas and brackets in strings */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = luadata_json_values(cases[i].json, strlen(cases[i].json));
    CHECK(n >= cases[i].at_least && n <= cases[i].at_most,
          "luadata_json_values(%s) = %zu, from %zu to %zu", cases[i].json, n,
          cases[i].at_least, cases[i].at_most);
  }
}

static void expect_decode_fails(const char *what, const char *json) {
  char err[256] = "";
  int top = lua_gettop(L);
  int rc = luadata_decode(L, json, strlen(json), err, sizeof err);
  CHECK(rc == -1 && lua_gettop(L) == top && err[0],
        "decode of %s returns -1, pushes nothing, says why", what);
  lua_settop(L, top);
}

static void test_decode_failures(void) {
  expect_decode_fails("an empty text", "");
  expect_decode_fails("a truncated object", "{\"a\":");
  expect_decode_fails("a truncated array", "[1,2");
  expect_decode_fails("a bare word", "nul");
  expect_decode_fails("trailing garbage", "{} x");
  expect_decode_fails("a '#' key that is no integer", "{\"#x\":1}");
  expect_decode_fails("a lone '#' key", "{\"#\":1}");
  char deep[400] = "";
  for (int i = 0; i < 100; i++) strcat(deep, "[");
  for (int i = 0; i < 100; i++) strcat(deep, "]");
  expect_decode_fails("100 nested arrays", deep);

  /* len is respected: only the first 2 bytes of "{}garbage" are read */
  char err[256];
  int top = lua_gettop(L);
  int rc = luadata_decode(L, "{}garbage", 2, err, sizeof err);
  CHECK(rc == 0 && lua_gettop(L) == top + 1 && lua_istable(L, -1),
        "decode reads only len bytes");
  lua_settop(L, top);
}

/* JSON from outside a script (the admin API, a transcript's @contact, an
 * event's data) is held to the rules and limits a script's data is. */
static void expect_json_refused(const char *what, const char *json, const luadata_limits *lim,
                                const char *part) {
  char err[256] = "";
  char *out = luadata_check_json(json, strlen(json), "c.fields", lim, err, sizeof err);
  CHECK(out == NULL, "JSON %s is refused", what);
  CHECK_HAS(err, part, "the refusal of %s says why", what);
  free(out);
}

static void test_check_json(void) {
  char err[256] = "";
  const char *plain = "{\"b\":1,\"a\":[true,\"x\"]}";
  char *out = luadata_check_json(plain, strlen(plain), "c.fields", &LUADATA_FIELDS, err,
                                 sizeof err);
  CHECK_STR(out, "{\"a\":[true,\"x\"],\"b\":1}", "JSON data comes back canonical");
  free(out);
  CHECK_INT(LUADATA_FIELDS.max_bytes, 16384, "c.fields: 16 KiB");
  CHECK_INT(LUADATA_FIELDS.max_depth, 16, "16 levels");
  CHECK_INT(LUADATA_STATE.max_bytes, 65536, "c.state: 64 KiB");
  CHECK_INT(LUADATA_TAGS.max_bytes, 65536, "c.tags: 64 KiB");
  CHECK_INT(LUADATA_STORE.max_bytes, 1048576, "bot.store: 1 MiB");
  size_t n = 900 * 1024;
  char *big = malloc(n + 16);
  memcpy(big, "{\"big\":\"", 8);
  memset(big + 8, 'x', n);
  memcpy(big + 8 + n, "\"}", 3);
  expect_json_refused("of 900 KB", big, &LUADATA_FIELDS, "longer than the limit of 16384");
  free(big);
  char deep[512] = "{";
  for (int i = 0; i < 30; i++) strcat(deep, "\"a\":{");
  for (int i = 0; i < 31; i++) strcat(deep, "}");
  expect_json_refused("nested 31 levels", deep, &LUADATA_FIELDS, "deeper than 16 levels");
  char deep16[512] = "{";
  for (int i = 0; i < 15; i++) strcat(deep16, "\"a\":{");
  for (int i = 0; i < 16; i++) strcat(deep16, "}");
  out = luadata_check_json(deep16, strlen(deep16), "c.fields", &LUADATA_FIELDS, err, sizeof err);
  CHECK(out != NULL, "JSON nested 16 levels is taken (%s)", err);
  free(out);
  char deep17[512] = "{";
  for (int i = 0; i < 16; i++) strcat(deep17, "\"a\":{");
  for (int i = 0; i < 17; i++) strcat(deep17, "}");
  expect_json_refused("nested 17 levels", deep17, &LUADATA_FIELDS, "deeper than 16 levels");
  char many[120000] = "[";
  for (int i = 0; i < 10001; i++) strcat(many, i ? ",1" : "1");
  strcat(many, "]");
  luadata_limits roomy = LUADATA_STORE;
  roomy.max_entries = 10000;
  expect_json_refused("of 10001 values", many, &roomy, "more than 10000 values");
  expect_json_refused("that is not JSON", "{", &LUADATA_FIELDS, "not JSON");
  expect_json_refused("with a key #x", "{\"a\":{\"#x\":1}}", &LUADATA_FIELDS,
                      "c.fields: a key that starts with # must be # and an integer");
  expect_json_refused("with a NUL in a key", "{\"a\\u0000b\":1}", &LUADATA_FIELDS,
                      "NUL");
}

int main(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, lua_helpers) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 2;
  }
  test_round_trips();
  test_float_stays_float();
  test_exact_encodings();
  test_canonical();
  test_refusals_name_the_key();
  test_utf8_edges();
  test_shared_subtable_refused();
  test_depth_limit();
  test_entries_limit();
  test_bytes_limit();
  test_many_keys_counted_not_collected();
  test_json_values();
  test_decode_failures();
  test_check_json();
  lua_close(L);
  return test_done();
}
