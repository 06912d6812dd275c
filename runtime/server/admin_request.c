/* admin_request: an admin API request's credentials (the admin token, or a
 * console session) and the job it becomes, shared by the routes of
 * http_server.c and console.c. */
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "util.h"

char *console_cookie(struct MHD_Connection *conn) {
  const char *v = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, CONSOLE_COOKIE);
  return v && *v ? xstrdup(v) : NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  (void)kind;
  json_object_set_new(cls, key, json_string(value ? value : ""));
  return MHD_YES;
}

/* The admin endpoint a job kind is asked at, as the log names it. */
const char *admin_endpoint(enum job_kind kind) {
  switch (kind) {
    case JOB_RELOAD: return "script";
    case JOB_VERSIONS: return "versions";
    case JOB_ROLLBACK: return "rollback";
    case JOB_CONSENT_CSV: return "consent.csv";
    case JOB_CONTACTS_IMPORT: return "contacts/import";
    case JOB_CONTACTS_CSV: return "contacts.csv";
    case JOB_BROADCAST: case JOB_BROADCAST_CREATE: case JOB_BROADCAST_CANCEL:
    case JOB_BROADCASTS: case JOB_BROADCAST_PREVIEW: return "broadcasts";
    case JOB_BOTS: return "bots";
    case JOB_CONVERSATIONS: case JOB_CONVERSATION_READ: return "conversations";
    case JOB_SESSION_CREATE: case JOB_SESSION_GET: case JOB_SESSION_END: return "console/session";
    case JOB_FEED: return "console/events";
    case JOB_SIM: return "sim";
    case JOB_STATS: return "stats";
    case JOB_CONSOLE_ACTION: return "conversations";
    case JOB_VERSION_FILES: case JOB_VERSION_TEST: return "versions";
    case JOB_MEDIA: return "media";
    case JOB_LINKS: return "links";
    case JOB_CLICKS: return "clicks";
    case JOB_TRANSCRIPT: return "transcript";
    default: return "contacts";
  }
}

/* 0 if the request carries the admin token, or a console session (checked
 * on the engine thread: console_refused) for any endpoint but the script's
 * upload; else it has been answered (401, 403) and logged as rejected. */
int admin_refused(server *s, struct MHD_Connection *conn, const char *b, const char *endpoint,
                  enum MHD_Result *rc) {
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  const char *want = s->cfg.admin_token;
  if (!auth || strncmp(auth, "Bearer ", 7) != 0) {
    char *session = strcmp(endpoint, "script") != 0 ? console_cookie(conn) : NULL;
    int signed_in = session != NULL;
    free(session);
    if (signed_in) return 0;
    log_rejected(conn, "admin", "missing", b, endpoint);
    *rc = respond_error(conn, 401, "an Authorization: Bearer admin token is required");
    return -1;
  }
  if (!want || strlen(auth + 7) != strlen(want) ||
      CRYPTO_memcmp(auth + 7, want, strlen(want)) != 0) {
    log_rejected(conn, "admin", "token", b, endpoint);
    *rc = respond_error(conn, 403, "the bearer token is not this server's admin token");
    return -1;
  }
  return 0;
}

enum MHD_Result admin_job(server *s, struct MHD_Connection *conn, request *r, const char *b,
                          enum job_kind kind, char *item) {
  enum MHD_Result rc;
  if (admin_refused(s, conn, b, admin_endpoint(kind), &rc)) {
    free(item);
    return rc;
  }
  job *j = xcalloc(1, sizeof *j);
  j->kind = kind;
  j->item = item; /* taken */
  j->botname = xstrdup(b);
  j->from = xstrdup("");
  j->text = xstrdup("");
  const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  j->content_type = xstrdup(type ? type : "");
  j->body = r->body; /* taken: its memory stays counted until the request ends */
  r->body = (buf){0};
  j->query = json_object();
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, j->query);
  if (r->action) /* the event it becomes: console_action_event */
    j->event_type = xasprintf(ENGINE_CONSOLE_EVENT_PREFIX "%s", r->action);
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (!auth || strncmp(auth, "Bearer ", 7) != 0) { /* signed in to the console */
    j->session = console_cookie(conn);
    const char *csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
    j->csrf = csrf ? xstrdup(csrf) : NULL;
  }
  return start_job(s, conn, r, j);
}

