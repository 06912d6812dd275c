#include "twilio.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---------------------------------------------------------------- UTF-8 */

/* The UTF-8 sequence at s (len bytes left, len > 0): its length (1-4) with
 * the code point in *cp, or minus the length of the maximal ill-formed
 * prefix (the bytes one U+FFFD stands for, Unicode 15 section 3.9) when it
 * is not well formed: overlong forms, surrogates and values past U+10FFFF
 * are not. */
static int utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
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


/* ------------------------------------------------------------ signature */

static const char *or_empty(const char *s) {
  return s ? s : "";
}

static int param_cmp(const void *a, const void *b) {
  const form_param *x = *(const form_param *const *)a;
  const form_param *y = *(const form_param *const *)b;
  int c = strcmp(or_empty(x->name), or_empty(y->name));
  return c ? c : strcmp(or_empty(x->value), or_empty(y->value));
}

/* The parameters as Twilio appends them to the URL: sorted by name, then
 * value (strcmp: byte order, which for UTF-8 is code point order), each
 * name then value, no separators. */
static void params_suffix(const form_param *params, size_t n, buf *out) {
  if (n == 0) return;
  const form_param **sorted = xmalloc(n * sizeof *sorted);
  for (size_t i = 0; i < n; i++) sorted[i] = &params[i];
  qsort(sorted, n, sizeof *sorted, param_cmp);
  for (size_t i = 0; i < n; i++) {
    buf_puts(out, or_empty(sorted[i]->name));
    buf_puts(out, or_empty(sorted[i]->value));
  }
  free(sorted);
}

/* base64(HMAC-SHA1(token, url + suffix)) into out (TWILIO_SIGNATURE_SIZE). */
static void sign(const char *token, const char *url, const buf *suffix,
                 char out[TWILIO_SIGNATURE_SIZE]) {
  buf data = {0};
  buf_puts(&data, url);
  buf_add(&data, suffix->data ? suffix->data : "", suffix->len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (!HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)data.data,
            data.len, mac, &maclen) ||
      maclen != 20) {
    out[0] = 0;
  } else {
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
  }
  buf_free(&data);
}

void twilio_signature(const char *auth_token, const char *url, const form_param *params,
                      size_t n, char *out, size_t outlen) {
  if (outlen == 0) return;
  if (outlen < TWILIO_SIGNATURE_SIZE) {
    out[0] = 0;
    return;
  }
  buf suffix = {0};
  params_suffix(params, n, &suffix);
  sign(or_empty(auth_token), or_empty(url), &suffix, out);
  buf_free(&suffix);
}

/* Finds url's port: *host_end is the offset of the ':' before it (or where
 * one would go), *end the offset where the authority ends (the path, query
 * or fragment begins), *has_port whether digits follow the ':'. -1 when the
 * URL has no "scheme://" authority or its port is not digits. */
static int url_port_span(const char *url, size_t *host_end, size_t *end,
                         int *has_port) {
  const char *sep = strstr(url, "://");
  if (!sep || sep == url || strcspn(url, "/?#") < (size_t)(sep - url))
    return -1; /* no scheme, or "://" only inside the path or query */
  const char *auth = sep + 3;
  const char *stop = auth + strcspn(auth, "/?#");
  const char *host = auth;
  for (const char *p = auth; p < stop; p++)
    if (*p == '@') host = p + 1; /* after user:password@ */
  const char *colon;
  if (*host == '[') { /* an IPv6 literal: [::1]:8080 */
    const char *close = memchr(host, ']', (size_t)(stop - host));
    if (!close) return -1;
    colon = close + 1;
    if (colon < stop && *colon != ':') return -1;
  } else {
    colon = memchr(host, ':', (size_t)(stop - host));
    if (!colon) colon = stop;
  }
  for (const char *p = colon + 1; p < stop; p++)
    if (*p < '0' || *p > '9') return -1;
  *host_end = (size_t)(colon - url);
  *end = (size_t)(stop - url);
  *has_port = stop - colon > 1;
  return 0;
}

/* The two forms of url the official libraries check: *without (its port
 * removed) and *with (its port kept, or the scheme's default added; an
 * empty port, "https://h:/", counts as none). A URL url_port_span cannot
 * read is used as given for both. The caller frees both. */
static void url_port_variants(const char *url, char **without, char **with) {
  size_t host_end, end;
  int has_port;
  if (url_port_span(url, &host_end, &end, &has_port) != 0) {
    *without = xstrdup(url);
    *with = xstrdup(url);
    return;
  }
  int head = (int)host_end;
  *without = xasprintf("%.*s%s", head, url, url + end);
  if (has_port) {
    *with = xstrdup(url);
  } else {
    int https = strncasecmp(url, "https://", 8) == 0;
    *with = xasprintf("%.*s:%s%s", head, url, https ? "443" : "80", url + end);
  }
}

int twilio_signature_valid(const char *auth_token, const char *url,
                           const form_param *params, size_t n, const char *signature) {
  /* An empty token would make the signature anyone's to compute. */
  if (!auth_token || !*auth_token || !url || !signature) return 0;
  if (strnlen(signature, TWILIO_SIGNATURE_SIZE) != TWILIO_SIGNATURE_SIZE - 1) return 0;
  char *without, *with;
  url_port_variants(url, &without, &with);
  buf suffix = {0};
  params_suffix(params, n, &suffix);
  char a[TWILIO_SIGNATURE_SIZE] = {0}, b[TWILIO_SIGNATURE_SIZE] = {0};
  sign(auth_token, without, &suffix, a);
  sign(auth_token, with, &suffix, b);
  buf_free(&suffix);
  free(without);
  free(with);
  /* Both compared always, combined without branching on the first. */
  int differs_a = CRYPTO_memcmp(a, signature, TWILIO_SIGNATURE_SIZE - 1) != 0;
  int differs_b = CRYPTO_memcmp(b, signature, TWILIO_SIGNATURE_SIZE - 1) != 0;
  return !(differs_a & differs_b);
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

/* Decodes s (len bytes) into a new NUL-terminated string, or returns NULL
 * with the reason in err. */
static char *field_decode(const char *s, size_t len, const char *field, size_t flen,
                          char *err, size_t errlen) {
  char *out = xmalloc(len + 1);
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
        free(out);
        return NULL;
      }
      c = hi * 16 + lo;
      i += 2;
    }
    if (c == 0) {
      field_error(err, errlen, field, flen, "a NUL byte is not allowed");
      free(out);
      return NULL;
    }
    out[o++] = (char)c;
  }
  out[o] = 0;
  if (!utf8_valid(out, o)) {
    field_error(err, errlen, field, flen, "not valid UTF-8 once decoded");
    free(out);
    return NULL;
  }
  return out;
}

/* Decodes one field (flen > 0 bytes, "name=value" or "name") into *p, or
 * returns -1 with the reason in err. */
static int field_param(const char *field, size_t flen, form_param *p, char *err,
                       size_t errlen) {
  const char *eq = memchr(field, '=', flen);
  size_t nlen = eq ? (size_t)(eq - field) : flen;
  char *name = field_decode(field, nlen, field, flen, err, errlen);
  if (!name) return -1;
  char *value = eq ? field_decode(eq + 1, flen - nlen - 1, field, flen, err, errlen)
                   : xstrdup("");
  if (!value) {
    free(name);
    return -1;
  }
  *p = (form_param){name, value};
  return 0;
}

int form_decode_ex(const char *body, size_t len, form_param **out, size_t *n, char *err,
                   size_t errlen) {
  form_param *params = NULL;
  size_t count = 0, cap = 0;
  if (err && errlen) err[0] = 0;
  *out = NULL;
  *n = 0;
  for (size_t start = 0; start < len;) {
    const char *field = body + start;
    const char *amp = memchr(field, '&', len - start);
    size_t flen = amp ? (size_t)(amp - field) : len - start;
    start += flen + 1;
    if (flen == 0) continue; /* "a=1&&b=2", a trailing '&' */
    if (count == cap) {
      cap = cap ? cap * 2 : 8;
      params = xrealloc(params, cap * sizeof *params);
    }
    if (field_param(field, flen, &params[count], err, errlen) != 0) {
      form_free(params, count);
      return -1;
    }
    count++;
  }
  *out = params;
  *n = count;
  return 0;
}

int form_decode(const char *body, size_t len, form_param **out, size_t *n) {
  return form_decode_ex(body, len, out, n, NULL, 0);
}

void form_free(form_param *params, size_t n) {
  for (size_t i = 0; params && i < n; i++) {
    free((char *)params[i].name);
    free((char *)params[i].value);
  }
  free(params);
}

/* ---------------------------------------------------------------- TwiML */

/* Appends text as XML character data (see twilio.h for what is removed). */
static void xml_text(buf *b, const char *text) {
  const unsigned char *p = (const unsigned char *)text;
  size_t len = strlen(text);
  while (len > 0) {
    uint32_t cp;
    int k = utf8_next(p, len, &cp);
    if (k < 0) {
      buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
      p += -k;
      len -= (size_t)-k;
      continue;
    }
    switch (cp) {
      case '&':
        buf_puts(b, "&amp;");
        break;
      case '<':
        buf_puts(b, "&lt;");
        break;
      case '>':
        buf_puts(b, "&gt;");
        break;
      case '"':
        buf_puts(b, "&quot;");
        break;
      case '\'':
        buf_puts(b, "&apos;");
        break;
      default:
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE ||
            cp == 0xFFFF)
          break;
        buf_add(b, (const char *)p, (size_t)k);
    }
    p += k;
    len -= (size_t)k;
  }
}

char *twiml_messages(const char *const *texts, size_t n) {
  buf b = {0};
  buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  if (n == 0) {
    buf_puts(&b, "<Response/>");
    return b.data;
  }
  buf_puts(&b, "<Response>");
  for (size_t i = 0; i < n; i++) {
    buf_puts(&b, "<Message>");
    xml_text(&b, or_empty(texts[i]));
    buf_puts(&b, "</Message>");
  }
  buf_puts(&b, "</Response>");
  return b.data;
}
