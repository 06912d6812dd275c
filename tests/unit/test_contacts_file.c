/* Unit tests for runtime/engine/contacts_file.h: numbers in E.164, consent times,
 * what an import writes to the contacts and the consent ledger (once), the
 * opt-outs it keeps, batches, and the export read back.
 *
 *   make build/test_contacts_file && ./build/test_contacts_file */
#include "contacts_file.h"
#include "test.h"

static const int64_t NOW = 1772445600000; /* 2026-03-02 10:00 UTC */

static void e164(const char *in, const char *want) {
  char out[20];
  int rc = contacts_e164(in, out, sizeof out);
  int ok = want ? rc == 0 && strcmp(out, want) == 0 : rc != 0;
  if (!test_result(ok, "number '%s' is %s", in, want ? want : "refused"))
    test_note("got rc %d, '%s'", rc, rc ? "" : out);
}

typedef struct ledger_rows {
  int n;
  char last[256];
} ledger_rows;

static void count_ledger(void *ud, const char *action, const char *source,
                         const char *text, int64_t at) {
  ledger_rows *l = ud;
  l->n++;
  snprintf(l->last, sizeof l->last, "%s %s %s %lld", action, source, text ? text : "-",
           (long long)at);
}

static ledger_rows ledger_of(store *st, int64_t bot, const char *number) {
  ledger_rows l = {0};
  contact_row r = {0};
  if (store_contact_get(store_reads(st), bot, number, &r) == 1)
    store_consent_each(store_reads(st), r.id, count_ledger, &l);
  contact_row_free(&r);
  return l;
}

static char *status_of(store *st, int64_t bot, const char *number) {
  static char s[64];
  contact_row r = {0};
  snprintf(
      s, sizeof s, "%s",
      store_contact_get(store_reads(st), bot, number, &r) == 1 ? r.status : "none");
  contact_row_free(&r);
  return s;
}

/* An import's batch, applied on the test's connection; its new contacts
 * take the ids after *last. */
typedef struct import_ctx {
  store *st;
  int64_t *last;
} import_ctx;

static int commit(void *ud, journal *j, char *err, size_t errlen) {
  return journal_apply(((import_ctx *)ud)->st, j, err, errlen);
}

static int64_t new_id(void *ud) { return ++*((import_ctx *)ud)->last; }

static int import(store *st, int64_t bot, int64_t *last, const char *csv,
                  import_report *rep) {
  import_ctx ctx = {st, last};
  import_options opt = {.format = IMPORT_CSV, .now = NOW, .commit = commit,
                        .new_id = new_id, .ud = &ctx};
  char err[512] = "";
  int rc = contacts_import(store_reads(st), bot, csv, strlen(csv), &opt, rep, err,
                           sizeof err);
  if (rc) test_note("contacts_import: %d %s", rc, err);
  return rc;
}

static void consent_time(const char *at, long long want_s) {
  char csv[256];
  snprintf(csv, sizeof csv, "number,consent_source,consent_at\n+15559990,web,%s\n", at);
  char err[256];
  store *st = store_open(":memory:", err, sizeof err);
  int64_t bot = store_bot_ensure(st, "t", 0), last = 0;
  import_report rep;
  import(st, bot, &last, csv, &rep);
  ledger_rows l = ledger_of(st, bot, "+15559990");
  char want[128];
  snprintf(want, sizeof want, "optin import web %lld", want_s * 1000);
  int ok = want_s < 0 ? rep.failed == 1 : l.n == 1 && strcmp(l.last, want) == 0;
  if (!test_result(ok, "consent_at '%s' is %s", at, want_s < 0 ? "refused" : "read"))
    test_note("got %s (failed %ld)", l.last, rep.failed);
  json_decref(rep.errors);
  store_close(st);
}

int main(void) {
  e164("+15550100", "+15550100");
  e164("+1 (555) 010-0100", "+15550100100");
  e164(" +44 20.7946.0000 ", "+442079460000");
  e164("15550100", NULL);
  e164("+0155501", NULL);
  e164("+12", NULL);
  e164("+1234567890123456", NULL); /* 16 digits */
  e164("+1555x0100", NULL);
  e164("", NULL);

  consent_time("2025-06-01", 1748736000);
  consent_time("2025-06-01T12:00:00Z", 1748779200);
  consent_time("2025-06-01 12:00", 1748779200);
  consent_time("2025-06-01T14:00:00+02:00", 1748779200);
  consent_time("1748779200", 1748779200);
  consent_time("2025-02-30", -1);
  consent_time("2025-06-01T24:00", -1);
  consent_time("June 1", -1);

  char err[512];
  store *st = store_open(":memory:", err, sizeof err);
  int64_t bot = store_bot_ensure(st, "fan", 0), last = 0;
  /* an opted-out contact, with its ledger entry, and an erased one */
  int64_t out_id = ++last;
  store_contact_insert(st, out_id, bot, "+15550001", NOW);
  store_contact_update(st, out_id, "opted_out", NULL, NULL, NULL);
  store_consent_add(st, bot, out_id, "+15550001", "optout", "keyword", "STOP", NOW);
  int64_t gone = ++last;
  store_contact_insert(st, gone, bot, "+15550002", NOW);
  store_contact_update(st, gone, "opted_out", NULL, NULL, NULL);
  store_ensure_keys(st);
  store_contact_erase(st, bot, gone, "+15550002", 1, NOW);

  const char *csv =
      "number,fields.age,tags,consent_source,consent_at\n"
      "+15550001,30,vip,form,2025-06-01\n"
      "+15550002,31,vip,form,2025-06-01\n"
      "+15550003,32,vip;b;vip,form,2025-06-01\n"
      "+15550004,33,,,\n";
  import_report rep;
  import(st, bot, &last, csv, &rep);
  test_result(
      rep.created == 3 && rep.updated == 1 && rep.kept_opted_out == 2 &&
          rep.opted_in == 1 && rep.not_opted_in == 1 && rep.failed == 0,
      "the first import: 3 created, 1 updated, 2 opt-outs kept, 1 opt-in, 1 not "
      "opted in");
  json_decref(rep.errors);
  test_result(
      strcmp(status_of(st, bot, "+15550001"), "opted_out") == 0 &&
          ledger_of(st, bot, "+15550001").n == 1,
      "a contact that texted STOP stays opted out; nothing is added to its ledger");
  test_result(strcmp(status_of(st, bot, "+15550002"), "opted_out") == 0,
              "an erased number that had opted out comes back opted out");
  ledger_rows l3 = ledger_of(st, bot, "+15550003");
  test_result(strcmp(status_of(st, bot, "+15550003"), "subscribed") == 0 && l3.n == 1 &&
                  strcmp(l3.last, "optin import form 1748736000000") == 0,
              "a new contact with evidence is subscribed, its evidence in the ledger");
  contact_row r = {0};
  store_contact_get(store_reads(st), bot, "+15550003", &r);
  test_result(r.tags && strcmp(r.tags, "[\"vip\",\"b\"]") == 0 && r.fields &&
                  strcmp(r.fields, "{\"age\":32}") == 0,
              "tags are added once each; a number is stored as a number");
  contact_row_free(&r);
  test_result(
      strcmp(status_of(st, bot, "+15550004"), "not_opted_in") == 0 &&
          ledger_of(st, bot, "+15550004").n == 0,
      "a new contact without evidence is not_opted_in, and has no ledger entry");

  import(st, bot, &last, csv, &rep);
  test_result(
      rep.created == 0 && rep.updated == 0 && rep.unchanged == 4 && rep.opted_in == 0,
      "the same file again changes nothing");
  json_decref(rep.errors);
  test_result(ledger_of(st, bot, "+15550003").n == 1, "and adds nothing to the ledger");

  import(st, bot, &last,
         "number,status\n+15550004,not_opted_in\n+15550003,not_opted_in\n"
         "+15550001,not_opted_in\n+15550005,not_opted_in\n",
         &rep);
  json_decref(rep.errors);
  test_result(
      rep.failed == 0 && rep.created == 1 && rep.not_opted_in == 1 &&
          strcmp(status_of(st, bot, "+15550005"), "not_opted_in") == 0 &&
          ledger_of(st, bot, "+15550005").n == 0,
      "status not_opted_in creates a contact not opted in, without a ledger entry");
  test_result(strcmp(status_of(st, bot, "+15550004"), "not_opted_in") == 0 &&
                  strcmp(status_of(st, bot, "+15550003"), "subscribed") == 0 &&
                  strcmp(status_of(st, bot, "+15550001"), "opted_out") == 0 &&
                  ledger_of(st, bot, "+15550003").n == 1 &&
                  ledger_of(st, bot, "+15550001").n == 1,
              "and changes no existing contact's status by itself (nor its ledger)");
  import(st, bot, &last, "number,status\n+15550005,not_opted_in\n", &rep);
  json_decref(rep.errors);
  test_result(rep.unchanged == 1 && rep.not_opted_in == 0,
              "the same row again is unchanged");
  import(st, bot, &last, "number,status\n+15550005,opted_in\n", &rep);
  test_result(rep.failed == 1 && rep.errors &&
                  strstr(json_string_value(
                             json_object_get(json_array_get(rep.errors, 0), "error")),
                         "subscribed, not_opted_in or opted_out") != NULL,
              "an unknown status is refused, naming the three");
  json_decref(rep.errors);
  import(st, bot, &last,
         "number,consent_source,consent_at\n+15550004,shop,2025-07-01\n", &rep);
  json_decref(rep.errors);
  test_result(strcmp(status_of(st, bot, "+15550004"), "subscribed") == 0 &&
                  ledger_of(st, bot, "+15550004").n == 1,
              "evidence brought later opts in a contact that was never opted in");
  import(st, bot, &last, "number,status\n+15550003,opted_out\n", &rep);
  json_decref(rep.errors);
  ledger_rows l = ledger_of(st, bot, "+15550003");
  test_result(strcmp(status_of(st, bot, "+15550003"), "opted_out") == 0 && l.n == 2 &&
                  strncmp(l.last, "optout import", 13) == 0,
              "status opted_out opts out, with a ledger entry");
  import(st, bot, &last, csv, &rep);
  json_decref(rep.errors);
  test_result(strcmp(status_of(st, bot, "+15550003"), "opted_out") == 0 &&
                  ledger_of(st, bot, "+15550003").n == 2,
              "and an import's evidence does not opt it in again");

  /* batches: more rows than one transaction holds */
  buf big = {0};
  buf_puts(&big, "number,fields.n\n");
  for (int i = 0; i < IMPORT_BATCH * 2 + 7; i++)
    buf_printf(&big, "+1666%07d,%d\n", i, i);
  int64_t before = last;
  import(st, bot, &last, big.data, &rep);
  json_decref(rep.errors);
  test_result(rep.created == IMPORT_BATCH * 2 + 7 &&
                  last == before + IMPORT_BATCH * 2 + 7 &&
                  store_contact_count(store_reads(st), bot) == 5 + IMPORT_BATCH * 2 + 7,
              "rows over several batches are all created, with the ids after the last");
  buf_free(&big);

  /* a number twice in one file: the second row reads what the first wrote */
  int64_t ids_before = last;
  import(st, bot, &last,
         "number,tags,consent_source,consent_at\n"
         "+15557770,a,form,2025-06-01\n"
         "+15557770,b,,\n"
         "+15557770,a,form,2025-06-01\n",
         &rep);
  json_decref(rep.errors);
  contact_row twice = {0};
  store_contact_get(store_reads(st), bot, "+15557770", &twice);
  if (!test_result(rep.created == 1 && rep.updated == 1 && rep.unchanged == 1 &&
                       rep.opted_in == 1 && last == ids_before + 1 && twice.tags &&
                       strcmp(twice.tags, "[\"a\",\"b\"]") == 0 &&
                       strcmp(twice.status, "subscribed") == 0 &&
                       ledger_of(st, bot, "+15557770").n == 1,
                   "a number twice in a file: created once, then updated, its evidence "
                   "recorded once"))
    test_note("created %ld updated %ld unchanged %ld opted_in %ld tags %s", rep.created,
              rep.updated, rep.unchanged, rep.opted_in, twice.tags ? twice.tags : "-");
  contact_row_free(&twice);

  /* a contact imported without evidence that texts the bot later: the
   * export's evidence is that first message, at its own time */
  import(st, bot, &last, "number\n+15550006\n", &rep);
  json_decref(rep.errors);
  contact_row r6 = {0};
  store_contact_get(store_reads(st), bot, "+15550006", &r6);
  message_row first = {.bot_id = bot, .contact_id = r6.id, .direction = "in",
                       .number = "+15550006", .text = "ORDER 123", .status = "done",
                       .at = NOW + 3600 * 1000};
  store_message_add(st, &first);
  store_contact_update(st, r6.id, "subscribed", NULL, NULL, NULL);
  store_contact_joined(st, r6.id);
  contact_row_free(&r6);

  /* the export reads back */
  buf out = {0};
  int64_t bot2 = store_bot_ensure(st, "copy", 0);
  contacts_export_csv(store_reads(st), bot, &out);
  import(st, bot2, &last, out.data, &rep);
  json_decref(rep.errors);
  buf again = {0};
  contacts_export_csv(store_reads(st), bot2, &again);
  if (!test_result(rep.failed == 0 && out.data && again.data &&
                       strcmp(out.data, again.data) == 0,
                   "an export imported into another bot exports the same"))
    test_note("failed %ld", rep.failed);
  if (!test_result(out.data && strstr(out.data, "\r\n+15550006,subscribed,first message,"
                                               "2026-03-02T11:00:00Z,") != NULL,
                   "a contact subscribed by its first message after an import is exported "
                   "with that message's time"))
    test_note("%s", out.data ? out.data : "");
  test_result(out.data && strstr(out.data, "\r\n+15550005,not_opted_in,,,") != NULL,
              "the export writes a contact's status not_opted_in, without evidence");
  test_result(strcmp(status_of(st, bot2, "+15550005"), "not_opted_in") == 0 &&
                  ledger_of(st, bot2, "+15550005").n == 0 &&
                  strcmp(status_of(st, bot2, "+15550001"), "opted_out") == 0 &&
                  strcmp(status_of(st, bot2, "+15550004"), "subscribed") == 0,
              "and the import reads each status back");
  buf_free(&out);
  buf_free(&again);
  store_close(st);
  return test_done();
}
