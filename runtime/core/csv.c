#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void csv_init(csv_reader *r, const char *data, size_t len, size_t max_field,
              size_t max_fields) {
  *r = (csv_reader){.p = data,
                    .end = data + len,
                    .max_field = max_field,
                    .max_fields = max_fields,
                    .line = 1};
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) r->p += 3;
}

void csv_free(csv_reader *r) {
  free(r->data);
  free(r->starts);
  free(r->ptrs);
  r->data = NULL;
  r->starts = NULL;
  r->ptrs = NULL;
}

static void put_byte(csv_reader *r, char c) {
  if (r->len + 1 >= r->cap) {
    r->cap = r->cap ? r->cap * 2 : 256;
    r->data = xrealloc(r->data, r->cap);
  }
  r->data[r->len++] = c;
}

static void start_field(csv_reader *r) {
  if (r->nstarts == r->capstarts) {
    r->capstarts = r->capstarts ? r->capstarts * 2 : 16;
    r->starts = xrealloc(r->starts, r->capstarts * sizeof *r->starts);
  }
  r->starts[r->nstarts++] = r->len;
}

/* Where a problem makes the rest unreadable. */
static int bad_input(csv_reader *r, long line, char *err, size_t errlen,
                     const char *what) {
  snprintf(err, errlen, "line %ld: %s", line, what);
  r->p = r->end;
  return CSV_BAD_INPUT;
}

int csv_read(csv_reader *r, csv_record *rec, char *err, size_t errlen) {
  if (r->p >= r->end) return CSV_END;
  long first_line = r->line;
  r->len = 0;
  r->nstarts = 0;
  char refused[128] = "";
  for (;;) { /* one field */
    size_t field_len = 0;
    int keep = !*refused;
    if (keep && r->nstarts == r->max_fields) {
      snprintf(refused, sizeof refused, "more than %zu fields", r->max_fields);
      keep = 0;
    }
    if (keep) start_field(r);
    if (r->p < r->end && *r->p == '"') {
      long quote_line = r->line;
      r->p++;
      for (;;) {
        if (r->p >= r->end) {
          return bad_input(r, quote_line, err, errlen,
                           "a quoted field is not closed before the end of the input");
        }
        char c = *r->p++;
        if (c == '\0') return bad_input(r, r->line, err, errlen, "a NUL byte");
        if (c == '"') {
          if (r->p < r->end && *r->p == '"')
            r->p++;
          else
            break;
        }
        if (c == '\n') r->line++;
        if (++field_len > r->max_field && keep) {
          snprintf(refused, sizeof refused, "field %zu is longer than %zu bytes",
                   r->nstarts, r->max_field);
          keep = 0;
        }
        if (keep) put_byte(r, c);
      }
      if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
        return bad_input(r, r->line, err, errlen,
                         "text after a closing quote (a quote inside a quoted field is "
                         "written twice)");
    } else {
      while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
        char c = *r->p++;
        if (c == '\0') return bad_input(r, r->line, err, errlen, "a NUL byte");
        if (c == '"')
          return bad_input(
              r, r->line, err, errlen,
              "a quote inside a field that does not start with one (quote the "
              "whole field and double the quote)");
        if (++field_len > r->max_field && keep) {
          snprintf(refused, sizeof refused, "field %zu is longer than %zu bytes",
                   r->nstarts, r->max_field);
          keep = 0;
        }
        if (keep) put_byte(r, c);
      }
    }
    if (keep) put_byte(r, '\0');
    if (r->p >= r->end) break;
    char c = *r->p++;
    if (c == ',') continue;
    if (c == '\r') {
      if (r->p >= r->end || *r->p != '\n')
        return bad_input(
            r, r->line, err, errlen,
            "a carriage return not followed by a line feed (outside quotes)");
      r->p++;
    }
    r->line++;
    break;
  }
  if (*refused) {
    snprintf(err, errlen, "line %ld: %s", first_line, refused);
    return CSV_BAD_RECORD;
  }
  /* the fields' pointers, now that data no longer moves */
  if (r->capptrs < r->nstarts) {
    r->capptrs = r->capstarts;
    r->ptrs = xrealloc(r->ptrs, r->capptrs * sizeof *r->ptrs);
  }
  for (size_t i = 0; i < r->nstarts; i++) r->ptrs[i] = r->data + r->starts[i];
  rec->fields = r->ptrs;
  rec->n = r->nstarts;
  rec->line = first_line;
  return CSV_RECORD;
}
