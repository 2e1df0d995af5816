import { createHmac, randomBytes } from 'node:crypto'

/**
 * Subscriptions one account may have (deleted ones do not count): every event is one POST per
 * matching subscription, so this bounds what one write can cost the delivery loop.
 */
export const MAX_SUBSCRIPTIONS_PER_ACCOUNT = 20

/** A new subscription secret: 32 random bytes, `whsec_` + 64 hex. */
export function generateWebhookSecret (): string {
  return 'whsec_' + randomBytes(32).toString('hex')
}

export interface OutboxEvent {
  id: number
  type: string
  created_at: string
  /** the event's `data` as the JSON text stored in the outbox */
  payload: string
}

/**
 * The delivery body `{"id","event","created_at","data"}`. Built from the stored event by
 * concatenation, so every attempt of every delivery of an event sends the same bytes.
 */
export function deliveryBody (event: OutboxEvent): string {
  return `{"id":${event.id},"event":${JSON.stringify(event.type)},"created_at":${JSON.stringify(event.created_at)},"data":${event.payload}}`
}

/** `sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>` */
export function signBody (secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

/**
 * Delay before the next attempt after `attempts` failed ones: base·2^(attempts-1), capped, with
 * "equal jitter" (a random half on top of a fixed half) so that receivers coming back from an
 * outage are not hit by every retry at the same instant.
 */
export function retryDelayMs (attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30))
  return Math.round(exponential / 2 + random() * (exponential / 2))
}

/** A delivery as the scheduler sees it: whose it is. */
export interface FairCandidate {
  accountId: number
  subscriptionId: number
}

/** What each account and subscription already holds (in flight, or claimed and waiting). */
export interface FairLoad {
  byAccount: ReadonlyMap<number, number>
  bySubscription: ReadonlyMap<number, number>
}

export interface FairLimits {
  perAccount: number
  perSubscription: number
  /** how many to pick at most */
  total: number
  /**
   * the last this many of `total` go only to accounts that hold nothing: however many accounts
   * hang, one that was idle still finds a slot
   */
  reserveForIdle?: number
}

/** Where the last pick stopped: the next one starts with the following account (and subscription). */
export interface FairCursor {
  account: number
  /** per account, the subscription served last */
  subscription: ReadonlyMap<number, number>
}

export const START_CURSOR: FairCursor = { account: -1, subscription: new Map() }

/**
 * Fair scheduling of webhook deliveries: picks up to `limits.total` candidates round-robin, one
 * account per turn (in id order, starting after the cursor's account) and, within an account, one
 * subscription per turn, never taking an account or subscription past its limit (counting `load`).
 * One account with many slow subscriptions therefore holds at most `perAccount` of the slots, and
 * another account's delivery is picked at its next turn, not after the first account's backlog.
 * Candidates of one subscription keep their given order (oldest first).
 */
export function pickFair<T extends FairCandidate> (
  candidates: readonly T[], load: FairLoad, limits: FairLimits, cursor: FairCursor = START_CURSOR
): { picked: T[], cursor: FairCursor } {
  const accounts = new Map<number, Map<number, T[]>>()
  for (const c of candidates) {
    let subscriptions = accounts.get(c.accountId)
    if (subscriptions === undefined) accounts.set(c.accountId, subscriptions = new Map())
    const queue = subscriptions.get(c.subscriptionId)
    if (queue === undefined) subscriptions.set(c.subscriptionId, [c])
    else queue.push(c)
  }
  const accountLoad = new Map(load.byAccount)
  const subscriptionLoad = new Map(load.bySubscription)
  const lastSubscription = new Map(cursor.subscription)
  const picked: T[] = []
  let lastAccount = cursor.account
  const order = rotateAfter([...accounts.keys()].sort((a, b) => a - b), cursor.account)
  let progress = true
  while (picked.length < limits.total && progress) {
    progress = false
    for (const accountId of order) {
      if (picked.length >= limits.total) break
      const held = accountLoad.get(accountId) ?? 0
      if (held >= limits.perAccount) continue
      if (held > 0 && picked.length >= limits.total - (limits.reserveForIdle ?? 0)) continue
      const subscriptions = accounts.get(accountId)!
      const subscriptionOrder = rotateAfter([...subscriptions.keys()].sort((a, b) => a - b), lastSubscription.get(accountId) ?? -1)
      for (const subscriptionId of subscriptionOrder) {
        const queue = subscriptions.get(subscriptionId)!
        if (queue.length === 0 || (subscriptionLoad.get(subscriptionId) ?? 0) >= limits.perSubscription) continue
        picked.push(queue.shift()!)
        accountLoad.set(accountId, (accountLoad.get(accountId) ?? 0) + 1)
        subscriptionLoad.set(subscriptionId, (subscriptionLoad.get(subscriptionId) ?? 0) + 1)
        lastSubscription.set(accountId, subscriptionId)
        lastAccount = accountId
        progress = true
        break
      }
    }
  }
  return { picked, cursor: { account: lastAccount, subscription: lastSubscription } }
}

/** `sorted` starting with the first element greater than `after`, wrapping round. */
function rotateAfter (sorted: number[], after: number): number[] {
  const start = sorted.findIndex((x) => x > after)
  return start <= 0 ? sorted : [...sorted.slice(start), ...sorted.slice(0, start)]
}
