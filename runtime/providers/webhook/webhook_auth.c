#include "webhook_auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_SIZE]) {
  unsigned char mac[32];
  size_t maclen = 0;
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                         OSSL_PARAM_construct_end()};
  int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) &&
           EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) &&
           EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
           EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
           EVP_MAC_final(ctx, mac, &maclen, sizeof mac) && maclen == sizeof mac;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  if (!ok) { /* no HMAC in this libcrypto: a value no header can equal */
    strcpy(out, "unavailable");
    return;
  }
  strcpy(out, "sha256=");
  for (size_t i = 0; i < maclen; i++) snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

const char *webhook_headers_problem(const char *secret, const char *timestamp,
                                    const char *signature, int64_t now) {
  if (!secret || !*secret) return "signed webhooks are not configured for this bot";
  if (!signature || !*signature) return "X-Parley-Signature is missing";
  if (!timestamp || !*timestamp) return "X-Parley-Signature needs X-Parley-Timestamp";
  char *end;
  long long t = strtoll(timestamp, &end, 10);
  if (*end || !isdigit((unsigned char)*timestamp) || strlen(timestamp) > 12)
    return "X-Parley-Timestamp is not seconds since 1970";
  if (t < now - WEBHOOK_TOLERANCE || t > now + WEBHOOK_TOLERANCE)
    return "X-Parley-Timestamp is more than 5 minutes from the server's clock";
  if (strlen(signature) != WEBHOOK_SIGNATURE_SIZE - 1 || strncasecmp(signature, "sha256=", 7) != 0)
    return "X-Parley-Signature does not match this request";
  for (const char *c = signature + 7; *c; c++)
    if (!isxdigit((unsigned char)*c)) return "X-Parley-Signature does not match this request";
  return NULL;
}

const char *webhook_signature_problem(const char *secret, const char *timestamp,
                                      const char *signature, const char *body, size_t len,
                                      int64_t now) {
  const char *problem = webhook_headers_problem(secret, timestamp, signature, now);
  if (problem) return problem;
  char want[WEBHOOK_SIGNATURE_SIZE];
  webhook_sign(secret, timestamp, body, len, want);
  size_t n = strlen(want);
  char got[WEBHOOK_SIGNATURE_SIZE] = {0};
  if (strlen(signature) != n) return "X-Parley-Signature does not match this request";
  for (size_t i = 0; i < n; i++) got[i] = (char)tolower((unsigned char)signature[i]);
  if (CRYPTO_memcmp(got, want, n) != 0) return "X-Parley-Signature does not match this request";
  return NULL;
}
