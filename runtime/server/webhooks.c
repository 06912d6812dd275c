/* webhooks: what providers and a brand's backend post, read into jobs for
 * the engine. The providers' own requests (messages, delivery reports) are
 * read by their registrations (provider_registry.h): this file hands them
 * the request and makes the job; triggered events are read here. Each
 * checks its credentials first, then the body, and answers 4xx with a
 * sentence when either is wrong. */
#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "http_internal.h"
#include "log.h"

void remote_address(struct MHD_Connection *conn, char *out, size_t n) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  out[0] = 0;
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              (socklen_t)n);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              (socklen_t)n);
}

void log_rejected(struct MHD_Connection *conn, const char *provider, const char *reason,
                  const char *bot, const char *endpoint) {
  char remote[INET6_ADDRSTRLEN];
  remote_address(conn, remote, sizeof remote);
  log_event(LOG_WARN, "rejected", "provider", provider, "reason", reason, "bot",
            bot && *bot ? bot : NULL, "endpoint", endpoint, "remote", remote, NULL);
}

/* 0 if the body is declared JSON; else the request has been answered (415). */
/* A job for bot b (from and text are required; to and provider_id may be
 * NULL). */
static job *new_job(enum job_kind kind, const char *b, const char *from, const char *to,
                    const char *text, const char *provider_id) {
  job *j = xcalloc(1, sizeof *j);
  j->kind = kind;
  j->botname = xstrdup(b);
  j->from = xstrdup(from);
  j->to = strdup_or_null(to);
  j->text = xstrdup(text);
  j->provider_id = strdup_or_null(provider_id);
  return j;
}

/* A delivery report's job for bot b (rp's strings taken). */
static job *report_job(const char *b, provider_report *rp) {
  job *j = new_job(JOB_STATUS, b, "", NULL, "", rp->provider_id);
  j->dl_status = rp->status;
  j->dl_error = rp->error;
  j->dl = (delivery){.message_id = rp->message_id};
  rp->status = rp->error = NULL;
  return j;
}

/* ---------------------------------------------------------------- providers' requests */

/* A provider reads the request through these. */
static const char *ctx_header(void *c, const char *name) {
  return MHD_lookup_connection_value(((request_ctx *)c)->conn, MHD_HEADER_KIND, name);
}

static const char *ctx_query(void *c, const char *name) {
  return MHD_lookup_connection_value(((request_ctx *)c)->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *ctx_secret(void *c, const char *bot, const char *key) {
  server *s = ((request_ctx *)c)->s;
  return s->cfg.secret ? s->cfg.secret(bot, key) : NULL;
}

static void ctx_rejected(void *c, const char *who, const char *reason, const char *bot,
                         const char *endpoint) {
  log_rejected(((request_ctx *)c)->conn, who, reason, bot, endpoint);
}

void request_of(provider_request *rq, request_ctx *ctx, server *s,
                struct MHD_Connection *conn, request *r, const char *bot,
                const char *endpoint) {
  *ctx = (request_ctx){s, conn, xasprintf("%s%s", s->cfg.public_url, r ? r->raw_uri : "")};
  *rq = (provider_request){.bot = bot,
                           .endpoint = endpoint,
                           .url = ctx->url,
                           .body = r && r->body.data ? r->body.data : "",
                           .len = r ? r->body.len : 0,
                           .header = ctx_header,
                           .query = ctx_query,
                           .secret = ctx_secret,
                           .rejected = ctx_rejected,
                           .ctx = ctx};
}

enum MHD_Result answer(struct MHD_Connection *conn, const provider_answer *a) {
  if (!a->error) return respond(conn, a->status, "text/plain", "");
  return respond_error(conn, a->status, a->error);
}

int provider_refused_early(server *s, struct MHD_Connection *conn,
                           const provider_registration *via, const char *b,
                           const char *endpoint, enum MHD_Result *rc) {
  if (!via->refused_early) return 0;
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  request_of(&rq, &ctx, s, conn, NULL, b, endpoint);
  int refused = via->refused_early(&rq, &a);
  free(ctx.url);
  if (refused) *rc = answer(conn, &a);
  return refused;
}

enum MHD_Result provider_message_inbound(server *s, struct MHD_Connection *conn, request *r,
                                         const provider_registration *via, const char *b) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  provider_message m = {0};
  request_of(&rq, &ctx, s, conn, r, b, "messages");
  int refused = via->read_message(&rq, &m, &a);
  free(ctx.url);
  if (refused) {
    provider_message_free(&m);
    return answer(conn, &a);
  }
  job *j = new_job(JOB_MESSAGE, b, m.from, m.to, m.text, m.provider_id);
  j->via = via;
  j->media_json = m.media_json;
  m.media_json = NULL;
  provider_message_free(&m);
  return start_job(s, conn, r, j);
}

enum MHD_Result provider_report_inbound(server *s, struct MHD_Connection *conn, request *r,
                                        const provider_registration *via, const char *b) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  provider_report rp = {0};
  request_of(&rq, &ctx, s, conn, r, b, "status");
  int refused = via->read_report(&rq, &rp, &a);
  free(ctx.url);
  if (refused) {
    provider_report_free(&rp);
    return answer(conn, &a);
  }
  job *j = report_job(b, &rp);
  provider_report_free(&rp);
  return start_job(s, conn, r, j);
}

enum MHD_Result provider_delivery_inbound(server *s, struct MHD_Connection *conn, request *r,
                                          const provider_registration *via, const char *b) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  provider_delivery d = {0};
  request_of(&rq, &ctx, s, conn, r, b, "messages");
  int refused = via->read_delivery(&rq, &d, &a);
  free(ctx.url);
  if (refused) {
    provider_delivery_free(&d);
    return answer(conn, &a);
  }
  if (!d.nmessages && !d.nreports) /* nothing for the engine (another number's, say) */
    return respond(conn, 200, "application/json", "{\"status\":\"accepted\"}");
  job *batch = xcalloc(1, sizeof *batch);
  batch->kind = JOB_MESSAGE;
  batch->via = via; /* answered as a delivery (http_server.c) */
  batch->nbatch = d.nmessages + d.nreports;
  batch->batch = xcalloc(batch->nbatch ? batch->nbatch : 1, sizeof *batch->batch);
  size_t n = 0;
  for (size_t i = 0; i < d.nmessages; i++) {
    provider_message *m = &d.messages[i];
    job *j = new_job(JOB_MESSAGE, b, m->from, m->to, m->text, m->provider_id);
    j->via = via;
    j->media_json = m->media_json;
    m->media_json = NULL;
    batch->batch[n++] = j;
  }
  for (size_t i = 0; i < d.nreports; i++)
    batch->batch[n++] = report_job(b, &d.reports[i]);
  provider_delivery_free(&d);
  return start_batch(s, conn, r, batch);
}

enum MHD_Result provider_verify(server *s, struct MHD_Connection *conn, request *r,
                                const provider_registration *via, const char *b) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  char *body = NULL;
  request_of(&rq, &ctx, s, conn, r, b, "verify");
  via->verify(&rq, &a, &body);
  free(ctx.url);
  enum MHD_Result rc = body ? respond(conn, a.status, "text/plain", body) : answer(conn, &a);
  free(body);
  return rc;
}

/* A routed webhook whose To no bot serves: 404 only to a caller with the
 * server's credentials, so nobody else can probe which numbers are served;
 * 401/403 otherwise. */
static enum MHD_Result unrouted_inbound(server *s, struct MHD_Connection *conn, request *r,
                                        const provider_registration *via, const char *to) {
  const char *why = to ? "no bot serves this To number (bot.config{numbers = ...})"
                       : "To is required to find the bot (or name it in the path)";
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  request_of(&rq, &ctx, s, conn, r, "", "messages");
  int refused = via->check_unrouted(&rq, &a);
  free(ctx.url);
  if (refused) return answer(conn, &a);
  return respond_error(conn, 404, why);
}

enum MHD_Result provider_routed_inbound(server *s, struct MHD_Connection *conn, request *r,
                                        const provider_registration *via, int get, int post) {
  if (!post && !(via->takes_get && get))
    return respond_error(conn, 405, via->takes_get ? "use GET or POST" : "use POST");
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  char *to = NULL;
  request_of(&rq, &ctx, s, conn, r, NULL, "messages");
  int refused = via->read_to(&rq, &to, &a);
  free(ctx.url);
  if (refused) return answer(conn, &a);
  char *b = route_of(s, to);
  enum MHD_Result rc = b ? provider_message_inbound(s, conn, r, via, b)
                         : unrouted_inbound(s, conn, r, via, to);
  free(to);
  free(b);
  return rc;
}

/* POST /v1/bots/BOT/events {"type": "order.paid", "contact": "+1555...",
 * "data": {...}}: bot.on_event in that contact's conversation. Its
 * credentials are checked by the provider that takes them
 * (provider_events_authentic). */
enum MHD_Result event_inbound(server *s, struct MHD_Connection *conn, request *r,
                                     char *b) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  request_of(&rq, &ctx, s, conn, r, b, "events");
  int refused = provider_events_authentic(&rq, &a);
  free(ctx.url);
  if (refused) return answer(conn, &a);
  json_error_t jerr;
  json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
  json_t *type = json_object_get(o, "type"), *contact = json_object_get(o, "contact");
  json_t *data = json_object_get(o, "data");
  if (!json_is_object(o) || !json_is_string(type) || !json_is_string(contact) ||
      !inbound_sender_ok(json_string_value(contact)) || (data && !json_is_object(data))) {
    json_decref(o);
    return respond_error(conn, 400, "the body must be JSON like {\"type\":\"order.paid\","
                                    "\"contact\":\"+15550001\",\"data\":{...}}");
  }
  char *dumped = data ? json_dumps(data, JSON_COMPACT) : NULL;
  char problem[512], *event_data = NULL;
  int bad = engine_event_check(json_string_value(type), dumped, &event_data, problem,
                               sizeof problem);
  free(dumped);
  if (bad) {
    json_decref(o);
    return respond_error(conn, 400, problem);
  }
  job *j = new_job(JOB_EVENT, b, json_string_value(contact), NULL, "", NULL);
  j->event_type = xstrdup(json_string_value(type));
  j->event_data = event_data;
  json_decref(o);
  return start_job(s, conn, r, j);
}


int event_refused_early(server *s, struct MHD_Connection *conn, const char *b,
                        enum MHD_Result *rc) {
  request_ctx ctx;
  provider_request rq;
  provider_answer a;
  request_of(&rq, &ctx, s, conn, NULL, b, "events");
  int refused = provider_events_refused_early(&rq, &a);
  free(ctx.url);
  if (refused) *rc = answer(conn, &a);
  return refused;
}

/* ---------------------------------------------------------------- relayed messages */

int relay_refused(server *s, struct MHD_Connection *conn, enum MHD_Result *rc) {
  if (!s->cfg.nodes) {
    *rc = respond_error(conn, 404, "no such endpoint (one node alone)");
    return 1;
  }
  const char *shown = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Parley-Relay");
  const char *secret = cluster_secret(s->cfg.nodes);
  size_t n = strlen(secret);
  if (shown && strlen(shown) == n && CRYPTO_memcmp(shown, secret, n) == 0) return 0;
  log_rejected(conn, "relay", shown ? "token" : "missing", NULL, "relay");
  *rc = respond_error(conn, 401, "a relay shows the cluster's secret in X-Parley-Relay");
  return 1;
}

/* One relayed message's job (j->done with a 400 if m is not a message). */
static job *relayed_job(json_t *m) {
  int message = json_is_object(m) && !json_object_get(m, "admin") &&
                !json_object_get(m, "delivery") && !json_object_get(m, "event_type");
  job *j = message ? forward_item_job(m) : NULL;
  if (!j) {
    j = xcalloc(1, sizeof *j);
    j->botname = xstrdup("");
    job_answer_error(j, 400, "a relayed message is a JSON object with bot, from and text");
    atomic_store(&j->done, 1);
    return j;
  }
  j->from_relay = 1;
  json_int_t inline_max = json_integer_value(json_object_get(m, "inline_max"));
  json_int_t reply_ms = json_integer_value(json_object_get(m, "reply_ms"));
  if (inline_max > 0 && reply_ms > 0) { /* as the node that took it says (10 min at most) */
    j->inbox_inline = inline_max > INT_MAX ? INT_MAX : (int)inline_max;
    j->inbox_until_ns = mono_ns() + (reply_ms < 600000 ? reply_ms : 600000) * 1000000;
  }
  return j;
}

enum MHD_Result relay_inbound(server *s, struct MHD_Connection *conn, request *r) {
  /* its secret was checked from the headers (relay_refused) */
  json_t *o = r->body.data ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
  json_t *messages = json_object_get(o, "messages");
  size_t n = json_array_size(messages);
  if (!n) {
    json_decref(o);
    return respond_error(conn, 400, "a relay is a JSON object {\"messages\": [...]} with one "
                                    "message or more");
  }
  job *batch = xcalloc(1, sizeof *batch);
  batch->kind = JOB_MESSAGE;
  batch->botname = xstrdup("");
  batch->from_relay = 1;
  batch->batch = xcalloc(n, sizeof *batch->batch);
  batch->nbatch = n;
  for (size_t i = 0; i < n; i++) batch->batch[i] = relayed_job(json_array_get(messages, i));
  json_decref(o);
  return start_batch(s, conn, r, batch);
}
