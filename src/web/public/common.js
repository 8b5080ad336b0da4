// What the playground and the admin pages share: the key, calls to the public API, and
// server-sent events read with fetch (EventSource cannot send the key header).

const KEY_STORAGE = 'fluxhost.key'

export const $ = (selector, root = document) => root.querySelector(selector)

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? ''
  } catch {
    return ''
  }
}

export function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key)
    else localStorage.removeItem(KEY_STORAGE)
  } catch {
    // Storage may be off (private windows): the key then lives until the page closes.
  }
}

/** An error answer from the API, with its code and message. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterS) {
    super(message)
    this.status = status
    this.code = code
    /** Seconds to wait before trying again (a 429's or 503's Retry-After), if the server said. */
    this.retryAfterS = retryAfterS
  }
}

let currentKey = storedKey()
export const getKey = () => currentKey
export function setKey(key) {
  currentKey = key.trim()
  storeKey(currentKey)
}

/** Calls the API with the key; JSON in and out; throws ApiError with the API's own message. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  if (!currentKey) throw new ApiError(401, 'NO_KEY', 'Enter your API key first (top right).')
  const headers = { 'x-key': currentKey }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response
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
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!response.ok) {
    const error = data?.error ?? {}
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
  return data
}

/** Reads `GET path` as server-sent events; calls onEvent(name, data) until the stream ends or signal aborts. */
export async function events(path, onEvent, signal) {
  const response = await fetch(path, { headers: { 'x-key': currentKey, accept: 'text/event-stream' }, signal })
  if (!response.ok || !response.body) {
    const data = await response.json().catch(() => null)
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
    let end
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let name = 'message'
      const data = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      if (data.length > 0) onEvent(name, JSON.parse(data.join('\n')))
    }
  }
}

/** Wires the key form in the header: shows whether the key works. `onChange` runs after each check. */
export function keyForm(onChange) {
  const input = $('#key-input')
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
      const me = await api('/api/me')
      status.textContent = `Key ${me.name} (${me.scope})`
      status.dataset.state = 'ok'
      onChange?.(me)
    } catch (error) {
      status.textContent = error.message
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

export const usd = (value) =>
  value === null || value === undefined ? '' : `$${Number(value).toFixed(3).replace(/0$/, '')}`

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'text') node.textContent = value
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, value === true ? '' : value)
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

/**
 * How far along a job state is (queued, running, ended): a job's changes can reach the page by
 * two ways (the live stream, and the answer to the page's own call), in either order, and an
 * older state must never replace a newer one.
 */
export const stateRank = (state) => (state === 'queued' ? 0 : state === 'running' ? 1 : 2)
