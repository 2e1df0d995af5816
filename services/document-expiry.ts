import { DocumentStore } from '../db/documents.js'
import type { Engine } from '../db/engine/engine.js'

export interface DocumentExpiryOptions {
  /** how often a pass runs; a pass also runs at start */
  intervalMs: number
  /** epoch ms; tests pass a controllable clock */
  clock?: () => number
  /** called after a pass that wrote events (to wake the webhook loop) */
  onAnnounced?: (count: number) => void
  log?: { error: (obj: object, msg: string) => void }
}

/**
 * Sends `document_expired` for documents whose expiry day has ended in their account's zone.
 * It keeps nothing in memory: what was announced is in the database (db/documents.ts), so a pass
 * at start catches up on days that ended while no server ran, and any number of processes may run
 * it on one database without announcing anything twice.
 */
export class DocumentExpiryService {
  readonly #store: DocumentStore
  readonly #options: DocumentExpiryOptions
  #timer: NodeJS.Timeout | null = null
  #running: Promise<number> | null = null
  #started = false
  #stopped = false

  constructor (engine: Engine, options: DocumentExpiryOptions) {
    this.#options = options
    this.#store = new DocumentStore(engine, { clock: options.clock })
  }

  /** Runs a pass now, then one every intervalMs until stop(). */
  start (): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#schedule(0)
  }

  /** One pass; resolves with the number of events written (a pass already running is shared). */
  async runOnce (): Promise<number> {
    if (this.#running !== null) return await this.#running
    this.#running = (async () => {
      try {
        const written = await this.#store.announceDueExpiries()
        if (written > 0) this.#options.onAnnounced?.(written)
        return written
      } finally {
        this.#running = null
      }
    })()
    return await this.#running
  }

  /** No further passes; waits for one in progress. */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#running !== null) await this.#running.catch(() => {})
  }

  #schedule (ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.runOnce()
        // a database hiccup must not end the loop; the next pass catches up
        .catch((err: unknown) => { this.#options.log?.error({ err }, 'document expiry pass failed') })
        .finally(() => { this.#schedule(this.#options.intervalMs) })
    }, ms)
    // the loop never keeps the process (or a test) alive on its own
    this.#timer.unref()
  }
}
