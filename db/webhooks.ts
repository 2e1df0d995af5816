import type { Kysely } from 'kysely'
import { recordEvent } from './events.js'
import { paginate, type Page } from './paging.js'
import type { Database, WebhookDeliveryRow, WebhookSubscriptionRow } from './types.js'
import { writeTransaction } from './write-transaction.js'
import { conflict, notFound, validationError } from '../domain/errors.js'
import { nowIso, toIsoSeconds } from '../domain/time.js'
import { checkWebhookUrl, type AddressPolicy } from '../domain/webhook-address.js'
import { generateWebhookSecret, type OutboxEvent } from '../domain/webhook-delivery.js'
import type { Paging } from '../schemas/common.js'
import type {
  WebhookCreateBody, WebhookCreatedRecord, WebhookDeliveryRecord, WebhookDetailRecord, WebhookRecord, WebhookUpdateBody
} from '../schemas/webhooks.js'

/** How many deliveries GET ?id= shows. */
export const RECENT_DELIVERIES = 20

export function toWebhookRecord (row: WebhookSubscriptionRow): WebhookRecord {
  // never the secret, the account or the deletion mark
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    active: row.active === 1,
    description: row.description,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export function toDeliveryRecord (row: WebhookDeliveryRow & { event: string }): WebhookDeliveryRecord {
  return {
    id: row.id,
    event_id: row.event_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    last_response_code: row.last_response_code,
    last_error: row.last_error,
    last_attempt_at: row.last_attempt_at,
    next_attempt_at: row.status === 'pending' ? toIsoSeconds(new Date(row.next_attempt_ms)) : null,
    delivered_at: row.delivered_at,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

/** `["*"]` absorbs everything else; otherwise the list as given (the schema made it unique). */
function normaliseEvents (events: readonly string[]): string[] {
  return events.includes('*') ? ['*'] : [...events]
}

/** Gives up a subscription's pending deliveries (it was deactivated or deleted). */
async function cancelPending (trx: Kysely<Database>, subscriptionId: number, reason: string, now: string): Promise<void> {
  await trx.updateTable('webhook_deliveries')
    .set({ status: 'failed', last_error: reason, updated_at: now })
    .where('subscription_id', '=', subscriptionId).where('status', '=', 'pending')
    .execute()
}

/** The API side of webhooks: subscriptions of one account. */
export class WebhookStore {
  constructor (private readonly db: Kysely<Database>, private readonly policy: AddressPolicy) {}

  async #findRow (db: Kysely<Database>, accountId: number, id: number): Promise<WebhookSubscriptionRow | undefined> {
    return await db.selectFrom('webhook_subscriptions').selectAll()
      .where('id', '=', id).where('account_id', '=', accountId).where('deleted_at', 'is', null)
      .executeTakeFirst()
  }

  async get (accountId: number, id: number): Promise<WebhookDetailRecord> {
    const row = await this.#findRow(this.db, accountId, id)
    if (row === undefined) throw notFound(`Webhook ${id}`)
    const deliveries = await this.db.selectFrom('webhook_deliveries')
      .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
      .selectAll('webhook_deliveries').select('events.type as event')
      .where('webhook_deliveries.subscription_id', '=', id)
      .orderBy('webhook_deliveries.id', 'desc')
      .limit(RECENT_DELIVERIES)
      .execute()
    return { ...toWebhookRecord(row), deliveries: deliveries.map(toDeliveryRecord) }
  }

  async list (accountId: number, filters: { active?: boolean }, paging: Paging): Promise<Page<WebhookRecord>> {
    let query = this.db.selectFrom('webhook_subscriptions').selectAll()
      .where('account_id', '=', accountId).where('deleted_at', 'is', null)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active ? 1 : 0)
    const page = await paginate(query, 'webhook_subscriptions', paging)
    return { rows: page.rows.map(toWebhookRecord), pagination: page.pagination }
  }

  /** Creates a subscription; the result carries the secret, which is never shown again. */
  async create (accountId: number, body: WebhookCreateBody): Promise<WebhookCreatedRecord> {
    const url = checkWebhookUrl(body.url, this.policy)
    const now = nowIso()
    // the unit returns the record itself: a request's stored response is made from the unit's value
    return await writeTransaction(this.db, async (trx) => {
      const row = await trx.insertInto('webhook_subscriptions').values({
        account_id: accountId,
        url,
        events: JSON.stringify(normaliseEvents(body.events)),
        active: body.active === false ? 0 : 1,
        description: body.description ?? null,
        secret: generateWebhookSecret(),
        created_at: now,
        updated_at: now,
        deleted_at: null
      }).returningAll().executeTakeFirstOrThrow()
      return { ...toWebhookRecord(row), secret: row.secret }
    })
  }

  /** Partial update. Deactivating gives up the pending deliveries: an inactive endpoint gets nothing. */
  async update (accountId: number, id: number, body: WebhookUpdateBody): Promise<WebhookRecord> {
    const url = body.url === undefined ? undefined : checkWebhookUrl(body.url, this.policy)
    return await writeTransaction(this.db, async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      const now = nowIso()
      const changes = {
        ...(url === undefined ? {} : { url }),
        ...(body.events === undefined ? {} : { events: JSON.stringify(normaliseEvents(body.events)) }),
        ...(body.active === undefined ? {} : { active: body.active ? 1 : 0 }),
        ...(body.description === undefined ? {} : { description: body.description })
      }
      const row = await trx.updateTable('webhook_subscriptions').set({ ...changes, updated_at: now })
        .where('id', '=', id).where('account_id', '=', accountId)
        .returningAll().executeTakeFirstOrThrow()
      if (body.active === false) await cancelPending(trx, id, 'subscription deactivated', now)
      return toWebhookRecord(row)
    })
  }

  /** Deletes a subscription (it disappears from the API) and gives up its pending deliveries. */
  async delete (accountId: number, id: number): Promise<WebhookRecord> {
    return await writeTransaction(this.db, async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      const now = nowIso()
      await trx.updateTable('webhook_subscriptions').set({ deleted_at: now, active: 0, updated_at: now })
        .where('id', '=', id).execute()
      await cancelPending(trx, id, 'subscription deleted', now)
      return toWebhookRecord(current)
    })
  }

  /** Records a `ping` event addressed to this one subscription; returns the event id. */
  async ping (accountId: number, id: number): Promise<number> {
    return await writeTransaction(this.db, async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      if (current.active !== 1) throw conflict('webhook_inactive', `Webhook ${id} is inactive; activate it before pinging`)
      return await recordEvent(trx, accountId, 'ping', { subscription_id: id, message: 'Ping from TempClock' })
    })
  }
}

export function requireCreateBody (body: WebhookCreateBody | null | undefined): WebhookCreateBody {
  if (body === null || body === undefined) throw validationError('Request body must be object')
  return body
}

/** A delivery claimed by the loop, with what it needs to send it. */
export interface ClaimedDelivery {
  id: number
  subscription_id: number
  attempts: number
  give_up_ms: number
  url: string
  secret: string
  event: OutboxEvent
}

interface SubscriptionTarget {
  id: number
  account_id: number
  events: string
}

/** The delivery side: fan-out of the outbox, and the state of each delivery. */
export class WebhookOutbox {
  constructor (private readonly db: Kysely<Database>) {}

  /**
   * Fans a batch of undispatched events out to the matching active subscriptions of the SAME
   * account: inserts their deliveries and marks the events dispatched in one transaction.
   * Idempotent (UNIQUE (event_id, subscription_id)). Returns how many events it handled.
   */
  async fanOut (nowMs: number, retryWindowMs: number, batch = 200): Promise<number> {
    // the idle poll costs one indexed read, not a transaction that holds the connection
    const any = await this.db.selectFrom('events').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst()
    if (any === undefined) return 0
    return await writeTransaction(this.db, async (trx) => {
      const events = await trx.selectFrom('events').select(['id', 'account_id', 'type', 'payload'])
        .where('dispatched_at', 'is', null).orderBy('id').limit(batch).execute()
      if (events.length === 0) return 0
      const accounts = [...new Set(events.map((e) => e.account_id))]
      const subscriptions: SubscriptionTarget[] = await trx.selectFrom('webhook_subscriptions')
        .select(['id', 'account_id', 'events'])
        .where('account_id', 'in', accounts).where('active', '=', 1).where('deleted_at', 'is', null)
        .execute()
      const byAccount = new Map<number, Array<{ id: number, events: Set<string> }>>()
      for (const s of subscriptions) {
        const list = byAccount.get(s.account_id) ?? []
        list.push({ id: s.id, events: new Set(JSON.parse(s.events) as string[]) })
        byAccount.set(s.account_id, list)
      }
      const now = toIsoSeconds(new Date(nowMs))
      const rows: Array<{ event_id: number, subscription_id: number }> = []
      for (const event of events) {
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
      await trx.updateTable('events').set({ dispatched_at: now })
        .where('id', 'in', events.map((e) => e.id)).execute()
      return events.length
    })
  }

  /**
   * Records finished attempts and claims up to `limit` due deliveries, in ONE transaction (one
   * commit, however many attempts finished since the last pass). A claim pushes the delivery's
   * due time out by `leaseMs`: if this process dies mid-attempt, it becomes due again when the
   * lease runs out.
   */
  async settleAndClaim (outcomes: readonly AttemptOutcome[], nowMs: number, limit: number, leaseMs: number, exclude: readonly number[] = []): Promise<ClaimedDelivery[]> {
    if (outcomes.length === 0) {
      if (limit <= 0) return []
      // the idle poll: one indexed read, no transaction
      const any = await this.db.selectFrom('webhook_deliveries').select('id')
        .where('status', '=', 'pending').where('next_attempt_ms', '<=', nowMs).limit(1).executeTakeFirst()
      if (any === undefined) return []
    }
    return await writeTransaction(this.db, async (trx) => {
      for (const outcome of outcomes) await applyOutcome(trx, outcome)
      if (limit <= 0) return []
      let due = trx.selectFrom('webhook_deliveries').select('id')
        .where('status', '=', 'pending').where('next_attempt_ms', '<=', nowMs)
      if (exclude.length > 0) due = due.where('id', 'not in', [...exclude])
      const ids = (await due.orderBy('next_attempt_ms').limit(limit).execute()).map((r) => r.id)
      if (ids.length === 0) return []
      await trx.updateTable('webhook_deliveries').set({ next_attempt_ms: nowMs + leaseMs })
        .where('id', 'in', ids).execute()
      const rows = await trx.selectFrom('webhook_deliveries as d')
        .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .select([
          'd.id', 'd.subscription_id', 'd.attempts', 'd.give_up_ms', 's.url', 's.secret', 's.active', 's.deleted_at',
          'e.id as event_id', 'e.type', 'e.created_at as event_created_at', 'e.payload'
        ])
        .where('d.id', 'in', ids)
        .orderBy('d.id')
        .execute()
      const claimed: ClaimedDelivery[] = []
      for (const r of rows) {
        if (r.active !== 1 || r.deleted_at !== null) {
          // cannot normally happen: deactivation cancels pending deliveries in its own transaction
          await trx.updateTable('webhook_deliveries')
            .set({ status: 'failed', last_error: 'subscription inactive', updated_at: toIsoSeconds(new Date(nowMs)) })
            .where('id', '=', r.id).execute()
          continue
        }
        claimed.push({
          id: r.id,
          subscription_id: r.subscription_id,
          attempts: r.attempts,
          give_up_ms: r.give_up_ms,
          url: r.url,
          secret: r.secret,
          event: { id: r.event_id, type: r.type, created_at: r.event_created_at, payload: r.payload }
        })
      }
      return claimed
    })
  }
}

/** What became of one attempt, recorded by the next settleAndClaim. */
export type AttemptOutcome =
  /** a 2xx: delivered, never sent again */
  | { kind: 'delivered', id: number, attempts: number, statusCode: number, atMs: number }
  /** anything else: try again at nextAttemptMs, or give up when it is null */
  | { kind: 'failed', id: number, attempts: number, statusCode: number | null, error: string, atMs: number, nextAttemptMs: number | null }
  /** abandoned at shutdown: not counted, due again at once (after a restart) */
  | { kind: 'released', id: number, atMs: number }

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
