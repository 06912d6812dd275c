/* http_limits: what keeps one client from starving the others on
 * libmicrohttpd's connections.
 *
 * - Connections from one address past max_per_address are closed as soon
 *   as they are accepted.
 * - Connections accepted while max_connections are open are still read,
 *   so that their request can be answered 503 (with Retry-After) instead
 *   of waiting; libmicrohttpd holds up to http_limits_hard_cap of them,
 *   past which new ones wait in the kernel's listen queue.
 * - A request's headers and body must arrive within the request deadline
 *   of the connection's start (or of the previous answer on a kept-alive
 *   connection), however steadily its bytes come: a thread of its own
 *   closes the connections past it (shutdown(2) on the socket, so
 *   libmicrohttpd's thread sees the end and cleans up as for any client
 *   that went away). A request that has arrived has no deadline while it
 *   is handled and answered.
 * - Request bodies held in memory are counted against max_body_memory.
 *
 * What is refused is counted (metrics) and logged as connection_refused,
 * at most a line per reason every quarter second. */
#ifndef PARLEY_HTTP_LIMITS_H
#define PARLEY_HTTP_LIMITS_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct http_limits_config {
  unsigned max_connections;    /* past it: 503 */
  unsigned max_per_address;    /* past it: closed */
  int64_t request_deadline_ms; /* headers and body within this */
  size_t max_body_memory;      /* bytes of bodies held at once */
} http_limits_config;

typedef struct http_limits http_limits;

enum http_refusal {
  REFUSED_ADDRESS,     /* over the per-address limit: closed */
  REFUSED_FULL,        /* over max_connections: 503 */
  REFUSED_DEADLINE,    /* the request did not arrive in time: closed */
  REFUSED_BODY_MEMORY, /* no memory left for its body: 503 */
  REFUSED_KINDS
};

/* Raises the soft limit on open files to the hard one if cfg needs more,
 * and lowers cfg->max_connections to what the limit allows (a sentence in
 * note, else note is ""); then starts the deadline thread. NULL with a
 * sentence in err if that thread cannot start. */
http_limits *http_limits_start(http_limits_config *cfg, char *note, size_t notelen,
                               char *err, size_t errlen);
/* After libmicrohttpd has stopped. */
void http_limits_stop(http_limits *l);

/* How many connections libmicrohttpd may hold (MHD_OPTION_CONNECTION_LIMIT):
 * max_connections and an eighth more (at least 16) to answer 503 on. */
unsigned http_limits_hard_cap(const http_limits *l);
/* MHD_OPTION_NOTIFY_CONNECTION's callback; its closure is the limits. */
void http_limits_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe);
/* 1 if c was accepted while max_connections were open (its requests get
 * 503). On libmicrohttpd's thread. */
int http_limits_over(struct MHD_Connection *c);
/* The request on c has arrived whole: no deadline until it is answered. */
void http_limits_arrived(http_limits *l, struct MHD_Connection *c);
/* The request on c was answered: the next one's deadline starts now (a
 * kept-alive connection closed at it without a new request line is not
 * counted as refused). */
void http_limits_answered(http_limits *l, struct MHD_Connection *c);
/* A request line came on c (libmicrohttpd's URI callback). */
void http_limits_request_line(http_limits *l, struct MHD_Connection *c);

/* Takes n bytes of the memory bodies may hold: 0, or -1 (nothing taken)
 * when that would pass max_body_memory. */
int http_limits_take_body(http_limits *l, size_t n);
void http_limits_give_body(http_limits *l, size_t n);

/* Counts a refusal (logged with the next sweep). */
void http_limits_refused(http_limits *l, enum http_refusal why);
/* The Prometheus lines: refusals by reason, connections open, body bytes held. */
void http_limits_metrics(http_limits *l, buf *out);

#endif
