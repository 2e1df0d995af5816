import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ClockStore } from '../../../db/clock.js'
import { sendWrite } from '../../../plugins/idempotency.js'
import { NoQuery, OneResponse, errorResponses } from '../../../schemas/common.js'
import { ClockBody, TimeEntry } from '../../../schemas/time.js'

const clock: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new ClockStore(fastify.engine)

  fastify.post('/clock.php', {
    config: { scope: 'clock:write' },
    schema: {
      operationId: 'clock',
      tags: ['Time'],
      summary: 'Clock a worker in or out, or start or end a break',
      description: '`in` and `break_start` answer 201 with the new entry; `out` and `break_end` answer 200 with the closed entry. ' +
        'At a location with an active survey, `in` must carry `survey_id` and `survey_answers`: malformed answers are 400, ' +
        'missing or not accepted ones 403 `blocked_by_survey` (no entry; the `clock.blocked_by_survey` event is sent). ' +
        'Send an `Idempotency-Key` header to make a retry safe.',
      querystring: NoQuery,
      body: ClockBody,
      response: { 200: OneResponse(TimeEntry), 201: OneResponse(TimeEntry), ...errorResponses },
      errors: ['not_found', 'geofence_refused', 'blocked_by_survey', 'already_clocked_in', 'already_on_break', 'not_clocked_in', 'not_on_break', 'entry_overlap', 'worker_inactive']
    }
  }, async (request, reply) => {
    return await sendWrite(request, reply, async (options) => await store.clock(request.apiKey!.accountId, request.body, fastify.now(), options),
      (result) => ({ status: result.status, payload: { data: result.entry } }))
  })
}

export default clock
