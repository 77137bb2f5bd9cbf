// The operator console. It keeps nothing: every view is read from the
// admin API, which authenticates, authorizes and audits each request.
(function () {
  'use strict';
  var T = {
    en: {
      title: 'Parley console', tabQueue: 'Hand-offs', tabDPO: 'Data protection', language: 'Language',
      queueTitle: 'Conversations waiting for a person', queueHint: 'Oldest first. A conversation is listed by an opaque reference, never by phone number.',
      refresh: 'Refresh', colRef: 'Reference', colAge: 'Waiting', colReason: 'Reason', colChannel: 'Channel', colFlow: 'Flow',
      colLeft: 'Bot takes back in', queueEmpty: 'Nobody is waiting.', back: 'Back to the queue', convTitle: 'Conversation',
      convAudited: 'Opening a conversation is recorded in the audit log as an access to personal data.',
      replyLabel: 'Reply to the customer', send: 'Send', returnLabel: 'Hand back to the bot at step', handBack: 'Hand back',
      close: 'Close the conversation', subjectTitle: 'Data-subject requests', channel: 'Channel',
      user: 'Customer (phone number or web id)', export: 'Export', erase: 'Erase…', eraseConfirm: 'Erase everything, for good',
      field: 'Field', value: 'New value', rectify: 'Rectify', auditTitle: 'Audit log', auditSubject: 'Subject reference',
      auditAction: 'Action begins with', auditActor: 'Actor begins with', auditRead: 'Read', auditVerify: 'Verify the chain',
      colAt: 'When', colActor: 'Who', colAction: 'Action', colSubject: 'Subject',
      reasonKeyword: 'asked for a person', reasonStep: 'flow step', reasonIntegration: 'integration failed',
      customer: 'Customer', staff: 'Team', since: 'Waiting since', lang: 'language',
      sent: 'Reply sent.', handedBack: 'Handed back to the bot.', closed: 'Conversation closed.', gone: 'This conversation is no longer handed off.',
      denied: 'Your role does not allow this.', failed: 'That did not work: ', exported: 'Export of the subject:', erased: 'Erased. Receipt:',
      rectified: 'Rectified.', verified: 'The audit chain verifies: %n entries.', broken: 'The audit chain is BROKEN after %n entries.',
      entries: '%n entries.', unreachable: 'The server cannot be reached.',
      signedInAs: 'Signed in as', signOut: 'Sign out', noAccess: 'Your role gives no access to customers\' conversations or data.',
      tabStaff: 'Staff', staffTitle: 'Staff accounts', tokensTitle: 'API tokens',
      staffHint: 'Disabling an account or revoking a token takes effect at once. Accounts are added, reset and given roles with parley staff.',
      colName: 'Name', colId: 'Id', colRole: 'Role', colTwoFactor: 'Two-factor', colState: 'State', colOwner: 'Owner', colExpires: 'Expires',
      active: 'active', disabled: 'disabled', yes: 'yes', no: 'no', disable: 'Disable', enable: 'Enable', revoke: 'Revoke', done: 'Done.'
    },
    it: {
      title: 'Console Parley', tabQueue: 'Passaggi a operatore', tabDPO: 'Protezione dei dati', language: 'Lingua',
      queueTitle: 'Conversazioni in attesa di una persona', queueHint: 'Dalla più vecchia. Ogni conversazione è indicata da un riferimento opaco, mai dal numero di telefono.',
      refresh: 'Aggiorna', colRef: 'Riferimento', colAge: 'In attesa da', colReason: 'Motivo', colChannel: 'Canale', colFlow: 'Flusso',
      colLeft: 'Il bot riprende tra', queueEmpty: 'Nessuno è in attesa.', back: 'Torna alla coda', convTitle: 'Conversazione',
      convAudited: 'Aprire una conversazione viene registrato nel log di audit come accesso a dati personali.',
      replyLabel: 'Rispondi al cliente', send: 'Invia', returnLabel: 'Restituisci al bot al passo', handBack: 'Restituisci',
      close: 'Chiudi la conversazione', subjectTitle: 'Richieste degli interessati', channel: 'Canale',
      user: 'Cliente (numero di telefono o id web)', export: 'Esporta', erase: 'Cancella…', eraseConfirm: 'Cancella tutto, definitivamente',
      field: 'Campo', value: 'Nuovo valore', rectify: 'Rettifica', auditTitle: 'Log di audit', auditSubject: 'Riferimento interessato',
      auditAction: 'Azione che inizia con', auditActor: 'Autore che inizia con', auditRead: 'Leggi', auditVerify: 'Verifica la catena',
      colAt: 'Quando', colActor: 'Chi', colAction: 'Azione', colSubject: 'Interessato',
      reasonKeyword: 'ha chiesto una persona', reasonStep: 'passo del flusso', reasonIntegration: 'integrazione non riuscita',
      customer: 'Cliente', staff: 'Team', since: 'In attesa dal', lang: 'lingua',
      sent: 'Risposta inviata.', handedBack: 'Restituita al bot.', closed: 'Conversazione chiusa.', gone: 'Questa conversazione non è più in attesa.',
      denied: 'Il tuo ruolo non lo consente.', failed: 'Non è riuscito: ', exported: 'Esportazione dell\'interessato:', erased: 'Cancellato. Ricevuta:',
      rectified: 'Rettificato.', verified: 'La catena di audit è integra: %n voci.', broken: 'La catena di audit è ROTTA dopo %n voci.',
      entries: '%n voci.', unreachable: 'Il server non è raggiungibile.',
      signedInAs: 'Accesso come', signOut: 'Esci', noAccess: 'Il tuo ruolo non dà accesso alle conversazioni né ai dati dei clienti.',
      tabStaff: 'Personale', staffTitle: 'Account del personale', tokensTitle: 'Token API',
      staffHint: 'Disattivare un account o revocare un token ha effetto subito. Gli account si aggiungono, si reimpostano e ricevono un ruolo con parley staff.',
      colName: 'Nome', colId: 'Id', colRole: 'Ruolo', colTwoFactor: 'Due fattori', colState: 'Stato', colOwner: 'Titolare', colExpires: 'Scade',
      active: 'attivo', disabled: 'disattivato', yes: 'sì', no: 'no', disable: 'Disattiva', enable: 'Riattiva', revoke: 'Revoca', done: 'Fatto.'
    }
  };
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var lang = params.get('lang') || ((navigator.language || 'en').slice(0, 2) === 'it' ? 'it' : 'en');
  if (!T[lang]) { lang = 'en'; }
  var current = null; // the opened hand-off's reference
  var allowed = []; // the actions of the signed-in role (GET /me)
  var myID = ''; // the signed-in account's id

  function can(action) { return allowed.indexOf(action) >= 0; }

  function t(key, n) { return (T[lang][key] || T.en[key] || key).replace('%n', n); }

  function translate() {
    document.documentElement.lang = lang;
    $('lang').value = lang;
    document.title = t('title');
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = t(el.getAttribute('data-t')); });
  }

  function status(text, isError) {
    var s = $('status');
    s.textContent = text;
    s.className = isError ? 'error' : '';
  }

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)parley_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : '';
  }

  // api calls a route under /admin/v1 and resolves to {status, data}. A
  // 401 goes to the sign-in page.
  function api(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    if (method === 'POST') {
      headers['Content-Type'] = 'application/json';
      var token = csrf();
      if (token) { headers['X-CSRF-Token'] = token; }
    }
    return fetch('/admin/v1' + path, {
      method: method, credentials: 'same-origin', headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.status === 401) {
        location.href = '/console/login';
        return new Promise(function () {});
      }
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 403) { status(t('denied'), true); }
        return { status: res.status, data: data };
      });
    }, function () {
      status(t('unreachable'), true);
      return { status: 0, data: {} };
    });
  }

  function span(ms) {
    var m = Math.max(0, Math.round(ms / 60000));
    if (m < 60) { return m + 'm'; }
    var h = Math.floor(m / 60);
    if (h < 48) { return h + 'h ' + (m % 60) + 'm'; }
    return Math.floor(h / 24) + 'd';
  }

  function reasonText(r) {
    if (r === 'keyword') { return t('reasonKeyword'); }
    var kind = r.split(':')[0], rest = r.slice(kind.length + 1);
    if (kind === 'step') { return t('reasonStep') + ' ' + rest; }
    if (kind === 'integration') { return t('reasonIntegration') + ' (' + rest + ')'; }
    return r;
  }

  function cell(tr, text) {
    var td = document.createElement('td');
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function show(view) {
    ['queue-view', 'conv-view', 'dpo-view', 'staff-view'].forEach(function (id) { $(id).hidden = id !== view; });
    $('tab-queue').setAttribute('aria-pressed', String(view === 'queue-view' || view === 'conv-view'));
    $('tab-dpo').setAttribute('aria-pressed', String(view === 'dpo-view'));
    $('tab-staff').setAttribute('aria-pressed', String(view === 'staff-view'));
  }

  function loadQueue() {
    show('queue-view');
    current = null;
    return api('GET', '/handoffs').then(function (r) {
      var body = $('queue').tBodies[0];
      body.textContent = '';
      if (r.status !== 200) { return; }
      var now = Date.now();
      (r.data.handoffs || []).forEach(function (h) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-ref', h.ref);
        var code = document.createElement('code');
        code.textContent = h.ref.slice(0, 12);
        cell(tr, '').appendChild(code);
        cell(tr, span(now - Date.parse(h.since)));
        cell(tr, reasonText(h.reason));
        cell(tr, h.channel);
        cell(tr, h.flow);
        cell(tr, span(Date.parse(h.until) - now));
        tr.addEventListener('click', function () { openHandoff(h.ref); });
        body.appendChild(tr);
      });
      $('queue-empty').hidden = (r.data.handoffs || []).length > 0;
    });
  }

  function openHandoff(ref) {
    return api('GET', '/handoffs/' + encodeURIComponent(ref)).then(function (r) {
      if (r.status !== 200) {
        status(r.status === 404 ? t('gone') : t('failed') + (r.data.error || r.status), true);
        return;
      }
      var d = r.data;
      current = ref;
      show('conv-view');
      $('conv-ref').textContent = ref.slice(0, 12);
      $('conv-meta').textContent = d.channel + ' · ' + d.flow + ' · ' + reasonText(d.reason) + ' · ' + t('since') + ' ' +
        new Date(d.since).toLocaleString(lang) + (d.language ? ' · ' + t('lang') + ' ' + d.language : '');
      var list = $('conv-transcript');
      list.textContent = '';
      d.transcript.forEach(function (l) {
        var li = document.createElement('li');
        li.className = l.from;
        var when = document.createElement('time');
        when.textContent = t(l.from) + ' · ' + new Date(l.at).toLocaleString(lang);
        li.appendChild(when);
        li.appendChild(document.createTextNode(l.text));
        list.appendChild(li);
      });
      var sel = $('return-step');
      sel.textContent = '';
      d.steps.forEach(function (s) {
        var o = document.createElement('option');
        o.value = o.textContent = s;
        sel.appendChild(o);
      });
    });
  }

  function act(path, body, done) {
    return api('POST', '/handoffs/' + encodeURIComponent(current) + path, body).then(function (r) {
      if (r.status === 200) {
        status(t(done));
        return true;
      }
      if (r.status === 409) { status(t('gone'), true); } else if (r.status !== 403) { status(t('failed') + (r.data.error || r.status), true); }
      return false;
    });
  }

  $('reply-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = $('reply-text').value;
    if (!text.trim() || !current) { return; }
    act('/reply', { text: text }, 'sent').then(function (ok) {
      if (ok) { $('reply-text').value = ''; openHandoff(current); }
    });
  });
  $('return-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    act('/return', { step: $('return-step').value }, 'handedBack').then(function (ok) { if (ok) { loadQueue(); } });
  });
  $('close-conv').addEventListener('click', function () {
    act('/close', undefined, 'closed').then(function (ok) { if (ok) { loadQueue(); } });
  });
  $('back').addEventListener('click', loadQueue);
  $('refresh').addEventListener('click', loadQueue);
  $('tab-queue').addEventListener('click', loadQueue);
  $('tab-dpo').addEventListener('click', function () { show('dpo-view'); });
  $('lang').addEventListener('change', function () { lang = $('lang').value; translate(); });

  function subject() { return { channel: $('subject-channel').value, user: $('subject-user').value.trim() }; }
  function showResult(head, data) { $('subject-result').textContent = head + '\n' + JSON.stringify(data, null, 2); }
  function subjectCall(path, body, head) {
    return api('POST', path, body).then(function (r) {
      if (r.status === 200) { showResult(t(head), r.data); status(''); return; }
      if (r.status !== 403) { status(t('failed') + (r.data.error || r.status), true); }
    });
  }
  $('export').addEventListener('click', function () { subjectCall('/subjects/export', subject(), 'exported'); });
  $('erase').addEventListener('click', function () { $('erase-confirm').hidden = false; });
  $('erase-confirm').addEventListener('click', function () {
    $('erase-confirm').hidden = true;
    subjectCall('/subjects/erase', subject(), 'erased');
  });
  $('rectify').addEventListener('click', function () {
    var b = subject();
    b.field = $('rectify-field').value.trim();
    b.value = $('rectify-value').value;
    subjectCall('/subjects/rectify', b, 'rectified');
  });
  $('audit-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var q = new URLSearchParams();
    [['subject', 'audit-subject'], ['action', 'audit-action'], ['actor', 'audit-actor']].forEach(function (p) {
      var v = $(p[1]).value.trim();
      if (v) { q.set(p[0], v); }
    });
    api('GET', '/audit?' + q.toString()).then(function (r) {
      var body = $('audit').tBodies[0];
      body.textContent = '';
      if (r.status !== 200) { if (r.status !== 403) { status(t('failed') + (r.data.error || r.status), true); } return; }
      r.data.entries.slice().reverse().forEach(function (e) {
        var tr = document.createElement('tr');
        cell(tr, String(e.seq));
        cell(tr, new Date(e.at).toLocaleString(lang));
        cell(tr, e.actor);
        cell(tr, e.action);
        cell(tr, e.subject ? e.subject.slice(0, 12) : '');
        body.appendChild(tr);
      });
      status(t('entries', r.data.entries.length));
    });
  });
  $('audit-verify').addEventListener('click', function () {
    api('GET', '/audit/verify').then(function (r) {
      if (r.status === 200) { $('audit-verified').textContent = t('verified', r.data.verified); }
      if (r.status === 409) { $('audit-verified').textContent = t('broken', r.data.verified); }
    });
  });

  // staffButton is a button of a staff table row that posts body to path
  // and reloads the tab.
  function staffButton(tr, label, path, body) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = t(label);
    b.addEventListener('click', function () {
      api('POST', path, body).then(function (r) {
        if (r.status === 200) { status(t('done')); loadStaff(); } else if (r.status !== 403) { status(t('failed') + (r.data.error || r.status), true); }
      });
    });
    cell(tr, '').appendChild(b);
  }

  function loadStaff() {
    show('staff-view');
    var change = can('staff.change');
    api('GET', '/staff').then(function (r) {
      var body = $('staff').tBodies[0];
      body.textContent = '';
      if (r.status !== 200) { return; }
      r.data.accounts.forEach(function (a) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-name', a.name);
        cell(tr, a.name);
        cell(tr, a.id);
        cell(tr, a.role);
        cell(tr, t(a.two_factor ? 'yes' : 'no'));
        cell(tr, t(a.disabled ? 'disabled' : 'active')).className = 'state';
        if (change && a.id !== myID) { // one's own account: with parley staff
          staffButton(tr, a.disabled ? 'enable' : 'disable', a.disabled ? '/staff/enable' : '/staff/disable', { name: a.name });
        }
        body.appendChild(tr);
      });
    });
    api('GET', '/staff/tokens').then(function (r) {
      var body = $('tokens').tBodies[0];
      body.textContent = '';
      if (r.status !== 200) { return; }
      r.data.tokens.forEach(function (k) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-id', k.id);
        cell(tr, k.id);
        cell(tr, k.name);
        cell(tr, k.owner || '');
        cell(tr, k.role);
        cell(tr, new Date(k.expires).toLocaleString(lang));
        if (change) { staffButton(tr, 'revoke', '/staff/tokens/revoke', { id: k.id }); }
        body.appendChild(tr);
      });
    });
  }
  $('tab-staff').addEventListener('click', loadStaff);

  $('signout').addEventListener('click', function () {
    fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf() } })
      .then(function () { location.href = '/console/login'; }, function () { status(t('unreachable'), true); });
  });

  // applyRole shows only what the role allows; the server refuses the rest
  // whatever the page shows. The tabs stay hidden until then, so a click
  // cannot race it.
  function applyRole(me) {
    allowed = me.actions || [];
    myID = me.id;
    $('who-actor').textContent = me.actor + ' (' + me.role + ')';
    $('who').hidden = false;
    var queue = can('handoffs.list');
    var dpo = can('subjects.export') || can('subjects.erase') || can('subjects.rectify') || can('audit.read');
    $('tab-queue').hidden = !queue;
    $('tab-dpo').hidden = !dpo;
    $('close-conv').hidden = !can('handoffs.close');
    $('reply-form').hidden = !can('handoffs.reply');
    $('return-form').hidden = !can('handoffs.return');
    $('export').hidden = !can('subjects.export');
    $('erase').hidden = !can('subjects.erase');
    $('rectify-part').hidden = !can('subjects.rectify');
    $('audit-part').hidden = !can('audit.read');
    $('audit-verify').hidden = !can('audit.verify');
    var staff = can('staff.list');
    $('tab-staff').hidden = !staff;
    $('no-access').hidden = queue || dpo || staff;
    if (queue) { return loadQueue(); }
    if (dpo) { return show('dpo-view'); }
    if (staff) { loadStaff(); }
  }

  translate();
  api('GET', '/me').then(function (r) {
    if (r.status === 200) { applyRole(r.data); }
  });
})();
