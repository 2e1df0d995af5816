/**
 * A clock event's statements. On PostgreSQL each wait for the server is a round trip, and the
 * round trips are most of an event's cost (BENCHMARKS.md, pg-clock): the worker is read and locked
 * in one statement, the action's facts are one query, whatever the action, BEGIN goes with the
 * first statement and the outbox event with the COMMIT. The answers name the entry's location
 * without a statement of their own, on both engines.
 */
import t from 'tap'
import pg from 'pg'
import { buildTestApp, call, createTestAccount, ON_POSTGRES } from './helper.js'
import { createLocation, insertCostCode, insertWorker, minutesAgo } from './time-fixtures.js'

/** A statement as its client sent it: `alongside` when an earlier one of the client's was still unanswered (no wait of its own). */
interface Sent { client: pg.Client, text: string, alongside: boolean }

/** Every statement any `pg` client of this process sends while `work` runs, with its client. */
async function statementsOf (work: () => Promise<unknown>): Promise<Sent[]> {
  const sent: Sent[] = []
  const unanswered = new Map<pg.Client, number>()
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    const waiting = unanswered.get(this) ?? 0
    // without pipeline mode, pg queues a statement behind an unanswered one: a wait all the same
    sent.push({ client: this, text: typeof config === 'string' ? config : (config as { text: string }).text, alongside: waiting > 0 && this.pipeline })
    unanswered.set(this, waiting + 1)
    const answered = (): void => { unanswered.set(this, unanswered.get(this)! - 1) }
    // answered through a callback (pg-pool's pool.query) or a promise
    const callback = rest.findIndex((arg) => typeof arg === 'function')
    if (callback >= 0) {
      const given = rest[callback] as (...args: unknown[]) => void
      rest[callback] = (...args: unknown[]) => { answered(); given(...args) }
    }
    const result = (query as (...args: unknown[]) => unknown).call(this, config, ...rest)
    if (callback < 0 && result instanceof Promise) result.then(answered, answered)
    return result
  } as typeof query
  try {
    await work()
  } finally {
    pg.Client.prototype.query = query
  }
  return sent
}

/**
 * The statements of the event's transaction, BEGIN to COMMIT on its connection: the last
 * transaction of the request (a key's first use records it in one of its own, before), without
 * what other connections sent meanwhile (a webhook wake-up).
 */
function transactionOf (statements: Sent[]): Sent[] {
  const begin = statements.findLastIndex((s) => /^begin\b/i.test(s.text))
  const commit = statements.findLastIndex((s) => /^commit\b/i.test(s.text))
  const connection = statements[begin]?.client
  return statements.slice(begin, commit + 1).filter((s) => s.client === connection)
}

/** Each statement shortened to its start, `+ ` before one sent alongside the one before it. */
const shortened = (statements: Sent[]): string[] => statements.map((s) => (s.alongside ? '+ ' : '') + s.text.replace(/\s+/g, ' ').slice(0, 40))

t.test('a clock event is BEGIN, the locked worker, one facts query, its writes, its event, COMMIT', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const loc = await createLocation(app, acct.id, { name: 'Depot' })
  const worker = await insertWorker(app.db, acct.id, { location_id: loc.id })
  const cc = await insertCostCode(app.db, acct.id)
  const base = Date.now()
  // the statement counts each action should have, BEGIN and COMMIT included, and the waits for
  // the server among them (BEGIN goes with the worker's lock, an event with the COMMIT)
  const steps: Array<{ body: Record<string, unknown>, status: number, statements: number, waits: number }> = [
    // begin + worker, facts (latest shift, location, cost code), insert, clock_in event + commit
    { body: { action: 'in', timestamp: minutesAgo(120, base), cost_code_id: cc }, status: 201, statements: 6, waits: 4 },
    // begin + worker, facts (open shift, its latest break, its location), insert, commit
    { body: { action: 'break_start', timestamp: minutesAgo(100, base) }, status: 201, statements: 5, waits: 4 },
    // begin + worker, facts (open break, its location), add to the shift, close the break, commit
    { body: { action: 'break_end', timestamp: minutesAgo(90, base) }, status: 200, statements: 6, waits: 5 },
    // begin + worker, facts (open shift, its latest break, its location, cost code), close, clock_out event + commit
    { body: { action: 'out', timestamp: minutesAgo(60, base), cost_code_id: cc }, status: 200, statements: 6, waits: 4 }
  ]
  for (const step of steps) {
    let res: Awaited<ReturnType<typeof call>> | undefined
    const statements = await statementsOf(async () => { res = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: worker, ...step.body } }) })
    t.equal(res!.statusCode, step.status, `${step.body.action as string}: ${res!.body}`)
    t.equal(res!.json().data.location_name, 'Depot', `${step.body.action as string} answers the entry's location by name`)
    if (ON_POSTGRES) {
      const transaction = transactionOf(statements)
      t.equal(transaction.length, step.statements, `${step.body.action as string}: ${step.statements} statements`, { found: shortened(transaction) })
      t.equal(transaction.filter((s) => !s.alongside).length, step.waits, `${step.body.action as string}: ${step.waits} waits for the server`, { found: shortened(transaction) })
    }
  }
})
