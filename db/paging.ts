import { sql, type SelectQueryBuilder } from 'kysely'
import type { Paging, PaginationType } from '../schemas/common.js'
import { parseTimestamp } from '../domain/time.js'

export interface Page<Row> {
  rows: Row[]
  pagination: PaginationType
}

/**
 * Runs a filtered list the same way for every resource (docs/api.md "Conventions, auth, errors"): ordered by id, `limit` +
 * `offset`, keyset `after_id` (an index range, so depth costs nothing), `updated_since`.
 * `total` counts the rows matching the filters; `has_more` says whether a row follows this page.
 * `base` must select from one table aliased as its own name, already filtered by account.
 */
export async function paginate<DB, TB extends keyof DB & string, Row> (
  base: SelectQueryBuilder<DB, TB, Row>,
  table: TB,
  paging: Paging
): Promise<Page<Row>> {
  let filtered = base
  if (paging.updated_since !== undefined) {
    const since = parseTimestamp(paging.updated_since) ?? paging.updated_since
    filtered = filtered.where(sql.ref(`${table}.updated_at`), '>=', since)
  }
  const counted = await filtered.clearSelect()
    .select((eb) => eb.fn.countAll<number>().as('total'))
    .clearOrderBy()
    .executeTakeFirstOrThrow() as unknown as { total: number }

  let page = filtered
  if (paging.after_id !== undefined) page = page.where(sql.ref(`${table}.id`), '>', paging.after_id)
  const rows = await page
    .orderBy(sql.ref(`${table}.id`))
    .limit(paging.limit + 1)
    .offset(paging.offset)
    .execute()

  const hasMore = rows.length > paging.limit
  return {
    rows: hasMore ? rows.slice(0, paging.limit) : rows,
    pagination: { total: Number(counted.total), limit: paging.limit, offset: paging.offset, has_more: hasMore }
  }
}
