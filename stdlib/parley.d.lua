---@meta parley
-- LuaLS annotations for the parley bot API, so editors complete and check
-- bot scripts. Declarations only: the runtime never loads this file (embed.sh
-- skips *.d.lua). Point the language server at it, e.g. in .luarc.json:
--   { "runtime.version": "Lua 5.4", "workspace.library": ["stdlib/parley.d.lua"] }
-- The reference is docs/api.md; the implementation stdlib/internal/sandbox.lua.

-- ---------------------------------------------------------------- values

---What a send returns: "suppressed" when the recipient has opted out and the
---message is not transactional (it is stored, not delivered). "sent" also for
---a message that quiet hours will hold until the morning (decided at commit).
---"queued" when served with a provider: the message waits in the outbox for it.
---@alias SendStatus "sent"|"queued"|"suppressed"

---A handler's return value: a non-empty string or a number is the reply; nil or a
---boolean sends nothing; anything else fails the handler.
---@alias HandlerResult string|number|boolean|nil

---A handler: the contact and the message.
---@alias Handler fun(c: Contact, msg: Message): HandlerResult

---A handler run by a timer (bot.after, bot.at, bot.every) or a drip step's
---call: the contact (nil for a bot's own timer: bot.every, or one created
---outside a conversation; then only send(number, text) can send, and
---returning a string is an error) and the timer's arguments (decoded, or nil).
---A returned string is sent to the contact, held by quiet hours.
---@alias TimerHandler fun(c: Contact?, args: any): HandlerResult

---A duration: "90s", "15m", "2h", "3d", "1w", "500ms", combinations like
---"1h30m" (no spaces), or a number of seconds (0 to 100 years). Elapsed
---time: across a DST change the wall-clock hour shifts.
---@alias Duration string|number

---A local time, "YYYY-MM-DD HH:MM" (or "...:SS"), read in a time zone; or
---seconds since 1970. A local time skipped by a DST change is an error; one
---repeated is the second (standard time).
---@alias Time string|number

---A recurring schedule, in the bot's timezone: "daily 09:00", "mon 10:00"
---(mon..sun, monday..sunday), "weekdays 08:30", "weekends 11:00", or
---"every 15m" (a duration of a minute or more).
---@alias Schedule string

---A bot.match handler: the values string.match returned follow msg (the
---captures, or the whole match for a pattern without captures), as the fan
---typed them (the pattern matches the lowercased text).
---@alias MatchHandler fun(c: Contact, msg: Message, ...: string|integer): HandlerResult

---Data that can be stored in c.fields, c.state and bot.store: booleans,
---integers, finite floats, UTF-8 strings (NUL bytes allowed) and tables of
---them (string keys without NUL bytes, or integer keys; no metatables, cycles
---or shared subtables; at most 16 levels and 10,000 keys, 100,000 in bot.store).
---@alias StoredValue boolean|integer|number|string|table<string|integer, any>

---@class SendOptions
---@field transactional? boolean a message the fan asked for (an order confirmation, a code): delivered even after an opt-out, not held by quiet hours
---@field urgent? boolean a message the fan asked for that must not wait for the morning (a code, an appointment reminder): not held by quiet hours; an opted-out fan still gets nothing

---Options of bot.handler and bot.on_event: everything the handler sends is
---so marked (not held by quiet hours; see SendOptions).
---@class HandlerOptions
---@field urgent? boolean
---@field transactional? boolean
---@field media? string|string[] up to 10 http(s) URLs of pictures (MMS): Twilio MediaUrl, the webhook provider's media list, after the text on Kannel

---@class Status
---@field id integer the message's id
---@field status "sent"|"delivered"|"undelivered"|"failed"|"read"
---@field error? string the provider's error code or reason
---@field text string the message's text
---@field provider_id? string the provider's id of the message

---@class Event
---@field type string the event's type, as bot.on_event named it

---@class Click
---@field url string the link's URL
---@field message integer the id of the message the link came in (0: none)
---@field user_agent string what the visitor's browser said it is

---@class Limits
---@field instructions? integer Lua VM instructions per message, a whole number from 1000 to 1e9 (default 10,000,000)
---@field memory? integer|string heap growth per message: bytes, or "512KB", "16MB", "16 MiB" (case-insensitive; 64 KB to 256 MB; default 16 MiB)
---@field time? integer|string wall clock per message: milliseconds, or "500ms", "2s", "0.5s" (case-insensitive; 1 ms to 10 s; default 500 ms)

---@class BotConfig
---@field name? string the display name: in the runtime's compliance texts and {{bot.name}} (default: the folder name)
---@field numbers? string[] the bot's own numbers, E.164 ("+15550100")
---@field help? string the answer to HELP and INFO (sent as is, no templates)
---@field optout_reply? string the confirmation of an opt-out (default: "<name>: you are unsubscribed and will get no more messages. Reply START to resubscribe.")
---@field optin_reply? string the confirmation of an opt-in (default: "<name>: you are subscribed again. Reply STOP to unsubscribe, HELP for help.")
---@field max_message_chars? integer the longest message a handler may send, in characters (UTF-8 code points), 1 to 1600 (default 1600)
---@field limits? Limits per-message limits
---@field timezone? string the bot's IANA time zone, like "America/New_York" (checked): bot.every, a broadcast's at, and contacts without a zone of their own (default "UTC")
---@field quiet_hours? string[]|false {"HH:MM", "HH:MM"}: sends that do not answer the fan (timers, drips, events, broadcasts, send to others) and are not marked urgent or transactional, inside this window of the recipient's zone, wait for its end; false (or two equal times): none (default {"21:00", "09:00"})
---@field late_after? string a duration like "6h": after downtime, a timer more than this late is skipped (status "skipped") instead of run (default: none)
---@field broadcast_rate? number messages per second of a broadcast without its own rate, above 0 and at most 1000 (default 10)
---@field max_segments? integer parley check warns about drip texts longer than this many SMS segments (default 3)
---@field http? HttpConfig what http.get/http.post may do

---@class HttpConfig
---@field allow? string[] host names the bot may reach ("api.example.com"; "*.example.com": any host under it, not example.com itself); none: no requests
---@field timeout? string|number default timeout per request: "10s", "500ms" or seconds, 1 ms to 60 s (default 10 s)
---@field max_bytes? integer|string the largest response body kept: bytes or "1MB" (1 byte to 16 MB; default 1 MB)

-- ---------------------------------------------------------------- message

---The inbound message. A plain table: changing it changes nothing.
---@class Message
---@field text string the message as sent
---@field from string the fan's number, E.164 (the same as c.number)
---@field to string? the bot's number it was sent to; nil in the simulator and in transcripts
---@field id string|integer the provider's message id, or the runtime's own id
---@field at integer when it was handled, seconds since 1970
---@field media table attachments; with none (always, today) one empty, read-only list shared by every call

-- ---------------------------------------------------------------- contact

---The fan a message is from. Change fields, state and tags in place; they are
---saved when the handler returns (or not at all if it fails).
---@class Contact
---@field number string the fan's number, E.164
---@field opted_out boolean true only inside bot.on_optout
---@field is_new boolean true until an ordinary message of this contact has been handled without an error (the message on_join gets)
---@field timezone string? the contact's own time zone, or nil; assigning an IANA name stores it when the handler returns (checked then). Quiet hours, bot.at times and drip dates use it; without one, the zone of the number's country (when it has one), else the bot's
---@field fields table<string, StoredValue> profile data, at most 16 KiB encoded; must stay a table
---@field state table<string|integer, StoredValue> conversation data, at most 64 KiB encoded; must stay a table
---@field tags table<string, true> a set of tag names
local Contact = {}

---Sends text to the fan now, before the handler's return value. Templates
---({{fields.x}}, {{tags.x}}, {{number}}, {{bot.name}}) expand, and
---{{url fields.x}} inserts the value percent-encoded for a URL; any other
---{{...}} (c.state included) stays as written. At most max_message_chars
---characters, 50 messages per handler call.
---@param text string|number
---@param opts? SendOptions in a timer's or event's handler, { urgent = true } is not held by quiet hours
---@return SendStatus
function Contact:reply(text, opts) end

---Passes the message on from bot.on_join: `return c:continue()` routes it to
---keywords, the pending expect, hear, match and fallback, as for a contact it
---is not the first message of. Only bot.on_join may return it.
---@return any
function Contact:continue() end

---Sends text to the fan, optionally as a transactional or urgent message.
---@param text string|number
---@param opts? SendOptions
---@return SendStatus
function Contact:send(text, opts) end

---Routes the fan's next message (unless it is a compliance word or a keyword)
---to the handler registered with bot.handler(name, ...). Without a name,
---clears the pending expectation.
---@param name? string
function Contact:expect(name) end

---Hands the conversation to a person (the console's "needs a person"
---queue): from the next message on, the fan's messages reach no handler
---until a person hands it back (bot.on_handback). Compliance keywords
---still work; timers, drips and events of the contact go on. Recorded
---when the handler returns, with its other changes.
---@param opts? { reason?: string } why, as the console shows it (500 bytes at most)
function Contact:handoff(opts) end

---A tracked short link to url for this contact (BASE/l/CODE): the same code
---for the same URL within one handler, bound to the first of the handler's
---messages that carries it; a person's visit runs bot.on_click. In a text,
---{{link "URL"}} does the same.
---@param url string http or https, at most 2048 bytes
---@return string
function Contact:link(url) end

---Adds tags (the same as c.tags.name = true).
---@param ... string
function Contact:tag(...) end

---Removes tags (the same as c.tags.name = nil).
---@param ... string
function Contact:untag(...) end

---@param name string
---@return boolean
function Contact:has_tag(name) end

---Enrolls the contact in a drip registered with bot.drip; restarts it from
---the first step if the contact is already enrolled. Returns the id of the
---first step's timer that can still come, or nil when none can (every step
---counts from a date field that has passed, is missing or is not a date).
---@param name string
---@return integer?
function Contact:start_drip(name) end

---Ends the contact's enrollment in a drip (an opt-out ends all of them).
---@param name string
function Contact:stop_drip(name) end

-- ---------------------------------------------------------------- time

---A step of a drip: what (exactly one of text or call) and when.
---@class DripStep
---@field text? string sent to the contact; templates expand when it is sent
---@field call? string a bot.handler called as fn(c, args); a string it returns is sent
---@field args? any the args given to call
---@field after? Duration after the previous step was due (or the start, for the first step or with from = "start"); with of, after the date
---@field from? "previous"|"start" what after counts from (default "previous")
---@field before? Duration before the date in the field named by of
---@field of? string a date field, "fields.appointment_at", holding "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" in the contact's zone; a step counted from it that has passed is skipped
---@field at? string "HH:MM": at that wall-clock time on the day the step falls, in the contact's zone
---@field urgent? boolean not held by quiet hours (a reminder the contact asked for); an opted-out contact gets nothing. parley check warns about a step counted from a date field (without at), or at a time inside quiet hours, that is not marked
---@field transactional? boolean not held by quiet hours, as SendOptions.transactional

---@class DripOptions
---@field stop_on_reply? boolean any message from the contact that reaches the script ends the enrollment
---@field stop_on? "optout" always implied: an opt-out ends every drip

---A range of a field's values in a segment: numbers (min, max, inclusive)
---or dates ("YYYY-MM-DD", with " HH:MM"; after inclusive, before exclusive).
---@class SegmentRange
---@field min? number
---@field max? number
---@field after? string
---@field before? string

---A segment: contacts matching every key. Any other key is a field name
---compared exactly with a string, number or boolean: { city = "Austin" },
---or a range: { age = { min = 18 }, birthday = { before = "2008-12-05" } }.
---@class Segment
---@field tags? string|string[] contacts having every one of these tags
---@field status? "subscribed"|"not_opted_in"|"opted_out"
---@field joined_after? string|number first seen at or after: "YYYY-MM-DD" (or with "HH:MM") in the bot's zone, or seconds
---@field joined_before? string|number first seen before
---@field clicked? string|true a person clicked a tracked link of the contact's to this URL (true: any)
---@field [string] string|number|boolean|SegmentRange

---A contact as bot.contacts gives it: a copy (changing it changes nothing).
---@class ContactView
---@field id integer
---@field number string
---@field status "subscribed"|"not_opted_in"|"opted_out" not_opted_in: never texted the bot and never gave consent (imported without evidence, or created by an event or a send): no broadcasts
---@field opted_out boolean
---@field fields table<string, StoredValue>
---@field tags table<string, true>
---@field timezone string? the contact's own zone, if it has one
---@field first_seen integer seconds since 1970

---@class Broadcast
---@field segment? Segment the recipients (default: every contact)
---@field text string sent to each, with their own templates expanded ({{fields.city}})
---@field at? Time when the first recipient's turn comes: seconds, or "YYYY-MM-DD HH:MM" in the bot's zone (default now)
---@field rate? number messages per second, above 0 and at most 1000 (default bot.config broadcast_rate, 10)

---@class BroadcastStatus
---@field status "scheduled"|"running"|"done"
---@field sent integer
---@field held integer held by the recipients' quiet hours (released later)
---@field suppressed integer recipients who had opted out
---@field failed integer
---@field not_opted_in integer recipients skipped: they never opted in (imported without evidence)

-- ---------------------------------------------------------------- bot

---The bot API. Registration functions (config, keyword, hear, match, handler,
---fallback, on_join, on_optout, on_optin, every, drip) work only at the top
---level of the script; now, log, store, after, at, cancel, contacts,
---broadcast and broadcast_status only inside handlers.
---@class Bot
---@field store table<string|integer, StoredValue> data shared by every conversation of the bot, at most 1 MiB encoded and 100,000 keys; handlers only
---@field env table<string, string> the bot's settings and secrets (API keys, a staff number), read-only: `bot.env.API_KEY` is a string or nil. Given outside the code: `env.API_KEY = ...` under `[bot NAME]` in the config file, `PARLEY_BOT_<BOT>_API_KEY` in the environment (wins), `parley sim --env API_KEY=...`, a transcript's `@env API_KEY=...`. Names in any case, `-`/`.` as `_` (api-key is API_KEY); cannot be listed. Every value is a secret: the host masks it as ******** in errors and logs
bot = {}

---Configures the bot. Top level only; may be called more than once.
---@param t BotConfig
function bot.config(t) end

---Answers a whole message: trimmed, case-insensitive, inner whitespace
---collapsed, trailing punctuation ignored. STOP, HELP and the other
---compliance words cannot be keywords.
---@param words string|string[]
---@param fn Handler
function bot.keyword(words, fn) end

---Answers a message containing one of the words (or phrases) as a whole
---word, anywhere, case-insensitive. The first registered rule that matches wins.
---@param words string|string[]
---@param fn Handler
function bot.hear(words, fn) end

---Answers a message whose lowercased text matches the Lua pattern; the
---values of string.match are passed after msg, in the case the fan typed.
---A malformed pattern fails the load, at the script's line.
---@param pattern string
---@param fn MatchHandler
function bot.match(pattern, fn) end

---Registers a named handler: the target of c:expect(name), called as
---fn(c, msg), and of timers and drip steps, called as fn(c, args).
---@param name string letters, digits, _ . -
---@param fn Handler|TimerHandler
---@param opts? HandlerOptions { urgent = true }: what it sends is not held by quiet hours
function bot.handler(name, fn, opts) end

---Gets every message no other rule took.
---@param fn Handler
function bot.fallback(fn) end

---Gets the first message of a contact that reaches the script, before
---keywords (compliance words never do): also for a contact first seen as a
---send() recipient, created by an event, or through HELP/STOP/START.
---`return c:continue()` passes the message on to the rest of the routing.
---@param fn Handler
function bot.on_join(fn) end

---Observes an opt-out (c.opted_out is already true); runs before the
---runtime's confirmation. Its reply and non-transactional sends are
---suppressed (transactional ones are delivered); c:expect has no effect.
---@param fn Handler
function bot.on_optout(fn) end

---Observes an opt-in; runs after the runtime's confirmation.
---@param fn Handler
function bot.on_optin(fn) end

---Handles a triggered event posted to POST /v1/bots/BOT/events (an order
---paid, a code requested) in that contact's conversation; ev has the event's
---data fields and ev.type. One handler per type.
---@param kind string letters, digits, _ . - :
---What it sends is held by quiet hours unless marked (opts, or per send).
---@param fn fun(c: Contact, ev: Event): string|number|nil
---@param opts? HandlerOptions { urgent = true }: what it sends is not held by quiet hours
function bot.on_event(kind, fn, opts) end

---Observes delivery reports of the bot's messages (status callbacks, DLRs,
---and failures the sender gives up on) in the recipient's conversation; a
---report runs it once, when the message moves forward. One per bot.
---@param fn fun(c: Contact, st: Status)
function bot.on_status(fn) end

---Runs when a person hands back a conversation (c:handoff, or taken in the
---console): info.by is who, info.note what they wrote ("" if nothing). What
---it returns or sends goes to the fan. One per bot.
---@param fn fun(c: Contact, info: { by: string, note: string }): string|number|nil
function bot.on_handback(fn) end

---Runs when a person opens one of the contact's tracked links ({{link "URL"}},
---c:link), in that contact's conversation. What it returns or sends answers
---the person (not held by quiet hours). Visits by programs (link previews,
---crawlers) are recorded but do not run it. One per bot.
---@param fn fun(c: Contact, click: Click): string|number|nil
function bot.on_click(fn) end

---The current time, integer seconds since 1970 (the simulated clock in sim
---and test); the same value throughout one message.
---@return integer
function bot.now() end

---Writes one log line: the arguments converted with tostring, joined with
---spaces. Shown also if the handler fails; at most 64 KiB of lines per
---handler call are kept.
---@param ... any
function bot.log(...) end

---Runs the handler named `handler` as fn(c, args) after a duration; c is
---this conversation's contact (nil in a bot's own timer). Stored by name
---with args as JSON (at most 16 KiB): it survives restarts. Handlers only.
---@param duration Duration
---@param handler string
---@param args? any data that can be stored
---@return integer id the timer's id, for bot.cancel
function bot.after(duration, handler, args) end

---Runs the handler at a time: seconds since 1970, or "YYYY-MM-DD HH:MM" in
---the contact's zone (else the bot's). A time in the past is due at once.
---@param time Time
---@param handler string
---@param args? any
---@return integer id
function bot.at(time, handler, args) end

---A recurring timer of the bot, in its timezone (DST-correct); the handler
---gets c == nil. Top level only. On load, new schedules start, removed ones
---are cancelled, unchanged ones keep their next run; after downtime a
---missed schedule runs once, then continues from the present.
---@param spec Schedule
---@param handler string
function bot.every(spec, handler) end

---Cancels a pending timer by id; unknown or finished ids are ignored.
---@param id integer
function bot.cancel(id) end

---Registers a drip: a series of steps a contact is enrolled in with
---c:start_drip(name). Steps are looked up by name and number when due, so a
---new version of the script applies to future steps. Top level only.
---@param name string
---@param steps DripStep[]
---@param options? DripOptions
function bot.drip(name, steps, options) end

---Iterates the contacts matching a segment, in the order they were first
---seen (the store as of the last commit). Handlers only.
---@param query? Segment
---@return fun(): ContactView?
function bot.contacts(query) end

---Sends a text to every contact of a segment, one recipient per 1/rate
---seconds from `at`, each in their own quiet hours; opted-out recipients are
---counted as suppressed. Resumes after a crash without sending twice.
---Created when the handler commits. Handlers only. At most 10 per handler
---call; the text is valid UTF-8 of at most max_message_chars characters.
---@param t Broadcast
---@return integer id
function bot.broadcast(t) end

---The progress of a broadcast of this bot, or nil for an unknown id.
---@param id integer
---@return BroadcastStatus?
function bot.broadcast_status(id) end

-- ---------------------------------------------------------------- globals

---Sends text to any number. Templates expand without a contact: {{bot.name}}
---expands, {{number}} is empty, {{fields.x}} and {{tags.x}} stay as written.
---A number the bot has never seen becomes a contact (its first message still
---goes to on_join). Returns "suppressed" when that number opted out and the
---message is not transactional. To any number but the conversation's own
---fan, it is held while it is quiet hours for the recipient.
---@param number string E.164, like "+15550199"
---@param text string|number
---@param opts? SendOptions
---@return SendStatus
function send(number, text, opts) end

-- ---------------------------------------------------------------- http

---@class HttpOptions
---@field headers? table<string, string|number> request headers
---@field timeout? string|number this request's timeout: "2s", "500ms" or seconds (1 ms to 60 s)

---@class HttpResponse
---@field status integer the HTTP status (a 404 or 500 is a response too; redirects are not followed)
---@field body string
---@field headers table<string, string> lowercase names
---@field json? any the decoded body when the content type mentions JSON and it parses

---Requests to hosts listed in bot.config{http = {allow = ...}}. The handler
---waits for the response while other conversations run; its own
---conversation's next messages wait for it. Returns the response, or nil
---and why none came (timeout, refused connection, too large, a private
---address). Raises for a host not allowed, a bad URL, option or header
---(Host and framing headers are the runtime's), more than 20 requests in
---one handler, too many handlers waiting, a call at the top level, or from
---inside a coroutine, a table.sort comparison or a metamethod called from C.
---After a crash a waiting handler runs again from the start: a request may
---be made twice. Handlers only.
http = {}

---@param url string http or https
---@param opts? HttpOptions
---@return HttpResponse? response
---@return string? reason
function http.get(url, opts) end

---@param url string http or https
---@param body? string|table a table is sent as JSON (Content-Type: application/json); nil: empty
---@param opts? HttpOptions
---@return HttpResponse? response
---@return string? reason
function http.post(url, body, opts) end

-- ---------------------------------------------------------------- date

---Seconds since 1970 (as bot.now() gives them), from year 1 to 9999, that
---is from -62135596800 to 253402300799. A float is rounded down.
---@alias Seconds integer|number

---An ICU date pattern ("EEE MMM d 'at' h:mm a", "yyyy-MM-dd HH:mm zzz";
---literal text in single quotes) or a style: "short", "medium" (the
---default), "long", "full" (date and time, as the locale writes them),
---"date" (the medium date), "time" (the short time), "iso"
---("2026-03-10T14:30:00-04:00").
---@alias DatePattern string

---@class DateFormatOptions
---@field zone? string an IANA time zone, like "Europe/Paris"
---@field locale? string like "fr_FR" or "de"; default "en_US"

---Calendar amounts, whole numbers, negative to go back. years, months,
---weeks and days keep the wall-clock time in the zone (a day across a DST
---change is 23 or 25 hours; Jan 31 + 1 month is Feb 28 or 29); hours,
---minutes and seconds are exact. Applied largest first.
---@class DateAmounts
---@field years? integer
---@field months? integer
---@field weeks? integer
---@field days? integer
---@field hours? integer
---@field minutes? integer
---@field seconds? integer

---A moment as a zone's calendar and clock show it (the names of os.date's
---"*t").
---@class DateParts
---@field year integer
---@field month integer 1-12
---@field day integer 1-31
---@field hour integer 0-23
---@field min integer
---@field sec integer
---@field wday integer 1 = Sunday ... 7 = Saturday
---@field yday integer 1 = January 1
---@field isdst boolean daylight-saving time is in effect

---Dates and times on ICU's calendar and time-zone data. Every function
---takes and returns seconds since 1970 and works in a time zone: the one
---given, else (in a handler) the contact's (c.timezone, else the zone of
---its number, else the bot's: the zone quiet hours use), else the bot's
---(at the top level: bot.config's timezone so far, else UTC). Bad input (an
---unknown zone, a date that does not exist, a bad pattern or locale) raises
---an error naming it. Each call is charged to the handler's instruction
---budget (date.format 8,000 instructions, 300 when the VM kept a formatter
---for the same pattern, zone and locale; the others 600 to 3,000).
date = {}

---ISO 8601 text -> seconds: "2026-03-10" (the start of that day),
---"2026-03-10T14:30", "2026-03-10 14:30:15" (wall-clock time in the zone),
---with "Z" or an offset ("+05:30", "-0800") the moment itself. A time a DST
---change skips raises; one it repeats is the second (standard time), as in
---bot.at. At most 64 bytes.
---@param text string
---@param zone? string
---@return integer seconds
function date.parse(text, zone) end

---The moment as the pattern writes it, in the zone and locale.
---@param t Seconds
---@param pattern? DatePattern default "medium"
---@param opts? string|DateFormatOptions a zone, or { zone =, locale = }
---@return string
function date.format(t, pattern, opts) end

---t plus calendar amounts, in the zone.
---@param t Seconds
---@param amounts DateAmounts
---@param zone? string
---@return integer seconds
function date.add(t, amounts, zone) end

---@param t Seconds
---@param zone? string
---@return DateParts
function date.parts(t, zone) end

---The day of the week in the zone: 1 (Sunday) to 7 (Saturday), and its
---name as bot.every writes it: "sun", "mon", ... "sat".
---@param t Seconds
---@param zone? string
---@return integer wday
---@return string name
function date.weekday(t, zone) end

---The first moment of t's day in the zone (midnight, or when the clocks
---start that day if a DST change skips midnight).
---@param t Seconds
---@param zone? string
---@return integer seconds
function date.start_of_day(t, zone) end

---Whole years from a birthday to the day `at` (default bot.now(); required
---at the top level) falls on in the zone. A Feb 29 birthday is reached on
---Feb 28 in common years (ICU's calendar, the day date.add({years = 1})
---gives). A birthday after that day raises.
---@param birthday string|Seconds "1990-05-17", or a moment (its day in the zone)
---@param at? Seconds
---@param zone? string
---@return integer years
function date.age(birthday, at, zone) end

-- ---------------------------------------------------------------- math

---math.random as in Lua 5.4 (math.random(), math.random(n), math.random(m, n)).
---Each handler call starts it afresh from the system's random source; in a
---transcript after `@seed N` (`/seed N` in parley sim), from the seed and the
---call's number, so the numbers repeat. Do not use it for secrets an attacker
---sees many of. math.randomseed is not available to bots: it raises.
---@deprecated
---@param x? integer
---@param y? integer
function math.randomseed(x, y) end
