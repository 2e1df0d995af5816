/** ISO-8601 UTC with `Z`, second precision: the one timestamp format on the wire and on disk. */
export function toIsoSeconds (date: Date): string {
  return date.toISOString().slice(0, 19) + 'Z'
}

export function nowIso (): string {
  return toIsoSeconds(new Date())
}

/**
 * Parses an input timestamp with any offset and normalises it to UTC at second precision.
 * Returns null for anything that is not an ISO-8601 date-time with a zone.
 */
export function parseTimestamp (input: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(input)) return null
  // Date.parse rolls 2025-02-30 over into March and takes 24:00; both are typos, not times
  if (!isCalendarDate(input.slice(0, 10)) || input.slice(11, 13) > '23') return null
  const ms = Date.parse(input)
  if (Number.isNaN(ms)) return null
  return toIsoSeconds(new Date(ms))
}

/** A calendar date `YYYY-MM-DD` that exists (no 2025-02-30). */
export function isCalendarDate (input: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input)) return false
  const date = new Date(input + 'T00:00:00Z')
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(input)
}
