/* signature: HMAC-SHA256 in hex, and Meta's X-Hub-Signature-256
 * (signature.h). */
#include "signature.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

int hmac_sha256_hex(const char *key, const char *const *parts, const size_t *lens, size_t n,
                    char out[HMAC_HEX_SIZE]) {
  unsigned char mac[32];
  size_t maclen = 0;
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params);
  for (size_t i = 0; ok && i < n; i++)
    ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i], lens[i]);
  ok = ok && EVP_MAC_final(ctx, mac, &maclen, sizeof mac) && maclen == sizeof mac;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  out[0] = 0;
  if (!ok) return -1;
  for (size_t i = 0; i < maclen; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
  return 0;
}

void meta_sign(const char *app_secret, const char *body, size_t len,
               char out[META_SIGNATURE_SIZE]) {
  char hex[HMAC_HEX_SIZE];
  const char *parts[] = {body};
  if (hmac_sha256_hex(app_secret, parts, &len, 1, hex)) { /* a value no header equals */
    strcpy(out, "unavailable");
    return;
  }
  snprintf(out, META_SIGNATURE_SIZE, "sha256=%s", hex);
}

int meta_signature_valid(const char *app_secret, const char *header, const char *body,
                         size_t len) {
  if (!app_secret || !*app_secret || !header) return 0;
  char want[META_SIGNATURE_SIZE], given[META_SIGNATURE_SIZE];
  meta_sign(app_secret, body, len, want);
  size_t n = strlen(header);
  /* "sha256=" and 64 hex digits; nothing else (the fallback is no match) */
  if (n != 7 + 64 || strncmp(want, "sha256=", 7) != 0 || strlen(want) != n) return 0;
  for (size_t i = 0; i < n; i++) given[i] = (char)tolower((unsigned char)header[i]);
  return CRYPTO_memcmp(given, want, n) == 0;
}
