import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import BetterSqlite3 from 'better-sqlite3'
import { runCli, startServer, type RunningServer } from './helper.js'
import { httpCall, seedDatabaseFile } from './server-fixtures.js'

// Crash and restart on the real compiled server. Bounded in time: each load phase runs for a
// second or two (CRASH_LOAD_MS to change it).
const LOAD_MS = Number(process.env.CRASH_LOAD_MS ?? 1500)
const WRITERS = 6

/** Test clean-up: a server that is still running is killed (one already dead is left alone). */
function killIfRunning (server: RunningServer): void {
  if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL')
}

function integrity (file: string): string {
  const db = new BetterSqlite3(file)
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ')
  } finally {
    db.close()
  }
}

function rows (file: string, sql: string): Array<Record<string, unknown>> {
  const db = new BetterSqlite3(file, { readonly: true })
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}

/**
 * The writes one load run made, as the client saw them: a write counts as acknowledged only when
 * its complete 2xx response arrived. A write in flight when the server died may or may not have
 * landed; both are correct.
 */
class WriteLog {
  /** location id → its acknowledged city (the field PUTs change), and the one in flight */
  readonly locations = new Map<number, { acked: string, pending: string | null, name: string }>()
  /** creations sent but not acknowledged (name → sent) */
  readonly pendingCreates = new Set<string>()
  acked = 0
  sent = 0
  failures = 0
}

/** Writer loops of location POSTs and PUTs until `stop` resolves; each writer updates only its own rows. */
async function writeLoad (server: RunningServer, key: string, log: WriteLog, stop: Promise<unknown>, tag: string): Promise<void> {
  let stopped = false
  void stop.then(() => { stopped = true })
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    const mine: number[] = []
    for (let i = 0; !stopped; i++) {
      if (mine.length === 0 || i % 3 !== 2) {
        const name = `${tag} w${w} #${i}`
        log.sent++
        log.pendingCreates.add(name)
        try {
          const res = await httpCall(server.url, { method: 'POST', path: '/api/v1/locations.php', key, body: { name, city: 'c0' } })
          if (res.status !== 201) { log.failures++; continue }
          const id = (JSON.parse(res.body) as { data: { id: number } }).data.id
          log.pendingCreates.delete(name)
          log.locations.set(id, { acked: 'c0', pending: null, name })
          mine.push(id)
          log.acked++
        } catch { log.failures++ }
      } else {
        const id = mine[i % mine.length]!
        const entry = log.locations.get(id)!
        const city = `c${i}`
        entry.pending = city
        log.sent++
        try {
          const res = await httpCall(server.url, { method: 'PUT', path: `/api/v1/locations.php?id=${id}`, key, body: { city } })
          if (res.status !== 200) { log.failures++; continue }
          entry.acked = city
          entry.pending = null
          log.acked++
        } catch { log.failures++ }
      }
    }
  }))
}

function checkWrites (t: Test, file: string, log: WriteLog): void {
  const stored = new Map(rows(file, 'select id, name, city from locations').map((r) => [r.id as number, r]))
  let lost = 0
  for (const [id, entry] of log.locations) {
    const row = stored.get(id)
    if (row === undefined || row.name !== entry.name) { lost++; continue }
    if (row.city !== entry.acked && row.city !== entry.pending) lost++
  }
  t.equal(lost, 0, `every acknowledged write survived (${log.acked} acknowledged, ${log.locations.size} locations)`)
  // nothing appears that was never sent
  const known = new Set([...log.locations.values()].map((e) => e.name))
  const strangers = [...stored.values()].filter((r) => !known.has(r.name as string) && !log.pendingCreates.has(r.name as string))
  t.equal(strangers.length, 0, 'no row that was never sent')
}

t.test('SIGKILL in the middle of write load loses no acknowledged write; integrity_check is ok', async (t) => {
  const file = join(t.testdir(), 'crash.db')
  const { key } = await seedDatabaseFile(file)
  const log = new WriteLog()
  for (let round = 0; round < 2; round++) {
    const server = await startServer(file)
    t.teardown(() => { killIfRunning(server) })
    const killed = (async () => {
      // kill once writes are flowing, at a moment the writers do not choose
      while (log.acked < 20 * (round + 1)) await sleep(10)
      await sleep(LOAD_MS * (0.5 + Math.random() / 2))
      server.process.kill('SIGKILL')
      await new Promise((resolve) => server.process.once('exit', resolve))
    })()
    await writeLoad(server, key, log, killed, `r${round}`)
    t.equal(server.process.signalCode, 'SIGKILL', `round ${round}: killed mid-load after ${log.acked} acknowledged writes`)
    t.equal(integrity(file), 'ok', `round ${round}: PRAGMA integrity_check`)
    checkWrites(t, file, log)
  }
  // and it starts again on the same file and serves what was written
  const server = await startServer(file)
  t.teardown(() => { killIfRunning(server) })
  const ready = await httpCall(server.url, { path: '/ready' })
  t.equal(ready.status, 200)
  const list = await httpCall(server.url, { path: '/api/v1/locations.php?limit=1', key })
  t.ok((JSON.parse(list.body) as { pagination: { total: number } }).pagination.total >= log.locations.size, 'the restarted server lists every acknowledged location')
  t.equal(await server.stop('SIGTERM'), 0)
})

t.test('SIGTERM drains in-flight requests: each gets its whole response, then exit 0', async (t) => {
  const file = join(t.testdir(), 'drain.db')
  const { key } = await seedDatabaseFile(file)
  const server = await startServer(file)
  t.teardown(() => { killIfRunning(server) })
  const { hostname, port } = new URL(server.url)

  // in flight = the server has the request's headers and is still receiving its body
  const inFlight = Array.from({ length: 8 }, (_, i) => {
    const body = JSON.stringify({ name: `Drained ${i}`, city: 'Leeds' })
    const socket = connect(Number(port), hostname)
    let response = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { response += c })
    const done = new Promise<string>((resolve) => { socket.on('close', () => resolve(response)); socket.on('error', () => resolve(response)) })
    socket.write(`POST /api/v1/locations.php HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` + body.slice(0, 10))
    return { socket, rest: body.slice(10), done }
  })
  // and a burst of ordinary requests fired just before the signal
  const burst = Array.from({ length: 20 }, async (_, i) =>
    await httpCall(server.url, { method: 'POST', path: '/api/v1/locations.php', key, body: { name: `Burst ${i}` } }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} })))
  await sleep(200)
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)))
  server.process.kill('SIGTERM')
  await sleep(300)
  t.equal(server.process.exitCode, null, 'still running while requests are in flight')
  for (const r of inFlight) r.socket.write(r.rest)
  const responses = await Promise.all(inFlight.map(async (r) => await r.done))
  for (const [i, response] of responses.entries()) {
    t.match(response, /^HTTP\/1\.1 201 Created\r\n/, `in-flight request ${i} completed`)
    const body = response.slice(response.indexOf('\r\n\r\n') + 4)
    t.match(JSON.parse(body), { data: { name: `Drained ${i}`, city: 'Leeds' } }, `in-flight request ${i}: whole body`)
  }
  const burstResults = await Promise.all(burst)
  t.ok(burstResults.every((r) => r.status === 201), `the burst before the signal completed: ${burstResults.map((r) => r.status).join(',')}`)
  t.equal(await exited, 0, 'exit code 0')
  const names = rows(file, 'select name from locations').map((r) => r.name as string)
  t.equal(names.filter((n) => n.startsWith('Drained')).length, 8, 'every drained write is stored')
  t.equal(names.filter((n) => n.startsWith('Burst')).length, 20)
  t.equal(integrity(file), 'ok')
})

/** `pagination.total` of every list endpoint the server documents, for a key. */
async function listTotals (server: RunningServer, key: string): Promise<Record<string, number | string>> {
  const spec = JSON.parse((await httpCall(server.url, { path: '/api/v1/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> }
  const totals: Record<string, number | string> = {}
  for (const path of Object.keys(spec.paths).filter((p) => spec.paths[p]!.get !== undefined).sort()) {
    const res = await httpCall(server.url, { path: `${path}?limit=1`, key })
    const body = JSON.parse(res.body) as { pagination?: { total: number } }
    if (res.status === 200 && body.pagination !== undefined) totals[path] = body.pagination.total
    else totals[path] = `status ${res.status}`
  }
  return totals
}

t.test('tempclock backup under write load restores to a working server with the same counts', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'source.db')
  const { key } = await seedDatabaseFile(file)
  const source = await startServer(file)
  t.teardown(() => { killIfRunning(source) })
  const log = new WriteLog()
  let stopLoad!: () => void
  const loadDone = writeLoad(source, key, log, new Promise<void>((resolve) => { stopLoad = resolve }), 'b')
  while (log.acked < 30) await sleep(10)

  // under load: the backup is one consistent moment between the writes acknowledged before it
  // started and the writes sent before it finished
  const ackedBefore = log.locations.size
  const backup = join(dir, 'under-load.db')
  const result = await runCli(['--json', '--db', file, 'backup', backup])
  const sentBy = log.locations.size + log.pendingCreates.size
  t.equal(result.code, 0, result.stderr)
  t.equal(integrity(backup), 'ok', 'the backup passes integrity_check')
  const inBackup = rows(backup, 'select count(*) as n from locations')[0]!.n as number
  t.ok(inBackup >= ackedBefore && inBackup <= sentBy, `backup holds ${inBackup} locations: between ${ackedBefore} acknowledged before and ${sentBy} sent by its end`)
  const restored = await startServer(backup)
  t.teardown(() => { killIfRunning(restored) })
  const restoredTotals = await listTotals(restored, key)
  t.equal(restoredTotals['/api/v1/locations.php'], inBackup, 'a server on the backup lists exactly what the backup holds')
  t.equal(await restored.stop(), 0)

  // writes paused: the backup answers the very same totals as the source, on every list endpoint
  stopLoad()
  await loadDone
  const sourceTotals = await listTotals(source, key)
  const quiet = join(dir, 'quiet.db')
  t.equal((await runCli(['--db', file, 'backup', quiet])).code, 0)
  const fromQuiet = await startServer(quiet)
  t.teardown(() => { killIfRunning(fromQuiet) })
  t.same(await listTotals(fromQuiet, key), sourceTotals, `same list totals as the source: ${JSON.stringify(sourceTotals)}`)
  t.equal(sourceTotals['/api/v1/locations.php'], rows(file, 'select count(*) as n from locations')[0]!.n, 'the source total is what its file holds')
  t.equal(await fromQuiet.stop(), 0)
  t.equal(await source.stop(), 0)
})
