import { cpus } from 'node:os'
import { readScenario } from './scenarios/read.js'
import { pagingScenario } from './scenarios/paging.js'
import { webhooksScenario } from './scenarios/webhooks.js'
import { clockScenario } from './scenarios/clock.js'
import { timesheetsScenario } from './scenarios/timesheets.js'
import { tempDir, type Figure, type Scenario } from './lib.js'

// `npm run bench [scenario …]`: runs each scenario (all by default) against the compiled server
// in separate processes and prints the figures. BENCH_QUICK=1 scales everything down.
const SCENARIOS: Scenario[] = [readScenario, clockScenario, timesheetsScenario, pagingScenario, webhooksScenario]

function format (f: Figure): string {
  const value = f.unit === 'ratio' ? f.value.toFixed(2) : f.value >= 100 ? f.value.toFixed(0) : f.value.toFixed(2)
  const base = f.baseline === undefined ? '' : `  (baseline ${f.baseline.name}: ${f.baseline.value >= 100 ? f.baseline.value.toFixed(0) : f.baseline.value.toFixed(2)})`
  const target = f.target === undefined ? '' : `  target ${f.target}: ${f.ok === true ? 'met' : 'NOT met'}`
  return `${f.scenario.padEnd(10)} ${f.name.padEnd(40)} ${value.padStart(10)} ${f.unit}${base}${target}`
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`)
  process.exit(2)
}
const selected = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name))
const quick = process.env.BENCH_QUICK === '1'
process.stdout.write(`TempClock bench on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}${quick ? ' (quick)' : ''}\n`)
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
