import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CostCodeStore } from '../../../db/cost-codes.js'
import { IdQuery, OneOrListResponse, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import { CostCode, CostCodeCreate, CostCodeQuery, CostCodeUpdate } from '../../../schemas/cost-codes.js'

const costCodes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new CostCodeStore(fastify.db)
  const tags = ['Reference data']

  fastify.get('/cost-codes.php', {
    config: { scope: 'cost-codes:read' },
    schema: {
      tags,
      summary: 'List cost codes, or get one with ?id=',
      querystring: CostCodeQuery,
      response: { 200: OneOrListResponse(CostCode), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, active, search, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { active: parseQueryBoolean(active), search }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/cost-codes.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Create a cost code',
      body: CostCodeCreate,
      response: { 201: OneResponse(CostCode), ...errorResponses }
    }
  }, async (request, reply) => {
    const created = await store.create(request.apiKey!.accountId, request.body)
    return await reply.code(201).send({ data: created })
  })

  fastify.put('/cost-codes.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Update a cost code (partial)',
      querystring: IdQuery,
      body: CostCodeUpdate,
      response: { 200: OneResponse(CostCode), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })
}

export default costCodes
