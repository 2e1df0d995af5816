import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, platform, release, tmpdir, totalmem } from 'node:os'
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
  /** 5xx answers (503 `overloaded` when the server sheds load) */
  serverErrors: number
  /** requests answered */
  total: number
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
    serverErrors: result['5xx'],
    total: result.requests.total,
    errors: result.errors + result.timeouts
  }
}

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Smallest and largest of the samples: the spread reported next to a median. */
export function spread (values: number[]): { min: number, max: number } {
  return { min: Math.min(...values), max: Math.max(...values) }
}

/** First and third quartiles (nearest rank). */
export function quartiles (values: number[]): { q1: number, q3: number } {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
  return { q1: at(0.25), q3: at(0.75) }
}

/** Memory of a process from /proc (Linux): the current resident set and its peak (VmHWM), in bytes. */
export function processMemory (pid: number): { rss: number, peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    return { rss: kb('VmRSS'), peak: kb('VmHWM') }
  } catch {
    return undefined
  }
}

/**
 * Samples a process's memory every `intervalMs` until stopped; the peak is the larger of the
 * kernel's high-water mark and the highest sample (VmHWM is the truth where /proc has it).
 */
export function sampleMemory (pid: number, intervalMs = 100): { stop: () => number } {
  let peak = 0
  const take = (): void => {
    const m = processMemory(pid)
    if (m !== undefined) peak = Math.max(peak, m.rss, Number.isFinite(m.peak) ? m.peak : 0)
  }
  take()
  const timer = setInterval(take, intervalMs)
  return { stop: () => { take(); clearInterval(timer); return peak } }
}

/** Milliseconds from spawning a server script until `readyPath` answers 200, then stops it. */
export async function timeToReady (script: string, env: Record<string, string>, readyPath: string): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${script} exited ${child.exitCode}`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}${readyPath}`)
        await res.arrayBuffer()
        if (res.status === 200) return performance.now() - started
      } catch {}
      if (performance.now() - started > 20_000) throw new Error(`${script} not ready after 20 s`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }
}

/** What the figures were measured on, for BENCHMARKS.md. */
export function machine (): { cpus: number, model: string, memoryGb: number, node: string, platform: string } {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 1024 ** 3 * 10) / 10,
    node: process.version,
    platform: `${platform()} ${release()}`
  }
}

/** A webhook endpoint on loopback that answers 204 and counts what it received. */
export interface CountingReceiver {
  /** the URL to subscribe */
  url: string
  /** deliveries received so far */
  received: () => number
  /** resolves once `count` deliveries in all have arrived */
  waitFor: (count: number) => Promise<void>
  close: () => void
}

export async function startCountingReceiver (): Promise<CountingReceiver> {
  let received = 0
  let onReceive: (() => void) | null = null
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => { received++; onReceive?.(); res.writeHead(204).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => received,
    async waitFor (count) {
      while (received < count) await new Promise<void>((resolve) => { onReceive = resolve })
      onReceive = null
    },
    close: () => { server.close() }
  }
}
