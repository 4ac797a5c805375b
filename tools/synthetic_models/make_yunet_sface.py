#!/usr/bin/python3
"""Synthetic stand-ins for OpenCV zoo's face pair (YuNet 2023mar + SFace 2021dec), for tests: tiny ONNX
graphs with the input and output names, ranks and layouts of the real models, whose outputs are simple
functions of the pixels so that tests can compute every expected number by hand.

    /usr/bin/python3 tools/synthetic_models/make_yunet_sface.py OUTDIR

writes
  OUTDIR/yunet/face_detection_yunet_2023mar.onnx          input [1, 3, ?, ?] (any multiple of 32)
  OUTDIR/yunet_fixed/face_detection_yunet_2023mar.onnx    input [1, 3, 640, 640] (as the zoo's file)
  OUTDIR/yunet_missing/face_detection_yunet_2023mar.onnx  no kps_32 output (a broken export)
  OUTDIR/yunet_wrong/face_detection_yunet_2023mar.onnx    bbox_16 is [1, N, 2] (a foreign model)
  OUTDIR/sface/face_recognition_sface_2021dec.onnx        input "data" [1, 3, 112, 112], output "fc1" [1, 128]
  OUTDIR/yunet/README.txt                                 this text

Detector (input "input", the tensor cv::dnn::blobFromImage gives: BGR, raw 0..255, no mean):
  For each stride s in 8, 16, 32 the input is average-pooled over s x s cells (one value per channel and
  cell, row-major), and a 1x1 convolution gives 16 values per cell, split into the outputs
  cls_s [1, N, 1], obj_s [1, N, 1], bbox_s [1, N, 4], kps_s [1, N, 10] (N = H/s * W/s):
    cls_s = mean of channel CLS[s] / 255, obj_s = mean of channel OBJ[s] / 255 (channels in blob order:
      0 blue, 1 green, 2 red), so that a square of one colour covering a cell scores
      sqrt(cls * obj) = 1 at one stride only: yellow (B 0, G 255, R 255) at stride 8, cyan (255, 255, 0)
      at 16, magenta (255, 0, 255) at 32; white at all three, black and pure colours at none.
    bbox_s = BBOX (constants): centre (c + 0.5, r + 0.25) strides, width e^ln3 = 3 strides, height 2.
    kps_s = KPS (constants, in strides from the cell's top-left corner).
Recogniser (input "data", RGB raw 0..255 as FaceRecognizerSF::feature feeds it; normalised inside the
  graph as (x - 127.5) / 128): average pool 16 x 16 -> [1, 3, 7, 7] -> flattened channel-major (147
  values) -> Gemm with fixed pseudo-random weights W [128, 147] and bias b [128] (numpy seed 2021) -> fc1.
Every node is one cv::dnn 4.6 and ONNX Runtime both run.
"""
import math
import os
import sys

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_helpers import OPSET, const, i64, save  # noqa: E402

STRIDES = (8, 16, 32)
BLUE, GREEN, RED = 0, 1, 2
CLS = {8: RED, 16: GREEN, 32: BLUE}
OBJ = {8: GREEN, 16: BLUE, 32: RED}
BBOX = (0.5, 0.25, math.log(3.0), math.log(2.0))
# Right eye, left eye, nose tip, right and left mouth corners (the subject's right is the image's left).
KPS = (0.2, 0.3, 0.8, 0.3, 0.5, 0.6, 0.3, 0.9, 0.7, 0.9)
OUTPUTS = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]  # the real order
WIDTHS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}


def yunet(path, side=None, missing=(), narrow=()):
    """side: None for dynamic H and W, else the fixed square input size. missing: outputs left out.
    narrow: outputs cut to their first 2 columns."""
    nodes, inits, outputs = [], [], []
    for s in STRIDES:
        weight = np.zeros((16, 3, 1, 1), dtype=np.float32)
        weight[0, CLS[s]] = 1.0 / 255
        weight[1, OBJ[s]] = 1.0 / 255
        bias = np.concatenate([[0.0, 0.0], BBOX, KPS]).astype(np.float32)
        inits += [const(f"w{s}", weight), const(f"b{s}", bias), i64(f"flat{s}", [1, 16, -1]),
                  i64(f"split{s}", [1, 1, 4, 10])]
        nodes += [
            helper.make_node("AveragePool", ["input"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Conv", [f"pool{s}", f"w{s}", f"b{s}"], [f"head{s}"], kernel_shape=[1, 1]),
            helper.make_node("Reshape", [f"head{s}", f"flat{s}"], [f"rows{s}"]),
            helper.make_node("Transpose", [f"rows{s}"], [f"cells{s}"], perm=[0, 2, 1]),
            helper.make_node("Split", [f"cells{s}", f"split{s}"],
                             [f"cls{s}", f"obj{s}", f"bbox{s}", f"kps{s}"], axis=2),
        ]
    for name in OUTPUTS:
        if name in missing:
            continue
        kind, s = name.split("_")
        width = WIDTHS[kind]
        source = f"{kind}{s}"
        if name in narrow:
            width = 2
            inits += [i64(f"{name}_from", [0]), i64(f"{name}_to", [2]), i64(f"{name}_axis", [2])]
            nodes.append(helper.make_node("Slice", [source, f"{name}_from", f"{name}_to", f"{name}_axis"], [name]))
        else:
            nodes.append(helper.make_node("Identity", [source], [name]))
        cells = None if side is None else (side // int(s)) ** 2
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, cells, width]))
    graph = helper.make_graph(nodes, "yunet_synthetic",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, side, side])],
                              outputs, inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facesearch-synthetic"),
         path)


def sface(path):
    rng = np.random.default_rng(2021)
    weight = rng.uniform(-1, 1, size=(128, 147)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, size=128).astype(np.float32)
    inits = [const("mean", 127.5), const("inv_std", 1.0 / 128), const("fc_w", weight), const("fc_b", bias)]
    nodes = [
        helper.make_node("Sub", ["data", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "inv_std"], ["normed"]),
        helper.make_node("AveragePool", ["normed"], ["pool"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc1"], transB=1),
    ]
    graph = helper.make_graph(nodes, "sface_synthetic",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
                              [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 128])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facesearch-synthetic"),
         path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    name = "face_detection_yunet_2023mar.onnx"
    yunet(os.path.join(out, "yunet", name))
    yunet(os.path.join(out, "yunet_fixed", name), side=640)
    yunet(os.path.join(out, "yunet_missing", name), missing=("kps_32",))
    yunet(os.path.join(out, "yunet_wrong", name), narrow=("bbox_16",))
    sface(os.path.join(out, "sface", "face_recognition_sface_2021dec.onnx"))
    with open(os.path.join(out, "yunet", "README.txt"), "w") as f:
        f.write(__doc__)


if __name__ == "__main__":
    main()
