/** The static API keys every in-process test server accepts (FLUXHOST_API_KEYS). */
export const KEY_A = 'test-key-alpha'
export const KEY_B = 'test-key-bravo'
