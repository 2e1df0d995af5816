import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'
import { toIsoSeconds } from '../domain/time.js'
import type { FairCandidate, OutboxEvent } from '../domain/webhook-delivery.js'
import type { CompiledQuery, Engine } from './engine/engine.js'

/** A delivery claimed by the loop, with what it needs to send it. */
export interface ClaimedDelivery {
  id: number
  account_id: number
  subscription_id: number
  attempts: number
  give_up_ms: number
  /** epoch ms: until then no other pass (or process) claims it */
  lease_until_ms: number
  url: string
  secret: string
  event: OutboxEvent
}

/** A due delivery offered to the scheduler before it is claimed. */
export interface DueDelivery extends FairCandidate {
  id: number
}

/** How many due deliveries a claim looks at: per subscription, and in all. */
export interface DueWindow {
  perSubscription: number
  rows: number
  /** the account served last: the ones after it are looked at first */
  afterAccount: number
}

/** What became of one attempt, recorded by the next settleAndClaim. */
export type AttemptOutcome =
  /** a 2xx: delivered, never sent again */
  | { kind: 'delivered', id: number, attempts: number, statusCode: number, atMs: number }
  /** anything else: try again at nextAttemptMs, or give up when it is null */
  | { kind: 'failed', id: number, attempts: number, statusCode: number | null, error: string, atMs: number, nextAttemptMs: number | null }
  /** abandoned at shutdown (or its lease ran short before it started): not counted, due again at once */
  | { kind: 'released', id: number, atMs: number }

/** The subscription's current URL and secret, for one attempt. */
export interface DeliveryTarget {
  url: string
  secret: string
}

interface SubscriptionTarget {
  id: number
  account_id: number
  events: string
}

/** Most delivery rows one fan-out transaction writes: the write lock is never held for long. */
export const FAN_OUT_ROWS = 500
/** Most rows one pruning transaction deletes. */
export const PRUNE_BATCH = 500

/** The delivery side of webhooks: fan-out of the outbox, the state of each delivery, pruning. */
export class WebhookOutbox {
  readonly #target: CompiledQuery<DeliveryTarget, 'id'>

  constructor (private readonly engine: Engine) {
    this.#target = engine.compile((param) => engine.db.selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
      .select(['s.url', 's.secret'])
      .where('d.id', '=', param('id')).where(sql<boolean>`d.status = 'pending'`)
      .where(sql<boolean>`s.active = true`).where('s.deleted_at', 'is', null))
  }

  /**
   * Where a claimed delivery goes now, just before it is sent: undefined when it is no longer
   * pending or its subscription is inactive or deleted. Another process may have changed the
   * subscription since the claim (a URL, a deactivation), which this process was not told of.
   */
  async target (id: number): Promise<DeliveryTarget | undefined> {
    return await this.#target.readFirst({ id })
  }

  /**
   * Fans a batch of undispatched events out to the matching active subscriptions of the SAME
   * account: inserts their deliveries and marks the events dispatched in one transaction, which
   * writes at most about `maxRows` deliveries (whole events only, at least one).
   * Idempotent (UNIQUE (event_id, subscription_id)). Returns how many events it handled.
   */
  async fanOut (nowMs: number, retryWindowMs: number, maxEvents = 200, maxRows = FAN_OUT_ROWS): Promise<number> {
    // the idle poll costs one indexed read, not a transaction that holds the connection
    const any = await this.engine.db.selectFrom('events').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst()
    if (any === undefined) return 0
    return await this.engine.write(async (trx) => {
      const events = await this.engine.sql.claimable(trx.selectFrom('events').select(['id', 'account_id', 'type', 'payload'])
        .where('dispatched_at', 'is', null).orderBy('id').limit(maxEvents)).execute()
      if (events.length === 0) return 0
      const accounts = [...new Set(events.map((e) => e.account_id))]
      const subscriptions: SubscriptionTarget[] = await trx.selectFrom('webhook_subscriptions')
        .select(['id', 'account_id', 'events'])
        .where('account_id', 'in', accounts).where('active', '=', true).where('deleted_at', 'is', null)
        .execute()
      const byAccount = new Map<number, Array<{ id: number, events: Set<string> }>>()
      for (const s of subscriptions) {
        const list = byAccount.get(s.account_id) ?? []
        list.push({ id: s.id, events: new Set(JSON.parse(s.events) as string[]) })
        byAccount.set(s.account_id, list)
      }
      const now = toIsoSeconds(new Date(nowMs))
      const rows: Array<{ event_id: number, subscription_id: number }> = []
      const handled: number[] = []
      for (const event of events) {
        if (handled.length > 0 && rows.length >= maxRows) break
        handled.push(event.id)
        const candidates = byAccount.get(event.account_id) ?? []
        if (event.type === 'ping') {
          // a ping goes only to the subscription it was fired for
          const target = (JSON.parse(event.payload) as { subscription_id?: unknown }).subscription_id
          for (const s of candidates) if (s.id === target) rows.push({ event_id: event.id, subscription_id: s.id })
        } else {
          for (const s of candidates) {
            if (s.events.has('*') || s.events.has(event.type)) rows.push({ event_id: event.id, subscription_id: s.id })
          }
        }
      }
      for (let i = 0; i < rows.length; i += 200) {
        await trx.insertInto('webhook_deliveries')
          .values(rows.slice(i, i + 200).map((r) => ({
            ...r,
            status: 'pending' as const,
            attempts: 0,
            next_attempt_ms: nowMs,
            give_up_ms: nowMs + retryWindowMs,
            created_at: now,
            updated_at: now
          })))
          .onConflict((oc) => oc.columns(['event_id', 'subscription_id']).doNothing())
          .execute()
      }
      await trx.updateTable('events').set({ dispatched_at: now }).where('id', 'in', handled).execute()
      return handled.length
    })
  }

  /**
   * Records finished attempts and claims due deliveries, in ONE transaction (one commit, however
   * many attempts finished since the last pass). The due deliveries are offered to `choose` (the
   * scheduler) a few per subscription and per account, so a backlog of one account never hides
   * another's; the chosen ones are claimed. A claim pushes the delivery's due time out by
   * `leaseMs`: if this process dies mid-attempt, it becomes due again when the lease runs out.
   */
  async settleAndClaim (
    outcomes: readonly AttemptOutcome[],
    nowMs: number,
    leaseMs: number,
    window: DueWindow | null,
    choose: (due: DueDelivery[]) => DueDelivery[] = (due) => due,
    exclude: readonly number[] = []
  ): Promise<ClaimedDelivery[]> {
    if (outcomes.length === 0) {
      if (window === null) return []
      // the idle poll: one indexed read, no transaction
      const any = await this.engine.db.selectFrom('webhook_deliveries').select('id')
        .where('status', '=', 'pending').where('next_attempt_ms', '<=', nowMs).limit(1).executeTakeFirst()
      if (any === undefined) return []
    }
    return await this.engine.write(async (trx) => {
      for (const outcome of outcomes) await applyOutcome(trx, outcome)
      if (window === null) return []
      let ids = choose(await dueDeliveries(this.engine, trx, nowMs, window, exclude)).map((d) => d.id)
      if (ids.length === 0) return []
      const leaseUntil = nowMs + leaseMs
      // the claim itself re-checks that each delivery is still due: another process's claim that
      // committed after this transaction's rows were read has moved it out of reach, and the row
      // lock makes this wait for one still in progress, so a delivery is never claimed twice
      const taken = new Set((await trx.updateTable('webhook_deliveries').set({ next_attempt_ms: leaseUntil })
        .where('id', 'in', ids).where('status', '=', 'pending').where('next_attempt_ms', '<=', nowMs)
        .returning('id').execute()).map((r) => r.id))
      ids = ids.filter((id) => taken.has(id))
      if (ids.length === 0) return []
      const rows = await trx.selectFrom('webhook_deliveries as d')
        .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .select([
          'd.id', 's.account_id', 'd.subscription_id', 'd.attempts', 'd.give_up_ms', 's.url', 's.secret', 's.active', 's.deleted_at',
          'e.id as event_id', 'e.type', 'e.created_at as event_created_at', 'e.payload'
        ])
        .where('d.id', 'in', ids)
        .execute()
      const byId = new Map(rows.map((r) => [r.id, r]))
      const claimed: ClaimedDelivery[] = []
      for (const id of ids) {
        const r = byId.get(id)!
        if (!r.active || r.deleted_at !== null) {
          // cannot normally happen: deactivation cancels pending deliveries in its own transaction
          await trx.updateTable('webhook_deliveries')
            .set({ status: 'failed', last_error: 'subscription inactive', updated_at: toIsoSeconds(new Date(nowMs)) })
            .where('id', '=', r.id).execute()
          continue
        }
        claimed.push({
          id: r.id,
          account_id: r.account_id,
          subscription_id: r.subscription_id,
          attempts: r.attempts,
          give_up_ms: r.give_up_ms,
          lease_until_ms: leaseUntil,
          url: r.url,
          secret: r.secret,
          event: { id: r.event_id, type: r.type, created_at: r.event_created_at, payload: r.payload }
        })
      }
      // in the scheduler's order
      return claimed
    })
  }

  /**
   * Deletes up to `batch` delivered or failed deliveries last changed before `cutoffMs`, then (if
   * that batch was not full) up to `batch` dispatched events created before it that no delivery
   * refers to any more. Small transactions: call it again while it returns `batch`.
   */
  async prune (cutoffMs: number, batch = PRUNE_BATCH): Promise<number> {
    const cutoff = toIsoSeconds(new Date(cutoffMs))
    const deliveries = await this.engine.db.selectFrom('webhook_deliveries').select('id')
      .where('status', '!=', 'pending').where('updated_at', '<', cutoff)
      .limit(batch).execute()
    if (deliveries.length > 0) {
      await this.engine.write(async (trx) => {
        await trx.deleteFrom('webhook_deliveries').where('id', 'in', deliveries.map((d) => d.id))
          .where('status', '!=', 'pending').execute()
      })
      if (deliveries.length >= batch) return deliveries.length
    }
    const events = await this.engine.db.selectFrom('events').select('id')
      .where('dispatched_at', 'is not', null).where('created_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) => not(exists(
        selectFrom('webhook_deliveries').select('webhook_deliveries.id').whereRef('webhook_deliveries.event_id', '=', 'events.id')
      )))
      .limit(batch - deliveries.length).execute()
    if (events.length > 0) {
      await this.engine.write(async (trx) => {
        // a delivery may have been fanned out since the read (only for a much older event: unlikely, but checked)
        await trx.deleteFrom('events').where('id', 'in', events.map((e) => e.id))
          .where(({ not, exists, selectFrom }) => not(exists(
            selectFrom('webhook_deliveries').select('webhook_deliveries.id').whereRef('webhook_deliveries.event_id', '=', 'events.id')
          )))
          .execute()
      })
    }
    return deliveries.length + events.length
  }
}

/**
 * The due deliveries the scheduler may choose from: the oldest `perSubscription` of each
 * subscription (one index seek per subscription, however long a backlog is), accounts after
 * `afterAccount` first, `rows` in all.
 */
async function dueDeliveries (engine: Engine, trx: Kysely<Database>, nowMs: number, window: DueWindow, exclude: readonly number[]): Promise<DueDelivery[]> {
  // CROSS JOIN keeps the subscriptions as the outer loop in SQLite: each then costs one seek of
  // the (subscription_id, next_attempt_ms) index, instead of a scan of every due delivery.
  // Deactivating or deleting a subscription gives up its pending deliveries, so only active ones can have any.
  // claimed: another process's loop skips what this one is claiming
  const rows = await engine.sql.claimable(trx.selectFrom('webhook_subscriptions as s')
    .crossJoin('webhook_deliveries as d')
    .select(['d.id', 'd.subscription_id', 's.account_id'])
    .where('s.deleted_at', 'is', null).where('s.active', '=', true)
    // repeated on `d` itself: a row another process claimed and committed since this statement
    // began is re-checked against these once locked, and dropped, rather than chosen in vain
    .where('d.status', '=', 'pending').where('d.next_attempt_ms', '<=', nowMs)
    .where('d.id', 'in', (eb) => {
      let due = eb.selectFrom('webhook_deliveries as due').select('due.id')
        .whereRef('due.subscription_id', '=', 's.id')
        .where('due.status', '=', 'pending').where('due.next_attempt_ms', '<=', nowMs)
      if (exclude.length > 0) due = due.where('due.id', 'not in', [...exclude])
      return due.orderBy('due.next_attempt_ms').orderBy('due.id').limit(window.perSubscription)
    })
    // accounts after the last one served come first, so a long list cannot always cut off the same ones
    .orderBy(sql<number>`s.account_id <= ${window.afterAccount}`).orderBy('s.account_id').orderBy('s.id').orderBy('d.next_attempt_ms').orderBy('d.id')
    .limit(window.rows), 'd')
    .execute()
  return rows.map((r) => ({ id: r.id, accountId: r.account_id, subscriptionId: r.subscription_id }))
}

async function applyOutcome (trx: Kysely<Database>, outcome: AttemptOutcome): Promise<void> {
  const at = toIsoSeconds(new Date(outcome.atMs))
  const row = trx.updateTable('webhook_deliveries')
  switch (outcome.kind) {
    case 'delivered':
      // recorded even if the subscription was deleted meanwhile: it WAS delivered
      await row.set({
        status: 'delivered', attempts: outcome.attempts, last_response_code: outcome.statusCode, last_error: null,
        last_attempt_at: at, delivered_at: at, updated_at: at
      }).where('id', '=', outcome.id).execute()
      return
    case 'failed':
      // the attempt is history even if the delivery was given up meanwhile (subscription deleted)
      await row.set({ attempts: outcome.attempts, last_response_code: outcome.statusCode, last_attempt_at: at, updated_at: at })
        .where('id', '=', outcome.id).where('status', '!=', 'delivered').execute()
      await trx.updateTable('webhook_deliveries').set({
        last_error: outcome.error,
        ...(outcome.nextAttemptMs === null ? { status: 'failed' as const } : { next_attempt_ms: outcome.nextAttemptMs })
      }).where('id', '=', outcome.id).where('status', '=', 'pending').execute()
      return
    case 'released':
      await row.set({ next_attempt_ms: outcome.atMs }).where('id', '=', outcome.id).where('status', '=', 'pending').execute()
  }
}
