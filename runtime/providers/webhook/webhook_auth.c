#include "webhook_auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signature.h"

void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_SIZE]) {
  char hex[HMAC_HEX_SIZE];
  const char *parts[] = {timestamp, ".", body};
  const size_t lens[] = {strlen(timestamp), 1, len};
  if (hmac_sha256_hex(secret, parts, lens, 3, hex)) { /* a value no header can equal */
    strcpy(out, "unavailable");
    return;
  }
  snprintf(out, WEBHOOK_SIGNATURE_SIZE, "sha256=%s", hex);
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
