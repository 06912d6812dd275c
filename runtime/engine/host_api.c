/* host_api: the host API a bot's script sees while one of its handlers runs
 * (api_host, engine_api): sends, logs, timers, drips, broadcasts, segments,
 * http.get/post; each collects its effect into the invocation, applied when
 * the handler returns (invocation.c). invocation_init sets one up. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* ---------------------------------------------------------------- sending */

/* An E.164 number, or another channel's address (channel.h). */
static int valid_number(const char *n) { return channel_address_ok(n, 3); }

static const char *api_send(void *ctx, const char *to, const char *text,
                            size_t len, const char *kind, int transactional,
                            int urgent, const char *media, char *err, size_t errlen) {
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
  if (!utf8_valid(text, len)) { /* e.g. a string cut in the middle of a character */
    snprintf(err, errlen, "%s: the text is not valid UTF-8 (was a string cut with "
                          "string.sub? utf8.offset finds character boundaries)", kind);
    return NULL;
  }
  size_t chars = utf8_chars(text);
  /* the recipient's channel's limit, or the bot's on SMS */
  channel ch = channel_of(to ? to : inv->c ? inv->c->number : NULL);
  int max = channel_max_chars(ch);
  if (ch == CHANNEL_INSTAGRAM && len > (size_t)max) { /* Instagram counts bytes */
    snprintf(err, errlen, "%s: the text is %zu bytes long; instagram takes at most %d", kind,
             len, max);
    return NULL;
  }
  if (chars > (size_t)(max ? max : inv->b->max_chars)) {
    if (max)
      snprintf(err, errlen, "%s: the text is %zu characters long; %s takes at most %d", kind,
               chars, channel_name(ch), max);
    else
      snprintf(err, errlen, "%s: the text is %zu characters long; the limit is %d "
                            "(bot.config max_message_chars)",
               kind, chars, inv->b->max_chars);
    return NULL;
  }
  int opted_out;
  if (to) {
    if (!valid_number(to)) {
      snprintf(err, errlen, "send: '%.40s' is not an E.164 number like "
                            "+15550100 (or whatsapp:+15550100, messenger:PSID)",
               to);
      return NULL;
    }
    if (inv->c && strcmp(to, inv->c->number) == 0) {
      to = NULL;
      opted_out = inv->c->opted_out;
    } else if (foreign_contact(inv->e, inv->b, to)) {
      /* another worker's contact: as the store has it (the send's own
       * status is decided on that worker, when the batch ends) */
      contact_row r = {0};
      opted_out = store_contact_get(inv->e->rd, inv->b->id, to, &r) > 0 && r.status &&
                  strcmp(r.status, "opted_out") == 0;
      contact_row_free(&r);
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
   * for the recipient's morning (decided at commit, in their zone), unless
   * marked transactional or urgent (docs/scheduling.md, "Which sends wait") */
  int may_hold = !transactional && !urgent && !(inv->replying && !to);
  *p = (pending_send){to ? xstrdup(to) : NULL, xstrndup(text, len),
                      xstrdup(kind), transactional,
                      opted_out && !transactional ? "suppressed" : "sent", may_hold,
                      media ? xstrdup(media) : NULL};
  /* outside a window of the contact's channel, what it cannot take is
   * recorded as failed (record_out): said at once to the handler */
  char why[400];
  if (!to && strcmp(p->status, "sent") == 0 && window_closed(inv->e, inv->c, media, why, sizeof why))
    return "failed";
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

/* bot.store's JSON as saved: the handler holds the bot's store lock from
 * here to its end (or its wait), so no other worker's handler changes it
 * meanwhile. */
static const char *api_store_json(void *ctx) {
  invocation *inv = ctx;
  store_lock(inv);
  return inv->b->store->json;
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
  op->row = (timer_row){.id = next_timer_id(inv->e), .bot_id = inv->b->id,
                        .contact_id = inv->c ? inv->c->id : 0,
                        .number = inv->c ? xstrdup(inv->c->number) : NULL,
                        .due_at = due_ms, .handler = xstrdup(handler),
                        .args = xstrdup(args), .kind = xstrdup(kind)};
  return op->row.id;
}

/* A broadcast's text is a message for every recipient (its {{...}} filled
 * in for each): checked like a send's, before the journal copies it. */
static int64_t api_broadcast_add(void *ctx, const char *segment, const char *text,
                                 size_t len, const char *content, int64_t start_ms, double rate,
                                 char *err, size_t errlen) {
  invocation *inv = ctx;
  if (inv->broadcasts.n >= MAX_BROADCASTS_PER_INVOCATION) {
    snprintf(err, errlen, "bot.broadcast: more than %d broadcasts from one handler",
             MAX_BROADCASTS_PER_INVOCATION);
    return -1;
  }
  if (strlen(text) != len) {
    snprintf(err, errlen, "bot.broadcast: the text contains a NUL byte");
    return -1;
  }
  if (!utf8_valid(text, len)) {
    snprintf(err, errlen, "bot.broadcast: the text is not valid UTF-8");
    return -1;
  }
  size_t chars = utf8_chars(text);
  if (chars > (size_t)inv->b->max_chars) {
    snprintf(err, errlen, "bot.broadcast: the text is %zu characters long; the limit is %d "
                          "(bot.config max_message_chars)",
             chars, inv->b->max_chars);
    return -1;
  }
  broadcast_row row = {.id = next_broadcast_id(inv->e), .bot_id = inv->b->id,
                       .segment = (char *)segment, .text = (char *)text,
                       .rate = rate, .next_at = start_ms, .content = (char *)content};
  journal_broadcast_add(&inv->broadcasts, &row, engine_now(inv->e));
  return row.id;
}

static int api_contacts_match(void *ctx, const char *segment, int64_t after, long limit,
                              contact_fn fn, int (*stop)(void *ud), void *ud) {
  invocation *inv = ctx;
  store_set_progress(inv->e->rd, stop, ud);
  int rc = store_contacts_match(inv->e->rd, inv->b->id, segment, after, limit, fn, ud);
  store_set_progress(inv->e->rd, NULL, NULL);
  return rc;
}

static int api_broadcast_get(void *ctx, int64_t id, broadcast_row *out) {
  invocation *inv = ctx;
  return store_broadcast_get(inv->e->rd, inv->b->id, id, out);
}

static int api_timer_cancel(void *ctx, int64_t id, char *err, size_t errlen) {
  invocation *inv = ctx;
  if (waiting_has_record(inv->e, id)) return 0; /* it runs already, as one that ran */
  struct timer_op *op = timer_op(ctx, err, errlen);
  if (!op) return -1;
  op->kind = OP_CANCEL;
  op->id = id;
  return 0;
}

static int api_drips_stop(void *ctx, const char *handler, char *err, size_t errlen) {
  invocation *inv = ctx;
  if (!inv->c) return 0; /* no conversation, no drips */
  struct timer_op *op = timer_op(inv, err, errlen);
  if (!op) return -1;
  op->kind = OP_STOP_DRIPS;
  op->handler = handler ? xstrdup(handler) : NULL;
  return 0;
}

static const char *api_zone(void *ctx) {
  invocation *inv = ctx;
  return zone_of(inv->b, inv->c);
}

static void api_rule(void *ctx, const char *kind, const char *what) {
  invocation *inv = ctx;
  if (inv->e->show_rules)
    action(inv->e, inv->b, inv->c ? inv->c->number : "", "rule: %s%s%s", kind, what ? " " : "",
           what ? what : "");
}

/* The router is about to raise the error of an event no handler takes. */
static void api_no_handler(void *ctx) { ((invocation *)ctx)->no_handler = 1; }

static char *api_link(void *ctx, const char *url, size_t len, char *err, size_t errlen) {
  invocation *inv = ctx;
  if (!inv->c) {
    snprintf(err, errlen, "c:link: no conversation (a bot's own timer)");
    return NULL;
  }
  if (strlen(url) != len || !link_url_ok(url, len)) {
    snprintf(err, errlen, "c:link: '%.80s%s' is not an http(s) URL of at most %d bytes without "
             "spaces, quotes, angle brackets or braces", url, len > 80 ? "..." : "", LINK_URL_MAX);
    return NULL;
  }
  for (int i = 0; i < inv->nlinks; i++) /* the same URL again: the same link */
    if (strcmp(inv->links[i].url, url) == 0 && !inv->links[i].message) {
      return links_short(inv->e, inv->b, inv->links[i].code);
    }
  if (inv->nlinks >= MAX_LINKS_PER_INVOCATION) {
    snprintf(err, errlen, "c:link: more than %d links from one handler",
             MAX_LINKS_PER_INVOCATION);
    return NULL;
  }
  struct made_link *l = &inv->links[inv->nlinks];
  char *link = links_make(inv->e, inv->b, l->code);
  if (!link) {
    snprintf(err, errlen, "c:link: no random bytes for a code");
    return NULL;
  }
  l->url = xstrdup(url);
  l->message = 0;
  inv->nlinks++;
  return link;
}

const api_host engine_api = {
    api_send,         api_log,        api_now,            api_store_json,
    api_timer_add,    api_timer_cancel, api_drips_stop,   api_zone,
    api_broadcast_add, api_contacts_match, api_broadcast_get, waiting_http_start,
    waiting_http_result, api_rule,       api_no_handler,   api_link};

/* Without zeroing the arrays (12 KB): only their first n entries are used. */
void invocation_init(invocation *inv, engine *e, bot *b, contact *c, int replying) {
  inv->base.host = &engine_api;
  inv->e = e;
  inv->b = b;
  inv->c = c;
  inv->replying = replying;
  inv->nsends = 0;
  inv->ntimer_ops = 0;
  inv->broadcasts = (journal){0};
  inv->logs = (buf){0};
  inv->started_opted_out = c && c->opted_out;
  inv->store_locked = 0;
  inv->version = b;
  inv->nhttp = 0;
  inv->no_handler = 0;
  inv->nlinks = 0;
  inv->http = (struct http_call){0};
  inv->answer = (struct http_answer){0};
}
