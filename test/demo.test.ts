import t from 'tap'
import { join } from 'node:path'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { hashApiKey } from '../db/api-keys.js'
import { runCli, startServer } from './helper.js'

t.test('tempclock demo --json: a realistic account, one full-access key, and the API answers with it', async (t) => {
  const file = join(t.testdir(), 'demo.db')
  const res = await runCli(['demo', '--json', '--db', file])
  t.equal(res.code, 0, res.stderr)
  t.equal(res.stderr, '')
  const out = JSON.parse(res.stdout)
  t.match(out, {
    account: { id: 1, name: 'TempClock Demo Staffing', timezone: 'Europe/London', api_enabled: true },
    key_id: Number,
    key: /^tc_live_[0-9a-f]{40}$/,
    prefix: out.key.slice(0, 12) + '...',
    counts: { locations: 3, departments: 4, cost_codes: 6, workers: 60, documents: 90 }
  })

  const handle = openSqliteEngine({ file })
  t.teardown(async () => { await handle.close() })
  const { db } = handle
  const keyRow = await db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow()
  t.equal(keyRow.key_hash, hashApiKey(out.key), 'only the hash is stored')
  t.equal(keyRow.scopes, '[]', 'full access')
  t.notOk(JSON.stringify(await db.selectFrom('api_keys').selectAll().execute()).includes(out.key), 'the key itself is nowhere in the table')

  const locations = await db.selectFrom('locations').selectAll().where('account_id', '=', 1).execute()
  t.equal(locations.length, 3)
  for (const l of locations) {
    t.ok(l.latitude !== null && l.longitude !== null, `${l.name} has coordinates`)
    t.ok(l.geofence_radius_m !== null && l.geofence_mode !== 'off', `${l.name} has a geofence`)
  }
  const departments = await db.selectFrom('departments').selectAll().execute()
  t.equal(departments.length, 4)
  t.equal((await db.selectFrom('cost_codes').selectAll().execute()).length, 6)
  const workers = await db.selectFrom('workers').selectAll().execute()
  t.equal(workers.length, 60)
  t.equal(new Set(workers.map((w) => w.employee_ref)).size, 60, 'unique refs')
  t.equal(new Set(workers.map((w) => w.email)).size, 60, 'unique emails')
  t.equal(new Set(workers.map((w) => `${w.first_name} ${w.last_name}`)).size, 60, 'no two people share a name')
  for (const w of workers) {
    t.match(w.email, /^[a-z]+\.[a-z]+@example\.com$/)
    t.ok(locations.some((l) => l.id === w.location_id) && departments.some((d) => d.id === w.department_id), 'references in the account')
  }
  t.ok(new Set(workers.map((w) => w.preferred_language)).size >= 3, 'a mix of languages')
  t.ok(workers.some((w) => !w.active) && workers.filter((w) => w.active).length > 50, 'mostly active, a few leavers')
  t.equal((await db.selectFrom('events').select('type').where('type', '=', 'worker_created').execute()).length, 60, 'worker_created events in the outbox')

  // the README quick-start, for real: the compiled server on that file, the key from the demo
  const server = await startServer(file)
  t.teardown(async () => { await server.stop() })
  const api = await fetch(`${server.url}/api/v1/workers.php?limit=3`, { headers: { authorization: `Bearer ${out.key as string}` } })
  t.equal(api.status, 200)
  const body = await api.json() as { data: Array<Record<string, unknown>>, pagination: Record<string, unknown> }
  t.equal(body.data.length, 3)
  t.same(body.pagination, { total: 60, limit: 3, offset: 0, has_more: true })
  t.match(body.data[0], { first_name: String, location_name: String, department: String, employee_ref: 'TC-1001' })
  for (const status of ['valid', 'expiring', 'expired']) {
    const docs = await fetch(`${server.url}/api/v1/documents.php?status=${status}&limit=1`, { headers: { authorization: `Bearer ${out.key as string}` } })
    t.equal(docs.status, 200)
    const page = await docs.json() as { data: Array<Record<string, unknown>>, pagination: { total: number } }
    t.ok(page.pagination.total > 0, `the demo has ${status} documents`)
    t.match(page.data[0], { status, worker_name: String, type: String })
  }
})

t.test('tempclock demo (human output) prints the key once, with a curl that uses it; each run makes a new account', async (t) => {
  const file = join(t.testdir(), 'demo.db')
  const first = await runCli(['demo', '--db', file])
  t.equal(first.code, 0, first.stderr)
  const key = /key:\s+(tc_live_[0-9a-f]{40})/.exec(first.stdout)?.[1]
  t.ok(key, 'the key is printed')
  t.match(first.stdout, /Created demo account 1 "TempClock Demo Staffing"/)
  t.match(first.stdout, /3 locations, 4 departments, 6 cost codes, 60 workers, 90 documents/)
  t.match(first.stdout, /shown only this once/)
  t.ok(first.stdout.includes(`curl -s "http://127.0.0.1:3000/api/v1/workers.php?limit=3" -H "Authorization: Bearer ${key!}"`), 'a ready-to-run curl')

  const second = await runCli(['demo', '--json', '--db', file, '--name', 'Second Demo'])
  t.equal(second.code, 0)
  const out = JSON.parse(second.stdout)
  t.match(out.account, { id: 2, name: 'Second Demo' })
  t.not(out.key, key, 'a new key')
  const keys = await runCli(['keys', 'list', '--json', '--db', file])
  const listed = JSON.parse(keys.stdout) as Array<Record<string, unknown>>
  t.equal(listed.length, 2)
  t.notOk(keys.stdout.includes(key!) || keys.stdout.includes(out.key), 'keys list never shows a key')

  const bad = await runCli(['demo', '--db', file, '--timezone', 'Mars/Olympus'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^tempclock: error: unknown timezone "Mars\/Olympus"/)
  const accounts = JSON.parse((await runCli(['accounts', 'list', '--json', '--db', file])).stdout) as unknown[]
  t.equal(accounts.length, 2, 'a failed demo leaves nothing behind')
})
