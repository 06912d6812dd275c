/* Unit tests for runtime/core/csv.h: RFC 4180 records, and the hostile inputs a
 * contacts file may bring (an unterminated quote, a bare CR, a byte order
 * mark, overlong fields, a record with too many fields).
 *
 *   make build/test_csv && ./build/test_csv */
#include "csv.h"
#include "test.h"

/* The records of text joined as "a|b/c|d/" (fields by |, records by /),
 * or "ERR(line N: ...)" where reading stopped, "BAD(...)" for a record
 * refused on its own. */
static char *read_all(const char *text, size_t len, size_t max_field,
                      size_t max_fields) {
  csv_reader r;
  csv_init(&r, text, len, max_field, max_fields);
  static char out[4096];
  size_t o = 0;
  out[0] = 0;
  for (;;) {
    csv_record rec;
    char err[256];
    int rc = csv_read(&r, &rec, err, sizeof err);
    if (rc == CSV_END) break;
    if (rc == CSV_BAD_INPUT) {
      o += (size_t)snprintf(out + o, sizeof out - o, "ERR(%s)", err);
      break;
    }
    if (rc == CSV_BAD_RECORD) {
      o += (size_t)snprintf(out + o, sizeof out - o, "BAD(%s)/", err);
      continue;
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "%ld:", rec.line);
    for (size_t i = 0; i < rec.n; i++)
      o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "|" : "",
                            rec.fields[i]);
    o += (size_t)snprintf(out + o, sizeof out - o, "/");
  }
  csv_free(&r);
  return out;
}

static void check(const char *what, const char *text, const char *want) {
  const char *got = read_all(text, strlen(text), 1000, 100);
  if (!test_result(strcmp(got, want) == 0, "%s", what)) {
    test_note("expected %s", want);
    test_note("got      %s", got);
  }
}

int main(void) {
  check("plain records with LF", "number,tags\n+1555,vip\n",
        "1:number|tags/2:+1555|vip/");
  check("CRLF endings", "a,b\r\nc,d\r\n", "1:a|b/2:c|d/");
  check("the last record without a line break", "a,b\nc,d", "1:a|b/2:c|d/");
  check("empty fields, a trailing comma", "a,,\n,b,\n", "1:a||/2:|b|/");
  check("an empty line is a record of one empty field", "a\n\nb\n", "1:a/2:/3:b/");
  check("quoted fields hold commas", "\"Austin, TX\",x\n", "1:Austin, TX|x/");
  check("quoted fields hold line breaks; the next record's line counts them",
        "\"one\ntwo\r\nthree\",x\ny,z\n", "1:one\ntwo\r\nthree|x/4:y|z/");
  check("doubled quotes are one quote", "\"say \"\"hi\"\"\",\"\"\"\"\n",
        "1:say \"hi\"|\"/");
  check("an empty quoted field", "\"\",a\n", "1:|a/");
  check("spaces are kept", " a , b \n", "1: a | b /");
  check("a UTF-8 byte order mark is skipped", "\xEF\xBB\xBFnumber\n+1\n",
        "1:number/2:+1/");
  check("a BOM only at the very start",
        "a\n\xEF\xBB\xBF"
        "b\n",
        "1:a/2:\xEF\xBB\xBF"
        "b/");
  check("a carriage return inside quotes is data", "\"a\rb\",c\n", "1:a\rb|c/");
  check("no input has no records", "", "");
  check("a bare CR is refused with its line", "a,b\nc\rd\n",
        "1:a|b/ERR(line 2: a carriage return not followed by a line feed (outside "
        "quotes))");
  check("a bare CR at the end is refused", "a\r",
        "ERR(line 1: a carriage return not followed by a line feed (outside quotes))");
  check("an unterminated quote is refused with where it began", "a\n\"b,c\nd\n",
        "1:a/ERR(line 2: a quoted field is not closed before the end of the input)");
  check("a quote inside an unquoted field is refused", "ab\"c\n",
        "ERR(line 1: a quote inside a field that does not start with one (quote the "
        "whole "
        "field and double the quote))");
  check("text after a closing quote is refused", "\"ab\"c,d\n",
        "ERR(line 1: text after a closing quote (a quote inside a quoted field is "
        "written "
        "twice))");
  static const char nul[] = "a\nb\0c\n";
  const char *got = read_all(nul, sizeof nul - 1, 1000, 100);
  if (!test_result(strcmp(got, "1:a/ERR(line 2: a NUL byte)") == 0,
                   "a NUL byte is refused"))
    test_note("got %s", got);

  /* limits: a refused record is skipped, the next one is read */
  const char *long_rec = "a,bbbbbbbbbbbb,c\nd,e\n";
  got = read_all(long_rec, strlen(long_rec), 10, 100);
  const char *want = "BAD(line 1: field 2 is longer than 10 bytes)/2:d|e/";
  if (!test_result(strcmp(got, want) == 0, "an overlong field refuses its record only"))
    test_note("got %s", got);
  const char *long_q = "\"x\nxxxxxxxxxxxx,\",c\nd,e\n";
  got = read_all(long_q, strlen(long_q), 10, 100);
  want = "BAD(line 1: field 1 is longer than 10 bytes)/3:d|e/";
  if (!test_result(strcmp(got, want) == 0,
                   "an overlong quoted field is skipped to its closing quote"))
    test_note("got %s", got);
  const char *wide = "a,b,c,d\ne,f\n";
  got = read_all(wide, strlen(wide), 10, 3);
  want = "BAD(line 1: more than 3 fields)/2:e|f/";
  if (!test_result(strcmp(got, want) == 0,
                   "a record with too many fields is refused alone"))
    test_note("got %s", got);
  const char *wide_bad = "a,b,c,\"d\n";
  got = read_all(wide_bad, strlen(wide_bad), 10, 3);
  want = "ERR(line 1: a quoted field is not closed before the end of the input)";
  if (!test_result(strcmp(got, want) == 0,
                   "a broken quote in a refused record still stops the reading"))
    test_note("got %s", got);

  /* a large input: 100,000 records, each read whole */
  size_t n = 100000, cap = n * 24;
  char *big = malloc(cap);
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(big + len, cap - len, "+1555%07zu,\"a,\"\"b\"\n", i);
  csv_reader r;
  csv_init(&r, big, len, 100, 10);
  csv_record rec;
  char err[256];
  size_t count = 0, right = 0;
  while (csv_read(&r, &rec, err, sizeof err) == CSV_RECORD) {
    count++;
    if (rec.n == 2 && strcmp(rec.fields[1], "a,\"b") == 0) right++;
  }
  csv_free(&r);
  free(big);
  if (!test_result(count == n && right == n,
                   "100,000 records are read, each with its fields"))
    test_note("read %zu, %zu right", count, right);
  return test_done();
}
