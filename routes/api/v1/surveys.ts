import { SurveyStore } from '../../../db/surveys.js'
import { parseQueryBoolean } from '../../../schemas/common.js'
import { Survey, SurveyCreate, SurveyQuery, SurveyUpdate } from '../../../schemas/surveys.js'
import { recordRoutes } from '../../record-routes.js'

export default recordRoutes({
  url: '/surveys.php',
  name: { one: 'a survey', many: 'surveys', singular: 'Survey', plural: 'Surveys' },
  readScope: 'surveys:read',
  tags: ['Surveys'],
  record: Survey,
  query: SurveyQuery,
  create: SurveyCreate,
  update: SurveyUpdate,
  descriptions: {
    create: 'At most one active survey applies to a location (a location-specific one before an account-wide one): a second active one for the same location, or a second account-wide one, is 409 `survey_conflict`.',
    update: '`questions` replaces the whole list. Making a survey active is checked for clashes like a create (409 `survey_conflict`).'
  },
  writeErrors: ['survey_conflict'],
  store: (engine) => new SurveyStore(engine),
  filters: ({ active, location_id }) => ({ active: parseQueryBoolean(active), location_id })
})
