// Chatterbox web client: the chat protocol of PROTOCOL.md over the server's WebSocket (/ws),
// one JSON object per text message. Plain JavaScript, no build step, no dependencies.
//
// Rule for everything below: what comes from the network is only ever put in the page as
// text (textContent, createTextNode, attribute values), never parsed as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const FEATURES = ['commands', 'accounts', 'history', 'files'];
  const EVERYONE = 'all';
  const CHUNK_BYTES = 192 * 1024;
  const PAGE_SIZE = 50;
  const MAX_RECONNECT_DELAY = 30000;
  const FILE_NOTICE = /^\[file\] (.+) \((\d+) bytes\) - fetch it with \/Get ([A-Za-z0-9_-]+)$/;
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/g;
  const IMAGE_TYPES = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });

  const state = {
    ws: null,
    me: null,
    meKey: null,
    typedName: '',
    password: '',
    serverUser: 'Chatterbox',
    loggedIn: false,
    everLoggedIn: false,
    leaving: false,
    reconnectDelay: 1000,
    reconnectTimer: null,
    countdownTimer: null,
    online: new Map(),
    conversations: new Map(),
    active: EVERYONE,
    historyCursor: null,
    historyMore: false,
    historyLoading: false,
    blocked: new Set(),
    pending: [],
    silentReplies: 0,
    uploads: [],
    upload: null,
    downloads: new Map(),
    search: { query: '', before: null, more: false },
    loginTime: 0,
  };

  // ---------------------------------------------------------------- names and conversations

  const keyOf = (name) => String(name).normalize('NFKC').toLowerCase().normalize('NFC');
  const isBroadcast = (dest) => keyOf(dest) === 'all';
  const isServer = (name) => keyOf(name) === keyOf(state.serverUser);

  function conversation(id, peerName) {
    let found = state.conversations.get(id);
    if (!found) {
      found = { id, peer: peerName || null, messages: [], seen: new Set(), unread: 0, mentioned: false };
      state.conversations.set(id, found);
    } else if (peerName) {
      found.peer = peerName;
    }
    return found;
  }

  const dmId = (name) => 'dm:' + keyOf(name);

  function conversationFor(src, dest) {
    if (isBroadcast(dest)) return conversation(EVERYONE);
    const peer = keyOf(src) === state.meKey ? dest : src;
    return conversation(dmId(peer), peer);
  }

  function conversationLabel(conv) {
    return conv.id === EVERYONE ? '# everyone' : conv.peer;
  }

  // ---------------------------------------------------------------- connection

  function socketURL() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    return scheme + location.host + '/ws';
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdownTimer);
    state.reconnectTimer = null;
    if (state.ws) {
      state.ws.onclose = null;
      state.ws.close();
    }
    let ws;
    try {
      ws = new WebSocket(socketURL());
    } catch (error) {
      loginError('Cannot open a connection: ' + error.message);
      return;
    }
    state.ws = ws;
    if (state.everLoggedIn) setBanner('Reconnecting…', false);
    ws.onopen = () => {
      const login = { USERNAME: state.typedName, FEATURES };
      if (state.password) login.PASSWORD = state.password;
      send(login);
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame === 'object' && !Array.isArray(frame)) onFrame(frame);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      const wasLoggedIn = state.loggedIn;
      state.loggedIn = false;
      updateComposerState();
      if (state.leaving) return;
      if (!state.everLoggedIn) {
        setLoginBusy(false);
        if (!$('login-error').textContent) loginError('Could not reach the chat server. Check the address and try again.');
        return;
      }
      if (wasLoggedIn) state.reconnectDelay = 1000;
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const delay = Math.min(state.reconnectDelay, MAX_RECONNECT_DELAY);
    // Jitter, so that a restarted server is not met by every browser at once.
    const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
    state.reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_DELAY);
    const due = Date.now() + wait;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setBanner('Connection lost. Reconnecting in ' + seconds + ' s… What you type is kept.', true);
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
    state.reconnectTimer = setTimeout(connect, wait);
  }

  function send(object) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(object));
    return true;
  }

  const now = () => Math.floor(Date.now() / 1000);

  function sendMessage(dest, content) {
    return send({ MESSAGES: [[state.me, dest, now(), content]] });
  }

  function sendCommand(line, silent) {
    if (silent) state.silentReplies += 1;
    return sendMessage(state.serverUser, line);
  }

  // ---------------------------------------------------------------- frames from the server

  function onFrame(frame) {
    if ('USERNAME_ACCEPTED' in frame) {
      onLoginReply(frame);
      return;
    }
    if (typeof frame.ERROR === 'string') {
      // Before the first login (a refused connection, a login deadline) the form says it.
      if (!state.everLoggedIn) loginError(frame.ERROR);
      else onError(frame.ERROR);
    }
    if (Array.isArray(frame.USERS_JOINED)) {
      for (const name of frame.USERS_JOINED) state.online.set(keyOf(name), String(name));
      renderPresence();
    }
    if (Array.isArray(frame.USERS_LEFT)) {
      for (const name of frame.USERS_LEFT) state.online.delete(keyOf(name));
      renderPresence();
    }
    if (frame.FILE_UPLOAD && typeof frame.FILE_UPLOAD === 'object') onFileUpload(frame.FILE_UPLOAD);
    if (frame.FILE_DATA && typeof frame.FILE_DATA === 'object') onFileData(frame.FILE_DATA, frame.FILE);
    if (Array.isArray(frame.MESSAGES)) {
      if (frame.HISTORY) onHistoryPage(frame.MESSAGES, frame.HISTORY);
      else if (frame.SEARCH) onSearchResults(frame.MESSAGES, frame.SEARCH);
      else onMessages(frame.MESSAGES);
    }
    if (typeof frame.INFO === 'string') addNote(state.active, frame.INFO, 'system');
  }

  function onLoginReply(frame) {
    if (frame.USERNAME_ACCEPTED !== true) {
      const reason = typeof frame.INFO === 'string' ? frame.INFO : 'The server refused that name.';
      if (state.everLoggedIn && !frame.PASSWORD_REQUIRED && /in use/i.test(reason)) {
        // Our previous connection may not have been noticed gone yet: try again shortly.
        if (state.ws) state.ws.close();
        return;
      }
      state.everLoggedIn = false;
      state.leaving = true;
      if (state.ws) state.ws.close();
      showLogin();
      if (frame.PASSWORD_REQUIRED) {
        $('password-row').hidden = false;
        $('login-password').focus();
      }
      loginError(reason);
      return;
    }
    const list = Array.isArray(frame.USER_LIST) ? frame.USER_LIST.map(String) : [];
    const typedKey = keyOf(state.typedName);
    state.me = list.find((name) => keyOf(name) === typedKey) || state.typedName;
    state.meKey = keyOf(state.me);
    if (typeof frame.SERVER_USER === 'string') state.serverUser = frame.SERVER_USER;
    state.online = new Map(list.map((name) => [keyOf(name), name]));
    state.loggedIn = true;
    state.everLoggedIn = true;
    state.reconnectDelay = 1000;
    state.loginTime = now();
    state.silentReplies = 0;
    setBanner(null);
    try { localStorage.setItem('chatterbox.name', state.me); } catch (error) { /* private mode */ }
    // The login replays the history: start the conversations again from it.
    for (const conv of state.conversations.values()) {
      conv.messages = [];
      conv.seen = new Set();
    }
    conversation(EVERYONE);
    const history = frame.HISTORY && typeof frame.HISTORY === 'object' ? frame.HISTORY : null;
    state.historyCursor = history ? history.BEFORE : null;
    state.historyMore = !!(history && history.MORE);
    state.historyLoading = false;
    for (const message of frame.MESSAGES || []) addChatMessage(message, { old: true });
    if (typeof frame.INFO === 'string') addNote(EVERYONE, frame.INFO, 'system', { quiet: true });
    $('me-name').textContent = state.me;
    showChat();
    sendCommand('/Blocked', true);
    // What was sent but not confirmed before the connection dropped goes again.
    const unconfirmed = state.pending.splice(0);
    for (const item of unconfirmed) queueSend(item.dest, item.content);
    if (state.upload) {
      // Offering the same file again resumes it where the server's copy ends.
      state.upload.row.element.remove();
      state.uploads.unshift({ file: state.upload.file, to: state.upload.to });
      state.upload = null;
    }
    nextUpload();
    for (const download of state.downloads.values()) {
      if (!download.done) send({ FILE_GET: { ID: download.id, OFFSET: download.received } });
    }
    renderAll();
  }

  function onError(text) {
    if (state.upload && /^(File |There is no upload|FILE_|Wait for FILE_UPLOAD)/.test(text)) {
      failUpload(text);
      return;
    }
    const download = [...state.downloads.values()].find((d) => !d.done && text.includes(d.id));
    if (download) {
      failDownload(download, text);
      return;
    }
    if (/^(Message not sent|Slow down|There is no user|You and |.* blocks? )/.test(text) && state.pending.length > 0) {
      const failed = state.pending.shift();
      failed.message.kind = 'error';
      failed.message.failed = true;
      rerenderIfActive(failed.conv);
    }
    addNote(state.active, text, 'error');
  }

  function onMessages(messages) {
    for (const message of messages) addChatMessage(message, { old: false });
    renderList();
    renderConversations();
    updateTitle();
  }

  function addChatMessage(raw, { old, prepend }) {
    if (!Array.isArray(raw) || raw.length < 4) return null;
    const [src, dest, ts, content] = [String(raw[0]), String(raw[1]), Number(raw[2]) || 0, String(raw[3])];
    if (isServer(src)) {
      if (!old) onServerLine(content);
      return null;
    }
    const conv = conversationFor(src, dest);
    const signature = src + '\u0000' + dest + '\u0000' + ts + '\u0000' + content;
    if (conv.seen.has(signature)) return null;
    conv.seen.add(signature);
    const fromMe = keyOf(src) === state.meKey;
    const message = { src, dest, ts, content, kind: 'chat' };
    if (fromMe) {
      const index = state.pending.findIndex((p) => p.conv === conv && p.content === content);
      if (index >= 0) {
        const [confirmed] = state.pending.splice(index, 1);
        const at = conv.messages.indexOf(confirmed.message);
        if (at >= 0) conv.messages.splice(at, 1);
      }
    }
    message.mention = !fromMe && mentionsMe(content);
    if (prepend) conv.messages.unshift(message);
    else conv.messages.push(message);
    const fresh = !old && ts >= state.loginTime - 5;
    if (fresh && !fromMe && (conv.id !== state.active || document.hidden)) {
      conv.unread += 1;
      if (message.mention || conv.id !== EVERYONE) conv.mentioned = true;
    }
    return message;
  }

  function mentionsMe(content) {
    if (!state.me) return false;
    return content.toLowerCase().includes('@' + state.me.toLowerCase());
  }

  /// A line from the server's pseudo-user: a command's answer.
  function onServerLine(text) {
    let match = /^You have blocked \(\d+\): (.*)$/.exec(text);
    if (match || text === 'You have not blocked anyone.') {
      state.blocked = new Set(match ? match[1].split(', ').map(keyOf) : []);
      renderConversations();
      renderUsers();
      renderHeader();
      if (state.silentReplies > 0) {
        state.silentReplies -= 1;
        return;
      }
    } else if ((match = /^You blocked (.+?)\. /.exec(text)) || (match = /^(.+) is already blocked\.$/.exec(text))) {
      state.blocked.add(keyOf(match[1]));
      renderAfterBlockChange();
    } else if ((match = /^You unblocked ([^,.]+)/.exec(text)) || (match = /^(.+) is not blocked\.$/.exec(text))) {
      state.blocked.delete(keyOf(match[1]));
      renderAfterBlockChange();
    }
    addNote(state.active, text, 'system');
  }

  function renderPresence() {
    renderUsers();
    renderConversations();
    renderHeader();
  }

  function renderAfterBlockChange() {
    renderConversations();
    renderUsers();
    renderHeader();
  }

  function addNote(convId, text, kind, options) {
    const conv = conversation(convId);
    conv.messages.push({ src: state.serverUser, dest: state.me, ts: now(), content: String(text), kind });
    if (!(options && options.quiet)) rerenderIfActive(conv);
  }

  // ---------------------------------------------------------------- history and search

  function requestOlder() {
    if (!state.loggedIn || !state.historyMore || state.historyLoading) return;
    state.historyLoading = true;
    $('older-button').disabled = true;
    send({ HISTORY: { BEFORE: state.historyCursor, LIMIT: PAGE_SIZE } });
  }

  function onHistoryPage(messages, info) {
    state.historyLoading = false;
    $('older-button').disabled = false;
    state.historyCursor = info.BEFORE;
    state.historyMore = !!info.MORE && info.BEFORE !== null;
    const scroller = $('scroller');
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    // Oldest first: prepending from the newest keeps the order.
    for (let i = messages.length - 1; i >= 0; i -= 1) addChatMessage(messages[i], { old: true, prepend: true });
    renderList();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }

  function startSearch(query) {
    state.search = { query, before: null, more: false };
    $('search-results').replaceChildren();
    $('search-title').textContent = 'Searching for “' + query + '”…';
    $('search-panel').hidden = false;
    send({ SEARCH: { QUERY: query, LIMIT: PAGE_SIZE } });
  }

  function onSearchResults(messages, info) {
    if (info.QUERY !== state.search.query) return;
    const list = $('search-results');
    const items = [];
    for (const raw of messages) {
      if (!Array.isArray(raw) || raw.length < 4) continue;
      const message = { src: String(raw[0]), dest: String(raw[1]), ts: Number(raw[2]) || 0, content: String(raw[3]), kind: 'chat' };
      const conv = conversationFor(message.src, message.dest);
      const item = messageElement(message, null, { tag: conversationLabel(conv) });
      item.tabIndex = 0;
      item.addEventListener('click', () => openConversation(conv.id));
      item.addEventListener('keydown', (event) => { if (event.key === 'Enter') openConversation(conv.id); });
      items.push(item);
    }
    // Older matches go above the ones shown.
    list.prepend(...items);
    state.search.before = info.BEFORE;
    state.search.more = !!info.MORE && info.BEFORE !== null;
    const count = list.children.length;
    $('search-title').textContent = count + (count === 1 ? ' message' : ' messages') + ' with “' + state.search.query + '”';
    $('search-more').hidden = !state.search.more;
  }

  // ---------------------------------------------------------------- sending

  function queueSend(dest, content) {
    const conv = isServer(dest) ? conversation(state.active) : conversationFor(state.me, dest);
    const message = { src: state.me, dest, ts: now(), content, kind: 'chat', pending: true };
    if (!isServer(dest)) {
      conv.messages.push(message);
      state.pending.push({ conv, dest, content, message });
    }
    if (state.loggedIn) sendMessage(dest, content);
    rerenderIfActive(conv);
  }

  function submitComposer() {
    const input = $('composer-input');
    const text = input.value;
    if (!text.trim()) return;
    if (!state.loggedIn) {
      setBanner('Not connected: your message is kept here and can be sent once the connection is back.', true);
      return;
    }
    const conv = conversation(state.active);
    // A command goes to the server ("//x" is text: the server removes one slash).
    const isCommand = /^\/\p{L}/u.test(text);
    const dest = isCommand ? state.serverUser : (conv.id === EVERYONE ? 'ALL' : conv.peer);
    queueSend(dest, text);
    input.value = '';
    saveDraft();
    autosize();
  }

  // ---------------------------------------------------------------- files: sending

  function enqueueFiles(files) {
    if (!files || files.length === 0) return;
    const conv = conversation(state.active);
    const to = conv.id === EVERYONE ? 'ALL' : conv.peer;
    for (const file of files) state.uploads.push({ file, to });
    nextUpload();
  }

  async function nextUpload() {
    if (state.upload || !state.loggedIn) return;
    const next = state.uploads.shift();
    if (!next) return;
    const { file, to } = next;
    const row = transferRow('Sending ' + file.name, file.size);
    state.upload = { file, to, row, id: null, bytes: null, size: file.size };
    try {
      if (!crypto.subtle) throw new Error('sending files needs a secure page (https or localhost)');
      const bytes = new Uint8Array(await file.arrayBuffer());
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const sha = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      if (!state.upload || state.upload.file !== file) return;
      state.upload.bytes = bytes;
      const name = safeFileName(file.name);
      send({ FILE_OFFER: { NAME: name, SIZE: bytes.length, SHA256: sha, TO: to } });
    } catch (error) {
      failUpload('File ' + file.name + ' not sent: ' + error.message);
    }
  }

  function safeFileName(name) {
    let cleaned = String(name).replace(/[\/\\\u0000-\u001f\u007f]/g, '_');
    if (cleaned === '' || cleaned === '.' || cleaned === '..') cleaned = 'file';
    while (new TextEncoder().encode(cleaned).length > 255) cleaned = cleaned.slice(0, -1);
    return cleaned;
  }

  function onFileUpload(info) {
    const upload = state.upload;
    if (!upload || !upload.bytes) return;
    if (upload.id && upload.id !== info.ID) return;
    upload.id = String(info.ID);
    const offset = Number(info.OFFSET) || 0;
    upload.row.progress.value = upload.size === 0 ? 1 : offset / upload.size;
    if (info.DONE) {
      upload.row.element.remove();
      state.upload = null;
      nextUpload();
      return;
    }
    const chunk = upload.bytes.subarray(offset, offset + CHUNK_BYTES);
    send({ FILE_CHUNK: { ID: upload.id, OFFSET: offset, DATA: toBase64(chunk) } });
  }

  function failUpload(text) {
    if (state.upload) {
      state.upload.row.element.remove();
      state.upload = null;
    }
    addNote(state.active, text, 'error');
    nextUpload();
  }

  function toBase64(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function transferRow(label, size) {
    const element = document.createElement('div');
    element.className = 'transfer';
    const text = document.createElement('span');
    text.textContent = label + ' (' + humanSize(size) + ')';
    const progress = document.createElement('progress');
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute('aria-label', label);
    element.append(text, progress);
    $('transfers').append(element);
    return { element, progress };
  }

  // ---------------------------------------------------------------- files: receiving

  function startDownload(id, name, size, card) {
    const existing = state.downloads.get(id);
    if (existing && existing.done && existing.url) {
      saveBlob(existing.url, existing.name);
      return;
    }
    if (existing && !existing.done) return;
    const progress = document.createElement('progress');
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute('aria-label', 'Receiving ' + name);
    card.append(progress);
    const download = { id, name, size, chunks: [], received: 0, done: false, card, progress, meta: null };
    state.downloads.set(id, download);
    send({ FILE_GET: { ID: id, OFFSET: 0 } });
  }

  async function onFileData(data, meta) {
    const download = state.downloads.get(String(data.ID));
    if (!download || download.done) return;
    if (meta && typeof meta === 'object') download.meta = meta;
    if (Number(data.OFFSET) !== download.received) return;
    const bytes = fromBase64(String(data.DATA || ''));
    download.chunks.push(bytes);
    download.received += bytes.length;
    download.progress.value = download.size === 0 ? 1 : download.received / download.size;
    if (download.received < download.size && bytes.length > 0) {
      send({ FILE_GET: { ID: download.id, OFFSET: download.received } });
      return;
    }
    download.done = true;
    const blob = new Blob(download.chunks, { type: imageType(download.name) || 'application/octet-stream' });
    download.chunks = [];
    if (crypto.subtle && download.meta && download.meta.SHA256) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      const sha = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      if (sha !== download.meta.SHA256) {
        failDownload(download, 'File ' + download.name + ' arrived damaged (its SHA-256 does not match); try again.');
        return;
      }
    }
    download.url = URL.createObjectURL(blob);
    download.progress.remove();
    download.card.classList.add('received');
    const button = download.card.querySelector('button');
    if (button) button.textContent = 'Save';
    if (imageType(download.name)) {
      const preview = document.createElement('img');
      preview.className = 'file-preview';
      preview.alt = download.name;
      preview.src = download.url;
      download.card.append(preview);
    }
    saveBlob(download.url, download.name);
  }

  function failDownload(download, text) {
    download.progress.remove();
    state.downloads.delete(download.id);
    addNote(state.active, text, 'error');
  }

  function saveBlob(url, name) {
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.rel = 'noopener';
    document.body.append(link);
    link.click();
    link.remove();
  }

  function imageType(name) {
    const extension = String(name).split('.').pop().toLowerCase();
    return IMAGE_TYPES[extension] || null;
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + ' B';
    const units = ['KB', 'MB', 'GB'];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toLocaleString(undefined, { maximumFractionDigits: 1 }) + ' ' + units[unit];
  }

  // ---------------------------------------------------------------- rendering

  function renderAll() {
    renderConversations();
    renderUsers();
    renderHeader();
    renderList();
    updateTitle();
    updateComposerState();
  }

  function rerenderIfActive(conv) {
    if (conv.id === state.active) renderList();
    renderConversations();
  }

  function avatarClass(name) {
    let hash = 0;
    for (const char of keyOf(name)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    return 'c' + (hash % 8);
  }

  function dayKey(ts) {
    const date = new Date(ts * 1000);
    return date.getFullYear() + '-' + date.getMonth() + '-' + date.getDate();
  }

  function messageElement(message, previous, options) {
    const item = document.createElement('li');
    item.className = 'message';
    item.dataset.src = message.src;
    item.dataset.dest = message.dest;
    if (message.kind !== 'chat') item.classList.add(message.kind);
    if (message.pending) item.classList.add('pending');
    if (message.mention) item.classList.add('mention');
    const continued = previous && message.kind === 'chat' && previous.kind === 'chat' && previous.src === message.src
      && message.ts - previous.ts < 300 && dayKey(previous.ts) === dayKey(message.ts) && !(options && options.tag);
    if (continued) item.classList.add('continued');

    const avatar = document.createElement('div');
    avatar.className = 'avatar ' + avatarClass(message.src);
    avatar.setAttribute('aria-hidden', 'true');
    avatar.textContent = (Array.from(message.src)[0] || '?').toUpperCase();

    const meta = document.createElement('div');
    meta.className = 'meta';
    const author = document.createElement('button');
    author.type = 'button';
    author.className = 'author';
    author.textContent = message.src;
    author.tabIndex = -1;
    if (message.kind === 'chat' && keyOf(message.src) !== state.meKey) {
      author.addEventListener('click', (event) => { event.stopPropagation(); openConversation(dmId(message.src), message.src); });
    }
    const time = document.createElement('time');
    time.className = 'time';
    const date = new Date(message.ts * 1000);
    time.dateTime = date.toISOString();
    time.textContent = timeFormat.format(date);
    time.title = fullFormat.format(date);
    meta.append(author, time);
    if (options && options.tag) {
      const tag = document.createElement('span');
      tag.className = 'conversation-tag';
      tag.textContent = options.tag;
      meta.append(tag);
    }
    if (message.pending) {
      const sending = document.createElement('span');
      sending.className = 'direction';
      sending.textContent = message.failed ? 'not sent' : 'sending…';
      meta.append(sending);
    }

    const body = document.createElement('div');
    body.className = 'body';
    const text = document.createElement('p');
    text.className = 'text';
    appendLinkified(text, message.content);
    body.append(text);
    const file = message.kind === 'chat' ? FILE_NOTICE.exec(message.content) : null;
    if (file) body.append(fileCard(file[3], file[1], Number(file[2])));

    item.append(avatar, meta, body);
    return item;
  }

  /// Text with its http(s) links made clickable: each part is a text node or an <a> whose
  /// href was checked to be http(s).
  function appendLinkified(parent, content) {
    let last = 0;
    for (const match of content.matchAll(URL_PATTERN)) {
      let url;
      try {
        url = new URL(match[0]);
      } catch (error) {
        continue;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      parent.append(document.createTextNode(content.slice(last, match.index)));
      const link = document.createElement('a');
      link.href = url.href;
      link.textContent = match[0];
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      parent.append(link);
      last = match.index + match[0].length;
    }
    parent.append(document.createTextNode(content.slice(last)));
  }

  function fileCard(id, name, size) {
    const card = document.createElement('div');
    card.className = 'file-card';
    card.dataset.fileId = id;
    const row = document.createElement('div');
    row.className = 'file-row';
    const label = document.createElement('span');
    label.className = 'file-name';
    label.textContent = name;
    const sizeText = document.createElement('span');
    sizeText.className = 'file-size';
    sizeText.textContent = humanSize(size);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary small download-button';
    const known = state.downloads.get(id);
    button.textContent = known && known.done ? 'Save' : 'Download';
    button.setAttribute('aria-label', 'Download ' + name);
    button.addEventListener('click', () => startDownload(id, name, size, card));
    row.append(label, sizeText, button);
    card.append(row);
    if (known && known.done && known.url && imageType(name)) {
      const preview = document.createElement('img');
      preview.className = 'file-preview';
      preview.alt = name;
      preview.src = known.url;
      card.append(preview);
    }
    return card;
  }

  function renderList() {
    const conv = conversation(state.active);
    const scroller = $('scroller');
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const list = $('message-list');
    const items = [];
    let previous = null;
    for (const message of conv.messages) {
      if (!previous || dayKey(previous.ts) !== dayKey(message.ts)) {
        const divider = document.createElement('li');
        divider.className = 'day-divider';
        divider.setAttribute('role', 'separator');
        divider.textContent = dayFormat.format(new Date(message.ts * 1000));
        items.push(divider);
      }
      items.push(messageElement(message, previous));
      previous = message;
    }
    list.replaceChildren(...items);
    $('older-button').hidden = !state.historyMore;
    $('history-start').hidden = state.historyMore || !state.loggedIn;
    if (atBottom || conv.scrollToBottom !== false) scroller.scrollTop = scroller.scrollHeight;
    conv.scrollToBottom = atBottom;
    if (!document.hidden && conv.unread > 0) {
      conv.unread = 0;
      conv.mentioned = false;
      renderConversations();
      updateTitle();
    }
  }

  function renderConversations() {
    const list = $('conversation-list');
    const ordered = [conversation(EVERYONE)];
    const dms = [...state.conversations.values()].filter((c) => c.id !== EVERYONE);
    dms.sort((a, b) => lastTime(b) - lastTime(a) || a.peer.localeCompare(b.peer));
    ordered.push(...dms);
    list.replaceChildren(...ordered.map((conv) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.conversation = conv.id;
      if (conv.id === state.active) button.setAttribute('aria-current', 'true');
      if (conv.unread > 0) button.classList.add('unread');
      if (conv.id !== EVERYONE) {
        const dot = document.createElement('span');
        dot.className = 'presence' + (state.online.has(keyOf(conv.peer)) ? ' online' : '');
        dot.setAttribute('aria-hidden', 'true');
        button.append(dot);
      }
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = conversationLabel(conv);
      button.append(label);
      if (conv.id !== EVERYONE && state.blocked.has(keyOf(conv.peer))) {
        const tag = document.createElement('span');
        tag.className = 'blocked-tag';
        tag.textContent = 'blocked';
        button.append(tag);
      }
      if (conv.unread > 0) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = conv.unread > 99 ? '99+' : String(conv.unread);
        badge.setAttribute('aria-label', conv.unread + ' unread');
        button.append(badge);
      }
      button.addEventListener('click', () => openConversation(conv.id));
      item.append(button);
      return item;
    }));
  }

  function lastTime(conv) {
    const last = conv.messages[conv.messages.length - 1];
    return last ? last.ts : 0;
  }

  function renderUsers() {
    const names = [...state.online.values()].sort((a, b) => a.localeCompare(b));
    $('online-count').textContent = String(names.length);
    $('user-list').replaceChildren(...names.map((name) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.user = name;
      const dot = document.createElement('span');
      dot.className = 'presence online';
      dot.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = keyOf(name) === state.meKey ? name + ' (you)' : name;
      button.append(dot, label);
      if (state.blocked.has(keyOf(name))) {
        const tag = document.createElement('span');
        tag.className = 'blocked-tag';
        tag.textContent = 'blocked';
        button.append(tag);
      }
      if (keyOf(name) !== state.meKey) {
        button.setAttribute('aria-label', 'Message ' + name);
        button.addEventListener('click', () => openConversation(dmId(name), name));
      } else {
        button.disabled = true;
      }
      item.append(button);
      return item;
    }));
  }

  function renderHeader() {
    const conv = conversation(state.active);
    $('conversation-title').textContent = conversationLabel(conv);
    const blockButton = $('block-button');
    const input = $('composer-input');
    if (conv.id === EVERYONE) {
      $('conversation-subtitle').textContent = state.online.size + ' online';
      blockButton.hidden = true;
      input.placeholder = 'Message everyone';
    } else {
      const online = state.online.has(keyOf(conv.peer));
      $('conversation-subtitle').textContent = online ? 'online' : 'offline: gets your messages on return';
      const blocked = state.blocked.has(keyOf(conv.peer));
      blockButton.hidden = false;
      blockButton.textContent = blocked ? 'Unblock' : 'Block';
      blockButton.setAttribute('aria-pressed', blocked ? 'true' : 'false');
      input.placeholder = 'Message ' + conv.peer;
    }
  }

  function updateTitle() {
    let total = 0;
    for (const conv of state.conversations.values()) total += conv.unread;
    const label = state.loggedIn || state.everLoggedIn ? conversationLabel(conversation(state.active)) + ' · Chatterbox' : 'Chatterbox';
    document.title = (total > 0 ? '(' + total + ') ' : '') + label;
    const badge = $('menu-badge');
    badge.hidden = total === 0;
    badge.textContent = total > 99 ? '99+' : String(total);
    if (navigator.setAppBadge) {
      (total > 0 ? navigator.setAppBadge(total) : navigator.clearAppBadge()).catch(() => {});
    }
  }

  function updateComposerState() {
    $('send-button').disabled = !state.loggedIn;
    $('attach-button').disabled = !state.loggedIn;
  }

  function setBanner(text, showRetry) {
    const banner = $('status-banner');
    if (!text) {
      banner.hidden = true;
      clearInterval(state.countdownTimer);
      return;
    }
    $('status-text').textContent = text;
    $('retry-button').hidden = !showRetry;
    banner.hidden = false;
  }

  // ---------------------------------------------------------------- navigation

  function openConversation(id, peerName) {
    saveDraft();
    const conv = conversation(id, peerName);
    state.active = conv.id;
    conv.unread = 0;
    conv.mentioned = false;
    conv.scrollToBottom = true;
    closeSidebar();
    renderAll();
    restoreDraft();
    $('composer-input').focus();
  }

  function moveConversation(step) {
    const buttons = [...$('conversation-list').querySelectorAll('button')];
    const index = buttons.findIndex((b) => b.dataset.conversation === state.active);
    const next = buttons[(index + step + buttons.length) % buttons.length];
    if (next) openConversation(next.dataset.conversation);
  }

  function draftKey() { return 'chatterbox.draft.' + state.active; }

  function saveDraft() {
    try { sessionStorage.setItem(draftKey(), $('composer-input').value); } catch (error) { /* storage off */ }
  }

  function restoreDraft() {
    let draft = '';
    try { draft = sessionStorage.getItem(draftKey()) || ''; } catch (error) { /* storage off */ }
    $('composer-input').value = draft;
    autosize();
  }

  function autosize() {
    const input = $('composer-input');
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
  }

  function openSidebar() {
    $('sidebar').classList.add('open');
    $('open-sidebar').setAttribute('aria-expanded', 'true');
    const current = $('conversation-list').querySelector('[aria-current="true"]');
    if (current) current.focus();
  }

  function closeSidebar() {
    $('sidebar').classList.remove('open');
    $('open-sidebar').setAttribute('aria-expanded', 'false');
  }

  // ---------------------------------------------------------------- views

  function showLogin() {
    clearTimeout(state.reconnectTimer);
    setBanner(null);
    $('chat-view').hidden = true;
    $('login-view').hidden = false;
    setLoginBusy(false);
    updateTitle();
    $('login-name').focus();
  }

  function showChat() {
    $('login-view').hidden = true;
    $('chat-view').hidden = false;
    setLoginBusy(false);
    restoreDraft();
    if (document.activeElement === document.body || !document.activeElement || $('login-view').contains(document.activeElement)) {
      $('composer-input').focus();
    }
  }

  function loginError(text) {
    $('login-error').textContent = text;
  }

  function setLoginBusy(busy) {
    const button = $('login-button');
    button.disabled = busy;
    button.textContent = busy ? 'Joining…' : 'Join the chat';
  }

  function applyTheme(theme) {
    if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
    const names = { auto: 'automatic', light: 'light', dark: 'dark' };
    $('theme-button').setAttribute('aria-label', 'Theme: ' + names[theme || 'auto'] + ' (change)');
    $('theme-button').title = 'Theme: ' + names[theme || 'auto'];
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    let savedTheme = 'auto';
    try { savedTheme = localStorage.getItem('chatterbox.theme') || 'auto'; } catch (error) { /* storage off */ }
    applyTheme(savedTheme);
    try { $('login-name').value = localStorage.getItem('chatterbox.name') || ''; } catch (error) { /* storage off */ }
    $('login-name').focus();

    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const name = $('login-name').value.trim();
      if (!name) {
        loginError('Choose a name.');
        return;
      }
      loginError('');
      state.typedName = name;
      state.password = $('login-password').value;
      state.leaving = false;
      state.everLoggedIn = false;
      setLoginBusy(true);
      connect();
    });

    $('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      submitComposer();
    });
    const input = $('composer-input');
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submitComposer();
      }
    });
    input.addEventListener('input', () => { saveDraft(); autosize(); });
    input.addEventListener('paste', (event) => {
      const files = event.clipboardData && event.clipboardData.files;
      if (files && files.length > 0) {
        event.preventDefault();
        enqueueFiles(files);
      }
    });

    $('attach-button').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', () => {
      enqueueFiles([...$('file-input').files]);
      $('file-input').value = '';
    });
    const dropZone = document.querySelector('.conversation');
    dropZone.addEventListener('dragover', (event) => {
      if (event.dataTransfer && [...event.dataTransfer.types].includes('Files')) {
        event.preventDefault();
        $('composer').classList.add('dragging');
      }
    });
    dropZone.addEventListener('dragleave', () => $('composer').classList.remove('dragging'));
    dropZone.addEventListener('drop', (event) => {
      $('composer').classList.remove('dragging');
      if (event.dataTransfer && event.dataTransfer.files.length > 0) {
        event.preventDefault();
        enqueueFiles([...event.dataTransfer.files]);
      }
    });

    $('older-button').addEventListener('click', requestOlder);
    $('scroller').addEventListener('scroll', () => {
      if ($('scroller').scrollTop < 40) requestOlder();
    });

    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const query = $('search-input').value.trim();
      if (query && state.loggedIn) startSearch(query);
    });
    $('search-more').addEventListener('click', () => {
      if (state.search.more) send({ SEARCH: { QUERY: state.search.query, BEFORE: state.search.before, LIMIT: PAGE_SIZE } });
    });
    $('search-close').addEventListener('click', () => {
      $('search-panel').hidden = true;
      $('search-input').focus();
    });

    $('block-button').addEventListener('click', () => {
      const conv = conversation(state.active);
      if (conv.id === EVERYONE) return;
      const blocked = state.blocked.has(keyOf(conv.peer));
      sendCommand((blocked ? '/UnBlock ' : '/Block ') + conv.peer, false);
    });

    $('retry-button').addEventListener('click', () => {
      state.reconnectDelay = 1000;
      connect();
    });
    window.addEventListener('online', () => {
      if (state.everLoggedIn && !state.ws) connect();
    });

    $('logout-button').addEventListener('click', () => {
      state.leaving = true;
      state.everLoggedIn = false;
      state.loggedIn = false;
      state.pending = [];
      state.uploads = [];
      state.upload = null;
      if (state.ws) state.ws.close(1000);
      state.ws = null;
      state.conversations.clear();
      state.active = EVERYONE;
      state.password = '';
      $('login-password').value = '';
      $('transfers').replaceChildren();
      showLogin();
    });

    $('theme-button').addEventListener('click', () => {
      const order = ['auto', 'light', 'dark'];
      let current = 'auto';
      try { current = localStorage.getItem('chatterbox.theme') || 'auto'; } catch (error) { /* storage off */ }
      const next = order[(order.indexOf(current) + 1) % order.length];
      try { localStorage.setItem('chatterbox.theme', next); } catch (error) { /* storage off */ }
      applyTheme(next);
    });

    $('open-sidebar').addEventListener('click', openSidebar);
    $('close-sidebar').addEventListener('click', () => { closeSidebar(); $('open-sidebar').focus(); });

    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        if ($('sidebar').classList.contains('open')) { closeSidebar(); $('open-sidebar').focus(); return; }
        if (!$('search-panel').hidden) { $('search-panel').hidden = true; $('composer-input').focus(); return; }
      }
      if ($('chat-view').hidden) return;
      if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
        event.preventDefault();
        moveConversation(event.key === 'ArrowUp' ? -1 : 1);
      } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        $('search-input').focus();
      } else if (event.key === 'PageUp' || event.key === 'PageDown') {
        if (document.activeElement === $('composer-input')) {
          const scroller = $('scroller');
          scroller.scrollTop += (event.key === 'PageUp' ? -1 : 1) * scroller.clientHeight * 0.8;
        }
      }
    });

    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        const conv = conversation(state.active);
        if (conv.unread > 0) renderList();
        updateTitle();
      }
    });
    updateComposerState();
  }

  wire();
})();
