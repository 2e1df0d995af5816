import { sql, type Kysely } from 'kysely'
import { recordEvent } from './events.js'
import type { CompiledQuery, Engine, WriteOptions } from './engine/engine.js'
import { toSurveyFacts } from './surveys.js'
import { toTimeEntryRecord } from './time-entries.js'
import type { Database, LocationRow, SurveyRow, TimeEntryRow } from './types.js'
import { checkTimestamp, decideClock, type ClockDecision, type ClockFacts, type ClockRequest, type EntryFacts, type NewEntry, type NewSurveyResponse, type WorkerFacts } from '../domain/clock-decision.js'
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

const RESPONSE_COLUMNS = [
  'account_id', 'survey_id', 'worker_id', 'location_id', 'passed', 'answers', 'failed_questions', 'submitted_at', 'created_at', 'updated_at'
] as const
type ResponseColumn = typeof RESPONSE_COLUMNS[number]

type WorkerRow = WorkerFacts & { has_surveys: boolean }
type ActiveSurveyRow = Pick<SurveyRow, 'id' | 'name' | 'location_ids' | 'questions'>

/**
 * Clock events: loads the facts the decision needs (domain/clock-decision.ts) and applies what it
 * decides, in one write transaction per event (BEGIN IMMEDIATE, so two processes serialise rather
 * than fail) with the webhook events and any survey response in the same transaction. The partial
 * unique index `time_entries_one_open` is the last word on "one open entry per worker", and the
 * table's CHECKs on durations and break time. Every query is compiled once: this is the hot path.
 */
export class ClockStore {
  readonly #worker: CompiledQuery<WorkerRow, 'id' | 'accountId'>
  readonly #location: CompiledQuery<LocationRow, 'id' | 'accountId'>
  readonly #costCode: CompiledQuery<{ id: number }, 'id' | 'accountId'>
  readonly #latestShift: CompiledQuery<TimeEntryRow, 'accountId' | 'workerId'>
  readonly #openEntry: CompiledQuery<TimeEntryRow, 'workerId'>
  readonly #openBreakOf: CompiledQuery<TimeEntryRow, 'workerId'>
  readonly #latestBreak: CompiledQuery<TimeEntryRow, 'parentId'>
  readonly #activeSurveys: CompiledQuery<ActiveSurveyRow, 'accountId'>
  readonly #insert: CompiledQuery<TimeEntryRow, InsertColumn>
  readonly #insertResponse: CompiledQuery<{ id: number }, ResponseColumn>
  readonly #close: CompiledQuery<TimeEntryRow, 'clockOut' | 'duration' | 'notes' | 'costCodeId' | 'now' | 'id'>
  readonly #addBreak: CompiledQuery<{ id: number }, 'seconds' | 'now' | 'id'>

  constructor (private readonly engine: Engine) {
    const { db } = engine
    // whether the account has an active survey rides along, so a clock-in where none can apply
    // costs no extra query
    this.#worker = engine.compile((param) => db.selectFrom('workers').select(['id', 'first_name', 'last_name', 'location_id', 'active'])
      .select(sql<boolean>`exists (select 1 from surveys where surveys.account_id = workers.account_id and surveys.active = true)`.as('has_surveys'))
      .where('id', '=', param('id')).where('account_id', '=', param('accountId')))
    this.#location = engine.compile((param) => db.selectFrom('locations').selectAll().where('id', '=', param('id')).where('account_id', '=', param('accountId')))
    this.#costCode = engine.compile((param) => db.selectFrom('cost_codes').select('id').where('id', '=', param('id')).where('account_id', '=', param('accountId')))
    // Entries of a worker never overlap, so the latest clock-in is also the latest clock-out.
    this.#latestShift = engine.compile((param) => db.selectFrom('time_entries').selectAll()
      .where('account_id', '=', param('accountId')).where('worker_id', '=', param('workerId')).where(sql<boolean>`type = 'shift'`)
      .orderBy('clock_in', 'desc').limit(sql<number>`1`))
    // the literal status keeps the partial index usable
    this.#openEntry = engine.compile((param) => db.selectFrom('time_entries').selectAll()
      .where('worker_id', '=', param('workerId')).where(sql<boolean>`type = 'shift'`).where(sql<boolean>`status = 'active'`))
    this.#openBreakOf = engine.compile((param) => db.selectFrom('time_entries').selectAll()
      .where('worker_id', '=', param('workerId')).where(sql<boolean>`type = 'break'`).where(sql<boolean>`status = 'active'`))
    this.#latestBreak = engine.compile((param) => db.selectFrom('time_entries').selectAll()
      .where('parent_id', '=', param('parentId')).orderBy('clock_in', 'desc').limit(sql<number>`1`))
    this.#activeSurveys = engine.compile((param) => db.selectFrom('surveys').select(['id', 'name', 'location_ids', 'questions'])
      .where('account_id', '=', param('accountId')).where(sql<boolean>`active = true`).orderBy('id'))
    this.#insert = engine.compile((param) => db.insertInto('time_entries')
      .values(Object.fromEntries(INSERT_COLUMNS.map((c) => [c, param(c)])) as never).returningAll())
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
      .where('id', '=', param('id')).returningAll())
    this.#addBreak = engine.compile((param) => db.updateTable('time_entries')
      .set({ break_seconds: sql<number>`break_seconds + ${param('seconds')}`, updated_at: param('now') }).where('id', '=', param('id')).returning('id'))
  }

  /** One clock event. Throws ApiError for every refusal; `nowMs` is the server's clock. */
  async clock (accountId: number, body: ClockBodyType, nowMs = Date.now(), options?: WriteOptions): Promise<ClockResult> {
    const request: ClockRequest = { ...body, timestamp: checkTimestamp(body.timestamp, nowMs) }
    let outcome: ClockResult | ApiError
    try {
      outcome = await this.engine.write(async (trx) => {
        // one worker's events are serial across processes too (on an engine with several writers)
        await this.engine.sql.lockKey(trx, `clock:${accountId}:${body.worker_id}`)
        const facts = await this.#loadFacts(trx, accountId, request)
        return await this.#apply(trx, accountId, facts, decideClock(facts, request))
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

  /** Only what the action's rules read. */
  async #loadFacts (trx: Kysely<Database>, accountId: number, request: ClockRequest): Promise<ClockFacts> {
    const row = await this.#worker.runFirst(trx, { id: request.worker_id, accountId })
    if (row === undefined) return { worker: undefined, costCodeFound: true }
    const { has_surveys: hasSurveys, ...worker } = row
    const costCodeId = request.cost_code_id ?? null
    const costCodeFound = costCodeId === null || (request.action !== 'in' && request.action !== 'out') ||
      await this.#costCode.runFirst(trx, { id: costCodeId, accountId }) !== undefined
    const facts: ClockFacts = { worker, costCodeFound }
    switch (request.action) {
      case 'in': {
        const locationId = request.location_id === undefined ? worker.location_id : request.location_id
        facts.location = locationId === null ? null : await this.#location.runFirst(trx, { id: locationId, accountId })
        facts.latestShift = entryFacts(await this.#latestShift.runFirst(trx, { accountId, workerId: worker.id }))
        if (hasSurveys) {
          const surveys = await this.#activeSurveys.run(trx, { accountId })
          const applicable = applicableSurvey(surveys.map((s) => ({ ...s, location_ids: s.location_ids === null ? null : JSON.parse(s.location_ids) as number[] })), locationId)
          if (applicable !== undefined) facts.survey = toSurveyFacts(applicable)
        }
        break
      }
      case 'out':
      case 'break_start': {
        const open = await this.#openEntry.runFirst(trx, { workerId: worker.id })
        facts.openShift = entryFacts(open)
        if (open !== undefined) facts.latestBreak = entryFacts(await this.#latestBreak.runFirst(trx, { parentId: open.id }))
        break
      }
      case 'break_end':
        facts.openBreak = entryFacts(await this.#openBreakOf.runFirst(trx, { workerId: worker.id }))
        break
    }
    return facts
  }

  async #apply (trx: Kysely<Database>, accountId: number, facts: ClockFacts, decision: ClockDecision): Promise<ClockResult | ApiError> {
    const now = toIsoSeconds(new Date())
    if (decision.kind === 'refuse') {
      // nothing to keep: the transaction writes nothing
      if (decision.surveyResponse === null && decision.events.length === 0) throw decision.error
      if (decision.surveyResponse !== null) await this.#insertSurveyResponse(trx, accountId, decision.surveyResponse, now)
      for (const event of decision.events) await recordEvent(trx, accountId, event.type, event.data)
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
    const locationName = facts.location !== undefined && facts.location?.id === row.location_id
      ? facts.location.name
      : await this.#locationName(trx, row.location_id, accountId)
    const entry = toTimeEntryRecord({ ...row, worker_name: `${worker.first_name} ${worker.last_name}`, location_name: locationName })
    for (const type of plan.events) await recordEvent(trx, accountId, type, entry)
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

  async #locationName (trx: Kysely<Database>, locationId: number | null, accountId: number): Promise<string | null> {
    if (locationId === null) return null
    return (await this.#location.runFirst(trx, { id: locationId, accountId }))?.name ?? null
  }
}

function entryFacts (row: TimeEntryRow | undefined): EntryFacts | undefined {
  if (row === undefined) return undefined
  const { id, parent_id, location_id, cost_code_id, clock_in, clock_out, status } = row
  return { id, parent_id, location_id, cost_code_id, clock_in, clock_out, status }
}
