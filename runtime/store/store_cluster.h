/* store_cluster: what the nodes of a cluster share in PostgreSQL, beside
 * the store's own tables: blocks of ids, the nodes and their fencing
 * numbers, the partitions each node holds, and the inbox (messages handed
 * to the node holding their conversation).
 *
 * A node is a running `parley serve` (cluster.c). While it lives it has a
 * row in parley_nodes: its id, its fencing number (a new one each time it
 * joins: the number of this run) and when its lease ends unless renewed. A
 * partition (partition.h) is held by the node and run its row names; it is
 * free when that node's row is gone or has another fencing number. Every
 * write transaction of a node checks its row under a share lock
 * (store_set_fence), and a node whose lease ran out is removed by another
 * (store_nodes_expire) with a DELETE, which waits for that lock: once the
 * removal commits, the old holder commits nothing more, and its last
 * commit is visible to whoever takes its partitions next.
 *
 * Every function here is for PostgreSQL only (-1 with store_error on
 * SQLite). Times are the database server's clock, so the nodes' clocks
 * need not agree. */
#ifndef PARLEY_STORE_CLUSTER_H
#define PARLEY_STORE_CLUSTER_H

#include <stdint.h>

#include "partition.h"
#include "store.h"

/* Claims n ids of a kind ("contacts", "messages", "timers", "broadcasts")
 * in their own transaction: *first .. *first + n - 1 are the caller's, and
 * larger than every id claimed before. 0, or -1. */
int store_claim_ids(store *st, const char *kind, int64_t n, int64_t *first);

/* The fencing number a store's write transactions check (0: none): the
 * node's id and its run's number, shared with the cluster thread that
 * changes the number when the node joins again. */
typedef struct store_fence {
  char node_id[128];
  _Atomic int64_t fence;
  long idle_ms; /* the node's lease: see store_set_fence */
} store_fence;
/* Every write transaction on st starts by checking f (kept, not copied);
 * one that finds the node's row gone or renumbered fails, with an error
 * saying the node's partitions were taken over. That check holds a share
 * lock on the row until the transaction ends, which another node removing
 * the row waits for: a transaction left idle for f->idle_ms (the node
 * stalled: stopped, frozen, cut off) is ended by the server, its
 * connection closed, so that the node's partitions can move on. 0, or -1
 * (the setting could not be made). NULL: no check. */
int store_set_fence(store *st, const store_fence *f);

/* Joins as node_id: a new fencing number for this run (*fence), the lease
 * for lease_ms. A row of the same id whose connection is still open and
 * whose lease runs is another live node: 1, nothing changed. A row of an
 * earlier run (its connection gone, or its lease over) is replaced, which
 * fences that run. 0, 1, or -1. */
int store_node_join(store *st, const char *node_id, const char *address, long lease_ms,
                    int64_t *fence);
/* Renews the lease: 0, 1 if the node's row is gone or has another number
 * (it was fenced: join again), -1. */
int store_node_renew(store *st, const char *node_id, int64_t fence, long lease_ms);
/* Leaves: the row goes and every partition of the node is free at once. */
int store_node_leave(store *st, const char *node_id, int64_t fence);
/* Removes the rows of nodes whose lease ended: their partitions are free
 * then. The number removed, or -1. */
int store_nodes_expire(store *st);
/* The nodes whose lease runs, or -1. */
int store_nodes_live(store *st);

/* The partitions the node's run holds: held[p] = 1. 0, or -1. */
int store_partitions_held(store *st, const char *node_id, int64_t fence,
                          unsigned char held[PARTITIONS]);
/* Takes up to max free partitions (lowest numbers first), marking each one
 * taken in got[p]. The number taken, or -1. */
int store_partitions_claim(store *st, const char *node_id, int64_t fence, int max,
                           unsigned char got[PARTITIONS]);
/* Frees the partitions p with release[p] = 1 that the node's run holds. */
int store_partitions_release(store *st, const char *node_id, int64_t fence,
                             const unsigned char release[PARTITIONS]);

/* The secret the nodes sharing the database show each other when one
 * relays a message to another (made by the schema): into out. 0, or -1. */
int store_cluster_secret(store *st, char *out, size_t outlen);
/* fn(ud, partition, address) for each partition another live node than
 * node_id holds, with the address that node listens at ("" if none was
 * given). 0, or -1. */
int store_partition_holders(store *st, const char *node_id,
                            void (*fn)(void *ud, int partition, const char *address),
                            void *ud);

/* The inbox: what a node took for a conversation another node holds.
 * An item is added in the batch that acknowledges it (journal_inbox_add:
 * durable before the webhook is answered), under a ticket of its taker's
 * choosing, "RUN-..." (RUN, without '-', names the taker's run: it is
 * told when the item is done); reply_ms (how long its webhook waits for replies, 0: it does
 * not; kept as a time on the database server's clock, so the nodes'
 * clocks need not agree) and inline_max say whether and how many replies
 * may go back in the webhook's answer. The
 * holder handles it and, in the same transaction, records it done
 * (journal_inbox_done): an item nobody waits for goes; one a webhook
 * waits for keeps the inline replies ("done") for the taker to read
 * (store_inbox_results) and remove (store_inbox_forget_many). A taker past its
 * deadline abandons its item (store_inbox_abandon): if the holder's
 * commit comes after, its inline replies are queued for the provider
 * instead, in that same commit, and the item is left done without them
 * for the sweep (store_inbox_sweep) to remove. */
int store_inbox_add(store *st, const char *ticket, int partition, int64_t bot_id,
                    const char *item, int64_t reply_ms, int inline_max);
/* waited: the item's inbox_item.waited (an item nobody waited for just
 * goes); replies: the inline replies' texts as a JSON list; reply_ids:
 * their message ids as a JSON list (queued if the taker gave up). */
int store_inbox_done(store *st, int64_t id, int waited, const char *replies,
                     const char *reply_ids);

typedef struct inbox_item {
  int64_t id, bot_id;
  int partition, inline_max;
  int64_t reply_ms;    /* how long its webhook still waits; 0: it does not */
  const char *item;    /* the taker's JSON; valid during the call */
  int waited;          /* added for a webhook that waits (or waited) for it */
} inbox_item;
/* The open items of the partitions p with partitions[p] == '1', oldest
 * first, at most limit: fn for each. Their count, or -1. */
int store_inbox_open(store_reader *rd, const char *partitions, int limit,
                     void (*fn)(void *ud, const inbox_item *it), void *ud);
/* The items of tickets[0..n) in one query: fn(ud, ticket, state,
 * replies, reply_ids) for each that exists (state "done": replies is the
 * JSON list of their texts, reply_ids that of their message ids, NULL
 * from a node older than schema 10; the strings valid during the call).
 * 0 or -1. */
typedef void (*inbox_result_fn)(void *ud, const char *ticket, const char *state,
                                const char *replies, const char *reply_ids);
int store_inbox_results(store *st, const char *const *tickets, size_t n, inbox_result_fn fn,
                        void *ud);
/* 1 the item was still waiting and now is not (its replies will be
 * queued), 0 it is done already (read its result), -1. */
int store_inbox_abandon(store *st, const char *ticket);
/* Removes the done items of tickets[0..n) (read by their taker), in one
 * statement (the sweep removes those whose taker is gone for a minute). */
int store_inbox_forget_many(store *st, const char *const *tickets, size_t n);
int store_inbox_sweep(store *st);
/* The nodes are told of new inbox items, of items done and of contacts
 * written outside their holders (LISTEN/NOTIFY, on commit): st listens
 * from now on (a connection of its own); then waits up to timeout_ms for
 * news, fn(ud, kind, payload) for each (NEWS_INBOX_DONE: payload is the
 * done item's ticket's prefix, the run that took it): how many came, or
 * -1. */
enum { NEWS_INBOX_ADDED, NEWS_INBOX_DONE, NEWS_CONTACTS };
int store_listen(store *st);
typedef void (*inbox_news_fn)(void *ud, int kind, const char *payload);
int store_wait_notify(store *st, int timeout_ms, inbox_news_fn fn, void *ud);
/* Tells every node (NEWS_CONTACTS) that contacts were written behind
 * their caches (an import): 0 or -1. */
int store_contacts_changed(store *st);

#endif
