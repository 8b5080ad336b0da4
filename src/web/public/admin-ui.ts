// What the admin page's parts share: the gate over its sections, the notice box and formats.
import { signal } from '@preact/signals'
import { $, el, messageOf } from './common.js'

const SECTIONS = ['#keys-section', '#queue-section', '#deliveries-section', '#engines-section']
export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—')
export const money = (usd: string): string => `$${usd}`

/** How long ago `iso` was, shortly: "12 s", "4 min", "3 h", "2 d". */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min`
  if (s < 86_400) return `${Math.floor(s / 3600)} h`
  return `${Math.floor(s / 86_400)} d`
}

/** Whether the sections are hidden behind the gate (no key, not an admin one): the job view then closes too. */
export const gated = signal(true)

/** Hides every section behind `message`, or shows them all when it is null. */
export function gate(message: string | null): void {
  const box = $('#admin-gate')
  box.hidden = !message
  box.textContent = message ?? ''
  for (const id of SECTIONS) $(id).hidden = Boolean(message)
  gated.value = Boolean(message)
}

/** Shows an error that came from loading a section. */
export function report(error: unknown): void {
  gate(null)
  $('#new-key').hidden = false
  $('#new-key').textContent = messageOf(error)
}

/** Shows `text` in the notice box, with a secret to copy when there is one. */
export function showNotice(text: string, secret?: string): void {
  const box = $('#new-key')
  box.hidden = false
  const copy = (event: Event) => {
    const button = event.currentTarget as HTMLButtonElement
    navigator.clipboard.writeText(secret ?? '').then(
      () => {
        button.textContent = 'Copied'
      },
      () => {
        button.textContent = 'Select it and copy'
      },
    )
  }
  const shown = secret
    ? [
        el(
          'p',
          { class: 'secret' },
          el('code', { text: secret, id: 'shown-secret' }),
          ' ',
          el('button', { type: 'button', text: 'Copy', 'aria-label': 'Copy it', onclick: copy }),
        ),
      ]
    : []
  box.replaceChildren(el('p', { text }), ...shown)
}
