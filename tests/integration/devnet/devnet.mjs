// Bluesky's reference network (@atproto/dev-env: PLC, PDS, AppView, bsync, Ozone) for socialtui's
// opt-in integration test (tests/integration/test_devnet.py). Needs Node 22 and, in the environment,
// DB_POSTGRES_URL (a PostgreSQL server the AppView, bsync and Ozone migrate their schemas into) and
// REDIS_HOST (host:port), as dev-env's TestNetwork.create asserts.
//
// It starts the network on free ports, creates three accounts on the PDS (brand.test, with an app
// password as socialtui uses; stranger.test; helpdesk.test, a third party to mention), lets the AppView
// index them, and prints ONE line to stdout:
//
//   DEVNET_READY {"pds": "http://127.0.0.1:<port>", "appview": ..., "control": ..., "brand": {...}, ...}
//
// (each account: handle, did, password, displayName; the brand's also appPassword).
//
// Then it stays up until stdin closes, or SIGTERM/SIGINT. While up, a control server on 127.0.0.1
// answers POST /process-all: it runs dev-env's `network.processAll()` (the PDS's background queue,
// the AppView's firehose subscription, bsync) so that what was just written is indexed, and answers
// {"ok": true} when done. Everything else it says goes to stderr.

import http from 'node:http'
import process from 'node:process'

const MARKER = 'DEVNET_READY '
const log = (...args) => console.error('[devnet]', ...args)

// dev-env and the services it runs may console.log: keep stdout for our one line.
const writeStdout = process.stdout.write.bind(process.stdout)
console.log = (...args) => console.error(...args)
console.info = (...args) => console.error(...args)

const env = process.env
if (!env.DB_POSTGRES_URL) throw new Error('DB_POSTGRES_URL is not set (postgres://user@127.0.0.1:5432/db)')
if (!env.REDIS_HOST) throw new Error('REDIS_HOST is not set (127.0.0.1:6379)')

const { TestNetwork, JWT_SECRET } = await import('@atproto/dev-env')

// A fresh schema per run (letters and _ only, as bsync requires): runs never see each other's data.
const randomLetters = (n) =>
  Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 26)]).join('')
const schema = env.DEVNET_SCHEMA || `socialtui_${randomLetters(10)}`
const started = Date.now()
let network
let control
let closing = false

async function shutdown(why, code = 0) {
  if (closing) return
  closing = true
  log(`shutting down (${why})`)
  const force = setTimeout(() => {
    log('close took too long: exiting')
    process.exit(code || 1)
  }, 15_000)
  force.unref()
  try {
    control?.close()
    if (network) await network.close()
  } catch (err) {
    log('close failed:', err?.stack || err)
  }
  process.exit(code)
}

process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('unhandledRejection', (err) => {
  log('unhandled rejection:', err?.stack || err)
})
process.stdin.on('end', () => void shutdown('stdin closed'))
process.stdin.on('error', () => void shutdown('stdin error'))
process.stdin.resume()

async function xrpc(base, nsid, body, token) {
  const res = await fetch(`${base}/xrpc/${nsid}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${nsid}: HTTP ${res.status} ${text}`)
  return text ? JSON.parse(text) : {}
}

async function createAccount(pds, name, displayName, { appPassword = false } = {}) {
  const handle = `${name}.test`
  const password = `${name}-password-${Math.random().toString(36).slice(2, 10)}`
  const account = await xrpc(pds, 'com.atproto.server.createAccount', {
    handle,
    email: `${name}@socialtui.test`,
    password,
  })
  await xrpc(
    pds,
    'com.atproto.repo.createRecord',
    {
      repo: account.did,
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
      record: { $type: 'app.bsky.actor.profile', displayName },
    },
    account.accessJwt,
  )
  const out = { handle: account.handle, did: account.did, password, displayName }
  if (appPassword) {
    const made = await xrpc(
      pds,
      'com.atproto.server.createAppPassword',
      { name: 'socialtui' },
      account.accessJwt,
    )
    out.appPassword = made.password
  }
  return out
}

try {
  network = await TestNetwork.create({ dbPostgresSchema: schema })
  log(`network up in ${Date.now() - started} ms (schema ${schema})`)

  // dev-env names its services http://localhost:<port>; they listen on every interface, and the
  // test speaks to them on 127.0.0.1 (the address socialtui's config accepts for plain http).
  const pds = `http://127.0.0.1:${network.pds.port}`
  const appview = `http://127.0.0.1:${network.bsky.port}`

  const brand = await createAccount(pds, 'brand', 'Brand ✨ Support', { appPassword: true })
  const stranger = await createAccount(pds, 'stranger', 'A Stranger')
  const helpdesk = await createAccount(pds, 'helpdesk', 'Brand Helpdesk')
  await network.processAll()

  let queue = Promise.resolve()
  control = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/process-all') {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"ok": false, "error": "POST /process-all"}')
      return
    }
    // One processAll at a time.
    queue = queue.then(async () => {
      const at = Date.now()
      try {
        await network.processAll()
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ok: true, ms: Date.now() - at }))
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ok: false, error: String(err?.stack || err) }))
      }
    })
  })
  await new Promise((resolve, reject) => {
    control.once('error', reject)
    control.listen(0, '127.0.0.1', resolve)
  })

  const ready = {
    pds,
    appview,
    plc: network.plc.url,
    control: `http://127.0.0.1:${control.address().port}`,
    schema,
    // The PDS's HS256 secret for session tokens (a dev-env constant): lets the test make a real
    // expired access token, to see the PDS's 400 ExpiredToken without waiting two hours.
    jwtSecret: JWT_SECRET,
    startupMs: Date.now() - started,
    node: process.version,
    brand,
    stranger,
    helpdesk,
  }
  writeStdout(MARKER + JSON.stringify(ready) + '\n')
  log(`ready in ${ready.startupMs} ms: PDS ${pds}, AppView ${appview}`)
} catch (err) {
  log('failed to start:', err?.stack || err)
  await shutdown('startup failed', 1)
}
