import { loadavg } from 'node:os'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readScenario } from './scenarios/read.js'
import { memoryScenario } from './scenarios/memory.js'
import { startupScenario } from './scenarios/startup.js'
import { overloadScenario } from './scenarios/overload.js'
import { pagingScenario } from './scenarios/paging.js'
import { webhooksScenario } from './scenarios/webhooks.js'
import { webhookFairnessScenario } from './scenarios/webhook-fairness.js'
import { clockScenario, postgresClockScenario, postgresRemoteClockScenario } from './scenarios/clock.js'
import { clockSurveyScenario } from './scenarios/clock-survey.js'
import { timesheetsScenario } from './scenarios/timesheets.js'
import { postgresReadScenario } from './scenarios/postgres-read.js'
import { postgresProcessesScenario } from './scenarios/postgres-processes.js'
import { DIST, machine, quartiles, spread, tempDir, type Figure, type Scenario } from './lib.js'

// `npm run bench [scenario …]`: runs each scenario (all by default) against the compiled server
// in separate processes and prints the figures; a run of the whole suite also writes
// BENCHMARKS.md (BENCH_OUT=file to write elsewhere, BENCH_OUT= to skip). BENCH_QUICK=1 scales
// everything down.
const SCENARIOS: Scenario[] = [readScenario, pagingScenario, clockScenario, clockSurveyScenario, timesheetsScenario, webhooksScenario, webhookFairnessScenario, memoryScenario, startupScenario, overloadScenario, postgresReadScenario, postgresClockScenario, postgresRemoteClockScenario, postgresProcessesScenario]

/** The targets the suite exists to check, and the scenario that measures each. */
const TARGETS: Array<{ target: string, scenario: string }> = [
  { target: 'authenticated read ≥ 0.45× bare Fastify', scenario: 'read' },
  { target: '≥ 2,500 clock events/s', scenario: 'clock' },
  { target: '≥ 2,500 clock events/s at a location with a survey', scenario: 'clock-survey' },
  { target: 'deep page within 1.5× of page 1', scenario: 'paging' },
  { target: 'timesheet query at 1,000,000 entries', scenario: 'timesheets' },
  { target: 'peak RSS under load < 150 MB', scenario: 'rss' },
  { target: 'ready < 1 s after start', scenario: 'startup' },
  { target: "another account's webhook latency < 1 s while one account's endpoints hang", scenario: 'webhook-fairness' },
  { target: 'authenticated read on PostgreSQL ≥ 0.8× a hand-written Fastify + pg route', scenario: 'pg-read' },
  { target: '≥ 2,500 durable clock events/s on PostgreSQL (synchronous_commit=on)', scenario: 'pg-clock' },
  { target: 'two server processes against one on PostgreSQL (what 2 shared cores allow)', scenario: 'pg-processes' }
]

function num (value: number, unit?: string): string {
  if (!Number.isFinite(value)) return '—'
  if (unit === 'ratio') return value.toFixed(2)
  return value >= 100 ? Math.round(value).toLocaleString('en-GB') : value.toFixed(value >= 10 ? 1 : 2)
}

function format (f: Figure): string {
  const base = f.baseline === undefined ? '' : `  (baseline ${f.baseline.name}: ${num(f.baseline.value)})`
  const target = f.target === undefined ? '' : `  target ${f.target}: ${f.ok === true ? 'met' : 'NOT met'}`
  return `${f.scenario.padEnd(10)} ${f.name.padEnd(40)} ${num(f.value, f.unit).padStart(10)} ${f.unit}${base}${target}`
}

/** min–max over a few repetitions; the interquartile range over many single-request samples. */
function spreadOf (f: Figure): string {
  const samples = f.samples ?? []
  if (samples.length === 0) return '—'
  if (samples.length < 20) {
    const s = spread(samples)
    return `${num(s.min, f.unit)}–${num(s.max, f.unit)} (n=${samples.length})`
  }
  const q = quartiles(samples)
  return `IQR ${num(q.q1, f.unit)}–${num(q.q3, f.unit)} (n=${samples.length})`
}

function markdown (figures: Figure[], ran: Scenario[], quick: boolean, started: Date, seconds: number): string {
  const m = machine()
  const unit = (f: Figure): string => f.unit === 'ratio' ? '×' : ` ${f.unit}`
  const rows = figures.map((f) => {
    const spreadText = spreadOf(f)
    const baseline = f.baseline === undefined ? '—' : `${f.baseline.name}: ${num(f.baseline.value)}${unit(f)}`
    const ratio = f.baseline === undefined || f.baseline.value === 0 ? '—' : `${(f.value / f.baseline.value).toFixed(2)}×`
    const met = f.ok === undefined ? '—' : f.ok ? '**met**' : '**not met**'
    return `| ${f.scenario} | ${f.name} | ${num(f.value, f.unit)}${unit(f)} | ${spreadText} | ${baseline} | ${ratio} | ${f.target ?? '—'} | ${met} |`
  })
  const targetRows = TARGETS.map(({ target, scenario }) => {
    const judged = figures.filter((f) => f.scenario === scenario && f.ok !== undefined)
    const status = !ran.some((s) => s.name === scenario)
      ? 'not measured: no such scenario in this build'
      : !figures.some((f) => f.scenario === scenario) ? 'not measured: skipped in this run (see its output; PostgreSQL unreachable?)'
        : judged.length === 0 ? 'measured, no pass/fail figure' : judged.every((f) => f.ok === true) ? 'met' : 'NOT met'
    return `| ${target} | \`${scenario}\` | ${status} |`
  })
  return [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\`${quick ? ' with BENCH_QUICK=1 (scaled down: short runs, fewer repetitions)' : ''} on ${started.toISOString().replace(/\.\d+Z$/, 'Z')} (${Math.round(seconds)} s).`,
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpus} × ${m.model}`,
    `- Memory: ${m.memoryGb} GB`,
    `- Node.js ${m.node} on ${m.platform}`,
    '',
    '## Figures',
    '',
    'Median over the repetitions. Spread: min–max over the repetitions, or the interquartile range',
    'where a figure is the median of many single requests. Each baseline is measured in the same run,',
    'on the same machine, just before or after the figure it compares with.',
    '',
    '| scenario | figure | median | spread | baseline (same run) | ratio | target | |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '## Targets',
    '',
    '| target | scenario | status |',
    '|---|---|---|',
    ...targetRows,
    '',
    '## Notes',
    '',
    '- The load generator (autocannon) runs on the same 2 cores as the server, so request rates are',
    '  lower than a separate client machine would show; the ratios against bare Fastify cancel most of that.',
    '- Anything else running on the machine lowers the absolute figures (see the spread); the load',
    '  average at the start of this run was ' + loadavg().map((l) => l.toFixed(2)).join(' / ') + ' (1 / 5 / 15 min).',
    '- The bare-Fastify baseline of `read` is bound by the single-threaded load generator, not by the',
    '  server: the ratio compares the API\'s capacity with what one autocannon process can send.',
    '- `hand-written reference` is the same authenticated read as one Fastify route with two prepared',
    '  statements and none of the API\'s other per-request work (CORS, rate limit, request id, scope',
    '  check, change watch, query validation, response schema): bench/hand-written-server.ts. On a',
    '  2-core VM each microsecond of server work costs more than a microsecond of throughput (the',
    '  client must be woken for every answer), so even that route keeps only about a third of the',
    '  bare route\'s rate here; the API is compared with both.',
    '- Peak RSS is the kernel\'s high-water mark (VmHWM in /proc/<pid>/status) of the server process.',
    '- `overload` drives 400 connections at 100-row list pages, far beyond what these cores serve: "share',
    '  shed" is the part answered at once with 503 `overloaded` + Retry-After; the rest is served.',
    '- `webhook-fairness`: account A\'s 16 subscriptions point at a TCP server that accepts and never answers',
    '  (32 deliveries pending, default 10 s attempt timeout) while account B\'s pings are timed from the API',
    '  call to its receiver; the figure is the slowest of them.',
    '- `pg-read`, `pg-clock` and `pg-processes` run on PostgreSQL (a database of their own on the server at',
    '  TEMPCLOCK_BENCH_DATABASE_URL, by default the local cluster; skipped when none answers). `pg-read`\'s ratio is',
    '  the median of back-to-back rounds\' ratios against the same two queries written by hand with Fastify + `pg`',
    '  (bench/hand-written-pg-server.ts). CPU per request is read from /proc: the server process, the PostgreSQL',
    '  backends of the bench database, and the load generator; "events/s the CPU allows" divides all cores\' time by',
    '  their sum. `pg-processes` sends the same total load to one process or split over two, on the same 2 cores.',
    '- Run one scenario with `npm run bench -- <name>` (scenarios: ' + SCENARIOS.map((s) => `\`${s.name}\``).join(', ') + ').',
    ''
  ].join('\n')
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`)
  process.exit(2)
}
const selected = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name))
const quick = process.env.BENCH_QUICK === '1'
const m = machine()
process.stdout.write(`TempClock bench on ${m.cpus} × ${m.model}, node ${m.node}${quick ? ' (quick)' : ''}\n`)
const started = new Date()
const figures: Figure[] = []
for (const scenario of selected) {
  process.stdout.write(`\n${scenario.name}: ${scenario.description}\n`)
  const tmp = tempDir()
  try {
    const result = await scenario.run({ quick, tmp: tmp.path, log: (line) => process.stdout.write(line + '\n') })
    figures.push(...result)
    for (const f of result) process.stdout.write(format(f) + '\n')
  } finally {
    tmp.remove()
  }
}
process.stdout.write('\nSummary\n' + figures.map(format).join('\n') + '\n')

const out = process.env.BENCH_OUT ?? join(DIST, '..', 'BENCHMARKS.md')
if (wanted.length === 0 && out !== '') {
  writeFileSync(out, markdown(figures, selected, quick, started, (Date.now() - started.getTime()) / 1000))
  process.stdout.write(`\nWrote ${out}\n`)
}
