#include "http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <time.h>

#include "deploy.h"
#include "feed.h"
#include "http_limits.h"
#include "log.h"
#include "script.h"
#include "form.h"
#include "util.h"
#include "cluster.h"
#include "store_cluster.h"
#include "http_internal.h"



/* ---------------------------------------------------------------- responses */

/* 503 with Retry-After, closing the connection: the server is too busy
 * for this request now (a client should retry). */
static enum MHD_Result respond_busy(struct MHD_Connection *conn, const char *message) {
  json_t *o = json_pack("{s:s}", "error", message);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  MHD_add_response_header(r, "Retry-After", "1");
  MHD_add_response_header(r, "Connection", "close");
  enum MHD_Result rc = MHD_queue_response(conn, 503, r);
  MHD_destroy_response(r);
  return rc;
}

/* A batch of relayed messages: {"results": [...]}, one a message in
 * order: its replies and their ids (for the relaying node to answer the
 * provider with), or its status and error. */
static enum MHD_Result respond_batch(struct MHD_Connection *conn, job *batch) {
  json_t *results = json_array();
  for (size_t i = 0; i < batch->nbatch; i++) {
    job *j = batch->batch[i];
    json_t *one;
    if (j->failed || j->http_status) {
      json_t *said = j->failed ? NULL : json_loads(j->http_body ? j->http_body : "", 0, NULL);
      const char *error = json_string_value(json_object_get(said, "error"));
      one = json_pack("{s:i, s:s}", "status", j->failed ? 503 : (int)j->http_status, "error",
                      j->failed ? "the store failed; retry later" : error ? error : "");
      json_decref(said);
    } else {
      json_t *texts = json_array(), *ids = json_array();
      for (size_t k = 0; k < j->nreplies; k++) json_array_append_new(texts, json_string(j->replies[k]));
      for (size_t k = 0; k < j->nreply_ids; k++)
        json_array_append_new(ids, json_integer((json_int_t)j->reply_ids[k]));
      one = json_pack("{s:o, s:o}", "replies", texts, "reply_ids", ids);
    }
    json_array_append_new(results, one);
  }
  json_t *o = json_pack("{s:o}", "results", results);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  enum MHD_Result rc = respond(conn, 200, "application/json", body);
  free(body);
  return rc;
}

/* A provider's delivery of several messages and reports (Meta's): 200 once
 * each is durable, so the provider does not post it again; 503 if one
 * could not be stored (the provider retries, and what was stored is
 * known by its id). */
static enum MHD_Result respond_delivery(struct MHD_Connection *conn, job *batch) {
  for (size_t i = 0; i < batch->nbatch; i++) {
    job *j = batch->batch[i];
    if (j->failed) return respond_error(conn, 503, "the store failed; retry later");
    if (j->http_status == 404) /* no such bot: said, not swallowed */
      return respond(conn, 404, "application/json", j->http_body);
  }
  return respond(conn, 200, "application/json", "{\"status\":\"accepted\"}");
}

/* 1 for the types a browser shows without running anything: images but
 * SVG, audio, video. */
static int media_shown_inline(const char *type) {
  return (strncmp(type, "image/", 6) == 0 && strncmp(type, "image/svg", 9) != 0) ||
         strncmp(type, "audio/", 6) == 0 || strncmp(type, "video/", 6) == 0;
}

static enum MHD_Result respond_job(server *s, struct MHD_Connection *conn, job *j) {
  if (j->click_url) return respond_click(conn, j); /* recorded or not: sent on */
  if (j->nbatch) return j->via ? respond_delivery(conn, j) : respond_batch(conn, j);
  if (j->feed_open) { /* the console's live changes, until the stream ends */
    struct MHD_Response *r = feed_stream(s->feed, conn, j->feed_bots, j->feed_until_ms);
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
  }
  if (j->set_cookie) { /* the console's sign-in and sign-out */
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(j->http_body), j->http_body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Set-Cookie", j->set_cookie);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, j->http_status, r);
    MHD_destroy_response(r);
    return rc;
  }
  if (j->failed) return respond_error(conn, 503, "the store failed; retry later");
  if (j->kind == JOB_MEDIA && j->http_status == 200) { /* the file, as Meta gave it */
    struct MHD_Response *r = MHD_create_response_from_buffer(
        j->body.len, j->body.data ? j->body.data : "", MHD_RESPMEM_MUST_COPY);
    /* a fan's file, typed by the fan's phone: never a page of ours (no
     * script, no plugin), and downloaded unless a plain picture, sound or
     * video (SVG is a document, with script) */
    MHD_add_response_header(r, "Content-Type", j->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
    MHD_add_response_header(r, "Cache-Control", "private, max-age=300");
    if (!media_shown_inline(j->content_type))
      MHD_add_response_header(r, "Content-Disposition", "attachment");
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
  }
  if (j->http_status)
    return respond(conn, j->http_status,
                   j->kind == JOB_METRICS || j->kind == JOB_CONSENT_CSV ||
                           j->kind == JOB_TRANSCRIPT ||
                           j->kind == JOB_CONTACTS_CSV
                       ? j->content_type
                       : "application/json",
                   j->http_body);
  if (j->kind == JOB_MESSAGE) { /* the provider's answer, carrying the inline replies */
    provider_reply out = {0};
    j->via->reply((const char *const *)j->replies, j->nreplies, &out);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(out.body), out.body, MHD_RESPMEM_MUST_COPY);
    free(out.body);
    MHD_add_response_header(r, "Content-Type", out.content_type);
    if (out.header_name) MHD_add_response_header(r, out.header_name, out.header_value);
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
  }
  if (j->kind == JOB_STATUS) return respond(conn, 200, "application/json", "{\"status\":\"accepted\"}");
  if (j->kind == JOB_EVENT && j->event_status) { /* 422: see docs/serve.md (events) */
    json_t *o = json_pack("{s:s,s:s}", "status", j->event_status, "error", j->event_error);
    char *body = json_dumps(o, JSON_COMPACT);
    enum MHD_Result rc = respond(conn, 422, "application/json", body);
    free(body);
    json_decref(o);
    return rc;
  }
  json_t *replies = json_array();
  for (size_t i = 0; i < j->nreplies; i++)
    json_array_append_new(replies, json_string(j->replies[i]));
  json_t *o = json_pack("{s:s,s:o}", "status", "accepted",
                        j->kind == JOB_EVENT ? "sent" : "replies", replies);
  char *body = json_dumps(o, JSON_COMPACT);
  enum MHD_Result rc = respond(conn, 200, "application/json", body);
  free(body);
  json_decref(o);
  return rc;
}

/* ---------------------------------------------------------------- routing */

/* "/twilio/fanclub" with prefix "/twilio/" -> "fanclub" (a copy), or NULL. */
static char *bot_in_path(server *s, const char *url, const char *prefix,
                         const char *suffix) {
  (void)s;
  size_t n = strlen(prefix);
  if (strncmp(url, prefix, n) != 0) return NULL;
  const char *name = url + n;
  size_t len = strlen(name), sl = suffix ? strlen(suffix) : 0;
  if (sl) {
    if (len < sl || strcmp(name + len - sl, suffix) != 0) return NULL;
    len -= sl;
  }
  if (len == 0 || len > 64) return NULL;
  for (size_t i = 0; i < len; i++)
    if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-')) return NULL;
  return xstrndup(name, len);
}


/* /v1/bots/BOT/contacts[/NUMBER[/messages]], /v1/bots/BOT/broadcasts/ID,
 * /v1/bots/BOT/consent.csv: the bot's name, the kind and the item. */
static int admin_read_path(const char *url, char **bot, enum job_kind *kind, char **item) {
  const char *p = url + strlen("/v1/bots/");
  if (strncmp(url, "/v1/bots/", 9) != 0) return 0;
  const char *slash = strchr(p, '/');
  if (!slash || slash == p || slash - p > 64) return 0;
  const char *rest = slash + 1;
  if (strcmp(rest, "contacts") == 0) {
    *kind = JOB_CONTACTS;
  } else if (strcmp(rest, "links") == 0) {
    *kind = JOB_LINKS;
  } else if (strcmp(rest, "clicks") == 0) {
    *kind = JOB_CLICKS;
  } else if (strcmp(rest, "contacts/import") == 0) { /* the endpoint, not a contact */
    *kind = JOB_CONTACTS_IMPORT;
  } else if (strcmp(rest, "contacts.csv") == 0) {
    *kind = JOB_CONTACTS_CSV;
  } else if (strcmp(rest, "consent.csv") == 0) {
    *kind = JOB_CONSENT_CSV;
  } else if (strncmp(rest, "contacts/", 9) == 0) {
    const char *num = rest + 9, *end = strchr(num, '/');
    if (end && strcmp(end, "/messages") != 0 && strcmp(end, "/transcript") != 0) return 0;
    *kind = !end ? JOB_CONTACT : strcmp(end, "/messages") == 0 ? JOB_CONTACT_MESSAGES
                                                               : JOB_TRANSCRIPT;
    *item = xstrndup(num, end ? (size_t)(end - num) : strlen(num));
  } else if (strncmp(rest, "media/", 6) == 0 && rest[6] && strlen(rest + 6) <= 64 &&
             strspn(rest + 6, "0123456789") == strlen(rest + 6)) { /* Meta's media ids */
    *kind = JOB_MEDIA;
    *item = xstrdup(rest + 6);
  } else if (strncmp(rest, "broadcasts/", 11) == 0 && strspn(rest + 11, "0123456789") ==
                                                          strlen(rest + 11) && rest[11]) {
    *kind = JOB_BROADCAST;
    *item = xstrdup(rest + 11);
  } else {
    return 0;
  }
  *bot = xstrndup(p, (size_t)(slash - p));
  return 1;
}

/* Which provider's route url is: PATH_UNROUTED (/twilio: the To number
 * picks the bot), PATH_REPORTS or PATH_MESSAGES with *b the bot in it (the
 * caller frees), or PATH_NONE. */
enum provider_path { PATH_NONE, PATH_UNROUTED, PATH_REPORTS, PATH_MESSAGES };
static enum provider_path provider_path_of(const char *url, const provider_registration **via,
                                           char **b) {
  const provider_registration *const *all = provider_registrations;
  for (size_t i = 0; all[i]; i++)
    if (all[i]->unrouted && strcmp(url, all[i]->unrouted) == 0) {
      *via = all[i];
      return PATH_UNROUTED;
    }
  for (size_t i = 0; all[i]; i++)
    if ((*b = provider_route_bot(&all[i]->reports, url))) {
      *via = all[i];
      return PATH_REPORTS;
    }
  for (size_t i = 0; all[i]; i++)
    if ((*b = provider_route_bot(&all[i]->messages, url))) {
      *via = all[i];
      return PATH_MESSAGES;
    }
  return PATH_NONE;
}

/* The credentials the endpoint of url takes, checked from the headers
 * (only for a method the endpoint serves; the others are answered after
 * the body, 404 or 405). 1 with the request answered if they are wrong or
 * missing. */
static int credentials_refused(server *s, struct MHD_Connection *conn, const char *url,
                               const char *method, enum MHD_Result *rc) {
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  int put = strcmp(method, "PUT") == 0, patch = strcmp(method, "PATCH") == 0;
  int del = strcmp(method, "DELETE") == 0;
  char *b = NULL, *item = NULL;
  enum job_kind kind;
  int refused = 0;
  const provider_registration *via = NULL;
  enum provider_path path = provider_path_of(url, &via, &b);
  if (path != PATH_NONE) {
    /* the others: 405 after the body; a handshake proves itself (verify) */
    if (post || (get && via->takes_get && !via->verify))
      refused = provider_refused_early(s, conn, via, b,
                                       path == PATH_REPORTS ? "status" : "messages", rc);
  }
  else if (post && (b = bot_in_path(s, url, "/v1/bots/", "/events")))
    refused = event_refused_early(s, conn, b, rc);
  else if (post && strcmp(url, "/v1/cluster/relay") == 0)
    refused = relay_refused(s, conn, rc);
  else if (put && (b = bot_in_path(s, url, "/v1/bots/", "/script")))
    refused = admin_refused(s, conn, b, "script", rc);
  else if (get && (b = bot_in_path(s, url, "/v1/bots/", "/versions")))
    refused = admin_refused(s, conn, b, "versions", rc);
  else if ((post || get) && (b = bot_in_path(s, url, "/v1/bots/", "/broadcasts")))
    refused = admin_refused(s, conn, b, "broadcasts", rc);
  else if (post && (b = bot_in_path(s, url, "/v1/bots/", "/rollback")))
    refused = admin_refused(s, conn, b, "rollback", rc);
  else if (admin_read_path(url, &b, &kind, &item) &&
           ((get && kind != JOB_CONTACTS_IMPORT) || (post && kind == JOB_CONTACTS_IMPORT) ||
            (patch && kind == JOB_CONTACT) ||
            (del && (kind == JOB_CONTACT || kind == JOB_BROADCAST))))
    refused = admin_refused(s, conn, b, admin_endpoint(kind), rc);
  free(b);
  free(item);
  return refused;
}

/* Libmicrohttpd's first call, with the headers only: a connection accepted
 * past max_connections is answered 503; wrong or missing credentials that
 * the headers show, or a body the memory for bodies in flight cannot hold
 * (503), are answered before any body byte is read. A declared body over
 * max_body is read without being kept. 1 with *rc when answered. */
static int answered_before_body(server *s, struct MHD_Connection *conn, request *r,
                                const char *url, const char *method, enum MHD_Result *rc) {
  if (http_limits_over(conn)) {
    http_limits_refused(s->limits, REFUSED_FULL);
    *rc = respond_busy(conn, "the server has too many connections open (max_connections); "
                             "retry later");
    return 1;
  }
  if (credentials_refused(s, conn, url, method, rc) ||
      console_refused_early(conn, url, method, rc))
    return 1;
  if (s->cfg.nodes /* a batch of relayed messages */ && strcmp(url, "/v1/cluster/relay") == 0 && r->max_body < RELAY_BODY_MAX)
    r->max_body = RELAY_BODY_MAX;
  const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
  const char *chunked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
  char *end = NULL;
  unsigned long long n = length && !chunked ? strtoull(length, &end, 10) : 0;
  if (!n || *end) return 0; /* no body, or one whose size is not said */
  if (n > r->max_body) { /* read and dropped: 413 once it is in (a client that */
    r->too_large = 1;          /* sends its body before reading gets the answer) */
    return 0;
  }
  if (http_limits_take_body(s->limits, (size_t)n + 1)) {
    http_limits_refused(s->limits, REFUSED_BODY_MEMORY);
    *rc = respond_busy(conn, "too many request bodies are in flight (max_body_memory); "
                             "retry later");
    return 1;
  }
  r->body_held = (size_t)n + 1;
  r->body.data = xmalloc(r->body_held);
  r->body.cap = r->body_held;
  r->body.data[0] = 0;
  return 0;
}

/* Adds a piece of the body, within max_body and the memory for bodies in
 * flight (what passes either is dropped: answered 413 or 503 at the end). */
static void keep_body(server *s, request *r, const char *data, size_t n) {
  if (r->too_large || r->no_memory) return;
  if (r->body.len + n > r->max_body) {
    r->too_large = 1;
    return;
  }
  size_t need = r->body.len + n + 1;
  if (need > r->body.cap) { /* a body of unsaid size (chunked) grows */
    size_t cap = r->body.cap * 2 > need ? r->body.cap * 2 : need;
    if (cap < 4096) cap = 4096;
    if (cap > r->max_body + 1) cap = r->max_body + 1;
    if (http_limits_take_body(s->limits, cap - r->body_held)) {
      http_limits_refused(s->limits, REFUSED_BODY_MEMORY);
      r->no_memory = 1;
      buf_free(&r->body);
      http_limits_give_body(s->limits, r->body_held);
      r->body_held = 0;
      return;
    }
    r->body.data = xrealloc(r->body.data, cap);
    r->body.cap = r->body_held = cap;
  }
  memcpy(r->body.data + r->body.len, data, n);
  r->body.len += n;
  r->body.data[r->body.len] = 0;
}

/* What is wrong with a request's URL as the client sent it, or 0: its path
 * and query are refused as a form body is (form.h, form_decode): a NUL
 * byte (%00: libmicrohttpd's decoded strings would end there, so
 * "/twilio/echo%00x" would route to echo and "from=%2B1555%00x" read as
 * "+1555"), a '%' without two hex digits, text that is not UTF-8. */
static int url_problem(const char *raw_uri, char *out, size_t n) {
  const char *q = strchr(raw_uri, '?');
  size_t plen = q ? (size_t)(q - raw_uri) : strlen(raw_uri);
  char err[200] = "";
  if (form_check(raw_uri, plen, 1, err, sizeof err)) { /* the path: one field */
    snprintf(out, n, "the URL's path is refused: %s", err);
    return -1;
  }
  if (q && form_check(q + 1, strlen(q + 1), 0, err, sizeof err)) {
    snprintf(out, n, "the URL's query is refused: %s", err);
    return -1;
  }
  return 0;
}

/* GET /l/CODE: a visit to a short link (link_visits.c), as a JOB_CLICK. */
static enum MHD_Result click_inbound(server *s, struct MHD_Connection *conn, request *r,
                              const char *code, const char *method) {
  int head = strcmp(method, "HEAD") == 0;
  if (!head && strcmp(method, "GET") != 0) return respond_error(conn, 405, "use GET");
  job *j = xcalloc(1, sizeof *j);
  j->kind = JOB_CLICK;
  j->botname = xstrdup("");
  j->from = xstrdup("");
  j->item = xstrdup(code);
  const char *agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
  j->text = xstrdup(agent ? agent : "");
  j->click_head = head;
  return start_job(s, conn, r, j);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  server *s = cls;
  request *r = *con_cls;
  if (!r) return MHD_NO; /* set by the URI callback */
  if (!r->started) { /* headers only: the body (if any) comes next */
    r->started = 1;
    enum MHD_Result rc;
    if (answered_before_body(s, conn, r, url, method, &rc)) return rc;
    return MHD_YES;
  }
  if (*upload_size) {
    keep_body(s, r, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->job) { /* resumed: the engine has answered */
    return respond_job(s, conn, r->job);
  }
  http_limits_arrived(s->limits, conn); /* the whole request is in */
  if (r->too_large) return respond_error(conn, 413, "the body is too large");
  if (r->no_memory)
    return respond_busy(conn, "too many request bodies are in flight (max_body_memory); "
                              "retry later");
  char problem[256];
  if (url_problem(r->raw_uri, problem, sizeof problem))
    return respond_error(conn, 400, problem);
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  enum MHD_Result rc = MHD_NO;
  if (console_page(conn, url, method, &rc) || console_route(s, conn, r, url, method, &rc))
    return rc;
  if (strncmp(url, "/l/", 3) == 0) /* a short link (link_visits.c) */
    return click_inbound(s, conn, r, url + 3, method);
  if (strcmp(url, "/healthz") == 0) { /* HEAD: the same answer, which MHD sends without a body */
    if (!get && strcmp(method, "HEAD") != 0) return respond_error(conn, 405, "use GET");
    if (!s->cfg.nodes) return respond(conn, 200, "text/plain", "ok\n");
    int ok = 1;
    char *body = cluster_health_json(s->cfg.nodes, &ok);
    enum MHD_Result rc = respond(conn, ok ? 200 : 503, "application/json", body);
    free(body);
    return rc;
  }
  if (strcmp(url, "/metrics") == 0) {
    if (!get) return respond_error(conn, 405, "use GET");
    job *j = xcalloc(1, sizeof *j);
    j->kind = JOB_METRICS;
    j->from = xstrdup("");
    j->text = xstrdup("");
    return start_job(s, conn, r, j);
  }
  if (strcmp(url, "/v1/cluster/relay") == 0)
    return post ? relay_inbound(s, conn, r) : respond_error(conn, 405, "use POST");
  const provider_registration *via = NULL;
  char *b = NULL;
  enum provider_path path = provider_path_of(url, &via, &b);
  if (path == PATH_UNROUTED) return provider_routed_inbound(s, conn, r, via, get, post);
  int matched = 1;
  int put = strcmp(method, "PUT") == 0;
  const char *methods = via && via->takes_get ? "use GET or POST" : "use POST";
  int allowed = post || (get && via && via->takes_get);
  if (path == PATH_REPORTS)
    rc = allowed ? provider_report_inbound(s, conn, r, via, b) : respond_error(conn, 405, methods);
  else if (path == PATH_MESSAGES && get && via->verify)
    rc = provider_verify(s, conn, r, via, b);
  else if (path == PATH_MESSAGES && post && via->read_delivery)
    rc = provider_delivery_inbound(s, conn, r, via, b);
  else if (path == PATH_MESSAGES)
    rc = allowed ? provider_message_inbound(s, conn, r, via, b)
                 : respond_error(conn, 405, methods);
  else if ((b = bot_in_path(s, url, "/v1/bots/", "/events")))
    rc = post ? event_inbound(s, conn, r, b) : respond_error(conn, 405, "use POST");
  else if ((b = bot_in_path(s, url, "/v1/bots/", "/script")))
    rc = put ? admin_job(s, conn, r, b, JOB_RELOAD, NULL) : respond_error(conn, 405, "use PUT");
  else if ((b = bot_in_path(s, url, "/v1/bots/", "/versions")))
    rc = get ? admin_job(s, conn, r, b, JOB_VERSIONS, NULL) : respond_error(conn, 405, "use GET");
  else if ((b = bot_in_path(s, url, "/v1/bots/", "/broadcasts")))
    rc = post  ? admin_job(s, conn, r, b, JOB_BROADCAST_CREATE, NULL)
         : get ? admin_job(s, conn, r, b, JOB_BROADCASTS, NULL)
               : respond_error(conn, 405, "use POST to create one, GET to list them");
  else if ((b = bot_in_path(s, url, "/v1/bots/", "/rollback")))
    rc = post ? admin_job(s, conn, r, b, JOB_ROLLBACK, NULL) : respond_error(conn, 405, "use POST");
  else
    matched = 0;
  free(b);
  if (matched) return rc;
  char *name = NULL, *item = NULL;
  enum job_kind kind;
  if (admin_read_path(url, &name, &kind, &item)) {
    int patch = strcmp(method, "PATCH") == 0;
    if (kind == JOB_CONTACTS_IMPORT) {
      rc = post ? admin_job(s, conn, r, name, kind, item) : respond_error(conn, 405, "use POST");
      if (!post) free(item);
    } else if (get) {
      rc = admin_job(s, conn, r, name, kind, item);
    } else if (patch && kind == JOB_CONTACT) {
      rc = admin_job(s, conn, r, name, JOB_CONTACT_UPDATE, item);
    } else if (strcmp(method, "DELETE") == 0 && kind == JOB_CONTACT) {
      rc = admin_job(s, conn, r, name, JOB_CONTACT_ERASE, item);
    } else if (strcmp(method, "DELETE") == 0 && kind == JOB_BROADCAST) {
      rc = admin_job(s, conn, r, name, JOB_BROADCAST_CANCEL, item);
    } else {
      free(item);
      rc = respond_error(conn, 405, "use GET");
    }
    free(name);
    return rc;
  }
  return respond_error(conn, 404, "no such endpoint");
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  server *s = cls;
  http_limits_request_line(s->limits, conn);
  request *r = xcalloc(1, sizeof *r);
  r->raw_uri = xstrdup(uri);
  r->max_body = s->cfg.max_body;
  return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
  server *s = cls;
  (void)conn;
  request *r = *con_cls;
  if (!r) return;
  if (r->job && code != MHD_REQUEST_TERMINATED_COMPLETED_OK && atomic_load(&r->job->done))
    for (size_t i = 0; i < (r->job->nbatch ? r->job->nbatch : 1); i++) {
      job *j = r->job->nbatch ? r->job->batch[i] : r->job;
      if (!j->nreply_ids) continue;
      job *q = xcalloc(1, sizeof *q); /* the provider never got its replies: they go through it */
      q->kind = JOB_REQUEUE;
      q->botname = xstrdup(j->botname);
      q->from = xstrdup("");
      q->text = xstrdup("");
      q->reply_ids = j->reply_ids;
      q->nreply_ids = j->nreply_ids;
      j->reply_ids = NULL;
      j->nreply_ids = 0;
      log_event(LOG_WARN, "reply_requeued", "bot", q->botname, "reason",
                "the webhook's answer did not reach the caller", NULL);
      queue_job(s, q);
    }
  if (r->job) job_free(r->job);
  buf_free(&r->body);
  http_limits_give_body(s->limits, r->body_held);
  http_limits_answered(s->limits, conn); /* a kept-alive connection's next request */
  free(r->raw_uri);
  free(r);
  *con_cls = NULL;
}

/* ---------------------------------------------------------------- engine side */

static void on_message(void *ud, const engine_message *m) {
  server *s = ud;
  feed_publish(s->feed, m->bot, m->to);
  job *j = m->tag;
  /* a webhook's inline replies; an event's messages to its contact (queued,
   * they go through the provider) */
  int answer = m->reply == ENGINE_REPLY_INLINE ||
               (j && j->kind == JOB_EVENT && m->reply == ENGINE_REPLY_TO_SENDER);
  if (j && answer) {
    j->replies = xrealloc(j->replies, (j->nreplies + 1) * sizeof *j->replies);
    j->replies[j->nreplies++] = xstrdup(m->text);
    if (m->reply == ENGINE_REPLY_INLINE) {
      j->reply_ids = xrealloc(j->reply_ids, (j->nreply_ids + 1) * sizeof *j->reply_ids);
      j->reply_ids[j->nreply_ids++] = m->id;
    }
  }
  log_event(LOG_DEBUG, "sent", "bot", m->bot, "to", m->to, "status", m->status, NULL);
}

static void on_event_failed(void *ud, void *tag, const char *status, const char *error) {
  (void)ud;
  job *j = tag;
  if (!j || j->kind != JOB_EVENT || j->event_status) return;
  j->event_status = xstrdup(status);
  j->event_error = xstrdup(error);
  utf8_repair(j->event_error);
}

static void on_action(void *ud, const engine_action *a) {
  (void)ud;
  switch (a->kind) {
    case ENGINE_ACTION_ERROR:
      log_event(LOG_WARN, "handler_error", "bot", a->bot, "contact", a->number, "error",
                a->detail, NULL);
      break;
    case ENGINE_ACTION_STATUS_UNKNOWN:
      log_event(LOG_INFO, "status_unknown", "bot", a->bot, "detail", a->detail, NULL);
      break;
    case ENGINE_ACTION_CARRIER_OPTOUT:
      log_event(LOG_INFO, "carrier_optout", "bot", a->bot, "contact", a->number, NULL);
      break;
    case ENGINE_ACTION_HTTP: /* a handler's request, or its answer */
      log_event(LOG_DEBUG, "http", "bot", a->bot, "contact", a->number, "request", a->detail,
                NULL);
      break;
    case ENGINE_ACTION_HTTP_FAILED:
      log_event(LOG_INFO, "http_failed", "bot", a->bot, "contact", a->number, "request",
                a->detail, NULL);
      break;
    case ENGINE_ACTION_SHOWN:
      break;
  }
}

/* Answers every job of the batch in flight: resumed, or freed when nobody
 * waits for an answer (the sender's reports). Its batch is durable, or it
 * failed (each job says so). */
static void answer_in_flight(server *s) {
  job *next;
  for (job *j = s->in_flight; j; j = next) {
    next = j->next;
    j->next = NULL;
    if (!j->failed) /* a delivery report does not say its number */
      feed_publish(s->feed, j->botname, j->kind != JOB_STATUS && *j->from ? j->from : NULL);
    if (!j->conn) {
      inbox_taken_done(s, j);
      job_free(j);
      continue;
    }
    if (forward_wait(s, j)) continue; /* answered once its holder has */
    job_resume(j);
  }
  s->in_flight = s->in_flight_tail = NULL;
}

/* Answers the webhooks waiting for another node's replies: as they come,
 * or without them at their deadline (a few seconds at most). */
static void finish_forwarded(server *s) {
  while (s->forwarded) {
    forward_poll(s);
    if (s->forwarded) {
      struct timespec t = {0, 5000000};
      nanosleep(&t, NULL);
    }
  }
}

/* Waits until the batch in flight is durable (or failed: its jobs are
 * marked), then answers it. */
static void finish_in_flight(server *s) {
  char err[1024];
  if (engine_flush(s->e, err, sizeof err)) {
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    for (job *j = s->in_flight; j; j = j->next) j->failed = 1;
  }
  answer_in_flight(s);
}

/* Runs the collected inbound jobs (consecutive jobs of one bot together)
 * and hands their writes to the writer without waiting for the commit:
 * they become the batch in flight, answered once it is durable. The batch
 * in flight before them is durable when engine_submit returns (answered
 * here), so the scripts of one batch run while the writer commits the one
 * before. If the store fails, neither is kept: both are answered 503. */
static void submit_collected(server *s) {
  size_t k = s->ncollected;
  if (!k) return;
  s->ncollected = 0;
  s->submitted++;
  job **order = s->collected;
  inbound *in = s->inbound;
  char err[1024];
  int failed = 0;
  for (size_t i = 0; i < k && !failed;) {
    size_t end = i + 1;
    while (end < k && order[end]->b == order[i]->b) end++;
    failed = engine_submit(s->e, order[i]->b, in + i, end - i, err, sizeof err) != 0;
    i = end;
  }
  if (failed) {
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    engine_flush(s->e, err, sizeof err); /* nothing is left in flight */
    for (job *j = s->in_flight; j; j = j->next) j->failed = 1;
  }
  answer_in_flight(s); /* durable (or failed) now */
  for (size_t i = 0; i < k; i++) {
    order[i]->failed = failed;
    if (s->in_flight_tail) s->in_flight_tail->next = order[i];
    else s->in_flight = order[i];
    s->in_flight_tail = order[i];
  }
  if (failed) answer_in_flight(s);
}

/* Adds an inbound job (a message, an event, a delivery report) to those
 * submitted together; 0, 2 if it was relayed to the node holding its
 * conversation (answered later), 1 if this node does not run it, or -1 if
 * its bot is gone (answered 404). */
static int collect(server *s, job *j) {
  j->b = engine_find_bot(s->e, j->botname);
  if (!j->b) return -1;
  /* an inbox item whose partition went elsewhere meanwhile: its new
   * holder takes it from the inbox; a relayed message: the relaying node
   * hands it over through the inbox */
  if ((j->inbox_id || j->from_relay) && !engine_holds(s->e, bot_id(j->b), j->from)) {
    if (j->from_relay) job_answer_error(j, 409, "this node does not hold the conversation");
    return 1;
  }
  if (s->ncollected == s->collected_cap) {
    s->collected_cap = s->collected_cap ? 2 * s->collected_cap : 256;
    s->collected = xrealloc(s->collected, s->collected_cap * sizeof *s->collected);
    s->inbound = xrealloc(s->inbound, s->collected_cap * sizeof *s->inbound);
  }
  size_t k = s->ncollected++;
  s->collected[k] = j;
  inbound *in = &s->inbound[k];
  *in = (inbound){.from = j->from, .to = j->to, .text = j->text, .len = strlen(j->text),
                  .provider_id = j->provider_id, .tag = j, .event_type = j->event_type,
                  .event_data = j->event_data, .media_json = j->media_json};
  in->inbox_id = j->inbox_id;
  in->inbox_waited = j->inbox_waited;
  in->answer_lost = j->relay_tried; /* its relay got no answer: handled here now */
  if (j->kind == JOB_STATUS) {
    j->dl.provider_id = j->provider_id;
    j->dl.status = j->dl_status;
    j->dl.error = j->dl_error;
    in->provider_id = NULL; /* not an inbound message's id */
    in->delivery = &j->dl;
  } else if (j->inbox_id || j->from_relay) { /* as the node that took it said */
    in->inline_reply = j->inbox_inline;
    in->inline_until_ns = j->inbox_until_ns;
  } else if (j->kind != JOB_EVENT) {
    int inline_ok = !s->cfg.inline_replies || s->cfg.inline_replies(j->botname);
    in->inline_reply = !inline_ok || (j->via && !j->via->reply) ? 0
                       : j->via && j->via->inline_max > 0 ? j->via->inline_max
                                                          : INLINE_ANY;
    if (s->cfg.reply_deadline_ms > 0)
      in->inline_until_ns = j->arrived_ns + s->cfg.reply_deadline_ms * 1000000;
  }
  if (s->cfg.nodes && j->kind != JOB_STATUS && !j->inbox_id && !j->from_relay &&
      !engine_holds(s->e, bot_id(j->b), j->from)) {
    if (forward_relay(s, j, in)) {
      s->ncollected--; /* not in this batch: the holder's */
      return 2;
    }
    forward_mark(s, j, in);
  }
  return 0;
}

/* An admin call taken from the inbox (forward.c): run here if this node
 * still holds its contact, its answer recorded for the node that waits;
 * then freed. */
static void inbox_admin_run(server *s, job *j) {
  bot *b = engine_find_bot(s->e, j->botname);
  if (!b || engine_holds(s->e, bot_id(b), j->item)) { /* else its new holder takes it */
    admin_run(s, j);
    json_t *o = json_pack("{s:i, s:s}", "status", (int)j->http_status, "body",
                          j->http_body ? j->http_body : "{}");
    char *answer = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char err[256];
    if (engine_inbox_done(s->e, j->inbox_id, answer, err, sizeof err)) /* taken again */
      log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    free(answer);
  }
  inbox_taken_done(s, j);
  job_free(j);
}

/* Hands the jobs to the engine in arrival order. Inbound jobs go in
 * batches; the last batch stays in flight (answered when the next one is
 * submitted, or by finish_in_flight). Anything else waits until what came
 * before it is durable: an admin job runs alone (the messages before it
 * committed first, on the version they were routed to, which a reload
 * frees; the ones after it see what it changed); the requeue of replies
 * and the answers of handlers' requests after the messages before them. */
static void handle_jobs(server *s, job *jobs) {
  if (s->cfg.nodes) { /* what other nodes acknowledged first */
    job *items = inbox_take(s);
    if (items) {
      job *last = items;
      while (last->next) last = last->next;
      last->next = jobs;
      jobs = items;
    }
  }
  job *http = NULL, **http_tail = &http;
  job *next;
  for (job *j = jobs; j; j = next) {
    next = j->next;
    j->next = NULL;
    if (j->kind == JOB_HTTP) { /* after the messages before it */
      *http_tail = j;
      http_tail = &j->next;
      continue;
    }
    if (j->kind == JOB_REQUEUE) {
      submit_collected(s);
      finish_in_flight(s);
      char err[256];
      if (engine_requeue(s->e, j->reply_ids, j->nreply_ids, err, sizeof err))
        log_event(LOG_ERROR, "store_failed", "error", err, NULL);
      job_free(j); /* nobody waits for it */
      continue;
    }
    if (j->kind == JOB_CLICK && click_resolve(s, j)) { /* else the event that records it */
      job_resume(j); /* answered */
      continue;
    }
    if (j->kind == JOB_CONSOLE_ACTION) { /* then an event of the conversation, in order */
      if ((j->session && console_refused(s, j)) || console_action_event(j)) {
        job_resume(j); /* answered */
        continue;
      }
    }
    if (j->kind >= JOB_RELOAD) {
      submit_collected(s);
      finish_in_flight(s); /* and every batch before (timers, ...) */
      if (j->inbox_id) { /* another node's caller waits for its answer */
        inbox_admin_run(s, j);
        continue;
      }
      if (j->session && console_refused(s, j)) { /* answered */
        job_resume(j);
        continue;
      }
      int away = j->kind >= JOB_SESSION_CREATE ? (console_run(s, j), 0) : admin_run(s, j);
      if (j->kind == JOB_RELOAD || j->kind == JOB_ROLLBACK) routes_refresh(s);
      char err[256];
      engine_flush(s->e, err, sizeof err);
      if (!away) job_resume(j);
      continue;
    }
    if (j->kind == JOB_RELAYED) {
      job *outcome = j;
      j = forward_relayed(s, outcome);
      job_free(outcome);
      if (!j) continue; /* answered */
    }
    int refused = collect(s, j);
    if (refused == 2) continue; /* relayed: its outcome comes as a job */
    if (refused) {
      if (refused < 0) job_answer_error(j, 404, "no such bot");
      inbox_taken_done(s, j);
      if (j->conn) job_resume(j);
      else job_free(j);
    }
  }
  submit_collected(s);
  if (!http) return;
  finish_in_flight(s);
  for (job *j = http; j; j = next) {
    next = j->next;
    engine_http_result r = {.status = j->http_result, .error = j->http_error,
                            .body = j->body.data, .body_len = j->body.len,
                            .headers = (const char *const *)j->http_headers,
                            .nheaders = j->http_nheaders};
    char err[256];
    if (engine_http_done(s->e, j->http_id, &r, err, sizeof err))
      log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    job_free(j);
  }
}

static job *take_jobs(server *s, int wait_ms) {
  pthread_mutex_lock(&s->mu);
  if (!s->head && !s->stopping && wait_ms > 0) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)wait_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &until);
  }
  job *jobs = s->head;
  s->head = s->tail = NULL;
  pthread_mutex_unlock(&s->mu);
  return jobs;
}

/* A few jobs (fewer than FEW_JOBS) taken while a batch commits: the
 * batch is waited for and answered first, and the jobs that came
 * meanwhile join these. Fewer, larger batches when the webhooks are
 * spread thin (each of several nodes commits a few at a time otherwise:
 * bench/cluster.sh, two nodes on PostgreSQL, 10.0-11.0k messages/s
 * without, 11.5-11.7k with, one node unchanged at 12.9-13.4k); their
 * scripts then run after that commit, not during it. */
enum { FEW_JOBS = 16 };

static void take_more_if_few(server *s, job *jobs) {
  int n = 0;
  job *last = jobs;
  for (job *j = jobs; j && n < FEW_JOBS; j = j->next) n++, last = j;
  if (n >= FEW_JOBS) return;
  finish_in_flight(s);
  last->next = take_jobs(s, 0);
}

server *server_start(const server_config *cfg, engine *e, char *err, size_t errlen) {
  server *s = xcalloc(1, sizeof *s);
  forward_init(s);
  s->cfg = *cfg;
  if (!s->cfg.host) s->cfg.host = "127.0.0.1";
  if (!s->cfg.port) s->cfg.port = 8080;
  if (!s->cfg.max_body) s->cfg.max_body = 64 * 1024;
  if (!s->cfg.public_url) s->cfg.public_url = "";
  s->e = e;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->routes_mu, NULL);
  routes_refresh(s);
  pthread_cond_init(&s->cv, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port)};
  if (inet_pton(AF_INET, s->cfg.host, &addr.sin_addr) != 1) {
    snprintf(err, errlen, "listen address '%s' is not an IPv4 address like 127.0.0.1",
             s->cfg.host);
    free(s);
    return NULL;
  }
  http_limits_config lc = {
      .max_connections = s->cfg.max_connections ? s->cfg.max_connections : 1000,
      .max_per_address = s->cfg.max_connections_per_address ? s->cfg.max_connections_per_address
                                                            : 128,
      .request_deadline_ms = s->cfg.request_deadline_ms ? s->cfg.request_deadline_ms : 10000,
      .max_body_memory = s->cfg.max_body_memory ? s->cfg.max_body_memory : 64 << 20};
  char note[256];
  s->feed = feed_new();
  s->limits = http_limits_start(&lc, note, sizeof note, err, errlen);
  if (!s->limits) {
    free(s);
    return NULL;
  }
  if (*note) log_event(LOG_WARN, "settings_lowered", "detail", note, NULL);
  s->uploads = upload_worker_start(s, queue_job, err, errlen);
  if (s->uploads && !(s->media = media_fetcher_start(err, errlen))) {
    upload_worker_free(s->uploads);
    s->uploads = NULL;
  }
  /* One internal thread on poll(2). Every request needing the engine is
   * suspended and resumed: with epoll that is two epoll_ctl calls per
   * request (removed from the set, added back), which cost its thread ~15%
   * more CPU per request than poll's scan of the connections under
   * bench/http.sh's load (64 connections). A pool of two threads used
   * ~20% more CPU in all and competes with the engine and the writer for
   * the cores; a thread per connection does not work with suspended
   * connections in libmicrohttpd 0.9.75 (answers stall). */
  if (s->uploads)
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_limits_notify, s->limits,
        MHD_OPTION_CONNECTION_LIMIT, http_limits_hard_cap(s->limits),
        /* idle: bounds answers a client does not read; requests have their deadline */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
  if (!s->daemon) {
    if (s->uploads)
      snprintf(err, errlen, "cannot listen on %s:%d (is the port in use?)", s->cfg.host,
               s->cfg.port);
    upload_worker_free(s->uploads);
    media_fetcher_free(s->media);
    http_limits_stop(s->limits);
    free(s);
    return NULL;
  }
  char why[256];
  if (s->cfg.nodes && /* without it, the inbox still works */
      !(s->relay = relay_start(s, cluster_secret(s->cfg.nodes), queue_job, why, sizeof why)))
    log_event(LOG_WARN, "relay_unavailable", "error", why, NULL);
  return s;
}

/* The newest modification time of the .lua files under dir (0: none). */
static int64_t newest_mtime(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int64_t newest = 0;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    if (ent->d_name[0] == '.') continue;
    char *path = xasprintf("%s/%s", dir, ent->d_name);
    struct stat st;
    if (stat(path, &st) == 0) {
      int64_t t = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
      if (S_ISDIR(st.st_mode) && depth < 4) {
        int64_t sub = newest_mtime(path, depth + 1);
        if (sub > newest) newest = sub;
      } else if ((ends_with(ent->d_name, ".lua") || ends_with(ent->d_name, ".chat")) &&
                 t > newest) {
        newest = t;
      }
    }
    free(path);
  }
  closedir(d);
  return newest;
}

/* The newest modification time of a watched bot folder's files and of the
 * shared lib/ folder beside it (script.h). */
static int64_t watched_mtime(const char *dir) {
  const char *slash = strrchr(dir, '/');
  char *lib = slash ? xasprintf("%.*s/lib", (int)(slash - dir), dir) : xstrdup("lib");
  int64_t t = newest_mtime(dir, 0), shared = newest_mtime(lib, 0);
  free(lib);
  return shared > t ? shared : t;
}

/* --watch: a bot folder whose files changed (or a shared module it
 * requires) is loaded again, after its transcripts (the .chat files under
 * tests/) pass, as over HTTP; a version that does not load or fails a
 * transcript is reported (logged as reload_refused with every error) and the
 * running one stays. A folder whose files are the running version's (a
 * shared module it does not require changed) changes nothing. */
static void watch_folders(server *s) {
  for (size_t i = 0; i < s->nwatch; i++) {
    int64_t t = watched_mtime(s->watch[i].dir);
    if (t == s->watch[i].mtime) continue;
    s->watch[i].mtime = t;
    char err[16384];
    script *sc = script_read(s->watch[i].dir, err, sizeof err);
    if (sc && script_read_tests(sc, err, sizeof err)) {
      script_free(sc);
      sc = NULL;
    }
    char *sha = sc ? script_sha(sc, NULL) : NULL;
    bot *running = sc ? engine_find_bot(s->e, sc->name) : NULL;
    char *running_sha = running ? script_sha(bot_script(running), NULL) : NULL;
    int same = sha && running_sha && strcmp(sha, running_sha) == 0;
    free(running_sha);
    if (same) {
      free(sha);
      script_free(sc);
      continue;
    }
    deploy_result r = {DEPLOY_ERROR, NULL, 0, NULL, {0}};
    deploy_options o = {.folder_sha = sha,
                        .replay = s->cfg.replay && sc ? s->cfg.replay(sc->name) : 0};
    if (sc) r = deploy_version(s->e, sc, &o, err, sizeof err);
    json_decref(r.replay);
    free(sha);
    if (r.status == DEPLOY_OK) {
      routes_refresh(s);
      s->reloads++;
      log_event(LOG_INFO, "reload", "source", "watch", "dir", s->watch[i].dir, NULL);
    } else {
      s->reload_failures++;
      log_event(LOG_WARN, "reload_refused", "source", "watch", "dir", s->watch[i].dir, "error",
                err, NULL);
    }
  }
}

void server_watch(server *s, const char *dir) {
  s->watch = xrealloc(s->watch, (s->nwatch + 1) * sizeof *s->watch);
  s->watch[s->nwatch].dir = xstrdup(dir);
  s->watch[s->nwatch].mtime = watched_mtime(dir);
  s->nwatch++;
}

int server_run(server *s) {
  /* quiet: the simulator's lines (state diffs, logs, rules) are not made */
  engine_observer obs = {on_message, on_action, s, on_event_failed, .quiet = 1};
  engine_set_observer(s->e, &obs);
  int64_t next_tick = 0, next_watch = 0, next_follow = 0;
  while (!s->stopping) {
    /* with a batch in flight, what came meanwhile runs at once (while the
     * writer commits that batch); nothing came: the batch is answered */
    /* with other nodes, what they hand over: told by the cluster's
     * listener (server_inbox_news), looked for every 100 ms anyway */
    int others = s->cfg.nodes && cluster_nodes_live(s->cfg.nodes) > 1;
    if (atomic_exchange(&s->contacts_stale, 0)) { /* another node imported contacts */
      finish_in_flight(s);
      engine_forget_contacts(s->e);
    }
    long submitted = s->submitted;
    job *jobs = take_jobs(s, s->in_flight ? 0 : 100);
    if (jobs && s->in_flight) take_more_if_few(s, jobs);
    if (jobs || others) handle_jobs(s, jobs);
    if (s->submitted == submitted) finish_in_flight(s); /* no batch after it: answered now */
    if (s->forwarded) forward_poll(s);
    int64_t now = wall_ms();
    if (now >= next_tick || (s->nwatch && now >= next_watch))
      finish_in_flight(s); /* timers and reloads start from a durable store */
    if (now >= next_tick) {
      if (s->cfg.nodes && now >= next_follow) { /* versions other nodes activated */
        char err[1024];
        int changed = deploy_follow(s->e, err, sizeof err);
        if (changed < 0) log_event(LOG_ERROR, "store_failed", "error", err, NULL);
        if (changed > 0) routes_refresh(s);
        next_follow = now + 1000;
      }
      if (s->cfg.nodes) {
        cluster_tick(s->cfg.nodes, s->e);
        handle_jobs(s, NULL); /* the inbox's items */
        finish_in_flight(s);
      }
      char err[1024];
      if (engine_advance(s->e, now, err, sizeof err))
        log_event(LOG_ERROR, "timers_failed", "error", err, NULL);
      feed_tick(s->feed);
      next_tick = now + 100;
    }
    if (s->nwatch && now >= next_watch) {
      watch_folders(s);
      next_watch = now + 500;
    }
  }
  /* stop accepting, then answer what is in hand (the relays' outcomes too) */
  MHD_quiesce_daemon(s->daemon);
  feed_close(s->feed); /* the console's streams end: none stays suspended */
  while (relay_busy(s->relay)) { /* none starts now (forward_relay) */
    job *relayed = take_jobs(s, 0);
    if (relayed) handle_jobs(s, relayed);
    else nanosleep(&(struct timespec){0, 5000000}, NULL);
    finish_in_flight(s);
  }
  job *jobs = take_jobs(s, 0);
  if (jobs) handle_jobs(s, jobs);
  finish_in_flight(s);
  finish_forwarded(s);
  return 0;
}

void server_pump(server *s, int wait_ms) {
  job *jobs = take_jobs(s, wait_ms);
  if (jobs) handle_jobs(s, jobs);
  finish_in_flight(s);
  finish_forwarded(s);
}

void server_finish(server *s) {
  pthread_mutex_lock(&s->mu);
  s->refusing = 1;
  pthread_mutex_unlock(&s->mu);
  upload_worker_stop(s->uploads); /* the archive in hand is queued, the rest answered 503 */
  media_fetcher_stop(s->media);   /* likewise: the fetch in hand is answered */
  server_pump(s, 0);
}

void server_report_delivery(server *s, const char *bot, const delivery *d) {
  job *j = xcalloc(1, sizeof *j);
  j->kind = JOB_STATUS;
  j->botname = xstrdup(bot);
  j->from = xstrdup("");
  j->text = xstrdup("");
  j->provider_id = strdup_or_null(d->provider_id);
  j->dl_status = xstrdup(d->status);
  j->dl_error = strdup_or_null(d->error);
  j->dl = (delivery){.message_id = d->message_id, .from_sender = d->from_sender,
                     .carrier_optout = d->carrier_optout, .undeliverable = d->undeliverable};
  queue_job(s, j);
}

void server_report_http(server *s, uint64_t id, const engine_http_result *r) {
  job *j = xcalloc(1, sizeof *j);
  j->kind = JOB_HTTP;
  j->http_id = id;
  j->http_result = r->status;
  j->http_error = strdup_or_null(r->error);
  if (r->body) buf_add(&j->body, r->body, r->body_len);
  j->http_headers = xcalloc(2 * r->nheaders + 1, sizeof *j->http_headers);
  for (size_t i = 0; i < 2 * r->nheaders; i++) j->http_headers[i] = xstrdup(r->headers[i]);
  j->http_nheaders = r->nheaders;
  queue_job(s, j);
}

void server_inbox_news(void *ud, int kind, const char *payload) {
  server *s = ud;
  int done = kind == NEWS_INBOX_DONE;
  if (done && strcmp(payload, s->ticket_prefix) != 0) return; /* another run's */
  if (done) atomic_fetch_add(&s->inbox_news, 1);
  if (kind == NEWS_CONTACTS) atomic_store(&s->contacts_stale, 1);
  pthread_mutex_lock(&s->mu);
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

void server_stop(server *s) {
  s->stopping = 1; /* the engine loop wakes within 100 ms */
}

void server_free(server *s) {
  if (!s) return;
  relay_stop(s->relay); /* it queues its outcomes here */
  upload_worker_stop(s->uploads);
  media_fetcher_stop(s->media);
  feed_close(s->feed);
  if (s->daemon) MHD_stop_daemon(s->daemon);
  feed_free(s->feed);
  console_sims_free();
  upload_worker_free(s->uploads);
  media_fetcher_free(s->media);
  http_limits_stop(s->limits);
  while (s->head) { /* the sender's reports after the last batch */
    job *j = s->head;
    s->head = j->next;
    job_free(j);
  }
  for (size_t i = 0; i < s->nwatch; i++) free(s->watch[i].dir);
  free(s->watch);
  routes_free(s->routes, s->nroutes);
  pthread_mutex_destroy(&s->routes_mu);
  free(s->collected);
  free(s->inbound);
  free(s->taken);
  free(s->unreadable);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}
