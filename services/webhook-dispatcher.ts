import type { Engine, Wakeups } from '../db/engine/engine.js'
import { PRUNE_BATCH, WebhookOutbox, type AttemptOutcome, type ClaimedDelivery, type DeliveryTarget, type DueDelivery, type DueWindow } from '../db/webhook-outbox.js'
import { deliveryBody, pickFair, retryDelayMs, signBody, START_CURSOR, type FairCursor, type FairLoad } from '../domain/webhook-delivery.js'
import { sendWebhook, type SendRequest } from './webhook-sender.js'

export interface DispatcherOptions {
  pollMs: number
  retryBaseMs: number
  retryMaxMs: number
  retryWindowMs: number
  /** one attempt, start to status line */
  timeoutMs: number
  /** resolving and connecting (a host that never answers fails this fast) */
  connectTimeoutMs?: number
  /** attempts in flight at once, in all */
  concurrency: number
  /** attempts in flight at once for one account: the rest of the slots stay free for the others */
  accountConcurrency: number
  /** attempts in flight at once for one subscription */
  subscriptionConcurrency: number
  /** delivered and failed deliveries, and old events, are deleted after this long; undefined keeps them */
  retentionMs?: number
  allowLoopback: boolean
  /** epoch ms; tests pass a controllable clock */
  clock?: () => number
  /** 0 ≤ x < 1, for the retry jitter */
  random?: () => number
  resolver?: SendRequest['resolver']
  /** this loop is woken by the other processes, and wakes them when it stops or runs no loop (PostgreSQL) */
  wakeups?: Wakeups
  log?: { error: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void }
}

const USER_AGENT = 'TempClock-Webhooks/1.1'
/** On shutdown, attempts in flight get this long to finish before they are abandoned. */
const CLOSE_GRACE_MS = 2000
const yieldToIo = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

/** a nudge runs a pass this soon: a burst of writes shares one pass (and one notification) */
const NUDGE_DELAY_MS = 5
/** the LISTEN/NOTIFY channel the processes' loops wake each other on */
export const WAKE_CHANNEL = 'tempclock_webhooks'
/** deliveries claimed ahead, as a multiple of each limit (in all, per account, per subscription) */
const PREFETCH = 4
/** due deliveries one claim looks at */
const DUE_WINDOW_ROWS = 2000
/** fan-out and pruning transactions per pass: a backlog never holds up the sending for long */
const BATCHES_PER_PASS = 8
/** one slot in this many is kept for accounts with nothing in flight, so even several hanging accounts cannot fill them all */
const RESERVED_FOR_IDLE = 4
/** how often old deliveries and events are pruned */
const PRUNE_EVERY_MS = 3_600_000

/**
 * The webhook loop. Everything it knows is in the database, so a restart loses nothing:
 *  1. fan-out: undispatched outbox events become pending deliveries (one per matching subscription),
 *     in small transactions;
 *  2. send: due deliveries are claimed (leased) and POSTed. Claiming and starting are both fair
 *     (domain/webhook-delivery.ts `pickFair`): round-robin over accounts and their subscriptions,
 *     with at most `accountConcurrency` attempts of one account and `subscriptionConcurrency` of
 *     one subscription in flight, so one account's hanging endpoints hold only their own share of
 *     the `concurrency` slots, and a quarter of the slots kept for accounts with nothing in flight. 2xx → delivered; anything else → retried with exponential backoff
 *     and jitter until the retry window (24 h) has passed, then failed;
 *  3. pruning: finished deliveries and events older than the retention are deleted, in batches.
 * `start()` runs it on a timer (polling, plus `nudge()` after writes); tests may instead call
 * `runOnce()` with a controlled clock.
 */
export class WebhookDispatcher {
  readonly #outbox: WebhookOutbox
  readonly #options: DispatcherOptions
  readonly #clock: () => number
  readonly #random: () => number
  readonly #inFlight = new Map<number, { delivery: ClaimedDelivery, done: Promise<void> }>()
  /** claimed (leased) deliveries waiting for a free slot of their own, so a finished attempt is replaced at once */
  #queue: ClaimedDelivery[] = []
  /** finished attempts not yet written: the next pass records them all in one commit */
  #outcomes: AttemptOutcome[] = []
  #claimCursor: FairCursor = START_CURSOR
  #launchCursor: FairCursor = START_CURSOR
  #nextPruneMs = 0
  readonly #abort = new AbortController()
  #timer: NodeJS.Timeout | null = null
  #timerDue = 0
  #ticking: Promise<void> | null = null
  #again = false
  #started = false
  #stopped = false
  #tellTimer: NodeJS.Timeout | null = null
  #stopListening: (() => void) | null = null
  readonly #engine: Engine

  constructor (engine: Engine, options: DispatcherOptions) {
    this.#engine = engine
    this.#outbox = new WebhookOutbox(engine)
    this.#options = options
    this.#clock = options.clock ?? Date.now
    this.#random = options.random ?? Math.random
  }

  /** how long a claimed attempt may take before another pass may try it again */
  get leaseMs (): number {
    return this.#options.timeoutMs * 2 + 1000
  }

  get inFlight (): number {
    return this.#inFlight.size
  }

  /** Starts the loop; resolves once it listens for the other processes' wake-ups (if any). */
  async start (): Promise<void> {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#schedule(0)
    const stop = await this.#options.wakeups?.listen(WAKE_CHANNEL, () => { this.#wake() })
    if (this.#stopped) stop?.()
    else this.#stopListening = stop ?? null
  }

  /**
   * A write may have recorded an event: wake this process's loop, or, in a process that runs
   * none, the other processes' loops (a burst of writes sends one notification). Cheap. A process
   * with a loop of its own does not wake the others: they would only race it for the same rows.
   */
  nudge (): void {
    if (this.#stopped) return
    if (this.#started) this.#wake()
    else this.#tellOthers()
  }

  #wake (): void {
    if (!this.#started || this.#stopped) return
    if (this.#ticking !== null) { this.#again = true; return }
    this.#schedule(NUDGE_DELAY_MS)
  }

  #tellOthers (): void {
    if (this.#options.wakeups === undefined || this.#tellTimer !== null) return
    this.#tellTimer = setTimeout(() => {
      this.#tellTimer = null
      void this.#notify()
    }, NUDGE_DELAY_MS)
    this.#tellTimer.unref()
  }

  async #notify (): Promise<void> {
    try {
      await this.#options.wakeups?.notify(WAKE_CHANNEL)
    } catch (err) {
      // the others find the work at their next poll; an unreachable database is reported elsewhere
      if (!this.#engine.isUnavailable(err)) this.#options.log?.warn({ err }, 'webhooks: could not wake the other processes')
    }
  }

  /**
   * A subscription changed (url, events, deactivated, deleted): deliveries claimed for it but not
   * yet started are handed back, so they are sent with the new settings or not at all.
   * An attempt already in flight finishes.
   */
  forgetSubscription (subscriptionId: number): void {
    const keep: ClaimedDelivery[] = []
    for (const queued of this.#queue) {
      if (queued.subscription_id === subscriptionId) this.#outcomes.push({ kind: 'released', id: queued.id, atMs: this.#clock() })
      else keep.push(queued)
    }
    this.#queue = keep
    this.#wake()
  }

  /** One pass (fan out, claim and send what is due), wait for its attempts, record them. */
  async runOnce (): Promise<void> {
    await this.#tick()
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()].map((a) => a.done))
    await this.#settle()
  }

  /** Stops the loop: no new attempts; those in flight get a short grace, then are abandoned (released, uncounted). */
  async stop (): Promise<void> {
    this.#stopped = true
    this.#stopListening?.()
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#tellTimer !== null) clearTimeout(this.#tellTimer)
    this.#tellTimer = null
    if (this.#ticking !== null) await this.#ticking
    if (this.#inFlight.size > 0) {
      let graceTimer: NodeJS.Timeout | undefined
      const grace = new Promise<void>((resolve) => { graceTimer = setTimeout(resolve, CLOSE_GRACE_MS) })
      await Promise.race([Promise.all([...this.#inFlight.values()].map((a) => a.done)), grace])
      clearTimeout(graceTimer)
      this.#abort.abort()
      await Promise.all([...this.#inFlight.values()].map((a) => a.done))
    }
    // claimed but never started, or abandoned: due again at once, for the other processes (woken
    // now, as for a write whose notification was still pending) or after a restart
    for (const queued of this.#queue.splice(0)) this.#outcomes.push({ kind: 'released', id: queued.id, atMs: this.#clock() })
    await this.#settle()
    await this.#notify()
  }

  /** Writes the finished attempts (without claiming more). */
  async #settle (): Promise<void> {
    const outcomes = this.#outcomes.splice(0)
    if (outcomes.length > 0) await this.#outbox.settleAndClaim(outcomes, this.#clock(), this.leaseMs, null)
  }

  /** Runs a pass in `ms`, unless one is already due sooner (a nudge is never pushed back by the poll). */
  #schedule (ms: number): void {
    if (!this.#started || this.#stopped) return
    const due = Date.now() + ms
    if (this.#timer !== null) {
      if (this.#timerDue <= due) return
      clearTimeout(this.#timer)
    }
    this.#timerDue = due
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#tick().finally(() => this.#schedule(this.#options.pollMs))
    }, ms)
    // the loop never keeps the process (or a test) alive on its own
    this.#timer.unref()
  }

  async #tick (): Promise<void> {
    if (this.#ticking !== null) { this.#again = true; return await this.#ticking }
    this.#ticking = (async () => {
      try {
        do {
          this.#again = false
          // a backlog (after downtime) is fanned out in small transactions, yielding to requests in
          // between and sending what is due after a few of them
          for (let batch = 0; !this.#stopped && await this.#outbox.fanOut(this.#clock(), this.#options.retryWindowMs) > 0; batch++) {
            await yieldToIo()
            if (batch + 1 >= BATCHES_PER_PASS) { this.#again = true; break }
          }
          await this.#prune()
          const outcomes = this.#outcomes.splice(0)
          let claimed: ClaimedDelivery[]
          try {
            claimed = await this.#outbox.settleAndClaim(outcomes, this.#clock(), this.leaseMs, this.#stopped ? null : this.#dueWindow(),
              (due) => this.#chooseClaims(due), [...this.#inFlight.keys(), ...this.#queue.map((d) => d.id)])
          } catch (err) {
            this.#outcomes.unshift(...outcomes) // not written: keep them for the next pass
            throw err
          }
          this.#queue.push(...claimed)
          this.#fill()
        } while (this.#again && !this.#stopped)
      } catch (err) {
        // a database hiccup must not kill the loop; the next pass retries
        this.#options.log?.error({ err }, 'webhook dispatcher pass failed')
      } finally {
        this.#ticking = null
      }
    })()
    await this.#ticking
  }

  /** A few batches of pruning, once an hour (and again at once while there is more). */
  async #prune (): Promise<void> {
    const retentionMs = this.#options.retentionMs
    if (retentionMs === undefined || this.#stopped || this.#clock() < this.#nextPruneMs) return
    for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
      if (await this.#outbox.prune(this.#clock() - retentionMs) < PRUNE_BATCH) {
        this.#nextPruneMs = this.#clock() + PRUNE_EVERY_MS
        return
      }
      await yieldToIo()
    }
    this.#again = true
  }

  /** What each account and subscription holds now: in flight, or claimed and waiting. */
  #load (includeQueued: boolean): FairLoad {
    const byAccount = new Map<number, number>()
    const bySubscription = new Map<number, number>()
    const count = (d: ClaimedDelivery): void => {
      byAccount.set(d.account_id, (byAccount.get(d.account_id) ?? 0) + 1)
      bySubscription.set(d.subscription_id, (bySubscription.get(d.subscription_id) ?? 0) + 1)
    }
    for (const { delivery } of this.#inFlight.values()) count(delivery)
    if (includeQueued) for (const d of this.#queue) count(d)
    return { byAccount, bySubscription }
  }

  #dueWindow (): DueWindow | null {
    const held = this.#inFlight.size + this.#queue.length
    if (held >= this.#options.concurrency * PREFETCH) return null
    return { perSubscription: this.#options.subscriptionConcurrency * PREFETCH, rows: DUE_WINDOW_ROWS, afterAccount: this.#claimCursor.account }
  }

  /** Claims ahead, fairly, up to PREFETCH × each limit, so that slots refill without a database round trip. */
  #chooseClaims (due: DueDelivery[]): DueDelivery[] {
    const { picked, cursor } = pickFair(due, this.#load(true), {
      perAccount: this.#options.accountConcurrency * PREFETCH,
      perSubscription: this.#options.subscriptionConcurrency * PREFETCH,
      total: this.#options.concurrency * PREFETCH - this.#inFlight.size - this.#queue.length
    }, this.#claimCursor)
    this.#claimCursor = cursor
    return picked
  }

  /** Starts queued deliveries, round-robin over accounts and subscriptions, while their slots are free. */
  #fill (): void {
    if (this.#stopped || this.#queue.length === 0) return
    const free = this.#options.concurrency - this.#inFlight.size
    if (free <= 0) return
    const candidates = this.#queue.map((delivery) => ({ accountId: delivery.account_id, subscriptionId: delivery.subscription_id, delivery }))
    const { picked, cursor } = pickFair(candidates, this.#load(false), {
      perAccount: this.#options.accountConcurrency,
      perSubscription: this.#options.subscriptionConcurrency,
      total: free,
      reserveForIdle: Math.floor(this.#options.concurrency / RESERVED_FOR_IDLE)
    }, this.#launchCursor)
    if (picked.length === 0) return
    this.#launchCursor = cursor
    const started = new Set(picked.map((p) => p.delivery.id))
    this.#queue = this.#queue.filter((d) => !started.has(d.id))
    const now = this.#clock()
    for (const { delivery } of picked) {
      // waited so long that its lease could run out mid-attempt (another pass could claim it too): hand it back
      if (now + this.#options.timeoutMs > delivery.lease_until_ms) this.#outcomes.push({ kind: 'released', id: delivery.id, atMs: now })
      else this.#launch(delivery)
    }
  }

  #launch (delivery: ClaimedDelivery): void {
    const done = this.#attempt(delivery)
      .then((outcome) => { this.#outcomes.push(outcome) })
      // cannot normally happen; the lease makes the delivery due again later
      .catch((err: unknown) => { this.#options.log?.error({ err, delivery: delivery.id }, 'webhook attempt failed unexpectedly') })
      .finally(() => {
        this.#inFlight.delete(delivery.id)
        this.#fill()
        this.#wake() // record the outcome (and claim more)
      })
    this.#inFlight.set(delivery.id, { delivery, done })
  }

  async #attempt (delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    // the subscription may have changed since the claim, through another process that cannot
    // reach this one's queue (forgetSubscription): send only while it still stands, to its URL now
    let target: DeliveryTarget | undefined
    try {
      target = await this.#outbox.target(delivery.id)
    } catch {
      // the database is unreachable: due again once it answers
      return { kind: 'released', id: delivery.id, atMs: this.#clock() }
    }
    // given up meanwhile (the release changes nothing then), or due again for the claim to settle
    if (target === undefined) return { kind: 'released', id: delivery.id, atMs: this.#clock() }
    const body = deliveryBody(delivery.event)
    const result = await sendWebhook({
      url: target.url,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-tempclock-event': delivery.event.type,
        'x-tempclock-delivery': String(delivery.id),
        'x-tempclock-signature': signBody(target.secret, body)
      },
      timeoutMs: this.#options.timeoutMs,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      policy: { allowLoopback: this.#options.allowLoopback },
      signal: this.#abort.signal,
      resolver: this.#options.resolver
    })
    const now = this.#clock()
    // abandoned on shutdown: not counted as an attempt, and due again as soon as the server is back
    if (!result.ok && this.#abort.signal.aborted) return { kind: 'released', id: delivery.id, atMs: now }
    const attempts = delivery.attempts + 1
    if (result.ok) return { kind: 'delivered', id: delivery.id, attempts, statusCode: result.status, atMs: now }
    const giveUp = now >= delivery.give_up_ms
    if (giveUp) this.#options.log?.warn({ delivery: delivery.id, attempts, error: result.error }, 'webhook delivery failed for good')
    const next = Math.min(now + retryDelayMs(attempts, this.#options.retryBaseMs, this.#options.retryMaxMs, this.#random), delivery.give_up_ms)
    return { kind: 'failed', id: delivery.id, attempts, statusCode: result.status, error: result.error, atMs: now, nextAttemptMs: giveUp ? null : next }
  }
}
