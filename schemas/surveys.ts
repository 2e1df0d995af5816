import { Type, type Static } from '@sinclair/typebox'
import { ActiveFilter, CalendarDate, Id, IdFilter, IdFilterOf, ListQuery, Nullable, QueryBoolean, StringEnum, Timestamp, named } from './common.js'

export const QUESTION_TYPES = ['yes_no', 'choice', 'text'] as const
/** the longest answer a `text` question takes */
export const MAX_TEXT_ANSWER = 1000

const Answer = Type.Union([Type.Boolean(), Type.String({ maxLength: MAX_TEXT_ANSWER })])

export const SurveyQuestion = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_]+$', description: 'a short stable key, e.g. fit_for_work (lower-case letters, digits, _)' }),
  text: Type.String({ minLength: 1, maxLength: 500 }),
  type: StringEnum(QUESTION_TYPES, { description: 'yes_no: true/false · choice: one of `options` · text: free text (at most 1,000 characters)' }),
  required: Type.Optional(Type.Boolean({ default: true, description: 'default true' })),
  options: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 2, maxItems: 50, uniqueItems: true, description: 'the choices of a `choice` question' }))),
  accept: Type.Optional(Nullable(Type.Array(Answer, { minItems: 1, maxItems: 50, description: 'the answers that let the worker clock in (e.g. [true]); null = any answer' })))
}, {
  additionalProperties: false,
  examples: [
    { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, accept: [true] },
    { id: 'ppe', text: 'Which PPE are you wearing?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] }
  ]
})
export type SurveyQuestionInput = Static<typeof SurveyQuestion>

/** A question as the API shows it: every field present. */
export const SurveyQuestionRecord = named('SurveyQuestion', Type.Object({
  id: Type.String(),
  text: Type.String(),
  type: StringEnum(QUESTION_TYPES),
  required: Type.Boolean(),
  options: Nullable(Type.Array(Type.String())),
  accept: Nullable(Type.Array(Answer))
}))
export type SurveyQuestionType = Static<typeof SurveyQuestionRecord>

export const Survey = named('Survey', Type.Object({
  id: Id,
  name: Type.String(),
  active: Type.Boolean(),
  location_ids: Nullable(Type.Array(Id, { description: 'the locations it applies to; null = every location' })),
  questions: Type.Array(SurveyQuestionRecord),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type SurveyRecord = Static<typeof Survey>

const writable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  active: Type.Boolean(),
  location_ids: Nullable(Type.Array(Id, { minItems: 1, maxItems: 1000, uniqueItems: true, description: "the account's locations it applies to; null = every location" })),
  questions: Type.Array(SurveyQuestion, { minItems: 1, maxItems: 50 })
}

export const SurveyCreate = named('SurveyCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  name: writable.name,
  questions: writable.questions
}, {
  additionalProperties: false,
  // at Manchester (location 2 of `tempclock demo`); the demo's own survey is at Birmingham
  examples: [{
    name: 'PPE check',
    location_ids: [2],
    questions: [
      { id: 'ppe', text: 'Which PPE are you wearing?', type: 'choice', options: ['full', 'partial', 'none'], accept: ['full'] },
      { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', accept: [true] }
    ]
  }]
}))
export type SurveyCreateBody = Static<typeof SurveyCreate>

export const SurveyUpdate = named('SurveyUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ name: 'Fit for work (site induction)' }] }))
export type SurveyUpdateBody = Static<typeof SurveyUpdate>

export const SurveyQuery = Type.Object({
  id: IdFilter,
  active: ActiveFilter,
  location_id: Type.Optional({ ...Id, description: 'surveys covering this location (listing it, or account-wide)' }),
  ...ListQuery
}, { additionalProperties: false })

export const SurveyResponse = named('SurveyResponse', Type.Object({
  id: Id,
  survey_id: Id,
  worker_id: Id,
  location_id: Nullable(Type.Integer()),
  time_entry_id: Nullable(Type.Integer({ description: 'the shift it let start; null when the clock-in was blocked or refused' })),
  passed: Type.Boolean(),
  answers: Type.Record(Type.String(), Answer),
  failed_questions: Type.Array(Type.String()),
  submitted_at: Timestamp,
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type SurveyResponseRecord = Static<typeof SurveyResponse>

export const SurveyResponseQuery = Type.Object({
  id: IdFilter,
  survey_id: IdFilterOf('survey'),
  worker_id: IdFilterOf('worker'),
  passed: Type.Optional({ ...QueryBoolean, description: 'only passed (1 or true) or only failed (0 or false) submissions' }),
  start_date: Type.Optional({ ...CalendarDate, description: "first submission date, in the account's timezone" }),
  end_date: Type.Optional({ ...CalendarDate, description: "last submission date (inclusive), in the account's timezone" }),
  ...ListQuery
}, { additionalProperties: false })
