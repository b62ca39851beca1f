// The desk API, the only thing the page talks to: JSON in and out, the session's CSRF token on
// every request that changes something, and each failure an ApiError with the server's code.

import { has, t } from './i18n.js';

let csrf = null;

/** Remembers the session's CSRF token (from GET /api/v1/session). */
export function setCsrf(token) {
  csrf = token;
}

/** A refused or failed request: the HTTP status (0: no answer), the error code, the message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the desk API; resolves with the JSON answer (null for none). */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) {
    const code = (json && json.code) || (resp.status >= 500 ? 'unavailable' : 'other');
    const message = (json && json.message) || `HTTP ${resp.status}`;
    const error = new ApiError(resp.status, code, message);
    if (resp.status === 401) window.dispatchEvent(new CustomEvent('fieldsync:signed-out'));
    throw error;
  }
  return json;
}

/** `GET path`. */
export function get(path) {
  return api('GET', path);
}

/** A query string of the values that are set. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** What to tell the user about an error, in their language. */
export function errorText(e) {
  if (e instanceof ApiError) {
    const key = `error.${e.code}`;
    return has(key) ? t(key, { message: e.message }) : t('error.other', { message: e.message });
  }
  return t('error.bad_page', { message: String(e && e.message ? e.message : e) });
}
