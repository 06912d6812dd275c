/* contacts: `parley contacts import BOT FILE` and `parley contacts export
 * BOT`, against a running server's admin API (as `parley reload` is).
 *
 * A file is checked as CSV here first (a syntax error stops the import
 * before anything is sent), then sent in pieces of whole rows, each with
 * the header, so that no request passes the server's max_body; the
 * server numbers each piece's rows as the file's. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "csv.h"
#include "util.h"

enum { PIECE_BYTES = 512 * 1024 };

static const char *const counts[] = {"rows",         "created",        "updated",
                                     "unchanged",    "opted_in",       "opted_out",
                                     "not_opted_in", "kept_opted_out", "failed"};
enum { NCOUNTS = sizeof counts / sizeof *counts };

typedef struct import_run {
  const char *url, *token, *bot, *file, *ctype;
  long long total[NCOUNTS];
  long shown;
} import_run;

/* Sends one piece; 0, or 1 with the reason printed. */
static int send_piece(import_run *run, const char *data, size_t len, long row_offset,
                      long line_offset) {
  char *endpoint =
      xasprintf("%s/v1/bots/%s/contacts/import?row_offset=%ld&line_offset=%ld",
                run->url, run->bot, row_offset, line_offset);
  buf answer = {0};
  char err[512];
  long status = admin_client_request(endpoint, run->token, "POST", run->ctype, data, len, 300,
                              &answer, err, sizeof err);
  free(endpoint);
  json_error_t jerr;
  json_t *o = json_loadb(answer.data ? answer.data : "", answer.len, 0, &jerr);
  buf_free(&answer);
  int rc = 0;
  if (!status) {
    fprintf(stderr, "parley contacts: %s\n", err);
    rc = 1;
  } else if (status != 200) {
    const char *msg = json_string_value(json_object_get(o, "error"));
    fprintf(stderr, "parley contacts: %s: %s (HTTP %ld)%s\n", run->file,
            msg ? msg : "refused", status,
            status == 413 ? "; raise the server's max_body" : "");
    rc = 1;
  } else {
    for (int i = 0; i < NCOUNTS; i++)
      run->total[i] += json_integer_value(json_object_get(o, counts[i]));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "errors"), i, e) {
      const char *col = json_string_value(json_object_get(e, "column"));
      fprintf(stderr, "%s: row %lld (line %lld)%s%s: %s\n", run->file,
              (long long)json_integer_value(json_object_get(e, "row")),
              (long long)json_integer_value(json_object_get(e, "line")),
              col && *col ? ", column " : "", col ? col : "",
              json_string_value(json_object_get(e, "error")));
    }
  }
  json_decref(o);
  return rc;
}

/* CSV: the header, then pieces of whole records. */
static int import_csv(import_run *run, const char *data, size_t len) {
  csv_reader rd;
  csv_init(&rd, data, len, 16384, 1000);
  csv_record rec;
  char err[256];
  const char *header_start = rd.p;
  int rc = csv_read(&rd, &rec, err, sizeof err);
  if (rc == CSV_END || rc == CSV_BAD_INPUT) {
    fprintf(stderr, "parley contacts: %s: %s\n", run->file,
            rc == CSV_END ? "the file is empty (a CSV file starts with a header row)"
                          : err);
    csv_free(&rd);
    return 1;
  }
  size_t header_len = (size_t)(rd.p - header_start);
  long header_end_line = rd.line, row = 1;
  /* check the whole file first: a syntax error sends nothing */
  while ((rc = csv_read(&rd, &rec, err, sizeof err)) != CSV_END)
    if (rc == CSV_BAD_INPUT) {
      fprintf(stderr, "parley contacts: %s: %s (nothing was imported)\n", run->file,
              err);
      csv_free(&rd);
      return 1;
    }
  csv_free(&rd); /* and again, to send it */
  csv_init(&rd, data, len, 16384, 1000);
  csv_read(&rd, &rec, err, sizeof err);
  buf piece = {0};
  long piece_row = 0, piece_line = 0;
  int failed = 0;
  for (;;) {
    const char *start = rd.p;
    long line = rd.line;
    rc = csv_read(&rd, &rec, err, sizeof err);
    if (rc != CSV_END) {
      row++;
      if (!piece.len) {
        buf_add(&piece, header_start, header_len);
        if (header_len && header_start[header_len - 1] != '\n')
          buf_add(&piece, "\r\n", 2);
        piece_row = row;
        piece_line = line;
      }
      buf_add(&piece, start, (size_t)(rd.p - start));
      if (rd.p == rd.end && start < rd.p && rd.p[-1] != '\n')
        buf_add(&piece, "\r\n", 2);
    }
    if (piece.len && (rc == CSV_END || piece.len >= PIECE_BYTES)) {
      failed = send_piece(run, piece.data, piece.len, piece_row - 2,
                          piece_line - header_end_line);
      piece.len = 0;
      if (failed) break; /* refused as a whole: the rest is not sent */
    }
    if (rc == CSV_END) break;
  }
  buf_free(&piece);
  csv_free(&rd);
  return failed;
}

/* JSON lines: pieces of whole lines. */
static int import_json_lines(import_run *run, const char *data, size_t len) {
  int failed = 0;
  long line = 0;
  for (size_t at = 0; at < len;) {
    size_t start = at;
    long first = line;
    while (at < len && at - start < PIECE_BYTES) {
      const char *nl = memchr(data + at, '\n', len - at);
      at = nl ? (size_t)(nl - data) + 1 : len;
      line++;
    }
    if ((failed = send_piece(run, data + start, at - start, first, first))) break;
  }
  return failed;
}

static int usage(FILE *f) {
  fputs(
      "usage: parley contacts import BOT FILE [--format csv|jsonl] [--url URL] [--config FILE]\n"
      "       parley contacts export BOT [--output FILE] [--url URL] [--config FILE]\n"
      "Imports contacts (CSV with a header row, or JSON lines: docs/serve.md) into a\n"
      "bot of a running parley serve, or exports them as CSV. The server: --url, else\n"
      "PARLEY_URL, else the listen setting of --config FILE and PARLEY_LISTEN as\n"
      "parley serve reads them (default http://127.0.0.1:8080). The admin token:\n"
      "PARLEY_ADMIN_TOKEN (or PARLEY_ADMIN_TOKEN_FILE).\n",
      f);
  return f == stdout ? 0 : 2;
}

static int export_contacts(const char *url, const char *token, const char *bot,
                           const char *output) {
  char *endpoint = xasprintf("%s/v1/bots/%s/contacts.csv", url, bot);
  buf answer = {0};
  char err[512];
  long status =
      admin_client_request(endpoint, token, "GET", NULL, NULL, 0, 300, &answer, err,
                           sizeof err);
  free(endpoint);
  int rc = 0;
  if (status != 200) {
    json_error_t jerr;
    json_t *o = status
                    ? json_loadb(answer.data ? answer.data : "", answer.len, 0, &jerr)
                    : NULL;
    const char *msg = json_string_value(json_object_get(o, "error"));
    if (status)
      fprintf(stderr, "parley contacts: %s (HTTP %ld)\n", msg ? msg : "refused",
              status);
    else
      fprintf(stderr, "parley contacts: %s\n", err);
    json_decref(o);
    rc = 1;
  } else {
    FILE *f = output ? fopen(output, "wb") : stdout;
    if (!f || fwrite(answer.data ? answer.data : "", 1, answer.len, f) != answer.len ||
        (output && fclose(f))) {
      fprintf(stderr, "parley contacts: cannot write %s\n", output ? output : "stdout");
      rc = 1;
    }
  }
  buf_free(&answer);
  return rc;
}

static const struct option contacts_options[] = {
    {"url", required_argument, NULL, 'u'},    {"config", required_argument, NULL, 'c'},
    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};

int cli_contacts(int argc, char **argv) {
  const char *verb = argc > 1 ? argv[1] : NULL;
  const char *url_flag = NULL, *config = NULL;
  const char *format = NULL, *output = NULL, *args[2] = {0};
  int nargs = 0;
  if (!verb || strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)
    return usage(verb ? stdout : stderr);
  if (strcmp(verb, "import") && strcmp(verb, "export")) {
    fprintf(stderr, "parley contacts: unknown command '%s' (known: import, export)\n",
            verb);
    return 2;
  }
  /* the options follow the command: "import" is the verb's argv[0] */
  cli_options o = {.argc = argc - 1,
                   .argv = argv + 1,
                   .verb = "contacts",
                   .shorts = "ho:",
                   .longs = contacts_options,
                   .known = "--url, --config, --format, --output"};
  for (int c; (c = cli_option(&o)) != -1;) {
    switch (c) {
      case 'u':
        url_flag = o.arg;
        break;
      case 'c':
        config = o.arg;
        break;
      case 'f':
        format = o.arg;
        break;
      case 'o':
        output = o.arg;
        break;
      case 'h':
        return usage(stdout);
      case 1:
        if (nargs == 2) return usage(stderr);
        args[nargs++] = o.arg;
        break;
      default:
        return 2;
    }
  }
  int import = strcmp(verb, "import") == 0;
  if (nargs != (import ? 2 : 1)) return usage(stderr);
  if (format && strcmp(format, "csv") && strcmp(format, "jsonl")) {
    fprintf(stderr, "parley contacts: --format is csv or jsonl, not '%s'\n", format);
    return 2;
  }
  if (admin_client_settings(config)) return 2;
  const char *token = admin_client_token("contacts");
  if (!token) return 2;
  char *url = admin_client_url("contacts", url_flag, config);
  if (!url) return 2;
  if (!import) {
    int rc = export_contacts(url, token, args[0], output);
    free(url);
    return rc;
  }
  const char *file = args[1];
  size_t len;
  char *data = read_file(file, &len);
  if (!data) {
    fprintf(stderr, "parley contacts: cannot read %s\n", file);
    free(url);
    return 1;
  }
  size_t fl = strlen(file);
  int jsonl = format ? strcmp(format, "jsonl") == 0
                     : (fl > 6 && strcmp(file + fl - 6, ".jsonl") == 0) ||
                           (fl > 7 && strcmp(file + fl - 7, ".ndjson") == 0);
  import_run run = {.url = url,
                    .token = token,
                    .bot = args[0],
                    .file = file,
                    .ctype = jsonl ? "application/x-ndjson" : "text/csv"};
  int failed = jsonl ? import_json_lines(&run, data, len) : import_csv(&run, data, len);
  free(data);
  free(url);
  if (run.total[0] || !failed) {
    printf("%s:", file);
    for (int i = 0; i < NCOUNTS; i++) printf(" %s=%lld", counts[i], run.total[i]);
    printf("\n");
  }
  return failed || run.total[NCOUNTS - 1] ? 1 : 0;
}
