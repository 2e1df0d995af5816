import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { startServer } from './helper.js'
import { insertWorker } from './time-fixtures.js'
import { listenInProcess } from './server-fixtures.js'

interface Ack { action: 'in' | 'out', id: number, clock_in: string, clock_out: string | null }

t.test('SIGKILL during a stream of clock events: every acknowledged event survives, the file is intact', async (t) => {
  const file = join(t.testdir(), 'crash.db')
  const handle = openSqliteEngine({ file })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Crash', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
  const workers: number[] = []
  for (let i = 0; i < 16; i++) workers.push(await handle.write(async (trx) => await insertWorker(trx, account.id, { first_name: `W${i}` })))
  await handle.close()

  const server = await startServer(file, { LOG_LEVEL: 'info', TEMPCLOCK_DB_SYNCHRONOUS: 'FULL' })
  const acks: Ack[] = []
  let killed = false
  // one stream per worker, each alternating in/out as fast as the server answers
  const streams = workers.map(async (worker) => {
    let action: 'in' | 'out' = 'in'
    while (!killed) {
      try {
        const res = await fetch(`${server.url}/api/v1/clock.php`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ worker_id: worker, action })
        })
        const body = await res.json() as { data: { id: number, clock_in: string, clock_out: string | null } }
        if (res.status >= 200 && res.status < 300) {
          acks.push({ action, id: body.data.id, clock_in: body.data.clock_in, clock_out: body.data.clock_out })
          action = action === 'in' ? 'out' : 'in'
        } else {
          throw new Error(`unexpected ${res.status}: ${JSON.stringify(body)}`)
        }
      } catch (err) {
        if (killed) return
        throw err
      }
    }
  })
  // kill mid-stream once a good number of events are acknowledged (or as soon as a stream fails)
  let streamFailed = false
  void Promise.all(streams).catch(() => { streamFailed = true })
  while (acks.length < 40 && !streamFailed) await sleep(10)
  killed = true
  // (not server.stop(): after a SIGKILL exitCode stays null, so it would wait for an exit already gone)
  const exited = once(server.process, 'exit')
  server.process.kill('SIGKILL')
  const outcomes = await Promise.allSettled(streams)
  await exited
  t.same(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)), [], 'no stream failed before the kill')
  t.ok(acks.length > 20, `${acks.length} events acknowledged before the kill`)

  // restart on the same file (the app, in this process): recovery runs, the server answers
  const again = await listenInProcess(t, file)
  const health = await fetch(`${again.url}/api/v1/timesheets.php?entry_filter=all&limit=1`, { headers: { authorization: `Bearer ${key}` } })
  t.equal(health.status, 200)

  const db = new BetterSqlite3(file, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  const byId = db.prepare('select id, clock_in, clock_out, status from time_entries where id = ?')
  const eventIds = new Set((db.prepare("select payload from events where type = ?").all('clock_in') as Array<{ payload: string }>).map((r) => JSON.parse(r.payload).id as number))
  const outEventIds = new Set((db.prepare("select payload from events where type = ?").all('clock_out') as Array<{ payload: string }>).map((r) => JSON.parse(r.payload).id as number))
  let missing = 0
  for (const ack of acks) {
    const row = byId.get(ack.id) as { clock_in: string, clock_out: string | null, status: string } | undefined
    if (row === undefined || row.clock_in !== ack.clock_in) { missing++; continue }
    if (ack.action === 'out' && (row.clock_out !== ack.clock_out || row.status !== 'completed')) missing++
    if (ack.action === 'in' && !eventIds.has(ack.id)) missing++
    if (ack.action === 'out' && !outEventIds.has(ack.id)) missing++
  }
  t.equal(missing, 0, 'every acknowledged clock event (and its webhook event) is on disk')
  const open = db.prepare("select worker_id, count(*) n from time_entries where status = 'active' group by worker_id having n > 1").all()
  t.same(open, [], 'still at most one open entry per worker')
})
