// A folder of ONNX files without a manifest (an InsightFace pack, OpenCV zoo's YuNet + SFace) is described
// by looking at the files the way its reference implementation picks them (insightface 0.7's
// FaceAnalysis + model_zoo.get_model; OpenCV's FaceDetectorYN + FaceRecognizerSF).
#pragma once

#include <filesystem>
#include <string>

namespace facesearch {

// The manifest (JSON text) for a folder of ONNX files without one, named `name`, with file names
// relative to `dir`. Recognises:
//  - InsightFace packs: every *.onnx in sorted order classified as model_zoo.get_model does (>= 5 outputs:
//    detection; a square input of >= 112 px, a multiple of 16: recognition; 192 px: landmarks, 96 px:
//    gender/age, unused here); the first detector and the first recogniser are used, as FaceAnalysis
//    does. SCRFD: 640x640, RGB, (x - 127.5) / 128, threshold 0.5, NMS 0.4. ArcFace: RGB, (x - 127.5) / 127.5,
//    or raw pixels when the graph normalises itself; cosine; default threshold 0.5 (the seed's).
//  - OpenCV zoo: YuNet (outputs cls_8 .. kps_32; BGR, raw pixels, score 0.9, NMS 0.3, top 5000) with
//    SFace (a recogniser whose file name holds "sface", or a 128-value one beside YuNet; RGB, raw
//    pixels, cosine threshold 0.363, OpenCV's published one).
// The result is cached under ${XDG_CACHE_HOME:-~/.cache}/facesearch/packs, keyed by the files' paths,
// sizes and times, so the weights are hashed once; the sha256 each used file had when first hashed is
// recorded there too, for `models verify`. Throws Error{kModel} saying what is missing.
std::string describe_pack_folder(const std::filesystem::path& dir, const std::string& name);

}  // namespace facesearch
