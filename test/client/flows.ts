/**
 * The README's flows, written as an integrator would with openapi-fetch and the types
 * openapi-typescript generates from /api/v1/openapi.json (tempclock-api.d.ts). `npm run typecheck`
 * checks it strictly (no casts anywhere); test/openapi-client.test.ts runs it against a server.
 */
import createClient from 'openapi-fetch'
import type { components, paths } from './tempclock-api.js'

type ErrorCode = components['schemas']['ErrorResponse']['code']
type Worker = components['schemas']['Worker']

/** A typed `code` switch: the compiler knows every code the server can send. */
export function advice (code: ErrorCode): string {
  switch (code) {
    case 'already_clocked_in': return 'clock out first'
    case 'geofence_refused': return 'move inside the site fence'
    case 'rate_limited': return 'wait for Retry-After'
    case 'insufficient_scope': return 'ask for a key with that scope'
    default: return 'see docs/api.md'
  }
}

export interface FlowResults {
  firstPageCount: number
  firstPageTotal: number
  pagedWorkers: number
  oneWorker: string
  clockIn: { status: number, withinGeofence: boolean | null, distance: number | null }
  clockOut: { status: number, durationSeconds: number | null }
  timesheetEntries: number
  webhookSecret: string
  ping: { status: number, event: string }
  error: { status: number, code: ErrorCode, advice: string }
}

export async function runFlows (baseUrl: string, key: string): Promise<FlowResults> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } })

  // a list without paging parameters: limit and offset have defaults
  const first = await client.GET('/api/v1/workers.php')
  if (first.error !== undefined) throw new Error(first.error.message)
  // the one narrowing step: a list answer has `pagination`, a single record does not
  if (!('pagination' in first.data)) throw new Error('expected a list')
  const firstPageCount = first.data.data.length

  // keyset paging: rows after the last id seen, constant cost at any depth
  const all: Worker[] = []
  let afterId = 0
  for (;;) {
    const page = await client.GET('/api/v1/workers.php', { params: { query: { limit: 25, after_id: afterId } } })
    if (page.error !== undefined) throw new Error(page.error.message)
    if (!('pagination' in page.data)) throw new Error('expected a list')
    all.push(...page.data.data)
    const last = page.data.data.at(-1)
    if (!page.data.pagination.has_more || last === undefined) break
    afterId = last.id
  }

  // one record: ?id= answers {data: record}
  // a worker at Leeds, the first demo site (the demo's pre-clock-in survey is at Birmingham)
  const target = all.find((w) => w.active && w.location_id === 1 && w.id > 12) ?? all[0]
  if (target === undefined) throw new Error('no workers')
  const one = await client.GET('/api/v1/workers.php', { params: { query: { id: target.id } } })
  if (one.error !== undefined) throw new Error(one.error.message)
  if ('pagination' in one.data) throw new Error('expected one record')
  const worker = one.data.data

  // clock in with GPS (at the worker's site), then out
  const site = await client.GET('/api/v1/locations.php', { params: { query: { id: worker.location_id ?? 0 } } })
  if (site.error !== undefined || 'pagination' in site.data) throw new Error('expected one location')
  const { latitude, longitude } = site.data.data
  const clockIn = await client.POST('/api/v1/clock.php', {
    body: { worker_id: worker.id, action: 'in', latitude, longitude, gps_accuracy: 8 },
    headers: { 'idempotency-key': `clock-in-${worker.id}-${Date.now()}` }
  })
  if (clockIn.error !== undefined) throw new Error(clockIn.error.message)
  const clockOut = await client.POST('/api/v1/clock.php', { body: { worker_id: worker.id, action: 'out' } })
  if (clockOut.error !== undefined) throw new Error(clockOut.error.message)

  // timesheets: every entry of that worker
  const sheets = await client.GET('/api/v1/timesheets.php', { params: { query: { worker_id: worker.id, entry_filter: 'all' } } })
  if (sheets.error !== undefined) throw new Error(sheets.error.message)
  if (!('pagination' in sheets.data)) throw new Error('expected a list')

  // create a webhook subscription and read its secret (shown only here)
  const created = await client.POST('/api/v1/webhooks.php', {
    body: { url: 'https://hooks.example.com/tempclock', events: ['clock_in', 'clock_out'] }
  })
  if (created.error !== undefined) throw new Error(created.error.message)
  // the same operation answers a ping (202), so: one check for the created subscription
  if (!('secret' in created.data.data)) throw new Error('expected the created subscription')
  const subscription = created.data.data

  // ping it: no body
  const ping = await client.POST('/api/v1/webhooks.php', { params: { query: { id: subscription.id, action: 'ping' } } })
  if (ping.error !== undefined) throw new Error(ping.error.message)
  if (!('event_id' in ping.data.data)) throw new Error('expected a ping answer')

  // a typed error: clocking the same worker in twice
  await client.POST('/api/v1/clock.php', { body: { worker_id: worker.id, action: 'in' } })
  const twice = await client.POST('/api/v1/clock.php', { body: { worker_id: worker.id, action: 'in' } })
  if (twice.error === undefined) throw new Error('expected an error')

  return {
    firstPageCount,
    firstPageTotal: first.data.pagination.total,
    pagedWorkers: all.length,
    oneWorker: `${worker.first_name} ${worker.last_name}`,
    clockIn: { status: clockIn.response.status, withinGeofence: clockIn.data.data.within_geofence, distance: clockIn.data.data.distance_meters },
    clockOut: { status: clockOut.response.status, durationSeconds: clockOut.data.data.duration_seconds },
    timesheetEntries: sheets.data.data.length,
    webhookSecret: subscription.secret,
    ping: { status: ping.response.status, event: ping.data.data.event },
    error: { status: twice.response.status, code: twice.error.code, advice: advice(twice.error.code) }
  }
}
