import { LocationStore } from '../../../db/locations.js'
import { parseQueryBoolean } from '../../../schemas/common.js'
import { Location, LocationCreate, LocationQuery, LocationUpdate } from '../../../schemas/locations.js'
import { recordRoutes } from '../../record-routes.js'

export default recordRoutes({
  url: '/locations.php',
  name: { one: 'a location', many: 'locations', singular: 'Location', plural: 'Locations' },
  readScope: 'locations:read',
  tags: ['Reference data'],
  record: Location,
  query: LocationQuery,
  create: LocationCreate,
  update: LocationUpdate,
  store: (engine) => new LocationStore(engine),
  filters: ({ active, search }) => ({ active: parseQueryBoolean(active), search })
})
