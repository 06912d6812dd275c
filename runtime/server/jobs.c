/* jobs: what a request becomes (a job) and how it gets back. A job is
 * queued for the engine thread with its connection suspended, answered
 * (respond, respond_error) once its batch is durable; the route table says
 * which bot serves a number. Below the routes of http_server.c, the
 * webhooks (webhooks.c) and the upload worker, which all make jobs. */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "store_console.h"
#include "log.h"
#include "script.h"
#include "util.h"

void job_free(job *j) {
  free(j->from);
  free(j->to);
  free(j->text);
  free(j->provider_id);
  free(j->event_type);
  free(j->event_data);
  free(j->event_status);
  free(j->event_error);
  free(j->media_json);
  free(j->ticket);
  free(j->dl_status);
  free(j->dl_error);
  free(j->botname);
  free(j->click_url);
  free(j->http_body);
  free(j->content_type);
  buf_free(&j->body);
  json_decref(j->query);
  json_decref(j->relay_result);
  free(j->item);
  free(j->session);
  free(j->csrf);
  free(j->set_cookie);
  free(j->feed_bots);
  if (j->signed_in) console_session_free(j->signed_in);
  free(j->signed_in);
  for (size_t i = 0; i < j->nreplies; i++) free(j->replies[i]);
  free(j->replies);
  free(j->reply_ids);
  free(j->http_error);
  for (size_t i = 0; i < 2 * j->http_nheaders; i++) free(j->http_headers[i]);
  free(j->http_headers);
  script_free(j->unpacked);
  for (size_t i = 0; i < j->nbatch; i++) job_free(j->batch[i]);
  free(j->batch);
  free(j);
}

void job_resume(job *j) {
  atomic_store(&j->done, 1);
  if (!j->group) {
    MHD_resume_connection(j->conn);
  } else if (atomic_fetch_sub(&j->group->pending, 1) == 1) { /* its batch's last */
    atomic_store(&j->group->done, 1);
    MHD_resume_connection(j->group->conn);
  }
}

enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                        const char *body) {
  if (!body) { /* a body that could not be made (JSON refuses invalid UTF-8) */
    status = 500;
    type = "application/json";
    body = "{\"error\":\"the answer could not be written as JSON\"}";
  }
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
                              const char *message) {
  json_t *o = json_pack("{s:s}", "error", message);
  char *body = json_dumps(o, JSON_COMPACT);
  enum MHD_Result rc = respond(conn, status, "application/json", body);
  free(body);
  json_decref(o);
  return rc;
}

/* Appends j to the queue, under mu. The engine thread takes the whole
 * queue at once and waits only when it is empty, so only the first job
 * after it was emptied needs to wake it. */
static void append_locked(server *s, job *j) {
  if (s->tail) {
    s->tail->next = j;
  } else {
    s->head = j;
    pthread_cond_signal(&s->cv);
  }
  s->tail = j;
}

void queue_job(server *s, job *j) {
  pthread_mutex_lock(&s->mu);
  append_locked(s, j);
  pthread_mutex_unlock(&s->mu);
}

/* j, the request's job, taken: its connection suspended and mu held (0);
 * or, when the server is stopping, j freed and the request answered 503
 * (1, with *rc). */
static int suspended(server *s, struct MHD_Connection *conn, request *r, job *j,
                     enum MHD_Result *rc) {
  if (!j->botname) j->botname = xstrdup("");
  j->conn = conn;
  j->arrived_ns = mono_ns();
  pthread_mutex_lock(&s->mu);
  if (s->refusing) { /* the last jobs are being answered: nothing new */
    pthread_mutex_unlock(&s->mu);
    job_free(j);
    *rc = respond_error(conn, 503, "the server is stopping; retry later");
    return 1;
  }
  r->job = j;
  MHD_suspend_connection(conn);
  return 0;
}

enum MHD_Result start_job(server *s, struct MHD_Connection *conn, request *r, job *j) {
  enum MHD_Result rc = MHD_YES;
  if (suspended(s, conn, r, j, &rc)) return rc;
  if (j->kind == JOB_RELOAD && s->uploads && script_body_is_archive(j->content_type)) {
    pthread_mutex_unlock(&s->mu); /* unpacked first, off this thread and the engine's */
    upload_worker_submit(s->uploads, j);
    return MHD_YES;
  }
  append_locked(s, j);
  pthread_mutex_unlock(&s->mu);
  return MHD_YES;
}

enum MHD_Result start_batch(server *s, struct MHD_Connection *conn, request *r, job *batch) {
  enum MHD_Result rc = MHD_YES;
  if (suspended(s, conn, r, batch, &rc)) return rc;
  int queued = 0;
  for (size_t i = 0; i < batch->nbatch; i++) queued += !atomic_load(&batch->batch[i]->done);
  atomic_store(&batch->pending, queued);
  for (size_t i = 0; i < batch->nbatch; i++) {
    job *j = batch->batch[i];
    if (atomic_load(&j->done)) continue; /* answered already (refused) */
    j->conn = conn;
    j->group = batch;
    j->arrived_ns = batch->arrived_ns;
    append_locked(s, j); /* together: run in one round, in order */
  }
  pthread_mutex_unlock(&s->mu);
  if (!queued) { /* nothing for the engine: answered now */
    atomic_store(&batch->done, 1);
    MHD_resume_connection(conn);
  }
  return MHD_YES;
}

typedef struct route_list {
  struct route *v;
  size_t n;
} route_list;

static void add_route(void *ud, const char *number, const char *botname) {
  route_list *l = ud;
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i].number, number) == 0) {
      if (strcmp(l->v[i].bot, botname) != 0)
        log_event(LOG_WARN, "number_conflict", "number", number, "bot", botname, "routed_to",
                  l->v[i].bot, NULL);
      return;
    }
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = (struct route){xstrdup(number), xstrdup(botname)};
}

void routes_free(struct route *v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i].number), free(v[i].bot);
  free(v);
}

/* On the engine thread, after bots were loaded or replaced. */
void routes_refresh(server *s) {
  route_list l = {0};
  engine_each_number(s->e, add_route, &l);
  pthread_mutex_lock(&s->routes_mu);
  struct route *old = s->routes;
  size_t nold = s->nroutes;
  s->routes = l.v;
  s->nroutes = l.n;
  pthread_mutex_unlock(&s->routes_mu);
  routes_free(old, nold);
}

/* The name of the bot serving number (a copy), or NULL. "+15550100",
 * "15550100" and " 15550100" (a + unescaped in a query) are one number. */
char *route_of(server *s, const char *number) {
  if (!number) return NULL;
  while (*number == ' ' || *number == '+') number++;
  char *found = NULL;
  pthread_mutex_lock(&s->routes_mu);
  for (size_t i = 0; i < s->nroutes && !found; i++) {
    const char *n = s->routes[i].number;
    if (strcmp(n + (*n == '+'), number) == 0) found = xstrdup(s->routes[i].bot);
  }
  pthread_mutex_unlock(&s->routes_mu);
  return found;
}
