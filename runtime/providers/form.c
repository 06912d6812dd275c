/* form: application/x-www-form-urlencoded bodies (Twilio's webhooks,
 * Kannel's post-url) and the UTF-8 reading they share with TwiML. */
#include "form.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------------------------------------------------------------- UTF-8 */

/* The UTF-8 sequence at s (len bytes left, len > 0): its length (1-4) with
 * the code point in *cp, or minus the length of the maximal ill-formed
 * prefix (the bytes one U+FFFD stands for, Unicode 15 section 3.9) when it
 * is not well formed: overlong forms, surrogates and values past U+10FFFF
 * are not. */
int utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
  unsigned char b = s[0];
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b < 0x80) {
    *cp = b;
    return 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
    *cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    *cp = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    *cp = b & 0x07;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int i = 1; i <= need; i++) {
    if ((size_t)i >= len || s[i] < lo || s[i] > hi) return -i;
    *cp = (*cp << 6) | (s[i] & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
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
