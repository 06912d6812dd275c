/* channel: a contact's channel, read off its address (channel.h). */
#include "channel.h"

#include <string.h>

static const struct {
  const char *name, *prefix;
  int max_chars;      /* 0: the bot's */
  int has_window;
  int has_number;
} channels[CHANNEL_COUNT] = {
    [CHANNEL_SMS] = {"sms", "", 0, 0, 1},
    /* Cloud API: a text body holds at most 4,096 characters */
    [CHANNEL_WHATSAPP] = {"whatsapp", "whatsapp:", 4096, 1, 1},
    /* Send API: message.text at most 2,000 characters */
    [CHANNEL_MESSENGER] = {"messenger", "messenger:", 2000, 1, 0},
    /* Instagram messaging: at most 1,000 bytes of text */
    [CHANNEL_INSTAGRAM] = {"instagram", "instagram:", 1000, 1, 0},
};

channel channel_of(const char *address) {
  if (!address) return CHANNEL_SMS;
  for (int ch = CHANNEL_SMS + 1; ch < CHANNEL_COUNT; ch++) {
    size_t n = strlen(channels[ch].prefix);
    if (strncmp(address, channels[ch].prefix, n) == 0) return (channel)ch;
  }
  return CHANNEL_SMS;
}

const char *channel_name(channel ch) { return channels[ch].name; }

int channel_named(const char *name) {
  for (int ch = 0; name && ch < CHANNEL_COUNT; ch++)
    if (strcmp(channels[ch].name, name) == 0) return ch;
  return -1;
}

const char *channel_prefix(channel ch) { return channels[ch].prefix; }

const char *channel_id(const char *address) {
  return address + strlen(channels[channel_of(address)].prefix);
}

int channel_has_number(channel ch) { return channels[ch].has_number; }
int channel_max_chars(channel ch) { return channels[ch].max_chars; }
int channel_has_window(channel ch) { return channels[ch].has_window; }
int channel_counts_segments(channel ch) { return ch == CHANNEL_SMS; }

/* The digits at s: how many (0 if none, or more than max). */
static size_t digits(const char *s, size_t max) {
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9')
    if (++n > max) return 0;
  return n;
}

size_t channel_address_len(const char *s, int min_digits) {
  channel ch = channel_of(s);
  size_t pre = strlen(channels[ch].prefix), n;
  const char *id = s + pre;
  if (channels[ch].has_number) {
    if (*id != '+') return 0;
    n = digits(id + 1, 15);
    if (n < (size_t)min_digits) return 0;
    n++; /* the '+' */
  } else if (!(n = digits(id, 20))) {
    return 0;
  }
  char after = id[n];
  return after == 0 || after == ' ' || after == '\t' ? pre + n : 0;
}

int channel_address_ok(const char *address, int min_digits) {
  size_t n = address ? channel_address_len(address, min_digits) : 0;
  return n && !address[n];
}
