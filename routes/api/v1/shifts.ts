import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ShiftStore } from '../../../db/shifts.js'
import { sendWrite } from '../../../plugins/idempotency.js'
import { IdQuery, NoQuery, OneOrListResponse, OneResponse, errorResponses } from '../../../schemas/common.js'
import { Shift, ShiftCreate, ShiftQuery, ShiftUpdate } from '../../../schemas/shifts.js'

const shifts: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new ShiftStore(fastify.engine)
  const tags = ['Time']

  fastify.get('/shifts.php', {
    config: { scope: 'shifts:read' },
    schema: {
      operationId: 'getShifts',
      tags,
      summary: 'List scheduled shifts, or get one with ?id=',
      description: "start_date/end_date select by the start time's calendar date in the account's timezone.",
      querystring: ShiftQuery,
      response: { 200: OneOrListResponse(Shift, Shift), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, worker_id, location_id, department_id, status, start_date, end_date, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { worker_id, location_id, department_id, status, start_date, end_date }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/shifts.php', {
    config: { scope: 'shifts:write' },
    schema: {
      operationId: 'createShift',
      tags,
      summary: 'Schedule a shift (worker_id null = an open shift)',
      description: 'Sends the `shift_created` webhook event.',
      querystring: NoQuery,
      body: ShiftCreate,
      response: { 201: OneResponse(Shift), ...errorResponses },
      errors: ['not_found', 'shift_overlap']
    }
  }, async (request, reply) => {
    return await sendWrite(request, reply, async (options) => await store.create(request.apiKey!.accountId, request.body, options),
      (created) => ({ status: 201, payload: { data: created } }))
  })

  fastify.put('/shifts.php', {
    config: { scope: 'shifts:write' },
    schema: {
      operationId: 'updateShift',
      tags,
      summary: 'Update a shift (partial)',
      querystring: IdQuery,
      body: ShiftUpdate,
      response: { 200: OneResponse(Shift), ...errorResponses },
      errors: ['not_found', 'shift_overlap']
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })

  fastify.delete('/shifts.php', {
    config: { scope: 'shifts:write' },
    schema: {
      operationId: 'deleteShift',
      tags,
      summary: 'Delete a shift; answers with the deleted shift',
      querystring: IdQuery,
      response: { 200: OneResponse(Shift), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.delete(request.apiKey!.accountId, request.query.id) }
  })
}

export default shifts
