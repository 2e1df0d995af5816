import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'

export const DIST = join(import.meta.dirname, '..')

/** One measured figure of a benchmark run. */
export interface Figure {
  scenario: string
  name: string
  value: number
  unit: string
  /** what the figure is compared with, measured in the same run */
  baseline?: { name: string, value: number }
  /** the target, as text, e.g. "≥ 0.45" */
  target?: string
  /** whether the target is met, when there is one */
  ok?: boolean
  /** every repetition's value, for median and spread */
  samples?: number[]
}

export interface Scenario {
  name: string
  description: string
  run: (ctx: BenchContext) => Promise<Figure[]>
}

export interface BenchContext {
  /** scale down for quick runs (BENCH_QUICK=1) */
  quick: boolean
  /** a fresh temporary directory, removed at the end */
  tmp: string
  log: (line: string) => void
}

export function tempDir (): { path: string, remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'tempclock-bench-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface ServerProcess {
  url: string
  child: ChildProcess
  stop: () => Promise<void>
}

/** A port that was free a moment ago on loopback. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * Starts a compiled server script in its own process on a free port and waits until
 * `readyPath` answers (the API logs at warn level here, so it prints no address).
 */
export async function startServerProcess (script: string, env: Record<string, string>, readyPath = '/health'): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited ${child.exitCode}`)
    try {
      const res = await fetch(url + readyPath)
      if (res.status < 500) break
    } catch {}
    if (Date.now() - started > 20_000) { child.kill('SIGKILL'); throw new Error(`${script} did not start`) }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }
}

export interface LoadResult {
  requestsPerSecond: number
  p99Ms: number
  non2xx: number
  errors: number
}

/** Runs autocannon (in this process; the server is another) and returns the headline figures. */
export async function load (options: { url: string, headers?: Record<string, string>, method?: 'GET' | 'POST', body?: string, durationS: number, connections?: number, pipelining?: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    body: options.body,
    duration: options.durationS,
    connections: options.connections ?? 50,
    pipelining: options.pipelining ?? 1
  })
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
