import { join } from 'node:path'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { LocationStore } from '../../db/locations.js'
import { DIST, load, median, startServerProcess, type Scenario } from '../lib.js'

/** Authenticated single-row read against a bare Fastify constant route, in the same run. */
export const readScenario: Scenario = {
  name: 'read',
  description: 'authenticated GET /api/v1/locations.php?id=N vs a bare Fastify constant route (and a hand-written reference)',
  async run (ctx) {
    const file = join(ctx.tmp, 'read.db')
    const handle = openSqliteEngine({ file })
    await handle.migrate()
    const account = await createAccount(handle, { name: 'Bench', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    const store = new LocationStore(handle)
    let id = 0
    for (let i = 0; i < 200; i++) id = (await store.create(account.id, { name: `Site ${i}`, city: 'Leeds', latitude: 53.8, longitude: -1.55, geofence_radius_m: 150, geofence_mode: 'warn' })).id
    await handle.close()

    const durationS = ctx.quick ? 3 : 10
    const rounds = ctx.quick ? 1 : 3
    const api = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file })
    const bare = await startServerProcess(join(DIST, 'bench', 'bare-server.js'), {})
    const hand = await startServerProcess(join(DIST, 'bench', 'hand-written-server.js'), { TEMPCLOCK_DB: file })
    const apiRps: number[] = []
    const handRps: number[] = []
    const bareRps: number[] = []
    const apiP99: number[] = []
    const bareP99: number[] = []
    try {
      // warm up both (JIT, statement cache)
      await load({ url: `${api.url}/api/v1/locations.php?id=${id}`, headers: { authorization: `Bearer ${key}` }, durationS: 1 })
      await load({ url: `${bare.url}/constant`, durationS: 1 })
      await load({ url: `${hand.url}/api/v1/locations.php?id=${id}`, headers: { authorization: `Bearer ${key}` }, durationS: 1 })
      for (let r = 0; r < rounds; r++) {
        const a = await load({ url: `${api.url}/api/v1/locations.php?id=${id}`, headers: { authorization: `Bearer ${key}` }, durationS })
        if (a.non2xx > 0 || a.errors > 0) throw new Error(`read benchmark got ${a.non2xx} non-2xx and ${a.errors} errors`)
        const b = await load({ url: `${bare.url}/constant`, durationS })
        const h = await load({ url: `${hand.url}/api/v1/locations.php?id=${id}`, headers: { authorization: `Bearer ${key}` }, durationS })
        if (h.non2xx > 0 || h.errors > 0) throw new Error(`hand-written reference got ${h.non2xx} non-2xx and ${h.errors} errors`)
        apiRps.push(a.requestsPerSecond); apiP99.push(a.p99Ms)
        bareRps.push(b.requestsPerSecond); bareP99.push(b.p99Ms)
        handRps.push(h.requestsPerSecond)
        ctx.log(`  round ${r + 1}: api ${a.requestsPerSecond.toFixed(0)} req/s (p99 ${a.p99Ms} ms), bare ${b.requestsPerSecond.toFixed(0)} req/s (p99 ${b.p99Ms} ms), hand-written ${h.requestsPerSecond.toFixed(0)} req/s`)
      }
    } finally {
      await api.stop()
      await bare.stop()
      await hand.stop()
    }
    const ratio = median(apiRps) / median(bareRps)
    return [
      { scenario: 'read', name: 'authenticated read req/s', value: median(apiRps), unit: 'req/s', samples: apiRps, baseline: { name: 'bare Fastify req/s', value: median(bareRps) } },
      { scenario: 'read', name: 'authenticated read p99', value: median(apiP99), unit: 'ms', samples: apiP99, baseline: { name: 'bare Fastify p99', value: median(bareP99) } },
      { scenario: 'read', name: 'authenticated read / bare Fastify', value: ratio, unit: 'ratio', target: '≥ 0.45', ok: ratio >= 0.45 },
      // context, not a target: the same read as one hand-written route with two prepared statements
      // and none of the API's other per-request work (bench/hand-written-server.ts)
      { scenario: 'read', name: 'hand-written reference req/s', value: median(handRps), unit: 'req/s', samples: handRps, baseline: { name: 'bare Fastify req/s', value: median(bareRps) } }
    ]
  }
}
