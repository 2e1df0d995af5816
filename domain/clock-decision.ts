import { ApiError, conflict, notFound, validationError } from './errors.js'
import { judgeFix, type Fence } from './geofence.js'
import { judgeAnswers, type Answer, type SurveyFacts } from './surveys.js'
import { parseTimestamp, toIsoSeconds } from './time.js'

/** how far ahead of the server's clock a timestamp may be (device clocks drift) */
export const MAX_AHEAD_MS = 5 * 60_000
/** how far back a clock event may be entered late */
export const MAX_BACK_MS = 7 * 24 * 3_600_000

export type ClockAction = 'in' | 'out' | 'break_start' | 'break_end'

/** The clock request as the decision reads it (the validated body, its timestamp normalised). */
export interface ClockRequest {
  worker_id: number
  action: ClockAction
  location_id?: number | null
  cost_code_id?: number | null
  notes?: string | null
  latitude?: number | null
  longitude?: number | null
  gps_accuracy?: number | null
  survey_id?: number | null
  survey_answers?: unknown
  /** when it happened: UTC, second precision, already within the allowed window */
  timestamp: string
}

export interface WorkerFacts { id: number, first_name: string, last_name: string, location_id: number | null, active: boolean }
export interface LocationFacts extends Fence { id: number, name: string }
export interface EntryFacts {
  id: number
  parent_id: number | null
  location_id: number | null
  cost_code_id: number | null
  clock_in: string
  clock_out: string | null
  status: 'active' | 'completed'
}

/** What the database knows that the decision needs; db/clock.ts loads only what the action reads. */
export interface ClockFacts {
  /** undefined: no such worker in the account */
  worker: WorkerFacts | undefined
  /** in: the location the entry is at (the body's, else the worker's); null = none; undefined = not found */
  location?: LocationFacts | null
  /** whether the body's cost code (if any) belongs to the account */
  costCodeFound: boolean
  /** in: the worker's latest shift (entries never overlap, so also the last to end) */
  latestShift?: EntryFacts
  /** out, break_start: the worker's open shift */
  openShift?: EntryFacts
  /** out, break_start: the open shift's latest break, open or closed */
  latestBreak?: EntryFacts
  /** break_end: the worker's open break */
  openBreak?: EntryFacts
  /** in: the active survey that applies at the location */
  survey?: SurveyFacts
}

export type ClockEventType = 'clock_in' | 'clock_out' | 'clock.geofence_breach' | 'clock.geofence_refused' | 'clock.low_gps_confidence' | 'clock.blocked_by_survey'

export interface NewEntry {
  type: 'shift' | 'break'
  parent_id: number | null
  worker_id: number
  location_id: number | null
  cost_code_id: number | null
  clock_in: string
  notes: string | null
  latitude: number | null
  longitude: number | null
  gps_accuracy: number | null
  within_geofence: boolean | null
  distance_meters: number | null
  low_gps_confidence: boolean | null
}

export interface CloseEntry {
  id: number
  clock_out: string
  duration_seconds: number
  /** null keeps the entry's own */
  notes: string | null
  /** null keeps the entry's own */
  cost_code_id: number | null
}

export interface NewSurveyResponse {
  survey_id: number
  worker_id: number
  location_id: number | null
  passed: boolean
  answers: Record<string, Answer>
  failed_questions: string[]
  submitted_at: string
}

/** The writes of an accepted clock event, in order, and the events about its entry. */
export interface ClockPlan {
  status: 200 | 201
  /** written first: the new shift points at it */
  surveyResponse: NewSurveyResponse | null
  insert: NewEntry | null
  /** a break closed with its shift comes first */
  closes: CloseEntry[]
  /** seconds added to a shift's break_seconds (applied before the closes) */
  addBreak: { entryId: number, seconds: number } | null
  /** the entry the answer shows: the inserted one, or a closed one by id */
  answer: 'inserted' | number
  /** events whose data is the answered entry */
  events: ClockEventType[]
}

export type ClockDecision =
  | { kind: 'accept', plan: ClockPlan }
  /** `surveyResponse` and `events` are written (and committed) before the error is answered */
  | { kind: 'refuse', error: ApiError, surveyResponse: NewSurveyResponse | null, events: Array<{ type: ClockEventType, data: unknown }> }

const refuse = (error: ApiError): ClockDecision => ({ kind: 'refuse', error, surveyResponse: null, events: [] })
const seconds = (fromIso: string, toIso: string): number => Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000)

/** The event's time: default now; at most 5 minutes ahead and 7 days back. */
export function checkTimestamp (input: string | undefined, nowMs: number): string {
  if (input === undefined) return toIsoSeconds(new Date(nowMs))
  const timestamp = parseTimestamp(input)
  if (timestamp === null) throw validationError('Invalid field timestamp: must be an ISO-8601 date-time with a time zone')
  const ms = Date.parse(timestamp)
  if (ms > nowMs + MAX_AHEAD_MS) throw validationError('Invalid field timestamp: must not be more than 5 minutes in the future')
  if (ms < nowMs - MAX_BACK_MS) throw validationError('Invalid field timestamp: must not be more than 7 days in the past')
  return timestamp
}

/**
 * Every rule of a clock event (README "Time rules", "Surveys"): facts in, decision out, no IO.
 * A worker's entries never overlap: a clock-in starts at or after the end of their last entry, a
 * break lies inside its open shift and after the previous break, and a shift closes at or after
 * the end of every break it had, so its `break_seconds` never exceeds its duration.
 */
export function decideClock (facts: ClockFacts, request: ClockRequest): ClockDecision {
  if ((request.latitude ?? null) === null !== ((request.longitude ?? null) === null)) {
    return refuse(validationError('latitude and longitude must be given together'))
  }
  const worker = facts.worker
  if (worker === undefined) return refuse(notFound(`Worker ${request.worker_id}`))
  switch (request.action) {
    case 'in': return decideClockIn(facts, worker, request)
    case 'out': return decideClockOut(facts, worker, request)
    case 'break_start': return decideBreakStart(facts, worker, request)
    case 'break_end': return decideBreakEnd(facts, worker, request)
  }
}

function decideClockIn (facts: ClockFacts, worker: WorkerFacts, request: ClockRequest): ClockDecision {
  const { timestamp } = request
  if (!worker.active) return refuse(conflict('worker_inactive', `Worker ${worker.id} is inactive and cannot clock in`))
  const location = facts.location
  if (location === undefined) return refuse(notFound(`Location ${request.location_id ?? worker.location_id ?? ''}`))
  if (!facts.costCodeFound) return refuse(notFound(`Cost code ${request.cost_code_id ?? ''}`))
  const latest = facts.latestShift
  if (latest?.status === 'active') return refuse(conflict('already_clocked_in', `Worker ${worker.id} is already clocked in (open entry ${latest.id})`))
  if (latest?.clock_out != null && timestamp < latest.clock_out) {
    return refuse(conflict('entry_overlap', `timestamp ${timestamp} is before the end of worker ${worker.id}'s previous entry ${latest.id} (${latest.clock_out})`))
  }

  let surveyResponse: NewSurveyResponse | null = null
  const survey = facts.survey
  if (survey !== undefined) {
    const verdict = judgeAnswers(survey, request.survey_id, request.survey_answers)
    if (verdict.kind === 'invalid') return refuse(validationError(verdict.message))
    const locationId = location?.id ?? null
    const blocked = (reason: 'not_answered' | 'failed', failed: string[], message: string): ClockDecision => ({
      kind: 'refuse',
      error: new ApiError(403, 'blocked_by_survey', message),
      surveyResponse,
      events: [{ type: 'clock.blocked_by_survey', data: { worker_id: worker.id, location_id: locationId, survey_id: survey.id, reason, failed_questions: failed } }]
    })
    if (verdict.kind === 'not_answered') {
      return blocked('not_answered', [], `Clock-in blocked: answer survey ${survey.id} (${survey.name}) first (send survey_id and survey_answers)`)
    }
    surveyResponse = {
      survey_id: survey.id,
      worker_id: worker.id,
      location_id: locationId,
      passed: verdict.passed,
      answers: verdict.answers,
      failed_questions: verdict.failed_questions,
      submitted_at: timestamp
    }
    if (!verdict.passed) {
      return blocked('failed', verdict.failed_questions, `Clock-in blocked by survey ${survey.id} (${survey.name}): not accepted: ${verdict.failed_questions.join(', ')}`)
    }
  }

  const fix = { latitude: request.latitude ?? null, longitude: request.longitude ?? null, gps_accuracy: request.gps_accuracy ?? null }
  const verdict = judgeFix(location, fix)
  if (verdict.refused !== null) {
    const at = location!
    return {
      kind: 'refuse',
      error: new ApiError(403, 'geofence_refused', verdict.refused === 'outside_geofence'
        ? `Clock-in refused: ${verdict.distance_meters ?? ''} m from ${at.name}, outside its ${at.geofence_radius_m ?? ''} m geofence`
        : `Clock-in refused: ${at.name} requires a usable GPS fix (latitude, longitude and an accuracy within ${at.gps_accuracy_threshold ?? 'its threshold'} m)`),
      // a passed survey is kept even when the fence refuses the clock-in
      surveyResponse,
      events: [{
        type: 'clock.geofence_refused',
        data: {
          worker_id: worker.id,
          worker_name: `${worker.first_name} ${worker.last_name}`,
          location_id: at.id,
          location_name: at.name,
          reason: verdict.refused,
          geofence_mode: at.geofence_mode,
          geofence_radius_m: at.geofence_radius_m,
          timestamp,
          ...fix,
          distance_meters: verdict.distance_meters,
          low_gps_confidence: verdict.low_gps_confidence
        }
      }]
    }
  }

  const events: ClockEventType[] = ['clock_in']
  if (verdict.breach) events.push('clock.geofence_breach')
  if (verdict.lowConfidence) events.push('clock.low_gps_confidence')
  return {
    kind: 'accept',
    plan: {
      status: 201,
      surveyResponse,
      insert: {
        type: 'shift',
        parent_id: null,
        worker_id: worker.id,
        location_id: location?.id ?? null,
        cost_code_id: request.cost_code_id ?? null,
        clock_in: timestamp,
        notes: request.notes ?? null,
        ...fix,
        within_geofence: verdict.within_geofence,
        distance_meters: verdict.distance_meters,
        low_gps_confidence: verdict.low_gps_confidence
      },
      closes: [],
      addBreak: null,
      answer: 'inserted',
      events
    }
  }
}

function decideClockOut (facts: ClockFacts, worker: WorkerFacts, request: ClockRequest): ClockDecision {
  const { timestamp } = request
  const open = facts.openShift
  if (open === undefined) return refuse(conflict('not_clocked_in', `Worker ${worker.id} is not clocked in`))
  if (timestamp < open.clock_in) return refuse(validationError(`timestamp ${timestamp} is before the clock-in (${open.clock_in})`))
  if (!facts.costCodeFound) return refuse(notFound(`Cost code ${request.cost_code_id ?? ''}`))
  const lastBreak = facts.latestBreak
  const closes: CloseEntry[] = []
  let addBreak: ClockPlan['addBreak'] = null
  if (lastBreak?.status === 'active') {
    if (timestamp < lastBreak.clock_in) return refuse(validationError(`timestamp ${timestamp} is before the open break's start (${lastBreak.clock_in})`))
    const breakSeconds = seconds(lastBreak.clock_in, timestamp)
    closes.push({ id: lastBreak.id, clock_out: timestamp, duration_seconds: breakSeconds, notes: null, cost_code_id: null })
    addBreak = { entryId: open.id, seconds: breakSeconds }
  } else if (lastBreak?.clock_out != null && timestamp < lastBreak.clock_out) {
    return refuse(validationError(`timestamp ${timestamp} is before the end of the shift's break ${lastBreak.id} (${lastBreak.clock_out})`))
  }
  closes.push({ id: open.id, clock_out: timestamp, duration_seconds: seconds(open.clock_in, timestamp), notes: request.notes ?? null, cost_code_id: request.cost_code_id ?? null })
  return { kind: 'accept', plan: { status: 200, surveyResponse: null, insert: null, closes, addBreak, answer: open.id, events: ['clock_out'] } }
}

function decideBreakStart (facts: ClockFacts, worker: WorkerFacts, request: ClockRequest): ClockDecision {
  const { timestamp } = request
  const open = facts.openShift
  if (open === undefined) return refuse(conflict('not_clocked_in', `Worker ${worker.id} is not clocked in`))
  if (timestamp < open.clock_in) return refuse(validationError(`timestamp ${timestamp} is before the clock-in (${open.clock_in})`))
  const previous = facts.latestBreak
  if (previous?.status === 'active') return refuse(conflict('already_on_break', `Worker ${worker.id} is already on a break (open entry ${previous.id})`))
  if (previous?.clock_out != null && timestamp < previous.clock_out) {
    return refuse(conflict('entry_overlap', `timestamp ${timestamp} is before the end of the previous break ${previous.id} (${previous.clock_out})`))
  }
  return {
    kind: 'accept',
    plan: {
      status: 201,
      surveyResponse: null,
      insert: {
        type: 'break',
        parent_id: open.id,
        worker_id: worker.id,
        location_id: open.location_id,
        cost_code_id: open.cost_code_id,
        clock_in: timestamp,
        notes: request.notes ?? null,
        latitude: request.latitude ?? null,
        longitude: request.longitude ?? null,
        gps_accuracy: request.gps_accuracy ?? null,
        within_geofence: null,
        distance_meters: null,
        low_gps_confidence: null
      },
      closes: [],
      addBreak: null,
      answer: 'inserted',
      events: []
    }
  }
}

function decideBreakEnd (facts: ClockFacts, worker: WorkerFacts, request: ClockRequest): ClockDecision {
  const { timestamp } = request
  const openBreak = facts.openBreak
  if (openBreak === undefined) return refuse(conflict('not_on_break', `Worker ${worker.id} is not on a break`))
  if (timestamp < openBreak.clock_in) return refuse(validationError(`timestamp ${timestamp} is before the break's start (${openBreak.clock_in})`))
  const breakSeconds = seconds(openBreak.clock_in, timestamp)
  return {
    kind: 'accept',
    plan: {
      status: 200,
      surveyResponse: null,
      insert: null,
      closes: [{ id: openBreak.id, clock_out: timestamp, duration_seconds: breakSeconds, notes: null, cost_code_id: null }],
      addBreak: { entryId: openBreak.parent_id!, seconds: breakSeconds },
      answer: openBreak.id,
      events: []
    }
  }
}
