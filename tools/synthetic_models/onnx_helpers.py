"""What the synthetic model scripts (make_*.py here) share: initialisers and a checked save."""
import os

import numpy as np
import onnx
from onnx import numpy_helper

OPSET = 13  # ONNX Runtime 1.21 and OpenCV 4.6's cv::dnn both run it


def const(name, array):
    """A float32 initialiser."""
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def i64(name, values):
    """An int64 initialiser (shapes, pads, slice bounds)."""
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def save(model, path):
    """Checks the model and writes it, creating its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, path)
