/* chat_test: transcript tests in .chat files (`parley test` is cli/test.c).
 *
 *   # comment
 *   @bot ../path            the bot folder (default: the folder above tests/)
 *   @clock 2026-03-02 10:00 America/New_York
 *   @contact +15550002 tz=America/Chicago city=Austin tags=vip status=opted_out
 *   > +15550001 hi          a fan sends (the number may be left out after
 *                           the first time)
 *   < Hey!                  the bot sends exactly this (\n for a newline)
 *   < /regex/               ... or something matching this POSIX regex
 *   < +15550100 text        ... to another number
 *   < (nothing)             nothing was sent since the previous step
 *   ! /regex/               a handler failed with a matching error
 *   ~ 2h                    the simulated clock moves on
 *   ? contact("+15550001").fields.city == "Austin"    a Lua assertion
 *   @seed 42                math.random in later handlers is repeatable
 *   @channel whatsapp       later numbers are on that channel (whatsapp:+15550001)
 *   < Code {{code:[0-9]+}}  a capture (chat_capture.c); {{code}} in later lines
 *
 * Every message the bot sends and every handler error must be matched, in
 * order: an extra or a missing one fails the test. */
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "chat_capture.h"
#include "chat_explain.h"
#include "chat_test.h"
#include "contact_setup.h"
#include "clock.h"
#include "engine.h"
#include "http_mock.h"
#include "lua_api.h"
#include "sql_db.h"
#include "luadata.h"
#include "store.h"
#include "store_links.h"
#include "util.h"

static const int64_t DEFAULT_CLOCK = 1767614400000LL; /* 2026-01-05 12:00 UTC */

typedef struct output {
  int is_error;
  char *to, *text;
  int64_t at; /* the simulated time it was produced */
} output;

typedef struct run {
  const char *path;
  engine *e;
  char pg_name[64]; /* its database on chat_test_use_postgres's server, or "" */
  bot *b;
  int64_t now;
  char *fan;      /* the number of the last '>' */
  channel channel; /* @channel: the channel of numbers written without one */
  char *zone;     /* for @clock without a zone */
  output *out;    /* produced since the last settle */
  size_t nout, capout;
  int update;
  buf rewritten;
  int changed;
  char failure[2048];
  int failed_line;
  http_mocks *http; /* @http lines, and the requests handlers made */
  bot_env env;      /* @env lines: all the bot's bot.env */
  chat_captures *caps; /* {{name:regex}} in '<' lines, for later lines */
  int seed_pending;     /* an @seed before the bot started */
  int64_t seed;
} run;

static int64_t run_clock(void *ud) { return ((run *)ud)->now; }

static void push_output(run *r, int is_error, const char *to, const char *text) {
  if (r->nout == r->capout) {
    r->capout = r->capout ? r->capout * 2 : 16;
    r->out = xrealloc(r->out, r->capout * sizeof *r->out);
  }
  r->out[r->nout++] = (output){is_error, xstrdup(to ? to : ""), xstrdup(text),
                              r->e ? engine_observed_at(r->e) : r->now};
}

static void on_message(void *ud, const engine_message *m) { push_output(ud, 0, m->to, m->text); }

static void on_action(void *ud, const engine_action *a) {
  if (a->kind == ENGINE_ACTION_ERROR) push_output(ud, 1, a->number, a->detail);
}

static void clear_outputs(run *r) {
  for (size_t i = 0; i < r->nout; i++) {
    free(r->out[i].to);
    free(r->out[i].text);
  }
  r->nout = 0;
}

static int fail(run *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(run *r, int line, const char *fmt, ...) {
  if (r->failure[0]) return -1;
  va_list ap;
  va_start(ap, fmt);
  char msg[1900];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(r->failure, sizeof r->failure, "%s:%d: %s", r->path, line, msg);
  r->failed_line = line;
  return -1;
}

/* "\n" in a .chat line is a newline; "\\" a backslash. */
static char *unescape(const char *s) {
  buf b = {0};
  buf_add(&b, "", 0);
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] == 'n') {
      buf_add(&b, "\n", 1);
      s++;
    } else if (s[0] == '\\' && s[1] == '\\') {
      buf_add(&b, "\\", 1);
      s++;
    } else {
      buf_add(&b, s, 1);
    }
  }
  return b.data;
}

static char *escape(const char *s) {
  buf b = {0};
  buf_add(&b, "", 0);
  for (; *s; s++) {
    if (*s == '\n') buf_puts(&b, "\\n");
    else if (*s == '\\') buf_puts(&b, "\\\\");
    else buf_add(&b, s, 1);
  }
  return b.data;
}

/* A number (or another channel's address: whatsapp:+15550001) at s. */
static int is_number_token(const char *s, size_t *len) {
  size_t n = channel_address_len(s, 4);
  if (!n || s[n] == '\t') return 0;
  *len = n;
  return 1;
}

/* The address a number of a line names (n bytes at number): under
 * @channel, a number written without a channel's prefix is on that
 * channel (a Messenger or Instagram id is its digits). */
static char *address_of(const run *r, const char *number, size_t n) {
  if (r->channel == CHANNEL_SMS || channel_of(number) != CHANNEL_SMS)
    return xstrndup(number, n);
  int skip = !channel_has_number(r->channel) && *number == '+';
  return xasprintf("%s%.*s", channel_prefix(r->channel), (int)n - skip, number + skip);
}

/* ---------------------------------------------------------------- expectations */

typedef struct expect_line {
  int line;
  int is_error;
  char *raw;   /* the line as written */
  char *to;    /* NULL: any recipient */
  char *text;  /* unescaped, or the regex; as written if it uses captures */
  int is_regex, is_nothing, uses_captures;
} expect_line;

static int text_matches(const expect_line *x, const char *text, char *err,
                        size_t errlen) {
  if (!x->is_regex) return strcmp(x->text, text) == 0;
  regex_t re;
  int rc = regcomp(&re, x->text, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    regerror(rc, &re, err, errlen);
    return -1;
  }
  int m = regexec(&re, text, 0, NULL, 0) == 0;
  regfree(&re);
  return m;
}

static int output_matches(run *r, const expect_line *x, const output *o) {
  if (x->is_error != o->is_error) return 0;
  if (x->to && strcmp(x->to, o->to) != 0) return 0;
  char err[512];
  if (x->uses_captures) {
    int m = captures_match(r->caps, x->text, x->is_regex, o->text, err, sizeof err);
    if (m < 0) fail(r, x->line, "%s", err);
    return m > 0;
  }
  int m = text_matches(x, o->text, err, sizeof err);
  if (m < 0) {
    fail(r, x->line, "bad regex /%s/: %s", x->text, err);
    return 0;
  }
  return m;
}

static void write_output_line(run *r, const output *o) {
  char *t = escape(o->text);
  size_t n;
  int needs_to = (r->fan && strcmp(o->to, r->fan) != 0) || is_number_token(t, &n);
  if (o->is_error)
    buf_printf(&r->rewritten, "! %s\n", t);
  else if (needs_to)
    buf_printf(&r->rewritten, "< %s %s\n", o->to, t);
  else
    buf_printf(&r->rewritten, "< %s\n", t);
  free(t);
}

/* "to +15550002 at 2026-03-02 10:00 America/Chicago: text" (for an
 * error: "for +15550001 at ...: message"), the text as a .chat line writes
 * it; the time in the zone of the last @clock, with seconds when not 0. */
static char *describe_output(const run *r, const output *o) {
  char when[64];
  const char *zone = r->zone ? r->zone : "UTC";
  clock_format_local(o->at, zone, when, sizeof when);
  int64_t sec = (o->at / 1000) % 60;
  if (sec < 0) sec += 60;
  char secs[8] = "";
  if (sec) snprintf(secs, sizeof secs, ":%02d", (int)sec);
  char *t = escape(o->text);
  char *s = xasprintf("%s %s at %s%s %s: %s", o->is_error ? "for" : "to",
                      o->to[0] ? o->to : "(no contact)", when, secs, zone, t);
  free(t);
  return s;
}

/* Compares what was produced since the last step with the expectations
 * written for it; with --update, writes what was produced instead. */
static void settle(run *r, expect_line *xs, size_t nx, int line) {
  size_t oi = 0;
  int mismatch = 0;
  for (size_t i = 0; i < nx && !mismatch; i++) {
    expect_line *x = &xs[i];
    if (x->is_nothing) { /* nothing (more) was sent in this step */
      if (oi < r->nout) {
        mismatch = 1;
        char *what = describe_output(r, &r->out[oi]);
        fail(r, x->line, "expected nothing more, but %s %s",
             r->out[oi].is_error ? "a handler failed" : "the bot sent", what);
        free(what);
      }
      continue;
    }
    if (oi >= r->nout) {
      mismatch = 1;
      fail(r, x->line, "expected %s: %s\n#   but %s", x->is_error ? "an error" : "a message",
           x->raw, x->is_error ? "no handler failed" : "the bot sent nothing more");
      break;
    }
    output *o = &r->out[oi];
    if (!output_matches(r, x, o)) {
      mismatch = 1;
      char *shown = escape(o->text);
      char *used = x->uses_captures ? captures_describe(r->caps, x->text) : xstrdup("");
      fail(r, x->line, "expected: %s%s%s%s\n#   actual:   %s %s%s%s", x->raw,
           *used ? " (" : "", used, *used ? ")" : "", o->is_error ? "!" : "<",
           o->to[0] && x->to ? o->to : "", o->to[0] && x->to ? " " : "", shown);
      free(used);
      free(shown);
      break;
    }
    oi++;
  }
  if (!mismatch && oi < r->nout) {
    mismatch = 1;
    output *o = &r->out[oi];
    char *what = describe_output(r, o);
    fail(r, nx ? xs[nx - 1].line : line, "unexpected %s %s",
         o->is_error ? "handler error" : "message", what);
    free(what);
  }
  if (r->update) {
    if (mismatch) {
      r->changed = 1;
      for (size_t i = 0; i < r->nout; i++) write_output_line(r, &r->out[i]);
      int had_nothing = 0;
      for (size_t i = 0; i < nx; i++) had_nothing |= xs[i].is_nothing;
      if (r->nout == 0 && had_nothing) buf_puts(&r->rewritten, "< (nothing)\n");
    } else {
      for (size_t i = 0; i < nx; i++) buf_printf(&r->rewritten, "%s\n", xs[i].raw);
    }
    r->failure[0] = 0; /* --update keeps going */
  }
  clear_outputs(r);
}

/* ---------------------------------------------------------------- assertions */

typedef struct push_ctx {
  lua_State *L;
} push_ctx;

static void push_json_field(lua_State *L, const char *json, const char *name) {
  char err[256];
  if (!json || luadata_decode(L, json, strlen(json), err, sizeof err)) lua_newtable(L);
  lua_setfield(L, -2, name);
}

static void push_contact_row(lua_State *L, const contact_row *c) {
  lua_newtable(L);
  lua_pushstring(L, c->number);
  lua_setfield(L, -2, "number");
  lua_pushstring(L, c->status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, strcmp(c->status, "opted_out") == 0);
  lua_setfield(L, -2, "opted_out");
  push_json_field(L, c->fields, "fields");
  push_json_field(L, c->state, "state");
  lua_newtable(L);
  char err[256];
  if (c->tags && luadata_decode(L, c->tags, strlen(c->tags), err, sizeof err) == 0) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      lua_pushboolean(L, 1);
      lua_rawset(L, -4);
    }
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "tags");
  if (c->expect) {
    lua_pushstring(L, c->expect);
    lua_setfield(L, -2, "expect");
  }
  if (c->timezone) {
    lua_pushstring(L, c->timezone);
    lua_setfield(L, -2, "timezone");
  }
  if (c->handoff) /* { reason = ..., since = ms, by = who took it } */
    push_json_field(L, c->handoff, "handoff");
}

static int l_contact(lua_State *L) {
  run *r = lua_touserdata(L, lua_upvalueindex(1));
  const char *given = luaL_checkstring(L, 1);
  char *number = address_of(r, given, strlen(given));
  contact_row c = {0};
  int found = store_contact_get(engine_store(r->e), bot_id(r->b), number, &c);
  free(number);
  if (found <= 0) return 0;
  push_contact_row(L, &c);
  contact_row_free(&c);
  return 1;
}

/* Appends {names[0] = a, names[1] = b, names[2] = c, at = seconds} to the
 * list on top of the stack. */
static void add_row(lua_State *L, const char *const names[3], const char *a,
                    const char *b, const char *c, int64_t at) {
  const char *values[3] = {a, b, c};
  lua_createtable(L, 0, 4);
  for (int i = 0; i < 3; i++) {
    lua_pushstring(L, values[i] ? values[i] : "");
    lua_setfield(L, -2, names[i]);
  }
  lua_pushinteger(L, at / 1000);
  lua_setfield(L, -2, "at");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

static void add_message(void *ud, const char *dir, const char *text,
                        const char *status, int64_t at) {
  static const char *const names[3] = {"direction", "text", "status"};
  add_row(ud, names, dir, text, status, at);
}

static void add_consent(void *ud, const char *action, const char *source,
                        const char *text, int64_t at) {
  static const char *const names[3] = {"action", "source", "text"};
  add_row(ud, names, action, source, text, at);
}

static int with_contact_list(lua_State *L, int consent) {
  run *r = lua_touserdata(L, lua_upvalueindex(1));
  const char *number = luaL_checkstring(L, 1);
  contact_row c = {0};
  lua_newtable(L);
  if (store_contact_get(engine_store(r->e), bot_id(r->b), number, &c) > 0) {
    if (consent)
      store_consent_each(engine_store(r->e), c.id, add_consent, L);
    else
      store_messages_each(engine_store(r->e), c.id, add_message, L);
    contact_row_free(&c);
  }
  return 1;
}

static int l_messages(lua_State *L) { return with_contact_list(L, 0); }

/* broadcast(id) -> { status, sent, held, suppressed, failed } */
static int l_broadcast(lua_State *L) {
  run *r = lua_touserdata(L, lua_upvalueindex(1));
  broadcast_row b = {0};
  if (store_broadcast_get(engine_store(r->e), bot_id(r->b), luaL_checkinteger(L, 1), &b) <= 0)
    return 0;
  lua_api_push_broadcast(L, &b);
  broadcast_row_free(&b);
  return 1;
}
static int l_consent(lua_State *L) { return with_contact_list(L, 1); }

static void add_click(void *ud, const click_row *k) {
  lua_State *L = ud;
  lua_createtable(L, 0, 5);
  lua_pushstring(L, k->url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, k->user_agent);
  lua_setfield(L, -2, "user_agent");
  lua_pushboolean(L, k->is_bot);
  lua_setfield(L, -2, "bot");
  lua_pushinteger(L, k->message_id);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, k->at / 1000);
  lua_setfield(L, -2, "at");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* clicks(number) -> the contact's clicks on tracked links, the newest
 * first: { url, user_agent, bot, message, at } */
static int l_clicks(lua_State *L) {
  run *r = lua_touserdata(L, lua_upvalueindex(1));
  const char *given = luaL_checkstring(L, 1);
  char *number = address_of(r, given, strlen(given));
  contact_row c = {0};
  lua_newtable(L);
  if (store_contact_get(engine_store(r->e), bot_id(r->b), number, &c) > 0) {
    store_clicks_each(engine_store(r->e), bot_id(r->b), NULL, c.id, 0, 1000, add_click, L);
    contact_row_free(&c);
  }
  free(number);
  return 1;
}

static int assertion(run *r, int line, const char *expr) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  static const luaL_Reg lookups[] = {{"contact", l_contact},
                                     {"messages", l_messages},
                                     {"consent", l_consent},
                                     {"broadcast", l_broadcast},
                                     {"clicks", l_clicks}};
  for (size_t i = 0; i < sizeof lookups / sizeof *lookups; i++) {
    lua_pushlightuserdata(L, r);
    lua_pushcclosure(L, lookups[i].func, 1);
    lua_setglobal(L, lookups[i].name);
  }
  size_t nlog;
  const http_logged *log = http_mocks_log(r->http, &nlog);
  lua_createtable(L, (int)nlog, 0);
  for (size_t i = 0; i < nlog; i++) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, log[i].method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, log[i].url);
    lua_setfield(L, -2, "url");
    if (log[i].body) {
      lua_pushstring(L, log[i].body);
      lua_setfield(L, -2, "body");
    }
    push_json_field(L, log[i].headers_json, "headers");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setglobal(L, "http_requests");
  char *store_json = store_bot_store_get(engine_store(r->e), bot_id(r->b), NULL);
  char err[256];
  if (luadata_decode(L, store_json, strlen(store_json), err, sizeof err)) lua_newtable(L);
  free(store_json);
  lua_setglobal(L, "store");
  char *code = xasprintf("return (%s)", expr);
  int rc = luaL_loadbuffer(L, code, strlen(code), "=assertion");
  int is_expression = rc == LUA_OK;
  free(code);
  if (rc != LUA_OK) {
    lua_pop(L, 1);
    rc = luaL_loadbuffer(L, expr, strlen(expr), "=assertion");
  }
  int ok = 0;
  if (rc == LUA_OK && lua_pcall(L, 0, LUA_MULTRET, 0) == LUA_OK) {
    /* an expression must be true; a statement form passes unless it errs */
    ok = lua_gettop(L) == 0 || lua_toboolean(L, 1);
    char *why = !ok && is_expression ? chat_explain(L, expr) : NULL;
    if (!ok) fail(r, line, "assertion failed: %s%s%s", expr, why ? "\n#   " : "", why ? why : "");
    free(why);
  } else {
    fail(r, line, "assertion error: %s (%s)", expr,
         lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
  }
  lua_close(L);
  return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- setup lines */

/* @contact NUMBER {"status", "fields", "tags", "timezone", "state",
 * "expect", "joined"}: the whole contact as JSON, as `parley pull` writes
 * it (each key optional). */
static int setup_contact_json(run *r, int line, const char *address, const char *text) {
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  const char *key;
  json_t *v;
  const char *bad = !json_is_object(o) ? "the JSON form is one object" : NULL;
  json_object_foreach(o, key, v) {
    if (bad) break;
    if (strcmp(key, "status") == 0 || strcmp(key, "timezone") == 0 ||
        strcmp(key, "expect") == 0)
      bad = json_is_string(v) || json_is_null(v) ? NULL : "status, timezone and expect are strings";
    else if (strcmp(key, "fields") == 0 || strcmp(key, "state") == 0)
      bad = json_is_object(v) ? NULL : "fields and state are objects";
    else if (strcmp(key, "tags") == 0)
      bad = json_is_array(v) ? NULL : "tags is a list of names";
    else if (strcmp(key, "joined") == 0)
      bad = json_is_boolean(v) ? NULL : "joined is true or false";
    else
      bad = "unknown key";
    if (bad && strcmp(bad, "unknown key") == 0) {
      int rc = fail(r, line, "@contact: unknown key '%s' (known: status, fields, tags, timezone, "
                             "state, expect, joined)", key);
      json_decref(o);
      return rc;
    }
  }
  if (bad) {
    json_decref(o);
    return fail(r, line, "@contact: %s%s%s", bad, o ? "" : ": ", o ? "" : jerr.text);
  }
  char *fields = json_object_get(o, "fields") ? json_dumps(json_object_get(o, "fields"), JSON_COMPACT) : NULL;
  char *tags = json_object_get(o, "tags") ? json_dumps(json_object_get(o, "tags"), JSON_COMPACT) : NULL;
  char *state = json_object_get(o, "state") ? json_dumps(json_object_get(o, "state"), JSON_COMPACT) : NULL;
  char err[1024];
  int rc = engine_set_contact(r->e, r->b, address,
                              json_string_value(json_object_get(o, "status")), fields, tags,
                              json_string_value(json_object_get(o, "timezone")), err, sizeof err);
  if (!rc && (state || json_object_get(o, "expect") || json_object_get(o, "joined")))
    rc = engine_set_conversation(r->e, r->b, address, state,
                                 json_string_value(json_object_get(o, "expect")),
                                 json_is_true(json_object_get(o, "joined")), err, sizeof err);
  free(fields);
  free(tags);
  free(state);
  json_decref(o);
  if (rc) return fail(r, line, "@contact: %s", err);
  return 0;
}

static int setup_contact(run *r, int line, char *args) {
  char *save = NULL;
  char *number = strtok_r(args, " \t", &save);
  size_t n;
  if (!number || !is_number_token(number, &n))
    return fail(r, line, "@contact needs a number like +15550001, got '%s'",
                number ? number : "");
  while (save && (*save == ' ' || *save == '\t')) save++;
  if (save && *save == '{') {
    char *address = address_of(r, number, n);
    int rc = setup_contact_json(r, line, address, save);
    free(address);
    return rc;
  }
  contact_setup cs;
  char err[1024];
  if (contact_setup_read(save, &cs, err, sizeof err))
    return fail(r, line, "@contact: %s", err);
  char *address = address_of(r, number, n);
  int rc = engine_set_contact(r->e, r->b, address, cs.status, cs.fields_json, cs.tags_json,
                              cs.tz, err, sizeof err);
  free(address);
  contact_setup_free(&cs);
  if (rc) return fail(r, line, "@contact: %s", err);
  return 0;
}

/* ---------------------------------------------------------------- running a file */

static char *default_bot_dir(const char *path) {
  /* <bot>/tests/<name>.chat -> <bot> */
  char *copy = xstrdup(path);
  char *slash = strrchr(copy, '/');
  if (!slash) {
    free(copy);
    return xstrdup("..");
  }
  *slash = 0;
  slash = strrchr(copy, '/');
  const char *last = slash ? slash + 1 : copy;
  if (strcmp(last, "tests") == 0) {
    if (slash) {
      *slash = 0;
    } else {
      free(copy);
      return xstrdup(".");
    }
    return copy;
  }
  return copy;
}

/* Answers the requests the step's handlers made from the @http lines; a
 * request none of them answers fails the test. */
static void answer_http(run *r, int line) {
  char err[1024];
  if (http_mocks_answer(r->http, r->e, err, sizeof err))
    fail(r, line, "the engine failed: %s", err);
  char *missing = http_mocks_unmatched(r->http);
  if (missing)
    fail(r, line, "a handler requested %s and no @http line answers it (add one before this "
                  "line, like @http %s -> 200 {\"ok\": true})", missing, missing);
  free(missing);
}

/* A transcript's bot sees only its @env lines, whatever the config or the
 * environment hold: it passes the same on a laptop and in a server's gate. */
static int transcript_env(void *ud, const char *bot, const char *dir, bot_env *out,
                          char *err, size_t errlen) {
  (void)bot, (void)dir, (void)err, (void)errlen;
  bot_env_merge(out, &((run *)ud)->env);
  return 0;
}

/* chat_test_use_postgres's server, and the databases made on it so far */
static char *pg_server;
static unsigned pg_databases;

void chat_test_use_postgres(const char *url) {
  free(pg_server);
  pg_server = url ? xstrdup(url) : NULL;
}

/* A new database on the server for r (its URL, caller frees), or NULL. */
static char *new_database(run *r, char *err, size_t errlen) {
  snprintf(r->pg_name, sizeof r->pg_name, "parley_chat_%ld_%u", (long)getpid(),
           ++pg_databases);
  char url[640];
  if (sql_fresh_database(pg_server, r->pg_name, 0, url, sizeof url, err, errlen)) return NULL;
  return xstrdup(url);
}

static void drop_database(run *r) {
  if (!r->pg_name[0]) return;
  char err[512];
  sql_fresh_database(pg_server, r->pg_name, 1, NULL, 0, err, sizeof err);
  r->pg_name[0] = 0;
}

static int start_engine(run *r, const char *botdir, int line) {
  engine_observer obs = {on_message, on_action, r, NULL, 0};
  char err[4096];
  char *url = NULL;
  if (pg_server && !(url = new_database(r, err, sizeof err)))
    return fail(r, line, "a database for the transcript: %s", err);
  engine_options opt = {.db_path = url ? url : ":memory:", .clock = run_clock,
                        .clock_ud = r, .observer = &obs,
                        .bot_env = transcript_env, .bot_env_ud = r};
  r->e = engine_open(&opt, err, sizeof err);
  free(url);
  if (!r->e) return fail(r, line, "%s", err);
  engine_on_http(r->e, http_mocks_start, r->http);
  r->b = engine_load_bot(r->e, botdir, err, sizeof err);
  if (!r->b) return fail(r, line, "cannot load the bot: %s", err);
  if (r->seed_pending) engine_seed_random(r->e, r->b, r->seed);
  return 0;
}

/* @seed 42: math.random in the handlers from here on is repeatable. */
static int setup_seed(run *r, int line, const char *arg) {
  while (*arg == ' ' || *arg == '\t') arg++;
  char *end;
  errno = 0;
  long long seed = strtoll(arg, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  if (!*arg || *end || errno == ERANGE)
    return fail(r, line, "@seed needs a whole number, like @seed 42; got '%s'", arg);
  if (r->b) {
    engine_seed_random(r->e, r->b, (int64_t)seed);
  } else { /* the bot starts later (after an @clock, say) */
    r->seed_pending = 1;
    r->seed = (int64_t)seed;
  }
  return 0;
}

typedef struct lines {
  char **v;
  size_t n;
} lines;

static lines split_lines(char *text) {
  lines ls = {0};
  size_t cap = 0;
  char *p = text;
  while (*p) {
    char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len && p[len - 1] == '\r') len--;
    if (ls.n == cap) {
      cap = cap ? cap * 2 : 64;
      ls.v = xrealloc(ls.v, cap * sizeof *ls.v);
    }
    ls.v[ls.n++] = xstrndup(p, len);
    if (!nl) break;
    p = nl + 1;
  }
  return ls;
}

static void free_expects(expect_line *xs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(xs[i].raw);
    free(xs[i].to);
    free(xs[i].text);
  }
}

static int parse_expect(run *r, int line, const char *raw, expect_line *x) {
  *x = (expect_line){.line = line, .is_error = raw[0] == '!', .raw = xstrdup(raw)};
  const char *p = raw + 1;
  while (*p == ' ' || *p == '\t') p++;
  size_t n;
  if (!x->is_error && is_number_token(p, &n)) {
    x->to = address_of(r, p, n);
    p += n;
    while (*p == ' ') p++;
  }
  size_t len = strlen(p);
  if (strcmp(p, "(nothing)") == 0) {
    if (x->is_error) return fail(r, line, "'! (nothing)' is not a thing; use '< (nothing)'");
    x->is_nothing = 1;
    x->text = xstrdup("");
  } else if (len >= 2 && p[0] == '/' && p[len - 1] == '/') {
    x->is_regex = 1;
    x->text = xstrndup(p + 1, len - 2);
    x->uses_captures = captures_in(x->text);
  } else if (captures_in(p)) {
    x->uses_captures = 1;
    x->text = xstrdup(p);
  } else if (len == 0) {
    return fail(r, line, "an empty expectation; write the text the bot sends, "
                         "/regex/, or (nothing)");
  } else {
    x->text = unescape(p);
  }
  return 0;
}

int chat_test_file(const char *path, int update, char *failure, size_t flen) {
  size_t size;
  char *text = read_file(path, &size);
  if (!text) {
    snprintf(failure, flen, "%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  lines ls = split_lines(text);
  free(text);
  run r = {.path = path, .now = DEFAULT_CLOCK, .update = update, .http = http_mocks_new(),
         .caps = captures_new()};
  char *botdir = default_bot_dir(path);
  expect_line *xs = xcalloc(ls.n + 1, sizeof *xs);
  size_t nx = 0;
  buf held = {0}; /* comments inside an expectation block, written after it */

  for (size_t i = 0; i <= ls.n && !r.failure[0]; i++) {
    int line = (int)i + 1;
    const char *l = i < ls.n ? ls.v[i] : NULL;
    while (l && (*l == ' ' || *l == '\t')) l++;
    if (l && (*l == '<' || *l == '!')) {
      if (!r.e && start_engine(&r, botdir, line)) break;
      parse_expect(&r, line, l, &xs[nx++]);
      continue;
    }
    if (l && (*l == 0 || *l == '#')) {
      if (nx) buf_printf(&held, "%s\n", ls.v[i]);
      else if (update) buf_printf(&r.rewritten, "%s\n", ls.v[i]);
      continue;
    }
    /* any other line (or the end) closes the previous step */
    if (r.e) settle(&r, xs, nx, line);
    free_expects(xs, nx);
    nx = 0;
    if (held.len) {
      if (update) buf_add(&r.rewritten, held.data, held.len);
      held.len = 0;
    }
    if (!l || r.failure[0]) break;
    if (update) buf_printf(&r.rewritten, "%s\n", ls.v[i]);
    char cmd = *l;
    const char *arg = l + 1;
    while (*arg == ' ' || *arg == '\t') arg++;
    if (cmd == '@') {
      if (strncmp(arg, "bot ", 4) == 0 || strncmp(l, "@bot ", 5) == 0) {
        const char *dir = l + 5;
        while (*dir == ' ') dir++;
        if (r.e) {
          fail(&r, line, "@bot must come before the first message");
          break;
        }
        free(botdir);
        /* relative to the .chat file's folder */
        char *base = xstrdup(path);
        char *slash = strrchr(base, '/');
        if (slash) *slash = 0;
        botdir = dir[0] == '/' || !slash ? xstrdup(dir) : xasprintf("%s/%s", base, dir);
        free(base);
      } else if (strncmp(l, "@env", 4) == 0 && (l[4] == ' ' || l[4] == '\t' || !l[4])) {
        /* @env NAME=value: the rest of the line is the value, as written */
        if (r.e) {
          fail(&r, line, "@env must come before the bot starts (the first message, @clock, "
                         "@contact or @event line)");
          break;
        }
        const char *assign = l + 4;
        while (*assign == ' ' || *assign == '\t') assign++;
        char err[256];
        if (bot_env_assign(&r.env, assign, err, sizeof err)) {
          fail(&r, line, "@env: %s", err);
          break;
        }
      } else if (strncmp(l, "@clock ", 7) == 0) {
        char dt[64] = "", zone[128] = "";
        int n = sscanf(l + 7, "%63s %*s %127s", dt, zone);
        char date_time[80];
        char tpart[16] = "";
        sscanf(l + 7, "%*s %15s", tpart);
        snprintf(date_time, sizeof date_time, "%s %s", dt, tpart);
        if (n < 2) snprintf(zone, sizeof zone, "%s", r.zone ? r.zone : "UTC");
        char err[256];
        if (clock_parse_local(date_time, zone, &r.now, err, sizeof err)) {
          fail(&r, line, "@clock: %s", err);
          break;
        }
        free(r.zone);
        r.zone = xstrdup(zone);
        /* the bot starts at the test's time (its schedules count from it) */
        if (!r.e && start_engine(&r, botdir, line)) break;
      } else if (strncmp(l, "@event ", 7) == 0) {
        /* @event +15550001 order.paid {"order_id": "A1"} */
        if (!r.e && start_engine(&r, botdir, line)) break;
        char number[32] = "", type[128] = "";
        int used = 0;
        size_t nl;
        if (sscanf(l + 7, "%31s %127s %n", number, type, &used) < 2 ||
            !is_number_token(number, &nl)) {
          fail(&r, line, "@event needs a number, a type and optional JSON data, like "
                         "@event +15550001 order.paid {\"order_id\": \"A1\"}");
          break;
        }
        const char *data = l + 7 + used;
        json_error_t jerr;
        json_t *check = *data ? json_loads(data, 0, &jerr) : json_object();
        if (!json_is_object(check)) {
          json_decref(check);
          fail(&r, line, "@event: the data is not a JSON object: %s", data);
          break;
        }
        json_decref(check);
        char err[1024], *event_data = NULL; /* as the HTTP API takes it */
        if (engine_event_check(type, *data ? data : NULL, &event_data, err, sizeof err)) {
          fail(&r, line, "@event: %s", err);
          break;
        }
        free(r.fan);
        r.fan = address_of(&r, number, nl);
        inbound in = {.from = r.fan, .event_type = type, .event_data = event_data};
        if (engine_handle(r.e, r.b, &in, 1, err, sizeof err))
          fail(&r, line, "the engine failed: %s", err);
        free(event_data);
        answer_http(&r, line);
      } else if (strncmp(l, "@handback ", 10) == 0) {
        /* @handback +15550001 [a note]: a person hands the conversation back */
        if (!r.e && start_engine(&r, botdir, line)) break;
        char number[32] = "";
        int used = 0;
        size_t nl;
        if (sscanf(l + 10, "%31s %n", number, &used) < 1 || !is_number_token(number, &nl)) {
          fail(&r, line, "@handback needs a number and an optional note, like "
                         "@handback +15550001 sorted out the refund");
          break;
        }
        json_t *o = json_pack("{s:s, s:s}", "who", "a person", "text", l + 10 + used);
        char *data = json_dumps(o, JSON_COMPACT), err[1024];
        json_decref(o);
        free(r.fan);
        r.fan = address_of(&r, number, nl);
        inbound in = {.from = r.fan, .event_type = ENGINE_CONSOLE_EVENT_PREFIX "handback",
                      .event_data = data};
        if (engine_handle(r.e, r.b, &in, 1, err, sizeof err))
          fail(&r, line, "the engine failed: %s", err);
        free(data);
        answer_http(&r, line);
      } else if (strncmp(l, "@click ", 7) == 0) {
        /* @click +15550001 https://shop.example/presale [user agent]: the
         * contact opens the newest link to that URL it was sent */
        if (!r.e && start_engine(&r, botdir, line)) break;
        char number[32] = "", url[2100] = "";
        int used = 0;
        size_t nl;
        if (sscanf(l + 7, "%31s %2099s %n", number, url, &used) < 2 ||
            !is_number_token(number, &nl)) {
          fail(&r, line, "@click needs a number, a link's URL and an optional user agent, like "
                         "@click +15550001 https://shop.example/presale");
          break;
        }
        const char *agent = *(l + 7 + used) ? l + 7 + used : ENGINE_PHONE_AGENT;
        free(r.fan);
        r.fan = address_of(&r, number, nl);
        char err[1024];
        int found = engine_click(r.e, r.b, r.fan, url, agent, err, sizeof err);
        if (found < 0) fail(&r, line, "the engine failed: %s", err);
        else if (!found) fail(&r, line, "@click: %s was sent no link to %s", r.fan, url);
        answer_http(&r, line);
      } else if (strncmp(l, "@http ", 6) == 0) {
        char err[1024];
        if (http_mocks_add(r.http, l + 6, err, sizeof err)) fail(&r, line, "@http: %s", err);
      } else if (strncmp(l, "@seed", 5) == 0 && (l[5] == ' ' || l[5] == '\t' || !l[5])) {
        setup_seed(&r, line, l + 5);
      } else if (strncmp(l, "@channel ", 9) == 0) {
        const char *name = l + 9;
        while (*name == ' ' || *name == '\t') name++;
        int ch = channel_named(name);
        if (ch < 0) {
          fail(&r, line, "@channel must be sms, whatsapp, messenger or instagram, got '%s'", name);
          break;
        }
        r.channel = (channel)ch;
      } else if (strncmp(l, "@contact ", 9) == 0) {
        if (!r.e && start_engine(&r, botdir, line)) break;
        char *args = xstrdup(l + 9);
        setup_contact(&r, line, args);
        free(args);
      } else {
        fail(&r, line,
             "unknown setup line '%s' (known: @bot, @channel, @click, @clock, @contact, @env, "
             "@event, @handback, @http, @seed)",
             l);
      }
    } else if (cmd == '>') {
      if (!r.e && start_engine(&r, botdir, line)) break;
      size_t n;
      if (is_number_token(arg, &n)) {
        free(r.fan);
        r.fan = address_of(&r, arg, n);
        arg += n;
        while (*arg == ' ') arg++;
      } else if (!r.fan) {
        r.fan = address_of(&r, "+15550001", 9);
      }
      char err[1024];
      char *msg = captures_expand_text(r.caps, arg, err, sizeof err);
      if (!msg) {
        fail(&r, line, "%s", err);
        break;
      }
      inbound in = {.from = r.fan, .text = msg, .len = strlen(msg)};
      if (engine_handle(r.e, r.b, &in, 1, err, sizeof err))
        fail(&r, line, "the engine failed: %s", err);
      free(msg);
      answer_http(&r, line);
    } else if (cmd == '~') {
      if (!r.e && start_engine(&r, botdir, line)) break;
      int64_t d = clock_parse_duration(arg);
      if (d < 0) {
        fail(&r, line, "'%s' is not a duration like 90s, 15m, 2h, 3d, 1w", arg);
        break;
      }
      if (r.now + d > CLOCK_MAX_SECONDS * 1000) {
        fail(&r, line, "~ %s would move the clock past the end of 9999", arg);
        break;
      }
      char err[1024];
      if (http_mocks_advance(r.http, r.e, r.now + d, err, sizeof err))
        fail(&r, line, "the engine failed: %s", err);
      answer_http(&r, line); /* reports a request no @http line answered */
      r.now += d;
    } else if (cmd == '?') {
      if (!r.e && start_engine(&r, botdir, line)) break;
      char err[1024];
      char *expr = captures_expand_lua(r.caps, arg, err, sizeof err);
      if (!expr) {
        fail(&r, line, "%s", err);
        break;
      }
      assertion(&r, line, expr);
      free(expr);
    } else {
      fail(&r, line, "cannot read this line: it should start with >, <, !, ~, ?, @ or #");
    }
  }
  free_expects(xs, nx);
  free(xs);
  buf_free(&held);
  int failed = r.failure[0] != 0;
  if (failed && update)
    snprintf(failure, flen,
             "%s\n#   not updated: line %d failed, and --update rewrites only '<' and '!' "
             "lines; fix it and run --update again",
             r.failure, r.failed_line);
  else if (failed)
    snprintf(failure, flen, "%s", r.failure);
  if (update && !failed && r.changed) {
    FILE *f = fopen(path, "w");
    if (!f || fwrite(r.rewritten.data, 1, r.rewritten.len, f) != r.rewritten.len) {
      snprintf(failure, flen, "%s: cannot write: %s", path, strerror(errno));
      failed = 1;
    }
    if (f) fclose(f);
  }
  clear_outputs(&r);
  free(r.out);
  buf_free(&r.rewritten);
  for (size_t i = 0; i < ls.n; i++) free(ls.v[i]);
  free(ls.v);
  free(botdir);
  free(r.fan);
  free(r.zone);
  bot_env_clear(&r.env);
  engine_close(r.e);
  drop_database(&r);
  http_mocks_free(r.http);
  captures_free(r.caps);
  return failed ? -1 : (r.changed ? 1 : 0);
}

/* ---------------------------------------------------------------- a version's own */

/* Writes data to root/rel, making the folders on the way. */
static int write_under(const char *root, const char *rel, const char *data, size_t len) {
  char *full = xasprintf("%s/%s", root, rel);
  for (char *p = full + strlen(root) + 1; (p = strchr(p, '/')); p++) {
    *p = 0;
    mkdir(full, 0700);
    *p = '/';
  }
  FILE *f = fopen(full, "wb");
  int ok = f && fwrite(data, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = 0;
  free(full);
  return ok ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* s without any "prefix" in it (the scratch folder's name). */
static void strip_all(buf *out, const char *s, const char *prefix) {
  size_t n = strlen(prefix);
  for (const char *hit; (hit = strstr(s, prefix)); s = hit + n)
    buf_add(out, s, (size_t)(hit - s));
  buf_puts(out, s);
}

/* A failure on one line, for lists of errors (a reload's refusal): its
 * "\n#   " continuations joined with "; " ("expected: < a; actual: < b"). */
static char *one_line(const char *failure) {
  buf b = {0};
  buf_add(&b, "", 0);
  for (const char *p = failure; *p;) {
    if (strncmp(p, "\n#   ", 5) == 0) {
      buf_puts(&b, "; ");
      p += 5;
      while (*p == ' ') p++;
      if (strncmp(p, "actual:", 7) == 0) { /* aligned under "expected:" */
        buf_puts(&b, "actual: ");
        for (p += 7; *p == ' '; p++) {}
      }
    } else {
      buf_add(&b, p, 1);
      p++;
    }
  }
  buf_add(&b, "", 1);
  return b.data;
}

int chat_test_script(const script *sc, char *report, size_t len) {
  report[0] = 0;
  size_t nchats = 0;
  for (size_t i = 0; i < sc->nfiles; i++) nchats += ends_with(sc->files[i].path, ".chat");
  if (!nchats) return 0;
  const char *tmp = getenv("TMPDIR");
  char *root = xasprintf("%s/parley-tests-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(root)) {
    snprintf(report, len, "cannot make a folder for the transcript tests: %s", strerror(errno));
    free(root);
    return -1;
  }
  char *botdir = xasprintf("%s/%s", root, sc->name); /* the bot keeps its name */
  mkdir(botdir, 0700);
  int failed = 0;
  for (size_t i = 0; i < sc->nfiles && failed >= 0; i++)
    if (write_under(botdir, sc->files[i].path, sc->files[i].source, sc->files[i].len)) {
      snprintf(report, len, "cannot write %s for the transcript tests: %s", sc->files[i].path,
               strerror(errno));
      failed = -1;
    }
  buf out = {0};
  char *prefix = xasprintf("%s/", botdir);
  for (size_t i = 0; i < sc->nfiles && failed >= 0; i++) {
    if (!ends_with(sc->files[i].path, ".chat")) continue;
    char *path = xasprintf("%s%s", prefix, sc->files[i].path);
    char failure[2048];
    if (chat_test_file(path, 0, failure, sizeof failure) < 0) {
      failed++;
      if (out.len) buf_puts(&out, "\n");
      char *line = one_line(failure);
      strip_all(&out, line, prefix);
      free(line);
    }
    free(path);
  }
  if (failed > 0) snprintf(report, len, "%.*s", (int)out.len, out.data ? out.data : "");
  nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  buf_free(&out);
  free(prefix);
  free(botdir);
  free(root);
  return failed;
}
