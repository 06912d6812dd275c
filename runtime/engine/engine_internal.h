/* engine_internal: what the files of runtime/engine/ share: the engine's
 * structures and each file's functions, listed below lowest first.
 *
 * engine.c is the pipeline (inbound messages, compliance, the life cycle),
 * install.c loads a bot version, invocation.c is one call into a bot's
 * script and what it causes, advance.c what comes due as time passes, the
 * others what these use (docs/architecture.md, the file map). Nothing
 * outside runtime/engine/ includes this. */
#ifndef PARLEY_ENGINE_INTERNAL_H
#define PARLEY_ENGINE_INTERNAL_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bloom.h"
#include "channel.h"
#include "contacts.h"
#include "engine.h"
#include "journal.h"
#include "lua_api.h"
#include "partition.h"
#include "scheduler.h"
#include "script.h"
#include "store.h"
#include "util.h"

enum { MAX_SENDS_PER_INVOCATION = 50, MAX_BROADCASTS_PER_INVOCATION = 10,
       DEFAULT_CACHE = 100000, MAX_ENGINE_THREADS = 64 };

/* bot.store, one per bot, shared by the bot's copy in every worker and by
 * its versions (group_shared.c). A handler that touches bot.store holds lock
 * from its first touch to its end (or its wait for an HTTP response), so
 * a read-modify-write never loses an update whatever the workers. */
typedef struct store_cell {
  int64_t bot_id;
  pthread_mutex_t lock;
  char *json;
  int64_t version; /* of the store's copy, its writes counted (PostgreSQL) */
  int dirty; /* changed in the batch being handled: written at its end */
  _Atomic int64_t seed_count; /* invocations since the bot's VMs were seeded */
  struct store_cell *next;
} store_cell;

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
  int64_t id, version_id; /* version_id: the row; version_number: the bot's count */
  int64_t version_number;
  sandbox *sb;
  script *src;
  store_cell *store; /* bot.store */
  char **http_allow;   /* bot.config http.allow: host names, "*.domain" */
  size_t nhttp_allow;
  size_t http_max_bytes;
  int nwaiting;        /* its handlers waiting for a response (waiting.c) */
  int retired;         /* replaced by a new version: freed when nwaiting is 0 */
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
/* Tracked links (links.c): codes are LINK_CODE_LEN letters and digits; a
 * link's URL is http(s), at most LINK_URL_MAX bytes, without spaces,
 * control characters or those a URL must escape (" < > \ { } | ^ `). */
enum { LINK_CODE_LEN = 12, LINK_URL_MAX = 2048, MAX_LINKS_PER_INVOCATION = 32 };

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
  int started_opted_out; /* the contact was opted out when the handler started */
  int store_locked;      /* it holds b->store->lock (it touched bot.store) */
  bot *version;       /* whose code runs: b after a reload is the new version */
  int nhttp;          /* requests made */
  int no_handler;     /* the router found no handler for the event (host.no_handler) */
  struct made_link {  /* c:link's, journaled with the handler (invocation.c) */
    char code[LINK_CODE_LEN + 1];
    char *url;
    int64_t message; /* the first of its messages that carries it; 0: none yet */
  } links[MAX_LINKS_PER_INVOCATION];
  int nlinks;
  struct http_answer { /* the answer it resumes with (resume.c) */
    long status;
    char *error, *body;
    size_t body_len;
    char **headers; /* name, value, ... */
    size_t nheaders;
  } answer;
  struct http_call {  /* the request the handler waits for (http_start) */
    char *method, *url, *body, *headers_json;
    size_t body_len;
    long timeout_ms;
  } http;
} invocation;

typedef struct waiting waiting;
typedef struct engine_group engine_group;

/* A send to another conversation's contact, made while the workers run in
 * parallel: only that contact's own worker may touch it, so the send is
 * recorded there after the workers meet (deferred.c, workers.c). */
typedef struct deferred_send {
  char *bot;           /* the bot's name */
  pending_send send;   /* its to, text, ... (taken) */
  int64_t at;          /* engine_now when it was made */
  size_t event_pos;    /* the worker's events then: its output goes there */
  int64_t event_key;
  int answering;
  char *reply_from;    /* the number the handled message went to, or NULL */
} deferred_send;

typedef struct event {
  int is_message;
  char *bot, *number, *text, *status;
  engine_reply reply;      /* a message's */
  engine_action_kind kind; /* an action's */
  char *detail;            /* an action's (engine_action.detail), or NULL */
  void *tag; /* of the inbound message being handled */
  int64_t id; /* the message's */
  int64_t at; /* when it happened (engine_now) */
  /* with several workers, events are put in the order one would have
   * made them: by at, then key (the timer or held message that made it,
   * engine.event_key), then as made */
  int64_t key;
  size_t seq;
} event;

#define EVENT_KEY_HELD ((int64_t)1 << 62)

/* What a handler runs for: rt.dispatch's ctx.kind (stdlib/internal/router.lua).
 * A late timer is one whose time passed long ago (bot.config late_after):
 * its handler does not run, but a drip goes on with its next step. */
typedef enum run_kind {
  RUN_MESSAGE, RUN_OPTOUT, RUN_OPTIN, /* a fan's message: its handlers answer the fan */
  RUN_EVENT, RUN_STATUS, RUN_TIMER, RUN_LATE_TIMER,
  RUN_HANDBACK, /* a person handed the conversation back (handoff.c) */
  RUN_CLICK     /* a person clicked a tracked link (links.c) */
} run_kind;

/* Whether an outgoing message may go back in the answer to the webhook being
 * handled (decided when the message came: engine.c, handle_one). */
typedef struct inline_reply {
  const char *number; /* its sender, when replies go back inline; else NULL */
  int left;           /* how many more may */
  int64_t until_ns;   /* and until when (mono_ns; 0: no deadline) */
  /* an inbox item's (another node waits for them): the inline replies'
   * texts and ids, JSON lists, recorded with the item done; else NULL */
  struct json_t *inbox_texts, *inbox_ids;
} inline_reply;

/* What runs now on a worker: an inbound message, event or delivery report,
 * the items of an advance round, a resumed handler, a deferred send. Whoever
 * starts it keeps it on its stack and points e->run at it meanwhile; nothing
 * of it outlives the run. */
typedef struct run_ctx {
  int64_t now;            /* engine_now: everything it causes carries this time */
  void *tag;              /* the inbound message's, given to observers; or NULL */
  const char *from;       /* the inbound's sender, or NULL (engine_message.to_sender) */
  const char *reply_from; /* the number the handled message went to, or NULL */
  int answering;          /* a fan's message or a triggered event: what it sends
                           * goes before bulk sends */
  inline_reply inl;
  int64_t event_key;      /* its output's place among the workers': see event.key */
  int64_t broadcast;      /* the broadcast whose turn runs (advance.c): its messages say so */
  int64_t inbound;        /* the inbound message being handled: its sender's replies say so */
  int64_t resumed;        /* the inbound message a handler resumed after a request (or
                           * run again) answers, and its sender: its sends to the */
  const char *resumed_from; /* sender say so too (reply_to), though not inline */
  /* the timer whose handler runs (advance.c), id 0: none; a handler that
   * waits keeps it pending, unless it is a recurring one (done at once: the
   * waiting handler gets a rerun record of its own) */
  struct firing {
    int64_t id;
    int rerun, every;
  } timer;
} run_ctx;

struct engine {
  /* reads only: every write goes through the writer (journals) */
  store_reader *rd; /* a connection of its own, or the writer's without a thread */
  int reads_alone;  /* rd is a connection of its own (closed with the engine) */
  writer *w;
  journal jr_own; /* the writes of the batch being handled */
  journal *jr;     /* where this one's writes go now: see sink */
  engine_group *group; /* the workers this one is part of (workers.c) */
  /* Where its writes (jr) and observer events go: itself while the
   * workers run in parallel, the primary between their rounds, so what
   * runs there is recorded in the order it happened. */
  engine *sink;
  int worker;          /* its index there: 0 is the caller's (the primary) */
  uint64_t batches, durable; /* batches handed to the writer / committed */
  /* what batches not yet durable recorded, which the store cannot show:
   * inbound provider ids (deduplication) and delivery statuses reached */
  struct pending {
    uint64_t batch;
    int64_t bot_id;
    char *provider_id; /* an inbound message's; NULL: a delivery status */
    int64_t message_id; /* the delivery's message, and the rank it reached */
    int rank;
  } *pending;
  size_t npending, cap_pending;
  int64_t (*clock)(void *);
  void *clock_ud;
  engine_observer obs;
  int has_obs;
  int (*bot_env)(void *, const char *, const char *, bot_env *, char *, size_t);
  void *bot_env_ud;
  bot *bots;

  contact_cache cache;
  /* numbers of the batch being handled that the store has no contact for
   * (contacts_prefetch), sorted, each with whether it is suppressed */
  struct absent_number {
    const char *number;
    unsigned char suppressed;
  } *absent;
  size_t nabsent;
  int64_t absent_bot;

  contact **dirty; /* contacts whose last_seen waits for the batch's end */
  size_t ndirty, cap_dirty;

  event *events;     /* of the batch being handled, then the one in flight */
  size_t nevents, cap_events, nevents_inflight;
  int64_t observed_at; /* during an observer call: its event's time */
  engine_stats stats;
  int outbox;                /* see engine_options */
  int serving;               /* see engine_options */
  int show_rules;            /* see engine_options */
  const char *(*link_base)(void *ud, const char *bot); /* see engine_options */
  void *link_ud;
  int64_t last_out_id;       /* the id of the message record_out stored last */
  run_ctx *run; /* what runs now (on the stack of whoever started it), NULL: nothing */
  int64_t next_new_due; /* the earliest timer or held message added lately */

  /* handlers waiting for an HTTP response (waiting.c) */
  waiting *waiting;
  size_t nwaiting;
  uint64_t last_http_id;
  void (*http_start)(void *ud, const engine_http_request *r);
  void *http_ud;
  int http_paused; /* http_start was taken away (stopping): requests wait */
  struct reruns {  /* pending rerun records, by conversation: it is busy */
    int64_t bot_id, contact_id;
    long n;
  } *reruns;
  size_t nreruns;
  bot *retired; /* replaced versions some of whose handlers still wait */

  deferred_send *deferred; /* sends to other workers' contacts (see above) */
  size_t ndeferred, cap_deferred;
  /* the partitions whose timers and held messages it fires, a '1' each
   * (store_set_partitions); NULL: every one (a single worker of a node
   * holding all) */
  char *due_parts;
};

/* The kinds of ids the engine allocates (group_shared.c). */
enum { ID_CONTACT, ID_MESSAGE, ID_TIMER, ID_BROADCAST, ID_KINDS };

/* The workers of one engine (workers.c) and what they share (group_shared.c). */
struct engine_group {
  int n;                          /* workers */
  engine *w[MAX_ENGINE_THREADS];  /* w[0] is the primary */
  int threaded;                   /* workers 1.. have threads; else they take turns */
  int parallel;                   /* the workers run (group_run): each only its own */
  pthread_t threads[MAX_ENGINE_THREADS];
  int started;                    /* threads 1..started run */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  uint64_t round;
  int running, stopping;
  void (*fn)(engine *w, void *arg);
  void *arg;
  /* the ids the engine allocates, the last taken of each kind (group_shared.c):
   * from the highest in the store at start, or on PostgreSQL from blocks
   * claimed on the connection ids, up to id_end (under ids_mu) */
  _Atomic int64_t last_id[ID_KINDS];
  store *ids; /* PostgreSQL: claims id blocks; NULL: SQLite */
  pthread_mutex_t ids_mu;
  int64_t id_end[ID_KINDS];
  int ids_failed; /* a claim failed: the batch must fail (group_ids_check) */
  char ids_err[512];
  pthread_mutex_t cells_mu;
  store_cell *cells;
  pthread_mutex_t waits_mu; /* the workers' waiting lists, while they run */
  /* the partitions this node holds (engine_set_partitions): all of them
   * unless a cluster says otherwise */
  unsigned char held[PARTITIONS];
  /* the inbound provider ids accepted (provider_ids.c): added to by the
   * primary between rounds, only read while the workers run */
  bloom provider_ids;
};

/* The engine's files, lowest first: a file calls only the ones above it in
 * this list (runtime/layers.py checks that no two call each other, even
 * through others: they form no circle). contacts.c and contacts_file.c, the
 * contact cache and the contacts file, use none of them. */

/* run_ctx.c (and engine_now, engine.h) */
/* "message", "optout", ...: how the script and rerun records name it. */
const char *run_kind_name(run_kind k);
/* The kind of that name, or -1. */
int run_kind_of(const char *name);

/* bots.c */
void bot_free(bot *b);
/* One of b's waiting handlers ended: a retired version goes with its last. */
void bot_release(engine *e, bot *b);
/* The worker's copy of the bot of that name (its current version), or NULL. */
bot *worker_bot(engine *w, const char *name);
/* The bot's configured number `to` names, or NULL. */
const char *own_number(const bot *b, const char *to);
const char *zone_of(const bot *b, contact *c);

/* events.c */
/* is_message: 1 an outgoing message, 0 an action, EMIT_EVENT_FAILED an
 * event that did not run as asked (status "no_handler" or "error"). */
#define EMIT_EVENT_FAILED 2
void emit(engine *e, int is_message, const char *botname, const char *number,
          const char *text, const char *status, int64_t id);
/* An outgoing message for the observers, with what it is to the inbound
 * being handled (decided by record_out). */
void emit_message(engine *e, const char *botname, const char *number, const char *text,
                  const char *status, int64_t id, engine_reply reply);
/* Appends ev (taken) to e's events. */
void event_push(engine *e, event ev);
/* Delivers (deliver 1) or drops the first n events: those of a batch now
 * durable, or failed. */
void events_flush(engine *e, int deliver, size_t n);
/* 1 if e's observer wants the ENGINE_ACTION_SHOWN actions (it is not quiet):
 * what only they need is not made otherwise. */
int shows(const engine *e);
void action(engine *e, bot *b, const char *number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An action a log reports: its kind and detail said here (see
 * engine_action), its text for people from fmt. */
void action_logged(engine *e, bot *b, const char *number, engine_action_kind kind,
                   const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* group_shared.c */
/* Reads the highest ids from the store again (at start, after a failed
 * write); on PostgreSQL, the next ids come from fresh blocks. */
int group_reload_ids(engine *e);
/* Sets each worker's due_parts from the partitions held. */
void group_due_parts(engine_group *g);
/* -1 with err if an id could not be claimed since the last call (the
 * batch holding its 0 must not be written), else 0. */
int group_ids_check(engine *e, char *err, size_t errlen);
/* The worker whose partitions hold the conversation (bot, number). */
engine *engine_owner(engine *e, int64_t bot_id, const char *number);
/* While the workers run in parallel: number is a contact of another
 * worker's partitions, which e may not touch (sends to it are deferred). */
int foreign_contact(engine *e, const bot *b, const char *number);
/* The next id of each kind: unique over every worker. */
int64_t next_contact_id(engine *e);
int64_t next_message_id(engine *e);
int64_t next_timer_id(engine *e);
int64_t next_broadcast_id(engine *e);
/* The bot's bot.store cell (created, with the store's value, on first use). */
store_cell *store_cell_for(engine *e, int64_t bot_id);
/* Puts each changed bot.store of the batch into the primary's journal. */
void store_cells_journal(engine *e);
/* After a failed write: every bot.store as the store has it. */
void store_cells_reload(engine *e);

/* invocation_state.c */
/* Takes (once) / gives back the bot's bot.store lock for inv. */
void store_lock(invocation *inv);
void store_unlock(invocation *inv);
void http_answer_free(struct http_answer *a);
void invocation_free(invocation *inv);

/* deferred.c */
/* Defers p (taken: left empty) to the worker of its contact. */
void deferred_add(engine *e, const char *botname, pending_send *p);
void deferred_free(deferred_send *d);
/* After a failed write: the deferred sends are dropped with their batch. */
void deferred_run_clear(engine *e);

/* pending.c */
/* An inbound provider id a batch not yet durable recorded. */
int pending_has(engine *e, int64_t bot_id, const char *provider_id);
/* Records a provider id (message_id 0), or the status rank a delivery of
 * message_id reached (provider_id NULL), for the batch being handled. */
void pending_add(engine *e, int64_t bot_id, const char *provider_id, int64_t message_id,
                 int rank);
/* Forgets what batches up to and including batch recorded. */
void pending_forget(engine *e, uint64_t batch);
/* The furthest status a delivery report of message id reached in batches
 * not durable yet, 0 if none. */
int pending_status_rank(engine *e, int64_t bot_id, int64_t id);

/* provider_ids.c */
/* Makes sure the filter of accepted inbound provider ids holds every one in
 * the store and in flight: built from the store the first time; it grows
 * with the ids added after (core/bloom.h). The primary, between rounds, outside a read
 * transaction (it must see every durable batch). 0, or -1 (store_error). */
int provider_ids_ready(engine *e);
/* Builds it again from the store: ids other nodes accepted are in it then. */
int provider_ids_rebuild(engine *e);
/* An inbound message's provider id, accepted (where pending_add records it). */
void provider_id_add(engine *e, int64_t bot_id, const char *provider_id);
/* store_inbound_exists, asked only when the filter may have the id. */
int provider_id_stored(engine *e, int64_t bot_id, const char *provider_id);

/* waiting.c */
enum { MAX_WAITING = 1000, MAX_WAITING_PER_BOT = 500, MAX_HTTP_PER_HANDLER = 20 };
/* A handler waiting for the answer to its request, in its worker's list. */
struct waiting {
  uint64_t id; /* of the request it waits for */
  invocation *inv;
  lua_State *co;
  sandbox_budget used;
  bot *b;        /* the version running it (its id is the bot's) */
  int64_t contact_id; /* 0: a bot's own timer */
  char *number;
  int64_t record_id;  /* the timer that runs it again after a crash */
  int record_is_rerun; /* a rerun record (counted in e->reruns) */
  run_kind kind;
  int64_t msg_id;
  char *reply_from;
  int answering;
  int64_t at; /* engine time when it suspended: it never resumes earlier */
  waiting *next;
};
/* The conversation (c, or the bot's own when c is NULL) has a handler
 * waiting, or rerun records not run yet: what comes for it waits too. */
int waiting_busy(engine *e, bot *b, contact *c);
/* After engine_open or a failed write: the pending rerun records, read
 * from the store (waiting handlers are dropped: their records run them
 * again). 0 or -1. */
int waiting_reload(engine *e);
/* d more (or fewer) rerun records of the conversation pending. */
void waiting_reruns_add(engine *e, int64_t bot_id, int64_t contact_id, long d);
/* A contact erased: its rerun records went with it. */
void waiting_forget_contact(engine *e, int64_t bot_id, int64_t contact_id);
/* Whether timer id is the record of a waiting handler (it runs already). */
int waiting_has_record(engine *e, int64_t id);
/* Whether a handler waits in that contact's conversation (by id). */
int waiting_has_contact(engine *e, int64_t contact_id);
/* The timer t must wait: its conversation is busy. */
int waiting_timer_busy(engine *e, bot *b, const timer_row *t);
/* Stores what a handler would have run (kind, m, msg_id, args) as a timer of
 * kind "rerun" due now, for advance to run once the conversation is free (or
 * after a restart). Its id, or -1. */
int64_t waiting_record(engine *e, bot *b, contact *c, run_kind kind, const inbound *m,
                       int64_t msg_id, const char *args);
/* The handler of inv suspended on inv->http: it waits (inv is taken). */
int waiting_begin(engine *e, invocation *inv, lua_State *co, run_kind kind, const inbound *m,
                  int64_t msg_id, const char *args);
/* Hands w's request (the invocation's newest) to whoever makes requests. */
void waiting_start_request(engine *e, waiting *w);
/* The host side of http.get/post (api_host.http_start, http_result). */
int waiting_http_start(void *ctx, const char *method, const char *url, const char *body,
                       size_t body_len, const char *headers_json, long timeout_ms, char *err,
                       size_t errlen);
int waiting_http_result(void *ctx, lua_State *L);
/* Frees w (out of its list), and its invocation if it still has one. */
void waiting_free(engine *e, waiting *w);
void waiting_free_all(engine *e);

/* contact_lookup.c */
/* contact_get's create: CONTACT_FIND only finds; CONTACT_JOIN creates a
 * subscribed contact (its own message, a timer or report of its own);
 * CONTACT_UNASKED creates one parley may text but that never asked for
 * marketing (an event or another contact's handler named it): not_opted_in
 * until its own first message. */
enum { CONTACT_FIND = 0, CONTACT_JOIN = 1, CONTACT_UNASKED = 2 };
/* The contact for number, from the cache or the store; created (and marked
 * new) when the bot has never seen it. NULL on a store failure. */
contact *contact_get(engine *e, bot *b, const char *number, int create, int *is_new);

/* handoff_state.c: whether a person has a conversation. Its JSON
 * {"reason", "since", "by", "taken_at"} from the old one (NULL: none; its
 * reason and since kept, reason replaced if given), taken by `by` if not
 * NULL (the caller frees it); c's set to json (taken; NULL: the bot's
 * again) and journaled; a handler's c:handoff; whether a message of c
 * reaches no handler because a person has the conversation (1, shown as
 * the rule). */
char *handoff_json(const char *old, const char *reason, int64_t now, const char *by);
void handoff_set(engine *e, contact *c, char *json);
void handoff_from_handler(engine *e, bot *b, contact *c, const char *reason);
int handoff_rule(engine *e, bot *b, contact *c);
/* handoff.c: an action of the console (an event of type
 * ENGINE_CONSOLE_EVENT_PREFIX...): 0, or -1 if the store failed. */
int handle_console_action(engine *e, bot *b, const inbound *m);

/* A conversation's past (history.c): the contact before inbound message
 * message_id, journaled if it changed since it was last; the answer a
 * handler's request got (message_id: the inbound message it handles, 0:
 * none). */
void history_snapshot(engine *e, contact *c, int64_t message_id);
void history_http_answer(engine *e, bot *b, int64_t contact_id, int64_t message_id,
                         const char *method, const char *url, const engine_http_result *r);

/* Tracked links (links.c) */
int link_code_ok(const char *code);
int link_url_ok(const char *url, size_t len);
/* text with each {{link "URL"}} replaced by a short link for c in message
 * message_id (journaled), or by the URL itself when !track (a message that
 * does not go out); NULL if it has none. */
char *links_expand(engine *e, bot *b, contact *c, const char *text, int64_t message_id,
                   int track);
/* A short link made by a handler (c:link), its code into code (the
 * invocation keeps it: links_journal); NULL if no code could be made. The
 * short link of a code. */
char *links_make(engine *e, bot *b, char code[LINK_CODE_LEN + 1]);
char *links_short(engine *e, const bot *b, const char *code);
/* The handler's links not yet in a message that text carries are in the
 * message record_out stored last; links_journal records them all (with
 * the handler's other effects). */
void links_bind(engine *e, invocation *inv, const char *text);
void links_journal(engine *e, invocation *inv);
/* Whether a user agent is a program's (a link preview, a crawler...). */
int link_agent_is_bot(const char *user_agent);
/* A click (ENGINE_CLICK_EVENT) in its contact's conversation: recorded,
 * and bot.on_click run for a person's. 0 or -1. */
int handle_click(engine *e, bot *b, const inbound *m);
/* The newest link to url the bot's contact number was sent (as
 * engine_link_find). */
int link_latest(engine *e, bot *b, const char *number, const char *url, engine_link *out,
                char *err, size_t errlen);
/* Before a batch's messages are handled: the contacts of their numbers not
 * cached yet, and whether each missing one is suppressed, in two queries
 * instead of one or two per number (each a round trip on PostgreSQL).
 * msgs must outlive contacts_prefetch_end. 0 or -1. */
int contacts_prefetch(engine *e, bot *b, const inbound *const *msgs, size_t n);
void contacts_prefetch_end(engine *e);
/* *slot (freed) becomes a copy of v, or NULL. */
void replace(char **slot, const char *v);

/* outgoing.c */
/* Stores one outgoing message. status "sent": it goes out (at once with
 * the simulator; queued for the sender with an outbox), "suppressed": the
 * contact opted out. Returns 1 if quiet hours hold it, 0, or -1. */
int record_out(engine *e, bot *b, contact *c, const char *text, const char *status,
               int transactional, int may_hold, const char *media);
/* On a channel with a window (channel.h): why a message with this
 * content (the media column's: a template, a tag) may not go to c now,
 * written to why; NULL if it may. */
const char *window_closed(engine *e, const contact *c, const char *content, char *why,
                          size_t n);

/* batch.c */
/* Hands the batch's journal to the writer; the batch before is durable
 * when this returns 0 (-1: it failed, and engine_reset ran). */
int submit_journal(engine *e, char *err, size_t errlen);
/* After a failed write: what the cache and the counters say may not be in
 * the store. Start again from the store. */
void engine_reset(engine *e);
/* Writes that need an answer, or must be durable before the engine goes
 * on, after every batch before them: j applied by the writer at once. */
int write_now(engine *e, journal *j, char *err, size_t errlen);

/* host_api.c */
extern const api_host engine_api;
void invocation_init(invocation *inv, engine *e, bot *b, contact *c, int replying);

/* invocation.c */
/* Why a handler failed: the router found no handler for the event's type
 * (the backend is told "no_handler"), or the handler (or a limit) stopped
 * it ("error"). Decided where the handler ends, carried up as a value. */
typedef enum run_failure { RUN_FAILED_ERROR, RUN_FAILED_NO_HANDLER } run_failure;
/* 0, 1 (the handler failed: its error recorded, in err; why in *failure
 * when failure is not NULL), 2 (it waits for an HTTP response, or for its
 * busy conversation: it runs later), -1 (the store). */
int run_script(engine *e, bot *b, contact *c, run_kind kind, const inbound *m,
               int64_t msg_id, const char *args, run_failure *failure, char *err,
               size_t errlen);
/* What follows a handler's end (st): its effects applied, or its error
 * recorded; the thread released. 0, 1 or -1 as run_script. */
int invocation_finish(engine *e, invocation *inv, sandbox *sb, lua_State *co, sandbox_status st,
                      int nres, run_kind kind, int64_t msg_id, run_failure *failure,
                      char *err, size_t errlen);
/* run_script for a message: its failure is the handler's business. */
int run_message(engine *e, bot *b, contact *c, run_kind kind, const inbound *m,
                int64_t msg_id);

/* resume.c */
/* A rerun timer: its handler runs as recorded. As run_script. */
int waiting_rerun(engine *e, bot *b, contact *c, const timer_row *t, char *err, size_t errlen);

/* workers.c */
/* Opens workers 1..n-1 beside the primary (which has its store, writer and
 * options set): 0, or -1 with a sentence in err. */
int group_open(engine *primary, int n, const char *db_path, char *err, size_t errlen);
/* Stops and frees workers 1..n-1 and what the workers share. */
void group_close(engine *primary);
/* Frees one worker's own structures (engine_close: the primary's, after
 * group_close and its writer). */
void worker_free(engine *w);
/* Runs fn(w, arg) on every worker, in parallel (each on its own thread; the
 * primary's share on the caller's), and returns when all are done and
 * their writes and events are the primary's (the sends they deferred
 * recorded in between, where they were made): 0, or -1 if the store failed
 * recording those. */
int group_run(engine_group *g, void (*fn)(engine *w, void *arg), void *arg);

/* advance.c */
/* Makes the pending recurring timers of a bot match its bot.every calls. */
int reconcile_every(engine *e, bot *b, char *err, size_t errlen);

/* admin.c, install.c and engine.c (the pipeline, the life cycle) are the
 * top: no other file calls them. */

#endif
