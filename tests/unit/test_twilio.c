/* Unit tests for runtime/providers/twilio/twilio_webhook.h: X-Twilio-Signature checks, form bodies,
 * TwiML answers.
 *
 *   make build/test_twilio && ./build/test_twilio
 *
 * Where the expected signatures come from:
 *  - twilio-python, tests/unit/test_request_validator.py (ValidationTest):
 *    token "12345", url https://mycompany.com/myapp.php?foo=1&bar=2, params
 *    CallSid=CA1234567890ABCDE Caller=From=+14158675309 Digits=1234
 *    To=+18005551212 -> RSOYDt4T1cUTdK1PDd93/VVr8B8= (the same vector is in
 *    twilio-php's docs/usage/validation.rst); the port cases of that file:
 *    https with :443 -> kvajT1Ptam85bY51eRf/AJRuM3w=, http with :80 ->
 *    0ZXoZLH/DfblKGATFgpif+LLRf4=, http with :1234 ->
 *    Zmvh+3yNM1Phv2jhDCwEM3q5ebU=; and the repeated-name case (Sid=CA123,
 *    SidAccount=AC123, Digits=5678, Digits=1234) -> IK+Dwps556ElfBT0I3Rgjkr1wJU=.
 *  - Twilio's security docs (twilio.com/docs/usage/security, "Validating
 *    requests") print the same example with Caller = From = +14158675310 and
 *    the signature GvWf1cFY/Q7PnoempGyD5oXAezc=. The stored copies searched
 *    for this module quote it only through third-party test suites that cite
 *    the docs; Python's hmac/hashlib gives the same value.
 *  - The GET and UTF-8 vectors were computed with Python's standard hmac,
 *    hashlib and base64 modules (an implementation independent of this one):
 *    base64(hmac.new(token, data.encode("utf-8"), sha1).digest()). */
#include <openssl/crypto.h>

#include "test.h"
#include "twilio_webhook.h"

#define DOC_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define DOC_TOKEN "12345"
#define DOC_SIGNATURE "RSOYDt4T1cUTdK1PDd93/VVr8B8="

/* In the order twilio-python's test lists them (not sorted). */
static const form_param doc_params[] = {
    {"CallSid", "CA1234567890ABCDE"}, {"Digits", "1234"},
    {"From", "+14158675309"},         {"To", "+18005551212"},
    {"Caller", "+14158675309"},
};
#define DOC_N (sizeof doc_params / sizeof doc_params[0])

/* This definition takes the place of libcrypto's for the whole program, so
 * the test can see that twilio_webhook.c compares signatures with it. It is itself
 * a constant-time compare. */
static int memcmp_calls;
int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len) {
  const volatile unsigned char *a = in_a, *b = in_b;
  unsigned char diff = 0;
  memcmp_calls++;
  for (size_t i = 0; i < len; i++) diff |= a[i] ^ b[i];
  return diff;
}

static int valid(const char *url, const form_param *params, size_t n,
                 const char *signature) {
  return twilio_signature_valid(DOC_TOKEN, url, params, n, signature);
}

/* ------------------------------------------------------------ signature */

static void signature_matches_twilio_examples(void) {
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, DOC_URL, doc_params, DOC_N, sig, sizeof sig);
  CHECK_STR(sig, DOC_SIGNATURE, "signature of twilio-python's example");
  CHECK(valid(DOC_URL, doc_params, DOC_N, DOC_SIGNATURE),
        "twilio-python's example validates");

  const form_param docs_params[] = {
      {"CallSid", "CA1234567890ABCDE"}, {"Caller", "+14158675310"}, {"Digits", "1234"},
      {"From", "+14158675310"},         {"To", "+18005551212"},
  };
  twilio_signature(DOC_TOKEN, DOC_URL, docs_params, 5, sig, sizeof sig);
  CHECK_STR(sig,
            "GvWf1cFY/Q7PnoempGyD5oXAezc=", "signature of the Twilio docs' example");
  CHECK(valid(DOC_URL, docs_params, 5, "GvWf1cFY/Q7PnoempGyD5oXAezc="),
        "the Twilio docs' example validates");
}

static void signature_does_not_depend_on_parameter_order(void) {
  form_param reversed[DOC_N];
  for (size_t i = 0; i < DOC_N; i++) reversed[i] = doc_params[DOC_N - 1 - i];
  CHECK(valid(DOC_URL, reversed, DOC_N, DOC_SIGNATURE),
        "parameters in reverse order validate the same");
}

static void repeated_names_sign_every_value_sorted(void) {
  const form_param a[] = {{"Sid", "CA123"},
                          {"SidAccount", "AC123"},
                          {"Digits", "5678"},
                          {"Digits", "1234"}};
  const form_param b[] = {{"Digits", "1234"},
                          {"SidAccount", "AC123"},
                          {"Digits", "5678"},
                          {"Sid", "CA123"}};
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, DOC_URL, a, 4, sig, sizeof sig);
  CHECK_STR(sig, "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
            "repeated name: values sorted (twilio-python MultiDict case)");
  CHECK(valid(DOC_URL, b, 4, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        "repeated name in another order validates the same");
  CHECK(!valid(DOC_URL, a, 3, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        "dropping one of the repeated values fails");
}

static void get_request_signs_url_alone(void) {
  const char *url = "https://example.com/sms?From=%2B14155551212&Body=hi";
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, url, NULL, 0, sig, sizeof sig);
  CHECK_STR(sig, "3tOgw1X9JPoGj6OL3Fop10rzks0=", "GET: the URL alone is signed");
  CHECK(valid(url, NULL, 0, "3tOgw1X9JPoGj6OL3Fop10rzks0="), "GET signature validates");
  const char *decoded = "https://example.com/sms?From=+14155551212&Body=hi";
  CHECK(!valid(decoded, NULL, 0, "3tOgw1X9JPoGj6OL3Fop10rzks0="),
        "GET: the query string is signed as sent, not decoded");
}

static void utf8_values_are_signed_as_utf8(void) {
  const form_param p[] = {{"From", "+14155551212"},
                          {"Body", "caf\xC3\xA9 \xE2\x98\x95"}};
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, "https://example.com/sms", p, 2, sig, sizeof sig);
  CHECK_STR(sig, "MQjit+W7HZQXWTVfLYK/52fIMk8=", "UTF-8 body value");
}

static void port_variants_the_libraries_accept(void) {
  /* twilio-python test_validation_removes_port_on_https */
  CHECK(valid("https://mycompany.com:1234/myapp.php?foo=1&bar=2", doc_params, DOC_N,
              DOC_SIGNATURE),
        "https URL with a port validates the signature made without it");
  /* test_validation_removes_port_on_http: signed with the port as given */
  CHECK(valid("http://mycompany.com:1234/myapp.php?foo=1&bar=2", doc_params, DOC_N,
              "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        "http URL with a port validates the signature made with it");
  /* test_validation_adds_port_on_https */
  CHECK(valid(DOC_URL, doc_params, DOC_N, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        "https URL without a port validates the signature made with :443");
  /* test_validation_adds_port_on_http */
  CHECK(valid("http://mycompany.com/myapp.php?foo=1&bar=2", doc_params, DOC_N,
              "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        "http URL without a port validates the signature made with :80");
  CHECK(valid("https://mycompany.com:443/myapp.php?foo=1&bar=2", doc_params, DOC_N,
              DOC_SIGNATURE),
        "https URL with :443 validates the signature made without a port");
  CHECK(valid("https://mycompany.com:443/myapp.php?foo=1&bar=2", doc_params, DOC_N,
              "kvajT1Ptam85bY51eRf/AJRuM3w="),
        "https URL with :443 validates the signature made with :443");

  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, "HTTPS://example.com:443/sms", NULL, 0, sig, sizeof sig);
  CHECK(valid("HTTPS://example.com/sms", NULL, 0, sig),
        "the scheme is read without regard to case (HTTPS gets :443)");
  twilio_signature(DOC_TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                   doc_params, DOC_N, sig, sizeof sig);
  CHECK(!valid(DOC_URL, doc_params, DOC_N, sig),
        "a signature made with a non-default port fails for the URL without it");
  CHECK(!valid("http://mycompany.com/myapp.php?foo=1&bar=2", doc_params, DOC_N,
               DOC_SIGNATURE),
        "the https signature fails for the http URL");
  CHECK(!valid("http://mycompany.com/myapp.php?foo=1&bar=2", doc_params, DOC_N,
               "kvajT1Ptam85bY51eRf/AJRuM3w="),
        "the :443 signature fails for the http URL (whose default is :80)");
}

/* A URL signed with no parameters in one form and received in another:
 * whether the signature holds. */
typedef struct url_case {
  const char *signed_as, *received;
  int holds;
  const char *what;
} url_case;

static void check_url_cases(const url_case *c, size_t n) {
  char sig[TWILIO_SIGNATURE_SIZE];
  for (size_t i = 0; i < n; i++) {
    twilio_signature(DOC_TOKEN, c[i].signed_as, NULL, 0, sig, sizeof sig);
    CHECK(!!valid(c[i].received, NULL, 0, sig) == c[i].holds, "%s", c[i].what);
  }
}

/* The URL's port, read by libcurl's URL API: the forms Twilio may sign. */
static void port_variants_more_forms(void) {
  static const url_case cases[] = {
      {"https://u:p@example.com:443/sms", "https://u:p@example.com/sms", 1,
       "user:password@ is kept and only the port varies"},
      {"http://[::1]/sms", "http://[::1]:8080/sms", 1,
       "IPv6 literal host: the port after ] is removed"},
      {"https://example.com:443?x=1", "https://example.com?x=1", 1,
       "no path: the port goes before the query"},
      {"/sms?next=http://a.example/", "/sms?next=http://a.example:80/", 0,
       "a URL without a scheme: a \"://\" in its query is left alone"},
      /* ports */
      {"http://example.com:8080/sms", "http://example.com:8080/sms", 1,
       "a non-default port as given"},
      {"http://example.com:8080/sms", "http://example.com/sms", 0,
       "a non-default port is not the URL without one (which gets :80)"},
      {"http://example.com/sms", "http://example.com:80/sms", 1, "http :80 removed"},
      {"http://example.com/sms", "http://example.com:8080/sms", 1,
       "any port is removed for the form without one"},
      {"https://example.com/sms", "https://example.com:/sms", 1, "an empty port is removed"},
      {"https://example.com:443/sms", "https://example.com:/sms", 1,
       "an empty port: the form with the default port"},
      {"https://example.com:99999/sms", "https://example.com:99999/sms", 1,
       "a port out of range: the URL as given"},
      /* IPv6 hosts */
      {"https://[2001:db8::1]:443/sms", "https://[2001:db8::1]/sms", 1,
       "IPv6 host without a port: :443 goes after the ]"},
      {"https://[2001:db8::1]/sms", "https://[2001:db8::1]:8443/sms", 1,
       "IPv6 host with a port: only the port goes, not the address's colons"},
      {"http://[::1]:80?x=1", "http://[::1]?x=1", 1, "IPv6 host, no path, a query"},
      {"http://u:p@[::1]/sms", "http://u:p@[::1]:8080/sms", 1,
       "IPv6 host after user:password@"},
      /* query strings */
      {"https://example.com/sms?next=https://a.example:8443/x",
       "https://example.com:443/sms?next=https://a.example:8443/x", 1,
       "a URL in the query: only the authority's port varies"},
      {"https://example.com:443?a=b:c@d", "https://example.com?a=b:c@d", 1,
       "':' and '@' in the query are not a port or user info"},
      {"https://example.com:443#frag:1", "https://example.com#frag:1", 1,
       "no path, a fragment: the port goes before it"},
      {"https://example.com:443/a/../sms?x=%2F", "https://example.com/a/../sms?x=%2F", 1,
       "the path and the query are signed as given, dot segments and escapes kept"},
  };
  check_url_cases(cases, sizeof cases / sizeof cases[0]);
  CHECK(!valid("http://example.com:8080/sms", NULL, 0, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        "a wrong signature fails for a URL with a port");
}

static void tampering_fails(void) {
  form_param p[DOC_N];
  memcpy(p, doc_params, sizeof p);
  p[1].value = "1235";
  CHECK(!valid(DOC_URL, p, DOC_N, DOC_SIGNATURE), "a changed parameter value fails");
  memcpy(p, doc_params, sizeof p);
  p[1].name = "digits";
  CHECK(!valid(DOC_URL, p, DOC_N, DOC_SIGNATURE), "a changed parameter name fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N - 1, DOC_SIGNATURE),
        "a missing parameter fails");
  form_param more[DOC_N + 1];
  memcpy(more, doc_params, sizeof doc_params);
  more[DOC_N] = (form_param){"Body", ""};
  CHECK(!valid(DOC_URL, more, DOC_N + 1, DOC_SIGNATURE),
        "an added parameter (even empty) fails");
  CHECK(!valid("https://mycompany.com/myapp.php?foo=1&bar=3", doc_params, DOC_N,
               DOC_SIGNATURE),
        "a changed query string fails");
  CHECK(!valid("https://mycompany.com/myapp.php", doc_params, DOC_N, DOC_SIGNATURE),
        "a missing query string fails");
  CHECK(!valid("https://evil.example/myapp.php?foo=1&bar=2", doc_params, DOC_N,
               DOC_SIGNATURE),
        "a changed host fails");
  CHECK(!twilio_signature_valid("12346", DOC_URL, doc_params, DOC_N, DOC_SIGNATURE),
        "another auth token fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, "RSOYDt4T1cUTdK1PDd93/VVr8B8=x"),
        "a signature with a character added fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
        "a signature without its padding fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, "RSOYDt4T1cUTdK1PDd93/VVr8B9="),
        "a signature with its last character changed fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, "rsoydt4t1cutdk1pdd93/vvr8b8="),
        "a signature in another case fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, ""), "an empty signature fails");
  CHECK(!valid(DOC_URL, doc_params, DOC_N, NULL), "a NULL signature fails");

  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature("", DOC_URL, doc_params, DOC_N, sig, sizeof sig);
  CHECK(!twilio_signature_valid("", DOC_URL, doc_params, DOC_N, sig),
        "an empty auth token never validates");
  CHECK(!twilio_signature_valid(NULL, DOC_URL, doc_params, DOC_N, sig),
        "a NULL auth token never validates");

  char small[28] = "untouched";
  twilio_signature(DOC_TOKEN, DOC_URL, doc_params, DOC_N, small, sizeof small);
  CHECK_STR(small, "", "an output buffer under 29 bytes gets \"\"");
}

/* Every comparison is CRYPTO_memcmp's. A signature of the URL as given
 * needs one; the other form is computed and compared only when that one
 * fails (which form matched is all the time tells), and a wrong signature
 * is compared against both. */
static void comparison_is_constant_time(void) {
  memcmp_calls = 0;
  int ok = valid(DOC_URL, doc_params, DOC_N, DOC_SIGNATURE);
  CHECK(ok && memcmp_calls == 1,
        "a valid signature of the URL as given: one CRYPTO_memcmp (%d)", memcmp_calls);
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(DOC_TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", doc_params,
                   DOC_N, sig, sizeof sig);
  memcmp_calls = 0;
  ok = valid(DOC_URL, doc_params, DOC_N, sig);
  CHECK(ok && memcmp_calls == 2,
        "a valid signature of the other form: two CRYPTO_memcmp (%d)", memcmp_calls);
  memcmp_calls = 0;
  ok = valid(DOC_URL, doc_params, DOC_N, "XSOYDt4T1cUTdK1PDd93/VVr8B8=");
  CHECK(!ok && memcmp_calls == 2,
        "a wrong signature is compared with both forms by CRYPTO_memcmp (%d)", memcmp_calls);
  memcmp_calls = 0;
  ok = valid("https://mycompany.com:/myapp.php?foo=1&bar=2", doc_params, DOC_N, DOC_SIGNATURE);
  CHECK(ok && memcmp_calls == 1,
        "an empty port: the URL as given is not one of the forms, the form without the port "
        "matches (%d)", memcmp_calls);
  twilio_signature(DOC_TOKEN, "https://mycompany.com:/myapp.php?foo=1&bar=2", doc_params, DOC_N,
                   sig, sizeof sig);
  CHECK(!valid("https://mycompany.com:/myapp.php?foo=1&bar=2", doc_params, DOC_N, sig),
        "an empty port: a signature of the URL as given is neither form's, and fails");
}

static void raw_body_decoded_then_validated(void) {
  const char *body =
      "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
      "&From=%2B14158675309&To=%2B18005551212";
  form_param *p;
  size_t n;
  CHECK_INT(form_decode(body, strlen(body), &p, &n), 0, "the example body decodes");
  CHECK_INT(n, 5, "the example body has 5 fields");
  CHECK(valid(DOC_URL, p, n, DOC_SIGNATURE),
        "the decoded example body validates (%%2B decoded to +)");
  form_free(p, n);
}

/* ------------------------------------------------------------ form body */

static void decode_ok(const char *body, size_t len, form_param **p, size_t *n,
                      const char *what) {
  char err[256];
  int rc = form_decode_ex(body, len, p, n, err, sizeof err);
  if (!test_result(rc == 0, "decodes: %s", what)) test_note("refused: %s", err);
  if (rc != 0) *n = 0;
}

static void form_fields_and_empty_values(void) {
  form_param *p;
  size_t n;
  decode_ok("a=1&b=&c", 8, &p, &n, "a=1&b=&c");
  CHECK_INT(n, 3, "a=1&b=&c has three fields");
  if (n == 3) {
    CHECK_STR(p[0].name, "a", "first name");
    CHECK_STR(p[0].value, "1", "first value");
    CHECK_STR(p[1].name, "b", "second name");
    CHECK_STR(p[1].value, "", "b= has an empty value");
    CHECK_STR(p[2].name, "c", "third name");
    CHECK_STR(p[2].value, "", "c without = has an empty value");
  }
  form_free(p, n);

  decode_ok("&&a=1&", 6, &p, &n, "&&a=1&");
  CHECK_INT(n, 1, "empty fields are skipped");
  form_free(p, n);

  decode_ok("a=b=c&=x", 8, &p, &n, "a=b=c&=x");
  CHECK(n == 2 && strcmp(p[0].value, "b=c") == 0 && strcmp(p[1].name, "") == 0 &&
            strcmp(p[1].value, "x") == 0,
        "split at the first '='; an empty name is kept");
  form_free(p, n);

  decode_ok("a=1&b=2", 3, &p, &n, "only len bytes are read");
  CHECK(n == 1 && strcmp(p[0].value, "1") == 0, "a=1&b=2 cut at 3 bytes is a=1");
  form_free(p, n);
}

static void form_plus_and_percent(void) {
  form_param *p;
  size_t n;
  const char *body = "To=%2B18005551212&Body=hello+world&a+b=%2b%2F%20";
  decode_ok(body, strlen(body), &p, &n, "escapes");
  if (n == 3) {
    CHECK_STR(p[0].value, "+18005551212", "%%2B is a plus sign");
    CHECK_STR(p[1].value, "hello world", "+ is a space");
    CHECK_STR(p[2].name, "a b", "+ in a name is a space");
    CHECK_STR(p[2].value, "+/ ", "lower-case hex, %%2F, %%20");
  } else {
    CHECK_INT(n, 3, "three fields");
  }
  form_free(p, n);
}

static void form_malformed_escapes_fail(void) {
  static const char *const bad[] = {"a=%zz", "a=%2", "a=%", "%G1=x", "a=1&b=%2x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    form_param *p = (form_param *)1;
    size_t n = 99;
    char err[256] = "";
    int rc = form_decode_ex(bad[i], strlen(bad[i]), &p, &n, err, sizeof err);
    CHECK(rc == -1 && p == NULL && n == 0, "'%s' is refused", bad[i]);
    CHECK_HAS(err, "is not a %XX escape", "'%s': the error says why", bad[i]);
  }
  char err[256];
  form_param *p;
  size_t n;
  form_decode_ex("Body=ok&a=%zz", 13, &p, &n, err, sizeof err);
  CHECK_STR(err, "form field \"a=%zz\": \"%zz\" is not a %XX escape",
            "the error names the field and the escape");
  CHECK_INT(form_decode("a=%zz", 5, &p, &n), -1, "form_decode refuses it too");
}

static void form_empty_body(void) {
  form_param *p = (form_param *)1;
  size_t n = 99;
  CHECK_INT(form_decode("", 0, &p, &n), 0, "an empty body decodes");
  CHECK(p == NULL && n == 0, "an empty body has no fields");
  form_free(p, n);
  CHECK_INT(form_decode(NULL, 0, &p, &n), 0, "a NULL body of length 0 decodes");
  CHECK(valid("https://example.com/sms?From=%2B14155551212&Body=hi", p, n,
              "3tOgw1X9JPoGj6OL3Fop10rzks0="),
        "no fields: the URL alone is signed");
}

static void form_repeated_names_kept(void) {
  form_param *p;
  size_t n;
  const char *body = "Digits=5678&Sid=CA123&Digits=1234&SidAccount=AC123";
  decode_ok(body, strlen(body), &p, &n, "repeated names");
  CHECK(n == 4 && strcmp(p[0].value, "5678") == 0 && strcmp(p[2].value, "1234") == 0,
        "repeated names are all kept, in body order");
  CHECK(valid(DOC_URL, p, n, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        "the decoded repeated names validate twilio-python's signature");
  form_free(p, n);
}

static void form_utf8(void) {
  form_param *p;
  size_t n;
  const char *body = "Body=caf%C3%A9+%E2%98%95&Raw=caf\xC3\xA9&Emoji=%F0%9F%98%80";
  decode_ok(body, strlen(body), &p, &n, "UTF-8 escapes and raw UTF-8");
  if (n == 3) {
    CHECK_STR(p[0].value, "caf\xC3\xA9 \xE2\x98\x95",
              "%%C3%%A9 and %%E2%%98%%95 decode");
    CHECK_STR(p[1].value, "caf\xC3\xA9", "raw UTF-8 passes through");
    CHECK_STR(p[2].value, "\xF0\x9F\x98\x80", "a 4-byte sequence decodes");
  }
  form_free(p, n);

  static const char *const bad[] = {"a=%FF",       "a=%C3",          "a=%C0%AF",
                                    "a=%ED%A0%80", "a=%F4%90%80%80", "a=\xC3("};
  static const char *const why[] = {"a lone 0xFF", "a cut sequence", "an overlong '/'",
                                    "a surrogate", "past U+10FFFF",  "raw bad UTF-8"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    int rc = form_decode_ex(bad[i], strlen(bad[i]), &p, &n, err, sizeof err);
    CHECK(rc == -1, "not UTF-8 is refused: %s", why[i]);
    CHECK_HAS(err, "not valid UTF-8", "%s: the error says why", why[i]);
  }

  char err[256] = "";
  CHECK_INT(form_decode_ex("a=x%00y", 7, &p, &n, err, sizeof err), -1,
            "%%00 is refused");
  CHECK_HAS(err, "NUL", "%%00: the error says why");
  CHECK_INT(form_decode("a=x\0y", 5, &p, &n), -1, "a raw NUL byte is refused");
}

/* ---------------------------------------------------------------- TwiML */

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

static void check_twiml(const char *const *texts, size_t n, const char *expected,
                        const char *what) {
  char *xml = twiml_messages(texts, n);
  CHECK_STR(xml, expected, "TwiML: %s", what);
  free(xml);
}

static void twiml_answers(void) {
  check_twiml(NULL, 0, XML_DECL "<Response/>", "no messages is an empty Response");
  const char *one[] = {"Thanks! Reply STOP to opt out."};
  check_twiml(one, 1,
              XML_DECL
              "<Response><Message>Thanks! Reply STOP to opt out.</Message>"
              "</Response>",
              "one message");
  const char *two[] = {"first", "second"};
  check_twiml(two, 2,
              XML_DECL
              "<Response><Message>first</Message><Message>second</Message>"
              "</Response>",
              "two messages, in order");
  const char *esc[] = {"Tom & Jerry <3 \"quoted\" 'single' >"};
  check_twiml(esc, 1,
              XML_DECL
              "<Response><Message>Tom &amp; Jerry &lt;3 &quot;quoted&quot; "
              "&apos;single&apos; &gt;</Message></Response>",
              "& < > \" ' are escaped");
  const char *twice[] = {"&amp; </Message><Message>x"};
  check_twiml(twice, 1,
              XML_DECL
              "<Response><Message>&amp;amp; &lt;/Message&gt;&lt;Message&gt;x"
              "</Message></Response>",
              "markup in a text stays text");
  const char *ctl[] = {
      "a\x01"
      "b\x08"
      "c\x1F"
      "d\te\nf\rg\x7F"};
  check_twiml(ctl, 1,
              XML_DECL "<Response><Message>abcd\te\nf\rg\x7F</Message></Response>",
              "C0 controls removed; tab, newline, CR and DEL kept");
  const char *utf[] = {"caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC"};
  check_twiml(utf, 1,
              XML_DECL
              "<Response><Message>caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC"
              "</Message></Response>",
              "UTF-8 text passes through");
  const char *nonchar[] = {"x\xEF\xBF\xBEy\xEF\xBF\xBFz"};
  check_twiml(nonchar, 1, XML_DECL "<Response><Message>xyz</Message></Response>",
              "U+FFFE and U+FFFF removed");
  const char *bad[] = {
      "a\xFF"
      "b\xE2\x82"
      "c\xED\xA0\x80"
      "d"};
  check_twiml(bad, 1,
              XML_DECL
              "<Response><Message>a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD"
              "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
              "d</Message></Response>",
              "bytes that are not UTF-8 become U+FFFD (one per maximal part)");
  const char *null_text[] = {NULL, "x"};
  check_twiml(null_text, 2,
              XML_DECL "<Response><Message></Message><Message>x</Message></Response>",
              "a NULL text is an empty Message");
}

/* A token longer than SHA-1's 64-byte block is hashed first (RFC 2104);
 * one of exactly 64 bytes is used as it is. Expected values: Python's hmac. */
static void long_tokens_sign_as_hmac_does(void) {
  const form_param p[] = {{"From", "+15550001"}, {"Body", "hi"}};
  char long_token[101], block_token[65], sig[TWILIO_SIGNATURE_SIZE];
  memset(long_token, 'k', 100);
  long_token[100] = 0;
  memset(block_token, 'x', 64);
  block_token[64] = 0;
  twilio_signature(long_token, "https://example.com/twilio/bot", p, 2, sig, sizeof sig);
  CHECK_STR(sig, "PFbdVq4Y/97iONClmytSbhpY9cI=", "a 100-byte token");
  twilio_signature(block_token, "https://example.com/twilio/bot", p, 2, sig,
                   sizeof sig);
  CHECK_STR(sig, "2phi9kQPwzR94MTEXT5SPuBfnjg=", "a 64-byte token");
}

/* A token made ready once (twilio_key) checks every request as the token
 * itself does: the examples, the port variants, tampering; and no key is
 * made of a token anyone could sign with. */
static void prepared_key_checks_like_its_token(void) {
  CHECK(twilio_key_new(NULL) == NULL, "no key for a NULL token");
  CHECK(twilio_key_new("") == NULL, "no key for an empty token");
  twilio_key *k = twilio_key_new(DOC_TOKEN);
  CHECK(k != NULL, "a key for a token");
  for (int i = 0; i < 3; i++) /* the same key, again and again */
    CHECK(twilio_key_signature_valid(k, DOC_URL, doc_params, DOC_N, DOC_SIGNATURE),
          "twilio-python's example validates with the prepared key");
  CHECK(twilio_key_signature_valid(k, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                   doc_params, DOC_N, DOC_SIGNATURE),
        "the port variant validates with the prepared key");
  CHECK(!twilio_key_signature_valid(k, DOC_URL, doc_params, DOC_N - 1, DOC_SIGNATURE),
        "a parameter removed fails with the prepared key");
  CHECK(!twilio_key_signature_valid(k, DOC_URL, doc_params, DOC_N, NULL),
        "no signature fails with the prepared key");
  CHECK(!twilio_key_signature_valid(NULL, DOC_URL, doc_params, DOC_N, DOC_SIGNATURE),
        "no key fails");
  twilio_key_free(k);
  char long_token[101];
  memset(long_token, 'k', 100);
  long_token[100] = 0;
  const form_param p[] = {{"From", "+15550001"}, {"Body", "hi"}};
  k = twilio_key_new(long_token);
  CHECK(twilio_key_signature_valid(k, "https://example.com/twilio/bot", p, 2,
                                   "PFbdVq4Y/97iONClmytSbhpY9cI="),
        "a 100-byte token's prepared key");
  twilio_key_free(k);
  twilio_key_free(NULL);
}

/* form_check refuses what form_decode_ex refuses, with the same sentence,
 * and keeps nothing; as a path, the text is one field whose '&', '=' and
 * '+' are plain characters. */
static void form_check_refuses_what_decoding_refuses(void) {
  static const char *const cases[] = {
      "a=%zz",    "a=%2",          "%G1=x", "a=1&b=%2x", "a=%00",
      "a=%C3%28", "ok=1&fine=%2B", "",      "&&a&b=",    "x=%E2%82%AC"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    form_param *p;
    size_t n;
    char want[256] = "", got[256] = "";
    int decoded = form_decode_ex(cases[i], strlen(cases[i]), &p, &n, want, sizeof want);
    if (decoded == 0) form_free(p, n);
    int checked = form_check(cases[i], strlen(cases[i]), 0, got, sizeof got);
    CHECK_INT(checked, decoded, "'%s': form_check agrees with form_decode_ex",
              cases[i]);
    CHECK_STR(got, want, "'%s': the same sentence", cases[i]);
  }
  char err[256] = "";
  CHECK_INT(form_check("/twilio/echo&x=1+2", 18, 1, err, sizeof err), 0,
            "a path with '&', '=' and '+' passes");
  CHECK_INT(form_check("/twilio/echo%00x", 16, 1, err, sizeof err), -1,
            "a path with %%00 is refused");
  CHECK_STR(err, "form field \"/twilio/echo%00x\": a NUL byte is not allowed",
            "the sentence names the path");
  CHECK_INT(form_check("/a%zz", 5, 1, err, sizeof err), -1,
            "a path with %%zz is refused");
  char long_field[3000];
  memset(long_field, 'a', sizeof long_field);
  memcpy(long_field + sizeof long_field - 3, "%FF", 3);
  CHECK_INT(form_check(long_field, sizeof long_field, 0, err, sizeof err), -1,
            "a long field that is not UTF-8 is refused");
  CHECK_HAS(err, "not valid UTF-8", "a long field: the sentence says why");
}

int main(void) {
  signature_matches_twilio_examples();
  signature_does_not_depend_on_parameter_order();
  repeated_names_sign_every_value_sorted();
  get_request_signs_url_alone();
  utf8_values_are_signed_as_utf8();
  port_variants_the_libraries_accept();
  port_variants_more_forms();
  tampering_fails();
  long_tokens_sign_as_hmac_does();
  prepared_key_checks_like_its_token();
  comparison_is_constant_time();
  raw_body_decoded_then_validated();
  form_fields_and_empty_values();
  form_plus_and_percent();
  form_malformed_escapes_fail();
  form_empty_body();
  form_check_refuses_what_decoding_refuses();
  form_repeated_names_kept();
  form_utf8();
  twiml_answers();
  return test_done();
}
