/* forward: the inbox on the server's side, when several nodes share one
 * PostgreSQL (cluster.h, store_cluster.h).
 *
 * A message or event for a conversation another node holds is not handled
 * here: it goes to the inbox under a ticket, in the batch that acknowledges
 * it. A webhook that may carry replies waits (its connection suspended, the
 * engine going on) until the holder has recorded them (the cluster's
 * listener wakes the engine loop when an item is done; it looks every
 * 100 ms anyway), or until the reply deadline: then it gives the item up
 * and is answered without replies, which the holder queues for the
 * provider.
 *
 * An admin call that writes a contact of such a conversation (PATCH or
 * DELETE of /v1/bots/BOT/contacts/NUMBER) goes the same way, for the
 * holder to run, whose cache holds the contact: the caller waits for the
 * holder's answer (ADMIN_WAIT_MS at most, then 504).
 *
 * The other way round, the open inbox items of this node's partitions
 * are taken as jobs without a connection, in the inbox's order, before
 * each round of jobs (woken when items are added, and every 100 ms): a
 * conversation's message or event acknowledged by another node is
 * handled before any that came after it, here or relayed (a look only on
 * news of items added would let a message that came later run first).
 * An item is taken once until its batch is durable (or failed: then it is
 * taken again). */
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster.h"
#include "http_internal.h"
#include "log.h"
#include "partition.h"
#include "store_cluster.h"
#include "util.h"

enum { TAKE_AT_ONCE = 512, ADMIN_WAIT_MS = 10000 };

void forward_init(server *s) { /* unique to this run: random, then counted */
  unsigned char r[8] = {0};
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    uint64_t t = (uint64_t)mono_ns() ^ (uint64_t)wall_ms() << 20;
    memcpy(r, &t, sizeof r);
  }
  for (int i = 0; i < 8; i++) snprintf(s->ticket_prefix + 2 * i, 3, "%02x", r[i]);
}

static void new_ticket(server *s, job *j) {
  free(j->ticket);
  j->ticket = xasprintf("%s-%llu", s->ticket_prefix, (unsigned long long)++s->tickets);
}

void forward_mark(server *s, job *j, inbound *in) {
  s->handed_inbox++;
  new_ticket(s, j);
  in->forward_ticket = j->ticket;
  j->wants_replies = j->conn && j->kind == JOB_MESSAGE && in->inline_reply > 0;
  j->deadline_ns = in->inline_until_ns ? in->inline_until_ns
                                       : j->arrived_ns + 10 * 1000000000LL;
}

int forward_wait(server *s, job *j) {
  if (!j->ticket || j->failed || !j->wants_replies) return 0;
  j->next = s->forwarded;
  s->forwarded = j;
  return 1;
}

static int is_admin(const job *j) {
  return j->kind == JOB_CONTACT_UPDATE || j->kind == JOB_CONTACT_ERASE;
}

int forward_admin(server *s, job *j, bot *b) {
  if (!s->cfg.nodes || j->inbox_id || engine_holds(s->e, bot_id(b), j->item)) return 0;
  new_ticket(s, j);
  json_t *o = json_pack("{s:s, s:s, s:s, s:s%}", "bot", j->botname, "from", j->item, "admin",
                        j->kind == JOB_CONTACT_ERASE ? "erase" : "update", "body",
                        j->body.data ? j->body.data : "", j->body.data ? j->body.len : 0);
  char *item = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char err[256] = "the request's body is not UTF-8";
  int made = item != NULL;
  int rc = made ? engine_inbox_add(s->e, b, j->ticket, j->item, item, ADMIN_WAIT_MS, err,
                                   sizeof err)
                : -1;
  free(item);
  if (rc) {
    job_answer_error(j, made ? 503 : 400, err);
    return -1;
  }
  j->wants_replies = 1;
  j->deadline_ns = mono_ns() + ADMIN_WAIT_MS * 1000000LL;
  return forward_wait(s, j);
}

/* The holder's answer to a handed-over admin call ({"status": N, "body":
 * "..."}) as the job's. */
static void take_answer(job *j, const char *answer) {
  json_t *o = answer ? json_loads(answer, 0, NULL) : NULL;
  json_int_t status = json_integer_value(json_object_get(o, "status"));
  const char *body = json_string_value(json_object_get(o, "body"));
  if (status >= 200 && status <= 599 && body) {
    j->http_status = (unsigned)status;
    j->http_body = xstrdup(body);
  } else {
    job_answer_error(j, 502, "the node holding the contact gave an answer that cannot be read");
  }
  json_decref(o);
}

/* The holder's inline replies (a JSON list of texts) as the job's, and
 * their message ids (a JSON list of numbers): if the answer does not get
 * through, this node queues them for the provider (on_completed). */
static void take_reply_lists(job *j, json_t *replies, json_t *reply_ids) {
  size_t i;
  json_t *v;
  json_array_foreach(replies, i, v) {
    if (!json_is_string(v)) continue;
    j->replies = xrealloc(j->replies, (j->nreplies + 1) * sizeof *j->replies);
    j->replies[j->nreplies++] = xstrdup(json_string_value(v));
  }
  json_array_foreach(reply_ids, i, v) {
    if (!json_is_integer(v)) continue;
    j->reply_ids = xrealloc(j->reply_ids, (j->nreply_ids + 1) * sizeof *j->reply_ids);
    j->reply_ids[j->nreply_ids++] = (int64_t)json_integer_value(v);
  }
}

static void take_replies(job *j, const char *replies, const char *reply_ids) {
  json_t *texts = replies ? json_loads(replies, 0, NULL) : NULL;
  json_t *ids = reply_ids ? json_loads(reply_ids, 0, NULL) : NULL;
  take_reply_lists(j, texts, ids);
  json_decref(texts);
  json_decref(ids);
}

enum { ITEM_GONE, ITEM_OPEN, ITEM_DONE }; /* what a look found of a waiting webhook's item */

typedef struct look {
  job **jobs;
  int *found;
  char **replies, **reply_ids; /* a done item's, taken once its webhook is answered */
  size_t n;
} look;

static void looked(void *ud, const char *ticket, const char *state, const char *replies,
                   const char *reply_ids) {
  look *l = ud;
  for (size_t i = 0; i < l->n; i++) {
    job *j = l->jobs[i];
    if (strcmp(j->ticket, ticket) != 0) continue;
    l->found[i] = state && strcmp(state, "done") == 0 ? ITEM_DONE : ITEM_OPEN;
    if (l->found[i] != ITEM_DONE || l->replies[i]) continue;
    l->replies[i] = replies ? xstrdup(replies) : NULL;
    l->reply_ids[i] = reply_ids ? xstrdup(reply_ids) : NULL;
  }
}

/* Looks at every waiting webhook's item in one query, when the listener
 * told of news since the last look, when a deadline passed, or every
 * 100 ms (a notification may be lost). Answers those done (with their
 * replies, whose items then go, in one statement), gone, or given up. */
void forward_poll(server *s) {
  if (!s->forwarded) return;
  int64_t now = mono_ns();
  unsigned news = atomic_load(&s->inbox_news);
  size_t n = 0;
  int late = 0;
  for (job *j = s->forwarded; j; j = j->next) n++, late |= now >= j->deadline_ns;
  if (news == s->inbox_news_seen && now < s->next_forward_look && !late) return;
  s->inbox_news_seen = news;
  s->next_forward_look = now + 100 * 1000000LL;
  look l = {xcalloc(n, sizeof *l.jobs), xcalloc(n, sizeof *l.found),
            xcalloc(n, sizeof *l.replies), xcalloc(n, sizeof *l.reply_ids), n};
  const char **tickets = xcalloc(n, sizeof *tickets);
  n = 0;
  for (job *j = s->forwarded; j; j = j->next) l.jobs[n] = j, tickets[n++] = j->ticket;
  int away = cluster_inbox_results(s->cfg.nodes, tickets, n, looked, &l) < 0;
  size_t nread = 0;
  job **at = &s->forwarded;
  for (size_t i = 0; i < n; i++) {
    job *j = l.jobs[i];
    int answer = !away && l.found[i] != ITEM_OPEN;
    if (answer && l.found[i] == ITEM_DONE) { /* read: it goes (a copy: j is freed once answered) */
      if (is_admin(j)) take_answer(j, l.replies[i]);
      else take_replies(j, l.replies[i], l.reply_ids[i]);
      tickets[nread++] = xstrdup(j->ticket);
    }
    if (!answer && now >= j->deadline_ns) {
      /* 1: given up, its replies will be queued; 0: done meanwhile (read
       * at the next look, at once); -1: the store is away, and the holder
       * queues them */
      int given_up = away ? -1 : cluster_inbox_abandon(s->cfg.nodes, j->ticket);
      if (given_up < 0) log_event(LOG_WARN, "inbox_unanswered", "ticket", j->ticket, NULL);
      if (given_up == 0) s->next_forward_look = now;
      answer = given_up != 0;
    }
    if (!answer) {
      at = &j->next;
      continue;
    }
    if (is_admin(j) && !j->http_status) /* given up, or its item gone */
      job_answer_error(j, l.found[i] == ITEM_OPEN ? 504 : 503,
                       l.found[i] == ITEM_OPEN
                           ? "the node holding the contact did not answer in time; the change "
                             "may still be made: look the contact up"
                           : "the node holding the contact did not say what it did: look the "
                             "contact up");
    *at = j->next;
    j->next = NULL;
    atomic_store(&j->done, 1);
    MHD_resume_connection(j->conn);
  }
  if (nread) cluster_inbox_forget(s->cfg.nodes, tickets, nread);
  for (size_t i = 0; i < nread; i++) free((char *)tickets[i]);
  for (size_t i = 0; i < n; i++) free(l.replies[i]), free(l.reply_ids[i]);
  free(l.replies);
  free(l.reply_ids);
  free(tickets);
  free(l.jobs);
  free(l.found);
}

/* ---------------------------------------------------------------- taking */

static int taken(server *s, int64_t id) {
  for (size_t i = 0; i < s->ntaken; i++)
    if (s->taken[i] == id) return 1;
  for (size_t i = 0; i < s->nunreadable; i++)
    if (s->unreadable[i] == id) return 1;
  return 0;
}

static const char *str_of(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

job *forward_item_job(json_t *o) {
  const char *bot = str_of(o, "bot"), *from = str_of(o, "from");
  const char *admin = str_of(o, "admin"), *body = str_of(o, "body");
  if (!o || !bot || !from ||
      (admin && strcmp(admin, "update") != 0 && strcmp(admin, "erase") != 0))
    return NULL;
  job *j = xcalloc(1, sizeof *j);
  j->kind = str_of(o, "event_type") ? JOB_EVENT : JOB_MESSAGE;
  if (admin) { /* a contact written through another node's admin API */
    j->kind = strcmp(admin, "erase") == 0 ? JOB_CONTACT_ERASE : JOB_CONTACT_UPDATE;
    j->item = xstrdup(from);
    if (body) buf_puts(&j->body, body);
  }
  json_t *dl = json_object_get(o, "delivery");
  if (json_is_object(dl)) { /* a delivery report */
    j->kind = JOB_STATUS;
    j->dl_status = xstrdup(str_of(dl, "status") ? str_of(dl, "status") : "");
    j->dl_error = strdup_or_null(str_of(dl, "error"));
    j->dl = (delivery){
        .message_id = json_integer_value(json_object_get(dl, "message_id")),
        .from_sender = json_is_true(json_object_get(dl, "from_sender")),
        .carrier_optout = json_is_true(json_object_get(dl, "carrier_optout")),
        .undeliverable = json_is_true(json_object_get(dl, "undeliverable"))};
  }
  j->botname = xstrdup(bot);
  j->from = xstrdup(from);
  j->to = strdup_or_null(str_of(o, "to"));
  j->text = xstrdup(str_of(o, "text") ? str_of(o, "text") : "");
  j->provider_id = strdup_or_null(str_of(o, "provider_id") ? str_of(o, "provider_id")
                                                            : str_of(dl, "provider_id"));
  j->event_type = strdup_or_null(str_of(o, "event_type"));
  j->event_data = strdup_or_null(str_of(o, "event_data"));
  j->media_json = strdup_or_null(str_of(o, "media"));
  j->arrived_ns = mono_ns();
  return j;
}

static void take_item(void *ud, const inbox_item *it) {
  server *s = ud;
  if (taken(s, it->id)) return;
  json_t *o = json_loads(it->item, 0, NULL);
  job *j = forward_item_job(o);
  json_decref(o);
  if (!j) { /* logged once: the inbox is read before every round */
    log_event(LOG_WARN, "inbox_unreadable", "item", it->item, NULL);
    s->unreadable = xrealloc(s->unreadable, (s->nunreadable + 1) * sizeof *s->unreadable);
    s->unreadable[s->nunreadable++] = it->id;
    return;
  }
  j->inbox_id = it->id;
  j->inbox_waited = it->waited;
  if (it->reply_ms > 0) {
    j->inbox_inline = it->inline_max;
    j->inbox_until_ns = mono_ns() + it->reply_ms * 1000000;
  }
  if (s->ntaken == s->cap_taken) {
    s->cap_taken = s->cap_taken ? 2 * s->cap_taken : 64;
    s->taken = xrealloc(s->taken, s->cap_taken * sizeof *s->taken);
  }
  s->taken[s->ntaken++] = it->id;
  *s->take_tail = j;
  s->take_tail = &j->next;
}

job *inbox_take(server *s) {
  job *list = NULL;
  if (s->ntaken >= TAKE_AT_ONCE) return NULL; /* the ones taken come first */
  s->take_tail = &list;
  /* past the unreadable ones too: they stay, and would hide the rest */
  size_t limit = TAKE_AT_ONCE + s->nunreadable;
  cluster_inbox_take(s->cfg.nodes, limit < INT_MAX ? (int)limit : INT_MAX, take_item, s);
  return list;
}

void inbox_taken_done(server *s, job *j) {
  if (!j->inbox_id) return;
  for (size_t i = 0; i < s->ntaken; i++)
    if (s->taken[i] == j->inbox_id) {
      s->taken[i] = s->taken[--s->ntaken];
      return;
    }
}

/* ---------------------------------------------------------------- the relay */

/* The holder's window for inline replies closes RELAY_MARGIN_MS before
 * this node stops waiting for its answer: an answer still on its way then
 * would carry replies the holder counts as delivered and nobody sends. */
enum { RELAY_MARGIN_MS = 500 };

int forward_relay(server *s, job *j, const inbound *in) {
  /* a message without the provider's id could be handled twice if its
   * relay failed after the holder took it: the inbox hands it over once;
   * a server stopping relays nothing more (it waits for those under way) */
  if (!s->relay || s->stopping || j->relay_tried || !j->conn || j->kind != JOB_MESSAGE ||
      !j->via || !j->provider_id || !*j->provider_id)
    return 0;
  const char *address =
      cluster_holder_address(s->cfg.nodes, partition_of(bot_id(j->b), j->from));
  if (!address) return 0;
  int64_t until = in->inline_until_ns ? in->inline_until_ns : j->arrived_ns + 10000000000LL;
  int64_t reply_until = in->inline_reply > 0 ? until - RELAY_MARGIN_MS * 1000000LL : 0;
  json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s?, s:i}", "bot", j->botname, "from",
                        j->from, "to", j->to, "text", j->text, "provider_id", j->provider_id,
                        "media", j->media_json, "inline_max",
                        in->inline_reply > 0 ? in->inline_reply : 0);
  if (!o) return 0;
  relay_send(s->relay, j, address, o, reply_until, until);
  return 1;
}

job *forward_relayed(server *s, job *d) {
  job *j = d->relayed;
  json_t *o = d->http_result == 200 ? d->relay_result : NULL;
  json_t *replies = json_object_get(o, "replies"), *ids = json_object_get(o, "reply_ids");
  int answered = json_is_array(replies) && json_is_array(ids);
  if (answered) {
    s->handed_relay++;
    take_reply_lists(j, replies, ids);
    atomic_store(&j->done, 1);
    MHD_resume_connection(j->conn);
  } else { /* the holder did not take it, or did not say so: the inbox hands it over */
    char status[16];
    snprintf(status, sizeof status, "%ld", d->http_result);
    const char *said = json_string_value(json_object_get(d->relay_result, "error"));
    log_event(LOG_DEBUG, "relay_failed", "bot", j->botname, "status", status, "error",
              d->http_error ? d->http_error : said ? said : d->body.data, NULL);
    j->relay_tried = 1;
    s->relay_failures++;
  }
  return answered ? NULL : j; /* the caller frees d, its result with it */
}
