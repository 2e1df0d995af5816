import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { createServer, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** Debian's redis-server (apt-get install -y redis-server); .ci/run installs it. */
export const REDIS_SERVER = '/usr/bin/redis-server'

const CI = process.env.CI === 'true' || process.env.CI === '1'

/** Without redis-server the Redis tests are skipped locally; under CI they run and fail instead. */
export const redisSkip: string | false = !existsSync(REDIS_SERVER) && !CI
  ? `${REDIS_SERVER} is missing (apt-get install -y redis-server); under CI=true these tests run and fail instead`
  : false

interface TapLike {
  teardown: (fn: () => unknown) => void
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

/** A throwaway redis-server on a free loopback port, no persistence; stopped when the test ends. */
export class TestRedis {
  #process: ChildProcess | null = null

  private constructor (readonly port: number) {}

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  static async start (t: TapLike): Promise<TestRedis> {
    const redis = new TestRedis(await freePort())
    t.teardown(async () => { await redis.stop() })
    await redis.restart()
    return redis
  }

  /** Starts the server (again, on the same port) and waits until it accepts connections. */
  async restart (): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    this.#process = child
    const exited = once(child, 'exit').then(() => { throw new Error(`redis-server on port ${this.port} exited at start`) })
    exited.catch(() => {})
    for (let i = 0; i < 100; i++) {
      if (await Promise.race([accepts(this.port), exited])) return
      await sleep(20)
    }
    throw new Error(`redis-server on port ${this.port} did not start`)
  }

  async stop (): Promise<void> {
    const child = this.#process
    this.#process = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}
