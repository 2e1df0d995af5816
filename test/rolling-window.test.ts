import t from 'tap'
import fc from 'fast-check'
import { RollingWindowLog } from '../domain/rolling-window.js'

const MINUTE = 60_000

t.test('a request is answered exactly when fewer than max were answered in the window before it', async (t) => {
  // random arrival gaps, limits and windows: the log must agree with a brute-force check of the rule
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 8 }),
    fc.integer({ min: 10, max: 1000 }),
    fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }),
    (max, windowMs, gaps) => {
      const log = new RollingWindowLog(100, 100)
      const answered: number[] = []
      let now = 0
      for (const gap of gaps) {
        now += gap
        const inWindow = answered.filter((at) => at > now - windowMs)
        const hit = log.hit('k', now, windowMs, max)
        const expected = inWindow.length < max
        if ((hit.count <= max) !== expected) return false
        if (expected) {
          answered.push(now)
          if (hit.count !== inWindow.length + 1) return false
        } else if (now + hit.resetInMs !== inWindow[0]! + windowMs || hit.resetInMs <= 0) {
          // a refusal says exactly when the next request will be answered
          return false
        }
      }
      return true
    }
  ), { seed: 20261207, numRuns: 300 })
  t.pass('agrees with the rule on random traffic')
})

t.test('9 answers within 1.9 s across a fixed window edge: at most 5 in any minute', async (t) => {
  const log = new RollingWindowLog(10, 10)
  const answers: number[] = []
  const hit = (now: number): void => { if (log.hit('key', now, MINUTE, 5).count <= 5) answers.push(now) }
  hit(0)
  for (let i = 0; i < 4; i++) hit(58_100 + i * 10)
  for (let i = 0; i < 5; i++) hit(60_000 + i * 10)
  t.same(answers, [0, 58_100, 58_110, 58_120, 58_130, 60_000], 'only the slot the request at 0 freed')
  const refused = log.hit('key', 60_100, MINUTE, 5)
  t.same(refused, { count: 6, resetInMs: 58_100 + MINUTE - 60_100 })
  t.same(log.peek('key', 60_100, MINUTE), { count: 5, resetInMs: 58_100 + MINUTE - 60_100 }, 'peek counts nothing')
  t.same(log.peek('nobody', 60_100, MINUTE), { count: 0, resetInMs: 0 })
  t.equal(log.hit('key', 118_099, MINUTE, 5).count, 6, 'refused 1 ms before the oldest answer leaves the window')
  t.equal(log.hit('key', 118_100, MINUTE, 5).count, 5, 'answered when it does')
})

t.test('a lock-out outlives any amount of traffic about other keys; memory stays bounded', async (t) => {
  const log = new RollingWindowLog(50, 20)
  for (let i = 0; i < 10; i++) log.hit('victim', i, MINUTE, 10)
  t.equal(log.hit('victim', 20, MINUTE, 10).count, 11, 'locked out')
  for (let i = 0; i < 5000; i++) {
    log.hit(`junk${i}`, 100 + i, MINUTE, 10)
    if (log.trackedKeys > 70) { t.fail(`${log.trackedKeys} keys tracked`); break }
  }
  t.equal(log.trackedKeys, 51, 'the least recently used open keys went; the lock-out stayed')
  t.equal(log.hit('victim', 6000, MINUTE, 10).count, 11, 'still locked out after 5,000 other keys')
  t.equal(log.hit('victim', MINUTE, MINUTE, 10).count, 10, 'until its first attempt leaves the window')
})

t.test('a full lock-out map refuses a key that would reach its limit instead of lifting a lock-out', async (t) => {
  const log = new RollingWindowLog(100, 2)
  for (const key of ['a', 'b']) for (let i = 0; i < 3; i++) log.hit(key, 0, MINUTE, 3)
  t.equal(log.lockedOutKeys, 2)
  t.equal(log.hit('c', 30_000, MINUTE, 3).count, 1)
  t.equal(log.hit('c', 30_001, MINUTE, 3).count, 2)
  t.equal(log.hit('c', 30_002, MINUTE, 3).count, 4, 'its last request is refused: no room to lock it out')
  t.equal(log.hit('a', 30_003, MINUTE, 3).count, 4, 'a stays locked out')
  t.equal(log.hit('b', 30_004, MINUTE, 3).count, 4, 'b stays locked out')
  t.equal(log.hit('c', 30_500, MINUTE, 3).count, 4, 'no second sweep within a second')
  // expired lock-outs are swept to make room (at most once a second)
  t.equal(log.hit('c', MINUTE + 1000, MINUTE, 3).count, 3, 'once a and b expired, c may reach its limit')
  t.equal(log.lockedOutKeys, 1)
  t.equal(log.hit('c', MINUTE + 1001, MINUTE, 3).count, 4)
})

t.test('a limit of 0 refuses everything; capacities must be positive', async (t) => {
  const log = new RollingWindowLog(1, 1)
  t.same(log.hit('k', 0, MINUTE, 0), { count: 1, resetInMs: MINUTE })
  t.equal(log.trackedKeys, 0)
  t.throws(() => new RollingWindowLog(0, 1), RangeError)
})

t.test('a long log is compacted as it slides', async (t) => {
  const log = new RollingWindowLog(1, 1)
  let answered = 0
  for (let now = 0; now < 10_000; now++) if (log.hit('busy', now, 100, 50).count <= 50) answered++
  t.equal(answered, 5000, '50 per 100 ms for 10 s')
  t.same(log.peek('busy', 9_999, 100), { count: 50, resetInMs: 1 })
})

t.test('requests in the same millisecond each count', async (t) => {
  const log = new RollingWindowLog(1, 1)
  for (let i = 0; i < 1000; i++) if (log.hit('burst', 5, MINUTE, 1000).count > 1000) { t.fail(`request ${i} refused`); break }
  t.same(log.hit('burst', 5, MINUTE, 1000), { count: 1001, resetInMs: MINUTE })
  t.same(log.peek('burst', MINUTE + 4, MINUTE), { count: 1000, resetInMs: 1 })
  t.same(log.peek('burst', MINUTE + 5, MINUTE), { count: 0, resetInMs: 0 })
  t.equal(log.hit('burst', MINUTE + 5, MINUTE, 1000).count, 1, 'the whole millisecond leaves the window at once')
})
