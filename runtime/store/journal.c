#include "journal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static journal_op *push(journal *j, journal_kind kind) {
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 256;
    j->ops = xrealloc(j->ops, j->cap * sizeof *j->ops);
  }
  journal_op *op = &j->ops[j->n++];
  memset(op, 0, sizeof *op);
  op->kind = kind;
  return op;
}

void journal_contact_add(journal *j, int64_t id, int64_t bot, const char *number,
                         int64_t at) {
  journal_op *op = push(j, J_CONTACT_ADD);
  op->id = id;
  op->bot = bot;
  op->at = at;
  op->s[0] = copy(j, number);
}

void journal_contact_update(journal *j, int64_t id, const char *status,
                            const char *fields, const char *tags,
                            const char *timezone) {
  journal_op *op = push(j, J_CONTACT_UPDATE);
  op->id = id;
  op->s[0] = copy_or_null(j, status);
  op->s[1] = copy_or_null(j, fields);
  op->s[2] = copy_or_null(j, tags);
  op->s[3] = copy_or_null(j, timezone);
}

void journal_contact_seen(journal *j, int64_t id, int64_t at) {
  journal_op *op = push(j, J_CONTACT_SEEN);
  op->id = id;
  op->at = at;
}

void journal_contact_joined(journal *j, int64_t id) {
  push(j, J_CONTACT_JOINED)->id = id;
}

void journal_conversation(journal *j, int64_t contact, const char *state,
                          const char *expect, int64_t at) {
  journal_op *op = push(j, J_CONVERSATION);
  op->id = contact;
  op->at = at;
  op->s[0] = copy_or_null(j, state);
  op->s[1] = copy_or_null(j, expect);
}

void journal_message(journal *j, const message_row *m) {
  journal_op *op = push(j, J_MESSAGE);
  op->id = m->id;
  op->bot = m->bot_id;
  op->contact = m->contact_id;
  op->at = m->at;
  op->transactional = m->transactional;
  op->due = m->send_at;
  op->message = m->segments;
  op->s[0] = copy(j, m->direction);
  op->s[1] = copy(j, m->number);
  op->s[2] = copy(j, m->text);
  op->s[3] = copy(j, m->status);
  op->s[4] = copy_or_null(j, m->provider_id);
  op->s[5] = copy_or_null(j, m->sender);
  op->s[6] = copy_or_null(j, m->media);
  op->s[7] = copy_or_null(j, m->error);
  op->counts[0] = m->priority;
  if (strcmp(m->status, "queued") == 0) j->queued++;
}

void journal_consent(journal *j, int64_t bot, int64_t contact, const char *number,
                     const char *action, const char *source, const char *text,
                     int64_t at) {
  journal_op *op = push(j, J_CONSENT);
  op->bot = bot;
  op->contact = contact;
  op->at = at;
  op->s[0] = copy(j, number);
  op->s[1] = copy(j, action);
  op->s[2] = copy(j, source);
  op->s[3] = copy_or_null(j, text);
}

void journal_error(journal *j, int64_t bot, int64_t contact, int64_t message,
                   const char *kind, const char *text, int64_t at) {
  journal_op *op = push(j, J_ERROR);
  op->bot = bot;
  op->contact = contact;
  op->message = message;
  op->at = at;
  op->s[0] = copy(j, kind);
  op->s[1] = copy(j, text);
}

void journal_bot_store(journal *j, int64_t bot, const char *json) {
  journal_op *op = push(j, J_BOT_STORE);
  op->bot = bot;
  op->s[0] = copy(j, json);
}

void journal_timer_add(journal *j, const timer_row *t, int64_t at) {
  journal_op *op = push(j, J_TIMER_ADD);
  op->id = t->id;
  op->bot = t->bot_id;
  op->contact = t->contact_id;
  op->due = t->due_at;
  op->at = at;
  op->s[0] = copy_or_null(j, t->number);
  op->s[1] = copy(j, t->handler);
  op->s[2] = copy_or_null(j, t->args);
  op->s[3] = copy_or_null(j, t->kind);
  op->s[4] = copy_or_null(j, t->spec);
}

void journal_timer_done(journal *j, int64_t id, const char *status,
                        const char *error, int64_t at) {
  journal_op *op = push(j, J_TIMER_DONE);
  op->id = id;
  op->at = at;
  op->s[0] = copy(j, status);
  op->s[1] = copy_or_null(j, error);
}

void journal_timer_cancel(journal *j, int64_t id, int64_t bot) {
  journal_op *op = push(j, J_TIMER_CANCEL);
  op->id = id;
  op->bot = bot;
}

void journal_drips_cancel(journal *j, int64_t contact, const char *handler) {
  journal_op *op = push(j, J_DRIPS_CANCEL);
  op->contact = contact;
  op->s[0] = copy_or_null(j, handler);
}

void journal_message_release(journal *j, int64_t id, const char *status, int64_t at) {
  journal_op *op = push(j, J_MESSAGE_RELEASE);
  op->id = id;
  op->at = at;
  op->s[0] = copy(j, status);
  if (strcmp(status, "queued") == 0) j->queued++;
}

void journal_broadcast_add(journal *j, const broadcast_row *b, int64_t at) {
  journal_op *op = push(j, J_BROADCAST_ADD);
  op->id = b->id;
  op->bot = b->bot_id;
  op->due = b->next_at;
  op->rate = b->rate;
  op->at = at;
  op->s[0] = copy(j, b->segment);
  op->s[1] = copy(j, b->text);
}

void journal_broadcast_update(journal *j, int64_t id, const char *status,
                              int64_t cursor, int64_t next_at, long sent, long held,
                              long suppressed, long failed, long not_opted_in) {
  journal_op *op = push(j, J_BROADCAST_UPDATE);
  op->id = id;
  op->contact = cursor;
  op->due = next_at;
  op->counts[0] = sent;
  op->counts[1] = held;
  op->counts[2] = suppressed;
  op->counts[3] = failed;
  op->counts[4] = not_opted_in;
  op->s[0] = copy(j, status);
}

void journal_contact_erase(journal *j, int64_t bot, int64_t contact, const char *number,
                           int suppress, int64_t at) {
  journal_op *op = push(j, J_CONTACT_ERASE);
  op->bot = bot;
  op->contact = contact;
  op->transactional = suppress;
  op->at = at;
  op->s[0] = copy(j, number);
}

void journal_delivery(journal *j, int64_t id, const char *status, const char *error,
                      int64_t at) {
  journal_op *op = push(j, J_DELIVERY);
  op->id = id;
  op->at = at;
  op->s[0] = copy(j, status);
  op->s[1] = copy_or_null(j, error);
}

void journal_outbox(journal *j, journal_kind kind, int64_t id, const char *text,
                    int64_t due, int64_t at) {
  journal_op *op = push(j, kind);
  op->id = id;
  op->due = due;
  op->at = at;
  op->s[0] = copy_or_null(j, text);
}

void journal_carrier_optout(journal *j, int64_t bot, int64_t contact, const char *number,
                            const char *reason, int64_t at) {
  journal_op *op = push(j, J_CARRIER_OPTOUT);
  op->bot = bot;
  op->contact = contact;
  op->at = at;
  op->s[0] = copy(j, number);
  op->s[1] = copy_or_null(j, reason);
}

void journal_undeliverable(journal *j, int64_t contact, const char *why) {
  journal_op *op = push(j, J_UNDELIVERABLE);
  op->contact = contact;
  op->s[0] = copy_or_null(j, why); /* NULL: deliverable again */
}

void journal_outbox_recover(journal *j) {
  push(j, J_OUTBOX_RECOVER);
}

void journal_bot_version(journal *j, const char *bot_name, const char *sha,
                         const char *files_json, int64_t at) {
  journal_op *op = push(j, J_BOT_VERSION);
  op->at = at;
  op->s[0] = copy(j, bot_name);
  op->s[1] = copy(j, sha);
  op->s[2] = copy(j, files_json);
}

void journal_bot_active(journal *j, int64_t bot, int64_t version_id) {
  journal_op *op = push(j, J_BOT_ACTIVE);
  op->bot = bot;
  op->id = version_id;
}

void journal_bot_served(journal *j, int64_t bot, const char *folder_sha) {
  journal_op *op = push(j, J_BOT_SERVED);
  op->bot = bot;
  op->s[0] = copy_or_null(j, folder_sha);
}

void journal_broadcast_cancel(journal *j, int64_t bot, int64_t id) {
  journal_op *op = push(j, J_BROADCAST_CANCEL);
  op->bot = bot;
  op->id = id;
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

static int apply_op(store *st, journal_op *op) {
  switch (op->kind) {
    case J_CONTACT_ADD:
      return store_contact_insert(st, op->id, op->bot, op->s[0], op->at) < 0 ? -1 : 0;
    case J_CONTACT_UPDATE:
      return store_contact_update(st, op->id, op->s[0], op->s[1], op->s[2], op->s[3]);
    case J_CONTACT_SEEN:
      return store_contact_seen(st, op->id, op->at);
    case J_CONTACT_JOINED:
      return store_contact_joined(st, op->id);
    case J_CONVERSATION:
      return store_conversation_save(st, op->id, op->s[0], op->s[1], op->at);
    case J_MESSAGE: /* journal_apply stores them, many at a time */
      return -1;
    case J_CONSENT:
      return store_consent_add(st, op->bot, op->contact, op->s[0], op->s[1],
                               op->s[2], op->s[3], op->at);
    case J_ERROR:
      return store_error_add(st, op->bot, op->contact, op->message, op->s[0],
                             op->s[1], op->at);
    case J_BOT_STORE:
      return store_bot_store_set(st, op->bot, op->s[0]);
    case J_TIMER_ADD: {
      timer_row t = {.id = op->id, .bot_id = op->bot, .contact_id = op->contact,
                     .number = op->s[0], .due_at = op->due, .handler = op->s[1],
                     .args = op->s[2], .kind = op->s[3], .spec = op->s[4]};
      return store_timer_add(st, &t, op->at);
    }
    case J_TIMER_DONE:
      return store_timer_done(st, op->id, op->s[0], op->s[1], op->at);
    case J_TIMER_CANCEL:
      return store_timer_cancel(st, op->id, op->bot);
    case J_DRIPS_CANCEL:
      return store_timer_cancel_drips(st, op->contact, op->s[0]);
    case J_MESSAGE_RELEASE:
      return store_message_release(st, op->id, op->s[0], op->at);
    case J_BROADCAST_ADD: {
      broadcast_row b = {.id = op->id, .bot_id = op->bot, .segment = op->s[0],
                         .text = op->s[1], .rate = op->rate, .next_at = op->due};
      return store_broadcast_add(st, &b, op->at);
    }
    case J_CONTACT_ERASE:
      return store_contact_erase(st, op->bot, op->contact, op->s[0], op->transactional,
                                 op->at);
    case J_OUTBOX_CLAIM:
      op->result = store_outbox_claim(st, op->id, op->at);
      return op->result < 0 ? -1 : 0;
    case J_OUTBOX_SENT:
      return store_outbox_sent(st, op->id, op->s[0], op->at);
    case J_OUTBOX_RETRY:
      return store_outbox_retry(st, op->id, op->due, op->s[0], op->at);
    case J_OUTBOX_WAIT:
      return store_outbox_wait(st, op->id, op->due, op->s[0], op->at);
    case J_OUTBOX_FAILED:
      op->result = store_outbox_failed(st, op->id, op->s[0], op->at);
      return op->result < 0 ? -1 : 0;
    case J_CARRIER_OPTOUT:
      return store_carrier_optout(st, op->bot, op->contact, op->s[0], op->s[1], op->at);
    case J_UNDELIVERABLE:
      return store_contact_undeliverable(st, op->contact, op->s[0]);
    case J_DELIVERY:
      return store_delivery_status(st, op->id, op->s[0], op->s[1], op->at) < 0 ? -1 : 0;
    case J_BROADCAST_UPDATE:
      return store_broadcast_update(st, op->id, op->s[0], op->contact, op->due,
                                    op->counts[0], op->counts[1], op->counts[2],
                                    op->counts[3], op->counts[4]);
    case J_OUTBOX_RECOVER:
      op->result = store_outbox_recover(st);
      return op->result < 0 ? -1 : 0;
    case J_BOT_VERSION:
      op->result_bot = store_bot_ensure(st, op->s[0], op->at);
      if (op->result_bot < 0) return -1;
      op->result = store_script_version_add(st, op->result_bot, op->s[1], op->s[2],
                                            op->at, &op->result_number);
      return op->result < 0 ? -1 : 0;
    case J_BOT_ACTIVE:
      return store_bot_set_active(st, op->bot, op->id);
    case J_BOT_SERVED:
      return store_bot_set_served(st, op->bot, op->s[0]);
    case J_BROADCAST_CANCEL:
      op->result = store_broadcast_cancel(st, op->bot, op->id);
      return op->result < 0 ? -1 : 0;
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
      return 1;
    default:
      return 0;
  }
}

enum { PENDING_MESSAGES = 64 };

/* Message rows waiting to be stored in one go. */
typedef struct pending_messages {
  message_row rows[PENDING_MESSAGES];
  size_t n;
} pending_messages;

static int store_pending(store *st, pending_messages *p) {
  int rc = store_messages_add(st, p->rows, p->n);
  p->n = 0;
  return rc;
}

static int add_pending(store *st, pending_messages *p, const journal_op *op) {
  p->rows[p->n++] = (message_row){.id = op->id,
                                  .bot_id = op->bot,
                                  .contact_id = op->contact,
                                  .direction = op->s[0],
                                  .number = op->s[1],
                                  .text = op->s[2],
                                  .status = op->s[3],
                                  .provider_id = op->s[4],
                                  .transactional = op->transactional,
                                  .at = op->at,
                                  .send_at = op->due,
                                  .segments = (int)op->message,
                                  .sender = op->s[5],
                                  .priority = (int)op->counts[0],
                                  .media = op->s[6],
                                  .error = op->s[7]};
  return p->n == PENDING_MESSAGES ? store_pending(st, p) : 0;
}

/* The ops in order, except that messages wait (up to PENDING_MESSAGES)
 * past the ops that leave them alone, to go in INSERTs of many rows: every
 * op that reads or writes messages still sees those journaled before it. */
int journal_apply(store *st, journal *j, char *err, size_t errlen) {
  pending_messages pending;
  pending.n = 0;
  int rc = store_begin(st);
  for (size_t i = 0; i < j->n && rc == 0; i++) {
    journal_op *op = &j->ops[i];
    if (op->kind == J_MESSAGE) {
      rc = add_pending(st, &pending, op);
      continue;
    }
    if (pending.n && !leaves_messages_alone(op->kind)) rc = store_pending(st, &pending);
    if (rc == 0) rc = apply_op(st, op);
  }
  if (rc == 0 && pending.n) rc = store_pending(st, &pending);
  if (rc == 0) rc = store_commit(st);
  if (rc != 0) {
    snprintf(err, errlen, "%s", store_error(store_reads(st)));
    store_rollback(st);
  }
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

store_reader *writer_reader(writer *w) {
  return w->threaded ? NULL : store_reads(w->st);
}

static void *checkpointer_main(void *arg) {
  writer *w = arg;
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
  if (w->threaded && strcmp(path, ":memory:") != 0 &&
      (w->cp = store_open(path, cp_err, sizeof cp_err))) {
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
