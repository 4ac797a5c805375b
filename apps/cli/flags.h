// What several commands share: value checks for numeric flags, the --db, --model and --models flags,
// and what they name for the core (a library path, a PackRequest).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "detect/detector.h"
#include "library/library.h"
#include "models/model_pack.h"

namespace facesearch::cli {

// Flag value checks with a message that repeats the bad value ("must be a whole number >= 0, not 'x'").
CLI::Validator non_negative_integer();
CLI::Validator non_negative_number();

// --threshold T: a cosine similarity (every pack's metric, Metric::kCosine), so at most 1; at least 0,
// since a threshold under 0 would match nearly every face (and < 0 means "the pack's default" in the
// core's options). A metric with another range gets its check here.
CLI::Option* add_threshold_option(CLI::App& command, std::optional<float>& threshold, const std::string& description);

// The most worker threads --jobs takes: each one holds an image and the networks' buffers (several MB),
// and past the number of cores more threads only cost memory. 0 means one per core.
constexpr int kMaxJobs = 256;
// --jobs N, 0 to kMaxJobs.
CLI::Option* add_jobs_option(CLI::App& command, int& jobs, const std::string& description);

// --db PATH; the help names the default (FACESEARCH_DB, else the XDG data folder).
CLI::Option* add_db_option(CLI::App& command, std::string& db);
// --models DIR.
CLI::Option* add_models_option(CLI::App& command, std::string& models_dir);
// --model NAME (a pack `facesearch models list` shows); excludes --models.
CLI::Option* add_model_option(CLI::App& command, std::string& model_name, CLI::Option* models_dir_option);
// --detector auto|ssd|mediapipe|cascade (the detection strategy, detector.h).
CLI::Option* add_detector_option(CLI::App& command, std::string& detector);
// --smallest-face PX: the tiled passes look for faces down to this size.
CLI::Option* add_smallest_face_option(CLI::App& command, float& smallest_face_px);
// --det-size PX: the input size of SCRFD and YuNet detectors (a multiple of 32).
CLI::Option* add_det_size_option(CLI::App& command, int& det_size);
// --max-pixels MP: photos whose header says more megapixels are refused before decoding (1 to 1000;
// OpenCV refuses over 1073 anyway). `max_megapixels` stays 0 when the flag is not given.
CLI::Option* add_max_pixels_option(CLI::App& command, double& max_megapixels);
// DecodeOptions::max_pixels for a --max-pixels value: kDefaultMaxPixels when it was not given (0).
std::int64_t max_pixels_from_flag(double max_megapixels);
// The strategy a validated --detector value names.
DetectionStrategy detection_strategy(const std::string& detector_flag);
// --format, limited to `choices` (e.g. {"table", "json"}).
CLI::Option* add_format_option(CLI::App& command, std::string& format, const std::vector<std::string>& choices,
                               const std::string& description);

// Throws CLI::ExtrasError for options the command does not know; checked before anything else, so a
// typo is reported as such rather than as a missing flag.
void throw_if_unknown_options(const CLI::App& command);

// The library --db names, else default_library_path().
std::filesystem::path library_path(const std::string& db_flag);

// The pack --models DIR or --model NAME asks for (library/library.h chooses the pack from it).
PackRequest pack_request(const std::string& models_flag, const std::string& model_flag);

// A pack whose weights are licensed for non-commercial use only gets a one-line note on stderr unless `quiet`.
void note_licence(const ModelPack& pack, bool quiet);

// The licence note for `pack` ("" for packs without restrictions).
std::string licence_note(const ModelPack& pack);

}  // namespace facesearch::cli
