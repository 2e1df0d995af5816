import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { buildSerializer, splitOneOrList } from '../schemas/serializer.js'
import { OneOrListResponse, Timestamp, named } from '../schemas/common.js'
import { WebhookOneOrList } from '../schemas/webhooks.js'

const Thing = named('Thing', Type.Object({ id: Type.Integer(), at: Timestamp }))
const route = { method: 'GET', url: '/x', httpStatus: '200', schema: OneOrListResponse(Thing, Thing) }

test('a one-or-list answer is split into its two branches', async (t) => {
  const split = splitOneOrList(route.schema)
  t.ok(split)
  t.equal((split!.one.properties as any).data.type, 'object')
  t.equal((split!.list.properties as any).data.type, 'array')
  t.ok(splitOneOrList(WebhookOneOrList), 'also when the one record and the listed ones differ (a webhook with its deliveries)')
  t.equal(splitOneOrList(Type.Object({ data: Thing })), undefined, 'a plain answer is left alone')
  t.equal(splitOneOrList(Type.Object({ data: Type.Union([Type.String(), Type.Integer()]) })), undefined, 'so is any other union')
  t.equal(splitOneOrList(Type.Union([Type.Object({ data: Thing }), Type.Object({ data: Type.String() })])), undefined, 'and a union without a list branch')
})

test('the split serializer picks the branch by shape, without validating formats', async (t) => {
  const serialize = buildSerializer({}, {})(route)
  const one = { data: { id: 1, at: '2026-01-01T00:00:00Z', extra: 'dropped' } }
  t.same(JSON.parse(serialize(one)), { data: { id: 1, at: '2026-01-01T00:00:00Z' } })
  const list = { data: [{ id: 1, at: '2026-01-01T00:00:00Z' }, { id: 2, at: '2026-01-02T00:00:00Z' }], pagination: { total: 2, limit: 2, offset: 0, has_more: false } }
  t.same(JSON.parse(serialize(list)).data, list.data)
  // fast-json-stringify's anyOf checks every branch with Ajv, formats included, and throws when none
  // matches; the split serializer only looks at the shape
  t.same(JSON.parse(serialize({ data: { id: 3, at: 'not a timestamp' } })), { data: { id: 3, at: 'not a timestamp' } })
})
