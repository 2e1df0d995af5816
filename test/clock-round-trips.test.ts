/**
 * A clock event's statements. On PostgreSQL each is a round trip, and the round trips are most of
 * an event's cost (BENCHMARKS.md, pg-clock): the worker is read and locked in one statement and the
 * action's facts are one query, whatever the action. The answers name the entry's location without
 * a statement of their own, on both engines.
 */
import t from 'tap'
import pg from 'pg'
import { buildTestApp, call, createTestAccount, ON_POSTGRES } from './helper.js'
import { createLocation, insertCostCode, insertWorker, minutesAgo } from './time-fixtures.js'

interface Sent { client: pg.Client, text: string }

/** Every statement any `pg` client of this process sends while `work` runs, with its client. */
async function statementsOf (work: () => Promise<unknown>): Promise<Sent[]> {
  const sent: Sent[] = []
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    sent.push({ client: this, text: typeof config === 'string' ? config : (config as { text: string }).text })
    return (query as (...args: unknown[]) => unknown).call(this, config, ...rest)
  } as typeof query
  try {
    await work()
  } finally {
    pg.Client.prototype.query = query
  }
  return sent
}

/**
 * The statements of the event's transaction, BEGIN to COMMIT on its connection, each shortened to
 * its start: the last transaction of the request (a key's first use records it in one of its own,
 * before), without what other connections sent meanwhile (a webhook wake-up).
 */
function transactionOf (statements: Sent[]): string[] {
  const begin = statements.findLastIndex((s) => /^begin\b/i.test(s.text))
  const commit = statements.findLastIndex((s) => /^commit\b/i.test(s.text))
  const connection = statements[begin]?.client
  return statements.slice(begin, commit + 1).filter((s) => s.client === connection).map((s) => s.text.replace(/\s+/g, ' ').slice(0, 40))
}

t.test('a clock event is BEGIN, the locked worker, one facts query, its writes, its event, COMMIT', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const loc = await createLocation(app, acct.id, { name: 'Depot' })
  const worker = await insertWorker(app.db, acct.id, { location_id: loc.id })
  const cc = await insertCostCode(app.db, acct.id)
  const base = Date.now()
  // the statement counts each action should have, BEGIN and COMMIT included
  const steps: Array<{ body: Record<string, unknown>, status: number, statements: number }> = [
    // begin, worker, facts (latest shift, location, cost code), insert, clock_in event, commit
    { body: { action: 'in', timestamp: minutesAgo(120, base), cost_code_id: cc }, status: 201, statements: 6 },
    // begin, worker, facts (open shift, its latest break, its location), insert, commit
    { body: { action: 'break_start', timestamp: minutesAgo(100, base) }, status: 201, statements: 5 },
    // begin, worker, facts (open break, its location), add to the shift, close the break, commit
    { body: { action: 'break_end', timestamp: minutesAgo(90, base) }, status: 200, statements: 6 },
    // begin, worker, facts (open shift, its latest break, its location, cost code), close, clock_out event, commit
    { body: { action: 'out', timestamp: minutesAgo(60, base), cost_code_id: cc }, status: 200, statements: 6 }
  ]
  for (const step of steps) {
    let res: Awaited<ReturnType<typeof call>> | undefined
    const statements = await statementsOf(async () => { res = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: worker, ...step.body } }) })
    t.equal(res!.statusCode, step.status, `${step.body.action as string}: ${res!.body}`)
    t.equal(res!.json().data.location_name, 'Depot', `${step.body.action as string} answers the entry's location by name`)
    if (ON_POSTGRES) {
      const transaction = transactionOf(statements)
      t.equal(transaction.length, step.statements, `${step.body.action as string}: ${step.statements} statements`, { found: transaction })
    }
  }
})
