---@meta parley
-- LuaLS annotations for the parley bot API, so editors complete and check
-- bot scripts. Declarations only: the runtime never loads this file (embed.sh
-- skips *.d.lua). Point the language server at it, e.g. in .luarc.json:
--   { "runtime.version": "Lua 5.4", "workspace.library": ["stdlib/parley.d.lua"] }
-- The reference is docs/api.md; the implementation stdlib/internal/sandbox.lua.

-- ---------------------------------------------------------------- values

---What a send returns: "suppressed" when the recipient has opted out and the
---message is not transactional (it is stored, not delivered).
---@alias SendStatus "sent"|"suppressed"

---A handler's return value: a non-empty string or a number is the reply; nil or a
---boolean sends nothing; anything else fails the handler.
---@alias HandlerResult string|number|boolean|nil

---A handler: the contact and the message.
---@alias Handler fun(c: Contact, msg: Message): HandlerResult

---A bot.match handler: the values string.match returned follow msg (the
---captures, or the whole match for a pattern without captures).
---@alias MatchHandler fun(c: Contact, msg: Message, ...: string|integer): HandlerResult

---Data that can be stored in c.fields, c.state and bot.store: booleans,
---integers, finite floats, UTF-8 strings (NUL bytes allowed) and tables of
---them (string keys without NUL bytes, or integer keys; no metatables, cycles
---or shared subtables; at most 16 levels and 10,000 keys, 100,000 in bot.store).
---@alias StoredValue boolean|integer|number|string|table<string|integer, any>

---@class SendOptions
---@field transactional? boolean a message the fan asked for (an order confirmation, a code): delivered even after an opt-out

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
---@field timezone? string an ICU time-zone name like "America/New_York" (checked); not used yet (quiet hours are coming)
---@field quiet_hours? string[] e.g. {"21:00", "09:00"}; accepted, not enforced yet

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
---@field timezone string? the contact's time zone; assigning an ICU time-zone name stores it (checked when the handler returns)
---@field fields table<string, StoredValue> profile data, at most 16 KiB encoded; must stay a table
---@field state table<string|integer, StoredValue> conversation data, at most 64 KiB encoded; must stay a table
---@field tags table<string, true> a set of tag names
local Contact = {}

---Sends text to the fan now, before the handler's return value. Templates
---({{fields.x}}, {{tags.x}}, {{number}}, {{bot.name}}) expand; any other
---{{...}} (c.state included) stays as written. At most max_message_chars
---characters, 50 messages per handler call.
---@param text string|number
---@return SendStatus
function Contact:reply(text) end

---Sends text to the fan, optionally as a transactional message.
---@param text string|number
---@param opts? SendOptions
---@return SendStatus
function Contact:send(text, opts) end

---Routes the fan's next message (unless it is a compliance word or a keyword)
---to the handler registered with bot.handler(name, ...). Without a name,
---clears the pending expectation.
---@param name? string
function Contact:expect(name) end

---Adds tags (the same as c.tags.name = true).
---@param ... string
function Contact:tag(...) end

---Removes tags (the same as c.tags.name = nil).
---@param ... string
function Contact:untag(...) end

---@param name string
---@return boolean
function Contact:has_tag(name) end

-- ---------------------------------------------------------------- bot

---The bot API. Registration functions (config, keyword, hear, match, handler,
---fallback, on_join, on_optout, on_optin) work only at the top level of the
---script; now, log and store only inside handlers.
---@class Bot
---@field store table<string|integer, StoredValue> data shared by every conversation of the bot, at most 1 MiB encoded and 100,000 keys; handlers only
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
---values of string.match are passed after msg.
---@param pattern string
---@param fn MatchHandler
function bot.match(pattern, fn) end

---Registers a named handler, the target of c:expect(name).
---@param name string letters, digits, _ . -
---@param fn Handler
function bot.handler(name, fn) end

---Gets every message no other rule took.
---@param fn Handler
function bot.fallback(fn) end

---Gets the first message of a contact that reaches the script, before
---keywords (compliance words never do): also for a contact first seen as a
---send() recipient or through HELP/STOP/START.
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

---The current time, integer seconds since 1970 (the simulated clock in sim
---and test); the same value throughout one message.
---@return integer
function bot.now() end

---Writes one log line: the arguments converted with tostring, joined with
---spaces. Shown also if the handler fails; at most 64 KiB of lines per
---handler call are kept.
---@param ... any
function bot.log(...) end

-- ---------------------------------------------------------------- globals

---Sends text to any number. Templates expand without a contact: {{bot.name}}
---expands, {{number}} is empty, {{fields.x}} and {{tags.x}} stay as written.
---A number the bot has never seen becomes a contact (its first message still
---goes to on_join). Returns "suppressed" when that number opted out and the
---message is not transactional.
---@param number string E.164, like "+15550199"
---@param text string|number
---@param opts? SendOptions
---@return SendStatus
function send(number, text, opts) end
