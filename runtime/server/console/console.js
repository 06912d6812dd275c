/* parley console: the page's behaviour. Everything it shows of fans (texts,
 * names, numbers, fields) is hostile input: it goes into the page as text
 * (textContent), never as HTML. The session is an HttpOnly cookie the page
 * never sees; every change carries the session's CSRF token. */
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  session: null, /* {who, role, bots, csrf, expires_at} */
  bot: null,
  cursor: null, /* the inbox's next page */
  open: null, /* the number of the conversation shown */
  link: null, /* the URL whose clicks are shown */
  clicksPaged: false, /* its clicks: more than the first page shown */
  marked: null, /* "number@newest message": what was marked read last */
  timer: null, /* the slow poll */
  events: null, /* the EventSource */
};

/* ------------------------------------------------------------ the API */

class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data; /* the answer's body, when it was JSON */
  }
}

async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (r.status === 401 && path !== "/v1/console/session") {
    signedOut("Your session has ended: sign in again.");
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || r.statusText, data);
  return data;
}

const enc = encodeURIComponent;
const botPath = (rest) => "/v1/bots/" + enc(state.bot) + rest;

/* ------------------------------------------------------------ helpers */

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function when(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000), now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})
                 : d.toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
}

function show(page) {
  for (const id of ["sign-in-page", "inbox-page", "contacts-page", "broadcasts-page",
                    "links-page", "bot-page", "sim-page", "numbers-page"])
    $(id).hidden = id !== page;
}

/* ------------------------------------------------------------ signing in and out */

function signedOut(message) {
  state.session = null;
  stopLive();
  for (const id of ["nav", "who", "sign-out"]) $(id).hidden = true;
  document.querySelector(".bot-pick").hidden = true;
  $("sign-in-error").textContent = message || "";
  show("sign-in-page");
  $("name").focus();
}

async function signedIn(session) {
  state.session = session;
  $("who").textContent = session.who + (session.role === "operator" ? " (operator)" : "");
  for (const id of ["nav", "who", "sign-out"]) $(id).hidden = false;
  const {bots} = await api("GET", "/v1/bots");
  const pick = $("bot");
  pick.replaceChildren(...bots.map((b) => el("option", {value: b.name, text: b.name})));
  document.querySelector(".bot-pick").hidden = bots.length < 2;
  const wanted = localStorage.getItem("parley.bot");
  state.bot = bots.some((b) => b.name === wanted) ? wanted : bots.length ? bots[0].name : null;
  pick.value = state.bot || "";
  route();
}

$("sign-in").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const session = await api("POST", "/v1/console/session",
                               {name: $("name").value.trim(), token: $("token").value});
    $("token").value = "";
    await signedIn(session);
  } catch (e) {
    $("sign-in-error").textContent = e.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/v1/console/session");
  } catch (e) { /* signed out either way */ }
  signedOut("Signed out.");
});

$("bot").addEventListener("change", () => {
  state.bot = $("bot").value;
  localStorage.setItem("parley.bot", state.bot);
  state.open = null;
  route();
});

/* ------------------------------------------------------------ the inbox */

function conversationItem(c) {
  const title = c.name ? c.name + " · " + c.number : c.number;
  const b = el("button", {type: "button", "data-number": c.number},
               el("span", {class: "name", text: title}),
               el("span", {class: "when", text: when(c.last.at)}),
               el("span", {class: "last",
                           text: (c.last.direction === "out" ? "↪ " : "") + c.last.text}));
  if (c.unread > 0) b.querySelector(".name").append(el("span", {class: "unread",
                                                                 text: String(c.unread)}));
  if (c.handoff) b.querySelector(".name").append(" ", el("span", {
    class: "badge person", text: c.handoff.by ? "with " + c.handoff.by : "needs a person"}));
  if (c.number === state.open) b.setAttribute("aria-current", "true");
  b.addEventListener("click", () => openConversation(c.number));
  return el("li", {}, b);
}

async function loadInbox(more) {
  if (!state.bot) {
    $("inbox-error").textContent = "No bot can be seen with this sign-in.";
    return;
  }
  const q = new URLSearchParams();
  const search = $("search").value.trim(), tag = $("tag").value.trim();
  if (search) q.set("search", search);
  if (tag) q.set("tag", tag);
  if ($("needs-person").checked) q.set("needs_person", "1");
  if ($("in-field").value.trim()) {
    q.set("field", $("in-field").value.trim());
    q.set("value", $("in-value").value.trim());
  }
  /* the rest of a segment, as the contacts and broadcasts take it */
  const seg = {};
  if ($("in-status").value) seg.status = $("in-status").value;
  const birthday = birthdayRange($("in-age-min").value, $("in-age-max").value);
  if (birthday) seg.birthday = birthday;
  if (Object.keys(seg).length) q.set("segment", JSON.stringify(seg));
  if (more && state.cursor) q.set("before", state.cursor);
  try {
    const page = await api("GET", botPath("/conversations?" + q));
    const items = page.conversations.map(conversationItem);
    if (more) $("conversations").append(...items);
    else $("conversations").replaceChildren(...items);
    state.cursor = page.next;
    /* the first page drawn, for whoever measures the page (make bench) */
    if (!performance.getEntriesByName("inbox-rendered").length) performance.mark("inbox-rendered");
    $("more").hidden = !page.next;
    $("inbox-error").textContent = "";
    $("inbox-empty").hidden = items.length > 0 || more;
  } catch (e) {
    if (e.status !== 401) $("inbox-error").textContent = e.message;
  }
}

let searchDelay = null;
$("filter").addEventListener("input", () => {
  clearTimeout(searchDelay);
  searchDelay = setTimeout(() => loadInbox(false), 250);
});
$("needs-person").addEventListener("change", () => loadInbox(false));
$("in-status").addEventListener("change", () => loadInbox(false));
$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  loadInbox(false);
});
$("more").addEventListener("click", () => loadInbox(true));

/* ------------------------------------------------------------ a conversation */

const CONSENT_WORDS = {optout: "opted out", optin: "opted in"};

/* what a person did, as the history shows it (their replies are messages) */
function actionText(a) {
  if (a.action === "take") return a.who + " took the conversation";
  if (a.action === "handback") return a.who + " handed it back to the bot" +
                                      (a.text ? ": " + a.text : "");
  if (a.action === "note") return "Note from " + a.who + ": " + a.text;
  return null;
}

function historyItems(contact) {
  /* in time order (to the millisecond); what happened at once, in that order */
  const rows = contact.messages.map((m) => ({at: m.at_ms, m}));
  for (const c of contact.consent) rows.push({at: c.at_ms, c});
  for (const a of contact.actions || []) if (actionText(a)) rows.push({at: a.at_ms, a});
  for (const x of contact.errors || []) rows.push({at: x.at_ms, x});
  rows.sort((x, y) => x.at - y.at);
  return rows.map(({m, c, a, x}) => {
    if (x) {
      return el("li", {class: "event failed"}, el("span", {text: "The bot's " + x.kind +
                                                            " failed: " + x.text}),
                el("span", {class: "meta", text: when(x.at)}));
    }
    if (a) {
      return el("li", {class: a.action === "note" ? "note" : "event"},
                el("span", {text: actionText(a)}), el("span", {class: "meta", text: when(a.at)}));
    }
    if (c) {
      const what = (CONSENT_WORDS[c.action] || c.action) + " (" + c.source + ")" +
                   (c.text ? ": " + c.text : "");
      return el("li", {class: "event"}, el("span", {text: what}),
                el("span", {class: "meta", text: when(c.at)}));
    }
    const meta = el("span", {class: "meta",
                             text: when(m.at) + (m.direction === "out" ? " · " + m.status : "")});
    if (m.status === "failed" || m.status === "undelivered") meta.classList.add("failed");
    return el("li", {class: m.direction}, el("span", {text: m.text}), meta);
  });
}

/* who has the conversation, and what can be done about it */
function showHandoff(contact) {
  const h = contact.handoff, me = state.session.who;
  const text = !h ? "The bot has this conversation."
               : h.by ? h.by + " has this conversation" + (h.reason ? " (" + h.reason + ")" : "") + "."
                      : "Needs a person" + (h.reason ? ": " + h.reason : "") + ".";
  $("handoff-text").textContent = text;
  $("handoff-bar").classList.toggle("person", !!h);
  $("take").hidden = !!(h && h.by === me);
  $("take").textContent = h && h.by ? "Take over" : "Take";
  $("handback").hidden = !h;
  const closed = contact.status === "opted_out";
  $("reply-form").hidden = closed;
  $("reply-closed").hidden = !closed;
  $("reply-closed").textContent = closed ? "This fan opted out: nothing can be sent until they text START." : "";
}

async function act(action, body) {
  $("thread-error").textContent = "";
  const number = state.open;
  try {
    await api("POST", botPath("/conversations/" + enc(number) + "/" + action), body || {});
    return true;
  } catch (e) {
    if (e.status !== 401) $("thread-error").textContent = e.message;
    return false;
  } finally {
    if (state.open === number) openConversation(number);
    loadInbox(false);
  }
}

$("take").addEventListener("click", () => act("take"));
$("handback").addEventListener("click", () => act("handback"));
$("reply-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("reply-text").value;
  if (!text.trim()) return;
  if (await act("reply", {text})) $("reply-text").value = "";
});
$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("note-text").value;
  if (!text.trim()) return;
  if (await act("note", {text})) $("note-text").value = "";
});

async function openConversation(number) {
  if (state.open !== number) $("thread-error").textContent = "";
  state.open = number;
  for (const b of document.querySelectorAll(".conversations button"))
    b.setAttribute("aria-current", String(b.dataset.number === number));
  try {
    const contact = await api("GET", botPath("/contacts/" + enc(number) + "/messages"));
    if (state.open !== number) return;
    const name = contact.fields && typeof contact.fields.name === "string" ? contact.fields.name : "";
    $("thread-title").textContent = name ? name + " · " + number : number;
    $("thread-status").textContent = contact.status.replace(/_/g, " ");
    $("thread-status").className = "badge " + contact.status;
    $("history").replaceChildren(...historyItems(contact));
    showHandoff(contact);
    $("thread").hidden = false;
    document.querySelector(".inbox").classList.add("reading");
    $("history").lastElementChild?.scrollIntoView({block: "end"});
    const newest = number + "@" + Math.max(0, ...contact.messages.map((m) => m.at));
    if (state.marked !== newest) { /* read up to its newest message, once */
      await api("POST", botPath("/conversations/" + enc(number) + "/read"));
      state.marked = newest;
    }
    const badge = document.querySelector(
        ".conversations button[data-number=\"" + CSS.escape(number) + "\"] .unread");
    if (badge) badge.remove();
  } catch (e) {
    if (e.status !== 401) $("inbox-error").textContent = e.message;
  }
}

$("back").addEventListener("click", () => {
  state.open = null;
  $("thread").hidden = true;
  document.querySelector(".inbox").classList.remove("reading");
});

/* ------------------------------------------------------------ staying current */

/* The server tells what changed as it happens (Server-Sent Events); the
 * views that show it are read again, at most once a second (each read
 * runs on the server's engine thread, between batches of messages). A
 * change on another node is not told: a slow poll catches those. */
let refreshWanted = {inbox: false, open: false}, refreshTimer = null;

function refreshSoon(inbox, open) {
  refreshWanted.inbox ||= inbox;
  refreshWanted.open ||= open;
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    const {inbox, open} = refreshWanted;
    refreshWanted = {inbox: false, open: false};
    refreshTimer = null;
    if (!state.session || document.hidden) return;
    if (inbox && !$("inbox-page").hidden) loadInbox(false);
    if (inbox && !$("links-page").hidden) loadLinks();
    if (open && state.open) openConversation(state.open);
  }, 1000);
}

function onChange(ev) {
  let c;
  try {
    c = JSON.parse(ev.data);
  } catch (e) {
    return;
  }
  if (c.bot !== null && c.bot !== state.bot) return;
  refreshSoon(true, c.number === null || c.number === state.open);
}

function stopLive() {
  clearInterval(state.timer);
  state.timer = null;
  if (state.events) state.events.close();
  state.events = null;
}

function startLive() {
  stopLive();
  state.events = new EventSource("/v1/console/events");
  state.events.addEventListener("change", onChange);
  state.events.addEventListener("error", async () => {
    /* it reconnects by itself, unless the server refused it: signed out? */
    if (state.events && state.events.readyState === EventSource.CLOSED) {
      try {
        await api("GET", "/v1/console/session");
        setTimeout(() => state.session && startLive(), 5000);
      } catch (e) { /* api() has shown the sign-in page on a 401 */ }
    }
  });
  state.timer = setInterval(() => refreshSoon(true, true), 30000);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.session) refreshSoon(true, true);
});

/* ------------------------------------------------------------ contacts */

function isoDate(d) {
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
}

/* the day `years` before today, moved on by `days` */
function yearsAgo(years, days) {
  const d = new Date();
  d.setFullYear(d.getFullYear() - years);
  d.setDate(d.getDate() + days);
  return isoDate(d);
}

/* An age range (the inputs' values, "" for none) as a range of the
 * birthday field: age >= min is a birthday before the day after min years
 * ago; age <= max, one on or after the day after max + 1 years ago. NULL
 * for no range. */
function birthdayRange(min, max) {
  if (min === "" && max === "") return null;
  const range = {};
  if (min !== "") range.before = yearsAgo(Number(min), 1);
  if (max !== "") range.after = yearsAgo(Number(max) + 1, 1);
  return range;
}

/* The segment the form describes, as the contacts endpoint reads it (age
 * counted from the birthday field: birthdayRange). */
function segmentQuery() {
  const q = new URLSearchParams();
  const field = $("seg-field").value.trim(), value = $("seg-value").value.trim();
  if (field) q.set(field, value);
  if ($("seg-tag").value.trim()) q.set("tags", $("seg-tag").value.trim());
  if ($("seg-status").value) q.set("status", $("seg-status").value);
  const birthday = birthdayRange($("seg-age-min").value, $("seg-age-max").value);
  for (const [bound, day] of Object.entries(birthday || {})) q.set("birthday." + bound, day);
  for (const [id, key] of [["seg-joined", "joined_after"], ["seg-seen", "seen_after"]])
    if ($(id).value)
      q.set(key, String(Math.floor(new Date($(id).value + "T00:00").getTime() / 1000)));
  return q;
}

function contactRow(c) {
  const name = c.fields && typeof c.fields.name === "string" ? c.fields.name : "";
  const tr = el("tr", {"data-number": c.number, tabindex: "0"},
                el("td", {text: c.number}), el("td", {text: name}),
                el("td", {text: c.status.replace(/_/g, " ")}),
                el("td", {text: (c.tags || []).join(", ")}),
                el("td", {text: when(c.last_seen)}));
  const open = () => openContact(c.number);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
  return tr;
}

async function loadContacts(more) {
  if (!state.bot) return;
  const q = segmentQuery();
  if (more && state.contactsAfter) q.set("after", state.contactsAfter);
  q.set("limit", "100");
  $("contacts-error").textContent = "";
  try {
    const page = await api("GET", botPath("/contacts?" + q));
    const rows = page.contacts.map(contactRow);
    if (more) $("contact-rows").append(...rows);
    else $("contact-rows").replaceChildren(...rows);
    state.contactsAfter = page.next_after;
    $("contacts-more").hidden = page.next_after === null;
  } catch (e) {
    if (e.status !== 401) $("contacts-error").textContent = e.message;
  }
}

function fieldRow(key, value) {
  const k = el("input", {value: key, "aria-label": "Field name", class: "key"});
  const v = el("input", {value: typeof value === "string" ? value : JSON.stringify(value),
                         "aria-label": "Value", class: "value"});
  if (typeof value !== "string" && value !== "") v.dataset.json = "1";
  const remove = el("button", {type: "button", class: "plain", "aria-label": "Remove",
                               text: "✕"});
  const row = el("div", {class: "field"}, k, v, remove);
  remove.addEventListener("click", () => row.remove());
  return row;
}

async function openContact(number) {
  if (state.contact !== number) $("contact-saved").textContent = "";
  state.contact = number;
  $("contact-error").textContent = "";
  for (const tr of document.querySelectorAll("#contact-rows tr"))
    tr.setAttribute("aria-current", String(tr.dataset.number === number));
  try {
    const c = await api("GET", botPath("/contacts/" + enc(number) + "/messages"));
    state.contactFields = c.fields || {};
    $("contact-title").textContent = number;
    $("contact-status").textContent = c.status.replace(/_/g, " ");
    $("contact-status").className = "badge " + c.status;
    $("fields").replaceChildren(...Object.entries(state.contactFields)
      .map(([k, v]) => fieldRow(k, v)));
    $("contact-tags").value = (c.tags || []).join(", ");
    $("consent").replaceChildren(...c.consent.map((x) => el("li", {class: "event"},
      el("span", {text: (CONSENT_WORDS[x.action] || x.action) + " (" + x.source + ")" +
                        (x.text ? ": " + x.text : "")}),
      el("span", {class: "meta", text: when(x.at)}))));
    if (!c.consent.length) $("consent").append(el("li", {class: "event", text: "No change of consent recorded."}));
    $("contact").hidden = false;
    document.querySelector("#contacts-page .inbox").classList.add("reading");
  } catch (e) {
    if (e.status !== 401) $("contacts-error").textContent = e.message;
  }
}

$("segment").addEventListener("submit", (ev) => {
  ev.preventDefault();
  loadContacts(false);
});
$("contacts-more").addEventListener("click", () => loadContacts(true));
$("add-field").addEventListener("click", () => $("fields").append(fieldRow("", "")));
$("contact-form").addEventListener("input", () => { $("contact-saved").textContent = ""; });
$("contact-back").addEventListener("click", () => {
  $("contact").hidden = true;
  document.querySelector("#contacts-page .inbox").classList.remove("reading");
});
$("contact-open").addEventListener("click", (ev) => {
  ev.preventDefault();
  state.open = state.contact;
  location.hash = "#inbox";
  openConversation(state.contact);
});

/* Fields merged (a field removed is sent as null), tags replaced. A value
 * that was not a string is read back as JSON (a number stays a number). */
$("contact-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const fields = {};
  for (const k of Object.keys(state.contactFields)) fields[k] = null;
  for (const row of document.querySelectorAll("#fields .field")) {
    const key = row.querySelector(".key").value.trim(), input = row.querySelector(".value");
    if (!key) continue;
    let value = input.value;
    if (input.dataset.json) {
      try { value = JSON.parse(value); } catch (e) { /* kept as text */ }
    }
    fields[key] = value;
  }
  const tags = $("contact-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  try {
    await api("PATCH", botPath("/contacts/" + enc(state.contact)), {fields, tags});
    $("contact-saved").textContent = "Saved.";
    openContact(state.contact);
    loadContacts(false);
  } catch (e) {
    if (e.status !== 401) $("contact-error").textContent = e.message;
  }
});

$("erase").addEventListener("click", async () => {
  const number = state.contact;
  if (!confirm("Erase " + number + "? Its messages, fields and notes go for good; " +
               "the consent ledger stays, and an opted-out number stays opted out.")) return;
  try {
    await api("DELETE", botPath("/contacts/" + enc(number)));
    $("contact").hidden = true;
    loadContacts(false);
  } catch (e) {
    if (e.status !== 401) $("contact-error").textContent = e.message;
  }
});

/* ------------------------------------------------------------ broadcasts */

/* The composer's segment, as the broadcasts endpoint takes it. */
function composerSegment() {
  const seg = {};
  const field = $("bc-field").value.trim(), value = $("bc-value").value.trim();
  if (field) seg[field] = value;
  if ($("bc-tag").value.trim()) seg.tags = $("bc-tag").value.trim();
  const birthday = birthdayRange($("bc-age-min").value, $("bc-age-max").value);
  if (birthday) seg.birthday = birthday;
  return seg;
}

function composerRequest() {
  const body = {segment: composerSegment(), text: $("bc-text").value,
                rate: Number($("bc-rate").value) || 10};
  const later = document.querySelector("input[name=bc-when]:checked").value === "later";
  if (later && $("bc-at").value) body.at = Math.floor(new Date($("bc-at").value).getTime() / 1000);
  return body;
}

const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

/* The live number of recipients, what quiet hours hold, and what the text
 * costs (the runtime's own GSM-7 / UCS-2 count), as the server computes it. */
async function previewBroadcast() {
  $("bc-error").textContent = "";
  if (!$("bc-text").value) {
    $("bc-count").textContent = "";
    $("bc-preview").textContent = "";
    return;
  }
  try {
    const p = await api("POST", botPath("/broadcasts/preview"), composerRequest());
    const t = p.text;
    $("bc-count").textContent = plural(t.units, "character", "characters") + " (" + t.encoding +
      "): " + plural(t.segments, "SMS segment", "SMS segments") + " a message" +
      ($("bc-text").value.includes("{{") ? " before its template is filled in" : "");
    const lines = [
      plural(p.recipients, "contact matches", "contacts match") + ".",
      plural(p.sent, "gets it", "get it") + " at its turn, " + p.held +
        " held by quiet hours (sent when they end).",
      p.suppressed + " opted out (suppressed), " + p.not_opted_in +
        " never opted in (skipped), " + p.failed + " undeliverable.",
      "About " + plural((p.sent + p.held) * t.segments, "SMS segment", "SMS segments") +
        " in all; the last turn at " + when(p.finish_at) + ".",
    ];
    $("bc-preview").replaceChildren(...lines.map((l) => el("div", {text: l})));
    if (p.held_first.length) { /* who quiet hours hold, and until when in their zone */
      const list = el("ul", {class: "held"}, ...p.held_first.map((h) =>
        el("li", {text: h.number + " until " + when(h.until) + " (" + h.zone + ")"})));
      $("bc-preview").append(el("div", {text: p.held > p.held_first.length
        ? "Held, the first " + p.held_first.length + ":" : "Held:"}), list);
    }
    $("bc-preview").dataset.recipients = String(p.recipients);
  } catch (e) {
    if (e.status !== 401) $("bc-error").textContent = e.message;
  }
}

let previewDelay = null;
$("composer").addEventListener("input", () => {
  clearTimeout(previewDelay);
  previewDelay = setTimeout(previewBroadcast, 300);
});

$("composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = composerRequest();
  const n = $("bc-preview").dataset.recipients || "?";
  if (!confirm("Send this broadcast to " + n + " contacts?")) return;
  try {
    await api("POST", botPath("/broadcasts"), body);
    $("bc-text").value = "";
    $("bc-preview").textContent = "";
    $("bc-count").textContent = "";
    loadBroadcasts();
  } catch (e) {
    if (e.status !== 401) $("bc-error").textContent = e.message;
  }
});

const LINK_PLACEHOLDER = /\{\{ *link /;

function broadcastItem(b) {
  const done = b.sent + b.held + b.suppressed + b.failed + b.not_opted_in;
  const total = b.remaining >= 0 ? done + b.remaining : done;
  const bar = el("progress", {max: String(Math.max(total, 1)),
                              value: String(b.status === "done" ? Math.max(total, 1) : done),
                              "aria-label": "Progress of broadcast " + b.id});
  const li = el("li", {"data-id": String(b.id), "data-status": b.status},
    el("span", {class: "text", text: b.text}),
    bar,
    el("span", {class: "counts", text: "#" + b.id + " · " + b.status + " · " +
      b.sent + " sent, " + b.held + " held, " + b.suppressed + " suppressed, " +
      b.failed + " failed, " + b.not_opted_in + " not opted in" +
      (b.status === "scheduled" ? " · starts " + when(b.at) : "")}),
    /* its tracked links' clicks (-1: they could not be counted) */
    b.clicks >= 0 && LINK_PLACEHOLDER.test(b.text)
      ? el("span", {class: "counts link-clicks", text: plural(b.clicks, "click", "clicks") +
                    " on its links, by " + plural(b.people, "person", "people")})
      : null);
  if (b.status === "scheduled" || b.status === "running") {
    const cancel = el("button", {type: "button", class: "plain", text: "Cancel"});
    cancel.addEventListener("click", async () => {
      if (!confirm("Stop broadcast #" + b.id + "? What was sent stays sent.")) return;
      try {
        await api("DELETE", botPath("/broadcasts/" + b.id));
      } catch (e) {
        if (e.status !== 401) $("bc-error").textContent = e.message;
      }
      loadBroadcasts();
    });
    li.append(cancel);
  }
  return li;
}

async function loadBroadcasts() {
  if (!state.bot) return;
  try {
    const {broadcasts} = await api("GET", botPath("/broadcasts"));
    $("broadcast-list").replaceChildren(...broadcasts.map(broadcastItem));
    clearTimeout(state.broadcastTimer);
    /* a running one: its progress, every second while the page shows */
    if (broadcasts.some((b) => b.status === "running" || b.status === "scheduled"))
      state.broadcastTimer = setTimeout(() => {
        if (!$("broadcasts-page").hidden) loadBroadcasts();
      }, 1000);
  } catch (e) {
    if (e.status !== 401) $("bc-error").textContent = e.message;
  }
}

/* ------------------------------------------------------------ tracked links */

/* A link's URL is the bot author's and a click's user agent the visitor's:
 * both are shown as text, never as HTML, and a URL is not made a link. */
function clickRate(s) {
  return s.sent > 0 ? (100 * s.people / s.sent).toFixed(1) + " %" : "–";
}

function linkRow(s) {
  const tr = el("tr", {"data-url": s.url, tabindex: "0"},
                el("td", {text: s.url}), el("td", {text: String(s.sent)}),
                el("td", {text: String(s.clicks)}), el("td", {text: String(s.people)}),
                el("td", {text: clickRate(s)}), el("td", {text: String(s.bot_clicks)}),
                el("td", {text: s.last_click ? when(s.last_click) : "–"}));
  if (s.url === state.link) tr.setAttribute("aria-current", "true");
  const open = () => openLink(s.url);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
  return tr;
}

async function loadLinks() {
  if (!state.bot) return;
  try {
    const {links} = await api("GET", botPath("/links?limit=100"));
    $("link-rows").replaceChildren(...links.map(linkRow));
    $("links-empty").hidden = links.length > 0;
    $("links-error").textContent = "";
    if (!links.some((s) => s.url === state.link)) closeLink(); /* none open, or another bot's */
    else if (!state.clicksPaged) loadClicks(false);
  } catch (e) {
    if (e.status !== 401) $("links-error").textContent = e.message;
  }
}

function clickItem(k) {
  const number = el("button", {type: "button", class: "plain", text: k.number,
                               "aria-label": "Open the conversation with " + k.number});
  number.addEventListener("click", () => {
    state.open = k.number;
    location.hash = "#inbox";
    openConversation(k.number);
  });
  return el("li", {"data-id": String(k.id), "data-program": String(k.bot)},
            el("span", {class: "head"}, number, el("span", {class: "when", text: when(k.at)}),
               k.bot ? el("span", {class: "badge program", text: "program"}) : null),
            el("span", {class: "agent", text: k.user_agent || "no user agent"}));
}

/* The open link's latest 100 visits, or the 100 before those shown. */
async function loadClicks(more) {
  const url = state.link;
  const q = new URLSearchParams({url, limit: "100"});
  if (more) q.set("before", $("clicks").lastElementChild?.dataset.id || "0");
  try {
    const {clicks} = await api("GET", botPath("/clicks?" + q));
    if (state.link !== url) return;
    const items = clicks.map(clickItem);
    if (more) $("clicks").append(...items);
    else $("clicks").replaceChildren(...items);
    state.clicksPaged = more;
    $("clicks-more").hidden = clicks.length < 100;
    $("clicks-empty").hidden = more || clicks.length > 0;
    $("link-error").textContent = "";
  } catch (e) {
    if (e.status !== 401) $("link-error").textContent = e.message;
  }
}

function openLink(url) {
  if (state.link !== url) $("clicks").replaceChildren();
  state.link = url;
  for (const tr of document.querySelectorAll("#link-rows tr"))
    tr.setAttribute("aria-current", String(tr.dataset.url === url));
  $("link-title").textContent = url;
  $("link").hidden = false;
  document.querySelector("#links-page .inbox").classList.add("reading");
  loadClicks(false);
}

function closeLink() {
  state.link = null;
  $("link").hidden = true;
  document.querySelector("#links-page .inbox").classList.remove("reading");
}

$("link-back").addEventListener("click", closeLink);
$("clicks-more").addEventListener("click", () => loadClicks(true));

/* ------------------------------------------------------------ the bot's versions */

/* The replay of real messages on a version (docs/serve.md): its counts in a
 * line. Fans' texts and the bots' replies in it go in as text. */
function replaySummary(r) {
  return "Replayed " + plural(r.messages, "real message", "real messages") + " of " +
    plural(r.conversations, "conversation", "conversations") + ": " + r.identical +
    " the same, " + r.changed + " changed, " + r.errors + " now fail, " + r.limits +
    " hit a limit, " + r.silent + " now get no reply, " + r.unanswerable + " unanswerable" +
    (r.skipped ? ", " + r.skipped + " skipped (from before their contact's past was kept)" : "") +
    ".";
}

const REPLAY_KINDS = [["errors", "Now fail"], ["limits", "Now hit a limit"],
                      ["changed", "Replies changed"], ["silent", "Now get no reply"],
                      ["unanswerable", "Unanswerable (a request with no recorded answer)"]];

/* The summary, then each kind's examples: the number, the fan's message, what
 * the active version sent and what this one sends. Null without a report. */
function replayReport(r) {
  if (!r) return null;
  if (r.error) return el("p", {class: "error", text: "The real messages could not be replayed: " +
                                                      r.error});
  const out = el("div", {class: "replay"}, el("p", {class: "replay-summary",
                                                    text: replaySummary(r)}));
  const lines = (label, sent) => el("div", {class: "replay-" + label},
    el("span", {class: "replay-label", text: label}),
    el("div", {}, ...(sent.length ? sent : ["(nothing)"]).map((t) =>
      el("span", {class: "replay-line", text: t}))));
  for (const [kind, title] of REPLAY_KINDS) {
    const examples = (r.examples && r.examples[kind]) || [];
    if (!examples.length) continue;
    const shown = examples.length < r[kind] ? " (the first " + examples.length + " of " +
                                              r[kind] + ")" : "";
    out.append(el("h3", {text: title + shown}), el("ul", {class: "replay-examples",
                                                        "data-kind": kind},
      ...examples.map((x) => el("li", {"data-message": String(x.message)},
        el("div", {}, el("strong", {text: x.number}), " ",
           el("span", {class: "counts", text: when(x.at)})),
        el("div", {class: "replay-text", text: x.text}),
        lines("old", x.old || []), lines("new", x.new || [])))));
  }
  return out;
}

/* POST .../rollback {"version": N}: refused (422) when real messages replayed on
 * it fail; its report is shown under the version, with a way to force it. */
async function makeActive(v, report, accept) {
  report.replaceChildren();
  $("versions-note").textContent = "";
  try {
    const r = await api("POST", botPath("/rollback" + (accept ? "?accept_errors=1" : "")),
                        {version: v.version});
    await loadVersions();
    if (r && r.replay) $("versions-note").textContent = "Version " + v.version + " is active. " +
      (r.replay.error ? "The real messages could not be replayed: " + r.replay.error
                      : replaySummary(r.replay));
  } catch (e) {
    if (e.status === 401) return;
    if (e.status !== 422 || !e.data || !e.data.replay) {
      $("versions-error").textContent = e.message;
      return;
    }
    const anyway = el("button", {type: "button", class: "plain", text: "Make it active anyway"});
    anyway.addEventListener("click", () => {
      if (confirm("Real messages fail on version " + v.version +
                  ". Run it from now on all the same?")) makeActive(v, report, true);
    });
    report.replaceChildren(...[el("p", {class: "error", text: e.message}),
                               replayReport(e.data.replay), anyway].filter(Boolean));
  }
}

function versionItem(v, versions) {
  const label = "Version " + v.version + (v.active ? " (active)" : "");
  const result = el("span", {class: "counts"});
  const report = el("div", {class: "replay-report", "aria-live": "polite"});
  const test = el("button", {type: "button", class: "plain", text: "Run its transcripts"});
  test.addEventListener("click", async () => {
    result.textContent = "Running…";
    report.replaceChildren();
    try {
      const r = await api("POST", botPath("/versions/" + v.version + "/test"));
      result.textContent = r.transcripts === 0 ? "It ships no transcripts."
        : r.failed === 0 ? plural(r.transcripts, "transcript passes", "transcripts pass") + "."
        : r.failed + " of " + plural(r.transcripts, "transcript fails", "transcripts fail") +
          ": " + r.errors.join(" ");
      const shown = replayReport(r.replay);
      if (shown) report.replaceChildren(shown);
    } catch (e) {
      result.textContent = e.message;
    }
  });
  const actions = el("span", {class: "versions-actions"}, test);
  if (!v.active) {
    const back = el("button", {type: "button", class: "plain", text: "Make it active"});
    back.addEventListener("click", () => {
      if (confirm("Run version " + v.version + " of " + state.bot + " from now on?"))
        makeActive(v, report, false);
    });
    actions.append(back);
  }
  return el("li", {"data-version": String(v.version), "data-active": String(!!v.active)},
            el("strong", {text: label}),
            el("span", {class: "counts", text: when(v.created_at) + " · " + v.sha.slice(0, 12)}),
            actions, result, report);
}

async function loadVersions() {
  if (!state.bot) return;
  $("versions-error").textContent = "";
  $("versions-note").textContent = "";
  try {
    const {versions} = await api("GET", botPath("/versions"));
    versions.sort((a, b) => b.version - a.version);
    $("versions").replaceChildren(...versions.map((v) => versionItem(v, versions)));
    const options = () => versions.map((v) => el("option", {value: String(v.version),
                                                           text: "version " + v.version}));
    $("diff-from").replaceChildren(...options());
    $("diff-to").replaceChildren(...options());
    const active = versions.find((v) => v.active) || versions[0];
    if (active) $("diff-to").value = String(active.version);
    if (versions.length > 1)
      $("diff-from").value = String(versions.find((v) => v !== active).version);
  } catch (e) {
    if (e.status !== 401) $("versions-error").textContent = e.message;
  }
}

/* Every file of either version, its lines added and removed (jsdiff). */
async function compareVersions() {
  const [a, b] = [$("diff-from").value, $("diff-to").value];
  if (!a || !b) return;
  try {
    const [va, vb] = await Promise.all([api("GET", botPath("/versions/" + a)),
                                        api("GET", botPath("/versions/" + b))]);
    const paths = [...new Set([...Object.keys(va.files), ...Object.keys(vb.files)])].sort();
    const out = [];
    for (const path of paths) {
      const before = va.files[path] ?? "", after = vb.files[path] ?? "";
      if (before === after) continue;
      const pre = el("pre");
      const parts = Diff.diffLines(before, after);
      parts.forEach((part, i) => {
        const cls = part.added ? "add" : part.removed ? "del" : "same";
        const mark = part.added ? "+ " : part.removed ? "- " : "  ";
        let lines = part.value.replace(/\n$/, "").split("\n");
        /* unchanged lines: three of context around a change, the rest folded */
        if (cls === "same" && lines.length > 7) {
          const head = i > 0 ? lines.slice(0, 3) : [];
          const tail = i < parts.length - 1 ? lines.slice(-3) : [];
          const folded = lines.length - head.length - tail.length;
          for (const line of head) pre.append(el("span", {class: cls, text: mark + line}));
          pre.append(el("span", {class: "same", text: "  ⋯ " + plural(folded, "line", "lines") +
                                                      " unchanged"}));
          lines = tail;
        }
        for (const line of lines) pre.append(el("span", {class: cls, text: mark + line}));
      });
      const what = !(path in va.files) ? " (added)" : !(path in vb.files) ? " (removed)" : "";
      out.push(el("h3", {text: path + what}), pre);
    }
    if (!out.length) out.push(el("p", {class: "note", text: "The two versions have the same files."}));
    $("diff").replaceChildren(...out);
  } catch (e) {
    if (e.status !== 401) $("diff").replaceChildren(el("p", {class: "error", text: e.message}));
  }
}

$("compare").addEventListener("submit", (ev) => {
  ev.preventDefault();
  compareVersions();
});

/* ------------------------------------------------------------ the simulator */

function simShow(cls, text) {
  $("sim-log").append(el("li", {class: cls, text}));
  $("sim-log").lastElementChild.scrollIntoView({block: "end"});
}

$("sim-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const line = $("sim-line").value.trim();
  if (!line) return;
  $("sim-error").textContent = "";
  simShow(line.startsWith("/") ? "rule" : "fan", line);
  $("sim-line").value = "";
  try {
    const r = await api("POST", botPath("/sim"), {line});
    for (const l of r.lines)
      simShow(l.startsWith("  .") ? (l.includes("error") ? "rule failed" : "rule")
                                  : l.includes(": ") && !l.startsWith("  ") ? "bot" : "rule", l);
    for (const l of r.errors) simShow("rule failed", l);
    $("sim-where").textContent = "You are " + r.fan + "; the simulated clock is at " +
                                 new Date(r.clock * 1000).toISOString().replace("T", " ").slice(0, 16) +
                                 " UTC.";
  } catch (e) {
    if (e.status !== 401) $("sim-error").textContent = e.message;
  }
});

/* ------------------------------------------------------------ numbers at a glance */

const DAY_SERIES = [["in", "in"], ["out", "out"], ["delivered", "delivered"],
                    ["optin", "opted in"], ["optout", "opted out"], ["error", "handler errors"]];

function figure(label, value) {
  return el("div", {}, el("dt", {text: label}), el("dd", {text: value}));
}

function seconds(ms) {
  return ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s"
                                            : Math.round(ms / 60000) + " min";
}

async function loadNumbers() {
  if (!state.bot) return;
  $("numbers-error").textContent = "";
  try {
    const offset = -new Date().getTimezoneOffset();
    const n = await api("GET", botPath("/stats?days=7&offset=" + offset));
    const sum = (k) => n.days.reduce((t, d) => t + d[k], 0);
    const w = n.reply_wait;
    $("figures").replaceChildren(
      figure("Messages in, 7 days", String(sum("in"))),
      figure("Messages out", String(sum("out"))),
      figure("Delivered", n.delivery_rate === null ? "no reports"
                                                   : (100 * n.delivery_rate).toFixed(1) + " %"),
      figure("Opted in / out", sum("optin") + " / " + sum("optout")),
      figure("Handler errors", String(sum("error"))),
      figure("Waited for an answer", w.count ? seconds(w.p50_ms) + " (9 in 10: " +
                                               seconds(w.p90_ms) + ")" : "no answers yet"));
    const time = (list) => ["x", ...list.map((b) => b.at * 1000)];
    c3.generate({
      bindto: "#chart-hours",
      data: {x: "x", type: "bar", columns: [time(n.hours), ["in", ...n.hours.map((h) => h.in)],
                                            ["out", ...n.hours.map((h) => h.out)]]},
      axis: {x: {type: "timeseries", padding: {left: 1800000, right: 1800000},
                 tick: {format: "%H:%M",
                        values: n.hours.filter((h, i) => i % 6 === 5).map((h) => h.at * 1000)}}},
      bar: {width: {ratio: 0.8}},
      transition: {duration: 0},
    });
    c3.generate({
      bindto: "#chart-days",
      data: {x: "x", type: "bar", columns: [time(n.days),
        ...DAY_SERIES.map(([k, label]) => [label, ...n.days.map((d) => d[k])])]},
      axis: {x: {type: "timeseries", padding: {left: 43200000, right: 43200000},
                 tick: {format: "%a %d"}}},
      transition: {duration: 0},
    });
    $("days-table").replaceChildren(
      el("thead", {}, el("tr", {}, el("th", {text: "Day"}),
                         ...DAY_SERIES.map(([, label]) => el("th", {text: label})))),
      el("tbody", {}, ...n.days.map((d) => el("tr", {"data-at": String(d.at)},
        el("td", {text: new Date(d.at * 1000).toLocaleDateString()}),
        ...DAY_SERIES.map(([k]) => el("td", {text: String(d[k])}))))));
  } catch (e) {
    if (e.status !== 401) $("numbers-error").textContent = e.message;
  }
}

/* ------------------------------------------------------------ pages */

function route() {
  if (!state.session) return;
  const page = {"#contacts": "contacts", "#broadcasts": "broadcasts", "#links": "links",
                "#bot": "bot", "#sim": "sim", "#numbers": "numbers"}[location.hash] || "inbox";
  for (const a of document.querySelectorAll("#nav a"))
    a.setAttribute("aria-current", a.id === "nav-" + page ? "page" : "false");
  show(page + "-page");
  $("export").href = state.bot ? botPath("/contacts.csv") : "#";
  if (page === "contacts") loadContacts(false);
  else if (page === "broadcasts") loadBroadcasts();
  else if (page === "links") loadLinks();
  else if (page === "bot") loadVersions();
  else if (page === "numbers") loadNumbers();
  else loadInbox(false);
  startLive();
}
window.addEventListener("hashchange", route);

(async () => {
  try {
    await signedIn(await api("GET", "/v1/console/session"));
  } catch (e) {
    signedOut(e.status === 401 ? "" : e.message);
  }
})();
