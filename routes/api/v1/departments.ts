import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DepartmentStore } from '../../../db/departments.js'
import { IdQuery, OneOrListResponse, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import { Department, DepartmentCreate, DepartmentQuery, DepartmentUpdate } from '../../../schemas/departments.js'

const departments: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new DepartmentStore(fastify.db)
  const tags = ['Reference data']

  fastify.get('/departments.php', {
    config: { scope: 'departments:read' },
    schema: {
      tags,
      summary: 'List departments, or get one with ?id=',
      querystring: DepartmentQuery,
      response: { 200: OneOrListResponse(Department), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, active, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { active: parseQueryBoolean(active) }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/departments.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Create a department',
      body: DepartmentCreate,
      response: { 201: OneResponse(Department), ...errorResponses }
    }
  }, async (request, reply) => {
    const created = await store.create(request.apiKey!.accountId, request.body)
    return await reply.code(201).send({ data: created })
  })

  fastify.put('/departments.php', {
    config: { scope: 'full' },
    schema: {
      tags,
      summary: 'Update a department (partial)',
      querystring: IdQuery,
      body: DepartmentUpdate,
      response: { 200: OneResponse(Department), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })
}

export default departments
