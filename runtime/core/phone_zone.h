/* phone_zone: the time zone a phone number's area code or country implies,
 * as the default for a contact whose script has not set one (the caller falls
 * back to the bot's zone when this says "unknown").
 *
 * No table of our own: libphonenumber (Debian's libphonenumber-dev) says
 * which country or territory a number belongs to and whether it has an area,
 * upstream libphonenumber's prefix -> time-zone map (shipped in Debian's
 * python3-phonenumbers, turned into $(B)/phone_tz_data.h at build time by
 * runtime/core/gen_phone_tz.py) says which zone its area code is in, and ICU's
 * time-zone data (the tz database plus CLDR, as runtime/core/clock.c uses it) says
 * which zones the country has. See runtime/core/phone_zone.cc for what this can
 * and cannot infer: in short, the area's zone where the map gives exactly one
 * (+1 212 -> America/New_York, +34 928 -> Atlantic/Canary), else a zone for
 * every country with one time, and nothing for the rest (mobile numbers in
 * RU or AU, areas the map gives several zones). */
#ifndef PARLEY_PHONE_ZONE_H
#define PARLEY_PHONE_ZONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The IANA time zone a phone number most likely belongs to, written to zone
 * (e.g. "Europe/Paris", "America/Chicago"). Returns 1 when the number's area
 * code or, failing that, its country determines one zone, 0 otherwise
 * (unknown, ambiguous, or not a valid number). Thread-safe.
 *
 * The name is ICU's canonical ID, which clock_valid_zone() accepts; for a few
 * zones it is the older tz name ICU keeps (Asia/Calcutta for Asia/Kolkata,
 * Europe/Kiev for Europe/Kyiv). On 0, or when the name does not fit in n
 * bytes, zone is set to "" (when n > 0) and 0 is returned. */
int phone_zone_for(const char *e164, char *zone, size_t n);

/* The region (ISO 3166 country or territory code, "US", "CA", "JM", "GB")
 * libphonenumber assigns to a valid number, written to region. Returns 1,
 * or 0 with region "" for an invalid number or one that belongs to no
 * region (non-geographic codes such as +800). Thread-safe. */
int phone_region_for(const char *e164, char *region, size_t n);

#ifdef __cplusplus
}
#endif

#endif
