import pg from 'pg'
import { toIsoSeconds } from '../../../domain/time.js'

/**
 * The one place where PostgreSQL's values become what the resource modules expect from either
 * engine (db/engine/engine.ts): timestamps as ISO-8601 UTC strings at second precision, dates as
 * `YYYY-MM-DD`, JSON as its text (the modules parse it, as on SQLite), 64-bit integers and
 * numerics (counts, sums, epoch milliseconds) as numbers. Booleans, integers and floats keep pg's
 * own parsing. Given to each pool (its `types` option), so other users of `pg` in the process keep
 * theirs.
 */
export const rowTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format)
    return TEXT_PARSERS.get(oid) ?? pg.types.getTypeParser(oid)
  }) as pg.CustomTypesConfig['getTypeParser']
}

const { TIMESTAMPTZ, TIMESTAMP, DATE, INT8, NUMERIC, JSON, JSONB } = pg.types.builtins

/** `2026-12-07 06:35:43+00`, perhaps with fractional seconds: the session runs in UTC. */
const UTC_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.\d+)?\+00$/

function parseTimestamptz (text: string): string {
  const utc = UTC_TEXT.exec(text)
  if (utc !== null) return `${utc[1]!}T${utc[2]!}Z`
  // another offset (a session whose TimeZone is not UTC) or a year past 9999: pg's own parser
  const parsed: unknown = pg.types.getTypeParser(TIMESTAMPTZ)(text)
  return parsed instanceof Date && !Number.isNaN(parsed.getTime()) ? toIsoSeconds(parsed) : text
}

/** A timestamp without zone is read as UTC, as SQLite's date functions do. */
function parseTimestamp (text: string): string {
  return parseTimestamptz(text + '+00')
}

const identity = (text: string): string => text

const TEXT_PARSERS = new Map<number, (text: string) => unknown>([
  [TIMESTAMPTZ, parseTimestamptz],
  [TIMESTAMP, parseTimestamp],
  [DATE, identity],
  [INT8, Number],
  [NUMERIC, Number],
  [JSON, identity],
  [JSONB, identity]
])
