'use strict';
// The mailsync dashboard. It keeps the API key in sessionStorage, polls
// GET /v1/sync/status, /v1/sync/failures (and /errors) and /v1/reconciliations every few
// seconds (?refresh=N sets N seconds, default 5), keeps the throughput and
// lag series in memory for the last hour, and offers the two admin actions.
// All data is rendered with textContent: nothing from the API becomes markup.
(function () {
  const KEY_STORAGE = 'mailsync.apiKey';
  const HOUR = 3600e3;
  const params = new URLSearchParams(location.search);
  const refreshMs = Math.min(60, Math.max(1, Number(params.get('refresh')) || 5)) * 1000;
  const RUNNING_REFRESH_MS = Math.min(refreshMs, 1000);
  // The mismatch kinds of a reconciliation, with their short labels.
  // The number of failure groups (by error) shown.
  const GROUPS = 5;
  const KINDS = [['missing_in_mongo', 'missing'], ['content_mismatch', 'content'], ['orphan_in_mongo', 'orphan'], ['status_drift', 'drift'], ['ahead_of_postgres', 'ahead'], ['erased_but_present', 'erased but present'], ['blob_missing', 'blob missing'], ['blob_orphan', 'blob orphan']];

  const state = {
    key: sessionStorage.getItem(KEY_STORAGE) || '',
    gen: 0, // bumped when the key changes, so stale answers are dropped
    timer: 0,
    busy: false,
    again: false,
    series: [],
    status: null,
    failures: null,
    recons: null,
    lastOK: 0,
  };

  const $ = (id) => document.getElementById(id);
  const fields = (name) => document.querySelectorAll(`[data-field="${name}"]`);
  const nf = new Intl.NumberFormat('en-US');

  // el builds an element: el('td', {class: 'num'}, 'text', childNode, …).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function setField(name, text) {
    for (const e of fields(name)) e.textContent = text;
  }

  // ---- formatting -------------------------------------------------------

  function fmtAge(sec) {
    if (!(sec >= 0.05)) return '0 s';
    if (sec < 10) return sec.toFixed(1) + ' s';
    if (sec < 60) return Math.round(sec) + ' s';
    if (sec < 3600) {
      const m = Math.floor(sec / 60), s = Math.round(sec % 60);
      return m + ' min' + (s ? ' ' + s + ' s' : '');
    }
    const h = Math.floor(sec / 3600), m = Math.round((sec % 3600) / 60);
    return h + ' h' + (m ? ' ' + m + ' min' : '');
  }

  function fmtAgo(iso) {
    if (!iso) return '–';
    const d = (Date.now() - Date.parse(iso)) / 1000;
    if (d < 5) return 'just now';
    if (d < 60) return Math.round(d) + ' s ago';
    if (d < 3600) return Math.round(d / 60) + ' min ago';
    if (d < 86400) return Math.round(d / 3600) + ' h ago';
    return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function fmtTime(iso) {
    return iso ? new Date(iso).toLocaleString() : '';
  }

  function plural(n, one, many) {
    return nf.format(n) + ' ' + (n === 1 ? one : many);
  }

  // ---- the API ----------------------------------------------------------

  class APIError extends Error {
    constructor(status, problem, retryAfter, message) {
      super(message || (problem && (problem.detail || problem.title)) || 'HTTP ' + status);
      this.status = status;
      this.problem = problem;
      this.retryAfter = retryAfter;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + state.key, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, null, null, 'cannot reach the mailsync server (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) throw new APIError(res.status, data, res.headers.get('Retry-After'));
    return data;
  }

  // explain turns an APIError into one plain sentence. scope is what the
  // call needs; action names it for the reader ("re-drive").
  function explain(err, scope, action) {
    const p = err.problem || {};
    const detail = p.detail ? ' ' + p.detail.replace(/\.?$/, '.') : '';
    switch (err.status) {
      case 0:
        return 'Cannot reach mailsync: ' + err.message + '. Retrying.';
      case 401:
        return 'The server did not accept this key (401 Unauthorized). Check it and connect again.';
      case 403:
        return `This key lacks the ${scope} scope (403 Forbidden): ${action} needs a key with the ${scope} scope.`;
      case 409:
        return p.running_id ? `A reconciliation is already running (#${p.running_id}); wait for it to finish.`
          : 'Conflict (409).' + detail;
      case 429:
        return 'Too many requests (429): the key is rate limited' +
          (err.retryAfter ? `; retry in ${err.retryAfter} s.` : '.');
      case 501:
        return 'Not available on this server (501).' + detail;
      default:
        return `${err.status} ${p.title || 'error'}.${detail}`;
    }
  }

  // ---- connection -------------------------------------------------------

  function showConnect(message) {
    $('connect').hidden = false;
    $('board').hidden = true;
    $('keybox').hidden = true;
    const ce = $('connect-error');
    ce.hidden = !message;
    ce.textContent = message || '';
    setLive('off', 'not connected');
    $('key-input').focus();
  }

  function connect(key) {
    state.key = key;
    state.gen++;
    state.series = [];
    state.status = state.failures = state.recons = null;
    state.lastOK = 0;
    sessionStorage.setItem(KEY_STORAGE, key);
    // Nothing from the previous key stays on screen.
    for (const e of document.querySelectorAll('[data-field]')) e.textContent = '–';
    $('failures-body').replaceChildren();
    $('failure-groups').replaceChildren();
    $('recon-body').replaceChildren();
    $('recon-kinds').hidden = true;
    $('failures-count').textContent = '';
    $('redrive').disabled = true;
    $('verdict').dataset.state = 'ok';
    $('verdict-text').textContent = 'Waiting for the first status…';
    $('connect').hidden = true;
    $('board').hidden = false;
    $('keybox').hidden = false;
    $('key-hint').textContent = '••••' + key.slice(-4);
    for (const id of ['redrive-msg', 'recon-msg', 'banner']) $(id).hidden = true;
    setLive('off', 'connecting…');
    schedule(0);
  }

  function disconnect(message) {
    state.key = '';
    state.gen++;
    clearTimeout(state.timer);
    sessionStorage.removeItem(KEY_STORAGE);
    showConnect(message);
  }

  function setLive(kind, text) {
    $('live').dataset.state = kind;
    $('live-text').textContent = text;
  }

  // ---- polling ----------------------------------------------------------

  function schedule(ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, ms);
  }

  async function refresh() {
    if (!state.key) return;
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    const gen = state.gen;
    try {
      const [st, fl, rc, fg] = await Promise.allSettled([
        api('GET', '/v1/sync/status'),
        api('GET', '/v1/sync/failures?limit=20'),
        api('GET', '/v1/reconciliations?limit=10'),
        api('GET', '/v1/sync/failures/errors?limit=' + GROUPS),
      ]);
      if (gen !== state.gen) return;
      const errors = [st, fl, rc, fg].filter((r) => r.status === 'rejected').map((r) => r.reason);
      const unauthorized = errors.find((e) => e.status === 401);
      if (unauthorized) return disconnect(explain(unauthorized));
      const forbidden = errors.find((e) => e.status === 403);
      if (forbidden) return disconnect(explain(forbidden, 'read', 'the dashboard'));

      if (fl.status === 'fulfilled') {
        state.failures = fl.value;
        renderFailures(fl.value.items || []);
      }
      if (fg.status === 'fulfilled') renderFailureGroups(fg.value);
      if (rc.status === 'fulfilled') {
        state.recons = rc.value;
        renderRecons(rc.value.items || []);
      } else if (rc.reason.status === 501) {
        renderReconsUnavailable(explain(rc.reason));
      }
      if (st.status === 'fulfilled') {
        state.status = st.value;
        addSample(st.value);
        renderStatus(st.value);
      }
      await refreshErasures();
      renderChart();

      const other = errors.filter((e) => e.status !== 501);
      const banner = $('banner');
      if (other.length) {
        banner.textContent = explain(other[0], 'read', 'the dashboard');
        banner.hidden = false;
        setLive(st.status === 'fulfilled' ? 'stale' : 'error',
          state.lastOK ? 'stale · last update ' + new Date(state.lastOK).toLocaleTimeString() : 'no data');
        $('board').classList.toggle('stale', st.status !== 'fulfilled');
      } else {
        banner.hidden = true;
        state.lastOK = Date.now();
        $('board').classList.remove('stale');
        setLive('live', 'live · updated ' + new Date(state.lastOK).toLocaleTimeString());
      }
    } finally {
      state.busy = false;
      const again = state.again || gen !== state.gen; // asked for meanwhile, or a new key
      state.again = false;
      if (state.key) {
        const running = (state.recons && (state.recons.items || []).some((r) => r.status === 'running')) ||
          (state.erasures || []).some((j) => j.status === 'running' || j.status === 'pending');
        schedule(again ? 0 : running ? RUNNING_REFRESH_MS : refreshMs);
      }
    }
  }

  function addSample(s) {
    const now = Date.now();
    state.series.push({ t: now, thr: s.relay.synced_last_minute, lag: s.outbox.oldest_pending_age_seconds });
    while (state.series.length && state.series[0].t < now - HOUR) state.series.shift();
  }

  // ---- rendering --------------------------------------------------------

  function fmtBytes(n) {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  function renderStatus(s) {
    const e = s.emails, o = s.outbox, r = s.relay, last = s.last_reconciliation;
    const kinds = ['synced', 'pending', 'failed', 'not_applicable', 'erased'];
    const total = kinds.reduce((sum, k) => sum + (e[k] || 0), 0);
    setField('emails.total', nf.format(total));
    for (const k of kinds) setField('emails.' + k, nf.format(e[k] || 0));
    const segs = $('stackbar').children;
    kinds.map((k) => e[k] || 0).forEach((v, i) => {
      segs[i].style.width = total ? (v / total) * 100 + '%' : '0';
    });
    $('card-emails').className = 'card stat ' + (e.failed ? 'bad' : e.pending ? '' : 'ok');

    setField('outbox.pending', nf.format(o.pending));
    setField('outbox.in_flight', nf.format(o.in_flight));
    setField('outbox.failed', nf.format(o.failed));
    setField('outbox.oldest_pending_age', fmtAge(o.oldest_pending_age_seconds));
    const lag = o.oldest_pending_age_seconds;
    $('lag-big').className = 'big' + (lag >= 300 ? ' bad' : lag >= 60 ? ' warn' : '');
    $('card-outbox').className = 'card stat ' + (lag >= 300 ? 'bad' : lag >= 60 ? 'warn' : 'ok');

    setField('relay.synced_last_minute', nf.format(r.synced_last_minute));
    setField('relay.workers', nf.format(r.workers));
    setField('relay.peak', nf.format(Math.max(0, ...state.series.map((p) => p.thr))) + ' / min');
    if (s.blobs) {
      for (const st of ['postgresql', 'mongodb']) {
        const b = s.blobs[st];
        setField('blobs.' + st, nf.format(b.count) + ' (' + fmtBytes(b.bytes) + ')');
      }
    }
    setField('relay.state', r.paused
      ? 'paused ' + fmtAgo(r.paused_since) + (r.paused_by ? ' by ' + r.paused_by : '')
      : 'running');
    $('card-relay').className = 'card stat' + (r.paused ? ' warn' : '');

    const rc = $('card-recon');
    if (last) {
      setField('last_reconciliation.mismatches_found', nf.format(last.mismatches_found));
      setField('last_reconciliation.summary', `#${last.id} ${last.status}` +
        (last.completed_at ? ' ' + fmtAgo(last.completed_at) : ''));
      rc.className = 'card stat ' + (last.status === 'failed' || last.mismatches_found ? 'warn' : last.status === 'completed' ? 'ok' : '');
      // The per-kind counts come from the history, when it holds that run.
      const full = state.recons && (state.recons.items || []).find((x) => x.id === last.id);
      const counts = full && full.status !== 'running' && full.details && full.details.counts;
      $('recon-kinds').hidden = !counts;
      if (counts) for (const [k] of KINDS) setField('last_reconciliation.' + k, nf.format(counts[k] || 0));
    } else {
      $('recon-kinds').hidden = true;
      setField('last_reconciliation.mismatches_found', '–');
      setField('last_reconciliation.summary', 'no run yet');
      rc.className = 'card stat';
    }

    $('failures-count').textContent = e.failed ? nf.format(e.failed) + ' failed' : '';
    $('failures-count').className = 'chip' + (e.failed ? ' bad' : '');
    $('redrive').disabled = e.failed === 0;
    $('redrive').title = e.failed === 0 ? 'No failed emails to re-drive' : 'Re-enqueue every failed email (admin scope)';

    renderVerdict(s);
  }

  // renderVerdict answers "is mail flowing, and do the stores agree?".
  function renderVerdict(s) {
    const bad = [], warn = [];
    if (s.emails.failed) bad.push(plural(s.emails.failed, 'email failed to sync', 'emails failed to sync'));
    if (s.outbox.oldest_pending_age_seconds >= 300) bad.push('the relay is ' + fmtAge(s.outbox.oldest_pending_age_seconds) + ' behind');
    else if (s.outbox.oldest_pending_age_seconds >= 60) warn.push('the relay is ' + fmtAge(s.outbox.oldest_pending_age_seconds) + ' behind');
    if (s.relay.paused) warn.push('the relay is paused' + (s.relay.paused_by ? ' by ' + s.relay.paused_by : ''));
    const last = s.last_reconciliation;
    if (last && last.status === 'failed') warn.push('the last reconciliation failed');
    else if (last && last.mismatches_found) {
      warn.push('the last reconciliation found ' + plural(last.mismatches_found, 'mismatch', 'mismatches'));
    }
    const v = $('verdict');
    if (bad.length || warn.length) {
      v.dataset.state = bad.length ? 'bad' : 'warn';
      const all = bad.concat(warn).join('; ');
      $('verdict-text').textContent = all.charAt(0).toUpperCase() + all.slice(1) + '.';
      return;
    }
    v.dataset.state = 'ok';
    const flowing = s.outbox.pending ? `${nf.format(s.outbox.pending)} pending, lag ${fmtAge(s.outbox.oldest_pending_age_seconds)}` : 'no backlog';
    const agree = !last ? 'no reconciliation has run yet' : last.status === 'running' ? 'a reconciliation is running'
      : 'the last reconciliation found PostgreSQL and MongoDB in agreement';
    $('verdict-text').textContent = `Mail is flowing (${flowing}); ${agree}.`;
  }

  function renderFailures(items) {
    const body = $('failures-body');
    if (!items.length) {
      body.replaceChildren(el('p', { class: 'empty-row good' }, '✓ No failed emails.'));
      return;
    }
    const rows = items.map((f) => el('tr', { 'data-email-id': f.email_id },
      el('td', { class: 'num' }, String(f.email_id)),
      el('td', { class: 'mid', title: f.message_id }, f.message_id, el('span', { class: 'sub' }, f.mailbox || '—')),
      el('td', { class: 'err' }, f.sync_error),
      el('td', { class: 'num' }, String(f.sync_retry_count)),
      el('td', { class: 'when', title: fmtTime(f.failed_at || f.updated_at) }, fmtAgo(f.failed_at || f.updated_at))));
    body.replaceChildren(el('table', { id: 'failures-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'Email'), el('th', {}, 'Message-ID / mailbox'),
        el('th', {}, 'Last error'), el('th', { class: 'num' }, 'Tries'), el('th', {}, 'Failed'))),
      el('tbody', {}, ...rows)));
  }

  // renderFailureGroups shows the largest groups of failures by error
  // pattern (digits written #), each with a button re-driving its group.
  function renderFailureGroups(g) {
    const body = $('failure-groups');
    if (!g.failed) {
      body.replaceChildren(el('p', { class: 'empty-row good' }, '✓ No failed emails.'));
      return;
    }
    const rows = g.items.map((x) => {
      const btn = x.error === null ? null : el('button', { type: 'button', class: 'link', title: 'Re-drive the failures with this error (admin scope)' }, 'Re-drive');
      if (btn) btn.addEventListener('click', () => redrive({ error: x.error }));
      return el('tr', { 'data-error-group': x.error === null ? '' : x.error },
        el('td', { class: 'err' }, x.error === null ? '(no error recorded)' : x.error),
        el('td', { class: 'num' }, nf.format(x.count)), el('td', { class: 'act' }, btn));
    });
    if (g.other) {
      rows.push(el('tr', { class: 'other' }, el('td', { class: 'muted' }, 'other errors'),
        el('td', { class: 'num' }, nf.format(g.other)), el('td', {})));
    }
    if (g.sampled < g.failed) {
      rows.push(el('tr', { class: 'sampled' }, el('td', { class: 'muted', colspan: '3' },
        `counted over the newest ${nf.format(g.sampled)} of ${nf.format(g.failed)} failed emails`)));
    }
    body.replaceChildren(el('table', { id: 'failure-groups-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Last error'), el('th', { class: 'num' }, 'Emails'), el('th', {}))),
      el('tbody', {}, ...rows)));
  }

  function renderRecons(items) {
    const body = $('recon-body');
    const running = items.find((r) => r.status === 'running');
    const btn = $('start-recon');
    btn.disabled = !!running;
    btn.textContent = running ? `Run #${running.id} in progress…` : 'Start reconciliation';
    if (!items.length) {
      body.replaceChildren(el('p', { class: 'empty-row' }, 'No reconciliation has run yet.'));
      return;
    }
    const rows = items.map((r) => {
      const counts = (r.details && r.details.counts) || {};
      const kinds = KINDS.filter(([k]) => counts[k]).map(([k, label]) => `${nf.format(counts[k])} ${label}`).join(' · ');
      const done = r.status !== 'running';
      return el('tr', { 'data-recon-id': r.id, 'data-status': r.status },
        el('td', { class: 'num' }, '#' + r.id),
        el('td', { class: 'when', title: fmtTime(r.run_at) }, fmtAgo(r.run_at),
          el('span', { class: 'sub' }, r.trigger, r.dry_run ? el('span', { class: 'tag' }, 'dry run') : null)),
        el('td', {}, el('span', { class: 'badge ' + r.status, title: r.error_message || '' }, r.status),
          r.error_message ? el('span', { class: 'sub' }, r.error_message) : null),
        el('td', { class: 'num' }, done ? nf.format(r.records_checked) : '…'),
        el('td', { class: 'num' }, el('span', { class: 'mm' + (r.mismatches_found ? ' bad' : ''), 'data-mismatches': '' },
          done ? nf.format(r.mismatches_found) : '…'), kinds ? el('span', { class: 'kinds' }, kinds) : null),
        el('td', { class: 'num' }, done ? nf.format(r.auto_repaired) + (r.failed_repairs ? ` (${nf.format(r.failed_repairs)} failed)` : '') : '…'));
    });
    body.replaceChildren(el('table', { id: 'recon-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'Run'), el('th', {}, 'Started'), el('th', {}, 'Status'),
        el('th', { class: 'num' }, 'Checked'), el('th', { class: 'num' }, 'Mismatches'), el('th', { class: 'num' }, 'Repaired'))),
      el('tbody', {}, ...rows)));
  }

  // Erasure jobs need the admin scope: a key without it sees a note here
  // and the rest of the dashboard as usual.
  async function refreshErasures() {
    try {
      const list = await api('GET', '/v1/erasures?limit=10');
      state.erasures = list.items || [];
      renderErasures(state.erasures);
    } catch (e) {
      state.erasures = [];
      $('erasure-body').replaceChildren(el('p', { class: 'empty-row' }, e.status === 403
        ? 'Erasure jobs are shown to keys with the admin scope.' : explain(e, 'admin', 'listing erasures')));
    }
  }

  function renderErasures(items) {
    const body = $('erasure-body');
    if (!items.length) {
      body.replaceChildren(el('p', { class: 'empty-row' }, 'No erasure job yet.'));
      return;
    }
    const rows = items.map((j) => {
      const c = j.criteria || {};
      const what = [c.address, c.mailbox && 'mailbox ' + c.mailbox, c.received_before && 'before ' + fmtTime(c.received_before)]
        .filter(Boolean).join(' · ');
      return el('tr', { 'data-erasure-id': j.id, 'data-status': j.status },
        el('td', { class: 'num' }, '#' + j.id),
        el('td', { class: 'when', title: fmtTime(j.created_at) }, fmtAgo(j.created_at), el('span', { class: 'sub' }, j.requested_by)),
        el('td', {}, el('span', { class: 'badge ' + j.status, title: j.error_message || '' }, j.status)),
        el('td', {}, what),
        el('td', { class: 'num' }, `${nf.format(j.erased)} / ${nf.format(j.matched)}`));
    });
    body.replaceChildren(el('table', { id: 'erasure-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'Job'), el('th', {}, 'Requested'), el('th', {}, 'Status'),
        el('th', {}, 'Criteria'), el('th', { class: 'num' }, 'Erased / matched'))),
      el('tbody', {}, ...rows)));
  }

  function renderReconsUnavailable(message) {
    $('recon-body').replaceChildren(el('p', { class: 'empty-row' }, message));
    $('start-recon').disabled = true;
  }

  function renderChart() {
    const span = window.MailsyncChart.render($('chart'), state.series, Date.now(), refreshMs * 3);
    const min = Math.round(span / 60e3);
    $('chart-span').textContent = min >= 60 ? 'last hour' : `last ${min} min (since this page opened; up to an hour is kept)`;
  }

  // ---- actions ----------------------------------------------------------

  function showMsg(id, ok, text) {
    const m = $(id);
    m.className = 'msg ' + (ok ? 'ok' : 'bad');
    m.textContent = text;
    m.hidden = false;
  }

  // redrive re-drives the failures filter selects (all for none).
  async function redrive(filter) {
    const btn = $('redrive');
    btn.disabled = true;
    const f = filter || {};
    try {
      const res = await api('POST', '/v1/sync/failures/retry', f);
      const which = f.error !== undefined ? ' with this error' : '';
      showMsg('redrive-msg', true, res.requeued
        ? `Re-enqueued ${plural(res.requeued, 'failed email', 'failed emails')}${which}; the relay is retrying now.`
        : `Nothing to re-drive: no email${which} is failed.`);
    } catch (err) {
      if (err.status === 401) return disconnect(explain(err));
      showMsg('redrive-msg', false, explain(err, 'admin', 're-driving failed emails'));
    }
    schedule(0);
  }

  async function startRecon() {
    const btn = $('start-recon');
    btn.disabled = true;
    const dry = $('dry-run').checked;
    try {
      const rep = await api('POST', '/v1/reconciliations', { dry_run: dry });
      showMsg('recon-msg', true, `Reconciliation #${rep.id} started${dry ? ' (dry run: nothing will be repaired)' : ''}.`);
    } catch (err) {
      if (err.status === 401) return disconnect(explain(err));
      showMsg('recon-msg', false, explain(err, 'admin', 'starting a reconciliation'));
      btn.disabled = false;
    }
    schedule(0);
  }

  // ---- wiring -----------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('refresh-s').textContent = String(refreshMs / 1000);
    $('key-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const key = $('key-input').value.trim();
      $('key-input').value = '';
      if (key) connect(key);
    });
    $('forget-key').addEventListener('click', () => disconnect(''));
    $('redrive').addEventListener('click', () => redrive());
    $('start-recon').addEventListener('click', startRecon);
    window.addEventListener('resize', () => { if (state.key) renderChart(); });
    document.addEventListener('visibilitychange', () => { if (!document.hidden && state.key) schedule(0); });
    if (state.key) connect(state.key);
    else showConnect('');
  });
})();
