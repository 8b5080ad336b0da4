import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely'
import { describe, expect, it } from 'vitest'
import { compileByShape, lit } from '../../src/store/compiled.js'

interface Db {
  jobs: { id: string; state: string; owner: string | null }
}
const db = new Kysely<Db>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
})

describe('compileByShape', () => {
  const query = compileByShape<unknown, { owner: string; ids: readonly string[] }, [count: number]>((slot, count) =>
    db
      .updateTable('jobs')
      .set({ owner: slot('owner') })
      .where('state', '=', lit('queued'))
      .where(
        'id',
        'in',
        Array.from({ length: count }, (_, i) => slot(`ids#${i}`)),
      ),
  )

  it('binds the values by name into the SQL of their shape, the fixed state written into it', () => {
    const one = query({ owner: 'w1', ids: ['a'] }, 1)
    const two = query({ owner: 'w2', ids: ['b', 'c'] }, 2)
    expect(one.sql).toBe(`update "jobs" set "owner" = ? where "state" = 'queued' and "id" in (?)`)
    expect(one.parameters).toEqual(['w1', 'a'])
    expect(two.sql).toBe(`update "jobs" set "owner" = ? where "state" = 'queued' and "id" in (?, ?)`)
    expect(two.parameters).toEqual(['w2', 'b', 'c'])
    // Built once per shape: the same SQL object again.
    expect(query({ owner: 'w3', ids: ['d'] }, 1).query).toBe(one.query)
  })

  it('refuses to run with a value missing, rather than bind a stand-in', () => {
    expect(() => query({ owner: 'w1', ids: [] }, 1)).toThrow(/no value for 'ids#0'/)
  })
})
