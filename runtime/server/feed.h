/* feed: what changed, told to the console as it happens (Server-Sent
 * Events). The engine's side publishes a conversation that changed (a
 * message in or out, a delivery report, a handover); each open stream
 * sends it, as `event: change` with {"bot", "number"} (number null: reload
 * the bot's view), to the browsers that may see that bot. A stream that
 * fell too far behind gets one change of the whole bot instead of the ones
 * it missed. It only says what to read again: what changed is read
 * through the admin API, with its checks. On one node: a conversation
 * another node runs is not told here (the page reads again now and then). */
#ifndef PARLEY_FEED_H
#define PARLEY_FEED_H

#include <microhttpd.h>
#include <stdint.h>

typedef struct feed feed;

feed *feed_new(void);
/* Ends every stream (before the daemon stops: none may stay suspended);
 * streams opened afterwards end at once. */
void feed_close(feed *f);
void feed_free(feed *f);

/* A change of bot's conversation with number (NULL: of the bot as a
 * whole). Any thread. */
void feed_publish(feed *f, const char *bot, const char *number);
/* Wakes the streams that have been quiet for a while, to send a comment
 * that keeps the connection (and proxies) alive and finds the browsers
 * gone. Every 100 ms or so is fine. */
void feed_tick(feed *f);

/* The response of a new stream for conn: the changes of the bots in
 * bots_json (a JSON list; NULL: every bot) until until_ms (wall clock),
 * when it ends and the browser opens a new one (checking the session
 * again). On the HTTP thread. */
struct MHD_Response *feed_stream(feed *f, struct MHD_Connection *conn, const char *bots_json,
                                 int64_t until_ms);

#endif
