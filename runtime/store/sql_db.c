#include "sql_db.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct sql_db {
  sqlite3 *lite; /* one of the two */
  PGconn *pg;
  unsigned next_name; /* PostgreSQL: prepared statements s1, s2, ... */
  int failed_unique;  /* the last failure broke a unique key */
  int (*stop)(void *ud); /* sql_set_interrupt's */
  void *stop_ud;
  char err[512];
  /* PostgreSQL: connecting again after the server went away (pg_ready) */
  char *target;
  unsigned generation; /* connections made so far: statements prepared on an
                          older one are prepared again */
  int in_transaction;  /* a BEGIN ran, no COMMIT or ROLLBACK since */
  char **session;      /* the SETs run on the connection, run again */
  size_t nsession;
  int pipeline;        /* sql_pipeline: libpq's pipeline mode is on */
  int pending;         /* deferred statements sent, their answers not read */
};

struct sql_stmt {
  sql_db *db;
  sqlite3_stmt *lite;
  /* PostgreSQL */
  char name[24];
  int nparams;
  char **values; /* the parameters as text, NULL for NULL */
  PGresult *res; /* the last run's rows, NULL before it */
  int row, nrows;
  int64_t changes;
  int done; /* SQLite: ran to its end (it would start again otherwise) */
  int commit; /* PostgreSQL: a COMMIT (which answers ROLLBACK, not an error, for a
                 transaction a failed statement ended) */
  char *text;  /* PostgreSQL: as prepared, */
  unsigned generation; /* on that connection */
  int unprepared; /* made while the connection was lost: prepared at its first run */
  int deferrable; /* sql_set_deferrable */
};

int sql_is_postgres_target(const char *target) {
  return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0;
}

/* Keeps the database's message, on one line (libpq's come in lines). */
static void set_error(sql_db *db, const char *msg) {
  db->failed_unique = 0;
  snprintf(db->err, sizeof db->err, "%s", msg && *msg ? msg : "unknown error");
  for (char *p = db->err; *p; p++)
    if (*p == '\n' || *p == '\t') *p = ' ';
  size_t n = strlen(db->err);
  while (n && db->err[n - 1] == ' ') db->err[--n] = 0;
}

/* PostgreSQL: the result's message and its detail, else the connection's
 * message, on one line */
static void pg_set_error(sql_db *db, const PGresult *r) {
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
  char msg[400];
  if (primary && detail)
    snprintf(msg, sizeof msg, "%s (%s)", primary, detail);
  else
    snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(db->pg));
  set_error(db, msg);
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  db->failed_unique = state && strcmp(state, "23505") == 0; /* unique_violation */
}

void sql_shown_target(const char *target, char *out, size_t outlen) {
  /* the user information ends at the authority's last @ */
  const char *scheme = strstr(target, "://");
  const char *auth = scheme ? scheme + 3 : NULL;
  size_t auth_len = auth ? strcspn(auth, "/?") : 0;
  const char *at = NULL;
  for (size_t i = 0; i < auth_len; i++)
    if (auth[i] == '@') at = auth + i;
  const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
  if (colon)
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - target), target, at);
  else
    snprintf(out, outlen, "%s", target);
  /* and a password=... among the parameters */
  char *query = strchr(out, '?');
  for (char *p = query; p && *p; p++) {
    if ((*p == '?' || *p == '&') && strncmp(p + 1, "password=", 9) == 0) {
      char *value = p + 10, *end = value + strcspn(value, "&");
      size_t rest = strlen(end) + 1;
      if (outlen - (size_t)(value - out) > 3 + rest) {
        memmove(value + 3, end, rest);
        memcpy(value, "***", 3);
      }
    }
  }
}

sql_db *sql_open(const char *target, char *err, size_t errlen) {
  sql_db *db = xcalloc(1, sizeof *db);
  char shown[512];
  sql_shown_target(target, shown, sizeof shown);
  if (sql_is_postgres_target(target)) {
    db->target = xstrdup(target);
    db->pg = PQconnectdb(target);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
      set_error(db, db->pg ? PQerrorMessage(db->pg) : "out of memory");
      snprintf(err, errlen, "cannot connect to %s: %s", shown, db->err);
      sql_close(db);
      return NULL;
    }
    /* notices and warnings ("no transaction in progress") are not errors,
     * and libpq would print them on stderr */
    if (sql_exec(db, "SET client_min_messages = error")) {
      snprintf(err, errlen, "%s: %s", shown, db->err);
      sql_close(db);
      return NULL;
    }
    return db;
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(target, &db->lite, flags, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot open the database: %s", shown,
             db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
    sql_close(db);
    return NULL;
  }
  sqlite3_extended_result_codes(db->lite, 1);
  return db;
}

void sql_close(sql_db *db) {
  if (!db) return;
  if (db->lite) sqlite3_close(db->lite);
  if (db->pg) PQfinish(db->pg);
  for (size_t i = 0; i < db->nsession; i++) free(db->session[i]);
  free(db->session);
  free(db->target);
  free(db);
}

sql_kind sql_kind_of(const sql_db *db) { return db->pg ? SQL_POSTGRES : SQL_SQLITE; }

const char *sql_error(const sql_db *db) { return db->err; }

struct sqlite3 *sql_sqlite(sql_db *db) { return db->lite; }

int sql_failed_unique(const sql_db *db) { return db->failed_unique; }

void sql_set_interrupt(sql_db *db, int (*stop)(void *ud), void *ud) {
  db->stop = stop;
  db->stop_ud = ud;
  if (db->lite) sqlite3_progress_handler(db->lite, stop ? 1000 : 0, stop, ud);
}

/* PostgreSQL: the result of the statement just sent, waiting for it in
 * steps of a millisecond and cancelling it when db->stop says so. The
 * last result (a statement sends one, and libpq a NULL after it). A
 * statement db->stop stopped fails even when its answer came before the
 * cancel reached the server: *stopped is set, and the caller tells it. */
static PGresult *pg_wait(sql_db *db, int *stopped) {
  int cancelled = 0;
  for (;;) {
    if (!cancelled && db->stop && db->stop(db->stop_ud)) {
      PGcancel *c = PQgetCancel(db->pg);
      char why[256];
      if (c) PQcancel(c, why, sizeof why);
      PQfreeCancel(c);
      cancelled = 1;
    }
    if (!PQisBusy(db->pg)) break;
    struct pollfd p = {.fd = PQsocket(db->pg), .events = POLLIN};
    if (poll(&p, 1, 1) < 0 && errno != EINTR) break;
    if (!PQconsumeInput(db->pg)) break;
  }
  PGresult *last = NULL, *r;
  while ((r = PQgetResult(db->pg))) {
    PQclear(last);
    last = r;
  }
  *stopped = cancelled;
  return last;
}

/* PostgreSQL: 0 if r is a statement's success, else -1 with the error.
 * A COMMIT is answered ROLLBACK, not an error, when a statement of its
 * transaction had failed: that is a failure too. */
static int pg_check(sql_db *db, const PGresult *r, int commit) {
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    pg_set_error(db, r);
    return -1;
  }
  if (commit && strcmp(PQcmdStatus((PGresult *)r), "ROLLBACK") == 0) {
    set_error(db, "the transaction was rolled back: a statement in it had failed");
    return -1;
  }
  return 0;
}

/* A statement's text that is a COMMIT */
static int is_commit(const char *sql) { return strncasecmp(sql, "COMMIT", 6) == 0; }
static int is_begin(const char *sql) { return strncasecmp(sql, "BEGIN", 5) == 0; }
static int is_rollback(const char *sql) { return strncasecmp(sql, "ROLLBACK", 8) == 0; }

int sql_in_transaction(sql_db *db) {
  if (db->lite) return !sqlite3_get_autocommit(db->lite);
  if (PQstatus(db->pg) != CONNECTION_OK) return db->in_transaction;
  return PQtransactionStatus(db->pg) != PQTRANS_IDLE;
}

/* PostgreSQL, before a statement: a connection to run it on. One lost
 * (the server restarted, the network broke) is made again, with the
 * session's SETs, unless a transaction was open on it: that transaction
 * is gone, and every statement fails until the caller's ROLLBACK (which
 * then succeeds, on the new connection). 0 to go on, 1 when sql is that
 * ROLLBACK (done), -1 with the error. */
static int pg_ready(sql_db *db, const char *sql) {
  if (PQstatus(db->pg) == CONNECTION_OK) return 0;
  int rollback = is_rollback(sql);
  if (db->in_transaction && !rollback) {
    set_error(db, "the connection to the database was lost, and the transaction with it");
    return -1;
  }
  db->in_transaction = 0;
  PQreset(db->pg);
  if (PQstatus(db->pg) != CONNECTION_OK) {
    char why[400];
    snprintf(why, sizeof why, "the database does not answer: %s", PQerrorMessage(db->pg));
    set_error(db, why);
    return rollback ? 1 : -1;
  }
  db->generation++;
  for (size_t i = 0; i < db->nsession; i++) {
    PGresult *r = PQexec(db->pg, db->session[i]);
    int rc = pg_check(db, r, 0);
    PQclear(r);
    if (rc) return -1;
  }
  return rollback ? 1 : 0;
}

/* After a statement: whether a transaction is open now, and the SETs to
 * run again on a new connection. */
static void pg_track(sql_db *db, const char *sql, int rc) {
  if (is_begin(sql) && rc == 0) db->in_transaction = 1;
  else if (is_commit(sql) || is_rollback(sql)) db->in_transaction = 0;
  if (rc == 0 && strncasecmp(sql, "SET ", 4) == 0) {
    for (size_t i = 0; i < db->nsession; i++)
      if (strcmp(db->session[i], sql) == 0) return;
    db->session = xrealloc(db->session, (db->nsession + 1) * sizeof *db->session);
    db->session[db->nsession++] = xstrdup(sql);
  }
}

int sql_exec(sql_db *db, const char *sql) {
  if (db->lite) {
    char *msg = NULL;
    if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    set_error(db, msg ? msg : sqlite3_errmsg(db->lite));
    sqlite3_free(msg);
    return -1;
  }
  int ready = pg_ready(db, sql);
  if (ready) return ready > 0 ? 0 : -1;
  PGresult *r = PQexec(db->pg, sql);
  int rc = pg_check(db, r, is_commit(sql));
  PQclear(r);
  pg_track(db, sql, rc);
  return rc;
}

/* sql with its parameters outside quotes in PostgreSQL's form: ?NNN as
 * $NNN, each bare ? as the next number; their count (the highest number)
 * in *n. */
static char *numbered_params(const char *sql, int *n) {
  size_t len = strlen(sql);
  char *out = xmalloc(len * 4 + 1); /* "?" -> "$NNN" at most */
  char *o = out;
  char quote = 0;
  int next = 0;
  *n = 0;
  for (const char *p = sql; *p; p++) {
    if (quote) {
      if (*p == quote) quote = 0; /* a doubled quote closes and opens again */
      *o++ = *p;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
      *o++ = *p;
    } else if (*p == '?') {
      int k = 0;
      while (p[1] >= '0' && p[1] <= '9' && k < 100000) k = k * 10 + (*++p - '0');
      if (!k) k = ++next;
      o += sprintf(o, "$%d", k);
      if (k > *n) *n = k;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return out;
}

/* PostgreSQL: prepares s on the connection as it is now. */
static PGresult *pg_read_to_sync(sql_db *db);

static int pg_prepare(sql_stmt *s) {
  sql_db *db = s->db;
  s->generation = db->generation;
  s->unprepared = 0;
  if (db->pipeline && PQpipelineStatus(db->pg) != PQ_PIPELINE_OFF) {
    /* with the deferred statements' answers before it */
    if (!PQsendPrepare(db->pg, s->name, s->text, s->nparams, NULL) ||
        !PQpipelineSync(db->pg)) {
      set_error(db, PQerrorMessage(db->pg));
      return -1;
    }
    PGresult *r = pg_read_to_sync(db); /* its error recorded when NULL */
    PQclear(r);
    return r ? 0 : -1;
  }
  PGresult *r = PQprepare(db->pg, s->name, s->text, s->nparams, NULL);
  int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
  if (rc) pg_set_error(db, r);
  PQclear(r);
  return rc;
}

sql_stmt *sql_prepare(sql_db *db, const char *sql) {
  sql_stmt *s = xcalloc(1, sizeof *s);
  s->db = db;
  if (db->lite) {
    if (sqlite3_prepare_v3(db->lite, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->lite, NULL) !=
        SQLITE_OK) {
      set_error(db, sqlite3_errmsg(db->lite));
      free(s);
      return NULL;
    }
    return s;
  }
  s->commit = is_commit(sql);
  s->text = numbered_params(sql, &s->nparams);
  snprintf(s->name, sizeof s->name, "s%u", ++db->next_name);
  /* inside a transaction the lost connection took with it, the server is
   * not asked (every statement fails until the ROLLBACK): prepared at its
   * first run, so that a ROLLBACK first made now still ends it */
  if (PQstatus(db->pg) != CONNECTION_OK && db->in_transaction) s->unprepared = 1;
  else if (pg_ready(db, "") || pg_prepare(s)) {
    free(s->text);
    free(s);
    return NULL;
  }
  s->values = xcalloc((size_t)s->nparams + 1, sizeof *s->values);
  return s;
}

void sql_finalize(sql_stmt *s) {
  if (!s) return;
  if (s->lite) sqlite3_finalize(s->lite);
  if (s->db->pg) {
    PQclear(s->res);
    char sql[48];
    snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
    if (PQstatus(s->db->pg) == CONNECTION_OK && s->generation == s->db->generation &&
        !s->unprepared)
      PQclear(PQexec(s->db->pg, sql));
    for (int i = 0; i < s->nparams; i++) free(s->values[i]);
    free(s->values);
    free(s->text);
  }
  free(s);
}

/* PostgreSQL: parameter i (from 1) as text, or NULL; ignored out of range */
static void pg_bind(sql_stmt *s, int i, char *text) {
  if (i < 1 || i > s->nparams) {
    free(text);
    return;
  }
  free(s->values[i - 1]);
  s->values[i - 1] = text;
}

void sql_bind_int(sql_stmt *s, int i, int64_t v) {
  if (s->lite) {
    sqlite3_bind_int64(s->lite, i, v);
    return;
  }
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  pg_bind(s, i, xstrdup(buf));
}

void sql_bind_double(sql_stmt *s, int i, double v) {
  if (s->lite) {
    sqlite3_bind_double(s->lite, i, v);
    return;
  }
  char buf[40];
  snprintf(buf, sizeof buf, "%.17g", v);
  pg_bind(s, i, xstrdup(buf));
}

/* A text parameter; SQLite copies it or not as `keep` says (PostgreSQL's
 * parameters are always copies). */
static void bind_text(sql_stmt *s, int i, const char *v, sqlite3_destructor_type keep) {
  if (!s->lite) pg_bind(s, i, v ? xstrdup(v) : NULL);
  else if (v) sqlite3_bind_text(s->lite, i, v, -1, keep);
  else sqlite3_bind_null(s->lite, i);
}

void sql_bind_text(sql_stmt *s, int i, const char *v) { bind_text(s, i, v, SQLITE_STATIC); }

void sql_bind_text_copy(sql_stmt *s, int i, const char *v) {
  bind_text(s, i, v, SQLITE_TRANSIENT);
}

void sql_clear_bindings(sql_stmt *s) {
  if (s->lite) {
    sqlite3_clear_bindings(s->lite);
    return;
  }
  for (int i = 0; i < s->nparams; i++) {
    free(s->values[i]);
    s->values[i] = NULL;
  }
}

void sql_bind_null(sql_stmt *s, int i) { sql_bind_text(s, i, NULL); }

int sql_pipeline(sql_db *db, int on) {
  if (db->lite || on == db->pipeline) return 0;
  if (on) {
    if (pg_ready(db, "") < 0) return -1; /* a lost connection made again first */
    if (PQstatus(db->pg) != CONNECTION_OK || !PQenterPipelineMode(db->pg)) {
      set_error(db, "cannot send statements in a pipeline");
      return -1;
    }
    db->pipeline = 1;
    db->pending = 0;
    return 0;
  }
  db->pipeline = 0;
  db->pending = 0;
  /* nothing is left to read after the last statement that waited */
  if (PQpipelineStatus(db->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(db->pg)) {
    set_error(db, PQerrorMessage(db->pg));
    return -1;
  }
  return 0;
}

void sql_set_deferrable(sql_stmt *s) { s->deferrable = 1; }

int sql_fresh_database(const char *server, const char *name, int drop, char *url, size_t n,
                       char *err, size_t errlen) {
  sql_db *db = sql_open(server, err, errlen);
  if (!db) return -1;
  char sql[160];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  int rc = sql_exec(db, sql);
  if (rc == 0 && !drop) {
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    rc = sql_exec(db, sql);
  }
  if (rc) snprintf(err, errlen, "%s", sql_error(db));
  sql_close(db);
  if (url) { /* the server's URL with the database's name as its path */
    const char *slash = strrchr(server, '/');
    const char *host = strstr(server, "//");
    int keep = slash && host && slash > host + 1 ? (int)(slash - server) : (int)strlen(server);
    snprintf(url, n, "%.*s/%s", keep, server, name);
  }
  return rc;
}

int sql_wait_notify(sql_db *db, int timeout_ms, sql_notify_fn fn, void *ud) {
  if (db->lite) return 0;
  int n = 0;
  PGnotify *note;
  for (int waited = 0;; waited = 1) {
    if (!PQconsumeInput(db->pg)) {
      set_error(db, PQerrorMessage(db->pg));
      return -1;
    }
    while ((note = PQnotifies(db->pg))) {
      if (fn) fn(ud, note->relname, note->extra ? note->extra : "");
      PQfreemem(note);
      n++;
    }
    if (n || waited) return n;
    struct pollfd p = {.fd = PQsocket(db->pg), .events = POLLIN};
    if (p.fd < 0) {
      set_error(db, "the connection to the database is closed");
      return -1;
    }
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
      set_error(db, strerror(errno));
      return -1;
    }
  }
}

/* In a pipeline: the answers up to the sync just sent, the last
 * statement's kept (NULL if any failed: the first failure is the error). */
static PGresult *pg_read_to_sync(sql_db *db) {
  PGresult *keep = NULL;
  int failed = 0, nulls = 0;
  for (;;) {
    PGresult *r = PQgetResult(db->pg);
    if (!r) { /* between two statements' answers */
      if (PQstatus(db->pg) != CONNECTION_OK || ++nulls > 2) {
        if (!failed) set_error(db, PQerrorMessage(db->pg));
        failed = 1;
        break;
      }
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    if (st == PGRES_FATAL_ERROR && !failed) pg_set_error(db, r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) failed = 1;
    PQclear(keep);
    keep = r;
  }
  db->pending = 0;
  if (failed) {
    PQclear(keep);
    return NULL;
  }
  return keep;
}

int sql_step(sql_stmt *s) {
  sql_db *db = s->db;
  if (s->lite) {
    if (s->done) return SQL_DONE;
    int rc = sqlite3_step(s->lite);
    if (rc == SQLITE_ROW) return SQL_ROW;
    if (rc == SQLITE_DONE) {
      s->changes = sqlite3_changes64(db->lite);
      s->done = 1;
      return SQL_DONE;
    }
    set_error(db, sqlite3_errmsg(db->lite));
    db->failed_unique = rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
    return SQL_FAIL;
  }
  if (!s->res) {
    const char *what = s->commit ? "COMMIT" : s->text;
    int stopped = 0;
    int ready = pg_ready(db, what);
    if (ready) return ready > 0 ? SQL_DONE : SQL_FAIL;
    if ((s->unprepared || s->generation != db->generation) && pg_prepare(s)) return SQL_FAIL;
    if (db->pipeline && PQpipelineStatus(db->pg) != PQ_PIPELINE_OFF) {
      if (!PQsendQueryPrepared(db->pg, s->name, s->nparams, (const char *const *)s->values,
                               NULL, NULL, 0)) {
        set_error(db, PQerrorMessage(db->pg));
        return SQL_FAIL;
      }
      if (s->deferrable) { /* its answer is read with the next one that waits */
        db->pending++;
        s->changes = 0;
        return SQL_DONE;
      }
      if (!PQpipelineSync(db->pg)) set_error(db, PQerrorMessage(db->pg));
      else s->res = pg_read_to_sync(db); /* its error recorded when NULL */
      if (!s->res) {
        pg_track(db, what, -1);
        return SQL_FAIL;
      }
    } else if (!db->stop)
      s->res = PQexecPrepared(db->pg, s->name, s->nparams, (const char *const *)s->values,
                              NULL, NULL, 0);
    else if (PQsendQueryPrepared(db->pg, s->name, s->nparams,
                                 (const char *const *)s->values, NULL, NULL, 0))
      s->res = pg_wait(db, &stopped);
    int rc = pg_check(db, s->res, s->commit);
    if (!rc && stopped) { /* answered before the cancel arrived: stopped all the same */
      set_error(db, "canceling statement due to user request (stopped by its caller)");
      rc = -1;
    }
    pg_track(db, what, rc);
    if (rc) {
      PQclear(s->res);
      s->res = NULL;
      return SQL_FAIL;
    }
    s->row = 0;
    s->nrows = PQntuples(s->res);
    const char *n = PQcmdTuples(s->res);
    s->changes = n && *n ? strtoll(n, NULL, 10) : 0;
  }
  if (s->row >= s->nrows) return SQL_DONE;
  s->row++;
  return SQL_ROW;
}

void sql_reset(sql_stmt *s) {
  if (s->lite) {
    sqlite3_reset(s->lite);
    s->done = 0;
    return;
  }
  PQclear(s->res);
  s->res = NULL;
  s->row = s->nrows = 0;
}

int64_t sql_changes(sql_stmt *s) { return s->changes; }

/* PostgreSQL: the current row's value of col, or NULL for a NULL (or no
 * such row or column) */
static const char *pg_value(sql_stmt *s, int col) {
  if (!s->res || s->row < 1 || col < 0 || col >= PQnfields(s->res) ||
      PQgetisnull(s->res, s->row - 1, col))
    return NULL;
  return PQgetvalue(s->res, s->row - 1, col);
}

int sql_column_is_null(sql_stmt *s, int col) {
  if (s->lite) return sqlite3_column_type(s->lite, col) == SQLITE_NULL;
  return pg_value(s, col) == NULL;
}

int64_t sql_column_int(sql_stmt *s, int col) {
  if (s->lite) return sqlite3_column_int64(s->lite, col);
  const char *v = pg_value(s, col);
  if (!v) return 0;
  if (strcmp(v, "t") == 0) return 1; /* a boolean */
  if (strcmp(v, "f") == 0) return 0;
  return strtoll(v, NULL, 10);
}

double sql_column_double(sql_stmt *s, int col) {
  if (s->lite) return sqlite3_column_double(s->lite, col);
  const char *v = pg_value(s, col);
  return v ? strtod(v, NULL) : 0.0;
}

const char *sql_column_text(sql_stmt *s, int col) {
  if (s->lite) return (const char *)sqlite3_column_text(s->lite, col);
  return pg_value(s, col);
}
