import { join } from 'node:path'
import autocannon from 'autocannon'
import { openDatabase } from '../../db/connection.js'
import { migrateToLatest } from '../../db/migrate.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { LocationStore } from '../../db/locations.js'
import { SurveyStore } from '../../db/surveys.js'
import { DIST, median, startServerProcess, type Scenario } from '../lib.js'
import { rawCommitsPerSecond } from './clock.js'

/**
 * The clock scenario at a location with a pre-clock-in survey: every clock-in carries its answers,
 * so each one also loads the survey, judges the answers and writes a survey response in the same
 * transaction as the entry. Workers, rounds and connections as in the clock scenario.
 */
export const clockSurveyScenario: Scenario = {
  name: 'clock-survey',
  description: 'POST /api/v1/clock.php in (answering a survey)/out over HTTP, synchronous=FULL (acknowledged clock events/s)',
  async run (ctx) {
    const file = join(ctx.tmp, 'clock-survey.db')
    const connections = Number(process.env.BENCH_CONNECTIONS ?? 200)
    const handle = openDatabase({ file })
    await migrateToLatest(handle.db)
    const account = await createAccount(handle.db, { name: 'Bench', apiEnabled: true })
    const { key } = await createApiKey(handle.db, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    const now = new Date().toISOString()
    const location = await new LocationStore(handle.db).create(account.id, { name: 'Surveyed site' })
    const survey = await new SurveyStore(handle.db).create(account.id, {
      name: 'Fit for work',
      location_ids: [location.id],
      questions: [
        { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, accept: [true] },
        { id: 'ppe', text: 'Which PPE are you wearing?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
        { id: 'note', text: 'Anything to report?', type: 'text', required: false }
      ]
    })
    const answers = { fit_for_work: true, ppe: 'full', note: 'all good' }
    const workers: number[] = []
    for (let i = 0; i < connections * 50; i++) {
      const row = await handle.db.insertInto('workers').values({ account_id: account.id, first_name: 'W', last_name: String(i), employee_ref: null, email: null, phone: null, location_id: location.id, department_id: null, preferred_language: 'en', active: 1, created_at: now, updated_at: now })
        .returning('id').executeTakeFirstOrThrow()
      workers.push(row.id)
    }
    await handle.close()

    const diskRate = rawCommitsPerSecond(join(ctx.tmp, 'fsync-survey.db'), 2000)
    ctx.log(`  the disk: ${diskRate.toFixed(0)} single-row commits/s with WAL + synchronous=FULL`)

    const durationS = ctx.quick ? 3 : 10
    const rounds = ctx.quick ? 1 : 3
    const server = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_DB_SYNCHRONOUS: process.env.BENCH_SYNCHRONOUS ?? 'FULL' })
    let next = 0
    // per-request headers replace autocannon's global ones, so they go on the request
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
    const rates: number[] = []
    const p99s: number[] = []
    try {
      for (let r = 0; r <= rounds; r++) {
        const warmup = r === 0
        const result = await autocannon({
          url: `${server.url}/api/v1/clock.php`,
          connections,
          duration: warmup ? 1 : durationS,
          // autocannon resets `context` at each pass over `requests`, so a pass is one in/out
          // pair on the next worker round-robin; with 50 workers per connection a worker's
          // previous pair has long finished when its turn comes again. A round that ends between
          // a pair's in and out leaves that worker clocked in, so the next round's first visit
          // to it answers 409 (correctly): a few non-2xx per round, not counted as acknowledged.
          requests: [{
            method: 'POST',
            setupRequest: (request: any, context: any) => {
              context.worker = workers[next++ % workers.length]
              return { ...request, headers, body: JSON.stringify({ worker_id: context.worker, action: 'in', survey_id: survey.id, survey_answers: answers }) }
            }
          }, {
            method: 'POST',
            setupRequest: (request: any, context: any) => ({ ...request, headers, body: JSON.stringify({ worker_id: context.worker, action: 'out' }) })
          }]
        } as autocannon.Options)
        if (warmup) continue
        const acknowledged = (result.requests.total - result.non2xx) / durationS
        rates.push(acknowledged)
        p99s.push(result.latency.p99)
        ctx.log(`  round ${r}: ${acknowledged.toFixed(0)} acknowledged clock events/s (non-2xx ${result.non2xx}, errors ${result.errors}, p99 ${result.latency.p99} ms)`)
        if (result.errors > 0) throw new Error(`clock-survey benchmark got ${result.errors} errors`)
      }
    } finally {
      await server.stop()
    }
    const rate = median(rates)
    return [
      { scenario: 'clock-survey', name: 'clock events/s at a survey location (FULL)', value: rate, unit: 'ev/s', samples: rates, target: '≥ 2500', ok: rate >= 2500, baseline: { name: 'disk: single-row commits/s', value: diskRate } },
      { scenario: 'clock-survey', name: 'clock event p99 at a survey location', value: median(p99s), unit: 'ms', samples: p99s }
    ]
  }
}
