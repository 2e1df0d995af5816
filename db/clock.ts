import { sql, type Compilable, type Kysely } from 'kysely'
import { eventRecorder, type EventRecorder } from './events.js'
import type { CompiledQuery, Engine, WriteOptions } from './engine/engine.js'
import { toSurveyFacts } from './surveys.js'
import { toTimeEntryRecord } from './time-entries.js'
import { everyColumn, type Database, type SurveyRow, type TimeEntriesTable, type TimeEntryRow } from './types.js'
import { checkTimestamp, decideClock, type ClockDecision, type ClockFacts, type ClockRequest, type EntryFacts, type LocationFacts, type NewEntry, type NewSurveyResponse, type WorkerFacts } from '../domain/clock-decision.js'
import { ApiError, conflict } from '../domain/errors.js'
import { applicableSurvey } from '../domain/surveys.js'
import { toIsoSeconds } from '../domain/time.js'
import type { ClockBodyType, TimeEntryRecord } from '../schemas/time.js'

export interface ClockResult {
  status: 200 | 201
  entry: TimeEntryRecord
}

const INSERT_COLUMNS = [
  'account_id', 'type', 'parent_id', 'worker_id', 'location_id', 'cost_code_id', 'clock_in', 'status', 'notes',
  'latitude', 'longitude', 'gps_accuracy', 'within_geofence', 'distance_meters', 'low_gps_confidence', 'survey_response_id', 'created_at', 'updated_at'
] as const
type InsertColumn = typeof INSERT_COLUMNS[number]

/**
 * Every column of an entry, by name rather than `*`: on PostgreSQL the queries are prepared, and a
 * prepared `returning *` fails once a rolling deploy's migration adds a column.
 */
const ENTRY_COLUMNS = everyColumn<TimeEntriesTable>()([
  'id', 'account_id', 'type', 'parent_id', 'worker_id', 'location_id', 'cost_code_id', 'clock_in', 'clock_out', 'duration_seconds',
  'break_seconds', 'status', 'source', 'notes', 'latitude', 'longitude', 'gps_accuracy', 'within_geofence', 'distance_meters',
  'low_gps_confidence', 'created_at', 'updated_at', 'survey_response_id'
])

const RESPONSE_COLUMNS = [
  'account_id', 'survey_id', 'worker_id', 'location_id', 'passed', 'answers', 'failed_questions', 'submitted_at', 'created_at', 'updated_at'
] as const
type ResponseColumn = typeof RESPONSE_COLUMNS[number]

type WorkerRow = WorkerFacts & { has_surveys: boolean }
type ActiveSurveyRow = Pick<SurveyRow, 'id' | 'name' | 'location_ids' | 'questions'>

/** The entry columns the decision reads; a facts query selects them as `<alias>_<column>`. */
const ENTRY_FACTS = ['id', 'parent_id', 'location_id', 'cost_code_id', 'clock_in', 'clock_out', 'status'] as const
type EntryFactsOf<A extends string> = { [C in keyof EntryFacts as `${A}_${C}`]: EntryFacts[C] | null }
const LOCATION_FACTS = ['id', 'name', 'latitude', 'longitude', 'geofence_radius_m', 'geofence_mode', 'gps_accuracy_threshold'] as const
type LocationFactsOf<A extends string> = { [C in keyof LocationFacts as `${A}_${C}`]: LocationFacts[C] | null }

/** in: the latest shift, the entry's location, the body's cost code (its id when the account has it) */
type InFactsRow = EntryFactsOf<'latest'> & LocationFactsOf<'location'> & { found_cost_code_id: number | null }
/** out, break_start: the open shift, its latest break, its location's name, the body's cost code */
type ShiftFactsRow = EntryFactsOf<'shift'> & EntryFactsOf<'break'> & { location_name: string | null, found_cost_code_id: number | null }
/** break_end: the open break and its location's name */
type BreakFactsRow = EntryFactsOf<'break'> & { location_name: string | null }

/** The facts of an event, and the location (id and name) its answered entry is known to be at. */
interface LoadedFacts {
  facts: ClockFacts
  location: { id: number, name: string } | null
}

/**
 * Clock events: loads the facts the decision needs (domain/clock-decision.ts) and applies what it
 * decides, in one write transaction per event with the webhook events and any survey response in
 * the same transaction. The partial unique index `time_entries_one_open` is the last word on "one
 * open entry per worker", and the table's CHECKs on durations and break time. Every query is
 * compiled once, and each round trip counts (on PostgreSQL a statement costs more than the rest of
 * the event): the worker is read and locked in one statement, the action's facts are one query.
 */
export class ClockStore {
  readonly #worker: CompiledQuery<WorkerRow, 'id' | 'accountId'>
  readonly #inFacts: CompiledQuery<InFactsRow, 'workerId' | 'accountId' | 'locationId' | 'costCodeId'>
  readonly #shiftFacts: CompiledQuery<ShiftFactsRow, 'workerId' | 'accountId' | 'costCodeId'>
  readonly #breakFacts: CompiledQuery<BreakFactsRow, 'workerId' | 'accountId'>
  readonly #location: CompiledQuery<{ name: string }, 'id' | 'accountId'>
  readonly #openEntry: CompiledQuery<{ id: number }, 'workerId'>
  readonly #activeSurveys: CompiledQuery<ActiveSurveyRow, 'accountId'>
  readonly #insert: CompiledQuery<TimeEntryRow, InsertColumn>
  readonly #insertResponse: CompiledQuery<{ id: number }, ResponseColumn>
  readonly #close: CompiledQuery<TimeEntryRow, 'clockOut' | 'duration' | 'notes' | 'costCodeId' | 'now' | 'id'>
  readonly #addBreak: CompiledQuery<{ id: number }, 'seconds' | 'now' | 'id'>
  readonly #recordEvent: EventRecorder

  constructor (private readonly engine: Engine) {
    const { db } = engine
    // One worker's events are serial, across processes too: the worker's row stays locked until
    // the event commits, and the facts are read by the statements after the lock, which see
    // everything the previous event committed. Whether the account has an active survey rides
    // along, so a clock-in where none can apply costs no extra query.
    this.#worker = engine.compile((param) => engine.sql.lockedForWrite(db.selectFrom('workers').select(['id', 'first_name', 'last_name', 'location_id', 'active'])
      .select(sql<boolean>`exists (select 1 from surveys where surveys.account_id = workers.account_id and surveys.active = true)`.as('has_surveys'))
      .where('id', '=', param('id')).where('account_id', '=', param('accountId'))))
    // Each facts query starts from the (locked) worker's row and left-joins what the action reads,
    // so it answers one row whatever is missing. Entries of a worker never overlap, so the latest
    // clock-in is also the latest clock-out; the literal type and status keep the partial indexes
    // usable, and at most one entry of each type is open.
    const costCode = (param: (name: 'costCodeId' | 'accountId') => any) => sql<number | null>`(select id from cost_codes where id = ${param('costCodeId')} and account_id = ${param('accountId')})`
    this.#inFacts = engine.compile((param) => db.selectFrom('workers as w')
      .leftJoin('time_entries as latest', (join) => join.on('latest.id', '=', (eb) => eb.selectFrom('time_entries as e').select('e.id')
        .where('e.account_id', '=', param('accountId')).whereRef('e.worker_id', '=', 'w.id').where(sql<boolean>`e.type = 'shift'`)
        .orderBy('e.clock_in', 'desc').limit(sql<number>`1`)))
      .leftJoin('locations as location', (join) => join.on('location.id', '=', param('locationId')).on('location.account_id', '=', param('accountId')))
      .select([...factColumns('latest', ENTRY_FACTS), ...factColumns('location', LOCATION_FACTS), costCode(param).as('found_cost_code_id')])
      .where('w.id', '=', param('workerId')) as unknown as Compilable<InFactsRow>)
    this.#shiftFacts = engine.compile((param) => db.selectFrom('workers as w')
      .leftJoin('time_entries as shift', (join) => join.onRef('shift.worker_id', '=', 'w.id').on(sql<boolean>`shift.type = 'shift'`).on(sql<boolean>`shift.status = 'active'`))
      .leftJoin('time_entries as break', (join) => join.on('break.id', '=', (eb) => eb.selectFrom('time_entries as e').select('e.id')
        .whereRef('e.parent_id', '=', 'shift.id').orderBy('e.clock_in', 'desc').limit(sql<number>`1`)))
      .leftJoin('locations as location', (join) => join.onRef('location.id', '=', 'shift.location_id').on('location.account_id', '=', param('accountId')))
      .select([...factColumns('shift', ENTRY_FACTS), ...factColumns('break', ENTRY_FACTS), sql<string | null>`location.name`.as('location_name'), costCode(param).as('found_cost_code_id')])
      .where('w.id', '=', param('workerId')) as unknown as Compilable<ShiftFactsRow>)
    this.#breakFacts = engine.compile((param) => db.selectFrom('workers as w')
      .leftJoin('time_entries as break', (join) => join.onRef('break.worker_id', '=', 'w.id').on(sql<boolean>`break.type = 'break'`).on(sql<boolean>`break.status = 'active'`))
      .leftJoin('locations as location', (join) => join.onRef('location.id', '=', 'break.location_id').on('location.account_id', '=', param('accountId')))
      .select([...factColumns('break', ENTRY_FACTS), sql<string | null>`location.name`.as('location_name')])
      .where('w.id', '=', param('workerId')) as unknown as Compilable<BreakFactsRow>)
    this.#location = engine.compile((param) => db.selectFrom('locations').select('name').where('id', '=', param('id')).where('account_id', '=', param('accountId')))
    this.#openEntry = engine.compile((param) => db.selectFrom('time_entries').select('id')
      .where('worker_id', '=', param('workerId')).where(sql<boolean>`type = 'shift'`).where(sql<boolean>`status = 'active'`))
    this.#activeSurveys = engine.compile((param) => db.selectFrom('surveys').select(['id', 'name', 'location_ids', 'questions'])
      .where('account_id', '=', param('accountId')).where(sql<boolean>`active = true`).orderBy('id'))
    this.#insert = engine.compile((param) => db.insertInto('time_entries')
      .values(Object.fromEntries(INSERT_COLUMNS.map((c) => [c, param(c)])) as never).returning(ENTRY_COLUMNS))
    this.#insertResponse = engine.compile((param) => db.insertInto('survey_responses')
      .values(Object.fromEntries(RESPONSE_COLUMNS.map((c) => [c, param(c)])) as never).returning('id'))
    this.#close = engine.compile((param) => db.updateTable('time_entries')
      .set({
        clock_out: param('clockOut'),
        duration_seconds: param('duration'),
        status: sql<'completed'>`'completed'`,
        notes: sql<string | null>`coalesce(${param('notes')}, notes)`,
        cost_code_id: sql<number | null>`coalesce(${param('costCodeId')}, cost_code_id)`,
        updated_at: param('now')
      })
      .where('id', '=', param('id')).returning(ENTRY_COLUMNS))
    this.#addBreak = engine.compile((param) => db.updateTable('time_entries')
      .set({ break_seconds: sql<number>`break_seconds + ${param('seconds')}`, updated_at: param('now') }).where('id', '=', param('id')).returning('id'))
    this.#recordEvent = eventRecorder(engine)
  }

  /** One clock event. Throws ApiError for every refusal; `nowMs` is the server's clock. */
  async clock (accountId: number, body: ClockBodyType, nowMs = Date.now(), options?: WriteOptions): Promise<ClockResult> {
    const request: ClockRequest = { ...body, timestamp: checkTimestamp(body.timestamp, nowMs) }
    let outcome: ClockResult | ApiError
    try {
      outcome = await this.engine.write(async (trx) => {
        const loaded = await this.#loadFacts(trx, accountId, request)
        return await this.#apply(trx, accountId, loaded, decideClock(loaded.facts, request))
      }, options)
    } catch (err) {
      // Only reachable if another writer slipped past the check: the index decides, the caller
      // gets the same answer as if the check had seen it.
      if (this.engine.sql.isUniqueViolation(err)) {
        const open = await this.#openEntry.readFirst({ workerId: body.worker_id })
        throw conflict(body.action === 'in' ? 'already_clocked_in' : 'already_on_break',
          body.action === 'in' ? `Worker ${body.worker_id} is already clocked in (open entry ${open?.id ?? 'unknown'})` : `Worker ${body.worker_id} is already on a break`)
      }
      throw err
    }
    // a refusal that recorded its event: committed, now answered
    if (outcome instanceof ApiError) throw outcome
    return outcome
  }

  /** Only what the action's rules read: the worker (locked), then one query for the rest. */
  async #loadFacts (trx: Kysely<Database>, accountId: number, request: ClockRequest): Promise<LoadedFacts> {
    const row = await this.#worker.runFirst(trx, { id: request.worker_id, accountId })
    if (row === undefined) return { facts: { worker: undefined, costCodeFound: true }, location: null }
    const { has_surveys: hasSurveys, ...worker } = row
    const workerId = worker.id
    const costCodeId = request.cost_code_id ?? null
    switch (request.action) {
      case 'in': {
        const locationId = request.location_id === undefined ? worker.location_id : request.location_id
        const found = (await this.#inFacts.runFirst(trx, { workerId, accountId, locationId, costCodeId }))!
        const location = locationId === null ? null : found.location_id === null ? undefined : locationFacts(found)
        const facts: ClockFacts = { worker, location, costCodeFound: costCodeId === null || found.found_cost_code_id !== null, latestShift: entryFacts(found, 'latest') }
        if (hasSurveys) {
          const surveys = await this.#activeSurveys.run(trx, { accountId })
          const applicable = applicableSurvey(surveys.map((s) => ({ ...s, location_ids: s.location_ids === null ? null : JSON.parse(s.location_ids) as number[] })), locationId)
          if (applicable !== undefined) facts.survey = toSurveyFacts(applicable)
        }
        return { facts, location: location ?? null }
      }
      case 'out':
      case 'break_start': {
        // a break's cost code is its shift's: the body's is only checked on clock-out
        const checked = request.action === 'out' ? costCodeId : null
        const found = (await this.#shiftFacts.runFirst(trx, { workerId, accountId, costCodeId: checked }))!
        const openShift = entryFacts(found, 'shift')
        return {
          facts: { worker, costCodeFound: checked === null || found.found_cost_code_id !== null, openShift, latestBreak: entryFacts(found, 'break') },
          location: knownLocation(openShift, found.location_name)
        }
      }
      case 'break_end': {
        const found = (await this.#breakFacts.runFirst(trx, { workerId, accountId }))!
        const openBreak = entryFacts(found, 'break')
        return { facts: { worker, costCodeFound: true, openBreak }, location: knownLocation(openBreak, found.location_name) }
      }
    }
  }

  async #apply (trx: Kysely<Database>, accountId: number, { facts, location }: LoadedFacts, decision: ClockDecision): Promise<ClockResult | ApiError> {
    const now = toIsoSeconds(new Date())
    if (decision.kind === 'refuse') {
      // nothing to keep: the transaction writes nothing
      if (decision.surveyResponse === null && decision.events.length === 0) throw decision.error
      if (decision.surveyResponse !== null) await this.#insertSurveyResponse(trx, accountId, decision.surveyResponse, now)
      for (const event of decision.events) await this.#recordEvent(trx, accountId, event.type, event.data)
      return decision.error
    }
    const { plan } = decision
    const responseId = plan.surveyResponse === null ? null : await this.#insertSurveyResponse(trx, accountId, plan.surveyResponse, now)
    let answered: TimeEntryRow | undefined
    if (plan.insert !== null) answered = await this.#insertEntry(trx, accountId, plan.insert, responseId, now)
    // first, so that a shift closed with its break answers with the break counted
    if (plan.addBreak !== null) await this.#addBreak.runFirst(trx, { seconds: plan.addBreak.seconds, now, id: plan.addBreak.entryId })
    for (const close of plan.closes) {
      const row = (await this.#close.runFirst(trx, { clockOut: close.clock_out, duration: close.duration_seconds, notes: close.notes, costCodeId: close.cost_code_id, now, id: close.id }))!
      if (row.id === plan.answer) answered = row
    }
    const row = answered!
    const worker = facts.worker!
    const locationName = row.location_id === null ? null
      : location?.id === row.location_id ? location.name
        : (await this.#location.runFirst(trx, { id: row.location_id, accountId }))?.name ?? null
    const entry = toTimeEntryRecord({ ...row, worker_name: `${worker.first_name} ${worker.last_name}`, location_name: locationName })
    for (const type of plan.events) await this.#recordEvent(trx, accountId, type, entry)
    return { status: plan.status, entry }
  }

  async #insertEntry (trx: Kysely<Database>, accountId: number, entry: NewEntry, surveyResponseId: number | null, now: string): Promise<TimeEntryRow> {
    const values: Record<InsertColumn, unknown> = {
      ...entry,
      account_id: accountId,
      status: 'active',
      survey_response_id: surveyResponseId,
      created_at: now,
      updated_at: now
    }
    return (await this.#insert.runFirst(trx, values))!
  }

  async #insertSurveyResponse (trx: Kysely<Database>, accountId: number, response: NewSurveyResponse, now: string): Promise<number> {
    const values: Record<ResponseColumn, unknown> = {
      ...response,
      account_id: accountId,
      answers: JSON.stringify(response.answers),
      failed_questions: JSON.stringify(response.failed_questions),
      created_at: now,
      updated_at: now
    }
    return (await this.#insertResponse.runFirst(trx, values))!.id
  }
}

/** `alias.column as alias_column` for each of `columns`. */
function factColumns (alias: string, columns: readonly string[]) {
  return columns.map((column) => sql`${sql.ref(`${alias}.${column}`)}`.as(`${alias}_${column}`))
}

/** The entry a facts row holds under `alias`, or undefined when the join found none. */
function entryFacts<A extends string> (row: EntryFactsOf<A>, alias: A): EntryFacts | undefined {
  const at = row as Record<string, unknown>
  if (at[`${alias}_id`] === null) return undefined
  return Object.fromEntries(ENTRY_FACTS.map((column) => [column, at[`${alias}_${column}`]])) as unknown as EntryFacts
}

function locationFacts (row: LocationFactsOf<'location'>): LocationFacts {
  const at = row as Record<string, unknown>
  return Object.fromEntries(LOCATION_FACTS.map((column) => [column, at[`location_${column}`]])) as unknown as LocationFacts
}

/** The location of the entry an event works on, when it has one and its name was read. */
function knownLocation (entry: EntryFacts | undefined, name: string | null): { id: number, name: string } | null {
  return entry?.location_id == null || name === null ? null : { id: entry.location_id, name }
}
