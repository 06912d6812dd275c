/* engine: the message pipeline and the engine's life cycle.
 *
 * A batch of inbound messages, events and delivery reports (engine_submit)
 * is handled in order: a retry is recognised, the contact found or created,
 * compliance keywords (STOP, START, HELP) applied before any script runs,
 * then the bot's handler (invocation.c); with several workers each
 * conversation's share runs on its own worker (workers.c). Opening and
 * closing the engine are here too; loading a bot is install.c's, and what
 * they all use is in the files below them (engine_internal.h lists them,
 * lowest first). */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "compliance.h"
#include "engine_internal.h"
#include "luadata.h"

/* contacts.last_seen is written when it moved on by at least this much: a
 * chatty fan does not cost a contact-row write per message (the exact time of
 * every message is in the messages table). */
static const int64_t SEEN_RESOLUTION_MS = 60 * 1000;

/* ---------------------------------------------------------------- life cycle */

static int64_t real_clock(void *ud) {
  (void)ud;
  return wall_ms();
}

store_reader *engine_store(engine *e) { return e->rd; }
engine_stats engine_stats_of(engine *e) {
  engine_stats sum = {0};
  for (int k = 0; k < e->group->n; k++) {
    engine *w = e->group->w[k];
    const engine_stats *s = &w->stats;
    sum.messages_in += s->messages_in;
    sum.replies += s->replies;
    sum.suppressed += s->suppressed;
    sum.errors += s->errors;
    sum.limit_hits += s->limit_hits;
    sum.duplicates += s->duplicates;
    sum.cached_contacts += (long)w->cache.n;
    sum.timers_fired += s->timers_fired;
    for (int i = 0; i <= ENGINE_LATENCY_BUCKETS; i++) sum.latency[i] += s->latency[i];
    sum.latency_sum_s += s->latency_sum_s;
    sum.latency_count += s->latency_count;
  }
  return sum;
}

void engine_on_queued(engine *e, void (*fn)(void *ud), void *ud) {
  writer_on_queued(e->w, fn, ud);
}

int engine_set_fence(engine *e, const struct store_fence *f, char *err, size_t errlen) {
  return writer_set_fence(e->w, f, err, errlen);
}

int engine_apply_side(void *e, struct journal *j, char *err, size_t errlen) {
  return writer_apply_side(((engine *)e)->w, j, err, errlen);
}

/* PARLEY_ENGINE_THREADS as a count of workers, or 0 when it is not one. */
static int threads_from_env(void) {
  const char *v = getenv("PARLEY_ENGINE_THREADS");
  char *end;
  long n = v && *v ? strtol(v, &end, 10) : 0;
  return v && *v && !*end && n >= 1 && n <= MAX_ENGINE_THREADS ? (int)n : 0;
}

int engine_threads_default(void) {
  int n = threads_from_env();
  return n ? n : 1;
}

int engine_threads_auto(void) {
  int n = threads_from_env();
  if (n) return n;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores - 1 > MAX_ENGINE_THREADS) return MAX_ENGINE_THREADS;
  return cores > 2 ? (int)cores - 1 : 1;
}

engine *engine_open(const engine_options *opt, char *err, size_t errlen) {
  /* A file gets a writer thread and a second connection for the engine's
   * reads (WAL lets them run side by side); an in-memory store is one
   * connection, written inline. */
  int threaded = strcmp(opt->db_path, ":memory:") != 0 && !opt->inline_writes;
  writer *w = writer_open(opt->db_path, threaded, err, errlen);
  if (!w) return NULL;
  store_reader *rd = writer_reader(w);
  if (!rd && !(rd = store_reader_open(opt->db_path, err, errlen))) {
    writer_close(w);
    return NULL;
  }
  engine *e = xcalloc(1, sizeof *e);
  e->rd = rd;
  e->reads_alone = !writer_reader(w);
  e->w = w;
  e->outbox = opt->outbox;
  e->serving = opt->serving;
  e->show_rules = opt->show_rules;
  e->link_base = opt->link_base;
  e->link_ud = opt->link_ud;
  e->clock = opt->clock ? opt->clock : real_clock;
  e->clock_ud = opt->clock_ud;
  e->bot_env = opt->bot_env;
  e->bot_env_ud = opt->bot_env_ud;
  if (opt->observer) {
    e->obs = *opt->observer;
    e->has_obs = 1;
  }
  contacts_init(&e->cache, opt->contact_cache ? opt->contact_cache : DEFAULT_CACHE);
  int workers = opt->engine_threads > 0 ? opt->engine_threads : engine_threads_default();
  if (workers > MAX_ENGINE_THREADS) workers = MAX_ENGINE_THREADS;
  if (group_open(e, workers, opt->db_path, err, errlen)) {
    engine_close(e);
    return NULL;
  }
  if (waiting_reload(e)) {
    snprintf(err, errlen, "%s", store_error(rd));
    engine_close(e);
    return NULL;
  }
  return e;
}

void engine_close(engine *e) {
  if (!e) return;
  if (e->worker == 0) {
    group_close(e); /* the other workers first */
    char err[256];
    writer_wait(e->w, err, sizeof err);
    writer_close(e->w);
  }
  worker_free(e);
}

/* ---------------------------------------------------------------- compliance */

static int set_consent(engine *e, bot *b, contact *c, int opt_out,
                       const inbound *m) {
  const char *status = opt_out ? "opted_out" : "subscribed";
  journal_contact_update(e->jr, c->id, status, NULL, NULL, NULL);
  journal_consent(e->jr, b->id, c->id, c->number, opt_out ? "optout" : "optin",
                  "keyword", m->text, engine_now(e));
  c->opted_out = opt_out;
  c->not_opted_in = 0;
  if (opt_out) journal_drips_cancel(e->jr, c->id, NULL); /* every drip stops */
  if (opt_out && c->expect) {
    journal_conversation(e->jr, c->id, c->state, NULL, engine_now(e));
    replace(&c->expect, NULL);
  }
  return 0;
}

static int handle_message(engine *e, bot *b, const inbound *m);
static int handle_delivery(engine *e, bot *b, const delivery *d);
static void forward_delivery(engine *e, bot *b, const delivery *d, const outbound_row *r);
static int delivery_in_conversation(engine *p, engine *e, bot *b, const delivery *d,
                                    const outbound_row *r);

int engine_event_check(const char *type, const char *data, char **data_out, char *err,
                       size_t errlen) {
  size_t n = strlen(type);
  int ok = n >= 1 && n <= 128;
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)type[i]) || strchr("_.-:", type[i]);
  if (!ok) {
    snprintf(err, errlen, "type must be 1 to 128 letters, digits, _ . - or : (as bot.on_event "
                          "takes it)");
    return -1;
  }
  if (strncmp(type, ENGINE_CONSOLE_EVENT_PREFIX, strlen(ENGINE_CONSOLE_EVENT_PREFIX)) == 0) {
    snprintf(err, errlen, "types that start with '" ENGINE_CONSOLE_EVENT_PREFIX "' are the "
                          "console's own");
    return -1;
  }
  *data_out = data ? luadata_check_json(data, strlen(data), "data", &LUADATA_STATE, err, errlen)
                   : xstrdup("{}");
  return *data_out ? 0 : -1;
}

int engine_click(engine *e, bot *b, const char *number, const char *url, const char *user_agent,
                 char *err, size_t errlen) {
  engine_link l;
  int found = link_latest(e, b, number, url, &l, err, errlen);
  if (found <= 0) return found;
  char *data = engine_click_event(&l, user_agent, 0);
  inbound in = {.from = number, .event_type = ENGINE_CLICK_EVENT, .event_data = data};
  int rc = engine_handle(e, b, &in, 1, err, errlen) ? -1 : 1;
  free(data);
  engine_link_free(&l);
  return rc;
}

/* A triggered event (order paid, code requested): the bot's on_event
 * handler in the contact's conversation, with the same sandbox and
 * transaction as a message; its sends are subject to opt-out (unless
 * transactional) and quiet hours like any send the fan did not ask for. */
static int handle_event(engine *e, bot *b, const inbound *m) {
  if (strcmp(m->event_type, ENGINE_CLICK_EVENT) == 0) return handle_click(e, b, m);
  if (strncmp(m->event_type, ENGINE_CONSOLE_EVENT_PREFIX, strlen(ENGINE_CONSOLE_EVENT_PREFIX)) == 0)
    return handle_console_action(e, b, m);
  contact *c = contact_get(e, b, m->from, CONTACT_UNASKED, NULL);
  if (!c) return -1;
  inbound ev = {.text = m->event_type, .len = strlen(m->event_type),
                .provider_id = m->provider_id};
  char err[1024];
  run_failure why = RUN_FAILED_ERROR;
  int rc = run_script(e, b, c, RUN_EVENT, &ev, 0, m->event_data ? m->event_data : "{}", &why,
                      err, sizeof err);
  if (rc == 1) /* the backend is told: see docs/serve.md (events) */
    emit(e, EMIT_EVENT_FAILED, b->name, c->number, err,
         why == RUN_FAILED_NO_HANDLER ? "no_handler" : "error", 0);
  return rc < 0 ? -1 : 0;
}

/* A delivery report: the message moves forward (never back: a late or
 * repeated report changes nothing) and bot.on_status runs in the contact's
 * conversation when it did. */
static int handle_delivery(engine *e, bot *b, const delivery *d) {
  outbound_row r;
  int found = store_outbound_get(e->rd, b->id, d->message_id, d->provider_id, &r);
  if (found < 0) return -1;
  if (found == 0) {
    char *what = xasprintf("no message %lld%s%s of this bot (report '%s' ignored)",
                           (long long)d->message_id, d->provider_id ? " / " : "",
                           d->provider_id ? d->provider_id : "", d->status);
    action_logged(e, b, "", ENGINE_ACTION_STATUS_UNKNOWN, what, "delivery: %s", what);
    free(what);
    return 0;
  }
  if (!engine_holds(e, b->id, r.number)) { /* another node runs the conversation */
    forward_delivery(e, b, d, &r);
    outbound_row_free(&r);
    return 0;
  }
  /* the rest happens in the conversation, on its worker (the pending
   * statuses stay the primary's: reports are handled there) */
  engine *p = e;
  engine *o = engine_owner(e, b->id, r.number);
  bot *ob = o == e ? b : worker_bot(o, b->name);
  if (o != e && ob) { /* in the report's context, without inline replies */
    run_ctx run = {.now = e->run->now, .tag = e->run->tag, .from = e->run->from,
                   .answering = e->run->answering};
    o->run = &run;
    int rc = delivery_in_conversation(p, o, ob, d, &r);
    o->run = NULL;
    outbound_row_free(&r);
    return rc;
  }
  int rc = delivery_in_conversation(p, e, b, d, &r);
  outbound_row_free(&r);
  return rc;
}

/* A delivery report of message r, in its conversation's worker e (p: the
 * worker that keeps the pending statuses). */
static int delivery_in_conversation(engine *p, engine *e, bot *b, const delivery *d,
                                    const outbound_row *rr) {
  const outbound_row r = *rr;
  int rc = 0;
  if (d->carrier_optout) { /* the sender wrote the ledger; the cached copy follows */
    contact *c = contact_get(e, b, r.number, 0, NULL);
    if (c && !c->opted_out) {
      c->opted_out = 1;
      c->not_opted_in = 0;
      if (c->expect) {
        journal_conversation(e->jr, c->id, c->state, NULL, engine_now(e));
        replace(&c->expect, NULL);
      }
    }
    action_logged(e, b, r.number, ENGINE_ACTION_CARRIER_OPTOUT, d->error,
                  "opted out (carrier: %s)", d->error ? d->error : "");
  }
  if (d->undeliverable) { /* the sender marked it; the cached copy follows */
    contact *c = contact_get(e, b, r.number, 0, NULL);
    if (c) c->undeliverable = 1;
  }
  int changed = d->from_sender;
  /* forward of what is committed and of what batches not yet durable
   * recorded: a late or repeated report changes nothing */
  int seen = store_status_rank(r.status), pending = pending_status_rank(p, b->id, r.id);
  if (pending > seen) seen = pending;
  if (!changed && store_status_rank(d->status) > seen) {
    pending_add(p, b->id, NULL, r.id, store_status_rank(d->status));
    journal_delivery(e->jr, r.id, d->status, d->error, engine_now(e));
    changed = 1;
  }
  contact *c = changed && b->on_status ? contact_get(e, b, r.number, 1, NULL) : NULL;
  if (changed && b->on_status && !c) rc = -1;
  if (c) {
    json_t *st = json_pack("{s:I, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)r.id, "status",
                           d->status, "error", d->error, "text", r.text, "provider_id",
                           r.provider_id ? r.provider_id : d->provider_id);
    char *args = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    inbound ev = {.text = d->status, .len = strlen(d->status)};
    char err[1024];
    rc = run_script(e, b, c, RUN_STATUS, &ev, 0, args, NULL, err, sizeof err) < 0 ? -1 : 0;
    free(args);
  }
  return rc;
}

/* A message or event for a conversation another node holds: to the inbox,
 * with what its holder needs to answer it as this node would have. */
static int forward(engine *e, bot *b, const inbound *m) {
  json_t *o = json_pack("{s:s, s:s, s:s?, s:s%, s:s?, s:s?, s:s?, s:s?}", "bot", b->name,
                        "from", m->from, "to", m->to, "text", m->text ? m->text : "", m->text ? m->len : 0,
                        "provider_id", m->provider_id, "event_type", m->event_type,
                        "event_data", m->event_data, "media", m->media_json);
  char *item = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  int64_t left_ms = 0; /* how long the webhook waits for the replies */
  if (m->inline_reply > 0 && !m->event_type)
    left_ms = m->inline_until_ns ? (m->inline_until_ns - mono_ns()) / 1000000 : 10000;
  if (left_ms < 0) left_ms = 0;
  journal_inbox_add(e->jr, m->forward_ticket, partition_of(b->id, m->from), b->id,
                    item ? item : "{}", left_ms, left_ms ? m->inline_reply : 0);
  free(item);
  return 0;
}

/* A delivery report for a message of a conversation another node holds:
 * to the inbox, under a ticket the same report always gets (a report sent
 * twice is handed over once). */
static void forward_delivery(engine *e, bot *b, const delivery *d, const outbound_row *r) {
  json_t *o = json_pack("{s:s, s:s, s:{s:I, s:s?, s:s, s:s?, s:b, s:b, s:b}}", "bot", b->name,
                        "from", r->number, "delivery", "message_id", (json_int_t)r->id,
                        "provider_id", d->provider_id, "status", d->status, "error", d->error,
                        "from_sender", d->from_sender, "carrier_optout", d->carrier_optout,
                        "undeliverable", d->undeliverable);
  char *item = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *ticket = xasprintf("report:%lld:%s:%s", (long long)r->id, d->status,
                           d->error ? d->error : "");
  journal_inbox_add(e->jr, ticket, partition_of(b->id, r->number), b->id, item ? item : "{}", 0,
                    0);
  free(ticket);
  free(item);
}

static int handle_duplicate(engine *e, bot *b, const inbound *m);

/* m in a run of its own; duplicate: a provider's retry, found already
 * (submit_partitioned) */
static int handle_in_run(engine *e, bot *b, const inbound *m, int duplicate) {
  if (m->forward_ticket) return forward(e, b, m);
  json_t *texts = m->inbox_id ? json_array() : NULL, *ids = m->inbox_id ? json_array() : NULL;
  run_ctx run = {
      .now = e->clock(e->clock_ud),
      .tag = m->tag,
      .from = m->delivery ? NULL : m->from,
      .reply_from = own_number(b, m->to),
      .answering = !m->delivery,
      /* whether its replies may go back inline: decided here, once */
      .inl = {.number = m->inline_reply > 0 && !m->event_type &&
                                (!m->inline_until_ns || mono_ns() < m->inline_until_ns)
                            ? m->from
                            : NULL,
              .left = m->inline_reply,
              .until_ns = m->inline_until_ns,
              .inbox_texts = texts,
              .inbox_ids = ids},
  };
  e->run = &run;
  int rc = duplicate       ? handle_duplicate(e, b, m)
           : m->delivery   ? handle_delivery(e, b, m->delivery)
           : m->event_type ? handle_event(e, b, m)
                           : handle_message(e, b, m);
  e->run = NULL;
  if (m->inbox_id) {
    char *t = json_dumps(texts, JSON_COMPACT), *i = json_dumps(ids, JSON_COMPACT);
    journal_inbox_done(e->jr, m->inbox_id, m->inbox_waited, t, i);
    free(t);
    free(i);
    json_decref(texts);
    json_decref(ids);
  }
  return rc;
}

static int handle_one(engine *e, bot *b, const inbound *m) { return handle_in_run(e, b, m, 0); }

typedef struct again {
  engine *e;
  bot *b;
} again;

/* An inline reply of a message handled before: back inline in this
 * answer while it may carry one, else queued for the provider. Only when
 * this message comes from the number that reply went to: the same provider
 * id from another number is not a retry of that message. */
static void reply_again(void *ud, int64_t id, const char *number, const char *text) {
  engine *e = ((again *)ud)->e;
  inline_reply *inl = &e->run->inl;
  if (!e->run->from || strcmp(number, e->run->from) != 0) return;
  if (inl->number && inl->left > 0 && strcmp(number, inl->number) == 0 &&
      (!inl->until_ns || mono_ns() < inl->until_ns)) {
    inl->left--;
    if (inl->inbox_texts) { /* the item's answer, read by the node that waits */
      json_array_append_new(inl->inbox_texts, json_string(text));
      json_array_append_new(inl->inbox_ids, json_integer(id));
    } else { /* this webhook's answer (queued if it does not get through) */
      emit_message(e, ((again *)ud)->b->name, number, text, "sent", id, ENGINE_REPLY_INLINE);
    }
  } else {
    journal_message_release(e->jr, id, "queued", e->run->now, 0);
  }
}

/* A provider's retry: acknowledged, not handled again. One taken from the
 * inbox, or relayed without an answer, came from a node that did not get
 * the first handling's answer (else it would have answered with it): the
 * replies that answer carried inline reached nobody (the node holding the
 * conversation died after its commit, say). They go back inline in this
 * answer, which a webhook may still wait for, or through the outbox. */
static int handle_duplicate(engine *e, bot *b, const inbound *m) {
  e->stats.duplicates++;
  if (!(m->inbox_id || m->answer_lost) || !m->provider_id) return 0;
  again a = {e, b};
  return store_inline_replies(e->rd, b->id, m->provider_id, reply_again, &a) < 0 ? -1 : 0;
}

static int handle_message(engine *e, bot *b, const inbound *m) {
  /* a retry is found before anything is written: the same provider id
   * sent again from another number must not create that number's contact */
  int partitioned = e->group->n > 1; /* submit_partitioned checked the ids */
  if (m->provider_id && !partitioned) {
    int dup = pending_has(e, b->id, m->provider_id);
    if (!dup) dup = provider_id_stored(e, b->id, m->provider_id);
    if (dup < 0) return -1;
    if (dup) return handle_duplicate(e, b, m);
  }
  contact *c = contact_get(e, b, m->from, 1, NULL);
  if (!c) return -1;
  if (m->provider_id && !partitioned) {
    pending_add(e, b->id, m->provider_id, 0, 0);
    provider_id_add(e, b->id, m->provider_id);
  }
  int64_t now = engine_now(e);
  int64_t msg_id = next_message_id(e);
  message_row row = {.id = msg_id, .bot_id = b->id, .contact_id = c->id,
                     .direction = "in", .number = c->number, .text = m->text,
                     .status = "done", .provider_id = m->provider_id, .at = now};
  journal_message(e->jr, &row);
  history_snapshot(e, c, msg_id);
  e->run->inbound = msg_id;
  e->stats.messages_in++, b->counts.messages_in++;
  c->last_seen = c->last_in = now;
  if (c->undeliverable) { /* it texted us: it can take texts after all */
    journal_undeliverable(e->jr, c->id, NULL);
    c->undeliverable = 0;
    action(e, b, c->number, "deliverable again (the number texted in)");
  }
  /* (a contact's first message is written at once: it opens the window of
   * Meta's channels, channel.h) */
  if (!c->seen_dirty &&
      (now - c->stored_last_seen >= SEEN_RESOLUTION_MS || !c->stored_last_in)) {
    c->seen_dirty = 1;
    if (e->ndirty == e->cap_dirty) {
      e->cap_dirty = e->cap_dirty ? e->cap_dirty * 2 : 256;
      e->dirty = xrealloc(e->dirty, e->cap_dirty * sizeof *e->dirty);
    }
    e->dirty[e->ndirty++] = c;
  }

  char keyword[16];
  compliance_kind kind = compliance_classify(m->text, m->len, keyword);
  if (e->show_rules && (kind == COMPLIANCE_OPTOUT || kind == COMPLIANCE_HELP ||
                        (kind == COMPLIANCE_OPTIN && c->opted_out)))
    action(e, b, c->number, "rule: compliance (%s)", keyword);
  else if (e->show_rules && c->opted_out)
    action(e, b, c->number, "rule: none (the number opted out: only START or HELP answers)");
  /* A known contact that never opted in (imported without evidence) joins
   * with its first message, as a new number does: subscribed, and the
   * message goes on to the script (on_join first). STOP opts it out
   * instead; HELP is answered and changes nothing. */
  if (c->not_opted_in && kind != COMPLIANCE_OPTOUT && kind != COMPLIANCE_HELP) {
    journal_contact_update(e->jr, c->id, "subscribed", NULL, NULL, NULL);
    c->not_opted_in = 0;
  }
  switch (kind) {
    case COMPLIANCE_OPTOUT:
      if (!c->opted_out) {
        if (set_consent(e, b, c, 1, m)) return -1;
        action(e, b, c->number, "opted out (%s)", keyword);
        if (run_message(e, b, c, RUN_OPTOUT, m, msg_id)) return -1;
      }
      return record_out(e, b, c, b->optout_reply, "sent", 1, 0, NULL);
    case COMPLIANCE_OPTIN:
      if (c->opted_out) {
        if (set_consent(e, b, c, 0, m)) return -1;
        action(e, b, c->number, "opted in (%s)", keyword);
        if (record_out(e, b, c, b->optin_reply, "sent", 1, 0, NULL)) return -1;
        return run_message(e, b, c, RUN_OPTIN, m, msg_id);
      }
      break;
    case COMPLIANCE_HELP:
      return record_out(e, b, c, b->help, "sent", 1, 0, NULL);
    case COMPLIANCE_NONE:
      break;
  }
  if (c->opted_out) return 0; /* stored; no script runs for an opted-out fan */
  if (handoff_rule(e, b, c)) return 0; /* stored, for the person who has it */
  return run_message(e, b, c, RUN_MESSAGE, m, msg_id);
}

/* A batch's share for one worker (engine_submit with several). */
typedef struct share {
  const char *bot;
  const inbound **msgs;
  size_t n, cap;
  int rc;
  char err[512];
} share;

static void handle_share(engine *w, void *arg) {
  share *sh = &((share *)arg)[w->worker];
  sh->rc = 0;
  if (!sh->n) return;
  bot *b = worker_bot(w, sh->bot);
  int reading = w->reads_alone && store_read_begin(w->rd) == 0;
  sh->rc = contacts_prefetch(w, b, sh->msgs, sh->n);
  for (size_t i = 0; i < sh->n && sh->rc == 0; i++) sh->rc = handle_one(w, b, sh->msgs[i]);
  contacts_prefetch_end(w);
  if (reading) store_read_end(w->rd);
  if (sh->rc) snprintf(sh->err, sizeof sh->err, "%s", store_error(w->rd));
}

/* engine_submit with several workers: each conversation's messages go to
 * the worker of its partition, in their order; delivery reports (whose
 * conversation is known only from the store) and provider-id
 * deduplication are done here, before and after the workers run. */
static int submit_partitioned(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                              size_t errlen) {
  engine_group *g = e->group;
  if (provider_ids_ready(e)) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  share shares[MAX_ENGINE_THREADS];
  memset(shares, 0, sizeof shares);
  const inbound **reports = xcalloc(n ? n : 1, sizeof *reports);
  const inbound **dups = xcalloc(n ? n : 1, sizeof *dups); /* whose answer was lost */
  size_t nreports = 0, ndups = 0, i;
  for (i = 0; i < n; i++) {
    const inbound *m = &msgs[i];
    if (m->delivery) {
      reports[nreports++] = m;
      continue;
    }
    /* a provider's retry, in this batch or one not durable yet (every
     * worker's are here, so a retry from another number is caught too), or
     * stored: looked up here, outside any read transaction, so that every
     * durable batch is seen */
    if (m->provider_id && !m->event_type) {
      int dup = pending_has(e, b->id, m->provider_id);
      if (!dup) dup = provider_id_stored(e, b->id, m->provider_id);
      if (dup < 0) break; /* the store failed: as a failed round, below */
      if (dup) { /* after the workers, as the reports (handle_duplicate) */
        if (m->inbox_id || m->answer_lost) dups[ndups++] = m;
        else e->stats.duplicates++;
        continue;
      }
      pending_add(e, b->id, m->provider_id, 0, 0);
      provider_id_add(e, b->id, m->provider_id);
    }
    share *sh = &shares[engine_owner(e, b->id, m->from)->worker];
    if (sh->n == sh->cap) {
      sh->cap = sh->cap ? sh->cap * 2 : 64;
      sh->msgs = xrealloc(sh->msgs, sh->cap * sizeof *sh->msgs);
    }
    sh->msgs[sh->n++] = m;
  }
  for (int k = 0; k < g->n; k++) shares[k].bot = b->name;
  int rc = i < n ? -1 : group_run(g, handle_share, shares);
  if (rc) snprintf(err, errlen, "%s", store_error(e->rd));
  for (int k = 0; k < g->n && rc == 0; k++) {
    if (shares[k].rc) {
      rc = -1;
      snprintf(err, errlen, "%s", shares[k].err);
    }
  }
  for (size_t r = 0; r < nreports && rc == 0; r++) {
    rc = handle_one(e, b, reports[r]);
    if (rc) snprintf(err, errlen, "%s", store_error(e->rd));
  }
  for (size_t r = 0; r < ndups && rc == 0; r++) {
    rc = handle_in_run(e, b, dups[r], 1);
    if (rc) snprintf(err, errlen, "%s", store_error(e->rd));
  }
  for (int k = 0; k < g->n; k++) free(shares[k].msgs);
  free(reports);
  free(dups);
  if (rc != 0) {
    engine_flush(e, err + strlen(err), errlen - strlen(err));
    engine_reset(e);
    return -1;
  }
  return submit_journal(e, err, errlen);
}

int engine_submit(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen) {
  if (e->group->n > 1) return submit_partitioned(e, b, msgs, n, err, errlen);
  if (provider_ids_ready(e)) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  int rc = 0;
  /* The batch's reads (provider ids, contacts) share one read transaction
   * on the engine's own connection: one snapshot and lock instead of one
   * per statement. It starts after the batch before this one was handed
   * over, so it sees every durable batch; batches it may miss are still in
   * the pending list (forgotten only after it ends). */
  int reading = e->reads_alone && store_read_begin(e->rd) == 0;
  const inbound **all = xcalloc(n ? n : 1, sizeof *all);
  for (size_t i = 0; i < n; i++) all[i] = &msgs[i];
  rc = contacts_prefetch(e, b, all, n);
  free(all);
  for (size_t i = 0; i < n && rc == 0; i++) rc = handle_one(e, b, &msgs[i]);
  contacts_prefetch_end(e);
  if (reading) store_read_end(e->rd);
  if (rc != 0) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    engine_flush(e, err + strlen(err), errlen - strlen(err));
    engine_reset(e);
    return -1;
  }
  return submit_journal(e, err, errlen);
}

int engine_handle(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen) {
  if (engine_submit(e, b, msgs, n, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}
