/* engine: the message pipeline.
 *
 * An inbound message finds (or creates) its contact, is stored, passes the
 * runtime's compliance rules, and then goes to the bot's script; everything
 * it caused (replies, sends, field/tag/state changes, the error record of a
 * failed handler) is committed in the same transaction as the message.
 * engine_handle takes a batch and commits it once (group commit). Messages of
 * one conversation are handled in order, one at a time. Contacts are cached
 * (bounded LRU) so the hot path does not re-read SQLite; idle conversations
 * cost no Lua memory: their data lives in SQLite and is decoded per message. */
#ifndef PARLEY_ENGINE_H
#define PARLEY_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

typedef struct engine engine;
typedef struct bot bot;
struct journal;

/* Whether an outgoing message answers the inbound being handled: decided
 * once, when the message is recorded, and carried with it. */
typedef enum engine_reply {
  ENGINE_REPLY_NONE,      /* to someone else, or nothing inbound is handled */
  ENGINE_REPLY_INLINE,    /* goes back in the answer to the webhook being
                           * handled (stored "sent": no provider sends it) */
  ENGINE_REPLY_TO_SENDER, /* to the inbound's sender, but not inline: through
                           * the outbox ("queued"), or "sent" without one */
} engine_reply;

/* An outgoing message (id: its row); status: "sent", "queued" (for the
 * outbox); tag: the tag of the inbound message being handled (NULL for
 * timers and the like). */
typedef struct engine_message {
  const char *bot, *to, *text, *status;
  void *tag;
  int64_t id;
  engine_reply reply;
} engine_message;

/* What an action means for a log, said where it is made (the text says
 * it again for people). */
typedef enum engine_action_kind {
  ENGINE_ACTION_SHOWN,          /* for the simulator and transcripts only */
  ENGINE_ACTION_ERROR,          /* a handler failed: detail is its error */
  ENGINE_ACTION_STATUS_UNKNOWN, /* a delivery report for no message of the
                                 * bot: detail says which */
  ENGINE_ACTION_CARRIER_OPTOUT, /* the carrier opted the contact out */
  ENGINE_ACTION_HTTP,           /* a handler's request, or its answer:
                                 * detail is "GET url[ -> 200 (n bytes)]" */
  ENGINE_ACTION_HTTP_FAILED,    /* no response came: detail as for HTTP */
} engine_action_kind;

/* A side effect worth showing: text is "expect city", "fields.city =
 * \"Austin\"", "error: bot.lua:3: ...", "log: ...", "opted out (STOP)". */
typedef struct engine_action {
  const char *bot, *number, *text;
  engine_action_kind kind;
  const char *detail; /* see kind; NULL for ENGINE_ACTION_SHOWN */
} engine_action;

/* What sim and test show: called after the transaction commits. */
typedef struct engine_observer {
  void (*message)(void *ud, const engine_message *m);
  void (*action)(void *ud, const engine_action *a);
  void *ud;
  /* an event did not run as asked: status "no_handler" (the bot has no
   * bot.on_event for its type) or "error" (its handler failed); error: the
   * sentence; tag: the event's. May be NULL. */
  void (*event_failed)(void *ud, void *tag, const char *status, const char *error);
  /* 1: no ENGINE_ACTION_SHOWN actions are made at all (`parley serve` logs
   * none of them, and a state's diff line costs two JSON parses a message);
   * 0: the simulator's and transcripts' lines are made too. */
  int quiet;
} engine_observer;

typedef struct engine_options {
  const char *db_path;           /* ":memory:" or a file */
  /* ms since epoch; NULL = the real clock. With several workers on a file
   * store it is called from each worker's thread at once. */
  int64_t (*clock)(void *ud);
  void *clock_ud;
  const engine_observer *observer; /* may be NULL */
  size_t contact_cache;          /* contacts kept in memory; 0 = default */
  int inline_writes;             /* no writer thread, even for a file */
  /* Outgoing messages go to the outbox (status "queued") for a sender to
   * deliver, except replies that go back inline in the webhook's answer;
   * without it (sim, test) every message counts as sent when committed. */
  int outbox;
  /* `parley serve`: an installed version becomes the bot's active version
   * in the store (what a restart comes back to); sim, test and check load
   * versions without changing which one the server runs. */
  int serving;
  /* What a version's script reads as bot.env (bot_env.h): called for each
   * version before it loads, unless its script's env is filled already. 0,
   * or -1 with a sentence in err (the version is refused). NULL: bot.env
   * is empty. */
  int (*bot_env)(void *ud, const char *bot, const char *dir, bot_env *out, char *err,
                 size_t errlen);
  void *bot_env_ud;
  /* Each message's handling names the rule that took it, as an action
   * "rule: keyword join" (compliance, on_join, keyword, expect, hear,
   * match, fallback, none, on_event, ...): the simulator shows it. */
  int show_rules;
  /* Workers handling conversations in parallel, each owning a share of
   * the partitions (partition.h), 1 to 64; 0: engine_threads_default().
   * With an in-memory store the workers take turns on the calling thread
   * (the same partitions and VMs, one connection). */
  int engine_threads;
  /* Where a bot's short links point ({{link "URL"}}, c:link): the base of
   * BASE/l/CODE, e.g. "https://go.shop.example" (links.c); NULL, or NULL
   * returned: ENGINE_LINK_BASE_DEFAULT. With `serving` the codes are
   * random; otherwise made from message ids (the same at each run). */
  const char *(*link_base)(void *ud, const char *bot);
  void *link_ud;
} engine_options;

#define ENGINE_LINK_BASE_DEFAULT "http://127.0.0.1:8080"

/* PARLEY_ENGINE_THREADS when it is a number from 1 to 64, else 1. */
int engine_threads_default(void);
/* The workers `parley serve` runs unless told (engine_threads auto):
 * PARLEY_ENGINE_THREADS when it is a number from 1 to 64, else one per
 * core but one, at least 1. The writer's thread keeps a core busy: on 2
 * cores a second worker only shares the other one, and the workload ran
 * at 194k messages/s with 1 worker against 165k with 2 (bench threads). */
int engine_threads_auto(void);

engine *engine_open(const engine_options *opt, char *err, size_t errlen);
/* fn(ud) is called (on the writer's thread) after each commit that queued
 * messages: the sender's wake-up. */
void engine_on_queued(engine *e, void (*fn)(void *ud), void *ud);
/* Applies another thread's writes (the sender's) on the engine's writer,
 * between batches, and waits for them (see writer_apply_side). */
int engine_apply_side(void *e, struct journal *j, char *err, size_t errlen);
/* Inside an observer's call: the (simulated) time its message or action
 * happened, e.g. a timer's due time during an advance. */
int64_t engine_observed_at(engine *e);
/* Replaces the observer (NULL: none). */
void engine_set_observer(engine *e, const engine_observer *obs);
void engine_close(engine *e);

/* Loads scripts/<bot>/ (or any bot folder). Problems go to err, one
 * "file:line: message" per line. */
bot *engine_load_bot(engine *e, const char *dir, char *err, size_t errlen);
/* Installs a bot version from files in memory (takes s). A bot of the same
 * name is replaced between batches: messages already handled used the old
 * version, the next ones use this one; timers and drips go on by name. On
 * failure nothing changes, err has every problem as file:line lines and
 * *why (if why is not NULL) says which kind: the version does not load, one
 * of its bot.config{numbers} is another bot's, or the store failed. */
enum { INSTALL_OK, INSTALL_INVALID, INSTALL_NUMBER_TAKEN, INSTALL_STORE };
bot *engine_install(engine *e, script *s, int *why, char *err, size_t errlen);
/* Loads the version another node sharing the store made active (as
 * engine_install, takes s), without writing which version is active and
 * without matching the recurring timers to it: that node did both. */
bot *engine_follow_version(engine *e, script *s, int *why, char *err, size_t errlen);
/* Fills s->env from the engine's bot_env source (once: a filled one stays).
 * 0, or -1 with a sentence in err. */
int engine_fill_bot_env(engine *e, script *s, char *err, size_t errlen);
/* Records that `parley serve` runs b (its active version comes back at the
 * next start) and, if folder_sha is not NULL, that b's folder had those
 * files (script_sha) when it was read. 0, or -1 with a sentence in err. */
int engine_bot_served(engine *e, bot *b, const char *folder_sha, char *err, size_t errlen);
bot *engine_find_bot(engine *e, const char *name);
const script *bot_script(const bot *b);
/* The active version's number among the bot's versions (1, 2, ...). */
int64_t bot_version(const bot *b);
const char *bot_name(const bot *b);
const char *bot_display_name(const bot *b);
int64_t bot_id(const bot *b);
sandbox *bot_sandbox(bot *b);
/* Seeds math.random in the bot's VM of every worker (sandbox_seed_random),
 * counting their invocations together: the numbers do not depend on the
 * number of workers. */
void engine_seed_random(engine *e, bot *b, int64_t seed);
/* What the bot's running version reads as bot.env (never NULL). */
const bot_env *bot_env_of(const bot *b);

enum { INLINE_ANY = 1 << 30 };

typedef struct inbound {
  const char *from;        /* the fan's number */
  const char *to;          /* the bot's number, may be NULL */
  const char *text;
  size_t len;
  const char *provider_id; /* for deduplication, may be NULL */
  void *tag;               /* the caller's: handed back with the replies */
  /* A triggered event instead of a message: its type (text is unused) and
   * its data as JSON; it runs bot.on_event(type) in `from`'s conversation. */
  const char *event_type;
  const char *event_data;
  const char *media_json; /* the message's media URLs, a JSON list; NULL: none */
  /* The answer to this request carries up to this many replies to `from`
   * (TwiML and JSON: any number, INLINE_ANY; a Kannel body: 1): with an
   * outbox they are recorded as sent, the rest queued. 0: none. */
  int inline_reply;
  /* With inline_reply: past this time (mono_ns) the handler starts too late
   * for the webhook's answer and its replies are queued instead; 0: none. */
  int64_t inline_until_ns;
  /* A delivery report instead of a message (from is unused): moves the
   * bot's outgoing message forward and runs bot.on_status. */
  const struct delivery *delivery;
  /* Not handled here: another node holds its conversation. It goes to the
   * inbox under this ticket (with its inline_reply and deadline), durable
   * with the batch (store_cluster.h). NULL: handled here. */
  const char *forward_ticket;
  /* An inbox item being handled (its id): recorded done, with its inline
   * replies, in the same transaction. 0: none. inbox_waited: it was added
   * for a webhook that waits (inbox_item.waited). */
  int64_t inbox_id;
  int inbox_waited;
  /* The node that took its webhook relayed it and got no answer (the
   * holder may have died after its commit): found handled already, it
   * gets that handling's inline replies again, as an inbox item does. */
  int answer_lost;
} inbound;

typedef struct delivery {
  int64_t message_id;      /* ours; 0: find it by provider_id */
  const char *provider_id;
  const char *status;      /* sent, delivered, undelivered, failed, read */
  const char *error;       /* the provider's error code or reason; may be NULL */
  int from_sender;         /* the sender recorded it already (a final failure) */
  int carrier_optout;      /* and opted the contact out (Twilio 21610) */
  int undeliverable;       /* and marked the number undeliverable (21211, 21614) */
} delivery;

/* Handles a batch and waits until it is durable (one transaction). Returns
 * 0, or -1 with a sentence in err when the store failed: nothing of the
 * batch is kept then. */
int engine_handle(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen);

/* Handles a batch and hands its writes to the writer, which commits it while
 * the next batch runs; returns once the batch before it is durable. -1 if
 * that one (or this one) failed: then neither is kept. */
int engine_submit(engine *e, bot *b, const inbound *msgs, size_t n, char *err,
                  size_t errlen);
/* Waits until every submitted batch is durable; observers see its effects. */
int engine_flush(engine *e, char *err, size_t errlen);
/* Fires every timer and releases every message held by quiet hours that is
 * due by `until` (ms), in time order, each at its own time (engine_now is
 * the item's time while it runs). The caller's clock moves to `until`
 * afterwards. */
int engine_advance(engine *e, int64_t until, char *err, size_t errlen);

/* Batches handed over / known durable so far. */
uint64_t engine_batches_durable(engine *e);

/* Creates or changes a contact as a test's setup or the admin API would
 * (fields and tags as JSON, NULL: unchanged); a status change is written to
 * the consent ledger with source "setup". Fields and tags are held to the
 * rules and limits of a script's (luadata.h: 16 KiB, 16 levels, ...): 1
 * with a sentence in err and nothing written if they break one. Waits until
 * it is durable: 0, or -1 if the store failed. */
int engine_set_contact(engine *e, bot *b, const char *number, const char *status,
                       const char *fields, const char *tags, const char *timezone,
                       char *err, size_t errlen);

/* A contact's conversation set as a test's setup would (a pulled
 * transcript's @contact): its state (JSON, NULL: unchanged; held to the
 * limits of c.state), the handler its next message goes to (NULL: none),
 * and whether it has joined (its messages no longer go to bot.on_join).
 * 1 with err if a value breaks a rule, 0, or -1 if the store failed. */
int engine_set_conversation(engine *e, bot *b, const char *number, const char *state,
                            const char *expect, int joined, char *err, size_t errlen);

/* An event as the engine takes it, from the HTTP API or a transcript: its
 * type as bot.on_event names one (1 to 128 letters, digits, _ . - :), its
 * data (NULL: none; the caller has checked it is a JSON object) held to the
 * limits of c.state
 * (luadata.h). 0 with *data_out (canonical JSON, "{}" for none; caller
 * frees), or -1 with a sentence in err. */
int engine_event_check(const char *type, const char *data, char **data_out, char *err,
                       size_t errlen);

/* Imports contacts (contacts_file.h) between batches: every batch is
 * flushed first, cached contacts take the new values. opt's now, changed
 * and ud are set here. 0 with rep, 1 the data cannot be read (err, nothing
 * written), -1 the store failed (err). */
struct import_options;
struct import_report;
int engine_import_contacts(engine *e, bot *b, const char *data, size_t len,
                           struct import_options *opt, struct import_report *rep, char *err,
                           size_t errlen);

/* Erases a contact (see store_contact_erase): 1 done, 0 no such contact,
 * -1 the store failed. */
int engine_erase_contact(engine *e, bot *b, const char *number, char *err, size_t errlen);

/* The inbox (store_cluster.h) outside a message's batch: an item for the
 * node holding (bot, number)'s conversation, under ticket, that a caller
 * waits for (reply_ms); and an item this node took, done with its answer
 * (a JSON text the waiting node reads). Each durable on return: 0, or -1
 * with err. */
int engine_inbox_add(engine *e, bot *b, const char *ticket, const char *number,
                     const char *item, int64_t reply_ms, char *err, size_t errlen);
int engine_inbox_done(engine *e, int64_t inbox_id, const char *answer, char *err, size_t errlen);

/* Tracked links (links.c). A visit to BASE/l/CODE: the link of CODE,
 * with its bot's name and contact's address (1; engine_link_free), 0 no
 * such code (or not a code's shape), -1 the store failed (err). Reads the
 * store as committed: a link is in it before its message goes out. */
typedef struct engine_link {
  int64_t id, message_id;
  char *url, *bot, *number;
} engine_link;
int engine_link_find(engine *e, const char *code, engine_link *out, char *err, size_t errlen);
/* Whether url may be a tracked link's: http(s), at most 2048 bytes, none
 * of the characters a URL must escape (NULL: no). */
int engine_link_url_ok(const char *url);
void engine_link_free(engine_link *l);
/* The click as the event that records it in the contact's conversation
 * (type ENGINE_CLICK_EVENT, its data this JSON; the caller frees it):
 * flagged a program's when user_agent looks like one (a link preview, a
 * crawler, no user agent at all) or the request was a HEAD. bot.on_click
 * runs for a person's. */
#define ENGINE_CLICK_EVENT "parley:click"
enum { ENGINE_USER_AGENT_MAX = 512 };
char *engine_click_event(const engine_link *l, const char *user_agent, int head);
/* The simulator's and transcripts' click: on the newest link to url that
 * number was sent, handled and durable: 1, 0 no such link, -1 (err). */
int engine_click(engine *e, bot *b, const char *number, const char *url, const char *user_agent,
                 char *err, size_t errlen);
/* What a click without a user agent of its own says it is: a person's
 * phone (the simulator's and transcripts'). */
#define ENGINE_PHONE_AGENT                                                                 \
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, " \
  "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"

/* What a person does in the console to a conversation comes as an event
 * of a type with this prefix: "parley:take", "parley:reply", "parley:note",
 * "parley:handback", its data {"who", "text"} (handoff.c). A bot cannot
 * take such a type (bot.on_event, the events endpoint). */
#define ENGINE_CONSOLE_EVENT_PREFIX "parley:"

/* The console's writes (store_console.h), outside a message's batch, each
 * durable on return: a session recorded (and the expired ones forgotten),
 * a session ended, (bot, number)'s conversation read up to its newest
 * message (1 done, 0 no such contact). 0 (or 1), or -1 with err. */
struct console_session;
int engine_session_add(engine *e, const struct console_session *s, char *err, size_t errlen);
int engine_session_end(engine *e, const char *id, char *err, size_t errlen);
int engine_inbox_read(engine *e, bot *b, const char *number, char *err, size_t errlen);

/* Messages recorded as sent inline whose webhook answer never reached the
 * provider go to the outbox instead (committed with the next batch). */
int engine_requeue(engine *e, const int64_t *ids, size_t n, char *err, size_t errlen);

/* A broadcast created from outside a handler (the admin API); segment is
 * the JSON store_contacts_match takes. Its id, or -1. */
int64_t engine_broadcast(engine *e, bot *b, const char *segment, const char *text,
                         const char *content, int64_t start_ms, double rate, char *err,
                         size_t errlen);
/* A broadcast's content for a WhatsApp template {"name", "language"
 * (default en_US), "params": [strings, {{...}} filled in per recipient]}:
 * {"template": {...}} (the caller frees it), or NULL with err saying what
 * is wrong. Its WhatsApp recipients get the template, the others its text. */
char *engine_broadcast_template(const char *template_json, char *err, size_t errlen);

/* What a broadcast to segment (as engine_broadcast takes it) would do if
 * it started at start_ms at rate a second: the contacts it walks, and how
 * many of them it would send to at once, hold for quiet hours (the first
 * ones held: who), suppress (opted out), fail (an undeliverable number)
 * and skip (never opted in), and when its last turn would come. Reads
 * only: 0, or -1 with err. */
enum { ENGINE_PREVIEW_HELD_SHOWN = 20 };
typedef struct engine_preview_held { /* one held: its number, zone, and when it goes */
  char number[32], zone[64];
  int64_t until_ms;
} engine_preview_held;
typedef struct engine_broadcast_preview {
  int64_t recipients, sent, held, suppressed, failed, not_opted_in;
  int64_t finish_ms;
  engine_preview_held held_first[ENGINE_PREVIEW_HELD_SHOWN]; /* the first ones held */
} engine_broadcast_preview;
int engine_broadcast_preview_of(engine *e, bot *b, const char *segment, int64_t start_ms,
                                double rate, engine_broadcast_preview *out, char *err,
                                size_t errlen);

/* Stops a scheduled or running broadcast: 1 stopped, 0 none such running
 * (done, cancelled or unknown), -1 the store failed. */
int engine_broadcast_cancel(engine *e, bot *b, int64_t id, char *err, size_t errlen);
/* The problem with a text's template filters ("template {{urll fields.x}}:
 * unknown filter 'urll' (known: url)"), or NULL; the caller frees it. */
char *engine_template_problem(engine *e, bot *b, const char *text);

/* http.get/post from handlers. A request the engine starts for a handler,
 * which waits (suspended) until engine_http_done brings the answer. */
typedef struct engine_http_request {
  uint64_t id;
  const char *bot;
  const char *method, *url; /* http or https; the host is one the bot allows */
  const char *body;         /* NULL: none */
  size_t body_len;
  const char *headers_json; /* {"Name": "value"}, or NULL */
  long timeout_ms;
  size_t max_bytes;         /* of the response body */
} engine_http_request;

typedef struct engine_http_result {
  long status;              /* 0: no response; error says why */
  const char *error;
  const char *body;
  size_t body_len;
  const char *const *headers; /* name, value, name, value...: names lowercase */
  size_t nheaders;            /* pairs */
} engine_http_result;

/* start(ud, r) is called on the engine thread when a handler makes a
 * request; r's strings last until the call returns. Without it http.get and
 * http.post refuse ("not available"). */
void engine_on_http(engine *e, void (*start)(void *ud, const engine_http_request *r), void *ud);
/* The answer to request id: the handler resumes (and may wait again), its
 * effects are committed with the next batch (submitted here). An unknown id
 * is ignored. -1 if the store failed. */
int engine_http_done(engine *e, uint64_t id, const engine_http_result *r, char *err,
                     size_t errlen);
/* Handlers waiting for a response now. */
size_t engine_http_waiting(engine *e);

/* The partitions (partition.h) this engine's node holds in a cluster
 * (held[p] != 0; NULL: all, as an engine alone does): the timers, held
 * messages and broadcast turns of the others are not run here (their
 * messages the caller hands to their holder). When any changed hands, what
 * the engine keeps is read from the store again (cached contacts, rerun
 * records, bot.store, the provider ids' filter), ids come from new blocks,
 * and handlers waiting for HTTP are dropped (their rerun records run them
 * again where their conversation is held): nothing the last holder did is
 * missed. Between batches (it flushes first): 0, or -1 with err; the held
 * set is the new one either way (a batch that failed to flush failed). */
int engine_set_partitions(engine *e, const unsigned char *held, char *err, size_t errlen);
/* 1 if this engine's node holds the conversation (bot, number). */
int engine_holds(engine *e, int64_t bot_id, const char *number);
/* Every write transaction checks the node's fencing number (store_cluster.h)
 * from now on; one the node leaves idle for f->idle_ms is ended by the
 * server. 0, or -1 with err. */
struct store_fence;
int engine_set_fence(engine *e, const struct store_fence *f, char *err, size_t errlen);

/* Each number a bot serves (bot.config{numbers = {...}}), with its bot. */
void engine_each_number(engine *e, void (*fn)(void *ud, const char *number, const char *bot),
                        void *ud);

int64_t engine_now(engine *e);
/* The store, for reads; call it when every batch is flushed. */
struct store_reader *engine_store(engine *e);
/* Forgets cached contacts (after the store was changed behind its back). */
void engine_forget_contacts(engine *e);

enum { ENGINE_LATENCY_BUCKETS = 9 };
/* upper bounds of the handler latency histogram, in microseconds */
extern const long engine_latency_bounds_us[ENGINE_LATENCY_BUCKETS];

typedef struct engine_stats {
  long messages_in, replies, suppressed, errors, limit_hits, duplicates;
  long cached_contacts;
  long timers_fired;
  /* handler calls by duration (cumulative counts are made by the reader) */
  long latency[ENGINE_LATENCY_BUCKETS + 1]; /* the last: above every bound */
  double latency_sum_s;
  long latency_count;
} engine_stats;
engine_stats engine_stats_of(engine *e);

/* One bot's counts since the server started (kept across its reloads). */
typedef struct bot_counts {
  long messages_in, replies, suppressed, errors;
} bot_counts;
void engine_each_bot_counts(engine *e, void (*fn)(void *ud, const char *bot, const bot_counts *c),
                            void *ud);

#endif
