#include "gsm.h"

#include <stdint.h>

#include "util.h"

enum {
  GSM7_SINGLE = 160, /* septets in one message: 140 octets * 8 / 7 */
  GSM7_MULTI = 153,  /* (140 - 6 octets of concatenation UDH) * 8 / 7 */
  UCS2_SINGLE = 70,  /* 140 octets / 2 */
  UCS2_MULTI = 67,   /* (140 - 6) / 2 */
};

/* Stands in the table for septet 0x1B, the escape to the extension table,
 * which is no character; beyond Unicode, so no decoded text matches it. */
#define GSM7_ESCAPE 0x110000u

/* The GSM 7 bit default alphabet, indexed by septet: 3GPP TS 23.038
 * (V16.0.0, section 6.2.1), as mapped to Unicode by the Unicode
 * Consortium's ETSI/GSM0338.TXT; checked against Perl's Encode::GSM0338
 * (which cites TS 23.038 V16.0.0) and Twilio's message-segment-calculator
 * (src/libs/UnicodeToGSM.ts). 0x09 is Ç as in the standard (not ç), 0x24
 * is ¤ and $ is 0x02; there is no backtick. Greek capitals that look like
 * Latin letters (Α, Β, ...) are deliberately not mapped to A, B, ...: a
 * text must arrive as typed. Eight septets a row, as the standard's table. */
/* clang-format off */
static const uint32_t gsm7_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, /* @£$¥èéùì */
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, /* òÇ\nØø\rÅå */
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, /* Δ_ΦΓΛΩΠΨ */
    0x03A3, 0x0398, 0x039E, GSM7_ESCAPE, 0x00C6, 0x00E6, 0x00DF, 0x00C9, /* ΣΘΞ ÆæßÉ */
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, /*  !"#¤%&' */
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, /* ()*+,-./ */
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 01234567 */
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, /* 89:;<=>? */
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* ¡ABCDEFG */
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, /* HIJKLMNO */
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* PQRSTUVW */
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, /* XYZÄÖÑÜ§ */
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* ¿abcdefg */
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, /* hijklmno */
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* pqrstuvw */
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, /* xyzäöñüà */
};
/* clang-format on */

/* The basic character set extension (TS 23.038 section 6.2.1.1, same
 * sources): sent as 0x1B then this septet, so each costs two septets. The
 * table's other codes (0x0D CR2, 0x1B SS2) are control codes, no text. */
static const struct {
  unsigned char septet;
  uint32_t cp;
} gsm7_extension[] = {
    {0x0A, 0x000C}, /* form feed */
    {0x14, 0x005E}, /* ^ */
    {0x28, 0x007B}, /* { */
    {0x29, 0x007D}, /* } */
    {0x2F, 0x005C}, /* \ */
    {0x3C, 0x005B}, /* [ */
    {0x3D, 0x007E}, /* ~ */
    {0x3E, 0x005D}, /* ] */
    {0x40, 0x007C}, /* | */
    {0x65, 0x20AC}, /* € */
};

/* Septets cp takes in GSM-7: 1 (basic set), 2 (extension) or 0 (none). */
static int gsm7_septets(uint32_t cp) {
  /* Most ASCII letters, digits and punctuation sit at their own code. */
  if (cp < 128 && gsm7_basic[cp] == cp) return 1;
  for (size_t i = 0; i < sizeof gsm7_basic / sizeof *gsm7_basic; i++)
    if (gsm7_basic[i] == cp) return 1;
  for (size_t i = 0; i < sizeof gsm7_extension / sizeof *gsm7_extension; i++)
    if (gsm7_extension[i].cp == cp) return 2;
  return 0;
}

static int utf16_units(uint32_t cp) {
  return cp >= 0x10000 ? 2 : 1;
}

/* Decodes the character at s[0..n), n >= 1, into *cp and returns its length
 * in bytes. A byte that does not begin a well-formed sequence (a stray
 * continuation, a truncated, overlong or surrogate sequence, beyond
 * U+10FFFF) is one U+FFFD of one byte, so a text never loses a byte. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  size_t len = utf8_char((const char *)s, n, cp);
  if (len) return len;
  *cp = 0xFFFD;
  return 1;
}

/* The encoding and the units of a text; segments is left 0. GSM-7 is
 * decided only after the whole text is read, since one character outside
 * it sends everything as UCS-2. */
static gsm_count measure(const unsigned char *s, size_t len) {
  long septets = 0, units = 0;
  int gsm7 = 1;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    i += utf8_decode(s + i, len - i, &cp);
    int w = gsm7_septets(cp);
    if (w == 0) gsm7 = 0;
    septets += w;
    units += utf16_units(cp);
  }
  if (gsm7) return (gsm_count){GSM_ENCODING_GSM7, 0, septets};
  return (gsm_count){GSM_ENCODING_UCS2, 0, units};
}

/* Packs the characters into segments of at most cap units, a character
 * that does not fit whole starting the next segment (an escape or a
 * surrogate pair cannot be split: the receiver would decode the halves as
 * other characters). Records the first max starts; returns the count. */
static size_t pack(const unsigned char *s, size_t len, gsm_encoding e, long cap,
                   size_t *starts, size_t max) {
  size_t segments = 1;
  long used = 0;
  if (max > 0) starts[0] = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(s + i, len - i, &cp);
    int w = e == GSM_ENCODING_GSM7 ? gsm7_septets(cp) : utf16_units(cp);
    if (used + w > cap) {
      if (segments < max) starts[segments] = i;
      segments++;
      used = 0;
    }
    used += w;
    i += n;
  }
  return segments;
}

/* Segments of a measured text: one if it fits a single message (no header
 * needed), else packed into concatenated segments. */
static size_t segment(const unsigned char *s, size_t len, gsm_count c, size_t *starts,
                      size_t max) {
  int gsm7 = c.encoding == GSM_ENCODING_GSM7;
  long single = gsm7 ? GSM7_SINGLE : UCS2_SINGLE;
  long multi = gsm7 ? GSM7_MULTI : UCS2_MULTI;
  if (c.units <= single) {
    if (max > 0) starts[0] = 0;
    return 1;
  }
  return pack(s, len, c.encoding, multi, starts, max);
}

gsm_count gsm_count_text(const char *utf8, size_t len) {
  const unsigned char *s = (const unsigned char *)utf8;
  gsm_count c = measure(s, len);
  c.segments = (int)segment(s, len, c, NULL, 0);
  return c;
}

size_t gsm_split(const char *utf8, size_t len, size_t *starts, size_t max) {
  const unsigned char *s = (const unsigned char *)utf8;
  return segment(s, len, measure(s, len), starts, max);
}

const char *gsm_encoding_name(gsm_encoding e) {
  return e == GSM_ENCODING_GSM7 ? "GSM-7" : "UCS-2";
}
