/* gsm: how a UTF-8 text travels as SMS. It picks the encoding (GSM 03.38
 * default alphabet, "GSM-7", when every character is in it or in its
 * extension table; UCS-2 otherwise), counts the units, and packs them into
 * segments the way a carrier does (3GPP TS 23.038 and TS 23.040).
 *
 * - units: septets for GSM-7 (an extension character such as € or { takes
 *   two, ESC + code); UTF-16 code units for UCS-2 (a character outside the
 *   BMP, such as an emoji, takes two, a surrogate pair).
 * - segments: one message holds 160 septets or 70 UTF-16 units; a longer
 *   text is concatenated, and each segment then holds 153 or 67 because of
 *   the User Data Header. An escape pair or a surrogate pair is never split:
 *   if it does not fit, it starts the next segment.
 * - The empty text is GSM-7, 0 units, 1 segment (an empty SMS is still a
 *   message a carrier delivers and bills).
 * - Invalid UTF-8: each byte that does not begin a well-formed sequence
 *   counts as one U+FFFD, which is not GSM-7, so the text is UCS-2.
 * - No character is replaced by a look-alike (no "smart encoding"): one
 *   curly quote, backtick or lowercase ç makes the whole text UCS-2. */
#ifndef PARLEY_GSM_H
#define PARLEY_GSM_H

#include <stddef.h>

typedef enum { GSM_ENCODING_GSM7, GSM_ENCODING_UCS2 } gsm_encoding;

typedef struct gsm_count {
  gsm_encoding encoding;
  int segments;
  long units;
} gsm_count;

/* Counts how a UTF-8 text of len bytes is sent as SMS. utf8 may be NULL
 * when len is 0. */
gsm_count gsm_count_text(const char *utf8, size_t len);

/* "GSM-7" or "UCS-2". */
const char *gsm_encoding_name(gsm_encoding e);

/* Splits a text into its segments: stores the byte offset where segment i
 * begins in starts[i] for the first max segments (segment i ends where
 * segment i + 1 begins, the last at len), and returns the number of
 * segments, which is gsm_count_text(...).segments and may exceed max. A
 * multi-byte character is never cut; an invalid byte is a character of
 * its own. */
size_t gsm_split(const char *utf8, size_t len, size_t *starts, size_t max);

#endif
