/* upload_worker: the thread that unpacks the archives sent as scripts (PUT
 * /v1/bots/BOT/script with a tar, gzip, bzip2, ... body), one at a time, so
 * that neither libmicrohttpd's thread (every connection) nor the engine
 * thread (every message) ever decompresses. An archive's job goes to the
 * engine with its files unpacked (job->unpacked), or is answered here: 413
 * when it unpacks past script_from_tar's caps, 400 when it is not a tar. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_internal.h"
#include "log.h"
#include "script.h"

struct upload_worker {
  server *s;
  void (*ready)(server *s, job *j); /* an archive unpacked: its job goes on */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail; /* waiting to be unpacked */
  int stopping, stopped;
};

/* Answers j now: its connection is resumed with the answer set. */
static void answer_now(job *j) {
  atomic_store(&j->done, 1);
  MHD_resume_connection(j->conn);
}

static void unpack(upload_worker *w, job *j) {
  char err[1024];
  int over_cap = 0;
  char *label = xasprintf("%s (uploaded)", j->botname);
  j->unpacked = script_from_tar(j->botname, label, j->body.data, j->body.len, &over_cap,
                                err, sizeof err);
  free(label);
  if (j->unpacked) {
    w->ready(w->s, j);
    return;
  }
  job_answer_error(j, over_cap ? 413 : 400, err);
  log_event(LOG_WARN, "reload_refused", "bot", j->botname, "reason",
            over_cap ? "archive_too_large" : "archive", "error", err, NULL);
  answer_now(j);
}

static void *run(void *arg) {
  upload_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
    job *j = w->head;
    if (!j) break; /* stopping, nothing left */
    w->head = j->next;
    if (!w->head) w->tail = NULL;
    j->next = NULL;
    int stopping = w->stopping;
    pthread_mutex_unlock(&w->mu);
    if (stopping) {
      job_answer_error(j, 503, "the server is stopping; retry later");
      answer_now(j);
    } else {
      unpack(w, j);
    }
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

upload_worker *upload_worker_start(server *s, void (*ready)(server *s, job *j), char *err,
                                   size_t errlen) {
  upload_worker *w = xcalloc(1, sizeof *w);
  w->s = s;
  w->ready = ready;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, run, w) != 0) {
    snprintf(err, errlen, "cannot start the thread that unpacks uploaded archives");
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  return w;
}

void upload_worker_submit(upload_worker *w, job *j) {
  pthread_mutex_lock(&w->mu);
  if (w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void upload_worker_stop(upload_worker *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  int joined = w->stopped;
  w->stopping = w->stopped = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (!joined) pthread_join(w->thread, NULL);
}

void upload_worker_free(upload_worker *w) {
  if (!w) return;
  upload_worker_stop(w);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
