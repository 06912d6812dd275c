#include "contacts_file.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "csv.h"
#include "luadata.h"

/* A row of the file, read and checked, waiting to be applied. */
typedef struct import_row {
  long row, line;
  char number[20];
  json_t *fields; /* an object to merge, or NULL */
  json_t *tags;   /* a list of tags to add, or NULL */
  int opt_out;
  char *consent_source; /* with consent_at: the evidence of an opt-in, or NULL */
  int64_t consent_at;   /* ms */
} import_row;

typedef struct rows {
  import_row *v;
  size_t n, cap;
} rows;

static void row_free(import_row *r) {
  json_decref(r->fields);
  json_decref(r->tags);
  free(r->consent_source);
}

static void add_error(import_report *rep, long row, long line, const char *column,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_error(import_report *rep, long row, long line, const char *column,
                      const char *fmt, ...) {
  rep->failed++;
  if (json_array_size(rep->errors) >= IMPORT_MAX_ERRORS) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  utf8_repair(msg); /* the message quotes input cut at a byte count */
  json_array_append_new(rep->errors,
                        json_pack("{s:I,s:I,s:s,s:s}", "row", (json_int_t)row, "line",
                                  (json_int_t)line, "column", column, "error", msg));
}

int contacts_e164(const char *in, char *out, size_t outlen) {
  size_t n = 0;
  const char *p = in;
  while (*p == ' ' || *p == '\t') p++;
  if (*p != '+') return -1;
  for (p++; *p; p++) {
    if (isdigit((unsigned char)*p)) {
      if (n + 3 > outlen || n >= 15) return -1;
      out[1 + n++] = *p;
    } else if (!strchr(" \t-.()", *p)) {
      return -1;
    }
  }
  if (n < 3 || out[1] == '0') return -1;
  out[0] = '+';
  out[n + 1] = '\0';
  return 0;
}

/* A time as a file gives it: seconds since 1970, or a UTC date and time
 * (2025-06-01, 2025-06-01T12:00:00Z, 2025-06-01 12:00, with an offset like
 * +02:00). 0 with *ms, or -1. */
static int parse_time(const char *s, int64_t *ms) {
  if (*s && strspn(s, "0123456789") == strlen(s)) {
    if (strlen(s) > 12) return -1;
    long long v = strtoll(s, NULL, 10);
    if (v > CLOCK_MAX_SECONDS) return -1;
    *ms = v * 1000;
    return 0;
  }
  int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return -1;
  const char *p = s + used;
  if (*p == 'T' || *p == ' ') {
    int k = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5) return -1;
    p += 1 + k;
    if (*p == ':') {
      if (sscanf(p + 1, "%2d%n", &sec, &k) != 1 || k != 2) return -1;
      p += 3;
    }
  }
  long offset = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om, k = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
      return -1;
    offset = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    p += 6;
  }
  if (*p) return -1;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = sec};
  time_t t = timegm(&tm);
  if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d ||
      tm.tm_hour != h || tm.tm_min != mi || tm.tm_sec != sec) /* 2025-02-30, 24:00 */
    return -1;
  int64_t v = (int64_t)t - offset;
  if (v < 0 || v > CLOCK_MAX_SECONDS) return -1;
  *ms = v * 1000;
  return 0;
}

/* A CSV cell as a field's value: a number when it is written as one
 * canonically (42, -7, 3.5; not 007, 1e3 or +1), else the text. */
static json_t *cell_value(const char *s) {
  const char *p = s + (*s == '-');
  size_t int_digits = strspn(p, "0123456789");
  int number = int_digits > 0 && int_digits <= 15 && !(p[0] == '0' && int_digits > 1);
  if (number && p[int_digits] == '.') {
    size_t frac = strspn(p + int_digits + 1, "0123456789");
    number = frac > 0 && p[int_digits + 1 + frac] == '\0';
    if (number) return json_real(strtod(s, NULL));
  } else if (number && p[int_digits] == '\0') {
    return json_integer(strtoll(s, NULL, 10));
  }
  return json_string(s);
}

/* The field names segments can match: letters, digits, _. */
/* Text without control characters, 1 to max bytes of UTF-8. */
static int plain_text(const char *s, size_t max) {
  size_t n = strlen(s);
  if (!n || n > max || !utf8_valid(s, n)) return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
  return 1;
}

/* A field's name: what a script may name one (c.fields["first name"]), so
 * an export reads back; segments and templates reach the names of letters,
 * digits and _. */
enum { FIELD_NAME_MAX = 256 };
static int field_name_ok(const char *s) { return plain_text(s, FIELD_NAME_MAX); }
#define FIELD_NAME_RULE "a field name is 1 to 256 bytes of text without control characters"

/* The checks every row gets, whatever the format; 0, or -1 with the
 * error added. */
static int check_status(import_report *rep, import_row *r, const char *status) {
  /* subscribed and not_opted_in change nothing by themselves: an opt-in
   * needs its evidence, and consent is never taken back but by an opt-out */
  if (!status || !*status || strcmp(status, "subscribed") == 0 ||
      strcmp(status, "not_opted_in") == 0)
    return 0;
  if (strcmp(status, "opted_out") == 0) {
    r->opt_out = 1;
    return 0;
  }
  add_error(rep, r->row, r->line, "status",
            "'%.40s' is not a status (subscribed, not_opted_in or opted_out; empty: "
            "unchanged)",
            status);
  return -1;
}

static int check_number(import_report *rep, import_row *r, const char *number) {
  if (!number || !*number) {
    add_error(rep, r->row, r->line, "number", "no number");
    return -1;
  }
  if (contacts_e164(number, r->number, sizeof r->number) == 0) return 0;
  add_error(
      rep, r->row, r->line, "number",
      "'%.40s' is not an E.164 number (a +, the country code and the number, like "
      "+15550100)",
      number);
  return -1;
}

static int check_consent(import_report *rep, import_row *r, const char *source,
                         const char *at) {
  int has_source = source && *source, has_at = at && *at;
  if (has_source && !plain_text(source, 200)) {
    add_error(
        rep, r->row, r->line, "consent_source",
        "the consent source must be 1 to 200 bytes of text without control characters");
    return -1;
  }
  if (has_at && parse_time(at, &r->consent_at)) {
    add_error(
        rep, r->row, r->line, "consent_at",
        "'%.40s' is not a time (2025-06-01, 2025-06-01T12:00:00Z, or seconds since "
        "1970)",
        at);
    return -1;
  }
  if (has_source != has_at) {
    add_error(rep, r->row, r->line, has_source ? "consent_at" : "consent_source",
              "evidence of consent needs both consent_source and consent_at");
    return -1;
  }
  if (has_source) r->consent_source = xstrdup(source);
  return 0;
}

/* ---------------------------------------------------------------- CSV */

enum {
  COL_NUMBER,
  COL_STATUS,
  COL_TAGS,
  COL_CONSENT_SOURCE,
  COL_CONSENT_AT,
  COL_FIELD
};

typedef struct column {
  int kind;
  char *field; /* COL_FIELD: the name */
} column;

static void free_columns(column *cols, size_t n) {
  for (size_t i = 0; cols && i < n; i++) free(cols[i].field);
  free(cols);
}

static const char *const column_names[] = {"number", "status", "tags", "consent_source",
                                           "consent_at"};

/* The header row's columns; 0, or 1 with err. */
static int read_header(const csv_record *h, column **cols, char *err, size_t errlen) {
  *cols =
      xcalloc(h->n ? h->n : 1, sizeof **cols); /* freed by the caller, also on errors */
  int have_number = 0;
  for (size_t i = 0; i < h->n; i++) {
    const char *name = h->fields[i];
    column *c = &(*cols)[i];
    c->kind = -1;
    for (int k = 0; k < COL_FIELD; k++)
      if (strcmp(name, column_names[k]) == 0) c->kind = k;
    if (c->kind < 0 && strncmp(name, "fields.", 7) == 0) {
      if (!field_name_ok(name + 7)) {
        snprintf(err, errlen,
                 "line %ld: column '%.60s': " FIELD_NAME_RULE,
                 h->line, name);
        return 1;
      }
      c->kind = COL_FIELD;
      c->field = xstrdup(name + 7); /* the record's text is reused by the next */
    }
    if (c->kind < 0) {
      snprintf(err, errlen,
               "line %ld: unknown column '%.60s' (known: number, status, tags, "
               "consent_source, consent_at, fields.NAME)",
               h->line, name);
      return 1;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(h->fields[j], name) == 0) {
        snprintf(err, errlen, "line %ld: column '%.60s' is named twice", h->line, name);
        return 1;
      }
    if (c->kind == COL_NUMBER) have_number = 1;
  }
  if (!have_number) {
    snprintf(err, errlen, "line %ld: the header names no 'number' column", h->line);
    return 1;
  }
  return 0;
}

/* Tags separated by ';', each trimmed; empty ones dropped. */
static json_t *split_tags(const char *s) {
  json_t *a = json_array();
  while (*s) {
    size_t n = strcspn(s, ";");
    const char *b = s, *e = s + n;
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (e > b) json_array_append_new(a, json_stringn(b, (size_t)(e - b)));
    s += n + (s[n] == ';');
  }
  return a;
}

static int csv_row(import_report *rep, const column *cols, size_t ncols,
                   const csv_record *rec, import_row *r) {
  if (rec->n != ncols) {
    add_error(rep, r->row, r->line, "", "the row has %zu fields; the header has %zu",
              rec->n, ncols);
    return -1;
  }
  const char *values[COL_FIELD] = {0};
  for (size_t i = 0; i < ncols; i++) {
    const char *v = rec->fields[i];
    const char *colname =
        cols[i].kind == COL_FIELD ? cols[i].field : column_names[cols[i].kind];
    if (!utf8_valid(v, strlen(v))) {
      add_error(rep, r->row, r->line, colname, "the value is not valid UTF-8");
      return -1;
    }
    if (cols[i].kind != COL_FIELD) {
      values[cols[i].kind] = v;
    } else if (*v) {
      if (!r->fields) r->fields = json_object();
      json_object_set_new(r->fields, cols[i].field, cell_value(v));
    }
  }
  if (check_number(rep, r, values[COL_NUMBER]) ||
      check_status(rep, r, values[COL_STATUS]) ||
      check_consent(rep, r, values[COL_CONSENT_SOURCE], values[COL_CONSENT_AT]))
    return -1;
  if (values[COL_TAGS] && *values[COL_TAGS]) r->tags = split_tags(values[COL_TAGS]);
  return 0;
}

static int blank_record(const csv_record *rec) {
  return rec->n == 1 && !rec->fields[0][0];
}

static int read_csv(const char *data, size_t len, const import_options *opt, rows *out,
                    import_report *rep, char *err, size_t errlen) {
  csv_reader rd;
  csv_init(&rd, data, len, 16384, 1000);
  csv_record rec;
  char cerr[256];
  int rc;
  column *cols = NULL;
  size_t ncols = 0;
  long row = 0;
  while ((rc = csv_read(&rd, &rec, cerr, sizeof cerr)) != CSV_END) {
    if (rc == CSV_BAD_INPUT) {
      snprintf(err, errlen, "%s", cerr);
      free_columns(cols, ncols);
      csv_free(&rd);
      return 1;
    }
    row++;
    if (!cols) {
      if (rc != CSV_RECORD) {
        snprintf(err, errlen, "the header row: %s", cerr);
        csv_free(&rd);
        return 1;
      }
      ncols = rec.n;
      if (read_header(&rec, &cols, err, errlen)) {
        free_columns(cols, ncols);
        csv_free(&rd);
        return 1;
      }
      continue;
    }
    if (rc == CSV_RECORD && blank_record(&rec)) continue;
    rep->rows++;
    if (rc == CSV_BAD_RECORD) { /* "line N: why" */
      const char *why = strstr(cerr, ": ");
      long line = strtol(cerr + 5, NULL, 10);
      add_error(rep, row + opt->row_offset, line + opt->line_offset, "", "%s",
                why ? why + 2 : cerr);
      continue;
    }
    if (out->n == out->cap) {
      out->cap = out->cap ? out->cap * 2 : 1024;
      out->v = xrealloc(out->v, out->cap * sizeof *out->v);
    }
    import_row *r = &out->v[out->n];
    *r =
        (import_row){.row = row + opt->row_offset, .line = rec.line + opt->line_offset};
    if (csv_row(rep, cols, ncols, &rec, r))
      row_free(r);
    else
      out->n++;
  }
  free_columns(cols, ncols);
  csv_free(&rd);
  if (row == 0) {
    snprintf(err, errlen,
             "the file is empty (a CSV file starts with a header row naming "
             "its columns, e.g. number,fields.city,tags)");
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- JSON lines */

static int json_row(import_report *rep, json_t *o, import_row *r) {
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    if (strcmp(key, "number") && strcmp(key, "status") && strcmp(key, "fields") &&
        strcmp(key, "tags") && strcmp(key, "consent_source") &&
        strcmp(key, "consent_at")) {
      add_error(rep, r->row, r->line, key,
                "unknown key (known: number, status, fields, tags, consent_source, "
                "consent_at)");
      return -1;
    }
  }
  json_t *number = json_object_get(o, "number"), *status = json_object_get(o, "status");
  json_t *fields = json_object_get(o, "fields"), *tags = json_object_get(o, "tags");
  json_t *source = json_object_get(o, "consent_source"),
         *at = json_object_get(o, "consent_at");
  const char *wrong = number && !json_is_string(number)   ? "number"
                      : status && !json_is_string(status) ? "status"
                      : fields && !json_is_object(fields) ? "fields"
                      : source && !json_is_string(source) ? "consent_source"
                      : at && !json_is_string(at) && !json_is_integer(at) ? "consent_at"
                                                                          : NULL;
  if (wrong) {
    add_error(rep, r->row, r->line, wrong, "%s",
              strcmp(wrong, "fields") == 0 ? "fields must be an object"
              : strcmp(wrong, "consent_at") == 0
                  ? "consent_at must be a string or seconds"
                  : "must be a string");
    return -1;
  }
  if (tags && !json_is_array(tags)) {
    add_error(rep, r->row, r->line, "tags", "tags must be a list of strings");
    return -1;
  }
  for (size_t i = 0; tags && i < json_array_size(tags); i++)
    if (!json_is_string(json_array_get(tags, i))) {
      add_error(rep, r->row, r->line, "tags", "tags must be a list of strings");
      return -1;
    }
  json_object_foreach(fields, key, v) if (!field_name_ok(key)) {
    add_error(rep, r->row, r->line, "fields",
              "'%.60s': " FIELD_NAME_RULE, key);
    return -1;
  }
  char at_text[32];
  if (json_is_integer(at))
    snprintf(at_text, sizeof at_text, "%lld", (long long)json_integer_value(at));
  if (check_number(rep, r, json_string_value(number)) ||
      check_status(rep, r, json_string_value(status)) ||
      check_consent(rep, r, json_string_value(source),
                    json_is_integer(at) ? at_text : json_string_value(at)))
    return -1;
  if (fields && json_object_size(fields)) r->fields = json_incref(fields);
  if (tags && json_array_size(tags)) r->tags = json_incref(tags);
  return 0;
}

static int read_json_lines(const char *data, size_t len, const import_options *opt,
                           rows *out, import_report *rep) {
  long line = 0;
  for (size_t at = 0; at < len;) {
    const char *start = data + at;
    const char *nl = memchr(start, '\n', len - at);
    size_t n = nl ? (size_t)(nl - start) : len - at;
    at += n + (nl != NULL);
    line++;
    size_t blank = 0;
    while (blank < n && isspace((unsigned char)start[blank])) blank++;
    if (blank == n) continue;
    rep->rows++;
    if (out->n == out->cap) {
      out->cap = out->cap ? out->cap * 2 : 1024;
      out->v = xrealloc(out->v, out->cap * sizeof *out->v);
    }
    import_row *r = &out->v[out->n];
    *r = (import_row){.row = line + opt->row_offset, .line = line + opt->line_offset};
    json_error_t jerr;
    json_t *o = json_loadb(start, n, 0, &jerr);
    if (!json_is_object(o)) {
      add_error(rep, r->row, r->line, "",
                o ? "a line is one JSON object" : "not JSON: %s", jerr.text);
      json_decref(o);
      continue;
    }
    if (json_row(rep, o, r))
      row_free(r);
    else
      out->n++;
    json_decref(o);
  }
  return 0;
}

/* ---------------------------------------------------------------- applying */

typedef struct consent_seen {
  const import_row *r;
  const char *last_action; /* the newest entry's action */
  int same_optin;          /* this row's evidence is already in the ledger */
} consent_seen;

static void note_consent(void *ud, const char *action, const char *source,
                         const char *text, int64_t at) {
  consent_seen *cs = ud;
  static char optin[] = "optin", optout[] = "optout";
  cs->last_action = strcmp(action, "optin") == 0 ? optin : optout;
  if (cs->r->consent_source && strcmp(action, "optin") == 0 &&
      strcmp(source, "import") == 0 && text &&
      strcmp(text, cs->r->consent_source) == 0 && at == cs->r->consent_at)
    cs->same_optin = 1;
}

/* The merge of a contact's stored fields (JSON) with the row's, and its
 * tags with the row's added; canonical, held to a script's limits. NULL
 * with the error added. */
static char *merged(import_report *rep, const import_row *r, const char *stored,
                    json_t *add, int tags) {
  json_error_t jerr;
  json_t *v = json_loads(stored ? stored : (tags ? "[]" : "{}"), 0, &jerr);
  if (tags) {
    if (!json_is_array(v)) {
      json_decref(v);
      v = json_array();
    }
    size_t i;
    json_t *t;
    json_array_foreach(add, i, t) {
      int have = 0;
      for (size_t k = 0; k < json_array_size(v) && !have; k++)
        have = json_equal(json_array_get(v, k), t);
      if (!have) json_array_append(v, t);
    }
  } else {
    if (!json_is_object(v)) {
      json_decref(v);
      v = json_object();
    }
    json_object_update(v, add);
  }
  char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref(v);
  char err[256];
  char *canon =
      luadata_check_json(text, strlen(text), tags ? "c.tags" : "c.fields",
                         tags ? &LUADATA_TAGS : &LUADATA_FIELDS, err, sizeof err);
  free(text);
  if (!canon)
    add_error(rep, r->row, r->line, tags ? "tags" : "fields", "%s", err);
  else if (tags && strcmp(canon, "{}") == 0) { /* no tags, as a script writes it */
    free(canon);
    canon = xstrdup("[]");
  }
  return canon;
}

/* Reads the row's contact on rd, decides, and records the writes in j. */
static int apply_row(store_reader *rd, journal *j, int64_t bot_id,
                     const import_row *r, const import_options *opt,
                     import_report *rep) {
  contact_row c = {0};
  int found = store_contact_get(rd, bot_id, r->number, &c);
  if (found < 0) return -1;
  char *fields = r->fields ? merged(rep, r, c.fields, r->fields, 0) : NULL;
  char *tags =
      r->tags && (!r->fields || fields) ? merged(rep, r, c.tags, r->tags, 1) : NULL;
  if ((r->fields && !fields) || (r->tags && !tags)) {
    free(fields);
    free(tags);
    contact_row_free(&c);
    return 0;
  }
  int rc = 0, was_out = found && strcmp(c.status, "opted_out") == 0;
  int was_in = found && strcmp(c.status, "subscribed") == 0;
  int suppressed = !was_in ? store_is_suppressed(rd, bot_id, r->number) : 0;
  if (suppressed < 0) rc = -1;
  consent_seen cs = {.r = r};
  if (!rc && found && store_consent_each(rd, c.id, note_consent, &cs)) rc = -1;
  int recorded_out =
      suppressed || (cs.last_action && strcmp(cs.last_action, "optout") == 0);
  int64_t id = found ? c.id : opt->new_id(opt->ud);
  /* the status after this row, and what goes to the ledger: a new contact
   * without evidence is known but not opted in (an erased number that had
   * opted out is opted out again) */
  const char *status = found ? c.status : suppressed ? "opted_out" : "not_opted_in";
  int ledger_in = 0, ledger_out = 0;
  if (r->opt_out) {
    ledger_out = found ? !was_out : !suppressed;
    status = "opted_out";
  } else if (r->consent_source) {
    if (recorded_out && !was_in) {
      rep->kept_opted_out++;
    } else {
      ledger_in = !cs.same_optin;
      status = "subscribed";
    }
  }
  if (!rc && !found) journal_contact_add(j, id, bot_id, r->number, opt->now);
  int status_changed = !found || strcmp(status, c.status) != 0;
  int changed = status_changed ||
                (fields && strcmp(fields, c.fields ? c.fields : "")) ||
                (tags && strcmp(tags, c.tags ? c.tags : ""));
  if (!rc && changed) journal_contact_update(j, id, status, fields, tags, NULL);
  if (!rc && ledger_in)
    journal_consent(j, bot_id, id, r->number, "optin", "import", r->consent_source,
                    r->consent_at);
  if (!rc &&
      ledger_out) { /* as an opt-out by keyword: drips stop, c:expect is cleared */
    journal_consent(j, bot_id, id, r->number, "optout", "import", NULL, opt->now);
    journal_drips_cancel(j, id, NULL);
    if (c.expect) journal_conversation(j, id, c.state, NULL, opt->now);
  }
  if (!rc) {
    if (!found)
      rep->created++;
    else if (changed)
      rep->updated++;
    else if (!ledger_in)
      rep->unchanged++;
    if (!found && strcmp(status, "not_opted_in") == 0) rep->not_opted_in++;
    if (ledger_in) rep->opted_in++;
    if (ledger_out) rep->opted_out++;
    if (changed && opt->changed)
      opt->changed(opt->ud, r->number, status,
                   fields     ? fields
                   : c.fields ? c.fields
                              : "{}",
                   tags     ? tags
                   : c.tags ? c.tags
                            : "[]");
  }
  free(fields);
  free(tags);
  contact_row_free(&c);
  return rc;
}

/* An import's batch in the making: the writes of its rows, and their
 * numbers. */
typedef struct import_batch {
  journal j;
  json_t *numbers; /* number -> true */
  long rows;
  import_report before; /* the report before it */
} import_batch;

/* Commits the batch (nothing to do if it wrote nothing) and starts the
 * next; if it fails, the report goes back to what the batches before did.
 * 0, or -1 with err. */
static int end_batch(import_batch *ib, const import_options *opt, import_report *rep, char *err,
                     size_t errlen) {
  int rc = ib->j.n ? opt->commit(opt->ud, &ib->j, err, errlen) : 0;
  if (rc) {
    json_t *errors = rep->errors;
    *rep = ib->before;
    rep->errors = errors;
  } else {
    ib->before = *rep;
  }
  journal_clear(&ib->j);
  json_object_clear(ib->numbers);
  ib->rows = 0;
  return rc;
}

int contacts_import(store_reader *rd, int64_t bot_id, const char *data, size_t len, const import_options *opt,
                    import_report *rep, char *err, size_t errlen) {
  *rep = (import_report){.errors = json_array()};
  rows rs = {0};
  int rc = opt->format == IMPORT_CSV ? read_csv(data, len, opt, &rs, rep, err, errlen)
                                     : read_json_lines(data, len, opt, &rs, rep);
  import_batch ib = {.numbers = json_object(), .before = *rep};
  for (size_t k = 0; !rc && k < rs.n; k++) {
    const import_row *r = &rs.v[k];
    if (ib.rows == IMPORT_BATCH || json_object_get(ib.numbers, r->number))
      rc = end_batch(&ib, opt, rep, err, errlen);
    if (rc) break;
    if (apply_row(rd, &ib.j, bot_id, r, opt, rep)) {
      snprintf(err, errlen, "%s", store_error(rd));
      json_t *errors = rep->errors;
      *rep = ib.before; /* what the batches before did */
      rep->errors = errors;
      rc = -1;
      break;
    }
    json_object_set_new(ib.numbers, r->number, json_true());
    ib.rows++;
  }
  if (!rc && rs.n) rc = end_batch(&ib, opt, rep, err, errlen);
  journal_free(&ib.j);
  json_decref(ib.numbers);
  for (size_t i = 0; i < rs.n; i++) row_free(&rs.v[i]);
  free(rs.v);
  return rc;
}

json_t *import_report_json(import_report *rep) {
  json_t *o = json_pack(
      "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "rows", (json_int_t)rep->rows,
      "created", (json_int_t)rep->created, "updated", (json_int_t)rep->updated,
      "unchanged", (json_int_t)rep->unchanged, "opted_in", (json_int_t)rep->opted_in,
      "opted_out", (json_int_t)rep->opted_out, "not_opted_in",
      (json_int_t)rep->not_opted_in, "kept_opted_out", (json_int_t)rep->kept_opted_out,
      "failed", (json_int_t)rep->failed, "errors", rep->errors);
  rep->errors = NULL;
  return o;
}

/* ---------------------------------------------------------------- export */

typedef struct exporter {
  store_reader *st;
  json_t *names; /* field names, sorted, as an object name -> true */
  buf *out;
  int failed;
  /* the contact's latest opt-in */
  char *source;
  int64_t at;
} exporter;

static void collect_names(void *ud, const contact_row *r) {
  exporter *x = ud;
  json_error_t jerr;
  json_t *f = json_loads(r->fields ? r->fields : "{}", 0, &jerr);
  const char *key;
  json_t *v;
  json_object_foreach(f, key, v) json_object_set_new(x->names, key, json_true());
  json_decref(f);
}

static void csv_cell(buf *b, const char *v, int first) {
  if (!first) buf_add(b, ",", 1);
  if (!strpbrk(v, ",\"\r\n")) {
    buf_puts(b, v);
    return;
  }
  buf_add(b, "\"", 1);
  for (; *v; v++) {
    if (*v == '"') buf_add(b, "\"", 1);
    buf_add(b, v, 1);
  }
  buf_add(b, "\"", 1);
}

static void latest_optin(void *ud, const char *action, const char *source,
                         const char *text, int64_t at) {
  exporter *x = ud;
  if (strcmp(action, "optin") != 0) return;
  free(x->source);
  x->source = xstrdup(strcmp(source, "import") == 0 && text ? text : source);
  x->at = at;
}

static void write_contact(void *ud, const contact_row *r) {
  exporter *x = ud;
  x->source = NULL;
  int subscribed =
      strcmp(r->status, "subscribed") == 0; /* the evidence of this opt-in */
  if (subscribed && store_consent_each(x->st, r->id, latest_optin, x)) x->failed = 1;
  if (!x->source && r->joined && subscribed) {
    x->source = xstrdup("first message"); /* subscribed by texting the bot */
    /* which may have come after the contact was made (an import, an event) */
    x->at = r->first_seen;
    if (store_first_inbound_at(x->st, r->id, &x->at) < 0) x->failed = 1;
  }
  csv_cell(x->out, r->number, 1);
  csv_cell(x->out, r->status, 0);
  csv_cell(x->out, x->source ? x->source : "", 0);
  char when[32] = "";
  if (x->source) {
    time_t t = (time_t)(x->at / 1000);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  }
  csv_cell(x->out, when, 0);
  free(x->source);
  json_error_t jerr;
  json_t *tags = json_loads(r->tags ? r->tags : "[]", 0, &jerr);
  buf t = {0};
  size_t i;
  json_t *v;
  json_array_foreach(tags, i, v) {
    if (i) buf_add(&t, ";", 1);
    buf_puts(&t, json_string_value(v) ? json_string_value(v) : "");
  }
  csv_cell(x->out, t.data ? t.data : "", 0);
  buf_free(&t);
  json_decref(tags);
  json_t *fields = json_loads(r->fields ? r->fields : "{}", 0, &jerr);
  const char *key;
  json_object_foreach(x->names, key, v) {
    json_t *f = json_object_get(fields, key);
    char *text = !f || json_is_null(f) ? NULL
                 : json_is_string(f)   ? xstrdup(json_string_value(f))
                                       : json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
    csv_cell(x->out, text ? text : "", 0);
    free(text);
  }
  json_decref(fields);
  buf_add(x->out, "\r\n", 2);
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int contacts_export_csv(store_reader *st, int64_t bot_id, buf *out) {
  exporter x = {.st = st, .names = json_object(), .out = out};
  int rc = store_contacts_each(st, bot_id, collect_names, &x);
  if (!rc) {
    buf_puts(out, "number,status,consent_source,consent_at,tags");
    const char *key;
    json_t *v;
    /* sorted, so the columns are the same from one export to the next */
    json_t *sorted = json_array();
    json_object_foreach(x.names, key, v)
        json_array_append_new(sorted, json_string(key));
    json_decref(x.names);
    x.names = json_object();
    size_t n = json_array_size(sorted);
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
      names[i] = json_string_value(json_array_get(sorted, i));
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
      char *col = xasprintf("fields.%s", names[i]);
      csv_cell(out, col, 0);
      free(col);
      json_object_set_new(x.names, names[i], json_true());
    }
    free(names);
    json_decref(sorted);
    buf_add(out, "\r\n", 2);
    rc = store_contacts_each(st, bot_id, write_contact, &x);
  }
  json_decref(x.names);
  return rc || x.failed ? -1 : 0;
}
