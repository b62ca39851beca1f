// Signing in with a one-time code (POST /api/v1/session). The desk refuses residents, patrol
// members and mediators; the page says so in words.

import { h, put } from './dom.js';
import { api, errorText } from './api.js';
import { t } from './i18n.js';

/** The sign-in form; `done` runs with the new session. */
export async function show(main, { done }) {
  const code = h('input', {
    id: 'code', name: 'code', autocomplete: 'one-time-code', required: true, maxlength: 64,
    spellcheck: 'false', autofocus: true,
  });
  const error = h('p', { class: 'error', id: 'signin-error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'signin-submit' }, t('signin.submit'));
  const form = h('form', { class: 'signin card', id: 'signin' },
    h('h2', {}, t('signin.title')),
    h('p', {}, t('signin.help')),
    h('label', { for: 'code' }, t('signin.code')), code, submit, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const session = await api('POST', '/api/v1/session', { code: code.value.trim() });
      await done(session);
    } catch (e) {
      error.textContent = errorText(e);
      code.select();
    } finally {
      submit.disabled = false;
    }
  });
  put(main, form);
  code.focus();
  return () => {};
}
