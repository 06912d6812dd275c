#include "engine.h"

#include <ctype.h>
#include <jansson.h>
#include <lauxlib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"
#include "contacts.h"
#include "gsm.h"
#include "journal.h"
#include "lua_api.h"
#include "phone_zone.h"
#include "scheduler.h"
#include "store.h"
#include "clock.h"
#include "util.h"

enum { MAX_SENDS_PER_INVOCATION = 50, DEFAULT_CACHE = 100000 };

/* contacts.last_seen is written when it moved on by at least this much: a
 * chatty fan does not cost a contact-row write per message (the exact time of
 * every message is in the messages table). */
static const int64_t SEEN_RESOLUTION_MS = 60 * 1000;


struct bot {
  char *name;          /* folder name: how the store and the API know it */
  char *display;       /* bot.config name */
  char *help, *optout_reply, *optin_reply;
  int max_chars;
  char *timezone;      /* the bot's zone: contacts without one of their own */
  quiet_hours quiet;
  int64_t late_ms;     /* a timer later than this is skipped; 0: never */
  int64_t id, version_id;
  sandbox *sb;
  script *src;
  char *store_json;
  bot *next;
};

typedef struct pending_send {
  char *to;   /* NULL: the conversation's contact */
  char *text;
  char *kind;
  int transactional;
  const char *status;
  int may_hold;
} pending_send;

enum { MAX_TIMERS_PER_INVOCATION = 100 };

typedef struct invocation {
  api_ctx base;
  engine *e;
  bot *b;
  contact *c;      /* NULL: a bot's own timer, no conversation */
  int replying;    /* answering the contact's own message: never held */
  pending_send sends[MAX_SENDS_PER_INVOCATION];
  int nsends;
  /* timers added and cancelled, in the order the handler asked */
  struct timer_op {
    enum { OP_ADD, OP_CANCEL, OP_STOP_DRIPS } kind;
    timer_row row;  /* OP_ADD */
    int64_t id;     /* OP_CANCEL */
    char *handler;  /* OP_STOP_DRIPS: "drip:<name>", or NULL for all */
  } timer_ops[MAX_TIMERS_PER_INVOCATION];
  int ntimer_ops;
  journal broadcasts; /* broadcasts created, committed with the handler */
  buf logs;           /* NUL-separated lines */
} invocation;

typedef struct event {
  int is_message;
  char *bot, *number, *text, *status;
} event;

struct engine {
  store *st;     /* the writer's connection */
  store *rd;     /* the engine thread's reads (the same one without a thread) */
  writer *w;
  journal jr;    /* the writes of the batch being handled */
  int64_t last_contact_id, last_message_id, last_timer_id; /* ids: here */
  int64_t last_broadcast_id;
  uint64_t batches, durable; /* batches handed to the writer / committed */
  char **pending_ids;  /* provider ids of batches not yet durable, with */
  uint64_t *pending_batch; /* the batch of each */
  size_t npending, cap_pending;
  int64_t (*clock)(void *);
  void *clock_ud;
  engine_observer obs;
  int has_obs;
  bot *bots;

  contact_cache cache;

  contact **dirty; /* contacts whose last_seen waits for the batch's end */
  size_t ndirty, cap_dirty;

  event *events;     /* of the batch being handled, then the one in flight */
  size_t nevents, cap_events, nevents_inflight;
  engine_stats stats;
  int in_message;
  int64_t now;
  int64_t next_new_due; /* the earliest timer or held message added lately */
};

static const api_host engine_api;
static void pending_forget(engine *e, uint64_t batch);
static int reconcile_every(engine *e, bot *b, char *err, size_t errlen);

/* The recipient's time zone: their own (set by the script), else the one
 * their number's country implies (phone_zone.c), else the bot's. */
static const char *zone_of(const bot *b, contact *c) {
  if (!c) return b->timezone;
  if (c->timezone) return c->timezone;
  if (!c->zone_looked_up) {
    c->zone_looked_up = 1;
    phone_zone_for(c->number, c->inferred_zone, sizeof c->inferred_zone);
  }
  return c->inferred_zone[0] ? c->inferred_zone : b->timezone;
}

/* ---------------------------------------------------------------- events */

static void emit(engine *e, int is_message, const char *botname,
                 const char *number, const char *text, const char *status) {
  if (!e->has_obs) return;
  if (e->nevents == e->cap_events) {
    e->cap_events = e->cap_events ? e->cap_events * 2 : 64;
    e->events = xrealloc(e->events, e->cap_events * sizeof *e->events);
  }
  e->events[e->nevents++] = (event){is_message, xstrdup(botname),
                                    xstrdup(number ? number : ""),
                                    xstrdup(text), status ? xstrdup(status) : NULL};
}

/* Delivers (or drops) the first n events: those of a batch now durable. */
static void events_flush(engine *e, int deliver, size_t n) {
  for (size_t i = 0; i < n; i++) {
    event *ev = &e->events[i];
    if (deliver) {
      if (ev->is_message && e->obs.message)
        e->obs.message(e->obs.ud, ev->bot, ev->number, ev->text, ev->status);
      else if (!ev->is_message && e->obs.action)
        e->obs.action(e->obs.ud, ev->bot, ev->number, ev->text);
    }
    free(ev->bot);
    free(ev->number);
    free(ev->text);
    free(ev->status);
  }
  if (n) memmove(e->events, e->events + n, (e->nevents - n) * sizeof *e->events);
  e->nevents -= n;
}

static void action(engine *e, bot *b, const char *number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void action(engine *e, bot *b, const char *number, const char *fmt, ...) {
  if (!e->has_obs) return;
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  if (s) emit(e, 0, b->name, number, s, NULL);
  free(s);
}

/* ---------------------------------------------------------------- contacts */

/* Evicts least recently used contacts beyond the cache size, but never one
 * whose last writes are not durable yet (the store would give an old copy). */
static void cache_trim(engine *e) { contacts_trim(&e->cache, e->durable); }

void engine_forget_contacts(engine *e) {
  contacts_clear(&e->cache);
  e->ndirty = 0;
}

/* The contact for number, from the cache or the store; created (and marked
 * new) when the bot has never seen it. NULL on a store failure. */
static contact *contact_get(engine *e, bot *b, const char *number, int create,
                            int *is_new) {
  if (is_new) *is_new = 0;
  contact *c = contacts_find(&e->cache, b->id, number);
  if (c) {
    c->batch = e->batches + 1;
    return c;
  }
  contact_row r = {0};
  int found = store_contact_get(e->rd, b->id, number, &r);
  if (found < 0) return NULL;
  if (!found) {
    if (!create) return NULL;
    int64_t now = engine_now(e);
    int64_t id = ++e->last_contact_id;
    journal_contact_add(&e->jr, id, b->id, number, now);
    r = (contact_row){.id = id, .number = xstrdup(number),
                      .status = xstrdup("subscribed"), .fields = xstrdup("{}"),
                      .tags = xstrdup("[]"), .state = xstrdup("{}"),
                      .first_seen = now, .last_seen = now};
    if (is_new) *is_new = 1;
  }
  c = xcalloc(1, sizeof *c);
  c->id = r.id;
  c->bot_id = b->id;
  c->number = r.number;
  c->opted_out = r.status && strcmp(r.status, "opted_out") == 0;
  c->joined = r.joined;
  c->fields = r.fields;
  c->tags = r.tags;
  c->state = r.state;
  c->expect = r.expect;
  c->timezone = r.timezone;
  c->first_seen = r.first_seen;
  c->last_seen = r.last_seen;
  c->stored_last_seen = r.last_seen;
  c->batch = e->batches + 1;
  free(r.status);
  return contacts_add(&e->cache, c);
}

static void replace(char **slot, const char *v) {
  free(*slot);
  *slot = v ? xstrdup(v) : NULL;
}

/* ---------------------------------------------------------------- life cycle */

static int64_t real_clock(void *ud) {
  (void)ud;
  return wall_ms();
}

/* One reading per message: everything a message causes carries its time. */
int64_t engine_now(engine *e) {
  return e->in_message ? e->now : e->clock(e->clock_ud);
}
struct store *engine_store(engine *e) { return e->rd; }
engine_stats engine_stats_of(engine *e) {
  e->stats.cached_contacts = (long)e->cache.n;
  return e->stats;
}

engine *engine_open(const engine_options *opt, char *err, size_t errlen) {
  store *st = store_open(opt->db_path, err, errlen);
  if (!st) return NULL;
  /* A file gets a writer thread and a second connection for the engine's
   * reads (WAL lets them run side by side); an in-memory store is one
   * connection, written inline. */
  int threaded = strcmp(opt->db_path, ":memory:") != 0 && !opt->inline_writes;
  store *rd = st;
  if (threaded && !(rd = store_open(opt->db_path, err, errlen))) {
    store_close(st);
    return NULL;
  }
  engine *e = xcalloc(1, sizeof *e);
  e->st = st;
  e->rd = rd;
  e->w = writer_open(st, threaded);
  if (store_max_ids(rd, &e->last_contact_id, &e->last_message_id,
                    &e->last_timer_id) ||
      (e->last_broadcast_id = store_max_broadcast(rd)) < 0) {
    snprintf(err, errlen, "%s", store_error(rd));
    engine_close(e);
    return NULL;
  }
  e->clock = opt->clock ? opt->clock : real_clock;
  e->clock_ud = opt->clock_ud;
  if (opt->observer) {
    e->obs = *opt->observer;
    e->has_obs = 1;
  }
  contacts_init(&e->cache, opt->contact_cache ? opt->contact_cache : DEFAULT_CACHE);
  return e;
}

static void bot_free(bot *b) {
  sandbox_close(b->sb);
  script_free(b->src);
  free(b->name);
  free(b->display);
  free(b->help);
  free(b->optout_reply);
  free(b->optin_reply);
  free(b->store_json);
  free(b->timezone);
  free(b);
}

void engine_close(engine *e) {
  if (!e) return;
  contacts_clear(&e->cache);
  free(e->cache.table);
  free(e->dirty);
  char err[256];
  writer_wait(e->w, err, sizeof err);
  writer_close(e->w);
  journal_clear(&e->jr);
  free(e->jr.ops);
  events_flush(e, 0, e->nevents);
  free(e->events);
  pending_forget(e, UINT64_MAX);
  free(e->pending_ids);
  free(e->pending_batch);
  while (e->bots) {
    bot *next = e->bots->next;
    bot_free(e->bots);
    e->bots = next;
  }
  if (e->rd != e->st) store_close(e->rd);
  store_close(e->st);
  free(e);
}

/* ---------------------------------------------------------------- loading */

static char *cfg_string(lua_State *L, int cfg, const char *key) {
  char *v = NULL;
  if (lua_getfield(L, cfg, key) == LUA_TSTRING) v = xstrdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return v;
}

/* The limits bot.config validated (stdlib/internal/sandbox.lua): numbers in
 * cfg.limit_instructions, cfg.limit_memory (bytes), cfg.limit_time (ms). */
static void read_limits(lua_State *L, int cfg, sandbox_limits *lim) {
  *lim = sandbox_default_limits;
  if (lua_getfield(L, cfg, "limit_instructions") == LUA_TNUMBER)
    lim->instructions = (long)lua_tointeger(L, -1);
  if (lua_getfield(L, cfg, "limit_memory") == LUA_TNUMBER)
    lim->memory = (size_t)lua_tointeger(L, -1);
  if (lua_getfield(L, cfg, "limit_time") == LUA_TNUMBER)
    lim->time_ms = (long)lua_tointeger(L, -1);
  lua_pop(L, 3);
}

static char *script_sha(const script *s, char **files_json) {
  json_t *files = json_object();
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (size_t i = 0; i < s->nfiles; i++) {
    EVP_DigestUpdate(md, s->files[i].path, strlen(s->files[i].path) + 1);
    EVP_DigestUpdate(md, s->files[i].source, s->files[i].len);
    json_object_set_new(files, s->files[i].path,
                        json_stringn(s->files[i].source, s->files[i].len));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(md, digest, &n);
  EVP_MD_CTX_free(md);
  char *hex = xmalloc(n * 2 + 1);
  for (unsigned i = 0; i < n; i++) sprintf(hex + i * 2, "%02x", digest[i]);
  *files_json = json_dumps(files, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(files);
  return hex;
}

bot *engine_load_bot(engine *e, const char *dir, char *err, size_t errlen) {
  script *s = script_read(dir, err, errlen);
  if (!s) return NULL;
  sandbox *sb = sandbox_open(s, err, errlen);
  if (!sb) {
    script_free(s);
    return NULL;
  }
  bot *b = xcalloc(1, sizeof *b);
  b->src = s;
  b->sb = sb;
  b->name = xstrdup(s->name);
  lua_State *L = sandbox_main(sb);
  sandbox_push_runtime(sb);
  lua_getfield(L, -1, "cfg");
  int cfg = lua_gettop(L);
  b->display = cfg_string(L, cfg, "name");
  if (!b->display) b->display = xstrdup(b->name);
  b->help = cfg_string(L, cfg, "help");
  if (!b->help) b->help = compliance_default_help(b->display);
  b->optout_reply = cfg_string(L, cfg, "optout_reply");
  if (!b->optout_reply) b->optout_reply = compliance_default_optout(b->display);
  b->optin_reply = cfg_string(L, cfg, "optin_reply");
  if (!b->optin_reply) b->optin_reply = compliance_default_optin(b->display);
  lua_getfield(L, cfg, "max_message_chars");
  b->max_chars = (int)lua_tointeger(L, -1);
  if (b->max_chars <= 0) b->max_chars = 1600;
  lua_pop(L, 1);
  b->timezone = cfg_string(L, cfg, "timezone");
  if (!b->timezone) b->timezone = xstrdup("UTC");
  b->quiet = (quiet_hours){21 * 60, 9 * 60};
  if (lua_getfield(L, cfg, "quiet_start") == LUA_TNUMBER) {
    b->quiet.start = (int)lua_tointeger(L, -1);
    lua_getfield(L, cfg, "quiet_end");
    b->quiet.end = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, cfg, "late_ms") == LUA_TNUMBER) b->late_ms = lua_tointeger(L, -1);
  lua_pop(L, 1);
  sandbox_limits lim;
  read_limits(L, cfg, &lim);
  lua_pop(L, 2);
  sandbox_set_limits(sb, &lim);

  int64_t now = engine_now(e);
  char *files_json = NULL;
  char *sha = script_sha(s, &files_json);
  if (engine_flush(e, err, errlen)) {
    free(sha);
    free(files_json);
    bot_free(b);
    return NULL;
  }
  if (store_begin(e->st) || (b->id = store_bot_ensure(e->st, b->name, now)) < 0 ||
      (b->version_id = store_script_version_add(e->st, b->id, sha, files_json,
                                                now)) < 0 ||
      store_commit(e->st)) {
    snprintf(err, errlen, "%s", store_error(e->st));
    store_rollback(e->st);
    free(sha);
    free(files_json);
    bot_free(b);
    return NULL;
  }
  free(sha);
  free(files_json);
  b->store_json = store_bot_store_get(e->rd, b->id);
  if (reconcile_every(e, b, err, errlen)) {
    bot_free(b);
    return NULL;
  }
  /* a reload replaces the bot of the same name */
  for (bot **p = &e->bots; *p; p = &(*p)->next) {
    if (strcmp((*p)->name, b->name) == 0) {
      bot *old = *p;
      b->next = old->next;
      *p = b;
      bot_free(old);
      return b;
    }
  }
  b->next = e->bots;
  e->bots = b;
  return b;
}

bot *engine_find_bot(engine *e, const char *name) {
  for (bot *b = e->bots; b; b = b->next)
    if (strcmp(b->name, name) == 0) return b;
  return NULL;
}

const char *bot_name(const bot *b) { return b->name; }
const char *bot_display_name(const bot *b) { return b->display; }
int64_t bot_id(const bot *b) { return b->id; }
sandbox *bot_sandbox(bot *b) { return b->sb; }

/* ---------------------------------------------------------------- sending */

static int valid_number(const char *n) {
  size_t len = strlen(n);
  if (len < 4 || len > 16 || n[0] != '+') return 0;
  for (size_t i = 1; i < len; i++)
    if (!isdigit((unsigned char)n[i])) return 0;
  return 1;
}

static const char *api_send(void *ctx, const char *to, const char *text,
                            size_t len, const char *kind, int transactional,
                            char *err, size_t errlen) {
  invocation *inv = ctx;
  if (inv->nsends >= MAX_SENDS_PER_INVOCATION) {
    snprintf(err, errlen, "more than %d messages from one handler; use a "
                          "broadcast for bulk sends",
             MAX_SENDS_PER_INVOCATION);
    return NULL;
  }
  if (len == 0) {
    snprintf(err, errlen, "%s: the text is empty", kind);
    return NULL;
  }
  if (strlen(text) != len) {
    snprintf(err, errlen, "%s: the text contains a NUL byte", kind);
    return NULL;
  }
  size_t chars = 0;
  for (size_t i = 0; i < len; i++) chars += ((unsigned char)text[i] & 0xC0) != 0x80;
  if (chars > (size_t)inv->b->max_chars) {
    snprintf(err, errlen, "%s: the text is %zu characters long; the limit is %d "
                          "(bot.config max_message_chars)",
             kind, chars, inv->b->max_chars);
    return NULL;
  }
  int opted_out;
  if (to) {
    if (!valid_number(to)) {
      snprintf(err, errlen, "send: '%.40s' is not an E.164 number like "
                            "+15550100",
               to);
      return NULL;
    }
    if (inv->c && strcmp(to, inv->c->number) == 0) {
      to = NULL;
      opted_out = inv->c->opted_out;
    } else {
      contact *other = contact_get(inv->e, inv->b, to, 0, NULL);
      opted_out = other && other->opted_out;
    }
  } else if (!inv->c) {
    snprintf(err, errlen, "%s: this handler has no conversation (a bot's own "
                          "timer); use send(number, text)", kind);
    return NULL;
  } else {
    opted_out = inv->c->opted_out;
  }
  pending_send *p = &inv->sends[inv->nsends++];
  /* quiet hours: a send that does not answer the fan's own message waits
   * for the recipient's morning (decided at commit, in their zone) */
  int may_hold = !transactional && !(inv->replying && !to);
  *p = (pending_send){to ? xstrdup(to) : NULL, xstrndup(text, len),
                      xstrdup(kind), transactional,
                      opted_out && !transactional ? "suppressed" : "sent", may_hold};
  return p->status;
}

enum { MAX_LOG_BYTES = 64 * 1024 }; /* of bot.log per invocation */

static void api_log(void *ctx, const char *text, size_t len) {
  invocation *inv = ctx;
  if (inv->logs.len >= MAX_LOG_BYTES) return;
  size_t n = strnlen(text, len);
  if (inv->logs.len + n + 1 > MAX_LOG_BYTES) {
    n = MAX_LOG_BYTES - inv->logs.len - 1;
    buf_add(&inv->logs, text, n);
    buf_add(&inv->logs, "", 1);
    buf_puts(&inv->logs, "(bot.log: more than 64 KiB from one handler; the rest is dropped)");
    buf_add(&inv->logs, "", 1);
    return;
  }
  buf_add(&inv->logs, text, n);
  buf_add(&inv->logs, "", 1);
}

static int64_t api_now(void *ctx) { return engine_now(((invocation *)ctx)->e); }

static const char *api_store_json(void *ctx) {
  return ((invocation *)ctx)->b->store_json;
}

static struct timer_op *timer_op(invocation *inv, char *err, size_t errlen) {
  if (inv->ntimer_ops >= MAX_TIMERS_PER_INVOCATION) {
    snprintf(err, errlen, "more than %d timer changes from one handler",
             MAX_TIMERS_PER_INVOCATION);
    return NULL;
  }
  struct timer_op *op = &inv->timer_ops[inv->ntimer_ops++];
  memset(op, 0, sizeof *op);
  return op;
}

static int64_t api_timer_add(void *ctx, int64_t due_ms, const char *handler,
                             const char *args, const char *kind, char *err,
                             size_t errlen) {
  invocation *inv = ctx;
  if (strcmp(kind, "drip") == 0 && !inv->c) {
    snprintf(err, errlen, "a drip needs a conversation");
    return -1;
  }
  struct timer_op *op = timer_op(inv, err, errlen);
  if (!op) return -1;
  op->kind = OP_ADD;
  op->row = (timer_row){.id = ++inv->e->last_timer_id, .bot_id = inv->b->id,
                        .contact_id = inv->c ? inv->c->id : 0,
                        .number = inv->c ? xstrdup(inv->c->number) : NULL,
                        .due_at = due_ms, .handler = xstrdup(handler),
                        .args = xstrdup(args), .kind = xstrdup(kind)};
  return op->row.id;
}

static int64_t api_broadcast_add(void *ctx, const char *segment, const char *text,
                                 int64_t start_ms, double rate) {
  invocation *inv = ctx;
  broadcast_row row = {.id = ++inv->e->last_broadcast_id, .bot_id = inv->b->id,
                       .segment = (char *)segment, .text = (char *)text,
                       .rate = rate, .next_at = start_ms};
  journal_broadcast_add(&inv->broadcasts, &row, engine_now(inv->e));
  return row.id;
}

static int api_contacts_match(void *ctx, const char *segment, int64_t after, long limit,
                              contact_fn fn, void *ud) {
  invocation *inv = ctx;
  return store_contacts_match(inv->e->rd, inv->b->id, segment, after, limit, fn, ud);
}

static int api_broadcast_get(void *ctx, int64_t id, broadcast_row *out) {
  invocation *inv = ctx;
  return store_broadcast_get(inv->e->rd, inv->b->id, id, out);
}

static void api_timer_cancel(void *ctx, int64_t id) {
  char err[128];
  struct timer_op *op = timer_op(ctx, err, sizeof err);
  if (!op) return;
  op->kind = OP_CANCEL;
  op->id = id;
}

static void api_drips_stop(void *ctx, const char *handler) {
  invocation *inv = ctx;
  char err[128];
  struct timer_op *op = inv->c ? timer_op(inv, err, sizeof err) : NULL;
  if (!op) return;
  op->kind = OP_STOP_DRIPS;
  op->handler = handler ? xstrdup(handler) : NULL;
}

static const char *api_zone(void *ctx) {
  invocation *inv = ctx;
  return zone_of(inv->b, inv->c);
}

static const api_host engine_api = {
    api_send,         api_log,        api_now,            api_store_json,
    api_timer_add,    api_timer_cancel, api_drips_stop,   api_zone,
    api_broadcast_add, api_contacts_match, api_broadcast_get};

/* Without zeroing the arrays (12 KB): only their first n entries are used. */
static void invocation_init(invocation *inv, engine *e, bot *b, contact *c,
                            int replying) {
  inv->base.host = &engine_api;
  inv->e = e;
  inv->b = b;
  inv->c = c;
  inv->replying = replying;
  inv->nsends = 0;
  inv->ntimer_ops = 0;
  inv->broadcasts = (journal){0};
  inv->logs = (buf){0};
}

static void invocation_free(invocation *inv) {
  for (int i = 0; i < inv->nsends; i++) {
    free(inv->sends[i].to);
    free(inv->sends[i].text);
    free(inv->sends[i].kind);
  }
  inv->nsends = 0;
  for (int i = 0; i < inv->ntimer_ops; i++) {
    timer_row_free(&inv->timer_ops[i].row);
    free(inv->timer_ops[i].handler);
  }
  inv->ntimer_ops = 0;
  journal_clear(&inv->broadcasts);
  free(inv->broadcasts.ops);
  inv->broadcasts = (journal){0};
  buf_free(&inv->logs);
}

/* Stores one outgoing message. status "sent": the simulator's provider
 * delivers at once; with real providers it will be queued here instead. */
static int record_out(engine *e, bot *b, contact *c, const char *text,
                      const char *status, int transactional, int may_hold) {
  int64_t send_at = 0;
  if (may_hold && strcmp(status, "sent") == 0 &&
      (send_at = quiet_release(&b->quiet, engine_now(e), zone_of(b, c))) > 0)
    status = "held";
  gsm_count count = gsm_count_text(text, strlen(text));
  message_row m = {.id = ++e->last_message_id, .bot_id = b->id,
                   .contact_id = c->id, .direction = "out", .number = c->number,
                   .text = text, .status = status, .transactional = transactional,
                   .segments = count.segments, .at = engine_now(e), .send_at = send_at};
  journal_message(&e->jr, &m);
  if (send_at && send_at < e->next_new_due) e->next_new_due = send_at;
  if (send_at) {
    if (e->has_obs) {
      char when[64];
      clock_format_local(send_at, zone_of(b, c), when, sizeof when);
      action(e, b, c->number, "held until %s %s (quiet hours): %s", when,
             zone_of(b, c), text);
    }
    return 1;
  } else if (strcmp(status, "suppressed") == 0) {
    e->stats.suppressed++;
    action(e, b, c->number, "suppressed (opted out): %s", text);
  } else {
    e->stats.replies++;
    emit(e, 1, b->name, c->number, text, status);
  }
  return 0;
}

/* ---------------------------------------------------------------- effects */

static void show_json_diff(engine *e, bot *b, const char *number, const char *what,
                           const char *before, const char *after) {
  if (!e->has_obs) return;
  json_t *old = json_loads(before ? before : "{}", JSON_DECODE_ANY, NULL);
  json_t *new = json_loads(after, JSON_DECODE_ANY, NULL);
  if (json_is_object(old) && json_is_object(new)) {
    const char *k;
    json_t *v;
    json_object_foreach(new, k, v) {
      json_t *o = json_object_get(old, k);
      if (!o || !json_equal(o, v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        action(e, b, number, "%s.%s = %s", what, k, s);
        free(s);
      }
    }
    json_object_foreach(old, k, v) {
      if (!json_object_get(new, k)) action(e, b, number, "%s.%s = nil", what, k);
    }
  } else {
    action(e, b, number, "%s = %s", what, after);
  }
  json_decref(old);
  json_decref(new);
}

static void show_logs(engine *e, invocation *inv) {
  for (size_t off = 0; off < inv->logs.len; off += strlen(inv->logs.data + off) + 1)
    action(e, inv->b, inv->c ? inv->c->number : "", "log: %s", inv->logs.data + off);
}

/* Applies what a successful handler returned (on the thread's stack: fields,
 * tags, state, expect, store, timezone) and its sends. */
static int apply_effects(engine *e, invocation *inv, lua_State *co, int nres) {
  bot *b = inv->b;
  contact *c = inv->c;
  int base = lua_gettop(co) - nres;
  const char *fields = NULL, *tags = NULL, *state = NULL, *store_json = NULL,
             *tz = NULL;
  int expect_changed = 0;
  const char *expect = NULL;
  if (nres >= 6) {
    if (lua_type(co, base + 1) == LUA_TSTRING) fields = lua_tostring(co, base + 1);
    if (lua_type(co, base + 2) == LUA_TSTRING) tags = lua_tostring(co, base + 2);
    if (lua_type(co, base + 3) == LUA_TSTRING) state = lua_tostring(co, base + 3);
    if (lua_type(co, base + 4) == LUA_TSTRING) {
      expect = lua_tostring(co, base + 4);
      expect_changed = 1;
    } else if (lua_type(co, base + 4) == LUA_TBOOLEAN) {
      expect_changed = 1;
    }
    if (lua_type(co, base + 5) == LUA_TSTRING) store_json = lua_tostring(co, base + 5);
    if (lua_type(co, base + 6) == LUA_TSTRING) tz = lua_tostring(co, base + 6);
  }
  if (!c) fields = tags = state = tz = NULL, expect_changed = 0;
  if (fields || tags || tz) {
    journal_contact_update(&e->jr, c->id, NULL, fields, tags, tz);
    if (fields) {
      show_json_diff(e, b, c->number, "fields", c->fields, fields);
      replace(&c->fields, fields);
    }
    if (tags) {
      action(e, b, c->number, "tags = %s", tags);
      replace(&c->tags, tags);
    }
    if (tz) {
      action(e, b, c->number, "timezone = %s", tz);
      replace(&c->timezone, tz);
    }
  }
  if (state || expect_changed) {
    journal_conversation(&e->jr, c->id, state ? state : c->state,
                         expect_changed ? expect : c->expect, engine_now(e));
    if (state) {
      show_json_diff(e, b, c->number, "state", c->state, state);
      replace(&c->state, state);
    }
    if (expect_changed) {
      if (expect)
        action(e, b, c->number, "expect %s", expect);
      else if (c->expect)
        action(e, b, c->number, "expect cleared");
      replace(&c->expect, expect);
    }
  }
  if (store_json) {
    if (strcmp(store_json, b->store_json) != 0) {
      journal_bot_store(&e->jr, b->id, store_json);
      show_json_diff(e, b, c ? c->number : "", "bot.store", b->store_json, store_json);
      replace(&b->store_json, store_json);
    }
  }
  show_logs(e, inv);
  for (int i = 0; i < inv->nsends; i++) {
    pending_send *p = &inv->sends[i];
    contact *to = c;
    if (p->to) {
      to = contact_get(e, b, p->to, 1, NULL);
      if (!to) return -1;
    }
    if (record_out(e, b, to, p->text, p->status, p->transactional, p->may_hold) < 0)
      return -1;
  }
  for (size_t i = 0; i < inv->broadcasts.n; i++) {
    journal_op *op = &inv->broadcasts.ops[i];
    journal_broadcast_add(&e->jr, &(broadcast_row){.id = op->id, .bot_id = op->bot,
                                                  .segment = op->s[0], .text = op->s[1],
                                                  .rate = op->rate, .next_at = op->due},
                          op->at);
    if (op->due < e->next_new_due) e->next_new_due = op->due;
    action(e, b, c ? c->number : "", "broadcast #%lld to %s", (long long)op->id, op->s[0]);
  }
  for (int i = 0; i < inv->ntimer_ops; i++) {
    struct timer_op *op = &inv->timer_ops[i];
    const char *number = c ? c->number : "";
    if (op->kind == OP_ADD) {
      timer_row *t = &op->row;
      journal_timer_add(&e->jr, t, engine_now(e));
      if (t->due_at < e->next_new_due) e->next_new_due = t->due_at;
      if (e->has_obs) {
        char when[64];
        clock_format_local(t->due_at, zone_of(b, c), when, sizeof when);
        action(e, b, number, "timer #%lld: %s at %s %s", (long long)t->id, t->handler,
               when, zone_of(b, c));
      }
    } else if (op->kind == OP_CANCEL) {
      journal_timer_cancel(&e->jr, op->id, b->id);
      action(e, b, number, "timer #%lld cancelled", (long long)op->id);
    } else {
      journal_drips_cancel(&e->jr, c->id, op->handler);
    }
  }
  return 0;
}

/* Runs the script for one event: a message of a conversation ("message",
 * "optout", "optin") or a timer ("timer": m->text is the handler's name,
 * args its JSON arguments; c is NULL for a bot's own timer). A handler's
 * failure is recorded, never propagated: returns 1 then (the error in err),
 * -1 only when the store failed, 0 otherwise. */
static int run_script(engine *e, bot *b, contact *c, const char *kind,
                      const inbound *m, int64_t msg_id, const char *args,
                      char *err, size_t errlen) {
  int is_new = c && !c->joined;
  int is_message = strcmp(kind, "message") == 0;
  invocation inv;
  invocation_init(&inv, e, b, c, strcmp(kind, "timer") != 0);
  lua_State *co = sandbox_prepare(b->sb, "dispatch");
  lua_pushstring(co, kind);
  if (c) lua_pushstring(co, c->number); else lua_pushnil(co);
  lua_pushlstring(co, m->text, m->len);
  lua_pushboolean(co, is_new);
  if (c && c->expect) lua_pushstring(co, c->expect); else lua_pushnil(co);
  lua_pushstring(co, c ? c->fields : "{}");
  lua_pushstring(co, c ? c->tags : "[]");
  lua_pushstring(co, c ? c->state : "{}");
  lua_pushboolean(co, c && c->opted_out);
  if (m->provider_id) lua_pushstring(co, m->provider_id); else lua_pushinteger(co, msg_id);
  lua_pushinteger(co, engine_now(e) / 1000);
  if (m->to) lua_pushstring(co, m->to); else lua_pushnil(co);
  if (c && c->timezone) lua_pushstring(co, c->timezone); else lua_pushnil(co);
  if (args) lua_pushstring(co, args); else lua_pushnil(co);
  int nres;
  sandbox_status st = sandbox_call(b->sb, co, 14, &nres, &inv, err, errlen);
  int rc = 0;
  if (st == SANDBOX_OK) {
    /* opting out clears a pending expect; on_optout cannot set one */
    if (strcmp(kind, "optout") == 0 && nres >= 6) {
      int expect_idx = lua_gettop(co) - nres + 4;
      lua_pushnil(co);
      lua_replace(co, expect_idx);
    }
    rc = apply_effects(e, &inv, co, nres);
    if (rc == 0 && c && !c->joined && is_message) {
      journal_contact_joined(&e->jr, c->id);
      c->joined = 1;
    }
  } else {
    show_logs(e, &inv);
    const char *what = st == SANDBOX_LIMIT ? "limit" : "error";
    if (st == SANDBOX_LIMIT) e->stats.limit_hits++;
    e->stats.errors++;
    journal_error(&e->jr, b->id, c ? c->id : 0, msg_id, what, err, engine_now(e));
    action(e, b, c ? c->number : "", "error: %s", err);
    rc = 1;
  }
  sandbox_release(b->sb, co, st);
  invocation_free(&inv);
  return rc;
}

/* A message's handler: its failure is the handler's business, not the
 * batch's. */
static int run_message(engine *e, bot *b, contact *c, const char *kind,
                       const inbound *m, int64_t msg_id) {
  char err[1024];
  return run_script(e, b, c, kind, m, msg_id, NULL, err, sizeof err) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- compliance */

static int set_consent(engine *e, bot *b, contact *c, int opt_out,
                       const inbound *m) {
  const char *status = opt_out ? "opted_out" : "subscribed";
  journal_contact_update(&e->jr, c->id, status, NULL, NULL, NULL);
  journal_consent(&e->jr, b->id, c->id, c->number, opt_out ? "optout" : "optin",
                  "keyword", m->text, engine_now(e));
  c->opted_out = opt_out;
  if (opt_out) journal_drips_cancel(&e->jr, c->id, NULL); /* every drip stops */
  if (opt_out && c->expect) {
    journal_conversation(&e->jr, c->id, c->state, NULL, engine_now(e));
    replace(&c->expect, NULL);
  }
  return 0;
}

/* Provider ids of inbound messages whose batch is not durable yet: the
 * store cannot see them, so a retry arriving meanwhile is caught here. */
static char *pending_key(int64_t bot_id, const char *provider_id) {
  return xasprintf("%lld:%s", (long long)bot_id, provider_id);
}

static int pending_has(engine *e, int64_t bot_id, const char *provider_id) {
  char *key = pending_key(bot_id, provider_id);
  int found = 0;
  for (size_t i = 0; i < e->npending && !found; i++)
    found = strcmp(e->pending_ids[i], key) == 0;
  free(key);
  return found;
}

static void pending_add(engine *e, int64_t bot_id, const char *provider_id) {
  if (e->npending == e->cap_pending) {
    e->cap_pending = e->cap_pending ? e->cap_pending * 2 : 64;
    e->pending_ids = xrealloc(e->pending_ids, e->cap_pending * sizeof *e->pending_ids);
    e->pending_batch = xrealloc(e->pending_batch, e->cap_pending * sizeof *e->pending_batch);
  }
  e->pending_ids[e->npending] = pending_key(bot_id, provider_id);
  e->pending_batch[e->npending++] = e->batches + 1;
}

/* Forgets the ids of batches up to and including batch. */
static void pending_forget(engine *e, uint64_t batch) {
  size_t k = 0;
  for (size_t i = 0; i < e->npending; i++) {
    if (e->pending_batch[i] <= batch) {
      free(e->pending_ids[i]);
    } else {
      e->pending_ids[k] = e->pending_ids[i];
      e->pending_batch[k++] = e->pending_batch[i];
    }
  }
  e->npending = k;
}

static int handle_message(engine *e, bot *b, const inbound *m);

static int handle_one(engine *e, bot *b, const inbound *m) {
  e->now = e->clock(e->clock_ud);
  e->in_message = 1;
  int rc = handle_message(e, b, m);
  e->in_message = 0;
  return rc;
}

static int handle_message(engine *e, bot *b, const inbound *m) {
  contact *c = contact_get(e, b, m->from, 1, NULL);
  if (!c) return -1;
  int64_t now = engine_now(e);
  if (m->provider_id) {
    int dup = pending_has(e, b->id, m->provider_id);
    if (!dup) dup = store_inbound_exists(e->rd, b->id, m->provider_id);
    if (dup < 0) return -1;
    if (dup) {
      e->stats.duplicates++; /* a provider's retry: acknowledged, not handled */
      return 0;
    }
    pending_add(e, b->id, m->provider_id);
  }
  int64_t msg_id = ++e->last_message_id;
  message_row row = {.id = msg_id, .bot_id = b->id, .contact_id = c->id,
                     .direction = "in", .number = c->number, .text = m->text,
                     .status = "done", .provider_id = m->provider_id, .at = now};
  journal_message(&e->jr, &row);
  e->stats.messages_in++;
  c->last_seen = now;
  if (!c->seen_dirty && now - c->stored_last_seen >= SEEN_RESOLUTION_MS) {
    c->seen_dirty = 1;
    if (e->ndirty == e->cap_dirty) {
      e->cap_dirty = e->cap_dirty ? e->cap_dirty * 2 : 256;
      e->dirty = xrealloc(e->dirty, e->cap_dirty * sizeof *e->dirty);
    }
    e->dirty[e->ndirty++] = c;
  }

  char keyword[16];
  switch (compliance_classify(m->text, m->len, keyword)) {
    case COMPLIANCE_OPTOUT:
      if (!c->opted_out) {
        if (set_consent(e, b, c, 1, m)) return -1;
        action(e, b, c->number, "opted out (%s)", keyword);
        if (run_message(e, b, c, "optout", m, msg_id)) return -1;
      }
      return record_out(e, b, c, b->optout_reply, "sent", 1, 0);
    case COMPLIANCE_OPTIN:
      if (c->opted_out) {
        if (set_consent(e, b, c, 0, m)) return -1;
        action(e, b, c->number, "opted in (%s)", keyword);
        if (record_out(e, b, c, b->optin_reply, "sent", 1, 0)) return -1;
        return run_message(e, b, c, "optin", m, msg_id);
      }
      break;
    case COMPLIANCE_HELP:
      return record_out(e, b, c, b->help, "sent", 1, 0);
    case COMPLIANCE_NONE:
      break;
  }
  if (c->opted_out) return 0; /* stored; no script runs for an opted-out fan */
  return run_message(e, b, c, "message", m, msg_id);
}

static void flush_seen(engine *e) {
  for (size_t i = 0; i < e->ndirty; i++) {
    contact *c = e->dirty[i];
    journal_contact_seen(&e->jr, c->id, c->last_seen);
    c->stored_last_seen = c->last_seen;
    c->seen_dirty = 0;
  }
  e->ndirty = 0;
}

/* After a failed write: what the cache and the counters say may not be in
 * the store. Start again from the store. */
static void engine_reset(engine *e) {
  journal_clear(&e->jr);
  events_flush(e, 0, e->nevents);
  e->nevents_inflight = 0;
  pending_forget(e, UINT64_MAX);
  engine_forget_contacts(e);
  store_max_ids(e->rd, &e->last_contact_id, &e->last_message_id, &e->last_timer_id);
  e->last_broadcast_id = store_max_broadcast(e->rd);
  for (bot *b = e->bots; b; b = b->next) {
    free(b->store_json);
    b->store_json = store_bot_store_get(e->rd, b->id);
  }
  e->durable = e->batches;
}

/* The batch before the one just handed over is durable. */
static void batch_durable(engine *e, uint64_t batch, size_t nevents) {
  e->durable = batch;
  events_flush(e, 1, nevents);
  pending_forget(e, batch);
  cache_trim(e);
}

/* Hands the batch's journal to the writer; the batch before is durable
 * when this returns 0. */
static int submit_journal(engine *e, char *err, size_t errlen) {
  flush_seen(e);
  size_t inflight_events = e->nevents_inflight;
  if (writer_submit(e->w, &e->jr, err, errlen)) {
    engine_reset(e); /* the batch in flight failed; this one built on it */
    return -1;
  }
  e->batches++;
  batch_durable(e, e->batches - 1, inflight_events);
  e->nevents_inflight = e->nevents;
  return 0;
}

int engine_submit(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) rc = handle_one(e, b, &msgs[i]);
  if (rc != 0) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    engine_flush(e, err + strlen(err), errlen - strlen(err));
    engine_reset(e);
    return -1;
  }
  return submit_journal(e, err, errlen);
}

int engine_flush(engine *e, char *err, size_t errlen) {
  if (writer_wait(e->w, err, errlen)) {
    engine_reset(e);
    return -1;
  }
  batch_durable(e, e->batches, e->nevents_inflight);
  e->nevents_inflight = 0;
  return 0;
}

int engine_handle(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen) {
  if (engine_submit(e, b, msgs, n, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}

uint64_t engine_batches_durable(engine *e) { return e->durable; }

int engine_set_contact(engine *e, bot *b, const char *number, const char *status,
                       const char *fields, const char *tags, const char *timezone,
                       char *err, size_t errlen) {
  e->now = e->clock(e->clock_ud);
  e->in_message = 1;
  contact *c = contact_get(e, b, number, 1, NULL);
  e->in_message = 0;
  if (!c) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  journal_contact_update(&e->jr, c->id, status, fields, tags, timezone);
  if (fields) replace(&c->fields, fields);
  if (tags) replace(&c->tags, tags);
  if (timezone) replace(&c->timezone, timezone);
  int opt_out = status && strcmp(status, "opted_out") == 0;
  if (status && opt_out != c->opted_out) {
    journal_consent(&e->jr, b->id, c->id, c->number, opt_out ? "optout" : "optin",
                    "setup", NULL, engine_now(e));
    c->opted_out = opt_out;
    if (opt_out && c->expect) { /* as an opt-out by keyword does */
      journal_conversation(&e->jr, c->id, c->state, NULL, engine_now(e));
      replace(&c->expect, NULL);
    }
  }
  if (submit_journal(e, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}

/* ---------------------------------------------------------------- time */

/* Schedules the next run of a recurring timer after `after`. */
static void schedule_again(engine *e, bot *b, const timer_row *t, int64_t after) {
  schedule sc;
  char err[256];
  if (!t->spec || schedule_parse(t->spec, &sc, err, sizeof err)) return;
  timer_row next = *t;
  next.id = ++e->last_timer_id;
  next.due_at = schedule_next(&sc, after, b->timezone);
  next.kind = "every";
  journal_timer_add(&e->jr, &next, after);
  if (next.due_at < e->next_new_due) e->next_new_due = next.due_at;
}

static int fire_timer(engine *e, bot *b, const timer_row *t, int64_t started) {
  e->now = t->due_at;
  contact *c = NULL;
  if (t->number && !(c = contact_get(e, b, t->number, 1, NULL))) return -1;
  const char *status = "done";
  char err[1024] = "";
  if (b->late_ms > 0 && started - t->due_at > b->late_ms) {
    status = "skipped";
    snprintf(err, sizeof err, "%lld minutes late after downtime (bot.config late_after)",
             (long long)((started - t->due_at) / 60000));
    action(e, b, c ? c->number : "", "timer #%lld (%s) skipped: %s", (long long)t->id,
           t->handler, err);
  } else {
    inbound m = {.text = t->handler, .len = strlen(t->handler)};
    int rc = run_script(e, b, c, "timer", &m, 0, t->args, err, sizeof err);
    if (rc < 0) return -1;
    if (rc == 1) status = "error"; /* recorded, not retried */
  }
  journal_timer_done(&e->jr, t->id, status, err[0] ? err : NULL, e->now);
  /* after downtime a recurring timer runs once, then from now on */
  if (t->kind && strcmp(t->kind, "every") == 0)
    schedule_again(e, b, t, t->due_at > started ? t->due_at : started);
  return 0;
}

static int release_held(engine *e, bot *b, const held_row *h) {
  e->now = h->send_at;
  contact *c = contact_get(e, b, h->number, 1, NULL);
  if (!c) return -1;
  const char *status = c->opted_out ? "suppressed" : "sent";
  journal_message_release(&e->jr, h->id, status, e->now);
  if (c->opted_out) {
    e->stats.suppressed++;
    action(e, b, c->number, "suppressed (opted out while held): %s", h->text);
  } else {
    e->stats.replies++;
    if (e->has_obs) {
      char when[64];
      clock_format_local(e->now, zone_of(b, c), when, sizeof when);
      action(e, b, c->number, "released at %s %s (end of quiet hours)", when,
             zone_of(b, c));
    }
    emit(e, 1, b->name, c->number, h->text, status);
  }
  return 0;
}

typedef struct recipients {
  contact_row *v;
  size_t n, cap;
} recipients;

static void collect_recipient(void *ud, const contact_row *r) {
  recipients *rs = ud;
  if (rs->n == rs->cap) rs->v = xrealloc(rs->v, (rs->cap = rs->cap ? rs->cap * 2 : 64) * sizeof *rs->v);
  contact_row *c = &rs->v[rs->n++];
  *c = (contact_row){.id = r->id, .number = xstrdup(r->number)};
}

/* The broadcast's text for one recipient (templates), through the bot's VM.
 * NULL if the script's side failed. */
static char *render_for(engine *e, bot *b, contact *c, const char *text) {
  if (!strstr(text, "{{")) return xstrdup(text);
  lua_State *co = sandbox_prepare(b->sb, "render");
  lua_pushstring(co, text);
  lua_pushstring(co, c->number);
  lua_pushstring(co, c->fields);
  lua_pushstring(co, c->tags);
  int nres;
  char err[512];
  invocation inv;
  invocation_init(&inv, e, b, c, 0);
  sandbox_status st = sandbox_call(b->sb, co, 4, &nres, &inv, err, sizeof err);
  char *out = st == SANDBOX_OK && nres >= 1 && lua_type(co, -1) == LUA_TSTRING
                  ? xstrdup(lua_tostring(co, -1))
                  : NULL;
  sandbox_release(b->sb, co, st);
  invocation_free(&inv);
  return out;
}

/* The next recipients of a broadcast, one at a time at its rate, each in
 * their own quiet hours; the cursor and counts move in the same commit, so a
 * crash resumes after the last committed recipient, never sending twice. */
static int run_broadcast_chunk(engine *e, bot *b, const broadcast_row *br) {
  enum { CHUNK = 200 };
  recipients rs = {0};
  if (store_contacts_match(e->rd, b->id, br->segment, br->cursor, CHUNK,
                           collect_recipient, &rs))
    return -1;
  double step = br->rate > 0 ? 1000.0 / br->rate : 0;
  double t = (double)br->next_at;
  int64_t cursor = br->cursor;
  long sent = 0, held = 0, suppressed = 0;
  int rc = 0;
  for (size_t i = 0; i < rs.n && rc == 0; i++, t += step) {
    e->now = (int64_t)t;
    contact *c = contact_get(e, b, rs.v[i].number, 1, NULL);
    if (!c) {
      rc = -1;
      break;
    }
    cursor = rs.v[i].id;
    char *text = render_for(e, b, c, br->text);
    if (!text) continue;
    int r = record_out(e, b, c, text, c->opted_out ? "suppressed" : "sent", 0, 1);
    if (r < 0) rc = -1;
    else if (c->opted_out) suppressed++;
    else if (r == 1) held++;
    else sent++;
    free(text);
  }
  for (size_t i = 0; i < rs.n; i++) free(rs.v[i].number);
  free(rs.v);
  if (rc) return -1;
  const char *status = rs.n < CHUNK ? "done" : "running";
  int64_t next_at = (int64_t)t;
  journal_broadcast_update(&e->jr, br->id, status, cursor, next_at, sent, held, suppressed);
  if (strcmp(status, "running") == 0 && next_at < e->next_new_due) e->next_new_due = next_at;
  action(e, b, "", "broadcast #%lld: %ld sent, %ld held, %ld suppressed%s", (long long)br->id,
         sent, held, suppressed, strcmp(status, "done") == 0 ? " (done)" : "");
  return 0;
}

/* One round: the due items fetched, in time order, until one added by an
 * earlier item of the round would come before the next (then the round ends
 * and the caller fetches again). Returns items handled, or -1. */
typedef struct advance_cursor {
  due_key timer, held; /* the last handled, in due order */
} advance_cursor;

static const advance_cursor advance_start = {{INT64_MIN, 0}, {INT64_MIN, 0}};

static long advance_round(engine *e, bot *b, int64_t until, int64_t started,
                          advance_cursor *cur) {
  enum { ROUND = 512 };
  timer_row *ts = NULL;
  held_row *hs = NULL;
  size_t nt = 0, nh = 0, i = 0, j = 0;
  long done = 0;
  broadcast_row *bs = NULL;
  size_t nb = 0, k = 0;
  int rc = store_timers_due(e->rd, b->id, until, &cur->timer, ROUND, &ts, &nt);
  if (rc == 0) rc = store_held_due(e->rd, b->id, until, &cur->held, ROUND, &hs, &nh);
  if (rc == 0) rc = store_broadcasts_due(e->rd, b->id, until, &bs, &nb);
  e->next_new_due = INT64_MAX;
  e->in_message = 1;
  while (rc == 0 && (i < nt || j < nh || k < nb)) {
    int64_t tt = i < nt ? ts[i].due_at : INT64_MAX;
    int64_t th = j < nh ? hs[j].send_at : INT64_MAX;
    int64_t tb = k < nb ? bs[k].next_at : INT64_MAX;
    int64_t at = tt <= th && tt <= tb ? tt : (th <= tb ? th : tb);
    if (e->next_new_due <= at) break; /* something new comes first */
    if (at == tt) {
      cur->timer = (due_key){ts[i].due_at, ts[i].id};
      rc = fire_timer(e, b, &ts[i++], started);
    } else if (at == th) {
      cur->held = (due_key){hs[j].send_at, hs[j].id};
      rc = release_held(e, b, &hs[j++]);
    }
    else /* one chunk per round: the rest comes back in the next one */
      rc = run_broadcast_chunk(e, b, &bs[k++]), e->next_new_due = INT64_MIN;
    done++;
  }
  for (size_t m = 0; m < nb; m++) broadcast_row_free(&bs[m]);
  free(bs);
  e->in_message = 0;
  for (size_t k = 0; k < nt; k++) timer_row_free(&ts[k]);
  for (size_t k = 0; k < nh; k++) {
    free(hs[k].number);
    free(hs[k].text);
  }
  free(ts);
  free(hs);
  return rc ? -1 : done;
}

int engine_advance(engine *e, int64_t until, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen)) return -1;
  int64_t started = e->clock(e->clock_ud);
  for (bot *b = e->bots; b; b = b->next) {
    /* Rounds overlap like message batches: while the writer commits one,
     * the next is fetched past the last item handled. A round that added
     * timers or held messages, or ran a broadcast, waits for its commit so
     * the next fetch sees what it added. */
    advance_cursor cur = advance_start;
    for (;;) {
      long done = advance_round(e, b, until, started, &cur);
      if (done < 0) {
        snprintf(err, errlen, "%s", store_error(e->rd));
        engine_reset(e);
        return -1;
      }
      if (done == 0) break;
      int added = e->next_new_due != INT64_MAX;
      if (submit_journal(e, err, errlen)) return -1;
      if (added) {
        if (engine_flush(e, err, errlen)) return -1;
        cur = advance_start;
      }
    }
    if (engine_flush(e, err, errlen)) return -1;
  }
  return 0;
}

/* Makes the pending recurring timers of a bot match its bot.every calls:
 * new ones are scheduled, ones the script no longer has are cancelled, the
 * rest keep their next run (so a reload does not move them). */
static int reconcile_every(engine *e, bot *b, char *err, size_t errlen) {
  lua_State *L = sandbox_main(b->sb);
  timer_row *rows;
  size_t n;
  if (store_timers_every(e->rd, b->id, &rows, &n)) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  char *kept = xcalloc(n + 1, 1);
  int64_t now = engine_now(e);
  sandbox_push_runtime(b->sb);
  lua_getfield(L, -1, "router");
  lua_getfield(L, -1, "every");
  lua_Integer count = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= count; i++) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "spec");
    lua_getfield(L, -2, "handler");
    const char *spec = lua_tostring(L, -2), *handler = lua_tostring(L, -1);
    int found = 0;
    for (size_t k = 0; k < n && !found; k++) {
      if (!kept[k] && rows[k].spec && strcmp(rows[k].spec, spec) == 0 &&
          strcmp(rows[k].handler, handler) == 0)
        found = kept[k] = 1;
    }
    if (!found) {
      schedule sc;
      schedule_parse(spec, &sc, err, errlen);
      timer_row t = {.id = ++e->last_timer_id, .bot_id = b->id,
                     .due_at = schedule_next(&sc, now, b->timezone),
                     .handler = (char *)handler, .args = "null", .kind = "every",
                     .spec = (char *)spec};
      journal_timer_add(&e->jr, &t, now);
    }
    lua_pop(L, 3);
  }
  lua_pop(L, 3);
  for (size_t k = 0; k < n; k++) {
    if (!kept[k]) journal_timer_cancel(&e->jr, rows[k].id, b->id);
    timer_row_free(&rows[k]);
  }
  free(rows);
  free(kept);
  if (submit_journal(e, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}
