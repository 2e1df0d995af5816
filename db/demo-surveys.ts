import type { DemoContext } from './demo.js'
import { toSurveyFacts } from './surveys.js'
import { judgeAnswers, type Answer } from '../domain/surveys.js'
import { toIsoSeconds } from '../domain/time.js'

/**
 * A fit-for-work survey at the last demo site (Birmingham; the OpenAPI examples clock in at Leeds), and what it has seen today: the people on site
 * there passed it when they clocked in (their entries point at their responses), and one
 * colleague who answered "not fit" was blocked. Answers are judged by the same rule as a live
 * clock-in. Run after seedTime, which puts people on site.
 */
export async function seedSurveys (ctx: DemoContext): Promise<void> {
  const { trx, account } = ctx
  const site = ctx.locations[ctx.locations.length - 1]!
  const survey = await ctx.stores.surveys.createIn(trx, account.id, {
    name: 'Fit for work',
    location_ids: [site.id],
    questions: [
      { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, accept: [true] },
      { id: 'ppe', text: 'Which PPE are you wearing?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
      { id: 'note', text: 'Anything your supervisor should know?', type: 'text', required: false }
    ]
  })
  const facts = toSurveyFacts({ ...survey, questions: JSON.stringify(survey.questions) })
  const created = toIsoSeconds(ctx.now)
  let responses = 0
  const respond = async (workerId: number, answers: Record<string, Answer>, submittedAt: string): Promise<number> => {
    const verdict = judgeAnswers(facts, survey.id, answers)
    if (verdict.kind !== 'answered') throw new Error('demo survey answers must be well-formed')
    const row = await trx.insertInto('survey_responses').values({
      account_id: account.id, survey_id: survey.id, worker_id: workerId, location_id: site.id, passed: verdict.passed,
      answers: JSON.stringify(verdict.answers), failed_questions: JSON.stringify(verdict.failed_questions),
      submitted_at: submittedAt, created_at: created, updated_at: created
    }).returning('id').executeTakeFirstOrThrow()
    responses++
    return row.id
  }

  const onSite = await trx.selectFrom('time_entries').select(['id', 'worker_id', 'clock_in'])
    .where('account_id', '=', account.id).where('location_id', '=', site.id).where('status', '=', 'active').where('type', '=', 'shift')
    .orderBy('id').execute()
  for (const entry of onSite) {
    const id = await respond(entry.worker_id, { fit_for_work: true, ppe: 'full' }, entry.clock_in)
    await trx.updateTable('time_entries').set({ survey_response_id: id }).where('id', '=', entry.id).execute()
  }
  const busy = new Set(onSite.map((e) => e.worker_id))
  const blocked = ctx.workers.find((w) => w.active && w.location_id === site.id && !busy.has(w.id))
  if (blocked !== undefined) {
    await respond(blocked.id, { fit_for_work: false, ppe: 'full', note: 'Back pain since yesterday' }, toIsoSeconds(new Date(ctx.now.getTime() - 20 * 60_000)))
  }
  ctx.counts.surveys = 1
  ctx.counts.survey_responses = responses
}
