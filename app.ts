import { join } from 'node:path'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import type { Server } from 'node:http'
import AutoLoad from '@fastify/autoload'
import fp from 'fastify-plugin'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { AppConfig } from './plugins/config.js'
import { generateRequestId } from './plugins/request-id.js'
import { answerClientError } from './plugins/errors.js'
import { redactKeys } from './domain/redact.js'
import { buildSerializer } from './schemas/serializer.js'

export interface AppOptions {
  config: AppConfig
  /** the wall clock in ms (plugins/clock.ts); Date.now unless a test passes its own */
  now?: () => number
}

/** Fastify's default request log fields, with any key pasted into the URL masked. */
export function serializeRequest (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactKeys(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

/** Fastify's own options: logging (keys and cookies redacted), limits, request ids. */
export function serverOptions (config: AppConfig): FastifyHttpOptions<Server> {
  return {
    logger: config.logLevel === 'silent'
      ? false
      : {
          level: config.logLevel,
          redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["idempotency-key"]', 'req.headers["x-request-id"]'], censor: '[redacted]' },
          serializers: { req: serializeRequest }
        },
    genReqId: generateRequestId,
    bodyLimit: config.bodyLimit,
    // Start-up may wait for migrations another process is applying (PostgreSQL holds them under
    // an advisory lock), and a loaded machine compiles the schemas slowly: Fastify's default of
    // 10 s per plugin would end such a start with "Plugin did not start in time".
    pluginTimeout: 120_000,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    // Slow clients are cut off rather than holding sockets: an idle socket after 30 s, a request
    // whose headers take longer than headersTimeout (slowloris) or whose whole body takes longer
    // than requestTimeout. Node checks the last two every connectionsCheckingInterval, so that is
    // the precision of the cut.
    connectionTimeout: 30_000,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs)
    },
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    schemaController: { compilersFactory: { buildSerializer } }
  }
}

/** The root plugin: cross-cutting plugins first, then the routes. */
const app: FastifyPluginAsync<AppOptions> = async function app (fastify, opts) {
  await fastify.register(AutoLoad, {
    dir: join(import.meta.dirname, 'plugins'),
    options: opts
  })
  await fastify.register(AutoLoad, {
    dir: join(import.meta.dirname, 'routes'),
    // a helper the route files import, not a plugin
    ignorePattern: /^record-routes\./,
    autoHooks: true,
    cascadeHooks: true,
    options: opts
  })
}

const rootPlugin = fp(app, { name: 'tempclock-app' })
export default rootPlugin

export type App = FastifyInstance

/** Builds the whole app without listening: used by server.ts, the tests and the benchmarks. */
export async function buildApp (config: AppConfig, options: Omit<AppOptions, 'config'> = {}): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(config)).withTypeProvider<TypeBoxTypeProvider>()
  await fastify.register(rootPlugin, { ...options, config })
  await fastify.ready()
  return fastify
}
