/* csv: a reader of RFC 4180 comma-separated values held in memory.
 *
 * Records end with CRLF or LF (the last one may end with the input); a
 * field is quoted when it starts with '"', and may then hold commas, line
 * breaks and doubled quotes. A UTF-8 byte order mark at the start is
 * skipped. What RFC 4180 does not allow is refused with the line it is on:
 * a carriage return outside quotes that is not part of CRLF, a quote inside
 * an unquoted field, text after a closing quote, a quoted field that is
 * never closed, a NUL byte. A record with a field longer than max_field
 * bytes or more than max_fields fields is refused on its own: the reader
 * is past it and the next record can be read. */
#ifndef PARLEY_CSV_H
#define PARLEY_CSV_H

#include <stddef.h>

typedef struct csv_reader {
  const char *p, *end;
  size_t max_field, max_fields;
  long line;  /* where p is, from 1 */
  char *data; /* the current record's fields, each NUL-terminated */
  size_t len, cap;
  size_t *starts; /* offsets of the fields in data */
  size_t nstarts, capstarts;
  const char **ptrs; /* the fields, for the caller */
  size_t capptrs;
} csv_reader;

/* A record: fields[i] lasts until the next csv_read; line is where it
 * starts. */
typedef struct csv_record {
  const char **fields;
  size_t n;
  long line;
} csv_record;

enum { CSV_END = 0, CSV_RECORD = 1, CSV_BAD_RECORD = -2, CSV_BAD_INPUT = -1 };

void csv_init(csv_reader *r, const char *data, size_t len, size_t max_field,
              size_t max_fields);
void csv_free(csv_reader *r);
/* CSV_RECORD with rec; CSV_END; CSV_BAD_RECORD with a sentence in err (that
 * record is skipped, reading may go on); CSV_BAD_INPUT with a sentence
 * naming the line in err (reading cannot go on). */
int csv_read(csv_reader *r, csv_record *rec, char *err, size_t errlen);

#endif
