// What the playground and the admin pages share: the key, calls to the public API, and
// server-sent events read with fetch (EventSource cannot send the key header).

const KEY_STORAGE = 'fluxhost.key'

/** The element `selector` names; a page without it is a defect in the page, so this throws. */
export function $<E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E {
  const found = root.querySelector<E>(selector)
  if (!found) throw new Error(`the page has no ${selector}`)
  return found
}

/** The element `selector` names, or null: for what may or may not be there. */
export const find = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E | null =>
  root.querySelector<E>(selector)

export function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? ''
  } catch {
    return ''
  }
}

export function storeKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key)
    else localStorage.removeItem(KEY_STORAGE)
  } catch {
    // Storage may be off (private windows): the key then lives until the page closes.
  }
}

/** An error answer from the API, with its code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again (a 429's or 503's Retry-After), if the server said. */
    readonly retryAfterS?: number,
  ) {
    super(message)
  }
}

/** An API error body (`{ error: { code, message } }`), as far as the page reads it. */
interface ErrorBody {
  error?: { code?: string; message?: string }
}

let currentKey = storedKey()
export const getKey = () => currentKey
export function setKey(key: string): void {
  currentKey = key.trim()
  storeKey(currentKey)
}

/** Calls the API with the key; JSON in and out; throws ApiError with the API's own message. */
export interface ApiCall {
  method?: string
  body?: unknown
  signal?: AbortSignal
}

/**
 * Calls the API with the key; JSON in and out; throws ApiError with the API's own message. The
 * answer's type is the caller's word (`T`): the page trusts its own server's shapes.
 */
// biome-ignore lint/suspicious/noExplicitAny: the default answer type is the API's JSON, unchecked
export async function api<T = any>(path: string, { method = 'GET', body, signal }: ApiCall = {}): Promise<T> {
  if (!currentKey) throw new ApiError(401, 'NO_KEY', 'Enter your API key first (top right).')
  const headers: Record<string, string> = { 'x-key': currentKey }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    })
  } catch (error) {
    if (signal?.aborted) throw error
    throw new ApiError(0, 'NETWORK', 'fluxhost did not answer. Is the server running?')
  }
  const text = await response.text()
  let data: unknown = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!response.ok) {
    const error = (data as ErrorBody | null)?.error ?? {}
    if (response.status === 401)
      throw new ApiError(
        401,
        error.code ?? 'UNAUTHORIZED',
        'This API key was not accepted: check it, or ask an admin for a new one.',
      )
    const after = Number(response.headers.get('retry-after'))
    const retryAfterS = Number.isFinite(after) && after > 0 ? Math.ceil(after) : undefined
    const message = error.message ?? `HTTP ${response.status}`
    throw new ApiError(
      response.status,
      error.code ?? `HTTP_${response.status}`,
      // A refusal for now says when to try again.
      retryAfterS === undefined ? message : `${message} Try again in ${retryAfterS} s.`,
      retryAfterS,
    )
  }
  return data as T
}

/** Reads `GET path` as server-sent events; calls onEvent(name, data) until the stream ends or signal aborts. */
export async function events(
  path: string,
  onEvent: (name: string, data: unknown) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch(path, { headers: { 'x-key': currentKey, accept: 'text/event-stream' }, signal })
  if (!response.ok || !response.body) {
    const data = (await response.json().catch(() => null)) as ErrorBody | null
    throw new ApiError(
      response.status,
      data?.error?.code ?? `HTTP_${response.status}`,
      data?.error?.message ?? `HTTP ${response.status}`,
    )
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let name = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      if (data.length > 0) onEvent(name, JSON.parse(data.join('\n')))
    }
  }
}

/** Wires the key form in the header: shows whether the key works. `onChange` runs after each check. */
/** What `GET /api/me` says of the key. */
export interface Me {
  name: string
  scope: string
  [field: string]: unknown
}

export function keyForm(onChange?: (me: Me | null) => void): void {
  const input = $<HTMLInputElement>('#key-input')
  const status = $('#key-status')
  input.value = currentKey
  const check = async () => {
    if (!currentKey) {
      status.textContent = 'No key: enter one to generate.'
      status.dataset.state = 'missing'
      onChange?.(null)
      return
    }
    status.textContent = 'Checking…'
    try {
      const me = await api<Me>('/api/me')
      status.textContent = `Key ${me.name} (${me.scope})`
      status.dataset.state = 'ok'
      onChange?.(me)
    } catch (error) {
      status.textContent = messageOf(error)
      status.dataset.state = 'bad'
      onChange?.(null)
    }
  }
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    setKey(input.value)
    void check()
  })
  $('#key-forget').addEventListener('click', () => {
    setKey('')
    input.value = ''
    void check()
  })
  void check()
}

/**
 * Says `text` to screen readers through the page's polite live region (#announce), for what a
 * button did where its own label cannot say it (a seed copied). Emptied first: the same words
 * twice are said twice.
 */
export function announce(text: string): void {
  const region = find('#announce')
  if (!region) return
  region.textContent = ''
  requestAnimationFrame(() => {
    region.textContent = text
  })
}

/** What an error thrown at the page says (an ApiError's own message, or the error's text). */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const usd = (value: number | string | null | undefined): string =>
  value === null || value === undefined ? '' : `$${Number(value).toFixed(3).replace(/0$/, '')}`

/** An attribute's value for `el`: absent when null, undefined or false; `on…` names take a listener. */
export type Attribute = string | number | boolean | null | undefined | ((event: Event) => void)
export type Child = Node | string | null | undefined

/** Builds an element: `text` sets its text (never markup), `on…` adds listeners, the rest are attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, Attribute> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (typeof value === 'function') node.addEventListener(name.slice(2), value)
    else if (name === 'text') node.textContent = String(value)
    else node.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

/**
 * How far along a job state is (queued, running, ended): a job's changes can reach the page by
 * two ways (the live stream, and the answer to the page's own call), in either order, and an
 * older state must never replace a newer one.
 */
export const stateRank = (state: string): number => (state === 'queued' ? 0 : state === 'running' ? 1 : 2)
