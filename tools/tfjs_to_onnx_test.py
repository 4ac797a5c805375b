#!/usr/bin/python3
"""Unit tests of tools/tfjs_to_onnx.py on tiny synthetic TFJS graph models (run by CTest as
tfjs_to_onnx_unit). The numbers of a real conversion are checked against the TensorFlow.js runtime by
tests/mediapipe_detector_test.cpp; here: the rules that model does not exercise (TensorFlow 'SAME'
padding of strided convolutions, every ResizeBilinear mode), weight decoding, and the errors.
"""
import base64
import json
import os
import sys
import tempfile
import unittest

import numpy as np
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfjs_to_onnx as t  # noqa: E402


def b64(s):
    return base64.b64encode(s.encode()).decode()


def placeholder(h, w, c):
    return {"name": "input", "op": "Placeholder", "attr": {
        "dtype": {"type": "DT_FLOAT"},
        "shape": {"shape": {"dim": [{"size": "-1"}, {"size": str(h)}, {"size": str(w)}, {"size": str(c)}]}}}}


def const(name):
    return {"name": name, "op": "Const", "attr": {}}


def conv(name, x, padding, stride, fused=("BiasAdd",), op="_FusedConv2D"):
    return {"name": name, "op": op, "input": [x, name + "/w", name + "/b"], "attr": {
        "padding": {"s": b64(padding)}, "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
        "fused_ops": {"list": {"s": [b64(f) for f in fused]}}, "num_args": {"i": "1"},
        "data_format": {"s": b64("NHWC")}}}


def write_model(folder, nodes, weights, outputs=("out",)):
    """Writes model.json + one .bin shard; weights: [(name, np.ndarray, quantization dtype or None)]."""
    specs, blobs = [], []
    for name, value, q in weights:
        spec = {"name": name, "shape": list(value.shape), "dtype": "int32" if value.dtype == np.int32 else "float32"}
        if q == "float16":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(value.astype(np.float16).tobytes())
        elif q == "uint8":
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / 255 or 1.0
            spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
            blobs.append(np.round((value - lo) / scale).astype(np.uint8).tobytes())
        else:
            blobs.append(value.tobytes())
        specs.append(spec)
    with open(os.path.join(folder, "w.bin"), "wb") as f:
        f.write(b"".join(blobs))
    model = {"format": "graph-model", "modelTopology": {"node": nodes},
             "signature": {"outputs": {o + ":0": {"name": o + ":0"} for o in outputs}},
             "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
    path = os.path.join(folder, "model.json")
    with open(path, "w") as f:
        json.dump(model, f)
    return path


class SamePadding(unittest.TestCase):
    def test_odd_pixel_goes_after(self):
        # out = ceil(in/stride), total = max((out-1)*stride + k - in, 0), floor half before.
        self.assertEqual(t.tf_same_pads(192, 3, 2), (0, 1))
        self.assertEqual(t.tf_same_pads(6, 3, 2), (0, 1))
        self.assertEqual(t.tf_same_pads(5, 3, 2), (1, 1))
        self.assertEqual(t.tf_same_pads(5, 3, 1), (1, 1))
        self.assertEqual(t.tf_same_pads(7, 4, 1), (1, 2))
        self.assertEqual(t.tf_same_pads(4, 1, 2), (0, 0))

    def test_strided_same_conv_gets_explicit_asymmetric_pads(self):
        with tempfile.TemporaryDirectory() as d:
            nodes = [placeholder(6, 6, 2), const("c/w"), const("c/b"), conv("c", "input", "SAME", 2, ("BiasAdd", "Relu")),
                     {"name": "out", "op": "Identity", "input": ["c"]}]
            w = np.arange(3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4)
            model = t.convert_graph_model(write_model(d, nodes, [("c/w", w, None), ("c/b", np.ones(4, np.float32), None)]))
        conv_node = next(n for n in model.graph.node if n.op_type == "Conv")
        attrs = {a.name: list(a.ints) for a in conv_node.attribute}
        self.assertEqual(attrs["pads"], [0, 0, 1, 1])  # top, left, bottom, right
        self.assertEqual(attrs["strides"], [2, 2])
        weight = next(i for i in model.graph.initializer if i.name == conv_node.input[1])
        np.testing.assert_array_equal(numpy_helper.to_array(weight), np.transpose(w, (3, 2, 0, 1)))  # HWIO -> OIHW
        self.assertIn("Relu", [n.op_type for n in model.graph.node])
        # The output goes back to TensorFlow's NHWC layout: [N, 3, 3, 4].
        dims = [x.dim_value or x.dim_param for x in model.graph.output[0].type.tensor_type.shape.dim]
        self.assertEqual(dims, ["N", 3, 3, 4])
        self.assertEqual([n.op_type for n in model.graph.node][-2:], ["Transpose", "Identity"])

    def test_depthwise_filter_becomes_grouped_conv(self):
        with tempfile.TemporaryDirectory() as d:
            nodes = [placeholder(4, 4, 3), const("c/w"), const("c/b"),
                     conv("c", "input", "VALID", 1, op="FusedDepthwiseConv2dNative"),
                     {"name": "out", "op": "Identity", "input": ["c"]}]
            w = np.arange(3 * 3 * 3 * 2, dtype=np.float32).reshape(3, 3, 3, 2)  # multiplier 2
            model = t.convert_graph_model(write_model(d, nodes, [("c/w", w, None), ("c/b", np.zeros(6, np.float32), None)]))
        conv_node = next(n for n in model.graph.node if n.op_type == "Conv")
        self.assertEqual(next(a.i for a in conv_node.attribute if a.name == "group"), 3)
        weight = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == conv_node.input[1]))
        # TF output channel c*2 + m reads input channel c with filter[:, :, c, m].
        self.assertEqual(weight.shape, (6, 1, 3, 3))
        np.testing.assert_array_equal(weight[3, 0], w[:, :, 1, 1])


class Resize(unittest.TestCase):
    def mode(self, align_corners, half_pixel_centers):
        with tempfile.TemporaryDirectory() as d:
            nodes = [placeholder(4, 4, 1), const("size"),
                     {"name": "out", "op": "ResizeBilinear", "input": ["input", "size"], "attr": {
                         "align_corners": {"b": align_corners}, "half_pixel_centers": {"b": half_pixel_centers}}}]
            model = t.convert_graph_model(write_model(d, nodes, [("size", np.array([8, 8], np.int32), None)]))
        node = next(n for n in model.graph.node if n.op_type == "Resize")
        return next(a.s.decode() for a in node.attribute if a.name == "coordinate_transformation_mode")

    def test_attributes_map_to_onnx_coordinate_modes(self):
        self.assertEqual(self.mode(False, True), "half_pixel")
        self.assertEqual(self.mode(True, False), "align_corners")
        self.assertEqual(self.mode(False, False), "asymmetric")
        with self.assertRaises(t.ConversionError):
            self.mode(True, True)


class Weights(unittest.TestCase):
    def test_float16_and_uint8_quantisation(self):
        with tempfile.TemporaryDirectory() as d:
            a = np.array([0.5, -2.25, 1024.0], np.float32)  # exact in float16
            b = np.array([0.0, 0.2, 1.0], np.float32)
            c = np.array([7, -3], np.int32)
            write_model(d, [], [("a", a, "float16"), ("b", b, "uint8"), ("c", c, None)])
            with open(os.path.join(d, "model.json")) as f:
                manifest = json.load(f)["weightsManifest"]
            w = t.read_weights(manifest, d)
        np.testing.assert_array_equal(w["a"], a)
        np.testing.assert_allclose(w["b"], b, atol=1 / 255 / 2 + 1e-7)  # value = q * scale + min
        np.testing.assert_array_equal(w["c"], c)
        self.assertEqual(w["c"].dtype, np.int32)

    def test_short_shard_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            write_model(d, [], [("a", np.zeros(4, np.float32), None)])
            with open(os.path.join(d, "model.json")) as f:
                manifest = json.load(f)["weightsManifest"]
            manifest[0]["weights"][0]["shape"] = [5]
            with self.assertRaisesRegex(t.ConversionError, "runs past the end"):
                t.read_weights(manifest, d)


class Errors(unittest.TestCase):
    def test_unsupported_op_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            nodes = [placeholder(4, 4, 1), {"name": "act", "op": "Sigmoid", "input": ["input"]},
                     {"name": "out", "op": "Identity", "input": ["act"]}]
            path = write_model(d, nodes, [])
            with self.assertRaises(t.ConversionError) as e:
                t.convert_graph_model(path)
        self.assertIn("'act' (Sigmoid): unsupported op", str(e.exception))
        self.assertIn("model.json", str(e.exception))

    def test_unsupported_fused_activation_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            nodes = [placeholder(4, 4, 1), const("c/w"), const("c/b"), conv("c", "input", "SAME", 1, ("BiasAdd", "Relu6")),
                     {"name": "out", "op": "Identity", "input": ["c"]}]
            path = write_model(d, nodes, [("c/w", np.ones((1, 1, 1, 1), np.float32), None), ("c/b", np.zeros(1, np.float32), None)])
            with self.assertRaisesRegex(t.ConversionError, "Relu6"):
                t.convert_graph_model(path)


if __name__ == "__main__":
    unittest.main()
