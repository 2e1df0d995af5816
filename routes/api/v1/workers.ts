import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { WorkerStore } from '../../../db/workers.js'
import { IdQuery, OneOrListResponse, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import { Worker, WorkerCreate, WorkerQuery, WorkerUpdate } from '../../../schemas/workers.js'

const workers: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new WorkerStore(fastify.db)
  const tags = ['Reference data']

  fastify.get('/workers.php', {
    config: { scope: 'workers:read' },
    schema: {
      tags,
      summary: 'List workers, or get one with ?id=',
      querystring: WorkerQuery,
      response: { 200: OneOrListResponse(Worker), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, active, location_id: locationId, department_id: departmentId, search, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { location_id: locationId, department_id: departmentId, active: parseQueryBoolean(active), search }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/workers.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Create a worker',
      description: 'Sends the `worker_created` webhook event.',
      body: WorkerCreate,
      response: { 201: OneResponse(Worker), ...errorResponses }
    }
  }, async (request, reply) => {
    const created = await store.create(request.apiKey!.accountId, request.body)
    return await reply.code(201).send({ data: created })
  })

  fastify.put('/workers.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Update a worker (partial)',
      description: 'Sends the `worker_updated` webhook event.',
      querystring: IdQuery,
      body: WorkerUpdate,
      response: { 200: OneResponse(Worker), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })
}

export default workers
