// Calendar dates in a time zone, with Intl (the IANA database Node ships): DST-correct without a
// library. Timestamps stay UTC everywhere else; only "which day is this in the account's zone"
// needs a zone.

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor (timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    formatters.set(timeZone, f)
  }
  return f
}

/** The calendar date `YYYY-MM-DD` of an instant in a zone. */
export function localDate (ms: number, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD
  return formatterFor(timeZone).format(new Date(ms))
}

const HOUR = 3_600_000

/**
 * The first instant (ms, UTC) whose local date in `timeZone` is `date` or later: the start of
 * that day. Usually local midnight; where a DST change skips midnight, the first existing time.
 * A binary search over ±15 h around UTC midnight (every zone's offset is within that), to the
 * second, so no offset arithmetic can be wrong on a change day.
 */
export function startOfLocalDay (date: string, timeZone: string): number {
  const cacheKey = timeZone + ' ' + date
  const cached = dayStarts.get(cacheKey)
  if (cached !== undefined) return cached
  const start = searchStartOfLocalDay(date, timeZone)
  // zone rules are fixed for the life of the process: the answer never changes
  if (dayStarts.size >= DAY_START_CACHE_LIMIT) dayStarts.clear()
  dayStarts.set(cacheKey, start)
  return start
}

const DAY_START_CACHE_LIMIT = 10_000
const dayStarts = new Map<string, number>()

function searchStartOfLocalDay (date: string, timeZone: string): number {
  const utcMidnight = Date.parse(date + 'T00:00:00Z')
  let lo = utcMidnight - 15 * HOUR // local date here is before `date`
  let hi = utcMidnight + 15 * HOUR // local date here is `date` or later
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000
    if (localDate(mid, timeZone) >= date) hi = mid
    else lo = mid
  }
  return hi
}

/** The day after a `YYYY-MM-DD` date. */
export function nextDate (date: string): string {
  return new Date(Date.parse(date + 'T00:00:00Z') + 24 * HOUR).toISOString().slice(0, 10)
}

/**
 * The UTC half-open range [from, to) of instants whose local date in `timeZone` lies between
 * `startDate` and `endDate` inclusive; either end may be open.
 */
export function localDateRange (timeZone: string, startDate?: string, endDate?: string): { from?: string, to?: string } {
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z'
  return {
    from: startDate === undefined ? undefined : iso(startOfLocalDay(startDate, timeZone)),
    to: endDate === undefined ? undefined : iso(startOfLocalDay(nextDate(endDate), timeZone))
  }
}

/** A `YYYY-MM-DD` date `days` calendar days later (earlier when negative). */
export function addDays (date: string, days: number): string {
  return new Date(Date.parse(date + 'T00:00:00Z') + days * 24 * HOUR).toISOString().slice(0, 10)
}
