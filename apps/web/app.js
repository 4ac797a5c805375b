/* facesearch web page: vanilla JS, no dependencies. Talks to the JSON API under /api/v1 (docs/API.md).
   Saved mode: a page written by `facesearch search --html FILE` holds its result in
   <script type="application/json" id="facesearch-report"> (the answer of POST /api/v1/search plus the
   pictures as data: URIs); the page then shows that result and asks no server for anything. */
'use strict';

(function () {
  const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
  const TOP_K = 200;
  const FIRST_FLOOR = 0.2;     // floor sent while the pack's default threshold is not known yet
  const FLOOR_MARGIN = 0.15;   // floor = default_threshold - FLOOR_MARGIN
  const EPS = 1e-9;

  const $ = (id) => document.getElementById(id);

  // The result a saved page holds, or null on the served page.
  const SAVED = (() => {
    const node = document.getElementById('facesearch-report');
    if (!node) return null;
    try {
      const data = JSON.parse(node.textContent);
      return data && typeof data === 'object' ? data : { matches: [] };
    } catch (e) {
      return { matches: [], broken: String(e && e.message ? e.message : e) };
    }
  })();

  const el = {
    tabSearch: $('tab-search'), tabPeople: $('tab-people'), tabLibrary: $('tab-library'),
    panelSearch: $('panel-search'), panelPeople: $('panel-people'), panelLibrary: $('panel-library'),
    summary: $('library-summary'), emptyBanner: $('library-empty-banner'),
    dropzone: $('dropzone'), chooseButton: $('choose-button'), fileInput: $('file-input'),
    layout: $('search-layout'), query: $('query'), queryTitle: $('query-title'),
    newSearchButton: $('new-search-button'),
    queryPhoto: $('query-photo'), queryStage: $('query-stage'), queryImage: $('query-image'),
    queryBoxes: $('query-boxes'), queryFallback: $('query-image-fallback'), queryFaceList: $('query-face-list'),
    queryFacesText: $('query-faces-text'), queryFileName: $('query-file-name'),
    queryFace: $('query-face'), queryFaceImage: $('query-face-image'), queryFaceName: $('query-face-name'),
    queryFaceOpen: $('query-face-open'), queryFaceText: $('query-face-text'),
    searchStatus: $('search-status'), searchError: $('search-error'),
    searchErrorMessage: $('search-error-message'), searchErrorHint: $('search-error-hint'),
    searchErrorRetry: $('search-error-retry'), searchErrorChoose: $('search-error-choose'),
    resultsArea: $('results-area'), slider: $('threshold'), sliderValue: $('threshold-value'),
    count: $('result-count'), meta: $('search-meta'), expanded: $('expanded-note'),
    fetchMore: $('fetch-more'), fetchMoreText: $('fetch-more-text'), fetchMoreButton: $('fetch-more-button'),
    empty: $('results-empty'), emptyTitle: $('results-empty-title'), emptyText: $('results-empty-text'),
    emptyAction: $('results-empty-action'), grid: $('results'),
    libRefresh: $('library-refresh'), libStatus: $('library-status'), libError: $('library-error'),
    libErrorMessage: $('library-error-message'), libErrorHint: $('library-error-hint'),
    libEmpty: $('library-empty'), libIndexing: $('library-indexing'), libContent: $('library-content'),
    pv: $('photo-view'), pvTitle: $('photo-view-title'), pvPath: $('photo-view-path'),
    pvPrev: $('photo-view-prev'), pvNext: $('photo-view-next'), pvPos: $('photo-view-pos'),
    pvClose: $('photo-view-close'), pvStage: $('photo-view-stage'), pvImage: $('photo-view-image'),
    pvBoxes: $('photo-view-boxes'), pvLoading: $('photo-view-loading'), pvError: $('photo-view-error'),
    pvErrorMessage: $('photo-view-error-message'), pvErrorHint: $('photo-view-error-hint'),
    pvMatch: $('photo-view-match'), pvHelp: $('photo-view-help'), pvFaces: $('photo-view-faces'),
    pvDims: $('photo-view-dims'),
  };

  const state = {
    token: null,
    status: null,
    defaultThreshold: null,
    mode: null,            // 'photo' (uploaded) | 'face' (a face of the library)
    file: null,
    fileUrl: null,
    queryFace: null,       // face index sent as query_face; null = the server's choice (largest)
    pendingFace: null,
    faceQuery: null,       // {faceId, photoId, name, path} in 'face' mode
    response: null,
    fetchedFloor: null,
    cards: [],             // [{match, el, sim}] best first
    shown: 0,
    busy: false,
    queryImageBroken: false,
    seq: 0,
    retry: null,
    pv: { seq: 0, index: null, item: null, opener: null, photo: null },
  };

  // ------------------------------------------------------------------ helpers

  function round2(x) { return Math.round(x * 100) / 100; }
  function clamp(x, lo, hi) { return Math.min(hi, Math.max(lo, x)); }
  function fmt2(x) { return Number(x).toFixed(2); }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : (many || one + 's')); }
  function num(n) { return typeof n === 'number' && isFinite(n) ? n.toLocaleString() : '–'; }

  function baseName(path) {
    if (!path) return '';
    const parts = String(path).split(/[\\/]/);
    return parts[parts.length - 1] || String(path);
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // A face picture of `size` px in `frame`, loaded lazily; a picture that fails marks the frame broken.
  function addFaceImage(frame, className, src, alt, size) {
    const img = make('img', className);
    img.src = src;
    img.alt = alt;
    img.width = size;
    img.height = size;
    img.loading = 'lazy';
    img.decoding = 'async';
    img.addEventListener('error', () => frame.classList.add('is-broken'));
    frame.appendChild(img);
    return img;
  }

  // Text with `code` spans (the server's hints name commands that way).
  function setRichText(node, text) {
    node.replaceChildren();
    const parts = String(text || '').split('`');
    parts.forEach((part, i) => {
      if (!part) return;
      if (i % 2 === 1) node.appendChild(make('code', null, part));
      else node.appendChild(document.createTextNode(part));
    });
  }

  function formatDateTime(sec) {
    if (!sec) return 'never';
    const d = new Date(sec * 1000);
    try {
      return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    } catch (e) {
      return d.toLocaleString();
    }
  }

  function formatRelative(sec) {
    if (!sec) return 'never';
    const diff = sec - Date.now() / 1000;
    const abs = Math.abs(diff);
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
      ['hour', 3600], ['minute', 60]];
    if (abs < 60) return 'just now';
    for (const [unit, size] of units) {
      if (abs >= size) {
        try {
          return new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(Math.round(diff / size), unit);
        } catch (e) {
          return formatDateTime(sec);
        }
      }
    }
    return formatDateTime(sec);
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message, hint, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.hint = hint || '';
      this.retryAfter = retryAfter || null;
    }
  }

  const CODE_BY_STATUS = { 400: 'invalid_argument', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
    409: 'busy', 413: 'too_large', 422: 'unprocessable', 503: 'overloaded', 500: 'internal' };

  async function api(path, options) {
    if (SAVED) {   // a saved page has no server to ask: nothing may leave the file
      throw new ApiError(0, 'saved', 'This is a saved result: it cannot search again.',
        'Run `facesearch search` again, or open `facesearch serve`.');
    }
    const opts = Object.assign({}, options || {});
    const headers = new Headers(opts.headers || {});
    headers.set('Accept', 'application/json');
    if (state.token) headers.set('Authorization', 'Bearer ' + state.token);
    opts.headers = headers;
    opts.credentials = 'same-origin';
    opts.cache = 'no-store';
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, 'network', 'Cannot reach the facesearch server.',
        'Check that `facesearch serve` is still running, then try again.');
    }
    let body = null;
    try {
      const text = await resp.text();
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const err = (body && body.error) || {};
      throw new ApiError(resp.status, err.code || CODE_BY_STATUS[resp.status] || 'http_' + resp.status,
        err.message || 'The server answered HTTP ' + resp.status + '.', err.hint || '',
        resp.headers.get('Retry-After'));
    }
    if (body === null || typeof body !== 'object') {
      throw new ApiError(resp.status, 'bad_response', 'The server sent an answer this page cannot read.',
        'Reload the page. If it happens again, look at the output of `facesearch serve`.');
    }
    return body;
  }

  // What to tell people about an error: {message, hint, retry}.
  function describeError(err) {
    if (!(err instanceof ApiError)) {
      return { message: 'Something went wrong in this page: ' + (err && err.message ? err.message : err),
        hint: 'Reload the page and try again.', retry: true };
    }
    const m = err.message, h = err.hint;
    if (err.code === 'no_face') {
      return { message: 'No face found in this photo. Try a photo where the face is larger or better lit.',
        hint: '', retry: false };
    }
    if (err.status === 413 || err.code === 'too_large') {
      return { message: 'This file is too large: the limit is 25 MB.',
        hint: 'Choose a smaller photo, or save a smaller copy of this one and search with that.', retry: false };
    }
    switch (err.code) {
      case 'decode':
        return { message: m || 'This file cannot be read as a photo.',
          hint: h || 'Try a JPEG or PNG copy of it.', retry: false };
      case 'too_many_pixels':
        return { message: m || 'This photo has too many pixels (the limit is 100 megapixels).',
          hint: h || 'Save a smaller copy of it and search with that.', retry: false };
      case 'unauthorized':
        return { message: 'This server needs a token.',
          hint: h || 'Open the address that `facesearch serve` printed (it ends in ?token=…) once in this browser.',
          retry: false };
      case 'forbidden':
        return { message: m, hint: h || 'Open the page at the address that `facesearch serve` printed.', retry: false };
      case 'overloaded': {
        const secs = parseInt(err.retryAfter, 10);
        return { message: 'The server is busy with other searches.',
          hint: isFinite(secs) && secs > 0 ? 'Try again in ' + plural(secs, 'second') + '.' : (h || 'Try again in a moment.'),
          retry: true };
      }
      case 'busy':
        return { message: m, hint: h || 'Wait until the index run is done, then try again.', retry: true };
      case 'network':
      case 'internal':
      case 'bad_response':
        return { message: m, hint: h, retry: true };
      default:
        return { message: m, hint: h, retry: err.status >= 500 };
    }
  }

  // ------------------------------------------------------------------ tabs

  const tabs = [el.tabSearch, el.tabPeople, el.tabLibrary];
  const TAB_NAMES = ['search', 'people', 'library'];
  const PANELS = { search: el.panelSearch, people: el.panelPeople, library: el.panelLibrary };

  // Where the address points: #library, #people, #people/ID, else the search.
  function routeFromHash() {
    const h = location.hash;
    if (h === '#library') return { tab: 'library', person: null };
    const m = /^#people(?:\/(\d+))?$/.exec(h);
    if (m) return { tab: 'people', person: m[1] ? Number(m[1]) : null };
    return { tab: 'search', person: null };
  }

  function setHash(hash, push) {
    if (location.hash === hash || (!hash && !location.hash)) return;
    const url = location.pathname + location.search + hash;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }

  function selectTab(name, focus) {
    if (SAVED) return;   // one panel: the saved result
    TAB_NAMES.forEach((n, i) => {
      const on = n === name;
      tabs[i].setAttribute('aria-selected', String(on));
      tabs[i].tabIndex = on ? 0 : -1;
      PANELS[n].hidden = !on;
    });
    document.body.dataset.tab = name;
    if (focus) tabs[TAB_NAMES.indexOf(name)].focus();
    if (name === 'people') {
      showPeopleRoute(people.personId);
    } else {
      setHash(name === 'library' ? '#library' : '', false);
      document.title = 'facesearch';
    }
    if (name === 'library') loadLibrary();
  }

  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => {
      if (TAB_NAMES[i] === 'people' && tab.getAttribute('aria-selected') === 'true') people.personId = null;  // again: everyone
      selectTab(TAB_NAMES[i]);
    });
    tab.addEventListener('keydown', (ev) => {
      let next = null;
      if (ev.key === 'ArrowRight') next = (i + 1) % tabs.length;
      else if (ev.key === 'ArrowLeft') next = (i - 1 + tabs.length) % tabs.length;
      else if (ev.key === 'Home') next = 0;
      else if (ev.key === 'End') next = tabs.length - 1;
      if (next === null) return;
      ev.preventDefault();
      selectTab(TAB_NAMES[next], true);
    });
  });

  // ------------------------------------------------------------------ library status

  let libraryLoading = null;

  function fetchStatus() {
    if (!libraryLoading) {
      libraryLoading = api('/api/v1/status').finally(() => { libraryLoading = null; });
    }
    return libraryLoading;
  }

  function applyStatus(st) {
    state.status = st;
    if (state.defaultThreshold === null && typeof st.threshold === 'number') state.defaultThreshold = st.threshold;
    const faces = st.faces || 0;
    el.summary.textContent = plural(st.photos || 0, 'photo') + ' · ' + plural(faces, 'face');
    el.summary.title = 'Library: ' + (st.library || '');
    el.emptyBanner.hidden = faces !== 0;
    document.body.classList.toggle('library-is-empty', faces === 0);
  }

  async function loadStatusQuietly() {
    try {
      applyStatus(await fetchStatus());
    } catch (err) {
      const d = describeError(err);
      el.summary.textContent = 'Library unavailable';
      el.summary.title = d.message;
    }
  }

  async function loadLibrary() {
    el.libRefresh.disabled = true;
    el.libStatus.replaceChildren(make('span', 'spinner', ''), document.createTextNode(' Loading…'));
    el.panelLibrary.setAttribute('aria-busy', 'true');
    try {
      const st = await fetchStatus();
      applyStatus(st);
      renderLibrary(st);
      el.libError.hidden = true;
    } catch (err) {
      const d = describeError(err);
      setRichText(el.libErrorMessage, d.message);
      setRichText(el.libErrorHint, d.hint);
      el.libErrorHint.hidden = !d.hint;
      el.libError.hidden = false;
      el.libContent.hidden = true;
      el.libEmpty.hidden = true;
      el.libIndexing.hidden = true;
    } finally {
      el.libStatus.replaceChildren();
      el.libRefresh.disabled = false;
      el.panelLibrary.removeAttribute('aria-busy');
    }
  }

  function renderLibrary(st) {
    const photos = st.photos || 0;
    const ok = typeof st.photos_ok === 'number' ? st.photos_ok : photos;
    const bad = typeof st.photos_error === 'number' ? st.photos_error : (st.errors || []).length;
    const faces = st.faces || 0;
    const errors = Array.isArray(st.errors) ? st.errors : [];

    el.libEmpty.hidden = faces !== 0;
    el.libIndexing.hidden = !st.indexing;
    el.libContent.hidden = false;

    $('lib-photos').textContent = num(photos);
    $('lib-photos-sub').textContent = num(ok) + ' read' + (bad ? ' · ' + num(bad) + ' unreadable' : '');
    $('lib-faces').textContent = num(faces);
    $('lib-faces-sub').textContent = ok > 0 ? (faces / ok).toFixed(1) + ' per readable photo' : 'no photos read yet';
    $('lib-errors-count').textContent = num(bad);
    $('lib-errors-sub').textContent = bad ? 'listed below' : 'every photo was read';
    $('lib-errors-count').classList.toggle('stat-value-bad', bad > 0);
    $('lib-updated-relative').textContent = formatRelative(st.updated_at);
    $('lib-updated-sub').textContent = st.updated_at ? formatDateTime(st.updated_at) : 'not indexed yet';

    $('lib-model').textContent = st.model || '–';
    $('lib-threshold').textContent = typeof st.threshold === 'number'
      ? fmt2(st.threshold) + ' (cosine similarity; the search slider starts here, a little higher for a query '
        + 'expanded with its confident matches)' : '–';
    const roots = $('lib-roots');
    roots.replaceChildren();
    (Array.isArray(st.roots) ? st.roots : []).forEach((r) => roots.appendChild(make('li', 'path', r)));
    if (!roots.children.length) roots.appendChild(make('li', 'muted', 'none yet'));
    $('lib-updated').textContent = formatDateTime(st.updated_at);
    $('lib-created').textContent = formatDateTime(st.created_at);
    $('lib-file').textContent = st.library || '–';

    const list = $('lib-errors');
    list.replaceChildren();
    errors.forEach((e) => {
      const li = make('li', 'error-item');
      if (e.photo_id !== undefined) li.dataset.photoId = String(e.photo_id);
      li.appendChild(make('span', 'error-path path', e.path || '(unknown file)'));
      li.appendChild(make('span', 'error-message', e.message || 'unreadable'));
      list.appendChild(li);
    });
    $('lib-errors-none').hidden = errors.length > 0 || bad > 0;
    if (!errors.length && bad > 0) {
      list.appendChild(make('li', 'muted', plural(bad, 'file') + ' could not be read.'));
    }
  }

  el.libRefresh.addEventListener('click', () => loadLibrary());

  // ---- Re-index the library's folders (POST /api/v1/index), progress from /api/v1/index/events ----
  const reindex = {
    button: $('library-reindex'), box: $('reindex-status'), title: $('reindex-title'),
    bar: $('reindex-progress'), text: $('reindex-text'), source: null,
  };

  function showReindex(state) {
    reindex.box.hidden = false;
    reindex.box.dataset.state = state.state || '';
    const running = state.state === 'running';
    reindex.button.disabled = running;
    reindex.bar.hidden = !running;
    if (running) {
      const total = state.total || 0;
      reindex.title.textContent = 'Re-indexing the library\u2019s folders\u2026';
      reindex.bar.max = Math.max(total, 1);
      reindex.bar.value = state.done || 0;
      reindex.text.textContent = total ? num(state.done || 0) + ' of ' + num(total) + ' photos read, ' +
        num(state.faces || 0) + ' faces found' : 'Looking for new, changed and deleted photos\u2026';
    } else if (state.state === 'done' || state.state === 'cancelled') {
      reindex.title.textContent = state.state === 'done' ? 'Re-indexing finished.' : 'Re-indexing was stopped.';
      reindex.text.textContent = num(state.files || 0) + ' photos in the folders: ' + num(state.added || 0) + ' added, ' +
        num(state.updated || 0) + ' updated, ' + num(state.deleted || 0) + ' deleted, ' + num(state.errors || 0) +
        ' unreadable (' + (state.seconds || 0) + ' s).';
    } else if (state.state === 'failed') {
      const e = state.error || {};
      reindex.title.textContent = 'Re-indexing failed.';
      reindex.text.textContent = (e.message || '') + (e.hint ? ' \u2014 ' + e.hint : '');
    }
  }

  function followReindex() {
    if (reindex.source) reindex.source.close();
    const source = new EventSource('/api/v1/index/events');
    reindex.source = source;
    source.addEventListener('progress', (ev) => showReindex(JSON.parse(ev.data)));
    source.addEventListener('end', (ev) => {
      source.close();
      reindex.source = null;
      const state = JSON.parse(ev.data);
      if (state.state !== 'idle') showReindex(state);
      reindex.button.disabled = false;
      loadLibrary();
    });
    source.onerror = () => {
      source.close();
      reindex.source = null;
      reindex.button.disabled = false;
    };
  }

  reindex.button.addEventListener('click', async () => {
    reindex.button.disabled = true;
    try {
      await api('/api/v1/index', { method: 'POST', body: '' });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 409) {  // 409: one is going already: follow it
        const d = describeError(err);
        showReindex({ state: 'failed', error: { message: d.message, hint: d.hint } });
        reindex.button.disabled = false;
        return;
      }
    }
    showReindex({ state: 'running', done: 0, total: 0 });
    followReindex();
  });

  // ------------------------------------------------------------------ busy / errors in the search panel

  function setBusy(busy, text) {
    state.busy = busy;
    el.chooseButton.disabled = busy;
    el.newSearchButton.disabled = busy;
    el.fileInput.disabled = busy;
    el.fetchMoreButton.disabled = busy;
    el.emptyAction.disabled = busy;
    el.searchErrorRetry.disabled = busy;
    el.searchErrorChoose.disabled = busy;
    el.dropzone.dataset.state = busy ? 'busy' : 'idle';
    document.body.classList.toggle('is-searching', busy);
    el.query.setAttribute('aria-busy', String(busy));
    el.resultsArea.setAttribute('aria-busy', String(busy));
    el.queryBoxes.querySelectorAll('button').forEach((b) => { b.disabled = busy; });
    el.queryFaceList.querySelectorAll('button').forEach((b) => { b.disabled = busy; });
    if (busy) {
      el.searchStatus.replaceChildren(make('span', 'spinner', ''), make('span', 'search-status-text', text || 'Searching…'));
      el.searchStatus.classList.add('is-active');
    } else {
      el.searchStatus.replaceChildren();
      el.searchStatus.classList.remove('is-active');
    }
  }

  function showSearchError(err) {
    const d = describeError(err);
    setRichText(el.searchErrorMessage, d.message);
    setRichText(el.searchErrorHint, d.hint);
    el.searchErrorHint.hidden = !d.hint;
    el.searchErrorRetry.hidden = !(d.retry && state.retry);
    el.searchError.dataset.code = err && err.code ? err.code : 'error';
    el.searchError.dataset.status = err && err.status !== undefined ? String(err.status) : '';
    el.searchError.hidden = false;
  }

  function hideSearchError() {
    el.searchError.hidden = true;
    delete el.searchError.dataset.code;
    delete el.searchError.dataset.status;
  }

  el.searchErrorRetry.addEventListener('click', () => { if (state.retry && !state.busy) state.retry(); });
  el.searchErrorChoose.addEventListener('click', () => chooseFile());

  // ------------------------------------------------------------------ choosing a photo

  function chooseFile() {
    if (state.busy || SAVED) return;
    el.fileInput.click();
  }

  el.chooseButton.addEventListener('click', (ev) => { ev.stopPropagation(); chooseFile(); });
  el.newSearchButton.addEventListener('click', () => chooseFile());
  el.dropzone.addEventListener('click', (ev) => {
    if (ev.target === el.dropzone || !ev.target.closest('button, input')) chooseFile();
  });
  el.fileInput.addEventListener('change', () => {
    const file = el.fileInput.files && el.fileInput.files[0];
    if (file) startPhotoSearch(file);
    el.fileInput.value = '';   // choosing the same file again searches again
  });

  function firstImageFile(list) {
    if (!list) return null;
    for (const f of list) {
      if (!f.type || f.type.startsWith('image/')) return f;
    }
    return list.length ? list[0] : null;
  }

  // Drop anywhere on the page.
  let dragDepth = 0;
  const dropOverlay = make('div', 'drop-overlay');
  dropOverlay.setAttribute('aria-hidden', 'true');
  dropOverlay.appendChild(make('div', 'drop-overlay-inner', 'Drop the photo to search for its face'));
  document.body.appendChild(dropOverlay);

  function hasFiles(ev) {
    const types = ev.dataTransfer && ev.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, 'Files') !== -1;
  }
  function setDragging(on) {
    document.body.classList.toggle('is-dragging', on);
    el.dropzone.classList.toggle('is-dragover', on);
  }
  document.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev) || SAVED) return;
    ev.preventDefault();
    dragDepth += 1;
    if (!state.busy) setDragging(true);
  });
  document.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev) || SAVED) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = state.busy ? 'none' : 'copy';
  });
  document.addEventListener('dragleave', (ev) => {
    if (!hasFiles(ev) || SAVED) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) setDragging(false);
  });
  document.addEventListener('drop', (ev) => {
    if (!hasFiles(ev) || SAVED) return;
    ev.preventDefault();
    dragDepth = 0;
    setDragging(false);
    if (state.busy) return;
    const file = firstImageFile(ev.dataTransfer.files);
    if (file) {
      selectTab('search');
      startPhotoSearch(file);
    }
  });
  document.addEventListener('paste', (ev) => {
    if (state.busy || SAVED || !ev.clipboardData) return;
    const file = firstImageFile(ev.clipboardData.files);
    if (file && (!file.type || file.type.startsWith('image/'))) {
      ev.preventDefault();
      selectTab('search');
      startPhotoSearch(file);
    }
  });

  // ------------------------------------------------------------------ searches

  function floorThreshold() {
    if (state.defaultThreshold === null) return FIRST_FLOOR;
    return round2(clamp(state.defaultThreshold - FLOOR_MARGIN, 0, 1));
  }

  function showLayout() {
    el.dropzone.hidden = true;
    document.body.classList.add('has-searched');
    el.layout.hidden = false;
  }

  function clearResults() {
    state.response = null;
    state.cards = [];
    state.shown = 0;
    el.grid.replaceChildren();
    el.resultsArea.hidden = true;
  }

  function startPhotoSearch(file) {
    if (state.busy || SAVED || !file) return;
    if (file.type && !file.type.startsWith('image/')) {
      state.mode = null;
      state.file = null;
      state.response = null;
      hideSearchError();
      showLayout();
      resetQueryForPhoto(file);
      clearResults();
      state.retry = null;
      showSearchError(new ApiError(0, 'not_image', 'This is not a photo (' + file.type + ').',
        'Choose an image file: JPEG, PNG, WebP and the like.'));
      return;
    }
    state.mode = 'photo';
    state.file = file;
    state.faceQuery = null;
    state.queryFace = null;
    resetQueryForPhoto(file);
    clearResults();
    showLayout();
    hideSearchError();
    if (file.size > MAX_UPLOAD_BYTES) {
      state.retry = null;
      showSearchError(new ApiError(413, 'too_large', 'too large', ''));
      return;
    }
    runSearch(floorThreshold(), false);
  }

  function resetQueryForPhoto(file) {
    if (state.fileUrl) URL.revokeObjectURL(state.fileUrl);
    state.fileUrl = URL.createObjectURL(file);
    el.query.dataset.mode = 'photo';
    el.queryTitle.textContent = 'Your photo';
    el.queryPhoto.hidden = false;
    el.queryFace.hidden = true;
    el.queryBoxes.replaceChildren();
    el.queryFaceList.replaceChildren();
    state.queryImageBroken = false;
    updateQueryFallback();
    el.queryFacesText.textContent = '';
    el.queryFileName.textContent = file.name || 'pasted image';
    el.queryFileName.title = file.name || '';
    el.queryImage.alt = 'the photo you chose' + (file.name ? ': ' + file.name : '');
    el.queryImage.src = state.fileUrl;
  }

  // face: {faceId, photoId, name, path}; with `person` ({id, name}): every photo of that person, the face
  // being the one it is shown by.
  function startFaceSearch(face) {
    if (state.busy || SAVED) return;
    const person = face.person || null;
    state.mode = person ? 'person' : 'face';
    state.file = null;
    if (state.fileUrl) { URL.revokeObjectURL(state.fileUrl); state.fileUrl = null; }
    state.queryFace = null;
    state.faceQuery = face;
    el.query.dataset.mode = state.mode;
    el.queryTitle.textContent = person ? 'This person' : 'This face';
    el.queryPhoto.hidden = true;
    el.queryFace.hidden = false;
    el.queryImage.removeAttribute('src');
    if (face.faceId !== undefined && face.faceId !== null) {
      el.queryFaceImage.src = '/api/v1/faces/' + encodeURIComponent(face.faceId) + '/crop?size=320';
    } else {
      el.queryFaceImage.removeAttribute('src');
    }
    el.queryFaceImage.alt = person ? personName(person) : 'face in ' + (face.name || 'a photo of the library');
    el.queryFaceText.textContent = person ? 'Every photo of ' + personName(person) : 'More photos of this face';
    el.queryFaceName.textContent = person ? 'its faces, and faces that match several of them'
      : face.name ? 'from ' + face.name : '';
    el.queryFaceName.title = person ? '' : face.path || '';
    el.queryFaceOpen.hidden = !!person || face.photoId === undefined || face.photoId === null;
    clearResults();
    showLayout();
    hideSearchError();
    selectTab('search');
    window.scrollTo({ top: 0, behavior: 'smooth' });
    runSearch(floorThreshold(), false);
  }

  el.queryFaceOpen.addEventListener('click', () => {
    const f = state.faceQuery;
    if (!f || f.photoId === undefined || f.photoId === null) return;
    openPhotoView({ photo_id: f.photoId, face_id: f.faceId, name: f.name, path: f.path }, null, el.queryFaceOpen);
  });

  async function runSearch(floor, keepSlider) {
    if (state.busy || SAVED) return;
    const seq = ++state.seq;
    const mode = state.mode;
    state.retry = () => runSearch(floor, keepSlider);
    hideSearchError();
    setBusy(true, mode === 'photo'
      ? (state.queryFace === null ? 'Finding faces and searching the library…' : 'Searching for face ' + (state.queryFace + 1) + '…')
      : mode === 'person' ? 'Searching the library for this person…' : 'Searching the library for this face…');
    try {
      let resp;
      if (mode === 'photo') {
        const fd = new FormData();
        fd.append('threshold', String(floor));
        fd.append('top_k', String(TOP_K));
        if (state.queryFace !== null) fd.append('query_face', String(state.queryFace));
        fd.append('photo', state.file, state.file.name || 'photo');
        resp = await api('/api/v1/search', { method: 'POST', body: fd });
      } else if (mode === 'person') {
        resp = await api('/api/v1/search', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ person: state.faceQuery.person.id, threshold: floor, top_k: TOP_K }) });
      } else {
        resp = await api('/api/v1/faces/' + encodeURIComponent(state.faceQuery.faceId) + '/similar?threshold='
          + encodeURIComponent(String(floor)) + '&top_k=' + TOP_K);
      }
      if (seq !== state.seq) return;
      setBusy(false);
      handleResponse(resp, floor, keepSlider);
    } catch (err) {
      if (seq !== state.seq) return;
      setBusy(false);
      state.pendingFace = null;
      if (err instanceof ApiError && err.code === 'no_face') {
        el.queryBoxes.replaceChildren();
        el.queryFacesText.textContent = 'No face found.';
      }
      else if (mode === 'photo') drawQueryBoxes();
      if (!keepSlider) clearResults();
      showSearchError(err);
    }
  }

  function handleResponse(resp, floor, keepSlider) {
    state.response = resp;
    state.pendingFace = null;
    if (typeof resp.default_threshold === 'number') state.defaultThreshold = resp.default_threshold;
    state.fetchedFloor = typeof resp.threshold === 'number' ? resp.threshold : floor;

    if (state.mode === 'photo') renderQueryPhoto();
    else renderQueryFace();

    const matches = Array.isArray(resp.matches) ? resp.matches.slice() : [];
    matches.sort((a, b) => (b.similarity || 0) - (a.similarity || 0));
    state.cards = matches.map((m, i) => ({ match: m, sim: Number(m.similarity) || 0, el: makeCard(m, i) }));
    state.shown = 0;
    el.grid.replaceChildren();

    if (!keepSlider) {
      const start = state.defaultThreshold !== null ? state.defaultThreshold : state.fetchedFloor;
      el.slider.value = String(round2(clamp(start, 0, 1)));
    }

    const expanded = Array.isArray(resp.expanded_with) ? resp.expanded_with.length : 0;
    el.expanded.hidden = expanded === 0;
    if (expanded) {
      el.expanded.textContent = 'Query expanded with ' + plural(expanded, 'confident match', 'confident matches');
      el.expanded.title = 'The search also used the faces it was most sure about, to find more photos of the same person. '
        + 'A query made of several faces scores everyone a little higher, so the slider starts a little higher'
        + (typeof resp.default_threshold === 'number' ? ' (' + fmt2(resp.default_threshold) + ')' : '') + '.';
    }
    const stats = resp.stats || {};
    const parts = [];
    if (typeof stats.faces === 'number') parts.push('searched ' + plural(stats.faces, 'face'));
    if (typeof stats.query_ms === 'number') parts.push('in ' + (stats.query_ms < 10 ? stats.query_ms.toFixed(1) : Math.round(stats.query_ms)) + ' ms');
    else if (typeof stats.seconds === 'number') parts.push('in ' + stats.seconds.toFixed(1) + ' s');
    if (resp.model) parts.push('model ' + resp.model);
    el.meta.textContent = parts.join(' · ');

    el.resultsArea.hidden = false;
    applyThreshold();
  }

  // ------------------------------------------------------------------ query area

  function renderQueryPhoto() {
    const q = (state.response && state.response.query) || {};
    const faces = Array.isArray(q.faces) ? q.faces : [];
    const chosen = typeof q.chosen === 'number' ? q.chosen : null;
    if (SAVED) {
      el.queryFacesText.textContent = savedQueryText(q, faces, chosen);
    } else if (faces.length <= 1) {
      el.queryFacesText.textContent = faces.length === 1 ? '1 face found: searching for it.' : '';
    } else {
      el.queryFacesText.textContent = faces.length + ' faces found. The highlighted face'
        + (chosen !== null ? ' (' + (chosen + 1) + ')' : '') + ' is searched: click another face to search for it.';
    }
    drawQueryBoxes();
    // fallback list of faces when the browser cannot show the photo itself
    el.queryFaceList.replaceChildren();
    faces.forEach((f, i) => {
      const idx = typeof f.index === 'number' ? f.index : i;
      const b = make('button', 'chip' + (idx === chosen ? ' is-chosen' : ''), 'Face ' + (idx + 1));
      b.type = 'button';
      b.setAttribute('aria-pressed', String(idx === chosen));
      b.addEventListener('click', () => chooseQueryFace(idx));
      el.queryFaceList.appendChild(b);
    });
    updateQueryFallback();
  }

  function drawQueryBoxes() {
    const container = el.queryBoxes;
    container.replaceChildren();
    const q = state.response && state.response.query;
    if (!q || state.mode !== 'photo') return;
    // A saved result's photo is a smaller copy: its boxes are placed by the photo's full size.
    const w = (SAVED && q.width) || el.queryImage.naturalWidth, h = (SAVED && q.height) || el.queryImage.naturalHeight;
    if (!w || !h) return;   // drawn again when the image has loaded
    const faces = Array.isArray(q.faces) ? q.faces : [];
    const chosen = typeof q.chosen === 'number' ? q.chosen : null;
    faces.forEach((f, i) => {
      const idx = typeof f.index === 'number' ? f.index : i;
      const isChosen = idx === chosen;
      const label = faces.length > 1 && !SAVED
        ? (isChosen ? 'Face ' + (idx + 1) + ' (searched)' : 'Search for face ' + (idx + 1) + ' instead')
        : 'Face ' + (idx + 1) + (isChosen || !SAVED ? ' (searched)' : '');
      const b = makeBox(f.box, w, h, label, isChosen ? 'searched' : String(idx + 1));
      b.dataset.faceIndex = String(idx);
      if (isChosen) b.classList.add('is-chosen');
      if (state.pendingFace === idx) b.classList.add('is-pending');
      b.setAttribute('aria-pressed', String(isChosen));
      b.disabled = state.busy || !!SAVED;
      b.addEventListener('click', () => chooseQueryFace(idx));
      container.appendChild(b);
    });
  }

  function chooseQueryFace(idx) {
    if (state.busy || state.mode !== 'photo' || !state.file) return;
    const q = state.response && state.response.query;
    if (q && q.chosen === idx && !el.resultsArea.hidden) return;
    state.queryFace = idx;
    state.pendingFace = idx;
    el.queryBoxes.querySelectorAll('.face-box').forEach((b) => {
      b.classList.toggle('is-pending', b.dataset.faceIndex === String(idx));
    });
    runSearch(state.fetchedFloor !== null ? Math.min(state.fetchedFloor, floorThreshold()) : floorThreshold(), true);
  }

  // When the browser cannot show the chosen file (the server may still read it), faces are offered as a list.
  function updateQueryFallback() {
    const broken = state.queryImageBroken;
    el.queryStage.hidden = broken;
    el.queryFallback.hidden = !broken;
    const q = state.response && state.response.query;
    const faces = q && Array.isArray(q.faces) ? q.faces : [];
    el.queryFallback.textContent = SAVED ? 'The query photo could not be read when this page was saved.'
      : faces.length > 1 ? 'This browser cannot display this file, but the server read it: pick a face below.'
        : 'This browser cannot display this file.';
    el.queryFaceList.hidden = !(broken && faces.length > 1) || !!SAVED;
  }

  el.queryImage.addEventListener('load', () => {
    state.queryImageBroken = false;
    updateQueryFallback();
    drawQueryBoxes();
  });
  el.queryImage.addEventListener('error', () => {
    if (!el.queryImage.getAttribute('src')) return;
    state.queryImageBroken = true;
    updateQueryFallback();
  });

  function renderQueryFace() {
    const q = (state.response && state.response.query) || {};
    const f = state.faceQuery;
    if (!f) return;
    if ((f.photoId === undefined || f.photoId === null) && q.photo_id !== undefined && q.photo_id !== null) {
      f.photoId = q.photo_id;
      el.queryFaceOpen.hidden = false;
    }
  }

  // A face box as a button, placed in % of the photo's full size so it follows the displayed size.
  function makeBox(box, w, h, label, tag) {
    const b = make('button', 'face-box');
    b.type = 'button';
    b.setAttribute('aria-label', label);
    b.title = label;
    const x1 = clamp(Number(box && box.x1) || 0, 0, w), x2 = clamp(Number(box && box.x2) || 0, 0, w);
    const y1 = clamp(Number(box && box.y1) || 0, 0, h), y2 = clamp(Number(box && box.y2) || 0, 0, h);
    b.style.left = (Math.min(x1, x2) / w * 100) + '%';
    b.style.top = (Math.min(y1, y2) / h * 100) + '%';
    b.style.width = (Math.abs(x2 - x1) / w * 100) + '%';
    b.style.height = (Math.abs(y2 - y1) / h * 100) + '%';
    if (tag) {
      b.appendChild(make('span', 'face-box-tag', tag));
      if (Math.min(y1, y2) / h < 0.09) b.classList.add('tag-below');   // no room above the box
    }
    return b;
  }

  // ------------------------------------------------------------------ results

  function strength(sim) {
    const d = state.defaultThreshold !== null ? state.defaultThreshold : 0.4;
    if (sim >= d + 0.15) return 'strong';
    if (sim >= d) return 'good';
    return 'weak';
  }

  function makeCard(m, rank) {
    const name = m.name || baseName(m.path) || 'photo ' + m.photo_id;
    const sim = Number(m.similarity) || 0;
    const li = make('li', 'result-card');
    if (m.photo_id !== undefined && m.photo_id !== null) li.dataset.photoId = String(m.photo_id);
    if (m.face_id !== undefined && m.face_id !== null) li.dataset.faceId = String(m.face_id);
    li.dataset.similarity = String(m.similarity);
    li.dataset.path = m.path || '';
    li.dataset.rank = String(rank + 1);

    const btn = make('button', 'result-open');
    btn.type = 'button';
    btn.setAttribute('aria-label', name + ', similarity ' + fmt2(sim) + ': open the photo');
    btn.title = m.path || name;

    const frame = make('span', 'result-thumb');
    const crop = SAVED ? (typeof m.crop === 'string' && m.crop.startsWith('data:image/') ? m.crop : null)
      : '/api/v1/faces/' + encodeURIComponent(m.face_id) + '/crop?size=160';
    if (crop) {
      addFaceImage(frame, 'result-img', crop, 'face in ' + name, 160);
    } else {
      frame.classList.add('is-broken');   // the photo could not be read when the page was saved
      frame.title = m.unreadable ? 'Not readable when this page was saved: ' + m.unreadable : '';
    }

    const info = make('span', 'result-info');
    const score = make('span', 'score score-' + strength(sim), fmt2(sim));
    score.setAttribute('aria-hidden', 'true');
    const bar = make('span', 'score-bar');
    const fill = make('span', 'score-fill score-fill-' + strength(sim));
    fill.style.width = (clamp(sim, 0, 1) * 100).toFixed(1) + '%';
    bar.appendChild(fill);
    bar.setAttribute('aria-hidden', 'true');
    // Names of one folder often share their start and extension (lfw_Tony_Blair_0058.jpg): show the end
    // of the name without the extension, short enough for a card at four columns and on a phone; the title
    // has it all.
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 && name.length - dot <= 5 ? name.slice(0, dot) : name;
    const shortName = stem.length > 11 ? '\u2026' + stem.slice(-10) : stem;
    const nameEl = make('span', 'result-name', shortName);
    nameEl.title = name;

    info.appendChild(score);
    info.appendChild(nameEl);
    btn.appendChild(frame);
    btn.appendChild(bar);
    btn.appendChild(info);
    btn.addEventListener('click', () => openPhotoView(m, rank, btn));
    li.appendChild(btn);
    return li;
  }

  function sliderValue() {
    return round2(clamp(Number(el.slider.value) || 0, 0, 1));
  }

  function applyThreshold() {
    const t = sliderValue();
    el.sliderValue.textContent = fmt2(t);
    el.sliderValue.value = fmt2(t);
    el.slider.setAttribute('aria-valuetext', fmt2(t));

    const cards = state.cards;
    let k = 0;
    while (k < cards.length && cards[k].sim >= t - EPS) k += 1;
    if (state.shown > k) {
      for (let i = state.shown - 1; i >= k; i -= 1) cards[i].el.remove();
    } else if (state.shown < k) {
      const frag = document.createDocumentFragment();
      for (let i = state.shown; i < k; i += 1) frag.appendChild(cards[i].el);
      el.grid.appendChild(frag);
    }
    state.shown = k;

    el.count.textContent = plural(k, 'photo') + ' at ≥ ' + fmt2(t);
    el.count.dataset.count = String(k);
    el.count.dataset.threshold = fmt2(t);

    // below what was fetched: offer to fetch down to the slider
    const floor = state.fetchedFloor;
    const below = floor !== null && t < floor - EPS;
    el.fetchMore.hidden = !below;
    if (below && SAVED) {
      el.fetchMoreText.textContent = 'This saved result holds matches down to ' + fmt2(floor) + ' only: run '
        + 'facesearch search with --threshold ' + fmt2(t) + ' for more.';
      el.fetchMoreButton.hidden = true;
    } else if (below) {
      el.fetchMoreText.textContent = 'Matches were fetched down to ' + fmt2(floor) + ' only.';
      el.fetchMoreButton.textContent = 'Search down to ' + fmt2(t);
    }

    // empty states
    el.emptyAction.hidden = true;
    el.emptyAction.dataset.action = '';
    if (k > 0) {
      el.empty.hidden = true;
    } else if (cards.length === 0) {
      el.empty.hidden = false;
      el.emptyTitle.textContent = state.mode === 'face' || state.mode === 'person'
        ? 'No other photos of this ' + state.mode + ' at ≥ ' + fmt2(floor) + '.'
        : 'No matching photos at ≥ ' + fmt2(floor) + '.';
      if (SAVED) {
        el.emptyText.textContent = 'The search found no other photo of this person. A lower --threshold finds '
          + 'weaker matches, with more mistakes among them.';
      } else if (state.status && state.status.faces === 0) {
        setRichText(el.emptyText, 'The library is empty: run `facesearch index ~/Pictures` first');
      } else {
        el.emptyText.textContent = 'The library may hold no other photo of this person. A lower threshold finds '
          + 'weaker matches, with more mistakes among them.';
        if (floor > 0) {
          const lower = round2(Math.max(0, floor - 0.1));
          el.emptyAction.hidden = false;
          el.emptyAction.textContent = 'Search down to ' + fmt2(lower);
          el.emptyAction.dataset.action = 'fetch:' + lower;
        }
      }
    } else {
      const best = cards[0].sim;
      const to = Math.floor(best * 100 + EPS) / 100;
      el.empty.hidden = false;
      el.emptyTitle.textContent = 'No photos at ≥ ' + fmt2(t) + '.';
      el.emptyText.textContent = 'Lower the threshold with the slider: the best match scores ' + fmt2(best)
        + (cards.length > 1 ? ', and ' + plural(cards.length - 1, 'more photo') + ' score lower.' : '.');
      el.emptyAction.hidden = false;
      el.emptyAction.textContent = 'Lower to ' + fmt2(to);
      el.emptyAction.dataset.action = 'slide:' + to;
    }
    if (el.pv.open) updatePhotoViewNav();
  }

  el.slider.addEventListener('input', applyThreshold);
  el.slider.addEventListener('change', applyThreshold);

  el.fetchMoreButton.addEventListener('click', () => {
    if (state.busy || !state.mode) return;
    runSearch(sliderValue(), true);
  });
  el.emptyAction.addEventListener('click', () => {
    const action = el.emptyAction.dataset.action || '';
    const [kind, value] = action.split(':');
    const v = Number(value);
    if (!isFinite(v)) return;
    if (kind === 'slide') {
      el.slider.value = String(v);
      applyThreshold();
      el.slider.focus();
    } else if (kind === 'fetch' && !state.busy) {
      el.slider.value = String(v);
      runSearch(v, true);
    }
  });

  // ------------------------------------------------------------------ photo view

  function openPhotoView(item, index, opener) {
    state.pv.opener = opener || document.activeElement;
    showInPhotoView(item, index);
    if (!el.pv.open) {
      if (typeof el.pv.showModal === 'function') el.pv.showModal();
      else el.pv.setAttribute('open', '');
      document.body.classList.add('has-modal');
    }
    el.pvClose.focus();
  }

  function closePhotoView() {
    if (!el.pv.open) return;
    if (typeof el.pv.close === 'function') el.pv.close();
    else el.pv.removeAttribute('open');
    // Now, not when the dialog's 'close' event comes (a task later: the page behind stayed inert for a
    // moment after Escape, and the browser test saw it).
    onPhotoViewClosed();
  }

  // Once per closing, whoever closed it (Escape, the button, the backdrop, the browser): the 'close'
  // event of a view closed here, or of one opened again meanwhile, finds nothing to do.
  function onPhotoViewClosed() {
    if (el.pv.open || !document.body.classList.contains('has-modal')) return;
    document.body.classList.remove('has-modal');
    state.pv.seq += 1;
    const opener = state.pv.opener;
    state.pv.opener = null;
    if (opener && opener.isConnected && !opener.disabled) opener.focus();
    else if (!el.resultsArea.hidden) el.slider.focus();
  }

  el.pv.addEventListener('close', onPhotoViewClosed);
  el.pvClose.addEventListener('click', closePhotoView);
  el.pv.addEventListener('click', (ev) => { if (ev.target === el.pv) closePhotoView(); });   // the backdrop
  el.pv.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); closePhotoView(); return; }
    if (ev.target && ev.target.matches && ev.target.matches('input, textarea, select')) return;
    if (ev.key === 'ArrowLeft' && !el.pvPrev.disabled && !el.pvPrev.hidden) { ev.preventDefault(); stepPhotoView(-1); }
    if (ev.key === 'ArrowRight' && !el.pvNext.disabled && !el.pvNext.hidden) { ev.preventDefault(); stepPhotoView(1); }
  });
  el.pvPrev.addEventListener('click', () => stepPhotoView(-1));
  el.pvNext.addEventListener('click', () => stepPhotoView(1));

  function stepPhotoView(delta) {
    const i = state.pv.index;
    if (i === null) return;
    const j = i + delta;
    if (j < 0 || j >= state.shown) return;
    const card = state.cards[j];
    state.pv.opener = card.el.querySelector('button');
    showInPhotoView(card.match, j);
  }

  function updatePhotoViewNav() {
    const i = state.pv.index;
    const inList = i !== null && i < state.shown;
    el.pvPrev.hidden = !inList;
    el.pvNext.hidden = !inList;
    el.pvPos.hidden = !inList;
    el.pvPrev.parentNode.dataset.empty = String(!inList);
    if (!inList) return;
    el.pvPrev.disabled = i <= 0;
    el.pvNext.disabled = i >= state.shown - 1;
    el.pvPos.textContent = (i + 1) + ' / ' + state.shown;
  }

  async function showInPhotoView(item, index) {
    const seq = ++state.pv.seq;
    state.pv.item = item;
    state.pv.index = index;
    state.pv.photo = null;
    updatePhotoViewNav();

    const name = item.name || baseName(item.path) || 'photo ' + item.photo_id;
    el.pv.dataset.photoId = String(item.photo_id);
    el.pv.dataset.faceId = item.face_id !== undefined && item.face_id !== null ? String(item.face_id) : '';
    el.pvTitle.textContent = name;
    el.pvPath.textContent = item.path || '';
    el.pvPath.title = item.path || '';
    el.pvMatch.replaceChildren();
    if (typeof item.similarity === 'number') {
      el.pvMatch.appendChild(make('span', 'score score-' + strength(item.similarity), fmt2(item.similarity)));
      const searchedFace = state.mode === 'face' || (SAVED && SAVED.query && SAVED.query.face_id !== null
        && SAVED.query.face_id !== undefined);
      el.pvMatch.appendChild(document.createTextNode(' similarity of the highlighted face to '
        + (state.mode === 'person' && !SAVED ? 'the person\u2019s faces'
          : searchedFace ? 'the face searched for' : SAVED ? 'the query face' : 'your face')));
    } else if (item.note) {
      el.pvMatch.textContent = item.note;
    } else if (item.face_id !== undefined && item.face_id !== null) {
      el.pvMatch.textContent = 'The highlighted face is the one searched for.';
    }
    el.pvError.hidden = true;
    el.pvFaces.replaceChildren();
    el.pvBoxes.replaceChildren();
    el.pvDims.textContent = '';
    el.pvHelp.hidden = true;
    el.pvLoading.hidden = false;
    el.pvStage.classList.add('is-loading');
    if (SAVED) { showSavedPhoto(item, name); return; }

    const img = el.pvImage;
    img.removeAttribute('width');
    img.removeAttribute('height');
    img.alt = 'photo ' + name;
    img.src = '/api/v1/photos/' + encodeURIComponent(item.photo_id) + '/image?max=1600';

    let photo;
    try {
      photo = await api('/api/v1/photos/' + encodeURIComponent(item.photo_id));
    } catch (err) {
      if (seq !== state.pv.seq) return;
      const d = describeError(err);
      setRichText(el.pvErrorMessage, d.message);
      setRichText(el.pvErrorHint, d.hint);
      el.pvErrorHint.hidden = !d.hint;
      el.pvError.hidden = false;
      el.pvLoading.hidden = true;
      return;
    }
    if (seq !== state.pv.seq) return;
    state.pv.photo = photo;
    const realName = photo.name || name;
    el.pvTitle.textContent = realName;
    el.pvPath.textContent = photo.path || item.path || '';
    el.pvPath.title = el.pvPath.textContent;
    img.alt = 'photo ' + realName;
    const w = Number(photo.width) || 0, h = Number(photo.height) || 0;
    if (w && h) {
      img.width = w;     // reserves the aspect ratio while the image loads
      img.height = h;
      el.pvDims.textContent = w + ' × ' + h + ' pixels';
    }
    const faces = Array.isArray(photo.faces) ? photo.faces : [];
    el.pvHelp.hidden = faces.length === 0;
    el.pvHelp.textContent = faces.length > 1 ? 'Click a face to find more photos of it.'
      : 'Click the face to find more photos of it.';
    if (!faces.length) el.pvMatch.textContent = 'No faces were found in this photo.';
    faces.forEach((f, i) => {
      const idx = typeof f.index === 'number' ? f.index : i;
      const isMatch = item.face_id !== undefined && item.face_id !== null && f.face_id === item.face_id;
      const face = { faceId: f.face_id, photoId: photo.photo_id !== undefined ? photo.photo_id : item.photo_id,
        name: realName, path: photo.path || item.path || '' };
      if (w && h) {
        const b = makeBox(f.box, w, h, 'More photos of face ' + (idx + 1) + (isMatch ? ' (the match)' : ''),
          isMatch ? 'match' : String(idx + 1));
        b.dataset.faceId = String(f.face_id);
        b.dataset.faceIndex = String(idx);
        if (isMatch) b.classList.add('is-chosen');
        b.addEventListener('click', () => searchFromPhotoView(face));
        el.pvBoxes.appendChild(b);
      }
      const li = make('li', 'pv-face');
      const fb = make('button', 'pv-face-button' + (isMatch ? ' is-chosen' : ''));
      fb.type = 'button';
      fb.dataset.faceId = String(f.face_id);
      const crop = make('img', 'pv-face-img');
      crop.src = '/api/v1/faces/' + encodeURIComponent(f.face_id) + '/crop?size=96';
      crop.alt = 'face ' + (idx + 1) + ' in ' + realName;
      crop.width = 48;
      crop.height = 48;
      crop.loading = 'lazy';
      fb.appendChild(crop);
      const text = make('span', 'pv-face-text');
      text.appendChild(make('span', 'pv-face-title', 'Face ' + (idx + 1) + (isMatch ? ' · match' : '')));
      text.appendChild(make('span', 'pv-face-sub', 'More photos of this face'));
      fb.appendChild(text);
      fb.addEventListener('click', () => searchFromPhotoView(face));
      li.appendChild(fb);
      if (f.person) li.appendChild(makePhotoFacePerson(f, idx));
      el.pvFaces.appendChild(li);
    });
    if (img.complete && img.naturalWidth) onPhotoViewImageLoaded();
  }

  // The photo view of a saved result: the photo saved with it (the best matches have one), its matching
  // faces boxed; else the face crop alone. Nothing to search from here.
  function showSavedPhoto(item, name) {
    const img = el.pvImage;
    const photos = Array.isArray(SAVED.photos) ? SAVED.photos : [];
    const photo = typeof item.photo === 'number' ? photos[item.photo] : null;
    el.pvStage.classList.remove('is-loading', 'is-broken', 'is-crop-only');
    el.pvLoading.hidden = true;
    el.pvHelp.hidden = false;
    img.alt = 'photo ' + name;
    if (photo && typeof photo.image === 'string' && photo.image.startsWith('data:image/')) {
      const w = Number(photo.width) || 0, h = Number(photo.height) || 0;
      if (w && h) {
        img.width = w;
        img.height = h;
        el.pvDims.textContent = w + ' × ' + h + ' pixels';
        const mine = (SAVED.matches || []).filter((m) => m === item || (m.path === item.path && m.photo === item.photo));
        mine.forEach((m) => {
          const isMatch = m === item;
          const b = makeBox(m.box, w, h, (isMatch ? 'The match' : 'Another match') + ', similarity ' + fmt2(m.similarity),
            isMatch ? 'match ' + fmt2(m.similarity) : fmt2(m.similarity));
          b.disabled = true;
          b.dataset.faceIndex = String(m.face_index);
          if (isMatch) b.classList.add('is-chosen');
          el.pvBoxes.appendChild(b);
        });
      }
      img.src = photo.image;
      el.pvHelp.textContent = 'A copy of the photo, saved in this page.';
    } else if (typeof item.crop === 'string' && item.crop.startsWith('data:image/')) {
      el.pvStage.classList.add('is-crop-only');
      img.width = 160;
      img.height = 160;
      img.src = item.crop;
      const limit = Number(SAVED.photos_limit) || 0;
      el.pvHelp.textContent = 'Only the face is saved for this match: the page holds the whole photos of '
        + (limit ? 'its ' + plural(limit, 'best match', 'best matches') : 'no match') + ' (--html-photos). '
        + 'The photo itself is at the path above.';
    } else {
      img.removeAttribute('src');
      el.pvStage.classList.add('is-broken');
      el.pvHelp.textContent = 'This photo could not be read when the page was saved'
        + (item.unreadable ? ' (' + item.unreadable + ')' : '') + '.';
    }
  }

  function onPhotoViewImageLoaded() {
    el.pvLoading.hidden = true;
    el.pvStage.classList.remove('is-loading');
  }
  el.pvImage.addEventListener('load', onPhotoViewImageLoaded);
  el.pvImage.addEventListener('error', () => {
    if (!el.pvImage.getAttribute('src')) return;
    el.pvLoading.hidden = true;
    el.pvStage.classList.remove('is-loading');
    el.pvStage.classList.add('is-broken');
    el.pvError.hidden = false;
    el.pvErrorMessage.textContent = 'This photo cannot be shown.';
    el.pvErrorHint.textContent = 'The file may have been moved or changed since it was indexed.';
    el.pvErrorHint.hidden = false;
  });
  el.pvImage.addEventListener('loadstart', () => el.pvStage.classList.remove('is-broken'));

  // Under a face of the photo view: the person it is, and "Not NAME" (POST /api/v1/faces/ID/reject),
  // which no later index run or re-cluster undoes.
  function makePhotoFacePerson(f, idx) {
    const row = make('div', 'pv-face-person');
    const who = personName(f.person);
    row.appendChild(make('span', 'pv-face-person-name', who));
    const reject = make('button', 'button button-tiny button-danger pv-face-reject', 'Not ' + who);
    reject.type = 'button';
    reject.setAttribute('aria-label', 'Face ' + (idx + 1) + ' is not ' + who + ': take it out of ' + who);
    reject.addEventListener('click', async () => {
      reject.disabled = true;
      try {
        await jsonRequest('/api/v1/faces/' + encodeURIComponent(f.face_id) + '/reject', 'POST');
        row.replaceChildren(make('span', 'status-done', 'Not ' + who + ': remembered. The face belongs to nobody now.'));
        people.list = null;   // the People tab reloads its counts
      } catch (err) {
        reject.disabled = false;
        const d = describeError(err);
        row.appendChild(make('span', 'pv-face-person-error', d.message));
      }
    });
    row.appendChild(reject);
    return row;
  }

  function searchFromPhotoView(face) {
    if (state.busy) return;
    state.pv.opener = null;
    closePhotoView();
    startFaceSearch(face);
  }

  // ------------------------------------------------------------------ people

  // The People tab: everyone (GET /api/v1/people), one person (GET /api/v1/people/ID), the faces that
  // belong to nobody (GET /api/v1/people/unassigned); changes by PATCH/POST (docs/API.md, "People").
  const pe = {
    listView: $('people-list-view'), summary: $('people-summary'), showHidden: $('people-show-hidden'),
    showHiddenText: $('people-show-hidden-text'), refresh: $('people-refresh'), status: $('people-status'),
    error: $('people-error'), errorMessage: $('people-error-message'), errorHint: $('people-error-hint'),
    empty: $('people-empty'), emptyTitle: $('people-empty-title'), emptyText: $('people-empty-text'),
    grid: $('people-grid'),
    mergeBar: $('merge-bar'), mergeText: $('merge-text'), mergeClear: $('merge-clear'), mergeButton: $('merge-button'),
    mergeConfirm: $('merge-confirm'), mergeCancel: $('merge-cancel'),
    unassigned: $('unassigned'), unassignedCount: $('unassigned-count'), unassignedGrid: $('unassigned-grid'),
    unassignedTarget: $('unassigned-target'), unassignedMove: $('unassigned-move'),
    unassignedSelected: $('unassigned-selected'), unassignedMore: $('unassigned-more'),
    view: $('person-view'), back: $('person-back'), personError: $('person-error'),
    personErrorMessage: $('person-error-message'), personErrorHint: $('person-error-hint'),
    cover: $('person-cover'), name: $('person-name'), nameRow: $('person-name-row'), rename: $('person-rename'),
    hiddenBadge: $('person-hidden-badge'), form: $('person-name-form'), input: $('person-name-input'),
    save: $('person-name-save'), cancel: $('person-name-cancel'), nameError: $('person-name-error'),
    counts: $('person-counts'), search: $('person-search'), hide: $('person-hide'), personStatus: $('person-status'),
    photosCount: $('person-photos-count'), faces: $('person-faces'),
  };

  const people = {
    personId: null,       // the person shown, or null: everyone
    list: null,           // the last answer of GET /api/v1/people
    selected: [],         // ids selected for a merge, in the order they were selected
    person: null,         // the last answer of GET /api/v1/people/ID
    unassigned: [],       // faces of GET /api/v1/people/unassigned
    picked: new Set(),    // unassigned face ids selected
    seq: 0,
    busy: false,
  };

  const UNASSIGNED_LIMIT = 120;

  function personName(p) {
    return p && p.name ? p.name : 'Unnamed person' + (p && p.id ? ' ' + p.id : '');
  }

  function cropUrl(faceId, size) {
    return '/api/v1/faces/' + encodeURIComponent(faceId) + '/crop?size=' + size;
  }

  function jsonRequest(path, method, body) {
    return api(path, { method: method, headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? '' : JSON.stringify(body) });
  }

  function showNotice(box, messageEl, hintEl, err) {
    const d = describeError(err);
    setRichText(messageEl, d.message);
    setRichText(hintEl, d.hint);
    hintEl.hidden = !d.hint;
    box.dataset.code = err && err.code ? err.code : 'error';
    box.hidden = false;
  }

  function setStatusLine(node, text) {
    if (text) node.replaceChildren(make('span', 'spinner', ''), make('span', 'search-status-text', text));
    else node.replaceChildren();
  }

  function setPeopleBusy(busy) {
    people.busy = busy;
    el.panelPeople.setAttribute('aria-busy', String(busy));
    pe.refresh.disabled = busy;
    updateMergeBar();
    updateUnassignedActions();
  }

  // The tab shows everyone, or one person when the address names one (#people/ID).
  function showPeopleRoute(personId) {
    if (personId) {
      setHash('#people/' + personId, false);
      openPersonView(personId);
    } else {
      setHash('#people', false);
      showPeopleList();
    }
  }

  function showPeopleList() {
    people.personId = null;
    document.title = 'facesearch';
    pe.view.hidden = true;
    pe.listView.hidden = false;
    loadPeople();
  }

  async function loadPeople() {
    const seq = ++people.seq;
    el.panelPeople.dataset.state = 'loading';
    setPeopleBusy(true);
    const first = !people.list;   // later loads keep the list (and the note of the last change) in place
    if (first) setStatusLine(pe.status, 'Loading people\u2026');
    try {
      const [list, waiting] = await Promise.all([
        api('/api/v1/people' + (pe.showHidden.checked ? '?hidden=1' : '')),
        api('/api/v1/people/unassigned?limit=' + UNASSIGNED_LIMIT),
      ]);
      if (seq !== people.seq) return;
      pe.error.hidden = true;
      renderPeople(list);
      renderUnassigned(waiting);
      el.panelPeople.dataset.state = 'ready';
    } catch (err) {
      if (seq !== people.seq) return;
      showNotice(pe.error, pe.errorMessage, pe.errorHint, err);
      el.panelPeople.dataset.state = 'error';
    } finally {
      if (seq === people.seq) {
        if (first) setStatusLine(pe.status, '');
        setPeopleBusy(false);
      }
    }
  }

  function renderPeople(list) {
    people.list = list;
    const all = Array.isArray(list.people) ? list.people : [];
    const hidden = Number(list.hidden) || 0;
    const total = Number(list.total) || all.length;
    const faces = Number(list.faces) || 0;
    const grouped = Number(list.faces_with_person) || 0;
    pe.summary.textContent = total
      ? plural(total, 'person', 'people') + (list.named ? ', ' + num(list.named) + ' named' : '') + ' \u00b7 '
        + num(grouped) + ' of ' + plural(faces, 'face') + ' belong to someone'
      : '';
    pe.showHiddenText.textContent = 'Show hidden people' + (hidden ? ' (' + hidden + ')' : '');
    // a selection keeps the people still listed
    const ids = new Set(all.map((p) => p.id));
    people.selected = people.selected.filter((id) => ids.has(id));

    pe.grid.replaceChildren();
    all.forEach((p) => pe.grid.appendChild(makePersonCard(p)));
    pe.grid.dataset.count = String(all.length);

    pe.empty.hidden = all.length > 0;
    if (!all.length) {
      if (faces === 0) {
        pe.emptyTitle.textContent = 'No people yet: the library holds no faces.';
        setRichText(pe.emptyText, 'Index a folder of photos first: `facesearch index ~/Pictures`.');
      } else if (total > 0) {
        pe.emptyTitle.textContent = 'Everyone is hidden.';
        pe.emptyText.textContent = 'Tick \u201cShow hidden people\u201d to see them.';
      } else {
        pe.emptyTitle.textContent = 'No people yet.';
        pe.emptyText.textContent = 'A person forms when three faces or more look alike. Index more photos, or put '
          + 'faces in a new person below.';
      }
    }
    pe.mergeBar.hidden = all.length < 2;
    setMergeConfirm(false);
    updateMergeBar();
    fillTargetSelect(all);
  }

  function makePersonCard(p) {
    const li = make('li', 'person-card');
    li.dataset.personId = String(p.id);
    li.dataset.name = p.name || '';
    li.dataset.faces = String(p.faces);
    li.dataset.photos = String(p.photos);
    li.dataset.hidden = String(!!p.hidden);
    const selected = people.selected.includes(p.id);
    li.classList.toggle('is-selected', selected);
    li.classList.toggle('is-hidden-person', !!p.hidden);

    const pick = make('label', 'person-pick');
    const box = make('input', 'person-select');
    box.type = 'checkbox';
    box.checked = selected;
    box.setAttribute('aria-label', 'Select ' + personName(p) + ' to merge');
    box.addEventListener('change', () => togglePersonSelected(p.id, box.checked, li));
    pick.appendChild(box);
    li.appendChild(pick);

    const btn = make('button', 'person-open');
    btn.type = 'button';
    btn.setAttribute('aria-label', personName(p) + ', ' + plural(p.faces, 'face') + (p.hidden ? ', hidden' : '')
      + ': open');
    const frame = make('span', 'person-thumb');
    if (p.sample_face_id) {
      addFaceImage(frame, 'person-img', cropUrl(p.sample_face_id, 256), '', 256);
    } else {
      frame.classList.add('is-broken');
    }
    if (p.hidden) frame.appendChild(make('span', 'badge badge-on-photo', 'Hidden'));
    const info = make('span', 'person-info');
    const name = make('span', 'person-card-name' + (p.name ? '' : ' is-unnamed'), p.name || 'Unnamed');
    name.title = personName(p);
    info.appendChild(name);
    info.appendChild(make('span', 'person-card-counts', plural(p.faces, 'photo')));
    btn.appendChild(frame);
    btn.appendChild(info);
    btn.addEventListener('click', () => openPerson(p.id));
    li.appendChild(btn);
    return li;
  }

  function openPerson(id) {
    people.personId = id;
    setHash('#people/' + id, true);
    openPersonView(id);
  }

  // ---- merging

  function togglePersonSelected(id, on, li) {
    setStatusLine(pe.status, '');
    people.selected = people.selected.filter((x) => x !== id);
    if (on) people.selected.push(id);
    if (li) li.classList.toggle('is-selected', on);
    setMergeConfirm(false);
    updateMergeBar();
  }

  function listedPerson(id) {
    const all = people.list && Array.isArray(people.list.people) ? people.list.people : [];
    return all.find((p) => p.id === id) || null;
  }

  // The people to merge, the one that stays first: the first selected with a name, else the first selected.
  function mergeOrder() {
    const chosen = people.selected.map(listedPerson).filter(Boolean);
    const keep = chosen.find((p) => p.name) || chosen[0];
    return keep ? [keep].concat(chosen.filter((p) => p !== keep)) : [];
  }

  function updateMergeBar() {
    const n = people.selected.length;
    const confirming = pe.mergeBar.dataset.confirm === 'true';
    pe.mergeBar.dataset.count = String(n);
    pe.mergeBar.classList.toggle('is-active', n > 0);
    pe.mergeButton.disabled = people.busy || n < 2;
    pe.mergeClear.hidden = n === 0 || confirming;
    pe.mergeButton.hidden = confirming;
    pe.mergeConfirm.hidden = !confirming;
    pe.mergeCancel.hidden = !confirming;
    pe.mergeConfirm.disabled = people.busy;
    if (confirming) return;
    pe.mergeButton.textContent = n >= 2 ? 'Merge ' + n + ' people' : 'Merge';
    if (n === 0) pe.mergeText.textContent = 'Two cards of one person? Tick both, then merge them.';
    else if (n === 1) pe.mergeText.textContent = '1 person selected: tick another one who is the same person.';
    else pe.mergeText.textContent = n + ' people selected.';
  }

  function setMergeConfirm(on) {
    pe.mergeBar.dataset.confirm = String(on);
    if (on) {
      const order = mergeOrder();
      const keep = order[0];
      const faces = order.reduce((sum, p) => sum + (Number(p.faces) || 0), 0);
      const dropped = order.slice(1).filter((p) => p.name).map((p) => '\u201c' + p.name + '\u201d');
      pe.mergeText.replaceChildren(
        document.createTextNode('Merge ' + order.length + ' people into '),
        make('strong', null, personName(keep)),
        document.createTextNode('? Their ' + plural(faces, 'face') + ' become one person'
          + (dropped.length ? '; the name' + (dropped.length > 1 ? 's ' : ' ') + dropped.join(', ') + ' will be dropped' : '')
          + '.'));
    }
    updateMergeBar();
  }

  pe.mergeButton.addEventListener('click', () => {
    if (people.selected.length < 2 || people.busy) return;
    setMergeConfirm(true);
    pe.mergeConfirm.focus();
  });
  pe.mergeCancel.addEventListener('click', () => { setMergeConfirm(false); pe.mergeButton.focus(); });
  pe.mergeClear.addEventListener('click', () => {
    people.selected = [];
    pe.grid.querySelectorAll('.person-card').forEach((li) => {
      li.classList.remove('is-selected');
      const box = li.querySelector('.person-select');
      if (box) box.checked = false;
    });
    updateMergeBar();
  });
  pe.mergeBar.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && pe.mergeBar.dataset.confirm === 'true') { ev.preventDefault(); setMergeConfirm(false); }
  });

  pe.mergeConfirm.addEventListener('click', async () => {
    const order = mergeOrder();
    if (order.length < 2 || people.busy) return;
    setPeopleBusy(true);
    setStatusLine(pe.status, 'Merging\u2026');
    try {
      const report = await jsonRequest('/api/v1/people/merge', 'POST', { people: order.map((p) => p.id) });
      people.selected = [];
      setMergeConfirm(false);
      const left = Number(report.faces_left_out) || 0;
      pe.status.replaceChildren(make('span', 'status-done',
        'Merged into ' + personName(report.person) + ': ' + plural(report.person.faces, 'face') + '.'
        + (left ? ' ' + plural(left, 'face was', 'faces were') + ' left out (a photo where the person already is, '
          + 'or a face you said is not them).' : '')));
      setPeopleBusy(false);
      await loadPeople();
    } catch (err) {
      setPeopleBusy(false);
      setStatusLine(pe.status, '');
      setMergeConfirm(false);
      showNotice(pe.error, pe.errorMessage, pe.errorHint, err);
    }
  });

  pe.showHidden.addEventListener('change', () => { setStatusLine(pe.status, ''); loadPeople(); });
  pe.refresh.addEventListener('click', () => { setStatusLine(pe.status, ''); loadPeople(); });

  // ---- faces that belong to nobody

  function renderUnassigned(answer) {
    const faces = Array.isArray(answer.faces) ? answer.faces : [];
    const total = Number(answer.total) || faces.length;
    people.unassigned = faces;
    const ids = new Set(faces.map((f) => f.face_id));
    people.picked = new Set(Array.from(people.picked).filter((id) => ids.has(id)));
    pe.unassigned.hidden = total === 0;
    pe.unassigned.dataset.total = String(total);
    pe.unassignedCount.textContent = plural(total, 'face');
    pe.unassignedGrid.replaceChildren();
    faces.forEach((f) => {
      const li = make('li', 'face-pick');
      li.dataset.faceId = String(f.face_id);
      li.dataset.photoId = String(f.photo_id);
      const b = make('button', 'face-pick-button');
      b.type = 'button';
      const picked = people.picked.has(f.face_id);
      b.setAttribute('aria-pressed', String(picked));
      b.setAttribute('aria-label', 'Face in ' + (f.name || 'photo ' + f.photo_id));
      b.title = f.path || f.name || '';
      const img = make('img', 'face-pick-img');
      img.src = cropUrl(f.face_id, 160);
      img.alt = '';
      img.width = 96;
      img.height = 96;
      img.loading = 'lazy';
      b.appendChild(img);
      b.appendChild(make('span', 'face-pick-check'));
      b.addEventListener('click', () => {
        const on = !people.picked.has(f.face_id);
        if (on) people.picked.add(f.face_id);
        else people.picked.delete(f.face_id);
        b.setAttribute('aria-pressed', String(on));
        updateUnassignedActions();
      });
      const open = make('button', 'face-pick-open');
      open.type = 'button';
      open.setAttribute('aria-label', 'Open the photo ' + (f.name || ''));
      open.title = 'Open the photo';
      open.appendChild(make('span', null, '\u2922'));
      open.addEventListener('click', () => openPhotoView({ photo_id: f.photo_id, face_id: f.face_id, name: f.name,
        path: f.path, note: 'The highlighted face belongs to nobody yet.' }, null, open));
      li.appendChild(b);
      li.appendChild(open);
      pe.unassignedGrid.appendChild(li);
    });
    pe.unassignedMore.hidden = total <= faces.length;
    pe.unassignedMore.textContent = 'The newest ' + faces.length + ' are shown; ' + num(total - faces.length)
      + ' more wait.';
    updateUnassignedActions();
  }

  function fillTargetSelect(list) {
    const keep = pe.unassignedTarget.value;
    pe.unassignedTarget.replaceChildren();
    const fresh = make('option', null, 'a new person');
    fresh.value = 'new';
    pe.unassignedTarget.appendChild(fresh);
    list.forEach((p) => {
      const o = make('option', null, personName(p) + ' (' + plural(p.faces, 'face') + ')');
      o.value = String(p.id);
      pe.unassignedTarget.appendChild(o);
    });
    if (Array.from(pe.unassignedTarget.options).some((o) => o.value === keep)) pe.unassignedTarget.value = keep;
  }

  function updateUnassignedActions() {
    const n = people.picked.size;
    pe.unassignedMove.disabled = people.busy || n === 0;
    pe.unassignedMove.textContent = n > 1 ? 'Move ' + n + ' faces' : 'Move';
    pe.unassignedSelected.textContent = n ? plural(n, 'selected face') : 'selected faces';
    pe.unassigned.dataset.picked = String(n);
  }

  pe.unassignedMove.addEventListener('click', async () => {
    const faces = Array.from(people.picked);
    if (!faces.length || people.busy) return;
    let target = pe.unassignedTarget.value === 'new' ? 'new' : Number(pe.unassignedTarget.value);
    setPeopleBusy(true);
    setStatusLine(pe.status, 'Moving ' + plural(faces.length, 'face') + '\u2026');
    let moved = 0;
    let failure = null;
    let person = null;
    for (const id of faces) {
      try {
        const answer = await jsonRequest('/api/v1/faces/' + encodeURIComponent(id) + '/person', 'POST', { person: target });
        person = answer.person;
        target = person.id;   // "new" once: the other faces join the person it made
        people.picked.delete(id);
        moved += 1;
      } catch (err) {
        failure = err;
        break;
      }
    }
    setPeopleBusy(false);
    await loadPeople();
    setStatusLine(pe.status, '');
    if (moved) {
      pe.status.replaceChildren(make('span', 'status-done', plural(moved, 'face') + ' moved to '
        + personName(person) + '.'));
    }
    if (failure) showNotice(pe.error, pe.errorMessage, pe.errorHint, failure);
  });

  // ---- one person

  async function openPersonView(id) {
    const seq = ++people.seq;
    pe.listView.hidden = true;
    pe.view.hidden = false;
    cancelRename();
    pe.personError.hidden = true;
    if (!people.person || people.person.id !== id) {
      pe.view.dataset.personId = String(id);
      pe.view.dataset.name = '';
      pe.name.textContent = '';
      pe.counts.textContent = '';
      pe.faces.replaceChildren();
      pe.cover.removeAttribute('src');
    }
    el.panelPeople.dataset.state = 'loading';
    setStatusLine(pe.personStatus, 'Loading\u2026');
    try {
      const person = await api('/api/v1/people/' + encodeURIComponent(id));
      if (seq !== people.seq) return;
      renderPerson(person);
      el.panelPeople.dataset.state = 'ready';
    } catch (err) {
      if (seq !== people.seq) return;
      people.person = null;
      showNotice(pe.personError, pe.personErrorMessage, pe.personErrorHint, err);
      el.panelPeople.dataset.state = 'error';
    } finally {
      if (seq === people.seq) setStatusLine(pe.personStatus, '');
    }
  }

  function renderPerson(p) {
    people.person = p;
    pe.view.dataset.personId = String(p.id);
    pe.view.dataset.name = p.name || '';
    pe.view.dataset.faces = String(p.faces);
    pe.view.dataset.hidden = String(!!p.hidden);
    pe.name.textContent = personName(p);
    pe.name.classList.toggle('is-unnamed', !p.name);
    pe.rename.textContent = p.name ? 'Rename' : 'Add a name';
    pe.hiddenBadge.hidden = !p.hidden;
    pe.counts.textContent = plural(p.faces, 'face') + ' in ' + plural(p.photos, 'photo')
      + (p.hidden ? ' \u00b7 left out of the People list' : '');
    pe.hide.textContent = p.hidden ? 'Show in People' : 'Hide';
    pe.hide.title = p.hidden ? 'List this person again' : 'Leave this person out of the People list (strangers, posters)';
    pe.search.disabled = !p.faces;
    if (p.sample_face_id) {
      const src = cropUrl(p.sample_face_id, 240);
      if (pe.cover.getAttribute('src') !== src) pe.cover.src = src;
      pe.cover.alt = personName(p);
    } else {
      pe.cover.removeAttribute('src');
    }
    pe.photosCount.textContent = '(' + num(p.photos) + ')';
    document.title = personName(p) + ' \u00b7 facesearch';
    const faces = Array.isArray(p.face_list) ? p.face_list : [];
    pe.faces.replaceChildren();
    faces.forEach((f) => pe.faces.appendChild(makePersonFace(p, f)));
  }

  function makePersonFace(p, f) {
    const li = make('li', 'person-face');
    li.dataset.faceId = String(f.face_id);
    li.dataset.photoId = String(f.photo_id);
    li.dataset.byUser = String(!!f.by_user);
    li.dataset.cover = String(!!f.cover);
    const name = f.name || baseName(f.path) || 'photo ' + f.photo_id;

    const open = make('button', 'result-open person-face-open');
    open.type = 'button';
    open.setAttribute('aria-label', name + ': open the photo');
    open.title = f.path || name;
    const frame = make('span', 'result-thumb');
    addFaceImage(frame, 'result-img', cropUrl(f.face_id, 240), 'face in ' + name, 240);
    if (f.cover) frame.appendChild(make('span', 'badge badge-on-photo badge-accent', 'Cover'));
    else if (f.by_user) frame.appendChild(make('span', 'badge badge-on-photo', 'Placed by you'));
    open.appendChild(frame);
    const info = make('span', 'result-info');
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 && name.length - dot <= 5 ? name.slice(0, dot) : name;
    const label = make('span', 'result-name', stem.length > 18 ? '\u2026' + stem.slice(-17) : stem);
    label.title = name;
    info.appendChild(label);
    open.appendChild(info);
    open.addEventListener('click', () => openPhotoView({ photo_id: f.photo_id, face_id: f.face_id, name: name,
      path: f.path, note: 'The highlighted face is ' + personName(p) + '.' }, null, open));
    li.appendChild(open);

    const actions = make('div', 'person-face-actions');
    const reject = make('button', 'button button-tiny button-danger person-face-reject', 'Not this person');
    reject.type = 'button';
    reject.setAttribute('aria-label', 'Not ' + personName(p) + ': take the face in ' + name + ' out');
    reject.addEventListener('click', () => rejectFace(f, li));
    actions.appendChild(reject);
    if (!f.cover) {
      const cover = make('button', 'button button-tiny person-face-cover', 'Cover');
      cover.type = 'button';
      cover.title = 'Show ' + personName(p) + ' by this face';
      cover.setAttribute('aria-label', 'Show ' + personName(p) + ' by the face in ' + name);
      cover.addEventListener('click', () => changePerson({ cover_face_id: f.face_id }, cover));
      actions.appendChild(cover);
    }
    li.appendChild(actions);
    return li;
  }

  async function rejectFace(f, li) {
    const p = people.person;
    if (!p) return;
    li.classList.add('is-leaving');
    li.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    pe.personError.hidden = true;
    try {
      const answer = await jsonRequest('/api/v1/faces/' + encodeURIComponent(f.face_id) + '/reject', 'POST');
      if (!answer.person) {   // its last face: the person is gone
        people.person = null;
        showPeopleListAfterChange();
        return;
      }
      await openPersonView(p.id);
      pe.personStatus.replaceChildren(make('span', 'status-done', 'The face is out of ' + personName(answer.person)
        + ', for good. It waits among the faces that belong to nobody.'));
    } catch (err) {
      li.classList.remove('is-leaving');
      li.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      showNotice(pe.personError, pe.personErrorMessage, pe.personErrorHint, err);
    }
  }

  function showPeopleListAfterChange() {
    people.personId = null;
    setHash('#people', false);
    showPeopleList();
  }

  // PATCH the person; `from` is the control that asked (disabled meanwhile). Returns true when done.
  async function changePerson(change, from) {
    const p = people.person;
    if (!p) return false;
    if (from) from.disabled = true;
    pe.personError.hidden = true;
    try {
      const updated = await jsonRequest('/api/v1/people/' + encodeURIComponent(p.id), 'PATCH', change);
      if (change.cover_face_id !== undefined) {
        await openPersonView(p.id);   // the faces' order and badges change
      } else {
        renderPerson(Object.assign({}, p, updated, { face_list: p.face_list }));
      }
      return true;
    } catch (err) {
      if (change.name !== undefined) showNameError(err);
      else showNotice(pe.personError, pe.personErrorMessage, pe.personErrorHint, err);
      return false;
    } finally {
      if (from && from.isConnected) from.disabled = false;
    }
  }

  // ---- the name, edited in place

  function startRename() {
    const p = people.person;
    if (!p) return;
    pe.input.value = p.name || '';
    pe.nameError.hidden = true;
    pe.input.removeAttribute('aria-invalid');
    pe.nameRow.hidden = true;
    pe.form.hidden = false;
    pe.view.dataset.editing = 'true';
    pe.input.focus();
    pe.input.select();
  }

  function cancelRename(focus) {
    if (pe.form.hidden) return;
    pe.form.hidden = true;
    pe.nameRow.hidden = false;
    pe.view.dataset.editing = 'false';
    if (focus) pe.rename.focus();
  }

  function showNameError(err) {
    const d = describeError(err);
    pe.nameError.textContent = err instanceof ApiError && err.code === 'name_taken'
      ? d.message.replace(/^person \d+ is named/, 'Another person is named') + '. To say they are one person, merge them.'
      : d.message;
    pe.nameError.hidden = false;
    pe.input.setAttribute('aria-invalid', 'true');
    pe.input.focus();
  }

  pe.rename.addEventListener('click', startRename);
  pe.name.addEventListener('dblclick', startRename);
  pe.cancel.addEventListener('click', () => cancelRename(true));
  pe.input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); cancelRename(true); }
  });
  pe.input.addEventListener('input', () => { pe.nameError.hidden = true; pe.input.removeAttribute('aria-invalid'); });
  pe.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p = people.person;
    if (!p) return;
    const name = pe.input.value.trim();
    if (name === (p.name || '')) { cancelRename(true); return; }
    pe.input.readOnly = true;
    pe.save.disabled = true;
    const done = await changePerson({ name: name }, null);
    pe.input.readOnly = false;
    pe.save.disabled = false;
    if (done) {
      cancelRename(true);
      pe.personStatus.replaceChildren(make('span', 'status-done', name ? 'Named \u201c' + name + '\u201d.'
        : 'The name is taken away.'));
    }
  });

  pe.hide.addEventListener('click', async () => {
    const p = people.person;
    if (!p) return;
    if (await changePerson({ hidden: !p.hidden }, pe.hide)) {
      pe.personStatus.replaceChildren(make('span', 'status-done', people.person.hidden
        ? 'Hidden: the People list shows this person only with \u201cShow hidden people\u201d ticked.'
        : 'Listed again.'));
    }
  });

  pe.search.addEventListener('click', () => {
    const p = people.person;
    if (!p || !p.faces) return;
    startFaceSearch({ faceId: p.sample_face_id, photoId: null, name: '', path: '', person: { id: p.id, name: p.name } });
  });

  pe.back.addEventListener('click', () => {
    people.person = null;
    people.personId = null;
    setHash('#people', true);
    showPeopleList();
  });

  // ------------------------------------------------------------------ a saved result (search --html)

  function savedQueryText(q, faces, chosen) {
    const paths = Array.isArray(q.paths) ? q.paths : [];
    if (paths.length > 1) {
      return 'Searched for the largest faces of ' + paths.length + ' photos of the person, combined: '
        + paths.map(baseName).join(', ') + '.';
    }
    if (q.face_id !== null && q.face_id !== undefined) {
      return 'Searched for ' + (chosen !== null ? 'face ' + (chosen + 1) + ' of this photo' : 'a face of this photo')
        + ' (face id ' + q.face_id + ' in the library).';
    }
    if (chosen === null) return faces.length > 1 ? plural(faces.length, 'face') + ' found: each was searched for.' : '';
    return faces.length > 1
      ? plural(faces.length, 'face') + ' found; the highlighted face (' + (chosen + 1) + ') was searched for.'
      : 'The face found in this photo was searched for.';
  }

  // Where the saved search looked, for the banner: {label: 'the library ', paths: [its file]}.
  function savedWhere(r) {
    if (r.source === 'library') return { label: 'the library ', paths: [String(r.library || '')], more: 0 };
    const targets = (Array.isArray(r.targets) ? r.targets : []).map(String);
    if (!targets.length) return { label: 'the folders searched', paths: [], more: 0 };
    return { label: targets.length === 1 ? '' : 'the folders ', paths: targets.slice(0, 3),
      more: Math.max(0, targets.length - 3) };
  }

  function initSaved() {
    const r = SAVED;
    const q = r.query && typeof r.query === 'object' ? r.query : {};
    document.body.classList.add('is-saved');
    document.body.dataset.tab = 'search';
    el.tabSearch.parentNode.hidden = true;
    el.panelLibrary.hidden = true;
    el.panelPeople.hidden = true;
    el.panelSearch.hidden = false;
    el.emptyBanner.hidden = true;
    el.dropzone.hidden = true;
    $('how-it-works').hidden = true;
    el.newSearchButton.hidden = true;
    el.fetchMoreButton.hidden = true;

    const paths = Array.isArray(q.paths) ? q.paths : [];
    const queryName = q.name || baseName(q.path) || 'the query';
    const when = typeof r.created_at === 'number' ? formatDateTime(r.created_at) : '';
    document.title = 'facesearch: ' + queryName + (paths.length > 1 ? ' and ' + plural(paths.length - 1, 'more') : '')
      + (when ? ' · ' + when : '');
    el.summary.textContent = 'Saved result' + (when ? ' · ' + when : '');
    el.summary.title = '';

    const banner = $('saved-banner');
    $('saved-title').textContent = 'A saved result of facesearch search' + (when ? ', ' + when : '');
    const text = $('saved-text');
    text.replaceChildren();
    text.appendChild(document.createTextNode('Photos of the person in '));
    text.appendChild(make('strong', null, queryName + (paths.length > 1 ? ' and ' + plural(paths.length - 1, 'more photo') : '')));
    const where = savedWhere(r);
    text.appendChild(document.createTextNode(', found in ' + where.label));
    where.paths.forEach((p, i) => {
      if (i) text.appendChild(document.createTextNode(', '));
      text.appendChild(make('span', 'path', p));
    });
    if (where.more) text.appendChild(document.createTextNode(' and ' + plural(where.more, 'more')));
    text.appendChild(document.createTextNode('. This page is a file: it loads nothing from the network and cannot '
      + 'search again.'));
    if (r.interrupted) {
      text.appendChild(document.createTextNode(' The search was interrupted: the matches cover only part of the folders.'));
    }
    banner.hidden = false;

    state.mode = 'photo';
    el.query.dataset.mode = 'photo';
    el.queryTitle.textContent = q.face_id !== null && q.face_id !== undefined ? 'Face searched for'
      : paths.length > 1 ? 'Query photos' : 'Query photo';
    el.queryPhoto.hidden = false;
    el.queryFace.hidden = true;
    el.queryFileName.textContent = q.path || '';
    el.queryFileName.title = q.path || '';
    state.queryImageBroken = !(typeof q.image === 'string' && q.image.startsWith('data:image/'));
    if (!state.queryImageBroken) {
      el.queryImage.alt = 'the query photo: ' + queryName;
      el.queryImage.src = q.image;
    }

    const t = typeof r.threshold === 'number' ? r.threshold : 0.4;
    el.slider.value = String(round2(clamp(t, 0, 1)));
    showLayout();
    handleResponse(r, t, true);
    if (r.broken) {
      state.retry = null;
      showSearchError(new ApiError(0, 'saved_broken', 'The result saved in this page cannot be read (' + r.broken + ').',
        'Write the page again with `facesearch search --html FILE`.'));
    }
    document.body.classList.add('is-ready');
  }

  // ------------------------------------------------------------------ start

  function init() {
    if (SAVED) { initSaved(); return; }
    const params = new URLSearchParams(location.search);
    const token = params.get('token');
    if (token) {
      state.token = token;
      params.delete('token');
      const rest = params.toString();
      history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    }
    el.slider.value = String(state.defaultThreshold !== null ? state.defaultThreshold : 0.4);
    el.sliderValue.textContent = fmt2(sliderValue());
    const route = routeFromHash();
    people.personId = route.person;
    selectTab(route.tab);
    if (route.tab !== 'library') loadStatusQuietly();
    window.addEventListener('hashchange', () => {
      const r = routeFromHash();
      people.personId = r.person;
      selectTab(r.tab);
    });
    document.body.classList.add('is-ready');
  }

  init();
})();
