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
  s->files[s->nfiles++] = (script_file){xstrdup(rel), src, len};
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
    s->files[s->nfiles++] = (script_file){xstrdup(path),
                                          xstrndup(json_string_value(v), json_string_length(v)),
                                          json_string_length(v)};
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
  }
  free(s->files);
  free(s->name);
  free(s->dir);
  free(s);
}

void script_add_file(script *s, const char *path, const char *source, size_t len) {
  s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
  s->files[s->nfiles++] = (script_file){xstrdup(path), xstrndup(source, len), len};
}

const script_file *script_find(const script *s, const char *path) {
  for (size_t i = 0; i < s->nfiles; i++)
    if (strcmp(s->files[i].path, path) == 0) return &s->files[i];
  return NULL;
}

enum { TAR_MAX_TOTAL = 16 << 20, TAR_MAX_FILES = 1000 };

/* "./x" -> "x"; "fanclub/x" -> "x" when every entry is under one folder. */
static const char *tar_relative(const char *path, const char *top) {
  while (strncmp(path, "./", 2) == 0) path += 2;
  size_t n = top ? strlen(top) : 0;
  if (n && strncmp(path, top, n) == 0 && path[n] == '/') path += n + 1;
  return path;
}

script *script_from_tar(const char *name, const char *dir, const void *data, size_t len,
                        char *err, size_t errlen) {
  /* two passes: the first finds whether every entry is under one folder */
  char *top = NULL;
  int one_top = 1, rc = 0, nfiles = 0;
  int64_t total = 0; /* what the kept files unpack to: a compressed bomb stops here */
  json_t *files = json_object();
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
      snprintf(err, errlen, "the body is not a tar archive: %s", archive_error_string(a));
      rc = -1;
    }
    struct archive_entry *e;
    int r = ARCHIVE_EOF;
    while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
      const char *path = archive_entry_pathname(e);
      if (!path) continue;
      const char *rel = tar_relative(path, NULL);
      if (pass == 0) {
        const char *slash = strchr(rel, '/');
        size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
        if (!slash && archive_entry_filetype(e) != AE_IFDIR) one_top = 0;
        else if (!top) top = xstrndup(rel, n);
        else if (strlen(top) != n || strncmp(top, rel, n) != 0) one_top = 0;
        continue;
      }
      rel = tar_relative(path, one_top ? top : NULL);
      if (archive_entry_filetype(e) != AE_IFREG ||
          !(ends_with(rel, ".lua") || (strncmp(rel, "tests/", 6) == 0 && ends_with(rel, ".chat"))))
        continue; /* folders, links, READMEs: not part of a version */
      int64_t size = archive_entry_size(e);
      if (size < 0 || size > TAR_MAX_TOTAL - total || ++nfiles > TAR_MAX_FILES) {
        snprintf(err, errlen, "the archive unpacks to more than %d files or %d MiB of Lua and "
                 "transcripts (at %s)", TAR_MAX_FILES, TAR_MAX_TOTAL >> 20, rel);
        rc = -1;
        break;
      }
      total += size;
      char *text = xmalloc((size_t)size + 1);
      la_ssize_t got = archive_read_data(a, text, (size_t)size);
      if (got != (la_ssize_t)size) {
        snprintf(err, errlen, "%s: cannot read from the archive: %s", rel,
                 got < 0 ? archive_error_string(a) : "truncated");
        rc = -1;
      } else {
        json_t *v = json_stringn(text, (size_t)size);
        if (!v) {
          snprintf(err, errlen, "%s: not UTF-8 text", rel);
          rc = -1;
        } else {
          json_object_set_new(files, rel, v);
        }
      }
      free(text);
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
      snprintf(err, errlen, "the body is not a tar archive: %s",
               archive_error_string(a) ? archive_error_string(a) : "unreadable");
      rc = -1;
    }
    archive_read_free(a);
  }
  free(top);
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
