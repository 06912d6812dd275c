// The in-process peer of bench/bench.c's workload section: the workload of
// shared/bench/WORKLOAD.md (N messages over U contacts, the same input byte
// for byte) run by Hubot 14 with an in-process adapter and everything in
// memory (the brain's users: nothing persisted). The runtime's compliance
// (rules 1-3: opt-out, opt-in, silence) is a receive middleware; the bot's
// rules 4-6 are ordinary Hubot listeners (hear, catchAll). Each message is
// received and fully handled, replies included, before the next one.
//
//   node workload.mjs [--brief] [N] [U]     (200000 and 10000 by default)
//
// --brief: the totals that are right are counted, not listed.
// Prints messages/second and, for N=200000 U=10000, checks the exact
// totals of WORKLOAD.md: a total that differs is printed as WRONG and the
// exit status is 1. The last line is for bench/bench.sh:
//   hubot-workload: messages=N seconds=S msgs_per_s=R wrong=0|1
import { Adapter, loadBot, TextMessage } from 'hubot'

const args = process.argv.slice(2)
const brief = args[0] === '--brief'
if (brief) args.shift()
const N = Number(args[0] || 200000)
const U = Number(args[1] || 10000)
if (!(N > 0) || !(U > 0) || U > 9999999) {
  console.error('usage: node workload.mjs [N] [U]')
  process.exit(2)
}

const STOP_TEXTS = ['STOP', ' unsubscribe', 'Cancel ', 'end', '\tQUIT\n']
const START_TEXTS = ['START', ' start ', 'Start']
const TOUR_TEXTS = ['When is the next tour?', 'TOUR dates please', 'tour merch?', 'Tour!']
const MERCH_TEXTS = ['where can I buy merch', 'MERCH?', 'any merch left']
const FREE_TEXTS = ['hello', 'I love the new album', 'please stop by the store',
  'detour on the highway', 'see you at the show', 'merchandise?',
  'start the show already', 'thanks!']

function lowbias32 (x) {
  x = x >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d) >>> 0
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b) >>> 0
  x ^= x >>> 16
  return x >>> 0
}

function messageText (i) {
  const slot = ((i % 100) + (lowbias32(Math.floor(i / 100)) % 100)) % 100
  if (slot <= 1) return STOP_TEXTS[i % 5]
  if (slot === 2) return START_TEXTS[i % 3]
  if (slot <= 12) return TOUR_TEXTS[i % 4]
  if (slot <= 17) return MERCH_TEXTS[i % 3]
  return FREE_TEXTS[i % 8]
}

// What the adapter sent, by kind (the same sorting as bench.c's queries).
const sent = { stop: 0, start: 0, tour: 0, merch: 0, thanks: 0, replies: 0 }
class InProcess extends Adapter { // no chat network: messages come from the loop below
  async run () { this.emit('connected') }
  async send (envelope, ...strings) {
    for (const s of strings) {
      sent.replies++
      if (s.includes('unsubscribed')) sent.stop++
      else if (s.includes('subscribed again') || s === 'Welcome back!') sent.start++
      else if (s.startsWith('Tour dates:')) sent.tour++
      else if (s.startsWith('Shop:')) sent.merch++
      else if (s.startsWith('Thanks ')) sent.thanks++
    }
  }

  async reply (envelope, ...strings) { return this.send(envelope, ...strings) }
  close () {}
}

const robot = loadBot({ use: async (r) => new InProcess(r) }, false, 'bench')
await robot.loadAdapter()
await robot.run()

// Rules 1-3, the runtime's compliance, ahead of every listener.
const OPT_OUT = /^(stop|stopall|unsubscribe|cancel|end|quit)$/
let silenced = 0
let optinFromOptedOut = 0
robot.receiveMiddleware(async (context) => {
  const res = context.response
  const user = res.message.user
  const word = (res.message.text || '').trim().toLowerCase()
  if (OPT_OUT.test(word)) {
    user.optedOut = true
    await res.send('You are unsubscribed. Reply START to subscribe again.')
    return false
  }
  if (word === 'start' && user.optedOut) {
    user.optedOut = false
    optinFromOptedOut++
    await res.send('You are subscribed again. Reply STOP to unsubscribe.')
    return false
  }
  if (user.optedOut) {
    silenced++
    return false
  }
  return true
})

// Rules 4-6, the bot (bench/workload/bot.lua's four handlers).
robot.hear(/^\s*start\s*$/i, async (res) => {
  res.message.finish()
  await res.send('Welcome back!')
})
robot.hear(/\btour\b/i, async (res) => {
  res.message.finish()
  await res.send('Tour dates: ...')
})
robot.hear(/\bmerch\b/i, async (res) => {
  res.message.finish()
  await res.send('Shop: ...')
})
robot.catchAll(async (res) => {
  const user = res.message.user
  user.n = (user.n || 0) + 1
  await res.send(`Thanks ${user.id}, message #${user.n} received`)
})

const numbers = []
for (let u = 0; u < U; u++) numbers.push('+1555' + String(u).padStart(7, '0'))

const t0 = process.hrtime.bigint()
for (let i = 0; i < N; i++) {
  const user = robot.brain.userForId(numbers[i % U], { room: numbers[i % U] })
  await robot.receive(new TextMessage(user, messageText(i), String(i)))
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
robot.shutdown()

const users = Object.values(robot.brain.users())
const optedOut = users.filter((u) => u.optedOut).length
const counters = users.reduce((sum, u) => sum + (u.n || 0), 0)
console.log(`hubot workload: ${N} messages over ${U} contacts, Hubot 14 in memory (in-process adapter)`)
console.log(`  messages/second                        ${String(Math.round(N / secs)).padStart(8)}`)
console.log(`  wall time                              ${secs.toFixed(2).padStart(8)} s`)
console.log(`  peak RSS                               ${(process.resourceUsage().maxRSS / 1024).toFixed(1).padStart(8)} MiB`)

let wrong = 0
let right = 0
function check (what, got, want) {
  const ok = got === want
  if (ok) right++
  if (!ok || !brief) console.log(`  ${what.padEnd(38)} ${String(got).padStart(8)}  ${ok ? 'ok' : 'WRONG'}`)
  if (!ok) {
    console.log(`    expected ${want}`)
    wrong = 1
  }
}
if (N === 200000 && U === 10000) {
  if (!brief) console.log('totals (counted by the adapter and read from the brain):')
  check('handled stop (opt-out confirmations)', sent.stop, 4000)
  check('handled start (opt-in + Welcome back!)', sent.start, 2000)
  check('handled tour', sent.tour, 16649)
  check('handled merch', sent.merch, 8378)
  check('handled thanks', sent.thanks, 137548)
  check('replies', sent.replies, 168575)
  check('no reply (silenced)', silenced, 31425)
  check('opted-out contacts at the end', optedOut, 3083)
  check('sum of all counters', counters, 137548)
  check('START from an opted-out contact', optinFromOptedOut, 306)
} else {
  if (!brief) console.log('consistency (no expected totals for this size):')
  check('replies + no reply', sent.replies + silenced, N)
  check('sum of all counters = thanks', counters, sent.thanks)
}
if (brief && !wrong) console.log(`  all ${right} totals correct (counted by the adapter and read from the brain)`)
console.log(`hubot-workload: messages=${N} seconds=${secs.toFixed(3)} msgs_per_s=${Math.round(N / secs)} wrong=${wrong}`)
process.exit(wrong)
