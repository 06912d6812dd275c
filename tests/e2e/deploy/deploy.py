"""parley serve keeps what was shipped to it across restarts (see ../deploy.sh)."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Parley, check, query, request, summary, wait_for  # noqa: E402

HOOK, ADMIN = "deploy-hook-1", "deploy-admin-2"
CLOCK = "2026-03-02 12:00 America/New_York"

ECHO = """bot.config{ name = "Echo", numbers = {"+15550100"} }
bot.fallback(function(c, msg) return "%s: " .. msg.text end)
"""
ECHO_CHAT = """> +15550001 hi
< %s: hi
"""
OTHER = """bot.config{ name = "Other", numbers = {%s} }
bot.fallback(function(c, msg) return "other: " .. msg.text end)
"""
MADE = """bot.keyword("LATER", function(c, msg)
  bot.after("2s", "ping")
  return "in 2 seconds"
end)
bot.handler("ping", function(c) c:send("ping from a timer") end)
bot.fallback(function(c, msg) return "made: " .. msg.text end)
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def echo_folder(scripts, word):
    write(os.path.join(scripts, "echo", "bot.lua"), ECHO % word)
    write(os.path.join(scripts, "echo", "tests", "echo.chat"), ECHO_CHAT % word)


def admin(p, method, path, body=b"", ctype="application/json"):
    return request(p.port, method, path, body,
                   {"Authorization": "Bearer " + ADMIN, "Content-Type": ctype})


def say(p, bot, text, frm="+15550001"):
    status, body = request(p.port, "POST", "/v1/bots/%s/messages" % bot,
                           json.dumps({"from": frm, "text": text}).encode(),
                           {"Authorization": "Bearer " + HOOK, "Content-Type": "application/json"})
    try:
        return status, json.loads(body).get("replies") or json.loads(body).get("error")
    except ValueError:
        return status, body


def routed(p, to, text):
    status, body = request(p.port, "POST", "/v1/messages",
                           json.dumps({"from": "+15550009", "to": to, "text": text}).encode(),
                           {"Authorization": "Bearer " + HOOK, "Content-Type": "application/json"})
    return status, body


def active_version(p, bot):
    status, body = admin(p, "GET", "/v1/bots/%s/versions" % bot)
    if status != 200:
        return None
    return [v["id"] for v in json.loads(body)["versions"] if v["active"]]


def upload(p, bot, files):
    return admin(p, "PUT", "/v1/bots/%s/script" % bot, json.dumps({"files": files}).encode())


def start_fails(binary, db, scripts):
    """parley serve that must refuse to start: (exit code, what it printed)."""
    env = dict(os.environ, PARLEY_WEBHOOK_TOKEN=HOOK, PARLEY_ADMIN_TOKEN=ADMIN)
    try:
        r = subprocess.run([binary, "serve", "--listen", "127.0.0.1:1", "--db", db,
                            "--scripts", scripts, "--test-clock", CLOCK],
                           capture_output=True, text=True, timeout=30, env=env)
        return r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        return None, "did not stop"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    scripts = os.path.join(a.dir, "scripts")
    db = os.path.join(a.dir, "deploy.db")
    echo_folder(scripts, "v1")
    write(os.path.join(scripts, "other", "bot.lua"), OTHER % '"+15550200"')
    p = Parley(a.parley, a.dir, db, scripts,
               {"PARLEY_WEBHOOK_TOKEN": HOOK, "PARLEY_ADMIN_TOKEN": ADMIN},
               flags=["--test-clock", CLOCK])
    if not check("parley serve starts", p.start(), p.log()):
        return summary()
    try:
        run(p, a, scripts, db)
    finally:
        p.stop("KILL")
    return summary()


def versions(p, bot):
    status, body = admin(p, "GET", "/v1/bots/%s/versions" % bot)
    return [v.get("version") for v in json.loads(body)["versions"]] if status == 200 else body


def run(p, a, scripts, db):
    # version numbers count per bot: each bot's first version is 1
    check("each bot's first version is version 1", (versions(p, "echo"), versions(p, "other"))
          == ([1], [1]), (versions(p, "echo"), versions(p, "other")))
    check("the start says so for each", "loaded %s (version 1)" % os.path.join(scripts, "other")
          in p.log(), p.log()[-600:])
    # a version shipped over HTTP, and a bot created by PUT with a timer
    r = upload(p, "echo", {"bot.lua": ECHO % "v2", "tests/echo.chat": ECHO_CHAT % "v2"})
    check("a new version of echo is activated", r[0] == 200, r)
    check("... as echo's version 2, whatever the other bots have",
          json.loads(r[1]).get("version") == 2, r)
    v2 = active_version(p, "echo")
    r = admin(p, "PUT", "/v1/bots/made/script", MADE.encode(), "text/x-lua")
    check("a bot is created by PUT", r[0] == 200, r)
    check("... with its own version 1", json.loads(r[1]).get("version") == 1, r)
    check("... it sets a timer", say(p, "made", "later") == (200, ["in 2 seconds"]))
    p.stop("KILL")
    # the simulator on the same database (as make sim does) loads the folder
    # without changing what the server runs
    sim = subprocess.run([a.parley, "sim", os.path.join(scripts, "echo"), "--db", db],
                         input="hi\n", capture_output=True, text=True, timeout=30)
    check("the simulator runs the folder's version on the same database", "v1: hi" in sim.stdout,
          sim.stdout + sim.stderr)
    check("after SIGKILL the server starts again", p.start(), p.log())
    check("the version shipped over HTTP is still active after a crash",
          active_version(p, "echo") == v2, active_version(p, "echo"))
    check("... and it answers", say(p, "echo", "x") == (200, ["v2: x"]), say(p, "echo", "x"))
    check("the bot created by PUT answers after a crash", say(p, "made", "x") == (200, ["made: x"]),
          say(p, "made", "x"))
    sent = wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE text = "
                                      "'ping from a timer'")[0][0], timeout=15)
    check("... and its timer, set before the crash, fired", sent == 1, sent)
    check("the log says the active version came back",
          "echo: version %d, active before the restart (its folder is unchanged)" % v2[0] in p.log(),
          p.log()[-600:])

    # a rollback survives a clean restart
    r = admin(p, "POST", "/v1/bots/echo/rollback")
    check("rollback to the version before", r[0] == 200, r)
    v1 = active_version(p, "echo")
    p.stop("TERM")
    check("after SIGTERM the server starts again", p.start(), p.log())
    check("the rolled-back version is active after a restart", active_version(p, "echo") == v1,
          active_version(p, "echo"))
    # (parley sim on the same database recorded echo's folder without its
    # transcripts as a version too: 3)
    check("the numbers survive restarts", (v1, v2, versions(p, "echo"), versions(p, "made"))
          == ([1], [2], [1, 2, 3], [1]), (v1, v2, versions(p, "echo"), versions(p, "made")))
    r = admin(p, "POST", "/v1/bots/echo/rollback", b'{"version": 2}')
    check("rollback to a version by its number", r[0] == 200 and json.loads(r[1])["version"] == 2, r)
    r = admin(p, "POST", "/v1/bots/other/rollback", b'{"version": 2}')
    check("another bot's number is not this bot's version (404)", r[0] == 404, r)
    r = admin(p, "POST", "/v1/bots/echo/rollback", b'{"version": 1}')
    check("... and back to 1", r[0] == 200 and active_version(p, "echo") == v1, r)
    check("... and it answers", say(p, "echo", "y") == (200, ["v1: y"]), say(p, "echo", "y"))

    # every reload runs the bot's transcripts, whatever shape the upload has
    r = admin(p, "PUT", "/v1/bots/echo/script", (ECHO % "v3").encode(), "text/x-lua")
    check("a bot.lua alone is held to the running version's transcripts (422)",
          r[0] == 422 and "tests/echo.chat:2" in r[1], r)
    r = upload(p, "echo", {"bot.lua": ECHO % "v3"})
    check("JSON files without transcripts are held to them too (422)",
          r[0] == 422 and "tests/echo.chat:2" in r[1], r)
    check("... and the active version is unchanged", active_version(p, "echo") == v1)

    # parley reload finds a server on another port from PARLEY_LISTEN or the
    # config file, and prints the bot's own version number
    def reload_cli(env, *args, bot="other"):
        env = dict({k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")},
                   PARLEY_ADMIN_TOKEN=ADMIN, **env)
        r = subprocess.run([a.parley, "reload", bot, "--dir", os.path.join(scripts, bot)]
                           + list(args), capture_output=True, text=True, timeout=60, env=env)
        return r.returncode, r.stdout + r.stderr
    r = reload_cli({"PARLEY_LISTEN": "127.0.0.1:%d" % p.port})
    check("parley reload reaches the server at PARLEY_LISTEN, printing the bot's own number",
          r == (0, "other: version 1 is active\n"), r)
    conf = os.path.join(a.dir, "reload.conf")
    write(conf, "listen = 0.0.0.0:%d\n" % p.port)
    r = reload_cli({}, "--config", conf)
    check("... or at the listen address of --config FILE", r == (0, "other: version 1 is active\n"), r)
    r = reload_cli({"PARLEY_URL": p.url()}, "--config", os.path.join(a.dir, "none.conf"))
    check("... a config file that cannot be read is an error", r[0] == 2, r)
    r = reload_cli({}, "--url", "http://127.0.0.1:1")
    check("no server there: the answer names the address and how to give another",
          r[0] == 1 and "http://127.0.0.1:1" in r[1] and "--url" in r[1], r)

    # a number belongs to one bot
    r = upload(p, "other", {"bot.lua": OTHER % '"+15550200", "+15550100"'})
    check("a reload claiming another bot's number is refused (409), naming both bots",
          r[0] == 409 and "+15550100 is served by bot 'echo'" in r[1] and "other" in r[1], r)
    check("... and the number still reaches its bot", "v1: n" in routed(p, "+15550100", "n")[1],
          routed(p, "+15550100", "n"))
    check("the refusal is logged", "reload_refused reason=number_taken" in p.log(), p.log()[-400:])
    p.stop("TERM")

    # the folder changed while the server was down
    echo_folder(scripts, "v4")
    check("a changed folder becomes a version at start (its transcripts pass)", p.start(), p.log())
    check("... which is active and answers", say(p, "echo", "z") == (200, ["v4: z"]),
          say(p, "echo", "z"))
    v4 = active_version(p, "echo")
    check("... as a new version", v4 not in (v1, v2), v4)
    p.stop("TERM")
    check("an unchanged folder changes nothing", p.start() and active_version(p, "echo") == v4,
          p.log()[-400:])
    p.stop("TERM")
    write(os.path.join(scripts, "echo", "bot.lua"), ECHO % "v5")  # its transcript says v4
    check("a changed folder whose transcripts fail does not stop the start", p.start(), p.log())
    check("... the active version stays", say(p, "echo", "w") == (200, ["v4: w"]),
          say(p, "echo", "w"))
    check("... and the log says why", "reload_refused source=start" in p.log()
          and "tests/echo.chat:2" in p.log(), p.log()[-600:])
    p.stop("TERM")
    echo_folder(scripts, "v4")

    # shared modules: scripts/lib/ beside the bot folders
    def signed(sig, said=None):
        write(os.path.join(scripts, "lib", "sign.lua"), 'return { sig = "%s" }\n' % sig)
        write(os.path.join(scripts, "signed", "tests", "s.chat"),
              "> +15550001 hi\n< hi %s\n" % (said or sig))
    write(os.path.join(scripts, "signed", "bot.lua"),
          'local sign = require("lib.sign")\n'
          'bot.fallback(function(c, msg) return msg.text .. " " .. sign.sig end)\n')
    signed("-A")
    check("a bot requiring a shared module starts", p.start(), p.log())
    check("... and answers with it", say(p, "signed", "hi") == (200, ["hi -A"]), say(p, "signed", "hi"))
    check("lib/ is not a bot", admin(p, "GET", "/v1/bots/lib/versions")[0] == 404)
    echo_versions = versions(p, "echo")
    p.stop("TERM")
    signed("-B", "-A")  # the bot's transcript still says -A
    check("a shared module changed while the server was down goes through the bot's gate",
          p.start() and "reload_refused source=start dir=%s" % os.path.join(scripts, "signed") in p.log() and "tests/s.chat:2" in p.log(),
          p.log()[-600:])
    check("... which refuses it: the active version stays", say(p, "signed", "hi") == (200, ["hi -A"]),
          say(p, "signed", "hi"))
    p.stop("TERM")
    signed("-B")
    check("with its transcript updated it starts", p.start(), p.log())
    check("... as the bot's new version", (say(p, "signed", "hi"), versions(p, "signed"))
          == ((200, ["hi -B"]), [1, 2]), (say(p, "signed", "hi"), versions(p, "signed")))
    check("... and a bot that does not require it has no new version",
          versions(p, "echo") == echo_versions, (versions(p, "echo"), echo_versions))
    signed("-C")
    r = reload_cli({"PARLEY_URL": p.url()}, bot="signed")
    check("parley reload sends the shared modules the bot requires",
          r[0] == 0 and r[1].endswith("signed: version 3 is active\n") and
          "6 changed" in r[1] and say(p, "signed", "hi") == (200, ["hi -C"]),
          (r, say(p, "signed", "hi")))
    p.stop("TERM")
    check("a restart keeps it", p.start() and "signed: version 3, active before the restart (its "
          "folder is unchanged)" in p.log(), p.log()[-600:])
    p.stop("TERM")

    # numbers at start: a move between two bots in the same start is fine,
    # two bots claiming one number is not
    write(os.path.join(scripts, "echo", "bot.lua"),
          (ECHO % "v4").replace('"+15550100"', '"+15550300"'))
    write(os.path.join(scripts, "other", "bot.lua"), OTHER % '"+15550200", "+15550100"')
    check("a number moved from one bot's folder to another's starts", p.start(), p.log())
    check("... and reaches its new bot", "other: m" in routed(p, "+15550100", "m")[1],
          routed(p, "+15550100", "m"))
    p.stop("TERM")
    write(os.path.join(scripts, "twin", "bot.lua"), OTHER % '"+15550100"')
    code, out = start_fails(a.parley, db, scripts)
    check("two bots claiming one number: the start is refused, naming both",
          code == 1 and "+15550100 is served by bot" in out and "twin" in out and "other" in out,
          "%s %s" % (code, out))
    os.remove(os.path.join(scripts, "twin", "bot.lua"))
    os.rmdir(os.path.join(scripts, "twin"))
    write(os.path.join(scripts, "fresh", "bot.lua"), ECHO.replace("+15550100", "+15550400") % "f")
    write(os.path.join(scripts, "fresh", "tests", "f.chat"), ECHO_CHAT % "not f")
    code, out = start_fails(a.parley, db, scripts)
    check("a new bot folder whose transcripts fail stops the start, naming the line",
          code == 1 and "tests/f.chat:2" in out, "%s %s" % (code, out))

    # the scripts folder given as a bot folder, or empty: the start says which
    code, out = start_fails(a.parley, os.path.join(a.dir, "fresh.db"), os.path.join(scripts, "echo"))
    check("--scripts naming a bot folder: the start says it is one",
          code == 1 and "echo is a bot folder (it has a bot.lua)" in out, "%s %s" % (code, out))
    os.makedirs(os.path.join(a.dir, "empty"))
    code, out = start_fails(a.parley, os.path.join(a.dir, "fresh.db"), os.path.join(a.dir, "empty"))
    check("an empty scripts folder: the start says it has no bot folders",
          code == 1 and "empty has no bot folders" in out, "%s %s" % (code, out))


if __name__ == "__main__":
    sys.exit(main())
