import { ENGINE_SETTINGS } from './settings/engines.js'
import { HTTP_SETTINGS } from './settings/http.js'
import { LIMIT_SETTINGS } from './settings/limits.js'
import { PROVIDER_SETTINGS } from './settings/providers.js'
import { SERVER_SETTINGS } from './settings/server.js'
import { STORAGE_SETTINGS } from './settings/storage.js'
import { WORK_SETTINGS } from './settings/work.js'

export type { LogLevel, Setting } from './parsers.js'
export { BFL_HOSTS, durationMs } from './parsers.js'

/**
 * Every configuration key, by section. `docs/configuration.md` and `--help` are checked
 * against this table by a test, so a key cannot be added without its documentation.
 */
export const SETTINGS = {
  ...SERVER_SETTINGS,
  ...HTTP_SETTINGS,
  ...STORAGE_SETTINGS,
  ...WORK_SETTINGS,
  ...LIMIT_SETTINGS,
  ...ENGINE_SETTINGS,
  ...PROVIDER_SETTINGS,
}

export type SettingName = keyof typeof SETTINGS
