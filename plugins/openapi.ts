import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SCOPES, type RouteScope } from '../domain/scopes.js'
import { GUARDED_PREFIX } from './auth.js'

function describeScope (scope: RouteScope): string {
  if (scope === 'public') return 'No authentication.'
  if (scope === 'full') return 'Requires a full-access key (a key with no scopes).'
  return `Requires scope \`${scope}\` (or a full-access key).`
}

// The reference is generated from the route schemas; each operation shows its scope both as an
// OpenAPI 3.1 security requirement and as `x-scope`. Only the API is documented.
export default fp(async function openapiPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'TempClock API',
        version: '1.1.0',
        description: 'Workforce time-clock API, wire-compatible with TempClock API v1.1. ' +
          'Authenticate with `Authorization: Bearer tc_live_…`. Scopes: ' + SCOPES.join(', ') +
          '; a key with no scopes has full access.'
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An operator-issued key: tc_live_ + 40 hex characters' }
        }
      },
      tags: [
        { name: 'Reference data', description: 'Workers, locations, departments, cost codes' },
        { name: 'Time', description: 'Clock events, timesheets, shifts' },
        { name: 'Surveys', description: 'Pre-clock-in surveys and their responses' },
        { name: 'Webhooks' },
        { name: 'Meta' }
      ]
    },
    hideUntagged: false,
    // name shared schemas by their $id in components/schemas
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transform: ({ schema, url, route }) => {
      const hidden = !url.startsWith(GUARDED_PREFIX)
      const scope = route.config?.scope
      if (schema === undefined || scope === undefined) return { schema: { ...schema, hide: hidden }, url }
      const documented: Record<string, unknown> = {
        ...schema,
        hide: hidden || (schema as { hide?: boolean }).hide === true,
        description: [(schema as { description?: string }).description, describeScope(scope)].filter(Boolean).join('\n\n'),
        'x-scope': scope
      }
      if (scope !== 'public') documented.security = [{ bearerAuth: scope === 'full' ? [] : [scope] }]
      return { schema: documented as typeof schema, url }
    }
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, url: '/api/v1/openapi.json' } as Record<string, unknown>,
    staticCSP: true
  })
}, { name: 'openapi' })
