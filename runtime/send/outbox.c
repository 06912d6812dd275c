#include "outbox.h"

#include "partition.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "store.h"

enum { MAX_RESPONSE = 64 * 1024 }; /* of a provider's answer kept for reading */

/* ---------------------------------------------------------------- rates */

void bucket_init(token_bucket *b, double rate, int64_t now) {
  b->rate = rate > 0 ? rate : 1;
  b->burst = b->rate / 10 > 1 ? b->rate / 10 : 1; /* a tenth of a second's worth */
  b->tokens = b->burst;
  b->at = now;
}

static void refill(token_bucket *b, int64_t now) {
  if (now <= b->at) return;
  b->tokens += b->rate * (double)(now - b->at) / 1000.0;
  if (b->tokens > b->burst) b->tokens = b->burst;
  b->at = now;
}

int bucket_take(token_bucket *b, double cost, int64_t now) {
  refill(b, now);
  double need = cost < b->burst ? cost : b->burst;
  if (b->tokens + 1e-9 < need) return 0;
  b->tokens -= cost;
  return 1;
}

int64_t bucket_ready_at(const token_bucket *b, double cost, int64_t now) {
  token_bucket t = *b;
  refill(&t, now);
  double need = cost < t.burst ? cost : t.burst;
  if (t.tokens + 1e-9 >= need) return now;
  return now + (int64_t)ceil((need - t.tokens) * 1000.0 / t.rate);
}

static int is_short_code(const char *n) {
  size_t len = strlen(n);
  if (len < 3 || len > 8) return 0;
  for (const char *p = n; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

static int is_toll_free(const char *n) {
  static const char *const prefixes[] = {"+1800", "+1833", "+1844", "+1855",
                                         "+1866", "+1877", "+1888"};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (strncmp(n, prefixes[i], 5) == 0) return 1;
  return 0;
}

const provider_config *outbox_provider(const outbox_bot_config *c, const char *sender) {
  channel ch = channel_of(sender);
  if (ch == CHANNEL_SMS) return &c->provider;
  return c->channels[ch].kind ? &c->channels[ch] : NULL;
}

double outbox_rate_for(const outbox_bot_config *c, const char *number) {
  if (channel_of(number) != CHANNEL_SMS) return CHANNEL_RATE;
  if (is_short_code(number)) return c->rate_short_code;
  if (is_toll_free(number)) return c->rate_toll_free;
  return c->rate_long_code;
}

/* ---------------------------------------------------------------- state */

typedef struct bot_entry {
  int64_t id;
  char *name;
  const outbox_bot_config *cfg;
  /* per channel (its own account at its own provider): the provider
   * refused the account, nothing goes until then; how long the next pause
   * is (doubles) */
  int64_t paused_until[CHANNEL_COUNT];
  int64_t pause_ms[CHANNEL_COUNT];
} bot_entry;

typedef struct sender {
  int64_t bot;
  char *number;
  token_bucket bucket;
} sender;

/* One message on its way. */
typedef struct flight {
  outbox_row row;
  bot_entry *bot;
  const provider_ops *ops;
  const provider_config *provider; /* the bot's, for the message's channel */
  http_request req;
  struct curl_slist *headers;
  buf answer;
  CURL *easy;
  send_result res;
  size_t claim; /* its claim in the journal that claims it */
  struct flight *next;
} flight;

struct outbox {
  outbox_options opt;
  store_reader *st; /* reads: its writes go to the writer (opt.apply) */
  CURLM *multi;
  pthread_t thread;
  atomic_int stopping, ended;
  int64_t stop_by; /* ms: when stopping gives up on requests in flight */
  bot_entry **bots; /* each allocated once: flights point at them */
  size_t nbots;
  sender *senders;
  size_t nsenders;
  flight *done;    /* answered, to record */
  int ndone;
  int64_t done_since; /* when the oldest of them was answered */
  flight *flying;  /* requests in flight */
  atomic_int in_flight;
  unsigned seed;   /* of the retry jitter */
  /* the earliest retry time (0: none); only the sender sets retries, so it
   * is read from the store once and then kept here */
  int64_t next_retry;
  size_t turn; /* which sending number fill starts with */
  char mask[PARTITIONS + 1]; /* opt.partitions's, the reader's filter */
  int64_t next_sweep;        /* several nodes: when to put back stale sends */
  pthread_mutex_t mu;
  outbox_stats stats;
};

static bot_entry *bot_of(outbox *ob, int64_t id) {
  for (size_t i = 0; i < ob->nbots; i++)
    if (ob->bots[i]->id == id) return ob->bots[i];
  char *name = store_bot_name(ob->st, id);
  if (!name) return NULL;
  const outbox_bot_config *cfg = ob->opt.config_for(ob->opt.ud, name);
  if (!cfg) /* logged by config_for; its messages wait in the outbox */
    log_event(LOG_ERROR, "bot_not_sending", "bot", name, NULL);
  bot_entry *b = xmalloc(sizeof *b);
  *b = (bot_entry){.id = id, .name = name, .cfg = cfg};
  ob->bots = xrealloc(ob->bots, (ob->nbots + 1) * sizeof *ob->bots);
  ob->bots[ob->nbots++] = b;
  return b;
}

static sender *sender_of(outbox *ob, const bot_entry *bot, const char *number, int64_t now) {
  for (size_t i = 0; i < ob->nsenders; i++)
    if (ob->senders[i].bot == bot->id && strcmp(ob->senders[i].number, number) == 0)
      return &ob->senders[i];
  ob->senders = xrealloc(ob->senders, (ob->nsenders + 1) * sizeof *ob->senders);
  sender *s = &ob->senders[ob->nsenders++];
  s->bot = bot->id;
  s->number = xstrdup(number);
  bucket_init(&s->bucket, outbox_rate_for(bot->cfg, number), now);
  return s;
}

static void flight_free(flight *f) {
  outbox_row_free(&f->row);
  http_request_free(&f->req);
  curl_slist_free_all(f->headers);
  buf_free(&f->answer);
  if (f->easy) curl_easy_cleanup(f->easy);
  free(f);
}

static void count(outbox *ob, long *field) {
  pthread_mutex_lock(&ob->mu);
  (*field)++;
  pthread_mutex_unlock(&ob->mu);
}

/* ---------------------------------------------------------------- requests */

static size_t on_answer(char *data, size_t size, size_t n, void *ud) {
  flight *f = ud;
  size_t len = size * n;
  if (f->answer.len < MAX_RESPONSE)
    buf_add(&f->answer, data, len < MAX_RESPONSE - f->answer.len ? len : MAX_RESPONSE - f->answer.len);
  return len;
}

/* Hands a claimed message to its provider: a request in flight, or (sim, a
 * message that cannot be sent) straight to the answered ones. */
static void launch(outbox *ob, flight *f) {
  outgoing m = {f->row.id, f->row.sender, f->row.number, f->row.text, f->row.media,
                f->row.attempts + 1};
  int rc = f->ops->prepare(f->provider, &m, &f->req, &f->res);
  if (rc == 0) {
    f->easy = curl_easy_init();
    if (f->easy) {
      CURL *h = f->easy;
      curl_easy_setopt(h, CURLOPT_URL, f->req.url);
      if (strcmp(f->req.method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)f->req.body.len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, f->req.body.data ? f->req.body.data : "");
      }
      for (int i = 0; i < f->req.nheaders; i++)
        f->headers = curl_slist_append(f->headers, f->req.headers[i]);
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, f->headers);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ob->opt.timeout_ms);
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                       ob->opt.timeout_ms < 5000 ? ob->opt.timeout_ms : 5000L);
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(h, CURLOPT_USERAGENT, "parley");
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
      curl_easy_setopt(h, CURLOPT_PRIVATE, f);
      if (curl_multi_add_handle(ob->multi, h) == CURLM_OK) {
        ob->in_flight++;
        f->next = ob->flying;
        ob->flying = f;
        return;
      }
    }
    f->res.outcome = SEND_RETRY;
    send_reason(&f->res, "cannot start an HTTP request");
  }
  if (!ob->done) ob->done_since = wall_ms();
  f->next = ob->done;
  ob->done = f;
  ob->ndone++;
}

/* 1 if a message to number is on its way: in flight, or claimed in this
 * round (the list from claimed). Meta's channels show messages in the
 * order they were accepted: one at a time to a contact keeps a handler's
 * messages in the order it sent them. */
static int recipient_busy(const outbox *ob, const flight *claimed, const char *number) {
  for (const flight *f = ob->flying; f; f = f->next)
    if (strcmp(f->row.number, number) == 0) return 1;
  for (const flight *f = claimed; f; f = f->next)
    if (strcmp(f->row.number, number) == 0) return 1;
  return 0;
}

/* Claims what each sender may send now (its bucket and the room in flight
 * allow) in one commit, then launches it. Returns the earliest time a
 * waiting sender's bucket allows another message (0: none waits). */
static int64_t fill(outbox *ob, int64_t now) {
  int room = ob->opt.max_in_flight - ob->in_flight;
  int64_t next = 0;
  flight *claimed = NULL;
  journal claims = {0};
  /* every sending number with queued messages, served from a different one
   * each time so one number's bulk cannot keep the others' replies waiting
   * for room in flight */
  enum { MAX_SENDERS = 4096 };
  struct waiting {
    int64_t bot;
    char *number;
  } *list = NULL;
  size_t nlist = 0;
  int64_t bot_id = 0;
  char *number = NULL;
  while (nlist < MAX_SENDERS && store_outbox_next_sender(ob->st, &bot_id, &number) == 1) {
    list = xrealloc(list, (nlist + 1) * sizeof *list);
    list[nlist++] = (struct waiting){bot_id, xstrdup(number)};
  }
  free(number);
  size_t first = nlist ? ob->turn++ % nlist : 0;
  for (size_t k = 0; k < nlist && room > 0; k++) {
    bot_id = list[(first + k) % nlist].bot;
    number = list[(first + k) % nlist].number;
    bot_entry *bot = bot_of(ob, bot_id);
    const provider_config *provider = bot && bot->cfg ? outbox_provider(bot->cfg, number) : NULL;
    const provider_ops *ops = provider ? provider_find(provider->kind) : NULL;
    if (!ops) continue; /* no provider for this bot (or channel): its messages wait */
    int64_t paused = bot->paused_until[channel_of(number)];
    if (paused > now) { /* its account was refused: try again later */
      if (!next || paused < next) next = paused;
      continue;
    }
    sender *s = sender_of(ob, bot, number, now);
    int64_t ready = bucket_ready_at(&s->bucket, 1, now);
    if (ready > now) {
      if (!next || ready < next) next = ready;
      continue;
    }
    long limit = (long)s->bucket.tokens + 1;
    if (limit > room) limit = room;
    outbox_row *rows;
    size_t n;
    if (store_outbox_due(ob->st, bot_id, number, now, limit, &rows, &n)) {
      for (size_t i = 0; i < n; i++) outbox_row_free(&rows[i]);
      free(rows);
      break;
    }
    int one_at_a_time = channel_of(number) != CHANNEL_SMS;
    size_t waiting = 0; /* rows left for a contact with a message on its way */
    for (size_t i = 0; i < n && room > 0; i++) {
      if (one_at_a_time && recipient_busy(ob, claimed, rows[i].number)) {
        waiting++;
        continue;
      }
      double cost = bot->cfg->per_segment && rows[i].segments > 1 ? rows[i].segments : 1;
      if (!bucket_take(&s->bucket, cost, now)) {
        ready = bucket_ready_at(&s->bucket, cost, now);
        if (!next || ready < next) next = ready;
        break;
      }
      journal_outbox(&claims, J_OUTBOX_CLAIM, rows[i].id, NULL, 0, now);
      flight *f = xcalloc(1, sizeof *f);
      f->row = rows[i];
      memset(&rows[i], 0, sizeof rows[i]);
      f->bot = bot;
      f->ops = ops;
      f->provider = provider;
      f->claim = claims.n - 1;
      f->next = claimed;
      claimed = f;
      room--;
    }
    /* more may be due: come back when allowed (rows that wait for their
     * contact's message in flight come back with its answer, not before) */
    if (n == (size_t)limit && room > 0 && waiting < n) {
      ready = bucket_ready_at(&s->bucket, 1, now);
      if (!next || ready < next) next = ready;
    }
    for (size_t i = 0; i < n; i++) outbox_row_free(&rows[i]);
    free(rows);
  }
  for (size_t k = 0; k < nlist; k++) free(list[k].number);
  free(list);
  char err[512];
  int failed = claims.n && ob->opt.apply(ob->opt.ud, &claims, err, sizeof err);
  if (failed) {
    log_event(LOG_ERROR, "outbox_failed", "error", err, NULL);
    next = now + 1000;
  }
  while (claimed) { /* launched if claimed: one erased or answered meanwhile is not */
    flight *f = claimed;
    claimed = f->next;
    if (!failed && claims.ops[f->claim].u.outbox.applied == 1)
      launch(ob, f);
    else
      flight_free(f);
  }
  journal_clear(&claims);
  free(claims.ops);
  return next;
}

/* Moves answered requests to the done list. */
static void collect(outbox *ob) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(ob->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    flight *f;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
    if (msg->data.result == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
      f->ops->answer(f->provider, status, f->answer.data ? f->answer.data : "",
                     f->answer.len, &f->res);
    } else {
      f->res.outcome = SEND_RETRY; /* it may have arrived: see docs/providers.md */
      send_reason(&f->res, "%s", curl_easy_strerror(msg->data.result));
    }
    curl_multi_remove_handle(ob->multi, f->easy);
    ob->in_flight--;
    for (flight **p = &ob->flying; *p; p = &(*p)->next)
      if (*p == f) {
        *p = f->next;
        break;
      }
    if (!ob->done) ob->done_since = wall_ms();
    f->next = ob->done;
    ob->done = f;
    ob->ndone++;
  }
}

/* ---------------------------------------------------------------- answers */

static int64_t backoff(outbox *ob, int attempts) {
  int64_t d = ob->opt.backoff_ms;
  for (int i = 1; i < attempts && d < ob->opt.backoff_max_ms; i++) d *= 2;
  if (d > ob->opt.backoff_max_ms) d = ob->opt.backoff_max_ms;
  return d / 2 + (int64_t)((double)rand_r(&ob->seed) / RAND_MAX * (double)(d / 2)); /* jitter */
}

/* Records every answer in one commit (with what a failure says of the
 * number), then reports the failures. On a store failure the answers stay
 * to be recorded next time. */
static void record(outbox *ob, int64_t now) {
  if (!ob->done) return;
  journal j = {0};
  for (flight *f = ob->done; f; f = f->next) {
    int attempts = f->row.attempts + 1; /* the claim counted this one */
    if (f->res.outcome == SEND_RETRY && attempts >= ob->opt.max_attempts) {
      char last[sizeof f->res.reason];
      memcpy(last, f->res.reason, sizeof last);
      send_reason(&f->res, "gave up after %d attempts: %.200s", attempts, last);
      f->res.outcome = SEND_FAILED;
    }
    const outbox_row *r = &f->row;
    channel ch = channel_of(r->sender);
    switch (f->res.outcome) {
      case SEND_OK:
        journal_outbox(&j, J_OUTBOX_SENT, r->id, f->res.provider_id[0] ? f->res.provider_id : NULL,
                       0, now);
        f->bot->pause_ms[ch] = 0; /* the account works */
        break;
      case SEND_PAUSE: { /* the account, not the message: all of the bot's on it wait */
        bot_entry *b = f->bot;
        if (b->paused_until[ch] <= now) {
          b->pause_ms[ch] = b->pause_ms[ch] ? b->pause_ms[ch] * 2 : 5000;
          if (b->pause_ms[ch] > 300000) b->pause_ms[ch] = 300000;
          b->paused_until[ch] = now + b->pause_ms[ch];
          char secs[32];
          snprintf(secs, sizeof secs, "%lld", (long long)(b->pause_ms[ch] / 1000));
          log_event(LOG_ERROR, "provider_refused", "bot", b->name, "channel", channel_name(ch),
                    "reason", f->res.reason, "retry_in_s", secs, NULL);
        }
        journal_outbox(&j, J_OUTBOX_WAIT, r->id, f->res.reason, b->paused_until[ch], now);
        if (!ob->next_retry || b->paused_until[ch] < ob->next_retry)
          ob->next_retry = b->paused_until[ch];
        break;
      }
      case SEND_RETRY: {
        int64_t at = now + backoff(ob, attempts);
        journal_outbox(&j, J_OUTBOX_RETRY, r->id, f->res.reason, at, now);
        if (!ob->next_retry || at < ob->next_retry) ob->next_retry = at;
        break;
      }
      case SEND_FAILED:
        f->claim = j.n; /* reported only if this records it */
        journal_outbox(&j, J_OUTBOX_FAILED, r->id, f->res.reason, 0, now);
        if (f->res.verdict == VERDICT_OPTED_OUT)
          journal_carrier_optout(&j, r->bot_id, r->contact_id, r->number, f->res.reason, now);
        else if (f->res.verdict != VERDICT_NONE)
          journal_undeliverable(&j, r->contact_id, f->res.verdict == VERDICT_INVALID
                                                       ? "invalid_number"
                                                       : "not_mobile");
        break;
    }
  }
  char err[512];
  int rc = ob->opt.apply(ob->opt.ud, &j, err, sizeof err);
  if (rc) {
    log_event(LOG_ERROR, "outbox_failed", "error", err, NULL);
    journal_clear(&j);
    free(j.ops);
    return;
  }
  flight *f;
  ob->ndone = 0;
  while ((f = ob->done)) {
    ob->done = f->next;
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)f->row.id);
    if (f->res.outcome == SEND_OK) {
      count(ob, &ob->stats.sent);
      log_event(LOG_DEBUG, "delivered_to_provider", "bot", f->bot->name, "message", id,
                "provider_id", f->res.provider_id, NULL);
    } else if (f->res.outcome == SEND_RETRY || f->res.outcome == SEND_PAUSE) {
      count(ob, &ob->stats.retried);
      log_event(LOG_INFO, "send_retry", "bot", f->bot->name, "message", id, "reason",
                f->res.reason, NULL);
    } else {
      count(ob, &ob->stats.failed);
      log_event(LOG_WARN, "send_failed", "bot", f->bot->name, "message", id, "to",
                f->row.number, "reason", f->res.reason, NULL);
      if (ob->opt.report && j.ops[f->claim].u.outbox.applied == 1) {
        outbox_report rep = {f->row.bot_id, f->row.id, f->bot->name, f->row.number, "failed",
                             f->res.reason, f->res.verdict == VERDICT_OPTED_OUT,
                             f->res.verdict == VERDICT_INVALID ||
                                 f->res.verdict == VERDICT_NOT_MOBILE};
        ob->opt.report(ob->opt.ud, &rep);
      }
    }
    flight_free(f);
  }
  journal_clear(&j);
  free(j.ops);
}

/* ---------------------------------------------------------------- thread */

/* Puts back in the queue the sends left in flight: claimed before
 * `before` (0: all), of the numbers of mask's partitions (NULL: all). */
static void recover(outbox *ob, int64_t before, const char *mask) {
  journal j = {0};
  journal_outbox_recover(&j, before, mask);
  char err[512];
  long requeued =
      ob->opt.apply(ob->opt.ud, &j, err, sizeof err) ? -1 : (long)j.ops[0].u.outbox_recover.requeued;
  journal_free(&j);
  if (requeued < 0)
    log_event(LOG_ERROR, "outbox_failed", "error", err, "when",
              "putting messages left in flight back in the queue", NULL);
  if (requeued > 0) {
    char n[32];
    snprintf(n, sizeof n, "%ld", requeued);
    log_event(LOG_WARN, "outbox_recovered", "in_flight_again", n, NULL);
  }
}

/* Several nodes: the partitions this node holds now, as the reader's
 * filter; every few seconds, the stale sends of their numbers back in the
 * queue. 1 if there are several nodes. */
static int follow_partitions(outbox *ob, int64_t now) {
  if (!ob->opt.partitions || !ob->opt.partitions(ob->opt.ud, ob->mask)) return 0;
  store_set_partitions(ob->st, ob->mask);
  if (now >= ob->next_sweep) {
    recover(ob, now - ob->opt.timeout_ms - 10000, ob->mask);
    ob->next_sweep = now + 5000;
  }
  return 1;
}

static void *sender_main(void *arg) {
  outbox *ob = arg;
  pthread_setname_np(pthread_self(), "parley-sender");
  if (!follow_partitions(ob, wall_ms())) recover(ob, 0, NULL); /* alone: all of them */
  ob->next_retry = store_outbox_next_retry_after(ob->st, 0);
  for (;;) {
    int stopping = atomic_load(&ob->stopping);
    int64_t now = wall_ms();
    follow_partitions(ob, now);
    if (stopping && (ob->in_flight == 0 || now >= ob->stop_by)) break;
    /* under load, claims and answers are committed in groups (each commit is
     * a round trip to the writer): claim when a quarter of the room is free,
     * record when a quarter of it has answered; at once when idle */
    int quarter = ob->opt.max_in_flight / 4 > 1 ? ob->opt.max_in_flight / 4 : 1;
    int64_t next = 0;
    if (!stopping && (ob->in_flight == 0 || ob->opt.max_in_flight - ob->in_flight >= quarter))
      next = fill(ob, now);
    int running;
    curl_multi_perform(ob->multi, &running);
    collect(ob);
    int recorded = 0;
    if (ob->done && (ob->ndone >= quarter || ob->in_flight == 0 || stopping ||
                     now - ob->done_since >= 20)) {
      recorded = ob->ndone;
      record(ob, wall_ms());
      if (ob->done) next = now + 200; /* the store refused: try again soon */
    } else if (ob->done && (!next || next > now + 20)) {
      next = now + 20; /* the answers waiting to be recorded */
    }
    if (recorded && !ob->in_flight && !stopping)
      next = now; /* nothing in flight would wake the poll: fill again at once */
    if (ob->next_retry && ob->next_retry <= now) /* due now: fill takes them; the next one? */
      ob->next_retry = store_outbox_next_retry_after(ob->st, now);
    if (ob->next_retry > 0 && (!next || ob->next_retry < next)) next = ob->next_retry;
    long wait = 1000;
    if (next) {
      int64_t d = next - wall_ms();
      wait = d < 0 ? 0 : d < 1000 ? (long)d : 1000;
    }
    if (stopping) wait = 50;
    curl_multi_poll(ob->multi, NULL, 0, (int)wait, NULL);
  }
  atomic_store(&ob->ended, 1);
  return NULL;
}

outbox *outbox_start(const outbox_options *opt, char *err, size_t errlen) {
  outbox *ob = xcalloc(1, sizeof *ob);
  ob->opt = *opt;
  if (ob->opt.max_in_flight <= 0) ob->opt.max_in_flight = 64;
  if (ob->opt.max_in_flight > 1024) ob->opt.max_in_flight = 1024;
  if (ob->opt.max_attempts <= 0) ob->opt.max_attempts = 6;
  if (ob->opt.timeout_ms <= 0) ob->opt.timeout_ms = 15000;
  if (ob->opt.backoff_ms <= 0) ob->opt.backoff_ms = 1000;
  if (ob->opt.backoff_max_ms <= 0) ob->opt.backoff_max_ms = 600000;
  pthread_mutex_init(&ob->mu, NULL);
  ob->seed = (unsigned)wall_ms();
  ob->st = store_reader_open(opt->db_path, err, errlen);
  if (!ob->st) {
    free(ob);
    return NULL;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ob->multi = curl_multi_init();
  curl_multi_setopt(ob->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)ob->opt.max_in_flight);
  if (!ob->multi || pthread_create(&ob->thread, NULL, sender_main, ob) != 0) {
    snprintf(err, errlen, "cannot start the sender");
    if (ob->multi) curl_multi_cleanup(ob->multi);
    store_reader_close(ob->st);
    free(ob);
    return NULL;
  }
  return ob;
}

void outbox_wake(void *ob) { curl_multi_wakeup(((outbox *)ob)->multi); }

void outbox_begin_stop(outbox *ob, long grace_ms) {
  if (atomic_load(&ob->stopping)) return;
  ob->stop_by = wall_ms() + grace_ms;
  atomic_store(&ob->stopping, 1);
  curl_multi_wakeup(ob->multi);
}

int outbox_stopped(outbox *ob) { return atomic_load(&ob->ended); }

void outbox_stop(outbox *ob, long grace_ms) {
  if (!ob) return;
  outbox_begin_stop(ob, grace_ms);
  pthread_join(ob->thread, NULL);
  /* unanswered requests: their messages stay "sending", sent again at the
   * next start */
  while (ob->flying) {
    flight *f = ob->flying;
    ob->flying = f->next;
    curl_multi_remove_handle(ob->multi, f->easy);
    flight_free(f);
  }
  while (ob->done) { /* answers the store refused to record: sent again too */
    flight *f = ob->done;
    ob->done = f->next;
    flight_free(f);
  }
  curl_multi_cleanup(ob->multi);
  for (size_t i = 0; i < ob->nbots; i++) {
    free(ob->bots[i]->name);
    free(ob->bots[i]);
  }
  free(ob->bots);
  for (size_t i = 0; i < ob->nsenders; i++) free(ob->senders[i].number);
  free(ob->senders);
  store_reader_close(ob->st);
  pthread_mutex_destroy(&ob->mu);
  free(ob);
}

outbox_stats outbox_stats_of(outbox *ob) {
  pthread_mutex_lock(&ob->mu);
  outbox_stats s = ob->stats;
  s.in_flight = ob->in_flight;
  pthread_mutex_unlock(&ob->mu);
  return s;
}
