/* http_internal: what the HTTP side (http_server.c) and the admin API
 * (admin_api.c) share: the job a request becomes, and the server. */
#ifndef PARLEY_HTTP_INTERNAL_H
#define PARLEY_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "engine.h"
#include "http_server.h"
#include "provider_registry.h"
#include "util.h"

enum job_kind {
  JOB_MESSAGE, JOB_EVENT, /* messages (a provider's: job->via): batched */
  JOB_STATUS,                                      /* delivery reports: batched */
  JOB_REQUEUE,               /* inline replies whose answer did not get through */
  JOB_HTTP,                  /* the answer a waiting handler's request got */
  JOB_RELAYED,               /* what the node a message was relayed to answered */
  JOB_CLICK,                 /* a visit to a short link: becomes a JOB_EVENT (link_visits.c) */
  JOB_RELOAD, JOB_VERSIONS, JOB_ROLLBACK,           /* admin: one at a time */
  JOB_METRICS,                                     /* read on the engine thread */
  JOB_CONTACTS, JOB_CONTACT, JOB_CONTACT_MESSAGES, /* admin reads */
  JOB_CONSENT_CSV, JOB_BROADCAST, JOB_CONTACT_UPDATE, JOB_CONTACT_ERASE,
  JOB_BROADCAST_CREATE, JOB_BROADCAST_CANCEL, JOB_BROADCASTS, JOB_BROADCAST_PREVIEW,
  JOB_CONTACTS_IMPORT, JOB_CONTACTS_CSV,
  JOB_VERSION_FILES, JOB_VERSION_TEST, /* a version's files; its transcripts run */
  JOB_MEDIA, /* a channel's media file: fetched by media_fetch.c, answered with it */
  JOB_LINKS, JOB_CLICKS, /* tracked links and their clicks (link_visits.c) */
  JOB_TRANSCRIPT, /* a conversation pulled as a .chat transcript (history_api.c) */
  /* the console's (console.c): console_run, from JOB_SESSION_CREATE on */
  JOB_SESSION_CREATE, JOB_SESSION_GET, JOB_SESSION_END, JOB_BOTS, JOB_CONVERSATIONS,
  JOB_CONVERSATION_READ, JOB_FEED, JOB_SIM, JOB_STATS,
  JOB_CONSOLE_ACTION /* take, reply, note, hand back: becomes a JOB_EVENT (console.c) */
};

/* A request that needs the engine: queued by the HTTP thread, handled by the
 * engine thread, answered once its batch is durable. */
typedef struct job {
  struct MHD_Connection *conn;
  enum job_kind kind;
  char *botname;  /* resolved on the engine thread: bots change there */
  bot *b;
  unsigned http_status; /* set when the answer is not the usual one */
  char *http_body;      /* its JSON */
  char *content_type;   /* JOB_RELOAD: of the body */
  buf body;             /* JOB_RELOAD, JOB_ROLLBACK: the request body */
  struct script *unpacked; /* JOB_RELOAD of an archive: its files (upload_worker.c) */
  json_t *query;        /* admin reads: the query parameters */
  char *item;           /* admin reads: the contact's number, the broadcast's id */
  char *from, *to, *text, *provider_id;
  const provider_registration *via; /* JOB_MESSAGE: the provider it came from */
  char *event_type, *event_data; /* JOB_EVENT */
  char *event_status, *event_error; /* JOB_EVENT that did not run as asked */
  char *media_json;              /* media URLs, a JSON list */
  delivery dl;                   /* JOB_STATUS (its strings below) */
  char *dl_status, *dl_error;
  char **replies; /* texts sent back to `from` in answer */
  size_t nreplies;
  int64_t *reply_ids; /* the inline ones' message ids */
  size_t nreply_ids;
  uint64_t http_id;        /* JOB_HTTP: the request's id, its status (0: none), */
  long http_result;        /* its error or body (in body) and headers (pairs) */
  char *http_error;
  char **http_headers;
  size_t http_nheaders;
  /* the inbox (forward.c): a message this node took for another node's
   * conversation, its ticket and whether its answer waits for the
   * replies (until deadline_ns); or an inbox item this node handles */
  char *ticket;
  int wants_replies;
  int64_t deadline_ns;
  int64_t inbox_id;
  int inbox_waited;       /* inbox_item.waited */
  int inbox_inline;       /* the replies it may answer inline, */
  int64_t inbox_until_ns; /* until then */
  /* the relay (forward.c, relay.c): a message sent straight to the node
   * holding its conversation, and what came back (JOB_RELAYED, its answer
   * in http_result, http_error and body); a message relayed here */
  struct job *relayed;
  json_t *relay_result; /* JOB_RELAYED: the message's result in its holder's answer */
  int relay_tried; /* the relay failed: it goes through the inbox */
  int from_relay;  /* answered with its replies and their ids, as JSON */
  /* a batch of relayed messages (webhooks.c relay_inbound): the request's
   * job holds one job a message, each run as its own and answered into
   * the batch; the last one answered resumes the batch's connection */
  struct job **batch;
  size_t nbatch;
  atomic_int pending; /* the batch's messages not answered yet */
  struct job *group;  /* a message's batch */
  /* a request signed in to the console instead of the admin token: its
   * session (the cookie's secret), checked on the engine thread with the
   * X-CSRF-Token it carried if it changes anything (console.c) */
  char *session, *csrf;
  struct console_session *signed_in; /* the session, once checked */
  char *set_cookie; /* the answer's Set-Cookie, or NULL */
  /* JOB_FEED let through: answered with the feed's stream of the bots in
   * feed_bots (JSON; NULL: every bot) until feed_until_ms (wall clock) */
  int feed_open;
  char *feed_bots;
  int64_t feed_until_ms;
  /* JOB_CLICK (item: the code, text: the user agent): a HEAD request;
   * the link's URL once found, where the visitor is sent (302) */
  int click_head;
  char *click_url;
  int failed;     /* the engine could not take it: 503 */
  int64_t arrived_ns; /* mono_ns when the request was complete */
  atomic_int done;
  struct job *next;
} job;

struct server {
  server_config cfg;
  engine *e;
  /* counted on the engine thread */
  long reloads, reload_failures, http_jobs;
  long queue_depth_max;
  struct watched {
    char *dir;
    int64_t mtime;
  } *watch;
  size_t nwatch;
  /* which bot serves which number, for requests that name no bot: rebuilt
   * on the engine thread when bots change, read on the HTTP thread */
  pthread_mutex_t routes_mu;
  struct route {
    char *number, *bot;
  } *routes;
  size_t nroutes;
  struct MHD_Daemon *daemon;
  struct http_limits *limits;
  struct upload_worker *uploads;
  struct media_fetcher *media; /* GET /v1/bots/BOT/media/ID */
  struct feed *feed; /* the console's live changes (feed.h) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  /* the engine thread's: the inbound jobs being submitted together, and
   * the batch in flight (submitted, answered once it is durable) */
  job **collected;
  inbound *inbound;
  size_t ncollected, collected_cap;
  job *in_flight, *in_flight_tail;
  long submitted; /* batches of collected jobs handed to the engine */
  int refusing; /* (under mu) server_finish: new requests get 503 */
  /* the engine thread's (forward.c): webhooks waiting for the replies of
   * another node; the inbox items taken, not yet durable */
  job *forwarded;
  atomic_uint inbox_news;       /* the cluster's listener counts what it is told */
  atomic_int contacts_stale;    /* it was told of contacts written behind the cache */
  unsigned inbox_news_seen;     /* the count at forward_poll's last look */
  int64_t next_forward_look;    /* mono_ns: forward_poll looks again by then anyway */
  uint64_t tickets;
  char ticket_prefix[24]; /* forward_init: read by the cluster's listener too */
  int64_t *taken;
  size_t ntaken, cap_taken;
  int64_t *unreadable; /* inbox items that are not an item: logged once, left alone */
  size_t nunreadable;
  job **take_tail;
  struct relay *relay; /* with other nodes: the messages relayed to their holders */
  long handed_relay, handed_inbox, relay_failures; /* counted for /metrics */
  volatile sig_atomic_t stopping;
};

/* Per connection. */
typedef struct request {
  char *raw_uri; /* as the client sent it, query included */
  int started;   /* the first call (headers) has been seen */
  buf body;
  size_t body_held; /* bytes of max_body_memory taken for it */
  size_t max_body;  /* the largest body it may have */
  int too_large;
  int no_memory; /* max_body_memory ran out while its body came: 503 */
  const char *action; /* the console's action on a conversation (console.c), or NULL */
  job *job;
} request;

/* jobs.c */
void job_free(job *j);
enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                        const char *body);
/* {"error": message} with that status. */
enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
                              const char *message);
/* Queues j for the engine and suspends the connection until it is answered. */
enum MHD_Result start_job(server *s, struct MHD_Connection *conn, request *r, job *j);
/* Queues the jobs of batch (batch->batch, those not done already) for the
 * engine together and suspends the connection until each is answered
 * (job_resume). */
enum MHD_Result start_batch(server *s, struct MHD_Connection *conn, request *r, job *batch);
/* On the engine thread: j is answered; its connection (its batch's, once
 * the batch's last job is answered) is resumed to send the answer. */
void job_resume(job *j);
/* Queues j for the engine thread (its connection stays suspended). */
void queue_job(server *s, job *j);
/* The bot that lists number in bot.config{numbers} (a copy), or NULL. */
char *route_of(server *s, const char *number);
/* On the engine thread, after bots were loaded or replaced: the route
 * table again. */
void routes_refresh(server *s);
void routes_free(struct route *v, size_t n);

/* webhooks.c: requests that become jobs (b: the bot's name). A provider's
 * requests are read by its registration (provider_registry.h). */
typedef struct request_ctx {
  server *s;
  struct MHD_Connection *conn;
  char *url; /* public_url + the path and query as sent (the caller frees) */
} request_ctx;
/* rq for the request r (NULL: its headers only) of bot b on endpoint. */
void request_of(provider_request *rq, request_ctx *ctx, server *s,
                struct MHD_Connection *conn, request *r, const char *bot,
                const char *endpoint);
/* The answer a provider gave. */
enum MHD_Result answer(struct MHD_Connection *conn, const provider_answer *a);
/* A message to b on via's route (POST /twilio/BOT). */
enum MHD_Result provider_message_inbound(server *s, struct MHD_Connection *conn, request *r,
                                         const provider_registration *via, const char *b);
/* A delivery of several messages and reports to b on via's route (Meta's
 * webhooks): a batch of jobs, answered once all are durable. */
enum MHD_Result provider_delivery_inbound(server *s, struct MHD_Connection *conn, request *r,
                                          const provider_registration *via, const char *b);
/* GET on via's messages route: its subscription handshake. */
enum MHD_Result provider_verify(server *s, struct MHD_Connection *conn, request *r,
                                const provider_registration *via, const char *b);
/* A message on via's route without a bot: its To picks the bot. */
enum MHD_Result provider_routed_inbound(server *s, struct MHD_Connection *conn, request *r,
                                        const provider_registration *via, int get, int post);
/* A delivery report for b on via's route. */
enum MHD_Result provider_report_inbound(server *s, struct MHD_Connection *conn, request *r,
                                        const provider_registration *via, const char *b);
/* POST /v1/cluster/relay: a message another node relays here (its secret
 * in X-Parley-Relay, checked before the body), as a job of this node's, answered with its replies
 * and their ids once durable; 409 if this node does not hold it. */
enum MHD_Result relay_inbound(server *s, struct MHD_Connection *conn, request *r);
/* Its secret, checked from the headers: 0, or 1 answered (401; 404 on
 * one node alone). */
int relay_refused(server *s, struct MHD_Connection *conn, enum MHD_Result *rc);
/* POST /v1/bots/BOT/events, authenticated by the provider that takes the
 * events' credentials (provider_events_authentic). */
enum MHD_Result event_inbound(server *s, struct MHD_Connection *conn, request *r, char *b);
int event_refused_early(server *s, struct MHD_Connection *conn, const char *b,
                        enum MHD_Result *rc);
/* Before the body: credentials the headers show to be wrong or missing
 * (b: the bot in the path, or NULL when the To number picks it). 0 if the
 * body may still prove the request; else answered (401, 403), as the full
 * check would. */
int provider_refused_early(server *s, struct MHD_Connection *conn,
                           const provider_registration *via, const char *b,
                           const char *endpoint, enum MHD_Result *rc);
/* The peer's address as text ("127.0.0.1", "::1"), or "" if unknown. */
void remote_address(struct MHD_Connection *conn, char *out, size_t n);
/* A refused credential, logged as `rejected` with the remote address and
 * the endpoint (never the secret); reason: token, signature or missing. */
void log_rejected(struct MHD_Connection *conn, const char *provider, const char *reason,
                  const char *bot, const char *endpoint);
/* The answer of a job (the engine thread writes it; the HTTP thread sends
 * it once the batch is durable). body is taken. job_answer.c */
void job_answer(job *j, unsigned status, json_t *body);
void job_answer_error(job *j, unsigned status, const char *message);
/* A query parameter that is a whole number from lo to hi (digits only), or
 * def when absent: 0 with *out, -1 if it is something else. job_answer.c */
int job_query_number(const job *j, const char *name, long long lo, long long hi,
                     long long def, long long *out);

/* admin_request.c: the admin API's credentials (the admin token, or a
 * console session), checked from the headers: 0, or -1 with *rc answered;
 * and an admin request's job, queued once they pass (b: the bot, "" for
 * none; item taken). */
int admin_refused(server *s, struct MHD_Connection *conn, const char *b, const char *endpoint,
                  enum MHD_Result *rc);
enum MHD_Result admin_job(server *s, struct MHD_Connection *conn, request *r, const char *b,
                          enum job_kind kind, char *item);
/* The endpoint a job kind is asked at, as the log names it. */
const char *admin_endpoint(enum job_kind kind);
/* The console's session cookie, and the secret a request carries in it
 * (a copy), or NULL. */
#define CONSOLE_COOKIE "parley_session"
char *console_cookie(struct MHD_Connection *conn);

/* console.c: the console's pages and sessions (docs/console.md). */
/* GET /console...: its embedded files; 1 with *rc if url is one of its
 * paths (405 for another method), else 0. */
int console_page(struct MHD_Connection *conn, const char *url, const char *method,
                 enum MHD_Result *rc);
/* The console's own endpoints (/v1/console/session, /v1/bots, a bot's
 * conversations): 1 with *rc if url is one (queued as a job, or refused),
 * else 0. */
int console_route(server *s, struct MHD_Connection *conn, request *r, const char *url,
                  const char *method, enum MHD_Result *rc);
/* Before the body, for the console's endpoints: 1 with *rc answered (401)
 * if they need a session the request does not carry, else 0. */
int console_refused_early(struct MHD_Connection *conn, const char *url, const char *method,
                          enum MHD_Result *rc);
/* On the engine thread, before an admin job that came with a session runs:
 * 0 if the session is live, may see the job's bot and (for a change) the
 * job carried its CSRF token; else 1 with j answered (401, 403). */
int console_refused(server *s, job *j);
/* On the engine thread: a JOB_CONSOLE_ACTION (its session passed
 * console_refused) made the event of the console's reserved type it
 * stands for (handoff.c), to be handled as any event: 0; or 1 with j
 * answered (400: no text, no name). */
int console_action_event(job *j);
/* console_inbox.c: GET /v1/bots/BOT/conversations; console_numbers.c: GET
 * /v1/bots/BOT/stats. On the engine thread, for bot b. */
void console_inbox(server *s, job *j, struct bot *b);
void console_numbers(server *s, job *j, struct bot *b);
/* console_sim.c: POST /v1/bots/BOT/sim {"line"}: a line in the session's
 * simulator of bot b (made at its first line), answered with what it
 * showed; and every simulator freed (at the end). On the engine thread. */
void console_sim_run(server *s, job *j, struct bot *b);
void console_sims_free(void);
/* On the engine thread: the console's own jobs (those with a session
 * passed console_refused first). */
void console_run(server *s, job *j);

/* admin_api.c: a segment as the admin API takes it (a JSON object: fields,
 * ranges, tags, status, joined_*, seen_* in seconds; NULL: everyone) in
 * the store's form (times in ms; the caller frees it), or NULL with
 * *problem the sentence to answer 400 with. */
char *admin_segment(json_t *seg, const char **problem);

/* 1 if a PUT /v1/bots/BOT/script body of this Content-Type is a (maybe
 * compressed) tar archive, unpacked by the upload worker. */
int script_body_is_archive(const char *content_type);

/* forward.c: the inbox (see there). On the engine thread. */
/* The run's ticket prefix (before the server's threads start). */
void forward_init(server *s);
/* j (in: its inbound) goes to the inbox for the node holding its
 * conversation, under a new ticket. */
void forward_mark(server *s, job *j, inbound *in);
/* Its batch durable: 1 if j waits for its holder's replies (forward_poll
 * answers it), 0 to answer it now. */
int forward_wait(server *s, job *j);
/* An admin call writing a contact (JOB_CONTACT_UPDATE, JOB_CONTACT_ERASE,
 * j->item the number) of a conversation another node holds: 1 handed
 * over to it (forward_poll answers j with its answer), 0 this node holds
 * it (run it here), -1 answered (it could not be handed over). */
int forward_admin(server *s, job *j, bot *b);
/* Answers the waiting webhooks and admin calls whose replies or answer
 * came or whose deadline passed. */
void forward_poll(server *s);
/* The open inbox items of this node's partitions not taken yet, as jobs
 * (a list), oldest first. */
job *inbox_take(server *s);
/* j (an inbox item's job) is done with: durable, failed or dropped. */
void inbox_taken_done(server *s, job *j);
/* The job another node's item (an inbox item's, or a relayed message's
 * JSON) says, NULL if o is not one. */
job *forward_item_job(json_t *o);

/* Before collecting j, a message for a conversation another node holds
 * (in: its inbound): 1 if it went to that node's relay endpoint (its
 * outcome comes back as a JOB_RELAYED job), 0 to hand it over through the
 * inbox. */
int forward_relay(server *s, job *j, const inbound *in);
/* A JOB_RELAYED outcome d (the caller frees it): NULL if its webhook was
 * answered with the holder's replies, else the webhook's job, to go
 * through the inbox. */
job *forward_relayed(server *s, job *d);

/* relay.c: the thread sending relayed messages (see there). A batch of
 * them may be that large, whatever max_body says. */
enum { RELAY_BODY_MAX = 4 << 20 };
typedef struct relay relay;
/* deliver(s, outcome) takes each transfer's outcome (queue_job). */
relay *relay_start(server *s, const char *secret, void (*deliver)(server *s, job *j),
                   char *err, size_t errlen);
/* On the engine thread: sends message (taken) for j to the node at
 * address, in its next batch; the outcome comes as a JOB_RELAYED job for
 * j (to deliver) by wait_until_ns (mono) or soon after. The holder may
 * answer inline replies until reply_until_ns (0: none). */
void relay_send(relay *r, job *j, const char *address, json_t *message, int64_t reply_until_ns,
                int64_t wait_until_ns);
/* Messages whose outcome is not queued yet. */
int relay_busy(relay *r);
/* The batches sent (requests). */
long relay_batches(relay *r);
/* Waits for the transfers under way (their timeouts bound it), then stops. */
void relay_stop(relay *r);

/* upload_worker.c: the thread that unpacks archives sent as scripts. */
typedef struct upload_worker upload_worker;
/* ready(s, j) takes each job whose archive it unpacked (queue_job). */
upload_worker *upload_worker_start(server *s, void (*ready)(server *s, job *j), char *err,
                                   size_t errlen);
/* Unpacks j's body, then queues j for the engine (or answers it: 400, 413). */
void upload_worker_submit(upload_worker *w, job *j);
/* Finishes the archive in hand; those still waiting are answered 503. */
void upload_worker_stop(upload_worker *w);
void upload_worker_free(upload_worker *w);

/* media_fetch.c: the thread that fetches a channel's media from the Graph
 * API (GET /v1/bots/BOT/media/ID), one at a time. */
typedef struct media_fetcher media_fetcher;
media_fetcher *media_fetcher_start(char *err, size_t errlen);
/* Fetches the media j->item with token from api (the bot's settings,
 * copied), then answers j (200 with the file in j->body, its type in
 * j->content_type; or an error) and resumes its connection. */
void media_fetcher_submit(media_fetcher *m, job *j, const char *api, const char *token);
/* Finishes the fetch in hand; those still waiting are answered 503. */
void media_fetcher_stop(media_fetcher *m);
void media_fetcher_free(media_fetcher *m);

/* Runs an admin job (reload, rollback, metrics, contacts, broadcasts, ...)
 * on the engine thread, every batch before it committed (admin_api.c): 0
 * answered, 1 handed to another node (forward_admin: answered later). */
int admin_run(server *s, job *j);

/* link_visits.c: GET /l/CODE becomes a JOB_CLICK (http_server.c); on the engine thread
 * click_resolve finds its link and makes it the event that records it (0)
 * or answers it (1: 404, or sent on without one); respond_click sends the
 * visitor on. run_links, run_clicks: the admin API's. */
int click_resolve(server *s, job *j);
enum MHD_Result respond_click(struct MHD_Connection *conn, job *j);
void run_links(server *s, job *j, struct bot *b);
/* history_api.c: GET /v1/bots/BOT/contacts/NUMBER/transcript */
void run_transcript(server *s, job *j, struct bot *b);
void run_clicks(server *s, job *j, struct bot *b);

#endif
