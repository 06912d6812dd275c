"""The console in a real browser (headless Chromium driven by Selenium) against a
parley serve on 127.0.0.1: sign-in (a wrong token refused, the cookie's flags), the
inbox (fans' messages, new ones appearing without a reload), a conversation's
history, hostile texts shown as text, the CSRF token required of a change, a
broadcast's tracked link visited (its clicks, the Links view), an operator seeing
only its bot, a session kept over a restart, sign-out. Screenshots of each page go
to --shots."""
import argparse
import http.client
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from harness import check, request, wait_for  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (NoSuchElementException,  # noqa: E402
                                        StaleElementReferenceException, WebDriverException)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

ADMIN, OPERATOR, HOOK = "admin-token-1", "operator-token-2", "hook-token-3"
SID, TWILIO_TOKEN = "AC0123456789abcdef0123456789abcdef", "fake-twilio-token-4"
# a bot that sends through a fake of Twilio's API (tests/fake/fake_twilio.c)
DESK = r'''
bot.config{ name = "Desk", numbers = { "+15550400" }, quiet_hours = false }
bot.keyword("AGENT", function(c)
  c:handoff{ reason = "asked for a person" }
  return "Connecting you to a person."
end)
bot.keyword("BOOM", function(c) error("the ticket service is down") end)
bot.fallback(function(c, msg) return "Desk bot: " .. msg.text end)
bot.on_handback(function(c, info) return "The bot is back. " .. info.note end)
'''


PRESALE = "https://shop.example/presale?from=sms&x=1"
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
PREVIEW = "facebookexternalhit/1.1"
HOSTILE_AGENT = "<img src=x onerror=window.__pwned=3>"
HOSTILE_FAN = "<img src=x onerror=window.__pwned=4>"  # replayed on a version, shown in its report

XSS = ["<script>window.__pwned = 1</script>",
       "\"><img src=x onerror=\"window.__pwned = 2\">",
       "\u202Egnp.exe \u2067right-to-left\u2069"]


def browser(shots):
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--lang=en-US"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    # the browser is not what the moved clock tests (libfaketime, .ci/run): it runs on the
    # machine's own
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    service = Service("/usr/bin/chromedriver", env=env,
                      log_path=os.path.join(shots, "chromedriver.log"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    return d


def shot(d, shots, name):
    d.save_screenshot(os.path.join(shots, name + ".png"))


def visible(d, element_id):
    return d.find_element(By.ID, element_id).is_displayed()


def text_of(d, element_id):
    return d.find_element(By.ID, element_id).text


def fetch(d, method, path, csrf=None, body=None):
    """A request made by the page itself (its cookie): [status, body]."""
    return d.execute_async_script(
        """const [method, path, csrf, body, done] = arguments;
        const headers = csrf ? {"X-CSRF-Token": csrf} : {};
        if (body !== null) headers["Content-Type"] = "application/json";
        fetch(path, {method, headers, credentials: "same-origin", body: body === null ? undefined : body})
          .then(async (r) => done([r.status, await r.text()]))
          .catch((e) => done([0, String(e)]));""", method, path, csrf, body)


def fan(p, number, text, msg_id, bot="fanclub"):
    body = json.dumps({"from": number, "to": "+15550100", "text": text, "id": msg_id})
    return request(p.port, "POST", "/v1/bots/%s/messages" % bot, body.encode(),
                   {"Authorization": "Bearer " + HOOK, "Content-Type": "application/json"})


def sign_in(d, name, token):
    d.find_element(By.ID, "name").clear()
    d.find_element(By.ID, "name").send_keys(name)
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()


def search(d, text):
    """Types text into the inbox's search, as a person would (the input event)."""
    d.execute_script("""const box = document.getElementById("search");
        box.value = arguments[0];
        box.dispatchEvent(new Event("input", {bubbles: true}));""", text)


def open_conversation(d, number):
    """Clicks the conversation in the list (found again if the list was redrawn meanwhile)."""
    css = "#conversations button[data-number='%s']" % number

    def click():
        try:
            d.find_element(By.CSS_SELECTOR, css).click()
            return True
        except (NoSuchElementException, StaleElementReferenceException):
            return False
    return wait_for(click)


def conversation_numbers(d):
    """Read at once: the list is redrawn as new messages come."""
    return d.execute_script("return [...document.querySelectorAll('#conversations button')]"
                            ".map((b) => b.dataset.number)")


def texts(d, css):
    return " ".join(d.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)", css))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--fake", required=True)
    a = ap.parse_args()
    os.makedirs(a.shots, exist_ok=True)
    scripts = os.path.join(a.dir, "scripts")
    os.makedirs(scripts)
    for bot in ("fanclub",):
        os.system("cp -r scripts/%s %s/" % (bot, scripts))
    os.system("cp -r examples/verify %s/" % scripts)
    os.makedirs(os.path.join(scripts, "desk"))
    with open(os.path.join(scripts, "desk", "bot.lua"), "w") as f:
        f.write(DESK)
    fake = harness.FakeTwilio(a.fake, a.dir, SID, TWILIO_TOKEN)
    p = d = None
    try:  # whatever happens, what started is stopped
        if not check("the fake Twilio API starts", fake.port):
            return harness.summary()
        env = {"PARLEY_ADMIN_TOKEN": ADMIN, "PARLEY_OPERATOR_TOKEN_FANCLUB": OPERATOR,
               "PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_PROVIDER_DESK": "twilio",
               "PARLEY_TWILIO_API_URL_DESK": "http://127.0.0.1:%d" % fake.port,
               "PARLEY_TWILIO_ACCOUNT_SID_DESK": SID,
               "PARLEY_TWILIO_AUTH_TOKEN_DESK": TWILIO_TOKEN,
               "PARLEY_INLINE_REPLIES_DESK": "off", "PARLEY_DELIVERY_REPORTS_DESK": "off"}
        p = harness.Parley(a.parley, a.dir, os.path.join(a.dir, "console.db"), scripts, env,
                           flags=["--test-clock", "2026-03-02 12:00 America/New_York"])
        if not check("parley serve starts", p.start(), p.log()):
            return harness.summary()
        fan(p, "+15550001", "hi", "m1")
        fan(p, "+15550001", "Austin", "m2")
        for i, text in enumerate(XSS):
            fan(p, "+1555000%d" % (i + 2), text, "x%d" % i)
        # a hostile name too, set through the admin API
        request(p.port, "PATCH", "/v1/bots/fanclub/contacts/%2B15550002",
                json.dumps({"fields": {"name": XSS[1]}}).encode(),
                {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        try:
            d = browser(a.shots)
        except WebDriverException as e:
            check("headless Chromium starts (chromium, chromium-driver)", False, str(e))
            return harness.summary()
        run(d, p, a, fake)
    finally:
        for stop in (d and d.quit, p and p.stop, fake.stop):
            try:
                if stop:
                    stop()
            except Exception:  # noqa: BLE001 -- the others are stopped all the same
                pass
    return harness.summary()


def handoff(d, p, a, fake):
    """A handler hands a fan to a person; Ana takes it, answers, notes, hands back."""
    fan(p, "+15550501", "hello", "d1", "desk")
    fan(p, "+15550501", "BOOM", "d0", "desk")
    fan(p, "+15550501", "AGENT", "d2", "desk")
    Select(d.find_element(By.ID, "bot")).select_by_value("desk")
    d.find_element(By.ID, "needs-person").click()
    check("the conversation a handler handed off is in the \"needs a person\" queue",
          wait_for(lambda: conversation_numbers(d) == ["+15550501"] and "needs a person" in
                   texts(d, "#conversations .badge")), conversation_numbers(d))
    shot(d, a.shots, "09-needs-a-person")
    open_conversation(d, "+15550501")
    check("it says why", wait_for(lambda: "Needs a person: asked for a person" in
                                  text_of(d, "handoff-text")), text_of(d, "handoff-text"))
    check("a handler's error shows in the conversation",
          wait_for(lambda: "the ticket service is down" in texts(d, "#history li.failed")),
          texts(d, "#history"))
    d.find_element(By.ID, "take").click()
    check("Ana takes it: everyone sees she has it",
          wait_for(lambda: "Ana has this conversation" in text_of(d, "handoff-text")),
          text_of(d, "handoff-text"))
    status, body = request(p.port, "GET", "/v1/bots/desk/conversations?needs_person=1",
                           headers={"Authorization": "Bearer " + ADMIN})
    check("... the admin API too", status == 200 and '"by":"Ana"' in body, body)

    reply = "Hi, this is Ana from the desk. Your seats are 12A and 12B."
    d.find_element(By.ID, "reply-text").send_keys(reply)
    d.find_element(By.ID, "reply-send").click()
    check("her reply goes out through the provider: exactly that text to that number",
          wait_for(lambda: reply in fake.sent("+15550501"), timeout=20), fake.sent("+15550501"))
    check("... once", wait_for(lambda: fake.sent("+15550501").count(reply) == 1))
    check("... and shows in the conversation", wait_for(lambda: reply in texts(d, "#history li.out")))

    fan(p, "+15550501", "thanks!", "d3", "desk")
    check("the fan's answer shows, live", wait_for(lambda: "thanks!" in texts(d, "#history li.in"),
                                                   timeout=20))
    check("... and no handler answered it while Ana has the conversation",
          not [b for b in fake.sent("+15550501") if b and b.startswith("Desk bot: thanks")],
          fake.sent("+15550501"))
    d.find_element(By.ID, "note-text").send_keys("VIP: call back about parking")
    d.find_element(By.CSS_SELECTOR, "#note-form button").click()
    check("a note is added for the team",
          wait_for(lambda: "Note from Ana: VIP: call back about parking" in
                   texts(d, "#history li.note")), texts(d, "#history"))
    check("... which the fan never gets",
          not [b for b in fake.sent("+15550501") if b and "parking" in b])
    shot(d, a.shots, "10-taken-conversation")

    d.find_element(By.ID, "handback").click()
    check("handed back, the bot has it again",
          wait_for(lambda: "The bot has this conversation" in text_of(d, "handoff-text")))
    check("bot.on_handback runs", wait_for(lambda: "The bot is back. " in fake.sent("+15550501"),
                                           timeout=20), fake.sent("+15550501"))
    fan(p, "+15550501", "ping", "d4", "desk")
    check("the handlers answer again", wait_for(lambda: "Desk bot: ping" in
                                                fake.sent("+15550501"), timeout=20))
    status, body = request(p.port, "GET", "/v1/bots/desk/contacts/%2B15550501/messages",
                           headers={"Authorization": "Bearer " + ADMIN})
    actions = [(x["who"], x["action"]) for x in json.loads(body).get("actions", [])]
    check("every action is recorded: who and what",
          actions == [("Ana", "take"), ("Ana", "reply"), ("Ana", "note"), ("Ana", "handback")],
          actions)

    # a fan texts STOP while a person has the conversation
    fan(p, "+15550502", "AGENT", "e1", "desk")
    open_conversation(d, "+15550502")
    d.find_element(By.ID, "take").click()
    wait_for(lambda: "Ana has this conversation" in text_of(d, "handoff-text"))
    fan(p, "+15550502", "STOP", "e2", "desk")
    check("a fan who texts STOP during the takeover is opted out",
          wait_for(lambda: "opted out" in text_of(d, "thread-status"), timeout=20),
          text_of(d, "thread-status"))
    check("... and the operator can no longer write to them",
          wait_for(lambda: not visible(d, "reply-form") and visible(d, "reply-closed")))
    csrf = d.execute_script("return state.session.csrf")
    status, body = fetch(d, "POST", "/v1/bots/desk/conversations/%2B15550502/reply", csrf,
                         json.dumps({"text": "are you still there?"}))
    check("... not even through the API (422 opted_out)", status == 422 and "opted_out" in body,
          body)
    check("nothing went to them after STOP but the confirmation",
          not [b for b in fake.sent("+15550502") if b == "are you still there?"],
          fake.sent("+15550502"))
    shot(d, a.shots, "11-opted-out-during-takeover")
    d.find_element(By.ID, "needs-person").click()
    Select(d.find_element(By.ID, "bot")).select_by_value("fanclub")


def contact_rows(d):
    return d.execute_script("return [...document.querySelectorAll('#contact-rows tr')]"
                            ".map((r) => r.dataset.number)")


def show_segment(d, **values):
    """Fills the contacts' segment form (the rest emptied) and shows it."""
    for name in ("field", "value", "tag", "age-min", "age-max", "joined", "seen"):
        d.execute_script("document.getElementById(arguments[0]).value = arguments[1]",
                         "seg-" + name, values.get(name.replace("-", "_"), ""))
    Select(d.find_element(By.ID, "seg-status")).select_by_value(values.get("status", ""))
    d.execute_script("document.getElementById('contact-rows').replaceChildren()")
    d.find_element(By.CSS_SELECTOR, "#segment button[type=submit]").click()


def contacts(d, p, a):
    """The contacts page: the segment filter, a contact's fields and tags, erase, export."""
    admin = {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"}
    request(p.port, "PATCH", "/v1/bots/fanclub/contacts/%2B15550001",
            json.dumps({"fields": {"city": "Austin", "birthday": "1990-06-15"},
                        "tags": ["vip"]}).encode(), admin)
    d.find_element(By.ID, "nav-contacts").click()
    show_segment(d)
    check("the contacts page lists the bot's contacts",
          wait_for(lambda: len(contact_rows(d)) == 5), contact_rows(d))
    show_segment(d, field="city", value="Austin")
    check("filtered by a field", wait_for(lambda: contact_rows(d) == ["+15550001"]),
          contact_rows(d))
    show_segment(d, age_min="30", age_max="45")
    check("by age, from the birthday field", wait_for(lambda: contact_rows(d) == ["+15550001"]),
          contact_rows(d))
    show_segment(d, age_min="18", age_max="25")
    check("... (no one in another range)", wait_for(lambda: contact_rows(d) == [] and not
                                                     text_of(d, "contacts-error")))
    show_segment(d, seen="2026-03-01")
    check("by the day they were last seen after (the test clock's 2026-03-02)",
          wait_for(lambda: len(contact_rows(d)) == 5), contact_rows(d))
    show_segment(d, seen="2026-03-03")
    check("... none seen since a later day", wait_for(lambda: contact_rows(d) == [] and not
                                                     text_of(d, "contacts-error")))
    show_segment(d, tag="vip", status="subscribed")
    check("by tag and status", wait_for(lambda: contact_rows(d) == ["+15550001"]),
          contact_rows(d))
    d.find_element(By.CSS_SELECTOR, "#contact-rows tr[data-number='+15550001']").click()
    check("a contact shows its fields",
          wait_for(lambda: d.execute_script("return [...document.querySelectorAll('#fields .key')]"
                                            ".map((e) => e.value).sort().join()") ==
                   "birthday,city"))
    shot(d, a.shots, "12-contacts")
    d.execute_script("""const rows = [...document.querySelectorAll('#fields .field')];
        for (const r of rows) {
          if (r.querySelector('.key').value === 'city') r.querySelector('.value').value = 'Dallas';
          if (r.querySelector('.key').value === 'birthday') r.querySelector('button').click();
        }""")
    d.find_element(By.ID, "add-field").click()
    d.execute_script("""const r = [...document.querySelectorAll('#fields .field')].pop();
        r.querySelector('.key').value = 'tier'; r.querySelector('.value').value = 'gold';""")
    tags = d.find_element(By.ID, "contact-tags")
    tags.clear()
    tags.send_keys("vip, press")
    d.find_element(By.CSS_SELECTOR, "#contact-form button[type=submit]").click()
    check("fields and tags are saved", wait_for(lambda: text_of(d, "contact-saved") == "Saved."),
          text_of(d, "contact-error"))
    status, body = request(p.port, "GET", "/v1/bots/fanclub/contacts/%2B15550001", headers=admin)
    c = json.loads(body)
    check("... as the admin API shows them: changed, added, removed",
          c.get("fields") == {"city": "Dallas", "tier": "gold"} and
          sorted(c.get("tags", [])) == ["press", "vip"], body)
    status, body = fetch(d, "GET", d.find_element(By.ID, "export").get_attribute("href"))
    check("the export is the bot's contacts as CSV", status == 200 and "+15550001" in body,
          body[:300])
    show_segment(d)
    wait_for(lambda: "+15550004" in contact_rows(d))
    d.find_element(By.CSS_SELECTOR, "#contact-rows tr[data-number='+15550004']").click()
    wait_for(lambda: text_of(d, "contact-title") == "+15550004")
    d.find_element(By.ID, "erase").click()
    d.switch_to.alert.accept()
    check("a contact is erased", wait_for(lambda: request(
        p.port, "GET", "/v1/bots/fanclub/contacts/%2B15550004", headers=admin)[0] == 404))
    check("... and leaves the list", wait_for(lambda: "+15550004" not in contact_rows(d)))
    d.find_element(By.ID, "nav-inbox").click()


def set_value(d, element_id, value):
    d.execute_script("""const e = document.getElementById(arguments[0]);
        e.value = arguments[1];
        e.dispatchEvent(new Event("input", {bubbles: true}));""", element_id, value)


def broadcasts(d, p, a):
    """The composer: recipients counted live, segments, quiet hours; sent, done, in the list."""
    d.find_element(By.ID, "nav-broadcasts").click()
    set_value(d, "bc-tag", "vip")
    set_value(d, "bc-text", "Presale at noon, {{fields.city}}!")
    check("the composer counts the segment's recipients as it is written",
          wait_for(lambda: "1 contact matches" in text_of(d, "bc-preview")),
          text_of(d, "bc-preview") + text_of(d, "bc-error"))
    check("... and the text's SMS segments (the runtime's count)",
          "(GSM-7): 1 SMS segment" in text_of(d, "bc-count"), text_of(d, "bc-count"))
    set_value(d, "bc-text", "Presale at noon \U0001F3B8")
    check("an emoji makes it UCS-2", wait_for(lambda: "(UCS-2)" in text_of(d, "bc-count")),
          text_of(d, "bc-count"))
    set_value(d, "bc-tag", "")
    check("every contact without the tag",
          wait_for(lambda: "4 contacts match" in text_of(d, "bc-preview")),
          text_of(d, "bc-preview"))
    # 02:00 in New York (the bot's zone) on the test clock's next day, whatever the browser's
    d.find_element(By.CSS_SELECTOR, "input[name=bc-when][value=later]").click()
    d.execute_script("""const t = new Date(Date.UTC(2026, 2, 3, 7, 0));
        const local = new Date(t.getTime() - t.getTimezoneOffset() * 60000);
        const e = document.getElementById("bc-at");
        e.value = local.toISOString().slice(0, 16);
        e.dispatchEvent(new Event("input", {bubbles: true}));""")
    check("a preview of who quiet hours would hold at that time",
          wait_for(lambda: "4 held by quiet hours" in text_of(d, "bc-preview")),
          text_of(d, "bc-preview"))
    held = texts(d, "#bc-preview .held li")
    check("... by number, with their zone and when they would go",
          "+15550001 until" in held and "America/New_York" in held, held)
    d.find_element(By.CSS_SELECTOR, "input[name=bc-when][value=now]").click()
    set_value(d, "bc-tag", "vip")
    set_value(d, "bc-text", "Presale at noon, {{fields.city}}!")
    wait_for(lambda: "1 contact matches" in text_of(d, "bc-preview"))
    shot(d, a.shots, "13-broadcast-composer")
    d.find_element(By.ID, "bc-send").click()
    d.switch_to.alert.accept()
    check("the broadcast runs to done, its progress bar full",
          wait_for(lambda: d.execute_script(
              "const li = document.querySelector('#broadcast-list li');"
              "const bar = li && li.querySelector('progress');"
              "return li && li.dataset.status === 'done' && bar.value === bar.max"
              " && li.textContent.includes('1 sent');"), timeout=20),
          texts(d, "#broadcast-list"))
    status, body = request(p.port, "GET", "/v1/bots/fanclub/contacts/%2B15550001/messages",
                           headers={"Authorization": "Bearer " + ADMIN})
    check("the segment's contact got it, its template filled in",
          "Presale at noon, Dallas!" in body, body[-600:])
    shot(d, a.shots, "14-broadcast-done")
    d.find_element(By.ID, "nav-inbox").click()


def visit(p, path, agent):
    """(status, Location) of a visit to a short link, as a phone or a program makes it."""
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    try:
        conn.request("GET", path, headers={"User-Agent": agent})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Location")
    finally:
        conn.close()


def short_link(p, number):
    """The path of the short link the contact's latest message carries, or None."""
    status, body = request(p.port, "GET", "/v1/bots/fanclub/contacts/%s/messages" %
                           number.replace("+", "%2B"), headers={"Authorization": "Bearer " + ADMIN})
    found = re.findall(r"/l/[0-9A-Za-z]{12}", body) if status == 200 else []
    return found[-1] if found else None


def links(d, p, a):
    """A broadcast with a tracked link, visited by people and a link preview: its clicks in the
    broadcasts list, the Links view's counts, the visits listed (the program's flagged, a
    hostile user agent shown as text), a visitor's conversation opened from there."""
    d.find_element(By.ID, "nav-broadcasts").click()
    set_value(d, "bc-tag", "")
    set_value(d, "bc-text", 'Presale is open: {{link "%s"}}' % PRESALE)
    wait_for(lambda: "4 contacts match" in text_of(d, "bc-preview"))
    d.find_element(By.ID, "bc-send").click()
    d.switch_to.alert.accept()
    check("a broadcast with a tracked link runs to done",
          wait_for(lambda: d.execute_script(
              "const li = document.querySelector('#broadcast-list li');"
              "return li && li.textContent.includes('{{link') && li.dataset.status === 'done'"
              " && li.textContent.includes('4 sent');"), timeout=20),
          texts(d, "#broadcast-list"))
    fans = ["+15550001", "+15550002", "+15550003", "+15550009"]
    path = {f: short_link(p, f) for f in fans}
    check("each contact got a short link of its own", all(path.values()) and
          len(set(path.values())) == 4, path)
    if not all(path.values()):
        return
    got = [visit(p, path["+15550001"], PHONE), visit(p, path["+15550002"], PHONE),
           visit(p, path["+15550001"], HOSTILE_AGENT), visit(p, path["+15550003"], PREVIEW)]
    check("the visits are sent on to the URL (a phone twice, a hostile user agent, a preview)",
          got == [(302, PRESALE)] * 4, got)

    d.find_element(By.ID, "nav-inbox").click()
    d.find_element(By.ID, "nav-broadcasts").click()
    clicks = lambda: texts(d, "#broadcast-list li .link-clicks")  # noqa: E731
    check("the broadcasts list shows the broadcast's clicks by people, not the program's",
          wait_for(lambda: clicks() == "3 clicks on its links, by 2 people"), clicks())
    check("... and nothing of the kind for a broadcast without links",
          len(d.find_elements(By.CSS_SELECTOR, "#broadcast-list li .link-clicks")) == 1,
          texts(d, "#broadcast-list"))

    status, body = fetch(d, "GET", "/v1/bots/fanclub/clicks?limit=1")
    check("the links and their clicks are read with the session alone (a GET, no CSRF token)",
          status == 200 and fetch(d, "GET", "/v1/bots/fanclub/links")[0] == 200, body)
    d.find_element(By.ID, "nav-links").click()
    row = lambda: d.execute_script(  # noqa: E731
        "const r = [...document.querySelectorAll('#link-rows tr')]"
        "  .find((r) => r.dataset.url === arguments[0]);"
        "return r ? [...r.children].map((c) => c.textContent) : null", PRESALE)
    check("the Links view: the URL, 4 sent, 3 clicks by 2 people (50 %), 1 program visit",
          wait_for(lambda: (row() or [])[:6] == [PRESALE, "4", "3", "2", "50.0 %", "1"]),
          row() or text_of(d, "links-error"))
    check("... and when the last person clicked", (row() or [""] * 7)[6] not in ("", "–"), row())
    d.find_element(By.CSS_SELECTOR, "#link-rows tr").click()
    visits = lambda: d.execute_script(  # noqa: E731
        "return [...document.querySelectorAll('#clicks li')].map((l) =>"
        "  [l.querySelector('button').textContent, l.dataset.program,"
        "   !!l.querySelector('.badge.program'), l.querySelector('.agent').textContent])")
    want = [["+15550003", "true", True, PREVIEW], ["+15550001", "false", False, HOSTILE_AGENT],
            ["+15550002", "false", False, PHONE], ["+15550001", "false", False, PHONE]]
    check("selecting it lists its visits, the latest first, the program's flagged",
          wait_for(lambda: visits() == want), visits())
    check("the URL heads them, as text", text_of(d, "link-title") == PRESALE,
          text_of(d, "link-title"))
    check("a hostile user agent is shown as text, and nothing ran",
          d.execute_script("return window.__pwned") is None and
          not d.find_elements(By.CSS_SELECTOR, "main img, main script"), visits())
    shot(d, a.shots, "18-links")
    check("a new visit shows while the view is open",
          visit(p, path["+15550009"], PHONE) == (302, PRESALE) and
          wait_for(lambda: (row() or [])[2:5] == ["4", "3", "75.0 %"] and
                   [v[0] for v in visits()][:2] == ["+15550009", "+15550003"], timeout=20),
          [row(), visits()])
    opener = [b for b in d.find_elements(By.CSS_SELECTOR, "#clicks li button")
              if b.text == "+15550001"]
    if opener:
        opener[0].click()
    check("a visitor's number opens their conversation",
          opener and wait_for(lambda: visible(d, "inbox-page") and visible(d, "thread") and
                              "+15550001" in text_of(d, "thread-title") and
                              "Presale is open: http" in texts(d, "#history li.out")),
          text_of(d, "thread-title"))
    d.find_element(By.ID, "nav-inbox").click()


def versions(d, p, a):
    """The bot's versions: a diff between two, their transcripts run, a rollback."""
    with open(os.path.join(a.dir, "scripts", "fanclub", "bot.lua"), encoding="utf-8") as f:
        source = f.read()
    status, body = request(p.port, "PUT", "/v1/bots/fanclub/script",
                           (source + "\n-- version two: <b>bold</b> claims\n").encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "text/plain"})
    check("a second version is shipped", status == 200 and '"version":2' in body, body)
    d.find_element(By.ID, "nav-bot").click()
    check("the bot page lists its versions, the active one marked",
          wait_for(lambda: d.execute_script(
              "return [...document.querySelectorAll('#versions li')]"
              ".map((l) => l.dataset.version + ':' + l.dataset.active).join()") ==
              "2:true,1:false"))
    d.find_element(By.CSS_SELECTOR, "#compare button").click()
    check("the diff between two versions shows the line added, as text",
          wait_for(lambda: "+ -- version two: <b>bold</b> claims" in texts(d, "#diff .add")),
          texts(d, "#diff"))
    check("... in the file it is in", "bot.lua" in texts(d, "#diff h3"), texts(d, "#diff h3"))
    d.find_element(By.CSS_SELECTOR, "#versions li[data-version='1'] button").click()
    check("a version's transcripts run and pass",
          wait_for(lambda: "pass." in texts(d, "#versions li[data-version='1'] .counts"),
                   timeout=30), texts(d, "#versions li[data-version='1']"))
    check("... and the real messages are replayed on it against the active version: the same",
          wait_for(lambda: re.match(r"Replayed (\d+) real messages of \d+ conversations: \1 the "
                                    r"same, 0 changed, 0 now fail, ", summary_of(d, 1))),
          summary_of(d, 1))
    shot(d, a.shots, "15-versions")
    d.find_element(By.CSS_SELECTOR, "#versions li[data-version='1'] button:nth-of-type(2)").click()
    d.switch_to.alert.accept()
    check("a rollback from the page makes version 1 active",
          wait_for(lambda: d.execute_script(
              "const l = document.querySelector('#versions li[data-version=\"1\"]');"
              "return l && l.dataset.active") == "true"))
    check("... and says what the replay found",
          wait_for(lambda: text_of(d, "versions-note").startswith(
              "Version 1 is active. Replayed ")),
          text_of(d, "versions-note"))
    check("... as the admin API says", active_versions(p) == [1], active_versions(p))
    replayed_versions(d, p, a, source)
    d.find_element(By.ID, "nav-inbox").click()


def active_versions(p):
    status, body = request(p.port, "GET", "/v1/bots/fanclub/versions",
                           headers={"Authorization": "Bearer " + ADMIN})
    return [v["version"] for v in json.loads(body).get("versions", []) if v.get("active")] \
        if status == 200 else body


def replayed_versions(d, p, a, source):
    """Real messages replayed on a version: its report after its transcripts run (a reply
    changed, old and new, the fan's hostile text as text), and "Make it active" refused for
    a version a fan's message now fails on, until "Make it active anyway"."""
    fan(p, "+15550001", HOSTILE_FAN, "m4")  # v1's fallback answers it
    admin = {"Authorization": "Bearer " + ADMIN, "Content-Type": "text/plain"}
    seen = source + '\nbot.hear("onerror", function(c, msg) return "Seen: " .. msg.text end)\n'
    broken = source + ('\nbot.hear("onerror", function(c, msg) '
                       'error("pictures break the bot") end)\n')
    status, body = request(p.port, "PUT", "/v1/bots/fanclub/script", seen.encode(), admin)
    check("version 3 answers the hostile message with a reply of its own",
          status == 200 and '"version":3' in body and '"changed":1' in body, body)
    status, body = request(p.port, "PUT", "/v1/bots/fanclub/script", broken.encode(), admin)
    check("version 4, whose handler fails on it, is refused a reload", status == 422, body)
    status, body = request(p.port, "PUT", "/v1/bots/fanclub/script?accept_errors=1",
                           broken.encode(), admin)
    check("... unless accept_errors=1", status == 200 and '"version":4' in body, body)
    status, body = request(p.port, "POST", "/v1/bots/fanclub/rollback",
                           json.dumps({"version": 1}).encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
    check("version 1 is made active again", status == 200 and active_versions(p) == [1], body)

    d.find_element(By.ID, "nav-inbox").click()
    d.find_element(By.ID, "nav-bot").click()
    check("the list has the four, version 1 active",
          wait_for(lambda: d.execute_script(
              "return [...document.querySelectorAll('#versions > li')]"
              ".map((l) => l.dataset.version + ':' + l.dataset.active).join()") ==
              "4:false,3:false,2:false,1:true"))
    d.find_element(By.CSS_SELECTOR, "#versions li[data-version='3'] button").click()
    check("version 3's transcripts run: the replay's summary says a reply changed",
          wait_for(lambda: re.match(r"Replayed \d+ real messages of \d+ conversations: \d+ the "
                                    r"same, 1 changed, 0 now fail, 0 hit a limit, 0 now get no "
                                    r"reply, 0 unanswerable\.$", summary_of(d, 3)), timeout=30),
          summary_of(d, 3) or texts(d, "#versions li[data-version='3']"))
    example = lambda v, kind: d.execute_script(  # noqa: E731
        "const li = document.querySelector(`#versions li[data-version='${arguments[0]}']"
        "  .replay-examples[data-kind='${arguments[1]}'] li`);"
        "const all = (css) => [...li.querySelectorAll(css)].map((e) => e.textContent);"
        "return li && [li.querySelector('strong').textContent, all('.replay-text')[0],"
        "  all('.replay-old .replay-line'), all('.replay-new .replay-line')]", v, kind)
    got = example(3, "changed") or []
    check("... with the example: the number, the fan's message as text, the old and new reply",
          got[:2] == ["+15550001", HOSTILE_FAN] and len(got[2]) == 1 and
          got[2][0].startswith("Thanks +15550001, message #") and
          got[3] == ["Seen: " + HOSTILE_FAN], got)
    shot(d, a.shots, "19-version-replayed")

    d.find_element(By.CSS_SELECTOR, "#versions li[data-version='4'] button:nth-of-type(2)").click()
    d.switch_to.alert.accept()
    report = lambda: texts(d, "#versions li[data-version='4'] .replay-report")  # noqa: E731
    check("\"Make it active\" on version 4 is refused: real messages now fail on it",
          wait_for(lambda: "real messages replayed on the new version fail" in report()), report())
    check("... its report says so", re.search(r"\d+ the same, 0 changed, 1 now fail, ",
                                              summary_of(d, 4)), summary_of(d, 4))
    got = example(4, "errors") or []
    check("... and names the message: the number, the fan's text, its new error",
          got[:2] == ["+15550001", HOSTILE_FAN] and len(got[3]) == 1 and
          "pictures break the bot" in got[3][0] and got[3][0].startswith("error: "), got)
    check("... version 1 stays active", active_versions(p) == [1] and d.execute_script(
        "return document.querySelector('#versions li[data-version=\"1\"]').dataset.active")
        == "true", active_versions(p))
    check("the fans' texts in the reports are shown as text: nothing ran",
          d.execute_script("return window.__pwned") is None and
          not d.find_elements(By.CSS_SELECTOR, "main img, main script"), report())
    shot(d, a.shots, "20-version-refused")
    anyway = [b for b in d.find_elements(By.CSS_SELECTOR, "#versions li[data-version='4'] button")
              if b.text == "Make it active anyway"]
    check("a button makes it active anyway", len(anyway) == 1, report())
    if anyway:
        anyway[0].click()
        d.switch_to.alert.accept()
    check("... after a confirmation: version 4 is active",
          wait_for(lambda: active_versions(p) == [4] and d.execute_script(
              "const l = document.querySelector('#versions li[data-version=\"4\"]');"
              "return l && l.dataset.active") == "true"), active_versions(p))
    check("... and the page says what the replay found",
          wait_for(lambda: re.match(r"Version 4 is active\. Replayed \d+ real messages .* 1 now "
                                    r"fail", text_of(d, "versions-note"))),
          text_of(d, "versions-note"))
    status, body = request(p.port, "POST", "/v1/bots/fanclub/rollback",
                           json.dumps({"version": 1}).encode(),
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
    check("version 1 is made active again for what follows", status == 200 and
          active_versions(p) == [1], body)


def summary_of(d, version):
    return texts(d, "#versions li[data-version='%d'] .replay-summary" % version)


def simulator(d, p, a):
    """The simulator answers, as parley sim does, on a store of its own."""
    d.find_element(By.ID, "nav-sim").click()

    def say(line):
        box = d.find_element(By.ID, "sim-line")
        box.send_keys(line)
        d.find_element(By.CSS_SELECTOR, "#sim-form button").click()
    say("hi")
    check("the simulator answers as the bot",
          wait_for(lambda: "Welcome to the fan club" in texts(d, "#sim-log .bot")),
          texts(d, "#sim-log"))
    check("... with the rule that took the message", "rule: on_join" in texts(d, "#sim-log .rule"))
    say("/advance 2h")
    check("its clock moves on", wait_for(lambda: "clock:" in texts(d, "#sim-log .rule")),
          texts(d, "#sim-log"))
    say("/save x.chat")
    check("commands of the author's machine are refused",
          wait_for(lambda: "not the console's" in text_of(d, "sim-error")), text_of(d, "sim-error"))
    status, body = request(p.port, "GET", "/v1/bots/fanclub/contacts/%2B15550001/messages",
                           headers={"Authorization": "Bearer " + ADMIN})
    check("the simulator's messages stay out of the bot's store (the fan's one real \"hi\")",
          body.count('"text":"hi"') == 1, body[-300:])
    shot(d, a.shots, "16-simulator")
    d.find_element(By.ID, "nav-inbox").click()


def numbers(d, p, a):
    """Numbers at a glance: the charts drawn, the figures as the API counts them."""
    d.find_element(By.ID, "nav-numbers").click()
    check("the charts are drawn (C3 on D3)",
          wait_for(lambda: d.execute_script(
              "return document.querySelectorAll('#chart-hours .c3-legend-item').length === 2 &&"
              " document.querySelectorAll('#chart-days .c3-legend-item').length === 6 &&"
              " document.querySelectorAll('#chart-hours path.c3-bar').length === 96")),
          d.execute_script("return document.getElementById('chart-hours').innerHTML.slice(0, 300)"))
    offset = d.execute_script("return -new Date().getTimezoneOffset()")
    status, body = request(p.port, "GET", "/v1/bots/fanclub/stats?days=7&offset=%d" % offset,
                           headers={"Authorization": "Bearer " + ADMIN})
    stats = json.loads(body)
    want_in = sum(x["in"] for x in stats["days"])
    check("messages in over the week, as the admin API counts them",
          want_in > 0 and wait_for(lambda: d.execute_script(
              "return [...document.querySelectorAll('#days-table tbody tr')]"
              ".reduce((t, r) => t + Number(r.children[1].textContent), 0)") == want_in),
          body[:300])
    figures = texts(d, "#figures")
    check("the figures: delivery, opt-ins and outs, waits", "Delivered" in figures and
          "Opted in / out" in figures and "Waited for an answer" in figures, figures)
    shot(d, a.shots, "17-numbers")
    d.find_element(By.ID, "nav-inbox").click()


def run(d, p, a, fake):
    base = p.url()
    d.get(base + "/console")
    check("/console shows the sign-in page",
          wait_for(lambda: visible(d, "sign-in-page")) and not visible(d, "inbox-page"))
    shot(d, a.shots, "01-sign-in")

    sign_in(d, "Ana", "not-the-token")
    check("a wrong token is refused, said on the page",
          wait_for(lambda: "neither the admin token" in text_of(d, "sign-in-error")),
          text_of(d, "sign-in-error"))
    check("... and nothing is signed in", not d.get_cookies() and visible(d, "sign-in-page"))
    shot(d, a.shots, "02-sign-in-refused")

    d.find_element(By.ID, "token").clear()
    sign_in(d, "Ana", ADMIN)
    check("the admin signs in: the inbox", wait_for(lambda: visible(d, "inbox-page")))
    check("with who is signed in", wait_for(lambda: text_of(d, "who") == "Ana"), text_of(d, "who"))
    cookies = {c["name"]: c for c in d.get_cookies()}
    c = cookies.get("parley_session", {})
    check("the session cookie is HttpOnly and SameSite=Strict (not Secure over http)",
          c.get("httpOnly") is True and c.get("sameSite") == "Strict" and not c.get("secure"),
          str(c))
    check("the page cannot read it", "parley_session" not in d.execute_script(
        "return document.cookie"))
    check("the token is nowhere in the page or its storage",
          ADMIN not in d.page_source and ADMIN not in d.execute_script(
              "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"))

    check("the bots are offered, by name", [o.get_attribute("value") for o in d.find_elements(
        By.CSS_SELECTOR, "#bot option")] == ["desk", "fanclub", "verify"])
    Select(d.find_element(By.ID, "bot")).select_by_value("fanclub")
    want = ["+15550004", "+15550003", "+15550002", "+15550001"]
    check("the conversations, the latest first",
          wait_for(lambda: conversation_numbers(d) == want), conversation_numbers(d))
    shot(d, a.shots, "03-inbox")

    names = texts(d, "#conversations .name")
    check("a hostile name is shown as text in the list", XSS[1] in names, names)
    for i, text in enumerate(XSS):
        number = "+1555000%d" % (i + 2)
        open_conversation(d, number)
        shown = lambda: texts(d, "#history li.in")  # noqa: E731
        check("a hostile text is shown as written (%d)" % i,
              wait_for(lambda: text in shown()), shown())
    check("none of them ran", d.execute_script("return window.__pwned") is None)
    check("no element came from a fan's text",
          not d.find_elements(By.CSS_SELECTOR, "main img, main script"), d.page_source[:2000])
    title = d.find_element(By.ID, "thread-title").get_attribute("textContent")
    check("right-to-left override characters stay in the text, isolated by the page",
          "\u202E" in texts(d, "#history"), title)
    shot(d, a.shots, "04-hostile-texts")

    unread = texts(d, "#conversations button[data-number='+15550001'] .unread")
    check("unread counts are shown", unread == "2", unread)
    open_conversation(d, "+15550001")
    check("a conversation opens with its whole history, in and out",
          wait_for(lambda: len(d.find_elements(By.CSS_SELECTOR, "#history li.out")) >= 2 and
                   len(d.find_elements(By.CSS_SELECTOR, "#history li.in")) == 2),
          text_of(d, "history"))
    history = text_of(d, "history")
    check("the fan's messages and the bot's replies are in it",
          "Austin" in history and "Welcome to the fan club" in history, history)
    check("reading it clears its unread count",
          wait_for(lambda: not d.find_elements(
              By.CSS_SELECTOR, "#conversations button[data-number='+15550001'] .unread")))
    shot(d, a.shots, "05-conversation")

    check("the page listens to the server's changes (Server-Sent Events)",
          wait_for(lambda: d.execute_script("return state.events && state.events.readyState") == 1))
    fan(p, "+15550009", "new fan here", "m9")
    check("a new fan's message appears without a reload",
          wait_for(lambda: conversation_numbers(d)[:1] == ["+15550009"], timeout=20),
          conversation_numbers(d))
    fan(p, "+15550001", "one more thing", "m3")
    check("a message in the open conversation appears in it",
          wait_for(lambda: "one more thing" in text_of(d, "history"), timeout=20),
          text_of(d, "history"))

    search(d, "AUSTIN")
    check("search finds a conversation by its text, case aside",
          wait_for(lambda: conversation_numbers(d) == ["+15550001"]), conversation_numbers(d))
    search(d, "")
    set_value(d, "in-field", "name")
    set_value(d, "in-value", XSS[1])
    check("filtered by a field's value (the hostile name)",
          wait_for(lambda: conversation_numbers(d) == ["+15550002"]), conversation_numbers(d))
    set_value(d, "in-field", "")
    set_value(d, "in-value", "")
    d.find_element(By.CSS_SELECTOR, ".more-filters summary").click()
    Select(d.find_element(By.ID, "in-status")).select_by_value("opted_out")
    check("filtered by a segment (opted out: none here)",
          wait_for(lambda: conversation_numbers(d) == [] and not text_of(d, "inbox-error")),
          conversation_numbers(d))
    Select(d.find_element(By.ID, "in-status")).select_by_value("subscribed")
    check("... (opted in: every one)", wait_for(lambda: len(conversation_numbers(d)) == 5),
          conversation_numbers(d))
    Select(d.find_element(By.ID, "in-status")).select_by_value("")
    d.find_element(By.CSS_SELECTOR, ".more-filters summary").click()
    check("... and all come back when it is cleared",
          wait_for(lambda: len(conversation_numbers(d)) == 5), conversation_numbers(d))

    csrf = d.execute_script("return state.session.csrf")
    read = "/v1/bots/fanclub/conversations/%2B15550002/read"
    status, body = fetch(d, "POST", read)
    check("a change without the CSRF token is refused (403)", status == 403, body)
    status, body = fetch(d, "POST", read, "0" * 64)
    check("... and with a wrong one", status == 403, body)
    status, body = fetch(d, "POST", read, csrf)
    check("... and done with the session's", status == 200, body)
    status, body = fetch(d, "PUT", "/v1/bots/fanclub/script", csrf)
    check("the script's upload takes the admin token, not a session", status == 401, body)

    handoff(d, p, a, fake)
    contacts(d, p, a)
    broadcasts(d, p, a)
    links(d, p, a)
    versions(d, p, a)
    simulator(d, p, a)
    numbers(d, p, a)

    d.set_window_size(390, 844)
    check("at phone width the open conversation takes the screen, a way back on it",
          wait_for(lambda: visible(d, "back") and not d.find_element(
              By.CSS_SELECTOR, ".list-pane").is_displayed()))
    d.find_element(By.ID, "back").click()
    open_conversation(d, "+15550002")
    check("at phone width a conversation takes the screen",
          wait_for(lambda: visible(d, "thread") and not d.find_element(
              By.CSS_SELECTOR, ".list-pane").is_displayed()))
    shot(d, a.shots, "06-phone-conversation")
    d.find_element(By.ID, "back").click()
    check("... and back goes to the list",
          wait_for(lambda: d.find_element(By.CSS_SELECTOR, ".list-pane").is_displayed()))
    shot(d, a.shots, "07-phone-inbox")
    d.set_window_size(1280, 900)

    proc = p.proc
    proc.terminate()  # with the page's stream open
    try:
        code = proc.wait(timeout=60)
    except Exception:  # noqa: BLE001
        code = None
    p.stop("KILL")
    check("the server stops cleanly on SIGTERM with a console's stream open", code == 0,
          "exit status %s" % code)
    check("the server restarts", p.start(p.port), p.log())
    admin = {"Authorization": "Bearer " + ADMIN}
    status, body = request(p.port, "GET", "/v1/bots/desk/contacts/%2B15550502", headers=admin)
    check("a takeover outlives the restart", status == 200 and
          (json.loads(body).get("handoff") or {}).get("by") == "Ana", body)
    status, body = request(p.port, "GET", "/v1/bots/desk/contacts/%2B15550501/messages",
                           headers=admin)
    check("... and what people did", [x["action"] for x in json.loads(body).get("actions", [])] ==
          ["take", "reply", "note", "handback"], body[-400:])
    status, body = request(p.port, "GET", "/v1/bots/fanclub/conversations?search=Austin",
                           headers=admin)
    check("... and what was read", status == 200 and '"unread":0' in body, body)
    d.get(base + "/console/")
    check("the session outlives a restart of the server",
          wait_for(lambda: visible(d, "inbox-page") and text_of(d, "who") == "Ana"))

    d.find_element(By.ID, "sign-out").click()
    check("sign-out goes back to the sign-in page", wait_for(lambda: visible(d, "sign-in-page")))
    status, body = fetch(d, "GET", "/v1/bots")
    check("after it the session is refused (401)", status == 401, body)
    status, _ = request(p.port, "GET", "/v1/bots", headers={
        "Cookie": "parley_session=" + (c.get("value") or "")})
    check("the signed-out session's cookie is refused even when sent again", status == 401)

    sign_in(d, "Olu", OPERATOR)
    check("an operator signs in", wait_for(lambda: text_of(d, "who") == "Olu (operator)"),
          text_of(d, "who"))
    status, body = fetch(d, "GET", "/v1/bots")
    check("an operator sees its bot only", status == 200 and
          [b["name"] for b in json.loads(body)["bots"]] == ["fanclub"], body)
    status, body = fetch(d, "GET", "/v1/bots/verify/conversations")
    check("... and is refused another's (403)", status == 403, body)
    status, body = fetch(d, "GET", "/v1/bots/verify/contacts")
    check("... through every admin endpoint", status == 403, body)
    shot(d, a.shots, "08-operator-inbox")

    status, body = request(p.port, "POST", "/v1/console/session",
                           b"token=x&name=y", {"Content-Type": "application/x-www-form-urlencoded"})
    check("a sign-in must be JSON (another site's form cannot sign anyone in)", status == 415,
          body)
    tries = [request(p.port, "POST", "/v1/console/session",
                     json.dumps({"token": "guess-%d" % i, "name": "Eve"}).encode(),
                     {"Content-Type": "application/json"})[0] for i in range(10)]
    check("wrong tokens are refused", tries == [403] * 10, tries)
    status, body = request(p.port, "POST", "/v1/console/session",
                           json.dumps({"token": ADMIN, "name": "Eve"}).encode(),
                           {"Content-Type": "application/json"})
    check("after ten, the address is refused for a while, even with the right token (429)",
          status == 429, body)


if __name__ == "__main__":
    sys.exit(main())
