/* http_client: the requests handlers make with http.get/post, on a thread
 * of their own (libcurl multi), so the engine never waits for the network.
 *
 * Policy, whatever the script asks: http and https only, no redirects
 * followed (a 3xx is the answer), no proxy from the environment, the
 * request's timeout, the response body capped at max_bytes, and no
 * connection to loopback, private, link-local or otherwise non-public
 * addresses unless allowed (checked on the address really connected to, so
 * a name that resolves to 127.0.0.1 is refused too). Which hosts a bot may
 * reach at all is the engine's check (bot.config http.allow). */
#ifndef PARLEY_HTTP_CLIENT_H
#define PARLEY_HTTP_CLIENT_H

#include "engine.h"

typedef struct http_client http_client;

/* done(ud, id, result) is called on the client's thread; the result's
 * strings last until it returns. */
typedef void (*http_client_done)(void *ud, uint64_t id, const engine_http_result *r);

http_client *http_client_open(http_client_done done, void *ud, char *err, size_t errlen);
/* Starts r (copied); allow_private: non-public addresses may be reached. */
void http_client_start(http_client *c, const engine_http_request *r, int allow_private);
/* Requests started and not answered yet. */
long http_client_in_flight(http_client *c);
/* Stops the thread; requests in flight are dropped without an answer. */
void http_client_close(http_client *c);

/* One request, waited for (the simulator). 0 with res filled (its strings
 * valid until http_fetch_free), or -1 if it could not be started. */
typedef struct http_fetched http_fetched;
http_fetched *http_fetch(const engine_http_request *r, int allow_private, engine_http_result *res);
void http_fetch_free(http_fetched *f);

/* Whether a connected address is loopback, private, link-local, multicast
 * or reserved (sa: struct sockaddr_in or sockaddr_in6). */
struct sockaddr;
int http_address_is_private(const struct sockaddr *sa);

#endif
