import { validationError } from './errors.js'
import type { SurveyQuestionInput, SurveyQuestionType } from '../schemas/surveys.js'
import { MAX_TEXT_ANSWER } from '../schemas/surveys.js'

export type Answer = boolean | string

/** What the clock decision needs of a survey. */
export interface SurveyFacts {
  id: number
  name: string
  /** null = every location */
  location_ids: number[] | null
  questions: SurveyQuestionType[]
}

/**
 * A survey's questions as stored and shown: every field present, and the rules a schema cannot
 * say checked (unique ids; options only on a choice question; accept of the question's type and,
 * for a choice, a subset of its options). Throws 400 naming the question.
 */
export function normaliseQuestions (questions: SurveyQuestionInput[]): SurveyQuestionType[] {
  const seen = new Set<string>()
  return questions.map((q, i) => {
    const where = `questions[${i}] (${q.id})`
    if (seen.has(q.id)) throw validationError(`Invalid field ${where}: question ids must be unique`)
    seen.add(q.id)
    const options = q.options ?? null
    const accept = q.accept ?? null
    if (q.type === 'choice' && options === null) throw validationError(`Invalid field ${where}: a choice question needs options`)
    if (q.type !== 'choice' && options !== null) throw validationError(`Invalid field ${where}: only a choice question has options`)
    if (accept !== null) {
      for (const value of accept) {
        const ok = q.type === 'yes_no' ? typeof value === 'boolean' : typeof value === 'string' && (options === null || options.includes(value))
        if (!ok) {
          throw validationError(`Invalid field ${where}: accept must list ${q.type === 'yes_no' ? 'true or false' : q.type === 'choice' ? 'some of its options' : 'strings'}, got ${JSON.stringify(value)}`)
        }
      }
      if (new Set(accept).size !== accept.length) throw validationError(`Invalid field ${where}: accept must not contain duplicates`)
    }
    return { id: q.id, text: q.text, type: q.type, required: q.required ?? true, options, accept }
  })
}

/**
 * The one active survey that applies at a location: one listing the location comes before an
 * account-wide one. A clock-in without a location is covered by the account-wide survey only.
 */
export function applicableSurvey<S extends Pick<SurveyFacts, 'location_ids'>> (active: readonly S[], locationId: number | null): S | undefined {
  if (locationId !== null) {
    const specific = active.find((s) => s.location_ids?.includes(locationId) === true)
    if (specific !== undefined) return specific
  }
  return active.find((s) => s.location_ids === null)
}

/**
 * The other active survey a survey would clash with (API: one applicable survey per location):
 * another account-wide one, or another one listing one of its locations.
 */
export function conflictingSurvey<S extends Pick<SurveyFacts, 'id' | 'location_ids'>> (candidate: Pick<SurveyFacts, 'id' | 'location_ids'>, active: readonly S[]): { survey: S, locationId: number | null } | undefined {
  for (const other of active) {
    if (other.id === candidate.id) continue
    if (candidate.location_ids === null) {
      if (other.location_ids === null) return { survey: other, locationId: null }
      continue
    }
    const shared = candidate.location_ids.find((id) => other.location_ids?.includes(id) === true)
    if (shared !== undefined) return { survey: other, locationId: shared }
  }
  return undefined
}

export type SurveyVerdict =
  /** malformed: 400 naming the question or survey, nothing written */
  | { kind: 'invalid', message: string }
  /** no survey_id at all: blocked, nothing answered to keep */
  | { kind: 'not_answered' }
  /** a well-formed submission: kept whether it passed or not */
  | { kind: 'answered', passed: boolean, answers: Record<string, Answer>, failed_questions: string[] }

/**
 * A clock-in's answers to the survey that applies (API: every answer checked against its
 * question). Malformed input (an unknown question, a wrong type, a missing required answer, another
 * survey's id) is invalid; well-formed answers pass when every answered question with an `accept`
 * list got one of its accepted answers.
 */
export function judgeAnswers (survey: SurveyFacts, surveyId: number | null | undefined, input: unknown): SurveyVerdict {
  if (surveyId === undefined || surveyId === null) return { kind: 'not_answered' }
  if (surveyId !== survey.id) {
    return { kind: 'invalid', message: `Invalid field survey_id: survey ${surveyId} does not apply here; answer survey ${survey.id} (${survey.name})` }
  }
  const given = input ?? {}
  if (typeof given !== 'object' || Array.isArray(given)) {
    return { kind: 'invalid', message: 'Invalid field survey_answers: must be an object of question id → answer' }
  }
  const answers = given as Record<string, unknown>
  const byId = new Map(survey.questions.map((q) => [q.id, q]))
  for (const id of Object.keys(answers)) {
    if (!byId.has(id)) return { kind: 'invalid', message: `Invalid field survey_answers.${id}: survey ${survey.id} has no question ${JSON.stringify(id)}` }
  }
  const kept: Record<string, Answer> = {}
  const failed: string[] = []
  for (const q of survey.questions) {
    const answer = Object.hasOwn(answers, q.id) ? answers[q.id] : undefined
    if (answer === undefined || answer === null) {
      if (q.required) return { kind: 'invalid', message: `Missing required field: survey_answers.${q.id}` }
      continue
    }
    const problem = answerProblem(q, answer)
    if (problem !== null) return { kind: 'invalid', message: `Invalid field survey_answers.${q.id}: ${problem}` }
    kept[q.id] = answer as Answer
    if (q.accept !== null && !q.accept.includes(answer as Answer)) failed.push(q.id)
  }
  return { kind: 'answered', passed: failed.length === 0, answers: kept, failed_questions: failed }
}

function answerProblem (q: SurveyQuestionType, answer: unknown): string | null {
  switch (q.type) {
    case 'yes_no':
      return typeof answer === 'boolean' ? null : 'must be true or false'
    case 'choice':
      return typeof answer === 'string' && q.options!.includes(answer) ? null : `must be one of ${q.options!.join(', ')}`
    case 'text':
      if (typeof answer !== 'string') return 'must be a string'
      return answer.length > MAX_TEXT_ANSWER ? `must be at most ${MAX_TEXT_ANSWER} characters` : null
  }
}
