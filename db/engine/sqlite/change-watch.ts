import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import type BetterSqlite3 from 'better-sqlite3'

/** The wal-index header: two 48-byte copies at the start of the -shm file (sqlite.org/walformat.html). */
const HEADER_BYTES = 96

/**
 * Tells, cheaply and on every request, whether any connection in any process may have committed
 * since the last look: `version()` returns a number that changes whenever the database may have
 * changed. The API key cache (db/api-keys.ts) and the single-record cache (db/record-cache.ts) are
 * dropped when it moves, so a key revoked by the CLI in another process is refused on the very next
 * request.
 *
 * In WAL mode every commit rewrites the wal-index header at the start of the `-shm` file: its
 * change counter, frame count, checksums and salts (documented at sqlite.org/walformat.html, and
 * the very bytes SQLite itself compares to notice another connection's commit). Reading those 96
 * bytes is one `pread`, against `pragma data_version`, a statement that takes and releases a WAL
 * read lock (two `fcntl` calls) and cost several times as much on the request path. Any difference
 * counts as a change, so a read torn by a concurrent commit errs towards dropping the caches.
 * The `-shm` watched is the one SQLite uses, beside the path SQLite resolved (symlinks followed),
 * not one beside the name it was given. Whenever that cannot be made sure (':memory:', no WAL, no
 * `-shm` yet, a path that is not the file SQLite opened), `pragma data_version` is the fallback,
 * plus `total_changes()` for the connection's own writes when there is no separate reader.
 */
export class ChangeWatch {
  #fd: number | undefined
  readonly #header = Buffer.alloc(HEADER_BYTES)
  readonly #seen = Buffer.alloc(HEADER_BYTES)
  #version = 0
  readonly #fallback: () => string
  #fallbackSeen = ''

  /**
   * @param file the database file, or ':memory:'
   * @param connection a connection to read `data_version` from when there is no `-shm` file
   * @param ownWrites whether `connection` also writes (then its own commits are counted too)
   */
  constructor (file: string, connection: BetterSqlite3.Database, ownWrites: boolean) {
    this.#fd = openSharedMemory(file, connection)
    const dataVersion = connection.prepare(ownWrites ? 'select (select data_version from pragma_data_version()) || \':\' || total_changes()' : 'pragma data_version').pluck()
    this.#fallback = () => String(dataVersion.get())
  }

  /** Changes whenever the database may have changed since the previous call (by anyone). */
  version (): number {
    if (this.#fd !== undefined) {
      const read = readSync(this.#fd, this.#header, 0, HEADER_BYTES, 0)
      if (read !== HEADER_BYTES || !this.#header.equals(this.#seen)) {
        this.#header.copy(this.#seen)
        if (read !== HEADER_BYTES) this.#seen.fill(0xff) // never equal next time either
        this.#version++
      }
      return this.#version
    }
    const stamp = this.#fallback()
    if (stamp !== this.#fallbackSeen) {
      this.#fallbackSeen = stamp
      this.#version++
    }
    return this.#version
  }

  close (): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }
}

function sameFile (a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

/**
 * Opens, read-only, the wal-index SQLite itself uses for `connection`'s database, or returns
 * undefined when that cannot be made sure. SQLite resolves symbolic links in the database path
 * and keeps `-shm` beside the resolved file, so a stale `<link>-shm` beside a symlink is another
 * file that never changes: the path comes from SQLite, and both ends are checked to be the files
 * they should be.
 */
function openSharedMemory (file: string, connection: BetterSqlite3.Database): number | undefined {
  if (file === ':memory:' || file === '') return undefined
  const journalMode: unknown = connection.pragma('journal_mode', { simple: true })
  if (journalMode !== 'wal') return undefined
  const used: unknown = connection.prepare("select file from pragma_database_list where name = 'main'").pluck().get()
  if (typeof used !== 'string' || used === '') return undefined
  let fd: number | undefined
  try {
    if (!sameFile(statSync(file), statSync(used))) return undefined
    fd = openSync(`${used}-shm`, 'r')
    if (!sameFile(fstatSync(fd), statSync(`${used}-shm`))) throw new Error('the -shm file was replaced while it was opened')
    return fd
  } catch {
    if (fd !== undefined) closeSync(fd)
    return undefined
  }
}
