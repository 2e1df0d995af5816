import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TimeEntryStore } from '../../../db/time-entries.js'
import { ApiError } from '../../../domain/errors.js'
import { OneResponse, errorResponses } from '../../../schemas/common.js'
import { ClockBody, TimeEntry } from '../../../schemas/time.js'

const clock: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new TimeEntryStore(fastify.db)

  fastify.post('/clock.php', {
    config: { scope: 'clock:write' },
    schema: {
      operationId: 'clock',
      tags: ['Time'],
      summary: 'Clock a worker in or out, or start or end a break',
      description: '`in` and `break_start` answer 201 with the new entry; `out` and `break_end` answer 200 with the closed entry. ' +
        'Send an `Idempotency-Key` header to make a retry safe.',
      body: ClockBody,
      response: { 200: OneResponse(TimeEntry), 201: OneResponse(TimeEntry), ...errorResponses },
      errors: ['not_found', 'geofence_refused', 'blocked_by_survey', 'already_clocked_in', 'already_on_break', 'not_clocked_in', 'not_on_break', 'entry_overlap', 'worker_inactive']
    }
  }, async (request, reply) => {
    try {
      const result = await store.clock(request.apiKey!.accountId, request.body)
      return await reply.code(result.status).send({ data: result.entry })
    } catch (err) {
      // a refusal that recorded its event is replayed, not repeated, on a retry with the same key
      if (err instanceof ApiError && err.code === 'geofence_refused') request.keepIdempotentError = true
      throw err
    }
  })
}

export default clock
