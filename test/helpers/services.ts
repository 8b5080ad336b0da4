import pg from 'pg'

/** The PostgreSQL the tests use (trust auth on the CI machine); override with FLUXHOST_TEST_DATABASE_URL. */
export const POSTGRES_URL = process.env.FLUXHOST_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether PostgreSQL answers. Without it a suite that needs it is skipped, saying why — except
 * with CI=true, where a missing service is a failure, never a skip.
 */
export async function probePostgres(): Promise<{ ok: true } | { ok: false; why: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('select 1')
    return { ok: true }
  } catch (error) {
    const why = `PostgreSQL at ${POSTGRES_URL} is not reachable (${(error as Error).message})`
    if (process.env.CI === 'true') throw new Error(`${why}; CI needs it (.ci/run starts it)`)
    console.warn(`skipping the PostgreSQL suites: ${why}`)
    return { ok: false, why }
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A fresh schema for one test's store; drop it with the returned function. */
export async function createSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  await admin.end()
  return {
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    },
  }
}
