/* cluster: this `parley serve` as one node of several on one PostgreSQL.
 *
 * The node joins under its id (a new fencing number for this run: every
 * write transaction of its engine checks it), renews its lease on a thread
 * of its own (every third of the lease), removes the nodes whose lease ran
 * out, and works out its share of the 256 partitions (partition.h): all of
 * them divided by the live nodes, rounded up. The engine thread then takes
 * free partitions up to that share, or gives back what it holds beyond it,
 * between batches (cluster_tick): a partition changes hands only when its
 * holder's work on it is durable, or its holder is fenced. A node fenced
 * (its row removed while it was away) drops every partition and joins
 * again under a new number.
 *
 * With a lease of L ms, a node that dies is removed L to L + L/3 ms later
 * and its partitions are taken within the next tick of each node. */
#ifndef PARLEY_CLUSTER_H
#define PARLEY_CLUSTER_H

#include <stddef.h>

#include "engine.h"

typedef struct cluster cluster;

typedef struct cluster_config {
  const char *db_url;  /* postgresql://... */
  const char *node_id; /* unique among the nodes; kept across restarts */
  const char *address; /* HOST:PORT others reach it at ("": they cannot) */
  long lease_ms;       /* default 3000 */
} cluster_config;

/* Joins: waits (up to two leases) for an earlier run of the same id to be
 * over; NULL with err if another live node has the id or the database
 * refuses. The engine's writes check the node's fence from now on. */
cluster *cluster_start(const cluster_config *cfg, engine *e, char *err, size_t errlen);
/* On the engine thread, between batches: takes or gives back partitions
 * as the share says, joins again after being fenced. */
void cluster_tick(cluster *c, engine *e);
/* /healthz's answer: the node, its partitions, whether the store answers
 * (*ok = 0: it did not at the last renewal). Any thread; caller frees. */
char *cluster_health_json(cluster *c, int *ok);
/* The inbox (store_cluster.h), on the engine thread: the open items of the
 * partitions the engine runs, oldest first (fn for each; their count or
 * -1); many tickets' items in one query (fn for each that exists: its
 * state, and its replies' texts and message ids when done; 0 or -1);
 * giving one up; forgetting many once read. */
struct inbox_item;
int cluster_inbox_take(cluster *c, int limit, void (*fn)(void *ud, const struct inbox_item *it),
                       void *ud);
int cluster_inbox_results(cluster *c, const char *const *tickets, size_t n,
                          void (*fn)(void *ud, const char *ticket, const char *state,
                                     const char *replies, const char *reply_ids),
                          void *ud);
int cluster_inbox_abandon(cluster *c, const char *ticket);
void cluster_inbox_forget(cluster *c, const char *const *tickets, size_t n);
/* fn is called (on a thread of the cluster's) whenever there is news
 * (kind, store_cluster.h): an inbox item added, or done (payload: the
 * prefix of its ticket, the run that took it), or contacts written behind
 * the nodes' caches, which cluster_contacts_changed (on the engine thread,
 * after the writes committed) tells every node. */
void cluster_on_inbox(cluster *c, void (*fn)(void *ud, int kind, const char *payload),
                      void *ud);
void cluster_contacts_changed(cluster *c);
/* mask (PARTITIONS characters and a NUL): a '1' for each partition the
 * engine runs now. Any thread. */
void cluster_held_mask(cluster *c, char *mask);
/* On the engine thread: the address (HOST:PORT) of the node that holds
 * the partition, as read at most half a second ago; NULL if this node
 * holds it, or none is known, or its node gave no address. */
const char *cluster_holder_address(cluster *c, int partition);
/* The secret the nodes show each other's relay endpoint. */
const char *cluster_secret(cluster *c);
/* The live nodes at the last renewal (this one among them). */
int cluster_nodes_live(cluster *c);
/* Leaves (its partitions are free at once) and stops the thread. */
void cluster_stop(cluster *c);

#endif
