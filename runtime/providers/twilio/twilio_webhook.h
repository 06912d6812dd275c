/* twilio: what parley needs to speak Twilio's webhook protocol: checking the
 * X-Twilio-Signature of a request, decoding its form body, and writing the
 * TwiML that answers it.
 *
 * The signature is Twilio's documented algorithm ("Webhooks security",
 * twilio.com/docs/usage/webhooks/webhooks-security), as the official helper
 * libraries implement it (twilio-python request_validator.py, twilio-node
 * webhooks.ts, twilio-php RequestValidator.php):
 *
 *   data = the full URL Twilio requested (scheme, host, port if any, path,
 *          query string), then for each POST parameter sorted by name (and,
 *          for a repeated name, by value) the name followed by the value,
 *          with no separators; values are the decoded form values;
 *   signature = base64(HMAC-SHA1(key = auth token, data)).
 *
 * A GET request (or a POST without form parameters) signs the URL alone:
 * pass n = 0. JSON bodies (bodySHA256 in the query) are not handled. */
#ifndef PARLEY_TWILIO_H
#define PARLEY_TWILIO_H

#include <stddef.h>

#include "form.h"

/* Bytes twilio_signature writes: 28 base64 characters and a NUL. */
#define TWILIO_SIGNATURE_SIZE 29

/* 1 if signature (the X-Twilio-Signature header) is Twilio's signature of
 * url and params under auth_token, else 0 (also when signature is NULL, and
 * always when auth_token is NULL or "", whose signatures anyone can make).
 *
 * The URL variants accepted are the two every official library tries,
 * "since signature generation on the back end is inconsistent":
 *   - url without its port (https://h:443/p and https://h:8443/p -> https://h/p);
 *   - url with its port, or with the scheme's default port added when it has
 *     none (https://h/p -> https://h:443/p; http://h/p -> http://h:80/p).
 * (user:password@ and [IPv6] hosts are read; a URL without "scheme://" or
 * with a port that is not digits is only tried as given.)
 * Everything else in url is signed byte for byte as given: no case folding,
 * no percent-encoding normalization. Parameters with a NULL name or value
 * count as "". Each comparison uses CRYPTO_memcmp (constant time). The
 * URL as given, which is one of the two forms unless its port is empty, is
 * checked first; the other form only when it does not match. */
int twilio_signature_valid(const char *auth_token, const char *url,
                           const form_param *params, size_t n, const char *signature);

/* An auth token made ready for checking signatures: HMAC-SHA1's key
 * schedule (the key's inner and outer pad blocks hashed) done once, so a
 * request costs two short hashes per URL variant. Read-only once made: one
 * key may check requests on several threads at once. */
typedef struct twilio_key twilio_key;

/* The key of auth_token, or NULL for a NULL or "" token (whose signatures
 * anyone can make) or when libcrypto has no SHA-1. */
twilio_key *twilio_key_new(const char *auth_token);
void twilio_key_free(twilio_key *key);

/* twilio_signature_valid with a key made by twilio_key_new (0 if key is
 * NULL). */
int twilio_key_signature_valid(const twilio_key *key, const char *url,
                               const form_param *params, size_t n,
                               const char *signature);

/* The signature Twilio would send for url (exactly as given, no port
 * variants) and params: base64, NUL-terminated, into out. out must have
 * TWILIO_SIGNATURE_SIZE (29) bytes; if outlen is smaller, out gets "". */
void twilio_signature(const char *auth_token, const char *url, const form_param *params,
                      size_t n, char *out, size_t outlen);

/* The TwiML answer that sends each text as an SMS, in order:
 *   <?xml version="1.0" encoding="UTF-8"?><Response><Message>...</Message>
 *   ...</Response>
 * or <?xml version="1.0" encoding="UTF-8"?><Response/> when n is 0.
 * In each text & < > " ' are written as &amp; &lt; &gt; &quot; &apos;.
 * Characters XML 1.0 does not allow are removed: C0 controls other than tab,
 * newline and carriage return, and U+FFFE, U+FFFF; a byte sequence that is
 * not UTF-8 becomes U+FFFD. A NULL text is an empty <Message></Message>.
 * The caller frees the result. */
char *twiml_messages(const char *const *texts, size_t n);

#endif
