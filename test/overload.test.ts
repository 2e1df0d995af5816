import t from 'tap'
import { connect } from 'node:net'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig, testConfig } from '../plugins/config.js'
import { bearer, buildTestApp, createTestAccount, startServer } from './helper.js'
import { seedDatabaseFile } from './server-fixtures.js'

const OVERLOAD = testConfig().overload

function busyWait (ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) { /* block the event loop on purpose */ }
}

t.test('over the memory limit every request but /health is shed with 503 overloaded + Retry-After', async (t) => {
  const app = await buildTestApp(t, { overload: { ...OVERLOAD, maxRssBytes: 1024 * 1024, retryAfterS: 7, sampleIntervalMs: 20 } })
  const account = await createTestAccount(app)
  await sleep(100) // let the sampler read the memory once
  const res = await app.inject({ url: '/api/v1/locations.php', headers: { ...bearer(account.key), origin: 'https://a.example' } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.equal(res.headers['access-control-allow-origin'], '*', 'CORS still on the shed response')
  t.match(res.headers['content-type'], /^application\/json/)
  t.match(res.json(), { error: true, status: 503, code: 'overloaded', message: /overloaded.*7 seconds/, request_id: /\S/ })
  // shed before authentication: no key needed to be told to back off, and no key lookup done
  const anon = await app.inject({ url: '/api/v1/locations.php' })
  t.equal(anon.statusCode, 503)
  t.equal(anon.json().code, 'overloaded')
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 503, '/ready reports overload so a balancer routes around it')
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200, '/health still answers')
  t.same(health.json(), { status: 'ok' })
})

t.test('a lagging event loop sheds load, and the server recovers when it catches up', async (t) => {
  const app = await buildTestApp(t, { overload: { ...OVERLOAD, maxEventLoopDelayMs: 30, sampleIntervalMs: 50 } })
  const account = await createTestAccount(app)
  const ok = await app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) })
  t.equal(ok.statusCode, 200, 'not shed while idle')

  let shed: { statusCode: number, headers: Record<string, unknown>, json: () => any } | undefined
  let healthDuringLag = 0
  for (let attempt = 0; attempt < 10 && shed === undefined; attempt++) {
    busyWait(400)
    await sleep(1) // the sampler's overdue timer runs first and sees the lag
    const [res, health] = await Promise.all([
      app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) }),
      app.inject({ url: '/health' })
    ])
    if (res.statusCode === 503) { shed = res; healthDuringLag = health.statusCode }
  }
  t.ok(shed !== undefined, 'a request was shed while the loop lagged')
  t.equal(shed?.json().code, 'overloaded')
  t.equal(shed?.headers['retry-after'], String(OVERLOAD.retryAfterS))
  t.equal(healthDuringLag, 200, '/health is never shed')

  let recovered = false
  for (let i = 0; i < 40 && !recovered; i++) {
    await sleep(50)
    recovered = (await app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) })).statusCode === 200
  }
  t.ok(recovered, 'served again once the loop caught up')
})

t.test('the server applies the slow-client timeouts', async (t) => {
  const app = await buildTestApp(t, { headersTimeoutMs: 1234, requestTimeoutMs: 5678 })
  t.equal(app.server.headersTimeout, 1234, 'headers timeout (slowloris)')
  t.equal(app.server.requestTimeout, 5678, 'whole-request timeout')
  t.equal(app.server.timeout, 30_000, 'idle socket timeout')
  t.equal(app.server.keepAliveTimeout, 5_000, 'idle keep-alive timeout')
})

t.test('overload and timeout settings are validated at start', async (t) => {
  t.equal(loadConfig({}).overload.maxEventLoopDelayMs, 1000)
  t.equal(loadConfig({}).headersTimeoutMs, 10_000)
  t.equal(testConfig().overload.maxEventLoopDelayMs, 0, 'tests shed nothing unless they ask')
  t.equal(loadConfig({ TEMPCLOCK_MAX_RSS_MB: '0' }).overload.maxRssBytes, 0, '0 turns a check off')
  t.throws(() => loadConfig({ TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS: 'soon' }), /TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS must be a whole number/)
  t.throws(() => loadConfig({ TEMPCLOCK_RETRY_AFTER_S: '0' }), /TEMPCLOCK_RETRY_AFTER_S must be/)
  t.throws(() => loadConfig({ TEMPCLOCK_HEADERS_TIMEOUT_MS: '5000', TEMPCLOCK_REQUEST_TIMEOUT_MS: '1000' }), /must not exceed/)
})

t.test('on a real socket', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'overload.db')
  const { key } = await seedDatabaseFile(file)
  // short timeouts, so that the slow clients below are cut within a second or so
  const HEADERS_MS = 500
  const REQUEST_MS = 1000
  const server = await startServer(file, {
    LOG_LEVEL: 'info',
    TEMPCLOCK_BODY_LIMIT: '1024',
    TEMPCLOCK_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    TEMPCLOCK_REQUEST_TIMEOUT_MS: String(REQUEST_MS)
  })
  t.teardown(async () => { await server.stop('SIGKILL') })
  const { hostname, port } = new URL(server.url)

  /** Opens a raw socket, feeds it `first` then `drip` every 200 ms; resolves when the server closes it. */
  async function slowClient (first: string, drip: string): Promise<{ ms: number, received: string }> {
    const started = Date.now()
    const socket = connect(Number(port), hostname)
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { received += c })
    socket.on('error', () => {})
    socket.write(first)
    const timer = setInterval(() => { if (!socket.destroyed && socket.writable) socket.write(drip) }, 200)
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve())
      setTimeout(() => { socket.destroy(); resolve() }, 10_000)
    })
    clearInterval(timer)
    return { ms: Date.now() - started, received }
  }

  await t.test('slowloris: headers dripped one line at a time are cut by the headers timeout', async (t) => {
    const { ms, received } = await slowClient('GET /health HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n')
    t.ok(ms >= HEADERS_MS * 0.9 && ms < HEADERS_MS + 3000, `cut after ${ms} ms (headers timeout ${HEADERS_MS} ms, checked as often)`)
    t.match(received, /^HTTP\/1\.1 408 /, 'told 408 before the socket closed')
    t.match(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)), { error: true, status: 408, code: 'request_timeout', request_id: /^req_/ }, 'in the JSON envelope')
  })

  /** Sends raw bytes on a fresh socket; resolves with everything the server wrote before closing. */
  async function raw (bytes: string): Promise<{ status: number, type: string, body: unknown }> {
    const socket = connect(Number(port), hostname)
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { received += c })
    socket.on('error', () => {})
    socket.write(bytes)
    await new Promise((resolve) => socket.on('close', resolve))
    const head = received.slice(0, received.indexOf('\r\n\r\n'))
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
      type: /content-type: ([^\r]+)/i.exec(head)?.[1] ?? '',
      body: JSON.parse(received.slice(head.length + 4))
    }
  }

  await t.test('what the HTTP parser refuses is answered in the JSON envelope too', async (t) => {
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n')
    t.equal(garbage.status, 400)
    t.match(garbage.type, /^application\/json/)
    t.match(garbage.body, { error: true, status: 400, code: 'malformed_request' })
    const bigHeader = await raw(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    t.equal(bigHeader.status, 431)
    t.match(bigHeader.body, { error: true, status: 431, code: 'headers_too_large' })
    const hugeUrl = await raw(`GET /api/v1/locations.php?search=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    t.equal(hugeUrl.status, 431, 'a URL beyond the header limit')
    t.match(hugeUrl.body, { code: 'headers_too_large' })
  })

  await t.test('a body dripped byte by byte is cut by the request timeout', async (t) => {
    const head = `POST /api/v1/locations.php HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"name":"'
    const { ms, received } = await slowClient(head, 'a')
    t.ok(ms >= REQUEST_MS * 0.75 && ms < REQUEST_MS + 3000, `cut after ${ms} ms (request timeout ${REQUEST_MS} ms)`)
    t.notMatch(received, /^HTTP\/1\.1 201/, 'nothing was created')
  })

  await t.test('a chunked body over the limit is refused with 413 JSON', async (t) => {
    const res = await new Promise<{ status: number, type: string, body: string }>((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, method: 'POST', path: '/api/v1/locations.php', agent: false,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (r) => {
        let body = ''
        r.setEncoding('utf8')
        r.on('data', (c: string) => { body += c })
        r.on('end', () => resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), body }))
      })
      req.on('error', (err) => { if (!req.destroyed) reject(err) })
      req.write('{"name":"')
      let sent = 0
      const more = setInterval(() => {
        if (sent >= 40 || req.destroyed) { clearInterval(more); if (!req.destroyed) req.end('"}'); return }
        sent++
        req.write('x'.repeat(256))
      }, 5)
    })
    t.equal(res.status, 413)
    t.match(res.type, /^application\/json/)
    t.match(JSON.parse(res.body), { error: true, status: 413, code: 'payload_too_large' })
    const list = await fetch(`${server.url}/api/v1/locations.php`, { headers: bearer(key) })
    t.equal(((await list.json()) as { pagination: { total: number } }).pagination.total, 0, 'nothing was stored')
  })

  await t.test('a chunked body within the limit is accepted', async (t) => {
    const res = await fetch(`${server.url}/api/v1/locations.php`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('{"name":"Chunked')); c.enqueue(new TextEncoder().encode(' site"}')); c.close() } }),
      duplex: 'half'
    } as RequestInit)
    t.equal(res.status, 201)
    t.equal(((await res.json()) as { data: { name: string } }).data.name, 'Chunked site')
  })
})

t.test('a real server over its memory limit sheds without logging an error per request', async (t) => {
  const file = join(t.testdir(), 'shed.db')
  const { key } = await seedDatabaseFile(file)
  const server = await startServer(file, { TEMPCLOCK_MAX_RSS_MB: '1', TEMPCLOCK_PRESSURE_SAMPLE_MS: '20' })
  t.teardown(async () => { await server.stop('SIGKILL') })
  let log = ''
  server.process.stdout!.on('data', (c: Buffer) => { log += c.toString() })
  await sleep(200) // past the start-up grace
  const answers = await Promise.all(Array.from({ length: 20 }, async () => {
    const res = await fetch(`${server.url}/api/v1/locations.php`, { headers: bearer(key) })
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as { code: string } }
  }))
  t.ok(answers.every((a) => a.status === 503 && a.retryAfter === '5' && a.body.code === 'overloaded'), 'every request shed with 503 + Retry-After')
  t.equal((await fetch(`${server.url}/health`)).status, 200, '/health answers')
  await sleep(100)
  t.notMatch(log, /"level":50/, 'no error-level log lines for shed requests')
})
