/* form: application/x-www-form-urlencoded bodies (Twilio's webhooks,
 * Kannel's post-url) and the UTF-8 reading they share with TwiML. */
#include "form.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/utf8.h>

#include "util.h"

/* ---------------------------------------------------------------- UTF-8 */

/* ICU's U8_NEXT skips the maximal ill-formed prefix (Unicode 15 section
 * 3.9): the bytes one U+FFFD stands for. */
int utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
  int32_t i = 0, n = len < 4 ? (int32_t)len : 4; /* one character: 4 bytes at most */
  UChar32 c;
  U8_NEXT(s, i, n, c); /* i: the character's length, or the ill-formed prefix's */
  if (c < 0) return -i;
  *cp = (uint32_t)c;
  return i;
}

/* -------------------------------------------------------- form decoding */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Writes one sentence about field (flen bytes) to err. */
static void field_error(char *err, size_t errlen, const char *field, size_t flen,
                        const char *what) {
  if (!err || errlen == 0) return;
  int shown = flen > 60 ? 60 : (int)flen;
  snprintf(err, errlen, "form field \"%.*s%s\": %s", shown, field,
           flen > 60 ? "..." : "", what);
}

/* Decodes s (len bytes) into out (room for len + 1 bytes), NUL-terminated:
 * its length, or -1 with the reason in err. */
static long field_decode(const char *s, size_t len, char *out, const char *field,
                         size_t flen, char *err, size_t errlen) {
  size_t o = 0;
  char what[64];
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        int shown = len - i < 3 ? (int)(len - i) : 3;
        snprintf(what, sizeof what, "\"%.*s\" is not a %%XX escape", shown, s + i);
        field_error(err, errlen, field, flen, what);
        return -1;
      }
      c = hi * 16 + lo;
      i += 2;
    }
    if (c == 0) {
      field_error(err, errlen, field, flen, "a NUL byte is not allowed");
      return -1;
    }
    out[o++] = (char)c;
  }
  out[o] = 0;
  if (!utf8_valid(out, o)) {
    field_error(err, errlen, field, flen, "not valid UTF-8 once decoded");
    return -1;
  }
  return (long)o;
}

/* Decodes one field (flen > 0 bytes, "name=value" or "name") into *p, its
 * name and value written at *text (which moves past them; flen + 2 bytes
 * are room enough), or returns -1 with the reason in err. */
static int field_param(const char *field, size_t flen, form_param *p, char **text,
                       char *err, size_t errlen) {
  const char *eq = memchr(field, '=', flen);
  size_t nlen = eq ? (size_t)(eq - field) : flen;
  char *name = *text;
  long k = field_decode(field, nlen, name, field, flen, err, errlen);
  if (k < 0) return -1;
  char *value = name + k + 1;
  k = eq ? field_decode(eq + 1, flen - nlen - 1, value, field, flen, err, errlen) : 0;
  if (k < 0) return -1;
  value[k] = 0;
  *p = (form_param){name, value};
  *text = value + k + 1;
  return 0;
}

/* The fields are decoded into one block: the form_param array, then their
 * names and values (decoding never makes text longer, and each field needs
 * at most two NULs more than its bytes), so form_free is one free(). */
int form_decode_ex(const char *body, size_t len, form_param **out, size_t *n, char *err,
                   size_t errlen) {
  if (err && errlen) err[0] = 0;
  *out = NULL;
  *n = 0;
  size_t fields = 0;
  for (size_t start = 0; start < len;) {
    const char *amp = memchr(body + start, '&', len - start);
    size_t flen = amp ? (size_t)(amp - (body + start)) : len - start;
    if (flen) fields++;
    start += flen + 1;
  }
  if (fields == 0) return 0;
  form_param *params = xmalloc(fields * sizeof *params + len + 2 * fields);
  char *text = (char *)(params + fields);
  size_t count = 0;
  for (size_t start = 0; start < len;) {
    const char *field = body + start;
    const char *amp = memchr(field, '&', len - start);
    size_t flen = amp ? (size_t)(amp - field) : len - start;
    start += flen + 1;
    if (flen == 0) continue; /* "a=1&&b=2", a trailing '&' */
    if (field_param(field, flen, &params[count], &text, err, errlen) != 0) {
      free(params);
      return -1;
    }
    count++;
  }
  *out = params;
  *n = count;
  return 0;
}

/* Decodes one field (or, as_path, its text as a whole) into scratch and
 * drops it: 0, or -1 with the reason in err. */
static int field_check(const char *field, size_t flen, int as_path, char *scratch,
                       char *err, size_t errlen) {
  const char *eq = as_path ? NULL : memchr(field, '=', flen);
  size_t nlen = eq ? (size_t)(eq - field) : flen;
  if (field_decode(field, nlen, scratch, field, flen, err, errlen) < 0) return -1;
  if (eq &&
      field_decode(eq + 1, flen - nlen - 1, scratch, field, flen, err, errlen) < 0)
    return -1;
  return 0;
}

int form_check(const char *text, size_t len, int as_path, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  char small[512], *scratch = small;
  if (len >= sizeof small) scratch = xmalloc(len + 1);
  int rc = 0;
  if (as_path) {
    /* '+' would be read as a space: harmless, as '&' and '=' are here */
    if (len) rc = field_check(text, len, 1, scratch, err, errlen);
  } else {
    for (size_t start = 0; start < len && rc == 0;) {
      const char *field = text + start;
      const char *amp = memchr(field, '&', len - start);
      size_t flen = amp ? (size_t)(amp - field) : len - start;
      start += flen + 1;
      if (flen) rc = field_check(field, flen, 0, scratch, err, errlen);
    }
  }
  if (scratch != small) free(scratch);
  return rc;
}

int form_decode(const char *body, size_t len, form_param **out, size_t *n) {
  return form_decode_ex(body, len, out, n, NULL, 0);
}

void form_free(form_param *params, size_t n) {
  (void)n; /* one block (form_decode_ex) */
  free(params);
}
