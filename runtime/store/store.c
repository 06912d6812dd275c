#include "store.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "store_internal.h"
#include "store_cluster.h"
#include "store_schema_pg.h"

#include "util.h"

static void sql_partition(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* How long a connection waits for a lock another one holds; how long a
 * restart checkpoint waits for the readers of old frames (store_checkpoint). */
enum { BUSY_TIMEOUT_MS = 2000, RESTART_WAIT_MS = 100 };

/* SQLite's busy handler for every connection: tries again after a short
 * sleep until st->busy_ms have passed since the first try (0: gives up).
 * SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15 ms... between
 * tries; the locks here are held for a commit or a batch's reads, a few
 * hundred microseconds, and a restart checkpoint waiting that way held the
 * writer off for 10 ms at a time. So: 50 us, doubling up to 1 ms. */
static int busy_wait(void *arg, int tries) {
  store *st = arg;
  int64_t now = mono_ns();
  if (tries == 0) st->busy_since_ns = now;
  if (now - st->busy_since_ns >= (int64_t)st->busy_ms * 1000000) return 0;
  long us = tries < 5 ? 50L << tries : 1000;
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
  return 1;
}

/* Sets how long the connection waits for a lock. */
static void busy_timeout(store *st, int ms) {
  st->busy_ms = ms;
  if (!st->db) return; /* PostgreSQL: its own locks */
  sqlite3_busy_handler(st->db, busy_wait, st);
}

/* Forward migrations: entry i brings a database from version i to i+1. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE bots("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  store TEXT NOT NULL DEFAULT '{}',"
    "  active_version INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE script_versions("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  sha TEXT NOT NULL,"
    "  files TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE(bot_id, sha));"
    "CREATE TABLE contacts("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  number TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'subscribed'"
    "    CHECK(status IN ('subscribed','opted_out')),"
    "  fields TEXT NOT NULL DEFAULT '{}',"
    "  tags TEXT NOT NULL DEFAULT '[]',"
    "  timezone TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  joined INTEGER NOT NULL DEFAULT 0," /* a message reached the script */
    "  UNIQUE(bot_id, number));"
    "CREATE TABLE conversations("
    "  contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),"
    "  state TEXT NOT NULL DEFAULT '{}',"
    "  expect TEXT,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  contact_id INTEGER NOT NULL REFERENCES contacts(id),"
    "  direction TEXT NOT NULL CHECK(direction IN ('in','out')),"
    "  number TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  provider_id TEXT,"
    "  transactional INTEGER NOT NULL DEFAULT 0,"
    "  segments INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX messages_contact ON messages(contact_id);" /* + rowid */
    "CREATE UNIQUE INDEX messages_inbound_provider_id"
    "  ON messages(bot_id, provider_id)"
    "  WHERE direction = 'in' AND provider_id IS NOT NULL;"
    "CREATE TABLE consent("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  contact_id INTEGER,"
    "  number TEXT NOT NULL,"
    "  action TEXT NOT NULL CHECK(action IN ('optout','optin')),"
    "  source TEXT NOT NULL,"
    "  text TEXT,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX consent_contact ON consent(contact_id, id);"
    "CREATE TRIGGER consent_no_update BEFORE UPDATE ON consent"
    "  BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TRIGGER consent_no_delete BEFORE DELETE ON consent"
    "  BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TABLE timers("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  contact_id INTEGER REFERENCES contacts(id),"
    "  due_at INTEGER NOT NULL,"
    "  handler TEXT NOT NULL,"
    "  args TEXT NOT NULL DEFAULT 'null',"
    "  kind TEXT NOT NULL DEFAULT 'timer',"
    "  status TEXT NOT NULL DEFAULT 'pending',"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX timers_due ON timers(status, due_at);"
    "CREATE TABLE errors("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  contact_id INTEGER,"
    "  message_id INTEGER,"
    "  kind TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  at INTEGER NOT NULL);",
    /* 1 -> 2: timers that name their contact and schedule; held messages */
    "ALTER TABLE timers ADD COLUMN number TEXT;"
    "ALTER TABLE timers ADD COLUMN spec TEXT;" /* a recurring timer's schedule */
    "ALTER TABLE timers ADD COLUMN fired_at INTEGER;"
    "ALTER TABLE timers ADD COLUMN error TEXT;"
    "CREATE INDEX timers_pending ON timers(due_at, id) WHERE status = 'pending';"
    "CREATE INDEX timers_contact ON timers(contact_id) WHERE status = 'pending';"
    "CREATE INDEX timers_every ON timers(bot_id) WHERE status = 'pending' AND kind = 'every';"
    "DROP INDEX timers_due;" /* timers_pending serves the due query */
    "ALTER TABLE messages ADD COLUMN send_at INTEGER;" /* held until */
    "CREATE INDEX messages_held ON messages(send_at, id) WHERE status = 'held';"
    "CREATE TABLE broadcasts("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  segment TEXT NOT NULL," /* the filter, JSON */
    "  text TEXT NOT NULL,"
    "  rate REAL NOT NULL," /* messages per second */
    "  status TEXT NOT NULL DEFAULT 'scheduled'" /* scheduled, running, done */
    "    CHECK(status IN ('scheduled','running','done','cancelled')),"
    "  cursor INTEGER NOT NULL DEFAULT 0," /* the last contact id handled */
    "  next_at INTEGER NOT NULL," /* when the next recipient's turn comes */
    "  sent INTEGER NOT NULL DEFAULT 0,"
    "  held INTEGER NOT NULL DEFAULT 0,"
    "  suppressed INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX broadcasts_due ON broadcasts(next_at) WHERE status IN ('scheduled','running');",
    /* 2 -> 3: erased contacts that had opted out stay opted out */
    "CREATE TABLE suppressions("
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  number_hash TEXT NOT NULL," /* HMAC-SHA256 of the number, keyed per database */
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY(bot_id, number_hash));"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 3 -> 4: the outbox (outgoing messages queued for a provider) and
     * delivery status */
    "ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';" /* the bot's number */
    "ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;" /* 0 first */
    "ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN error TEXT;" /* why it failed, or the last retry */
    "ALTER TABLE messages ADD COLUMN media TEXT;" /* out: JSON list of media URLs */
    "ALTER TABLE contacts ADD COLUMN undeliverable TEXT;" /* the provider's verdict */
    "CREATE INDEX messages_outbox ON messages(bot_id, sender, priority, id)"
    "  WHERE status = 'queued';"
    "CREATE INDEX messages_sending ON messages(id) WHERE status = 'sending';"
    "CREATE INDEX messages_outbound_provider_id ON messages(bot_id, provider_id)"
    "  WHERE direction = 'out' AND provider_id IS NOT NULL;",
    /* 4 -> 5: the bots `parley serve` runs come back at its next start with
     * their active version; folder_sha: the files their folder had when
     * last read, so an unchanged folder changes nothing */
    "ALTER TABLE bots ADD COLUMN served INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bots ADD COLUMN folder_sha TEXT;",
    /* 5 -> 6: version numbers count per bot. The versions there are keep
     * the numbers they were shown with (the row id, one count over all
     * bots), so a rollback to a number noted before reaches the same
     * files; a bot's new versions count on from its highest. */
    "ALTER TABLE script_versions ADD COLUMN number INTEGER;"
    "UPDATE script_versions SET number = id;"
    "CREATE UNIQUE INDEX script_versions_number ON script_versions(bot_id, number);",
    /* 6 -> 7: a third status, not_opted_in: a contact parley knows (an
     * import without evidence of consent) that never opted in. SQLite
     * cannot change a CHECK, so the table is rebuilt (sqlite.org/
     * lang_altertable.html#otheralter): a new table, the rows copied with
     * their ids, the old one dropped, the new one renamed. In that order:
     * renaming the old table away would make the tables that reference
     * contacts(id) follow it. No index but UNIQUE's is on the table;
     * foreign keys are not enforced, so the drop deletes no other row. The
     * migration's transaction holds it all. Broadcasts count the contacts
     * they skip for not having opted in. */
    "CREATE TABLE contacts_new("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  number TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'subscribed'"
    "    CHECK(status IN ('subscribed','opted_out','not_opted_in')),"
    "  fields TEXT NOT NULL DEFAULT '{}',"
    "  tags TEXT NOT NULL DEFAULT '[]',"
    "  timezone TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  joined INTEGER NOT NULL DEFAULT 0,"
    "  undeliverable TEXT,"
    "  UNIQUE(bot_id, number));"
    "INSERT INTO contacts_new(id, bot_id, number, status, fields, tags, timezone, first_seen,"
    "  last_seen, joined, undeliverable)"
    "  SELECT id, bot_id, number, status, fields, tags, timezone, first_seen, last_seen,"
    "  joined, undeliverable FROM contacts;"
    "DROP TABLE contacts;"
    "ALTER TABLE contacts_new RENAME TO contacts;"
    "ALTER TABLE broadcasts ADD COLUMN not_opted_in INTEGER NOT NULL DEFAULT 0;",
    /* 7 -> 8: the same statuses, checked with OR: a CHECK with an IN list
     * of three or more values makes SQLite build a temporary table each
     * time a status is written (EXPLAIN shows OpenEphemeral), which cost a
     * status change several times a plain update. Rebuilt as 6 -> 7 was. */
    "CREATE TABLE contacts_new("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
    "  number TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'subscribed'"
    "    CHECK(status = 'subscribed' OR status = 'opted_out' OR status = 'not_opted_in'),"
    "  fields TEXT NOT NULL DEFAULT '{}',"
    "  tags TEXT NOT NULL DEFAULT '[]',"
    "  timezone TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  joined INTEGER NOT NULL DEFAULT 0,"
    "  undeliverable TEXT,"
    "  UNIQUE(bot_id, number));"
    "INSERT INTO contacts_new(id, bot_id, number, status, fields, tags, timezone, first_seen,"
    "  last_seen, joined, undeliverable)"
    "  SELECT id, bot_id, number, status, fields, tags, timezone, first_seen, last_seen,"
    "  joined, undeliverable FROM contacts;"
    "DROP TABLE contacts;"
    "ALTER TABLE contacts_new RENAME TO contacts;",
    /* 8 -> 9: nothing on SQLite, which declares foreign keys and does not
     * enforce them; PostgreSQL drops those of the tables every message
     * writes (store_schema_pg.c). */
    "",
    /* 9 -> 10: nothing on SQLite, which has no inbox (one node alone);
     * PostgreSQL's keeps a done item's reply ids (store_schema_pg.c). */
    "",
    /* 10 -> 11: nothing on SQLite (one node alone); PostgreSQL's nodes
     * share the secret of their relays (store_schema_pg.c). */
    "",
    /* 11 -> 12: a broadcast's messages say which broadcast sent them, so
     * that its counts follow what becomes of each: released from quiet
     * hours, suppressed when its turn to go comes */
    "ALTER TABLE messages ADD COLUMN broadcast_id INTEGER;",
    /* 12 -> 13: a reply says which inbound message it answers, so that
     * the inline replies of a message handled again (its webhook never got
     * them) can be found and sent */
    "ALTER TABLE messages ADD COLUMN reply_to INTEGER;",
    /* 13 -> 14: the console's sessions (store_console.c), known to every
     * node and kept across restarts, and how far each conversation has
     * been read there */
    "CREATE TABLE console_sessions("
    "  id TEXT PRIMARY KEY," /* SHA-256 of the cookie's secret */
    "  who TEXT NOT NULL,"
    "  bots TEXT," /* JSON list; NULL: every bot */
    "  csrf TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE TABLE inbox_reads("
    "  contact_id INTEGER PRIMARY KEY,"
    "  read_at INTEGER NOT NULL);"
    /* a conversation a person has (c:handoff, the console's take): JSON
     * {"reason", "since", "by", "taken_at"}; NULL: the bot's */
    "ALTER TABLE contacts ADD COLUMN handoff TEXT;"
    /* what the people in the console did: who, when, what */
    "CREATE TABLE operator_actions("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL,"
    "  contact_id INTEGER NOT NULL,"
    "  who TEXT NOT NULL,"
    "  action TEXT NOT NULL," /* take, reply, note, handback */
    "  text TEXT NOT NULL DEFAULT '',"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX operator_actions_contact ON operator_actions(contact_id, id);",
    /* 14 -> 15: when a contact last wrote (ms; NULL: never): Meta's
     * channels take free-form messages only within 24 hours of it
     * (channel.h). last_seen also moves when a contact is made. */
    "ALTER TABLE contacts ADD COLUMN last_in INTEGER;",
    /* 15 -> 16: what a broadcast carries beside its text (JSON: a WhatsApp
     * template, for its WhatsApp recipients); NULL: nothing */
    "ALTER TABLE broadcasts ADD COLUMN content TEXT;",
    /* 16 -> 17: tracked links (store_links.c): a short code for a URL in
     * one message to one contact (message_id NULL: made by c:link and not
     * sent), and each visit to one; is_bot: a program's (a link preview, a
     * crawler), not a person's */
    "CREATE TABLE links("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL,"
    "  contact_id INTEGER NOT NULL,"
    "  message_id INTEGER,"
    "  code TEXT NOT NULL UNIQUE,"
    "  url TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX links_contact ON links(contact_id);"
    "CREATE INDEX links_bot_url ON links(bot_id, url);"
    "CREATE INDEX links_message ON links(message_id);"
    "CREATE TABLE clicks("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL,"
    "  link_id INTEGER NOT NULL,"
    "  contact_id INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  user_agent TEXT NOT NULL DEFAULT '',"
    "  is_bot INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX clicks_link ON clicks(link_id);"
    "CREATE INDEX clicks_contact ON clicks(contact_id);"
    "CREATE INDEX clicks_bot ON clicks(bot_id, id);",
    /* 17 -> 18: a conversation's past, to play it again (store_history.c):
     * the contact before an inbound message, written when it changed since
     * the last one; the answers its handlers' requests got */
    "CREATE TABLE snapshots("
    "  message_id INTEGER PRIMARY KEY,"
    "  contact_id INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  fields TEXT NOT NULL,"
    "  tags TEXT NOT NULL,"
    "  state TEXT,"
    "  expect TEXT,"
    "  timezone TEXT,"
    "  joined INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX snapshots_contact ON snapshots(contact_id, message_id);"
    "CREATE TABLE http_answers("
    "  id INTEGER PRIMARY KEY,"
    "  bot_id INTEGER NOT NULL,"
    "  contact_id INTEGER NOT NULL,"
    "  message_id INTEGER NOT NULL DEFAULT 0,"
    "  method TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  error TEXT,"
    "  body TEXT,"
    "  truncated INTEGER NOT NULL DEFAULT 0,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX http_answers_contact ON http_answers(contact_id, id);",
};
enum { SCHEMA_VERSION = sizeof migrations / sizeof *migrations };


enum {
  Q_BEGIN,
  Q_BEGIN_READ,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_BOT_GET,
  Q_BOT_ADD,
  Q_BOT_STORE_GET,
  Q_BOT_STORE_SET,
  Q_VERSION_GET,
  Q_VERSION_ADD,
  Q_CONTACT_GET,
  Q_CONTACTS_GET_MANY,
  Q_CONTACT_ADD,
  Q_CONTACT_ADD_ID, /* with the engine's id: nothing to read back */
  Q_CONTACT_SEEN,
  Q_CONTACT_JOINED,
  Q_CONTACT_UPDATE,
  Q_CONTACTS_EACH,
  Q_CONTACT_COUNT,
  Q_MESSAGE_ADD,
  Q_MESSAGES_EACH,
  Q_INBOUND_EXISTS,
  Q_FIRST_INBOUND,
  Q_MAX_IDS,
  Q_TIMER_ADD,
  Q_TIMER_DONE,
  Q_TIMER_CANCEL,
  Q_TIMER_CANCEL_DRIPS,
  Q_TIMERS_DUE,
  Q_TIMERS_PENDING_EVERY,
  Q_RERUNS_PENDING,
  Q_HELD_DUE,
  Q_MESSAGE_RELEASE,
  Q_INLINE_REPLIES,
  Q_BROADCAST_RELEASED,
  Q_BOT_SET_ACTIVE,
  Q_BOT_SET_SERVED,
  Q_SERVED_EACH,
  Q_CONSENT_ALL,
  Q_SUPPRESSED,
  Q_SUPPRESSED_MANY,
  Q_BACKLOG,
  Q_BROADCAST_CANCEL,
  Q_SUPPRESS,
  Q_META_GET,
  Q_META_SET,
  Q_VERSIONS_EACH,
  Q_VERSION_FILES,
  Q_BROADCAST_ADD,
  Q_BROADCAST_UPDATE,
  Q_BROADCASTS_DUE,
  Q_BROADCAST_GET,
  Q_BROADCASTS_EACH,
  Q_MAX_BROADCAST,
  Q_CONSENT_ADD,
  Q_CONSENT_EACH,
  Q_ERROR_ADD,
  Q_COUNT
};

_Static_assert((int)Q_COUNT <= (int)STORE_QUERIES, "store_internal.h: raise STORE_QUERIES");

static const char *const queries[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_BOT_GET] = "SELECT id FROM bots WHERE name = ?1",
    /* another node may add it at the same moment: its row is the one */
    [Q_BOT_ADD] = "INSERT INTO bots(name, created_at) VALUES(?1, ?2)"
                  " ON CONFLICT(name) DO NOTHING RETURNING id",
    [Q_BOT_STORE_GET] = "SELECT store, 0 FROM bots WHERE id = ?1",
    [Q_BOT_STORE_SET] = "UPDATE bots SET store = ?2 WHERE id = ?1 AND ?3 IS NOT NULL",
    [Q_VERSION_GET] = "SELECT id, number FROM script_versions WHERE bot_id = ?1 AND sha = ?2",
    [Q_VERSION_ADD] = "INSERT INTO script_versions(bot_id, sha, files, created_at, number)"
                      " VALUES(?1, ?2, ?3, ?4, (SELECT coalesce(max(number), 0) + 1"
                      " FROM script_versions WHERE bot_id = ?1)) RETURNING id, number",
    [Q_CONTACT_GET] =
        "SELECT c.id, c.number, c.status, c.fields, c.tags, c.timezone,"
        " c.first_seen, c.last_seen, v.state, v.expect, c.joined, c.undeliverable,"
        " c.handoff, c.last_in"
        " FROM contacts c LEFT JOIN conversations v ON v.contact_id = c.id"
        " WHERE c.bot_id = ?1 AND c.number = ?2",
    [Q_CONTACTS_GET_MANY] =
        "SELECT c.id, c.number, c.status, c.fields, c.tags, c.timezone,"
        " c.first_seen, c.last_seen, v.state, v.expect, c.joined, c.undeliverable,"
        " c.handoff, c.last_in"
        " FROM contacts c LEFT JOIN conversations v ON v.contact_id = c.id"
        " WHERE c.bot_id = ?1 AND c.number IN (SELECT value FROM json_each(?2))",
    [Q_CONTACT_ADD] = "INSERT INTO contacts(id, bot_id, number, first_seen, last_seen)"
                      " VALUES(?4, ?1, ?2, ?3, ?3) RETURNING id",
    [Q_CONTACT_ADD_ID] = "INSERT INTO contacts(id, bot_id, number, first_seen, last_seen)"
                         " VALUES(?4, ?1, ?2, ?3, ?3)",
    [Q_CONTACT_SEEN] = "UPDATE contacts SET last_seen = ?2, last_in = ?2 WHERE id = ?1",
    [Q_CONTACT_JOINED] = "UPDATE contacts SET joined = 1 WHERE id = ?1",
    [Q_CONTACT_UPDATE] =
        "UPDATE contacts SET status = coalesce(?2, status),"
        " fields = coalesce(?3, fields), tags = coalesce(?4, tags),"
        " timezone = coalesce(?5, timezone) WHERE id = ?1",
    [Q_CONTACTS_EACH] =
        "SELECT c.id, c.number, c.status, c.fields, c.tags, c.timezone,"
        " c.first_seen, c.last_seen, v.state, v.expect, c.joined, c.undeliverable,"
        " c.handoff, c.last_in"
        " FROM contacts c LEFT JOIN conversations v ON v.contact_id = c.id"
        " WHERE c.bot_id = ?1 ORDER BY c.id",
    [Q_CONTACT_COUNT] = "SELECT count(*) FROM contacts WHERE bot_id = ?1",
    [Q_MESSAGE_ADD] =
        "INSERT INTO messages(id, bot_id, contact_id, direction, number, text,"
        " status, provider_id, transactional, segments, created_at, updated_at,"
        " send_at, sender, priority, media, error, broadcast_id, reply_to)"
        " VALUES(?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?12, coalesce(?13, ''), ?14,"
        " ?15, ?16, ?17, ?18)" /* a retried inbound message: no row, and no error (which
                        would end a PostgreSQL transaction) */
        " ON CONFLICT(bot_id, provider_id) WHERE direction = 'in' AND provider_id IS NOT NULL"
        " DO NOTHING RETURNING id",
    [Q_MESSAGES_EACH] = "SELECT direction, text, status, coalesce(send_at, created_at) FROM messages"
                        " WHERE contact_id = ?1 ORDER BY id",
    [Q_FIRST_INBOUND] = "SELECT created_at FROM messages WHERE contact_id = ?1"
                        " AND direction = 'in' ORDER BY id LIMIT 1",
    [Q_INBOUND_EXISTS] = "SELECT 1 FROM messages WHERE bot_id = ?1 AND"
                         " provider_id = ?2 AND direction = 'in'",
    [Q_MAX_IDS] = "SELECT (SELECT coalesce(max(id), 0) FROM contacts),"
                  " (SELECT coalesce(max(id), 0) FROM messages),"
                  " (SELECT coalesce(max(id), 0) FROM timers)",
    [Q_TIMER_ADD] =
        "INSERT INTO timers(id, bot_id, contact_id, number, due_at, handler, args,"
        " kind, spec, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_TIMER_DONE] = "UPDATE timers SET status = ?2, error = ?3, fired_at = ?4"
                     " WHERE id = ?1",
    [Q_TIMER_CANCEL] = "UPDATE timers SET status = 'cancelled'" /* not a waiting handler's */
                       " WHERE id = ?1 AND bot_id = ?2 AND status = 'pending'"
                       " AND kind != 'rerun'",
    [Q_TIMER_CANCEL_DRIPS] =
        "UPDATE timers SET status = 'cancelled' WHERE contact_id = ?1"
        " AND status = 'pending' AND kind = 'drip' AND (CAST(?2 AS TEXT) IS NULL OR handler = ?2)",
    [Q_TIMERS_DUE] =
        "SELECT id, bot_id, contact_id, number, due_at, handler, args, kind, spec"
        " FROM timers WHERE status = 'pending' AND due_at <= ?1 AND bot_id = ?3"
        " AND (due_at > ?4 OR (due_at = ?4 AND id > ?5))"
        " AND (CAST(?6 AS TEXT) IS NULL"
        " OR substr(?6, parley_partition(bot_id, number) + 1, 1) = '1')"
        " ORDER BY due_at, id LIMIT ?2",
    [Q_RERUNS_PENDING] = "SELECT bot_id, coalesce(contact_id, 0), count(*) FROM timers"
                         " WHERE status = 'pending' AND kind = 'rerun' GROUP BY 1, 2",
    [Q_TIMERS_PENDING_EVERY] =
        "SELECT id, bot_id, contact_id, number, due_at, handler, args, kind, spec"
        " FROM timers WHERE bot_id = ?1 AND status = 'pending' AND kind = 'every'",
    [Q_HELD_DUE] = "SELECT id, bot_id, contact_id, number, send_at, text,"
                   " coalesce(broadcast_id, 0) FROM messages"
                   " WHERE status = 'held' AND send_at <= ?1 AND bot_id = ?3"
                   " AND (send_at > ?4 OR (send_at = ?4 AND id > ?5))"
                   " AND (CAST(?6 AS TEXT) IS NULL"
        " OR substr(?6, parley_partition(bot_id, number) + 1, 1) = '1')"
                   " ORDER BY send_at, id LIMIT ?2",
    [Q_BROADCAST_CANCEL] = "UPDATE broadcasts SET status = 'cancelled' WHERE id = ?1"
                           " AND bot_id = ?2 AND status IN ('scheduled','running')",
    [Q_BACKLOG] = "SELECT (SELECT count(*) FROM timers WHERE status = 'pending'),"
                  " (SELECT count(*) FROM messages WHERE status = 'held')",
    [Q_SUPPRESSED] = "SELECT 1 FROM suppressions WHERE bot_id = ?1 AND number_hash = ?2",
    [Q_SUPPRESSED_MANY] = "SELECT number_hash FROM suppressions WHERE bot_id = ?1"
                          " AND number_hash IN (SELECT value FROM json_each(?2))",
    [Q_SUPPRESS] = "INSERT INTO suppressions(bot_id, number_hash, at)"
                   " VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
    [Q_CONSENT_ALL] = "SELECT at, number, action, source, coalesce(text, '') FROM consent"
                      " WHERE bot_id = ?1 ORDER BY id",
    [Q_BOT_SET_ACTIVE] = "UPDATE bots SET active_version = ?2 WHERE id = ?1",
    [Q_BOT_SET_SERVED] = "UPDATE bots SET served = 1, folder_sha = coalesce(?2, folder_sha)"
                         " WHERE id = ?1",
    [Q_SERVED_EACH] = "SELECT b.name, v.sha, b.folder_sha, v.files FROM bots b"
                      " JOIN script_versions v ON v.id = b.active_version"
                      " WHERE b.served <> 0 ORDER BY b.id",
    [Q_VERSIONS_EACH] = "SELECT v.number, v.sha, v.created_at, v.id = b.active_version"
                        " FROM script_versions v JOIN bots b ON b.id = v.bot_id"
                        " WHERE v.bot_id = ?1 ORDER BY v.number",
    [Q_VERSION_FILES] = "SELECT files FROM script_versions WHERE bot_id = ?1 AND number = ?2",
    [Q_BROADCAST_ADD] = "INSERT INTO broadcasts(id, bot_id, segment, text, rate, next_at,"
                        " created_at, content) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_BROADCAST_UPDATE] =
        "UPDATE broadcasts SET status = ?2, cursor = ?3, next_at = ?4,"
        " sent = sent + ?5, held = held + ?6, suppressed = suppressed + ?7,"
        " failed = failed + ?8, not_opted_in = not_opted_in + ?9 WHERE id = ?1",
    [Q_BROADCASTS_DUE] =
        "SELECT id, bot_id, segment, text, rate, status, cursor, next_at, sent, held,"
        " suppressed, failed, not_opted_in, content FROM broadcasts WHERE status IN ('scheduled','running')"
        " AND bot_id = ?1 AND next_at <= ?2 ORDER BY next_at, id LIMIT 16",
    [Q_BROADCASTS_EACH] =
        "SELECT id, bot_id, segment, text, rate, status, cursor, next_at, sent, held,"
        " suppressed, failed, not_opted_in, content FROM broadcasts WHERE bot_id = ?1"
        " ORDER BY id DESC LIMIT ?2",
    [Q_BROADCAST_GET] =
        "SELECT id, bot_id, segment, text, rate, status, cursor, next_at, sent, held,"
        " suppressed, failed, not_opted_in, content FROM broadcasts WHERE id = ?1 AND bot_id = ?2",
    [Q_MAX_BROADCAST] = "SELECT coalesce(max(id), 0) FROM broadcasts",
    [Q_MESSAGE_RELEASE] = "UPDATE messages SET status = ?2, updated_at = ?3"
                          " WHERE id = ?1",
    /* sent and never claimed by the outbox, which counts an attempt and
     * keeps the provider's id: went back in the webhook's answer */
    [Q_INLINE_REPLIES] =
        "SELECT o.id, o.number, o.text FROM messages i JOIN messages o"
        " ON o.contact_id = i.contact_id AND o.reply_to = i.id"
        " WHERE i.bot_id = ?1 AND i.provider_id = ?2 AND i.direction = 'in'"
        " AND o.direction = 'out' AND o.status = 'sent' AND o.provider_id IS NULL"
        " AND o.attempts = 0 ORDER BY o.id",
    [Q_BROADCAST_RELEASED] =
        "UPDATE broadcasts SET held = held - 1,"
        " sent = sent + CASE WHEN ?2 = 'suppressed' THEN 0 ELSE 1 END,"
        " suppressed = suppressed + CASE WHEN ?2 = 'suppressed' THEN 1 ELSE 0 END WHERE id = ?1",
    [Q_CONSENT_ADD] = "INSERT INTO consent(bot_id, contact_id, number, action,"
                      " source, text, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_CONSENT_EACH] = "SELECT action, source, text, at FROM consent"
                       " WHERE contact_id = ?1 ORDER BY id",
    [Q_ERROR_ADD] = "INSERT INTO errors(bot_id, contact_id, message_id, kind,"
                    " text, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
};

/* What erasing a contact deletes, in this order. */
static const char *const deletes[] = {
    "DELETE FROM messages WHERE contact_id = ?1",
    "DELETE FROM conversations WHERE contact_id = ?1",
    "DELETE FROM timers WHERE contact_id = ?1",
    "DELETE FROM errors WHERE contact_id = ?1",
    "DELETE FROM inbox_reads WHERE contact_id = ?1",
    "DELETE FROM operator_actions WHERE contact_id = ?1",
    "DELETE FROM clicks WHERE contact_id = ?1",
    "DELETE FROM snapshots WHERE contact_id = ?1",
    "DELETE FROM http_answers WHERE contact_id = ?1",
    "DELETE FROM links WHERE contact_id = ?1",
    "DELETE FROM contacts WHERE id = ?1"};

int store_schema_version(void) { return (int)SCHEMA_VERSION; }

/* Query q as the connection's database takes it: PostgreSQL has no
 * IMMEDIATE or DEFERRED; its reads take one snapshot for the whole
 * transaction, as SQLite's do. */
static const char *query_text(sql_kind kind, int q) {
  if (kind == SQL_POSTGRES && q == Q_BEGIN) return "BEGIN";
  /* several nodes: written only over the version read (a CHECK fails the
   * transaction otherwise); ?3 unused on SQLite (one process writes) */
  if (kind == SQL_POSTGRES && q == Q_BOT_STORE_SET)
    return "UPDATE bots SET store = ?2, store_version = CASE WHEN store_version = ?3"
           " THEN store_version + 1 ELSE -1 END WHERE id = ?1";
  if (kind == SQL_POSTGRES && q == Q_BOT_STORE_GET)
    return "SELECT store, store_version FROM bots WHERE id = ?1";
  /* A list of numbers or hashes is one JSON array on both. PostgreSQL
   * looks each up in the unique index whatever its statistics say (on a
   * table that grew since they were taken, a plan with "= ANY" scanned it
   * whole: 3 to 25 ms a batch in bench postgres). */
  if (kind == SQL_POSTGRES && q == Q_CONTACTS_GET_MANY)
    return "SELECT c.id, c.number, c.status, c.fields, c.tags, c.timezone,"
           " c.first_seen, c.last_seen, v.state, v.expect, c.joined, c.undeliverable,"
        " c.handoff, c.last_in"
           " FROM (SELECT DISTINCT jsonb_array_elements_text(CAST(?2 AS jsonb))) n(number)"
           " CROSS JOIN LATERAL (SELECT * FROM contacts"
           " WHERE bot_id = ?1 AND number = n.number LIMIT 1) c"
           " LEFT JOIN LATERAL (SELECT state, expect FROM conversations"
           " WHERE contact_id = c.id LIMIT 1) v ON true";
  if (kind == SQL_POSTGRES && q == Q_SUPPRESSED_MANY)
    return "SELECT s.number_hash"
           " FROM (SELECT DISTINCT jsonb_array_elements_text(CAST(?2 AS jsonb))) n(hash)"
           " CROSS JOIN LATERAL (SELECT number_hash FROM suppressions"
           " WHERE bot_id = ?1 AND number_hash = n.hash LIMIT 1) s";
  if (kind == SQL_POSTGRES && q == Q_BEGIN_READ)
    return "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
  return queries[q];
}

size_t store_statements(sql_kind kind, const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < Q_COUNT; q++)
    if (n < cap) out[n++] = query_text(kind, q);
  for (size_t i = 0; i < sizeof deletes / sizeof *deletes; i++)
    if (n < cap) out[n++] = deletes[i];
  return n;
}

const char *store_error(store_reader *rd) {
  return reader_store(rd)->err;
}

int store_fail(store *st, const char *what) {
  snprintf(st->err, sizeof st->err, "%s: %s: %s", st->path, what, sql_error(st->sql));
  return -1;
}

/* The same for a failure of a call on SQLite's own handle. */
static int store_fail_sqlite(store *st, const char *what) {
  snprintf(st->err, sizeof st->err, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
  return -1;
}

/* The writes whose callers read nothing of their answer but a failure
 * (store_exec_done): in a journal on PostgreSQL they go without waiting
 * (store_pipeline). */
static int deferrable(int q) {
  switch (q) {
    case Q_CONTACT_ADD_ID:
    case Q_CONTACT_SEEN:
    case Q_CONTACT_JOINED:
    case Q_CONTACT_UPDATE:
    case Q_CONSENT_ADD:
    case Q_ERROR_ADD:
    case Q_TIMER_ADD:
    case Q_TIMER_DONE:
    case Q_BOT_STORE_SET:
    case Q_BROADCAST_UPDATE:
    case Q_MESSAGE_RELEASE:
    case Q_BROADCAST_RELEASED:
      return 1;
    default:
      return 0;
  }
}

static int run_simple(store *st, int q, const char *what);

int store_read_wanted(store *st) {
  if (!st->read_wanted) return 0; /* store_read_begin's transaction, at its first read */
  st->read_wanted = 0;
  return run_simple(st, Q_BEGIN_READ, "cannot start a read transaction");
}

sql_stmt *store_cached(store *st, sql_stmt **slot, const char *text) {
  if (store_read_wanted(st)) return NULL;
  if (!*slot && !(*slot = sql_prepare(st->sql, text))) {
    store_fail(st, "cannot prepare a query");
    return NULL;
  }
  sql_reset(*slot);
  sql_clear_bindings(*slot);
  return *slot;
}

static sql_stmt *stmt(store *st, int q) {
  if (store_read_wanted(st)) return NULL;
  if (!st->q[q] && !(st->q[q] = sql_prepare(st->sql, query_text(sql_kind_of(st->sql), q)))) {
    store_fail(st, "cannot prepare a query");
    return NULL;
  }
  if (deferrable(q)) sql_set_deferrable(st->q[q]);
  sql_reset(st->q[q]);
  sql_clear_bindings(st->q[q]);
  return st->q[q];
}

void store_bind_text(sql_stmt *s, int i, const char *v) { sql_bind_text(s, i, v); }

/* Runs a statement that returns no rows. */
int store_exec_done(store *st, sql_stmt *s, const char *what) {
  int rc = sql_step(s);
  sql_reset(s);
  if (rc != SQL_DONE) return store_fail(st, what);
  return 0;
}

/* Runs an INSERT: the new row's id, or -1 with the reason in st->err. */
static int64_t exec_insert(store *st, sql_stmt *s, const char *what) {
  int rc = sql_step(s);
  int64_t id = rc == SQL_ROW ? sql_column_int(s, 0) : store_fail(st, what);
  sql_reset(s);
  return id;
}

void store_columns(sql_stmt *s, const sql_out *o, size_t n) {
  for (size_t k = 0; k < n; k++) {
    int i = (int)k;
    switch (o[k].type) {
      case SQL_OUT_INT64:
        *(int64_t *)o[k].p = sql_column_int(s, i);
        break;
      case SQL_OUT_INT:
        *(int *)o[k].p = (int)sql_column_int(s, i);
        break;
      case SQL_OUT_DOUBLE:
        *(double *)o[k].p = sql_column_double(s, i);
        break;
      case SQL_OUT_TEXT:
        *(char **)o[k].p = store_col_dup(s, i);
        break;
    }
  }
}

int store_step_end(store *st, sql_stmt *s, int rc, const char *what) {
  sql_reset(s);
  if (rc == SQL_ROW) return 1;
  return rc == SQL_DONE ? 0 : store_fail(st, what);
}

void store_bind_values(sql_stmt *s, const sql_value *v, size_t n) {
  for (size_t k = 0; k < n; k++) {
    int i = (int)k + 1;
    switch (v[k].type) {
      case SQL_INTEGER:
        sql_bind_int(s, i, v[k].i);
        break;
      case SQL_STRING:
        store_bind_text(s, i, v[k].t);
        break;
      case SQL_DOUBLE:
        sql_bind_double(s, i, v[k].r);
        break;
    }
  }
}

int store_run_values(store *st, sql_stmt *s, const char *what, const sql_value *v,
                     size_t n) {
  if (!s) return -1; /* the preparation's error is recorded */
  store_bind_values(s, v, n);
  return store_exec_done(st, s, what);
}


/* Steps a query whose first column is an id: the id, or 0 without a row. */
static int64_t step_id(sql_stmt *s) {
  int64_t id = sql_step(s) == SQL_ROW ? sql_column_int(s, 0) : 0;
  sql_reset(s);
  return id;
}

static int exec_sql(store *st, const char *sql, const char *what) {
  return sql_exec(st->sql, sql) ? store_fail(st, what) : 0;
}

static int read_version(store *st, int *version) {
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, "PRAGMA user_version")))
    return store_fail(st, "cannot read the schema version");
  *version = sql_step(s) == SQL_ROW ? (int)sql_column_int(s, 0) : 0;
  sql_finalize(s);
  return 0;
}

/* Refuses, before anything is written, a database this parley must not
 * touch: a newer schema, or another program's tables. */
static int check_version(store *st, int version) {
  if (version > (int)SCHEMA_VERSION) {
    snprintf(st->err, sizeof st->err,
             "%s: written by a newer parley (schema %d, this one knows up to %d); "
             "upgrade parley instead of opening it with this version",
             st->path, version, (int)SCHEMA_VERSION);
    return -1;
  }
  if (version == 0) {
    sql_stmt *s;
    if (!(s = sql_prepare(st->sql, "SELECT count(*) FROM sqlite_schema")))
      return store_fail(st, "cannot read the schema");
    int tables = sql_step(s) == SQL_ROW ? (int)sql_column_int(s, 0) : 0;
    sql_finalize(s);
    if (tables > 0) {
      snprintf(st->err, sizeof st->err,
               "%s: a SQLite database of another program (it has tables but no "
               "parley schema version); give parley a file of its own",
               st->path);
      return -1;
    }
  }
  return 0;
}

static int migrate(store *st, int version) {
  for (int v = version; v < (int)SCHEMA_VERSION; v++) {
    if (exec_sql(st, "BEGIN IMMEDIATE", "cannot start a migration")) return -1;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
    if (exec_sql(st, migrations[v], "schema migration failed") ||
        exec_sql(st, pragma, "schema migration failed")) {
      exec_sql(st, "ROLLBACK", "rollback");
      return -1;
    }
    if (exec_sql(st, "COMMIT", "cannot commit a migration")) return -1;
  }
  return 0;
}

/* The first read of the file, with a message that tells a locked database
 * from one that is not a database. */
static int probe(store *st) {
  int rc = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
  if (rc == SQLITE_OK) return 0;
  int code = sqlite3_errcode(st->db) & 0xff;
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    snprintf(st->err, sizeof st->err,
             "%s: the database is locked by another process (another parley "
             "running on it?); stop that one or use another file", st->path);
  else if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
    snprintf(st->err, sizeof st->err,
             "%s: not a usable SQLite database (%s); it was left as it is",
             st->path, sqlite3_errmsg(st->db));
  else
    return store_fail_sqlite(st, "cannot read the database");
  return -1;
}

/* A store on PostgreSQL. Its errors name the URL without its password. */
static store *open_postgres(const char *url, char *err, size_t errlen) {
  store *st = xcalloc(1, sizeof *st);
  char shown[512], why[512];
  sql_shown_target(url, shown, sizeof shown);
  st->path = xstrdup(shown);
  st->sql = sql_open(url, err, errlen);
  if (st->sql && store_schema_pg(st->sql, (int)SCHEMA_VERSION, why, sizeof why) == 0)
    return st;
  if (st->sql) snprintf(err, errlen, "%s: %s", shown, why);
  store_close(st);
  return NULL;
}

int store_has_wal(store *st) { return st->db && strcmp(st->path, ":memory:") != 0; }

store *store_open(const char *path, char *err, size_t errlen) {
  static int configured;
  if (!configured) {
    /* before SQLite initializes: no global allocation statistics, which
     * cost a mutex on every malloc */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    configured = 1;
  }
  if (sql_is_postgres_target(path)) return open_postgres(path, err, errlen);
  store *st = xcalloc(1, sizeof *st);
  st->path = xstrdup(path);
  st->sql = sql_open(path, err, errlen);
  if (!st->sql) {
    store_close(st);
    return NULL;
  }
  st->db = sql_sqlite(st->sql);
  busy_timeout(st, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_create_function(st->db, "parley_partition", 2,
                          SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                          sql_partition, NULL, NULL);
  int memory = strcmp(path, ":memory:") == 0;
  int version = 0;
  /* reads first: a file that is not a database, is locked, or is not ours
   * fails here, untouched */
  int rc = probe(st);
  if (rc == 0) rc = read_version(st, &version);
  if (rc == 0) rc = check_version(st, version);
  if (rc == 0 && !memory &&
      exec_sql(st, "PRAGMA journal_mode = WAL", "cannot switch to WAL mode"))
    rc = -1;
  if (rc == 0 &&
      exec_sql(st, "PRAGMA synchronous = NORMAL; "
                   "PRAGMA wal_autocheckpoint = 10000; PRAGMA cache_size = -65536;",
               "cannot configure the database"))
    rc = -1;
  if (rc == 0) rc = migrate(st, version);
  if (rc != 0) {
    snprintf(err, errlen, "%s", st->err);
    store_close(st);
    return NULL;
  }
  return st;
}

void store_close(store *st) {
  if (!st) return;
  for (int i = 0; i < Q_COUNT; i++) sql_finalize(st->q[i]);
  for (int i = 0; i < STORE_EXTRA_QUERIES; i++) sql_finalize(st->extra[i]);
  for (int i = 0; i < STORE_CLUSTER_QUERIES; i++) sql_finalize(st->cluster[i]);
  for (int i = 0; i < STORE_CONSOLE_QUERIES; i++) sql_finalize(st->console[i]);
  for (int i = 0; i < STORE_LINK_QUERIES; i++) sql_finalize(st->links[i]);
  for (int i = 0; i < STORE_HISTORY_QUERIES; i++) sql_finalize(st->history[i]);
  sql_finalize(st->fence_check);
  for (int i = 0; i < STORE_MESSAGE_INSERTS; i++) {
    sql_finalize(st->message_inserts[i]);
    sql_finalize(st->conversation_saves[0][i]);
    sql_finalize(st->conversation_saves[1][i]);
    sql_finalize(st->contact_inserts[i]);
    sql_finalize(st->snapshot_inserts[i]);
  }
  EVP_MAC_CTX_free(st->suppression_mac);
  sql_close(st->sql);
  free(st->path);
  free(st);
}

store_reader *store_reader_open(const char *path, char *err, size_t errlen) {
  store *st = store_open(path, err, errlen);
  /* the database refuses this connection any write: a read that would
   * write fails instead */
  if (st && exec_sql(st,
                     st->db ? "PRAGMA query_only = 1"
                            : "SET default_transaction_read_only = on",
                     "cannot make the connection read-only")) {
    snprintf(err, errlen, "%s", st->err);
    store_close(st);
    return NULL;
  }
  return (store_reader *)st;
}

void store_reader_close(store_reader *rd) {
  store_close(reader_store(rd));
}

store_reader *store_reads(store *st) {
  return (store_reader *)st;
}

static int run_simple(store *st, int q, const char *what) {
  sql_stmt *s = stmt(st, q);
  return s ? store_exec_done(st, s, what) : -1;
}

int store_set_fence(store *st, const store_fence *f) {
  st->fence = f;
  if (st->db || !f) return 0; /* SQLite: one node */
  char set[96]; /* kept by sql_db for the connections after this one */
  snprintf(set, sizeof set, "SET idle_in_transaction_session_timeout = %ld",
           f->idle_ms > 0 ? f->idle_ms : 0);
  return sql_exec(st->sql, set) ? store_fail(st, "cannot bound the idle transactions") : 0;
}

/* Inside a write transaction: 0 if the node's fence still holds (or none
 * is set), else -1 with the error. The share lock makes a DELETE or
 * UPDATE of the node's row (another node taking its partitions) wait for
 * this transaction's end. */
static int check_fence(store *st) {
  const store_fence *f = st->fence;
  if (!f) return 0;
  if (!st->fence_check &&
      !(st->fence_check = sql_prepare(st->sql, "SELECT 1 FROM parley_nodes WHERE node_id = ?1"
                                               " AND fence = ?2 FOR SHARE")))
    return store_fail(st, "cannot prepare a query");
  int64_t fence = atomic_load(&f->fence);
  sql_stmt *s = st->fence_check;
  sql_reset(s);
  STORE_BIND(s, SQL_TEXT(f->node_id), SQL_INT(fence));
  int rc = store_step_end(st, s, sql_step(s), "cannot check the node's lease");
  if (rc == 0)
    snprintf(st->err, sizeof st->err,
             "%s: node '%s' (run %lld) no longer holds its partitions: another node took "
             "them over after its lease ran out",
             st->path, f->node_id, (long long)fence);
  return rc == 1 ? 0 : -1;
}

int store_pipeline(store *st, int on) {
  return sql_pipeline(st->sql, on) ? store_fail(st, "cannot use a pipeline") : 0;
}

int store_begin(store *st) {
  if (run_simple(st, Q_BEGIN, "cannot start a transaction")) return -1;
  if (check_fence(st) == 0) return 0;
  char why[sizeof st->err];
  snprintf(why, sizeof why, "%s", st->err);
  store_rollback(st);
  snprintf(st->err, sizeof st->err, "%s", why);
  return -1;
}
int store_commit(store *st) { return run_simple(st, Q_COMMIT, "cannot commit"); }
/* The BEGIN waits for the first statement: a batch whose contacts are all
 * in memory reads nothing, and on PostgreSQL a BEGIN and its ROLLBACK are
 * two round trips for nothing (bench/cluster.sh, two nodes, 60,000
 * webhooks: 6,508 read transactions before, 1,259 after). */
int store_read_begin(store_reader *rd) {
  reader_store(rd)->read_wanted = 1;
  return 0;
}
int store_read_end(store_reader *rd) {
  store *st = reader_store(rd);
  st->read_wanted = 0;
  return store_rollback(st);
}
int store_rollback(store *st) {
  if (!sql_in_transaction(st->sql)) return 0;
  return run_simple(st, Q_ROLLBACK, "cannot roll back");
}

int64_t store_bot_ensure(store *st, const char *name, int64_t now) {
  sql_stmt *s = stmt(st, Q_BOT_GET);
  if (!s) return -1;
  store_bind_text(s, 1, name);
  int64_t id = step_id(s);
  if (id > 0) return id;
  s = stmt(st, Q_BOT_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(name), SQL_INT(now));
  int rc = sql_step(s);
  id = rc == SQL_ROW ? sql_column_int(s, 0) : 0;
  sql_reset(s);
  if (rc != SQL_ROW && rc != SQL_DONE) return store_fail(st, "cannot add the bot");
  if (id > 0) return id;
  s = stmt(st, Q_BOT_GET); /* added by another node meanwhile */
  if (!s) return -1;
  store_bind_text(s, 1, name);
  id = step_id(s);
  return id > 0 ? id : store_fail(st, "cannot add the bot");
}

char *store_bot_store_get(store_reader *rd, int64_t bot_id, int64_t *version) {
  store *st = reader_store(rd);
  if (version) *version = 0;
  sql_stmt *s = stmt(st, Q_BOT_STORE_GET);
  if (!s) return NULL;
  sql_bind_int(s, 1, bot_id);
  char *out = NULL;
  if (sql_step(s) == SQL_ROW) {
    out = xstrdup(sql_column_text(s, 0));
    if (version) *version = sql_column_int(s, 1);
  }
  sql_reset(s);
  return out ? out : xstrdup("{}");
}

int store_bot_store_set(store *st, int64_t bot_id, const char *json, int64_t version) {
  return STORE_RUN(st, stmt(st, Q_BOT_STORE_SET), "cannot save bot.store", SQL_INT(bot_id),
                   SQL_TEXT(json), SQL_INT(version));
}

/* Steps a query of (id, number): the id (0 without a row, -1 on an error). */
static int64_t step_id_number(store *st, sql_stmt *s, int64_t *number, const char *what) {
  int rc = sql_step(s);
  int64_t id = 0;
  if (rc == SQL_ROW) {
    id = sql_column_int(s, 0);
    *number = sql_column_int(s, 1);
  } else if (rc != SQL_DONE) {
    id = store_fail(st, what);
  }
  sql_reset(s);
  return id;
}

int64_t store_script_version_add(store *st, int64_t bot_id, const char *sha,
                                 const char *files_json, int64_t now, int64_t *number) {
  sql_stmt *s = stmt(st, Q_VERSION_GET);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(sha));
  int64_t id = step_id_number(st, s, number, "cannot look up the script version");
  if (id != 0) return id;
  s = stmt(st, Q_VERSION_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(sha), SQL_TEXT(files_json), SQL_INT(now));
  id = step_id_number(st, s, number, "cannot record the script version");
  return id ? id : store_fail(st, "cannot record the script version");
}

char *store_col_dup(sql_stmt *s, int i) {
  const char *t = sql_column_text(s, i);
  return t ? xstrdup(t) : NULL;
}

static void read_contact(sql_stmt *s, contact_row *r) {
  STORE_COLUMNS(s, SQL_OUT(&r->id), SQL_OUT(&r->number), SQL_OUT(&r->status),
                SQL_OUT(&r->fields), SQL_OUT(&r->tags), SQL_OUT(&r->timezone),
                SQL_OUT(&r->first_seen), SQL_OUT(&r->last_seen), SQL_OUT(&r->state));
  if (!r->state) r->state = xstrdup("{}");
  r->expect = store_col_dup(s, 9);
  r->joined = (int)sql_column_int(s, 10);
  r->undeliverable = store_col_dup(s, 11);
  r->handoff = store_col_dup(s, 12);
  r->last_in = sql_column_int(s, 13);
}

void contact_row_free(contact_row *r) {
  free(r->number);
  free(r->status);
  free(r->fields);
  free(r->tags);
  free(r->timezone);
  free(r->state);
  free(r->expect);
  free(r->undeliverable);
  free(r->handoff);
  *r = (contact_row){0};
}

int store_contact_get(store_reader *rd, int64_t bot_id, const char *number,
                      contact_row *out) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_CONTACT_GET);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(number));
  int rc = sql_step(s);
  int found = 0;
  if (rc == SQL_ROW) {
    read_contact(s, out);
    found = 1;
  } else if (rc != SQL_DONE) {
    found = store_fail(st, "cannot read a contact");
  }
  sql_reset(s);
  return found;
}

char *store_json_list(const char *const *texts, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(texts[i]));
  char *out = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  return out;
}

int store_contacts_get_many(store_reader *rd, int64_t bot_id, const char *const *numbers,
                            size_t n, contact_take_fn fn, void *ud) {
  store *st = reader_store(rd);
  if (!n) return 0;
  char *list = store_json_list(numbers, n);
  sql_stmt *s = list ? stmt(st, Q_CONTACTS_GET_MANY) : NULL;
  if (!s) {
    free(list);
    return list ? -1 : store_fail(st, "cannot list numbers");
  }
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(list));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    contact_row r = {0};
    read_contact(s, &r);
    fn(ud, &r);
    contact_row_free(&r);
  }
  sql_reset(s);
  free(list);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot read contacts");
}

int64_t store_contact_insert(store *st, int64_t id, int64_t bot_id,
                             const char *number, int64_t now) {
  sql_stmt *s = stmt(st, id > 0 ? Q_CONTACT_ADD_ID : Q_CONTACT_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(number), SQL_INT(now));
  if (id <= 0) return exec_insert(st, s, "cannot add a contact");
  sql_bind_int(s, 4, id);
  return store_exec_done(st, s, "cannot add a contact") ? -1 : id;
}

sql_stmt *prepare_many_rows(store *st, sql_stmt **cached, const char *sql) {
  if (!(*cached = sql_prepare(st->sql, sql))) {
    store_fail(st, "cannot prepare a query");
    return NULL;
  }
  sql_set_deferrable(*cached);
  return *cached;
}

int run_many_rows(store *st, size_t n, rows_run run, const void *ud) {
  size_t at = 0;
  for (int k = STORE_MESSAGE_INSERTS - 1; k >= 0; k--)
    for (size_t size = (size_t)1 << k; n - at >= size; at += size)
      if (run(st, ud, at, k)) return -1;
  return 0;
}

/* store_contacts_insert: one INSERT of 2^k rows for each k, the
 * parameters of row r from r * CONTACT_PARAMS + 1 on. */
enum { CONTACT_PARAMS = 11 };

static sql_stmt *contact_insert(store *st, int k) {
  sql_stmt **cached = &st->contact_inserts[k];
  if (*cached) {
    sql_reset(*cached);
    return *cached;
  }
  buf sql = {0};
  buf_puts(&sql, "INSERT INTO contacts(id, bot_id, number, first_seen, last_seen, joined, status,"
                 " fields, tags, timezone, last_in) VALUES");
  for (int r = 0; r < 1 << k; r++) {
    int p = r * CONTACT_PARAMS;
    buf_printf(&sql,
               "%s(?%d,?%d,?%d,?%d,?%d,?%d,coalesce(?%d,'subscribed'),coalesce(?%d,'{}'),"
               "coalesce(?%d,'[]'),?%d,?%d)",
               r ? "," : "", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9,
               p + 10, p + 11);
  }
  sql_stmt *s = prepare_many_rows(st, cached, sql.data);
  buf_free(&sql);
  return s;
}

static int insert_contacts(store *st, const void *ud, size_t at, int k) {
  const contact_new *rows = (const contact_new *)ud + at;
  sql_stmt *s = contact_insert(st, k);
  if (!s) return -1;
  for (int r = 0; r < 1 << k; r++) {
    const contact_new *c = &rows[r];
    int p = r * CONTACT_PARAMS;
    sql_bind_int(s, p + 1, c->id);
    sql_bind_int(s, p + 2, c->bot_id);
    store_bind_text(s, p + 3, c->number);
    sql_bind_int(s, p + 4, c->first_seen);
    sql_bind_int(s, p + 5, c->last_seen);
    sql_bind_int(s, p + 6, c->joined);
    store_bind_text(s, p + 7, c->status);
    store_bind_text(s, p + 8, c->fields);
    store_bind_text(s, p + 9, c->tags);
    store_bind_text(s, p + 10, c->timezone);
    if (c->last_in) sql_bind_int(s, p + 11, c->last_in);
    else sql_bind_null(s, p + 11);
  }
  int rc = sql_step(s);
  sql_reset(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot add a contact");
}

int store_contacts_insert(store *st, const contact_new *rows, size_t n) {
  return run_many_rows(st, n, insert_contacts, rows);
}

int store_contact_seen(store *st, int64_t contact_id, int64_t now) {
  return STORE_RUN(st, stmt(st, Q_CONTACT_SEEN), "cannot update a contact",
                   SQL_INT(contact_id), SQL_INT(now));
}

int store_contact_joined(store *st, int64_t contact_id) {
  return STORE_RUN(st, stmt(st, Q_CONTACT_JOINED), "cannot update a contact",
                   SQL_INT(contact_id));
}

int store_contact_update(store *st, int64_t contact_id, const char *status,
                         const char *fields, const char *tags,
                         const char *timezone) {
  return STORE_RUN(st, stmt(st, Q_CONTACT_UPDATE), "cannot update a contact",
                   SQL_INT(contact_id), SQL_TEXT(status), SQL_TEXT(fields),
                   SQL_TEXT(tags), SQL_TEXT(timezone));
}

int store_conversation_save(store *st, int64_t contact_id, const char *state,
                            const char *expect, int64_t now) {
  conversation_row r = {.contact_id = contact_id, .state = state, .expect = expect, .at = now};
  return store_conversations_save(st, &r, 1);
}

/* store_conversations_save: upserts of 2^k rows for each k, with the
 * state (kind 1) or without (0: an old conversation keeps its own, a new
 * one starts with {}), the parameters of row r (the contact, the state if
 * any, the expect, the time) from r * conversation_params(kind) + 1 on. */
static int conversation_params(int with_state) { return with_state ? 4 : 3; }

static sql_stmt *conversation_upsert(store *st, int with_state, int k) {
  sql_stmt **cached = &st->conversation_saves[with_state][k];
  if (*cached) {
    sql_reset(*cached);
    return *cached;
  }
  int rows = 1 << k;
  buf sql = {0};
  buf_puts(&sql, "INSERT INTO conversations(contact_id, state, expect, updated_at) VALUES");
  for (int r = 0; r < rows; r++) {
    int p = r * conversation_params(with_state);
    if (with_state)
      buf_printf(&sql, "%s(?%d,?%d,?%d,?%d)", r ? "," : "", p + 1, p + 2, p + 3, p + 4);
    else
      buf_printf(&sql, "%s(?%d,'{}',?%d,?%d)", r ? "," : "", p + 1, p + 2, p + 3);
  }
  buf_printf(&sql, " ON CONFLICT(contact_id) DO UPDATE SET %sexpect = excluded.expect,"
                   " updated_at = excluded.updated_at",
             with_state ? "state = excluded.state, " : "");
  sql_stmt *s = prepare_many_rows(st, cached, sql.data);
  buf_free(&sql);
  return s;
}

typedef struct conversation_rows {
  int with_state;
  const conversation_row **rows;
} conversation_rows;

static int upsert_conversations(store *st, const void *ud, size_t at, int k) {
  const conversation_rows *c = ud;
  sql_stmt *s = conversation_upsert(st, c->with_state, k);
  if (!s) return -1;
  for (int r = 0; r < 1 << k; r++) {
    const conversation_row *row = c->rows[at + (size_t)r];
    int p = r * conversation_params(c->with_state);
    sql_bind_int(s, ++p, row->contact_id);
    if (c->with_state) store_bind_text(s, ++p, row->state);
    store_bind_text(s, ++p, row->expect);
    sql_bind_int(s, ++p, row->at);
  }
  int rc = sql_step(s);
  sql_reset(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot save a conversation");
}

int store_conversations_save(store *st, const conversation_row *rows, size_t n) {
  enum { AT_ONCE = 64 };
  const conversation_row *kind[2][AT_ONCE];
  for (size_t at = 0; at < n; at += AT_ONCE) {
    size_t count[2] = {0, 0};
    for (size_t i = at; i < n && i < at + AT_ONCE; i++) {
      int with_state = rows[i].state != NULL;
      kind[with_state][count[with_state]++] = &rows[i];
    }
    conversation_rows with = {1, kind[1]}, without = {0, kind[0]};
    if (run_many_rows(st, count[1], upsert_conversations, &with) ||
        run_many_rows(st, count[0], upsert_conversations, &without))
      return -1;
  }
  return 0;
}

int store_contacts_each(store_reader *rd, int64_t bot_id, contact_fn fn, void *ud) {
  store *st = reader_store(rd);
  /* a separate statement: callbacks may run other queries */
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, queries[Q_CONTACTS_EACH])))
    return store_fail(st, "cannot list contacts");
  sql_bind_int(s, 1, bot_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    contact_row r = {0};
    read_contact(s, &r);
    fn(ud, &r);
    contact_row_free(&r);
  }
  sql_finalize(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot list contacts");
}

long store_contact_count(store_reader *rd, int64_t bot_id) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_CONTACT_COUNT);
  if (!s) return -1;
  sql_bind_int(s, 1, bot_id);
  long n = sql_step(s) == SQL_ROW ? (long)sql_column_int(s, 0) : -1;
  sql_reset(s);
  return n;
}

int64_t store_message_add(store *st, const message_row *m) {
  sql_stmt *s = stmt(st, Q_MESSAGE_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(m->bot_id), SQL_INT(m->contact_id), SQL_TEXT(m->direction),
             SQL_TEXT(m->number), SQL_TEXT(m->text), SQL_TEXT(m->status),
             SQL_TEXT(m->provider_id), SQL_INT(m->transactional));
  if (m->segments > 0)
    sql_bind_int(s, 9, m->segments);
  else
    sql_bind_null(s, 9); /* not counted yet */
  sql_bind_int(s, 10, m->at);
  if (m->id > 0) sql_bind_int(s, 11, m->id);
  if (m->send_at > 0) sql_bind_int(s, 12, m->send_at);
  store_bind_text(s, 13, m->sender);
  sql_bind_int(s, 14, m->priority);
  store_bind_text(s, 15, m->media);
  store_bind_text(s, 16, m->error);
  if (m->broadcast_id > 0) sql_bind_int(s, 17, m->broadcast_id);
  else sql_bind_null(s, 17);
  if (m->reply_to > 0) sql_bind_int(s, 18, m->reply_to);
  else sql_bind_null(s, 18);
  int rc = sql_step(s);
  int64_t id = rc == SQL_ROW ? sql_column_int(s, 0) : 0;
  sql_reset(s);
  return rc == SQL_FAIL ? store_fail(st, "cannot store a message") : id;
}

/* store_messages_add: one INSERT of 2^k rows for each k, the parameters of
 * row r from r * MESSAGE_PARAMS + 1 on (updated_at is created_at). OR FAIL:
 * a row at fault ends the statement, keeping the rows before it (the
 * caller's rollback undoes them), so SQLite keeps no statement journal, a
 * copy of every page the statement changes that ABORT would need to undo
 * it alone. */
enum { MESSAGE_PARAMS = 18 };

static sql_stmt *message_insert(store *st, int k) {
  if (st->message_inserts[k]) {
    sql_reset(st->message_inserts[k]);
    return st->message_inserts[k];
  }
  static const char head[] =
      "INSERT %sINTO messages(id, bot_id, contact_id, direction, number, text, status,"
      " provider_id, transactional, segments, created_at, updated_at, send_at, sender,"
      " priority, media, error, broadcast_id, reply_to) VALUES";
  int rows = 1 << k;
  size_t cap = sizeof head + (size_t)rows * 160, len = 0;
  char *sql = xmalloc(cap);
  /* PostgreSQL has no OR FAIL: a statement there is all or nothing */
  len += (size_t)snprintf(sql, cap, head, st->db ? "OR FAIL " : "");
  for (int r = 0; r < rows; r++) {
    int p = r * MESSAGE_PARAMS;
    len += (size_t)snprintf(
        sql + len, cap - len,
        "%s(?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,"
        "?%d,?%d,?%d,?%d)",
        r ? "," : "", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9,
        p + 10, p + 11, p + 11, p + 12, p + 13, p + 14, p + 15, p + 16, p + 17, p + 18);
  }
  sql_stmt *s = prepare_many_rows(st, &st->message_inserts[k], sql);
  free(sql);
  return s;
}

/* Binds every parameter of row r (no old binding is left to clear). */
static void bind_message(sql_stmt *s, int r, const message_row *m) {
  int p = r * MESSAGE_PARAMS;
  if (m->id > 0)
    sql_bind_int(s, p + 1, m->id);
  else
    sql_bind_null(s, p + 1); /* the store picks one */
  sql_bind_int(s, p + 2, m->bot_id);
  sql_bind_int(s, p + 3, m->contact_id);
  store_bind_text(s, p + 4, m->direction);
  store_bind_text(s, p + 5, m->number);
  store_bind_text(s, p + 6, m->text);
  store_bind_text(s, p + 7, m->status);
  store_bind_text(s, p + 8, m->provider_id);
  sql_bind_int(s, p + 9, m->transactional);
  if (m->segments > 0)
    sql_bind_int(s, p + 10, m->segments);
  else
    sql_bind_null(s, p + 10); /* not counted yet */
  sql_bind_int(s, p + 11, m->at);
  if (m->send_at > 0)
    sql_bind_int(s, p + 12, m->send_at);
  else
    sql_bind_null(s, p + 12);
  store_bind_text(s, p + 13, m->sender ? m->sender : "");
  sql_bind_int(s, p + 14, m->priority);
  store_bind_text(s, p + 15, m->media);
  store_bind_text(s, p + 16, m->error);
  if (m->broadcast_id > 0)
    sql_bind_int(s, p + 17, m->broadcast_id);
  else
    sql_bind_null(s, p + 17);
  if (m->reply_to > 0)
    sql_bind_int(s, p + 18, m->reply_to);
  else
    sql_bind_null(s, p + 18);
}

/* The error of a batch that stopped at row m (NULL: not known). */
static int message_failed(store *st, const message_row *m) {
  char what[320];
  if (!m)
    snprintf(what, sizeof what, "cannot store messages");
  else if (sql_failed_unique(st->sql) && m->provider_id)
    snprintf(what, sizeof what,
             "cannot store message %lld (%s, %s): bot %lld already has an inbound "
             "message with provider id '%s'",
             (long long)m->id, m->direction, m->number, (long long)m->bot_id,
             m->provider_id);
  else
    snprintf(what, sizeof what, "cannot store message %lld (%s, %s)", (long long)m->id,
             m->direction ? m->direction : "(null)", m->number ? m->number : "(null)");
  return store_fail(st, what);
}

/* Inserts rows [at, at + 2^k) of ud's. */
static int insert_messages(store *st, const void *ud, size_t at, int k) {
  const message_row *rows = (const message_row *)ud + at;
  sql_stmt *s = message_insert(st, k);
  if (!s) return -1;
  size_t size = (size_t)1 << k;
  for (size_t r = 0; r < size; r++) bind_message(s, (int)r, &rows[r]);
  int rc = sql_step(s);
  sql_reset(s);
  if (rc == SQL_DONE) return 0;
  /* OR FAIL kept the rows before the one at fault: they count (on
   * PostgreSQL none was kept, the row at fault is known alone) */
  size_t kept = st->db ? (size_t)sqlite3_changes64(st->db) : size > 1 ? size : 0;
  return message_failed(st, kept < size ? &rows[kept] : NULL);
}

int store_messages_add(store *st, const message_row *rows, size_t n) {
  return run_many_rows(st, n, insert_messages, rows);
}

int store_inbound_exists(store_reader *rd, int64_t bot_id, const char *provider_id) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_INBOUND_EXISTS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(provider_id));
  int rc = sql_step(s);
  return store_step_end(st, s, rc, "cannot look up a message");
}

int store_inline_replies(store_reader *rd, int64_t bot_id, const char *provider_id,
                         store_reply_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_INLINE_REPLIES);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(provider_id));
  int n = 0, rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    fn(ud, sql_column_int(s, 0), sql_column_text(s, 1), sql_column_text(s, 2));
    n++;
  }
  sql_reset(s);
  return rc == SQL_DONE ? n : store_fail(st, "cannot read a message's inline replies");
}

/* Both read the index messages_inbound_provider_id (bot_id, provider_id)
 * alone: its condition is theirs. Prepared for the call: they run when the
 * engine starts and when its filter grows. */
#define INBOUND_IDS " FROM messages WHERE direction = 'in' AND provider_id IS NOT NULL"

int64_t store_inbound_ids_count(store_reader *rd) {
  store *st = reader_store(rd);
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, "SELECT count(*)" INBOUND_IDS)))
    return store_fail(st, "cannot count inbound provider ids");
  int rc = sql_step(s);
  int64_t n = rc == SQL_ROW ? sql_column_int(s, 0) : -1;
  sql_finalize(s);
  return n >= 0 ? n : store_fail(st, "cannot count inbound provider ids");
}

int store_inbound_ids(store_reader *rd, void (*each)(void *ud, int64_t bot_id, const char *id),
                      void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, "SELECT bot_id, provider_id" INBOUND_IDS)))
    return store_fail(st, "cannot read inbound provider ids");
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    each(ud, sql_column_int(s, 0), sql_column_text(s, 1));
  sql_finalize(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot read inbound provider ids");
}

int store_first_inbound_at(store_reader *rd, int64_t contact_id, int64_t *at) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_FIRST_INBOUND);
  if (!s) return -1;
  sql_bind_int(s, 1, contact_id);
  int rc = sql_step(s);
  if (rc == SQL_ROW) *at = sql_column_int(s, 0);
  return store_step_end(st, s, rc, "cannot look up a message");
}

int store_max_ids(store_reader *rd, int64_t *contact, int64_t *message,
                  int64_t *timer) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_MAX_IDS);
  if (!s) return -1;
  int rc = sql_step(s);
  if (rc == SQL_ROW) {
    *contact = sql_column_int(s, 0);
    *message = sql_column_int(s, 1);
    *timer = sql_column_int(s, 2);
  }
  sql_reset(s);
  return rc == SQL_ROW ? 0 : store_fail(st, "cannot read the highest ids");
}

/* Runs a query of four columns (three texts, one integer) for one contact,
 * calling fn per row. A statement of its own: fn may run other queries. */
static int each_row(store *st, int q, int64_t contact_id,
                    void (*fn)(void *, const char *, const char *, const char *,
                               int64_t),
                    void *ud, const char *what) {
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, queries[q])))
    return store_fail(st, what);
  sql_bind_int(s, 1, contact_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_text(s, 0),
       sql_column_text(s, 1),
       sql_column_text(s, 2), sql_column_int(s, 3));
  sql_finalize(s);
  return rc == SQL_DONE ? 0 : store_fail(st, what);
}

int store_messages_each(store_reader *rd, int64_t contact_id, message_fn fn, void *ud) {
  store *st = reader_store(rd);
  return each_row(st, Q_MESSAGES_EACH, contact_id, fn, ud, "cannot list messages");
}

int store_consent_add(store *st, int64_t bot_id, int64_t contact_id,
                      const char *number, const char *action,
                      const char *source, const char *text, int64_t at) {
  return STORE_RUN(st, stmt(st, Q_CONSENT_ADD), "cannot append to the consent ledger",
                   SQL_INT(bot_id), SQL_INT(contact_id), SQL_TEXT(number),
                   SQL_TEXT(action), SQL_TEXT(source), SQL_TEXT(text), SQL_INT(at));
}

int store_consent_each(store_reader *rd, int64_t contact_id, consent_fn fn, void *ud) {
  store *st = reader_store(rd);
  return each_row(st, Q_CONSENT_EACH, contact_id, fn, ud,
                  "cannot read the consent ledger");
}

int store_error_add(store *st, int64_t bot_id, int64_t contact_id,
                    int64_t message_id, const char *kind, const char *text,
                    int64_t at) {
  sql_stmt *s = stmt(st, Q_ERROR_ADD);
  if (!s) return -1;
  sql_bind_int(s, 1, bot_id);
  if (contact_id > 0)
    sql_bind_int(s, 2, contact_id);
  else
    sql_bind_null(s, 2);
  if (message_id > 0)
    sql_bind_int(s, 3, message_id);
  else
    sql_bind_null(s, 3);
  store_bind_text(s, 4, kind);
  store_bind_text(s, 5, text);
  sql_bind_int(s, 6, at);
  return store_exec_done(st, s, "cannot record a handler error");
}

/* ---------------------------------------------------------------- timers */

static void bind_opt_id(sql_stmt *s, int i, int64_t v) {
  if (v > 0)
    sql_bind_int(s, i, v);
  else
    sql_bind_null(s, i);
}

int store_timer_add(store *st, const timer_row *t, int64_t now) {
  sql_stmt *s = stmt(st, Q_TIMER_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(t->id), SQL_INT(t->bot_id));
  bind_opt_id(s, 3, t->contact_id);
  store_bind_text(s, 4, t->number);
  sql_bind_int(s, 5, t->due_at);
  store_bind_text(s, 6, t->handler);
  store_bind_text(s, 7, t->args ? t->args : "null");
  store_bind_text(s, 8, t->kind ? t->kind : "timer");
  store_bind_text(s, 9, t->spec);
  sql_bind_int(s, 10, now);
  return store_exec_done(st, s, "cannot schedule a timer");
}

int store_timer_done(store *st, int64_t id, const char *status, const char *error,
                     int64_t at) {
  return STORE_RUN(st, stmt(st, Q_TIMER_DONE), "cannot update a timer", SQL_INT(id),
                   SQL_TEXT(status), SQL_TEXT(error), SQL_INT(at));
}

int store_timer_cancel(store *st, int64_t id, int64_t bot_id) {
  return STORE_RUN(st, stmt(st, Q_TIMER_CANCEL), "cannot cancel a timer", SQL_INT(id),
                   SQL_INT(bot_id));
}

int store_timer_cancel_drips(store *st, int64_t contact_id, const char *handler) {
  return STORE_RUN(st, stmt(st, Q_TIMER_CANCEL_DRIPS), "cannot stop a drip",
                   SQL_INT(contact_id), SQL_TEXT(handler));
}

static void read_timer(sql_stmt *s, timer_row *t) {
  STORE_COLUMNS(s, SQL_OUT(&t->id), SQL_OUT(&t->bot_id), SQL_OUT(&t->contact_id),
                SQL_OUT(&t->number), SQL_OUT(&t->due_at), SQL_OUT(&t->handler),
                SQL_OUT(&t->args), SQL_OUT(&t->kind), SQL_OUT(&t->spec));
}

void timer_row_free(timer_row *t) {
  free(t->number);
  free(t->handler);
  free(t->args);
  free(t->kind);
  free(t->spec);
  *t = (timer_row){0};
}

/* The due queries' partition filter (?6: a '1' for each partition read). */
static void bind_partitions(store *st, sql_stmt *s) {
  store_bind_text(s, 6, st->partitions);
}

void store_set_partitions(store_reader *rd, const char *partitions) {
  reader_store(rd)->partitions = partitions;
}

/* parley_partition(bot_id, number): partition.h's map, for the queries. */
static void sql_partition(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const unsigned char *number = sqlite3_value_text(argv[1]);
  sqlite3_result_int(ctx, partition_of(sqlite3_value_int64(argv[0]),
                                       number ? (const char *)number : ""));
}

static int timers_query(store *st, int q, int64_t a, int64_t b, int64_t c,
                        const due_key *after, timer_row **out, size_t *n) {
  sql_stmt *s = stmt(st, q);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(a), SQL_INT(b));
  if (c) sql_bind_int(s, 3, c);
  if (after) {
    sql_bind_int(s, 4, after->at);
    sql_bind_int(s, 5, after->id);
  }
  if (q == Q_TIMERS_DUE) bind_partitions(st, s);
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    if (*n == cap) *out = xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
    (*out)[*n] = (timer_row){0};
    read_timer(s, &(*out)[(*n)++]);
  }
  return store_step_end(st, s, rc, "cannot read timers");
}

int store_timers_due(store_reader *rd, int64_t bot_id, int64_t until,
                     const due_key *after, long limit, timer_row **out, size_t *n) {
  store *st = reader_store(rd);
  due_key start = after ? *after : (due_key){INT64_MIN, 0};
  return timers_query(st, Q_TIMERS_DUE, until, limit, bot_id, &start, out, n);
}

int store_timers_every(store_reader *rd, int64_t bot_id, timer_row **out, size_t *n) {
  store *st = reader_store(rd);
  return timers_query(st, Q_TIMERS_PENDING_EVERY, bot_id, 0, 0, NULL, out, n);
}

int store_reruns_pending(store_reader *rd,
                         void (*fn)(void *ud, int64_t bot_id, int64_t contact_id,
                                    long n),
                         void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_RERUNS_PENDING);
  if (!s) return -1;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_int(s, 0), sql_column_int(s, 1),
       (long)sql_column_int(s, 2));
  return store_step_end(st, s, rc, "cannot read pending reruns");
}

int store_held_due(store_reader *rd, int64_t bot_id, int64_t until,
                   const due_key *after, long limit, held_row **out, size_t *n) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_HELD_DUE);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(until), SQL_INT(limit), SQL_INT(bot_id),
             SQL_INT(after ? after->at : INT64_MIN), SQL_INT(after ? after->id : 0));
  bind_partitions(st, s);
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    if (*n == cap) *out = xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
    held_row *h = &(*out)[(*n)++];
    STORE_COLUMNS(s, SQL_OUT(&h->id), SQL_OUT(&h->bot_id), SQL_OUT(&h->contact_id),
                  SQL_OUT(&h->number), SQL_OUT(&h->send_at), SQL_OUT(&h->text),
                  SQL_OUT(&h->broadcast_id));
  }
  return store_step_end(st, s, rc, "cannot read held messages");
}

int store_message_release(store *st, int64_t id, const char *status, int64_t at) {
  return STORE_RUN(st, stmt(st, Q_MESSAGE_RELEASE), "cannot release a held message",
                   SQL_INT(id), SQL_TEXT(status), SQL_INT(at));
}

/* ---------------------------------------------------------------- broadcasts */

int store_broadcast_add(store *st, const broadcast_row *b, int64_t now) {
  return STORE_RUN(st, stmt(st, Q_BROADCAST_ADD), "cannot create a broadcast",
                   SQL_INT(b->id), SQL_INT(b->bot_id), SQL_TEXT(b->segment),
                   SQL_TEXT(b->text), SQL_REAL(b->rate), SQL_INT(b->next_at),
                   SQL_INT(now), SQL_TEXT(b->content));
}

int store_broadcast_released(store *st, int64_t id, const char *status) {
  return STORE_RUN(st, stmt(st, Q_BROADCAST_RELEASED), "cannot count a released message",
                   SQL_INT(id), SQL_TEXT(status));
}

int store_broadcast_update(store *st, int64_t id, const char *status, int64_t cursor,
                           int64_t next_at, long sent, long held, long suppressed,
                           long failed, long not_opted_in) {
  return STORE_RUN(st, stmt(st, Q_BROADCAST_UPDATE), "cannot update a broadcast",
                   SQL_INT(id), SQL_TEXT(status), SQL_INT(cursor), SQL_INT(next_at),
                   SQL_INT(sent), SQL_INT(held), SQL_INT(suppressed), SQL_INT(failed),
                   SQL_INT(not_opted_in));
}

static void read_broadcast(sql_stmt *s, broadcast_row *b) {
  STORE_COLUMNS(s, SQL_OUT(&b->id), SQL_OUT(&b->bot_id), SQL_OUT(&b->segment),
                SQL_OUT(&b->text), SQL_OUT(&b->rate), SQL_OUT(&b->status),
                SQL_OUT(&b->cursor), SQL_OUT(&b->next_at));
  b->sent = (long)sql_column_int(s, 8);
  b->held = (long)sql_column_int(s, 9);
  b->suppressed = (long)sql_column_int(s, 10);
  b->failed = (long)sql_column_int(s, 11);
  b->not_opted_in = (long)sql_column_int(s, 12);
  b->content = store_col_dup(s, 13);
}

void broadcast_row_free(broadcast_row *b) {
  free(b->segment);
  free(b->text);
  free(b->content);
  free(b->status);
  *b = (broadcast_row){0};
}

int store_broadcasts_due(store_reader *rd, int64_t bot_id, int64_t until,
                         broadcast_row **out, size_t *n) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_BROADCASTS_DUE);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(until));
  *out = NULL;
  *n = 0;
  size_t cap = 0;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    if (*n == cap) *out = xrealloc(*out, (cap = cap ? cap * 2 : 4) * sizeof **out);
    read_broadcast(s, &(*out)[(*n)++]);
  }
  return store_step_end(st, s, rc, "cannot read broadcasts");
}

int store_broadcasts_each(store_reader *rd, int64_t bot_id, long limit, broadcast_fn fn,
                          void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_BROADCASTS_EACH);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(limit));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    broadcast_row b = {0};
    read_broadcast(s, &b);
    fn(ud, &b);
    broadcast_row_free(&b);
  }
  return store_step_end(st, s, rc, "cannot read the broadcasts") < 0 ? -1 : 0;
}

int store_broadcast_get(store_reader *rd, int64_t bot_id, int64_t id,
                        broadcast_row *out) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_BROADCAST_GET);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(id), SQL_INT(bot_id));
  int rc = sql_step(s);
  int found = rc == SQL_ROW;
  if (found) read_broadcast(s, out);
  sql_reset(s);
  if (!found && rc != SQL_DONE) return store_fail(st, "cannot read a broadcast");
  return found;
}

int store_backlog(store_reader *rd, int64_t *timers, int64_t *held) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_BACKLOG);
  if (!s) return -1;
  int rc = sql_step(s) == SQL_ROW ? 0 : -1;
  *timers = rc ? 0 : sql_column_int(s, 0);
  *held = rc ? 0 : sql_column_int(s, 1);
  sql_reset(s);
  return rc;
}

int64_t store_max_broadcast(store_reader *rd) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_MAX_BROADCAST);
  if (!s) return -1;
  int64_t v = sql_step(s) == SQL_ROW ? sql_column_int(s, 0) : -1;
  sql_reset(s);
  return v;
}

void store_set_progress(store_reader *rd, int (*stop)(void *ud), void *ud) {
  sql_set_interrupt(reader_store(rd)->sql, stop, ud);
}

/* A field's range ({"min": 18, "max": 30} or {"after": "2000-01-01",
 * "before": "2008-12-05 10:00"}, checked by the caller): the field's path
 * is bound at param, each bound after it in the object's order. Numbers
 * match only numbers; dates only texts that start as a date, compared as
 * written with a T read as a space. Returns the next free parameter. */
static int range_sql(buf *sql, json_t *range, int param, int pg) {
  int path = param++;
  int dates = json_object_get(range, "after") || json_object_get(range, "before");
  if (dates && pg)
    buf_printf(sql,
               " AND jsonb_typeof(c.fields::jsonb -> ?%d) = 'string' AND"
               " (c.fields::jsonb ->> ?%d) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'",
               path, path);
  else if (dates)
    buf_printf(
        sql,
        " AND json_type(c.fields, ?%d) = 'text' AND json_extract(c.fields, ?%d) GLOB"
        " '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'",
        path, path);
  else if (pg)
    buf_printf(sql, " AND jsonb_typeof(c.fields::jsonb -> ?%d) = 'number'", path);
  else
    buf_printf(sql, " AND json_type(c.fields, ?%d) IN ('integer', 'real')", path);
  const char *op;
  json_t *bound;
  json_object_foreach(range, op, bound) {
    const char *cmp = strcmp(op, "min") == 0 || strcmp(op, "after") == 0 ? ">="
                      : strcmp(op, "max") == 0                           ? "<="
                                                                         : "<";
    if (dates && pg) /* compared as written, byte by byte as SQLite does */
      buf_printf(sql,
                 " AND replace(c.fields::jsonb ->> ?%d, 'T', ' ') COLLATE \"C\" %s"
                 " CAST(?%d AS TEXT)",
                 path, cmp, param++);
    else if (dates)
      buf_printf(sql, " AND replace(json_extract(c.fields, ?%d), 'T', ' ') %s ?%d",
                 path, cmp, param++);
    else if (pg)
      buf_printf(sql, " AND (c.fields::jsonb ->> ?%d)::numeric %s CAST(?%d AS NUMERIC)", path,
                 cmp, param++);
    else
      buf_printf(sql, " AND json_extract(c.fields, ?%d) %s ?%d", path, cmp, param++);
  }
  return param;
}

/* Segment filters, from the JSON object a script gave (validated by the
 * Lua side): tags (a string or a list: all of them), status, clicked (a
 * person clicked a tracked link: to that URL, or true: any), joined_after /
 * joined_before (ms: first seen), seen_after / seen_before (ms: last seen,
 * kept to the minute), a field's range (an object: range_sql), anything
 * else a field that must equal the value. Appended to sql as conditions on
 * the contact c, their parameters numbered from first; returns the next
 * free parameter. */
int store_segment_where(buf *sql, json_t *seg, int pg, int first) {
  const char *key;
  json_t *val;
  int param = first;
  json_object_foreach(seg, key, val) {
    if (strcmp(key, "tags") == 0) {
      size_t n = json_is_array(val) ? json_array_size(val) : 1;
      for (size_t i = 0; i < n; i++)
        buf_printf(sql,
                   pg ? " AND jsonb_exists(c.tags::jsonb, ?%d)"
                      : " AND EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?%d)",
                   param++);
    } else if (strcmp(key, "status") == 0) {
      buf_printf(sql, " AND c.status = ?%d", param++);
    } else if (strcmp(key, "clicked") == 0) { /* a person's click: on a link to the URL, or any */
      buf_puts(sql, " AND EXISTS (SELECT 1 FROM links l JOIN clicks k ON k.link_id = l.id"
                    " WHERE l.contact_id = c.id AND k.is_bot = 0");
      if (json_is_string(val)) buf_printf(sql, " AND l.url = ?%d", param++);
      buf_puts(sql, ")");
    } else if (strcmp(key, "joined_after") == 0) {
      buf_printf(sql, " AND c.first_seen >= ?%d", param++);
    } else if (strcmp(key, "joined_before") == 0) {
      buf_printf(sql, " AND c.first_seen < ?%d", param++);
    } else if (strcmp(key, "seen_after") == 0) {
      buf_printf(sql, " AND c.last_seen >= ?%d", param++);
    } else if (strcmp(key, "seen_before") == 0) {
      buf_printf(sql, " AND c.last_seen < ?%d", param++);
    } else if (json_is_object(val)) { /* a range: see range_sql */
      param = range_sql(sql, val, param, pg);
    } else {
      buf_printf(sql,
                 pg ? " AND c.fields::jsonb -> ?%d = CAST(?%d AS JSONB)"
                    : " AND json_extract(c.fields, ?%d) = ?%d",
                 param, param + 1);
      param += 2;
    }
  }
  return param;
}

/* Binds the parameters store_segment_where numbered; returns the next free one. */
int store_segment_bind(sql_stmt *s, json_t *seg, int pg, int first) {
  const char *key;
  json_t *val;
  int param = first;
  json_object_foreach(seg, key, val) {
    if (strcmp(key, "tags") == 0) {
      size_t n = json_is_array(val) ? json_array_size(val) : 1;
      for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_array(val) ? json_array_get(val, i) : val;
        sql_bind_text_copy(s, param++, json_string_value(t));
      }
    } else if (strcmp(key, "status") == 0) {
      sql_bind_text_copy(s, param++, json_string_value(val));
    } else if (strcmp(key, "clicked") == 0) {
      if (json_is_string(val)) sql_bind_text_copy(s, param++, json_string_value(val));
    } else if (strcmp(key, "joined_after") == 0 || strcmp(key, "joined_before") == 0 ||
               strcmp(key, "seen_after") == 0 || strcmp(key, "seen_before") == 0) {
      sql_bind_int(s, param++, json_integer_value(val));
    } else if (json_is_object(val)) {
      char *path = pg ? xstrdup(key) : xasprintf("$.\"%s\"", key);
      sql_bind_text_copy(s, param++, path);
      free(path);
      const char *op;
      json_t *bound;
      json_object_foreach(val, op, bound) {
        if (json_is_string(bound))
          sql_bind_text_copy(s, param++, json_string_value(bound));
        else
          sql_bind_double(s, param++, json_number_value(bound));
      }
    } else if (pg) { /* the key, and the value as JSON */
      sql_bind_text_copy(s, param++, key);
      char *value = json_is_null(val) ? NULL : json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
      sql_bind_text_copy(s, param++, value);
      free(value);
    } else {
      char *path = xasprintf("$.\"%s\"", key);
      sql_bind_text_copy(s, param++, path);
      free(path);
      if (json_is_string(val))
        sql_bind_text_copy(s, param++, json_string_value(val));
      else if (json_is_integer(val))
        sql_bind_int(s, param++, json_integer_value(val));
      else if (json_is_real(val))
        sql_bind_double(s, param++, json_real_value(val));
      else if (json_is_boolean(val))
        sql_bind_int(s, param++, json_is_true(val));
      else
        sql_bind_null(s, param++);
    }
  }
  return param;
}

/* The segment's statement: its contacts with id > after_id in id order, at
 * most limit (count: how many there are instead). NULL with the store's
 * error set. */
static sql_stmt *segment_prepare(store *st, int64_t bot_id, const char *segment, int count,
                                 int64_t after_id, long limit) {
  int pg = !st->db; /* PostgreSQL: the fields and tags read as jsonb */
  json_error_t jerr;
  json_t *seg = json_loads(segment, 0, &jerr);
  if (!json_is_object(seg)) {
    json_decref(seg);
    snprintf(st->err, sizeof st->err, "segment is not a JSON object");
    return NULL;
  }
  buf sql = {0};
  buf_puts(&sql, count ? "SELECT count(*) FROM contacts c"
                       : "SELECT c.id, c.number, c.status, c.fields, c.tags, c.timezone,"
                         " c.first_seen, c.last_seen, v.state, v.expect, c.joined,"
                         " c.undeliverable, c.handoff, c.last_in"
                         " FROM contacts c LEFT JOIN conversations v ON v.contact_id = c.id");
  buf_puts(&sql, " WHERE c.bot_id = ?1 AND c.id > ?2");
  int param = store_segment_where(&sql, seg, pg, 3);
  if (!count) buf_printf(&sql, " ORDER BY c.id LIMIT ?%d", param);
  sql_stmt *s = sql_prepare(st->sql, sql.data);
  buf_free(&sql);
  if (s) {
    STORE_BIND(s, SQL_INT(bot_id), SQL_INT(after_id));
    param = store_segment_bind(s, seg, pg, 3);
    if (!count) sql_bind_int(s, param, limit);
  }
  json_decref(seg);
  if (!s) store_fail(st, "cannot select a segment");
  return s;
}

static int segment_select(store *st, int64_t bot_id, const char *segment, int64_t after_id,
                          long limit, contact_fn fn, void *ud) {
  sql_stmt *s = segment_prepare(st, bot_id, segment, 0, after_id, limit);
  if (!s) return -1;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    contact_row r = {0};
    read_contact(s, &r);
    fn(ud, &r);
    contact_row_free(&r);
  }
  sql_finalize(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot select a segment");
}

int store_segment_count(store_reader *rd, int64_t bot_id, const char *segment, int64_t after_id,
                        int64_t *count) {
  store *st = reader_store(rd);
  sql_stmt *s = segment_prepare(st, bot_id, segment, 1, after_id, 0);
  if (!s) return -1;
  int rc = sql_step(s);
  *count = rc == SQL_ROW ? sql_column_int(s, 0) : 0;
  sql_finalize(s);
  return rc == SQL_ROW ? 0 : store_fail(st, "cannot count a segment");
}

int store_contacts_match(store_reader *rd, int64_t bot_id, const char *segment,
                         int64_t after_id, long limit, contact_fn fn, void *ud) {
  store *st = reader_store(rd);
  /* A failed or cancelled statement ends a PostgreSQL transaction (SQLite's
   * goes on): inside one, the segment runs in a savepoint of its own, so
   * the reads after it still work. */
  int savepoint = !st->db && sql_in_transaction(st->sql);
  if (savepoint && exec_sql(st, "SAVEPOINT parley_segment", "cannot select a segment"))
    return -1;
  int rc = segment_select(st, bot_id, segment, after_id, limit, fn, ud);
  if (!savepoint) return rc;
  if (rc == 0) return exec_sql(st, "RELEASE SAVEPOINT parley_segment", "cannot select a segment");
  /* the segment's own error is the one to tell */
  if (sql_exec(st->sql, "ROLLBACK TO SAVEPOINT parley_segment; RELEASE SAVEPOINT parley_segment"))
    store_fail(st, "cannot go on after a segment failed");
  return -1;
}

/* ---------------------------------------------------------------- versions */

int store_bot_set_active(store *st, int64_t bot_id, int64_t version_id) {
  return STORE_RUN(st, stmt(st, Q_BOT_SET_ACTIVE), "cannot activate a script version",
                   SQL_INT(bot_id), SQL_INT(version_id));
}

int store_bot_set_served(store *st, int64_t bot_id, const char *folder_sha) {
  return STORE_RUN(st, stmt(st, Q_BOT_SET_SERVED), "cannot record a served bot",
                   SQL_INT(bot_id), SQL_TEXT(folder_sha));
}

int store_served_each(store_reader *rd, served_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_SERVED_EACH);
  if (!s) return -1;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_text(s, 0), sql_column_text(s, 1),
       sql_column_text(s, 2), sql_column_text(s, 3));
  return store_step_end(st, s, rc, "cannot list the served bots");
}

int store_versions_each(store_reader *rd, int64_t bot_id, version_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_VERSIONS_EACH);
  if (!s) return -1;
  sql_bind_int(s, 1, bot_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_int(s, 0), sql_column_text(s, 1),
       sql_column_int(s, 2), (int)sql_column_int(s, 3));
  return store_step_end(st, s, rc, "cannot list script versions");
}

char *store_version_files(store_reader *rd, int64_t bot_id, int64_t number) {
  store *st = reader_store(rd);
  sql_stmt *s = stmt(st, Q_VERSION_FILES);
  if (!s) return NULL;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(number));
  char *out = NULL;
  if (sql_step(s) == SQL_ROW) out = store_col_dup(s, 0);
  sql_reset(s);
  return out;
}

int store_consent_all(store_reader *rd, int64_t bot_id, ledger_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s;
  if (!(s = sql_prepare(st->sql, queries[Q_CONSENT_ALL])))
    return store_fail(st, "cannot read the consent ledger");
  sql_bind_int(s, 1, bot_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_int(s, 0), sql_column_text(s, 1),
       sql_column_text(s, 2), sql_column_text(s, 3),
       sql_column_text(s, 4));
  sql_finalize(s);
  return rc == SQL_DONE ? 0 : store_fail(st, "cannot read the consent ledger");
}

int store_checkpoint(store *st) {
  if (!st->db) return 0; /* PostgreSQL checkpoints by itself */
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  int restart_at = st->wal_restart_frames ? st->wal_restart_frames : STORE_WAL_RESTART_FRAMES;
  if (rc == SQLITE_OK && log >= restart_at) {
    /* The restart below holds the writer off while it syncs the database
     * file, and passive checkpoints that could not reach the WAL's end
     * (there is always a newer commit) have left it unsynced: a few MB of
     * page writes. Synced here first, the restart's own sync has only what
     * it copies itself to flush (6-10 ms of held-off commits -> about 1). */
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f &&
        f->pMethods)
      f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    /* it holds the writer off while it waits for the readers of old frames
     * (the engine's read one batch at a time): not for long, so that a long
     * reader (an export) costs a restart, never a commit its busy timeout */
    busy_timeout(st, RESTART_WAIT_MS);
    rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done);
    busy_timeout(st, BUSY_TIMEOUT_MS);
  }
  return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : store_fail_sqlite(st, "cannot checkpoint the WAL");
}

void store_set_wal_restart(store *st, int frames) { st->wal_restart_frames = frames; }

int store_manual_checkpoints(store *st) {
  if (!st->db) return 0;
  return exec_sql(st, "PRAGMA wal_autocheckpoint = 0", "cannot configure checkpoints");
}

/* ---------------------------------------------------------------- erasure */

/* The key of the suppression hashes: random, made once per database,
 * then kept by each connection. */
static int suppression_key(store *st, unsigned char key[32]) {
  if (st->has_suppression_key) {
    memcpy(key, st->suppression_key, 32);
    return 0;
  }
  sql_stmt *s = stmt(st, Q_META_GET);
  if (!s) return -1;
  store_bind_text(s, 1, "suppression_key");
  char hex[65] = "";
  if (sql_step(s) == SQL_ROW)
    snprintf(hex, sizeof hex, "%s", sql_column_text(s, 0));
  sql_reset(s);
  if (strlen(hex) != 64) {
    unsigned char fresh[32];
    if (RAND_bytes(fresh, sizeof fresh) != 1) return store_fail(st, "no random bytes for a key");
    for (int i = 0; i < 32; i++) sprintf(hex + i * 2, "%02x", fresh[i]);
    s = stmt(st, Q_META_SET);
    if (!s) return -1;
    STORE_BIND(s, SQL_TEXT("suppression_key"), SQL_TEXT(hex));
    if (store_exec_done(st, s, "cannot store the suppression key")) return -1;
    return suppression_key(st, key); /* another writer may have won */
  }
  for (int i = 0; i < 32; i++) {
    unsigned v;
    sscanf(hex + i * 2, "%2x", &v);
    key[i] = (unsigned char)v;
  }
  memcpy(st->suppression_key, key, 32);
  st->has_suppression_key = 1;
  return 0;
}

int store_ensure_keys(store *st) {
  unsigned char key[32];
  return suppression_key(st, key);
}

/* The connection's HMAC-SHA256 keyed with the suppression key: set up once
 * (fetching the algorithm and keying it cost more than hashing a number),
 * then started again with the same key for each number. */
static EVP_MAC_CTX *suppression_mac(store *st) {
  if (st->suppression_mac) return st->suppression_mac;
  unsigned char key[32];
  if (suppression_key(st, key)) return NULL;
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  EVP_MAC_free(hmac); /* the context holds its own reference */
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || !EVP_MAC_init(ctx, key, sizeof key, params)) {
    EVP_MAC_CTX_free(ctx);
    snprintf(st->err, sizeof st->err, "%s: cannot set up HMAC-SHA256 for suppressions",
             st->path);
    return NULL;
  }
  return st->suppression_mac = ctx;
}

static int number_hash(store *st, const char *number, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char mac[32];
  size_t len = 0;
  EVP_MAC_CTX *ctx = suppression_mac(st);
  if (!ctx) return -1;
  /* a NULL key starts again with the one set up */
  if (!EVP_MAC_init(ctx, NULL, 0, NULL) ||
      !EVP_MAC_update(ctx, (const unsigned char *)number, strlen(number)) ||
      !EVP_MAC_final(ctx, mac, &len, sizeof mac) || len != sizeof mac) {
    snprintf(st->err, sizeof st->err, "%s: cannot hash the number %s", st->path,
             number);
    return -1;
  }
  for (int i = 0; i < 32; i++) {
    out[i * 2] = hex[mac[i] >> 4];
    out[i * 2 + 1] = hex[mac[i] & 15];
  }
  out[64] = 0;
  return 0;
}

int store_is_suppressed(store_reader *rd, int64_t bot_id, const char *number) {
  store *st = reader_store(rd);
  char hash[65];
  if (number_hash(st, number, hash)) return -1;
  sql_stmt *s = stmt(st, Q_SUPPRESSED);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(hash));
  int rc = sql_step(s);
  sql_reset(s);
  return rc == SQL_ROW ? 1 : rc == SQL_DONE ? 0 : store_fail(st, "cannot read suppressions");
}

int store_suppressed_many(store_reader *rd, int64_t bot_id, const char *const *numbers,
                          size_t n, unsigned char *suppressed) {
  store *st = reader_store(rd);
  if (!n) return 0;
  char(*hashes)[65] = xcalloc(n, sizeof *hashes);
  const char **list = xcalloc(n, sizeof *list);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    suppressed[i] = 0;
    rc = number_hash(st, numbers[i], hashes[i]);
    list[i] = hashes[i];
  }
  char *json = rc ? NULL : store_json_list(list, n);
  sql_stmt *s = json ? stmt(st, Q_SUPPRESSED_MANY) : NULL;
  if (s) {
    STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(json));
    while ((rc = sql_step(s)) == SQL_ROW) {
      const char *h = sql_column_text(s, 0);
      for (size_t i = 0; h && i < n; i++) /* a hash may stand for several of the list */
        if (strcmp(hashes[i], h) == 0) suppressed[i] = 1;
    }
    sql_reset(s);
    rc = rc == SQL_DONE ? 0 : store_fail(st, "cannot read suppressions");
  } else if (rc == 0) {
    rc = json ? -1 : store_fail(st, "cannot list numbers");
  }
  free(json);
  free(list);
  free(hashes);
  return rc;
}

int store_contact_erase(store *st, int64_t bot_id, int64_t contact_id, const char *number,
                        int suppress, int64_t now) {
  for (size_t i = 0; i < sizeof deletes / sizeof *deletes; i++) {
    sql_stmt *s;
    if (!(s = sql_prepare(st->sql, deletes[i])))
      return store_fail(st, "cannot erase a contact");
    sql_bind_int(s, 1, contact_id);
    int rc = sql_step(s);
    sql_finalize(s);
    if (rc != SQL_DONE) return store_fail(st, "cannot erase a contact");
  }
  if (!suppress) return 0;
  char hash[65];
  if (number_hash(st, number, hash)) return -1;
  return STORE_RUN(st, stmt(st, Q_SUPPRESS), "cannot record a suppression",
                   SQL_INT(bot_id), SQL_TEXT(hash), SQL_INT(now));
}

int store_broadcast_cancel(store *st, int64_t bot_id, int64_t id) {
  sql_stmt *s = stmt(st, Q_BROADCAST_CANCEL);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(id), SQL_INT(bot_id));
  if (store_exec_done(st, s, "cannot cancel a broadcast")) return -1;
  return sql_changes(s) > 0;
}
