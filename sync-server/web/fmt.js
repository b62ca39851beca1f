// Times as the viewer reads them: in the browser's own time zone and the page's language.

import { lang, t } from './i18n.js';

let stamp;
let day;

function formats() {
  if (!stamp) {
    stamp = new Intl.DateTimeFormat(lang, {
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
      hour12: false,
    });
    day = new Intl.DateTimeFormat(lang, { month: '2-digit', day: '2-digit' });
  }
  return { stamp, day };
}

/** A moment (ms since the epoch) as date and time, or '' for none. */
export function time(ms) {
  return ms === null || ms === undefined ? '' : formats().stamp.format(new Date(ms));
}

/** A moment as month and day. */
export function shortDay(ms) {
  return formats().day.format(new Date(ms));
}

/** A duration in ms, in minutes or hours. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '';
  const minutes = Math.round(ms / 60000);
  return minutes < 120 ? t('time.minutes', { n: minutes }) : t('assess.hours', { n: (minutes / 60).toFixed(1) });
}

/** `YYYY-MM-DD` of a moment in the viewer's time zone (a date input's value). */
export function dateValue(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

/** The start of a date input's day in the viewer's time zone, in ms. */
export function dateStart(value) {
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d).getTime();
}

/** `YYYY-MM-DDTHH:MM` of a moment in local time (a datetime-local input's value). */
export function localValue(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${dateValue(ms)}T${two(d.getHours())}:${two(d.getMinutes())}`;
}
