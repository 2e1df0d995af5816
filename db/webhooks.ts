import type { Kysely } from 'kysely'
import type { Engine, WriteOptions } from './engine/engine.js'
import { eventIdRecorder, type EventIdRecorder } from './events.js'
import { paginate, type Page } from './paging.js'
import type { Database, WebhookDeliveryRow, WebhookSubscriptionRow } from './types.js'
import { conflict, notFound, validationError } from '../domain/errors.js'
import { nowIso, toIsoSeconds } from '../domain/time.js'
import { checkWebhookUrl, type AddressPolicy } from '../domain/webhook-address.js'
import { generateWebhookSecret, MAX_SUBSCRIPTIONS_PER_ACCOUNT } from '../domain/webhook-delivery.js'
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
    active: row.active,
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

/** 409 `subscription_limit_reached` when the account already has the most subscriptions it may have. */
async function requireRoomForSubscription (trx: Kysely<Database>, accountId: number): Promise<void> {
  const { count } = await trx.selectFrom('webhook_subscriptions').select((eb) => eb.fn.countAll<number>().as('count'))
    .where('account_id', '=', accountId).where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow()
  if (count >= MAX_SUBSCRIPTIONS_PER_ACCOUNT) {
    throw conflict('subscription_limit_reached',
      `An account may have at most ${MAX_SUBSCRIPTIONS_PER_ACCOUNT} webhook subscriptions; delete one before adding another`)
  }
}

/** The API side of webhooks: subscriptions of one account. */
export class WebhookStore {
  readonly #recordEvent: EventIdRecorder

  constructor (private readonly engine: Engine, private readonly policy: AddressPolicy) {
    this.#recordEvent = eventIdRecorder(engine)
  }

  async #findRow (db: Kysely<Database>, accountId: number, id: number): Promise<WebhookSubscriptionRow | undefined> {
    return await db.selectFrom('webhook_subscriptions').selectAll()
      .where('id', '=', id).where('account_id', '=', accountId).where('deleted_at', 'is', null)
      .executeTakeFirst()
  }

  async get (accountId: number, id: number): Promise<WebhookDetailRecord> {
    const row = await this.#findRow(this.engine.db, accountId, id)
    if (row === undefined) throw notFound(`Webhook ${id}`)
    const deliveries = await this.engine.db.selectFrom('webhook_deliveries')
      .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
      .selectAll('webhook_deliveries').select('events.type as event')
      .where('webhook_deliveries.subscription_id', '=', id)
      .orderBy('webhook_deliveries.id', 'desc')
      .limit(RECENT_DELIVERIES)
      .execute()
    return { ...toWebhookRecord(row), deliveries: deliveries.map(toDeliveryRecord) }
  }

  async list (accountId: number, filters: { active?: boolean }, paging: Paging): Promise<Page<WebhookRecord>> {
    let query = this.engine.db.selectFrom('webhook_subscriptions').selectAll()
      .where('account_id', '=', accountId).where('deleted_at', 'is', null)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active)
    const page = await paginate(query, 'webhook_subscriptions', paging)
    return { rows: page.rows.map(toWebhookRecord), pagination: page.pagination }
  }

  /** Creates a subscription; the result carries the secret, which is never shown again. */
  async create (accountId: number, body: WebhookCreateBody, options?: WriteOptions): Promise<WebhookCreatedRecord> {
    const url = checkWebhookUrl(body.url, this.policy)
    const now = nowIso()
    // the unit returns the record itself: a request's stored response is made from the unit's value
    return await this.engine.write(async (trx) => {
      await requireRoomForSubscription(trx, accountId)
      const row = await trx.insertInto('webhook_subscriptions').values({
        account_id: accountId,
        url,
        events: JSON.stringify(normaliseEvents(body.events)),
        active: body.active !== false,
        description: body.description ?? null,
        secret: generateWebhookSecret(),
        created_at: now,
        updated_at: now,
        deleted_at: null
      }).returningAll().executeTakeFirstOrThrow()
      return { ...toWebhookRecord(row), secret: row.secret }
    }, options)
  }

  /** Partial update. Deactivating gives up the pending deliveries: an inactive endpoint gets nothing. */
  async update (accountId: number, id: number, body: WebhookUpdateBody): Promise<WebhookRecord> {
    const url = body.url === undefined ? undefined : checkWebhookUrl(body.url, this.policy)
    return await this.engine.write(async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      const now = nowIso()
      const changes = {
        ...(url === undefined ? {} : { url }),
        ...(body.events === undefined ? {} : { events: JSON.stringify(normaliseEvents(body.events)) }),
        ...(body.active === undefined ? {} : { active: body.active }),
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
    return await this.engine.write(async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      const now = nowIso()
      await trx.updateTable('webhook_subscriptions').set({ deleted_at: now, active: false, updated_at: now })
        .where('id', '=', id).execute()
      await cancelPending(trx, id, 'subscription deleted', now)
      return toWebhookRecord(current)
    })
  }

  /** Records a `ping` event addressed to this one subscription; returns the event id. */
  async ping (accountId: number, id: number, options?: WriteOptions): Promise<number> {
    return await this.engine.write(async (trx) => {
      const current = await this.#findRow(trx, accountId, id)
      if (current === undefined) throw notFound(`Webhook ${id}`)
      if (!current.active) throw conflict('webhook_inactive', `Webhook ${id} is inactive; activate it before pinging`)
      return await this.#recordEvent(trx, accountId, 'ping', { subscription_id: id, message: 'Ping from TempClock' })
    }, options)
  }
}

export function requireCreateBody (body: WebhookCreateBody | null | undefined): WebhookCreateBody {
  if (body === null || body === undefined) throw validationError('Request body must be object')
  return body
}
