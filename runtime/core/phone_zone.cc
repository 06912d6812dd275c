// phone_zone: a phone number -> the time zone its area or country implies,
// from libphonenumber (number -> region and number type), upstream
// libphonenumber's prefix -> time-zone map (area codes), and ICU (region ->
// zones). C++ because libphonenumber is; the interface in phone_zone.h is C.
//
// What each source can and cannot tell (Debian 12: libphonenumber 8.12.57,
// python3-phonenumbers 8.12.57, ICU 72.1; the lists below follow their data
// and move with it):
//
// - Area codes. Debian's C++ libphonenumber has no time-zone mapper and no
//   "timezones" data; upstream's map (E.164 digit prefixes, country code
//   included, -> IANA zones: +1 212 -> America/New_York, +34 928 ->
//   Atlantic/Canary, +7 495 -> Europe/Moscow) ships in Debian's
//   python3-phonenumbers as phonenumbers/tzdata/data0.py. At build time
//   runtime/core/gen_phone_tz.py turns it into $(B)/phone_tz_data.h (generated,
//   never committed, never edited), included below. A valid number uses it
//   as upstream's PhoneNumberToTimeZonesMapper does: the longest prefix of
//   its E.164 digits that the map has, for geographic numbers only
//   (fixed-line, and mobile in the countries whose mobile numbers have area
//   codes, e.g. BR, MX, US: libphonenumber's IsNumberGeographical); other
//   numbers (mobile in RU, AU, ES, ..., toll-free) get the country's zones.
//   The prefix's zone is the answer when all of these hold:
//   * the prefix maps to exactly one zone (not +1 alone, not +44 77 with
//     London, Guernsey and the Isle of Man);
//   * the prefix is longer than the country code: an entry for the code
//     alone says nothing about the area, and the country's answer below is
//     as good or better (+60 is Asia/Kuching alone in the map, where CLDR
//     names Asia/Kuala_Lumpur for Malaysia);
//   * ICU knows the zone and lists it among the region's own (canonical)
//     zones, so a region's territory is not given its neighbour's zone. ICU's
//     canonical ID is returned (the map's Europe/Kyiv -> Europe/Kiev).
//   Otherwise the country decides, as below.
// - Countries. ICU lists each region's canonical zones (aliases and links
//   dropped). A number whose area gives no zone gets one when its region has:
//   * exactly one zone: 213 of the 245 regions libphonenumber supports, among
//     them FR, GB, IT, NL, JP, IN, the NANP islands (JM, PR, BS, ...) and the
//     territories with their own code or number range (GG, JE, IM, VA, ...);
//   * several zones that keep the same clock for the coming year, and CLDR
//     names one of them: DE (Europe/Berlin, not Busingen), MY, UZ and MH
//     through CLDR's primary zones; AR (America/Buenos_Aires) and CY
//     (Asia/Nicosia) through the zone CLDR's metazone takes as the region's
//     reference.
// - Every other number is "unknown" (0), so the bot's zone applies:
//   * numbers of countries whose zones differ, where the area gives no single
//     zone: non-geographic numbers (mobile numbers in RU, AU, ES, ...,
//     toll-free), prefixes the map gives several zones or none (+1 208 2,
//     Idaho: Boise or Los Angeles), and prefixes whose one zone is not the
//     region's (+52 998, Cancun, is America/New_York in the map; +7 40,
//     Crimea, Europe/Bucharest);
//   * PS: its zones agree, but CLDR names none of them;
//   * AC, TA (Ascension, Tristan da Cunha) and XK (Kosovo), for which ICU
//     has no zone of the region's own;
//   * non-geographic numbers (+800, +808, +870, +881, +882, +883, +888,
//     +979: region "001") and invalid numbers.
// A region's answer and zones are worked out once per process (ICU data only
// changes with an upgrade) and kept under a mutex, the map's zone names
// canonicalized once; numbers are parsed on each call, and the prefix lookup
// is at most PHONE_TZ_LONGEST (8) binary searches in a sorted static table.

#include "phone_zone.h"

#include <phonenumbers/phonenumberutil.h>
#include <unicode/basictz.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>
#include <unicode/tznames.h>
#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ures.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

// kTzZones, kTzLists, kTzPrefixes: generated from python3-phonenumbers.
#include "phone_tz_data.h"

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

// What a region's numbers can get: its canonical zones, and the one zone the
// country alone implies ("" when none; see the comment at the top).
struct RegionZones {
  std::vector<std::string> zones;
  std::string zone;
};

RegionZones zones_for_region(const std::string &region) {
  RegionZones r;
  if (region.size() != 2 || region == "ZZ") return r;
  r.zones = region_zones(region.c_str());
  if (r.zones.size() == 1) {
    r.zone = r.zones[0];
  } else if (!r.zones.empty() && zones_agree(r.zones)) {
    std::string z = primary_zone(region.c_str());
    for (const std::string &own : r.zones)
      if (own == z) r.zone = z;
    if (r.zone.empty()) r.zone = reference_zone(region.c_str(), r.zones);
  }
  return r;
}

std::mutex cache_lock;
// region -> its zones; never freed, so a late caller cannot race exit.
std::map<std::string, RegionZones> *cache;

// The region's cached entry (entries are never changed or removed once made,
// so the reference stays good without the lock).
const RegionZones &cached_region(const std::string &region) {
  std::lock_guard<std::mutex> hold(cache_lock);
  if (!cache) cache = new std::map<std::string, RegionZones>;
  auto it = cache->find(region);
  if (it != cache->end()) return it->second;
  return (*cache)[region] = zones_for_region(region);
}

// The map's zone names as ICU's canonical IDs ("" for a name ICU does not
// know), worked out once; never freed.
const std::vector<std::string> *canonical_names;
std::once_flag canonical_once;

const std::vector<std::string> &canonical_zones() {
  std::call_once(canonical_once, [] {
    auto *names = new std::vector<std::string>(PHONE_TZ_ZONES);
    for (size_t i = 0; i < PHONE_TZ_ZONES; i++) {
      icu::UnicodeString canon;
      UBool system = false;
      UErrorCode status = U_ZERO_ERROR;
      icu::TimeZone::getCanonicalID(icu::UnicodeString::fromUTF8(kTzZones[i]),
                                    canon, system, status);
      if (U_SUCCESS(status) && system) (*names)[i] = utf8(canon);
    }
    canonical_names = names;
  });
  return *canonical_names;
}

// The entry of the map's longest prefix of digits (a number's E.164 digits,
// without "+"), or nullptr: a binary search per prefix length, longest first.
const TzPrefix *longest_prefix(const std::string &digits) {
  uint32_t value[PHONE_TZ_LONGEST + 1] = {0};
  size_t longest = 0;
  for (; longest < digits.size() && longest < PHONE_TZ_LONGEST; longest++) {
    char c = digits[longest];
    if (c < '0' || c > '9') break;
    value[longest + 1] = value[longest] * 10 + static_cast<uint32_t>(c - '0');
  }
  const TzPrefix *begin = kTzPrefixes, *end = kTzPrefixes + PHONE_TZ_PREFIXES;
  for (size_t len = longest; len > 0; len--) {
    TzPrefix key = {value[len], static_cast<uint8_t>(len), 0, 0};
    const TzPrefix *it = std::lower_bound(
        begin, end, key, [](const TzPrefix &a, const TzPrefix &b) {
          return a.len != b.len ? a.len < b.len : a.digits < b.digits;
        });
    if (it != end && it->len == len && it->digits == value[len]) return it;
  }
  return nullptr;
}

// A valid number, parsed: its region ("" for none, e.g. +800's "001") and
// type. False for an unparsable or invalid number.
struct Parsed {
  PhoneNumber number;
  PhoneNumberUtil::PhoneNumberType type;
  std::string region;
};

bool parse(const char *e164, Parsed *out) {
  if (!e164 || !*e164) return false;
  const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
  if (util->Parse(e164, "ZZ", &out->number) !=
      PhoneNumberUtil::NO_PARSING_ERROR)
    return false;
  // GetNumberType is UNKNOWN exactly when IsValidNumber is false (both match
  // the national number against the patterns of the region it belongs to);
  // asking for the type saves matching twice.
  out->type = util->GetNumberType(out->number);
  if (out->type == PhoneNumberUtil::UNKNOWN) return false;
  util->GetRegionCodeForNumber(out->number, &out->region);
  if (out->region.size() != 2 || out->region == "ZZ") out->region.clear();
  return true;
}

// The zone the number's area code gives, from the prefix map, or "" (see the
// comment at the top for when it gives one).
std::string area_zone(const Parsed &p, const RegionZones &region) {
  const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
  if (!util->IsNumberGeographical(p.type, p.number.country_code())) return "";
  std::string cc = std::to_string(p.number.country_code()), national;
  util->GetNationalSignificantNumber(p.number, &national);
  const TzPrefix *hit = longest_prefix(cc + national);
  if (!hit || hit->len <= cc.size() || hit->count != 1) return "";
  const std::string &zone = canonical_zones()[kTzLists[hit->first]];
  if (zone.empty()) return "";
  for (const std::string &own : region.zones)
    if (own == zone) return zone;
  return "";
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
    Parsed p;
    return put(parse(e164, &p) ? p.region : "", region, n);
  } catch (...) {  // no C++ exception may cross into C
    return put("", region, n);
  }
}

extern "C" int phone_zone_for(const char *e164, char *zone, size_t n) {
  try {
    Parsed p;
    if (!parse(e164, &p) || p.region.empty()) return put("", zone, n);
    const RegionZones &region = cached_region(p.region);
    std::string area = area_zone(p, region);
    return put(area.empty() ? region.zone : area, zone, n);
  } catch (...) {
    return put("", zone, n);
  }
}
