// Messages to the user: every failure is said here, in a layer over the page (so that a
// message never moves what is under it), never as an empty page.

import { h, byId } from './dom.js';
import { errorText } from './api.js';

/** Shows `text`; `kind` is 'error' (stays until dismissed or replaced) or 'info' (fades). */
export function say(text, kind = 'info') {
  const area = byId('messages');
  if (!area) return;
  for (const old of area.querySelectorAll(`.msg.${kind}`)) old.remove();
  const close = h('button', { type: 'button', class: 'link close', 'aria-label': '×' }, '×');
  const box = h('div', { class: `msg ${kind}` }, h('span', { class: 'text' }, text), close);
  close.addEventListener('click', () => box.remove());
  area.append(box);
  if (kind === 'info') setTimeout(() => box.remove(), 4000);
}

/** Shows what went wrong with `e`. */
export function fail(e) {
  say(errorText(e), 'error');
}

/** Clears the messages. */
export function clearMessages() {
  const area = byId('messages');
  if (area) area.replaceChildren();
}
