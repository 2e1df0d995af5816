import t from 'tap'
import { documentStatus, expiryEventDue, expiryHasPassed, latestLocalDate, statusDateBounds } from '../domain/documents.js'
import { addDays } from '../domain/zoned-time.js'

const at = (iso: string): number => Date.parse(iso)

t.test('status: expired once the expiry day has ended in the zone, expiring within 30 days, valid otherwise', async (t) => {
  // 2025-06-15T23:30Z is already 16 June in London (BST) and 11:30 on 16 June in Auckland
  const now = at('2025-06-15T23:30:00Z')
  t.equal(documentStatus('2025-06-15', 'UTC', now), 'expiring', 'the expiry day itself is not over in UTC')
  t.equal(documentStatus('2025-06-15', 'Europe/London', now), 'expired', 'but it is in London')
  t.equal(documentStatus('2025-06-15', 'America/New_York', now), 'expiring')
  t.equal(documentStatus('2025-06-14', 'UTC', now), 'expired')
  t.equal(documentStatus('2025-07-15', 'UTC', now), 'expiring', '30 days ahead')
  t.equal(documentStatus('2025-07-16', 'UTC', now), 'valid', '31 days ahead')
  t.equal(documentStatus('2025-07-16', 'Europe/London', now), 'expiring', '30 days ahead in London')
  t.equal(documentStatus(null, 'UTC', now), 'valid', 'no expiry')
})

t.test('the expiry passes at local midnight, also on a DST change day', async (t) => {
  // London: BST ends 2025-10-26; local midnight starting 27 October is 00:00Z
  t.notOk(expiryHasPassed('2025-10-26', 'Europe/London', at('2025-10-26T23:59:59Z')))
  t.ok(expiryHasPassed('2025-10-26', 'Europe/London', at('2025-10-27T00:00:00Z')))
  // and on a summer day, midnight is 23:00Z the day before
  t.notOk(expiryHasPassed('2025-06-15', 'Europe/London', at('2025-06-15T22:59:59Z')))
  t.ok(expiryHasPassed('2025-06-15', 'Europe/London', at('2025-06-15T23:00:00Z')))
  t.ok(expiryHasPassed('2025-06-15', 'Pacific/Auckland', at('2025-06-15T12:00:00Z')), 'Auckland is UTC+12')
})

t.test('the event is due once per date, again only for a later date', async (t) => {
  const now = at('2025-06-20T12:00:00Z')
  t.ok(expiryEventDue('2025-06-19', null, 'UTC', now), 'passed, never sent')
  t.notOk(expiryEventDue('2025-06-20', null, 'UTC', now), 'not passed yet')
  t.notOk(expiryEventDue(null, null, 'UTC', now), 'no expiry')
  t.notOk(expiryEventDue('2025-06-19', '2025-06-19', 'UTC', now), 'sent for this date')
  t.ok(expiryEventDue('2025-06-19', '2025-06-10', 'UTC', now), 'moved to a later date that has passed too')
  t.notOk(expiryEventDue('2025-06-05', '2025-06-10', 'UTC', now), 'moved to an earlier date: not again')
})

t.test('status filter bounds match documentStatus', async (t) => {
  const now = at('2025-06-15T12:00:00Z')
  const today = '2025-06-15'
  for (let offset = -3; offset <= 34; offset++) {
    const date = addDays(today, offset)
    const status = documentStatus(date, 'UTC', now)
    const b = statusDateBounds(status, today)
    const inside = (b.before === undefined || date < b.before) && (b.from === undefined || date >= b.from) && (b.through === undefined || date <= b.through)
    t.ok(inside, `${date} (${status}) is inside its bounds`)
    for (const other of ['valid', 'expiring', 'expired'] as const) {
      if (other === status) continue
      const o = statusDateBounds(other, today)
      const alsoInside = (o.before === undefined || date < o.before) && (o.from === undefined || date >= o.from) && (o.through === undefined || date <= o.through)
      t.notOk(alsoInside, `${date} is not inside ${other}`)
    }
  }
  t.same(statusDateBounds('valid', today), { from: '2025-07-16', orNone: true })
  t.equal(latestLocalDate(at('2025-06-15T10:00:00Z')), '2025-06-16', 'UTC+14 is already tomorrow')
  t.equal(addDays('2024-02-28', 1), '2024-02-29')
  t.equal(addDays('2025-03-01', -1), '2025-02-28')
})
