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
}
