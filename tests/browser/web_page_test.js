// Real-browser test of the `facesearch serve` web page (apps/web), run by tests/browser_test.sh:
//   node tests/browser/web_page_test.js URL SCREENSHOT_DIR
// with NODE_PATH pointing at the node_modules folder where tools/setup.sh installed puppeteer-core
// (tests/browser/package.json pins it), from the repository root: the test photos are read from
// ../shared/testdata/faces (FACESEARCH_TEST_PHOTOS overrides). The library served must hold the people
// folders Tony_Blair, obama, biden, Serena_Williams and kit_harington. Chromium: CHROMIUM_BIN, else
// /usr/bin/chromium. Every wait is bounded; a failure names its step and leaves SCREENSHOT_DIR/failure.png.
// Screenshots: search.png, photo.png, face.png (search by a face), noface.png, library.png, reindex.png, people.png,
// person.png, photo-view-person.png (a face's person and "Not NAME" in the photo view), rename-taken.png, merge-confirm.png, people-merged.png (the People tab: a person renamed, a face taken out, two merged,
// the page reloaded), person-search.png (every photo of the person), phone.png, people-phone.png, person-phone.png.
// Then pages saved by `facesearch search --html` are opened as file:// (FACESEARCH_HTML_REPORT: a search of
// that library for TONY; FACESEARCH_HTML_REPORT_HOSTILE: a search of a folder whose one match, a copy of a
// Tony Blair photo, has markup in its path): they must show the result with no request leaving the file.
// Screenshots: html-report.png, html-report-photo.png, html-report-phone.png.
'use strict';

const path = require('path');
const fs = require('fs');

let puppeteer;
try {
  puppeteer = require('puppeteer-core');
} catch (e) {
  console.error('web_page_test: puppeteer-core not found (NODE_PATH=' + (process.env.NODE_PATH || '') +
    '): run `make setup`');
  process.exit(2);
}

const [url, shotDir] = process.argv.slice(2);
if (!url || !shotDir) {
  console.error('usage: node web_page_test.js URL SCREENSHOT_DIR');
  process.exit(2);
}
const PHOTOS = process.env.FACESEARCH_TEST_PHOTOS || '../shared/testdata/faces';
const TONY = path.resolve(PHOTOS, 'people/Tony_Blair/lfw_Tony_Blair_0001.jpg');
const DOG = path.resolve(PHOTOS, 'noface/dlib_dog.jpg');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WAIT_MS = 30000;          // every single wait
const WATCHDOG_MS = 300000;     // the whole test
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const REPORT = process.env.FACESEARCH_HTML_REPORT || '';
const REPORT_HOSTILE = process.env.FACESEARCH_HTML_REPORT_HOSTILE || '';

for (const f of [TONY, DOG]) {
  if (!fs.existsSync(f)) { console.error('web_page_test: missing test photo ' + f); process.exit(2); }
}
for (const [name, f] of [['FACESEARCH_HTML_REPORT', REPORT], ['FACESEARCH_HTML_REPORT_HOSTILE', REPORT_HOSTILE]]) {
  if (!f || !fs.existsSync(f)) {
    console.error('web_page_test: ' + name + ' must name a page written by `facesearch search --html` (tests/browser_test.sh makes them)');
    process.exit(2);
  }
}
fs.mkdirSync(shotDir, { recursive: true });

let step = 'start';
const t0 = Date.now();
const pageErrors = [];           // {step, text}
let allowed = [];                // predicates for expected console errors of the current step

class StepError extends Error {}
function check(cond, message) { if (!cond) throw new StepError(message); }
function log(msg) { console.log('[' + ((Date.now() - t0) / 1000).toFixed(1) + ' s] ' + msg); }
function shot(name) { return path.join(shotDir, name); }
function parentFolder(p) { return path.basename(path.dirname(p || '')); }

async function main() {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...(IS_ROOT ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--lang=en-US'],
    defaultViewport: { width: 1280, height: 900 },
    timeout: WAIT_MS,
  });
  let page;
  try {
    page = await newWatchedPage(browser);
    await run(page);
    await page.close();
    page = await newWatchedPage(browser);
    await runSaved(page);
    await page.close();
    page = await newWatchedPage(browser);
    await runSavedHostile(page);
  } catch (err) {
    if (page) {
      try { await page.screenshot({ path: shot('failure.png'), fullPage: true }); } catch (e) { /* ignore */ }
    }
    throw err;
  } finally {
    await browser.close().catch(() => {});
  }
}

// A page whose errors (console, page, failed requests) land in pageErrors; every request it makes is
// recorded in page.requests.
async function newWatchedPage(browser) {
  const page = await browser.newPage();
  page.requests = [];
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location() || {};
    const text = msg.text() + (loc.url ? ' (' + loc.url + ')' : '');
    if (allowed.some((ok) => ok(msg.text(), loc.url || ''))) { log('expected console error: ' + text); return; }
    pageErrors.push({ step, text: 'console error: ' + text });
  });
  page.on('pageerror', (err) => pageErrors.push({ step, text: 'page error: ' + (err && err.message ? err.message : err) }));
  page.on('requestfailed', (req) => {
    const why = req.failure() ? req.failure().errorText : '';
    if (why === 'net::ERR_ABORTED') return;   // an image replaced or a page left: not an error
    pageErrors.push({ step, text: 'request failed: ' + req.method() + ' ' + req.url() + ' ' + why });
  });
  page.on('request', (req) => page.requests.push(req.url()));
  page.on('dialog', async (dialog) => {   // alert() from a file name would be a script that got out
    pageErrors.push({ step, text: 'a dialog opened: ' + dialog.type() + ' ' + dialog.message() });
    await dialog.dismiss().catch(() => {});
  });
  return page;
}

function noErrorsSoFar() {
  check(pageErrors.length === 0, 'errors in the page:\n  ' + pageErrors.map((e) => '[' + e.step + '] ' + e.text).join('\n  '));
}

// ---------------------------------------------------------------------------------------------- helpers

async function waitIdle(page) {
  await page.waitForFunction(() => !document.body.classList.contains('is-searching'));
}

async function cards(page) {
  return page.$$eval('#results .result-card', (els) => els.map((li) => ({
    photoId: li.dataset.photoId, faceId: li.dataset.faceId, sim: Number(li.dataset.similarity),
    path: li.dataset.path, rank: Number(li.dataset.rank),
  })));
}

async function sliderValue(page) { return Number(await page.$eval('#threshold', (s) => s.value)); }

async function setSlider(page, value) {
  await page.$eval('#threshold', (s, v) => {
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    s.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function upload(page, file) {
  await page.waitForFunction(() => !document.getElementById('file-input').disabled);
  const input = await page.$('#file-input');
  await input.uploadFile(file);
  await input.dispose();
}

// Waits until the search that an upload (or a click) started is over and shows cards.
async function waitForCards(page) {
  await page.waitForFunction(() => !document.body.classList.contains('is-searching')
    && (document.querySelector('#results .result-card') || !document.getElementById('search-error').hidden));
  const error = await page.$eval('#search-error', (e) => e.hidden ? null
    : (e.dataset.code + ' (HTTP ' + e.dataset.status + '): ' + document.getElementById('search-error-message').textContent));
  check(!error, 'the search failed: ' + error);
}

// The shown thumbnails must load (none broken).
async function waitForThumbnails(page) {
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#results img.result-img'))
    .every((img) => img.complete), { timeout: WAIT_MS });
  const broken = await page.$$eval('#results .result-card', (els) => els
    .filter((li) => { const img = li.querySelector('img.result-img'); return !img || !img.naturalWidth; })
    .map((li) => li.dataset.path));
  check(broken.length === 0, 'thumbnails that did not load: ' + broken.join(', '));
}

function visible(page, selector) {
  return page.$eval(selector, (e) => !e.hidden && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length));
}

// ------------------------------------------------------------------------------------------ people helpers

async function waitPeopleReady(page) {
  await page.waitForFunction(() => {
    const p = document.getElementById('panel-people');
    return !p.hidden && (p.dataset.state === 'ready' || p.dataset.state === 'error') && p.getAttribute('aria-busy') !== 'true';
  });
  const state = await page.$eval('#panel-people', (p) => ({ state: p.dataset.state,
    error: [document.getElementById('people-error'), document.getElementById('person-error')]
      .filter((e) => !e.hidden).map((e) => e.dataset.code + ': ' + e.textContent.trim()).join('; ') }));
  check(state.state === 'ready', 'the People tab failed: ' + state.error);
}

async function personCards(page) {
  return page.$$eval('#people-grid .person-card', (els) => els.map((li) => ({
    id: li.dataset.personId, name: li.dataset.name, faces: Number(li.dataset.faces), photos: Number(li.dataset.photos),
    hidden: li.dataset.hidden === 'true', selected: li.classList.contains('is-selected'),
  })));
}

// Every picture matched by `selector` has loaded (scrolled into view first: they load lazily).
async function waitForPictures(page, selector) {
  await page.$$eval(selector, (imgs) => imgs.forEach((i) => { i.loading = 'eager'; }));
  await page.waitForFunction((sel) => Array.from(document.querySelectorAll(sel)).every((i) => i.complete), {}, selector);
  const broken = await page.$$eval(selector, (imgs) => imgs.filter((i) => !i.naturalWidth).map((i) => i.getAttribute('src')));
  check(broken.length === 0, 'pictures that did not load: ' + broken.join(', '));
}

async function personFaces(page) {
  return page.$$eval('#person-faces .person-face', (els) => els.map((li) => ({
    faceId: li.dataset.faceId, photoId: li.dataset.photoId, byUser: li.dataset.byUser === 'true', cover: li.dataset.cover === 'true',
  })));
}

// -------------------------------------------------------------------------------------------- the steps

async function run(page) {
  // a. the page opens on the Search tab, without errors
  step = 'a. open the page';
  log(step);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body.is-ready');
  check(await page.$eval('#tab-search', (t) => t.getAttribute('aria-selected')) === 'true', '#tab-search is not selected');
  check(await page.$eval('#tab-library', (t) => t.getAttribute('aria-selected')) === 'false', '#tab-library is selected');
  check(await visible(page, '#panel-search'), '#panel-search is not visible');
  check(await page.$eval('#panel-library', (p) => p.hidden), '#panel-library is not hidden');
  check(await visible(page, '#choose-button'), '#choose-button is not visible');
  await page.waitForFunction(() => document.getElementById('library-summary').textContent.trim() !== '');
  noErrorsSoFar();

  // b. search by an uploaded photo of Tony Blair
  step = 'b. search by a photo';
  log(step);
  await upload(page, TONY);
  await waitForCards(page);
  const threshold = await sliderValue(page);
  check(threshold > 0 && threshold < 1, 'the slider starts at ' + threshold);
  const first = await cards(page);
  const above = first.filter((c) => c.sim >= threshold);
  const wrong = above.filter((c) => parentFolder(c.path) !== 'Tony_Blair');
  log(first.length + ' cards, ' + above.length + ' at >= ' + threshold + ': '
    + first.map((c) => parentFolder(c.path) + '/' + path.basename(c.path) + ' ' + c.sim).join(', '));
  check(wrong.length === 0, 'cards at >= ' + threshold + ' that are not Tony Blair: '
    + wrong.map((c) => c.path + ' (' + c.sim + ')').join(', '));
  check(above.length >= 3, 'only ' + above.length + ' Tony Blair cards at >= ' + threshold + ' (want 3 or more)');
  check(first.length === above.length, 'cards below the slider are in the DOM: '
    + first.filter((c) => c.sim < threshold).map((c) => c.path + ' ' + c.sim).join(', '));
  check(first.every((c, i) => c.rank === i + 1 && (i === 0 || c.sim <= first[i - 1].sim)), 'cards are not best first');
  const count = await page.$eval('#result-count', (e) => ({ count: Number(e.dataset.count), t: e.dataset.threshold, text: e.textContent }));
  check(count.count === first.length, '#result-count data-count ' + count.count + ' but ' + first.length + ' cards');
  check(Number(count.t) === threshold, '#result-count data-threshold ' + count.t + ' but the slider is at ' + threshold);
  check((await page.$eval('#threshold-value', (e) => e.textContent.trim())) === threshold.toFixed(2), '#threshold-value does not show the slider');
  check((await page.$eval('#query', (e) => e.dataset.mode)) === 'photo', '#query data-mode is not "photo"');
  // An expanded query says so, and its tooltip gives the threshold the slider started at.
  const note = await page.$eval('#expanded-note', (e) => ({ hidden: e.hidden, text: e.textContent, title: e.title }));
  check(!note.hidden && /^Query expanded with \d+ confident match/.test(note.text), 'no expansion note: ' + JSON.stringify(note));
  check(note.title.includes('(' + threshold.toFixed(2) + ')'), 'the expansion note does not give the starting threshold '
    + threshold.toFixed(2) + ': ' + note.title);
  await waitForThumbnails(page);
  await page.screenshot({ path: shot('search.png'), fullPage: true });
  noErrorsSoFar();

  // c. the query photo shows its face boxes
  step = 'c. face boxes on the query photo';
  log(step);
  await page.waitForFunction(() => document.getElementById('query-image').naturalWidth > 0
    && document.querySelectorAll('#query-boxes .face-box').length >= 1);
  const qboxes = await page.$$eval('#query-boxes .face-box', (bs) => bs.map((b) => ({
    chosen: b.classList.contains('is-chosen'), index: b.dataset.faceIndex, w: b.offsetWidth, h: b.offsetHeight })));
  check(qboxes.length >= 1, 'no face box on the query photo');
  check(qboxes.filter((b) => b.chosen).length === 1, 'want exactly one .is-chosen query face box, got '
    + qboxes.filter((b) => b.chosen).length);
  check(qboxes.every((b) => b.w > 4 && b.h > 4), 'a query face box has no size: ' + JSON.stringify(qboxes));

  // d. the slider removes and brings back cards
  step = 'd. threshold slider';
  log(step);
  await setSlider(page, 0.75);
  const high = await cards(page);
  check(high.length < first.length, 'at 0.75: ' + high.length + ' cards, not fewer than ' + first.length);
  check(high.every((c) => c.sim >= 0.75), 'a card below 0.75 is still shown');
  check((await page.$eval('#result-count', (e) => Number(e.dataset.count))) === high.length, '#result-count not updated');
  check((await page.$eval('#threshold-value', (e) => e.textContent.trim())) === '0.75', '#threshold-value not updated');
  await setSlider(page, threshold);
  const back = await cards(page);
  check(back.length === first.length, 'back at ' + threshold + ': ' + back.length + ' cards, not ' + first.length);
  noErrorsSoFar();

  // e. the photo view: the whole photo with its faces, Escape closes it, a face box searches for that face
  step = 'e. photo view';
  log(step);
  const opened = back[0];
  const openPhotoView = async () => {
    await page.click('#results .result-card:first-child button.result-open');
    await page.waitForSelector('dialog#photo-view[open]');
    await page.waitForFunction(() => {
      const img = document.getElementById('photo-view-image');
      return img.complete && img.naturalWidth > 0 && document.querySelectorAll('#photo-view-boxes .face-box').length >= 1;
    });
  };
  await openPhotoView();
  check(await page.$eval('#photo-view', (d) => d.open && d.matches(':modal')), '#photo-view is not a modal dialog');
  check((await page.$eval('#photo-view', (d) => d.dataset.photoId)) === opened.photoId, 'the photo view shows another photo');
  const pvBoxes = await page.$$eval('#photo-view-boxes .face-box', (bs) => bs.map((b) => ({
    faceId: b.dataset.faceId, chosen: b.classList.contains('is-chosen'), w: b.offsetWidth, h: b.offsetHeight })));
  check(pvBoxes.filter((b) => b.chosen).length === 1, 'want one .is-chosen face box in the photo view, got '
    + JSON.stringify(pvBoxes));
  check(pvBoxes.find((b) => b.chosen).faceId === opened.faceId, 'the chosen face box is not the matched face');
  check(pvBoxes.every((b) => b.w > 4 && b.h > 4), 'a face box of the photo view has no size: ' + JSON.stringify(pvBoxes));
  check((await page.$$('#photo-view-faces .pv-face-button')).length === pvBoxes.length, '#photo-view-faces does not list every face');
  await page.waitForFunction(() => document.getElementById('photo-view-loading').hidden);
  await page.screenshot({ path: shot('photo.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('photo-view').open);
  check(!(await page.$eval('body', (b) => b.classList.contains('has-modal'))), 'body keeps has-modal after Escape');
  // again, and search from its face box
  await openPhotoView();
  await page.click('#photo-view-boxes .face-box.is-chosen');
  await page.waitForFunction(() => document.getElementById('query').dataset.mode === 'face');
  await page.waitForFunction(() => !document.getElementById('photo-view').open);
  await waitForCards(page);
  const byFace = await cards(page);
  const t2 = await sliderValue(page);
  log('face search: ' + byFace.length + ' cards at >= ' + t2 + ': '
    + byFace.map((c) => parentFolder(c.path) + '/' + path.basename(c.path) + ' ' + c.sim).join(', '));
  check(byFace.length >= 1, 'no card for the face search');
  check(byFace.every((c) => parentFolder(c.path) === 'Tony_Blair'), 'face search found others than Tony Blair: '
    + byFace.filter((c) => parentFolder(c.path) !== 'Tony_Blair').map((c) => c.path).join(', '));
  check(byFace.every((c) => c.photoId !== opened.photoId), "the face's own photo is among its results");
  check(await visible(page, '#query-face-image'), 'the face searched for is not shown');
  await page.waitForFunction(() => document.getElementById('query-face-image').complete
    && document.getElementById('query-face-image').naturalWidth > 0);
  await waitForThumbnails(page);
  await page.screenshot({ path: shot('face.png'), fullPage: true });
  noErrorsSoFar();

  // f. a photo without a face
  step = 'f. photo without a face';
  log(step);
  // The browser logs the page's own 422 answer as "Failed to load resource": expected here, only here.
  allowed = [(text, where) => /status of 422/.test(text) && /\/api\/v1\/search$/.test(where)];
  await upload(page, DOG);
  await page.waitForFunction(() => !document.body.classList.contains('is-searching')
    && !document.getElementById('search-error').hidden);
  const err = await page.$eval('#search-error', (e) => ({ code: e.dataset.code, status: e.dataset.status,
    message: document.getElementById('search-error-message').textContent.trim(),
    shown: !!(e.offsetWidth || e.offsetHeight) }));
  log('error shown: ' + JSON.stringify(err));
  check(err.shown, '#search-error is not visible');
  check(err.code === 'no_face', '#search-error data-code is "' + err.code + '", not "no_face"');
  check(err.status === '422', '#search-error data-status is "' + err.status + '", not "422"');
  check(err.message !== '', '#search-error-message is empty');
  await page.screenshot({ path: shot('noface.png'), fullPage: true });
  check((await page.$$('#results .result-card')).length === 0, 'cards of the previous search are still shown');
  check((await page.$eval('#query', (e) => e.dataset.mode)) === 'photo', '#query data-mode is not "photo" after an upload');
  allowed = [];
  noErrorsSoFar();

  // g. the Library tab
  step = 'g. library tab';
  log(step);
  const status = await page.evaluate(async () => (await fetch('/api/v1/status', { cache: 'no-store' })).json());
  await page.click('#tab-library');
  await page.waitForFunction(() => !document.getElementById('library-content').hidden
    && document.getElementById('lib-photos').textContent.trim() !== ''
    && document.getElementById('library-status').childElementCount === 0);
  check(await page.$eval('#tab-library', (t) => t.getAttribute('aria-selected')) === 'true', '#tab-library is not selected');
  check(await page.$eval('#panel-search', (p) => p.hidden), '#panel-search is still shown');
  const lib = await page.evaluate(() => ({
    photos: document.getElementById('lib-photos').textContent.trim(),
    faces: document.getElementById('lib-faces').textContent.trim(),
    model: document.getElementById('lib-model').textContent.trim(),
    roots: document.querySelectorAll('#lib-roots li').length,
    errors: document.querySelectorAll('#lib-errors .error-item').length,
  }));
  log('library: ' + JSON.stringify(lib) + '; status: photos ' + status.photos + ', faces ' + status.faces);
  check(Number(lib.photos.replace(/[^0-9]/g, '')) === status.photos, '#lib-photos says ' + lib.photos
    + ', /api/v1/status says ' + status.photos);
  check(Number(lib.faces.replace(/[^0-9]/g, '')) === status.faces, '#lib-faces says ' + lib.faces
    + ', /api/v1/status says ' + status.faces);
  check(lib.model !== '' && lib.model === status.model, '#lib-model is "' + lib.model + '", status says ' + status.model);
  check(lib.roots === status.roots.length, '#lib-roots lists ' + lib.roots + ' folders, status ' + status.roots.length);
  check(lib.errors === status.errors.length, '#lib-errors lists ' + lib.errors + ', status ' + status.errors.length);
  await page.screenshot({ path: shot('library.png'), fullPage: true });
  noErrorsSoFar();

  // g2. re-index from the page: progress, then the outcome, and the counts reloaded
  step = 'g2. re-index';
  log(step);
  await page.click('#library-reindex');
  await page.waitForFunction(() => {
    const box = document.getElementById('reindex-status');
    return !box.hidden && (box.dataset.state === 'done' || box.dataset.state === 'failed');
  }, { timeout: 60000 });
  const reindexed = await page.evaluate(() => ({
    state: document.getElementById('reindex-status').dataset.state,
    text: document.getElementById('reindex-text').textContent,
    disabled: document.getElementById('library-reindex').disabled,
  }));
  log('re-index: ' + JSON.stringify(reindexed));
  check(reindexed.state === 'done', 're-index ended in state ' + reindexed.state + ': ' + reindexed.text);
  check(reindexed.text.includes(status.photos + ' photos in the folders') && reindexed.text.includes('0 added'),
    're-index of an unchanged library says: ' + reindexed.text);
  await page.waitForFunction(() => !document.getElementById('library-reindex').disabled);
  await page.screenshot({ path: shot('reindex.png'), fullPage: true });
  noErrorsSoFar();

  // g3. the People tab: everyone as cards; a person's page, renamed in place (Enter saves, Escape cancels),
  // a face taken out ("Not this person"); two people merged; after a reload both changes are there
  step = 'g3. people';
  log(step);
  await page.click('#tab-people');
  await waitPeopleReady(page);
  check(await page.$eval('#tab-people', (t) => t.getAttribute('aria-selected')) === 'true', '#tab-people is not selected');
  check(await page.$eval('#panel-library', (p) => p.hidden) && await page.$eval('#panel-search', (p) => p.hidden),
    'another panel is shown with People');
  check((await page.evaluate(() => location.hash)) === '#people', 'the address does not say #people');
  const apiPeople = await page.evaluate(async () => (await fetch('/api/v1/people', { cache: 'no-store' })).json());
  let everyone = await personCards(page);
  log('people: ' + JSON.stringify(everyone));
  check(everyone.length >= 3, 'only ' + everyone.length + ' person cards (the library has 4 people of 3 faces or more)');
  check(everyone.length === apiPeople.people.length && everyone.every((c, i) => Number(c.id) === apiPeople.people[i].id
    && c.faces === apiPeople.people[i].faces), 'the cards are not /api/v1/people: ' + JSON.stringify(apiPeople.people));
  check(everyone.every((c) => c.name === '' && c.faces >= 3), 'a card is named or has fewer than 3 faces');
  check((await page.$$eval('#people-grid .person-card-name', (ns) => ns.map((n) => n.textContent))).every((t) => t === 'Unnamed'),
    'an unnamed person is not shown as Unnamed');
  await waitForPictures(page, '#people-grid img.person-img');
  const waiting = await page.$eval('#unassigned', (u) => ({ shown: !u.hidden, total: Number(u.dataset.total),
    faces: u.querySelectorAll('.face-pick').length }));
  check(waiting.shown && waiting.total === apiPeople.unassigned && waiting.faces === apiPeople.unassigned,
    'unassigned faces: ' + JSON.stringify(waiting) + ', the API says ' + apiPeople.unassigned);
  await waitForPictures(page, '#unassigned-grid img');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('people.png'), fullPage: true });
  noErrorsSoFar();

  const A = everyone[0], B = everyone[everyone.length - 1];
  const NAME = 'Ada Lovelace';
  await page.click('#people-grid .person-card[data-person-id="' + A.id + '"] .person-open');
  await page.waitForFunction((id) => !document.getElementById('person-view').hidden
    && document.getElementById('person-view').dataset.personId === id
    && document.querySelectorAll('#person-faces .person-face').length > 0, {}, A.id);
  await waitPeopleReady(page);
  check((await page.evaluate(() => location.hash)) === '#people/' + A.id, 'the address does not name the person');
  let faces = await personFaces(page);
  check(faces.length === A.faces, 'the person page shows ' + faces.length + ' faces, the card said ' + A.faces);
  check(new Set(faces.map((f) => f.photoId)).size === faces.length, 'a photo twice on the person page');
  await waitForPictures(page, '#person-faces img.result-img');
  check((await page.$eval('#person-name', (n) => n.textContent.trim())).startsWith('Unnamed'), 'the person is not shown unnamed');

  // rename in place: Enter saves
  await page.click('#person-rename');
  await page.waitForFunction(() => !document.getElementById('person-name-form').hidden
    && document.activeElement === document.getElementById('person-name-input'));
  await page.keyboard.type(NAME);
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.getElementById('person-view').dataset.name === n
    && document.getElementById('person-name-form').hidden, {}, NAME);
  check((await page.$eval('#person-name', (n) => n.textContent.trim())) === NAME, '#person-name does not show the new name');
  check(await page.evaluate(() => document.activeElement === document.getElementById('person-rename')),
    'the focus did not go back to Rename');
  // Escape cancels
  await page.click('#person-rename');
  await page.waitForFunction(() => document.activeElement === document.getElementById('person-name-input'));
  await page.keyboard.type(' the Second');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.getElementById('person-name-form').hidden);
  check((await page.$eval('#person-view', (v) => v.dataset.name)) === NAME, 'Escape changed the name');
  const stored = await page.evaluate(async (id) => (await fetch('/api/v1/people/' + id, { cache: 'no-store' })).json(), A.id);
  check(stored.name === NAME, 'the server has the name "' + stored.name + '"');

  // a face opens its photo in the photo view, the face boxed
  await page.click('#person-faces .person-face:first-child .person-face-open');
  await page.waitForSelector('dialog#photo-view[open]');
  await page.waitForFunction(() => {
    const img = document.getElementById('photo-view-image');
    return img.complete && img.naturalWidth > 0 && document.querySelectorAll('#photo-view-boxes .face-box.is-chosen').length === 1;
  });
  check((await page.$eval('#photo-view-boxes .face-box.is-chosen', (b) => b.dataset.faceId)) === faces[0].faceId,
    'the photo view boxes another face than the one opened');
  check((await page.$eval('#photo-view-match', (e) => e.textContent)).includes(NAME), 'the photo view does not name the person');
  // each face of the photo names its person and offers "Not NAME"
  await page.waitForSelector('#photo-view-faces .pv-face-person');
  const pvPerson = await page.$eval('#photo-view-faces', (ul, id) => {
    const b = ul.querySelector('.pv-face-button[data-face-id="' + id + '"]');
    const row = b && b.parentElement.querySelector('.pv-face-person');
    return row ? { name: row.querySelector('.pv-face-person-name').textContent,
      button: row.querySelector('.pv-face-reject').textContent } : null;
  }, faces[0].faceId);
  check(pvPerson && pvPerson.name === NAME && pvPerson.button === 'Not ' + NAME,
    'the photo view does not offer "Not ' + NAME + '" on the face: ' + JSON.stringify(pvPerson));
  await page.screenshot({ path: shot('photo-view-person.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('photo-view').open);

  // "Not this person" on its last face
  const out = faces[faces.length - 1];
  await page.click('#person-faces .person-face[data-face-id="' + out.faceId + '"] .person-face-reject');
  await page.waitForFunction((id, n) => !document.querySelector('#person-faces .person-face[data-face-id="' + id + '"]')
    && document.querySelectorAll('#person-faces .person-face').length === n, {}, out.faceId, A.faces - 1);
  await waitPeopleReady(page);
  check((await page.$eval('#person-view', (v) => Number(v.dataset.faces))) === A.faces - 1, 'the face count did not drop');
  await waitForPictures(page, '#person-faces img.result-img');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('person.png'), fullPage: true });
  noErrorsSoFar();

  // back to everyone; merge A and B
  await page.click('#person-back');
  await waitPeopleReady(page);
  await page.waitForFunction(() => !document.getElementById('people-list-view').hidden);
  everyone = await personCards(page);
  check(everyone.find((c) => c.id === A.id).name === NAME, 'the card does not show the new name');
  check(everyone.find((c) => c.id === A.id).faces === A.faces - 1, 'the card still counts the face taken out');
  check(await page.$eval('#unassigned-grid', (g, id) => !!g.querySelector('.face-pick[data-face-id="' + id + '"]'), out.faceId),
    'the face taken out is not among the faces that belong to nobody');
  const coverBefore = await page.$eval('#people-grid .person-card[data-person-id="' + A.id + '"] img.person-img', (i) => i.getAttribute('src'));
  for (const who of [A, B]) await page.click('#people-grid .person-card[data-person-id="' + who.id + '"] .person-select');
  await page.waitForFunction(() => document.getElementById('merge-bar').dataset.count === '2'
    && !document.getElementById('merge-button').disabled);
  await page.click('#merge-button');
  await page.waitForFunction(() => !document.getElementById('merge-confirm').hidden);
  const confirmText = await page.$eval('#merge-text', (e) => e.textContent);
  check(confirmText.includes(NAME), 'the merge does not say who stays: ' + confirmText);
  await page.screenshot({ path: shot('merge-confirm.png') });
  await page.click('#merge-confirm');
  await page.waitForFunction((b) => !document.querySelector('#people-grid .person-card[data-person-id="' + b + '"]')
    && document.getElementById('merge-bar').dataset.count === '0', {}, B.id);
  await waitPeopleReady(page);
  const merged = A.faces - 1 + B.faces;
  let after = await personCards(page);
  check(after.length === everyone.length - 1, after.length + ' cards after the merge, ' + everyone.length + ' before');
  check(after.find((c) => c.id === A.id).faces === merged, 'the merged person has ' + after.find((c) => c.id === A.id).faces
    + ' faces, not ' + merged);
  const coverAfter = await page.$eval('#people-grid .person-card[data-person-id="' + A.id + '"] img.person-img', (i) => i.getAttribute('src'));
  check(coverAfter === coverBefore, 'the merge changed the picture of the person kept: ' + coverBefore + ' -> ' + coverAfter);
  noErrorsSoFar();

  // reload: both changes are kept
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('body.is-ready');
  check(await page.$eval('#tab-people', (t) => t.getAttribute('aria-selected')) === 'true', 'the reload left the People tab');
  await waitPeopleReady(page);
  after = await personCards(page);
  log('after the reload: ' + JSON.stringify(after));
  const kept = after.find((c) => c.id === A.id);
  check(kept && kept.name === NAME, 'after a reload the name is gone: ' + JSON.stringify(kept));
  check(kept.faces === merged, 'after a reload the merged person has ' + kept.faces + ' faces, not ' + merged);
  check(!after.some((c) => c.id === B.id), 'after a reload the merged person ' + B.id + ' is back');
  check(after[0].id === A.id, 'the named person is not listed first');
  await waitForPictures(page, '#people-grid img.person-img');
  await waitForPictures(page, '#unassigned-grid img');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('people-merged.png'), fullPage: true });

  // the face taken out goes back by hand: picked among the unassigned, moved to the person
  await page.click('#unassigned-grid .face-pick[data-face-id="' + out.faceId + '"] .face-pick-button');
  await page.select('#unassigned-target', A.id);
  await page.click('#unassigned-move');
  await page.waitForFunction((id, n) => !document.querySelector('#unassigned-grid .face-pick[data-face-id="' + id + '"]')
    && Number(document.querySelector('#people-grid .person-card[data-person-id]').dataset.faces) === n, {}, out.faceId, merged + 1);
  await waitPeopleReady(page);
  noErrorsSoFar();

  // hide a person: left out of the list unless "Show hidden people" is ticked; then shown again
  const C = after.find((c) => c.id !== A.id);
  await page.click('#people-grid .person-card[data-person-id="' + C.id + '"] .person-open');
  await page.waitForFunction((id) => document.getElementById('person-view').dataset.personId === id
    && document.getElementById('panel-people').dataset.state === 'ready', {}, C.id);
  // a name another person has: said in place, nothing changes, Escape leaves
  allowed = [(text, where) => /status of 409/.test(text) && /\/api\/v1\/people\/\d+$/.test(where)];
  await page.click('#person-rename');
  await page.waitForFunction(() => document.activeElement === document.getElementById('person-name-input'));
  await page.keyboard.type(NAME.toUpperCase());
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.getElementById('person-name-error').hidden);
  const taken = await page.$eval('#person-name-error', (e) => e.textContent);
  check(taken.includes(NAME) && taken.includes('merge'), 'the taken name is not explained: ' + taken);
  check(await page.$eval('#person-name-input', (i) => i.getAttribute('aria-invalid') === 'true'
    && document.activeElement === i), 'the name field is not marked invalid and focused');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('rename-taken.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.getElementById('person-name-form').hidden);
  check((await page.$eval('#person-view', (v) => v.dataset.name)) === '', 'the person took a name that was taken');
  allowed = [];
  await page.click('#person-hide');
  await page.waitForFunction(() => document.getElementById('person-view').dataset.hidden === 'true'
    && !document.getElementById('person-hidden-badge').hidden);
  await page.click('#person-back');
  await page.waitForFunction(() => !document.getElementById('people-list-view').hidden);
  await waitPeopleReady(page);
  check(!(await personCards(page)).some((c) => c.id === C.id), 'a hidden person is still listed');
  await page.click('#people-show-hidden');
  await page.waitForFunction((id) => !!document.querySelector('#people-grid .person-card[data-person-id="' + id + '"][data-hidden="true"]'),
    {}, C.id);
  await waitPeopleReady(page);
  await page.click('#people-grid .person-card[data-person-id="' + C.id + '"] .person-open');
  await page.waitForFunction((id) => document.getElementById('person-view').dataset.personId === id
    && document.getElementById('panel-people').dataset.state === 'ready', {}, C.id);
  await page.click('#person-hide');
  await page.waitForFunction(() => document.getElementById('person-view').dataset.hidden === 'false');
  await page.click('#person-back');
  await page.waitForFunction(() => !document.getElementById('people-list-view').hidden);
  await page.click('#people-show-hidden');
  await waitPeopleReady(page);
  check((await personCards(page)).some((c) => c.id === C.id && !c.hidden), 'the person shown again is not listed');
  noErrorsSoFar();

  // every photo of the person: "Find more photos" searches the library by the person (POST /api/v1/search)
  await page.click('#people-grid .person-card[data-person-id="' + A.id + '"] .person-open');
  await page.waitForFunction((id) => document.getElementById('person-view').dataset.personId === id
    && document.getElementById('panel-people').dataset.state === 'ready', {}, A.id);
  await page.click('#person-search');
  await page.waitForFunction(() => document.getElementById('query').dataset.mode === 'person'
    && !document.getElementById('panel-search').hidden);
  await page.waitForFunction(() => !document.body.classList.contains('is-searching')
    && (document.querySelector('#results .result-card') || !document.getElementById('search-error').hidden
      || !document.getElementById('results-empty').hidden));
  check(await page.$eval('#search-error', (e) => e.hidden), 'the search by person failed: '
    + await page.$eval('#search-error', (e) => e.textContent.trim()));
  check((await page.$eval('#query-face-text', (e) => e.textContent)).includes(NAME), '#query-face-text does not name the person');
  const byPerson = await cards(page);
  log('search by person: ' + byPerson.length + ' cards: ' + byPerson.map((c) => parentFolder(c.path) + '/' + path.basename(c.path)
    + ' ' + c.sim).join(', '));
  check(byPerson.length >= 1 && byPerson.every((c) => ['obama', 'kit_harington'].includes(parentFolder(c.path))),
    'the search by person found photos of others');
  await waitForThumbnails(page);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('person-search.png'), fullPage: true });
  noErrorsSoFar();

  // h. phone size
  step = 'h. phone size';
  log(step);
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await page.click('#tab-search');
  await page.waitForFunction(() => !document.getElementById('panel-search').hidden);
  await upload(page, TONY);
  await waitForCards(page);
  await waitForThumbnails(page);
  await page.waitForFunction(() => document.querySelectorAll('#query-boxes .face-box').length >= 1);
  await page.screenshot({ path: shot('phone.png'), fullPage: true });
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth,
    body: document.body.scrollWidth, inner: window.innerWidth }));
  log('phone widths: ' + JSON.stringify(widths));
  check(widths.scroll <= 390, 'horizontal scroll at 390 px: document.documentElement.scrollWidth = ' + widths.scroll);
  noErrorsSoFar();

  // h2. the People tab and a person's page at phone size
  step = 'h2. people at phone size';
  log(step);
  await page.click('#tab-people');
  await waitPeopleReady(page);
  await page.waitForFunction(() => !document.getElementById('people-list-view').hidden);
  await waitForPictures(page, '#people-grid img.person-img');
  await waitForPictures(page, '#unassigned-grid img');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('people-phone.png'), fullPage: true });
  const peopleWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(peopleWidth <= 390, 'horizontal scroll on People at 390 px: ' + peopleWidth);
  await page.click('#people-grid .person-card:first-child .person-open');
  await page.waitForFunction(() => !document.getElementById('person-view').hidden
    && document.querySelectorAll('#person-faces .person-face').length > 0);
  await waitPeopleReady(page);
  await waitForPictures(page, '#person-faces img.result-img');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot('person-phone.png'), fullPage: true });
  const personWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(personWidth <= 390, 'horizontal scroll on a person at 390 px: ' + personWidth);
  noErrorsSoFar();
  step = 'done';
}

// ------------------------------------------------------------------ pages saved by `search --html`

// Requests that left the file: anything but the page itself and its data: pictures (a fetch('/api/...')
// from a file:// page asks for file:///api/..., so other file: URLs count).
function requestsOut(page) {
  const self = page.url().split('#')[0];
  return page.requests.filter((u) => !u.startsWith('data:') && u.split('#')[0] !== self);
}

function describeRequests(page) {
  const data = page.requests.filter((u) => u.startsWith('data:')).length;
  return page.requests.length + ' requests (' + data + ' data:, ' + (page.requests.length - data) + ' other)';
}

async function runSaved(page) {
  // i. a saved search of the library, opened as a file: the result, no server, no request out
  step = 'i. saved page (search --html) as file://';
  log(step);
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto('file://' + REPORT, { waitUntil: 'load' });
  await page.waitForSelector('body.is-ready');
  const report = await page.$eval('#facesearch-report', (e) => JSON.parse(e.textContent));
  const t = report.threshold;
  log('saved result: ' + report.matches.length + ' matches at >= ' + t + ', ' + report.photos.length + ' photos');
  check(await page.$eval('body', (b) => b.classList.contains('is-saved')), 'body is not .is-saved');
  for (const sel of ['.tabs', '#dropzone', '#how-it-works', '#panel-library', '#new-search-button']) {
    check(!(await page.$eval(sel, (e) => !!(e.offsetWidth || e.offsetHeight))), sel + ' is shown on a saved page');
  }
  check(await visible(page, '#saved-banner'), '#saved-banner is not visible');
  const banner = await page.$eval('#saved-banner', (e) => e.textContent);
  check(banner.includes('facesearch search') && banner.includes(path.basename(TONY)),
    '#saved-banner does not name the command and the query: ' + banner);
  await page.waitForFunction(() => document.getElementById('query-image').naturalWidth > 0
    && document.querySelectorAll('#query-boxes .face-box').length >= 1);
  check((await page.$$('#query-boxes .face-box.is-chosen')).length === 1, 'want one .is-chosen query face box');
  check((await page.$eval('#query-image', (i) => i.src)).startsWith('data:image/jpeg'), 'the query photo is not a data: URI');
  await waitForThumbnails(page);
  const shown = await cards(page);
  log(shown.length + ' cards: ' + shown.map((c) => parentFolder(c.path) + '/' + path.basename(c.path) + ' ' + c.sim).join(', '));
  check(shown.length >= 3 && shown.length === report.matches.length, shown.length + ' cards for '
    + report.matches.length + ' saved matches');
  check(shown.every((c, i) => c.path === report.matches[i].path && c.rank === i + 1), 'cards not in the saved order');
  check(shown.every((c) => parentFolder(c.path) === 'Tony_Blair' && c.sim >= t), 'a card that is not Tony Blair at >= ' + t);
  check(shown.every((c) => c.photoId === String(report.matches[shown.indexOf(c)].photo_id)), 'cards lack their photo ids');
  const srcs = await page.$$eval('#results img.result-img', (is) => is.map((i) => i.getAttribute('src')));
  check(srcs.length === shown.length && srcs.every((s) => s.startsWith('data:image/jpeg;base64,')), 'a crop is not a data: JPEG');
  const count = await page.$eval('#result-count', (e) => ({ count: Number(e.dataset.count), t: e.dataset.threshold }));
  check(count.count === shown.length && count.t === t.toFixed(2), '#result-count says ' + JSON.stringify(count));
  check((await sliderValue(page)) === Number(t.toFixed(2)), 'the slider does not start at the saved threshold ' + t);
  check((await page.$eval('#search-meta', (e) => e.textContent)).includes(report.model), '#search-meta does not name the model');
  await page.screenshot({ path: shot('html-report.png'), fullPage: true });

  // the slider filters what was saved; below the saved threshold it says so, and offers no search
  await setSlider(page, 0.75);
  const high = await cards(page);
  check(high.length < shown.length && high.every((c) => c.sim >= 0.75), 'at 0.75: ' + high.length + ' cards of ' + shown.length);
  check((await page.$eval('#result-count', (e) => Number(e.dataset.count))) === high.length, '#result-count not updated');
  await setSlider(page, Math.max(0, t - 0.1));
  check((await cards(page)).length === shown.length, 'below the saved threshold the cards changed');
  check(await visible(page, '#fetch-more'), 'below the saved threshold: no note that the page holds no more');
  check(!(await visible(page, '#fetch-more-button')), 'a saved page offers to search again');
  await setSlider(page, t);
  check((await cards(page)).length === shown.length, 'back at ' + t + ': not every card came back');

  // the photo view: the saved copy of the photo, the match boxed, nothing to search from
  await page.click('#results .result-card:first-child button.result-open');
  await page.waitForSelector('dialog#photo-view[open]');
  await page.waitForFunction(() => {
    const img = document.getElementById('photo-view-image');
    return img.complete && img.naturalWidth > 0 && document.querySelectorAll('#photo-view-boxes .face-box').length >= 1;
  });
  const pv = await page.evaluate(() => ({
    src: document.getElementById('photo-view-image').getAttribute('src'),
    chosen: document.querySelectorAll('#photo-view-boxes .face-box.is-chosen').length,
    faces: document.querySelectorAll('#photo-view-faces li').length,
    title: document.getElementById('photo-view-title').textContent,
  }));
  check(pv.src.startsWith('data:image/jpeg') && pv.chosen === 1, 'photo view: ' + JSON.stringify({ ...pv, src: pv.src.slice(0, 30) }));
  check(pv.title === report.matches[0].name, 'the photo view shows ' + pv.title + ', not ' + report.matches[0].name);
  check(pv.faces === 0, 'the photo view offers searches from a saved page');
  await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));   // the dialog's pop-in
  await page.screenshot({ path: shot('html-report-photo.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('photo-view').open);

  // phone width
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390);
  await page.screenshot({ path: shot('html-report-phone.png'), fullPage: true });
  log(describeRequests(page));
  check(requestsOut(page).length === 0, 'requests that left the file: ' + requestsOut(page).join(', '));
  noErrorsSoFar();
}

async function runSavedHostile(page) {
  // j. a saved search of a folder whose file names hold markup: shown as text, nothing runs
  step = 'j. saved page with markup in its file names';
  log(step);
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto('file://' + REPORT_HOSTILE, { waitUntil: 'load' });
  await page.waitForSelector('body.is-ready');
  await waitForThumbnails(page);
  const hostile = await cards(page);
  const names = await page.$$eval('#results .result-name', (ns) => ns.map((n) => n.title));
  log('cards: ' + JSON.stringify(hostile.map((c) => c.path)));
  check(hostile.length === 1 && hostile[0].path.endsWith('/</script><script>alert(1)</script>/<img src=x onerror=alert(2)>.jpg'),
    'the card of the copy with markup in its path: ' + JSON.stringify(hostile));
  check(names[0] === '<img src=x onerror=alert(2)>.jpg', 'the card is named ' + names[0]);
  check((await page.$$('img[src]:not([src^="data:"])')).length === 0, 'an image that is not a data: URI');
  check((await page.$$('script')).length === 2, 'scripts in the page: ' + (await page.$$('script')).length);
  check(requestsOut(page).length === 0, 'requests that left the file: ' + requestsOut(page).join(', '));
  noErrorsSoFar();
  step = 'done';
}

const watchdog = setTimeout(() => {
  console.error('web_page_test: FAIL: the test ran over ' + WATCHDOG_MS / 1000 + ' s (step ' + step + ')');
  process.exit(1);
}, WATCHDOG_MS);

main().then(() => {
  clearTimeout(watchdog);
  log('web_page_test: all steps passed');
}, (err) => {
  clearTimeout(watchdog);
  console.error('web_page_test: FAIL at step "' + step + '": ' + (err instanceof StepError ? err.message : (err && err.stack) || err));
  if (pageErrors.length) console.error('errors in the page:\n  ' + pageErrors.map((e) => '[' + e.step + '] ' + e.text).join('\n  '));
  console.error('screenshot: ' + shot('failure.png'));
  process.exitCode = 1;
});
