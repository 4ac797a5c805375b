#!/usr/bin/python3
"""Builds the mobilefacenet-faceapi model pack (issue 13).

The recogniser is the MobileFaceNet of npm `faceplugin-face-recognition-js` (model/fr_feature.onnx:
input 1x3x112x112 RGB, (x - 127) / 128, output 512 numbers, for faces aligned to InsightFace's ArcFace
5-point template). The package exports it with a batch of one; this script makes the batch dimension
free (input and output dim 0 named "N", the final Reshape to [-1, 512]) so that faces are embedded
several at a time, and drops the exporter's doc strings (paths of the machine that exported it). The
weights are not touched: tests compare batched and one-by-one embeddings.

Beside it the script writes the same network rewritten for ONNX Runtime's CPU convolutions
(`fast_file` in the manifest; `file` stays the reference and the pack's fingerprint): ORT runs
convolutions in a blocked channel layout (NCHWc) that has no PReLU, so it converts the layout back and
forth around each of the 33 PReLU activations (a third of the embedder's time). Each PReLU becomes
`a*y + relu((1-a)*y)` (or `a*y + (1-a)*relu(y)` in the one layer that has a slope above 1): per-channel
1x1 depthwise convolutions, a ReLU ORT fuses into them, an Add it fuses too, so the whole graph stays
blocked. The same numbers to float rounding (tests/default_pack_test.cpp compares them on real faces);
measured 7.0 -> 5.3-5.9 ms per face on one thread (docs/PERFORMANCE.md).

Detection and landmarks are the dlib-faceapi pack's own files (face-api.js SSD, 68-point landmarks,
MediaPipe's full-range detector), copied from that pack, so the same detection runs in both packs and
the 68 landmarks are reduced to ArcFace's 5 points by the aligner (src/align/arcface_aligner.cpp).

  /usr/bin/python3 tools/mobilefacenet_pack.py --feature fr_feature.onnx --license LICENSE \
      --source 'npm faceplugin-face-recognition-js@0.0.1' --base-pack DIR/dlib-faceapi --out DIR
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faceapi_to_onnx import sha256_of  # noqa: E402  (the same checksum as the dlib-faceapi manifest)

DIM = 512


def free_batch(model):
    """Input and output dim 0 -> 'N'; the flattening Reshape's [1, -1] -> [-1, 512]."""
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        sys.exit("fr_feature.onnx: expected one input and one output")
    for value in (graph.input[0], graph.output[0]):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "N"
    inits = {t.name: t for t in graph.initializer}
    last = graph.node[-1]
    if last.op_type != "Reshape" or last.input[1] not in inits:
        sys.exit("fr_feature.onnx: expected a final Reshape with a constant shape")
    shape = numpy_helper.to_array(inits[last.input[1]])
    if list(shape) != [1, -1]:
        sys.exit(f"fr_feature.onnx: unexpected final shape {list(shape)}")
    inits[last.input[1]].CopyFrom(numpy_helper.from_array(np.array([-1, DIM], dtype=shape.dtype), last.input[1]))
    for node in graph.node:
        node.doc_string = ""
    model.doc_string = ""
    onnx.checker.check_model(model)
    return model


def prelu_as_depthwise(model):
    """A copy of `model` whose PRelu nodes are depthwise 1x1 convolutions, a Relu and an Add."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        y, slope_name = node.input
        result = node.output[0]
        if slope_name not in inits:
            sys.exit("fr_feature.onnx: a PRelu slope that is not a constant")
        a = numpy_helper.to_array(inits[slope_name]).reshape(-1).astype(np.float32)
        channels = a.size

        def weights(values, suffix):
            t = numpy_helper.from_array(np.asarray(values, np.float32).reshape(channels, 1, 1, 1), result + suffix)
            graph.initializer.append(t)
            return t.name

        def depthwise(x, w, y_out):
            return helper.make_node("Conv", [x, w], [y_out], group=channels, kernel_shape=[1, 1])

        linear, relu_in, relu_out = result + "_linear", result + "_relu_in", result + "_relu"
        nodes.append(depthwise(y, weights(a, "_slope"), linear))
        if (a <= 1).all():  # a*y + relu((1-a)*y): the scale goes inside the ReLU (1-a >= 0)
            nodes.append(depthwise(y, weights(1 - a, "_rest"), relu_in))
            nodes.append(helper.make_node("Relu", [relu_in], [relu_out]))
        else:  # a*y + (1-a)*relu(y)
            nodes.append(helper.make_node("Relu", [y], [relu_in]))
            nodes.append(depthwise(relu_in, weights(1 - a, "_rest"), relu_out))
        nodes.append(helper.make_node("Add", [linear, relu_out], [result]))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(out)
    return out


def place(src, dst):
    if os.path.lexists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feature", required=True, help="model/fr_feature.onnx of the npm package")
    ap.add_argument("--license", required=True, help="the npm package's LICENSE")
    ap.add_argument("--source", required=True, help="where the weights came from, for the manifest")
    ap.add_argument("--base-pack", required=True, help="the built dlib-faceapi pack (detectors, landmarks)")
    ap.add_argument("--out", required=True, help="folder to write the pack into")
    args = ap.parse_args()

    with open(os.path.join(args.base_pack, "manifest.json")) as f:
        base = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    for key in ("detector", "landmarker", "fast_detector"):
        for name in [base[key]["file"]] + ([base[key]["fitted"]["file"]] if "fitted" in base[key] else []):
            place(os.path.join(args.base_pack, name), os.path.join(args.out, name))
    for name in os.listdir(args.base_pack):
        if name.startswith("LICENSE."):
            place(os.path.join(args.base_pack, name), os.path.join(args.out, name))
    shutil.copyfile(args.license, os.path.join(args.out, "LICENSE.faceplugin"))

    model = free_batch(onnx.load(args.feature))
    embedder_file = "mobilefacenet512.onnx"
    onnx.save(model, os.path.join(args.out, embedder_file))
    fast_file = "mobilefacenet512.blocked.onnx"
    onnx.save(prelu_as_depthwise(model), os.path.join(args.out, fast_file))

    manifest = {
        "format": "facesearch-model-pack",
        "format_version": 1,
        "name": "mobilefacenet-faceapi",
        "description": "MobileFaceNet 512-d recogniser (ArcFace 5-point alignment from the 68 landmarks) "
                       "with face-api.js's SSD MobileNetV1, 68-point landmarks and MediaPipe's BlazeFace; "
                       "built by tools/mobilefacenet_pack.py",
        "source": f"{args.source} (recogniser); {base['source']} (detector, landmarks)",
        "license": "MIT (recogniser: faceplugin-face-recognition-js's package licence, see LICENSE.faceplugin; "
                   "its training data is not documented); MIT (face-api.js's detector and landmarks, see "
                   "LICENSE.face-api); Apache-2.0 (MediaPipe's detector, see LICENSE.human-models)",
        "detector": base["detector"],
        "landmarker": base["landmarker"],
        "fast_detector": base["fast_detector"],
        "aligner": {"kind": "arcface_5pt", "size": 112, "antialias": True},
        "embedder": {
            "kind": "mobilefacenet512",
            "file": embedder_file,
            "sha256": sha256_of(os.path.join(args.out, embedder_file)),
            "input_size": [112, 112],
            "color": "rgb",
            "mean": [127.0, 127.0, 127.0],
            "scale": 1.0 / 128.0,
            "fast_file": fast_file,
            "fast_sha256": sha256_of(os.path.join(args.out, fast_file)),
            "dim": DIM,
            # Per face, batches of 2-4 are the fastest on one thread (5.3-5.9 ms; 8: 6.1-7.0 ms, the
            # activations of 8 faces at 56x56x128 no longer fit the cache).
            "batch": 4,
        },
        "metric": "cosine",
        "threshold": 0.40,
        # Measured with bench/accuracy.cpp (docs/ACCURACY.md): recall 0.9625 -> 0.9796 on lfw_dev at 0.40.
        # An expanded query scores everyone higher: its matches are judged at threshold + raise, 0.42,
        # the threshold chosen leaving one identity out over the expanded queries (0.42 for all 100 people).
        "query_expansion": {"top": 3, "at_least": 0.5, "raise": 0.02},
        # The mean of k query photos: threshold / sqrt(s + (1 - s) / k). Leaving one identity out over
        # queries of two and of three photos chose 0.45 and 0.47 (medians; 96 and 93 of 100 people),
        # which s = 0.58 gives (0.450, 0.471) (docs/ACCURACY.md).
        "several_photos": {"person_share": 0.58},
        "threshold_source": "chosen leaving one identity out over testdata/faces and testdata/lfw_dev "
                            "(100 people): best-F1 thresholds 0.39-0.43, median 0.39 (docs/ACCURACY.md)",
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
