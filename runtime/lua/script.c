#include "script.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#include <openssl/evp.h>

static int add_file(script *s, const char *full, const char *rel, char *err,
                    size_t errlen) {
  size_t len;
  char *src = read_file(full, &len);
  if (!src) {
    snprintf(err, errlen, "%s: cannot read: %s", full, strerror(errno));
    return -1;
  }
  s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
  s->files[s->nfiles++] = (script_file){xstrdup(rel), src, len, NULL};
  return 0;
}

/* Adds the files ending in ext under dir (a bot folder's tests/ is not
 * walked from the folder itself: its transcripts are not modules). */
static int walk(script *s, const char *dir, const char *rel, int depth, const char *ext,
                char *err, size_t errlen) {
  if (depth > 8) return 0;
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (depth == 0 && strcmp(e->d_name, "tests") == 0) continue;
    char *full = xasprintf("%s/%s", dir, e->d_name);
    char *r = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
    struct stat st;
    if (stat(full, &st) == 0) {
      if (S_ISDIR(st.st_mode))
        rc = walk(s, full, r, depth + 1, ext, err, errlen);
      else if (S_ISREG(st.st_mode) && ends_with(e->d_name, ext))
        rc = add_file(s, full, r, err, errlen);
    }
    free(full);
    free(r);
  }
  closedir(d);
  return rc;
}

/* ------------------------------------------------------------ shared lib/ */

/* Skips a long bracket's body at p ("[[...]]", "[==[...]==]"); p is at its
 * first '['. NULL if p is not a long bracket. */
static const char *skip_long_bracket(const char *p, const char *end) {
  const char *q = p + 1;
  size_t level = 0;
  while (q < end && *q == '=') q++, level++;
  if (q >= end || *q != '[') return NULL;
  for (q++; q < end; q++) {
    if (*q != ']') continue;
    const char *r = q + 1;
    size_t n = 0;
    while (r < end && *r == '=') r++, n++;
    if (n == level && r < end && *r == ']') return r + 1;
  }
  return end;
}

static int is_name_char(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

/* Calls fn with each module name src requires by a literal name (require
 * "x", require 'x', require("x"), require('x')), outside comments and
 * strings. */
static void each_required(const char *src, size_t len, void (*fn)(void *, const char *),
                          void *ud) {
  const char *p = src, *end = src + len;
  while (p < end) {
    if (p + 1 < end && p[0] == '-' && p[1] == '-') { /* a comment */
      const char *after =
          p + 2 < end && p[2] == '[' ? skip_long_bracket(p + 2, end) : NULL;
      if (after)
        p = after;
      else
        while (p < end && *p != '\n') p++;
    } else if (*p == '[' && skip_long_bracket(p, end)) {
      p = skip_long_bracket(p, end);
    } else if (*p == '"' || *p == '\'') { /* a string */
      char q = *p++;
      while (p < end && *p != q && *p != '\n') p += *p == '\\' && p + 1 < end ? 2 : 1;
      if (p < end) p++;
    } else if (is_name_char(*p) && !isdigit((unsigned char)*p)) {
      const char *word = p;
      while (p < end && is_name_char(*p)) p++;
      int called = (size_t)(p - word) == 7 && strncmp(word, "require", 7) == 0 &&
                   (word == src || (word[-1] != '.' && word[-1] != ':'));
      if (!called) continue;
      const char *q = p;
      while (q < end && isspace((unsigned char)*q)) q++;
      if (q < end && *q == '(') {
        q++;
        while (q < end && isspace((unsigned char)*q)) q++;
      }
      if (q >= end || (*q != '"' && *q != '\'')) continue;
      char quote = *q++;
      const char *name = q;
      while (q < end && (is_name_char(*q) || *q == '.')) q++;
      if (q < end && *q == quote && q > name) {
        char *n = xstrndup(name, (size_t)(q - name));
        fn(ud, n);
        free(n);
      }
    } else {
      p++;
    }
  }
}

typedef struct shared_read {
  script *s;
  const char *scripts; /* the folder of bot folders */
  int failed;
  char *err;
  size_t errlen;
} shared_read;

/* "lib.x.y": the shared lib/x/y.lua or lib/x/y/init.lua, once. */
static void add_shared(void *ud, const char *name) {
  shared_read *r = ud;
  if (r->failed || strncmp(name, "lib.", 4) != 0 || strstr(name, "..") ||
      name[strlen(name) - 1] == '.')
    return;
  char *rel = xstrdup(name);
  for (char *c = rel; *c; c++)
    if (*c == '.') *c = '/';
  for (int init = 0; init < 2; init++) {
    char *path = xasprintf(init ? "%s/init.lua" : "%s.lua", rel);
    char *full = xasprintf("%s/%s", r->scripts, path);
    struct stat st;
    int found = stat(full, &st) == 0 && S_ISREG(st.st_mode);
    const script_file *have = found ? script_find(r->s, path) : NULL;
    if (have && !have->label) {
      snprintf(
          r->err, r->errlen,
          "%s/%s: module '%s' is also the shared %s; rename one (the bot's own "
          "modules and the shared lib/ folder beside the bots share the names lib.*)",
          r->s->dir, path, name, full);
      r->failed = 1;
    } else if (found && !have) {
      if (add_file(r->s, full, path, r->err, r->errlen) == 0)
        r->s->files[r->s->nfiles - 1].label = xstrdup(full);
      else
        r->failed = 1;
    }
    free(path);
    free(full);
    if (found) break;
  }
  free(rel);
}

/* Adds the shared modules the bot's files require (and those require). */
static int read_shared(script *s, char *err, size_t errlen) {
  const char *slash = strrchr(s->dir, '/');
  char *scripts = slash ? xstrndup(s->dir, (size_t)(slash - s->dir)) : xstrdup(".");
  if (!*scripts) { /* "/bot": the root */
    free(scripts);
    scripts = xstrdup("/");
  }
  char *lib = xasprintf("%s/lib", scripts);
  struct stat st;
  shared_read r = {s, scripts, 0, err, errlen};
  if (stat(lib, &st) == 0 && S_ISDIR(st.st_mode))
    for (size_t i = 0; i < s->nfiles && !r.failed; i++) /* grows as modules are added */
      each_required(s->files[i].source, s->files[i].len, add_shared, &r);
  free(lib);
  free(scripts);
  return r.failed ? -1 : 0;
}

script *script_read(const char *dir, char *err, size_t errlen) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: not a bot folder (expected a folder with bot.lua)",
             dir);
    return NULL;
  }
  script *s = xcalloc(1, sizeof *s);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  s->dir = xstrndup(dir, n);
  const char *base = strrchr(s->dir, '/');
  s->name = xstrdup(base ? base + 1 : s->dir);
  if (walk(s, s->dir, "", 0, ".lua", err, errlen) != 0) {
    script_free(s);
    return NULL;
  }
  if (!script_find(s, "bot.lua")) {
    snprintf(err, errlen, "%s/bot.lua: missing (every bot folder needs a bot.lua)",
             s->dir);
    script_free(s);
    return NULL;
  }
  if (read_shared(s, err, errlen)) {
    script_free(s);
    return NULL;
  }
  return s;
}

int script_read_tests(script *s, char *err, size_t errlen) {
  char *dir = xasprintf("%s/tests", s->dir);
  struct stat st;
  int rc = stat(dir, &st) == 0 && S_ISDIR(st.st_mode)
               ? walk(s, dir, "tests", 1, ".chat", err, errlen)
               : 0;
  free(dir);
  return rc;
}

static int valid_file_path(const char *p) {
  if (!*p || *p == '/' || strstr(p, "..") || strlen(p) > 200 ||
      !(ends_with(p, ".lua") || (strncmp(p, "tests/", 6) == 0 && ends_with(p, ".chat"))))
    return 0;
  for (const char *c = p; *c; c++)
    if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.' || *c == '/'))
      return 0;
  return 1;
}

script *script_from_json(const char *name, const char *dir, const char *json,
                         char *err, size_t errlen) {
  json_error_t jerr;
  json_t *o = json_loads(json, 0, &jerr);
  if (!json_is_object(o)) {
    snprintf(err, errlen, "the files are not a JSON object {\"bot.lua\": \"...\"}");
    json_decref(o);
    return NULL;
  }
  script *s = xcalloc(1, sizeof *s);
  s->name = xstrdup(name);
  s->dir = xstrdup(dir);
  const char *path;
  json_t *v;
  json_object_foreach(o, path, v) {
    if (!valid_file_path(path) || !json_is_string(v)) {
      snprintf(err, errlen,
               "'%.80s' is not a Lua file path with text (like \"lib/util.lua\") or a "
               "transcript (\"tests/welcome.chat\")",
               path);
      json_decref(o);
      script_free(s);
      return NULL;
    }
    s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
    s->files[s->nfiles++] = (script_file){
        xstrdup(path), xstrndup(json_string_value(v), json_string_length(v)),
        json_string_length(v), NULL};
  }
  json_decref(o);
  if (!script_find(s, "bot.lua")) {
    snprintf(err, errlen, "there is no bot.lua among the files");
    script_free(s);
    return NULL;
  }
  return s;
}

void script_free(script *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nfiles; i++) {
    free(s->files[i].path);
    free(s->files[i].source);
    free(s->files[i].label);
  }
  free(s->files);
  free(s->name);
  free(s->dir);
  bot_env_clear(&s->env);
  free(s);
}

script *script_copy(const script *s) {
  script *c = xcalloc(1, sizeof *c);
  *c = *s;
  c->name = xstrdup(s->name);
  c->dir = s->dir ? xstrdup(s->dir) : NULL;
  c->files = xcalloc(s->nfiles ? s->nfiles : 1, sizeof *c->files);
  for (size_t i = 0; i < s->nfiles; i++)
    c->files[i] = (script_file){xstrdup(s->files[i].path),
                                xstrndup(s->files[i].source, s->files[i].len), s->files[i].len,
                                s->files[i].label ? xstrdup(s->files[i].label) : NULL};
  c->env = (bot_env){0};
  c->env.filled = s->env.filled;
  c->env.n = s->env.n;
  c->env.names = xcalloc(s->env.n ? s->env.n : 1, sizeof *c->env.names);
  c->env.values = xcalloc(s->env.n ? s->env.n : 1, sizeof *c->env.values);
  for (size_t i = 0; i < s->env.n; i++) {
    c->env.names[i] = xstrdup(s->env.names[i]);
    c->env.values[i] = xstrdup(s->env.values[i]);
  }
  return c;
}

void script_add_file(script *s, const char *path, const char *source, size_t len) {
  s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
  s->files[s->nfiles++] =
      (script_file){xstrdup(path), xstrndup(source, len), len, NULL};
}

const script_file *script_find(const script *s, const char *path) {
  for (size_t i = 0; i < s->nfiles; i++)
    if (strcmp(s->files[i].path, path) == 0) return &s->files[i];
  return NULL;
}

/* "./x" -> "x"; "fanclub/x" -> "x" when every entry is under one folder. */
static const char *tar_relative(const char *path, const char *top) {
  while (strncmp(path, "./", 2) == 0) path += 2;
  size_t n = top ? strlen(top) : 0;
  if (n && strncmp(path, top, n) == 0 && path[n] == '/') path += n + 1;
  return path;
}

/* A file of the archive that may be part of the version (its name ends in
 * .lua or .chat), by its path as archived (less "./"). */
typedef struct tar_file {
  char *path;
  buf text;
} tar_file;

typedef struct tar_read {
  char *top;   /* the first path component of the entries seen */
  int one_top; /* every entry is under top */
  tar_file *files;
  size_t nfiles;
} tar_read;

static void tar_note_top(tar_read *t, const char *rel, int is_dir) {
  const char *slash = strchr(rel, '/');
  size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
  if (!slash && !is_dir) t->one_top = 0;
  else if (!t->top) t->top = xstrndup(rel, n);
  else if (strlen(t->top) != n || strncmp(t->top, rel, n) != 0) t->one_top = 0;
}

/* Reads the archive's entries in one pass, decompressing at most
 * SCRIPT_TAR_MAX_BYTES (headers included) and SCRIPT_TAR_MAX_ENTRIES
 * entries: every entry's data is read here, in pieces, so nothing is
 * decompressed past the cap (libarchive would skip an unread entry by
 * decompressing it whole). 0, or -1 with err (*over_cap 1 at a cap). */
static int tar_read_all(tar_read *t, const void *data, size_t len, int *over_cap, char *err,
                        size_t errlen) {
  struct archive *a = archive_read_new();
  /* the compressions libarchive decodes itself: filter_all would also run
   * external programs (lrzip, lzop, grzip) on an uploaded archive */
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  int rc = 0, r = ARCHIVE_EOF, entries = 0;
  if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
    snprintf(err, errlen, "the body is not a tar archive: %s", archive_error_string(a));
    rc = -1;
  }
  enum { CHUNK = 65536 };
  char *chunk = xmalloc(CHUNK);
  struct archive_entry *e;
  while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    int64_t used = archive_filter_bytes(a, 0), size = archive_entry_size(e);
    const char *path = archive_entry_pathname(e);
    if (++entries > SCRIPT_TAR_MAX_ENTRIES || used > SCRIPT_TAR_MAX_BYTES ||
        (archive_entry_size_is_set(e) && size > SCRIPT_TAR_MAX_BYTES - used)) {
      snprintf(err, errlen, "the archive unpacks to more than %d entries or %d MiB (at %.200s)",
               SCRIPT_TAR_MAX_ENTRIES, SCRIPT_TAR_MAX_BYTES >> 20, path ? path : "?");
      *over_cap = 1;
      rc = -1;
      break;
    }
    const char *rel = path ? tar_relative(path, NULL) : NULL;
    tar_file *keep = NULL;
    if (rel) {
      tar_note_top(t, rel, archive_entry_filetype(e) == AE_IFDIR);
      if (archive_entry_filetype(e) == AE_IFREG && (ends_with(rel, ".lua") || ends_with(rel, ".chat"))) {
        t->files = xrealloc(t->files, (t->nfiles + 1) * sizeof *t->files);
        keep = &t->files[t->nfiles++];
        *keep = (tar_file){xstrdup(rel), {0}};
      }
    }
    la_ssize_t got;
    while ((got = archive_read_data(a, chunk, CHUNK)) > 0) {
      if (archive_filter_bytes(a, 0) > SCRIPT_TAR_MAX_BYTES) break;
      if (keep) buf_add(&keep->text, chunk, (size_t)got);
    }
    if (got > 0) {
      snprintf(err, errlen, "the archive unpacks to more than %d entries or %d MiB (at %.200s)",
               SCRIPT_TAR_MAX_ENTRIES, SCRIPT_TAR_MAX_BYTES >> 20, path ? path : "?");
      *over_cap = 1;
      rc = -1;
    } else if (got < 0) {
      snprintf(err, errlen, "%.200s: cannot read from the archive: %s", path ? path : "?",
               archive_error_string(a));
      rc = -1;
    }
  }
  if (rc == 0 && r != ARCHIVE_EOF) {
    snprintf(err, errlen, "the body is not a tar archive: %s",
             archive_error_string(a) ? archive_error_string(a) : "unreadable");
    rc = -1;
  }
  archive_read_free(a);
  free(chunk);
  return rc;
}

script *script_from_tar(const char *name, const char *dir, const void *data, size_t len,
                        int *over_cap, char *err, size_t errlen) {
  tar_read t = {.one_top = 1};
  *over_cap = 0;
  int rc = tar_read_all(&t, data, len, over_cap, err, errlen);
  json_t *files = json_object();
  for (size_t i = 0; i < t.nfiles && rc == 0; i++) {
    const char *rel = tar_relative(t.files[i].path, t.one_top ? t.top : NULL);
    if (!(ends_with(rel, ".lua") || (strncmp(rel, "tests/", 6) == 0 && ends_with(rel, ".chat"))))
      continue; /* READMEs, transcripts outside tests/: not part of a version */
    json_t *v = json_stringn(t.files[i].text.data ? t.files[i].text.data : "", t.files[i].text.len);
    if (!v) {
      snprintf(err, errlen, "%.200s: not UTF-8 text", rel);
      rc = -1;
    } else {
      json_object_set_new(files, rel, v);
    }
  }
  for (size_t i = 0; i < t.nfiles; i++) {
    free(t.files[i].path);
    buf_free(&t.files[i].text);
  }
  free(t.files);
  free(t.top);
  script *sc = NULL;
  if (rc == 0) {
    char *text = json_dumps(files, JSON_COMPACT);
    sc = script_from_json(name, dir, text, err, errlen);
    free(text);
  }
  json_decref(files);
  return sc;
}

static int by_path(const void *a, const void *b) {
  return strcmp((*(const script_file *const *)a)->path, (*(const script_file *const *)b)->path);
}

char *script_sha(const script *s, char **files_json) {
  const script_file **sorted = xmalloc((s->nfiles + 1) * sizeof *sorted);
  for (size_t i = 0; i < s->nfiles; i++) sorted[i] = &s->files[i];
  qsort(sorted, s->nfiles, sizeof *sorted, by_path);
  json_t *files = files_json ? json_object() : NULL;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (size_t i = 0; i < s->nfiles; i++) {
    EVP_DigestUpdate(md, sorted[i]->path, strlen(sorted[i]->path) + 1);
    EVP_DigestUpdate(md, sorted[i]->source, sorted[i]->len);
    if (files)
      json_object_set_new(files, sorted[i]->path, json_stringn(sorted[i]->source, sorted[i]->len));
  }
  free(sorted);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(md, digest, &n);
  EVP_MD_CTX_free(md);
  char *hex = xmalloc(n * 2 + 1);
  for (unsigned i = 0; i < n; i++) sprintf(hex + i * 2, "%02x", digest[i]);
  if (files) {
    *files_json = json_dumps(files, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(files);
  }
  return hex;
}
