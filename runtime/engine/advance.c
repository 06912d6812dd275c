/* advance: what comes due as time passes: timers (and drip steps, which are
 * timers), messages held by quiet hours, broadcast turns; and the recurring
 * timers a new script version brings. engine_advance runs them in due order,
 * each at its own time, in rounds committed like message batches. */
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "sandbox.h"


/* Schedules the next run of a recurring timer after `after`. */
static void schedule_again(engine *e, bot *b, const timer_row *t, int64_t after) {
  schedule sc;
  char err[256];
  if (!t->spec || schedule_parse(t->spec, &sc, err, sizeof err)) return;
  timer_row next = *t;
  next.id = next_timer_id(e);
  next.due_at = schedule_next(&sc, after, b->timezone);
  next.kind = "every";
  journal_timer_add(e->jr, &next, after);
  if (next.due_at < e->next_new_due) e->next_new_due = next.due_at;
}

/* When an item due at `due` really runs: at its time while the clock moves
 * through it, or now (`started`) when it was due before this advance began
 * (after downtime): quiet hours, bot.now() and the record then say now. */
static int64_t run_time(int64_t due, int64_t started) {
  return due > started ? due : started;
}

static int fire_timer(engine *e, bot *b, const timer_row *t, int64_t started) {
  e->run->now = run_time(t->due_at, started);
  contact *c = NULL;
  if (t->number && !(c = contact_get(e, b, t->number, 1, NULL))) return -1;
  const char *status = "done";
  char err[1024] = "";
  int is_rerun = t->kind && strcmp(t->kind, "rerun") == 0;
  int late = !is_rerun && b->late_ms > 0 && started - t->due_at > b->late_ms;
  int is_drip = t->kind && strcmp(t->kind, "drip") == 0;
  if (late) {
    status = "skipped";
    snprintf(err, sizeof err, "%lld minutes late after downtime (bot.config late_after)",
             (long long)((started - t->due_at) / 60000));
    action(e, b, c ? c->number : "", "timer #%lld (%s) skipped: %s", (long long)t->id,
           t->handler, err);
  }
  if (!late || is_drip) {
    /* a late drip step is skipped, but its drip goes on with the next */
    inbound m = {.text = t->handler, .len = strlen(t->handler)};
    char run_err[1024] = "";
    /* a handler that waits keeps the timer pending */
    e->run->timer = (struct firing){t->id, is_rerun, t->kind && strcmp(t->kind, "every") == 0};
    int rc = is_rerun ? waiting_rerun(e, b, c, t, run_err, sizeof run_err)
                      : run_script(e, b, c, late ? RUN_LATE_TIMER : RUN_TIMER, &m, 0, t->args,
                                   NULL, run_err, sizeof run_err);
    e->run->timer = (struct firing){0};
    if (!is_rerun) e->stats.timers_fired++;
    if (rc < 0) return -1;
    /* a handler that waits: its timer is done when it is, but a recurring
     * one is done now and goes on (the waiting handler has a record) */
    if (rc == 2 && !(t->kind && strcmp(t->kind, "every") == 0)) return 0;
    if (rc == 1) { /* recorded, not retried */
      status = "error";
      snprintf(err, sizeof err, "%s", run_err);
    }
  }
  journal_timer_done(e->jr, t->id, status, err[0] ? err : NULL, e->run->now);
  /* after downtime a recurring timer runs once, then from now on */
  if (t->kind && strcmp(t->kind, "every") == 0)
    schedule_again(e, b, t, t->due_at > started ? t->due_at : started);
  return 0;
}

static int release_held(engine *e, bot *b, const held_row *h, int64_t started) {
  e->run->now = run_time(h->send_at, started);
  contact *c = contact_get(e, b, h->number, 1, NULL);
  if (!c) return -1;
  const char *status = c->opted_out ? "suppressed" : e->outbox ? "queued" : "sent";
  journal_message_release(e->jr, h->id, status, e->run->now, h->broadcast_id);
  if (c->opted_out) {
    e->stats.suppressed++, b->counts.suppressed++;
    action(e, b, c->number, "suppressed (opted out while held): %s", h->text);
  } else {
    e->stats.replies++, b->counts.replies++;
    if (shows(e)) {
      char when[64];
      clock_format_local(e->run->now, zone_of(b, c), when, sizeof when);
      action(e, b, c->number, "released at %s %s (end of quiet hours)", when,
             zone_of(b, c));
    }
    emit(e, 1, b->name, c->number, h->text, status, h->id);
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

struct render_args {
  const char *text;
  contact *c;
};

static int push_render_args(lua_State *L, void *ud) {
  struct render_args *a = ud;
  lua_pushstring(L, a->text);
  lua_pushstring(L, a->c->number);
  lua_pushstring(L, a->c->fields);
  lua_pushstring(L, a->c->tags);
  return 4;
}

/* The broadcast's text for one recipient (templates), through the bot's VM.
 * NULL if the script's side failed. */
static char *render_for(engine *e, bot *b, contact *c, const char *text) {
  if (!strstr(text, "{{")) return xstrdup(text);
  struct render_args ra = {text, c};
  int nargs, nres;
  char err[512];
  lua_State *co = sandbox_prepare(b->sb, "render", push_render_args, &ra, &nargs, err, sizeof err);
  if (!co) return NULL;
  invocation inv;
  invocation_init(&inv, e, b, c, 0);
  sandbox_status st = sandbox_call(b->sb, co, nargs, &nres, &inv, err, sizeof err);
  char *out = st == SANDBOX_OK && nres >= 1 && lua_type(co, -1) == LUA_TSTRING
                  ? xstrdup(lua_tostring(co, -1))
                  : NULL;
  sandbox_release(b->sb, co, st);
  invocation_free(&inv);
  return out;
}

static int push_text(lua_State *L, void *ud) {
  lua_pushstring(L, ud);
  return 1;
}

char *engine_template_problem(engine *e, bot *b, const char *text) {
  (void)e;
  if (!strstr(text, "{{")) return NULL;
  int nargs, nres;
  char err[512];
  lua_State *co = sandbox_prepare(b->sb, "template_problem", push_text, (void *)text,
                                  &nargs, err, sizeof err);
  if (!co) return xstrdup(err);
  sandbox_status st = sandbox_call(b->sb, co, nargs, &nres, NULL, err, sizeof err);
  char *out = st != SANDBOX_OK ? xstrdup(err)
              : nres >= 1 && lua_type(co, -1) == LUA_TSTRING
                  ? xstrdup(lua_tostring(co, -1))
                  : NULL;
  sandbox_release(b->sb, co, st);
  return out;
}

/* A WhatsApp recipient's template message of a broadcast with content
 * (engine_broadcast_template): its params filled in for c, the message's
 * content into *media and the text it is shown as ("[template name
 * en_US: a | b]", as stdlib/internal/channels.lua writes it) into *text:
 * 0; -1 if a param's {{...}} failed. */
static int template_for(engine *e, bot *b, contact *c, const char *content, char **text,
                        char **media) {
  json_t *o = json_loads(content, 0, NULL), *t = json_object_get(o, "template");
  json_t *params = json_object_get(t, "params"), *filled = json_array(), *p;
  const char *name = json_string_value(json_object_get(t, "name"));
  const char *language = json_string_value(json_object_get(t, "language"));
  buf shown = {0};
  buf_printf(&shown, "[template %s %s", name ? name : "", language ? language : "");
  size_t i;
  int rc = 0;
  json_array_foreach(params, i, p) {
    char *v = rc ? NULL : render_for(e, b, c, json_string_value(p) ? json_string_value(p) : "");
    if (!v) {
      rc = -1;
      continue;
    }
    buf_printf(&shown, "%s%s", i ? " | " : ": ", v);
    json_array_append_new(filled, json_string(v));
    free(v);
  }
  buf_puts(&shown, "]");
  json_object_set_new(t, "params", filled);
  *media = rc ? NULL : json_dumps(o, JSON_COMPACT);
  *text = rc ? NULL : shown.data;
  if (rc) buf_free(&shown);
  json_decref(o);
  return rc;
}

/* The next recipients of a broadcast, one at a time at its rate, each in
 * their own quiet hours; the cursor and counts move in the same commit, so a
 * crash resumes after the last committed recipient, never sending twice. */
static int run_broadcast_chunk(engine *e, bot *b, const broadcast_row *br,
                               int64_t started) {
  enum { CHUNK = 200 };
  recipients rs = {0};
  if (store_contacts_match(e->rd, b->id, br->segment, br->cursor, CHUNK,
                           collect_recipient, &rs))
    return -1;
  double step = br->rate > 0 ? 1000.0 / br->rate : 0;
  double t = (double)run_time(br->next_at, started);
  int64_t cursor = br->cursor;
  long sent = 0, held = 0, suppressed = 0, failed = 0, not_opted_in = 0;
  int rc = 0;
  e->run->broadcast = br->id;
  for (size_t i = 0; i < rs.n && rc == 0; i++, t += step) {
    e->run->now = (int64_t)t;
    contact *c = contact_get(e, b, rs.v[i].number, 1, NULL);
    if (!c) {
      rc = -1;
      break;
    }
    cursor = rs.v[i].id;
    /* marketing reaches only who opted in: skipped, nothing stored */
    if (c->not_opted_in) {
      not_opted_in++;
      continue;
    }
    /* its WhatsApp recipients get its template, if it has one */
    char *media = NULL, *text;
    if (br->content && channel_of(c->number) == CHANNEL_WHATSAPP) {
      if (template_for(e, b, c, br->content, &text, &media)) text = NULL;
    } else {
      text = render_for(e, b, c, br->text);
    }
    const char *why = !text ? "its template failed"
                      : !*text ? "the text is empty for this contact"
                      : utf8_chars(text) > (size_t)b->max_chars
                          ? "the text is longer than max_message_chars"
                          : NULL;
    if (why) { /* the same checks as any send: counted as failed */
      failed++;
      action(e, b, c->number, "broadcast #%lld not sent: %s", (long long)br->id, why);
      free(text);
      free(media);
      continue;
    }
    /* outside the window of the contact's channel (WhatsApp's 24 hours):
     * stored failed by record_out, counted so */
    char window[400];
    int closed = !c->opted_out && window_closed(e, c, media, window, sizeof window);
    int r = record_out(e, b, c, text, c->opted_out ? "suppressed" : "sent", 0, 1, media);
    if (r < 0) rc = -1;
    else if (c->opted_out) suppressed++;
    else if (c->undeliverable || closed) failed++; /* stored failed, not sent */
    else if (r == 1) held++;
    else sent++;
    free(text);
    free(media);
  }
  e->run->broadcast = 0;
  for (size_t i = 0; i < rs.n; i++) free(rs.v[i].number);
  free(rs.v);
  if (rc) return -1;
  const char *status = rs.n < CHUNK ? "done" : "running";
  int64_t next_at = (int64_t)t;
  journal_broadcast_update(e->jr, br->id, status, cursor, next_at, sent, held,
                           suppressed, failed, not_opted_in);
  if (strcmp(status, "running") == 0 && next_at < e->next_new_due) e->next_new_due = next_at;
  char skipped[64] = "";
  if (not_opted_in)
    snprintf(skipped, sizeof skipped, ", %ld not opted in", not_opted_in);
  action(e, b, "",
         "broadcast #%lld: %ld sent, %ld held, %ld suppressed, %ld failed%s%s",
         (long long)br->id, sent, held, suppressed, failed, skipped,
         strcmp(status, "done") == 0 ? " (done)" : "");
  return 0;
}

/* One round: the due items fetched, in time order, until one added by an
 * earlier item of the round would come before the next (then the round ends
 * and the caller fetches again). Returns items handled, or -1. */
typedef struct advance_cursor {
  due_key timer, held; /* the last handled, in due order */
} advance_cursor;

static const advance_cursor advance_start = {{INT64_MIN, 0}, {INT64_MIN, 0}};

/* What a round fetches: with several workers each fetches the timers and
 * held messages of its own partitions, and broadcasts (whose recipients are
 * in every partition) run on the primary once they are done. */
enum { ROUND_TIMERS = 1, ROUND_HELD = 2, ROUND_BROADCASTS = 4, ROUND_ALL = 7 };

static long advance_round(engine *e, bot *b, int64_t until, int64_t started,
                          advance_cursor *cur, int what) {
  enum { ROUND = 512 };
  timer_row *ts = NULL;
  held_row *hs = NULL;
  size_t nt = 0, nh = 0, i = 0, j = 0;
  long done = 0;
  broadcast_row *bs = NULL;
  size_t nb = 0, k = 0;
  int rc = 0;
  if (what & ROUND_TIMERS) rc = store_timers_due(e->rd, b->id, until, &cur->timer, ROUND, &ts, &nt);
  if (rc == 0 && (what & ROUND_HELD))
    rc = store_held_due(e->rd, b->id, until, &cur->held, ROUND, &hs, &nh);
  if (rc == 0 && (what & ROUND_BROADCASTS))
    rc = store_broadcasts_due(e->rd, b->id, until, &bs, &nb);
  e->next_new_due = INT64_MAX;
  run_ctx run = {0}; /* the round's: each item sets its time and key */
  e->run = &run;
  while (rc == 0 && (i < nt || j < nh || k < nb)) {
    int64_t tt = i < nt ? ts[i].due_at : INT64_MAX;
    int64_t th = j < nh ? hs[j].send_at : INT64_MAX;
    int64_t tb = k < nb ? bs[k].next_at : INT64_MAX;
    int64_t at = tt <= th && tt <= tb ? tt : (th <= tb ? th : tb);
    if (e->next_new_due <= at) break; /* something new comes first */
    if (at == tt) {
      cur->timer = (due_key){ts[i].due_at, ts[i].id};
      /* its conversation's handler waits for a response: a later advance */
      run.event_key = ts[i].id; /* its output's place among the workers' (gather) */
      if (waiting_timer_busy(e, b, &ts[i])) i++;
      else rc = fire_timer(e, b, &ts[i++], started);
    } else if (at == th) {
      cur->held = (due_key){hs[j].send_at, hs[j].id};
      run.event_key = EVENT_KEY_HELD + hs[j].id; /* after a timer due then */
      rc = release_held(e, b, &hs[j++], started);
    }
    else /* one chunk per round: the rest comes back in the next one */
      rc = run_broadcast_chunk(e, b, &bs[k++], started), e->next_new_due = INT64_MIN;
    done++;
  }
  for (size_t m = 0; m < nb; m++) broadcast_row_free(&bs[m]);
  free(bs);
  e->run = NULL;
  for (size_t k = 0; k < nt; k++) timer_row_free(&ts[k]);
  for (size_t k = 0; k < nh; k++) {
    free(hs[k].number);
    free(hs[k].text);
  }
  free(ts);
  free(hs);
  return rc ? -1 : done;
}

/* Whether this engine runs the bot's broadcast turns: the node holding
 * the bot's own conversation (partition.h) does. */
static int turns_here(engine *e, const bot *b) {
  return engine_holds(e, b->id, "");
}

/* One round of each worker over its own partitions (advance_partitioned). */
typedef struct advance_job {
  const char *bot;
  int64_t until, started;
  advance_cursor cur[MAX_ENGINE_THREADS];
  long done[MAX_ENGINE_THREADS];
  int added[MAX_ENGINE_THREADS];
} advance_job;

static void advance_share(engine *w, void *arg) {
  advance_job *a = arg;
  bot *b = worker_bot(w, a->bot);
  a->done[w->worker] = 0;
  a->added[w->worker] = 0;
  if (!b) return;
  store_set_partitions(w->rd, w->due_parts);
  a->done[w->worker] = advance_round(w, b, a->until, a->started, &a->cur[w->worker],
                                     ROUND_TIMERS | ROUND_HELD);
  store_set_partitions(w->rd, NULL);
  a->added[w->worker] = w->next_new_due != INT64_MAX;
}

/* When the bot's next broadcast turn is due (by until), INT64_MAX if none
 * is, INT64_MIN if the store failed. */
static int64_t next_turn(engine *e, bot *b, int64_t until) {
  if (!turns_here(e, b)) return INT64_MAX;
  broadcast_row *bs = NULL;
  size_t nb = 0;
  if (store_broadcasts_due(e->rd, b->id, until, &bs, &nb)) return INT64_MIN;
  int64_t at = INT64_MAX;
  for (size_t i = 0; i < nb; i++) {
    if (bs[i].next_at < at) at = bs[i].next_at;
    broadcast_row_free(&bs[i]);
  }
  free(bs);
  return at;
}

/* engine_advance for one bot with several workers: rounds as below, each
 * worker's in parallel, then the broadcasts on the primary. */
static int advance_partitioned(engine *e, bot *b, int64_t until, int64_t started, char *err,
                               size_t errlen) {
  engine_group *g = e->group;
  advance_job *a = xcalloc(1, sizeof *a);
  a->bot = b->name;
  a->until = until;
  a->started = started;
  for (int k = 0; k < g->n; k++) a->cur[k] = advance_start;
  advance_cursor bcur = advance_start;
  int rc = 0;
  for (;;) {
    /* in due order, as one worker would: the timers and held messages due
     * up to the next broadcast turn first, then the turn */
    int64_t turn = next_turn(e, b, until);
    a->until = turn < until ? turn : until;
    long done = turn == INT64_MIN || group_run(g, advance_share, a) ? -1 : 0;
    int added = 0;
    for (int k = 0; k < g->n; k++) {
      if (a->done[k] < 0) done = -1;
      if (done >= 0) done += a->done[k];
      added |= a->added[k];
    }
    if (done == 0 && turn != INT64_MAX) {
      done = advance_round(e, b, until, started, &bcur, ROUND_BROADCASTS);
      added |= e->next_new_due != INT64_MAX;
    }
    if (done < 0) {
      snprintf(err, errlen, "%s", store_error(e->rd));
      engine_reset(e);
      rc = -1;
      break;
    }
    if (done == 0) break;
    if (submit_journal(e, err, errlen)) {
      rc = -1;
      break;
    }
    if (added) {
      if (engine_flush(e, err, errlen)) {
        rc = -1;
        break;
      }
      for (int k = 0; k < g->n; k++) a->cur[k] = advance_start;
    }
  }
  free(a);
  return rc;
}

int engine_advance(engine *e, int64_t until, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen)) return -1;
  int64_t started = e->clock(e->clock_ud);
  for (bot *b = e->bots; b; b = b->next) {
    if (e->group->n > 1) {
      if (advance_partitioned(e, b, until, started, err, errlen) ||
          engine_flush(e, err, errlen))
        return -1;
      continue;
    }
    /* Rounds overlap like message batches: while the writer commits one,
     * the next is fetched past the last item handled. A round that added
     * timers or held messages, or ran a broadcast, waits for its commit so
     * the next fetch sees what it added. */
    advance_cursor cur = advance_start;
    int what = turns_here(e, b) ? ROUND_ALL : ROUND_TIMERS | ROUND_HELD;
    for (;;) {
      store_set_partitions(e->rd, e->due_parts);
      long done = advance_round(e, b, until, started, &cur, what);
      store_set_partitions(e->rd, NULL);
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
int reconcile_every(engine *e, bot *b, char *err, size_t errlen) {
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
      timer_row t = {.id = next_timer_id(e), .bot_id = b->id,
                     .due_at = schedule_next(&sc, now, b->timezone),
                     .handler = (char *)handler, .args = "null", .kind = "every",
                     .spec = (char *)spec};
      journal_timer_add(e->jr, &t, now);
    }
    lua_pop(L, 3);
  }
  lua_pop(L, 3);
  for (size_t k = 0; k < n; k++) {
    if (!kept[k]) journal_timer_cancel(e->jr, rows[k].id, b->id);
    timer_row_free(&rows[k]);
  }
  free(rows);
  free(kept);
  if (submit_journal(e, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}
