/* signature: HMAC-SHA256 in hex, as providers sign what they post, and
 * Meta's X-Hub-Signature-256 (WhatsApp, Messenger and Instagram webhooks):
 *
 *   X-Hub-Signature-256: sha256=<64 lowercase hex digits>
 *
 * the HMAC-SHA256 of the raw body, keyed with the app secret. The body is
 * signed as its bytes arrived: Meta writes non-ASCII characters as \uXXXX
 * escapes and "/" as "\/", so a body decoded and encoded again would not
 * match. */
#ifndef PARLEY_SIGNATURE_H
#define PARLEY_SIGNATURE_H

#include <stddef.h>

#define HMAC_HEX_SIZE 65 /* 64 hex digits and a NUL */

/* The lowercase hex of HMAC-SHA256(key, parts[0..n) one after another)
 * into out: 0; or -1 (no HMAC in this libcrypto), out "". */
int hmac_sha256_hex(const char *key, const char *const *parts, const size_t *lens, size_t n,
                    char out[HMAC_HEX_SIZE]);

/* "sha256=" + HMAC_HEX_SIZE */
#define META_SIGNATURE_SIZE 72
/* The X-Hub-Signature-256 value of body under app_secret. */
void meta_sign(const char *app_secret, const char *body, size_t len,
               char out[META_SIGNATURE_SIZE]);
/* 1 if header is app_secret's X-Hub-Signature-256 of body (compared in
 * constant time; hex digits in either case); 0 otherwise, and for an
 * empty or NULL secret or header. */
int meta_signature_valid(const char *app_secret, const char *header, const char *body,
                         size_t len);

#endif
