/**
 * Exact rolling-window counting: a key gets at most `max` requests answered in any span of
 * `windowMs`, whatever the alignment (a fixed window lets 2 × max through around its edge).
 * Each key keeps the times of its answered requests inside the window (at most `max` of them, and
 * at most one entry per millisecond), so the decision is exact and the state of one key is bounded
 * by its limit. Refused requests are not
 * recorded: they were not answered, and they cannot push a key's lock-out further out.
 *
 * Memory is bounded twice over. Keys with room left live in a least-recently-used map of
 * `capacity` keys; evicting one forgets at most max − 1 answered requests. Keys at their limit
 * (locked out until their oldest answered request leaves the window) live in a separate map that
 * other keys' traffic never evicts from: an entry leaves only when it expires. That map is
 * bounded by `lockOutCapacity`; when it is full of live lock-outs, a key that would reach its limit
 * is refused instead (it fails closed), so no existing lock-out is ever lifted to make room.
 *
 * No IO and no clock of its own: the caller passes `now` (milliseconds).
 */

export interface WindowHit {
  /** answered requests in the window, this one included when it is answered; max + 1 when refused */
  count: number
  /** ms until the oldest answered request leaves the window: when a refused key may next be answered */
  resetInMs: number
}

/**
 * The answered requests of one key, oldest first from `head` on, as (time, how many at that
 * millisecond) pairs: a busy key costs one entry per millisecond, not one per request.
 */
interface KeyLog {
  times: number[]
  counts: number[]
  head: number
  /** answered requests from `head` on */
  total: number
  windowMs: number
}

function size (log: KeyLog): number {
  return log.total
}

function oldest (log: KeyLog): number {
  return log.times[log.head]!
}

function record (log: KeyLog, now: number): void {
  const last = log.times.length - 1
  if (last >= log.head && log.times[last] === now) log.counts[last]!++
  else {
    log.times.push(now)
    log.counts.push(1)
  }
  log.total++
}

/** Drops the times that have left the window; compacts once the dropped part dominates. */
function prune (log: KeyLog, now: number): void {
  const start = now - log.windowMs
  while (log.head < log.times.length && log.times[log.head]! <= start) log.total -= log.counts[log.head++]!
  if (log.head > 32 && log.head * 2 > log.times.length) {
    log.times = log.times.slice(log.head)
    log.counts = log.counts.slice(log.head)
    log.head = 0
  }
}

export class RollingWindowLog {
  /** keys below their limit, least recently used first */
  readonly #open = new Map<string, KeyLog>()
  /** keys at their limit: never evicted, only expired */
  readonly #full = new Map<string, KeyLog>()
  #nextSweepAt = -Infinity

  constructor (readonly capacity: number, readonly lockOutCapacity: number) {
    if (!(capacity >= 1) || !(lockOutCapacity >= 1)) throw new RangeError('RollingWindowLog needs a capacity and a lock-out capacity of at least 1')
  }

  /** Keys tracked now (both maps): at most capacity + lockOutCapacity. */
  get trackedKeys (): number {
    return this.#open.size + this.#full.size
  }

  /** Keys locked out now (at their limit). */
  get lockedOutKeys (): number {
    return this.#full.size
  }

  /** Counts a request for `key` at `now` and says whether it is answered (count ≤ max). */
  hit (key: string, now: number, windowMs: number, max: number): WindowHit {
    const log = this.#take(key, now, windowMs)
    if (size(log) >= max) {
      this.#keep(key, log, max)
      return { count: max + 1, resetInMs: size(log) === 0 ? windowMs : oldest(log) + log.windowMs - now }
    }
    if (size(log) + 1 >= max && !this.#roomForLockOut(now)) {
      // a full lock-out map: refuse rather than lift someone else's lock-out to make room
      this.#keep(key, log, max)
      return { count: max + 1, resetInMs: size(log) === 0 ? windowMs : oldest(log) + log.windowMs - now }
    }
    record(log, now)
    this.#keep(key, log, max)
    return { count: size(log), resetInMs: oldest(log) + log.windowMs - now }
  }

  /** The key's state at `now` without counting a request. */
  peek (key: string, now: number, windowMs: number): WindowHit {
    const log = this.#full.get(key) ?? this.#open.get(key)
    if (log === undefined) return { count: 0, resetInMs: 0 }
    const start = now - windowMs
    let first = log.head
    let count = log.total
    while (first < log.times.length && log.times[first]! <= start) count -= log.counts[first++]!
    return { count, resetInMs: count === 0 ? 0 : log.times[first]! + windowMs - now }
  }

  /** The key's log, pruned to the window, removed from whichever map held it. */
  #take (key: string, now: number, windowMs: number): KeyLog {
    let log = this.#full.get(key)
    if (log !== undefined) {
      this.#full.delete(key)
    } else {
      log = this.#open.get(key)
      if (log !== undefined) this.#open.delete(key)
    }
    if (log === undefined) return { times: [], counts: [], head: 0, total: 0, windowMs }
    log.windowMs = windowMs
    prune(log, now)
    return log
  }

  /** Puts the log back: locked out in the lock-out map, otherwise most recently used in the LRU. */
  #keep (key: string, log: KeyLog, max: number): void {
    if (size(log) >= max && size(log) > 0) {
      this.#full.set(key, log)
      return
    }
    if (size(log) === 0) return
    this.#open.set(key, log)
    if (this.#open.size > this.capacity) this.#open.delete(this.#open.keys().next().value!)
  }

  /** Whether one more lock-out fits, after dropping expired ones (at most one sweep per second). */
  #roomForLockOut (now: number): boolean {
    if (this.#full.size < this.lockOutCapacity) return true
    if (now < this.#nextSweepAt) return false
    this.#nextSweepAt = now + 1000
    for (const [key, log] of this.#full) {
      if (oldest(log) + log.windowMs <= now) this.#full.delete(key)
    }
    return this.#full.size < this.lockOutCapacity
  }
}
