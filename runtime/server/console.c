/* console: the web page `parley serve` serves at /console for the people
 * who run a number (docs/console.md), and its sessions.
 *
 * Its files (runtime/server/console/) are compiled into the binary and
 * served with a Content-Security-Policy that lets only them run. A person
 * signs in with the admin token or a bot's operator token and a name; the
 * browser then holds a session cookie (HttpOnly, SameSite=Strict, Secure
 * when public_url is https) whose secret the store knows only as its
 * SHA-256, so that every node sharing the database knows the session and
 * it outlives a restart. The token itself is never kept nor sent back.
 * Every admin endpoint takes the session instead of the bearer token
 * (but the script's upload, which takes only the token); a change must
 * also carry the session's CSRF token in X-CSRF-Token. The session is
 * checked on the engine thread, which owns the store. */
#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "log.h"
#include "script.h"
#include "store_console.h"
#include "util.h"

enum {
  SECRET_BYTES = 32,
  NAME_MAX_BYTES = 64,
  /* a stream of changes ends after this (the browser opens a new one, its
   * session checked again): a session signed out elsewhere stops being
   * told anything within it */
  FEED_STREAM_MS = 5 * 60 * 1000
};

const embedded_file *console_find(const char *path); /* console_embed.c, made by make */

/* ---------------------------------------------------------------- pages */

static const char *type_of(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},
               {".svg", "image/svg+xml"},
               {".txt", "text/plain; charset=utf-8"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

/* Only the console's own files run, load and are fetched: a fan's text
 * shown as HTML by mistake could not run a script, nor send anything
 * elsewhere. */
static void add_page_headers(struct MHD_Response *r) {
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
}

int console_page(struct MHD_Connection *conn, const char *url, const char *method,
                 enum MHD_Result *rc) {
  if (strcmp(url, "/console") != 0 && strncmp(url, "/console/", 9) != 0) return 0;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    *rc = respond_error(conn, 405, "use GET");
    return 1;
  }
  if (strcmp(url, "/console") == 0) { /* the page's relative paths start at /console/ */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Location", "/console/");
    *rc = MHD_queue_response(conn, 301, r);
    MHD_destroy_response(r);
    return 1;
  }
  const char *path = url + 9;
  /* the page's own routes (#inbox...) are fragments: any other path is a file */
  const embedded_file *f = console_find(*path ? path : "index.html");
  if (!f) {
    *rc = respond_error(conn, 404, "no such page of the console");
    return 1;
  }
  struct MHD_Response *r =
      MHD_create_response_from_buffer(f->len, (void *)f->source, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", type_of(f->path));
  add_page_headers(r);
  *rc = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return 1;
}

/* ---------------------------------------------------------------- the HTTP side */

static int is_session_url(const char *url) { return strcmp(url, "/v1/console/session") == 0; }

int console_refused_early(struct MHD_Connection *conn, const char *url, const char *method,
                          enum MHD_Result *rc) {
  if (!is_session_url(url) || strcmp(method, "POST") == 0) return 0; /* signing in */
  if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) return 0; /* 405 later */
  char *secret = console_cookie(conn);
  int signed_in = secret != NULL;
  free(secret);
  if (signed_in) return 0;
  *rc = respond_error(conn, 401, "not signed in to the console");
  return 1;
}

/* /v1/bots/BOT/versions/N[/test]: the bot, the version's number, whether
 * its transcripts are to run. */
static int version_path(const char *url, char **bot, char **number, int *test) {
  if (strncmp(url, "/v1/bots/", 9) != 0) return 0;
  const char *name = url + 9, *slash = strchr(name, '/');
  if (!slash || slash == name || slash - name > 64 || strncmp(slash, "/versions/", 10) != 0)
    return 0;
  const char *num = slash + 10;
  size_t digits = strspn(num, "0123456789");
  if (!digits || digits > 18 || (num[digits] && strcmp(num + digits, "/test") != 0)) return 0;
  *test = num[digits] != 0;
  *bot = xstrndup(name, (size_t)(slash - name));
  *number = xstrndup(num, digits);
  return 1;
}

/* The console's actions on a conversation: the last part of its path. */
static const char *const actions[] = {"take", "reply", "note", "handback", NULL};

/* /v1/bots/BOT/conversations[/NUMBER/ACTION]: the kind, the bot, the
 * number and the action (read, or one of actions) */
static int conversations_path(const char *url, enum job_kind *kind, char **bot, char **number,
                              const char **action) {
  if (strncmp(url, "/v1/bots/", 9) != 0) return 0;
  const char *name = url + 9, *slash = strchr(name, '/');
  if (!slash || slash == name || slash - name > 64) return 0;
  const char *rest = slash + 1;
  if (strcmp(rest, "conversations") == 0) {
    *kind = JOB_CONVERSATIONS;
  } else if (strncmp(rest, "conversations/", 14) == 0) {
    const char *num = rest + 14, *end = strchr(num, '/');
    if (!end || end == num) return 0;
    *action = NULL;
    for (size_t i = 0; actions[i]; i++)
      if (strcmp(end + 1, actions[i]) == 0) *action = actions[i];
    if (strcmp(end, "/read") == 0) *kind = JOB_CONVERSATION_READ;
    else if (*action) *kind = JOB_CONSOLE_ACTION;
    else return 0;
    *number = xstrndup(num, (size_t)(end - num));
  } else {
    return 0;
  }
  *bot = xstrndup(name, (size_t)(slash - name));
  return 1;
}

/* The bot in /v1/bots/BOT<suffix> (a copy), or NULL: a bot's name is 1 to
 * 64 letters, digits, _ and -. */
static char *bot_of(const char *url, const char *suffix) {
  size_t n = strlen(url), sl = strlen(suffix);
  if (strncmp(url, "/v1/bots/", 9) != 0 || n <= 9 + sl || strcmp(url + n - sl, suffix) != 0)
    return NULL;
  size_t len = n - 9 - sl;
  if (len > 64) return NULL;
  for (size_t i = 0; i < len; i++)
    if (!(isalnum((unsigned char)url[9 + i]) || url[9 + i] == '_' || url[9 + i] == '-'))
      return NULL;
  return xstrndup(url + 9, len);
}

/* The console's endpoints of one bot that take no more than the bot. */
static const struct bot_endpoint {
  const char *suffix, *method;
  enum job_kind kind;
} bot_endpoints[] = {
    {"/sim", "POST", JOB_SIM},
    {"/stats", "GET", JOB_STATS},
    {"/broadcasts/preview", "POST", JOB_BROADCAST_PREVIEW},
};

int console_route(server *s, struct MHD_Connection *conn, request *r, const char *url,
                  const char *method, enum MHD_Result *rc) {
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  int del = strcmp(method, "DELETE") == 0;
  if (is_session_url(url)) {
    if (!get && !post && !del) {
      *rc = respond_error(conn, 405, "use POST to sign in, GET to see the session, DELETE to "
                                     "sign out");
      return 1;
    }
    job *j = xcalloc(1, sizeof *j);
    j->botname = xstrdup("");
    j->from = xstrdup("");
    j->text = xstrdup("");
    if (post) { /* signing in: the token in the body */
      j->kind = JOB_SESSION_CREATE;
      const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
      j->content_type = xstrdup(type ? type : "");
      j->body = r->body; /* taken */
      r->body = (buf){0};
    } else { /* the session's own: the cookie, not the admin token */
      j->kind = get ? JOB_SESSION_GET : JOB_SESSION_END;
      j->session = console_cookie(conn);
      const char *csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
      j->csrf = csrf ? xstrdup(csrf) : NULL;
    }
    *rc = start_job(s, conn, r, j);
    return 1;
  }
  if (strcmp(url, "/v1/console/events") == 0) {
    *rc = get ? admin_job(s, conn, r, "", JOB_FEED, NULL) : respond_error(conn, 405, "use GET");
    return 1;
  }
  for (size_t i = 0; i < sizeof bot_endpoints / sizeof *bot_endpoints; i++) {
    const struct bot_endpoint *ep = &bot_endpoints[i];
    char *b = bot_of(url, ep->suffix);
    if (!b) continue;
    *rc = strcmp(method, ep->method) == 0
              ? admin_job(s, conn, r, b, ep->kind, NULL)
              : respond_error(conn, 405, strcmp(ep->method, "GET") == 0 ? "use GET" : "use POST");
    free(b);
    return 1;
  }
  if (strcmp(url, "/v1/bots") == 0) {
    *rc = get ? admin_job(s, conn, r, "", JOB_BOTS, NULL) : respond_error(conn, 405, "use GET");
    return 1;
  }
  char *b = NULL, *number = NULL;
  int test = 0;
  if (version_path(url, &b, &number, &test)) { /* /v1/bots/BOT/versions/N[/test] */
    *rc = test ? (post ? admin_job(s, conn, r, b, JOB_VERSION_TEST, number)
                       : (free(number), respond_error(conn, 405, "use POST")))
               : (get ? admin_job(s, conn, r, b, JOB_VERSION_FILES, number)
                      : (free(number), respond_error(conn, 405, "use GET")));
    free(b);
    return 1;
  }
  enum job_kind kind;
  char *bot = NULL;
  const char *action = NULL;
  if (!conversations_path(url, &kind, &bot, &number, &action)) return 0;
  if (kind == JOB_CONVERSATIONS && !get) {
    *rc = respond_error(conn, 405, "use GET");
  } else if (kind != JOB_CONVERSATIONS && !post) {
    *rc = respond_error(conn, 405, "use POST");
    free(number);
  } else {
    r->action = action; /* the console's action, for the job */
    *rc = admin_job(s, conn, r, bot, kind, number); /* number taken */
  }
  free(bot);
  return 1;
}

/* ---------------------------------------------------------------- the engine side */

static void sha256_hex(const char *text, char out[65]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
  for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int random_hex(char *out, size_t bytes) {
  unsigned char raw[SECRET_BYTES];
  if (bytes > sizeof raw || RAND_bytes(raw, (int)bytes) != 1) return -1;
  for (size_t i = 0; i < bytes; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

/* Whether a change needs the CSRF token: every kind but the reads. */
static int kind_changes(enum job_kind kind) {
  switch (kind) {
    case JOB_VERSIONS: case JOB_CONTACTS: case JOB_CONTACT: case JOB_CONTACT_MESSAGES:
    case JOB_CONSENT_CSV: case JOB_BROADCAST: case JOB_CONTACTS_CSV: case JOB_SESSION_GET:
    case JOB_BOTS: case JOB_CONVERSATIONS: case JOB_FEED: case JOB_BROADCASTS:
    case JOB_BROADCAST_PREVIEW: case JOB_VERSION_FILES: case JOB_STATS: case JOB_LINKS:
    case JOB_CLICKS: case JOB_TRANSCRIPT:
      return 0;
    default:
      return 1;
  }
}

static int equal_secret(const char *a, const char *b) {
  size_t n = strlen(b);
  return a && strlen(a) == n && CRYPTO_memcmp(a, b, n) == 0;
}

/* Whether the session's list of bots (NULL: every bot) holds name. */
static int may_see(const console_session *sess, const char *name) {
  if (!sess->bots) return 1;
  json_t *list = json_loads(sess->bots, 0, NULL);
  size_t i;
  json_t *v;
  int found = 0;
  json_array_foreach(list, i, v) found |= json_is_string(v) && strcmp(json_string_value(v), name) == 0;
  json_decref(list);
  return found;
}

/* The session j came with, read from the store: 1 with *out, or 0 with j
 * answered. */
static int session_of(server *s, job *j, console_session *out) {
  char id[65];
  sha256_hex(j->session, id);
  int found = store_session_get(engine_store(s->e), id, engine_now(s->e), out);
  if (found < 0) {
    log_event(LOG_ERROR, "store_failed", "error", store_error(engine_store(s->e)), NULL);
    job_answer_error(j, 503, "the store failed; retry later");
  } else if (!found) {
    job_answer_error(j, 401, "not signed in to the console (the session has expired or was "
                             "signed out): sign in again");
  }
  return found > 0;
}

int console_refused(server *s, job *j) {
  console_session sess;
  if (!session_of(s, j, &sess)) return 1;
  if (kind_changes(j->kind) && !equal_secret(j->csrf, sess.csrf))
    job_answer_error(j, 403, "a change needs the session's CSRF token in X-CSRF-Token");
  else if (*j->botname && !may_see(&sess, j->botname))
    job_answer_error(j, 403, "this session may not see that bot");
  else {
    j->signed_in = xmalloc(sizeof sess);
    *j->signed_in = sess;
    return 0;
  }
  console_session_free(&sess);
  return 1;
}

/* {"who", "role", "bots", "csrf", "expires_at"} */
static json_t *session_json(const console_session *sess) {
  json_t *bots = sess->bots ? json_loads(sess->bots, 0, NULL) : NULL;
  return json_pack("{s:s, s:s, s:o, s:s, s:I}", "who", sess->who, "role",
                   sess->bots ? "operator" : "admin", "bots", bots ? bots : json_null(),
                   "csrf", sess->csrf, "expires_at", (json_int_t)sess->expires_at);
}

/* A name to record actions under: 1 to 64 bytes of UTF-8, no control
 * characters. */
static const char *name_problem(const char *name) {
  if (!name || !*name) return "sign-in needs a name (who is signing in)";
  if (strlen(name) > NAME_MAX_BYTES) return "the name is longer than 64 bytes";
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return "the name has a control character";
  return NULL;
}

/* Failed sign-ins by client address: past SIGN_IN_TRIES in a window of
 * SIGN_IN_WINDOW_MS, the address is refused (429) until the window ends,
 * whatever token it brings: an operator token a person chose cannot be
 * guessed at the server's speed. On the engine thread only. Behind a
 * proxy every client has the proxy's address. */
enum { SIGN_IN_TRIES = 10, SIGN_IN_WINDOW_MS = 60000, SIGN_IN_ADDRESSES = 256 };
static struct failed_sign_ins {
  char address[64];
  int64_t since;
  int count;
} failed[SIGN_IN_ADDRESSES];

/* The address's entry: its own, else the oldest one, taken for it. */
static struct failed_sign_ins *failures_of(const char *address, int64_t now) {
  struct failed_sign_ins *oldest = &failed[0];
  for (int i = 0; i < SIGN_IN_ADDRESSES; i++) {
    if (strcmp(failed[i].address, address) == 0) {
      if (now - failed[i].since >= SIGN_IN_WINDOW_MS) failed[i].count = 0, failed[i].since = now;
      return &failed[i];
    }
    if (failed[i].since < oldest->since) oldest = &failed[i];
  }
  snprintf(oldest->address, sizeof oldest->address, "%s", address);
  oldest->since = now;
  oldest->count = 0;
  return oldest;
}

struct operator_match {
  server *s;
  const char *token;
  json_t *bots;
};

static void match_operator(void *ud, const char *bot, const bot_counts *c) {
  (void)c;
  struct operator_match *m = ud;
  const char *want = m->s->cfg.secret ? m->s->cfg.secret(bot, "operator_token") : NULL;
  if (want && *want && equal_secret(m->token, want)) json_array_append_new(m->bots, json_string(bot));
}

/* application/json, with or without parameters */
static int is_json(const char *type) {
  size_t n = strlen("application/json");
  return type && strncasecmp(type, "application/json", n) == 0 &&
         (type[n] == 0 || type[n] == ';' || type[n] == ' ');
}

static void sign_in(server *s, job *j) {
  char address[64];
  remote_address(j->conn, address, sizeof address);
  struct failed_sign_ins *tries = failures_of(address, wall_ms());
  if (tries->count >= SIGN_IN_TRIES) {
    log_rejected(j->conn, "console", "throttled", NULL, "console/session");
    job_answer_error(j, 429, "too many failed sign-ins from this address: wait a minute");
    return;
  }
  if (!is_json(j->content_type)) { /* a form of another site cannot send JSON */
    job_answer_error(j, 415, "sign in with a JSON body {\"token\", \"name\"} "
                             "(Content-Type: application/json)");
    return;
  }
  json_error_t jerr;
  json_t *body = json_loadb(j->body.data ? j->body.data : "", j->body.len, 0, &jerr);
  const char *token = json_string_value(json_object_get(body, "token"));
  const char *name = json_string_value(json_object_get(body, "name"));
  const char *problem = !json_is_object(body) ? "the body must be a JSON object {\"token\", \"name\"}"
                        : !token || !*token ? "sign-in needs the admin token or an operator token"
                                            : name_problem(name);
  if (problem) {
    job_answer_error(j, 400, problem);
    json_decref(body);
    return;
  }
  json_t *bots = NULL; /* NULL: the admin, every bot */
  if (!s->cfg.admin_token || !equal_secret(token, s->cfg.admin_token)) {
    struct operator_match m = {s, token, json_array()};
    engine_each_bot_counts(s->e, match_operator, &m);
    bots = m.bots;
    if (!json_array_size(bots)) {
      tries->count++;
      log_rejected(j->conn, "console", "token", NULL, "console/session");
      job_answer_error(j, 403, "that token is neither the admin token nor a bot's operator token");
      json_decref(bots);
      json_decref(body);
      return;
    }
  }
  char secret[2 * SECRET_BYTES + 1], csrf[2 * SECRET_BYTES + 1], id[65];
  if (random_hex(secret, SECRET_BYTES) || random_hex(csrf, SECRET_BYTES)) {
    job_answer_error(j, 503, "no random bytes for a session; retry later");
    json_decref(bots);
    json_decref(body);
    return;
  }
  sha256_hex(secret, id);
  int64_t now = engine_now(s->e);
  char *bots_json = bots ? json_dumps(bots, JSON_COMPACT) : NULL;
  console_session sess = {.id = id, .who = (char *)name, .bots = bots_json, .csrf = csrf,
                          .created_at = now, .expires_at = now + s->cfg.console_session_ms};
  char err[512];
  if (engine_session_add(s->e, &sess, err, sizeof err)) {
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    job_answer_error(j, 503, "the store failed; retry later");
  } else {
    int https = strncmp(s->cfg.public_url ? s->cfg.public_url : "", "https://", 8) == 0;
    j->set_cookie = xasprintf(CONSOLE_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                              secret, (long long)(s->cfg.console_session_ms / 1000),
                              https ? "; Secure" : "");
    tries->count = 0;
    log_event(LOG_INFO, "signed_in", "who", name, "role", bots ? "operator" : "admin", NULL);
    job_answer(j, 200, session_json(&sess));
  }
  free(bots_json);
  json_decref(bots);
  json_decref(body);
}

static void sign_out(server *s, job *j) {
  char id[65], err[512];
  sha256_hex(j->session, id);
  if (engine_session_end(s->e, id, err, sizeof err)) {
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    job_answer_error(j, 503, "the store failed; retry later");
    return;
  }
  j->set_cookie = xstrdup(CONSOLE_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
  job_answer(j, 200, json_pack("{s:s}", "status", "signed_out"));
}

struct bot_list {
  const console_session *sess; /* NULL: the admin token */
  json_t *bots;
};

static void add_bot(void *ud, const char *bot, const bot_counts *c) {
  struct bot_list *l = ud;
  if (l->sess && !may_see(l->sess, bot)) return;
  json_array_append_new(l->bots, json_pack("{s:s, s:i, s:i, s:i}", "name", bot, "messages_in",
                                           (int)c->messages_in, "replies", (int)c->replies,
                                           "errors", (int)c->errors));
}

static int by_name(const void *a, const void *b) {
  return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static void sort_by_name(json_t *list) {
  size_t n = json_array_size(list);
  json_t **items = xcalloc(n ? n : 1, sizeof *items);
  for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(list, i));
  qsort(items, n, sizeof *items, by_name);
  json_array_clear(list);
  for (size_t i = 0; i < n; i++) json_array_append_new(list, items[i]);
  free(items);
}

enum { ACTION_TEXT_MAX = 1600 }; /* ten SMS segments of GSM-7 */

int console_action_event(job *j) {
  json_t *body = j->body.len ? json_loadb(j->body.data, j->body.len, 0, NULL) : json_object();
  const char *text = json_string_value(json_object_get(body, "text"));
  const char *who = j->signed_in ? j->signed_in->who
                                 : json_string_value(json_object_get(body, "who"));
  const char *action = j->event_type + strlen(ENGINE_CONSOLE_EVENT_PREFIX);
  const char *problem =
      !json_is_object(body) ? "the body must be a JSON object like {\"text\": \"...\"}"
      : !who || !*who       ? "who did it: \"who\" in the body (a signed-in person is named by "
                              "the session)"
      : name_problem(who)   ? name_problem(who)
      : (strcmp(action, "reply") == 0 || strcmp(action, "note") == 0) && (!text || !*text)
          ? "a reply or a note needs \"text\""
      : text && strlen(text) > ACTION_TEXT_MAX ? "the text is longer than 1600 bytes"
                                               : NULL;
  if (problem) {
    job_answer_error(j, 400, problem);
    json_decref(body);
    return 1;
  }
  json_t *data = json_pack("{s:s, s:s}", "who", who, "text", text ? text : "");
  j->event_data = json_dumps(data, JSON_COMPACT);
  json_decref(data);
  json_decref(body);
  free(j->from);
  j->from = j->item; /* the contact's number */
  j->item = NULL;
  j->kind = JOB_EVENT;
  return 0;
}

void console_run(server *s, job *j) {
  if (j->kind == JOB_SESSION_CREATE) {
    sign_in(s, j);
    return;
  }
  const console_session *sess = j->signed_in; /* console_refused's; NULL: the admin token */
  if (j->kind == JOB_SESSION_GET) {
    job_answer(j, 200, session_json(sess));
  } else if (j->kind == JOB_SESSION_END) {
    sign_out(s, j);
  } else if (j->kind == JOB_FEED) { /* a stream lasts a few minutes, never past its session */
    int64_t left = sess ? sess->expires_at - engine_now(s->e) : FEED_STREAM_MS;
    j->feed_open = 1;
    j->feed_bots = sess && sess->bots ? xstrdup(sess->bots) : NULL;
    j->feed_until_ms = wall_ms() + (left < FEED_STREAM_MS ? left : FEED_STREAM_MS);
  } else if (j->kind == JOB_BOTS) {
    struct bot_list l = {sess, json_array()};
    engine_each_bot_counts(s->e, add_bot, &l);
    sort_by_name(l.bots);
    job_answer(j, 200, json_pack("{s:o}", "bots", l.bots));
  } else {
    bot *b = engine_find_bot(s->e, j->botname);
    char err[512];
    int rc;
    if (!b) {
      job_answer_error(j, 404, "no such bot");
    } else if (j->kind == JOB_CONVERSATIONS) {
      console_inbox(s, j, b);
    } else if (j->kind == JOB_SIM) {
      console_sim_run(s, j, b);
    } else if (j->kind == JOB_STATS) {
      console_numbers(s, j, b);
    } else if ((rc = engine_inbox_read(s->e, b, j->item, err, sizeof err)) < 0) {
      log_event(LOG_ERROR, "store_failed", "error", err, NULL);
      job_answer_error(j, 503, "the store failed; retry later");
    } else {
      if (rc) job_answer(j, 200, json_pack("{s:s}", "status", "read"));
      else job_answer_error(j, 404, "no such contact");
    }
  }
}
