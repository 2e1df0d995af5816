import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TimesheetStore } from '../../../db/timesheets.js'
import { nowIso } from '../../../domain/time.js'
import { errorResponses } from '../../../schemas/common.js'
import { OnSiteQuery, OnSiteResponse } from '../../../schemas/time.js'

const onSiteNow: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new TimesheetStore(fastify.engine)

  fastify.get('/on-site-now.php', {
    config: { scope: 'timesheets:read' },
    schema: {
      operationId: 'getOnSiteNow',
      tags: ['Time'],
      summary: 'Who is clocked in now, by location',
      querystring: OnSiteQuery,
      response: { 200: OnSiteResponse, ...errorResponses }
    }
  }, async (request) => {
    const asOf = nowIso()
    return { data: await store.onSiteNow(request.apiKey!.accountId, request.query.location_id), as_of: asOf }
  })
}

export default onSiteNow
