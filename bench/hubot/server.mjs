// The HTTP peer of bench/http.sh: Hubot 14 serving the same Twilio webhooks
// through its express router (robot.router), answering TwiML with the
// workload bot's replies (bench/workload/bot.lua: START, tour, merch, and a
// per-contact message count kept in the robot's brain). No signature check
// and nothing persisted: the peer does less work than parley does.
//   EXPRESS_PORT=8081 EXPRESS_BIND_ADDRESS=127.0.0.1 sh peer.sh server.mjs
import { Adapter, loadBot } from 'hubot'

class Quiet extends Adapter { // no chat network: the webhook is the only input
  async run () { this.emit('connected') }
  async send () {}
  async reply () {}
  close () {}
}

const robot = loadBot({ use: async (r) => new Quiet(r) }, true, 'bench')
await robot.loadAdapter()
await robot.run()

const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const counts = new Map()
robot.router.post('/twilio/workload', (req, res) => {
  const from = req.body.From || ''
  const text = (req.body.Body || '').trim()
  const lower = text.toLowerCase()
  let reply
  if (/^(stop|stopall|unsubscribe|cancel|end|quit)$/.test(lower)) reply = 'You are unsubscribed.'
  else if (lower === 'start') reply = 'Welcome back!'
  else if (/\btour\b/.test(lower)) reply = 'Tour dates: ...'
  else if (/\bmerch\b/.test(lower)) reply = 'Shop: ...'
  else {
    const n = (counts.get(from) || 0) + 1
    counts.set(from, n)
    reply = `Thanks ${from}, message #${n} received`
  }
  res.type('text/xml').send(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>${xml(reply)}</Message></Response>`)
})
robot.router.get('/healthz', (req, res) => res.send('ok\n'))
