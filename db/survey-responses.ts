import type { Kysely } from 'kysely'
import { paginate, type Page } from './paging.js'
import type { Database, SurveyResponseRow } from './types.js'
import { notFound, validationError } from '../domain/errors.js'
import type { Answer } from '../domain/surveys.js'
import { localDateRange } from '../domain/zoned-time.js'
import type { Paging } from '../schemas/common.js'
import type { SurveyResponseRecord } from '../schemas/surveys.js'
import type { Engine } from './engine/engine.js'

type ResponseWithEntry = SurveyResponseRow & { time_entry_id: number | null }

export function toSurveyResponseRecord (row: ResponseWithEntry): SurveyResponseRecord {
  return {
    id: row.id,
    survey_id: row.survey_id,
    worker_id: row.worker_id,
    location_id: row.location_id,
    time_entry_id: row.time_entry_id,
    passed: row.passed,
    answers: JSON.parse(row.answers) as Record<string, Answer>,
    failed_questions: JSON.parse(row.failed_questions) as string[],
    submitted_at: row.submitted_at,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export interface SurveyResponseFilters {
  survey_id?: number
  worker_id?: number
  passed?: boolean
  start_date?: string
  end_date?: string
}

/** Every answered pre-clock-in survey, passed or failed; written by the clock (db/clock.ts). */
export class SurveyResponseStore {
  constructor (private readonly engine: Engine) {}

  #select (accountId: number) {
    // the shift that a passed response let start points at it
    return this.engine.db.selectFrom('survey_responses')
      .leftJoin('time_entries', 'time_entries.survey_response_id', 'survey_responses.id')
      .selectAll('survey_responses')
      .select('time_entries.id as time_entry_id')
      .where('survey_responses.account_id', '=', accountId)
  }

  async get (accountId: number, id: number): Promise<SurveyResponseRecord> {
    const row = await this.#select(accountId).where('survey_responses.id', '=', id).executeTakeFirst()
    if (row === undefined) throw notFound(`Survey response ${id}`)
    return toSurveyResponseRecord(row)
  }

  /** start_date/end_date select by the submission's calendar date in the account's timezone. */
  async list (accountId: number, filters: SurveyResponseFilters, paging: Paging): Promise<Page<SurveyResponseRecord>> {
    let query = this.#select(accountId)
    if (filters.survey_id !== undefined) query = query.where('survey_responses.survey_id', '=', filters.survey_id)
    if (filters.worker_id !== undefined) query = query.where('survey_responses.worker_id', '=', filters.worker_id)
    if (filters.passed !== undefined) query = query.where('survey_responses.passed', '=', filters.passed)
    if (filters.start_date !== undefined || filters.end_date !== undefined) {
      if (filters.start_date !== undefined && filters.end_date !== undefined && filters.end_date < filters.start_date) {
        throw validationError('end_date must not be before start_date')
      }
      const tz = (await this.engine.db.selectFrom('accounts').select('timezone').where('id', '=', accountId).executeTakeFirst())?.timezone ?? 'UTC'
      const range = localDateRange(tz, filters.start_date, filters.end_date)
      if (range.from !== undefined) query = query.where('survey_responses.submitted_at', '>=', range.from)
      if (range.to !== undefined) query = query.where('survey_responses.submitted_at', '<', range.to)
    }
    const page = await paginate(query, 'survey_responses', paging)
    return { rows: page.rows.map(toSurveyResponseRecord), pagination: page.pagination }
  }
}
