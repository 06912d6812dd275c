/* make bench, HTTP part: the ceiling. libmicrohttpd alone, answering every
 * POST (whatever its path) with one constant TwiML reply after reading the
 * whole body, and GET /healthz with "ok\n": what this machine's
 * libmicrohttpd serves to the same wrk requests when no work is done.
 * bench/http.sh compares parley serve (and Hubot) to it.
 *
 *   ceiling PORT [pool|epoll|threads] [WORKERS]
 *
 * Threading modes (binds 127.0.0.1 only; stops on SIGTERM or SIGINT):
 *   pool     MHD_USE_INTERNAL_POLLING_THREAD with a pool of WORKERS polling
 *            threads (default: the number of cores), each on epoll (the
 *            default mode)
 *   epoll    one internal polling thread on epoll
 *   threads  a thread per connection (MHD_USE_THREAD_PER_CONNECTION, poll)
 *
 * The default, pool, is the fastest measured here: on 2026-12-05, on the
 * 2-core shared machine (load average 4 to 10 from other work, so every
 * figure is low and noisy), wrk -t2 -c64 with bench/http.sh's 200,000
 * signed webhooks, five rounds alternating the modes, requests/second:
 *   pool (2)  54.7k 39.9k 37.9k 27.9k 29.0k   (median 37.9k)
 *   threads   37.5k 39.3k 31.5k 23.6k 28.2k   (median 31.5k)
 *   epoll     35.7k 32.8k 25.3k 26.5k 26.2k   (median 26.5k)
 * A thread per connection had the lowest p99 in four rounds of five
 * (4.5-11 ms; the pool 12-109 ms, epoll 20-78 ms) but fewer
 * requests/second; MHD_USE_TURBO on the pool made no difference
 * beyond the noise in two runs, so it is not used. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TWIML[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Response><Message>Thanks</Message></Response>";
static const char HEALTHY[] = "ok\n";

typedef struct ceiling {
  struct MHD_Response *twiml;
  struct MHD_Response *healthy;
  struct MHD_Response *not_found;
} ceiling;

/* A marker for *req_cls: the request's headers were seen. */
static int request_started;

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls) {
  (void)version;
  (void)upload_data;
  ceiling *c = cls;
  if (*req_cls == NULL) {
    *req_cls = &request_started;
    return MHD_YES;
  }
  if (*upload_data_size > 0) { /* the body, read and dropped */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "POST") == 0)
    return MHD_queue_response(conn, MHD_HTTP_OK, c->twiml);
  if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
    return MHD_queue_response(conn, MHD_HTTP_OK, c->healthy);
  return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, c->not_found);
}

static struct MHD_Response *constant(const char *body, const char *type) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                           MHD_RESPMEM_PERSISTENT);
  if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  return r;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: ceiling PORT [pool|epoll|threads] [WORKERS]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *mode = argc > 2 ? argv[2] : "pool";
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned workers =
      argc > 3 ? (unsigned)atoi(argv[3]) : (unsigned)(cores > 0 ? cores : 1);
  if (port <= 0 || port > 65535 || workers == 0) {
    fprintf(stderr, "ceiling: bad port %s or worker count\n", argv[1]);
    return 2;
  }
  unsigned flags;
  if (strcmp(mode, "pool") == 0 || strcmp(mode, "epoll") == 0)
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  else if (strcmp(mode, "threads") == 0)
    flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
  else {
    fprintf(stderr, "ceiling: unknown mode %s (pool, epoll or threads)\n", mode);
    return 2;
  }
  ceiling c = {constant(TWIML, "application/xml"), constant(HEALTHY, "text/plain"),
               constant("not found\n", "text/plain")};
  if (!c.twiml || !c.healthy || !c.not_found) {
    fprintf(stderr, "ceiling: out of memory\n");
    return 1;
  }
  /* SIGTERM and SIGINT are waited for below, on this thread only: blocked
   * before the daemon starts its threads, which inherit the mask */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d =
      MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, &c,
                       MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, 1024u,
                       MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_THREAD_POOL_SIZE,
                       strcmp(mode, "pool") == 0 ? workers : 0u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "ceiling: could not listen on 127.0.0.1:%d (%s)\n", port, mode);
    return 1;
  }
  int sig;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  MHD_destroy_response(c.twiml);
  MHD_destroy_response(c.healthy);
  MHD_destroy_response(c.not_found);
  return 0;
}
