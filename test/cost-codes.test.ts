import t from 'tap'
import { CostCodeStore } from '../db/cost-codes.js'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'

const URL = '/api/v1/cost-codes.php'

async function setup (t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const send = async (method: 'POST' | 'PUT' | 'GET', url: string, payload?: unknown) =>
    await call(app, account.key, { method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
  const count = async () => Number((await app.db.selectFrom('cost_codes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  return { app, account, send, count }
}

t.test('POST creates; GET ?id= and list return it; read scope reads', async (t) => {
  const { app, account, send } = await setup(t)
  const res = await send('POST', URL, { code: 'CC-100', name: 'Picking' })
  t.equal(res.statusCode, 201)
  const cc = res.json().data
  t.match(cc, { id: Number, code: 'CC-100', name: 'Picking', active: true })
  t.same(Object.keys(cc).sort(), ['active', 'code', 'created_at', 'id', 'name', 'updated_at'])
  const { key } = await createTestKey(app, account.id, { scopes: ['cost-codes:read'] })
  t.same((await call(app, key, { url: `${URL}?id=${cc.id as number}` })).json(), { data: cc })
  t.same((await call(app, key, { url: URL })).json(), { data: [cc], pagination: { total: 1, limit: 50, offset: 0, has_more: false } })
  t.equal((await call(app, key, { method: 'PUT', url: `${URL}?id=${cc.id as number}`, payload: { name: 'X' } })).statusCode, 403)
  const missing = await call(app, key, { url: `${URL}?id=31337` })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'not_found', message: 'Cost code 31337 not found' })
})

t.test('filters: active, search on code and name; paging', async (t) => {
  const { send } = await setup(t)
  const rows: Array<[string, string, boolean]> = [['CC-100', 'Picking', true], ['CC-200', 'Packing', true], ['OT-1', 'Overtime 100%', false], ['TR-9', 'Training', true]]
  const ids: number[] = []
  for (const [code, name, active] of rows) ids.push((await send('POST', URL, { code, name, active })).json().data.id)
  const idsOf = async (q: string) => {
    const res = await send('GET', `${URL}?${q}`)
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((c: { id: number }) => c.id)
  }
  t.same(await idsOf('active=0'), [ids[2]])
  t.same(await idsOf('active=true'), [ids[0], ids[1], ids[3]])
  t.same(await idsOf('search=cc-'), [ids[0], ids[1]], 'code, case-insensitive')
  t.same(await idsOf('search=ack'), [ids[1]], 'name')
  t.same(await idsOf('search=100'), [ids[0], ids[2]], 'code or name')
  t.same(await idsOf('search=0%25'), [ids[2]], '% is literal')
  t.same(await idsOf('search=100&active=1'), [ids[0]])
  t.same(await idsOf('after_id=' + String(ids[1]) + '&limit=1'), [ids[2]])
  const page = (await send('GET', `${URL}?limit=2&offset=2`)).json()
  t.same(page.pagination, { total: 4, limit: 2, offset: 2, has_more: false })
  t.equal((await send('GET', `${URL}?location_id=1`)).statusCode, 400, 'unknown filter')
})

t.test('validation: 400 and nothing written', async (t) => {
  const { send, count } = await setup(t)
  for (const [body, message] of [
    [{ name: 'X' }, /Missing required field: code/],
    [{ code: 'X' }, /Missing required field: name/],
    [{ code: '', name: 'X' }, /code: must not be empty/],
    [{ code: 5, name: 'X' }, /code: must be string/],
    [{ code: 'A', name: 'X', active: null }, /active/],
    [{ code: 'A', name: 'X', rate: 12 }, /Unknown field: rate/],
    [{ code: 'A'.repeat(51), name: 'X' }, /code: must be at most 50/]
  ] as const) {
    const res = await send('POST', URL, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'validation_error')
    t.match(res.json().message, message)
  }
  t.equal(await count(), 0)
})

t.test('code is unique per account: 409 cost_code_taken on create and update', async (t) => {
  const { app, send, count } = await setup(t)
  const a = (await send('POST', URL, { code: 'CC-1', name: 'One' })).json().data
  const clash = await send('POST', URL, { code: 'CC-1', name: 'Again' })
  t.equal(clash.statusCode, 409)
  t.match(clash.json(), { error: true, status: 409, code: 'cost_code_taken', message: 'Cost code "CC-1" already exists in this account' })
  t.equal((await send('POST', URL, { code: 'cc-1', name: 'Lower' })).statusCode, 201, 'codes are case-sensitive')
  const b = (await send('POST', URL, { code: 'CC-2', name: 'Two' })).json().data
  const put = await send('PUT', `${URL}?id=${b.id as number}`, { code: 'CC-1' })
  t.equal(put.statusCode, 409)
  t.equal(put.json().code, 'cost_code_taken')
  t.equal((await send('PUT', `${URL}?id=${a.id as number}`, { code: 'CC-1', name: 'Uno' })).statusCode, 200, 'keeping its own code')
  const other = await createTestAccount(app, { name: 'Other' })
  t.equal((await call(app, other.key, { method: 'POST', url: URL, payload: { code: 'CC-1', name: 'Theirs' } })).statusCode, 201, 'another account may reuse it')
  t.equal(await count(), 4)
})

t.test('a unique-constraint race is 409, not 500', async (t) => {
  const { send, count } = await setup(t)
  await send('POST', URL, { code: 'RACE', name: 'First' })
  const b = (await send('POST', URL, { code: 'OTHER', name: 'Second' })).json().data
  const original = CostCodeStore.prototype.codeOwner
  CostCodeStore.prototype.codeOwner = async () => undefined
  t.teardown(() => { CostCodeStore.prototype.codeOwner = original })
  const created = await send('POST', URL, { code: 'RACE', name: 'Racer' })
  t.equal(created.statusCode, 409)
  t.match(created.json(), { code: 'cost_code_taken', message: /"RACE"/ })
  const updated = await send('PUT', `${URL}?id=${b.id as number}`, { code: 'RACE' })
  t.equal(updated.statusCode, 409)
  t.equal(await count(), 2)
  t.equal((await send('GET', `${URL}?id=${b.id as number}`)).json().data.code, 'OTHER')
})

t.test('PUT is partial; errors change nothing', async (t) => {
  const { send } = await setup(t)
  const cc = (await send('POST', URL, { code: 'CC-1', name: 'One' })).json().data
  const url = `${URL}?id=${cc.id as number}`
  const res = await send('PUT', url, { active: false })
  t.equal(res.statusCode, 200)
  t.same({ ...res.json().data, updated_at: cc.updated_at }, { ...cc, active: false })
  const now = res.json().data
  for (const body of [{}, { code: null }, { code: '' }, { colour: 'red' }]) {
    t.equal((await send('PUT', url, body)).statusCode, 400, JSON.stringify(body))
  }
  t.same((await send('GET', url)).json().data, now)
  t.equal((await send('PUT', `${URL}?id=77777`, { name: 'X' })).statusCode, 404)
})
