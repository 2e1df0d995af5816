import type { Kysely } from 'kysely'
import type { Database } from '../db/types.js'
import { WebhookOutbox, type AttemptOutcome, type ClaimedDelivery } from '../db/webhooks.js'
import { deliveryBody, retryDelayMs, sendWebhook, signBody, type SendRequest } from './webhook-delivery.js'

export interface DispatcherOptions {
  pollMs: number
  retryBaseMs: number
  retryMaxMs: number
  retryWindowMs: number
  timeoutMs: number
  concurrency: number
  allowLoopback: boolean
  /** epoch ms; tests pass a controllable clock */
  clock?: () => number
  /** 0 ≤ x < 1, for the retry jitter */
  random?: () => number
  resolver?: SendRequest['resolver']
  log?: { error: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void }
}

const USER_AGENT = 'TempClock-Webhooks/1.1'
/** On shutdown, attempts in flight get this long to finish before they are abandoned. */
const CLOSE_GRACE_MS = 2000
const yieldToIo = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

/** a nudge runs a pass this soon: a burst of writes shares one pass */
const NUDGE_DELAY_MS = 5
/** deliveries claimed ahead, as a multiple of the concurrency */
const PREFETCH = 4

/**
 * The webhook loop. Everything it knows is in the database, so a restart loses nothing:
 *  1. fan-out: undispatched outbox events become pending deliveries (one per matching subscription);
 *  2. send: due deliveries are claimed (leased) and POSTed, at most `concurrency` at once;
 *     2xx → delivered; anything else → retried with exponential backoff and jitter until the
 *     retry window (24 h) has passed, then failed.
 * `start()` runs it on a timer (polling, plus `nudge()` after writes); tests may instead call
 * `runOnce()` with a controlled clock.
 */
export class WebhookDispatcher {
  readonly #outbox: WebhookOutbox
  readonly #options: DispatcherOptions
  readonly #clock: () => number
  readonly #random: () => number
  readonly #inFlight = new Map<number, Promise<void>>()
  /** claimed (leased) deliveries waiting for a free slot, so a finished attempt is replaced at once */
  #queue: ClaimedDelivery[] = []
  /** finished attempts not yet written: the next pass records them all in one commit */
  #outcomes: AttemptOutcome[] = []
  readonly #abort = new AbortController()
  #timer: NodeJS.Timeout | null = null
  #timerDue = 0
  #ticking: Promise<void> | null = null
  #again = false
  #started = false
  #stopped = false

  constructor (db: Kysely<Database>, options: DispatcherOptions) {
    this.#outbox = new WebhookOutbox(db)
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

  start (): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#schedule(0)
  }

  /** Wake the loop now (a write may have recorded an event). Cheap; a no-op unless started. */
  nudge (): void {
    if (!this.#started || this.#stopped) return
    if (this.#ticking !== null) { this.#again = true; return }
    this.#schedule(NUDGE_DELAY_MS)
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
    this.nudge()
  }

  /** One pass (fan out, claim and send what is due), wait for its attempts, record them. */
  async runOnce (): Promise<void> {
    await this.#tick()
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()])
    await this.#settle()
  }

  /** Stops the loop: no new attempts; those in flight get a short grace, then are abandoned (released, uncounted). */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#ticking !== null) await this.#ticking
    if (this.#inFlight.size > 0) {
      let graceTimer: NodeJS.Timeout | undefined
      const grace = new Promise<void>((resolve) => { graceTimer = setTimeout(resolve, CLOSE_GRACE_MS) })
      await Promise.race([Promise.all([...this.#inFlight.values()]), grace])
      clearTimeout(graceTimer)
      this.#abort.abort()
      await Promise.all([...this.#inFlight.values()])
    }
    // claimed but never started: due again at once after a restart
    for (const queued of this.#queue.splice(0)) this.#outcomes.push({ kind: 'released', id: queued.id, atMs: this.#clock() })
    await this.#settle()
  }

  /** Writes the finished attempts (without claiming more). */
  async #settle (): Promise<void> {
    const outcomes = this.#outcomes.splice(0)
    if (outcomes.length > 0) await this.#outbox.settleAndClaim(outcomes, this.#clock(), 0, this.leaseMs)
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
          const window = this.#options.retryWindowMs
          // a backlog (after downtime) is fanned out in batches, yielding to requests in between
          while (!this.#stopped && await this.#outbox.fanOut(this.#clock(), window) > 0) await yieldToIo()
          const outcomes = this.#outcomes.splice(0)
          // claim ahead (up to PREFETCH × concurrency) so that slots refill without a database round trip
          const wanted = this.#options.concurrency * PREFETCH - this.#inFlight.size - this.#queue.length
          const free = this.#stopped || this.#queue.length >= this.#options.concurrency ? 0 : wanted
          const exclude = [...this.#inFlight.keys(), ...this.#queue.map((d) => d.id)]
          let claimed: ClaimedDelivery[]
          try {
            claimed = await this.#outbox.settleAndClaim(outcomes, this.#clock(), free, this.leaseMs, exclude)
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

  /** Starts queued deliveries while slots are free. */
  #fill (): void {
    while (!this.#stopped && this.#inFlight.size < this.#options.concurrency && this.#queue.length > 0) {
      this.#launch(this.#queue.shift()!)
    }
  }

  #launch (delivery: ClaimedDelivery): void {
    const attempt = this.#attempt(delivery)
      .then((outcome) => { this.#outcomes.push(outcome) })
      // cannot normally happen; the lease makes the delivery due again later
      .catch((err: unknown) => { this.#options.log?.error({ err, delivery: delivery.id }, 'webhook attempt failed unexpectedly') })
      .finally(() => {
        this.#inFlight.delete(delivery.id)
        this.#fill()
        this.nudge() // record the outcome (and claim more)
      })
    this.#inFlight.set(delivery.id, attempt)
  }

  async #attempt (delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const body = deliveryBody(delivery.event)
    const result = await sendWebhook({
      url: delivery.url,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-tempclock-event': delivery.event.type,
        'x-tempclock-delivery': String(delivery.id),
        'x-tempclock-signature': signBody(delivery.secret, body)
      },
      timeoutMs: this.#options.timeoutMs,
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
