/* Unit tests for runtime/providers/webhook/webhook_auth.h: signed JSON webhooks.
 *
 *   make build/test_webhook_auth && ./build/test_webhook_auth
 *
 * The expected signatures were computed with Python's standard hmac and
 * hashlib modules (an implementation independent of this one):
 *   hmac.new(secret, (timestamp + "." + body).encode(), sha256).hexdigest() */
#include "test.h"
#include "webhook_auth.h"

#define SECRET "whsec-abc"
#define TS "1767225600"
#define NOW 1767225600
#define BODY "{\"from\":\"+15550001\",\"text\":\"hi\"}"
#define SIG "sha256=25cd594a20767ba2a1995111aa96d74ee052d6511a4521f6f12dbe11ea7410ab"

static const char *check(const char *secret, const char *ts, const char *sig, const char *body,
                         long long now) {
  return webhook_signature_problem(secret, ts, sig, body, body ? strlen(body) : 0, now);
}

static void signs_like_an_independent_hmac(void) {
  char out[WEBHOOK_SIGNATURE_SIZE];
  webhook_sign(SECRET, TS, BODY, strlen(BODY), out);
  CHECK_STR(out, SIG, "the signature is sha256= and the hex HMAC-SHA256 of timestamp.body");
  webhook_sign("k", TS, "", 0, out);
  CHECK_STR(out, "sha256=51010c39b0935e7ff09f30ec1551a67ce348a7a125cb09354b736e9e33c0be51",
            "an empty body signs the timestamp and the dot");
}

static void accepts_the_right_signature(void) {
  CHECK_STR(check(SECRET, TS, SIG, BODY, NOW), NULL, "the right signature is accepted");
  CHECK_STR(check(SECRET, TS, "SHA256=25CD594A20767BA2A1995111AA96D74EE052D6511A4521F6F12DBE11EA7410AB",
                  BODY, NOW),
            NULL, "upper-case hex is the same signature");
  CHECK_STR(check(SECRET, TS, SIG, BODY, NOW + 299), NULL, "4 minutes 59 late is accepted");
  CHECK_STR(check(SECRET, TS, SIG, BODY, NOW - 300), NULL, "5 minutes early is accepted");
}

static void refuses_what_is_wrong(void) {
  CHECK_HAS(check(SECRET, TS, SIG, "{\"from\":\"+15550001\",\"text\":\"hj\"}", NOW),
            "does not match", "a changed body is refused");
  CHECK_HAS(check("whsec-abd", TS, SIG, BODY, NOW), "does not match",
            "another secret's signature is refused");
  CHECK_HAS(check(SECRET, "1767225601", SIG, BODY, NOW), "does not match",
            "a changed timestamp is refused");
  CHECK_HAS(check(SECRET, TS, SIG, BODY, NOW + 301), "5 minutes",
            "a replay after the tolerance is refused");
  CHECK_HAS(check(SECRET, TS, SIG, BODY, NOW - 301), "5 minutes",
            "a timestamp from the future is refused");
  CHECK_HAS(check(SECRET, NULL, SIG, BODY, NOW), "X-Parley-Timestamp",
            "no timestamp is refused");
  CHECK_HAS(check(SECRET, "17672256OO", SIG, BODY, NOW), "seconds since 1970",
            "a timestamp that is not a number is refused");
  CHECK_HAS(check(SECRET, "-1767225600", SIG, BODY, NOW), "seconds since 1970",
            "a negative timestamp is refused");
  CHECK_HAS(check(SECRET, TS, NULL, BODY, NOW), "missing", "no signature is refused");
  CHECK_HAS(check(SECRET, TS, "sha256=25cd", BODY, NOW), "does not match",
            "a short signature is refused");
  CHECK_HAS(check(SECRET, TS, SIG "00", BODY, NOW), "does not match",
            "a long signature is refused");
  CHECK_HAS(check(SECRET, TS, SIG + 7, BODY, NOW), "does not match",
            "the hex without sha256= is refused");
  CHECK_HAS(check(NULL, TS, SIG, BODY, NOW), "not configured",
            "without a secret nothing is accepted");
  char empty_sig[WEBHOOK_SIGNATURE_SIZE];
  webhook_sign("", TS, BODY, strlen(BODY), empty_sig);
  CHECK_HAS(check("", TS, empty_sig, BODY, NOW), "not configured",
            "an empty secret accepts nothing, even its own signature");
}

/* What a server can refuse before reading the body: the same sentences. */
static void headers_alone_refuse_what_no_body_can_fix(void) {
  CHECK_STR(webhook_headers_problem(SECRET, TS, SIG, NOW), NULL,
            "a well-formed signature within the tolerance may match a body");
  CHECK_STR(webhook_headers_problem(
                SECRET, TS, "sha256=" "0000000000000000000000000000000000000000000000000000000000000000",
                NOW),
            NULL, "a wrong signature of the right form needs the body to be refused");
  CHECK_HAS(webhook_headers_problem(SECRET, TS, SIG, NOW + 301), "5 minutes",
            "an old timestamp is refused from the headers");
  CHECK_HAS(webhook_headers_problem(NULL, TS, SIG, NOW), "not configured",
            "no secret is refused from the headers");
  CHECK_HAS(webhook_headers_problem(SECRET, NULL, SIG, NOW), "X-Parley-Timestamp",
            "no timestamp is refused from the headers");
  CHECK_HAS(webhook_headers_problem(SECRET, TS, "sha256=25cd", NOW), "does not match",
            "a short signature is refused from the headers");
  CHECK_HAS(webhook_headers_problem(SECRET, TS, SIG + 7, NOW), "does not match",
            "the hex without sha256= is refused from the headers");
  CHECK_HAS(webhook_headers_problem(SECRET, TS, "sha256=zz" "00000000000000000000000000000000000000000000000000000000000000", NOW),
            "does not match", "a signature that is not hex is refused from the headers");
}

static void signs_bodies_with_nul_bytes(void) {
  static const char body[] = {'{', '}', 0, 'x'};
  char a[WEBHOOK_SIGNATURE_SIZE], b[WEBHOOK_SIGNATURE_SIZE];
  webhook_sign(SECRET, TS, body, sizeof body, a);
  webhook_sign(SECRET, TS, body, 2, b);
  CHECK(strcmp(a, b) != 0, "bytes after a NUL are signed too");
  CHECK_STR(webhook_signature_problem(SECRET, TS, a, body, sizeof body, NOW), NULL,
            "and such a body verifies with its length");
}

int main(void) {
  signs_like_an_independent_hmac();
  accepts_the_right_signature();
  refuses_what_is_wrong();
  signs_bodies_with_nul_bytes();
  headers_alone_refuse_what_no_body_can_fix();
  return test_done();
}
