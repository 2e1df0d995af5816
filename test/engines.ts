import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

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
  'engine-postgres.test.ts': 'the PostgreSQL engine on databases of its own',
  'engine-compare.test.ts': 'sends the same requests to both engines',
  'cli-postgres.test.ts': 'the CLI on PostgreSQL databases of its own',
  'copy-to-postgres.test.ts': 'copies SQLite files into PostgreSQL databases of its own',
  'two-processes.test.ts': 'two server processes on a PostgreSQL database of its own',
  'two-processes-failure.test.ts': 'a private PostgreSQL and Redis it stops and starts',
  'test-databases.test.ts': 'the PostgreSQL run\'s own test databases',
  'webhook-wakeups.test.ts': 'two apps on a PostgreSQL database of its own',
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

/** Where the PostgreSQL run's files are written, beside the compiled tests they run. */
export const POSTGRES_DIR = 'postgres'

/** The compiled test files (names) that run a second time, on PostgreSQL. */
export function postgresFiles (dir = join('dist-test', 'test')): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.test.js') && ONCE[file.replace(/\.js$/, '.ts')] === undefined)
    .sort()
}

/**
 * Writes, for each file of the PostgreSQL run, `dist-test/test/postgres/<file>`: it selects
 * PostgreSQL for the test apps, then runs the compiled file itself. Both runs are then one tap
 * run (package.json `tap.include`), whose jobs fill each other's waits, with one coverage report
 * over both engines. `npm run build:test` calls this after compiling.
 */
export function writePostgresRun (dir = join('dist-test', 'test')): string[] {
  const out = join(dir, POSTGRES_DIR)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out)
  const files = postgresFiles(dir)
  for (const file of files) {
    writeFileSync(join(out, file), `// generated by test/engines.ts: ${file} on PostgreSQL\nprocess.env.TEMPCLOCK_TEST_ENGINE = 'postgres'\nawait import('../${file}')\n`)
  }
  return files
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const files = writePostgresRun()
  console.log(`test/engines.ts: ${files.length} test files also run on PostgreSQL (dist-test/test/${POSTGRES_DIR}/)`)
}
