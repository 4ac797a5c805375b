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
    tabSearch: $('tab-search'), tabLibrary: $('tab-library'),
    panelSearch: $('panel-search'), panelLibrary: $('panel-library'),
    summary: $('library-summary'), emptyBanner: $('library-empty-banner'),
    dropzone: $('dropzone'), chooseButton: $('choose-button'), fileInput: $('file-input'),
    layout: $('search-layout'), query: $('query'), queryTitle: $('query-title'),
    newSearchButton: $('new-search-button'),
    queryPhoto: $('query-photo'), queryStage: $('query-stage'), queryImage: $('query-image'),
    queryBoxes: $('query-boxes'), queryFallback: $('query-image-fallback'), queryFaceList: $('query-face-list'),
    queryFacesText: $('query-faces-text'), queryFileName: $('query-file-name'),
    queryFace: $('query-face'), queryFaceImage: $('query-face-image'), queryFaceName: $('query-face-name'),
    queryFaceOpen: $('query-face-open'),
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

  const tabs = [el.tabSearch, el.tabLibrary];

  function selectTab(name, focus) {
    if (SAVED) return;   // one panel: the saved result
    const isLibrary = name === 'library';
    el.tabSearch.setAttribute('aria-selected', String(!isLibrary));
    el.tabLibrary.setAttribute('aria-selected', String(isLibrary));
    el.tabSearch.tabIndex = isLibrary ? -1 : 0;
    el.tabLibrary.tabIndex = isLibrary ? 0 : -1;
    el.panelSearch.hidden = isLibrary;
    el.panelLibrary.hidden = !isLibrary;
    document.body.dataset.tab = isLibrary ? 'library' : 'search';
    if (focus) (isLibrary ? el.tabLibrary : el.tabSearch).focus();
    const hash = isLibrary ? '#library' : '';
    if (location.hash !== hash) {
      history.replaceState(null, '', location.pathname + location.search + hash);
    }
    if (isLibrary) loadLibrary();
  }

  el.tabSearch.addEventListener('click', () => selectTab('search'));
  el.tabLibrary.addEventListener('click', () => selectTab('library'));
  tabs.forEach((tab, i) => {
    tab.addEventListener('keydown', (ev) => {
      let next = null;
      if (ev.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
      else if (ev.key === 'ArrowLeft') next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (ev.key === 'Home') next = tabs[0];
      else if (ev.key === 'End') next = tabs[tabs.length - 1];
      if (!next) return;
      ev.preventDefault();
      selectTab(next === el.tabLibrary ? 'library' : 'search', true);
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
      ? fmt2(st.threshold) + ' (cosine similarity; the search slider starts here)' : '–';
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

  function startFaceSearch(face) {
    if (state.busy || SAVED) return;
    state.mode = 'face';
    state.file = null;
    if (state.fileUrl) { URL.revokeObjectURL(state.fileUrl); state.fileUrl = null; }
    state.queryFace = null;
    state.faceQuery = face;
    el.query.dataset.mode = 'face';
    el.queryTitle.textContent = 'This face';
    el.queryPhoto.hidden = true;
    el.queryFace.hidden = false;
    el.queryImage.removeAttribute('src');
    el.queryFaceImage.src = '/api/v1/faces/' + encodeURIComponent(face.faceId) + '/crop?size=320';
    el.queryFaceImage.alt = 'face in ' + (face.name || 'a photo of the library');
    el.queryFaceName.textContent = face.name ? 'from ' + face.name : '';
    el.queryFaceName.title = face.path || '';
    el.queryFaceOpen.hidden = face.photoId === undefined || face.photoId === null;
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
      : 'Searching the library for this face…');
    try {
      let resp;
      if (mode === 'photo') {
        const fd = new FormData();
        fd.append('threshold', String(floor));
        fd.append('top_k', String(TOP_K));
        if (state.queryFace !== null) fd.append('query_face', String(state.queryFace));
        fd.append('photo', state.file, state.file.name || 'photo');
        resp = await api('/api/v1/search', { method: 'POST', body: fd });
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
      el.expanded.title = 'The search also used the faces it was most sure about, to find more photos of the same person.';
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
      const img = make('img', 'result-img');
      img.src = crop;
      img.alt = 'face in ' + name;
      img.width = 160;
      img.height = 160;
      img.loading = 'lazy';
      img.decoding = 'async';
      img.addEventListener('error', () => frame.classList.add('is-broken'));
      frame.appendChild(img);
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
      el.emptyTitle.textContent = state.mode === 'face'
        ? 'No other photos of this face at ≥ ' + fmt2(floor) + '.'
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
        + (searchedFace ? 'the face searched for' : SAVED ? 'the query face' : 'your face')));
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

  function searchFromPhotoView(face) {
    if (state.busy) return;
    state.pv.opener = null;
    closePhotoView();
    startFaceSearch(face);
  }

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
    selectTab(location.hash === '#library' ? 'library' : 'search');
    if (location.hash !== '#library') loadStatusQuietly();
    window.addEventListener('hashchange', () => selectTab(location.hash === '#library' ? 'library' : 'search'));
    document.body.classList.add('is-ready');
  }

  init();
})();
