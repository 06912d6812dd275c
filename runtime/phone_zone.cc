// phone_zone: a phone number's country -> that country's time zone, from
// libphonenumber (number -> region) and ICU (region -> zones). C++ because
// libphonenumber is; the interface in phone_zone.h is plain C.
//
// What the libraries can and cannot tell (Debian 12: libphonenumber 8.12.57,
// ICU 72.1; the lists below follow their data and move with it):
//
// - libphonenumber's C++ library has no time-zone mapper. Upstream's
//   PhoneNumberToTimeZonesMapper (prefix -> zones, e.g. +1 212 ->
//   America/New_York) exists only in Java (and the Python port); Debian's C++
//   package ships neither it nor its "timezones" data, and its Java jar has the
//   class but an empty data folder. The offline geocoder (libgeocoding) gives
//   place names in words ("New York, NY"), not zones. So this knows the
//   country (region) of a number, never its area.
// - ICU lists each region's canonical zones (aliases and links dropped). A
//   number gets a zone when its region has:
//   * exactly one zone: 213 of the 245 regions libphonenumber supports, among
//     them FR, GB, IT, NL, JP, IN, the NANP islands (JM, PR, BS, ...) and the
//     territories with their own code or number range (GG, JE, IM, VA, ...);
//   * several zones that keep the same clock for the coming year, and CLDR
//     names one of them: DE (Europe/Berlin, not Busingen), MY, UZ and MH
//     through CLDR's primary zones; AR (America/Buenos_Aires) and CY
//     (Asia/Nicosia) through the zone CLDR's metazone takes as the region's
//     reference.
// - Every other number is "unknown" (0), so the bot's zone applies:
//   * countries whose zones differ (no area-code data to choose): US, CA, MX,
//     BR, AU, RU, KZ, ID, CN (Urumqi), ES (Canary Islands), PT (Azores),
//     UA (Crimea), CL, EC, NZ (Chatham), CD, GL, MN, KI, FM, PF, PG;
//   * PS: its zones agree, but CLDR names none of them;
//   * AC, TA (Ascension, Tristan da Cunha) and XK (Kosovo), for which ICU
//     has no zone of the region's own;
//   * non-geographic numbers (+800, +808, +870, +881, +882, +883, +888,
//     +979: region "001") and invalid numbers.
// A region's answer is worked out once per process (ICU data only changes with
// an upgrade) and kept under a mutex; numbers are parsed on each call.

#include "phone_zone.h"

#include <phonenumbers/phonenumberutil.h>
#include <unicode/basictz.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>
#include <unicode/tznames.h>
#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ures.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// How far ahead two zones must agree to count as one clock.
constexpr double kAgreeMs = 366.0 * 24 * 3600 * 1000;

std::string utf8(const icu::UnicodeString &s) {
  std::string out;
  return s.toUTF8String(out);
}

// The region's canonical location zones, as ICU lists them.
std::vector<std::string> region_zones(const char *region) {
  std::vector<std::string> zones;
  UErrorCode status = U_ZERO_ERROR;
  UEnumeration *e = ucal_openTimeZoneIDEnumeration(
      UCAL_ZONE_TYPE_CANONICAL_LOCATION, region, nullptr, &status);
  if (U_FAILURE(status)) return zones;
  const char *id;
  int32_t len;
  while ((id = uenum_next(e, &len, &status)) && U_SUCCESS(status))
    zones.emplace_back(id, static_cast<size_t>(len));
  uenum_close(e);
  return zones;
}

// True when every zone has the same offsets and transitions as the first
// from now until a year from now.
bool zones_agree(const std::vector<std::string> &zones) {
  UDate now = ucal_getNow();
  std::unique_ptr<icu::TimeZone> first(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(zones[0])));
  auto *a = dynamic_cast<icu::BasicTimeZone *>(first.get());
  if (!a) return false;
  for (size_t i = 1; i < zones.size(); i++) {
    std::unique_ptr<icu::TimeZone> other(
        icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(zones[i])));
    auto *b = dynamic_cast<icu::BasicTimeZone *>(other.get());
    UErrorCode status = U_ZERO_ERROR;
    if (!b || !a->hasEquivalentTransitions(*b, now, now + kAgreeMs, false,
                                           status) ||
        U_FAILURE(status))
      return false;
  }
  return true;
}

// CLDR's primary zone for a region with several ("DE" -> Europe/Berlin), or "".
std::string primary_zone(const char *region) {
  std::string zone;
  UErrorCode status = U_ZERO_ERROR;
  UResourceBundle *meta = ures_openDirect(nullptr, "metaZones", &status);
  UResourceBundle *primary = ures_getByKey(meta, "primaryZones", nullptr,
                                           &status);
  int32_t len = 0;
  const UChar *s = ures_getStringByKey(primary, region, &len, &status);
  if (U_SUCCESS(status)) zone = utf8(icu::UnicodeString(s, len));
  ures_close(primary);
  ures_close(meta);
  return zone;
}

// The zones CLDR's metazones take as the region's reference ("AR": the
// Argentina metazone -> America/Buenos_Aires), kept only when they are the
// region's own; the one such zone, or "".
std::string reference_zone(const char *region,
                           const std::vector<std::string> &zones) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::TimeZoneNames> names(
      icu::TimeZoneNames::createInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status) || !names) return "";
  std::set<std::string> own(zones.begin(), zones.end()), found;
  UDate now = ucal_getNow();
  for (const std::string &z : zones) {
    icu::UnicodeString meta, ref;
    names->getMetaZoneID(icu::UnicodeString::fromUTF8(z), now, meta);
    if (meta.isEmpty()) continue;
    names->getReferenceZoneID(meta, region, ref);
    std::string r = utf8(ref);
    if (own.count(r)) found.insert(r);
  }
  return found.size() == 1 ? *found.begin() : "";
}

// The one zone a region's numbers get, or "" (see the comment at the top).
std::string zone_for_region(const std::string &region) {
  if (region.size() != 2 || region == "ZZ") return "";
  std::vector<std::string> zones = region_zones(region.c_str());
  if (zones.size() == 1) return zones[0];
  if (zones.empty() || !zones_agree(zones)) return "";
  std::string z = primary_zone(region.c_str());
  for (const std::string &own : zones)
    if (own == z) return z;
  return reference_zone(region.c_str(), zones);
}

std::mutex cache_lock;
// region -> zone ("" = none); never freed, so a late caller cannot race exit.
std::map<std::string, std::string> *cache;

std::string cached_zone(const std::string &region) {
  std::lock_guard<std::mutex> hold(cache_lock);
  if (!cache) cache = new std::map<std::string, std::string>;
  auto it = cache->find(region);
  if (it != cache->end()) return it->second;
  std::string zone = zone_for_region(region);
  (*cache)[region] = zone;
  return zone;
}

// The region of a valid number with one, else "".
std::string region_of(const char *e164) {
  if (!e164 || !*e164) return "";
  const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(e164, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util->IsValidNumber(number))
    return "";
  std::string region;
  util->GetRegionCodeForNumber(number, &region);
  if (region.size() != 2 || region == "ZZ") return "";  // "001": no region
  return region;
}

int put(const std::string &value, char *out, size_t n) {
  if (!out || n == 0) return 0;
  if (value.empty() || value.size() >= n) {
    out[0] = 0;
    return 0;
  }
  std::memcpy(out, value.c_str(), value.size() + 1);
  return 1;
}

}  // namespace

extern "C" int phone_region_for(const char *e164, char *region, size_t n) {
  try {
    return put(region_of(e164), region, n);
  } catch (...) {  // no C++ exception may cross into C
    return put("", region, n);
  }
}

extern "C" int phone_zone_for(const char *e164, char *zone, size_t n) {
  try {
    std::string region = region_of(e164);
    return put(region.empty() ? "" : cached_zone(region), zone, n);
  } catch (...) {
    return put("", zone, n);
  }
}
