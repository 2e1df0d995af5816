import { LocationStore } from '../../db/locations.js'
import { SurveyStore } from '../../db/surveys.js'
import { clockScenarioOf } from './clock.js'

/**
 * The clock scenario at a location with a pre-clock-in survey: every clock-in carries its answers,
 * so each one also loads the survey, judges the answers and writes a survey response in the same
 * transaction as the entry. Workers, rounds and connections as in the clock scenario.
 */
export const clockSurveyScenario = clockScenarioOf({
  name: 'clock-survey',
  description: 'POST /api/v1/clock.php in (answering a survey)/out over HTTP, synchronous=FULL (acknowledged clock events/s)',
  rateName: 'clock events/s at a survey location (FULL)',
  p99Name: 'clock event p99 at a survey location',
  async prepare (engine, accountId) {
    const location = await new LocationStore(engine).create(accountId, { name: 'Surveyed site' })
    const survey = await new SurveyStore(engine).create(accountId, {
      name: 'Fit for work',
      location_ids: [location.id],
      questions: [
        { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, accept: [true] },
        { id: 'ppe', text: 'Which PPE are you wearing?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
        { id: 'note', text: 'Anything to report?', type: 'text', required: false }
      ]
    })
    return { locationId: location.id, inBody: { survey_id: survey.id, survey_answers: { fit_for_work: true, ppe: 'full', note: 'all good' } } }
  }
})
