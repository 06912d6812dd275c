/* http_server: parley's HTTP side (libmicrohttpd).
 *
 * Connections are served on libmicrohttpd's own thread; every request that
 * needs the engine becomes a job on a queue and its connection is suspended.
 * The engine thread (the caller of server_run) takes the queued jobs as one
 * batch, hands it to the engine, and once the batch is durable answers each
 * job and resumes its connection: an inbound message is acknowledged only
 * after it is committed, and many concurrent requests share one commit. */
#ifndef PARLEY_HTTP_SERVER_H
#define PARLEY_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "util.h"

typedef struct server_config {
  const char *host;        /* listen address, default 127.0.0.1 */
  int port;                /* default 8080 */
  const char *public_url;  /* how providers reach us (the URL they sign) */
  const char *admin_token;       /* secret: bearer token of the admin API */
  int64_t console_session_ms;    /* how long a sign-in to the console lasts */
  size_t max_body;         /* bytes, default 64 KiB */
  /* So that one client cannot starve the others (http_limits.h); 0: the
   * default. */
  unsigned max_connections;             /* default 1000; past it: 503 */
  unsigned max_connections_per_address; /* default 128; past it: closed */
  int64_t request_deadline_ms;          /* default 10000 */
  size_t max_body_memory;               /* default 64 MiB */
  /* A secret setting the providers check requests with (the key of one
   * of their settings, provider_registry.h): the bot's own if it has one,
   * else the server-wide one; NULL: none. */
  const char *(*secret)(const char *bot, const char *key);
  /* 0 if the bot's replies must not go back in a webhook's answer (they go
   * through its provider); NULL: they do. */
  int (*inline_replies)(const char *bot);
  /* how many real messages a new version of the bot is replayed on before
   * it is activated (deploy.h); NULL or 0: none */
  long (*replay)(const char *bot);
  /* A webhook whose handler starts later than this after the request came
   * in is answered without its replies, which go through the provider
   * (providers time out webhooks: Twilio after 15 s); 0: no deadline. */
  int64_t reply_deadline_ms;
  /* On PostgreSQL, this node's membership (cluster.h): its partitions
   * change hands between batches, messages for conversations other nodes
   * hold go to the inbox, /healthz says what it holds. NULL: alone. */
  struct cluster *nodes;
  /* Lines appended to /metrics (on the engine thread), or NULL. */
  void (*more_metrics)(void *ud, buf *out);
  void *metrics_ud;
} server_config;

typedef struct server server;

/* Starts listening; NULL with a sentence in err (address in use, ...). */
server *server_start(const server_config *cfg, engine *e, char *err, size_t errlen);
/* Serves until server_stop is called (from a signal handler: it only sets a
 * flag), then finishes the jobs in hand and returns. Runs due timers about
 * every 100 ms. */
int server_run(server *s);
void server_stop(server *s);
/* The cluster has news (cluster_on_inbox): an item added wakes the engine
 * thread; one done that a webhook of this run waits for (payload: its
 * ticket's prefix) is counted for forward_poll too; contacts written
 * behind the caches make the engine forget the contacts it cached. Any
 * thread. */
void server_inbox_news(void *s, int kind, const char *payload);
/* After server_run: handles what comes in meanwhile (requests on open
 * connections, the sender's reports), waiting up to wait_ms for it. */
void server_pump(server *s, int wait_ms);
/* The end: new requests are refused (503) and the jobs queued are
 * answered; server_free may follow. */
void server_finish(server *s);
/* A delivery report from the sender (any thread): handled with the next
 * batch, like a provider's. */
void server_report_delivery(server *s, const char *bot, const delivery *d);
/* The answer to a waiting handler's request (any thread): the handler
 * resumes with the next batch. */
void server_report_http(server *s, uint64_t id, const engine_http_result *r);
/* --watch: reload the bot in dir when its .lua files change. */
void server_watch(server *s, const char *dir);
void server_free(server *s);

#endif
