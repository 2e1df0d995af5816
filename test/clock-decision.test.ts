// The clock rules alone: facts in, decision out, no database (domain/clock-decision.ts).
import t, { type Test } from 'tap'
import { checkTimestamp, decideClock, type ClockDecision, type ClockFacts, type ClockRequest, type EntryFacts, type LocationFacts } from '../domain/clock-decision.js'
import { applicableSurvey, conflictingSurvey, judgeAnswers, normaliseQuestions, type SurveyFacts } from '../domain/surveys.js'

const NOW = Date.parse('2025-06-15T12:00:00Z')
const at = (minutesFromNow: number): string => new Date(NOW + minutesFromNow * 60_000).toISOString().slice(0, 19) + 'Z'

const worker = { id: 7, first_name: 'Ada', last_name: 'Lovelace', location_id: 3, active: true }
const site: LocationFacts = { id: 3, name: 'Depot', latitude: 53.7955, longitude: -1.5479, geofence_radius_m: 100, geofence_mode: 'block', gps_accuracy_threshold: 50 }
const shift = (id: number, clockIn: string, clockOut: string | null): EntryFacts =>
  ({ id, parent_id: null, location_id: 3, cost_code_id: null, clock_in: clockIn, clock_out: clockOut, status: clockOut === null ? 'active' : 'completed' })
const breakOf = (id: number, parent: number, clockIn: string, clockOut: string | null): EntryFacts =>
  ({ ...shift(id, clockIn, clockOut), parent_id: parent })

const base = (extra: Partial<ClockFacts> = {}): ClockFacts => ({ worker, costCodeFound: true, location: site, ...extra })
const req = (action: ClockRequest['action'], minutes: number, extra: Partial<ClockRequest> = {}): ClockRequest =>
  ({ worker_id: worker.id, action, timestamp: at(minutes), ...extra })

function refusal (t: Test, d: ClockDecision, status: number, code: string, message?: RegExp): void {
  t.equal(d.kind, 'refuse')
  if (d.kind !== 'refuse') return
  t.equal(d.error.statusCode, status)
  t.equal(d.error.code, code)
  if (message !== undefined) t.match(d.error.message, message)
}

function plan (t: Test, d: ClockDecision) {
  t.equal(d.kind, 'accept', d.kind === 'refuse' ? d.error.message : '')
  if (d.kind !== 'accept') throw new Error('refused')
  return d.plan
}

const fitSurvey: SurveyFacts = {
  id: 11,
  name: 'Fit for work',
  location_ids: [3],
  questions: normaliseQuestions([
    { id: 'fit_for_work', text: 'Are you fit for work?', type: 'yes_no', required: true, accept: [true] },
    { id: 'ppe', text: 'PPE?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
    { id: 'note', text: 'Anything else?', type: 'text', required: false }
  ])
}

t.test('the issue\'s case: in −3h, break −2h…−1h, out −150 min is refused; break time never exceeds the shift', async (t) => {
  const open = shift(1, at(-180), null)
  const facts = base({ openShift: open, latestBreak: breakOf(2, 1, at(-120), at(-60)) })
  refusal(t, decideClock(facts, req('out', -150)), 400, 'validation_error', /before the end of the shift's break 2/)
  refusal(t, decideClock(facts, req('out', -61)), 400, 'validation_error')
  const ok = plan(t, decideClock(facts, req('out', -60)))
  t.same(ok.closes, [{ id: 1, clock_out: at(-60), duration_seconds: 7200, notes: null, cost_code_id: null }], 'at the break\'s end is fine')
  t.equal(ok.addBreak, null, 'a closed break was counted when it closed')
  t.same(ok.events, ['clock_out'])
})

t.test('a clock-in inside an earlier shift or its break is refused', async (t) => {
  // the shift ran −3h to −30 min with a break −2h…−1h
  const facts = base({ latestShift: shift(1, at(-180), at(-30)) })
  refusal(t, decideClock(facts, req('in', -90)), 409, 'entry_overlap', /previous entry 1/)
  refusal(t, decideClock(facts, req('in', -31)), 409, 'entry_overlap')
  t.equal(plan(t, decideClock(facts, req('in', -30))).insert?.clock_in, at(-30), 'exactly at the end is fine')
  // still open: any clock-in is already_clocked_in, inside a break or not
  refusal(t, decideClock(base({ latestShift: shift(1, at(-180), null) }), req('in', -90)), 409, 'already_clocked_in', /open entry 1/)
})

t.test('clock-out closes an open break first and counts it', async (t) => {
  const facts = base({ openShift: shift(1, at(-180), null), latestBreak: breakOf(2, 1, at(-60), null) })
  refusal(t, decideClock(facts, req('out', -61)), 400, 'validation_error', /open break's start/)
  const ok = plan(t, decideClock(facts, req('out', -30, { notes: 'done', cost_code_id: 4 })))
  t.same(ok.closes, [
    { id: 2, clock_out: at(-30), duration_seconds: 1800, notes: null, cost_code_id: null },
    { id: 1, clock_out: at(-30), duration_seconds: 9000, notes: 'done', cost_code_id: 4 }
  ])
  t.same(ok.addBreak, { entryId: 1, seconds: 1800 })
  t.equal(ok.answer, 1)
  t.equal(ok.status, 200)
})

t.test('clock-out refusals', async (t) => {
  refusal(t, decideClock(base(), req('out', 0)), 409, 'not_clocked_in')
  refusal(t, decideClock(base({ openShift: shift(1, at(-10), null) }), req('out', -11)), 400, 'validation_error', /before the clock-in/)
  refusal(t, decideClock(base({ openShift: shift(1, at(-10), null), costCodeFound: false }), req('out', 0, { cost_code_id: 9 })), 404, 'not_found', /Cost code 9/)
})

t.test('breaks: inside the open shift, after the previous break, one at a time', async (t) => {
  refusal(t, decideClock(base(), req('break_start', 0)), 409, 'not_clocked_in')
  const open = shift(1, at(-180), null)
  refusal(t, decideClock(base({ openShift: open }), req('break_start', -181)), 400, 'validation_error')
  refusal(t, decideClock(base({ openShift: open, latestBreak: breakOf(2, 1, at(-60), null) }), req('break_start', -10)), 409, 'already_on_break')
  refusal(t, decideClock(base({ openShift: open, latestBreak: breakOf(2, 1, at(-60), at(-30)) }), req('break_start', -45)), 409, 'entry_overlap')
  const started = plan(t, decideClock(base({ openShift: open, latestBreak: breakOf(2, 1, at(-60), at(-30)) }), req('break_start', -30)))
  t.match(started.insert, { type: 'break', parent_id: 1, clock_in: at(-30), location_id: 3 })
  t.same(started.events, [], 'breaks send no webhook events')

  refusal(t, decideClock(base(), req('break_end', 0)), 409, 'not_on_break')
  refusal(t, decideClock(base({ openBreak: breakOf(2, 1, at(-20), null) }), req('break_end', -21)), 400, 'validation_error')
  const ended = plan(t, decideClock(base({ openBreak: breakOf(2, 1, at(-20), null) }), req('break_end', -5)))
  t.same(ended.closes, [{ id: 2, clock_out: at(-5), duration_seconds: 900, notes: null, cost_code_id: null }])
  t.same(ended.addBreak, { entryId: 1, seconds: 900 })
})

t.test('clock-in refusals before any write', async (t) => {
  refusal(t, decideClock({ worker: undefined, costCodeFound: true }, req('in', 0)), 404, 'not_found', /Worker 7/)
  refusal(t, decideClock(base({ worker: { ...worker, active: false } }), req('in', 0)), 409, 'worker_inactive')
  refusal(t, decideClock(base({ location: undefined }), req('in', 0, { location_id: 99 })), 404, 'not_found', /Location 99/)
  refusal(t, decideClock(base({ costCodeFound: false }), req('in', 0, { cost_code_id: 5 })), 404, 'not_found', /Cost code 5/)
  refusal(t, decideClock(base(), req('in', 0, { latitude: 53 })), 400, 'validation_error', /together/)
  const d = decideClock(base(), req('in', 0, { latitude: 60, longitude: 0, gps_accuracy: 5 }))
  refusal(t, d, 403, 'geofence_refused')
  t.match(d.kind === 'refuse' && d.events, [{ type: 'clock.geofence_refused', data: { worker_id: 7, location_id: 3, reason: 'outside_geofence' } }])
})

t.test('clock-in accepted: the row and its events', async (t) => {
  const warn = { ...site, geofence_mode: 'warn' }
  const ok = plan(t, decideClock(base({ location: warn }), req('in', 0, { latitude: 53.7955 + 0.0018, longitude: -1.5479, gps_accuracy: 80 })))
  t.equal(ok.status, 201)
  t.match(ok.insert, { type: 'shift', worker_id: 7, location_id: 3, within_geofence: false, distance_meters: 200, low_gps_confidence: true })
  t.same(ok.events, ['clock_in', 'clock.geofence_breach', 'clock.low_gps_confidence'])
  t.equal(ok.surveyResponse, null)
  const none = plan(t, decideClock(base({ location: null }), req('in', 0)))
  t.equal(none.insert?.location_id, null)
})

t.test('survey gate', async (t) => {
  const facts = base({ location: { ...site, geofence_mode: 'off' }, survey: fitSurvey })
  const good = { fit_for_work: true, ppe: 'full' }

  const notAnswered = decideClock(facts, req('in', 0))
  refusal(t, notAnswered, 403, 'blocked_by_survey', /survey 11 \(Fit for work\)/)
  t.same(notAnswered.kind === 'refuse' && notAnswered.events, [{ type: 'clock.blocked_by_survey', data: { worker_id: 7, location_id: 3, survey_id: 11, reason: 'not_answered', failed_questions: [] } }])
  t.equal(notAnswered.kind === 'refuse' && notAnswered.surveyResponse, null, 'nothing answered, nothing kept')
  refusal(t, decideClock(facts, req('in', 0, { survey_answers: good })), 403, 'blocked_by_survey', undefined)

  const failed = decideClock(facts, req('in', 0, { survey_id: 11, survey_answers: { fit_for_work: false, ppe: 'partial', note: 'tired' } }))
  refusal(t, failed, 403, 'blocked_by_survey', /fit_for_work, ppe/)
  if (failed.kind === 'refuse') {
    t.same(failed.events[0]?.data, { worker_id: 7, location_id: 3, survey_id: 11, reason: 'failed', failed_questions: ['fit_for_work', 'ppe'] })
    t.same(failed.surveyResponse, { survey_id: 11, worker_id: 7, location_id: 3, passed: false, answers: { fit_for_work: false, ppe: 'partial', note: 'tired' }, failed_questions: ['fit_for_work', 'ppe'], submitted_at: at(0) })
  }

  const passed = plan(t, decideClock(facts, req('in', 0, { survey_id: 11, survey_answers: good })))
  t.same(passed.surveyResponse, { survey_id: 11, worker_id: 7, location_id: 3, passed: true, answers: good, failed_questions: [], submitted_at: at(0) })

  const invalid: Array<[Partial<ClockRequest>, RegExp]> = [
    [{ survey_id: 12, survey_answers: good }, /survey_id: survey 12 does not apply here; answer survey 11/],
    [{ survey_id: 11 }, /Missing required field: survey_answers.fit_for_work/],
    [{ survey_id: 11, survey_answers: [true] }, /survey_answers: must be an object/],
    [{ survey_id: 11, survey_answers: 'yes' }, /survey_answers: must be an object/],
    [{ survey_id: 11, survey_answers: { ...good, colour: 'red' } }, /survey_answers.colour: survey 11 has no question "colour"/],
    [{ survey_id: 11, survey_answers: { ...good, fit_for_work: 'yes' } }, /survey_answers.fit_for_work: must be true or false/],
    [{ survey_id: 11, survey_answers: { ...good, ppe: 'helmet' } }, /survey_answers.ppe: must be one of full, partial, none/],
    [{ survey_id: 11, survey_answers: { ...good, note: 5 } }, /survey_answers.note: must be a string/],
    [{ survey_id: 11, survey_answers: { ...good, note: 'x'.repeat(1001) } }, /survey_answers.note: must be at most 1000 characters/],
    [{ survey_id: 11, survey_answers: { fit_for_work: true } }, /Missing required field: survey_answers.ppe/]
  ]
  for (const [extra, message] of invalid) {
    const d = decideClock(facts, req('in', 0, extra))
    refusal(t, d, 400, 'validation_error', message)
    t.same(d.kind === 'refuse' && [d.events, d.surveyResponse], [[], null], 'a malformed submission writes nothing')
  }
  t.equal(plan(t, decideClock(facts, req('in', 0, { survey_id: 11, survey_answers: { ...good, note: 'x'.repeat(1000) } }))).surveyResponse?.passed, true)

  // no survey here: the fields are ignored whatever they hold
  t.equal(plan(t, decideClock(base({ location: null }), req('in', 0, { survey_id: 3, survey_answers: [1] }))).surveyResponse, null)

  // a passed survey is kept when the fence then refuses
  const fenced = decideClock(base({ survey: fitSurvey }), req('in', 0, { survey_id: 11, survey_answers: good, latitude: 60, longitude: 0, gps_accuracy: 5 }))
  refusal(t, fenced, 403, 'geofence_refused')
  t.equal(fenced.kind === 'refuse' && fenced.surveyResponse?.passed, true)
})

t.test('which survey applies, and which clash', async (t) => {
  const wide = { id: 1, location_ids: null }
  const here = { id: 2, location_ids: [3, 4] }
  t.equal(applicableSurvey([wide, here], 3), here, 'location-specific first')
  t.equal(applicableSurvey([wide, here], 5), wide)
  t.equal(applicableSurvey([wide, here], null), wide, 'no location: the account-wide survey')
  t.equal(applicableSurvey([here], 5), undefined)
  t.equal(applicableSurvey([], 3), undefined)

  t.same(conflictingSurvey({ id: 0, location_ids: null }, [here, wide]), { survey: wide, locationId: null })
  t.same(conflictingSurvey({ id: 0, location_ids: [9, 4] }, [wide, here]), { survey: here, locationId: 4 })
  t.equal(conflictingSurvey({ id: 0, location_ids: [9] }, [wide, here]), undefined, 'a location-specific survey may sit under an account-wide one')
  t.equal(conflictingSurvey({ id: 2, location_ids: [3] }, [wide, here]), undefined, 'not with itself')
})

t.test('question rules a schema cannot say', async (t) => {
  const q = { text: 'Q', required: true }
  t.same(normaliseQuestions([{ id: 'a', text: 'Q', type: 'text' } as never]), [{ id: 'a', text: 'Q', type: 'text', required: true, options: null, accept: null }])
  const bad: Array<[unknown[], RegExp]> = [
    [[{ ...q, id: 'a', type: 'text' }, { ...q, id: 'a', type: 'text' }], /questions\[1\] \(a\): question ids must be unique/],
    [[{ ...q, id: 'a', type: 'choice' }], /a choice question needs options/],
    [[{ ...q, id: 'a', type: 'yes_no', options: ['y', 'n'] }], /only a choice question has options/],
    [[{ ...q, id: 'a', type: 'yes_no', accept: ['yes'] }], /accept must list true or false/],
    [[{ ...q, id: 'a', type: 'choice', options: ['x', 'y'], accept: ['z'] }], /accept must list some of its options/],
    [[{ ...q, id: 'a', type: 'text', accept: [true] }], /accept must list strings/],
    [[{ ...q, id: 'a', type: 'yes_no', accept: [true, true] }], /accept must not contain duplicates/]
  ]
  for (const [questions, message] of bad) t.throws(() => normaliseQuestions(questions as never), { statusCode: 400, code: 'validation_error', message })
  t.same(judgeAnswers({ ...fitSurvey, questions: normaliseQuestions([{ id: 'a', text: 'Q', type: 'text', required: false, accept: ['ok'] }]) }, 11, undefined),
    { kind: 'answered', passed: true, answers: {}, failed_questions: [] }, 'an unanswered optional question fails nothing')
})

t.test('timestamps: default now, 5 minutes ahead, 7 days back', async (t) => {
  t.equal(checkTimestamp(undefined, NOW), at(0))
  t.equal(checkTimestamp('2025-06-15T13:04:00+01:00', NOW), at(4))
  t.throws(() => checkTimestamp(at(6), NOW), { message: /5 minutes in the future/ })
  t.throws(() => checkTimestamp(at(-7 * 24 * 60 - 1), NOW), { message: /7 days in the past/ })
  t.throws(() => checkTimestamp('yesterday', NOW), { message: /ISO-8601/ })
})
