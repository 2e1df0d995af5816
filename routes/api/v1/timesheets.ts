import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TimesheetStore } from '../../../db/timesheets.js'
import { notFound } from '../../../domain/errors.js'
import { OneOrListResponse, errorResponses } from '../../../schemas/common.js'
import { TimeEntry, TimesheetQuery } from '../../../schemas/time.js'

const timesheets: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new TimesheetStore(fastify.engine)

  fastify.get('/timesheets.php', {
    config: { scope: 'timesheets:read' },
    schema: {
      operationId: 'getTimesheets',
      tags: ['Time'],
      summary: 'List time entries, or get one with ?id=',
      description: "start_date/end_date select by the clock-in's calendar date in the account's timezone.",
      querystring: TimesheetQuery,
      response: { 200: OneOrListResponse(TimeEntry, TimeEntry), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, worker_id, location_id, cost_code_id, start_date, end_date, entry_filter, ...paging } = request.query
    if (id !== undefined) {
      // one entry by id, whatever its type or status
      const entry = await store.find(accountId, id)
      if (entry === undefined) throw notFound(`Time entry ${id}`)
      return { data: entry }
    }
    const page = await store.list(accountId, { worker_id, location_id, cost_code_id, start_date, end_date, entry_filter }, paging)
    return { data: page.rows, pagination: page.pagination }
  })
}

export default timesheets
