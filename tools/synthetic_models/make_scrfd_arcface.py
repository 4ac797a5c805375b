#!/usr/bin/python3
"""Synthetic stand-ins for InsightFace's packs (buffalo_l, antelopev2), for tests: tiny ONNX graphs with
the input and output names, ranks and layouts of the real SCRFD detectors and ArcFace recognisers, whose
outputs are simple functions of the pixels so that tests can compute every expected number by hand.

    /usr/bin/python3 tools/synthetic_models/make_scrfd_arcface.py OUTDIR

writes
  OUTDIR/insightface/buffalo_l/       det_10g.onnx (9 outputs, 2-D, as the real one), w600k_r50.onnx,
                                      and 1k3d68.onnx, 2d106det.onnx, genderage.onnx (not used by search)
  OUTDIR/insightface/antelopev2/      scrfd_10g_bnkps.onnx (9 outputs, batched 3-D [1, N, C]),
                                      glintr100.onnx (normalises inside the graph, as mxnet exports do)
  OUTDIR/insightface/scrfd_noKps/     det_6out.onnx (6 outputs: no keypoints), w600k_r50.onnx
  OUTDIR/insightface/swapper_pack/    det_10g.onnx, w600k_r50.onnx and inswapper_128.onnx (two inputs, as
                                      insightface's face swapper: not used by search)
  OUTDIR/insightface/README.txt       what the graphs compute

Detector (input "input.1" [1, 3, ?, ?], the tensor (RGB - 127.5) / 128):
  R = channel 0 (red). For each stride s in 8, 16, 32: P_s = clip(avgpool_s(R), 0, 1), one value per s x s
  cell; score of both anchors of cell (x, y) = P_s[y, x]. So a red (255) square covering a cell scores
  (255 - 127.5) / 128 = 0.99609375, and a cell of black or grey pixels scores 0.
  Distances (left, top, right, bottom, in strides) are constants per level: DIST[s]; keypoints (dx, dy in
  strides) are KPS for every level. Output order: scores 8/16/32, boxes 8/16/32, keypoints 8/16/32.
Recogniser (input [N, 3, 112, 112], RGB (x - 127.5) / 127.5): avgpool 14x14 -> [N, 3, 8, 8] -> flattened
  channel-major into the first 192 of 512 values, the rest 0. The mxnet-style one (glintr100) takes raw
  0..255 pixels and starts with Sub(127.5) and Mul(1/128) nodes named _minus0 and _mul0 (insightface then
  feeds it unnormalised pixels).
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_helpers import OPSET, const, i64, save  # noqa: E402

STRIDES = (8, 16, 32)
DIST = {8: (1.0, 2.0, 3.0, 4.0), 16: (2.0, 2.0, 2.0, 2.0), 32: (1.0, 1.0, 1.0, 1.0)}
KPS = (-1.0, -0.5, 1.0, -0.5, 0.0, 0.25, -0.75, 1.0, 0.75, 1.0)
# det_10g's real output names (insightface orders by position, not name).
DET_10G_NAMES = ["448", "471", "494", "451", "474", "497", "454", "477", "500"]


def scrfd(path, names, with_kps=True, batched=False):
    nodes, inits, outputs = [], [], []
    inits += [i64("c0", [0]), i64("c1", [1]), i64("ax1", [1])]
    nodes.append(helper.make_node("Slice", ["input.1", "c0", "c1", "ax1"], ["red"], name="red"))
    flat_shape = [1, -1] if batched else [-1]
    per_level = {"score": [], "box": [], "kps": []}
    for s in STRIDES:
        nodes.append(helper.make_node("AveragePool", ["red"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]))
        inits += [const(f"lo{s}", 0.0), const(f"hi{s}", 1.0)]
        nodes.append(helper.make_node("Clip", [f"pool{s}", f"lo{s}", f"hi{s}"], [f"p{s}"]))
        nodes.append(helper.make_node("Concat", [f"p{s}", f"p{s}"], [f"two{s}"], axis=1))  # 2 anchors per cell
        nodes.append(helper.make_node("Transpose", [f"two{s}"], [f"nhwc{s}"], perm=[0, 2, 3, 1]))
        inits.append(i64(f"shape1_{s}", flat_shape + [1]))
        nodes.append(helper.make_node("Reshape", [f"nhwc{s}", f"shape1_{s}"], [f"score{s}"]))
        inits.append(const(f"zero{s}", 0.0))
        nodes.append(helper.make_node("Mul", [f"score{s}", f"zero{s}"], [f"zeros{s}"]))  # [.., A, 1] zeros
        inits.append(const(f"dist{s}", np.array(DIST[s], dtype=np.float32).reshape(1, 4)))
        nodes.append(helper.make_node("Add", [f"zeros{s}", f"dist{s}"], [f"box{s}"]))
        inits.append(const(f"kps{s}", np.array(KPS, dtype=np.float32).reshape(1, 10)))
        nodes.append(helper.make_node("Add", [f"zeros{s}", f"kps{s}"], [f"kp{s}"]))
        per_level["score"].append((f"score{s}", 1))
        per_level["box"].append((f"box{s}", 4))
        per_level["kps"].append((f"kp{s}", 10))
    groups = ["score", "box"] + (["kps"] if with_kps else [])
    internal = [name for g in groups for name, _ in per_level[g]]
    widths = [w for g in groups for _, w in per_level[g]]
    for name, internal_name, width in zip(names, internal, widths):
        nodes.append(helper.make_node("Identity", [internal_name], [name]))
        shape = [1, None, width] if batched else [None, width]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    graph = helper.make_graph(nodes, "scrfd_synthetic",
                              [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, None, None])],
                              outputs, inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facesearch-synthetic"),
         path)


def arcface(path, input_name, output_name, mxnet_normalisation=False):
    nodes, inits = [], []
    x = input_name
    if mxnet_normalisation:
        inits += [const("mean", 127.5), const("scale", 1.0 / 128)]
        nodes.append(helper.make_node("Sub", [x, "mean"], ["centred"], name="_minus0"))
        nodes.append(helper.make_node("Mul", ["centred", "scale"], ["normed"], name="_mul0"))
        x = "normed"
    nodes.append(helper.make_node("AveragePool", [x], ["pool"], kernel_shape=[14, 14], strides=[14, 14], name="pool"))
    inits.append(i64("flat", [-1, 192]))
    nodes.append(helper.make_node("Reshape", ["pool", "flat"], ["v192"], name="flatten"))
    inits.append(i64("pads", [0, 0, 0, 512 - 192]))
    nodes.append(helper.make_node("Pad", ["v192", "pads"], [output_name], name="pad"))
    graph = helper.make_graph(nodes, "arcface_synthetic",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, 3, 112, 112])],
                              [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [None, 512])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facesearch-synthetic"),
         path)


def other_task(path, side, outputs):
    """A model of another task (landmarks, gender/age), told apart by its input size as insightface does."""
    inits = [i64("flat", [1, -1])]
    nodes = [helper.make_node("AveragePool", ["data"], ["pool"], kernel_shape=[side, side]),
             helper.make_node("Reshape", ["pool", "flat"], ["o0"])]
    outs = [helper.make_tensor_value_info("o0", TensorProto.FLOAT, [1, 3])]
    for k in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["o0"], [f"o{k}"]))
        outs.append(helper.make_tensor_value_info(f"o{k}", TensorProto.FLOAT, [1, 3]))
    graph = helper.make_graph(nodes, "other_task", [helper.make_tensor_value_info("data", TensorProto.FLOAT,
                                                                                  [1, 3, side, side])], outs, inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def two_inputs(path):
    """inswapper_128.onnx's interface: a 128x128 face and a 512-value source embedding."""
    inits = [i64("flat", [1, -1])]
    nodes = [helper.make_node("AveragePool", ["target"], ["pool"], kernel_shape=[128, 128]),
             helper.make_node("Reshape", ["pool", "flat"], ["p3"]),
             helper.make_node("ReduceMean", ["source"], ["s1"], axes=[1]),
             helper.make_node("Add", ["p3", "s1"], ["output"])]
    graph = helper.make_graph(nodes, "swapper", [
        helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.join(sys.argv[1], "insightface")
    scrfd(os.path.join(out, "buffalo_l", "det_10g.onnx"), DET_10G_NAMES)
    arcface(os.path.join(out, "buffalo_l", "w600k_r50.onnx"), "input.1", "683")
    other_task(os.path.join(out, "buffalo_l", "1k3d68.onnx"), 192, 1)
    other_task(os.path.join(out, "buffalo_l", "2d106det.onnx"), 192, 1)
    other_task(os.path.join(out, "buffalo_l", "genderage.onnx"), 96, 1)
    scrfd(os.path.join(out, "antelopev2", "scrfd_10g_bnkps.onnx"), [f"out{i}" for i in range(9)], batched=True)
    arcface(os.path.join(out, "antelopev2", "glintr100.onnx"), "data", "fc1", mxnet_normalisation=True)
    scrfd(os.path.join(out, "scrfd_noKps", "det_6out.onnx"), [f"out{i}" for i in range(6)], with_kps=False)
    arcface(os.path.join(out, "scrfd_noKps", "w600k_r50.onnx"), "input.1", "683")
    scrfd(os.path.join(out, "swapper_pack", "det_10g.onnx"), DET_10G_NAMES)
    arcface(os.path.join(out, "swapper_pack", "w600k_r50.onnx"), "input.1", "683")
    two_inputs(os.path.join(out, "swapper_pack", "inswapper_128.onnx"))
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write(__doc__)


if __name__ == "__main__":
    main()
