/* luadata: Lua tables <-> JSON for everything a script persists.
 *
 * Persisted state must be data: booleans, integers, finite floats, UTF-8
 * strings and tables of those, keyed by strings or integers, with no
 * metatables, cycles or shared subtables, bounded in depth, entries and bytes.
 * Encoding is canonical (sorted keys), so two encodings of equal data compare
 * equal as strings. Integer keys outside a 1..n sequence are written as
 * "#<n>"; a string key that starts with '#' gets one more '#'. */
#ifndef PARLEY_LUADATA_H
#define PARLEY_LUADATA_H

#include <lua.h>
#include <stddef.h>

typedef struct luadata_limits {
  int max_depth;        /* nesting of tables, e.g. 16 */
  long max_entries;     /* all keys of all tables */
  size_t max_bytes;     /* of the encoded JSON */
} luadata_limits;

/* What each persisted value may hold (docs/api.md, "What can be stored"):
 * c.fields 16 KiB, c.state and c.tags 64 KiB, bot.store 1 MiB; 16 levels
 * of tables (the value itself is the first); 10,000 keys (bot.store
 * 100,000). Every path that writes one (a script, the admin API, a
 * transcript's setup) checks it against these. */
extern const luadata_limits LUADATA_FIELDS, LUADATA_STATE, LUADATA_TAGS, LUADATA_STORE;

/* The limits of the value a label names ("c.fields", "c.state", "c.tags",
 * "bot.store"), or NULL for another label. */
const luadata_limits *luadata_limits_of(const char *label);

/* Encodes the value at idx. On refusal returns NULL and writes one sentence
 * naming the offending key (e.g. "c.state.a[2]: ...") to err. Caller frees. */
char *luadata_encode(lua_State *L, int idx, const char *label,
                     const luadata_limits *lim, char *err, size_t errlen);

/* At least as many as the values (arrays, objects, strings, numbers,
 * booleans, nulls) of the JSON text: one more than its commas and brackets
 * outside strings. Decoding builds every value in the host before any goes
 * to Lua, so a caller can refuse a text too big for the memory it has. */
size_t luadata_json_values(const char *json, size_t len);

/* Pushes the value encoded in json (as written by luadata_encode). Returns 0,
 * or -1 with nothing pushed and a sentence in err. Never raises. */
int luadata_decode(lua_State *L, const char *json, size_t len, char *err,
                   size_t errlen);

/* Checks JSON data from outside a script (len bytes) by the rules and
 * limits luadata_encode applies to a script's: returns its canonical
 * encoding (caller frees), or NULL with a sentence naming the label (and
 * the offending key) in err. */
char *luadata_check_json(const char *json, size_t len, const char *label,
                         const luadata_limits *lim, char *err, size_t errlen);

#endif
