import { join } from 'node:path'
import { DIST, median, timeToReady, type Scenario } from '../lib.js'
import { seedLocations } from './seed.js'

/**
 * Start-up time: spawning `node dist/server.js` on an existing database until /ready answers 200
 * (opening and migrating the database, loading every plugin and route), against spawning a bare
 * Fastify process until it answers. Median of several cold starts.
 */
export const startupScenario: Scenario = {
  name: 'startup',
  description: 'spawn → /ready answering 200, vs a bare Fastify process',
  async run (ctx) {
    const file = join(ctx.tmp, 'startup.db')
    await seedLocations(file, 2_000)
    const repetitions = ctx.quick ? 3 : 9
    const api: number[] = []
    const bare: number[] = []
    for (let i = 0; i < repetitions; i++) {
      api.push(await timeToReady(join(DIST, 'server.js'), { TEMPCLOCK_DB: file }, '/ready'))
      bare.push(await timeToReady(join(DIST, 'bench', 'bare-server.js'), {}, '/health'))
      ctx.log(`  start ${i + 1}: api ${api.at(-1)!.toFixed(0)} ms, bare ${bare.at(-1)!.toFixed(0)} ms`)
    }
    const value = median(api)
    return [
      { scenario: 'startup', name: 'start → ready', value, unit: 'ms', samples: api, baseline: { name: 'bare Fastify start → listening', value: median(bare) }, target: '< 1000 ms', ok: value < 1000 }
    ]
  }
}
