/* invocation: one call into a bot's script, and what it causes.
 *
 * The host API the script sees while it runs (host_api.c: sends, logs,
 * timers, drips, broadcasts, segments) collects effects into the
 * invocation; when the handler returns they are applied here: contact,
 * conversation and store changes, outgoing messages (outgoing.c: held by
 * quiet hours where they do not answer the fan), timers. A handler that
 * fails leaves nothing but its error record; one that waits for an HTTP
 * response goes to waiting.c. */
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "sandbox.h"

/* ---------------------------------------------------------------- effects */

static void show_json_diff(engine *e, bot *b, const char *number, const char *what,
                           const char *before, const char *after) {
  if (!shows(e)) return;
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
  if (!shows(e)) return;
  for (size_t off = 0; off < inv->logs.len; off += strlen(inv->logs.data + off) + 1)
    action(e, inv->b, inv->c ? inv->c->number : "", "log: %s", inv->logs.data + off);
}

/* Applies what a successful handler returned (on the thread's stack: fields,
 * tags, state, expect, store, timezone) and its sends. */
/* The fields of a call's context (rt.call) and of what it changed
 * (rt.dispatch's result), by index: the router names them the same
 * (stdlib/internal/router.lua). Indexes, not names: filling a table's array
 * part costs no hashing, and the context is filled for every call. */
enum call_field {
  CALL_KIND = 1, CALL_TEXT, CALL_NUMBER, CALL_IS_NEW, CALL_OPTED_OUT, CALL_EXPECT,
  CALL_TIMEZONE, CALL_FIELDS, CALL_TAGS, CALL_STATE, CALL_ID, CALL_AT, CALL_TO, CALL_ARGS,
  CALL_MEDIA
};
enum changed_field {
  CHANGED_FIELDS = 1, CHANGED_TAGS, CHANGED_STATE, CHANGED_EXPECT, CHANGED_STORE,
  CHANGED_TIMEZONE, CHANGED_HANDOFF
};

/* What rt.dispatch returned (its table at index t of co): the field at i
 * if it is a string, else NULL. The table is the router's own, read raw. */
static const char *change_text(lua_State *co, int t, int i) {
  const char *v = lua_rawgeti(co, t, i) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
  lua_pop(co, 1); /* the table keeps the string alive */
  return v;
}

static int apply_effects(engine *e, invocation *inv, lua_State *co, int nres, int ignore_expect) {
  bot *b = inv->b;
  contact *c = inv->c;
  const char *fields = NULL, *tags = NULL, *state = NULL, *store_json = NULL,
             *tz = NULL, *handoff = NULL;
  int expect_changed = 0;
  const char *expect = NULL;
  int t = lua_gettop(co) - nres + 1;
  if (nres >= 1 && lua_type(co, t) == LUA_TTABLE) {
    fields = change_text(co, t, CHANGED_FIELDS);
    tags = change_text(co, t, CHANGED_TAGS);
    state = change_text(co, t, CHANGED_STATE);
    int et = lua_rawgeti(co, t, CHANGED_EXPECT);
    if (ignore_expect) {
      /* whatever the handler set is ignored (as a nil: unchanged) */
    } else if (et == LUA_TSTRING) {
      expect = lua_tostring(co, -1);
      expect_changed = 1;
    } else if (et == LUA_TBOOLEAN) {
      expect_changed = 1;
    }
    lua_pop(co, 1);
    store_json = change_text(co, t, CHANGED_STORE);
    tz = change_text(co, t, CHANGED_TIMEZONE);
    handoff = change_text(co, t, CHANGED_HANDOFF); /* c:handoff's reason */
  }
  if (!c) fields = tags = state = tz = handoff = NULL, expect_changed = 0;
  if (handoff) handoff_from_handler(e, b, c, handoff);
  if (fields || tags || tz) {
    journal_contact_update(e->jr, c->id, NULL, fields, tags, tz);
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
    journal_conversation(e->jr, c->id, state ? state : c->state,
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
    store_lock(inv); /* held since the handler first touched bot.store */
    store_cell *cell = b->store;
    if (strcmp(store_json, cell->json) != 0) {
      show_json_diff(e, b, c ? c->number : "", "bot.store", cell->json, store_json);
      replace(&cell->json, store_json);
      cell->dirty = 1; /* journaled when the batch ends (store_cells_journal) */
    }
  }
  show_logs(e, inv);
  for (int i = 0; i < inv->nsends; i++) {
    pending_send *p = &inv->sends[i];
    contact *to = c;
    if (p->to && foreign_contact(e, b, p->to)) {
      deferred_add(e, b->name, p); /* another worker's contact */
      continue;
    }
    if (p->to) {
      to = contact_get(e, b, p->to, CONTACT_UNASKED, NULL);
      if (!to) return -1;
    }
    /* opted out since (while the handler waited for a response) */
    const char *status = !p->transactional && to->opted_out ? "suppressed" : p->status;
    if (record_out(e, b, to, p->text, status, p->transactional, p->may_hold, p->media) < 0)
      return -1;
    if (to == c) links_bind(e, inv, p->text);
  }
  if (c) links_journal(e, inv);
  for (size_t i = 0; i < inv->broadcasts.n; i++) {
    const struct j_broadcast_add *add = &inv->broadcasts.ops[i].u.broadcast_add;
    journal_broadcast_add(e->jr, &add->row, add->at);
    if (add->row.next_at < e->next_new_due) e->next_new_due = add->row.next_at;
    action(e, b, c ? c->number : "", "broadcast #%lld to %s", (long long)add->row.id,
           add->row.segment);
  }
  /* opted out while the handler waited: its drips stop, as any opt-out's */
  int opted_out_since = c && c->opted_out && !inv->started_opted_out;
  for (int i = 0; i < inv->ntimer_ops; i++) {
    struct timer_op *op = &inv->timer_ops[i];
    const char *number = c ? c->number : "";
    if (op->kind == OP_ADD && opted_out_since && op->row.kind && strcmp(op->row.kind, "drip") == 0)
      continue;
    if (op->kind == OP_ADD) {
      timer_row *t = &op->row;
      journal_timer_add(e->jr, t, engine_now(e));
      if (t->due_at < e->next_new_due) e->next_new_due = t->due_at;
      if (shows(e)) {
        char when[64];
        clock_format_local(t->due_at, zone_of(b, c), when, sizeof when);
        action(e, b, number, "timer #%lld: %s at %s %s", (long long)t->id, t->handler,
               when, zone_of(b, c));
      }
    } else if (op->kind == OP_CANCEL) {
      journal_timer_cancel(e->jr, op->id, b->id);
      action(e, b, number, "timer #%lld cancelled", (long long)op->id);
    } else {
      journal_drips_cancel(e->jr, c->id, op->handler);
    }
  }
  return 0;
}

const long engine_latency_bounds_us[ENGINE_LATENCY_BUCKETS] = {
    50, 100, 250, 500, 1000, 5000, 25000, 100000, 500000};

static void record_latency(engine_stats *st, int64_t ns) {
  long us = (long)(ns / 1000);
  int i = 0;
  while (i < ENGINE_LATENCY_BUCKETS && us > engine_latency_bounds_us[i]) i++;
  st->latency[i]++;
  st->latency_sum_s += (double)ns / 1e9;
  st->latency_count++;
}

struct dispatch_args {
  engine *e;
  contact *c;
  run_kind kind;
  const inbound *m;
  int64_t msg_id;
  const char *args;
};

static void set_text(lua_State *L, int i, const char *v) {
  if (v) lua_pushstring(L, v); else lua_pushnil(L);
  lua_rawseti(L, -2, i);
}

static void set_bool(lua_State *L, int i, int v) {
  lua_pushboolean(L, v);
  lua_rawseti(L, -2, i);
}

/* rt.dispatch's one argument, the context of the call (inside
 * sandbox_prepare's protected call): the router's rt.call table, every
 * field set afresh (nil: absent), which dispatch reads before anything else
 * runs. */
static int push_dispatch_args(lua_State *L, void *ud) {
  struct dispatch_args *a = ud;
  contact *c = a->c;
  const inbound *m = a->m;
  sandbox_push_rt_field(L, "call");
  set_text(L, CALL_KIND, run_kind_name(a->kind));
  lua_pushlstring(L, m->text, m->len);
  lua_rawseti(L, -2, CALL_TEXT);
  set_text(L, CALL_NUMBER, c ? c->number : NULL);
  set_bool(L, CALL_IS_NEW, c && !c->joined);
  set_bool(L, CALL_OPTED_OUT, c && c->opted_out);
  set_text(L, CALL_EXPECT, c ? c->expect : NULL);
  set_text(L, CALL_TIMEZONE, c ? c->timezone : NULL);
  set_text(L, CALL_FIELDS, c ? c->fields : "{}");
  set_text(L, CALL_TAGS, c ? c->tags : "[]");
  set_text(L, CALL_STATE, c ? c->state : "{}");
  if (m->provider_id) lua_pushstring(L, m->provider_id); else lua_pushinteger(L, a->msg_id);
  lua_rawseti(L, -2, CALL_ID);
  lua_pushinteger(L, engine_now(a->e) / 1000);
  lua_rawseti(L, -2, CALL_AT);
  set_text(L, CALL_TO, m->to);
  set_text(L, CALL_ARGS, a->args);
  set_text(L, CALL_MEDIA, m->media_json);
  return 1;
}

/* Runs the script for one event: a message of a conversation (RUN_MESSAGE,
 * RUN_OPTOUT, RUN_OPTIN), a triggered event (RUN_EVENT), a delivery report
 * (RUN_STATUS: args is the report as JSON) or a timer (RUN_TIMER, RUN_LATE_TIMER: m->text is
 * the handler's name, args its JSON arguments; c is NULL for a bot's own timer). A handler's
 * failure is recorded, never propagated: returns 1 then (the error in err),
 * -1 only when the store failed, 0 otherwise. */
int run_script(engine *e, bot *b, contact *c, run_kind kind, const inbound *m,
               int64_t msg_id, const char *args, run_failure *failure, char *err,
               size_t errlen) {
  if (!e->run->timer.id && waiting_busy(e, b, c)) /* runs once the conversation is free */
    return waiting_record(e, b, c, kind, m, msg_id, args) < 0 ? -1 : 2;
  invocation inv;
  /* only a message's own handlers, and a click's (the person opened a link
   * just now), answer the fan: timers, events and delivery reports do not */
  invocation_init(&inv, e, b, c, kind <= RUN_OPTIN || kind == RUN_CLICK);
  struct dispatch_args da = {e, c, kind, m, msg_id, args};
  int nargs;
  lua_State *co = sandbox_prepare(b->sb, "dispatch", push_dispatch_args, &da, &nargs, err, errlen);
  if (!co) /* no memory left in the VM for its arguments: it fails like a handler */
    return invocation_finish(e, &inv, b->sb, NULL, SANDBOX_LIMIT, 0, kind, msg_id, failure,
                             err, errlen);
  int nres;
  int64_t t0 = mono_ns();
  sandbox_status st = sandbox_call(b->sb, co, nargs, &nres, &inv, err, errlen);
  record_latency(&e->stats, mono_ns() - t0);
  if (st == SANDBOX_SUSPENDED)
    return waiting_begin(e, &inv, co, kind, m, msg_id, args) < 0 ? -1 : 2;
  return invocation_finish(e, &inv, b->sb, co, st, nres, kind, msg_id, failure, err, errlen);
}

int invocation_finish(engine *e, invocation *inv, sandbox *sb, lua_State *co,
                      sandbox_status st, int nres, run_kind kind, int64_t msg_id,
                      run_failure *failure, char *err, size_t errlen) {
  bot *b = inv->b;
  contact *c = inv->c;
  int rc = 0;
  if (st == SANDBOX_OK) {
    /* opting out clears a pending expect (on_optout cannot set one), also
     * when it happened while the handler waited for a response */
    int ignore_expect =
        kind == RUN_OPTOUT || (c && c->opted_out && !inv->started_opted_out);
    rc = apply_effects(e, inv, co, nres, ignore_expect);
    if (rc == 0 && c && !c->joined && kind == RUN_MESSAGE) {
      journal_contact_joined(e->jr, c->id);
      c->joined = 1;
    }
  } else {
    show_logs(e, inv);
    const char *what = st == SANDBOX_LIMIT ? "limit" : "error";
    if (st == SANDBOX_LIMIT) e->stats.limit_hits++;
    e->stats.errors++, b->counts.errors++;
    bot_env_mask_into(&b->src->env, err, errlen); /* may quote bot.env */
    utf8_repair(err); /* cut at a byte count by the mask or the buffer */
    journal_error(e->jr, b->id, c ? c->id : 0, msg_id, what, err, engine_now(e));
    action_logged(e, b, c ? c->number : "", ENGINE_ACTION_ERROR, err, "error: %s", err);
    if (failure)
      *failure = st == SANDBOX_ERROR && inv->no_handler ? RUN_FAILED_NO_HANDLER : RUN_FAILED_ERROR;
    rc = 1;
  }
  if (co) sandbox_release(sb, co, st);
  invocation_free(inv);
  return rc;
}

/* A message's handler: its failure is the handler's business, not the
 * batch's. */
int run_message(engine *e, bot *b, contact *c, run_kind kind,
                       const inbound *m, int64_t msg_id) {
  char err[1024];
  return run_script(e, b, c, kind, m, msg_id, NULL, NULL, err, sizeof err) < 0 ? -1 : 0;
}
