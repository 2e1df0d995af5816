import type { Kysely } from 'kysely'
import { requireOwned } from './integrity.js'
import { paginate, type Page } from './paging.js'
import { RecordCache } from './record-cache.js'
import type { Database, SurveyRow } from './types.js'
import { conflict, notFound } from '../domain/errors.js'
import { conflictingSurvey, normaliseQuestions, type SurveyFacts } from '../domain/surveys.js'
import { nowIso } from '../domain/time.js'
import type { Paging } from '../schemas/common.js'
import type { SurveyCreateBody, SurveyQuestionType, SurveyRecord, SurveyUpdateBody } from '../schemas/surveys.js'
import type { Engine, WriteOptions } from './engine/engine.js'

export function toSurveyRecord (row: SurveyRow): SurveyRecord {
  return {
    id: row.id,
    name: row.name,
    active: row.active,
    location_ids: row.location_ids === null ? null : JSON.parse(row.location_ids) as number[],
    questions: JSON.parse(row.questions) as SurveyQuestionType[],
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

/** A stored survey as the clock decision reads it. */
export function toSurveyFacts (row: Pick<SurveyRow, 'id' | 'name' | 'questions'> & { location_ids: number[] | null }): SurveyFacts {
  return { id: row.id, name: row.name, location_ids: row.location_ids, questions: JSON.parse(row.questions) as SurveyQuestionType[] }
}

export interface SurveyFilters {
  active?: boolean
  location_id?: number
}

const clash = (other: { id: number, name: string }, locationId: number | null) => conflict('survey_conflict', locationId === null
  ? `Survey ${other.id} (${other.name}) is already the active survey for every location; deactivate it first`
  : `Survey ${other.id} (${other.name}) is already active at location ${locationId}; at most one active survey applies to a location`)

/** Pre-clock-in surveys: the questions, and which locations they apply to (one active per location). */
export class SurveyStore {
  readonly #one: RecordCache<SurveyRow, SurveyRecord>

  constructor (private readonly engine: Engine) {
    this.#one = new RecordCache(engine, (param) => engine.db.selectFrom('surveys').selectAll().where('id', '=', param('id')).where('account_id', '=', param('accountId')), toSurveyRecord, 'Survey')
  }

  async get (accountId: number, id: number, asOf?: number): Promise<SurveyRecord> {
    return await this.#one.get(accountId, id, asOf)
  }

  async list (accountId: number, filters: SurveyFilters, paging: Paging): Promise<Page<SurveyRecord>> {
    let query = this.engine.db.selectFrom('surveys').selectAll().where('account_id', '=', accountId)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active)
    if (filters.location_id !== undefined) {
      const locationId = filters.location_id
      query = query.where((eb) => eb.or([eb('surveys.location_ids', 'is', null), this.engine.sql.jsonArrayContains('surveys.location_ids', locationId)]))
    }
    const page = await paginate(query, 'surveys', paging)
    return { rows: page.rows.map(toSurveyRecord), pagination: page.pagination }
  }

  async create (accountId: number, body: SurveyCreateBody, options?: WriteOptions): Promise<SurveyRecord> {
    return await this.#mapConflicts(async () => await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options))
  }

  /** The create, inside a transaction the caller owns. */
  async createIn (trx: Kysely<Database>, accountId: number, body: SurveyCreateBody): Promise<SurveyRecord> {
    const questions = normaliseQuestions(body.questions)
    const survey = { id: 0, name: body.name, active: body.active ?? true, location_ids: body.location_ids ?? null }
    await this.#check(trx, accountId, survey)
    const now = nowIso()
    const row = await trx.insertInto('surveys').values({
      account_id: accountId,
      name: survey.name,
      active: survey.active,
      location_ids: survey.location_ids === null ? null : JSON.stringify(survey.location_ids),
      questions: JSON.stringify(questions),
      created_at: now,
      updated_at: now
    }).returningAll().executeTakeFirstOrThrow()
    return toSurveyRecord(row)
  }

  /** Partial update; `questions` replaces the whole list (past responses keep their own answers). */
  async update (accountId: number, id: number, body: SurveyUpdateBody): Promise<SurveyRecord> {
    const questions = body.questions === undefined ? undefined : normaliseQuestions(body.questions)
    return await this.#mapConflicts(async () => await this.engine.write(async (trx) => {
      const row = await trx.selectFrom('surveys').selectAll().where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (row === undefined) throw notFound(`Survey ${id}`)
      const current = toSurveyRecord(row)
      const next = {
        id,
        name: body.name ?? current.name,
        active: body.active ?? current.active,
        location_ids: body.location_ids === undefined ? current.location_ids : body.location_ids
      }
      await this.#check(trx, accountId, next)
      const updated = await trx.updateTable('surveys').set({
        name: next.name,
        active: next.active,
        location_ids: next.location_ids === null ? null : JSON.stringify(next.location_ids),
        ...(questions === undefined ? {} : { questions: JSON.stringify(questions) }),
        updated_at: nowIso()
      }).where('id', '=', id).where('account_id', '=', accountId).returningAll().executeTakeFirstOrThrow()
      return toSurveyRecord(updated)
    }))
  }

  /** The locations are the account's, and an active survey clashes with no other active one. */
  async #check (trx: Kysely<Database>, accountId: number, survey: { id: number, active: boolean, location_ids: number[] | null }): Promise<void> {
    for (const locationId of survey.location_ids ?? []) await requireOwned(trx, 'locations', accountId, locationId)
    if (!survey.active) return
    const active = await trx.selectFrom('surveys').select(['id', 'name', 'location_ids'])
      .where('account_id', '=', accountId).where('active', '=', true).orderBy('id').execute()
    const other = conflictingSurvey(survey, active.map((s) => ({ ...s, location_ids: s.location_ids === null ? null : JSON.parse(s.location_ids) as number[] })))
    if (other !== undefined) throw clash(other.survey, other.locationId)
  }

  async #mapConflicts<T> (write: () => Promise<T>): Promise<T> {
    try {
      return await write()
    } catch (err) {
      // another writer made an account-wide survey active between the check and the write
      if (this.engine.sql.isUniqueViolation(err, 'surveys.account_id')) throw conflict('survey_conflict', 'Another survey is already the active survey for every location')
      throw err
    }
  }
}
