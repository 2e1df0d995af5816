import { join } from 'node:path'
import { DIST, load, sampleMemory, startServerProcess, type Scenario } from '../lib.js'
import { seedLocations } from './seed.js'

const MB = 1024 * 1024

/**
 * Far more concurrent clients than the server can serve (list pages of 100 rows): what happens to
 * latency, memory and the answers, with the default shedding threshold and with a tight one that
 * makes the server shed (503 `overloaded` + Retry-After) early.
 */
export const overloadScenario: Scenario = {
  name: 'overload',
  description: 'far beyond capacity: 400 connections on 100-row list pages, default vs tight shedding',
  async run (ctx) {
    const file = join(ctx.tmp, 'overload.db')
    const { key } = await seedLocations(file, 2_000)
    const durationS = ctx.quick ? 4 : 10
    const figures = []
    for (const [label, delayMs] of [['default shedding (1000 ms loop delay)', '1000'], ['tight shedding (100 ms loop delay)', '100']] as const) {
      const api = await startServerProcess(join(DIST, 'server.js'), {
        TEMPCLOCK_DB: file, TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS: delayMs, TEMPCLOCK_PRESSURE_SAMPLE_MS: '200'
      }, '/ready')
      const memory = sampleMemory(api.child.pid!)
      try {
        const r = await load({ url: `${api.url}/api/v1/locations.php?limit=100`, headers: { authorization: `Bearer ${key}` }, durationS, connections: 400 })
        const peak = memory.stop() / MB
        const shed = r.total === 0 ? 0 : r.serverErrors / r.total
        ctx.log(`  ${label}: ${r.requestsPerSecond.toFixed(0)} req/s, p99 ${r.p99Ms} ms, ${(shed * 100).toFixed(1)}% shed, peak RSS ${peak.toFixed(1)} MB, ${r.errors} errors`)
        const tag = delayMs === '1000' ? 'default' : 'tight'
        figures.push(
          { scenario: 'overload', name: `${tag}: answered req/s`, value: r.requestsPerSecond, unit: 'req/s' },
          { scenario: 'overload', name: `${tag}: p99 latency`, value: r.p99Ms, unit: 'ms' },
          { scenario: 'overload', name: `${tag}: share shed (503)`, value: shed * 100, unit: '%' },
          { scenario: 'overload', name: `${tag}: peak RSS`, value: peak, unit: 'MB' }
        )
      } finally {
        memory.stop()
        await api.stop()
      }
    }
    return figures
  }
}
