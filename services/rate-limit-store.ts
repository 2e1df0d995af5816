import type { FastifyRateLimitStore } from '@fastify/rate-limit'
import { RollingWindowLog, type WindowHit } from '../domain/rolling-window.js'

/**
 * Where a rolling window's answered requests are kept. Memory serves one process; a shared
 * backend (Redis) implements the same three methods so the store below stays as it is.
 */
export interface RollingWindowCounter {
  hit: (key: string, windowMs: number, max: number) => WindowHit | Promise<WindowHit>
  peek: (key: string, windowMs: number) => WindowHit | Promise<WindowHit>
  /** a counter for another limiter, whose keys never meet this one's */
  child: () => RollingWindowCounter
}

export interface MemoryRollingWindowOptions {
  /** milliseconds on a clock that only moves forward */
  clock: () => number
  /** keys below their limit kept at once (least recently used ones are forgotten) */
  capacity: number
  /** keys at their limit kept at once (never evicted by other keys; see domain/rolling-window.ts) */
  lockOutCapacity: number
}

export class MemoryRollingWindow implements RollingWindowCounter {
  readonly #log: RollingWindowLog

  constructor (readonly options: MemoryRollingWindowOptions) {
    this.#log = new RollingWindowLog(options.capacity, options.lockOutCapacity)
  }

  hit (key: string, windowMs: number, max: number): WindowHit {
    return this.#log.hit(key, this.options.clock(), windowMs, max)
  }

  peek (key: string, windowMs: number): WindowHit {
    return this.#log.peek(key, this.options.clock(), windowMs)
  }

  child (): MemoryRollingWindow {
    return new MemoryRollingWindow(this.options)
  }

  /** keys tracked now, for tests and diagnostics */
  get trackedKeys (): number {
    return this.#log.trackedKeys
  }
}

/** The options the plugin hands a store (its settings merged with a limiter's). */
interface StoreOptions {
  ban?: number
  continueExceeding?: boolean
  exponentialBackoff?: boolean
}

type StoreCallback = (error: Error | null, result?: { current: number, ttl: number }) => void

/** What the plugin calls on a store; `read` serves `{ increment: false }`. */
export interface RollingWindowStore extends FastifyRateLimitStore {
  read: (key: string, callback: StoreCallback, timeWindow: number) => void
  child: (routeOptions: object) => RollingWindowStore
}

function answer (hit: WindowHit | Promise<WindowHit>, callback: StoreCallback): void {
  const settle = (h: WindowHit): void => { callback(null, { current: h.count, ttl: h.resetInMs }) }
  if (hit instanceof Promise) hit.then(settle, (err: Error) => { callback(err) })
  else settle(hit)
}

/**
 * A store for @fastify/rate-limit (its `store` option) that counts over a rolling window.
 * The plugin turns `current` into X-RateLimit-Remaining (max − current) and a refusal
 * (current > max), and `ttl` into X-RateLimit-Reset and Retry-After (whole seconds, rounded up):
 * `ttl` is when the oldest answered request leaves the window, which for a key with nothing left
 * is exactly when it is next answered. Bans, continueExceeding and exponentialBackoff are
 * fixed-window ideas this store does not have: asking for them is an error at start.
 */
export function rollingWindowStore (counter: RollingWindowCounter): new (options: object) => RollingWindowStore {
  return class RollingWindowStoreOverCounter implements RollingWindowStore {
    readonly #counter: RollingWindowCounter

    constructor (options: object, own: RollingWindowCounter = counter) {
      const { ban, continueExceeding, exponentialBackoff } = options as StoreOptions
      if ((ban !== undefined && ban !== -1) || continueExceeding === true || exponentialBackoff === true) {
        throw new Error('the rolling-window rate-limit store supports neither ban, continueExceeding nor exponentialBackoff')
      }
      this.#counter = own
    }

    incr (key: string, callback: StoreCallback, timeWindow: number, max: number): void {
      answer(this.#counter.hit(key, timeWindow, max), callback)
    }

    read (key: string, callback: StoreCallback, timeWindow: number): void {
      answer(this.#counter.peek(key, timeWindow), callback)
    }

    // the plugin passes its settings merged with the limiter's (its typings say route options)
    child (routeOptions: object): RollingWindowStore {
      return new RollingWindowStoreOverCounter(routeOptions, this.#counter.child())
    }
  }
}
