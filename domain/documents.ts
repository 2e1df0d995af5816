import { addDays, localDate } from './zoned-time.js'

// Worker documents (right to work, licences, certificates): their status and when their expiry
// is due to be announced. Facts in (the expiry date, the account's time zone, "now"), answers out.

export const DOCUMENT_STATUSES = ['valid', 'expiring', 'expired'] as const
export type DocumentStatus = typeof DOCUMENT_STATUSES[number]

/** a document whose expiry day is at most this many days away is `expiring` */
export const EXPIRING_WITHIN_DAYS = 30

/**
 * `expired` once the expiry day has ended in the account's zone (from the local midnight that
 * follows it), `expiring` from 30 days before it up to and including the day itself, else `valid`;
 * a document without an expiry is always `valid`.
 */
export function documentStatus (expiresOn: string | null, timeZone: string, nowMs: number): DocumentStatus {
  if (expiresOn === null) return 'valid'
  const today = localDate(nowMs, timeZone)
  if (expiresOn < today) return 'expired'
  if (expiresOn <= addDays(today, EXPIRING_WITHIN_DAYS)) return 'expiring'
  return 'valid'
}

/** Whether the day `expiresOn` has ended in `timeZone` at `nowMs`. */
export function expiryHasPassed (expiresOn: string, timeZone: string, nowMs: number): boolean {
  return expiresOn < localDate(nowMs, timeZone)
}

/**
 * Whether the `document_expired` event is due: the expiry has passed and no event was sent for
 * this date or a later one. `notifiedOn` is the expiry date of the last event sent; moving the
 * expiry to a later date re-arms the event, moving it back (or to an earlier date) does not.
 */
export function expiryEventDue (expiresOn: string | null, notifiedOn: string | null, timeZone: string, nowMs: number): boolean {
  if (expiresOn === null || !expiryHasPassed(expiresOn, timeZone, nowMs)) return false
  return notifiedOn === null || expiresOn > notifiedOn
}

/**
 * The expiry dates a status filter selects, as bounds on `expires_on` for the account's `today`:
 * `expired` before today; `expiring` today to today + 30 days; `valid` after that or no expiry.
 */
export function statusDateBounds (status: DocumentStatus, today: string): { before?: string, from?: string, through?: string, orNone?: boolean } {
  const lastExpiring = addDays(today, EXPIRING_WITHIN_DAYS)
  switch (status) {
    case 'expired': return { before: today }
    case 'expiring': return { from: today, through: lastExpiring }
    case 'valid': return { from: addDays(lastExpiring, 1), orNone: true }
  }
}

/**
 * The latest local date any zone can have at `nowMs` (UTC+14): an expiry on or after it has
 * passed nowhere yet, so the expiry scan can leave it out before looking at accounts' zones.
 */
export function latestLocalDate (nowMs: number): string {
  return new Date(nowMs + 14 * 3_600_000).toISOString().slice(0, 10)
}
