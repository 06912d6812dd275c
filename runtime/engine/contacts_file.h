/* contacts_file: a bot's contacts in bulk, from and to files.
 *
 * Import reads CSV (RFC 4180, a header row naming the columns) or JSON
 * lines, one contact a row: its number (E.164), fields to merge, tags to
 * add, an opt-out, and the evidence of an opt-in (its source and time),
 * which goes to the consent ledger. Each row is checked on its own: a bad
 * row is reported (row, column, why) and the others are applied, in
 * transactions of IMPORT_BATCH rows. Re-running a file changes nothing.
 * Export writes the contacts as CSV that import reads back. docs/serve.md
 * ("Importing and exporting contacts") is the user's description. */
#ifndef PARLEY_CONTACTS_FILE_H
#define PARLEY_CONTACTS_FILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "store.h"
#include "util.h"

enum { IMPORT_BATCH = 5000, IMPORT_MAX_ERRORS = 1000 };

typedef enum { IMPORT_CSV, IMPORT_JSON_LINES } import_format;

typedef struct import_report {
  long rows;           /* rows read (the header and blank lines not counted) */
  long created;        /* new contacts */
  long updated;        /* contacts whose fields, tags or status changed */
  long unchanged;      /* good rows that changed nothing */
  long opted_in;       /* opt-ins written to the consent ledger */
  long opted_out;      /* contacts opted out by the file */
  long not_opted_in;   /* new contacts without evidence of consent (not_opted_in) */
  long kept_opted_out; /* rows with evidence for a contact that had opted out */
  long failed;         /* rows refused */
  json_t *errors; /* [{"row","line","column","error"}], at most IMPORT_MAX_ERRORS */
} import_report;

/* Called for each contact an import changed, after it is written (for the
 * engine's cache): its status ("subscribed", "opted_out", "not_opted_in"),
 * fields and tags as stored. */
typedef void (*import_changed_fn)(void *ud, const char *number, const char *status,
                                  const char *fields, const char *tags);

typedef struct import_options {
  import_format format;
  long row_offset, line_offset; /* added to the rows' and lines' numbers in the report
                                   (the data is a piece of a larger file) */
  int64_t now;                  /* ms: when the contacts are created or opted out */
  import_changed_fn changed;
  /* Commits a batch's writes (in one transaction, durable when it returns:
   * the rows after it read them on rd): 0, or -1 with err. */
  int (*commit)(void *ud, journal *j, char *err, size_t errlen);
  int64_t (*new_id)(void *ud); /* the id of a contact it creates */
  void *ud;
} import_options;

/* Imports data into bot_id's contacts: reads on rd, writes through
 * opt->commit, in batches of at most IMPORT_BATCH rows (a batch ends before
 * a row whose number a row of it wrote, so that each row reads what the
 * rows before wrote); new contacts get their ids from opt->new_id. 0 with rep filled (caller frees rep->errors); 1 if the
 * data cannot be read as a whole (a CSV syntax error, a bad header: err
 * names the line), nothing written; -1 if the store failed (err), the
 * batches before stay written (an import is safe to run again). */
int contacts_import(store_reader *rd, int64_t bot_id, const char *data, size_t len, const import_options *opt,
                    import_report *rep, char *err, size_t errlen);

/* The report as JSON (rep->errors is taken). */
json_t *import_report_json(import_report *rep);

/* The bot's contacts as CSV, in the order they were first seen: number,
 * status, consent_source, consent_at (a subscribed contact's latest opt-in
 * in the ledger, or its first message), tags, then a fields.NAME column for
 * every field name. 0, or -1 with the store's error. */
int contacts_export_csv(store_reader *rd, int64_t bot_id, buf *out);

/* A number as a file may write it ("+1 (555) 010-0100") in E.164 form
 * ("+15550100100"): spaces, dashes, dots and parentheses dropped, then a +
 * and 3 to 15 digits. 0, or -1 if it is not one. */
int contacts_e164(const char *in, char *out, size_t outlen);

#endif
