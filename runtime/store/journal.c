#include "journal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_cluster.h"
#include "util.h"

/* ------------------------------------------------------------ strings */

enum {
  BLOCK_SIZE = 64 * 1024,
  KEPT_BLOCK_MAX = 4 * 1024 * 1024, /* a spike's blocks are not all kept */
};

struct journal_block {
  journal_block *next;
  size_t size, used;
  char data[];
};

static journal_block *block_new(size_t size, journal_block *next) {
  journal_block *b = xmalloc(sizeof *b + size);
  b->next = next;
  b->size = size;
  b->used = 0;
  return b;
}

static void blocks_free(journal_block *b) {
  while (b) {
    journal_block *next = b->next;
    free(b);
    b = next;
  }
}

/* A copy of s in the journal's first block (a new one if it is full). */
static char *copy(journal *j, const char *s) {
  size_t len = strlen(s) + 1;
  journal_block *b = j->blocks;
  if (!b || b->size - b->used < len)
    b = j->blocks = block_new(len > BLOCK_SIZE ? len : BLOCK_SIZE, j->blocks);
  char *p = b->data + b->used;
  memcpy(p, s, len);
  b->used += len;
  return p;
}

static char *copy_or_null(journal *j, const char *s) {
  return s ? copy(j, s) : NULL;
}

/* Empties j to record the next journal in: its strings' blocks become one
 * block as big as they were together, so the next journal of the same size
 * takes no allocation (after a spike past KEPT_BLOCK_MAX, one of the usual
 * size). */
static void journal_recycle(journal *j) {
  size_t total = 0;
  int count = 0;
  for (journal_block *b = j->blocks; b; b = b->next) {
    total += b->size;
    count++;
  }
  size_t keep = total > KEPT_BLOCK_MAX ? BLOCK_SIZE : total;
  if (count == 1 && total == keep) {
    j->blocks->used = 0;
  } else {
    blocks_free(j->blocks);
    j->blocks = keep ? block_new(keep, NULL) : NULL;
  }
  j->n = 0;
  j->queued = 0;
}

/* A new op of that kind at the end of j: the caller sets its member of u. */
static journal_op *push(journal *j, journal_kind kind) {
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 256;
    j->ops = xrealloc(j->ops, j->cap * sizeof *j->ops);
  }
  journal_op *op = &j->ops[j->n++];
  op->kind = kind;
  return op;
}

void journal_contact_add(journal *j, int64_t id, int64_t bot, const char *number,
                         int64_t at) {
  push(j, J_CONTACT_ADD)->u.contact_add =
      (struct j_contact_add){.id = id, .bot = bot, .at = at, .number = copy(j, number)};
}

void journal_contact_update(journal *j, int64_t id, const char *status,
                            const char *fields, const char *tags,
                            const char *timezone) {
  push(j, J_CONTACT_UPDATE)->u.contact_update =
      (struct j_contact_update){.id = id,
                                .status = copy_or_null(j, status),
                                .fields = copy_or_null(j, fields),
                                .tags = copy_or_null(j, tags),
                                .timezone = copy_or_null(j, timezone)};
}

void journal_contact_seen(journal *j, int64_t id, int64_t at) {
  push(j, J_CONTACT_SEEN)->u.contact_seen = (struct j_contact_seen){.id = id, .at = at};
}

void journal_contact_joined(journal *j, int64_t id) {
  push(j, J_CONTACT_JOINED)->u.contact_joined = (struct j_contact_joined){.id = id};
}

void journal_conversation(journal *j, int64_t contact, const char *state,
                          const char *expect, int64_t at) {
  push(j, J_CONVERSATION)->u.conversation =
      (struct j_conversation){.contact = contact,
                              .at = at,
                              .state = copy_or_null(j, state),
                              .expect = copy_or_null(j, expect)};
}

void journal_message(journal *j, const message_row *m) {
  message_row *row = &push(j, J_MESSAGE)->u.message;
  *row = *m; /* then every string of it is the journal's copy */
  row->direction = copy(j, m->direction);
  row->number = copy(j, m->number);
  row->text = copy(j, m->text);
  row->status = copy(j, m->status);
  row->provider_id = copy_or_null(j, m->provider_id);
  row->sender = copy_or_null(j, m->sender);
  row->media = copy_or_null(j, m->media);
  row->error = copy_or_null(j, m->error);
  if (strcmp(m->status, "queued") == 0) j->queued++;
}

void journal_consent(journal *j, int64_t bot, int64_t contact, const char *number,
                     const char *action, const char *source, const char *text,
                     int64_t at) {
  push(j, J_CONSENT)->u.consent = (struct j_consent){.bot = bot,
                                                     .contact = contact,
                                                     .at = at,
                                                     .number = copy(j, number),
                                                     .action = copy(j, action),
                                                     .source = copy(j, source),
                                                     .text = copy_or_null(j, text)};
}

void journal_error(journal *j, int64_t bot, int64_t contact, int64_t message,
                   const char *kind, const char *text, int64_t at) {
  push(j, J_ERROR)->u.error = (struct j_error){.bot = bot,
                                               .contact = contact,
                                               .message = message,
                                               .at = at,
                                               .kind = copy(j, kind),
                                               .text = copy(j, text)};
}

void journal_bot_store(journal *j, int64_t bot, const char *json, int64_t version) {
  push(j, J_BOT_STORE)->u.bot_store =
      (struct j_bot_store){.bot = bot, .json = copy(j, json), .version = version};
}

void journal_timer_add(journal *j, const timer_row *t, int64_t at) {
  struct j_timer_add *add = &push(j, J_TIMER_ADD)->u.timer_add;
  add->row = *t; /* then every string of it is the journal's copy */
  add->row.number = copy_or_null(j, t->number);
  add->row.handler = copy(j, t->handler);
  add->row.args = copy_or_null(j, t->args);
  add->row.kind = copy_or_null(j, t->kind);
  add->row.spec = copy_or_null(j, t->spec);
  add->at = at;
}

static struct j_status_change status_change(journal *j, int64_t id, const char *status,
                                            const char *error, int64_t at) {
  return (struct j_status_change){
      .id = id, .at = at, .status = copy(j, status), .error = copy_or_null(j, error)};
}

void journal_timer_done(journal *j, int64_t id, const char *status, const char *error,
                        int64_t at) {
  push(j, J_TIMER_DONE)->u.timer_done = status_change(j, id, status, error, at);
}

void journal_timer_cancel(journal *j, int64_t id, int64_t bot) {
  push(j, J_TIMER_CANCEL)->u.timer_cancel =
      (struct j_timer_cancel){.id = id, .bot = bot};
}

void journal_drips_cancel(journal *j, int64_t contact, const char *handler) {
  push(j, J_DRIPS_CANCEL)->u.drips_cancel =
      (struct j_drips_cancel){.contact = contact, .handler = copy_or_null(j, handler)};
}

void journal_message_release(journal *j, int64_t id, const char *status, int64_t at,
                             int64_t broadcast) {
  push(j, J_MESSAGE_RELEASE)->u.message_release =
      (struct j_message_release){
          .id = id, .at = at, .status = copy(j, status), .broadcast = broadcast};
  if (strcmp(status, "queued") == 0) j->queued++;
}

void journal_broadcast_add(journal *j, const broadcast_row *b, int64_t at) {
  push(j, J_BROADCAST_ADD)->u.broadcast_add =
      (struct j_broadcast_add){.row = {.id = b->id,
                                       .bot_id = b->bot_id,
                                       .segment = copy(j, b->segment),
                                       .text = copy(j, b->text),
                                       .content = copy_or_null(j, b->content),
                                       .rate = b->rate,
                                       .next_at = b->next_at},
                               .at = at};
}

void journal_broadcast_update(journal *j, int64_t id, const char *status,
                              int64_t cursor, int64_t next_at, long sent, long held,
                              long suppressed, long failed, long not_opted_in) {
  push(j, J_BROADCAST_UPDATE)->u.broadcast_update =
      (struct j_broadcast_update){.id = id,
                                  .cursor = cursor,
                                  .next_at = next_at,
                                  .status = copy(j, status),
                                  .sent = sent,
                                  .held = held,
                                  .suppressed = suppressed,
                                  .failed = failed,
                                  .not_opted_in = not_opted_in};
}

void journal_contact_erase(journal *j, int64_t bot, int64_t contact, const char *number,
                           int suppress, int64_t at) {
  push(j, J_CONTACT_ERASE)->u.contact_erase =
      (struct j_contact_erase){.bot = bot,
                               .contact = contact,
                               .at = at,
                               .number = copy(j, number),
                               .suppress = suppress};
}

void journal_delivery(journal *j, int64_t id, const char *status, const char *error,
                      int64_t at) {
  push(j, J_DELIVERY)->u.delivery = status_change(j, id, status, error, at);
}

void journal_outbox(journal *j, journal_kind kind, int64_t id, const char *text,
                    int64_t due, int64_t at) {
  char *copied = copy_or_null(j, text);
  push(j, kind)->u.outbox =
      (struct j_outbox){.id = id,
                        .at = at,
                        .due = due,
                        .provider_id = kind == J_OUTBOX_SENT ? copied : NULL,
                        .error = kind == J_OUTBOX_SENT ? NULL : copied};
}

void journal_carrier_optout(journal *j, int64_t bot, int64_t contact,
                            const char *number, const char *reason, int64_t at) {
  push(j, J_CARRIER_OPTOUT)->u.carrier_optout =
      (struct j_carrier_optout){.bot = bot,
                                .contact = contact,
                                .at = at,
                                .number = copy(j, number),
                                .reason = copy_or_null(j, reason)};
}

void journal_undeliverable(journal *j, int64_t contact, const char *why) {
  push(j, J_UNDELIVERABLE)->u.undeliverable =
      (struct j_undeliverable){.contact = contact, .why = copy_or_null(j, why)};
}

void journal_outbox_recover(journal *j, int64_t before, const char *partitions) {
  push(j, J_OUTBOX_RECOVER)->u.outbox_recover =
      (struct j_outbox_recover){.before = before, .partitions = copy_or_null(j, partitions)};
}

void journal_bot_version(journal *j, const char *bot_name, const char *sha,
                         const char *files_json, int64_t at) {
  push(j, J_BOT_VERSION)->u.bot_version =
      (struct j_bot_version){.bot_name = copy(j, bot_name),
                             .sha = copy(j, sha),
                             .files_json = copy(j, files_json),
                             .at = at};
}

void journal_bot_active(journal *j, int64_t bot, int64_t version_id) {
  push(j, J_BOT_ACTIVE)->u.bot_active =
      (struct j_bot_active){.bot = bot, .version_id = version_id};
}

void journal_bot_served(journal *j, int64_t bot, const char *folder_sha) {
  push(j, J_BOT_SERVED)->u.bot_served =
      (struct j_bot_served){.bot = bot, .folder_sha = copy_or_null(j, folder_sha)};
}

void journal_broadcast_cancel(journal *j, int64_t bot, int64_t id) {
  push(j, J_BROADCAST_CANCEL)->u.broadcast_cancel =
      (struct j_broadcast_cancel){.bot = bot, .id = id};
}

void journal_inbox_add(journal *j, const char *ticket, int partition, int64_t bot,
                       const char *item, int64_t reply_ms, int inline_max) {
  push(j, J_INBOX_ADD)->u.inbox_add = (struct j_inbox_add){
      .ticket = copy(j, ticket), .item = copy(j, item), .bot = bot, .partition = partition,
      .inline_max = inline_max, .reply_ms = reply_ms};
}

void journal_inbox_done(journal *j, int64_t id, int waited, const char *replies,
                        const char *reply_ids) {
  push(j, J_INBOX_DONE)->u.inbox_done = (struct j_inbox_done){
      .id = id, .waited = waited, .replies = copy(j, replies), .reply_ids = copy(j, reply_ids)};
}

void journal_session_add(journal *j, const console_session *s) {
  push(j, J_SESSION_ADD)->u.session_add = (console_session){
      .id = copy(j, s->id), .who = copy(j, s->who), .bots = copy_or_null(j, s->bots),
      .csrf = copy(j, s->csrf), .created_at = s->created_at, .expires_at = s->expires_at};
}

void journal_session_end(journal *j, const char *id) {
  push(j, J_SESSION_END)->u.session_end = copy(j, id);
}

void journal_inbox_read(journal *j, int64_t contact, int64_t at) {
  push(j, J_INBOX_READ)->u.inbox_read = (struct j_inbox_read){.contact = contact, .at = at};
}

void journal_handoff(journal *j, int64_t contact, const char *json) {
  push(j, J_HANDOFF)->u.handoff = (struct j_handoff){.contact = contact,
                                                      .json = copy_or_null(j, json)};
}

void journal_operator_action(journal *j, const operator_action *a) {
  operator_action *o = &push(j, J_OPERATOR_ACTION)->u.operator_action;
  *o = *a;
  o->who = copy(j, a->who);
  o->action = copy(j, a->action);
  o->text = copy(j, a->text ? a->text : "");
}

void journal_link_add(journal *j, const link_row *l) {
  link_row *o = &push(j, J_LINK_ADD)->u.link_add;
  *o = (link_row){.bot_id = l->bot_id, .contact_id = l->contact_id,
                  .message_id = l->message_id, .created_at = l->created_at,
                  .code = copy(j, l->code), .url = copy(j, l->url)};
}

void journal_click_add(journal *j, const click_row *c) {
  click_row *o = &push(j, J_CLICK_ADD)->u.click_add;
  *o = (click_row){.bot_id = c->bot_id, .link_id = c->link_id, .contact_id = c->contact_id,
                   .at = c->at, .is_bot = c->is_bot,
                   .user_agent = copy(j, c->user_agent ? c->user_agent : "")};
}

void journal_snapshot(journal *j, const snapshot_row *s) {
  snapshot_row *o = &push(j, J_SNAPSHOT)->u.snapshot;
  *o = (snapshot_row){.message_id = s->message_id, .contact_id = s->contact_id,
                      .status = copy(j, s->status), .fields = copy(j, s->fields),
                      .tags = copy(j, s->tags), .state = copy_or_null(j, s->state),
                      .expect = copy_or_null(j, s->expect),
                      .timezone = copy_or_null(j, s->timezone), .joined = s->joined};
}

void journal_http_answer(journal *j, const http_answer_row *a) {
  http_answer_row *o = &push(j, J_HTTP_ANSWER)->u.http_answer;
  *o = *a;
  o->method = copy(j, a->method);
  o->url = copy(j, a->url);
  o->error = copy_or_null(j, a->error);
  o->body = copy_or_null(j, a->body);
}

void journal_append(journal *dst, journal *src) {
  if (!src->n) return;
  if (dst->n + src->n > dst->cap) {
    size_t cap = dst->cap ? dst->cap : 256;
    while (cap < dst->n + src->n) cap *= 2;
    dst->ops = xrealloc(dst->ops, cap * sizeof *dst->ops);
    dst->cap = cap;
  }
  memcpy(dst->ops + dst->n, src->ops, src->n * sizeof *src->ops);
  dst->n += src->n;
  dst->queued += src->queued;
  src->n = 0;
  src->queued = 0;
  /* the strings' blocks go with the ops, behind dst's first (which goes on
   * taking dst's next strings) */
  journal_block *last = src->blocks;
  if (!last) return;
  while (last->next) last = last->next;
  if (dst->blocks) {
    last->next = dst->blocks->next;
    dst->blocks->next = src->blocks;
  } else {
    dst->blocks = src->blocks;
  }
  src->blocks = NULL;
}

void journal_clear(journal *j) {
  blocks_free(j->blocks);
  j->blocks = NULL;
  j->n = 0;
  j->queued = 0;
}

void journal_free(journal *j) {
  journal_clear(j);
  free(j->ops);
  *j = (journal){0};
}

/* The answer of an op that gives one (a count, 1/0), or -1 for an error. */
static int answer(int64_t *to, int64_t value) {
  *to = value;
  return value < 0 ? -1 : 0;
}

static int apply_outbox(store *st, journal_kind kind, struct j_outbox *o) {
  switch (kind) {
    case J_OUTBOX_CLAIM:
      return answer(&o->applied, store_outbox_claim(st, o->id, o->at));
    case J_OUTBOX_SENT:
      return store_outbox_sent(st, o->id, o->provider_id, o->at);
    case J_OUTBOX_RETRY:
      return store_outbox_retry(st, o->id, o->due, o->error, o->at);
    case J_OUTBOX_WAIT:
      return store_outbox_wait(st, o->id, o->due, o->error, o->at);
    case J_OUTBOX_FAILED:
      return answer(&o->applied, store_outbox_failed(st, o->id, o->error, o->at));
    default:
      return -1;
  }
}

static int apply_op(store *st, journal_op *op) {
  switch (op->kind) {
    case J_CONTACT_ADD: {
      struct j_contact_add *o = &op->u.contact_add;
      return store_contact_insert(st, o->id, o->bot, o->number, o->at) < 0 ? -1 : 0;
    }
    case J_CONTACT_UPDATE: {
      struct j_contact_update *o = &op->u.contact_update;
      return store_contact_update(st, o->id, o->status, o->fields, o->tags,
                                  o->timezone);
    }
    case J_CONTACT_SEEN:
      return store_contact_seen(st, op->u.contact_seen.id, op->u.contact_seen.at);
    case J_CONTACT_JOINED:
      return store_contact_joined(st, op->u.contact_joined.id);
    case J_CONVERSATION: /* journal_apply stores them, many at a time */
    case J_MESSAGE:
      return -1;
    case J_CONSENT: {
      struct j_consent *o = &op->u.consent;
      return store_consent_add(st, o->bot, o->contact, o->number, o->action, o->source,
                               o->text, o->at);
    }
    case J_ERROR: {
      struct j_error *o = &op->u.error;
      return store_error_add(st, o->bot, o->contact, o->message, o->kind, o->text,
                             o->at);
    }
    case J_BOT_STORE:
      return store_bot_store_set(st, op->u.bot_store.bot, op->u.bot_store.json,
                                 op->u.bot_store.version);
    case J_TIMER_ADD:
      return store_timer_add(st, &op->u.timer_add.row, op->u.timer_add.at);
    case J_TIMER_DONE: {
      struct j_status_change *o = &op->u.timer_done;
      return store_timer_done(st, o->id, o->status, o->error, o->at);
    }
    case J_TIMER_CANCEL:
      return store_timer_cancel(st, op->u.timer_cancel.id, op->u.timer_cancel.bot);
    case J_DRIPS_CANCEL:
      return store_timer_cancel_drips(st, op->u.drips_cancel.contact,
                                      op->u.drips_cancel.handler);
    case J_MESSAGE_RELEASE: {
      struct j_message_release *o = &op->u.message_release;
      return store_message_release(st, o->id, o->status, o->at) ||
                     (o->broadcast && store_broadcast_released(st, o->broadcast, o->status))
                 ? -1
                 : 0;
    }
    case J_BROADCAST_ADD:
      return store_broadcast_add(st, &op->u.broadcast_add.row, op->u.broadcast_add.at);
    case J_CONTACT_ERASE: {
      struct j_contact_erase *o = &op->u.contact_erase;
      return store_contact_erase(st, o->bot, o->contact, o->number, o->suppress, o->at);
    }
    case J_OUTBOX_CLAIM:
    case J_OUTBOX_SENT:
    case J_OUTBOX_RETRY:
    case J_OUTBOX_WAIT:
    case J_OUTBOX_FAILED:
      return apply_outbox(st, op->kind, &op->u.outbox);
    case J_CARRIER_OPTOUT: {
      struct j_carrier_optout *o = &op->u.carrier_optout;
      return store_carrier_optout(st, o->bot, o->contact, o->number, o->reason, o->at);
    }
    case J_UNDELIVERABLE:
      return store_contact_undeliverable(st, op->u.undeliverable.contact,
                                         op->u.undeliverable.why);
    case J_DELIVERY: {
      struct j_status_change *o = &op->u.delivery;
      return store_delivery_status(st, o->id, o->status, o->error, o->at) < 0 ? -1 : 0;
    }
    case J_BROADCAST_UPDATE: {
      struct j_broadcast_update *o = &op->u.broadcast_update;
      return store_broadcast_update(st, o->id, o->status, o->cursor, o->next_at,
                                    o->sent, o->held, o->suppressed, o->failed,
                                    o->not_opted_in);
    }
    case J_OUTBOX_RECOVER:
      return answer(&op->u.outbox_recover.requeued,
                    store_outbox_recover(st, op->u.outbox_recover.before,
                                         op->u.outbox_recover.partitions));
    case J_BOT_VERSION: {
      struct j_bot_version *o = &op->u.bot_version;
      if (answer(&o->bot_id, store_bot_ensure(st, o->bot_name, o->at))) return -1;
      return answer(&o->version_id,
                    store_script_version_add(st, o->bot_id, o->sha, o->files_json,
                                             o->at, &o->version_number));
    }
    case J_BOT_ACTIVE:
      return store_bot_set_active(st, op->u.bot_active.bot,
                                  op->u.bot_active.version_id);
    case J_BOT_SERVED:
      return store_bot_set_served(st, op->u.bot_served.bot,
                                  op->u.bot_served.folder_sha);
    case J_BROADCAST_CANCEL: {
      struct j_broadcast_cancel *o = &op->u.broadcast_cancel;
      return answer(&o->cancelled, store_broadcast_cancel(st, o->bot, o->id));
    }
    case J_INBOX_ADD: {
      struct j_inbox_add *o = &op->u.inbox_add;
      return store_inbox_add(st, o->ticket, o->partition, o->bot, o->item, o->reply_ms,
                             o->inline_max);
    }
    case J_INBOX_DONE: {
      struct j_inbox_done *o = &op->u.inbox_done;
      return store_inbox_done(st, o->id, o->waited, o->replies, o->reply_ids);
    }
    case J_SESSION_ADD: /* the expired ones go at the same time (by its clock) */
      return store_session_add(st, &op->u.session_add, op->u.session_add.created_at);
    case J_SESSION_END:
      return store_session_end(st, op->u.session_end);
    case J_INBOX_READ:
      return store_inbox_read(st, op->u.inbox_read.contact, op->u.inbox_read.at);
    case J_HANDOFF:
      return store_handoff_set(st, op->u.handoff.contact, op->u.handoff.json);
    case J_OPERATOR_ACTION:
      return store_operator_action_add(st, &op->u.operator_action);
    case J_LINK_ADD:
      return store_link_add(st, &op->u.link_add);
    case J_CLICK_ADD:
      return store_click_add(st, &op->u.click_add);
    case J_SNAPSHOT:
      return store_snapshot_add(st, &op->u.snapshot);
    case J_HTTP_ANSWER:
      return store_http_answer_add(st, &op->u.http_answer);
  }
  return -1;
}

/* Whether an op neither reads nor writes the messages table: a message
 * journaled before it may be stored after it, with the same outcome. */
static int leaves_messages_alone(journal_kind kind) {
  switch (kind) {
    case J_CONTACT_ADD:
    case J_CONTACT_UPDATE:
    case J_CONTACT_SEEN:
    case J_CONTACT_JOINED:
    case J_CONVERSATION:
    case J_CONSENT:
    case J_ERROR:
    case J_BOT_STORE:
    case J_TIMER_ADD:
    case J_TIMER_DONE:
    case J_TIMER_CANCEL:
    case J_DRIPS_CANCEL:
    case J_BROADCAST_ADD:
    case J_BROADCAST_UPDATE:
    case J_INBOX_ADD:
    case J_SESSION_ADD:
    case J_SESSION_END:
    case J_INBOX_READ:
    case J_HANDOFF:
    case J_OPERATOR_ACTION:
    case J_LINK_ADD:
    case J_CLICK_ADD:
    case J_SNAPSHOT:
    case J_HTTP_ANSWER:
      return 1;
    default:
      return 0;
  }
}

/* Whether an op neither reads nor writes the conversations table: a save
 * journaled before it may be made after it, with the same outcome. */
static int leaves_conversations_alone(journal_kind kind) {
  return kind != J_CONVERSATION && (kind == J_MESSAGE || leaves_messages_alone(kind));
}

/* Whether an op neither reads nor writes the contacts table: a new
 * contact journaled before it may be inserted after it. No table refers to
 * contacts through a foreign key that is checked (SQLite does not enforce
 * them; PostgreSQL's went with schema 9). */
static int leaves_contacts_alone(journal_kind kind) {
  switch (kind) {
    case J_MESSAGE:
    case J_CONVERSATION:
    case J_CONSENT:
    case J_ERROR:
    case J_BOT_STORE:
    case J_TIMER_ADD:
    case J_TIMER_DONE:
    case J_TIMER_CANCEL:
    case J_DRIPS_CANCEL:
    case J_MESSAGE_RELEASE:
    case J_BROADCAST_ADD:
    case J_BROADCAST_UPDATE:
    case J_INBOX_ADD:
    case J_INBOX_DONE:
    case J_SESSION_ADD:
    case J_SESSION_END:
    case J_INBOX_READ:
    case J_OPERATOR_ACTION:
    case J_LINK_ADD:
    case J_CLICK_ADD:
    case J_SNAPSHOT:
    case J_HTTP_ANSWER:
      return 1;
    default:
      return 0;
  }
}

enum { PENDING_ROWS = 64 };

/* Message rows, conversation saves and new contacts waiting to be stored
 * in one go. */
typedef struct pending_rows {
  message_row messages[PENDING_ROWS];
  size_t nmessages;
  conversation_row conversations[PENDING_ROWS]; /* each contact once */
  size_t nconversations;
  contact_new contacts[PENDING_ROWS]; /* with what came to each after its add */
  size_t ncontacts;
  const snapshot_row *snapshots[PENDING_ROWS]; /* the journal's ops' */
  size_t nsnapshots;
} pending_rows;

static int store_pending_contacts(store *st, pending_rows *p) {
  int rc = store_contacts_insert(st, p->contacts, p->ncontacts);
  p->ncontacts = 0;
  return rc;
}

static int add_pending_contact(store *st, pending_rows *p, const journal_op *op) {
  const struct j_contact_add *o = &op->u.contact_add;
  p->contacts[p->ncontacts++] = (contact_new){.id = o->id, .bot_id = o->bot,
                                              .number = o->number, .first_seen = o->at,
                                              .last_seen = o->at};
  return p->ncontacts == PENDING_ROWS ? store_pending_contacts(st, p) : 0;
}

static int writes_one_contact(journal_kind kind) {
  return kind == J_CONTACT_UPDATE || kind == J_CONTACT_SEEN || kind == J_CONTACT_JOINED;
}

/* A write to a contact not inserted yet goes into its insert: 1 if it did. */
static int merged_into_new_contact(pending_rows *p, const journal_op *op) {
  int64_t id = op->kind == J_CONTACT_UPDATE   ? op->u.contact_update.id
               : op->kind == J_CONTACT_SEEN   ? op->u.contact_seen.id
               : op->kind == J_CONTACT_JOINED ? op->u.contact_joined.id
                                              : 0;
  for (size_t i = 0; id && i < p->ncontacts; i++) {
    contact_new *c = &p->contacts[i];
    if (c->id != id) continue;
    if (op->kind == J_CONTACT_JOINED) {
      c->joined = 1;
    } else if (op->kind == J_CONTACT_SEEN) {
      c->last_seen = c->last_in = op->u.contact_seen.at;
    } else { /* NULL: unchanged */
      const struct j_contact_update *u = &op->u.contact_update;
      if (u->status) c->status = u->status;
      if (u->fields) c->fields = u->fields;
      if (u->tags) c->tags = u->tags;
      if (u->timezone) c->timezone = u->timezone;
    }
    return 1;
  }
  return 0;
}

static int store_pending_messages(store *st, pending_rows *p) {
  int rc = store_messages_add(st, p->messages, p->nmessages);
  p->nmessages = 0;
  return rc;
}

static int store_pending_conversations(store *st, pending_rows *p) {
  int rc = store_conversations_save(st, p->conversations, p->nconversations);
  p->nconversations = 0;
  return rc;
}

static int add_pending_message(store *st, pending_rows *p, const journal_op *op) {
  p->messages[p->nmessages++] = op->u.message;
  return p->nmessages == PENDING_ROWS ? store_pending_messages(st, p) : 0;
}

/* A save of a contact whose save waits already becomes one save: the
 * later one's, with the earlier state where the later keeps the state. */
static int add_pending_conversation(store *st, pending_rows *p, const journal_op *op) {
  const struct j_conversation *o = &op->u.conversation;
  for (size_t i = 0; i < p->nconversations; i++) {
    conversation_row *c = &p->conversations[i];
    if (c->contact_id != o->contact) continue;
    if (o->state) c->state = o->state;
    c->expect = o->expect;
    c->at = o->at;
    return 0;
  }
  p->conversations[p->nconversations++] = (conversation_row){
      .contact_id = o->contact, .state = o->state, .expect = o->expect, .at = o->at};
  return p->nconversations == PENDING_ROWS ? store_pending_conversations(st, p) : 0;
}

/* The ops in order, except that messages, conversation saves and new
 * contacts wait (up to PENDING_ROWS of each) past the ops that leave them
 * alone, to go in statements of many rows: every op that reads or writes
 * messages, conversations or contacts still sees those journaled before
 * it (a write to a new contact goes into its insert). */
static int store_pending_snapshots(store *st, pending_rows *p) {
  int rc = store_snapshots_add(st, p->snapshots, p->nsnapshots);
  p->nsnapshots = 0;
  return rc;
}

int journal_apply(store *st, journal *j, char *err, size_t errlen) {
  pending_rows pending;
  pending.nmessages = pending.nconversations = pending.ncontacts = pending.nsnapshots = 0;
  int rc = store_pipeline(st, 1);
  if (rc == 0) rc = store_begin(st);
  for (size_t i = 0; i < j->n && rc == 0; i++) {
    journal_op *op = &j->ops[i];
    if (op->kind == J_MESSAGE) {
      rc = add_pending_message(st, &pending, op);
      continue;
    }
    if (op->kind == J_CONVERSATION) {
      rc = add_pending_conversation(st, &pending, op);
      continue;
    }
    if (op->kind == J_CONTACT_ADD && op->u.contact_add.id > 0) {
      rc = add_pending_contact(st, &pending, op);
      continue;
    }
    if (op->kind == J_SNAPSHOT) { /* nothing reads them but an erase */
      pending.snapshots[pending.nsnapshots++] = &op->u.snapshot;
      if (pending.nsnapshots == PENDING_ROWS) rc = store_pending_snapshots(st, &pending);
      continue;
    }
    if (pending.nsnapshots && op->kind == J_CONTACT_ERASE)
      rc = store_pending_snapshots(st, &pending);
    if (rc == 0 && pending.ncontacts && merged_into_new_contact(&pending, op)) continue;
    if (pending.ncontacts && !leaves_contacts_alone(op->kind) && !writes_one_contact(op->kind))
      rc = store_pending_contacts(st, &pending); /* (a write to another contact: its row) */
    if (rc == 0 && pending.nmessages && !leaves_messages_alone(op->kind))
      rc = store_pending_messages(st, &pending);
    if (rc == 0 && pending.nconversations && !leaves_conversations_alone(op->kind))
      rc = store_pending_conversations(st, &pending);
    if (rc == 0) rc = apply_op(st, op);
  }
  if (rc == 0 && pending.ncontacts) rc = store_pending_contacts(st, &pending);
  if (rc == 0 && pending.nmessages) rc = store_pending_messages(st, &pending);
  if (rc == 0 && pending.nconversations) rc = store_pending_conversations(st, &pending);
  if (rc == 0 && pending.nsnapshots) rc = store_pending_snapshots(st, &pending);
  if (rc == 0) rc = store_commit(st);
  if (rc != 0) {
    snprintf(err, errlen, "%s", store_error(store_reads(st)));
    store_rollback(st);
  }
  store_pipeline(st, 0);
  return rc;
}

/* ---------------------------------------------------------------- writer */

enum { CHECKPOINT_EVERY = 64 }; /* commits */

struct writer {
  store *st;
  int threaded;
  pthread_t thread;
  /* checkpoints on a connection and thread of their own, so a commit never
   * waits for the fsyncs a checkpoint does */
  store *cp;
  pthread_t cp_thread;
  pthread_mutex_t cp_mu;
  pthread_cond_t cp_cv;
  int cp_due, cp_quit;
  int since_checkpoint;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  journal inflight;
  int busy, quit, failed;
  uint64_t committed;
  void (*on_queued)(void *ud);
  void *on_queued_ud;
  struct side *side, *side_tail; /* other threads' journals, waiting */
  char err[1024];
};

/* A journal of another thread's, waiting for the writer. */
struct side {
  journal *j;
  int done, rc;
  char err[512];
  struct side *next;
};

static void *writer_main(void *arg) {
  writer *w = arg;
  pthread_setname_np(pthread_self(), "parley-writer"); /* top -H, perf, the bench */
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->busy && !w->side && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->busy && !w->side && w->quit) break;
    struct side *side = w->side;
    w->side = w->side_tail = NULL;
    int engine_journal = w->busy;
    pthread_mutex_unlock(&w->mu);
    for (struct side *r = side; r; r = r->next)
      r->rc = journal_apply(w->st, r->j, r->err, sizeof r->err);
    if (!engine_journal) {
      pthread_mutex_lock(&w->mu);
      for (struct side *r = side; r; r = r->next) r->done = 1;
      pthread_cond_broadcast(&w->cv);
      continue;
    }
    char err[1024];
    int rc = journal_apply(w->st, &w->inflight, err, sizeof err);
    if (rc == 0 && w->inflight.queued && w->on_queued) w->on_queued(w->on_queued_ud);
    journal_recycle(&w->inflight);
    pthread_mutex_lock(&w->mu);
    if (rc) {
      w->failed = 1;
      snprintf(w->err, sizeof w->err, "%s", err);
    } else {
      w->committed++;
      if (w->cp && ++w->since_checkpoint >= CHECKPOINT_EVERY) {
        w->since_checkpoint = 0;
        pthread_mutex_lock(&w->cp_mu);
        w->cp_due = 1;
        pthread_cond_signal(&w->cp_cv);
        pthread_mutex_unlock(&w->cp_mu);
      }
    }
    w->busy = 0;
    for (struct side *r = side; r; r = r->next) r->done = 1;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Queues j for the writer's thread and waits until it is applied (mu
 * held). */
static int apply_queued(writer *w, journal *j, char *err, size_t errlen) {
  struct side r = {.j = j};
  if (w->side_tail) w->side_tail->next = &r;
  else w->side = &r;
  w->side_tail = &r;
  pthread_cond_broadcast(&w->cv);
  while (!r.done) pthread_cond_wait(&w->cv, &w->mu);
  if (r.rc) snprintf(err, errlen, "%s", r.err);
  return r.rc;
}

int writer_apply_side(writer *w, journal *j, char *err, size_t errlen) {
  if (!w->threaded) {
    snprintf(err, errlen, "the writer has no thread");
    return -1;
  }
  pthread_mutex_lock(&w->mu);
  int rc = apply_queued(w, j, err, errlen);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int writer_apply(writer *w, journal *j, char *err, size_t errlen) {
  if (!w->threaded) return journal_apply(w->st, j, err, errlen);
  pthread_mutex_lock(&w->mu);
  /* after the journal in flight: the caller is the one thread that submits,
   * so none comes in before this one */
  while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
  int rc = apply_queued(w, j, err, errlen);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int writer_set_fence(writer *w, const store_fence *f, char *err, size_t errlen) {
  pthread_mutex_lock(&w->mu);
  while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
  int rc = store_set_fence(w->st, f);
  if (rc) snprintf(err, errlen, "%s", store_error(store_reads(w->st)));
  pthread_mutex_unlock(&w->mu);
  return rc;
}

store_reader *writer_reader(writer *w) {
  return w->threaded ? NULL : store_reads(w->st);
}

static void *checkpointer_main(void *arg) {
  writer *w = arg;
  pthread_setname_np(pthread_self(), "parley-checkpt");
  pthread_mutex_lock(&w->cp_mu);
  for (;;) {
    while (!w->cp_due && !w->cp_quit) pthread_cond_wait(&w->cp_cv, &w->cp_mu);
    if (w->cp_quit) break;
    w->cp_due = 0;
    pthread_mutex_unlock(&w->cp_mu);
    store_checkpoint(w->cp); /* a failure leaves the WAL for the next one */
    pthread_mutex_lock(&w->cp_mu);
  }
  pthread_mutex_unlock(&w->cp_mu);
  return NULL;
}

writer *writer_open(const char *path, int threaded, char *err, size_t errlen) {
  store *st = store_open(path, err, errlen);
  if (!st) return NULL;
  if (store_ensure_keys(st)) { /* so that reading connections never write */
    snprintf(err, errlen, "%s", store_error(store_reads(st)));
    store_close(st);
    return NULL;
  }
  writer *w = xcalloc(1, sizeof *w);
  w->st = st;
  w->threaded = threaded;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  pthread_mutex_init(&w->cp_mu, NULL);
  pthread_cond_init(&w->cp_cv, NULL);
  if (threaded && pthread_create(&w->thread, NULL, writer_main, w) != 0)
    w->threaded = 0;
  char cp_err[512];
  if (w->threaded && store_has_wal(st) && (w->cp = store_open(path, cp_err, sizeof cp_err))) {
    if (store_manual_checkpoints(st) ||
        pthread_create(&w->cp_thread, NULL, checkpointer_main, w) != 0) {
      store_close(w->cp);
      w->cp = NULL;
    }
  }
  return w;
}

void writer_close(writer *w) {
  if (!w) return;
  if (w->cp) {
    pthread_mutex_lock(&w->cp_mu);
    w->cp_quit = 1;
    pthread_cond_signal(&w->cp_cv);
    pthread_mutex_unlock(&w->cp_mu);
    pthread_join(w->cp_thread, NULL);
    store_checkpoint(w->cp);
    store_close(w->cp);
  }
  if (w->threaded) {
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
  }
  journal_free(&w->inflight);
  store_close(w->st);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->cp_mu);
  pthread_cond_destroy(&w->cp_cv);
  free(w);
}

/* With the lock held: waits for the journal in flight; reports a failure
 * once. */
static int wait_locked(writer *w, char *err, size_t errlen) {
  while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
  if (w->failed) {
    w->failed = 0;
    snprintf(err, errlen, "%s", w->err);
    return -1;
  }
  return 0;
}

int writer_submit(writer *w, journal *j, char *err, size_t errlen) {
  if (!w->threaded) {
    int rc = journal_apply(w->st, j, err, errlen);
    if (rc == 0 && j->queued && w->on_queued) w->on_queued(w->on_queued_ud);
    journal_recycle(j);
    if (rc == 0) w->committed++;
    return rc;
  }
  pthread_mutex_lock(&w->mu);
  int rc = wait_locked(w, err, errlen);
  if (rc == 0) {
    journal tmp = w->inflight; /* empty, keeps its buffer */
    w->inflight = *j;
    *j = tmp;
    w->busy = 1;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int writer_wait(writer *w, char *err, size_t errlen) {
  if (!w->threaded) return 0;
  pthread_mutex_lock(&w->mu);
  int rc = wait_locked(w, err, errlen);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

void writer_on_queued(writer *w, void (*fn)(void *ud), void *ud) {
  w->on_queued = fn;
  w->on_queued_ud = ud;
}

uint64_t writer_committed(writer *w) {
  pthread_mutex_lock(&w->mu);
  uint64_t n = w->committed;
  pthread_mutex_unlock(&w->mu);
  return n;
}
