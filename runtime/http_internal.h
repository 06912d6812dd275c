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
#include "util.h"

enum job_kind {
  JOB_TWILIO, JOB_JSON, JOB_KANNEL, JOB_EVENT,      /* messages: batched */
  JOB_RELOAD, JOB_VERSIONS, JOB_ROLLBACK,           /* admin: one at a time */
  JOB_METRICS,                                     /* read on the engine thread */
  JOB_CONTACTS, JOB_CONTACT, JOB_CONTACT_MESSAGES, /* admin reads */
  JOB_CONSENT_CSV, JOB_BROADCAST, JOB_CONTACT_UPDATE, JOB_CONTACT_ERASE,
  JOB_BROADCAST_CREATE, JOB_BROADCAST_CANCEL
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
  json_t *query;        /* admin reads: the query parameters */
  char *item;           /* admin reads: the contact's number, the broadcast's id */
  char *from, *to, *text, *provider_id;
  char *event_type, *event_data; /* JOB_EVENT */
  char *media_json;              /* media URLs, a JSON list */
  char **replies; /* texts sent back to `from` in answer */
  size_t nreplies;
  int failed;     /* the engine could not take it: 503 */
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
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  volatile sig_atomic_t stopping;
};

/* The answer of a job (the engine thread writes it; the HTTP thread sends
 * it once the batch is durable). body is taken. */
void job_answer(job *j, unsigned status, json_t *body);
void job_answer_error(job *j, unsigned status, const char *message);

/* Runs an admin job (reload, rollback, metrics, contacts, broadcasts, ...)
 * on the engine thread, every batch before it committed (admin_api.c). */
void admin_run(server *s, job *j);

#endif
