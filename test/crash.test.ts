import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import BetterSqlite3 from 'better-sqlite3'
import { runCli, startServer, startTogether, type RunningServer } from './helper.js'
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
  /** location creations sent but not acknowledged, by name */
  readonly pendingCreates = new Set<string>()
  /** acknowledged worker creations: id → first name */
  readonly workers = new Map<number, string>()
  /** acknowledged clock-ins: time entry id → worker, and whether its clock-out was acknowledged */
  readonly clockEntries = new Map<number, { workerId: number, outAcked: boolean }>()
  /** acknowledged shift creations: id → location */
  readonly shifts = new Map<number, number>()
  acked = 0
  sent = 0
  failures = 0
}

/** Which write endpoints this build has (clock events, shifts and workers land separately). */
async function writeFeatures (server: RunningServer): Promise<{ workers: boolean, clock: boolean, shifts: boolean }> {
  const spec = JSON.parse((await httpCall(server.url, { path: '/api/v1/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> }
  const has = (path: string): boolean => spec.paths[path]?.post !== undefined
  const workers = has('/api/v1/workers.php')
  return { workers, clock: workers && has('/api/v1/clock.php'), shifts: has('/api/v1/shifts.php') }
}

/**
 * Writer loops until `stop` resolves: location POSTs and PUTs and, where the build has them, worker
 * creations, clock-ins and clock-outs, and shift creations. Each writer changes only its own rows.
 */
async function writeLoad (server: RunningServer, key: string, log: WriteLog, stop: Promise<unknown>, tag: string): Promise<void> {
  let stopped = false
  void stop.then(() => { stopped = true })
  const features = await writeFeatures(server)
  const ops = ['location', 'location', 'update',
    ...(features.workers ? ['worker'] : []), ...(features.clock ? ['clock', 'clock'] : []), ...(features.shifts ? ['shift'] : [])]

  /** POSTs or PUTs; resolves to the new or changed record's id, or null when not acknowledged. */
  const write = async (method: 'POST' | 'PUT', path: string, body: unknown): Promise<number | null> => {
    log.sent++
    try {
      const res = await httpCall(server.url, { method, path, key, body })
      if (res.status !== 200 && res.status !== 201) { log.failures++; return null }
      log.acked++
      return (JSON.parse(res.body) as { data: { id: number } }).data.id
    } catch {
      log.failures++
      return null
    }
  }

  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    const mine: number[] = []
    let workerId: number | null = null
    let openEntry: number | null = null
    /** after an unacknowledged clock event the worker's state is unknown: the next action says */
    let nextAction: 'in' | 'out' = 'in'
    for (let i = 0; !stopped; i++) {
      const op = mine.length === 0 ? 'location' : (features.clock && workerId === null) ? 'worker' : ops[i % ops.length]!
      if (op === 'location') {
        const name = `${tag} w${w} #${i}`
        log.pendingCreates.add(name)
        const id = await write('POST', '/api/v1/locations.php', { name, city: 'c0' })
        if (id === null) continue
        log.pendingCreates.delete(name)
        log.locations.set(id, { acked: 'c0', pending: null, name })
        mine.push(id)
      } else if (op === 'update') {
        const id = mine[i % mine.length]!
        const entry = log.locations.get(id)!
        const city = `c${i}`
        entry.pending = city
        if (await write('PUT', `/api/v1/locations.php?id=${id}`, { city }) === null) continue
        entry.acked = city
        entry.pending = null
      } else if (op === 'worker') {
        const firstName = `${tag}w${w}n${i}`
        const id = await write('POST', '/api/v1/workers.php', { first_name: firstName, last_name: 'Crash' })
        if (id === null) continue
        log.workers.set(id, firstName)
        workerId ??= id
      } else if (op === 'clock' && workerId !== null) {
        const action: 'in' | 'out' = nextAction
        const id = await write('POST', '/api/v1/clock.php', { worker_id: workerId, action })
        nextAction = action === 'in' ? 'out' : 'in'
        if (id === null) continue
        if (action === 'in') {
          openEntry = id
          log.clockEntries.set(id, { workerId, outAcked: false })
        } else {
          const entry = log.clockEntries.get(openEntry ?? id)
          if (entry !== undefined) entry.outAcked = true
          openEntry = null
        }
      } else if (op === 'shift') {
        const start = new Date(Date.UTC(2027, 0, 1) + (w * 100_000 + i) * 3_600_000)
        const id = await write('POST', '/api/v1/shifts.php', {
          location_id: mine[0], start_time: start.toISOString().replace(/\.\d+Z$/, 'Z'),
          end_time: new Date(start.getTime() + 1_800_000).toISOString().replace(/\.\d+Z$/, 'Z')
        })
        if (id !== null) log.shifts.set(id, mine[0]!)
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
  t.equal(lost, 0, `every acknowledged location write survived (${log.locations.size} locations)`)
  // nothing appears that was never sent
  const known = new Set([...log.locations.values()].map((e) => e.name))
  const strangers = [...stored.values()].filter((r) => !known.has(r.name as string) && !log.pendingCreates.has(r.name as string))
  t.equal(strangers.length, 0, 'no location that was never sent')

  // each change commits with its webhook event (the outbox), so neither is lost without the other
  const events = rows(file, 'select type, payload from events')
  const eventCount = (type: string): number => events.filter((e) => e.type === type).length
  if (log.workers.size > 0) {
    const workers = new Map(rows(file, 'select id, first_name from workers').map((r) => [r.id as number, r.first_name]))
    t.equal([...log.workers].filter(([id, name]) => workers.get(id) !== name).length, 0, `every acknowledged worker survived (${log.workers.size})`)
    const announced = new Set(events.filter((e) => e.type === 'worker_created').map((e) => (JSON.parse(e.payload as string) as { id?: number }).id))
    t.equal([...log.workers.keys()].filter((id) => !announced.has(id)).length, 0, 'every acknowledged worker has its worker_created event')
  }
  if (log.clockEntries.size > 0) {
    const entries = new Map(rows(file, 'select id, worker_id, clock_out from time_entries').map((r) => [r.id as number, r]))
    const lostEvents = [...log.clockEntries].filter(([id, e]) => {
      const row = entries.get(id)
      return row === undefined || row.worker_id !== e.workerId || (e.outAcked && row.clock_out === null)
    })
    const outs = [...log.clockEntries.values()].filter((e) => e.outAcked).length
    t.equal(lostEvents.length, 0, `every acknowledged clock event survived (${log.clockEntries.size} in, ${outs} out)`)
    t.ok(eventCount('clock_in') >= log.clockEntries.size && eventCount('clock_out') >= outs, 'with its clock_in / clock_out event')
  }
  if (log.shifts.size > 0) {
    const shifts = new Map(rows(file, 'select id, location_id from shifts').map((r) => [r.id as number, r.location_id]))
    t.equal([...log.shifts].filter(([id, loc]) => shifts.get(id) !== loc).length, 0, `every acknowledged shift survived (${log.shifts.size})`)
    t.ok(eventCount('shift_created') >= log.shifts.size, 'with its shift_created event')
  }
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
    t.equal(server.process.signalCode, 'SIGKILL', `round ${round}: killed mid-load after ${log.acked} acknowledged writes (${log.failures} not acknowledged)`)
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

  // in flight = the server has the request's headers (it logged "incoming request") and is still
  // receiving its body
  let arrived = 0
  server.process.stdout!.on('data', (chunk: Buffer) => { arrived += chunk.toString().split('"msg":"incoming request"').length - 1 })
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
  for (let waited = 0; arrived < inFlight.length && waited < 10_000; waited += 10) await sleep(10)
  t.equal(arrived, inFlight.length, 'the server has every request\'s headers')
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)))
  server.process.kill('SIGTERM')
  await sleep(300)
  t.equal(server.process.exitCode, null, 'still running while requests are in flight')
  // a request that arrives after the signal is turned away at once, never left hanging
  const late = await httpCall(server.url, { path: '/api/v1/locations.php', key, timeoutMs: 5_000 }).catch((err: NodeJS.ErrnoException) => ({ status: err.code ?? err.message }))
  t.ok(late.status === 503 || late.status === 'ECONNREFUSED' || late.status === 'ECONNRESET', `a new request after SIGTERM: ${String(late.status)}`)
  for (const r of inFlight) r.socket.write(r.rest)
  const responses = await Promise.all(inFlight.map(async (r) => await r.done))
  for (const [i, response] of responses.entries()) {
    t.match(response, /^HTTP\/1\.1 201 Created\r\n/, `in-flight request ${i} completed`)
    const body = response.slice(response.indexOf('\r\n\r\n') + 4)
    t.match(body, `"name":"Drained ${i}"`, `in-flight request ${i}: whole body`)
    t.doesNotThrow(() => JSON.parse(body), `in-flight request ${i}: complete JSON`)
  }
  t.equal(await exited, 0, 'exit code 0')
  const names = rows(file, 'select name from locations').map((r) => r.name as string)
  t.equal(names.filter((n) => n.startsWith('Drained')).length, 8, 'every drained write is stored')
  t.equal(integrity(file), 'ok', 'PRAGMA integrity_check')
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
  // the backup is taken: the writes stop, so that the servers below do not start against them
  stopLoad()
  await loadDone
  t.equal(result.code, 0, result.stderr)
  t.equal(integrity(backup), 'ok', 'the backup passes integrity_check')
  const inBackup = rows(backup, 'select count(*) as n from locations')[0]!.n as number
  t.ok(inBackup >= ackedBefore && inBackup <= sentBy, `backup holds ${inBackup} locations: between ${ackedBefore} acknowledged before and ${sentBy} sent by its end`)

  // writes paused: a second backup answers the very same totals as the source, on every list endpoint
  const sourceTotals = await listTotals(source, key)
  const quiet = join(dir, 'quiet.db')
  t.equal((await runCli(['--db', file, 'backup', quiet])).code, 0)
  // a server on each backup, started together
  const [restored, fromQuiet] = await startTogether(t, [backup, quiet], {}) as [RunningServer, RunningServer]
  const restoredTotals = await listTotals(restored, key)
  t.equal(restoredTotals['/api/v1/locations.php'], inBackup, 'a server on the backup lists exactly what the backup holds')
  t.equal(await restored.stop(), 0)
  t.same(await listTotals(fromQuiet, key), sourceTotals, `same list totals as the source: ${JSON.stringify(sourceTotals)}`)
  t.equal(sourceTotals['/api/v1/locations.php'], rows(file, 'select count(*) as n from locations')[0]!.n, 'the source total is what its file holds')
  t.equal(await fromQuiet.stop(), 0)
  t.equal(await source.stop(), 0)
})
