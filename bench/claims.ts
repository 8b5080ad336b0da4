// What one claim costs: BENCH_CLAIM_JOBS jobs (default 3,000) queued over BENCH_CLAIM_KEYS keys
// (default 1 and 50), then claimed one after another by one claimer, on SQLite and (when it is
// up) PostgreSQL. Per-claim microseconds; reports, never asserts. Run it in another tree (a
// `git archive` of an older commit) to compare: `node --import tsx bench/claims.ts`.
import { probePostgres } from '../test/helpers/services.js'
import { openTestStore, queuedJob, type StoreKind, TEST_KEY } from '../test/helpers/store.js'

const JOBS = Number(process.env.BENCH_CLAIM_JOBS ?? 3000)
const KEYS = (process.env.BENCH_CLAIM_KEYS ?? '1,50').split(',').map(Number)
const DUE = 1_800_000_000_000

async function perClaimUs(kind: StoreKind, keys: number): Promise<number> {
  const t = await openTestStore(kind)
  try {
    for (let k = 1; k < keys; k++) await t.store.keys.insert({ ...TEST_KEY, id: `k${k}`, key_hash: `h${k}` })
    const inserts = []
    for (let i = 0; i < JOBS; i++) {
      const apiKeyId = i % keys === 0 ? 'k' : `k${i % keys}`
      const id = `j${String(i).padStart(6, '0')}`
      inserts.push(t.store.jobs.insert(queuedJob(id, { apiKeyId, createdAt: new Date(DUE + i) })))
    }
    await Promise.all(inserts)
    const now = DUE + JOBS + 1000
    const started = performance.now()
    let claimed = 0
    while (await t.store.jobs.claim({ owner: 'w/1', now, leaseMs: 60_000 })) claimed++
    if (claimed !== JOBS) throw new Error(`claimed ${claimed} of ${JOBS}`)
    return ((performance.now() - started) / claimed) * 1000
  } finally {
    await t.close()
  }
}

const kinds: StoreKind[] = (await probePostgres()).ok ? ['sqlite', 'postgres'] : ['sqlite']
console.log(`| records | keys | µs per claim (${JOBS} jobs) |\n| --- | --- | --- |`)
for (const kind of kinds) {
  for (const keys of KEYS) console.log(`| ${kind} | ${keys} | ${Math.round(await perClaimUs(kind, keys))} |`)
}
