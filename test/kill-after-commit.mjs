// Preloaded into a test server (node --import): SIGKILLs the process right after the first COMMIT
// of a transaction that ran a statement containing TEMPCLOCK_TEST_KILL_AFTER (e.g. `insert into
// "workers"`). The commit is on disk, the response not yet written: the worst moment for a
// retried request. Test-only; nothing in the app knows about it.
import { createRequire } from 'node:module'

const marker = process.env.TEMPCLOCK_TEST_KILL_AFTER
if (marker !== undefined && marker !== '') {
  const Database = createRequire(import.meta.url)('better-sqlite3')
  const prepare = Database.prototype.prepare
  let armed = false
  const wrap = (statement, method, after) => {
    const original = statement[method]
    statement[method] = function (...args) {
      const result = original.apply(this, args)
      after()
      return result
    }
  }
  Database.prototype.prepare = function (sql) {
    const statement = prepare.call(this, sql)
    if (sql.includes(marker)) {
      for (const method of ['run', 'get', 'all']) wrap(statement, method, () => { armed = true })
    } else if (/^\s*commit\s*$/i.test(sql)) {
      wrap(statement, 'run', () => { if (armed) process.kill(process.pid, 'SIGKILL') })
    } else if (/^\s*rollback\s*$/i.test(sql)) {
      wrap(statement, 'run', () => { armed = false })
    }
    return statement
  }
}
