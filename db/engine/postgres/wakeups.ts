import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { Wakeups } from '../engine.js'

/** after a lost or refused connection the listener tries again this soon, doubling up to the max */
const RETRY_MS = 250
const RETRY_MAX_MS = 10_000
const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/

/**
 * PostgreSQL's LISTEN/NOTIFY behind `engine.wakeups`. Each process LISTENs on a connection of its
 * own (a pooled one goes back to other work between queries) and NOTIFYs through the pool. A
 * notification carries its process's id, so nobody is woken by itself.
 *
 * A lost connection (a restarted server) is opened again with backoff, and then every listener is
 * called once: notifications sent meanwhile are gone, the work they announced is not (it is in the
 * database, and the loops poll as well).
 */
export class PostgresWakeups implements Wakeups {
  readonly #id = randomUUID()
  readonly #listeners = new Map<string, Set<() => void>>()
  #client: pg.Client | null = null
  #connecting: Promise<void> | null = null
  #retryMs = RETRY_MS
  #retryTimer: NodeJS.Timeout | null = null
  #opened = 0
  #closed = false

  /**
   * @param connect the listening connection's settings (the pool's, without its timeouts)
   * @param report a lost connection or a failed attempt; the listener carries on trying
   */
  constructor (
    private readonly connect: pg.ClientConfig,
    private readonly pool: pg.Pool,
    private readonly report: (err: Error) => void
  ) {}

  async notify (channel: string): Promise<void> {
    await this.pool.query('select pg_notify($1, $2)', [checked(channel), this.#id])
  }

  async listen (channel: string, fn: () => void): Promise<() => void> {
    checked(channel)
    let listeners = this.#listeners.get(channel)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(channel, listeners)
    }
    listeners.add(fn)
    const stop = (): void => { listeners.delete(fn) }
    if (this.#closed) return stop
    if (this.#client === null) {
      await this.#open()
    } else if (listeners.size === 1) {
      await this.#client.query(`listen ${channel}`).catch((err: unknown) => { this.#lost(this.#client!, err) })
    }
    return stop
  }

  async close (): Promise<void> {
    this.#closed = true
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    await this.#connecting?.catch(() => {})
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => {})
  }

  /** Opens the listening connection and LISTENs on every channel; resolves either way. */
  async #open (): Promise<void> {
    this.#connecting ??= (async () => {
      const client = new pg.Client(this.connect)
      // without a listener, an 'error' event would end the process
      client.on('error', (err) => { this.#lost(client, err) })
      client.on('end', () => { this.#lost(client, new Error('the LISTEN connection ended')) })
      client.on('notification', (message) => {
        if (message.payload === this.#id) return
        for (const fn of this.#listeners.get(message.channel) ?? []) fn()
      })
      try {
        await client.connect()
        for (const channel of this.#listeners.keys()) await client.query(`listen ${channel}`)
      } catch (err) {
        client.removeAllListeners('end')
        await client.end().catch(() => {})
        this.#retry(err)
        return
      }
      if (this.#closed) {
        await client.end().catch(() => {})
        return
      }
      this.#client = client
      this.#retryMs = RETRY_MS
      // back after a loss: what was announced meanwhile is gone, so every loop looks once
      if (this.#opened++ > 0) for (const fns of this.#listeners.values()) for (const fn of fns) fn()
    })().finally(() => { this.#connecting = null })
    await this.#connecting
  }

  #lost (client: pg.Client, err: unknown): void {
    if (this.#client !== client) return
    this.#client = null
    client.removeAllListeners('end')
    client.end().catch(() => {})
    this.#retry(err)
  }

  #retry (err: unknown): void {
    if (this.#closed) return
    this.report(err instanceof Error ? err : new Error(String(err)))
    const delay = this.#retryMs
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      void this.#open()
    }, delay)
    // the retry never keeps a process alive on its own
    this.#retryTimer.unref()
  }
}

function checked (channel: string): string {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${JSON.stringify(channel)}`)
  return channel
}
