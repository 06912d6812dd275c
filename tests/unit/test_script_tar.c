/* Unit tests for script_from_tar (runtime/lua/script.h): a bot folder sent as
 * a tar archive, and the caps that stop decompression.
 *
 *   make build/test_script_tar && ./build/test_script_tar
 *
 * The archives are written here with libarchive's writer (gzip, bzip2). */
#include <archive.h>
#include <archive_entry.h>

#include "script.h"
#include "test.h"
#include "util.h"

typedef struct entry {
  const char *path;
  size_t size;      /* of text repeated, or of zeros when text is NULL */
  const char *text; /* NULL: zeros */
} entry;

/* A tar of the entries, compressed with filter (ARCHIVE_FILTER_...). */
static buf make_tar(int filter, const entry *e, size_t n) {
  buf out = {0};
  size_t cap = 64 << 20, used = 0;
  char *mem = xmalloc(cap);
  struct archive *a = archive_write_new();
  archive_write_add_filter(a, filter);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, mem, cap, &used);
  char *zeros = xcalloc(1, 1 << 20);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e[i].path);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, (la_int64_t)e[i].size);
    archive_write_header(a, ae);
    if (e[i].text) {
      archive_write_data(a, e[i].text, e[i].size);
    } else {
      for (size_t left = e[i].size; left;) {
        size_t k = left < (1u << 20) ? left : (1u << 20);
        archive_write_data(a, zeros, k);
        left -= k;
      }
    }
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  buf_add(&out, mem, used);
  free(mem);
  free(zeros);
  return out;
}

static script *read_tar(const buf *b, int *over_cap, char *err, size_t errlen) {
  return script_from_tar("fan", "fan (test)", b->data, b->len, over_cap, err, errlen);
}

static void reads_a_bot_folder(void) {
  entry e[] = {{"fan/bot.lua", 30, "bot.fallback(function() end)\n\n"},
               {"fan/lib/x.lua", 10, "return {}\n"},
               {"fan/tests/hi.chat", 6, "> hi\n\n"},
               {"fan/README.md", 6, "notes\n"}};
  buf b = make_tar(ARCHIVE_FILTER_GZIP, e, 4);
  char err[512] = "";
  int over = -1;
  script *sc = read_tar(&b, &over, err, sizeof err);
  CHECK(sc != NULL, "a gzipped tar of a bot folder is read (%s)", err);
  CHECK_INT(over, 0, "... within the caps");
  if (sc) {
    CHECK(script_find(sc, "bot.lua") && script_find(sc, "lib/x.lua") &&
              script_find(sc, "tests/hi.chat"),
          "its Lua files and transcripts are kept, named from the folder");
    CHECK(!script_find(sc, "README.md") && sc->nfiles == 3, "other files are left out");
  }
  script_free(sc);
  buf_free(&b);
}

static void stops_at_the_unpacked_size(void) {
  /* entries small enough each, past 16 MiB together, none of them kept (a
   * 2 GB entry is in tests/e2e/limits.sh: writing it here takes seconds) */
  entry many[20];
  char names[20][32];
  for (int i = 0; i < 20; i++) {
    snprintf(names[i], sizeof names[i], "fan/data%d.bin", i);
    many[i] = (entry){names[i], 1 << 20, NULL};
  }
  many[0] = (entry){"fan/bot.lua", 10, "return {}\n"};
  buf b = make_tar(ARCHIVE_FILTER_BZIP2, many, 20);
  char err[512] = "";
  int over = 0;
  script *sc = read_tar(&b, &over, err, sizeof err);
  CHECK(sc == NULL && over == 1,
        "a %zu-byte bzip2 tar that unpacks to 19 MiB of files left out is refused at "
        "the cap",
        b.len);
  CHECK_HAS(err, "16 MiB", "the error names the cap");
  script_free(sc);
  buf_free(&b);

  entry one[] = {{"fan/bot.lua", 10, "return {}\n"}, {"fan/big.lua", 17 << 20, NULL}};
  b = make_tar(ARCHIVE_FILTER_GZIP, one, 2);
  over = 0;
  sc = read_tar(&b, &over, err, sizeof err);
  CHECK(sc == NULL && over == 1,
        "an entry whose header says 17 MiB is refused at the cap");
  script_free(sc);
  buf_free(&b);
}

static void stops_at_the_entry_count(void) {
  entry *e = xcalloc(1001, sizeof *e);
  char(*names)[32] = xcalloc(1001, 32);
  e[0] = (entry){"fan/bot.lua", 10, "return {}\n"};
  for (int i = 1; i < 1001; i++) {
    snprintf(names[i], 32, "fan/f%d.txt", i);
    e[i] = (entry){names[i], 0, ""};
  }
  buf b = make_tar(ARCHIVE_FILTER_GZIP, e, 1000);
  char err[512] = "";
  int over = 0;
  script *sc = read_tar(&b, &over, err, sizeof err);
  CHECK(sc != NULL && over == 0, "1000 entries are read (%s)", err);
  script_free(sc);
  buf_free(&b);
  b = make_tar(ARCHIVE_FILTER_GZIP, e, 1001);
  sc = read_tar(&b, &over, err, sizeof err);
  CHECK(sc == NULL && over == 1, "1001 entries are refused at the cap");
  CHECK_HAS(err, "1000 entries", "the error names the cap");
  script_free(sc);
  buf_free(&b);
  free(e);
  free(names);
}

static void refuses_what_is_not_a_tar(void) {
  char err[512] = "";
  int over = 1;
  script *sc =
      script_from_tar("fan", "fan", "not a tar at all", 16, &over, err, sizeof err);
  CHECK(sc == NULL && over == 0,
        "a body that is not a tar is refused, not as over a cap");
  CHECK_HAS(err, "not a tar archive", "the error says so");
}

/* libarchive decodes gzip, bzip2, xz and zstd itself; for other
 * compressions it may run an external program, which an upload must never
 * start: those are refused (lz4 stands for them: libarchive writes it). */
static void reads_only_the_compressions_decoded_in_process(void) {
  entry e[] = {{"bot.lua", 30, "bot.fallback(function() end)\n\n"}};
  const int decoded[] = {ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_BZIP2,
                         ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD};
  int read = 0;
  for (size_t i = 0; i < sizeof decoded / sizeof *decoded; i++) {
    buf b = make_tar(decoded[i], e, 1);
    char err[512] = "";
    int over = 0;
    script *sc = read_tar(&b, &over, err, sizeof err);
    if (sc) read++;
    else printf("#   filter %d: %s\n", decoded[i], err);
    script_free(sc);
    buf_free(&b);
  }
  CHECK_INT(read, 5, "a tar plain or compressed with gzip, bzip2, xz or zstd is read");
  buf b = make_tar(ARCHIVE_FILTER_LZ4, e, 1);
  char err[512] = "";
  int over = 0;
  script *sc = read_tar(&b, &over, err, sizeof err);
  CHECK(b.len > 0 && !sc && strstr(err, "not a tar archive"),
        "an lz4-compressed tar is refused as not a tar archive (%s)", err);
  script_free(sc);
  buf_free(&b);
}

int main(void) {
  reads_a_bot_folder();
  reads_only_the_compressions_decoded_in_process();
  stops_at_the_unpacked_size();
  stops_at_the_entry_count();
  refuses_what_is_not_a_tar();
  return test_done();
}
