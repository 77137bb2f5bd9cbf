'use strict';
// The Parley studio page: no library, no request to any other origin.
(() => {
  const T = {
    en: {
      title: 'Parley studio', flow: 'Flow file', language: 'Language', token: 'Admin token',
      editor: 'Flow', save: 'Save', problems: 'Problems', chat: 'Chat', send: 'Send',
      placeholder: 'Type a message', newUser: 'New test user', held: 'What the vault holds for the test user',
      field: 'Field', value: 'Value', purpose: 'Purpose', expires: 'Expires', nothingHeld: 'Nothing is held.',
      clock: "Test user's clock", jump: 'Move forward', erase: 'Erase test user', graph: 'Graph',
      datamap: 'Data map', type: 'Type', basis: 'Legal basis', retention: 'Kept', special: 'Special category',
      recipients: 'Recipients', recipientsTitle: 'Where data goes', noRecipients: 'No data leaves Parley.',
      noProblems: 'No problems found.', lineCol: 'Line {line}, column {col}',
      sev_error: 'error', sev_warning: 'warning', sev_info: 'info',
      saved: 'Saved; the flows reloaded.', notSaved: 'Not saved: fix the errors first.',
      currentStep: 'Current step: {step}', noStep: 'No step is waiting.', ended: 'The conversation has ended.',
      noGraph: 'The flow has errors: the graph shows its last version without errors.',
      endOfConversation: 'end of the conversation', studioTime: "Test user's time: {t} ({d} ahead of now)",
      swept: 'Moved forward. The sweep deleted {n} expired field(s).', erased: 'The test user was erased. The next message starts a new one.',
      newConversation: 'New test user; conversation with {flow}.', consent: 'Consent for {p}: {d}',
      sends: 'sends {fields}, for {p}', needToken: 'This studio is reached from another machine: enter an admin token.',
      failed: 'Failed: {e}', none: '—', expired: 'expired',
      // The server's failures, by code (adapters/studio failures).
      err_otherSite: 'the studio takes requests from its own page only',
      err_notJSON: 'Content-Type must be application/json',
      err_tooLarge: 'the flow is larger than the studio takes (1 MiB)',
      err_noFile: 'there is no flow file of that name in the flow directory',
      err_unreadable: 'the flow file cannot be read',
      err_badRequest: 'the request is not one the studio takes',
      err_notReloaded: 'the file was saved, but the served flows did not reload: another flow file has errors or uses the same flow id; see the server log',
      err_saveFailed: 'the flow could not be saved; see the server log',
      err_userGone: 'this test user is gone (the server restarted or too many were started); start a new test user',
      err_notLoaded: 'that flow is not loaded: save it without errors first',
      err_turnFailed: 'the turn failed; see the server log',
      err_heldFailed: "the test user's data cannot be read; see the server log",
      err_sweepFailed: 'the sweep failed; see the server log',
      err_eraseFailed: 'the erasure failed; see the server log',
      err_badAdvance: 'say how far to move the clock as years, weeks, days, hours or minutes, such as 1y, 8w, 31d, 12h or 1d12h',
      err_advanceRange: 'move the clock forward by at least a minute and at most ten years',
    },
    it: {
      title: 'Studio di Parley', flow: 'File del flusso', language: 'Lingua', token: 'Token di amministrazione',
      editor: 'Flusso', save: 'Salva', problems: 'Problemi', chat: 'Chat', send: 'Invia',
      placeholder: 'Scrivi un messaggio', newUser: 'Nuovo utente di prova', held: "Cosa conserva il vault per l'utente di prova",
      field: 'Campo', value: 'Valore', purpose: 'Finalità', expires: 'Scade', nothingHeld: 'Non è conservato nulla.',
      clock: "Orologio dell'utente di prova", jump: 'Vai avanti', erase: 'Cancella utente di prova', graph: 'Grafo',
      datamap: 'Mappa dei dati', type: 'Tipo', basis: 'Base giuridica', retention: 'Conservazione', special: 'Categoria particolare',
      recipients: 'Destinatari', recipientsTitle: 'Dove vanno i dati', noRecipients: 'Nessun dato esce da Parley.',
      noProblems: 'Nessun problema trovato.', lineCol: 'Riga {line}, colonna {col}',
      sev_error: 'errore', sev_warning: 'avviso', sev_info: 'info',
      saved: 'Salvato; i flussi sono stati ricaricati.', notSaved: 'Non salvato: correggi prima gli errori.',
      currentStep: 'Passo attuale: {step}', noStep: 'Nessun passo in attesa.', ended: 'La conversazione è finita.',
      noGraph: "Il flusso ha errori: il grafo mostra la sua ultima versione senza errori.",
      endOfConversation: 'fine della conversazione', studioTime: "Ora dell'utente di prova: {t} ({d} avanti rispetto a ora)",
      swept: 'Orologio spostato. La pulizia ha cancellato {n} campi scaduti.', erased: "L'utente di prova è stato cancellato. Il prossimo messaggio ne inizia uno nuovo.",
      newConversation: 'Nuovo utente di prova; conversazione con {flow}.', consent: 'Consenso per {p}: {d}',
      sends: 'invia {fields}, per {p}', needToken: 'Questo studio è raggiunto da un altro computer: inserisci un token di amministrazione.',
      failed: 'Non riuscito: {e}', none: '—', expired: 'scaduto',
      err_otherSite: 'lo studio accetta richieste solo dalla sua pagina',
      err_notJSON: 'il Content-Type deve essere application/json',
      err_tooLarge: 'il flusso è più grande di quanto lo studio accetti (1 MiB)',
      err_noFile: 'nella cartella dei flussi non c\'è un file con quel nome',
      err_unreadable: 'il file del flusso non si può leggere',
      err_badRequest: 'la richiesta non è una di quelle che lo studio accetta',
      err_notReloaded: 'il file è stato salvato, ma i flussi serviti non sono stati ricaricati: un altro file ha errori o usa lo stesso id di flusso; vedi il log del server',
      err_saveFailed: 'il flusso non si è potuto salvare; vedi il log del server',
      err_userGone: 'questo utente di prova non c\'è più (il server è ripartito o ne sono stati avviati troppi); avvia un nuovo utente di prova',
      err_notLoaded: 'quel flusso non è caricato: salvalo prima senza errori',
      err_turnFailed: 'il turno non è riuscito; vedi il log del server',
      err_heldFailed: 'i dati dell\'utente di prova non si possono leggere; vedi il log del server',
      err_sweepFailed: 'la pulizia non è riuscita; vedi il log del server',
      err_eraseFailed: 'la cancellazione non è riuscita; vedi il log del server',
      err_badAdvance: 'indica di quanto spostare l\'orologio in anni, settimane, giorni, ore o minuti, per esempio 1y, 8w, 31d, 12h o 1d12h',
      err_advanceRange: 'sposta l\'orologio in avanti di almeno un minuto e al massimo dieci anni',
    },
  };
  const $ = (id) => document.getElementById(id);
  const state = { held: [], lang: 'en', file: '', flow: '', session: '', step: '', status: '', lintSeq: 0, errors: 0, token: '', data: null };
  const t = (key, vars) => {
    let s = (T[state.lang] && T[state.lang][key]) || T.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) {
      // A server failure is kept by its code, so it is said again in the
      // language picked later.
      const said = typeof v === 'string' && v.startsWith('@err_') ? t(v.slice(1)) : String(v);
      s = s.replaceAll('{' + k + '}', said);
    }
    return s;
  };

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const res = await fetch('/studio/api' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    if (res.status === 401) {
      $('token-row').hidden = false;
      throw new Error(t('needToken'));
    }
    let data = {};
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok && res.status !== 422) {
      throw new Error(data.code && T.en['err_' + data.code] ? '@err_' + data.code : data.error || res.statusText);
    }
    return { status: res.status, data };
  }

  // result shows a translated message in a result line; it is written
  // again in the new language when the language changes.
  function result(id, key, vars, ok) {
    const el = $(id);
    el.dataset.msg = key;
    el.dataset.vars = JSON.stringify(vars || {});
    el.textContent = t(key, vars);
    el.className = ok ? 'ok-text' : 'bad-text';
  }

  function setStatus(msg, bad) {
    $('status').textContent = msg || '';
    $('status').className = bad ? 'bad-text' : '';
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of document.querySelectorAll('[data-msg]')) {
      if (el.textContent) el.textContent = t(el.dataset.msg, JSON.parse(el.dataset.vars || '{}'));
    }
    if (state.data) renderChecked(state.data);
    renderStep();
  }

  // Editor: a textarea with a gutter of line numbers marked where the
  // linter found something.
  function renderGutter(diags) {
    const lines = $('source').value.split('\n').length;
    const marks = new Map();
    for (const d of diags || []) {
      const cur = marks.get(d.line);
      if (cur !== 'error') marks.set(d.line, d.severity === 'error' ? 'error' : (cur || d.severity));
    }
    const g = $('gutter');
    g.textContent = '';
    for (let i = 1; i <= lines; i++) {
      const div = document.createElement('div');
      div.textContent = String(i);
      div.dataset.line = String(i);
      const m = marks.get(i);
      if (m) div.className = m === 'error' ? 'err' : 'warn';
      g.appendChild(div);
    }
    g.scrollTop = $('source').scrollTop;
  }

  function goToLine(line, col) {
    const ta = $('source');
    const lines = ta.value.split('\n');
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    pos += Math.max(0, (col || 1) - 1);
    ta.focus();
    ta.setSelectionRange(pos, pos);
    ta.scrollTop = Math.max(0, (line - 5) * 18);
  }

  function renderDiagnostics(diags) {
    const ul = $('diagnostics');
    ul.textContent = '';
    if (!diags.length) {
      const li = document.createElement('li');
      li.className = 'ok';
      li.textContent = t('noProblems');
      ul.appendChild(li);
    }
    for (const d of diags) {
      const li = document.createElement('li');
      li.className = d.severity;
      li.dataset.line = String(d.line);
      li.dataset.rule = d.rule;
      li.textContent = t('lineCol', { line: d.line, col: d.col }) + ': ' + t('sev_' + d.severity) + ': ' + d.message + ' [' + d.rule + ']' +
        (d.suggest ? ' — ' + d.suggest : '');
      if (d.detail) li.title = d.detail;
      li.addEventListener('click', () => goToLine(d.line, d.col));
      ul.appendChild(li);
    }
    renderGutter(diags);
  }

  // The graph is drawn from the last text without errors; while the text
  // has errors that graph stays, with a note.
  function renderGraph(svgText) {
    const box = $('graph');
    $('graph-note').textContent = svgText ? '' : t('noGraph');
    if (!svgText) return;
    box.textContent = '';
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    box.appendChild(document.importNode(doc.documentElement, true));
    renderStep();
  }

  function renderStep() {
    for (const g of document.querySelectorAll('#graph g.current')) g.classList.remove('current');
    let text = t('noStep');
    if (state.step) {
      const g = document.getElementById('s_' + state.step);
      if (g) {
        g.classList.add('current');
        g.scrollIntoView({ block: 'nearest' });
      }
      text = t('currentStep', { step: state.step });
    } else if (state.status === 'ended') {
      text = t('ended');
    }
    $('current-step').textContent = text;
  }

  function cell(tr, text) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null || text === '' ? t('none') : String(text);
    tr.appendChild(td);
  }

  function renderDataMap(m) {
    const tb = $('datamap').querySelector('tbody');
    tb.textContent = '';
    const ul = $('recipients');
    ul.textContent = '';
    if (!m) return;
    for (const f of m.fields) {
      const tr = document.createElement('tr');
      tr.dataset.field = f.name;
      cell(tr, f.name); cell(tr, f.type); cell(tr, f.purpose); cell(tr, f.basis); cell(tr, f.retention);
      cell(tr, f.special); cell(tr, (f.recipients || []).join(', '));
      tb.appendChild(tr);
    }
    if (!m.recipients.length) {
      const li = document.createElement('li');
      li.textContent = t('noRecipients');
      ul.appendChild(li);
    }
    for (const r of m.recipients) {
      const li = document.createElement('li');
      li.dataset.recipient = r.name;
      li.textContent = r.name + ' (' + r.host + '): ' + t('sends', { fields: (r.sends || []).join(', '), p: r.purpose });
      ul.appendChild(li);
    }
  }

  function renderChecked(data) {
    state.data = data;
    state.errors = data.errors;
    if (data.flow) state.flow = data.flow;
    renderDiagnostics(data.diagnostics);
    renderGraph(data.graph);
    renderDataMap(data.datamap);
    $('save').disabled = data.errors > 0;
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }

  // renderHeld shows what the vault holds; gone, when given, are fields
  // held before a clock jump and deleted by its sweep, shown struck out.
  function renderHeld(h, gone) {
    const tb = $('held').querySelector('tbody');
    tb.textContent = '';
    const row = (f, expired) => {
      const tr = document.createElement('tr');
      tr.dataset.field = f.field;
      if (expired) tr.className = 'expired';
      cell(tr, f.field); cell(tr, f.value); cell(tr, f.purpose + ' (' + f.basis + ')');
      const when = f.expires_at ? fmtTime(f.expires_at) : t('endOfConversation');
      cell(tr, expired ? when + ' — ' + t('expired') : when);
      tb.appendChild(tr);
    };
    for (const f of h.fields) row(f, false);
    for (const f of gone || []) row(f, true);
    state.held = h.fields;
    $('held-empty').hidden = h.fields.length > 0;
    const ul = $('consents');
    ul.textContent = '';
    for (const c of h.consents) {
      const li = document.createElement('li');
      li.textContent = t('consent', { p: c.purpose, d: c.decision });
      ul.appendChild(li);
    }
    const hours = h.offset_hours || 0;
    const ahead = hours >= 24 ? Math.round(hours / 24 * 10) / 10 + 'd' : Math.round(hours) + 'h';
    $('clock-now').textContent = t('studioTime', { t: fmtTime(h.now), d: ahead });
  }

  async function refreshHeld() {
    if (!state.session) return;
    const { data } = await api('POST', '/held', { session: state.session });
    renderHeld(data);
  }

  // Chat.
  function addLine(kind, text, options) {
    const li = document.createElement('li');
    li.className = kind;
    if (kind === 'bot' || kind === 'user') {
      li.classList.add('msg');
      const b = document.createElement('span');
      b.className = 'bubble';
      b.textContent = text;
      li.appendChild(b);
    } else {
      li.textContent = text;
    }
    if (options && options.length) {
      const div = document.createElement('div');
      div.className = 'options';
      for (const o of options) {
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.textContent = o.title;
        btn.dataset.optionId = o.id;
        btn.addEventListener('click', () => send('', o.id, o.title));
        div.appendChild(btn);
      }
      li.appendChild(div);
    }
    $('transcript').appendChild(li);
    $('transcript').scrollTop = $('transcript').scrollHeight;
  }

  let busy = false;
  async function send(text, choice, shown) {
    if (busy) return;
    busy = true;
    $('send').disabled = true;
    try {
      if (!state.session) await newUser(false);
      if (text || choice) {
        for (const b of document.querySelectorAll('#transcript .options button')) b.disabled = true;
        addLine('user', shown || text);
      }
      const { data } = await api('POST', '/chat', { session: state.session, flow: state.flow, text, choice });
      for (const m of data.messages) addLine('bot', m.text, m.options);
      state.step = data.step;
      state.status = data.status;
      renderStep();
      await refreshHeld();
    } catch (e) {
      addLine('system error', t('failed', { e: e.message }));
    } finally {
      busy = false;
      $('send').disabled = false;
    }
  }

  async function newUser(open) {
    const { data } = await api('POST', '/session', {});
    state.session = data.session;
    state.step = '';
    state.status = '';
    $('transcript').textContent = '';
    $('sweep-result').textContent = '';
    $('erase-result').textContent = '';
    addLine('system', t('newConversation', { flow: state.flow }));
    renderStep();
    if (open) {
      busy = false;
      await send('', '');
    } else {
      await refreshHeld();
    }
  }

  // Flow files.
  async function openFile(name) {
    const { data } = await api('GET', '/file?name=' + encodeURIComponent(name));
    state.file = name;
    $('source').value = data.source;
    $('graph').textContent = '';
    $('save-result').textContent = '';
    renderChecked(data);
  }

  let lintTimer = 0;
  function scheduleLint() {
    clearTimeout(lintTimer);
    renderGutter(state.data ? state.data.diagnostics : []);
    lintTimer = setTimeout(async () => {
      const seq = ++state.lintSeq;
      try {
        const { data } = await api('POST', '/lint', { file: state.file, source: $('source').value });
        if (seq === state.lintSeq) renderChecked(data);
      } catch (e) {
        setStatus(t('failed', { e: e.message }), true);
      }
    }, 250);
  }

  async function save() {
    try {
      const { status, data } = await api('POST', '/save', { file: state.file, source: $('source').value });
      renderChecked(data);
      if (status === 422 || !data.saved) {
        result('save-result', 'notSaved', {}, false);
        return;
      }
      result('save-result', 'saved', {}, true);
    } catch (e) {
      result('save-result', 'failed', { e: e.message }, false);
    }
  }

  async function jump() {
    try {
      const before = state.held || [];
      const { data } = await api('POST', '/clock', { session: state.session, advance: $('advance').value });
      const still = new Set(data.fields.map((f) => f.field));
      renderHeld(data, before.filter((f) => !still.has(f.field)));
      result('sweep-result', 'swept', { n: data.swept }, true);
    } catch (e) {
      result('sweep-result', 'failed', { e: e.message }, false);
    }
  }

  async function erase() {
    try {
      const { data } = await api('POST', '/erase', { session: state.session });
      renderHeld(data);
      result('erase-result', 'erased', {}, true);
      state.session = '';
      state.step = '';
      state.status = '';
      renderStep();
    } catch (e) {
      result('erase-result', 'failed', { e: e.message }, false);
    }
  }

  async function start() {
    state.lang = (navigator.language || 'en').toLowerCase().startsWith('it') ? 'it' : 'en';
    $('lang').value = state.lang;
    applyLanguage();
    $('lang').addEventListener('change', () => { state.lang = $('lang').value; applyLanguage(); });
    $('token').addEventListener('change', () => { state.token = $('token').value; start2(); });
    $('source').addEventListener('input', scheduleLint);
    $('source').addEventListener('scroll', () => { $('gutter').scrollTop = $('source').scrollTop; });
    $('save').addEventListener('click', save);
    $('composer').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = $('text').value.trim();
      if (!text) return;
      $('text').value = '';
      send(text, '');
    });
    $('new-user').addEventListener('click', () => newUser(true).catch((e) => setStatus(t('failed', { e: e.message }), true)));
    $('jump').addEventListener('click', jump);
    $('erase').addEventListener('click', erase);
    $('file').addEventListener('change', async () => {
      await openFile($('file').value);
      await newUser(true);
    });
    await start2();
  }

  async function start2() {
    try {
      const { data } = await api('GET', '/files');
      const sel = $('file');
      sel.textContent = '';
      for (const f of data.files) {
        const o = document.createElement('option');
        o.value = f.file;
        o.textContent = f.file;
        sel.appendChild(o);
      }
      const want = new URLSearchParams(location.search).get('file');
      if (want && data.files.some((f) => f.file === want)) sel.value = want;
      setStatus('');
      if (sel.value) {
        await openFile(sel.value);
        await newUser(true);
      }
    } catch (e) {
      setStatus(t('failed', { e: e.message }), true);
    }
  }

  document.addEventListener('DOMContentLoaded', start);
})();
