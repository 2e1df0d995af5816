import { join } from 'node:path'
import { DIST, load, median, sampleMemory, spread, startServerProcess, type Scenario } from '../lib.js'
import { seedLocations } from './seed.js'

const MB = 1024 * 1024

/**
 * Peak resident memory of the server process under a mixed load (list pages of 100 rows plus
 * creates), against a bare Fastify process under the same number of connections, both read from
 * /proc/<pid>/status (VmHWM). A fresh process per round, so each round's peak is its own.
 */
export const memoryScenario: Scenario = {
  name: 'rss',
  description: 'peak RSS of the server under mixed read/write load vs bare Fastify',
  async run (ctx) {
    const file = join(ctx.tmp, 'rss.db')
    const { key } = await seedLocations(file, 2_000)
    const durationS = ctx.quick ? 3 : 10
    const rounds = ctx.quick ? 1 : 3
    const headers = { authorization: `Bearer ${key}` }
    const apiPeaks: number[] = []
    const barePeaks: number[] = []
    for (let r = 0; r < rounds; r++) {
      const api = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_DB_SYNCHRONOUS: 'NORMAL' }, '/ready')
      const apiMemory = sampleMemory(api.child.pid!)
      try {
        const [reads, writes] = await Promise.all([
          load({ url: `${api.url}/api/v1/locations.php?limit=100&offset=500`, headers, durationS, connections: 40 }),
          load({ url: `${api.url}/api/v1/locations.php`, method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Load site', city: 'York' }), durationS, connections: 10 })
        ])
        if (reads.errors + writes.errors > 0 || reads.non2xx + writes.non2xx > 0) {
          throw new Error(`rss load: ${reads.non2xx + writes.non2xx} non-2xx, ${reads.errors + writes.errors} errors`)
        }
        apiPeaks.push(apiMemory.stop() / MB)
        ctx.log(`  round ${r + 1}: api ${reads.requestsPerSecond.toFixed(0)} reads/s + ${writes.requestsPerSecond.toFixed(0)} writes/s, peak RSS ${apiPeaks.at(-1)!.toFixed(1)} MB`)
      } finally {
        apiMemory.stop()
        await api.stop()
      }
      const bare = await startServerProcess(join(DIST, 'bench', 'bare-server.js'), {})
      const bareMemory = sampleMemory(bare.child.pid!)
      try {
        await load({ url: `${bare.url}/constant`, durationS, connections: 50 })
        barePeaks.push(bareMemory.stop() / MB)
      } finally {
        bareMemory.stop()
        await bare.stop()
      }
    }
    const peak = median(apiPeaks)
    return [
      { scenario: 'rss', name: 'peak RSS under load', value: peak, unit: 'MB', samples: apiPeaks, baseline: { name: 'bare Fastify peak RSS', value: median(barePeaks) }, target: '< 150 MB', ok: spread(apiPeaks).max < 150 }
    ]
  }
}
