import t from 'tap'
import fc from 'fast-check'
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { StatementCachingDatabase } from '../db/engine/sqlite/connection.js'
import { createSqliteMigrator as createMigrator } from '../db/engine/sqlite/migrate.js'
import { createAccount } from '../db/accounts.js'
import { WorkerStore } from '../db/workers.js'
import { LocationStore } from '../db/locations.js'
import { CostCodeStore } from '../db/cost-codes.js'
import type { Database } from '../db/types.js'
import { buildTestApp, call, createTestAccount } from './helper.js'

// The documented `search` (README.md, "Lists"): an ASCII-case-insensitive substring of any searched
// column, every character literal. This is the reference the API must agree with for every term.
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase())
const contains = (value: string | null, term: string): boolean => value !== null && asciiLower(value).includes(asciiLower(term))

// letters LIKE folds, letters only Unicode folds (É/é, the Kelvin sign and k, İ/i), LIKE's and
// FTS5's own syntax characters, spaces, digits and a character outside the BMP
const ALPHABET = ['a', 'b', 'A', 'B', 'k', 'K', 'i', 'é', 'É', '\u212A', 'İ', 'ß', '%', '_', '\\', '"', '*', ':', '(', ' ', '-', '1', '😀']
const text = (max: number) => fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: max }).map((cs) => cs.join(''))

interface Resource {
  url: string
  columns: string[]
  body: (values: string[], i: number) => Record<string, unknown>
}

const RESOURCES: Resource[] = [
  {
    url: '/api/v1/workers.php',
    columns: ['first_name', 'last_name', 'employee_ref'],
    body: ([first, last, ref], i) => ({ first_name: first, last_name: last, employee_ref: i % 5 === 4 ? null : `${ref!}#${i}` })
  },
  {
    url: '/api/v1/locations.php',
    columns: ['name', 'city', 'postcode'],
    body: ([name, city, postcode], i) => ({ name, city: i % 4 === 3 ? null : city, postcode: i % 3 === 2 ? null : postcode })
  },
  {
    url: '/api/v1/cost-codes.php',
    columns: ['code', 'name'],
    body: ([code, name], i) => ({ code: `${code!}#${i}`, name })
  }
]

/** A term: a piece of a stored value with ASCII case flipped at random, or random characters. */
function termsFor (values: string[], seed: number, count: number): string[] {
  const fromValue = fc.tuple(fc.constantFrom(...values), fc.nat(), fc.integer({ min: 1, max: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }))
    .map(([value, start, length, flips]) => {
      const chars = [...value]
      const from = start % chars.length
      return chars.slice(from, from + length).map((c, i) => flips[i] === true ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c).join('')
    })
    // an upper-cased ß becomes SS; keep terms the ones a client could send (1..100 characters)
    .filter((term) => term.length >= 1 && term.length <= 100)
  return fc.sample(fc.oneof(fromValue, fromValue, text(5)), { seed, numRuns: count })
}

for (const resource of RESOURCES) {
  t.test(`${resource.url}: search answers exactly the substring rule, short and long terms alike`, async (t) => {
    const app = await buildTestApp(t)
    const account = await createTestAccount(app)
    const other = await createTestAccount(app, { name: 'Other' })
    const rows: Array<{ id: number, values: Array<string | null> }> = []
    const generated = fc.sample(fc.array(text(8), { minLength: 3, maxLength: 3 }), { seed: 7, numRuns: 40 })
    for (const [i, values] of generated.entries()) {
      const res = await call(app, account.key, { method: 'POST', url: resource.url, payload: resource.body(values, i) })
      if (res.statusCode !== 201) { t.fail(`creating ${JSON.stringify(values)}: ${res.statusCode} ${res.body}`); return }
      const record = res.json().data as Record<string, string | null> & { id: number }
      rows.push({ id: record.id, values: resource.columns.map((c) => record[c]!) })
      // the same values in another account never show up in this one's results
      await call(app, other.key, { method: 'POST', url: resource.url, payload: resource.body(values, i) })
    }
    const stored = rows.flatMap((r) => r.values.filter((v): v is string => v !== null))
    const terms = termsFor(stored, 11, 150)
    let failures = 0
    let indexed = 0
    for (const term of terms) {
      if ([...term].length >= 3) indexed++
      const expected = rows.filter((r) => r.values.some((v) => contains(v, term))).map((r) => r.id)
      const res = await call(app, account.key, { url: `${resource.url}?limit=100&search=${encodeURIComponent(term)}` })
      const body = res.json() as { data: Array<{ id: number }>, pagination: { total: number } }
      const got = res.statusCode === 200 ? body.data.map((r) => r.id) : res.statusCode
      if (JSON.stringify(got) !== JSON.stringify(expected) || body.pagination.total !== expected.length) {
        if (++failures <= 5) t.fail(`search=${JSON.stringify(term)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`)
      }
    }
    t.equal(failures, 0, `${terms.length} terms (${indexed} of 3+ characters) agree with the rule`)
    t.ok(indexed >= 50 && indexed <= 130, 'both kinds of term were tried')
  })
}

t.test('the index follows renames: old names stop matching, new ones start', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const list = async (url: string, term: string) =>
    ((await call(app, account.key, { url: `${url}?search=${encodeURIComponent(term)}` })).json().data as Array<{ id: number }>).map((r) => r.id)
  const worker = (await call(app, account.key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'Anneliese', last_name: 'Ostrowski', employee_ref: 'RX-77' } })).json().data
  const location = (await call(app, account.key, { method: 'POST', url: '/api/v1/locations.php', payload: { name: 'Quayside Depot', city: 'Hull', postcode: 'HU1 1AA' } })).json().data
  const code = (await call(app, account.key, { method: 'POST', url: '/api/v1/cost-codes.php', payload: { code: 'PICK-01', name: 'Picking' } })).json().data
  t.same(await list('/api/v1/workers.php', 'owsk'), [worker.id])
  t.same(await list('/api/v1/locations.php', 'quays'), [location.id])
  t.same(await list('/api/v1/cost-codes.php', 'ick-0'), [code.id])

  t.equal((await call(app, account.key, { method: 'PUT', url: `/api/v1/workers.php?id=${worker.id as number}`, payload: { last_name: 'Nowak' } })).statusCode, 200)
  t.equal((await call(app, account.key, { method: 'PUT', url: `/api/v1/locations.php?id=${location.id as number}`, payload: { name: 'Riverside Depot' } })).statusCode, 200)
  t.equal((await call(app, account.key, { method: 'PUT', url: `/api/v1/cost-codes.php?id=${code.id as number}`, payload: { code: 'PACK-02' } })).statusCode, 200)
  t.same(await list('/api/v1/workers.php', 'owsk'), [], 'the old last name is gone')
  t.same(await list('/api/v1/workers.php', 'nowa'), [worker.id])
  t.same(await list('/api/v1/workers.php', 'rx-7'), [worker.id], 'the columns not changed still match')
  t.same(await list('/api/v1/locations.php', 'quays'), [])
  t.same(await list('/api/v1/locations.php', 'rivers'), [location.id])
  t.same(await list('/api/v1/cost-codes.php', 'ick-0'), [])
  t.same(await list('/api/v1/cost-codes.php', 'ack-0'), [code.id])
  // other updates leave the index as it was
  t.equal((await call(app, account.key, { method: 'PUT', url: `/api/v1/workers.php?id=${worker.id as number}`, payload: { active: false } })).statusCode, 200)
  t.same(await list('/api/v1/workers.php', 'nowa'), [worker.id])
})

t.test('the search index migration indexes existing rows, and goes down and up again', async (t) => {
  const handle = openSqliteEngine({ file: ':memory:' })
  t.teardown(async () => { await handle.close() })
  const migrator = createMigrator(handle.db)
  t.equal((await migrator.migrateTo('2026-11-28-005-portal')).error, undefined)
  const account = await createAccount(handle, { name: 'Before', apiEnabled: true })
  const workers = new WorkerStore(handle)
  const before = await workers.create(account.id, { first_name: 'Wilhelmina', last_name: 'Existing' })
  t.equal((await migrator.migrateToLatest()).error, undefined)
  const found = await workers.list(account.id, { search: 'helmi' }, { limit: 50, offset: 0 })
  t.same(found.rows.map((w) => w.id), [before.id], 'a row written before the index is found through it')
  const down = await migrator.migrateTo('2026-11-28-005-portal')
  t.equal(down.error, undefined)
  const names = async () => (await handle.db.introspection.getTables()).map((table) => table.name).filter((n) => n.endsWith('_search'))
  t.same(await names(), [])
  t.equal((await migrator.migrateToLatest()).error, undefined)
  t.same((await names()).sort(), ['cost_codes_search', 'locations_search', 'workers_search'])
})

t.test('a search of three characters or more reads the trigram index, not every row of the account', async (t) => {
  const handle = openSqliteEngine({ file: ':memory:' })
  t.teardown(async () => { await handle.close() })
  t.equal((await createMigrator(handle.db).migrateToLatest()).error, undefined)
  const captured: CompiledQuery[] = []
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(handle.sqlite) }), log: (e) => { if (e.level === 'query') captured.push(e.query) } })
  const plans = async (list: () => Promise<unknown>): Promise<string[]> => {
    captured.length = 0
    await list()
    return captured.map((q) => (handle.sqlite.prepare('explain query plan ' + q.sql).all(...q.parameters) as Array<{ detail: string }>).map((r) => r.detail).join(' | '))
  }
  const paging = { limit: 50, offset: 0 }
  for (const [table, list] of [
    ['workers', async () => await new WorkerStore({ ...handle, db }).list(1, { search: 'Last9999' }, paging)],
    ['locations', async () => await new LocationStore({ ...handle, db }).list(1, { search: 'Leeds' }, paging)],
    ['cost_codes', async () => await new CostCodeStore({ ...handle, db }).list(1, { search: 'PICK' }, paging)]
  ] as const) {
    const found = await plans(list)
    t.equal(found.length, 2, `${table}: the count and the page`)
    for (const plan of found) {
      t.match(plan, `SCAN ${table}_search VIRTUAL TABLE`, `${table}: ${plan}`)
      t.notMatch(plan, new RegExp(`(SCAN|SEARCH) ${table} USING INDEX \\S+ \\(account_id=\\?\\)`), 'no walk over the account\'s rows')
    }
  }
})
