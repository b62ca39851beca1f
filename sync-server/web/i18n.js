// The page's words: one JSON file per language (i18n/zh-CN.json, i18n/en.json). The server
// renders the shell in the language of the `fieldsync_lang` cookie and says it in <html lang>;
// the modules load the same file.

let words = {};
export let lang = 'zh-CN';

/** Loads the words of the page's language. */
export async function load() {
  lang = document.documentElement.lang === 'en' ? 'en' : 'zh-CN';
  const resp = await fetch(`/board/i18n/${lang}.json`);
  if (!resp.ok) throw new Error(`i18n/${lang}.json: HTTP ${resp.status}`);
  words = await resp.json();
}

/** The text of `key`, with `{name}` replaced by `vars.name`. */
export function t(key, vars) {
  let text = Object.hasOwn(words, key) ? words[key] : key;
  for (const [name, value] of Object.entries(vars || {})) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/** Whether `key` has words. */
export function has(key) {
  return Object.hasOwn(words, key);
}

/** The word for a value of a closed set (`label('status', 'dispatched')`), or the value. */
export function label(set, value) {
  const key = `${set}.${value}`;
  return has(key) ? words[key] : String(value ?? '');
}

/** Switches to the other language: the cookie the server reads, then a reload. */
export function switchLanguage() {
  const next = lang === 'en' ? 'zh-CN' : 'en';
  document.cookie = `fieldsync_lang=${next}; Path=/; SameSite=Strict; Max-Age=31536000`;
  location.reload();
}
