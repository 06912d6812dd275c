/* Unit tests for runtime/core/channel.h: a contact's channel read off its
 * address, and which addresses are well formed.
 *
 *   make build/test_channel && ./build/test_channel */
#include "channel.h"
#include "test.h"

static void test_channel_of_addresses(void) {
  static const struct {
    const char *address;
    channel ch;
    const char *id;
  } cases[] = {
      {"+15550001", CHANNEL_SMS, "+15550001"},
      {"whatsapp:+15550001", CHANNEL_WHATSAPP, "+15550001"},
      {"messenger:1234567890123456", CHANNEL_MESSENGER, "1234567890123456"},
      {"instagram:17841400000000000", CHANNEL_INSTAGRAM, "17841400000000000"},
      {"WhatsApp:+15550001", CHANNEL_SMS, "WhatsApp:+15550001"}, /* prefixes are exact */
      {"whatsapp+15550001", CHANNEL_SMS, "whatsapp+15550001"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    channel ch = channel_of(cases[i].address);
    const char *id = channel_id(cases[i].address);
    if (!test_result(ch == cases[i].ch && strcmp(id, cases[i].id) == 0,
                     "%s is on %s, id %s", cases[i].address, channel_name(cases[i].ch),
                     cases[i].id))
      test_note("got %s, id %s", channel_name(ch), id);
  }
  test_result(channel_of(NULL) == CHANNEL_SMS, "no address is SMS");
}

static void test_names_round_trip(void) {
  int all = 1;
  for (int ch = 0; ch < CHANNEL_COUNT; ch++)
    all &= channel_named(channel_name((channel)ch)) == ch;
  test_result(all, "every channel's name names it");
  test_result(channel_named("telegram") == -1 && channel_named(NULL) == -1,
              "an unknown name is -1");
  test_result(strcmp(channel_prefix(CHANNEL_SMS), "") == 0 &&
                  strcmp(channel_prefix(CHANNEL_WHATSAPP), "whatsapp:") == 0,
              "SMS has no prefix; WhatsApp's is whatsapp:");
}

static void test_well_formed_addresses(void) {
  static const struct {
    const char *address;
    int ok;
  } cases[] = {
      {"+15550001", 1},
      {"+123", 1},              /* 3 digits: the least with min_digits 3 */
      {"+12", 0},
      {"+123456789012345", 1},  /* 15 digits: E.164's most */
      {"+1234567890123456", 0}, /* 16 */
      {"15550001", 0},
      {"+1555 0001", 0},
      {"whatsapp:+15550001", 1},
      {"whatsapp:15550001", 0}, /* a wa_id without '+' is not an address */
      {"whatsapp:", 0},
      {"messenger:1", 1},
      {"messenger:12345678901234567890", 1},
      {"messenger:123456789012345678901", 0},
      {"messenger:+15550001", 0},
      {"messenger:abc", 0},
      {"instagram:17841400000000000", 1},
      {"", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    test_result(channel_address_ok(cases[i].address, 3) == cases[i].ok, "'%s' is %s",
                cases[i].address, cases[i].ok ? "an address" : "not an address");
  test_result(!channel_address_ok("+1234", 5) && channel_address_ok("+12345", 5),
              "min_digits is the least number of digits");
  test_result(!channel_address_ok(NULL, 3), "NULL is not an address");
}

static void test_address_at_the_start_of_a_line(void) {
  test_result(channel_address_len("whatsapp:+15550001 hello", 4) == 18,
              "an address followed by a space: its length");
  test_result(channel_address_len("+15550001\tx", 4) == 9, "followed by a tab");
  test_result(channel_address_len("+15550001", 4) == 9, "followed by the end");
  test_result(channel_address_len("+15550001x", 4) == 0, "followed by a letter: none");
  test_result(channel_address_len("+1 hello", 4) == 0, "too short: none");
  test_result(channel_address_len("hello", 4) == 0, "text: none");
}

static void test_rules_per_channel(void) {
  test_result(channel_max_chars(CHANNEL_SMS) == 0 &&
                  channel_max_chars(CHANNEL_WHATSAPP) == 4096 &&
                  channel_max_chars(CHANNEL_MESSENGER) == 2000 &&
                  channel_max_chars(CHANNEL_INSTAGRAM) == 1000,
              "the longest text: the bot's on SMS, 4096 on WhatsApp, 2000 on Messenger, 1000 "
              "on Instagram");
  test_result(!channel_has_window(CHANNEL_SMS) && channel_has_window(CHANNEL_WHATSAPP) &&
                  channel_has_window(CHANNEL_MESSENGER) &&
                  channel_has_window(CHANNEL_INSTAGRAM),
              "Meta's channels have a customer service window, SMS none");
  test_result(channel_counts_segments(CHANNEL_SMS) &&
                  !channel_counts_segments(CHANNEL_WHATSAPP),
              "segments are counted on SMS only");
  test_result(channel_has_number(CHANNEL_WHATSAPP) && !channel_has_number(CHANNEL_MESSENGER),
              "a WhatsApp address has a phone number, a Messenger one does not");
  test_result(CHANNEL_WINDOW_MS == 86400000, "the window is 24 hours");
}

int main(void) {
  test_channel_of_addresses();
  test_names_round_trip();
  test_well_formed_addresses();
  test_address_at_the_start_of_a_line();
  test_rules_per_channel();
  return test_done();
}
