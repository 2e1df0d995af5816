import t from 'tap'
import { once } from 'node:events'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { LocationStore } from '../db/locations.js'
import { ROOT, startServer } from './helper.js'
import { httpCall, listenInProcess, seedDatabaseFile } from './server-fixtures.js'
import { insertWorker } from './time-fixtures.js'

// A real server, SIGKILLed right after the COMMIT of a POST's work and before its response is
// written (test/kill-after-commit.mjs, preloaded), then restarted: a retry with the same
// Idempotency-Key must replay the first answer at once, not run the work a second time. Two
// routes (each kill costs a server start); test/idempotency.test.ts proves for every POST route
// that the stored response and the work commit or fail together.
// a plain .mjs beside this file's source: tsc does not copy it into dist-test/
const PRELOAD = pathToFileURL(join(ROOT, 'test', 'kill-after-commit.mjs')).href

interface Case {
  name: string
  path: string
  /** SQL text of the work's insert: the commit after it is where the process dies */
  marker: string
  body: (ids: { worker: number, location: number }) => Record<string, unknown>
  /** how many records the work made, read through the API after the retry */
  count: (get: (path: string) => Promise<Array<Record<string, unknown>>>, ids: { worker: number, location: number }) => Promise<number>
}

const CASES: Case[] = [
  {
    name: 'a worker (record routes)',
    path: '/api/v1/workers.php',
    marker: 'insert into "workers"',
    body: () => ({ first_name: 'Once', last_name: 'Only' }),
    count: async (get) => (await get('/api/v1/workers.php?search=Once')).length
  },
  {
    name: 'a clock-in',
    path: '/api/v1/clock.php',
    marker: 'insert into "time_entries"',
    body: ({ worker }) => ({ worker_id: worker, action: 'in' }),
    count: async (get, { worker }) => (await get(`/api/v1/timesheets.php?entry_filter=active&worker_id=${worker}`)).length
  }
]

t.test('SIGKILL between the commit and the response: the retry replays, the work happens once', async (t) => {
  const file = join(t.testdir(), 'idempotency-crash.db')
  const { accountId, key } = await seedDatabaseFile(file)
  const handle = openSqliteEngine({ file })
  const worker = await handle.write(async (trx) => await insertWorker(trx, accountId))
  const location = (await new LocationStore(handle).create(accountId, { name: 'Depot' })).id
  await handle.close()
  const ids = { worker, location }

  for (const c of CASES) {
    const server = await startServer(file, {
      LOG_LEVEL: 'info',
      TEMPCLOCK_TEST_KILL_AFTER: c.marker,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`
    })
    const exited = once(server.process, 'exit')
    const sent = httpCall(server.url, { method: 'POST', path: c.path, key, body: c.body(ids), headers: { 'idempotency-key': `crash-${c.path}` } })
    await t.rejects(sent, `${c.name}: no response, the process died`)
    await exited
    t.equal(server.process.signalCode, 'SIGKILL', `${c.name}: killed after the commit`)
  }

  // the restart: the app on the same file, in this process
  const server = await listenInProcess(t, file)
  const get = async (path: string): Promise<Array<Record<string, unknown>>> => {
    const res = await httpCall(server.url, { path, key })
    t.equal(res.status, 200, path)
    return (JSON.parse(res.body) as { data: Array<Record<string, unknown>> }).data
  }
  for (const c of CASES) {
    const started = Date.now()
    const retry = await httpCall(server.url, { method: 'POST', path: c.path, key, body: c.body(ids), headers: { 'idempotency-key': `crash-${c.path}` } })
    t.equal(retry.status, 201, `${c.name}: the retry answers like the first request would have: ${retry.body}`)
    t.equal(retry.headers['idempotent-replayed'], 'true', `${c.name}: replayed, not run again`)
    t.ok(Date.now() - started < 5_000, `${c.name}: at once, not after a takeover delay`)
    t.equal(await c.count(get, ids), 1, `${c.name}: made once`)
  }
})
