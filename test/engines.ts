import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Files whose subject is PostgreSQL: they choose PostgreSQL databases themselves, so they run once
 * (ONCE), in the PostgreSQL run, and `npm run test:sqlite` is what a SQLite-only change needs.
 */
const POSTGRES_SUBJECT_FILES: Readonly<Record<string, string>> = {
  'engine-postgres.test.ts': 'the PostgreSQL engine on databases of its own',
  'engine-compare.test.ts': 'sends the same requests to both engines',
  'cli-postgres.test.ts': 'the CLI on PostgreSQL databases of its own',
  'copy-to-postgres.test.ts': 'copies SQLite files into PostgreSQL databases of its own',
  'two-processes.test.ts': 'two server processes on a PostgreSQL database of its own',
  'two-processes-failure.test.ts': 'a private PostgreSQL and Redis it stops and starts',
  'test-databases.test.ts': 'the PostgreSQL run\'s own test databases',
  'webhook-wakeups.test.ts': 'two apps on a PostgreSQL database of its own'
}

const POSTGRES_SUBJECT: ReadonlySet<string> = new Set(Object.keys(POSTGRES_SUBJECT_FILES))

/**
 * What runs where. `npm test` runs every test file on SQLite and, in the same tap run, every file
 * that is not listed here a second time on PostgreSQL (TEMPCLOCK_TEST_ENGINE=postgres:
 * test/helper.ts gives each app an empty database on the test server). A file is listed when its subject is one
 * engine's internals, when it chooses its databases itself, or when no answer it checks depends
 * on the database; the reason says which. A new file runs on both unless it is added here.
 */
export const ONCE: Readonly<Record<string, string>> = {
  // SQLite internals and the SQLite file
  'connection.test.ts': 'SQLite connection, statement cache and pragmas',
  'engine-sqlite.test.ts': 'the SQLite engine itself (group commit, change watch, misuse)',
  'write-transaction.test.ts': 'SQLite group commit',
  'record-cache.test.ts': 'the in-memory record cache, which only the SQLite engine keeps',
  'record-writes-two-processes.test.ts': 'two processes on one SQLite file (the change watch)',
  'time-integrity-migration.test.ts': 'a SQLite migration over existing rows',
  'key-grants.test.ts': 'keys stored by an older SQLite schema, read through its migration',
  'key-storage.test.ts': 'what the SQLite file and its WAL hold (no key in clear)',
  'crash.test.ts': 'a killed server recovers its SQLite file',
  'clock-crash.test.ts': 'a killed server recovers its SQLite file',
  'idempotency-crash.test.ts': 'a killed server recovers its SQLite file',
  'config.test.ts': 'configuration parsing and the SQLite file `npm start` creates',
  // chooses its databases itself
  ...POSTGRES_SUBJECT_FILES,
  // the CLI on a SQLite file (CLI commands on PostgreSQL have tests of their own)
  'cli.test.ts': 'the CLI on a SQLite file',
  'cli-while-serving.test.ts': 'the CLI on a SQLite file a server has open',
  'portal-cli.test.ts': 'the CLI on a SQLite file',
  'demo.test.ts': 'the CLI\'s demo command on a SQLite file',
  'portal-browser.test.ts': 'a browser against the compiled server on a SQLite file',
  // no answer depends on the engine
  'openapi.test.ts': 'the OpenAPI document',
  'openapi-lint.test.ts': 'the OpenAPI document',
  'openapi-client.test.ts': 'the OpenAPI document and its typed client',
  'docs-browser.test.ts': 'the /docs page in a browser',
  'overload.test.ts': 'load shedding and HTTP timeouts, before any query',
  'json-depth.test.ts': 'body parsing limits, before any query',
  'log-redaction.test.ts': 'what the logger writes',
  'cors.test.ts': 'CORS headers',
  'rate-limit.test.ts': 'request counting in memory',
  'rate-limit-redis.test.ts': 'request counting in Redis',
  'rate-limit-store.test.ts': 'the rolling window store',
  'rolling-window.test.ts': 'the rolling window rule',
  'portal-throttle.test.ts': 'the sign-in throttle',
  'clock-decision.test.ts': 'pure domain rules',
  'documents-domain.test.ts': 'pure domain rules',
  'passwords.test.ts': 'password hashing',
  'serializer.test.ts': 'the response serializer',
  'compile-on-first-use.test.ts': 'schema compiling',
  'webhook-address.test.ts': 'webhook URL checks',
  'fuzz.test.ts': 'schema-driven requests checked against SQLite\'s own counters; its requests meet the same resource modules the route tests cover on both'
}


/**
 * Files that keep a process of their own; every other file shares one with a few others
 * (test/run-group.ts), one file after another, so a file's servers and timings never share the
 * process with another file's tests. A file is listed when it runs long (so that tap, which runs
 * the processes in name order, starts it early and two jobs stay busy to the end) or when it
 * checks state the shared process would carry over from the files before it.
 */
export const OWN_PROCESS: Readonly<Record<string, string>> = {
  'crash.test.ts': 'runs long: kills servers under write load',
  'two-processes.test.ts': 'runs long: two servers',
  'two-processes-failure.test.ts': 'runs long: stops and starts PostgreSQL and Redis',
  'webhook-delivery.test.ts': 'runs long: servers and delivery retries',
  'overload.test.ts': 'runs long: load shedding and HTTP timeouts',
  'docs-browser.test.ts': 'runs long: a browser',
  'portal-browser.test.ts': 'runs long: a browser',
  'fuzz.test.ts': 'runs long: thousands of requests',
  'document-expiry.test.ts': 'runs long: servers and days of expiry',
  'config.test.ts': 'runs long: `npm start` and bad settings, each a process',
  'cli-postgres.test.ts': 'runs long: the CLI on PostgreSQL databases',
  'cli-while-serving.test.ts': 'runs long: a server and the CLI beside it',
  'test-databases.test.ts': 'checks the PostgreSQL run\'s database pool, which a shared process keeps'
}

/** Files per shared process: enough that a process's start-up is shared, few enough for two jobs to stay busy to the end. */
export const GROUP_SIZE = 6

/** Where `npm run build:test` writes what tap runs: one directory per engine. */
export const RUN_DIR = join('dist-test', 'run')

const isTest = (file: string): boolean => file.endsWith('.test.js')
const source = (file: string): string => file.replace(/\.js$/, '.ts')

/** One process of a run: its file in the run directory, the compiled test files it runs, and whether it selects PostgreSQL for the test apps. */
interface RunProcess { name: string, files: string[], postgres: boolean }

/** The processes for `files`: one each for OWN_PROCESS files (`alone-<file>`), the rest GROUP_SIZE to a process (`shared-NN`). */
function processes (files: string[], postgres: boolean, prefix = 'shared'): RunProcess[] {
  const own = files.filter((file) => OWN_PROCESS[source(file)] !== undefined)
  const shared = files.filter((file) => OWN_PROCESS[source(file)] === undefined)
  // `alone-` sorts before `shared-`: the long files start first
  const runs: RunProcess[] = own.map((file) => ({ name: `alone-${file}`, files: [file], postgres }))
  for (let i = 0; i < shared.length; i += GROUP_SIZE) {
    runs.push({ name: `${prefix}-${String(i / GROUP_SIZE + 1).padStart(2, '0')}.test.js`, files: shared.slice(i, i + GROUP_SIZE), postgres })
  }
  return runs
}

/**
 * Writes `dist-test/run/sqlite/` and `dist-test/run/postgres/`, the files tap runs (package.json
 * `tap.include`): each runs one compiled test file, or a few in one process (test/run-group.ts).
 * The PostgreSQL run is the files that run again with PostgreSQL selected for the test apps, and
 * the POSTGRES_SUBJECT files, which choose their databases themselves. Both runs are one tap run,
 * whose jobs fill each other's waits, with one coverage report over both engines.
 * `npm run build:test` calls this after compiling.
 */
export function writeRuns (dir = join('dist-test', 'test'), runDir = RUN_DIR): Record<'sqlite' | 'postgres', RunProcess[]> {
  rmSync(runDir, { recursive: true, force: true })
  const all = readdirSync(dir).filter(isTest).sort()
  // a renamed or deleted file must not leave its entry behind, silently changing where its successor runs
  const sources = new Set(all.map(source))
  for (const name of [...Object.keys(ONCE), ...Object.keys(OWN_PROCESS)]) {
    if (!sources.has(name)) throw new Error(`test/engines.ts lists ${name}, which is not a test file`)
  }
  const runs = {
    sqlite: processes(all.filter((file) => !POSTGRES_SUBJECT.has(source(file))), false),
    postgres: [
      ...processes(all.filter((file) => ONCE[source(file)] === undefined), true),
      ...processes(all.filter((file) => POSTGRES_SUBJECT.has(source(file))), false, 'postgres-subject')
    ]
  }
  for (const [engine, list] of Object.entries(runs)) {
    const out = join(runDir, engine)
    mkdirSync(out, { recursive: true })
    const target = (file: string): string => JSON.stringify(`../../test/${file}`)
    for (const { name, files, postgres } of list) {
      const lines = [`// generated by test/engines.ts: ${files.join(', ')}${postgres ? ', with PostgreSQL for the test apps' : ''}`]
      if (postgres) lines.push("process.env.TEMPCLOCK_TEST_ENGINE = 'postgres'")
      if (files.length === 1) {
        lines.push(`await import(${target(files[0]!)})`)
      } else {
        lines.push("const { runInOneProcess } = await import('../../test/run-group.js')")
        lines.push(`runInOneProcess([${files.map((file) => `new URL(${target(file)}, import.meta.url)`).join(', ')}])`)
      }
      writeFileSync(join(out, name), lines.join('\n') + '\n')
    }
  }
  return runs
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const runs = writeRuns()
  const count = (list: RunProcess[]): string => `${list.reduce((n, run) => n + run.files.length, 0)} files in ${list.length} processes`
  console.log(`test/engines.ts: SQLite ${count(runs.sqlite)}, PostgreSQL ${count(runs.postgres)} (${RUN_DIR}/)`)
}
