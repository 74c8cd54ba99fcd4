// Fetch wrapper for the admin API: same origin, cookies included, JSON errors turned into Error messages.

const base = new URL('api/', document.baseURI)

/**
 * @param {string} path relative to the API root, e.g. 'users?q=al'
 * @param {RequestInit} [init]
 * @returns {Promise<any>} parsed JSON, or null for 204 / 404
 */
export async function api (path, init = {}) {
  const res = await fetch(new URL(path, base), { credentials: 'same-origin', ...init })
  if (res.status === 204 || res.status === 404) return null
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`)
  return body
}

/** @param {string} user */
export function userPath (user) {
  return encodeURIComponent(user)
}
