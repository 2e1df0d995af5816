import type { Engine } from './engine.js'
import { openSqliteEngine, type Synchronous } from './sqlite/index.js'

export interface EngineConfig {
  /** the SQLite file (or ':memory:') */
  dbPath: string
  synchronous?: Synchronous
}

/** The engine the server and the CLI run on: the one place where the choice is made. */
export function openEngine (config: EngineConfig): Engine {
  return openSqliteEngine({ file: config.dbPath, synchronous: config.synchronous })
}
