// The board's entry: loads the words, finds the session (GET /api/v1/session), and shows the
// page the address's hash names (#/board, #/map, #/record/<id>, #/assess, #/patrols, #/cases,
// #/wall), or the sign-in when nobody is signed in. A page that fails says why in the message
// area; the view is never left empty.

import { h, put, byId } from './dom.js';
import { api, get, setCsrf, errorText } from './api.js';
import { load, t, label, switchLanguage } from './i18n.js';
import { fail, say, clearMessages } from './messages.js';
import * as signin from './signin.js';
import * as board from './board.js';
import * as wall from './wall.js';
import * as map from './map.js';
import * as record from './record.js';
import * as assess from './assess.js';
import * as lists from './lists.js';

const PAGES = {
  board: (main, ctx) => board.show(main, ctx),
  wall: (main, ctx) => wall.show(main, ctx),
  map: (main, ctx) => map.show(main, ctx),
  record: (main, ctx) => record.show(main, ctx),
  assess: (main, ctx) => assess.show(main, ctx),
  patrols: (main, ctx) => lists.show(main, { ...ctx, which: 'patrols' }),
  cases: (main, ctx) => lists.show(main, { ...ctx, which: 'cases' }),
};

let session = null;
let leave = null;
let routing = 0;

function header() {
  const nav = byId('nav');
  const who = byId('who');
  const out = byId('sign-out');
  nav.hidden = !session;
  out.hidden = !session;
  who.textContent = session ? t('signin.as', { user: session.user, role: label('role', session.role) }) : '';
  const [name] = location.hash.replace(/^#\/?/, '').split('/');
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.route === (name || 'board')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function findSession() {
  try {
    session = await get('/api/v1/session');
    setCsrf(session.csrf_token);
  } catch (e) {
    if (e.status !== 401) throw e;
    session = null;
    setCsrf(null);
  }
}

async function route() {
  const turn = ++routing;
  if (leave) {
    try {
      leave();
    } catch {
      // a page that fails to clean up must not keep the next one from showing
    }
    leave = null;
  }
  const main = byId('view');
  const [name, arg] = location.hash.replace(/^#\/?/, '').split('/');
  const page = session ? (PAGES[name] || PAGES.board) : null;
  document.body.classList.toggle('wall', Boolean(session) && name === 'wall');
  // What a page said stays with it; errors stay until read.
  for (const old of document.querySelectorAll('#messages .msg.info')) old.remove();
  header();
  put(main, h('p', { class: 'loading' }, t('app.loading')));
  try {
    const ctx = { session, arg, done: signedIn };
    const cleanup = page ? await page(main, ctx) : await signin.show(main, ctx);
    if (turn !== routing) {
      if (cleanup) cleanup();
      return;
    }
    leave = cleanup;
  } catch (e) {
    put(main, h('p', { class: 'error', id: 'page-error' }, errorText(e)));
    fail(e);
  }
}

async function signedIn(s) {
  session = s;
  setCsrf(s.csrf_token);
  clearMessages();
  if (!location.hash || location.hash === '#/signin') location.hash = '#/board';
  else await route();
}

async function signOut() {
  try {
    await api('DELETE', '/api/v1/session');
  } catch (e) {
    if (e.status !== 401) {
      fail(e);
      return;
    }
  }
  session = null;
  setCsrf(null);
  sessionStorage.removeItem('fieldsync.filters');
  await route();
  say(t('signin.signed_out'));
}

async function boot() {
  try {
    await load();
  } catch (e) {
    put(byId('view'), h('p', { class: 'error' }, String(e.message || e)));
    return;
  }
  window.addEventListener('error', (ev) => say(t('error.bad_page', { message: ev.message }), 'error'));
  window.addEventListener('unhandledrejection', (ev) => fail(ev.reason));
  window.addEventListener('hashchange', route);
  window.addEventListener('fieldsync:signed-out', () => {
    if (!session) return;
    session = null;
    route();
  });
  byId('lang').addEventListener('click', switchLanguage);
  byId('sign-out').addEventListener('click', signOut);
  try {
    await findSession();
  } catch (e) {
    fail(e);
  }
  await route();
}

boot();
