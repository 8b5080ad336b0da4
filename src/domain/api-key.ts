export type KeyScope = 'user' | 'admin'

/** An authenticated caller. The key itself is never stored, only its hash. */
export interface ApiKey {
  id: string
  name: string
  scope: KeyScope
  source: 'db' | 'env' | 'local'
  prefix: string
  createdAt: Date
  revokedAt: Date | null
  lastUsedAt: Date | null
  /**
   * The key's own limit settings (null: the server's default, -1: none) and whether it has a
   * prepaid balance: enough to know whether its creates must pass the guarded reservation.
   */
  limits: { concurrency: number | null; rpm: number | null; budgetMicros: number | null; credits: boolean }
}
