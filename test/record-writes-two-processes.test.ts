import { join } from 'node:path'
import t from 'tap'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { startServer } from './helper.js'

// Record PUTs read the row, then write it. In a deferred transaction, a second process that wrote
// in between makes the write fail at once with SQLITE_BUSY (a 500); the SQLite engine's
// BEGIN IMMEDIATE makes it wait for the lock instead.
t.test('concurrent read-then-write PUTs and POSTs from two server processes on one file: never a 500, no failed webhook loop pass', async (t) => {
  const file = join(t.testdir(), 'two.db')
  const handle = openSqliteEngine({ file })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Two', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: 100_000 })
  await handle.close()

  const [a, b] = await Promise.all([startServer(file), startServer(file)])
  t.teardown(async () => { await a.stop(); await b.stop() })
  let logs = ''
  for (const server of [a, b]) server.process.stdout!.on('data', (chunk: Buffer) => { logs += chunk.toString() })
  const send = async (server: typeof a, method: string, path: string, body: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    return { status: res.status, body: await res.json() }
  }

  const location = (await send(a, 'POST', '/api/v1/locations.php', { name: 'Depot' })).body.data.id as number
  const department = (await send(a, 'POST', '/api/v1/departments.php', { name: 'Dept' })).body.data.id as number
  const worker = (await send(a, 'POST', '/api/v1/workers.php', { first_name: 'A', last_name: 'B' })).body.data.id as number

  const N = 40
  const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const server = i % 2 === 0 ? a : b
    switch (i % 4) {
      case 0: return await send(server, 'PUT', `/api/v1/locations.php?id=${location}`, { city: `City ${i}` })
      case 1: return await send(server, 'PUT', `/api/v1/workers.php?id=${worker}`, { last_name: `B${i}`, location_id: location })
      case 2: return await send(server, 'PUT', `/api/v1/departments.php?id=${department}`, { name: `Dept ${i}`, location_id: location })
      default: return await send(server, 'POST', '/api/v1/cost-codes.php', { code: `C${i}`, name: `Code ${i}` })
    }
  }))
  const failures = results.filter((r) => r.status !== 200 && r.status !== 201)
  t.same(failures, [], 'every write succeeded')
  t.equal(results.filter((r) => r.status === 200).length, N - N / 4)
  t.equal(results.filter((r) => r.status === 201).length, N / 4)

  const codes = await send(b, 'GET', '/api/v1/cost-codes.php', undefined)
  t.equal(codes.status, 200)
  t.equal(codes.body.data.length, N / 4, 'every created cost code is there')

  // both webhook loops fanned the worker events out (read, then mark dispatched) without an error
  const waitMs = Date.now() + 5000
  for (;;) {
    const pending = await send(a, 'GET', '/api/v1/workers.php', undefined) // a read that lets the loops run
    t.equal(pending.status, 200)
    const check = openSqliteEngine({ file })
    const left = await check.db.selectFrom('events').select('id').where('dispatched_at', 'is', null).execute()
    await check.close()
    if (left.length === 0 || Date.now() > waitMs) { t.equal(left.length, 0, 'every event fanned out'); break }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.notMatch(logs, /webhook dispatcher pass failed|SQLITE_BUSY/, 'no loop pass failed')
})
