import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { DOCUMENT_BASE, documentRoute, finishDocument } from '../schemas/openapi.js'
import { GUARDED_PREFIX } from './auth.js'
import { NEVER_SHED } from './under-pressure.js'

// The reference is generated from the route schemas (schemas/openapi.ts adds scopes, error
// statuses, headers, named schemas and webhooks). Only the API and the health checks are shown.
export default fp(async function openapiPlugin (fastify) {
  // a generated client names its methods after operationIds: every documented operation has one
  fastify.addHook('onRoute', (route) => {
    if (!route.url.startsWith(GUARDED_PREFIX) || route.schema?.hide === true || route.method === 'HEAD') return
    if (route.schema?.operationId === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} has no schema.operationId: the OpenAPI document needs one per operation`)
    }
  })

  await fastify.register(swagger, {
    openapi: DOCUMENT_BASE,
    hideUntagged: false,
    // name shared schemas by their $id in components/schemas
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const facts = { method: methods[0] ?? 'GET', url, scope: route.config?.scope, sheds: !NEVER_SHED.has(url) }
      return { schema: documentRoute(schema ?? {}, facts) as typeof schema, url }
    },
    transformObject: (document) => finishDocument(('openapiObject' in document ? document.openapiObject : {}) as Record<string, unknown>)
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    theme: { title: 'TempClock API reference' },
    uiConfig: { docExpansion: 'list', deepLinking: true, url: '/api/v1/openapi.json', persistAuthorization: false } as Record<string, unknown>,
    staticCSP: true,
    // served over plain http on a LAN host name, upgrade-insecure-requests would make the browser
    // fetch the page's own scripts over https, which is not there: the page stayed blank. Swagger
    // UI sets one inline style at run time; styles cannot run code, so inline ones are allowed.
    transformStaticCSP: (header) => header
      .replace(/\s*upgrade-insecure-requests;?/, '')
      .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  })
}, { name: 'openapi', dependencies: ['auth'] })
