/* cluster: the node's membership, lease and partitions (see cluster.h).
 * Two connections: the renewal thread's, and the engine thread's for
 * joining, taking and giving back partitions. */
#include "cluster.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "partition.h"
#include "store_cluster.h"
#include "util.h"

struct cluster {
  char *url;
  char *address;
  long lease_ms;
  store_fence fence; /* the engine's writer checks it */
  store *ctl;        /* the engine thread's */
  store *hb;         /* the renewal thread's: reopened after a failure */
  pthread_t thread;
  pthread_t listener;    /* the inbox's news (LISTEN), on a connection of its own */
  int listening;
  void (*on_inbox)(void *ud, int kind, const char *payload);
  void *on_inbox_ud;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  int quit;
  int fenced;   /* the renewal found the node's row gone: join again */
  int share;    /* partitions this node should hold */
  int live;     /* nodes whose lease runs */
  int store_ok; /* the last renewal reached the database */
  char store_err[512];
  unsigned char held[PARTITIONS]; /* what the engine runs (engine thread; read under mu) */
  /* the engine thread's own */
  unsigned char releasing[PARTITIONS]; /* given back by the engine, not yet in the store */
  char secret[128];                    /* what relays show (store_cluster_secret) */
  char holder[PARTITIONS][96];         /* where the other nodes' partitions are run */
  int64_t next_holders_ms;             /* mono: holder is read again then */
};

static void pause_ms(long ms) {
  struct timespec t = {ms / 1000, ms % 1000 * 1000000L};
  nanosleep(&t, NULL);
}

static void *renewal_main(void *arg) {
  cluster *c = arg;
  pthread_setname_np(pthread_self(), "parley-lease");
  pthread_mutex_lock(&c->mu);
  while (!c->quit) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + c->lease_ms / 3 * 1000000L;
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&c->cv, &c->mu, &until);
    if (c->quit) break;
    int64_t fence = atomic_load(&c->fence.fence);
    pthread_mutex_unlock(&c->mu);
    char err[512] = "";
    if (!c->hb) c->hb = store_open(c->url, err, sizeof err);
    int renewed = c->hb ? store_node_renew(c->hb, c->fence.node_id, fence, c->lease_ms) : -1;
    int live = renewed == 0 && store_nodes_expire(c->hb) >= 0 && store_inbox_sweep(c->hb) == 0
                   ? store_nodes_live(c->hb)
                   : -1;
    if (c->hb && (renewed < 0 || live < 0)) {
      snprintf(err, sizeof err, "%s", store_error(store_reads(c->hb)));
      store_close(c->hb); /* a new connection next time: the server may be back */
      c->hb = NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->store_ok = renewed >= 0 && live >= 0;
    snprintf(c->store_err, sizeof c->store_err, "%s", err);
    if (renewed == 1 && fence == atomic_load(&c->fence.fence)) c->fenced = 1;
    if (live > 0) {
      c->live = live;
      c->share = (PARTITIONS + live - 1) / live;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void *listener_main(void *arg) {
  cluster *c = arg;
  pthread_setname_np(pthread_self(), "parley-listen");
  store *st = NULL;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    int quit = c->quit;
    void (*fn)(void *, int, const char *) = c->on_inbox;
    void *ud = c->on_inbox_ud;
    pthread_mutex_unlock(&c->mu);
    if (quit) break;
    char err[512];
    if (!st && (st = store_open(c->url, err, sizeof err)) && store_listen(st)) {
      store_close(st);
      st = NULL;
    }
    if (!st) { /* the database is away: try again soon */
      pause_ms(200);
      continue;
    }
    if (store_wait_notify(st, 200, fn, ud) < 0) {
      store_close(st);
      st = NULL;
    }
  }
  store_close(st);
  return NULL;
}

void cluster_contacts_changed(cluster *c) {
  if (store_contacts_changed(c->ctl)) /* the other nodes' caches may be stale until restarted */
    log_event(LOG_ERROR, "contacts_unannounced", "error", store_error(store_reads(c->ctl)), NULL);
}

void cluster_on_inbox(cluster *c, void (*fn)(void *ud, int kind, const char *payload),
                      void *ud) {
  pthread_mutex_lock(&c->mu);
  c->on_inbox = fn;
  c->on_inbox_ud = ud;
  pthread_mutex_unlock(&c->mu);
}

static int count(const unsigned char *set) {
  int n = 0;
  for (int p = 0; p < PARTITIONS; p++) n += set[p] != 0;
  return n;
}

/* Tells the engine which partitions it runs now. */
static void set_engine(cluster *c, engine *e, const unsigned char *held) {
  char err[1024];
  if (engine_set_partitions(e, held, err, sizeof err))
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
  pthread_mutex_lock(&c->mu);
  memcpy(c->held, held, PARTITIONS);
  pthread_mutex_unlock(&c->mu);
}

static int join(cluster *c, char *err, size_t errlen) {
  int64_t fence = 0;
  int rc = store_node_join(c->ctl, c->fence.node_id, c->address, c->lease_ms, &fence);
  if (rc == 0) atomic_store(&c->fence.fence, fence);
  else if (rc < 0) snprintf(err, errlen, "%s", store_error(store_reads(c->ctl)));
  else
    snprintf(err, errlen,
             "node id '%s' is taken by a live node (set another with --node-id or "
             "PARLEY_NODE_ID)",
             c->fence.node_id);
  return rc;
}

cluster *cluster_start(const cluster_config *cfg, engine *e, char *err, size_t errlen) {
  cluster *c = xcalloc(1, sizeof *c);
  c->url = xstrdup(cfg->db_url);
  c->address = xstrdup(cfg->address ? cfg->address : "");
  c->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : 3000;
  snprintf(c->fence.node_id, sizeof c->fence.node_id, "%s", cfg->node_id);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  c->store_ok = 1;
  c->ctl = store_open(c->url, err, errlen);
  if (!c->ctl) goto failed;
  /* an earlier run of this id (killed, its connection not yet gone) holds
   * its row until its lease ends */
  int rc;
  for (int waited = 0; (rc = join(c, err, errlen)) == 1 && waited < 2 * c->lease_ms;
       waited += 100)
    pause_ms(100);
  if (rc) goto failed;
  if (store_cluster_secret(c->ctl, c->secret, sizeof c->secret)) {
    snprintf(err, errlen, "%s", store_error(store_reads(c->ctl)));
    store_node_leave(c->ctl, c->fence.node_id, atomic_load(&c->fence.fence));
    goto failed;
  }
  unsigned char none[PARTITIONS] = {0};
  set_engine(c, e, none); /* the partitions come with the first ticks */
  c->fence.idle_ms = c->lease_ms;
  if (engine_set_fence(e, &c->fence, err, errlen)) {
    store_node_leave(c->ctl, c->fence.node_id, atomic_load(&c->fence.fence));
    goto failed;
  }
  c->share = PARTITIONS; /* until the first renewal counts the nodes */
  c->live = 1;
  c->listening = pthread_create(&c->listener, NULL, listener_main, c) == 0;
  if (pthread_create(&c->thread, NULL, renewal_main, c) != 0) {
    snprintf(err, errlen, "cannot start the lease's thread");
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_mutex_unlock(&c->mu);
    if (c->listening) pthread_join(c->listener, NULL);
    engine_set_fence(e, NULL, err, errlen);
    store_node_leave(c->ctl, c->fence.node_id, atomic_load(&c->fence.fence));
    goto failed;
  }
  return c;
failed:
  store_close(c->ctl);
  free(c->url);
  free(c->address);
  free(c);
  return NULL;
}

/* "0-85,200" */
static void ranges(const unsigned char *set, buf *out) {
  for (int p = 0; p < PARTITIONS; p++) {
    if (!set[p]) continue;
    int q = p;
    while (q + 1 < PARTITIONS && set[q + 1]) q++;
    if (out->len) buf_add(out, ",", 1);
    buf_printf(out, q > p ? "%d-%d" : "%d", p, q);
    p = q;
  }
}

/* Logs EVENT with the partitions in SET and the count the node holds. */
static void log_partitions(cluster *c, const char *event, const unsigned char *set) {
  buf which = {0};
  ranges(set, &which);
  char n[16], total[16];
  snprintf(n, sizeof n, "%d", count(set));
  snprintf(total, sizeof total, "%d", count(c->held));
  log_event(LOG_INFO, event, "node", c->fence.node_id, "count", n, "partitions",
            which.len ? which.data : "", "held", total, NULL);
  buf_free(&which);
}

/* Takes free partitions up to the share. */
static void claim(cluster *c, engine *e, int want) {
  unsigned char got[PARTITIONS];
  int64_t fence = atomic_load(&c->fence.fence);
  int n = store_partitions_claim(c->ctl, c->fence.node_id, fence, want, got);
  if (n < 0) {
    log_event(LOG_WARN, "partitions_unclaimed", "error", store_error(store_reads(c->ctl)), NULL);
    return;
  }
  if (n == 0) return;
  unsigned char held[PARTITIONS];
  for (int p = 0; p < PARTITIONS; p++) held[p] = c->held[p] || got[p];
  set_engine(c, e, held);
  log_partitions(c, "partitions_taken", got);
}

/* Gives back the highest partitions beyond the share: the engine stops
 * running them (its batches on them durable) before the store frees them. */
static void give_back(cluster *c, engine *e, int extra) {
  unsigned char held[PARTITIONS], given[PARTITIONS] = {0};
  memcpy(held, c->held, PARTITIONS);
  for (int p = PARTITIONS - 1; p >= 0 && extra > 0; p--)
    if (held[p]) held[p] = 0, given[p] = c->releasing[p] = 1, extra--;
  set_engine(c, e, held);
  log_partitions(c, "partitions_given_back", given);
}

static void note_holder(void *ud, int p, const char *address) {
  cluster *c = ud;
  snprintf(c->holder[p], sizeof c->holder[p], "%s", address);
}

/* The other nodes' partitions and addresses again, twice a second while
 * other nodes live (alone, the node holds them all: nothing to read). */
static void read_holders(cluster *c, int live) {
  int64_t now = mono_ns() / 1000000;
  if (now < c->next_holders_ms) return;
  c->next_holders_ms = now + 500;
  memset(c->holder, 0, sizeof c->holder);
  if (live <= 1) return;
  if (store_partition_holders(c->ctl, c->fence.node_id, note_holder, c))
    log_event(LOG_WARN, "holders_unread", "error", store_error(store_reads(c->ctl)), NULL);
}

const char *cluster_holder_address(cluster *c, int partition) {
  if (partition < 0 || partition >= PARTITIONS || c->held[partition]) return NULL;
  const char *a = c->holder[partition];
  /* nodes on several machines that each publish 127.0.0.1:8080 would
   * relay to themselves: not to this node's own address */
  return a[0] && strcmp(a, c->address) != 0 ? a : NULL;
}

const char *cluster_secret(cluster *c) { return c->secret; }

void cluster_tick(cluster *c, engine *e) {
  pthread_mutex_lock(&c->mu);
  int fenced = c->fenced, share = c->share, live = c->live;
  pthread_mutex_unlock(&c->mu);
  if (fenced) {
    log_event(LOG_WARN, "node_fenced", "node", c->fence.node_id, "detail",
              "its lease ran out and other nodes took its partitions; joining again", NULL);
    unsigned char none[PARTITIONS] = {0};
    set_engine(c, e, none);
    memset(c->releasing, 0, sizeof c->releasing);
    char err[512];
    if (join(c, err, sizeof err)) {
      log_event(LOG_ERROR, "join_failed", "error", err, NULL);
      return;
    }
    pthread_mutex_lock(&c->mu);
    c->fenced = 0;
    pthread_mutex_unlock(&c->mu);
  }
  if (count(c->releasing)) {
    if (store_partitions_release(c->ctl, c->fence.node_id, atomic_load(&c->fence.fence),
                                 c->releasing) == 0)
      memset(c->releasing, 0, sizeof c->releasing);
    else
      log_event(LOG_WARN, "partitions_kept", "error", store_error(store_reads(c->ctl)), NULL);
  }
  int n = count(c->held);
  if (n < share) claim(c, e, share - n);
  else if (n > share) give_back(c, e, n - share);
  read_holders(c, live);
}

char *cluster_health_json(cluster *c, int *ok) {
  buf held = {0};
  pthread_mutex_lock(&c->mu);
  ranges(c->held, &held);
  json_t *o = json_pack("{s:s, s:I, s:s, s:i, s:s, s:i}", "node", c->fence.node_id, "fence",
                        (json_int_t)atomic_load(&c->fence.fence), "store",
                        c->store_ok ? "ok" : "unreachable", "partitions", count(c->held),
                        "held", held.len ? held.data : "", "nodes", c->live);
  if (!c->store_ok) json_object_set_new(o, "error", json_string(c->store_err));
  *ok = c->store_ok;
  pthread_mutex_unlock(&c->mu);
  buf_free(&held);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

int cluster_inbox_take(cluster *c, int limit, void (*fn)(void *ud, const inbox_item *it),
                       void *ud) {
  char mask[PARTITIONS + 1];
  int any = 0;
  for (int p = 0; p < PARTITIONS; p++) any |= c->held[p], mask[p] = c->held[p] ? '1' : '0';
  mask[PARTITIONS] = 0;
  if (!any) return 0;
  int n = store_inbox_open(store_reads(c->ctl), mask, limit, fn, ud);
  if (n < 0) log_event(LOG_WARN, "inbox_unread", "error", store_error(store_reads(c->ctl)), NULL);
  return n;
}

int cluster_inbox_results(cluster *c, const char *const *tickets, size_t n,
                          void (*fn)(void *ud, const char *ticket, const char *state,
                                     const char *replies, const char *reply_ids),
                          void *ud) {
  return store_inbox_results(c->ctl, tickets, n, fn, ud);
}

int cluster_inbox_abandon(cluster *c, const char *ticket) {
  return store_inbox_abandon(c->ctl, ticket);
}

void cluster_inbox_forget(cluster *c, const char *const *tickets, size_t n) {
  if (store_inbox_forget_many(c->ctl, tickets, n))
    log_event(LOG_WARN, "inbox_kept", "error", store_error(store_reads(c->ctl)), NULL);
}

void cluster_held_mask(cluster *c, char *mask) {
  pthread_mutex_lock(&c->mu);
  for (int p = 0; p < PARTITIONS; p++) mask[p] = c->held[p] ? '1' : '0';
  pthread_mutex_unlock(&c->mu);
  mask[PARTITIONS] = 0;
}

int cluster_nodes_live(cluster *c) {
  pthread_mutex_lock(&c->mu);
  int n = c->live;
  pthread_mutex_unlock(&c->mu);
  return n;
}

void cluster_stop(cluster *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->quit = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  if (c->listening) pthread_join(c->listener, NULL);
  if (store_node_leave(c->ctl, c->fence.node_id, atomic_load(&c->fence.fence)))
    log_event(LOG_WARN, "leave_failed", "error", store_error(store_reads(c->ctl)), NULL);
  store_close(c->hb);
  store_close(c->ctl);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c->url);
  free(c->address);
  free(c);
}
