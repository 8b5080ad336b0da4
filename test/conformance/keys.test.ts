import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLocalJobEvents } from '../../src/queue/job-events.js'
import { createKeyService } from '../../src/services/keys.js'
import { openPostgresStore, openSqliteStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { tempDir, testClock } from '../helpers/server.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'

const postgres = await probePostgres()
const clock = testClock()

/** Two stores on the same records, as two processes would have. */
async function twoProcesses(kind: 'sqlite' | 'postgres'): Promise<{ stores: [Store, Store]; close(): Promise<void> }> {
  if (kind === 'sqlite') {
    const file = path.join(tempDir(), 'fluxhost.db')
    const a = (await openSqliteStore(file)).store
    const b = (await openSqliteStore(file)).store
    return { stores: [a, b], close: async () => void (await Promise.all([a.close(), b.close()])) }
  }
  const { schema, drop } = await createSchema()
  const a = (await openPostgresStore(POSTGRES_URL, { schema })).store
  const b = (await openPostgresStore(POSTGRES_URL, { schema })).store
  return {
    stores: [a, b],
    close: async () => {
      await Promise.all([a.close(), b.close()])
      await drop()
    },
  }
}

let ids = 0
const keys = (store: Store) =>
  createKeyService({ store, clock, newId: () => `key_${++ids}`, staticKeys: [], events: createLocalJobEvents() })

describe.each(postgres.ok ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const))(
  'the bootstrap admin key on %s',
  (kind) => {
    it('is made once when processes start at once on empty records, and again after every key is revoked', async () => {
      const { stores, close } = await twoProcesses(kind)
      try {
        const services = [...stores, ...stores].map(keys)
        const printed = (await Promise.all(services.map((s) => s.ensureBootstrapKey()))).filter(
          (key) => key !== undefined,
        )
        expect(printed).toHaveLength(1)
        expect(await stores[0].keys.countActive('db')).toBe(1)
        const admin = await services[1]!.authenticate(printed[0])
        expect(admin?.scope).toBe('admin')
        // A key existing: nothing more is made.
        expect(await services[2]!.ensureBootstrapKey()).toBeUndefined()
        // Every key revoked: the next start makes a new one (not blocked by the old id).
        await stores[0].keys.revoke(admin!.id, clock.now())
        const again = await Promise.all(services.map((s) => s.ensureBootstrapKey()))
        expect(again.filter((key) => key !== undefined)).toHaveLength(1)
        expect(await stores[1].keys.countActive('db')).toBe(1)
      } finally {
        await close()
      }
    })
  },
)
