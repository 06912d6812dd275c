/* engine_internal: what engine.c, invocation.c and advance.c share.
 *
 * engine.c is the pipeline (batches, contacts, compliance, loading bots),
 * invocation.c one call into a bot's script and what it causes, advance.c
 * what comes due as time passes. Nothing outside these three includes this. */
#ifndef PARLEY_ENGINE_INTERNAL_H
#define PARLEY_ENGINE_INTERNAL_H

#include <lua.h>
#include <stdint.h>

#include "contacts.h"
#include "engine.h"
#include "journal.h"
#include "lua_api.h"
#include "scheduler.h"
#include "script.h"
#include "store.h"
#include "util.h"

enum { MAX_SENDS_PER_INVOCATION = 50, DEFAULT_CACHE = 100000 };

struct bot {
  char *name;          /* folder name: how the store and the API know it */
  char *display;       /* bot.config name */
  char *help, *optout_reply, *optin_reply;
  int max_chars;
  char *timezone;      /* the bot's zone: contacts without one of their own */
  bot_counts counts;   /* for /metrics, by bot */
  int on_status;       /* the script has bot.on_status */
  char **numbers;      /* bot.config numbers: inbound to these is routed here */
  size_t nnumbers;
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
  char *media;  /* JSON list of URLs, or NULL */
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
  void *tag; /* of the inbound message being handled */
  int64_t id; /* the message's */
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
  int outbox;                /* see engine_options */
  int answering;             /* handling a fan's message or a triggered event:
                              * what it sends goes before bulk sends */
  const char *reply_from;    /* the number the message being handled went to */
  const char *inline_number; /* its sender, when replies go back inline */
  int inline_left;           /* how many more may */
  int64_t inline_until_ns;   /* and until when (mono_ns; 0: no deadline) */
  int64_t now;
  void *tag; /* of the inbound message being handled */
  int64_t next_new_due; /* the earliest timer or held message added lately */
};


extern const api_host engine_api;

/* engine.c */
const char *zone_of(const bot *b, contact *c);
void emit(engine *e, int is_message, const char *botname, const char *number,
          const char *text, const char *status, int64_t id);
void action(engine *e, bot *b, const char *number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
contact *contact_get(engine *e, bot *b, const char *number, int create, int *is_new);
void replace(char **slot, const char *v);
int submit_journal(engine *e, char *err, size_t errlen);
void engine_reset(engine *e);
int reconcile_every(engine *e, bot *b, char *err, size_t errlen);

/* invocation.c */
void invocation_init(invocation *inv, engine *e, bot *b, contact *c, int replying);
void invocation_free(invocation *inv);
int record_out(engine *e, bot *b, contact *c, const char *text, const char *status,
               int transactional, int may_hold, const char *media);
int run_script(engine *e, bot *b, contact *c, const char *kind, const inbound *m,
               int64_t msg_id, const char *args, char *err, size_t errlen);
/* run_script for a message: its failure is the handler's business. */
int run_message(engine *e, bot *b, contact *c, const char *kind, const inbound *m,
                int64_t msg_id);

#endif
