import type { Engine } from './engine.js'
import { openPostgresEngine } from './postgres/index.js'
import { openSqliteEngine, type Synchronous } from './sqlite/index.js'

export interface EngineConfig {
  /** the SQLite file (or ':memory:'), when there is no databaseUrl */
  dbPath: string
  synchronous?: Synchronous
  /** PostgreSQL instead of SQLite */
  databaseUrl?: string
  databasePoolSize?: number
  /** how long a query waits for a free PostgreSQL connection (the engine's default when unset) */
  databaseConnectTimeoutMs?: number
  /** how long PostgreSQL lets a statement run (the engine's default when unset) */
  databaseStatementTimeoutMs?: number
  /** a lost PostgreSQL connection (the engine reconnects by itself); for the log */
  onError?: (err: Error) => void
  /** the engine's misuse check (db/engine/write-scope.ts); on when unset, off in production */
  writeGuard?: boolean
}

/** The engine the server and the CLI run on: the one place where the choice is made. */
export function openEngine (config: EngineConfig): Engine {
  if (config.databaseUrl !== undefined) {
    return openPostgresEngine({ url: config.databaseUrl, poolSize: config.databasePoolSize, connectionTimeoutMs: config.databaseConnectTimeoutMs, statementTimeoutMs: config.databaseStatementTimeoutMs, onError: config.onError, writeGuard: config.writeGuard })
  }
  return openSqliteEngine({ file: config.dbPath, synchronous: config.synchronous, writeGuard: config.writeGuard })
}
