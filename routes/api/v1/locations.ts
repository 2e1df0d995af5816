import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LocationStore } from '../../../db/locations.js'
import { IdQuery, OneOrListResponse, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import { Location, LocationCreate, LocationQuery, LocationUpdate } from '../../../schemas/locations.js'

const locations: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new LocationStore(fastify.db)
  const tags = ['Reference data']

  fastify.get('/locations.php', {
    config: { scope: 'locations:read' },
    schema: {
      tags,
      summary: 'List locations, or get one with ?id=',
      querystring: LocationQuery,
      response: { 200: OneOrListResponse(Location), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, active, search, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { active: parseQueryBoolean(active), search }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/locations.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Create a location',
      body: LocationCreate,
      response: { 201: OneResponse(Location), ...errorResponses }
    }
  }, async (request, reply) => {
    const created = await store.create(request.apiKey!.accountId, request.body)
    return await reply.code(201).send({ data: created })
  })

  fastify.put('/locations.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Update a location (partial)',
      querystring: IdQuery,
      body: LocationUpdate,
      response: { 200: OneResponse(Location), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })
}

export default locations
