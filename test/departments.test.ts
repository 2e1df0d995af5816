import t from 'tap'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'

const URL = '/api/v1/departments.php'

async function setup (t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const send = async (method: 'POST' | 'PUT' | 'GET', url: string, payload?: unknown) =>
    await call(app, account.key, { method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
  const location = (await send('POST', '/api/v1/locations.php', { name: 'Leeds' })).json().data
  const count = async () => Number((await app.db.selectFrom('departments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  return { app, account, send, location, count }
}

t.test('POST creates; GET ?id= and list return it; read scope reads', async (t) => {
  const { app, account, send, location } = await setup(t)
  const res = await send('POST', URL, { name: 'Warehouse', location_id: location.id })
  t.equal(res.statusCode, 201)
  const dep = res.json().data
  t.match(dep, { id: Number, name: 'Warehouse', location_id: location.id, active: true })
  t.same(Object.keys(dep).sort(), ['active', 'created_at', 'id', 'location_id', 'name', 'updated_at'])
  t.match(dep.created_at, /Z$/)
  const plain = (await send('POST', URL, { name: 'Office', active: false })).json().data
  t.match(plain, { location_id: null, active: false })

  const { key } = await createTestKey(app, account.id, { scopes: ['departments:read'] })
  const one = await call(app, key, { url: `${URL}?id=${dep.id}` })
  t.same(one.json(), { data: dep })
  const list = await call(app, key, { url: URL })
  t.same(list.json(), { data: [dep, plain], pagination: { total: 2, limit: 50, offset: 0, has_more: false } })
  t.equal((await call(app, key, { method: 'POST', url: URL, payload: { name: 'X' } })).statusCode, 403)
  const missing = await call(app, key, { url: `${URL}?id=424242` })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'not_found', message: 'Department 424242 not found' })
})

t.test('filters and paging', async (t) => {
  const { send } = await setup(t)
  const ids: number[] = []
  for (let i = 0; i < 5; i++) ids.push((await send('POST', URL, { name: `D${i}`, active: i % 2 === 0 })).json().data.id)
  const get = async (q: string) => (await send('GET', `${URL}?${q}`)).json()
  t.same((await get('active=1')).data.map((d: { id: number }) => d.id), [ids[0], ids[2], ids[4]])
  t.same((await get('active=false')).data.map((d: { id: number }) => d.id), [ids[1], ids[3]])
  const page = await get('active=true&limit=2')
  t.same(page.pagination, { total: 3, limit: 2, offset: 0, has_more: true })
  t.same((await get(`after_id=${ids[3]!}`)).data.map((d: { id: number }) => d.id), [ids[4]])
  t.same((await get(`after_id=${ids[0]!}&limit=1&active=1`)).pagination, { total: 3, limit: 1, offset: 0, has_more: true })
  for (const bad of ['search=x', 'active=2', 'limit=500']) {
    const res = await send('GET', `${URL}?${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.equal(res.json().code, 'validation_error')
  }
})

t.test('validation: 400 and nothing written', async (t) => {
  const { send, count } = await setup(t)
  for (const [body, message] of [
    [{}, /Missing required field: name/],
    [{ name: '' }, /name: must not be empty/],
    [{ name: 7 }, /name: must be string/],
    [{ name: 'A', location_id: 'x' }, /location_id/],
    [{ name: 'A', active: 'yes' }, /active: must be boolean/],
    [{ name: 'A', code: 'x' }, /Unknown field: code/]
  ] as const) {
    const res = await send('POST', URL, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json().message, message)
  }
  t.equal(await count(), 0)
})

t.test('location must belong to the same account', async (t) => {
  const { app, send, location, count } = await setup(t)
  const other = await createTestAccount(app, { name: 'Other' })
  const theirs = (await call(app, other.key, { method: 'POST', url: '/api/v1/locations.php', payload: { name: 'Theirs' } })).json().data
  const res = await send('POST', URL, { name: 'X', location_id: theirs.id })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'not_found', message: `Location ${theirs.id as number} not found` })
  t.equal(await count(), 0)
  const dep = (await send('POST', URL, { name: 'Mine', location_id: location.id })).json().data
  const put = await send('PUT', `${URL}?id=${dep.id as number}`, { location_id: theirs.id, name: 'Renamed' })
  t.equal(put.statusCode, 404)
  t.same((await send('GET', `${URL}?id=${dep.id as number}`)).json().data, dep, 'unchanged')
})

t.test('PUT is partial; null clears location; errors change nothing', async (t) => {
  const { send, location } = await setup(t)
  const dep = (await send('POST', URL, { name: 'Warehouse', location_id: location.id })).json().data
  const url = `${URL}?id=${dep.id as number}`
  const renamed = await send('PUT', url, { name: 'Goods In' })
  t.equal(renamed.statusCode, 200)
  t.same({ ...renamed.json().data, updated_at: dep.updated_at }, { ...dep, name: 'Goods In' })
  const cleared = (await send('PUT', url, { location_id: null, active: false })).json().data
  t.match(cleared, { name: 'Goods In', location_id: null, active: false })
  for (const body of [{}, { name: null }, { extra: 1 }, { active: 0 }]) {
    const res = await send('PUT', url, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
  }
  t.same((await send('GET', url)).json().data, cleared)
  const missing = await send('PUT', `${URL}?id=99999`, { name: 'X' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().message, 'Department 99999 not found')
})
