// The desk's event stream (GET /api/v1/events): where it starts (its `position` event), then
// rows of records that changed, each with the change log's seq as its id. The browser's EventSource reconnects by itself with
// Last-Event-ID; when it gives up (the server answered while stopping, or was gone for a
// while), the stream is opened again with ?after= the last id seen, so that a server restart
// loses nothing. A session that ended stops the stream (the API's 401 signs the page out).

import { get } from './api.js';

/** A live stream; `onRow(kind, row)` for each event, `onState('live' | 'down')`. */
export class Live {
  constructor(onRow, onState) {
    this.onRow = onRow;
    this.onState = onState;
    this.last = null;
    this.source = null;
    this.retry = null;
    this.wait = 1000;
    this.closed = false;
    // A page left for another (and perhaps kept in the back-forward cache) lets its stream go:
    // a browser holds at most six connections to a server, and kept streams would use them up.
    this.onHide = () => {
      clearTimeout(this.retry);
      if (this.source) this.source.close();
    };
    this.onShow = (ev) => {
      if (ev.persisted && !this.closed) this.open();
    };
    window.addEventListener('pagehide', this.onHide);
    window.addEventListener('pageshow', this.onShow);
  }

  /** Opens the stream (from now on, or after the last event seen). */
  open() {
    if (this.closed) return;
    const url = this.last === null ? '/api/v1/events' : `/api/v1/events?after=${this.last}`;
    const source = new EventSource(url);
    this.source = source;
    const take = (kind) => (ev) => {
      if (ev.lastEventId) this.last = ev.lastEventId;
      let row;
      try {
        row = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onRow(kind, row);
    };
    for (const kind of ['report', 'patrol_log', 'mediation_case']) {
      source.addEventListener(kind, take(kind));
    }
    // Where the stream starts: known before any row comes, so a reconnection resumes there.
    source.addEventListener('position', (ev) => {
      if (ev.lastEventId) this.last = ev.lastEventId;
    });
    source.addEventListener('open', () => {
      this.wait = 1000;
      this.onState('live');
    });
    source.addEventListener('error', () => {
      this.onState('down');
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.reopen(), this.wait);
        this.wait = Math.min(this.wait * 2, 10000);
      }
    });
  }

  async reopen() {
    try {
      await get('/api/v1/session');
    } catch (e) {
      if (e.status === 401) return;
    }
    this.open();
  }

  /** Ends the stream for good. */
  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    window.removeEventListener('pagehide', this.onHide);
    window.removeEventListener('pageshow', this.onShow);
  }
}
