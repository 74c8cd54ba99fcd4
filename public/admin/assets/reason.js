// "Why are you watching?": when the page's setting asks for it, switching Live on or opening All
// users first asks for an optional reason or ticket id, which goes into the audit record of the
// watch. The setting is remembered in this browser; the reason is not.
import { el } from './dom.js'

const STORE_KEY = 'userlog.askReason'
export const MAX_REASON = 200

export function asksForReason () {
  try { return localStorage.getItem(STORE_KEY) === '1' } catch { return false }
}

/** @param {boolean} on */
export function setAsksForReason (on) {
  try { localStorage.setItem(STORE_KEY, on ? '1' : '0') } catch { /* private mode: asked this time only */ }
}

/**
 * Asks for a reason when the setting is on. Resolves to the reason ('' for none), or null when
 * the admin cancelled (then nothing is watched).
 * @param {string} what e.g. `alice live` or `all users`
 * @returns {Promise<string | null>}
 */
export async function askReason (what) {
  if (!asksForReason()) return ''
  const input = /** @type {HTMLInputElement} */ (el('input', {
    type: 'text', name: 'reason', maxlength: String(MAX_REASON), placeholder: 'e.g. ticket #4711', autocomplete: 'off'
  }))
  const attrs = { class: 'reason', 'aria-label': 'Reason for watching' }
  const dialog = /** @type {HTMLDialogElement} */ (el('dialog', attrs, [
    el('form', { method: 'dialog' }, [
      el('p', {}, [`Watching ${what}. Reason or ticket (optional, kept in the audit trail):`]),
      input,
      el('div', { class: 'buttons' }, [
        el('button', { value: 'cancel', type: 'submit', formnovalidate: '' }, ['Cancel']),
        el('button', { value: 'ok', type: 'submit', class: 'primary' }, ['Watch'])
      ])
    ])
  ]))
  document.body.append(dialog)
  return await new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok'
      dialog.remove()
      resolve(ok ? input.value.trim().slice(0, MAX_REASON) : null)
    })
    dialog.showModal()
    input.focus()
  })
}
