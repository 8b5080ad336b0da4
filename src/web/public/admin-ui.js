// What the admin page's parts share: the gate over its sections, the notice box and formats.
import { $, el } from './common.js'

const SECTIONS = ['#keys-section', '#queue-section', '#deliveries-section', '#engines-section']
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—')
export const money = (usd) => `$${usd}`

/** Hides every section behind `message`, or shows them all when it is null. */
export function gate(message) {
  const box = $('#admin-gate')
  box.hidden = !message
  box.textContent = message ?? ''
  for (const id of SECTIONS) $(id).hidden = Boolean(message)
}

/** Shows an error that came from loading a section. */
export function report(error) {
  gate(null)
  $('#new-key').hidden = false
  $('#new-key').textContent = error.message
}

/** Shows `text` in the notice box, with a secret to copy when there is one. */
export function showNotice(text, secret) {
  const box = $('#new-key')
  box.hidden = false
  const copy = (event) => {
    const button = event.currentTarget
    navigator.clipboard.writeText(secret).then(
      () => (button.textContent = 'Copied'),
      () => (button.textContent = 'Select it and copy'),
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
