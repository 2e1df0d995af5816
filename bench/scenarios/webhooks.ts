import { join } from 'node:path'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { eventRecorder } from '../../db/events.js'
import { WebhookStore } from '../../db/webhooks.js'
import { DIST, median, startCountingReceiver, startServerProcess, type Scenario } from '../lib.js'

/** Webhook delivery through the compiled server to a receiver on loopback. */
export const webhooksScenario: Scenario = {
  name: 'webhooks',
  description: 'ping → receiver latency (the write wakes the loop), and draining an outbox backlog (signed deliveries/s)',
  async run (ctx) {
    const receiver = await startCountingReceiver()
    const receiverUrl = receiver.url

    const file = join(ctx.tmp, 'webhooks.db')
    const handle = openSqliteEngine({ file })
    await handle.migrate()
    const recordEvent = eventRecorder(handle)
    const account = await createAccount(handle, { name: 'Bench', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    const sub = await new WebhookStore(handle, { allowLoopback: true }).create(account.id, { url: receiverUrl, events: ['*'] })

    const api = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '1' })
    const latencies: number[] = []
    let perSecond = 0
    const backlog = ctx.quick ? 500 : 3000
    try {
      const waitFor = receiver.waitFor
      const warmUp = 5 // JIT and statement caches; not counted
      for (let i = 0; i < warmUp + (ctx.quick ? 10 : 30); i++) {
        const target = receiver.received() + 1
        const started = performance.now()
        const res = await fetch(`${api.url}/api/v1/webhooks.php?id=${sub.id}&action=ping`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })
        if (res.status !== 202) throw new Error(`ping answered ${res.status}`)
        await waitFor(target)
        if (i >= warmUp) latencies.push(performance.now() - started)
      }
      ctx.log(`  ping → receiver: median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`)

      // a backlog committed by another process (the server finds it by polling, ≤ 1 s)
      const target = receiver.received() + backlog
      const started = performance.now()
      await handle.write(async (trx) => {
        for (let i = 0; i < backlog; i++) await recordEvent(trx, account.id, 'clock_in', { id: i, worker_id: i % 50 })
      })
      await waitFor(target)
      const seconds = (performance.now() - started) / 1000
      perSecond = backlog / seconds
      ctx.log(`  backlog of ${backlog}: ${seconds.toFixed(2)} s, ${perSecond.toFixed(0)} deliveries/s`)
    } finally {
      await api.stop()
      await handle.close()
      receiver.close()
    }
    return [
      { scenario: 'webhooks', name: 'ping → receiver latency (median)', value: median(latencies), unit: 'ms', samples: latencies },
      { scenario: 'webhooks', name: `backlog of ${backlog} drained`, value: perSecond, unit: 'deliveries/s' }
    ]
  }
}
