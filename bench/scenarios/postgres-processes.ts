import { join } from 'node:path'
import { DIST, load, median, startServerProcess, type LoadResult, type Scenario, type ServerProcess } from '../lib.js'
import { createBenchDatabase, postgresUnreachable, processCpuMicros } from '../postgres.js'
import { seedWorkers } from './postgres-read.js'

/**
 * Two server processes on one PostgreSQL database against one process, under the same total load:
 * the authenticated read of pg-read, 50 connections either to the one process or 25 to each of
 * the two (two autocannon instances in the bench process, which remains one load generator on one
 * thread). On this 2-core machine the server processes, PostgreSQL and the load generator share
 * the same two cores, so the figure shows what a second process costs or gains here, not how far
 * the API scales on separate machines.
 */
export const postgresProcessesScenario: Scenario = {
  name: 'pg-processes',
  description: 'PostgreSQL: authenticated reads spread over two server processes vs one process, same total load',
  async run (ctx) {
    const unreachable = await postgresUnreachable()
    if (unreachable !== undefined) { ctx.log(`  skipped: ${unreachable}`); return [] }
    const database = await createBenchDatabase('processes')
    const servers: ServerProcess[] = []
    try {
      const engine = database.open()
      const { key, workerId } = await seedWorkers(engine, 200).finally(async () => await engine.close())
      const durationS = ctx.quick ? 3 : 10
      const rounds = ctx.quick ? 1 : 3
      const connections = 50
      const env = { TEMPCLOCK_DATABASE_URL: database.url, TEMPCLOCK_DATABASE_POOL_SIZE: process.env.BENCH_PG_POOL_SIZE ?? '10' }
      const first = await startServerProcess(join(DIST, 'server.js'), env, '/ready')
      servers.push(first)
      const second = await startServerProcess(join(DIST, 'server.js'), env, '/ready')
      servers.push(second)
      const headers = { authorization: `Bearer ${key}` }
      const path = `/api/v1/workers.php?id=${workerId}`
      const check = (r: LoadResult): LoadResult => {
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`pg-processes: ${r.non2xx} non-2xx and ${r.errors} errors`)
        return r
      }
      const cpuOf = (server: ServerProcess): number => processCpuMicros(server.child.pid!)
      // warm up both (JIT, pools): at PostgreSQL's rates one second is too few requests
      await Promise.all(servers.map(async (s) => await load({ url: s.url + path, headers, durationS: ctx.quick ? 1 : 3 })))

      const one: number[] = []
      const two: number[] = []
      const oneP99: number[] = []
      const twoP99: number[] = []
      const oneCpu: number[] = []
      const twoCpu: number[] = []
      for (let r = 0; r < rounds; r++) {
        let cpu = cpuOf(first)
        const single = check(await load({ url: first.url + path, headers, durationS, connections }))
        const singleCpu = (cpuOf(first) - cpu) / single.total
        one.push(single.requestsPerSecond)
        oneP99.push(single.p99Ms)
        oneCpu.push(singleCpu)

        cpu = cpuOf(first) + cpuOf(second)
        const both = (await Promise.all(servers.map(async (s) => await load({ url: s.url + path, headers, durationS, connections: connections / 2 })))).map(check)
        const total = both.reduce((sum, b) => sum + b.requestsPerSecond, 0)
        const answered = both.reduce((sum, b) => sum + b.total, 0)
        const bothCpu = (cpuOf(first) + cpuOf(second) - cpu) / answered
        two.push(total)
        twoP99.push(Math.max(...both.map((b) => b.p99Ms)))
        twoCpu.push(bothCpu)
        ctx.log(`  round ${r + 1}: one process ${single.requestsPerSecond.toFixed(0)} req/s (p99 ${single.p99Ms} ms, ${singleCpu.toFixed(0)} µs server CPU/req); ` +
          `two processes ${total.toFixed(0)} req/s (${both.map((b) => b.requestsPerSecond.toFixed(0)).join(' + ')}, p99 ${twoP99.at(-1)!} ms, ${bothCpu.toFixed(0)} µs server CPU/req)`)
      }
      return [
        { scenario: 'pg-processes', name: 'authenticated reads, two processes', value: median(two), unit: 'req/s', samples: two, baseline: { name: 'one process', value: median(one) } },
        { scenario: 'pg-processes', name: 'authenticated read p99, two processes', value: median(twoP99), unit: 'ms', samples: twoP99, baseline: { name: 'one process', value: median(oneP99) } },
        { scenario: 'pg-processes', name: 'server CPU per read, two processes', value: median(twoCpu), unit: 'µs', samples: twoCpu, baseline: { name: 'one process', value: median(oneCpu) } }
      ]
    } finally {
      for (const server of servers) await server.stop()
      await database.drop()
    }
  }
}
