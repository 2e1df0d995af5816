import net, { type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { eventRecorder } from '../../db/events.js'
import { WebhookStore } from '../../db/webhooks.js'
import { DIST, median, quartiles, startCountingReceiver, startServerProcess, type Scenario } from '../lib.js'

/**
 * Account A has 16 subscriptions to an endpoint that accepts connections and never answers, and
 * a backlog of deliveries to them (a worker clocked in and out); meanwhile account B pings its own
 * healthy endpoint. The figure is B's ping → receiver latency, with the server's default delivery
 * settings (10 s attempt timeout, 8 slots).
 */
export const webhookFairnessScenario: Scenario = {
  name: 'webhook-fairness',
  description: "another account's delivery latency while one account's 16 endpoints hang",
  async run (ctx) {
    const hangingSockets = new Set<net.Socket>()
    const hanging = net.createServer((socket) => {
      hangingSockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => hangingSockets.delete(socket))
    })
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
    const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`

    const receiver = await startCountingReceiver()
    const receiverUrl = receiver.url

    const file = join(ctx.tmp, 'webhook-fairness.db')
    const handle = openSqliteEngine({ file })
    await handle.migrate()
    const recordEvent = eventRecorder(handle)
    const store = new WebhookStore(handle, { allowLoopback: true })
    const a = await createAccount(handle, { name: 'A (hanging endpoints)', apiEnabled: true })
    const b = await createAccount(handle, { name: 'B', apiEnabled: true })
    const keyA = (await createApiKey(handle, { accountId: a.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })).key
    const keyB = (await createApiKey(handle, { accountId: b.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })).key
    const hangingSubs = []
    for (let i = 0; i < 16; i++) hangingSubs.push(await store.create(a.id, { url: `${hangingUrl}/a${i}`, events: ['*'] }))
    const subB = await store.create(b.id, { url: receiverUrl, events: ['ping'] })

    const api = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '1' })
    const latencies: number[] = []
    try {
      const waitFor = receiver.waitFor
      const ping = async (key: string, id: number): Promise<void> => {
        const res = await fetch(`${api.url}/api/v1/webhooks.php?id=${id}&action=ping`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })
        if (res.status !== 202) throw new Error(`ping answered ${res.status}`)
      }
      // A: a clock-in and a clock-out (32 deliveries to endpoints that never answer); its ping wakes the loop
      await handle.write(async (trx) => await recordEvent(trx, a.id, 'clock_in', { worker_id: 1 }))
      await handle.write(async (trx) => await recordEvent(trx, a.id, 'clock_out', { worker_id: 1 }))
      await ping(keyA, hangingSubs[0]!.id)
      const deadline = Date.now() + 5000
      while (hangingSockets.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      if (hangingSockets.size === 0) throw new Error("A's deliveries never started")

      const samples = ctx.quick ? 10 : 30
      for (let i = 0; i < samples; i++) {
        const target = receiver.received() + 1
        const started = performance.now()
        await ping(keyB, subB.id)
        await waitFor(target)
        latencies.push(performance.now() - started)
        await new Promise((resolve) => setTimeout(resolve, 100)) // spread over A's hanging attempts
      }
      const { q1, q3 } = quartiles(latencies)
      ctx.log(`  B's ping → receiver while A's endpoints hang: median ${median(latencies).toFixed(1)} ms (IQR ${q1.toFixed(1)}–${q3.toFixed(1)}), max ${Math.max(...latencies).toFixed(1)} ms; A had ${hangingSockets.size} connections open`)
    } finally {
      await api.stop()
      await handle.close()
      receiver.close()
      for (const socket of hangingSockets) socket.destroy()
      hanging.close()
    }
    const worst = Math.max(...latencies)
    return [{
      scenario: 'webhook-fairness',
      name: "another account's delivery latency while one account's endpoints hang (max)",
      value: worst,
      unit: 'ms',
      samples: latencies,
      target: '< 1 s',
      ok: worst < 1000
    }]
  }
}
