#include "twilio_webhook.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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

/* HMAC-SHA1 (RFC 2104) with the key's pad blocks hashed once: inner and
 * outer are SHA-1 states after (key XOR ipad) and (key XOR opad). */
struct twilio_key {
  EVP_MD_CTX *inner, *outer;
};

enum { SHA1_BLOCK = 64, SHA1_SIZE = 20 };

void twilio_key_free(twilio_key *key) {
  if (!key) return;
  EVP_MD_CTX_free(key->inner);
  EVP_MD_CTX_free(key->outer);
  free(key);
}

/* A SHA-1 state that has hashed block XOR pad. */
static EVP_MD_CTX *padded_state(const unsigned char block[SHA1_BLOCK],
                                unsigned char pad) {
  unsigned char x[SHA1_BLOCK];
  for (int i = 0; i < SHA1_BLOCK; i++) x[i] = block[i] ^ pad;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (c &&
      (!EVP_DigestInit_ex(c, EVP_sha1(), NULL) || !EVP_DigestUpdate(c, x, sizeof x))) {
    EVP_MD_CTX_free(c);
    c = NULL;
  }
  OPENSSL_cleanse(x, sizeof x);
  return c;
}

/* The key of token, "" included. */
static twilio_key *key_make(const char *auth_token) {
  unsigned char block[SHA1_BLOCK] = {0};
  size_t len = strlen(auth_token);
  if (len > SHA1_BLOCK) { /* a long key is hashed first */
    unsigned int hl = 0;
    if (!EVP_Digest(auth_token, len, block, &hl, EVP_sha1(), NULL)) return NULL;
  } else {
    memcpy(block, auth_token, len);
  }
  twilio_key *k = xcalloc(1, sizeof *k);
  k->inner = padded_state(block, 0x36);
  k->outer = padded_state(block, 0x5c);
  OPENSSL_cleanse(block, sizeof block);
  if (!k->inner || !k->outer) {
    twilio_key_free(k);
    return NULL;
  }
  return k;
}

twilio_key *twilio_key_new(const char *auth_token) {
  if (!auth_token || !*auth_token) return NULL;
  return key_make(auth_token);
}

/* base64(HMAC-SHA1(key, url + suffix)) into out (TWILIO_SIGNATURE_SIZE);
 * "" if libcrypto fails. c is scratch. */
static void sign(const twilio_key *key, EVP_MD_CTX *c, const char *url,
                 const buf *suffix, char out[TWILIO_SIGNATURE_SIZE]) {
  unsigned char inner[SHA1_SIZE], mac[SHA1_SIZE];
  unsigned int l1 = 0, l2 = 0;
  if (!EVP_MD_CTX_copy_ex(c, key->inner) || !EVP_DigestUpdate(c, url, strlen(url)) ||
      !EVP_DigestUpdate(c, suffix->data ? suffix->data : "", suffix->len) ||
      !EVP_DigestFinal_ex(c, inner, &l1) || !EVP_MD_CTX_copy_ex(c, key->outer) ||
      !EVP_DigestUpdate(c, inner, sizeof inner) || !EVP_DigestFinal_ex(c, mac, &l2) ||
      l1 != SHA1_SIZE || l2 != SHA1_SIZE) {
    out[0] = 0;
    return;
  }
  EVP_EncodeBlock((unsigned char *)out, mac, SHA1_SIZE);
}

void twilio_signature(const char *auth_token, const char *url, const form_param *params,
                      size_t n, char *out, size_t outlen) {
  if (outlen == 0) return;
  if (outlen < TWILIO_SIGNATURE_SIZE) {
    out[0] = 0;
    return;
  }
  out[0] = 0;
  twilio_key *key = key_make(or_empty(auth_token)); /* "" signs too; checks refuse it */
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (key && c) {
    buf suffix = {0};
    params_suffix(params, n, &suffix);
    sign(key, c, or_empty(url), &suffix, out);
    buf_free(&suffix);
  }
  EVP_MD_CTX_free(c);
  twilio_key_free(key);
}

/* The two forms of url the official libraries check: *without (its port
 * removed) and *with (its port kept, or the scheme's default added; an
 * empty port, "https://h:/", counts as none). libcurl's URL API reads the
 * URL (scheme, port, the scheme's default port); the variants are spliced
 * into the URL as given, since Twilio signs the exact text (curl_url_get
 * would lower the scheme's case and add a "/" path). A URL libcurl cannot
 * read (no scheme, a port that is not a number) is used as given for both.
 * The caller frees both. */
static void url_port_variants(const char *url, char **without, char **with) {
  *without = *with = NULL;
  CURLU *u = curl_url();
  char *port = NULL, *default_port = NULL;
  const char *sep = strstr(url, "://");
  if (u && sep &&
      curl_url_set(u, CURLUPART_URL, url,
                   CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &default_port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK) port = NULL;
    /* libcurl took it as scheme://authority: neither user info nor a host
     * holds an unencoded '/', '?' or '#', so the authority ends at the
     * first of them. The port, when there is one, follows its last ':'. */
    const char *auth = sep + 3;
    size_t end = (size_t)(auth - url) + strcspn(auth, "/?#");
    size_t head = end;
    const char *colon = memrchr(auth, ':', end - (size_t)(auth - url));
    if (port || (end > 0 && url[end - 1] == ':')) /* a port, or an empty one */
      head = port && colon ? (size_t)(colon - url) : end - 1;
    *without = xasprintf("%.*s%s", (int)head, url, url + end);
    if (port)
      *with = xstrdup(url);
    else
      *with = xasprintf("%.*s:%s%s", (int)head, url, default_port, url + end);
  }
  curl_free(port);
  curl_free(default_port);
  curl_url_cleanup(u);
  if (!*without) {
    *without = xstrdup(url);
    *with = xstrdup(url);
  }
}

/* Whether key's signature of url (and the parameters in suffix) is the one
 * given, compared in constant time (0 too when libcrypto failed: nothing
 * is proven). */
static int signed_as(const twilio_key *key, EVP_MD_CTX *c, const char *url, const buf *suffix,
                     const char *signature) {
  char mine[TWILIO_SIGNATURE_SIZE] = {0};
  sign(key, c, url, suffix, mine);
  return mine[0] && CRYPTO_memcmp(mine, signature, TWILIO_SIGNATURE_SIZE - 1) == 0;
}

/* 0 when url is one of its two forms (url_port_variants): every URL but
 * one with an empty port ("https://h:/p"). Any ':' after the scheme's
 * that ends the text or comes before '/', '?' or '#' may be one, and
 * counts as one. */
static int may_have_empty_port(const char *url) {
  const char *p = strstr(url, "://");
  for (p = p ? p + 3 : url; (p = strchr(p, ':')) != NULL; p++)
    if (!p[1] || p[1] == '/' || p[1] == '?' || p[1] == '#') return 1;
  return 0;
}

int twilio_key_signature_valid(const twilio_key *key, const char *url,
                               const form_param *params, size_t n,
                               const char *signature) {
  if (!key || !url || !signature) return 0;
  if (strnlen(signature, TWILIO_SIGNATURE_SIZE) != TWILIO_SIGNATURE_SIZE - 1) return 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (!c) return 0;
  buf suffix = {0};
  params_suffix(params, n, &suffix);
  /* The URL as given first, when it is one of the two forms: the form
   * nearly every request is signed in, checked without reading the URL.
   * The other form only when it does not match. The time taken tells
   * which form matched, which the sender knows already. */
  const char *tried = may_have_empty_port(url) ? NULL : url;
  int valid = tried && signed_as(key, c, url, &suffix, signature);
  if (!valid) {
    char *without, *with;
    url_port_variants(url, &without, &with);
    if (!tried || strcmp(without, tried) != 0)
      valid = signed_as(key, c, without, &suffix, signature);
    if (!valid && (!tried || strcmp(with, tried) != 0))
      valid = signed_as(key, c, with, &suffix, signature);
    free(without);
    free(with);
  }
  EVP_MD_CTX_free(c);
  buf_free(&suffix);
  return valid;
}

int twilio_signature_valid(const char *auth_token, const char *url,
                           const form_param *params, size_t n, const char *signature) {
  /* An empty token would make the signature anyone's to compute. */
  if (!auth_token || !*auth_token || !url || !signature) return 0;
  twilio_key *key = twilio_key_new(auth_token);
  int valid = twilio_key_signature_valid(key, url, params, n, signature);
  twilio_key_free(key);
  return valid;
}

/* ---------------------------------------------------------------- TwiML */

/* Appends text as XML character data (see twilio_webhook.h for what is removed). */
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
