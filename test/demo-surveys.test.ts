import t from 'tap'
import { createDemoAccount } from '../db/demo.js'
import { buildTestApp, call } from './helper.js'

t.test('the demo account has a survey at one site: passed and blocked responses, and the gate works live', async (t) => {
  const app = await buildTestApp(t)
  const demo = await createDemoAccount(app.engine)
  t.equal(demo.counts.surveys, 1)
  const get = async (url: string) => (await call(app, demo.key, { method: 'GET', url })).json()
  const [survey] = (await get('/api/v1/surveys.php')).data
  t.match(survey, { name: 'Fit for work', active: true, location_ids: [Number] })
  const site = survey.location_ids[0] as number

  const responses = (await get('/api/v1/survey-responses.php?limit=100')).data as Array<Record<string, any>>
  t.equal(responses.length, demo.counts.survey_responses)
  const passed = responses.filter((r) => r.passed)
  const failed = responses.filter((r) => !r.passed)
  t.ok(passed.length > 0 && passed.every((r) => typeof r.time_entry_id === 'number' && r.location_id === site), 'people on site there passed it')
  t.match(failed, [{ time_entry_id: null, failed_questions: ['fit_for_work'], answers: { fit_for_work: false } }], 'one colleague was blocked')
  const entry = (await get(`/api/v1/timesheets.php?id=${passed[0]!.time_entry_id as number}`)).data
  t.equal(entry.survey_response_id, passed[0]!.id)

  // a worker of that site who is not clocked in: blocked without answers, in with good ones
  const worker = (await get(`/api/v1/workers.php?id=${failed[0]!.worker_id as number}`)).data
  const clock = async (body: Record<string, unknown>) => await call(app, demo.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: worker.id, action: 'in', ...body } })
  const blocked = await clock({})
  t.equal(blocked.statusCode, 403)
  t.equal(blocked.json().code, 'blocked_by_survey')
  // the survey's site is in strict geofence mode: a good fix at its centre
  const location = (await get(`/api/v1/locations.php?id=${site}`)).data
  const ok = await clock({ survey_id: survey.id, survey_answers: { fit_for_work: true, ppe: 'full' }, latitude: location.latitude, longitude: location.longitude, gps_accuracy: 5 })
  t.equal(ok.statusCode, 201)
  t.equal(ok.json().data.location_id, site)
})
