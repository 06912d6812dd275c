/* channel: where a contact writes from, read off its address.
 *
 * A contact's address (c.number, the store's contacts.number) names its
 * channel, as Twilio's WhatsApp numbers do:
 *
 *   +15550001            SMS (E.164)
 *   whatsapp:+15550001   WhatsApp (the same E.164 number, its wa_id)
 *   messenger:PSID       Messenger (the page-scoped id: digits)
 *   instagram:IGSID      Instagram messaging (its scoped id: digits)
 *
 * So one person who writes on SMS and on WhatsApp is two contacts, each
 * with its own conversation and consent, each answered on the channel it
 * wrote from. Nothing else is stored: the address says it all. */
#ifndef PARLEY_CHANNEL_H
#define PARLEY_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  CHANNEL_SMS,
  CHANNEL_WHATSAPP,
  CHANNEL_MESSENGER,
  CHANNEL_INSTAGRAM,
  CHANNEL_COUNT
} channel;

/* The channel of an address (SMS unless it has another's prefix). */
channel channel_of(const char *address);
/* "sms", "whatsapp", "messenger", "instagram". */
const char *channel_name(channel ch);
/* The channel of that name, or -1. */
int channel_named(const char *name);
/* The address's prefix for the channel: "" (SMS), "whatsapp:", ... */
const char *channel_prefix(channel ch);
/* The address without its channel's prefix: the E.164 number (SMS,
 * WhatsApp) or the scoped id. */
const char *channel_id(const char *address);
/* 1 if the address has a phone number (SMS, WhatsApp): time zones,
 * regions and country rules read channel_id. */
int channel_has_number(channel ch);
/* 1 if address is one a contact can have: an E.164 number of min_digits
 * to 15 digits after its '+' (SMS, after "whatsapp:"), or 1 to 20 digits
 * after "messenger:" or "instagram:". */
int channel_address_ok(const char *address, int min_digits);
/* The length of the address at the start of s, if one is there and ends
 * there (a space, a tab or the end follows), else 0. */
size_t channel_address_len(const char *s, int min_digits);

/* The longest text one message may have on the channel, in characters
 * (0: the bot's max_message_chars, SMS's concatenated messages). */
int channel_max_chars(channel ch);
/* 1 if the channel only takes free-form messages within a window after
 * the contact's last message (Meta's customer service window). */
int channel_has_window(channel ch);
/* That window, in ms (24 hours). */
#define CHANNEL_WINDOW_MS ((int64_t)24 * 3600 * 1000)
/* 1 if segments and GSM-7 rules apply (SMS only). */
int channel_counts_segments(channel ch);

#endif
